/* Identities: Ed25519 keys, their libp2p encodings, and peer ids.
 *
 * A peer id is a multihash of the protobuf-encoded public key: the identity
 * multihash (0x00, length, bytes) for keys of 42 bytes or less (Ed25519's is
 * 36), SHA-256 (0x12 0x20 digest) for larger ones. Its text is base58btc
 * ("12D3KooW..."); CIDv1 text with the libp2p-key codec is accepted too.
 * (libp2p specs: peer-ids/peer-ids.md) */
#ifndef SHOAL_CRYPTO_IDENTITY_H
#define SHOAL_CRYPTO_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

#define SHOAL_ED25519_PK 32
#define SHOAL_ED25519_SK 64      /* libsodium's: seed followed by public key */
#define SHOAL_ED25519_SIG 64
#define SHOAL_PUBKEY_PB_MAX 64   /* an encoded Ed25519 PublicKey is 36 bytes */
#define SHOAL_PEERID_MAX 64      /* binary multihash */
#define SHOAL_PEERID_TEXT_MAX 128

typedef struct shoal_identity {
    uint8_t pk[SHOAL_ED25519_PK];
    uint8_t sk[SHOAL_ED25519_SK];
} shoal_identity;

/* A binary peer id (a multihash). */
typedef struct shoal_peerid {
    uint8_t bytes[SHOAL_PEERID_MAX];
    size_t len;
} shoal_peerid;

/* A fresh random key pair. Returns 0 or SHOAL_ENOMEM (libsodium init). */
int shoal_identity_generate(shoal_identity *id);

/* Loads the key file at path, or creates it (mode 0600) with a new key when
 * it does not exist. A file that group or others can read is refused with
 * SHOAL_EPERM-like UV_EPERM and nothing is read; a malformed file gives
 * SHOAL_EPROTO. The file holds a libp2p PrivateKey protobuf (Ed25519, the
 * 64-byte secret key), as other libp2p programs write it. */
int shoal_identity_load_or_create(const char *path, shoal_identity *id);

/* A key file's contents: the libp2p PrivateKey protobuf of id's secret key
 * (SHOAL_PRIVKEY_PB_LEN bytes), and back. decode takes only that exact,
 * canonical encoding of an Ed25519 key whose public half follows from its
 * seed; anything else is SHOAL_EPROTO. */
#define SHOAL_PRIVKEY_PB_LEN 68
size_t shoal_identity_encode(const uint8_t sk[SHOAL_ED25519_SK],
                             uint8_t out[SHOAL_PRIVKEY_PB_LEN]);
int shoal_identity_decode(const uint8_t *in, size_t len, shoal_identity *id);

/* Signs msg with the identity's key; sig gets SHOAL_ED25519_SIG bytes. */
void shoal_identity_sign(const shoal_identity *id, const uint8_t *msg,
                         size_t len, uint8_t sig[SHOAL_ED25519_SIG]);

/* Encodes the libp2p PublicKey protobuf of an Ed25519 key into out (at least
 * SHOAL_PUBKEY_PB_MAX bytes). Returns its length (36). */
size_t shoal_pubkey_encode(const uint8_t pk[SHOAL_ED25519_PK], uint8_t *out);

/* Decodes a libp2p PublicKey protobuf. Only Ed25519 keys in the one
 * canonical encoding (the 36 bytes shoal_pubkey_encode writes: no unknown
 * or repeated fields, no trailing bytes) are accepted; anything else is
 * SHOAL_EPROTO, and pk is then left untouched. */
int shoal_pubkey_decode(const uint8_t *in, size_t len,
                        uint8_t pk[SHOAL_ED25519_PK]);

/* Checks an Ed25519 signature. Returns 0 when valid, SHOAL_EPROTO if not. */
int shoal_pubkey_verify(const uint8_t pk[SHOAL_ED25519_PK],
                        const uint8_t *msg, size_t len,
                        const uint8_t sig[SHOAL_ED25519_SIG]);

/* The peer id of an Ed25519 public key. */
void shoal_peerid_from_pubkey(const uint8_t pk[SHOAL_ED25519_PK],
                              shoal_peerid *out);

/* Text <-> binary. parse accepts base58btc multihashes and CIDv1
 * (multibase 'b' base32, codec libp2p-key 0x72); returns 0 or
 * SHOAL_EBADADDR. format writes base58btc and returns its length, or
 * SHOAL_EINVAL if out is too small. */
int shoal_peerid_parse(const char *text, shoal_peerid *out);
int shoal_peerid_format(const shoal_peerid *id, char *out, size_t size);

/* Whether two peer ids are the same. */
int shoal_peerid_equal(const shoal_peerid *a, const shoal_peerid *b);

/* The Ed25519 public key inside an identity-multihash peer id: 0, or
 * SHOAL_ENOENT when the id is a SHA-256 one (the key must come from
 * elsewhere), SHOAL_EPROTO when it holds something else. */
int shoal_peerid_pubkey(const shoal_peerid *id,
                        uint8_t pk[SHOAL_ED25519_PK]);

#endif
