/* multistream-select 1.0 (src/secure/multistream.c): messages, the
 * incremental reader split every way, and a dialer and a listener talking
 * to each other in memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "secure/multistream.h"
#include "shoal.h"

#define HDR "\x13/multistream/1.0.0\n" /* 0x13 = 19 = 18 + newline */

/* -------------------------------------------------------------- messages */

static void test_encode(void **state)
{
    shoal_outbuf out;
    char text[SHOAL_MSS_MSG_MAX + 2];

    (void)state;
    shoal_outbuf_init(&out);
    assert_int_equal(shoal_mss_encode(&out, "na"), 0);
    assert_int_equal(out.len, 4);
    assert_memory_equal(out.data, "\x03na\n", 4);
    shoal_outbuf_consume(&out, out.len);
    assert_int_equal(shoal_mss_encode(&out, SHOAL_MSS_HEADER), 0);
    assert_int_equal(out.len, sizeof(HDR) - 1);
    assert_memory_equal(out.data, HDR, sizeof(HDR) - 1);
    shoal_outbuf_consume(&out, out.len);

    /* the longest: 1023 bytes of text, length 1024 = 80 08 */
    memset(text, 'a', sizeof(text));
    text[SHOAL_MSS_PROTO_MAX] = '\0';
    assert_int_equal(shoal_mss_encode(&out, text), 0);
    assert_int_equal(out.len, 2 + 1024);
    assert_int_equal(out.data[0], 0x80);
    assert_int_equal(out.data[1], 0x08);
    assert_int_equal(out.data[out.len - 1], '\n');
    shoal_outbuf_consume(&out, out.len);

    /* refused, and nothing written */
    text[SHOAL_MSS_PROTO_MAX] = 'a';
    text[SHOAL_MSS_PROTO_MAX + 1] = '\0';
    assert_int_equal(shoal_mss_encode(&out, text), SHOAL_EINVAL);
    assert_int_equal(shoal_mss_encode(&out, ""), SHOAL_EINVAL);
    assert_int_equal(shoal_mss_encode(&out, "a\nb"), SHOAL_EINVAL);
    assert_int_equal(shoal_mss_encode(&out, "\xff"), SHOAL_EINVAL);
    assert_int_equal(shoal_mss_encode(&out, NULL), SHOAL_EINVAL);
    assert_int_equal(out.len, 0);
    /* UTF-8 is fine */
    assert_int_equal(shoal_mss_encode(&out, "/caf\xc3\xa9/1"), 0);
    shoal_outbuf_free(&out);
}

/* What a reader made of a stream: the texts, one after the other. */
typedef struct got {
    char texts[8][SHOAL_MSS_MSG_MAX + 1];
    int n;
} got;

/* Feeds stream[0..len) in pieces: first cut bytes, then the rest in chunks
 * of chunk bytes (0: all). Returns the first error or 0. */
static int read_all(const uint8_t *stream, size_t len, size_t cut,
                    size_t chunk, got *g)
{
    shoal_mss_reader r;
    size_t off = 0;

    memset(g, 0, sizeof(*g));
    shoal_mss_reader_init(&r);
    while (off < len) {
        size_t end = off < cut ? cut : len;
        size_t k = end - off, used = 0;
        int rc;

        if (chunk && k > chunk && off >= cut)
            k = chunk;
        rc = shoal_mss_reader_feed(&r, stream + off, k, &used);
        assert_true(used <= k);
        off += used;
        if (rc < 0)
            return rc;
        if (rc == SHOAL_MSS_MSG) {
            assert_true(r.complete);
            assert_int_equal(strlen(r.text), r.text_len);
            assert_true(g->n < 8);
            memcpy(g->texts[g->n++], r.text, r.text_len + 1);
            shoal_mss_reader_next(&r);
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(used, k); /* it only stops at a message end */
        }
    }
    return 0;
}

static void test_reader_every_split(void **state)
{
    shoal_outbuf s;
    char long_id[301];
    size_t cut;
    got g;

    (void)state;
    memset(long_id, 'x', 300);
    long_id[0] = '/';
    long_id[300] = '\0';
    shoal_outbuf_init(&s);
    assert_int_equal(shoal_mss_encode(&s, SHOAL_MSS_HEADER), 0);
    assert_int_equal(shoal_mss_encode(&s, "/noise"), 0);
    assert_int_equal(shoal_mss_encode(&s, "na"), 0);
    assert_int_equal(shoal_mss_encode(&s, long_id), 0); /* 2-byte length */
    for (cut = 0; cut <= s.len; cut++) {
        assert_int_equal(read_all(s.data, s.len, cut, 0, &g), 0);
        assert_int_equal(g.n, 4);
        assert_string_equal(g.texts[0], SHOAL_MSS_HEADER);
        assert_string_equal(g.texts[1], "/noise");
        assert_string_equal(g.texts[2], "na");
        assert_string_equal(g.texts[3], long_id);
    }
    assert_int_equal(read_all(s.data, s.len, 0, 1, &g), 0); /* bytewise */
    assert_int_equal(g.n, 4);
    assert_int_equal(read_all(s.data, s.len, 0, 3, &g), 0);
    assert_int_equal(g.n, 4);
    shoal_outbuf_free(&s);
}

/* One message alone through a fresh reader: the result. */
static int read_one(const void *bytes, size_t len)
{
    got g;
    int rc = read_all(bytes, len, 0, 0, &g);

    return rc < 0 ? rc : g.n;
}

static void test_reader_rejects(void **state)
{
    uint8_t big[2 + SHOAL_MSS_MSG_MAX + 1];

    (void)state;
    assert_int_equal(read_one("\x03na\n", 4), 1);
    assert_int_equal(read_one("\x00", 1), SHOAL_EPROTO);        /* empty */
    assert_int_equal(read_one("\x01\n", 2), SHOAL_EPROTO);      /* no text */
    assert_int_equal(read_one("\x03nab", 4), SHOAL_EPROTO);     /* no \n */
    assert_int_equal(read_one("\x04n\na\n", 5), SHOAL_EPROTO);  /* inner \n */
    assert_int_equal(read_one("\x04n\0a\n", 5), SHOAL_EPROTO);  /* NUL */
    assert_int_equal(read_one("\x02\xff\n", 3), SHOAL_EPROTO);  /* not UTF-8 */
    assert_int_equal(read_one("\x03\xc0\x80\n", 4), SHOAL_EPROTO); /* overlong */
    assert_int_equal(read_one("\x04\xed\xa0\x80\n", 5), SHOAL_EPROTO); /* surrogate */
    assert_int_equal(read_one("\x02\xc3\n", 3), SHOAL_EPROTO);  /* cut short */
    assert_int_equal(read_one("\x03na", 3), 0);  /* just not complete yet */
    assert_int_equal(read_one("\x83\x00", 2), SHOAL_EPROTO);    /* non-minimal */
    assert_int_equal(read_one("\x80\x80\x00", 3), SHOAL_EPROTO);
    assert_int_equal(read_one("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10),
                     SHOAL_EPROTO); /* longer than any varint */
    assert_int_equal(read_one("\x81\x08", 2), SHOAL_EMSGSIZE);  /* 1025 */
    assert_int_equal(read_one("\xff\xff\x03", 3), SHOAL_EMSGSIZE);
    /* 1024 with the newline: the largest accepted */
    big[0] = 0x80;
    big[1] = 0x08;
    memset(big + 2, 'p', SHOAL_MSS_MSG_MAX - 1);
    big[2 + SHOAL_MSS_MSG_MAX - 1] = '\n';
    assert_int_equal(read_one(big, 2 + SHOAL_MSS_MSG_MAX), 1);
    /* an error is reported as soon as the length is known */
    {
        shoal_mss_reader r;
        size_t used = 0;
        shoal_mss_reader_init(&r);
        assert_int_equal(shoal_mss_reader_feed(&r, (const uint8_t *)
                                               "\x81\x08zzzz", 6, &used),
                         SHOAL_EMSGSIZE);
        assert_int_equal(used, 2);
    }
}

/* ------------------------------------------------ dialer and listener */

static const char *const both[] = {"/noise", "/tls/1.0.0"};
static const char *const noise_only[] = {"/noise"};
static const char *const tls_only[] = {"/tls/1.0.0"};
static const char *const yamux[] = {"/yamux/1.0.0"};

/* Runs a negotiation, messages handed over in pieces of chunk bytes (0:
 * all at once). Returns the dialer's result; *lrc gets the listener's. */
static int negotiate(const char *const *dp, size_t dn, const char *const *lp,
                     size_t ln, size_t chunk, const char **dsel,
                     const char **lsel, int *lrc)
{
    shoal_mss_dialer d;
    shoal_mss_listener l;
    shoal_outbuf to_l, to_d;
    int drc = 0, rounds = 0;

    *lrc = 0;
    shoal_outbuf_init(&to_l);
    shoal_outbuf_init(&to_d);
    assert_int_equal(shoal_mss_dialer_init(&d, dp, dn), 0);
    assert_int_equal(shoal_mss_listener_init(&l, lp, ln, 0), 0);
    assert_int_equal(shoal_mss_dialer_start(&d, &to_l), 0);
    assert_int_equal(shoal_mss_listener_start(&l, &to_d), 0);
    while ((to_l.len || to_d.len) && rounds++ < 100) {
        /* dialer -> listener */
        while (to_l.len && *lrc == 0) {
            size_t k = chunk && to_l.len > chunk ? chunk : to_l.len, used;
            *lrc = shoal_mss_listener_feed(&l, to_l.data, k, &used, &to_d);
            assert_true(used <= k);
            shoal_outbuf_consume(&to_l, used);
            if (*lrc == SHOAL_MSS_DONE) {
                assert_int_equal(to_l.len, 0);
                /* the dialer's app data must be left for the caller */
                break;
            }
            if (*lrc < 0)
                break;
            assert_int_equal(used, k);
        }
        if (*lrc < 0) {
            to_l.len = 0;
            break;
        }
        /* listener -> dialer */
        while (to_d.len && drc == 0) {
            size_t k = chunk && to_d.len > chunk ? chunk : to_d.len, used;
            drc = shoal_mss_dialer_feed(&d, to_d.data, k, &used, &to_l);
            assert_true(used <= k);
            shoal_outbuf_consume(&to_d, used);
            if (drc != 0)
                break;
            assert_int_equal(used, k);
        }
        if (drc != 0)
            break;
    }
    *dsel = shoal_mss_dialer_protocol(&d);
    *lsel = shoal_mss_listener_protocol(&l);
    shoal_outbuf_free(&to_l);
    shoal_outbuf_free(&to_d);
    return drc;
}

static void test_negotiate_in_memory(void **state)
{
    const char *ds, *ls;
    size_t chunk;
    int lrc;

    (void)state;
    for (chunk = 0; chunk <= 30; chunk++) {
        /* first choice */
        assert_int_equal(negotiate(both, 2, both, 2, chunk, &ds, &ls, &lrc),
                         SHOAL_MSS_DONE);
        assert_int_equal(lrc, SHOAL_MSS_DONE);
        assert_string_equal(ds, "/noise");
        assert_string_equal(ls, "/noise");
        /* "na", then the second choice */
        assert_int_equal(negotiate(both, 2, tls_only, 1, chunk, &ds, &ls,
                                   &lrc), SHOAL_MSS_DONE);
        assert_int_equal(lrc, SHOAL_MSS_DONE);
        assert_string_equal(ds, "/tls/1.0.0");
        assert_string_equal(ls, "/tls/1.0.0");
        /* nothing in common */
        assert_int_equal(negotiate(noise_only, 1, yamux, 1, chunk, &ds, &ls,
                                   &lrc), SHOAL_ENOENT);
        assert_int_equal(lrc, 0);
        assert_null(ds);
        assert_null(ls);
        /* a listener with no protocols at all */
        assert_int_equal(negotiate(both, 2, NULL, 0, chunk, &ds, &ls, &lrc),
                         SHOAL_ENOENT);
    }
}

/* js sends the header and its proposal in one packet, and may send data
 * right behind them; the listener stops at the proposal. */
static void test_listener_pipelined(void **state)
{
    static const uint8_t in[] = HDR "\x07/noise\n" "APPDATA";
    shoal_mss_listener l;
    shoal_outbuf out;
    size_t used = 0;

    (void)state;
    shoal_outbuf_init(&out);
    assert_int_equal(shoal_mss_listener_init(&l, both, 2, 0), 0);
    assert_null(shoal_mss_listener_protocol(&l));
    assert_int_equal(shoal_mss_listener_start(&l, &out), 0);
    assert_int_equal(shoal_mss_listener_feed(&l, in, sizeof(in) - 1, &used,
                                             &out), SHOAL_MSS_DONE);
    assert_int_equal(used, sizeof(in) - 1 - 7);
    assert_memory_equal(in + used, "APPDATA", 7);
    assert_string_equal(shoal_mss_listener_protocol(&l), "/noise");
    /* what it sent: its header, then the echo */
    assert_int_equal(out.len, sizeof(HDR) - 1 + 8);
    assert_memory_equal(out.data, HDR "\x07/noise\n", out.len);
    /* over: no more feeding */
    assert_int_equal(shoal_mss_listener_feed(&l, in, 1, &used, &out),
                     SHOAL_EBUSY);
    shoal_outbuf_free(&out);
}

/* The dialer's exact bytes, and the answer arriving in one piece with the
 * listener's first protocol bytes behind it. */
static void test_dialer_bytes(void **state)
{
    static const uint8_t answer[] = HDR "\x03na\n" "\x0b/tls/1.0.0\n" "X";
    shoal_mss_dialer d;
    shoal_outbuf out;
    size_t used = 0;

    (void)state;
    shoal_outbuf_init(&out);
    assert_int_equal(shoal_mss_dialer_init(&d, both, 2), 0);
    assert_int_equal(shoal_mss_dialer_feed(&d, answer, 1, &used, &out),
                     SHOAL_EBUSY); /* not started */
    assert_int_equal(shoal_mss_dialer_start(&d, &out), 0);
    assert_int_equal(shoal_mss_dialer_start(&d, &out), SHOAL_EBUSY);
    assert_int_equal(out.len, sizeof(HDR) - 1 + 8);
    assert_memory_equal(out.data, HDR "\x07/noise\n", out.len);
    shoal_outbuf_consume(&out, out.len);
    assert_int_equal(shoal_mss_dialer_feed(&d, answer, sizeof(answer) - 1,
                                           &used, &out), SHOAL_MSS_DONE);
    assert_int_equal(used, sizeof(answer) - 2);
    /* after "na" it proposed the next one */
    assert_int_equal(out.len, 12);
    assert_memory_equal(out.data, "\x0b/tls/1.0.0\n", 12);
    assert_string_equal(shoal_mss_dialer_protocol(&d), "/tls/1.0.0");
    shoal_outbuf_free(&out);
}

static void test_ls(void **state)
{
    static const uint8_t in[] = HDR "\x03ls\n";
    static const uint8_t list[] = "\x15" "\x07/noise\n" "\x0b/tls/1.0.0\n"
                                  "\n";
    shoal_mss_listener l;
    shoal_outbuf out;
    size_t used;

    (void)state;
    shoal_outbuf_init(&out);
    assert_int_equal(shoal_mss_listener_init(&l, both, 2, 1), 0);
    assert_int_equal(shoal_mss_listener_start(&l, &out), 0);
    shoal_outbuf_consume(&out, out.len);
    assert_int_equal(shoal_mss_listener_feed(&l, in, sizeof(in) - 1, &used,
                                             &out), 0);
    assert_int_equal(out.len, sizeof(list) - 1);
    assert_memory_equal(out.data, list, out.len);
    shoal_outbuf_free(&out);

    /* without ls: "na" */
    assert_int_equal(shoal_mss_listener_init(&l, both, 2, 0), 0);
    assert_int_equal(shoal_mss_listener_start(&l, &out), 0);
    shoal_outbuf_consume(&out, out.len);
    assert_int_equal(shoal_mss_listener_feed(&l, in, sizeof(in) - 1, &used,
                                             &out), 0);
    assert_int_equal(out.len, 4);
    assert_memory_equal(out.data, "\x03na\n", 4);
    shoal_outbuf_free(&out);
}

static void test_garbage(void **state)
{
    shoal_mss_listener l;
    shoal_mss_dialer d;
    shoal_outbuf out;
    size_t used, i;
    static const uint8_t wrong_hdr[] = "\x13/multistream/2.0.0\n";
    static const uint8_t http[] = "GET / HTTP/1.1\r\nHost: example.com\r\n"
                                  "User-Agent: curl/8.0\r\nAccept: */*\r\n"
                                  "Connection: close\r\n\r\n";

    (void)state;
    shoal_outbuf_init(&out);
    /* listener: a wrong header, plain garbage */
    assert_int_equal(shoal_mss_listener_init(&l, both, 2, 0), 0);
    assert_int_equal(shoal_mss_listener_start(&l, &out), 0);
    assert_int_equal(shoal_mss_listener_feed(&l, wrong_hdr,
                                             sizeof(wrong_hdr) - 1, &used,
                                             &out), SHOAL_EPROTO);
    assert_int_equal(shoal_mss_listener_feed(&l, wrong_hdr, 1, &used, &out),
                     SHOAL_EBUSY);
    assert_int_equal(shoal_mss_listener_init(&l, both, 2, 0), 0);
    assert_int_equal(shoal_mss_listener_start(&l, &out), 0);
    assert_int_equal(shoal_mss_listener_feed(&l, http, sizeof(http) - 1,
                                             &used, &out), SHOAL_EPROTO);
    /* 'G' announces 71 bytes, which hold newlines */
    assert_int_equal(used, 1 + 71);

    /* listener: too many proposals */
    assert_int_equal(shoal_mss_listener_init(&l, both, 2, 0), 0);
    assert_int_equal(shoal_mss_listener_start(&l, &out), 0);
    assert_int_equal(shoal_mss_listener_feed(&l, (const uint8_t *)HDR,
                                             sizeof(HDR) - 1, &used, &out),
                     0);
    for (i = 0; i < SHOAL_MSS_MAX_ROUNDS; i++)
        assert_int_equal(shoal_mss_listener_feed(&l,
                                                 (const uint8_t *)"\x04/no\n",
                                                 5, &used, &out), 0);
    assert_int_equal(shoal_mss_listener_feed(&l, (const uint8_t *)"\x04/no\n",
                                             5, &used, &out), SHOAL_EPROTO);

    /* dialer: a wrong header, an answer that is neither echo nor na */
    assert_int_equal(shoal_mss_dialer_init(&d, both, 2), 0);
    assert_int_equal(shoal_mss_dialer_start(&d, &out), 0);
    assert_int_equal(shoal_mss_dialer_feed(&d, wrong_hdr,
                                           sizeof(wrong_hdr) - 1, &used,
                                           &out), SHOAL_EPROTO);
    assert_int_equal(shoal_mss_dialer_init(&d, both, 2), 0);
    assert_int_equal(shoal_mss_dialer_start(&d, &out), 0);
    assert_int_equal(shoal_mss_dialer_feed(&d, (const uint8_t *)HDR
                                           "\x0b/tls/1.0.0\n",
                                           sizeof(HDR) - 1 + 12, &used, &out),
                     SHOAL_EPROTO);
    assert_null(shoal_mss_dialer_protocol(&d));

    /* bad protocol lists */
    {
        static const char *const bad1[] = {""};
        static const char *const bad2[] = {"na"};
        static const char *const bad3[] = {"/a\n"};
        assert_int_equal(shoal_mss_dialer_init(&d, bad1, 1), SHOAL_EINVAL);
        assert_int_equal(shoal_mss_dialer_init(&d, bad2, 1), SHOAL_EINVAL);
        assert_int_equal(shoal_mss_dialer_init(&d, bad3, 1), SHOAL_EINVAL);
        assert_int_equal(shoal_mss_dialer_init(&d, both, 0), SHOAL_EINVAL);
        assert_int_equal(shoal_mss_dialer_start(&d, &out), SHOAL_EBUSY);
        assert_int_equal(shoal_mss_listener_init(&l, bad2, 1, 0),
                         SHOAL_EINVAL);
        assert_int_equal(shoal_mss_listener_init(&l, NULL, 1, 0),
                         SHOAL_EINVAL);
    }
    shoal_outbuf_free(&out);
}

/* Every split point of the whole dialer -> listener stream, the listener
 * reading it in two pieces (the header, na, second proposal case). */
static void test_listener_every_split(void **state)
{
    shoal_outbuf in;
    size_t cut;

    (void)state;
    shoal_outbuf_init(&in);
    assert_int_equal(shoal_mss_encode(&in, SHOAL_MSS_HEADER), 0);
    assert_int_equal(shoal_mss_encode(&in, "/noise"), 0);
    assert_int_equal(shoal_mss_encode(&in, "/tls/1.0.0"), 0);
    for (cut = 0; cut <= in.len; cut++) {
        shoal_mss_listener l;
        shoal_outbuf out;
        size_t used = 0, off = 0;
        int rc;

        shoal_outbuf_init(&out);
        assert_int_equal(shoal_mss_listener_init(&l, tls_only, 1, 0), 0);
        assert_int_equal(shoal_mss_listener_start(&l, &out), 0);
        rc = shoal_mss_listener_feed(&l, in.data, cut, &used, &out);
        assert_int_equal(rc, cut == in.len ? SHOAL_MSS_DONE : 0);
        off = used;
        if (rc == 0) {
            rc = shoal_mss_listener_feed(&l, in.data + off, in.len - off,
                                         &used, &out);
            assert_int_equal(rc, SHOAL_MSS_DONE);
            off += used;
        }
        assert_int_equal(off, in.len);
        assert_int_equal(out.len, sizeof(HDR) - 1 + 4 + 12);
        assert_memory_equal(out.data, HDR "\x03na\n" "\x0b/tls/1.0.0\n",
                            out.len);
        shoal_outbuf_free(&out);
    }
    shoal_outbuf_free(&in);
}

static void test_outbuf(void **state)
{
    shoal_outbuf b;
    size_t i;

    (void)state;
    shoal_outbuf_init(&b);
    assert_null(b.data);
    assert_int_equal(shoal_outbuf_append(&b, "", 0), 0);
    assert_null(b.data);
    for (i = 0; i < 1000; i++)
        assert_int_equal(shoal_outbuf_append(&b, "abc", 3), 0);
    assert_int_equal(b.len, 3000);
    shoal_outbuf_consume(&b, 2999);
    assert_int_equal(b.len, 1);
    assert_int_equal(b.data[0], 'c');
    shoal_outbuf_consume(&b, 5);
    assert_int_equal(b.len, 0);
    assert_int_equal(shoal_outbuf_reserve(&b, SIZE_MAX), SHOAL_ENOMEM);
    shoal_outbuf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.cap, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_reader_every_split),
        cmocka_unit_test(test_reader_rejects),
        cmocka_unit_test(test_negotiate_in_memory),
        cmocka_unit_test(test_listener_pipelined),
        cmocka_unit_test(test_dialer_bytes),
        cmocka_unit_test(test_ls),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_listener_every_split),
        cmocka_unit_test(test_outbuf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
