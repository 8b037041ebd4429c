/* libFuzzer target: Noise XX for libp2p (src/secure/noise.c).
 *
 * Every session here uses fixed identities and fixed X25519 keys
 * (shoal_noise_new_keys), so the same input always meets the same bytes:
 * a seed holding a real dialer's messages takes the listener all the way.
 *
 * Input layout:
 *   byte 0      control: bits 0-2 = k, the number of chunk-size bytes;
 *               bit 3 = tamper (modes 4 and 5); bits 4-6 = mode:
 *               0  a listener reads the stream as handshake bytes
 *                  (message 1, then message 3), then the rest as transport
 *               1  a dialer, after sending message 1, reads the stream as
 *                  message 2, then the rest as transport
 *               2  the stream is a NoiseHandshakePayload to verify
 *               3  a listener past the handshake reads the stream as
 *                  transport frames
 *               4  the stream is plaintext: the dialer encrypts it (one
 *                  message per chunk size), the listener decrypts it
 *                  (chunks again); with tamper, the first two bytes pick a
 *                  ciphertext byte to flip first
 *               5  a whole handshake, messages handed over in chunks; with
 *                  tamper, stream bytes 0-1 pick a message byte to flip
 *               6, 7 as 0 and 1
 *   bytes 1..k  chunk sizes, used in turn for each call (0: all that is left)
 *   the rest    the stream
 *
 * Checks: fed in chunks, sessions do exactly what they do fed whole (same
 * results, bytes taken, bytes written, plaintext); errors are the
 * documented ones; a dead session stays dead; a handshake completes only
 * with the one identity able to sign for it; encrypted data comes back
 * unchanged, and tampered data never does. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/identity.h"
#include "secure/noise.h"
#include "shoal.h"

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "fuzz_noise: %s:%d: check failed: %s\n",       \
                    __FILE__, __LINE__, #cond);                            \
            abort();                                                       \
        }                                                                  \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---------------------------------------------------------- fixed keys */

static shoal_identity id_dialer, id_listener;
static const uint8_t S_DIALER[32] = {0x01, 0x02, 0x03};
static const uint8_t E_DIALER[32] = {0x04, 0x05, 0x06};
static const uint8_t S_LISTENER[32] = {0x07, 0x08, 0x09};
static const uint8_t E_LISTENER[32] = {0x0a, 0x0b, 0x0c};

static void init_once(void)
{
    static int done;
    uint8_t seed[crypto_sign_SEEDBYTES];

    if (done)
        return;
    CHECK(sodium_init() >= 0);
    memset(seed, 0x5d, sizeof(seed));
    crypto_sign_seed_keypair(id_dialer.pk, id_dialer.sk, seed);
    memset(seed, 0x1e, sizeof(seed));
    crypto_sign_seed_keypair(id_listener.pk, id_listener.sk, seed);
    done = 1;
}

static shoal_noise *make(enum shoal_noise_role role)
{
    shoal_noise *n = NULL;
    int dialer = role == SHOAL_NOISE_DIALER;

    CHECK(shoal_noise_new_keys(&n, role, dialer ? &id_dialer : &id_listener,
                               NULL, dialer ? S_DIALER : S_LISTENER,
                               dialer ? E_DIALER : E_LISTENER) == 0);
    return n;
}

/* -------------------------------------------------------------- chunks */

typedef struct chunks {
    const uint8_t *sizes;
    size_t n, next;
} chunks;

static size_t next_chunk(chunks *c, size_t left)
{
    size_t k;

    if (c == NULL || c->n == 0)
        return left;
    k = c->sizes[c->next++ % c->n];
    return k == 0 || k > left ? left : k;
}

static int hs_error_ok(int rc)
{
    return rc == SHOAL_EPROTO || rc == SHOAL_ENOENT;
}

/* ---------------------------------------- modes 0, 1: raw handshake */

typedef struct outcome {
    int hs_rc, tr_rc;
    size_t used;          /* handshake bytes taken */
    shoal_outbuf out;     /* what the session wrote */
    shoal_outbuf plain;   /* transport plaintext */
} outcome;

static void outcome_free(outcome *o)
{
    shoal_outbuf_free(&o->out);
    shoal_outbuf_free(&o->plain);
}

static void run_raw_handshake(enum shoal_noise_role role, const uint8_t *s,
                              size_t len, chunks *c, outcome *o)
{
    shoal_noise *n = make(role);
    size_t off = 0;

    memset(o, 0, sizeof(*o));
    shoal_outbuf_init(&o->out);
    shoal_outbuf_init(&o->plain);
    CHECK(shoal_noise_start(n, &o->out) == 0);
    while (off < len) {
        size_t k = next_chunk(c, len - off), used = (size_t)-1;

        o->hs_rc = shoal_noise_handshake(n, s + off, k, &used, &o->out);
        CHECK(used <= k);
        off += used;
        if (o->hs_rc != 0)
            break;
        CHECK(used == k);
    }
    o->used = off;
    if (o->hs_rc < 0) {
        size_t used;
        CHECK(hs_error_ok(o->hs_rc));
        CHECK(!shoal_noise_done(n));
        CHECK(shoal_noise_remote_peer(n) == NULL);
        CHECK(shoal_noise_handshake(n, s, len, &used, &o->out) == o->hs_rc);
        CHECK(shoal_noise_encrypt(n, s, len ? len : 1, &o->out) == o->hs_rc);
    } else if (o->hs_rc == SHOAL_NOISE_DONE) {
        /* only the fixed peer can have signed for its static key */
        const shoal_identity *peer = role == SHOAL_NOISE_DIALER
                                         ? &id_listener
                                         : &id_dialer;
        shoal_peerid want;
        CHECK(shoal_noise_done(n));
        shoal_peerid_from_pubkey(peer->pk, &want);
        CHECK(shoal_noise_remote_peer(n) != NULL);
        CHECK(shoal_peerid_equal(shoal_noise_remote_peer(n), &want));
        /* the rest is transport */
        while (off < len) {
            size_t k = next_chunk(c, len - off), used = (size_t)-1;
            o->tr_rc = shoal_noise_decrypt(n, s + off, k, &used, &o->plain);
            CHECK(used <= k);
            off += used;
            if (o->tr_rc != 0) {
                CHECK(o->tr_rc == SHOAL_EPROTO);
                break;
            }
            CHECK(used == k);
        }
    } else {
        CHECK(!shoal_noise_done(n));
    }
    shoal_noise_free(n);
}

static void same(const outcome *a, const outcome *b)
{
    CHECK(a->hs_rc == b->hs_rc);
    CHECK(a->tr_rc == b->tr_rc);
    CHECK(a->used == b->used);
    CHECK(a->out.len == b->out.len);
    CHECK(a->out.len == 0 ||
          memcmp(a->out.data, b->out.data, a->out.len) == 0);
    CHECK(a->plain.len == b->plain.len);
    CHECK(a->plain.len == 0 ||
          memcmp(a->plain.data, b->plain.data, a->plain.len) == 0);
}

/* ------------------------------------------- a finished pair of sessions */

/* Hands everything in *from to n's handshake, in chunks. */
static int pass(shoal_noise *n, shoal_outbuf *from, shoal_outbuf *reply,
                chunks *c)
{
    size_t off = 0;
    int rc = 0;

    while (off < from->len) {
        size_t k = next_chunk(c, from->len - off), used = (size_t)-1;
        rc = shoal_noise_handshake(n, from->data + off, k, &used, reply);
        CHECK(used <= k);
        off += used;
        if (rc != 0)
            break;
        CHECK(used == k);
    }
    shoal_outbuf_consume(from, off);
    return rc;
}

/* A complete handshake between the fixed dialer and listener. With
 * tamper_at != SIZE_MAX, the byte at that offset of all the handshake
 * bytes (message 1, then 2, then 3, each with its length) is flipped on
 * the way (*tampered says whether there was such a byte); returns whether
 * both sides completed. */
static int handshake(shoal_noise *d, shoal_noise *l, chunks *c,
                     size_t tamper_at, int *tampered)
{
    shoal_outbuf to_l, to_d;
    size_t seen = 0;
    int drc, lrc;

    *tampered = 0;
    shoal_outbuf_init(&to_l);
    shoal_outbuf_init(&to_d);
    CHECK(shoal_noise_start(d, &to_l) == 0);
    CHECK(shoal_noise_start(l, &to_d) == 0);
#define TAMPER(buf)                                                        \
    do {                                                                   \
        if (tamper_at >= seen && tamper_at - seen < (buf).len) {           \
            (buf).data[tamper_at - seen] ^= 0x20;                          \
            *tampered = 1;                                                 \
        }                                                                  \
        seen += (buf).len;                                                 \
    } while (0)
    TAMPER(to_l);
    lrc = pass(l, &to_l, &to_d, c);
    drc = 0;
    if (lrc == 0 && to_d.len) {
        TAMPER(to_d);
        drc = pass(d, &to_d, &to_l, c);
        if (drc == SHOAL_NOISE_DONE) {
            TAMPER(to_l);
            lrc = pass(l, &to_l, &to_d, c);
        }
    }
#undef TAMPER
    if (drc < 0)
        CHECK(hs_error_ok(drc));
    if (lrc < 0)
        CHECK(hs_error_ok(lrc));
    shoal_outbuf_free(&to_l);
    shoal_outbuf_free(&to_d);
    return drc == SHOAL_NOISE_DONE && lrc == SHOAL_NOISE_DONE;
}

/* ------------------------------------------------------- mode 3, 4, 5 */

static void run_transport_raw(const uint8_t *s, size_t len, chunks *c,
                              outcome *o)
{
    shoal_noise *d = make(SHOAL_NOISE_DIALER), *l = make(SHOAL_NOISE_LISTENER);
    size_t off = 0;
    int t;

    memset(o, 0, sizeof(*o));
    shoal_outbuf_init(&o->out);
    shoal_outbuf_init(&o->plain);
    CHECK(handshake(d, l, NULL, SIZE_MAX, &t));
    while (off < len) {
        size_t k = next_chunk(c, len - off), used = (size_t)-1;
        o->tr_rc = shoal_noise_decrypt(l, s + off, k, &used, &o->plain);
        CHECK(used <= k);
        off += used;
        if (o->tr_rc != 0) {
            size_t u;
            CHECK(o->tr_rc == SHOAL_EPROTO);
            CHECK(shoal_noise_decrypt(l, s, len, &u, &o->plain) ==
                  SHOAL_EPROTO);
            break;
        }
        CHECK(used == k);
    }
    o->used = off;
    shoal_noise_free(d);
    shoal_noise_free(l);
}

static void run_roundtrip(const uint8_t *s, size_t len, chunks *c,
                          int tamper)
{
    shoal_noise *d = make(SHOAL_NOISE_DIALER), *l = make(SHOAL_NOISE_LISTENER);
    shoal_outbuf wire, plain;
    size_t off = 0, flip = SIZE_MAX;
    int rc = 0, t;
    uint64_t sn, rn, frames = 0;

    shoal_outbuf_init(&wire);
    shoal_outbuf_init(&plain);
    CHECK(handshake(d, l, NULL, SIZE_MAX, &t));
    while (off < len) {
        size_t k = next_chunk(c, len - off);
        size_t before = wire.len;
        CHECK(shoal_noise_encrypt(d, s + off, k, &wire) == 0);
        frames += k / SHOAL_NOISE_PLAINTEXT_MAX +
                  (k % SHOAL_NOISE_PLAINTEXT_MAX != 0);
        CHECK(wire.len - before ==
              k + (size_t)(k / SHOAL_NOISE_PLAINTEXT_MAX +
                           (k % SHOAL_NOISE_PLAINTEXT_MAX != 0)) * 18);
        off += k;
    }
    shoal_noise_nonces(d, &sn, &rn);
    CHECK(sn == frames && rn == 0);
    if (tamper && len >= 2 && wire.len) {
        flip = (((size_t)s[0] << 8) | s[1]) % wire.len;
        wire.data[flip] ^= 0x01;
    }
    off = 0;
    c->next = 0;
    while (off < wire.len) {
        size_t k = next_chunk(c, wire.len - off), used = (size_t)-1;
        rc = shoal_noise_decrypt(l, wire.data + off, k, &used, &plain);
        CHECK(used <= k);
        off += used;
        if (rc != 0)
            break;
        CHECK(used == k);
    }
    /* what came out is always a prefix of what went in */
    CHECK(plain.len <= len);
    CHECK(plain.len == 0 || memcmp(plain.data, s, plain.len) == 0);
    if (flip == SIZE_MAX) {
        CHECK(rc == 0);
        CHECK(plain.len == len);
        shoal_noise_nonces(l, &sn, &rn);
        CHECK(rn == frames);
    } else {
        CHECK(rc == 0 || rc == SHOAL_EPROTO);
        CHECK(plain.len < len); /* tampered data never comes back whole */
    }
    shoal_outbuf_free(&wire);
    shoal_outbuf_free(&plain);
    shoal_noise_free(d);
    shoal_noise_free(l);
}

static void run_full_handshake(const uint8_t *s, size_t len, chunks *c,
                               int tamper)
{
    shoal_noise *d = make(SHOAL_NOISE_DIALER), *l = make(SHOAL_NOISE_LISTENER);
    size_t at = SIZE_MAX;
    int done, tampered;

    if (tamper && len >= 2)
        at = ((size_t)s[0] << 8) | s[1];
    done = handshake(d, l, c, at, &tampered);
    if (!tampered) /* untouched (or the offset is past the end): it works */
        CHECK(done && shoal_noise_done(d) && shoal_noise_done(l));
    else /* a flipped bit anywhere: never done on both sides */
        CHECK(!done);
    shoal_noise_free(d);
    shoal_noise_free(l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    chunks c;
    const uint8_t *s;
    size_t k, len;
    uint8_t ctl;
    int mode, tamper;
    outcome whole, split;

    if (size == 0)
        return 0;
    init_once();
    ctl = data[0];
    k = ctl & 7u;
    if (k > size - 1)
        k = size - 1;
    tamper = (ctl >> 3) & 1;
    mode = (ctl >> 4) & 7;
    c.sizes = data + 1;
    c.n = k;
    c.next = 0;
    s = data + 1 + k;
    len = size - 1 - k;

    switch (mode) {
    case 2: {
        uint8_t pk[SHOAL_ED25519_PK], spk[32];
        int rc;
        crypto_scalarmult_curve25519_base(spk, S_DIALER);
        rc = shoal_noise_payload_verify(s, len, spk, pk);
        CHECK(rc == 0 || rc == SHOAL_EPROTO);
        if (rc == 0) /* only the fixed dialer signed for this key */
            CHECK(memcmp(pk, id_dialer.pk, sizeof(pk)) == 0);
        break;
    }
    case 3:
        run_transport_raw(s, len, NULL, &whole);
        run_transport_raw(s, len, &c, &split);
        same(&whole, &split);
        outcome_free(&whole);
        outcome_free(&split);
        break;
    case 4:
        run_roundtrip(s, len, &c, tamper);
        break;
    case 5:
        run_full_handshake(s, len, &c, tamper);
        break;
    default: {
        enum shoal_noise_role role = (mode & 1) ? SHOAL_NOISE_DIALER
                                                : SHOAL_NOISE_LISTENER;
        run_raw_handshake(role, s, len, NULL, &whole);
        run_raw_handshake(role, s, len, &c, &split);
        same(&whole, &split);
        outcome_free(&whole);
        outcome_free(&split);
        break;
    }
    }
    return 0;
}
