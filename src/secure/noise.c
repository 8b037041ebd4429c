/* Noise XX for libp2p (see noise.h). The state machine follows the Noise
 * Protocol Framework, revision 34, sections 5 (processing rules) and 12
 * (the 25519, ChaChaPoly and SHA256 functions). */
#include "secure/noise.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/aead.h"
#include "proto/noise.pb-c.h"
#include "shoal.h"

/* ============================================================ Noise core */

/* ------------------------------------------------------- CipherState */

static void nonce_bytes(uint64_t n, uint8_t out[12])
{
    int i;

    memset(out, 0, 4);
    for (i = 0; i < 8; i++)
        out[4 + i] = (uint8_t)(n >> (8 * i)); /* little-endian */
}

int shoal_noise_cipher_set_key(shoal_noise_cipher *c,
                               const uint8_t k[SHOAL_NOISE_KEY])
{
    memcpy(c->k, k, SHOAL_NOISE_KEY);
    c->n = 0;
    c->has_key = 1;
    return c->aead != NULL ? shoal_aead_rekey(c->aead, c->k) : 0;
}

/* The cipher for c's key, made at first use. */
static int cipher_ready(shoal_noise_cipher *c)
{
    return c->aead != NULL ? 0 : shoal_aead_new(&c->aead, c->k);
}

int shoal_noise_cipher_encrypt(shoal_noise_cipher *c, const uint8_t *ad,
                               size_t adlen, const uint8_t *pt, size_t len,
                               uint8_t *out)
{
    uint8_t nonce[12];
    int rc;

    if (!c->has_key) {
        if (len)
            memmove(out, pt, len);
        return 0;
    }
    if (c->n == UINT64_MAX)
        return SHOAL_ECLOSED;
    if ((rc = cipher_ready(c)) < 0)
        return rc;
    nonce_bytes(c->n, nonce);
    if ((rc = shoal_aead_seal(c->aead, nonce, ad, adlen, pt, len, out)) < 0)
        return rc;
    c->n++;
    return 0;
}

int shoal_noise_cipher_decrypt(shoal_noise_cipher *c, const uint8_t *ad,
                               size_t adlen, const uint8_t *ct, size_t len,
                               uint8_t *out)
{
    uint8_t nonce[12];
    int rc;

    if (!c->has_key) {
        if (len)
            memmove(out, ct, len);
        return 0;
    }
    if (len < SHOAL_NOISE_TAG)
        return SHOAL_EPROTO;
    if (c->n == UINT64_MAX)
        return SHOAL_ECLOSED;
    if ((rc = cipher_ready(c)) < 0)
        return rc;
    nonce_bytes(c->n, nonce);
    if ((rc = shoal_aead_open(c->aead, nonce, ad, adlen, ct, len, out)) < 0)
        return rc;
    c->n++;
    return 0;
}

void shoal_noise_cipher_wipe(shoal_noise_cipher *c)
{
    shoal_aead_free(c->aead);
    sodium_memzero(c, sizeof(*c));
}

/* ---------------------------------------------------- SymmetricState */

static void mix_hash(shoal_noise_hs *hs, const uint8_t *data, size_t len)
{
    crypto_hash_sha256_state st;

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, hs->h, sizeof(hs->h));
    if (len)
        crypto_hash_sha256_update(&st, data, len);
    crypto_hash_sha256_final(&st, hs->h);
    sodium_memzero(&st, sizeof(st));
}

static void hmac(const uint8_t key[SHOAL_NOISE_KEY], const uint8_t *a,
                 size_t alen, const uint8_t *b, size_t blen,
                 uint8_t out[SHOAL_NOISE_KEY])
{
    crypto_auth_hmacsha256_state st;

    crypto_auth_hmacsha256_init(&st, key, SHOAL_NOISE_KEY);
    if (alen)
        crypto_auth_hmacsha256_update(&st, a, alen);
    if (blen)
        crypto_auth_hmacsha256_update(&st, b, blen);
    crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(&st, sizeof(st));
}

/* HKDF(chaining_key, input_key_material, 2) of the Noise spec. */
static void hkdf2(const uint8_t ck[SHOAL_NOISE_KEY], const uint8_t *ikm,
                  size_t ikm_len, uint8_t out1[SHOAL_NOISE_KEY],
                  uint8_t out2[SHOAL_NOISE_KEY])
{
    static const uint8_t one = 0x01, two = 0x02;
    uint8_t temp[SHOAL_NOISE_KEY], o1[SHOAL_NOISE_KEY];

    hmac(ck, ikm, ikm_len, NULL, 0, temp);
    hmac(temp, &one, 1, NULL, 0, o1);
    hmac(temp, o1, sizeof(o1), &two, 1, out2);
    memcpy(out1, o1, sizeof(o1));
    sodium_memzero(temp, sizeof(temp));
    sodium_memzero(o1, sizeof(o1));
}

static int mix_key(shoal_noise_hs *hs, const uint8_t *ikm, size_t len)
{
    uint8_t ck[SHOAL_NOISE_KEY], k[SHOAL_NOISE_KEY];
    int rc;

    hkdf2(hs->ck, ikm, len, ck, k);
    memcpy(hs->ck, ck, sizeof(ck));
    /* HASHLEN is 32: nothing to truncate */
    rc = shoal_noise_cipher_set_key(&hs->cs, k);
    sodium_memzero(ck, sizeof(ck));
    sodium_memzero(k, sizeof(k));
    return rc;
}

/* Writes len (+ 16 with a key) bytes to out. */
static int encrypt_and_hash(shoal_noise_hs *hs, const uint8_t *pt, size_t len,
                            uint8_t *out, size_t *outlen)
{
    int rc = shoal_noise_cipher_encrypt(&hs->cs, hs->h, sizeof(hs->h), pt,
                                        len, out);
    if (rc < 0)
        return rc;
    *outlen = len + (hs->cs.has_key ? SHOAL_NOISE_TAG : 0);
    mix_hash(hs, out, *outlen);
    return 0;
}

/* ct and out must not overlap. */
static int decrypt_and_hash(shoal_noise_hs *hs, const uint8_t *ct, size_t len,
                            uint8_t *out, size_t *outlen)
{
    uint8_t ad[SHOAL_NOISE_KEY];
    int rc;

    if (hs->cs.has_key && len < SHOAL_NOISE_TAG)
        return SHOAL_EPROTO;
    memcpy(ad, hs->h, sizeof(ad));
    rc = shoal_noise_cipher_decrypt(&hs->cs, ad, sizeof(ad), ct, len, out);
    if (rc < 0)
        return rc;
    *outlen = len - (hs->cs.has_key ? SHOAL_NOISE_TAG : 0);
    mix_hash(hs, ct, len);
    return 0;
}

/* ----------------------------------------------------- HandshakeState */

/* DH(secret, public): X25519, refusing the all-zero result that a
 * low-order public key produces. */
static int dh_mix(shoal_noise_hs *hs, const uint8_t sk[SHOAL_NOISE_KEY],
                  const uint8_t pk[SHOAL_NOISE_KEY])
{
    uint8_t shared[SHOAL_NOISE_KEY];
    int rc;

    if (crypto_scalarmult_curve25519(shared, sk, pk) != 0) {
        sodium_memzero(shared, sizeof(shared));
        return SHOAL_EPROTO;
    }
    rc = mix_key(hs, shared, sizeof(shared));
    sodium_memzero(shared, sizeof(shared));
    return rc;
}

int shoal_noise_hs_init(shoal_noise_hs *hs, int initiator,
                        const uint8_t *prologue, size_t prologue_len,
                        const uint8_t s_sk[SHOAL_NOISE_KEY],
                        const uint8_t *e_sk)
{
    static const char name[] = SHOAL_NOISE_NAME;
    size_t name_len = sizeof(name) - 1;

    memset(hs, 0, sizeof(*hs));
    if (s_sk == NULL || (prologue == NULL && prologue_len > 0))
        return SHOAL_EINVAL;
    /* InitializeSymmetric: the name itself when it fits in HASHLEN (it is
     * exactly 32 bytes here), zero-padded; its hash otherwise. */
    if (name_len <= sizeof(hs->h))
        memcpy(hs->h, name, name_len);
    else
        crypto_hash_sha256(hs->h, (const uint8_t *)name, name_len);
    memcpy(hs->ck, hs->h, sizeof(hs->ck));
    mix_hash(hs, prologue, prologue_len);
    hs->initiator = initiator != 0;
    memcpy(hs->s_sk, s_sk, SHOAL_NOISE_KEY);
    crypto_scalarmult_curve25519_base(hs->s_pk, hs->s_sk);
    if (e_sk != NULL) {
        memcpy(hs->e_sk, e_sk, SHOAL_NOISE_KEY);
        crypto_scalarmult_curve25519_base(hs->e_pk, hs->e_sk);
        hs->fixed_e = 1;
    }
    return 0;
}

/* Whether this side writes message number step. */
static int writes(const shoal_noise_hs *hs, int step)
{
    return (step == 1) != hs->initiator;
}

size_t shoal_noise_hs_write_size(const shoal_noise_hs *hs, size_t plen)
{
    switch (hs->step) {
    case 0: /* e, payload in clear */
        return SHOAL_NOISE_KEY + plen;
    case 1: /* e, ee, s (encrypted), es, payload */
        return 2 * SHOAL_NOISE_KEY + 2 * SHOAL_NOISE_TAG + plen;
    case 2: /* s (encrypted), se, payload */
        return SHOAL_NOISE_KEY + 2 * SHOAL_NOISE_TAG + plen;
    default:
        return 0;
    }
}

static void make_ephemeral(shoal_noise_hs *hs)
{
    if (!hs->fixed_e) {
        randombytes_buf(hs->e_sk, sizeof(hs->e_sk));
        crypto_scalarmult_curve25519_base(hs->e_pk, hs->e_sk);
    }
}

int shoal_noise_hs_write(shoal_noise_hs *hs, const uint8_t *payload,
                         size_t plen, uint8_t *out, size_t cap,
                         size_t *outlen)
{
    size_t need, off = 0, n = 0;
    int rc;

    *outlen = 0;
    if (hs->step > 2 || !writes(hs, hs->step))
        return SHOAL_EBUSY;
    if (plen > SHOAL_NOISE_MSG_MAX)
        return SHOAL_EMSGSIZE;
    need = shoal_noise_hs_write_size(hs, plen);
    if (need > SHOAL_NOISE_MSG_MAX)
        return SHOAL_EMSGSIZE;
    if (cap < need)
        return SHOAL_EINVAL;
    if (plen > 0 && payload == NULL)
        return SHOAL_EINVAL;
    if (hs->step == 0 || hs->step == 1) {  /* e */
        make_ephemeral(hs);
        memcpy(out, hs->e_pk, SHOAL_NOISE_KEY);
        mix_hash(hs, hs->e_pk, SHOAL_NOISE_KEY);
        off = SHOAL_NOISE_KEY;
    }
    if (hs->step == 1) {
        rc = dh_mix(hs, hs->e_sk, hs->re); /* ee */
        if (rc == 0)
            rc = encrypt_and_hash(hs, hs->s_pk, SHOAL_NOISE_KEY, out + off,
                                  &n); /* s */
        if (rc == 0) {
            off += n;
            rc = dh_mix(hs, hs->s_sk, hs->re); /* es, responder */
        }
        if (rc < 0)
            return rc;
    } else if (hs->step == 2) {
        rc = encrypt_and_hash(hs, hs->s_pk, SHOAL_NOISE_KEY, out, &n); /* s */
        if (rc == 0) {
            off = n;
            rc = dh_mix(hs, hs->s_sk, hs->re); /* se, initiator */
        }
        if (rc < 0)
            return rc;
    }
    rc = encrypt_and_hash(hs, payload, plen, out + off, &n);
    if (rc < 0)
        return rc;
    *outlen = off + n;
    hs->step++;
    return 0;
}

int shoal_noise_hs_read(shoal_noise_hs *hs, const uint8_t *msg, size_t len,
                        uint8_t *payload, size_t cap, size_t *plen)
{
    size_t off = 0, n = 0;
    uint8_t s[SHOAL_NOISE_KEY];
    int rc;

    *plen = 0;
    if (hs->step > 2 || writes(hs, hs->step))
        return SHOAL_EBUSY;
    if (len > SHOAL_NOISE_MSG_MAX)
        return SHOAL_EMSGSIZE;
    if (cap < len)
        return SHOAL_EINVAL;
    if (hs->step == 0 || hs->step == 1) { /* e */
        if (len < SHOAL_NOISE_KEY)
            return SHOAL_EPROTO;
        memcpy(hs->re, msg, SHOAL_NOISE_KEY);
        mix_hash(hs, hs->re, SHOAL_NOISE_KEY);
        off = SHOAL_NOISE_KEY;
    }
    if (hs->step == 1 || hs->step == 2) {
        if (hs->step == 1) {
            rc = dh_mix(hs, hs->e_sk, hs->re); /* ee */
            if (rc < 0)
                return rc;
        }
        /* s: the key under a tag (a key is always set by now) */
        if (len - off < SHOAL_NOISE_KEY + SHOAL_NOISE_TAG)
            return SHOAL_EPROTO;
        rc = decrypt_and_hash(hs, msg + off, SHOAL_NOISE_KEY + SHOAL_NOISE_TAG,
                              s, &n);
        if (rc < 0)
            return rc;
        memcpy(hs->rs, s, SHOAL_NOISE_KEY);
        off += SHOAL_NOISE_KEY + SHOAL_NOISE_TAG;
        /* es for the initiator, se for the responder: both are DH(e, rs) */
        rc = dh_mix(hs, hs->e_sk, hs->rs);
        if (rc < 0)
            return rc;
    }
    rc = decrypt_and_hash(hs, msg + off, len - off, payload, plen);
    if (rc < 0)
        return rc;
    hs->step++;
    return 0;
}

int shoal_noise_hs_split(const shoal_noise_hs *hs, shoal_noise_cipher *send,
                         shoal_noise_cipher *recv)
{
    uint8_t k1[SHOAL_NOISE_KEY], k2[SHOAL_NOISE_KEY];

    if (hs->step != 3)
        return SHOAL_EBUSY;
    hkdf2(hs->ck, NULL, 0, k1, k2);
    memset(send, 0, sizeof(*send));
    memset(recv, 0, sizeof(*recv));
    /* fresh CipherStates make no cipher yet: these cannot fail */
    shoal_noise_cipher_set_key(send, hs->initiator ? k1 : k2);
    shoal_noise_cipher_set_key(recv, hs->initiator ? k2 : k1);
    sodium_memzero(k1, sizeof(k1));
    sodium_memzero(k2, sizeof(k2));
    return 0;
}

void shoal_noise_hs_wipe(shoal_noise_hs *hs)
{
    shoal_noise_cipher_wipe(&hs->cs);
    sodium_memzero(hs, sizeof(*hs));
}

/* ================================================ the handshake payload */

int shoal_noise_payload_encode(const shoal_identity *id,
                               const uint8_t static_pk[SHOAL_NOISE_KEY],
                               uint8_t *out, size_t cap)
{
    static const char prefix[] = SHOAL_NOISE_SIG_PREFIX;
    uint8_t signed_msg[sizeof(prefix) - 1 + SHOAL_NOISE_KEY];
    uint8_t key[SHOAL_PUBKEY_PB_MAX], sig[SHOAL_ED25519_SIG];
    Shoal__Pb__NoiseHandshakePayload pb = SHOAL__PB__NOISE_HANDSHAKE_PAYLOAD__INIT;
    size_t size;

    memcpy(signed_msg, prefix, sizeof(prefix) - 1);
    memcpy(signed_msg + sizeof(prefix) - 1, static_pk, SHOAL_NOISE_KEY);
    shoal_identity_sign(id, signed_msg, sizeof(signed_msg), sig);
    pb.has_identity_key = 1;
    pb.identity_key.data = key;
    pb.identity_key.len = shoal_pubkey_encode(id->pk, key);
    pb.has_identity_sig = 1;
    pb.identity_sig.data = sig;
    pb.identity_sig.len = sizeof(sig);
    size = shoal__pb__noise_handshake_payload__get_packed_size(&pb);
    if (size > cap)
        return SHOAL_EINVAL;
    return (int)shoal__pb__noise_handshake_payload__pack(&pb, out);
}

int shoal_noise_payload_verify(const uint8_t *buf, size_t len,
                               const uint8_t static_pk[SHOAL_NOISE_KEY],
                               uint8_t idpk[SHOAL_ED25519_PK])
{
    static const char prefix[] = SHOAL_NOISE_SIG_PREFIX;
    uint8_t signed_msg[sizeof(prefix) - 1 + SHOAL_NOISE_KEY];
    uint8_t pk[SHOAL_ED25519_PK];
    Shoal__Pb__NoiseHandshakePayload *pb;
    int rc = SHOAL_EPROTO;

    pb = shoal__pb__noise_handshake_payload__unpack(NULL, len, buf);
    if (pb == NULL)
        return SHOAL_EPROTO; /* protobuf-c does not tell ENOMEM apart */
    if (pb->has_identity_key && pb->has_identity_sig &&
        pb->identity_sig.len == SHOAL_ED25519_SIG &&
        shoal_pubkey_decode(pb->identity_key.data, pb->identity_key.len,
                            pk) == 0) {
        memcpy(signed_msg, prefix, sizeof(prefix) - 1);
        memcpy(signed_msg + sizeof(prefix) - 1, static_pk, SHOAL_NOISE_KEY);
        if (shoal_pubkey_verify(pk, signed_msg, sizeof(signed_msg),
                                pb->identity_sig.data) == 0) {
            memcpy(idpk, pk, sizeof(pk));
            rc = 0;
        }
    }
    shoal__pb__noise_handshake_payload__free_unpacked(pb, NULL);
    return rc;
}

int shoal_noise_write_frame(shoal_outbuf *out, const uint8_t *msg,
                            size_t len)
{
    int rc;

    if (len > SHOAL_NOISE_MSG_MAX)
        return SHOAL_EMSGSIZE;
    rc = shoal_outbuf_reserve(out, SHOAL_NOISE_FRAME_HEADER + len);
    if (rc < 0)
        return rc;
    out->data[out->len] = (uint8_t)(len >> 8);
    out->data[out->len + 1] = (uint8_t)len;
    if (len)
        memcpy(out->data + out->len + SHOAL_NOISE_FRAME_HEADER, msg, len);
    out->len += SHOAL_NOISE_FRAME_HEADER + len;
    return 0;
}

/* ====================================================== libp2p session */

enum {
    S_NEW = 0,   /* start() not called yet */
    S_HANDSHAKE,
    S_TRANSPORT,
    S_DEAD,      /* n->error says why */
};

#define PAYLOAD_MAX 128 /* our payload: 2 + 36 + 2 + 64 = 104 bytes */

/* A 2-byte-length frame being read. */
typedef struct frame_reader {
    uint8_t hdr[SHOAL_NOISE_FRAME_HEADER];
    size_t hdr_got;
    size_t len;      /* announced, once hdr_got == 2 */
    size_t got;
    uint8_t *buf;    /* owned; cap bytes */
    size_t cap;
} frame_reader;

struct shoal_noise {
    int role;
    int state;
    int error;
    shoal_noise_hs hs;
    shoal_noise_cipher send, recv;
    uint8_t payload[PAYLOAD_MAX]; /* ours, signed at creation */
    size_t payload_len;
    int has_expected;
    shoal_peerid expected;
    int has_remote;
    int has_proved;         /* remote is set, expected or not */
    shoal_peerid remote;
    uint8_t remote_pk[SHOAL_ED25519_PK];
    frame_reader fr;
};

static int fail(shoal_noise *n, int err)
{
    n->state = S_DEAD;
    n->error = err;
    shoal_noise_hs_wipe(&n->hs);
    shoal_noise_cipher_wipe(&n->send);
    shoal_noise_cipher_wipe(&n->recv);
    return err;
}

int shoal_noise_new_keys(shoal_noise **out, enum shoal_noise_role role,
                         const shoal_identity *id,
                         const shoal_peerid *expected,
                         const uint8_t static_sk[SHOAL_NOISE_KEY],
                         const uint8_t ephemeral_sk[SHOAL_NOISE_KEY])
{
    uint8_t sk[SHOAL_NOISE_KEY];
    shoal_noise *n;
    int rc;

    *out = NULL;
    if (id == NULL || (role != SHOAL_NOISE_DIALER &&
                       role != SHOAL_NOISE_LISTENER))
        return SHOAL_EINVAL;
    if (expected != NULL &&
        (expected->len == 0 || expected->len > sizeof(expected->bytes)))
        return SHOAL_EINVAL;
    if (sodium_init() < 0)
        return SHOAL_ENOMEM;
    n = calloc(1, sizeof(*n));
    if (n == NULL)
        return SHOAL_ENOMEM;
    n->role = role;
    if (static_sk != NULL)
        memcpy(sk, static_sk, sizeof(sk));
    else
        randombytes_buf(sk, sizeof(sk));
    rc = shoal_noise_hs_init(&n->hs, role == SHOAL_NOISE_DIALER, NULL, 0, sk,
                             ephemeral_sk);
    sodium_memzero(sk, sizeof(sk));
    if (rc == 0) {
        rc = shoal_noise_payload_encode(id, n->hs.s_pk, n->payload,
                                        sizeof(n->payload));
        if (rc >= 0) {
            n->payload_len = (size_t)rc;
            rc = 0;
        }
    }
    if (rc < 0) {
        shoal_noise_free(n);
        return rc;
    }
    if (expected != NULL) {
        n->has_expected = 1;
        n->expected = *expected;
    }
    *out = n;
    return 0;
}

int shoal_noise_new(shoal_noise **out, enum shoal_noise_role role,
                    const shoal_identity *id, const shoal_peerid *expected)
{
    return shoal_noise_new_keys(out, role, id, expected, NULL, NULL);
}

void shoal_noise_free(shoal_noise *n)
{
    if (n == NULL)
        return;
    if (n->fr.buf != NULL) {
        sodium_memzero(n->fr.buf, n->fr.cap); /* may hold plaintext-to-be */
        free(n->fr.buf);
    }
    shoal_noise_hs_wipe(&n->hs);
    shoal_noise_cipher_wipe(&n->send);
    shoal_noise_cipher_wipe(&n->recv);
    sodium_memzero(n, sizeof(*n));
    free(n);
}

/* Writes this side's next handshake message, framed. */
static int write_message(shoal_noise *n, const uint8_t *payload, size_t plen,
                         shoal_outbuf *out)
{
    size_t need = shoal_noise_hs_write_size(&n->hs, plen), len = 0;
    int rc;

    if (need > SHOAL_NOISE_MSG_MAX)
        return SHOAL_EMSGSIZE;
    rc = shoal_outbuf_reserve(out, SHOAL_NOISE_FRAME_HEADER + need);
    if (rc < 0)
        return rc;
    rc = shoal_noise_hs_write(&n->hs, payload, plen,
                              out->data + out->len + SHOAL_NOISE_FRAME_HEADER,
                              need, &len);
    if (rc < 0)
        return rc;
    out->data[out->len] = (uint8_t)(len >> 8);
    out->data[out->len + 1] = (uint8_t)len;
    out->len += SHOAL_NOISE_FRAME_HEADER + len;
    return 0;
}

int shoal_noise_start(shoal_noise *n, shoal_outbuf *out)
{
    int rc;

    if (n->state == S_DEAD)
        return n->error;
    if (n->state != S_NEW)
        return SHOAL_EBUSY;
    if (n->role == SHOAL_NOISE_DIALER) {
        rc = write_message(n, NULL, 0, out); /* -> e */
        if (rc < 0)
            return fail(n, rc);
    }
    n->state = S_HANDSHAKE;
    return 0;
}

/* Takes bytes into the frame reader, stopping at the end of a frame.
 * Returns 1 when a frame is complete (its body in fr->buf[0..len)), 0 when
 * all of in was taken, or SHOAL_ENOMEM. */
static int frame_feed(frame_reader *fr, const uint8_t *in, size_t len,
                      size_t *used)
{
    size_t off = 0;

    while (fr->hdr_got < SHOAL_NOISE_FRAME_HEADER) {
        if (off == len) {
            *used = off;
            return 0;
        }
        fr->hdr[fr->hdr_got++] = in[off++];
        if (fr->hdr_got == SHOAL_NOISE_FRAME_HEADER) {
            fr->len = ((size_t)fr->hdr[0] << 8) | fr->hdr[1];
            fr->got = 0;
        }
    }
    if (fr->len > fr->cap) {
        /* the length is at most 64 KiB: take room for all of it at once */
        uint8_t *grown = malloc(fr->len);
        if (grown == NULL) {
            *used = off;
            return SHOAL_ENOMEM;
        }
        if (fr->buf != NULL) {
            sodium_memzero(fr->buf, fr->cap);
            free(fr->buf);
        }
        fr->buf = grown;
        fr->cap = fr->len;
    }
    {
        size_t want = fr->len - fr->got, k = len - off < want ? len - off
                                                              : want;
        if (k)
            memcpy(fr->buf + fr->got, in + off, k);
        fr->got += k;
        off += k;
    }
    *used = off;
    return fr->got == fr->len ? 1 : 0;
}

static void frame_next(frame_reader *fr)
{
    fr->hdr_got = 0;
    fr->len = 0;
    fr->got = 0;
}

/* The remote's payload, decrypted: check it and learn who the remote is. */
static int accept_payload(shoal_noise *n, const uint8_t *payload, size_t len)
{
    int rc = shoal_noise_payload_verify(payload, len, n->hs.rs, n->remote_pk);

    if (rc < 0)
        return rc;
    shoal_peerid_from_pubkey(n->remote_pk, &n->remote);
    n->has_proved = 1;
    if (n->has_expected && !shoal_peerid_equal(&n->remote, &n->expected))
        return SHOAL_EPEERID;
    n->has_remote = 1;
    return 0;
}

/* One complete handshake message from the remote, in n->fr. */
static int handshake_message(shoal_noise *n, shoal_outbuf *out)
{
    uint8_t *payload;
    size_t plen = 0;
    int rc;

    payload = malloc(n->fr.len ? n->fr.len : 1);
    if (payload == NULL)
        return SHOAL_ENOMEM;
    rc = shoal_noise_hs_read(&n->hs, n->fr.buf, n->fr.len, payload,
                             n->fr.len, &plen);
    if (rc == 0 && n->hs.step == 1) {
        /* listener got -> e (a payload there is unauthenticated: ignored);
         * answer <- e, ee, s, es with our payload */
        rc = write_message(n, n->payload, n->payload_len, out);
    } else if (rc == 0 && n->hs.step == 2) {
        /* dialer got <- e, ee, s, es: check the listener, then -> s, se */
        rc = accept_payload(n, payload, plen);
        if (rc == 0)
            rc = write_message(n, n->payload, n->payload_len, out);
    } else if (rc == 0 && n->hs.step == 3) {
        rc = accept_payload(n, payload, plen); /* listener got -> s, se */
    }
    sodium_memzero(payload, n->fr.len ? n->fr.len : 1);
    free(payload);
    if (rc == 0 && n->hs.step == 3) {
        rc = shoal_noise_hs_split(&n->hs, &n->send, &n->recv);
        shoal_noise_hs_wipe(&n->hs);
        if (rc == 0) {
            n->state = S_TRANSPORT;
            return SHOAL_NOISE_DONE;
        }
    }
    return rc;
}

int shoal_noise_handshake(shoal_noise *n, const uint8_t *in, size_t len,
                          size_t *used, shoal_outbuf *out)
{
    size_t off = 0;

    *used = 0;
    if (n->state == S_DEAD)
        return n->error;
    if (n->state != S_HANDSHAKE)
        return SHOAL_EBUSY;
    while (off < len) {
        size_t k = 0;
        int rc = frame_feed(&n->fr, in + off, len - off, &k);

        off += k;
        *used = off;
        if (rc == 0)
            break;
        if (rc > 0) {
            rc = handshake_message(n, out);
            frame_next(&n->fr);
        }
        if (rc < 0)
            return fail(n, rc);
        if (rc == SHOAL_NOISE_DONE)
            return SHOAL_NOISE_DONE;
    }
    return 0;
}

int shoal_noise_done(const shoal_noise *n)
{
    return n->state == S_TRANSPORT;
}

const shoal_peerid *shoal_noise_remote_peer(const shoal_noise *n)
{
    return n->has_remote && n->state != S_DEAD ? &n->remote : NULL;
}

const shoal_peerid *shoal_noise_proved_peer(const shoal_noise *n)
{
    return n->has_proved ? &n->remote : NULL;
}

const uint8_t *shoal_noise_remote_key(const shoal_noise *n)
{
    return n->has_remote && n->state != S_DEAD ? n->remote_pk : NULL;
}

int shoal_noise_encrypt(shoal_noise *n, const uint8_t *pt, size_t len,
                        shoal_outbuf *out)
{
    size_t frames, total, off = 0;
    int rc;

    if (n->state == S_DEAD)
        return n->error;
    if (n->state != S_TRANSPORT)
        return SHOAL_EBUSY;
    if (len == 0)
        return 0;
    frames = len / SHOAL_NOISE_PLAINTEXT_MAX +
             (len % SHOAL_NOISE_PLAINTEXT_MAX != 0);
    if (n->send.n > UINT64_MAX - 1 - frames)
        return fail(n, SHOAL_ECLOSED);
    if (frames > (SIZE_MAX - len) / (SHOAL_NOISE_FRAME_HEADER +
                                     SHOAL_NOISE_TAG))
        return SHOAL_ENOMEM;
    total = len + frames * (SHOAL_NOISE_FRAME_HEADER + SHOAL_NOISE_TAG);
    rc = shoal_outbuf_reserve(out, total);
    if (rc < 0)
        return rc;
    while (off < len) {
        size_t k = len - off < SHOAL_NOISE_PLAINTEXT_MAX
                       ? len - off
                       : SHOAL_NOISE_PLAINTEXT_MAX;
        size_t clen = k + SHOAL_NOISE_TAG;
        uint8_t *p = out->data + out->len;

        p[0] = (uint8_t)(clen >> 8);
        p[1] = (uint8_t)clen;
        rc = shoal_noise_cipher_encrypt(&n->send, NULL, 0, pt + off, k,
                                        p + SHOAL_NOISE_FRAME_HEADER);
        if (rc < 0)
            return fail(n, rc); /* not reached: checked above */
        out->len += SHOAL_NOISE_FRAME_HEADER + clen;
        off += k;
    }
    return 0;
}

/* Decrypts one transport message ct[0..len) onto the end of plain. */
static int open_frame(shoal_noise *n, const uint8_t *ct, size_t len,
                      shoal_outbuf *plain)
{
    int rc;

    if (len < SHOAL_NOISE_TAG)
        return SHOAL_EPROTO;
    rc = shoal_outbuf_reserve(plain, len - SHOAL_NOISE_TAG + 1);
    if (rc < 0)
        return rc;
    rc = shoal_noise_cipher_decrypt(&n->recv, NULL, 0, ct, len,
                                    plain->data + plain->len);
    if (rc < 0)
        return rc;
    plain->len += len - SHOAL_NOISE_TAG;
    return 0;
}

int shoal_noise_decrypt(shoal_noise *n, const uint8_t *in, size_t len,
                        size_t *used, shoal_outbuf *plain)
{
    size_t off = 0;
    int rc;

    *used = 0;
    if (n->state == S_DEAD)
        return n->error;
    if (n->state != S_TRANSPORT)
        return SHOAL_EBUSY;
    while (off < len) {
        size_t k = 0;

        /* a whole frame in the input: decrypt it where it lies */
        if (n->fr.hdr_got == 0 && len - off >= SHOAL_NOISE_FRAME_HEADER) {
            size_t flen = ((size_t)in[off] << 8) | in[off + 1];
            if (len - off - SHOAL_NOISE_FRAME_HEADER >= flen) {
                rc = open_frame(n, in + off + SHOAL_NOISE_FRAME_HEADER, flen,
                                plain);
                off += SHOAL_NOISE_FRAME_HEADER + flen;
                *used = off; /* a failed frame was taken too, as below */
                if (rc < 0)
                    return fail(n, rc);
                continue;
            }
        }
        rc = frame_feed(&n->fr, in + off, len - off, &k);
        off += k;
        *used = off;
        if (rc < 0)
            return fail(n, rc);
        if (rc == 0)
            break;
        rc = open_frame(n, n->fr.buf, n->fr.len, plain);
        frame_next(&n->fr);
        if (rc < 0)
            return fail(n, rc);
    }
    return 0;
}

void shoal_noise_trim(shoal_noise *n)
{
    shoal_aead_free(n->send.aead);
    shoal_aead_free(n->recv.aead);
    n->send.aead = n->recv.aead = NULL;
    if (n->fr.hdr_got == 0 && n->fr.buf != NULL) {
        sodium_memzero(n->fr.buf, n->fr.cap);
        free(n->fr.buf);
        n->fr.buf = NULL;
        n->fr.cap = 0;
    }
}

void shoal_noise_nonces(const shoal_noise *n, uint64_t *send, uint64_t *recv)
{
    *send = n->send.n;
    *recv = n->recv.n;
}
