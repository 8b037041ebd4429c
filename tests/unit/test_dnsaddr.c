/* The resolver's network-free half (src/dns/dnsaddr.h): TXT records to
 * multiaddrs, the /p2p filter, nested /dnsaddr with its depth limit and
 * loop cut, the caps on records, addresses and queries, /dns4 names to
 * /ip4, and garbage of every kind (in records and in whole answers),
 * against DNS answers built here and served by a fake query function. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dns/dnsaddr.h"
#include "shoal.h"

/* ------------------------------------------------- DNS answers, by hand */

typedef struct answer {
    const char *name;     /* the name queried */
    int type;
    uint8_t msg[8192];
    size_t len;
    int status;           /* returned instead when negative */
} answer;

typedef struct zone {
    answer a[16];
    size_t n;
    size_t asked;
} zone;

static void put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* A response header and question for name/type; records follow. */
static answer *zone_answer(zone *z, const char *name, int type)
{
    answer *a = &z->a[z->n++];
    const char *p = name, *dot;
    size_t n = 12;

    memset(a, 0, sizeof(*a));
    a->name = name;
    a->type = type;
    put16(a->msg, 0x1234);
    put16(a->msg + 2, 0x8180); /* response, RD, RA, NOERROR */
    put16(a->msg + 4, 1);
    while (*p != '\0') {
        dot = strchr(p, '.');
        size_t l = dot != NULL ? (size_t)(dot - p) : strlen(p);
        a->msg[n++] = (uint8_t)l;
        memcpy(a->msg + n, p, l);
        n += l;
        p += l + (dot != NULL);
    }
    a->msg[n++] = 0;
    put16(a->msg + n, (unsigned)type);
    put16(a->msg + n + 2, 1);
    a->len = n + 4;
    return a;
}

/* One record, its owner a pointer to the question's name. */
static void answer_rr(answer *a, int type, const uint8_t *rdata, size_t len)
{
    uint8_t *p = a->msg + a->len;

    assert_true(a->len + 12 + len <= sizeof(a->msg));
    put16(p, 0xc00c);
    put16(p + 2, (unsigned)type);
    put16(p + 4, 1);
    memset(p + 6, 0, 4);
    p[9] = 60;
    put16(p + 10, (unsigned)len);
    memcpy(p + 12, rdata, len);
    a->len += 12 + len;
    put16(a->msg + 6, (unsigned)(((a->msg[6] << 8) | a->msg[7]) + 1));
}

/* A TXT record of text, cut into strings of at most 255 bytes. */
static void answer_txt_n(answer *a, const char *text, size_t len)
{
    uint8_t rdata[4096];
    size_t n = 0, i = 0, l;

    do {
        l = len - i > 255 ? 255 : len - i;
        rdata[n++] = (uint8_t)l;
        memcpy(rdata + n, text + i, l);
        n += l;
        i += l;
    } while (i < len);
    answer_rr(a, DNSADDR_T_TXT, rdata, n);
}

static void answer_txt(answer *a, const char *text)
{
    answer_txt_n(a, text, strlen(text));
}

static int zone_query(void *ctx, const char *name, int type,
                      uint8_t *out, size_t size)
{
    zone *z = ctx;
    size_t i;

    z->asked++;
    for (i = 0; i < z->n; i++)
        if (strcmp(z->a[i].name, name) == 0 && z->a[i].type == type) {
            if (z->a[i].status < 0)
                return z->a[i].status;
            assert_true(z->a[i].len <= size);
            memcpy(out, z->a[i].msg, z->a[i].len);
            return (int)z->a[i].len;
        }
    return 0; /* NXDOMAIN */
}

/* ------------------------------------------------------------ peer ids */

static char ids[4][64];

static int setup_ids(void **state)
{
    uint8_t id[38] = {0x00, 0x24, 0x08, 0x01, 0x12, 0x20};
    int i;

    (void)state;
    for (i = 0; i < 4; i++) {
        memset(id + 6, 0x30 + i, 32);
        assert_true(shoal_peer_id_to_text(id, sizeof(id), ids[i],
                                          sizeof(ids[i])) > 0);
    }
    return 0;
}

static int has_addr(const dnsaddr_result *r, const char *addr)
{
    size_t i;

    for (i = 0; i < r->naddrs; i++)
        if (strcmp(r->addrs[i], addr) == 0)
            return 1;
    return 0;
}

/* --------------------------------------------------------------- tests */

static void test_txt_join(void **state)
{
    static const uint8_t two[] = {3, 'a', 'b', 'c', 2, 'd', 'e'};
    static const uint8_t overrun[] = {3, 'a', 'b', 'c', 5, 'd'};
    static const uint8_t empty[] = {0};
    uint8_t out[16];

    (void)state;
    assert_int_equal(dnsaddr_txt_join(two, sizeof(two), out, sizeof(out)), 5);
    assert_memory_equal(out, "abcde", 5);
    assert_int_equal(dnsaddr_txt_join(overrun, sizeof(overrun), out,
                                      sizeof(out)), -DNSADDR_BAD_TXT);
    assert_int_equal(dnsaddr_txt_join(two, sizeof(two), out, 4),
                     -DNSADDR_TOO_LONG);
    assert_int_equal(dnsaddr_txt_join(empty, sizeof(empty), out, 1), 0);
    assert_int_equal(dnsaddr_txt_join(two, 0, out, 1), 0);
}

static void test_record(void **state)
{
    uint8_t bin[SHOAL_MULTIADDR_MAX], suffix[SHOAL_MULTIADDR_MAX];
    char text[2048], p2p[128];
    int slen;

    (void)state;
#define REC(s, sfx, sl) \
    dnsaddr_record((const uint8_t *)(s), strlen(s), sfx, sl, bin, sizeof(bin))
    assert_true(REC("dnsaddr=/ip4/127.0.0.1/tcp/4001", NULL, 0) > 0);
    assert_int_equal(REC("dnsaddr=", NULL, 0), -DNSADDR_BAD_MULTIADDR);
    assert_int_equal(REC("dnsaddr=/ip4/1.2.3/tcp/1", NULL, 0),
                     -DNSADDR_BAD_MULTIADDR);
    assert_int_equal(REC("dnsaddr=ip4/1.2.3.4", NULL, 0),
                     -DNSADDR_BAD_MULTIADDR);
    assert_int_equal(REC("dnsaddr= /ip4/1.2.3.4", NULL, 0),
                     -DNSADDR_BAD_MULTIADDR);
    assert_int_equal(REC("DNSADDR=/ip4/1.2.3.4", NULL, 0),
                     -DNSADDR_NOT_DNSADDR);
    assert_int_equal(REC("v=spf1 -all", NULL, 0), -DNSADDR_NOT_DNSADDR);
    assert_int_equal(REC("", NULL, 0), -DNSADDR_NOT_DNSADDR);
    /* a NUL inside the text */
    assert_int_equal(dnsaddr_record((const uint8_t *)"dnsaddr=/ip4/1.2.3.4\0x",
                                    22, NULL, 0, bin, sizeof(bin)),
                     -DNSADDR_BAD_MULTIADDR);
    /* longer than a multiaddr can be */
    memcpy(text, "dnsaddr=/dns4/", 14);
    memset(text + 14, 'a', sizeof(text) - 15);
    text[sizeof(text) - 1] = '\0';
    assert_int_equal(REC(text, NULL, 0), -DNSADDR_TOO_LONG);

    /* the /p2p filter */
    snprintf(p2p, sizeof(p2p), "/p2p/%s", ids[0]);
    slen = shoal_multiaddr_parse(p2p, suffix, sizeof(suffix));
    assert_true(slen > 0);
    snprintf(text, sizeof(text), "dnsaddr=/ip4/10.0.0.1/tcp/1/p2p/%s", ids[0]);
    assert_true(REC(text, suffix, (size_t)slen) > 0);
    snprintf(text, sizeof(text), "dnsaddr=/ip4/10.0.0.1/tcp/1/ipfs/%s",
             ids[0]); /* the old name, the same bytes */
    assert_true(REC(text, suffix, (size_t)slen) > 0);
    snprintf(text, sizeof(text), "dnsaddr=/ip4/10.0.0.1/tcp/1/p2p/%s", ids[1]);
    assert_int_equal(REC(text, suffix, (size_t)slen), -DNSADDR_WRONG_SUFFIX);
    assert_int_equal(REC("dnsaddr=/ip4/10.0.0.1/tcp/1", suffix,
                         (size_t)slen), -DNSADDR_WRONG_SUFFIX);
#undef REC
}

static void test_suffix_boundary(void **state)
{
    uint8_t a[64], s[64];
    int alen, slen;

    (void)state;
    /* /tcp/1 against /ip4/10.0.0.6/tcp/1: the tail bytes of the ip4 and a
     * component boundary both matter */
    alen = shoal_multiaddr_parse("/ip4/10.0.0.6/tcp/1", a, sizeof(a));
    slen = shoal_multiaddr_parse("/tcp/1", s, sizeof(s));
    assert_true(dnsaddr_has_suffix(a, (size_t)alen, s, (size_t)slen));
    /* 04 0a 00 00 06 | 06 00 01: the bytes "06 06 00 01" end the address
     * but start inside the ip4 value, not on a component */
    uint8_t fake[4] = {0x06, 0x06, 0x00, 0x01};
    assert_memory_equal(a + alen - 4, fake, 4);
    assert_false(dnsaddr_has_suffix(a, (size_t)alen, fake, 4));
    assert_true(dnsaddr_has_suffix(a, (size_t)alen, NULL, 0));
    assert_false(dnsaddr_has_suffix(a, 2, a, (size_t)alen));
}

static void test_expand_plain(void **state)
{
    dnsaddr_limits lim;
    dnsaddr_result r;
    zone z;

    (void)state;
    memset(&z, 0, sizeof(z));
    dnsaddr_limits_init(&lim);
    /* no DNS at all: the address itself */
    assert_int_equal(dnsaddr_expand(&lim, zone_query, &z,
                                    "/ip4/1.2.3.4/tcp/5", &r), 0);
    assert_int_equal(r.naddrs, 1);
    assert_string_equal(r.addrs[0], "/ip4/1.2.3.4/tcp/5");
    assert_int_equal(r.queries, 0);
    dnsaddr_result_free(&r);
    /* /dns4 kept unless asked to resolve */
    assert_int_equal(dnsaddr_expand(&lim, zone_query, &z,
                                    "/dns4/x.test/tcp/5", &r), 0);
    assert_string_equal(r.addrs[0], "/dns4/x.test/tcp/5");
    dnsaddr_result_free(&r);
    assert_int_equal(dnsaddr_expand(&lim, zone_query, &z, "nonsense", &r),
                     SHOAL_EBADADDR);
    dnsaddr_result_free(&r);
    assert_int_equal(dnsaddr_wants("/dnsaddr/x", 0), 1);
    assert_int_equal(dnsaddr_wants("/dns4/x/tcp/1", 0), 0);
    assert_int_equal(dnsaddr_wants("/dns4/x/tcp/1", 1), 1);
    assert_int_equal(dnsaddr_wants("/ip4/1.2.3.4/tcp/1", 1), 0);
}

static void test_expand_dnsaddr(void **state)
{
    char buf[4][256], query[256];
    dnsaddr_limits lim;
    dnsaddr_result r;
    answer *a;
    zone z;

    (void)state;
    memset(&z, 0, sizeof(z));
    dnsaddr_limits_init(&lim);
    a = zone_answer(&z, "_dnsaddr.boot.test", DNSADDR_T_TXT);
    snprintf(buf[0], 256, "dnsaddr=/ip4/10.0.0.1/tcp/4001/p2p/%s", ids[0]);
    snprintf(buf[1], 256, "dnsaddr=/ip4/10.0.0.2/tcp/4001/p2p/%s", ids[1]);
    answer_txt(a, buf[0]);
    answer_txt(a, "v=spf1 -all");                      /* not ours */
    answer_txt(a, "dnsaddr=/ip4/300.0.0.1/tcp/1");      /* bad */
    answer_txt(a, buf[1]);
    answer_txt(a, buf[0]);                             /* a repeat */

    assert_int_equal(dnsaddr_expand(&lim, zone_query, &z,
                                    "/dnsaddr/boot.test", &r), 0);
    assert_int_equal(r.naddrs, 2);
    assert_string_equal(r.addrs[0], buf[0] + 8);
    assert_string_equal(r.addrs[1], buf[1] + 8);
    assert_int_equal(r.queries, 1);
    assert_int_equal(r.nskipped, 2);
    assert_int_equal(r.skipped[DNSADDR_NOT_DNSADDR], 1);
    assert_int_equal(r.skipped[DNSADDR_BAD_MULTIADDR], 1);
    assert_int_equal(r.first_skip, DNSADDR_NOT_DNSADDR);
    assert_string_equal(r.first_skip_name, "_dnsaddr.boot.test");
    dnsaddr_result_free(&r);

    /* with a /p2p/ID: only that peer's */
    snprintf(query, sizeof(query), "/dnsaddr/boot.test/p2p/%s", ids[1]);
    assert_int_equal(dnsaddr_expand(&lim, zone_query, &z, query, &r), 0);
    assert_int_equal(r.naddrs, 1);
    assert_string_equal(r.addrs[0], buf[1] + 8);
    assert_int_equal(r.skipped[DNSADDR_WRONG_SUFFIX], 2);
    dnsaddr_result_free(&r);

    /* a peer with no record: nothing */
    snprintf(query, sizeof(query), "/dnsaddr/boot.test/p2p/%s", ids[3]);
    assert_int_equal(dnsaddr_expand(&lim, zone_query, &z, query, &r),
                     SHOAL_ENOENT);
    assert_int_equal(r.naddrs, 0);
    dnsaddr_result_free(&r);

    /* an unknown name */
    assert_int_equal(dnsaddr_expand(&lim, zone_query, &z,
                                    "/dnsaddr/none.test", &r), SHOAL_ENOENT);
    dnsaddr_result_free(&r);
}

static void test_nested_and_loops(void **state)
{
    char rec[256];
    dnsaddr_limits lim;
    dnsaddr_result r;
    answer *a;
    zone z;

    (void)state;
    memset(&z, 0, sizeof(z));
    dnsaddr_limits_init(&lim);
    /* root -> a, b (each with its peer's suffix), and a loop back to root */
    a = zone_answer(&z, "_dnsaddr.root.test", DNSADDR_T_TXT);
    snprintf(rec, sizeof(rec), "dnsaddr=/dnsaddr/a.test/p2p/%s", ids[0]);
    answer_txt(a, rec);
    snprintf(rec, sizeof(rec), "dnsaddr=/dnsaddr/b.test/p2p/%s", ids[1]);
    answer_txt(a, rec);
    answer_txt(a, "dnsaddr=/dnsaddr/ROOT.test");
    a = zone_answer(&z, "_dnsaddr.a.test", DNSADDR_T_TXT);
    snprintf(rec, sizeof(rec), "dnsaddr=/ip4/10.0.0.1/tcp/1/p2p/%s", ids[0]);
    answer_txt(a, rec);
    snprintf(rec, sizeof(rec), "dnsaddr=/ip4/10.0.0.9/tcp/1/p2p/%s", ids[1]);
    answer_txt(a, rec); /* not a.test's peer: filtered */
    a = zone_answer(&z, "_dnsaddr.b.test", DNSADDR_T_TXT);
    snprintf(rec, sizeof(rec), "dnsaddr=/ip6/::1/tcp/2/p2p/%s", ids[1]);
    answer_txt(a, rec);
    answer_txt(a, "dnsaddr=/dnsaddr/a.test"); /* a is not on b's path */

    assert_int_equal(dnsaddr_expand(&lim, zone_query, &z,
                                    "/dnsaddr/root.test", &r), 0);
    assert_int_equal(r.naddrs, 2);
    snprintf(rec, sizeof(rec), "/ip4/10.0.0.1/tcp/1/p2p/%s", ids[0]);
    assert_true(has_addr(&r, rec));
    snprintf(rec, sizeof(rec), "/ip6/::1/tcp/2/p2p/%s", ids[1]);
    assert_true(has_addr(&r, rec));
    assert_int_equal(r.skipped[DNSADDR_LOOP], 1);
    assert_true(r.skipped[DNSADDR_WRONG_SUFFIX] >= 2);
    dnsaddr_result_free(&r);

    /* depth 1: the nested names are not followed */
    lim.max_depth = 1;
    assert_int_equal(dnsaddr_expand(&lim, zone_query, &z,
                                    "/dnsaddr/root.test", &r), SHOAL_ENOENT);
    assert_int_equal(r.skipped[DNSADDR_TOO_DEEP], 3);
    dnsaddr_result_free(&r);

    /* a self loop: one query, then cut */
    memset(&z, 0, sizeof(z));
    dnsaddr_limits_init(&lim);
    a = zone_answer(&z, "_dnsaddr.self.test", DNSADDR_T_TXT);
    answer_txt(a, "dnsaddr=/dnsaddr/self.test");
    assert_int_equal(dnsaddr_expand(&lim, zone_query, &z,
                                    "/dnsaddr/self.test", &r), SHOAL_ENOENT);
    assert_int_equal(r.queries, 1);
    assert_int_equal(r.skipped[DNSADDR_LOOP], 1);
    dnsaddr_result_free(&r);

    /* a chain of new names, deeper than allowed */
    memset(&z, 0, sizeof(z));
    static const char *chain[] = {"_dnsaddr.c0.test", "_dnsaddr.c1.test",
                                  "_dnsaddr.c2.test", "_dnsaddr.c3.test",
                                  "_dnsaddr.c4.test", "_dnsaddr.c5.test"};
    for (int i = 0; i < 6; i++) {
        a = zone_answer(&z, chain[i], DNSADDR_T_TXT);
        snprintf(rec, sizeof(rec), "dnsaddr=/dnsaddr/c%d.test", i + 1);
        answer_txt(a, rec);
        answer_txt(a, "dnsaddr=/ip4/10.1.1.1/tcp/1");
    }
    assert_int_equal(dnsaddr_expand(&lim, zone_query, &z,
                                    "/dnsaddr/c0.test", &r), 0);
    assert_int_equal(r.naddrs, 1); /* the same address at every level */
    assert_int_equal(r.queries, 4);
    assert_int_equal(r.skipped[DNSADDR_TOO_DEEP], 1);
    dnsaddr_result_free(&r);
}

static void test_limits(void **state)
{
    char rec[128];
    dnsaddr_limits lim;
    dnsaddr_result r;
    answer *a;
    zone z;
    int i;

    (void)state;
    memset(&z, 0, sizeof(z));
    dnsaddr_limits_init(&lim);
    a = zone_answer(&z, "_dnsaddr.many.test", DNSADDR_T_TXT);
    for (i = 0; i < 100; i++) {
        snprintf(rec, sizeof(rec), "dnsaddr=/ip4/10.0.%d.%d/tcp/1", i / 10,
                 i % 10);
        answer_txt(a, rec);
    }
    /* records: 32 read, the rest not */
    assert_int_equal(dnsaddr_expand(&lim, zone_query, &z,
                                    "/dnsaddr/many.test", &r), 0);
    assert_int_equal(r.naddrs, 32);
    assert_int_equal(r.skipped[DNSADDR_TOO_MANY_RECORDS], 1);
    dnsaddr_result_free(&r);
    /* addresses */
    lim.max_records = 1000;
    lim.max_addrs = 5;
    assert_int_equal(dnsaddr_expand(&lim, zone_query, &z,
                                    "/dnsaddr/many.test", &r), 0);
    assert_int_equal(r.naddrs, 5);
    assert_int_equal(r.skipped[DNSADDR_TOO_MANY_ADDRS], 1);
    dnsaddr_result_free(&r);

    /* queries: a wide tree of names */
    memset(&z, 0, sizeof(z));
    dnsaddr_limits_init(&lim);
    lim.max_queries = 3;
    a = zone_answer(&z, "_dnsaddr.wide.test", DNSADDR_T_TXT);
    for (i = 0; i < 10; i++) {
        snprintf(rec, sizeof(rec), "dnsaddr=/dnsaddr/w%d.test", i);
        answer_txt(a, rec);
    }
    assert_int_equal(dnsaddr_expand(&lim, zone_query, &z,
                                    "/dnsaddr/wide.test", &r), SHOAL_ENOENT);
    assert_int_equal(r.queries, 3);
    assert_int_equal(z.asked, 3);
    assert_int_equal(r.skipped[DNSADDR_QUERY_BUDGET], 8);
    dnsaddr_result_free(&r);
}

static void test_garbage_answers(void **state)
{
    char rec[1200];
    dnsaddr_limits lim;
    dnsaddr_result r;
    answer *a;
    zone z;
    size_t i;

    (void)state;
    memset(&z, 0, sizeof(z));
    dnsaddr_limits_init(&lim);
    /* not a DNS message at all */
    a = zone_answer(&z, "_dnsaddr.junk.test", DNSADDR_T_TXT);
    for (i = 0; i < 40; i++)
        a->msg[i] = (uint8_t)(i * 37 + 11);
    a->msg[4] = 0x00, a->msg[5] = 0x09; /* 9 questions in 40 bytes */
    a->len = 40;
    assert_int_equal(dnsaddr_expand(&lim, zone_query, &z,
                                    "/dnsaddr/junk.test", &r), SHOAL_ENOENT);
    assert_int_equal(r.skipped[DNSADDR_BAD_ANSWER], 1);
    dnsaddr_result_free(&r);

    /* an answer cut short in its third record, after two good ones */
    a = zone_answer(&z, "_dnsaddr.cut.test", DNSADDR_T_TXT);
    answer_txt(a, "dnsaddr=/ip4/10.0.0.1/tcp/1");
    answer_txt(a, "dnsaddr=/ip4/10.0.0.2/tcp/1");
    answer_txt(a, "dnsaddr=/ip4/10.0.0.3/tcp/1");
    a->len -= 10;
    assert_int_equal(dnsaddr_expand(&lim, zone_query, &z,
                                    "/dnsaddr/cut.test", &r), SHOAL_ENOENT);
    /* ns_initparse checks every record up front: the whole answer goes */
    assert_int_equal(r.skipped[DNSADDR_BAD_ANSWER], 1);
    dnsaddr_result_free(&r);

    /* rdata whose strings overrun it, a long record split in strings,
     * records too long, a record with a NUL; the good one is kept */
    a = zone_answer(&z, "_dnsaddr.mixed.test", DNSADDR_T_TXT);
    static const uint8_t overrun[] = {40, 'd', 'n', 's'};
    answer_rr(a, DNSADDR_T_TXT, overrun, sizeof(overrun));
    memcpy(rec, "dnsaddr=/dns4/", 14);
    memset(rec + 14, 'x', 100);
    snprintf(rec + 114, sizeof(rec) - 114, ".%0140d.test/tcp/7", 0);
    answer_txt(a, rec); /* 268 bytes in two strings: a valid dns4 */
    rec[263] = '\0';
    assert_int_equal(strlen(rec + 8), 255);
    char longname[300];
    snprintf(longname, sizeof(longname), "%s", rec + 8);
    memset(rec + 8, '/', sizeof(rec) - 9);
    rec[sizeof(rec) - 1] = '\0';
    answer_txt(a, rec); /* 1199 bytes of slashes */
    answer_txt_n(a, "dnsaddr=/ip4/1.2.3.4\0/tcp/1", 27);
    answer_txt(a, "dnsaddr=/ip4/10.9.9.9/tcp/9");
    static const uint8_t a_rr[4] = {10, 0, 0, 1};
    answer_rr(a, DNSADDR_T_A, a_rr, 4); /* another type: not read */
    assert_int_equal(dnsaddr_expand(&lim, zone_query, &z,
                                    "/dnsaddr/mixed.test", &r), 0);
    assert_int_equal(r.naddrs, 2);
    assert_string_equal(r.addrs[1], "/ip4/10.9.9.9/tcp/9");
    assert_int_equal(strncmp(r.addrs[0], longname, strlen(longname)), 0);
    assert_int_equal(r.skipped[DNSADDR_BAD_TXT], 1);
    assert_int_equal(r.skipped[DNSADDR_BAD_MULTIADDR], 1);
    assert_int_equal(r.skipped[DNSADDR_TOO_LONG], 1);
    dnsaddr_result_free(&r);

    /* the server does not answer */
    a = zone_answer(&z, "_dnsaddr.down.test", DNSADDR_T_TXT);
    a->status = SHOAL_ETIMEDOUT;
    assert_int_equal(dnsaddr_expand(&lim, zone_query, &z,
                                    "/dnsaddr/down.test", &r),
                     SHOAL_ETIMEDOUT);
    assert_int_equal(r.skipped[DNSADDR_QUERY_FAILED], 1);
    dnsaddr_result_free(&r);
}

static void test_hosts(void **state)
{
    static const uint8_t ip1[4] = {127, 0, 0, 1}, ip2[4] = {127, 0, 0, 2};
    static const uint8_t ip6[16] = {[15] = 1}, bad[3] = {1, 2, 3};
    char addr[256], want[256];
    dnsaddr_limits lim;
    dnsaddr_result r;
    answer *a;
    zone z;

    (void)state;
    memset(&z, 0, sizeof(z));
    dnsaddr_limits_init(&lim);
    lim.resolve_hosts = 1;
    a = zone_answer(&z, "boot.test", DNSADDR_T_A);
    answer_rr(a, DNSADDR_T_A, ip1, 4);
    answer_rr(a, DNSADDR_T_A, bad, 3);
    answer_rr(a, DNSADDR_T_A, ip2, 4);
    a = zone_answer(&z, "boot.test", DNSADDR_T_AAAA);
    answer_rr(a, DNSADDR_T_AAAA, ip6, 16);

    snprintf(addr, sizeof(addr), "/dns4/boot.test/tcp/4001/p2p/%s", ids[2]);
    assert_int_equal(dnsaddr_expand(&lim, zone_query, &z, addr, &r), 0);
    assert_int_equal(r.naddrs, 2);
    snprintf(want, sizeof(want), "/ip4/127.0.0.1/tcp/4001/p2p/%s", ids[2]);
    assert_string_equal(r.addrs[0], want);
    snprintf(want, sizeof(want), "/ip4/127.0.0.2/tcp/4001/p2p/%s", ids[2]);
    assert_string_equal(r.addrs[1], want);
    assert_int_equal(r.skipped[DNSADDR_BAD_ANSWER], 1);
    dnsaddr_result_free(&r);

    assert_int_equal(dnsaddr_expand(&lim, zone_query, &z,
                                    "/dns6/boot.test/tcp/1", &r), 0);
    assert_int_equal(r.naddrs, 1);
    assert_string_equal(r.addrs[0], "/ip6/::1/tcp/1");
    dnsaddr_result_free(&r);
    assert_int_equal(dnsaddr_expand(&lim, zone_query, &z,
                                    "/dns/boot.test/tcp/1", &r), 0);
    assert_int_equal(r.naddrs, 3);
    dnsaddr_result_free(&r);

    /* a dnsaddr record naming a /dns4 host, resolved in turn */
    a = zone_answer(&z, "_dnsaddr.boot.test", DNSADDR_T_TXT);
    answer_txt(a, "dnsaddr=/dns4/boot.test/tcp/9");
    assert_int_equal(dnsaddr_expand(&lim, zone_query, &z,
                                    "/dnsaddr/boot.test", &r), 0);
    assert_int_equal(r.naddrs, 2);
    assert_string_equal(r.addrs[0], "/ip4/127.0.0.1/tcp/9");
    dnsaddr_result_free(&r);

    /* no such host */
    assert_int_equal(dnsaddr_expand(&lim, zone_query, &z,
                                    "/dns4/none.test/tcp/1", &r),
                     SHOAL_ENOENT);
    dnsaddr_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_txt_join),
        cmocka_unit_test(test_record),
        cmocka_unit_test(test_suffix_boundary),
        cmocka_unit_test(test_expand_plain),
        cmocka_unit_test(test_expand_dnsaddr),
        cmocka_unit_test(test_nested_and_loops),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_garbage_answers),
        cmocka_unit_test(test_hosts),
    };
    return cmocka_run_group_tests(tests, setup_ids, NULL);
}
