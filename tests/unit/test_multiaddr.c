/* Multiaddrs (src/core/multiaddr.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/multiaddr.h"
#include "shoal.h"

#define PEER_A "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq"
#define PEER_A_HEX                                                         \
    "0024080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d4" \
    "74fce27e"
#define PEER_B "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"
#define PEER_B_HEX                                                         \
    "12209dff3b17d74cf4d38a50d8b6383e92d181a10395a5e73a726dcccbd21bf6f0b9"

/* Text in canonical form (format gives it back as is) and its binary. */
static const struct {
    const char *text, *hex;
} VECTORS[] = {
    {"/ip4/127.0.0.1/tcp/4001", "047f000001060fa1"},
    {"/ip6/::1/tcp/4001", "2900000000000000000000000000000001060fa1"},
    {"/ip6/2001:db8::1/udp/4001",
     "2920010db800000000000000000000000191020fa1"},
    {"/ip4/1.2.3.4/udp/53", "040102030491020035"},
    {"/ip4/0.0.0.0/tcp/0", "0400000000060000"},
    {"/ip4/255.255.255.255/tcp/65535", "04ffffffff06ffff"},
    {"/dns4/example.com/tcp/443", "360b6578616d706c652e636f6d0601bb"},
    {"/dns6/example.com/tcp/443", "370b6578616d706c652e636f6d0601bb"},
    {"/dnsaddr/bootstrap.libp2p.io",
     "3813626f6f7473747261702e6c69627032702e696f"},
    {"/dns/example.com", "350b6578616d706c652e636f6d"},
    {"/ip4/127.0.0.1/tcp/4001/p2p/" PEER_A,
     "047f000001060fa1a50326" PEER_A_HEX},
    {"/p2p/" PEER_B, "a50322" PEER_B_HEX},
    {"/ip4/1.2.3.4/tcp/80/ws", "0401020304060050dd03"},
    {"/ip4/1.2.3.4/tcp/443/wss", "04010203040601bbde03"},
    {"/ip4/1.2.3.4/tcp/4001/p2p/" PEER_A "/p2p-circuit/p2p/" PEER_B,
     "0401020304060fa1a50326" PEER_A_HEX "a202a50322" PEER_B_HEX},
    {"/p2p-circuit", "a202"},
    {"/dns4/node-1.example.org/tcp/9000/ws/p2p/" PEER_B,
     "36126e6f64652d312e6578616d706c652e6f7267062328dd03a50322" PEER_B_HEX},
    {"/ip6/::ffff:1.2.3.4/tcp/1",
     "2900000000000000000000ffff01020304060001"},
};
#define NVECTORS (sizeof(VECTORS) / sizeof(VECTORS[0]))

static size_t unhex(const char *hex, uint8_t *out, size_t size)
{
    size_t n = strlen(hex) / 2, i;

    assert_true(n <= size);
    for (i = 0; i < n; i++) {
        unsigned b;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &b), 1);
        out[i] = (uint8_t)b;
    }
    return n;
}

static void test_vectors(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < NVECTORS; i++) {
        uint8_t want[SHOAL_MULTIADDR_MAX], bin[SHOAL_MULTIADDR_MAX];
        char text[SHOAL_MULTIADDR_MAX + 1];
        size_t n = unhex(VECTORS[i].hex, want, sizeof(want));

        assert_int_equal(shoal_multiaddr_parse(VECTORS[i].text, bin,
                                               sizeof(bin)),
                         (int)n);
        assert_memory_equal(bin, want, n);
        assert_int_equal(shoal_multiaddr_format(want, n, text, sizeof(text)),
                         (int)strlen(VECTORS[i].text));
        assert_string_equal(text, VECTORS[i].text);
    }
}

/* Text that is valid but not in the form format writes. */
static void test_other_spellings(void **state)
{
    static const struct {
        const char *text, *canonical;
    } cases[] = {
        {"/ipfs/" PEER_A, "/p2p/" PEER_A},
        {"/ip4/127.0.0.1/tcp/4001/ipfs/" PEER_B,
         "/ip4/127.0.0.1/tcp/4001/p2p/" PEER_B},
        {"/ip6/0:0:0:0:0:0:0:1/tcp/1", "/ip6/::1/tcp/1"},
        {"/ip6/2001:DB8::1/tcp/1", "/ip6/2001:db8::1/tcp/1"},
        {"/ip4/1.2.3.4/tcp/00080", "/ip4/1.2.3.4/tcp/80"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t a[SHOAL_MULTIADDR_MAX], b[SHOAL_MULTIADDR_MAX];
        char text[SHOAL_MULTIADDR_MAX + 1];
        int na = shoal_multiaddr_parse(cases[i].text, a, sizeof(a));
        int nb = shoal_multiaddr_parse(cases[i].canonical, b, sizeof(b));

        assert_true(na > 0);
        assert_int_equal(na, nb);
        assert_memory_equal(a, b, (size_t)na);
        assert_int_equal(shoal_multiaddr_format(a, (size_t)na, text,
                                                sizeof(text)),
                         (int)strlen(cases[i].canonical));
        assert_string_equal(text, cases[i].canonical);
    }
}

static void test_next(void **state)
{
    static const uint64_t codes[] = {SHOAL_MA_IP4, SHOAL_MA_TCP, SHOAL_MA_P2P,
                                     SHOAL_MA_P2P_CIRCUIT, SHOAL_MA_P2P};
    static const size_t vlens[] = {4, 2, 38, 0, 34};
    uint8_t bin[SHOAL_MULTIADDR_MAX];
    const uint8_t *value;
    size_t pos = 0, vlen, i;
    uint64_t code;
    int n;

    (void)state;
    n = shoal_multiaddr_parse("/ip4/1.2.3.4/tcp/4001/p2p/" PEER_A
                              "/p2p-circuit/p2p/" PEER_B,
                              bin, sizeof(bin));
    assert_true(n > 0);
    for (i = 0; i < 5; i++) {
        assert_int_equal(
            shoal_multiaddr_next(bin, (size_t)n, &pos, &code, &value, &vlen),
            1);
        assert_true(code == codes[i]);
        assert_int_equal(vlen, vlens[i]);
    }
    assert_int_equal(
        shoal_multiaddr_next(bin, (size_t)n, &pos, &code, &value, &vlen), 0);
    assert_int_equal(pos, (size_t)n);

    /* the value of tcp, and the peer id's bytes */
    pos = 0;
    assert_int_equal(
        shoal_multiaddr_next(bin, (size_t)n, &pos, &code, &value, &vlen), 1);
    assert_memory_equal(value, "\x01\x02\x03\x04", 4);
    assert_int_equal(
        shoal_multiaddr_next(bin, (size_t)n, &pos, &code, &value, &vlen), 1);
    assert_memory_equal(value, "\x0f\xa1", 2);
    assert_int_equal(
        shoal_multiaddr_next(bin, (size_t)n, &pos, &code, &value, &vlen), 1);
    assert_memory_equal(value, "\x00\x24\x08\x01\x12\x20", 6);

    /* a truncated one: the walk stops with an error, not past the end */
    pos = 0;
    assert_int_equal(shoal_multiaddr_next(bin, 7, &pos, &code, &value, &vlen),
                     1);
    assert_int_equal(shoal_multiaddr_next(bin, 7, &pos, &code, &value, &vlen),
                     SHOAL_EBADADDR);
}

static void test_parse_bad(void **state)
{
    static const char *const bad[] = {
        "",
        "ip4/1.2.3.4",
        "/",
        "//",
        "/ip4",
        "/ip4/",
        "/ip4/1.2.3.4/",
        "//ip4/1.2.3.4",
        "/ip4//1.2.3.4",
        "/ip4/1.2.3.4//tcp/1",
        "/ip4/1.2.3.4/tcp",
        "/ip4/1.2.3.4/tcp/",
        /* unknown protocols, names are case-sensitive */
        "/foo/1",
        "/IP4/1.2.3.4",
        "/ip4/1.2.3.4/foo",
        "/ip4/1.2.3.4/tcp/1/quic",
        "/ip",
        "/p2p-circui",
        "/p2p-circuitx",
        "/wsx",
        /* bad ip text */
        "/ip4/256.1.1.1",
        "/ip4/1.2.3",
        "/ip4/1.2.3.4.5",
        "/ip4/1.2.3.-4",
        "/ip4/ 1.2.3.4",
        "/ip4/1.2.3.4 ",
        "/ip4/::1",
        "/ip4/localhost",
        "/ip6/1.2.3.4",
        "/ip6/:::",
        "/ip6/1::2::3",
        "/ip6/12345::1",
        "/ip6/fe80::1%eth0",
        /* bad ports */
        "/ip4/1.2.3.4/tcp/65536",
        "/ip4/1.2.3.4/tcp/99999",
        "/ip4/1.2.3.4/tcp/123456",
        "/ip4/1.2.3.4/tcp/-1",
        "/ip4/1.2.3.4/tcp/+1",
        "/ip4/1.2.3.4/tcp/0x10",
        "/ip4/1.2.3.4/tcp/ 80",
        "/ip4/1.2.3.4/tcp/80 ",
        "/ip4/1.2.3.4/tcp/80a",
        "/ip4/1.2.3.4/tcp/4294967376", /* 2^32 + 80 */
        "/ip4/1.2.3.4/udp/1e3",
        /* bad dns names */
        "/dns4/",
        "/dns4/a b",
        "/dns4/a\tb",
        "/dns4/caf\xc3\xa9.example",
        "/dns4/a\x7f",
        "/dnsaddr",
        /* bad peer ids */
        "/p2p/",
        "/p2p/0OIl",
        "/p2p/1",               /* one zero byte */
        "/p2p/Cn8eVZg",         /* "hello": not a multihash */
        "/p2p/" PEER_A "x",     /* one byte too many */
        "/p2p/12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3p",
        "/ipfs",
        "/ipfs/",
        ("/ipf/" PEER_A),
        "/ws/80",
        "/p2p-circuit/x",
    };
    uint8_t out[SHOAL_MULTIADDR_MAX];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = shoal_multiaddr_parse(bad[i], out, sizeof(out));
        if (rc != SHOAL_EBADADDR)
            fail_msg("\"%s\" gave %d", bad[i], rc);
    }
    assert_int_equal(shoal_multiaddr_parse(NULL, out, sizeof(out)),
                     SHOAL_EBADADDR);
    /* 00 00 is a whole (empty) multihash: multiaddrs check only the
     * multihash's shape, peer ids (src/crypto) check more */
    assert_int_equal(shoal_multiaddr_parse("/p2p/11", out, sizeof(out)), 5);
}

static void test_caps(void **state)
{
    uint8_t out[SHOAL_MULTIADDR_MAX];
    char text[3 * SHOAL_MULTIADDR_MAX];
    char name[300];
    size_t n = 0;

    (void)state;
    /* text at the cap is read, one more character is not */
    while (n + 3 <= SHOAL_MULTIADDR_MAX) {
        memcpy(text + n, "/ws", 3);
        n += 3;
    }
    text[n] = '\0';
    assert_int_equal(shoal_multiaddr_parse(text, out, sizeof(out)),
                     (int)(n / 3 * 2));
    /* pad to exactly the cap with a dns name, then one more */
    {
        n = 0;
        while (n + 3 + 7 + 3 <= SHOAL_MULTIADDR_MAX) {
            memcpy(text + n, "/ws", 3);
            n += 3;
        }
        memcpy(text + n, "/dns4/", 6);
        n += 6;
        while (n < SHOAL_MULTIADDR_MAX)
            text[n++] = 'a';
        text[n] = '\0';
        assert_int_equal(strlen(text), SHOAL_MULTIADDR_MAX);
        assert_true(shoal_multiaddr_parse(text, out, sizeof(out)) > 0);
        text[n++] = 'a';
        text[n] = '\0';
        assert_int_equal(shoal_multiaddr_parse(text, out, sizeof(out)),
                         SHOAL_EBADADDR);
    }
    /* a very long string is refused without trouble */
    memset(text, 'a', sizeof(text) - 1);
    text[0] = '/';
    text[sizeof(text) - 1] = '\0';
    assert_int_equal(shoal_multiaddr_parse(text, out, sizeof(out)),
                     SHOAL_EBADADDR);

    /* short text, binary over the cap: "/ip6/::" is 17 bytes */
    n = 0;
    while (n + 7 <= SHOAL_MULTIADDR_MAX) {
        memcpy(text + n, "/ip6/::", 7);
        n += 7;
    }
    text[n] = '\0';
    assert_int_equal(shoal_multiaddr_parse(text, out, sizeof(out)),
                     SHOAL_EBADADDR);

    /* dns names: 255 bytes is the most (its length takes 2 bytes) */
    memset(name, 'a', sizeof(name));
    snprintf(text, sizeof(text), "/dns4/%.255s", name);
    assert_int_equal(shoal_multiaddr_parse(text, out, sizeof(out)),
                     1 + 2 + 255);
    snprintf(text, sizeof(text), "/dns4/%.256s", name);
    assert_int_equal(shoal_multiaddr_parse(text, out, sizeof(out)),
                     SHOAL_EBADADDR);
}

static void test_parse_small_output(void **state)
{
    uint8_t out[16];

    (void)state;
    memset(out, 0xee, sizeof(out));
    assert_int_equal(shoal_multiaddr_parse("/ip4/127.0.0.1/tcp/4001", out, 7),
                     SHOAL_EINVAL);
    assert_int_equal(out[0], 0xee); /* nothing written */
    assert_int_equal(shoal_multiaddr_parse("/ip4/127.0.0.1/tcp/4001", out, 8),
                     8);
    assert_int_equal(shoal_multiaddr_parse("/ws", out, 0), SHOAL_EINVAL);
    assert_int_equal(shoal_multiaddr_parse("/ws", NULL, 0), SHOAL_EINVAL);
    /* an invalid address is that, whatever the room */
    assert_int_equal(shoal_multiaddr_parse("/ip4/1.2.3.4/tcp/x", out, 2),
                     SHOAL_EBADADDR);
}

static void test_format_bad(void **state)
{
    static const char *const bad[] = {
        "",                     /* empty */
        "01",                   /* unknown code */
        "02",
        "ff01",
        "80",                   /* truncated code */
        "8080808080808080",
        "80808080808080808001", /* ten-byte code */
        "8400",                 /* 4, not minimal */
        "847f000001",
        "04",                   /* ip4 without a value */
        "047f0000",             /* ip4 short */
        "047f000001060f",       /* tcp short */
        "047f00000106",
        "29000000000000000000000000000000", /* ip6 short */
        "91",                   /* udp code truncated */
        "9102",                 /* udp without a value */
        "36",                   /* dns4 without a length */
        "3605616263",           /* length past the end */
        "3600",                 /* empty name */
        "36810061",             /* length not minimal */
        "36ff",                 /* length truncated */
        "36036162",
        "3603612f62",           /* a '/' inside */
        "3603612062",           /* a space */
        "3603610062",           /* a NUL */
        "360361ff62",           /* not ASCII */
        "a503",                 /* p2p without a length */
        "a50300",               /* empty */
        "a5030100",             /* one byte: no multihash */
        "a503020003",           /* digest length past its end */
        "a50303000000",         /* digest length short of its end */
        "a5032600",             /* length past the end */
        "a20201",               /* something after p2p-circuit */
        "047f000001060fa100",
    };
    char text[SHOAL_MULTIADDR_MAX + 1];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t bin[64];
        size_t n = unhex(bad[i], bin, sizeof(bin));
        int rc = shoal_multiaddr_format(bin, n, text, sizeof(text));
        if (rc != SHOAL_EBADADDR)
            fail_msg("%s gave %d", bad[i], rc);
        assert_string_equal(text, "");
    }
}

static void test_format_caps(void **state)
{
    uint8_t bin[2 * SHOAL_MULTIADDR_MAX];
    char text[8 * SHOAL_MULTIADDR_MAX];
    size_t n = 0;
    int rc;

    (void)state;
    /* binary over the cap */
    while (n + 2 <= sizeof(bin)) {
        memcpy(bin + n, "\xdd\x03", 2); /* /ws */
        n += 2;
    }
    assert_int_equal(shoal_multiaddr_format(bin, SHOAL_MULTIADDR_MAX + 2,
                                            text, sizeof(text)),
                     SHOAL_EBADADDR);
    /* text at the cap: 341 x /ws is 1023 characters, 342 is over */
    assert_int_equal(shoal_multiaddr_format(bin, 341 * 2, text, sizeof(text)),
                     341 * 3);
    assert_int_equal(shoal_multiaddr_format(bin, 342 * 2, text, sizeof(text)),
                     SHOAL_EBADADDR);
    /* binary in the cap, text over it: 204 x /ip4/255.255.255.255 */
    n = 0;
    while (n + 5 <= SHOAL_MULTIADDR_MAX) {
        memcpy(bin + n, "\x04\xff\xff\xff\xff", 5);
        n += 5;
    }
    rc = shoal_multiaddr_format(bin, n, text, sizeof(text));
    assert_int_equal(rc, SHOAL_EBADADDR);
    /* and the most /ip4/255.255.255.255 that fit: 51 x 20 = 1020 */
    rc = shoal_multiaddr_format(bin, 51 * 5, text, sizeof(text));
    assert_int_equal(rc, 1020);
    assert_int_equal(shoal_multiaddr_parse(text, bin + 1024, 1024), 51 * 5);
}

static void test_format_small_output(void **state)
{
    static const uint8_t bin[] = {0x04, 0x7f, 0x00, 0x00, 0x01,
                                  0x06, 0x0f, 0xa1};
    static const char want[] = "/ip4/127.0.0.1/tcp/4001";
    char text[64];
    size_t size;

    (void)state;
    for (size = 1; size <= strlen(want); size++) {
        memset(text, 'x', sizeof(text));
        assert_int_equal(shoal_multiaddr_format(bin, sizeof(bin), text, size),
                         SHOAL_EINVAL);
        assert_int_equal(text[0], '\0');
    }
    assert_int_equal(shoal_multiaddr_format(bin, sizeof(bin), text,
                                            strlen(want) + 1),
                     (int)strlen(want));
    assert_string_equal(text, want);
    assert_int_equal(shoal_multiaddr_format(bin, sizeof(bin), text, 0),
                     SHOAL_EINVAL);
    assert_int_equal(shoal_multiaddr_format(bin, sizeof(bin), NULL, 10),
                     SHOAL_EINVAL);
}

/* Every ip4/tcp binary reads back through text to itself. */
static void test_round_trip_ports(void **state)
{
    unsigned port;

    (void)state;
    for (port = 0; port < 65536; port += 257) {
        uint8_t bin[] = {0x04, 10, 0, (uint8_t)port, (uint8_t)(port >> 3),
                         0x06, (uint8_t)(port >> 8), (uint8_t)port};
        uint8_t back[16];
        char text[64];
        int n = shoal_multiaddr_format(bin, sizeof(bin), text, sizeof(text));
        assert_true(n > 0);
        assert_int_equal(shoal_multiaddr_parse(text, back, sizeof(back)),
                         (int)sizeof(bin));
        assert_memory_equal(back, bin, sizeof(bin));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_other_spellings),
        cmocka_unit_test(test_next),
        cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_parse_small_output),
        cmocka_unit_test(test_format_bad),
        cmocka_unit_test(test_format_caps),
        cmocka_unit_test(test_format_small_output),
        cmocka_unit_test(test_round_trip_ports),
    };
    return cmocka_run_group_tests_name("multiaddr", tests, NULL, NULL);
}
