/* Noise XX for libp2p: Noise_XX_25519_ChaChaPoly_SHA256 with libp2p's
 * signed handshake payload and 2-byte framing (libp2p specs
 * noise/README.md; the Noise Protocol Framework, revision 34).
 *
 *   -> e
 *   <- e, ee, s, es      listener's payload (its identity)
 *   -> s, se             dialer's payload
 *
 * Two layers, both without socket or loop (bytes in, bytes out):
 *  - the Noise core: CipherState (shoal_noise_cipher) and HandshakeState
 *    (shoal_noise_hs) for the XX pattern, with arbitrary payloads and
 *    prologue. It is what the published test vectors exercise.
 *  - the libp2p session (shoal_noise): the core with an empty prologue, the
 *    NoiseHandshakePayload protobuf (identity key and its signature over
 *    the static key), the peer id check, every message framed by a 2-byte
 *    big-endian length, and after the handshake the transport:
 *    encrypt/decrypt of framed ciphertexts with the two CipherStates.
 *
 * Crypto is libsodium's, but for ChaChaPoly (crypto/aead.h); call
 * sodium_init() (shoal_identity_generate() and shoal_node_new() do) before
 * using anything here. No global state: any
 * number of sessions, one thread per session at a time. Every object that
 * holds a key is wiped (sodium_memzero) by its wipe/free function. */
#ifndef SHOAL_SECURE_NOISE_H
#define SHOAL_SECURE_NOISE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"
#include "secure/multistream.h" /* shoal_outbuf */

/* The multistream protocol id of this security protocol. */
#define SHOAL_NOISE_PROTOCOL_ID "/noise"
#define SHOAL_NOISE_NAME "Noise_XX_25519_ChaChaPoly_SHA256"

#define SHOAL_NOISE_KEY 32         /* ChaChaPoly key, X25519 keys, SHA-256 */
#define SHOAL_NOISE_TAG 16         /* AEAD tag */
#define SHOAL_NOISE_MSG_MAX 65535  /* a Noise message, also the frame limit */
#define SHOAL_NOISE_FRAME_HEADER 2 /* big-endian length */
/* Most plaintext one transport frame carries. */
#define SHOAL_NOISE_PLAINTEXT_MAX (SHOAL_NOISE_MSG_MAX - SHOAL_NOISE_TAG)
/* What libp2p signs with the identity key, before the X25519 static key. */
#define SHOAL_NOISE_SIG_PREFIX "noise-libp2p-static-key:"

/* What shoal_noise_handshake returns when the handshake is complete. */
#define SHOAL_NOISE_DONE 1

/* ============================================================ Noise core */

/* A CipherState: ChaChaPoly (IETF ChaCha20-Poly1305, crypto/aead.h) with
 * the 12-byte nonce 4 zero bytes + the 64-bit counter n in little-endian.
 * Start it zeroed; the cipher for the key is made at its first use, so a
 * CipherState that was used holds memory: shoal_noise_cipher_wipe() it. */
typedef struct shoal_noise_cipher {
    uint8_t k[SHOAL_NOISE_KEY];
    uint64_t n;
    int has_key;
    struct shoal_aead *aead; /* for k; NULL until first used */
} shoal_noise_cipher;

/* Encrypts pt[0..len) with associated data ad[0..adlen) into out (len + 16
 * bytes; out may not overlap pt) and increments n. Without a key (during
 * the first handshake message) it copies the plaintext. Returns 0,
 * SHOAL_ECLOSED when n reached 2^64-1 (the reserved nonce: the connection
 * must end), or SHOAL_ENOMEM. */
int shoal_noise_cipher_encrypt(shoal_noise_cipher *c, const uint8_t *ad,
                               size_t adlen, const uint8_t *pt, size_t len,
                               uint8_t *out);

/* Decrypts ct[0..len) (ciphertext and tag, len >= 16) into out (len - 16
 * bytes; no overlap) and increments n. Returns 0, SHOAL_EPROTO when the tag
 * does not verify or len < 16 (n unchanged), or SHOAL_ECLOSED as above.
 * Without a key it copies. */
int shoal_noise_cipher_decrypt(shoal_noise_cipher *c, const uint8_t *ad,
                               size_t adlen, const uint8_t *ct, size_t len,
                               uint8_t *out);

/* Sets the key k (n = 0). 0 or SHOAL_ENOMEM. */
int shoal_noise_cipher_set_key(shoal_noise_cipher *c,
                               const uint8_t k[SHOAL_NOISE_KEY]);

/* Forgets the key and frees what it holds; c is zeroed, ready for reuse. */
void shoal_noise_cipher_wipe(shoal_noise_cipher *c);

/* The XX HandshakeState (with its SymmetricState). Caller-allocated; all of
 * it is secret: wipe it with shoal_noise_hs_wipe(). */
typedef struct shoal_noise_hs {
    shoal_noise_cipher cs;
    uint8_t ck[SHOAL_NOISE_KEY];
    uint8_t h[SHOAL_NOISE_KEY];
    uint8_t s_sk[SHOAL_NOISE_KEY], s_pk[SHOAL_NOISE_KEY]; /* static */
    uint8_t e_sk[SHOAL_NOISE_KEY], e_pk[SHOAL_NOISE_KEY]; /* ephemeral */
    uint8_t rs[SHOAL_NOISE_KEY], re[SHOAL_NOISE_KEY];     /* remote's */
    int initiator;
    int step;        /* the next message, 0..2; 3 when complete */
    int fixed_e;     /* the ephemeral key was given, not generated */
} shoal_noise_hs;

/* Initializes the handshake: protocol name SHOAL_NOISE_NAME, then
 * MixHash(prologue). s_sk: the static X25519 secret key (32 bytes; its
 * public key is derived). e_sk: the ephemeral secret key, or NULL for a
 * random one generated when it is needed (fixed keys are for test
 * vectors). Copies what it needs. Returns 0 or SHOAL_EINVAL. */
int shoal_noise_hs_init(shoal_noise_hs *hs, int initiator,
                        const uint8_t *prologue, size_t prologue_len,
                        const uint8_t s_sk[SHOAL_NOISE_KEY],
                        const uint8_t *e_sk);

/* Size of the next message written with a payload of plen bytes. */
size_t shoal_noise_hs_write_size(const shoal_noise_hs *hs, size_t plen);

/* Writes this side's next message carrying payload[0..plen) into out (cap
 * bytes, see shoal_noise_hs_write_size) and sets *outlen. Returns 0,
 * SHOAL_EBUSY when it is the other side's turn or the handshake is over,
 * SHOAL_EMSGSIZE when the message would exceed SHOAL_NOISE_MSG_MAX,
 * SHOAL_EINVAL when cap is too small, SHOAL_EPROTO when a DH gives the
 * all-zero value (a bad remote key). */
int shoal_noise_hs_write(shoal_noise_hs *hs, const uint8_t *payload,
                         size_t plen, uint8_t *out, size_t cap,
                         size_t *outlen);

/* Reads the remote's next message msg[0..len) and writes its payload to
 * payload (cap >= len bytes suffice), setting *plen. Returns 0, SHOAL_EBUSY
 * when it is this side's turn, SHOAL_EPROTO for a short message, a failed
 * tag or an all-zero DH, SHOAL_EINVAL when cap is too small. After an error
 * the handshake must be abandoned. */
int shoal_noise_hs_read(shoal_noise_hs *hs, const uint8_t *msg, size_t len,
                        uint8_t *payload, size_t cap, size_t *plen);

/* After the third message: the two CipherStates, from this side's view
 * (the initiator sends with the first key of Split(), the responder with
 * the second), overwritten (wipe them first if they were used). Returns 0
 * or SHOAL_EBUSY before the end. */
int shoal_noise_hs_split(const shoal_noise_hs *hs, shoal_noise_cipher *send,
                         shoal_noise_cipher *recv);

/* Forgets every key the handshake holds and frees what they hold. */
void shoal_noise_hs_wipe(shoal_noise_hs *hs);

/* ====================================================== libp2p session */

typedef struct shoal_noise shoal_noise;

enum shoal_noise_role {
    SHOAL_NOISE_DIALER = 0,    /* the initiator */
    SHOAL_NOISE_LISTENER = 1,  /* the responder */
};

/* Creates a session for one connection. id: our identity; it signs a fresh
 * X25519 static key now and is not kept. expected: the peer id the remote
 * must prove (when dialing a /p2p/<id> address), or NULL to accept any;
 * copied. On success *out owns the session: release it with
 * shoal_noise_free(). Returns 0, SHOAL_EINVAL or SHOAL_ENOMEM. */
int shoal_noise_new(shoal_noise **out, enum shoal_noise_role role,
                    const shoal_identity *id, const shoal_peerid *expected);

/* Frees the session and wipes every key in it. NULL is ignored. */
void shoal_noise_free(shoal_noise *n);

/* Begins the handshake: the dialer appends message 1 to out; the listener
 * appends nothing. Call once, first. Returns 0, SHOAL_ENOMEM, or
 * SHOAL_EBUSY when called twice. */
int shoal_noise_start(shoal_noise *n, shoal_outbuf *out);

/* Feeds bytes received during the handshake, split in any way, and appends
 * the messages to send to out. *used says how many bytes were taken; it
 * stops at the end of the last handshake message, so what follows (the
 * remote's first transport frames, which a dialer pipelines behind message
 * 3) is left for shoal_noise_decrypt(). Returns SHOAL_NOISE_DONE when the
 * handshake is complete (send out first: the dialer's message 3 is in it),
 * 0 when more bytes are needed, or an error, after which the session is
 * dead and every call returns that error again: SHOAL_EPROTO for anything
 * malformed, a failed tag, a missing or bad identity signature, or a key
 * type other than Ed25519; SHOAL_EPEERID when the remote proved a peer id
 * other than the expected one; SHOAL_ENOMEM; SHOAL_EBUSY before start. */
int shoal_noise_handshake(shoal_noise *n, const uint8_t *in, size_t len,
                          size_t *used, shoal_outbuf *out);

/* Whether the handshake is complete. */
int shoal_noise_done(const shoal_noise *n);

/* The remote's peer id and Ed25519 key once its payload was verified
 * (borrowed, lives with the session), or NULL before. */
const shoal_peerid *shoal_noise_remote_peer(const shoal_noise *n);
const uint8_t *shoal_noise_remote_key(const shoal_noise *n);
/* The peer id the remote proved, also when it was not the expected one
 * (SHOAL_EPEERID: for saying who answered), or NULL before its payload
 * was verified. */
const shoal_peerid *shoal_noise_proved_peer(const shoal_noise *n);

/* Encrypts pt[0..len) and appends it to out as transport frames of at most
 * SHOAL_NOISE_PLAINTEXT_MAX plaintext bytes each (len 0 appends nothing).
 * All or nothing. Returns 0, SHOAL_EBUSY before the handshake is done,
 * SHOAL_ENOMEM, SHOAL_ECLOSED when the nonces are used up, or the error
 * that ended the session. */
int shoal_noise_encrypt(shoal_noise *n, const uint8_t *pt, size_t len,
                        shoal_outbuf *out);

/* Feeds received transport bytes, split in any way, and appends the
 * plaintext of every complete frame to plain (a partial frame is kept, up
 * to 64 KiB, until the rest arrives). *used is len, or on an error the
 * bytes up to the end of the frame that failed. Returns 0, SHOAL_EBUSY
 * before the handshake is done, or an error
 * after which the session is dead (as for the handshake): SHOAL_EPROTO
 * for a frame shorter than a tag or one whose tag fails, SHOAL_ENOMEM,
 * SHOAL_ECLOSED when the nonces are used up. */
int shoal_noise_decrypt(shoal_noise *n, const uint8_t *in, size_t len,
                        size_t *used, shoal_outbuf *plain);

/* Frees the partial-frame buffer when no frame is in progress, and the
 * transport ciphers' state (made again from the keys at the next frame):
 * call it on an idle connection. */
void shoal_noise_trim(shoal_noise *n);

/* ------------------------------------------------------------- internal
 * For tests and fuzz targets; the connection code has no use for these. */

/* As shoal_noise_new, with fixed X25519 static and ephemeral secret keys. */
int shoal_noise_new_keys(shoal_noise **out, enum shoal_noise_role role,
                         const shoal_identity *id,
                         const shoal_peerid *expected,
                         const uint8_t static_sk[SHOAL_NOISE_KEY],
                         const uint8_t ephemeral_sk[SHOAL_NOISE_KEY]);

/* The send and receive nonce counters. */
void shoal_noise_nonces(const shoal_noise *n, uint64_t *send, uint64_t *recv);

/* Encodes the NoiseHandshakePayload for identity id and X25519 static
 * public key static_pk into out (cap bytes; 128 suffice). Returns its
 * length, or SHOAL_EINVAL when cap is too small, SHOAL_ENOMEM. */
int shoal_noise_payload_encode(const shoal_identity *id,
                               const uint8_t static_pk[SHOAL_NOISE_KEY],
                               uint8_t *out, size_t cap);

/* Decodes a NoiseHandshakePayload and checks its signature over
 * static_pk, the remote's X25519 static key. On success writes the Ed25519
 * identity key to idpk and returns 0; otherwise SHOAL_EPROTO (malformed,
 * missing field, not Ed25519, bad signature) or SHOAL_ENOMEM. */
int shoal_noise_payload_verify(const uint8_t *buf, size_t len,
                               const uint8_t static_pk[SHOAL_NOISE_KEY],
                               uint8_t idpk[SHOAL_ED25519_PK]);

/* Appends a frame: 2-byte big-endian length, then msg[0..len). Returns 0,
 * SHOAL_EMSGSIZE when len > SHOAL_NOISE_MSG_MAX, SHOAL_ENOMEM. */
int shoal_noise_write_frame(shoal_outbuf *out, const uint8_t *msg,
                            size_t len);

#endif
