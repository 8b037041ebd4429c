/* Noise XX for libp2p (src/secure/noise.c): the core against a published
 * test vector, then two in-memory sessions (dialer and listener) through
 * the handshake and the transport, split every way, and everything that
 * must fail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "crypto/identity.h"
#include "secure/noise.h"
#include "shoal.h"

/* ---------------------------------------------------------------- helpers */

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = strlen(hex) / 2, i;

    assert_true(n <= cap);
    for (i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    return n;
}

static shoal_identity id_a, id_b, id_c;

static int setup_ids(void **state)
{
    (void)state;
    if (shoal_identity_generate(&id_a) != 0 ||
        shoal_identity_generate(&id_b) != 0 ||
        shoal_identity_generate(&id_c) != 0)
        return -1;
    return 0;
}

/* A dialer and a listener in memory, and what each has to send. */
typedef struct pair {
    shoal_noise *d, *l;
    shoal_outbuf to_l, to_d;   /* bytes in flight */
    shoal_outbuf plain_d, plain_l;
} pair;

static void pair_init(pair *p, const shoal_peerid *expected)
{
    memset(p, 0, sizeof(*p));
    assert_int_equal(shoal_noise_new(&p->d, SHOAL_NOISE_DIALER, &id_a,
                                     expected), 0);
    assert_int_equal(shoal_noise_new(&p->l, SHOAL_NOISE_LISTENER, &id_b,
                                     NULL), 0);
    shoal_outbuf_init(&p->to_l);
    shoal_outbuf_init(&p->to_d);
    shoal_outbuf_init(&p->plain_d);
    shoal_outbuf_init(&p->plain_l);
}

static void pair_free(pair *p)
{
    shoal_noise_free(p->d);
    shoal_noise_free(p->l);
    shoal_outbuf_free(&p->to_l);
    shoal_outbuf_free(&p->to_d);
    shoal_outbuf_free(&p->plain_d);
    shoal_outbuf_free(&p->plain_l);
}

/* Feeds all of buf to a session's handshake in pieces of at most chunk
 * bytes (0: whole); returns the last result. */
static int feed_hs(shoal_noise *n, shoal_outbuf *buf, size_t chunk,
                   shoal_outbuf *reply)
{
    size_t off = 0;
    int rc = 0;

    while (off < buf->len) {
        size_t k = chunk == 0 || buf->len - off < chunk ? buf->len - off
                                                         : chunk;
        size_t used = 0;
        rc = shoal_noise_handshake(n, buf->data + off, k, &used, reply);
        if (rc < 0)
            return rc;
        assert_true(used <= k);
        off += used;
        if (rc == SHOAL_NOISE_DONE)
            break;
        assert_int_equal(used, k);
    }
    shoal_outbuf_consume(buf, off);
    return rc;
}

/* The whole handshake, messages fed in pieces of chunk bytes. */
static void pair_handshake(pair *p, size_t chunk)
{
    assert_int_equal(shoal_noise_start(p->d, &p->to_l), 0);
    assert_int_equal(shoal_noise_start(p->l, &p->to_d), 0);
    assert_int_equal(p->to_d.len, 0);            /* listener says nothing */
    assert_int_equal(p->to_l.len, 2 + 32);       /* -> e */
    assert_int_equal(feed_hs(p->l, &p->to_l, chunk, &p->to_d), 0);
    assert_true(p->to_d.len > 2 + 32 + 48 + 16); /* <- e, ee, s, es */
    assert_int_equal(feed_hs(p->d, &p->to_d, chunk, &p->to_l),
                     SHOAL_NOISE_DONE);
    assert_true(shoal_noise_done(p->d));
    assert_false(shoal_noise_done(p->l));
    assert_int_equal(feed_hs(p->l, &p->to_l, chunk, &p->to_d),
                     SHOAL_NOISE_DONE);
    assert_true(shoal_noise_done(p->l));
    assert_int_equal(p->to_d.len, 0);
    assert_int_equal(p->to_l.len, 0);
}

static void expect_peer(const shoal_noise *n, const shoal_identity *id)
{
    shoal_peerid want;
    const shoal_peerid *got = shoal_noise_remote_peer(n);

    shoal_peerid_from_pubkey(id->pk, &want);
    assert_non_null(got);
    assert_true(shoal_peerid_equal(got, &want));
    assert_memory_equal(shoal_noise_remote_key(n), id->pk, SHOAL_ED25519_PK);
}

/* Sends msg from one side to the other; checks it arrives unchanged. */
static void send_one(shoal_noise *from, shoal_noise *to, const uint8_t *msg,
                     size_t len, size_t chunk)
{
    shoal_outbuf wire, plain;
    size_t off = 0;

    shoal_outbuf_init(&wire);
    shoal_outbuf_init(&plain);
    assert_int_equal(shoal_noise_encrypt(from, msg, len, &wire), 0);
    while (off < wire.len) {
        size_t k = chunk == 0 || wire.len - off < chunk ? wire.len - off
                                                         : chunk;
        size_t used = 0;
        assert_int_equal(shoal_noise_decrypt(to, wire.data + off, k, &used,
                                             &plain), 0);
        assert_int_equal(used, k);
        off += k;
    }
    assert_int_equal(plain.len, len);
    if (len)
        assert_memory_equal(plain.data, msg, len);
    shoal_outbuf_free(&wire);
    shoal_outbuf_free(&plain);
}

/* ----------------------------------------------------- the test vector */

/* cacophony's Noise_XX_25519_ChaChaPoly_SHA256 vector (public domain test
 * vectors of the Haskell implementation, vectors/cacophony.txt): fixed
 * keys, the prologue "John Galt", three handshake messages and three
 * transport messages, alternating sides. */
static const char V_PROLOGUE[] = "4a6f686e2047616c74";
static const char V_INIT_STATIC[] =
    "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1";
static const char V_INIT_EPHEMERAL[] =
    "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a";
static const char V_RESP_STATIC[] =
    "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893";
static const char V_RESP_EPHEMERAL[] =
    "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b";
static const struct {
    const char *payload, *ciphertext;
} V_MSGS[] = {
    {"4c756477696720766f6e204d69736573",
     "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c7944"
     "4c756477696720766f6e204d69736573"},
    {"4d757272617920526f746862617264",
     "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f144808843"
     "81cbad1f276e038c48378ffce2b65285e08d6b68aaa3629a5a8639392490e5b9"
     "bd5269c2f1e4f488ed8831161f19b7815528f8982ffe09be9b5c412f8a0db50f"
     "8814c7194e83f23dbd8d162c9326ad"},
    {"462e20412e20486179656b",
     "c7195ffacac1307ff99046f219750fc47693e23c3cb08b89c2af808b444850a8"
     "0ae475b9df0f169ae80a89be0865b57f58c9fea0d4ec82a286427402f113e4b6"
     "ae769a1d95941d49b25030"},
    {"4361726c204d656e676572",
     "96763ed773f8e47bb3712f0e29b3060ffc956ffc146cee53d5e1df"},
    {"4a65616e2d426170746973746520536179",
     "3e40f15f6f3a46ae446b253bf8b1d9ffb6ed9b174d272328ff91a7e2e5c79c07f5"},
    {"457567656e2042f6686d20766f6e2042617765726b",
     "eb3f3515110702e047a6c9da4478b6ead94873c11c0f2d710ddb3f09fce024b3"
     "a58502ae3f"},
};

static void test_cacophony_vector(void **state)
{
    uint8_t prologue[16], is[32], ie[32], rs[32], re[32];
    uint8_t payload[256], expect[256], msg[256], got[256];
    size_t plen, elen, mlen, glen, prlen, i;
    shoal_noise_hs init, resp;
    shoal_noise_cipher isend, irecv, rsend, rrecv;

    (void)state;
    prlen = unhex(V_PROLOGUE, prologue, sizeof(prologue));
    unhex(V_INIT_STATIC, is, sizeof(is));
    unhex(V_INIT_EPHEMERAL, ie, sizeof(ie));
    unhex(V_RESP_STATIC, rs, sizeof(rs));
    unhex(V_RESP_EPHEMERAL, re, sizeof(re));
    assert_int_equal(shoal_noise_hs_init(&init, 1, prologue, prlen, is, ie),
                     0);
    assert_int_equal(shoal_noise_hs_init(&resp, 0, prologue, prlen, rs, re),
                     0);

    for (i = 0; i < 3; i++) {
        shoal_noise_hs *w = i == 1 ? &resp : &init, *r = i == 1 ? &init
                                                                : &resp;
        plen = unhex(V_MSGS[i].payload, payload, sizeof(payload));
        elen = unhex(V_MSGS[i].ciphertext, expect, sizeof(expect));
        assert_int_equal(shoal_noise_hs_write_size(w, plen), elen);
        assert_int_equal(shoal_noise_hs_write(w, payload, plen, msg,
                                              sizeof(msg), &mlen), 0);
        assert_int_equal(mlen, elen);
        assert_memory_equal(msg, expect, elen);
        assert_int_equal(shoal_noise_hs_read(r, msg, mlen, got, sizeof(got),
                                             &glen), 0);
        assert_int_equal(glen, plen);
        assert_memory_equal(got, payload, plen);
    }
    /* each side learned the other's static key */
    assert_memory_equal(init.rs, resp.s_pk, 32);
    assert_memory_equal(resp.rs, init.s_pk, 32);
    assert_memory_equal(init.h, resp.h, 32);

    assert_int_equal(shoal_noise_hs_split(&init, &isend, &irecv), 0);
    assert_int_equal(shoal_noise_hs_split(&resp, &rsend, &rrecv), 0);
    for (i = 3; i < sizeof(V_MSGS) / sizeof(V_MSGS[0]); i++) {
        /* after the initiator's third message the responder speaks */
        shoal_noise_cipher *enc = i % 2 ? &rsend : &isend;
        shoal_noise_cipher *dec = i % 2 ? &irecv : &rrecv;
        plen = unhex(V_MSGS[i].payload, payload, sizeof(payload));
        elen = unhex(V_MSGS[i].ciphertext, expect, sizeof(expect));
        assert_int_equal(elen, plen + 16);
        assert_int_equal(shoal_noise_cipher_encrypt(enc, NULL, 0, payload,
                                                    plen, msg), 0);
        assert_memory_equal(msg, expect, elen);
        assert_int_equal(shoal_noise_cipher_decrypt(dec, NULL, 0, msg, elen,
                                                    got), 0);
        assert_memory_equal(got, payload, plen);
    }
    shoal_noise_hs_wipe(&init);
    shoal_noise_hs_wipe(&resp);
    shoal_noise_cipher_wipe(&isend);
    shoal_noise_cipher_wipe(&irecv);
    shoal_noise_cipher_wipe(&rsend);
    shoal_noise_cipher_wipe(&rrecv);
}

/* The core refuses to act out of turn, and the message size limit. */
static void test_core_turns_and_limits(void **state)
{
    uint8_t sk[32] = {1}, msg[128], pl[128];
    size_t n;
    shoal_noise_hs hs;
    shoal_noise_cipher a, b;
    uint8_t *big;

    (void)state;
    assert_int_equal(shoal_noise_hs_init(&hs, 0, NULL, 0, sk, NULL), 0);
    assert_int_equal(shoal_noise_hs_write(&hs, NULL, 0, msg, sizeof(msg), &n),
                     SHOAL_EBUSY); /* the responder does not start */
    assert_int_equal(shoal_noise_hs_split(&hs, &a, &b), SHOAL_EBUSY);
    assert_int_equal(shoal_noise_hs_read(&hs, msg, 31, pl, sizeof(pl), &n),
                     SHOAL_EPROTO); /* shorter than a key */
    shoal_noise_hs_wipe(&hs);

    assert_int_equal(shoal_noise_hs_init(&hs, 1, NULL, 0, sk, NULL), 0);
    assert_int_equal(shoal_noise_hs_read(&hs, msg, 32, pl, sizeof(pl), &n),
                     SHOAL_EBUSY); /* the initiator starts */
    assert_int_equal(shoal_noise_hs_write(&hs, NULL, 0, msg, 31, &n),
                     SHOAL_EINVAL); /* no room */
    big = calloc(1, 70000);
    assert_non_null(big);
    /* 32 + 65504 = 65536 > 65535 */
    assert_int_equal(shoal_noise_hs_write(&hs, big, 65504, big, 70000, &n),
                     SHOAL_EMSGSIZE);
    assert_int_equal(shoal_noise_hs_write(&hs, big, 65503, big + 65503,
                                          70000 - 65503, &n), SHOAL_EINVAL);
    free(big);
    shoal_noise_hs_wipe(&hs);
}

/* The nonce 2^64-1 is reserved: the last usable one is 2^64-2. */
static void test_nonce_exhaustion(void **state)
{
    shoal_noise_cipher enc, dec;
    uint8_t ct[3 + 16], pt[3];

    (void)state;
    memset(&enc, 0, sizeof(enc));
    memset(enc.k, 0x42, sizeof(enc.k));
    enc.has_key = 1;
    dec = enc;
    enc.n = dec.n = UINT64_MAX - 1;
    assert_int_equal(shoal_noise_cipher_encrypt(&enc, NULL, 0,
                                                (const uint8_t *)"abc", 3,
                                                ct), 0);
    assert_true(enc.n == UINT64_MAX);
    assert_int_equal(shoal_noise_cipher_encrypt(&enc, NULL, 0,
                                                (const uint8_t *)"abc", 3,
                                                ct), SHOAL_ECLOSED);
    assert_int_equal(shoal_noise_cipher_decrypt(&dec, NULL, 0, ct, 15, pt),
                     SHOAL_EPROTO); /* shorter than a tag */
    assert_int_equal(shoal_noise_cipher_decrypt(&dec, NULL, 0, ct,
                                                sizeof(ct), pt), 0);
    assert_memory_equal(pt, "abc", 3);
    assert_int_equal(shoal_noise_cipher_decrypt(&dec, NULL, 0, ct,
                                                sizeof(ct), pt),
                     SHOAL_ECLOSED);
    shoal_noise_cipher_wipe(&enc);
    shoal_noise_cipher_wipe(&dec);
    assert_int_equal(enc.has_key, 0);
}

/* -------------------------------------------------------- the sessions */

static void test_handshake_and_transport(void **state)
{
    static const uint8_t hello[] = "hello listener";
    static const uint8_t back[] = "hello dialer";
    pair p;

    (void)state;
    pair_init(&p, NULL);
    assert_null(shoal_noise_remote_peer(p.d));
    pair_handshake(&p, 0);
    expect_peer(p.d, &id_b);
    expect_peer(p.l, &id_a);
    send_one(p.d, p.l, hello, sizeof(hello), 0);
    send_one(p.l, p.d, back, sizeof(back), 0);
    send_one(p.d, p.l, hello, 1, 0);
    send_one(p.l, p.d, back, 0, 0); /* nothing at all */
    pair_free(&p);
}

/* Every handshake message split at every point, and byte by byte. */
static void test_handshake_every_split(void **state)
{
    size_t split, msg;

    (void)state;
    for (msg = 0; msg < 3; msg++) {
        for (split = 1;; split++) {
            pair p;
            shoal_outbuf *wire;
            shoal_noise *to;
            size_t used = 0, total;
            int rc;

            pair_init(&p, NULL);
            assert_int_equal(shoal_noise_start(p.d, &p.to_l), 0);
            assert_int_equal(shoal_noise_start(p.l, &p.to_d), 0);
            if (msg >= 1)
                assert_int_equal(feed_hs(p.l, &p.to_l, 0, &p.to_d), 0);
            if (msg >= 2)
                assert_int_equal(feed_hs(p.d, &p.to_d, 0, &p.to_l),
                                 SHOAL_NOISE_DONE);
            wire = msg == 1 ? &p.to_d : &p.to_l;
            to = msg == 1 ? p.d : p.l;
            total = wire->len;
            if (split >= total) {
                pair_free(&p);
                break;
            }
            /* first part, then the rest */
            rc = shoal_noise_handshake(to, wire->data, split, &used,
                                       msg == 1 ? &p.to_l : &p.to_d);
            assert_int_equal(rc, 0);
            assert_int_equal(used, split);
            rc = shoal_noise_handshake(to, wire->data + split, total - split,
                                       &used, msg == 1 ? &p.to_l : &p.to_d);
            assert_int_equal(rc, msg == 0 ? 0 : SHOAL_NOISE_DONE);
            assert_int_equal(used, total - split);
            pair_free(&p);
        }
    }
    /* and one byte at a time, all the way */
    {
        pair p;
        pair_init(&p, NULL);
        pair_handshake(&p, 1);
        send_one(p.d, p.l, (const uint8_t *)"x", 1, 1);
        send_one(p.l, p.d, (const uint8_t *)"y", 1, 1);
        pair_free(&p);
    }
}

/* The dialer pipelines its first transport frame behind message 3: the
 * handshake leaves it to decrypt. */
static void test_pipelined_transport(void **state)
{
    static const uint8_t early[] = "/multistream/1.0.0";
    pair p;
    size_t used = 0, msg3;

    (void)state;
    pair_init(&p, NULL);
    assert_int_equal(shoal_noise_start(p.d, &p.to_l), 0);
    assert_int_equal(shoal_noise_start(p.l, &p.to_d), 0);
    assert_int_equal(feed_hs(p.l, &p.to_l, 0, &p.to_d), 0);
    assert_int_equal(feed_hs(p.d, &p.to_d, 0, &p.to_l), SHOAL_NOISE_DONE);
    msg3 = p.to_l.len;
    assert_int_equal(shoal_noise_encrypt(p.d, early, sizeof(early), &p.to_l),
                     0);
    assert_int_equal(shoal_noise_handshake(p.l, p.to_l.data, p.to_l.len,
                                           &used, &p.to_d), SHOAL_NOISE_DONE);
    assert_int_equal(used, msg3);
    assert_int_equal(shoal_noise_decrypt(p.l, p.to_l.data + used,
                                         p.to_l.len - used, &used,
                                         &p.plain_l), 0);
    assert_int_equal(p.plain_l.len, sizeof(early));
    assert_memory_equal(p.plain_l.data, early, sizeof(early));
    pair_free(&p);
}

/* Transport: several frames split at every point; frames larger than the
 * limit are cut; the nonces count frames. */
static void test_transport_splits_and_nonces(void **state)
{
    pair p;
    uint8_t msg[300];
    shoal_outbuf wire;
    size_t i, split, total;
    uint64_t s, r;

    (void)state;
    for (i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)(i * 7);
    pair_init(&p, NULL);
    pair_handshake(&p, 0);
    shoal_outbuf_init(&wire);
    assert_int_equal(shoal_noise_encrypt(p.d, msg, 100, &wire), 0);
    assert_int_equal(shoal_noise_encrypt(p.d, msg + 100, 1, &wire), 0);
    assert_int_equal(shoal_noise_encrypt(p.d, msg + 101, 199, &wire), 0);
    total = wire.len;
    assert_int_equal(total, 300 + 3 * 18);
    shoal_noise_nonces(p.d, &s, &r);
    assert_int_equal(s, 3);
    assert_int_equal(r, 0);
    /* the listener can only read them once; test each split on a copy of
     * the stream by re-running the handshake */
    for (split = 0; split <= total; split++) {
        pair q;
        shoal_outbuf w2;
        size_t used = 0;

        pair_init(&q, NULL);
        pair_handshake(&q, 0);
        shoal_outbuf_init(&w2);
        assert_int_equal(shoal_noise_encrypt(q.d, msg, 100, &w2), 0);
        assert_int_equal(shoal_noise_encrypt(q.d, msg + 100, 1, &w2), 0);
        assert_int_equal(shoal_noise_encrypt(q.d, msg + 101, 199, &w2), 0);
        assert_int_equal(shoal_noise_decrypt(q.l, w2.data, split, &used,
                                             &q.plain_l), 0);
        assert_int_equal(used, split);
        assert_int_equal(shoal_noise_decrypt(q.l, w2.data + split,
                                             w2.len - split, &used,
                                             &q.plain_l), 0);
        assert_int_equal(q.plain_l.len, 300);
        assert_memory_equal(q.plain_l.data, msg, 300);
        shoal_noise_nonces(q.l, &s, &r);
        assert_int_equal(r, 3);
        assert_int_equal(s, 0);
        shoal_outbuf_free(&w2);
        pair_free(&q);
    }
    shoal_outbuf_free(&wire);
    pair_free(&p);
}

static void test_nonce_increments(void **state)
{
    pair p;
    shoal_outbuf a, b;
    size_t used;
    uint64_t s, r, k;

    (void)state;
    pair_init(&p, NULL);
    pair_handshake(&p, 0);
    shoal_outbuf_init(&a);
    shoal_outbuf_init(&b);
    for (k = 1; k <= 5; k++) {
        shoal_outbuf_consume(&a, a.len);
        assert_int_equal(shoal_noise_encrypt(p.l, (const uint8_t *)"abc", 3,
                                             &a), 0);
        shoal_noise_nonces(p.l, &s, &r);
        assert_int_equal(s, k);
        assert_int_equal(shoal_noise_decrypt(p.d, a.data, a.len, &used,
                                             &p.plain_d), 0);
        shoal_noise_nonces(p.d, &s, &r);
        assert_int_equal(r, k);
        assert_int_equal(s, 0);
    }
    /* the same bytes again: the nonce has moved on, so the tag fails */
    assert_int_equal(shoal_noise_decrypt(p.d, a.data, a.len, &used,
                                         &p.plain_d), SHOAL_EPROTO);
    shoal_outbuf_free(&a);
    shoal_outbuf_free(&b);
    pair_free(&p);
}

/* A big write becomes frames of at most 65535 bytes. */
static void test_big_message_frames(void **state)
{
    pair p;
    size_t len = 2 * SHOAL_NOISE_PLAINTEXT_MAX + 5, off = 0, frames = 0;
    uint8_t *big = malloc(len);
    shoal_outbuf wire;
    size_t used;

    (void)state;
    assert_non_null(big);
    randombytes_buf(big, len);
    pair_init(&p, NULL);
    pair_handshake(&p, 0);
    shoal_outbuf_init(&wire);
    assert_int_equal(shoal_noise_encrypt(p.d, big, len, &wire), 0);
    while (off < wire.len) {
        size_t flen = ((size_t)wire.data[off] << 8) | wire.data[off + 1];
        assert_true(flen <= SHOAL_NOISE_MSG_MAX);
        assert_int_equal(flen, frames < 2 ? SHOAL_NOISE_MSG_MAX : 5 + 16);
        off += 2 + flen;
        frames++;
    }
    assert_int_equal(off, wire.len);
    assert_int_equal(frames, 3);
    assert_int_equal(shoal_noise_decrypt(p.l, wire.data, wire.len, &used,
                                         &p.plain_l), 0);
    assert_int_equal(p.plain_l.len, len);
    assert_memory_equal(p.plain_l.data, big, len);
    shoal_noise_trim(p.l);
    shoal_outbuf_free(&wire);
    pair_free(&p);
    free(big);
}

/* Writing a frame over 65535 bytes is refused; a frame shorter than a tag
 * kills the session. */
static void test_frame_limits(void **state)
{
    shoal_outbuf out;
    uint8_t *big = calloc(1, 65536);
    uint8_t tiny[2 + 10] = {0, 10};
    pair p;
    size_t used;

    (void)state;
    assert_non_null(big);
    shoal_outbuf_init(&out);
    assert_int_equal(shoal_noise_write_frame(&out, big, 65536),
                     SHOAL_EMSGSIZE);
    assert_int_equal(out.len, 0);
    assert_int_equal(shoal_noise_write_frame(&out, big, 65535), 0);
    assert_int_equal(out.len, 65537);
    assert_int_equal(out.data[0], 0xff);
    assert_int_equal(out.data[1], 0xff);
    shoal_outbuf_free(&out);
    free(big);

    pair_init(&p, NULL);
    pair_handshake(&p, 0);
    assert_int_equal(shoal_noise_decrypt(p.l, tiny, sizeof(tiny), &used,
                                         &p.plain_l), SHOAL_EPROTO);
    assert_int_equal(shoal_noise_encrypt(p.l, tiny, 1, &p.to_d),
                     SHOAL_EPROTO); /* dead */
    pair_free(&p);
}

static void test_tampered_ciphertext(void **state)
{
    pair p;
    shoal_outbuf wire;
    size_t used, i;

    (void)state;
    /* every byte of a transport frame, one at a time */
    pair_init(&p, NULL);
    pair_handshake(&p, 0);
    shoal_outbuf_init(&wire);
    assert_int_equal(shoal_noise_encrypt(p.d, (const uint8_t *)"secret", 6,
                                         &wire), 0);
    pair_free(&p);
    for (i = 2; i < wire.len; i++) {
        pair q;
        shoal_outbuf w;

        pair_init(&q, NULL);
        pair_handshake(&q, 0);
        shoal_outbuf_init(&w);
        assert_int_equal(shoal_noise_encrypt(q.d, (const uint8_t *)"secret",
                                             6, &w), 0);
        w.data[i] ^= 0x01;
        assert_int_equal(shoal_noise_decrypt(q.l, w.data, w.len, &used,
                                             &q.plain_l), SHOAL_EPROTO);
        assert_int_equal(q.plain_l.len, 0);
        /* dead from now on */
        assert_int_equal(shoal_noise_decrypt(q.l, w.data, w.len, &used,
                                             &q.plain_l), SHOAL_EPROTO);
        shoal_outbuf_free(&w);
        pair_free(&q);
    }
    shoal_outbuf_free(&wire);

    /* a bit flipped in message 2 (past the clear ephemeral key) */
    for (i = 2 + 32; i < 2 + 32 + 48 + 16; i += 7) {
        pair q;
        pair_init(&q, NULL);
        assert_int_equal(shoal_noise_start(q.d, &q.to_l), 0);
        assert_int_equal(shoal_noise_start(q.l, &q.to_d), 0);
        assert_int_equal(feed_hs(q.l, &q.to_l, 0, &q.to_d), 0);
        q.to_d.data[i] ^= 0x80;
        assert_int_equal(feed_hs(q.d, &q.to_d, 0, &q.to_l), SHOAL_EPROTO);
        assert_null(shoal_noise_remote_peer(q.d));
        assert_int_equal(shoal_noise_encrypt(q.d, (const uint8_t *)"x", 1,
                                             &q.to_l), SHOAL_EPROTO);
        pair_free(&q);
    }
    /* and in message 3 */
    {
        pair q;
        pair_init(&q, NULL);
        assert_int_equal(shoal_noise_start(q.d, &q.to_l), 0);
        assert_int_equal(shoal_noise_start(q.l, &q.to_d), 0);
        assert_int_equal(feed_hs(q.l, &q.to_l, 0, &q.to_d), 0);
        assert_int_equal(feed_hs(q.d, &q.to_d, 0, &q.to_l),
                         SHOAL_NOISE_DONE);
        q.to_l.data[q.to_l.len - 1] ^= 0x01;
        assert_int_equal(feed_hs(q.l, &q.to_l, 0, &q.to_d), SHOAL_EPROTO);
        assert_false(shoal_noise_done(q.l));
        pair_free(&q);
    }
}

/* A dialer that speaks the core directly, to send what it likes in
 * message 3. */
static int fake_dialer_msg3(shoal_noise *listener, const uint8_t *payload,
                            size_t plen)
{
    shoal_noise_hs hs;
    uint8_t sk[32], m[512], pl[512];
    size_t mlen, n, used;
    shoal_outbuf wire, reply;
    int rc;

    randombytes_buf(sk, sizeof(sk));
    shoal_outbuf_init(&wire);
    shoal_outbuf_init(&reply);
    assert_int_equal(shoal_noise_hs_init(&hs, 1, NULL, 0, sk, NULL), 0);
    assert_int_equal(shoal_noise_hs_write(&hs, NULL, 0, m, sizeof(m), &mlen),
                     0);
    assert_int_equal(shoal_noise_write_frame(&wire, m, mlen), 0);
    assert_int_equal(shoal_noise_start(listener, &reply), 0);
    assert_int_equal(shoal_noise_handshake(listener, wire.data, wire.len,
                                           &used, &reply), 0);
    assert_true(reply.len > 2);
    assert_int_equal(shoal_noise_hs_read(&hs, reply.data + 2, reply.len - 2,
                                         pl, sizeof(pl), &n), 0);
    if (payload == NULL) { /* a payload signed over another static key */
        uint8_t other[32];
        randombytes_buf(other, sizeof(other));
        rc = shoal_noise_payload_encode(&id_c, other, pl, sizeof(pl));
        assert_true(rc > 0);
        payload = pl;
        plen = (size_t)rc;
    }
    assert_int_equal(shoal_noise_hs_write(&hs, payload, plen, m, sizeof(m),
                                          &mlen), 0);
    shoal_outbuf_consume(&wire, wire.len);
    assert_int_equal(shoal_noise_write_frame(&wire, m, mlen), 0);
    rc = shoal_noise_handshake(listener, wire.data, wire.len, &used, &reply);
    shoal_noise_hs_wipe(&hs);
    shoal_outbuf_free(&wire);
    shoal_outbuf_free(&reply);
    return rc;
}

/* A listener that speaks the core, to send in message 2 either id_c's
 * honest payload (honest) or one signed over another static key. */
static int fake_listener_msg2(shoal_noise *dialer, int honest)
{
    shoal_noise_hs hs;
    uint8_t sk[32], m[512], pl[512];
    size_t mlen, n, used;
    shoal_outbuf wire, reply;
    int rc;

    randombytes_buf(sk, sizeof(sk));
    shoal_outbuf_init(&wire);
    shoal_outbuf_init(&reply);
    assert_int_equal(shoal_noise_hs_init(&hs, 0, NULL, 0, sk, NULL), 0);
    assert_int_equal(shoal_noise_start(dialer, &wire), 0);
    assert_int_equal(shoal_noise_hs_read(&hs, wire.data + 2, wire.len - 2,
                                         pl, sizeof(pl), &n), 0);
    {
        uint8_t other[32];
        randombytes_buf(other, sizeof(other));
        rc = shoal_noise_payload_encode(&id_c, honest ? hs.s_pk : other, pl,
                                        sizeof(pl));
        assert_true(rc > 0);
    }
    assert_int_equal(shoal_noise_hs_write(&hs, pl, (size_t)rc, m, sizeof(m),
                                          &mlen), 0);
    shoal_outbuf_consume(&wire, wire.len);
    assert_int_equal(shoal_noise_write_frame(&wire, m, mlen), 0);
    rc = shoal_noise_handshake(dialer, wire.data, wire.len, &used, &reply);
    shoal_noise_hs_wipe(&hs);
    shoal_outbuf_free(&wire);
    shoal_outbuf_free(&reply);
    return rc;
}

static void test_bad_identity_signature(void **state)
{
    shoal_noise *n;
    static const uint8_t junk[] = {0x0a, 0x03, 1, 2, 3};

    (void)state;
    /* the listener checks the dialer's signature */
    assert_int_equal(shoal_noise_new(&n, SHOAL_NOISE_LISTENER, &id_b, NULL),
                     0);
    assert_int_equal(fake_dialer_msg3(n, NULL, 0), SHOAL_EPROTO);
    assert_null(shoal_noise_remote_peer(n));
    shoal_noise_free(n);
    /* no payload at all, and one that is not an identity */
    assert_int_equal(shoal_noise_new(&n, SHOAL_NOISE_LISTENER, &id_b, NULL),
                     0);
    assert_int_equal(fake_dialer_msg3(n, (const uint8_t *)"x", 0),
                     SHOAL_EPROTO);
    shoal_noise_free(n);
    assert_int_equal(shoal_noise_new(&n, SHOAL_NOISE_LISTENER, &id_b, NULL),
                     0);
    assert_int_equal(fake_dialer_msg3(n, junk, sizeof(junk)), SHOAL_EPROTO);
    shoal_noise_free(n);
    /* the dialer checks the listener's */
    assert_int_equal(shoal_noise_new(&n, SHOAL_NOISE_DIALER, &id_a, NULL), 0);
    assert_int_equal(fake_listener_msg2(n, 0), SHOAL_EPROTO);
    shoal_noise_free(n);
    /* the fake listener's honest payload passes, to show the fake is fair */
    assert_int_equal(shoal_noise_new(&n, SHOAL_NOISE_DIALER, &id_a, NULL), 0);
    assert_int_equal(fake_listener_msg2(n, 1), SHOAL_NOISE_DONE);
    expect_peer(n, &id_c);
    shoal_noise_free(n);
}

static void test_expected_peer_id(void **state)
{
    shoal_peerid want_b, want_c;
    pair p;

    (void)state;
    shoal_peerid_from_pubkey(id_b.pk, &want_b);
    shoal_peerid_from_pubkey(id_c.pk, &want_c);

    pair_init(&p, &want_b); /* the right one */
    pair_handshake(&p, 0);
    expect_peer(p.d, &id_b);
    pair_free(&p);

    pair_init(&p, &want_c); /* dialing c's address, b answers */
    assert_int_equal(shoal_noise_start(p.d, &p.to_l), 0);
    assert_int_equal(shoal_noise_start(p.l, &p.to_d), 0);
    assert_int_equal(feed_hs(p.l, &p.to_l, 0, &p.to_d), 0);
    assert_int_equal(feed_hs(p.d, &p.to_d, 0, &p.to_l), SHOAL_EPEERID);
    assert_int_equal(p.to_l.len, 0); /* message 3 never sent */
    assert_null(shoal_noise_remote_peer(p.d));
    /* who answered instead, for the log */
    assert_non_null(shoal_noise_proved_peer(p.d));
    assert_true(shoal_peerid_equal(shoal_noise_proved_peer(p.d), &want_b));
    assert_false(shoal_noise_done(p.d));
    pair_free(&p);
}

static void test_payload_encode_verify(void **state)
{
    uint8_t spk[32], other[32], buf[128], pk[32];
    int len;
    /* an RSA-typed PublicKey (Type = 0) in identity_key */
    static const uint8_t rsa_payload[] = {
        0x0a, 0x06, 0x08, 0x00, 0x12, 0x02, 0xaa, 0xbb,
        0x12, 0x02, 0x01, 0x02};

    (void)state;
    randombytes_buf(spk, sizeof(spk));
    randombytes_buf(other, sizeof(other));
    len = shoal_noise_payload_encode(&id_a, spk, buf, sizeof(buf));
    assert_true(len > 0);
    assert_int_equal(buf[0], 0x0a);          /* field 1, bytes */
    assert_int_equal(buf[1], 36);            /* the PublicKey protobuf */
    assert_int_equal(buf[2 + 36], 0x12);     /* field 2, bytes */
    assert_int_equal(buf[2 + 36 + 1], 64);   /* the signature */
    assert_int_equal(len, 2 + 36 + 2 + 64);  /* no extensions */
    assert_int_equal(shoal_noise_payload_verify(buf, (size_t)len, spk, pk),
                     0);
    assert_memory_equal(pk, id_a.pk, 32);
    assert_int_equal(shoal_noise_payload_verify(buf, (size_t)len, other, pk),
                     SHOAL_EPROTO);
    buf[len - 1] ^= 1;
    assert_int_equal(shoal_noise_payload_verify(buf, (size_t)len, spk, pk),
                     SHOAL_EPROTO);
    assert_int_equal(shoal_noise_payload_verify(buf, 3, spk, pk),
                     SHOAL_EPROTO);
    assert_int_equal(shoal_noise_payload_verify(rsa_payload,
                                                sizeof(rsa_payload), spk, pk),
                     SHOAL_EPROTO);
    assert_int_equal(shoal_noise_payload_encode(&id_a, spk, buf, 50),
                     SHOAL_EINVAL);
}

/* A low-order ephemeral key makes every DH zero: refused. */
static void test_low_order_key(void **state)
{
    shoal_noise *l;
    shoal_outbuf wire, reply;
    uint8_t zero[32] = {0};
    size_t used;

    (void)state;
    assert_int_equal(shoal_noise_new(&l, SHOAL_NOISE_LISTENER, &id_b, NULL),
                     0);
    shoal_outbuf_init(&wire);
    shoal_outbuf_init(&reply);
    assert_int_equal(shoal_noise_start(l, &reply), 0);
    assert_int_equal(shoal_noise_write_frame(&wire, zero, sizeof(zero)), 0);
    assert_int_equal(shoal_noise_handshake(l, wire.data, wire.len, &used,
                                           &reply), SHOAL_EPROTO);
    assert_int_equal(reply.len, 0);
    shoal_outbuf_free(&wire);
    shoal_outbuf_free(&reply);
    shoal_noise_free(l);
}

static void test_wrong_state(void **state)
{
    shoal_noise *d;
    shoal_outbuf out;
    size_t used;

    (void)state;
    shoal_outbuf_init(&out);
    assert_int_equal(shoal_noise_new(&d, SHOAL_NOISE_DIALER, NULL, NULL),
                     SHOAL_EINVAL);
    assert_null(d);
    assert_int_equal(shoal_noise_new(&d, 7, &id_a, NULL), SHOAL_EINVAL);
    assert_int_equal(shoal_noise_new(&d, SHOAL_NOISE_DIALER, &id_a, NULL), 0);
    assert_int_equal(shoal_noise_handshake(d, (const uint8_t *)"ab", 2, &used,
                                           &out), SHOAL_EBUSY);
    assert_int_equal(shoal_noise_encrypt(d, (const uint8_t *)"ab", 2, &out),
                     SHOAL_EBUSY);
    assert_int_equal(shoal_noise_decrypt(d, (const uint8_t *)"ab", 2, &used,
                                         &out), SHOAL_EBUSY);
    assert_int_equal(shoal_noise_start(d, &out), 0);
    assert_int_equal(shoal_noise_start(d, &out), SHOAL_EBUSY);
    assert_int_equal(shoal_noise_encrypt(d, (const uint8_t *)"ab", 2, &out),
                     SHOAL_EBUSY);
    shoal_noise_free(d);
    shoal_noise_free(NULL);
    shoal_outbuf_free(&out);
}

/* Fixed keys give the same bytes every time (what the fuzz target relies
 * on), and different keys different bytes. */
static void test_fixed_keys(void **state)
{
    uint8_t s1[32], e1[32];
    shoal_noise *a, *b;
    shoal_outbuf oa, ob;

    (void)state;
    memset(s1, 0x11, sizeof(s1));
    memset(e1, 0x22, sizeof(e1));
    shoal_outbuf_init(&oa);
    shoal_outbuf_init(&ob);
    assert_int_equal(shoal_noise_new_keys(&a, SHOAL_NOISE_DIALER, &id_a, NULL,
                                          s1, e1), 0);
    assert_int_equal(shoal_noise_new_keys(&b, SHOAL_NOISE_DIALER, &id_a, NULL,
                                          s1, e1), 0);
    assert_int_equal(shoal_noise_start(a, &oa), 0);
    assert_int_equal(shoal_noise_start(b, &ob), 0);
    assert_int_equal(oa.len, ob.len);
    assert_memory_equal(oa.data, ob.data, oa.len);
    shoal_noise_free(b);
    shoal_outbuf_consume(&ob, ob.len);
    assert_int_equal(shoal_noise_new(&b, SHOAL_NOISE_DIALER, &id_a, NULL), 0);
    assert_int_equal(shoal_noise_start(b, &ob), 0);
    assert_memory_not_equal(oa.data + 2, ob.data + 2, 32);
    shoal_noise_free(a);
    shoal_noise_free(b);
    shoal_outbuf_free(&oa);
    shoal_outbuf_free(&ob);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cacophony_vector),
        cmocka_unit_test(test_core_turns_and_limits),
        cmocka_unit_test(test_nonce_exhaustion),
        cmocka_unit_test(test_handshake_and_transport),
        cmocka_unit_test(test_handshake_every_split),
        cmocka_unit_test(test_pipelined_transport),
        cmocka_unit_test(test_transport_splits_and_nonces),
        cmocka_unit_test(test_nonce_increments),
        cmocka_unit_test(test_big_message_frames),
        cmocka_unit_test(test_frame_limits),
        cmocka_unit_test(test_tampered_ciphertext),
        cmocka_unit_test(test_bad_identity_signature),
        cmocka_unit_test(test_expected_peer_id),
        cmocka_unit_test(test_payload_encode_verify),
        cmocka_unit_test(test_low_order_key),
        cmocka_unit_test(test_wrong_state),
        cmocka_unit_test(test_fixed_keys),
    };
    return cmocka_run_group_tests(tests, setup_ids, NULL);
}
