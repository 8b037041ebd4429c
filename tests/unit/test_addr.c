/* Classic addresses (src/core/addr.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/addr.h"
#include "shoal.h"

static void test_parse_good(void **state)
{
    static const struct {
        const char *text, *host;
        uint16_t port;
    } cases[] = {
        {"127.0.0.1:80", "127.0.0.1", 80},
        {"[::1]:9000", "::1", 9000},
        {"/ip4/1.2.3.4/tcp/5", "1.2.3.4", 5},
        {"/ip6/::1/tcp/5", "::1", 5},
        {"/dns4/example.org/tcp/443", "example.org", 443},
        {"/dns6/example.org/tcp/1", "example.org", 1},
        {"/dns/example.org/tcp/2", "example.org", 2},
        {"localhost:65535", "localhost", 65535},
        {"0.0.0.0:0", "0.0.0.0", 0}, /* port 0: listen anywhere */
        {"[fe80::1]:00080", "fe80::1", 80},
        {"example.org:443", "example.org", 443},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        shoal_addr a;
        memset(&a, 0x55, sizeof(a));
        assert_int_equal(shoal_addr_parse(cases[i].text, &a), 0);
        assert_string_equal(a.host, cases[i].host);
        assert_int_equal(a.port, cases[i].port);
    }
}

static void test_parse_bad(void **state)
{
    static const char *const bad[] = {
        "",
        "host",
        "host:",
        ":80",
        "host:65536",
        "host:99999",
        "host:123456",
        "host:-1",
        "host:+1",
        "host:8 0",
        "host:80 ",
        "host :80",
        " host:80",
        "ho st:80",
        "host:0x50",
        "a:b:c",
        "::1:80",
        "[::1]",
        "[::1]9000",
        "[::1]:",
        "[]:80",
        "[::1:80",
        "/ip4/1.2.3.4/udp/5",
        "/ip4//tcp/5",
        "/ip4/1.2.3.4/tcp/",
        "/ip4/1.2.3.4/tcp/5/",
        "/ip4/1.2.3.4/tcp/70000",
        "/ip4/1.2.3.4",
        "/ip4/1.2.3.4/",
        "/ip5/1.2.3.4/tcp/5",
        "/tcp/5",
        "/",
        "host\t:80",
        "h\x01st:80",
        "h\xc3\xa9st:80",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        shoal_addr a;
        int rc = shoal_addr_parse(bad[i], &a);
        if (rc != SHOAL_EBADADDR)
            fail_msg("parsed \"%s\" (rc=%d)", bad[i], rc);
    }
    {
        shoal_addr a;
        assert_int_equal(shoal_addr_parse(NULL, &a), SHOAL_EBADADDR);
    }
}

static void test_parse_host_length(void **state)
{
    char text[SHOAL_HOST_MAX + 16];
    shoal_addr a;

    (void)state;
    /* SHOAL_HOST_MAX - 1 characters fit ... */
    memset(text, 'h', SHOAL_HOST_MAX - 1);
    strcpy(text + SHOAL_HOST_MAX - 1, ":1");
    assert_int_equal(shoal_addr_parse(text, &a), 0);
    assert_int_equal(strlen(a.host), SHOAL_HOST_MAX - 1);
    assert_int_equal(a.port, 1);
    /* ... SHOAL_HOST_MAX do not */
    memset(text, 'h', SHOAL_HOST_MAX);
    strcpy(text + SHOAL_HOST_MAX, ":1");
    assert_int_equal(shoal_addr_parse(text, &a), SHOAL_EBADADDR);
}

static void test_format(void **state)
{
    char out[64];

    (void)state;
    assert_int_equal(shoal_addr_format("127.0.0.1", 80, out, sizeof(out)), 0);
    assert_string_equal(out, "127.0.0.1:80");
    assert_int_equal(shoal_addr_format("::1", 9000, out, sizeof(out)), 0);
    assert_string_equal(out, "[::1]:9000");
    assert_int_equal(shoal_addr_format("example.org", 0, out, sizeof(out)), 0);
    assert_string_equal(out, "example.org:0");
    assert_int_equal(shoal_addr_format("h", 65535, out, sizeof(out)), 0);
    assert_string_equal(out, "h:65535");

    /* exactly the room needed (text + NUL), then one byte less */
    assert_int_equal(shoal_addr_format("1.2.3.4", 5, out, 10), 0);
    assert_string_equal(out, "1.2.3.4:5");
    assert_int_equal(shoal_addr_format("1.2.3.4", 5, out, 9), SHOAL_EINVAL);
    assert_int_equal(shoal_addr_format("::1", 5, out, 8), 0);
    assert_string_equal(out, "[::1]:5");
    assert_int_equal(shoal_addr_format("::1", 5, out, 7), SHOAL_EINVAL);
    assert_int_equal(shoal_addr_format("::1", 5, out, 1), SHOAL_EINVAL);
}

/* What format writes, parse reads back. */
static void test_round_trip(void **state)
{
    static const struct {
        const char *host;
        uint16_t port;
    } cases[] = {
        {"10.1.2.3", 4000}, {"::1", 1}, {"fe80::2", 65535}, {"node.lan", 0},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[SHOAL_HOST_MAX + 16];
        shoal_addr a;
        assert_int_equal(shoal_addr_format(cases[i].host, cases[i].port, text,
                                           sizeof(text)),
                         0);
        assert_int_equal(shoal_addr_parse(text, &a), 0);
        assert_string_equal(a.host, cases[i].host);
        assert_int_equal(a.port, cases[i].port);
    }
}

#define PID "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"

static void test_parse_named(void **state)
{
    static const char *const bad[] = {
        "/ip4/127.0.0.1/tcp/4001",                 /* no id */
        "/ip4/127.0.0.1/tcp/4001/p2p/",
        "/ip4/127.0.0.1/tcp/4001/p2p/notanid",
        "/ip4/127.0.0.1/tcp/4001/p2p/" PID "/x",   /* anything after */
        "/ip4/127.0.0.1/tcp/0/p2p/" PID,           /* not dialable */
        "/ip4/127.0.0.1/tcp/65536/p2p/" PID,
        "/ip4/127.0.0.1/tcp/40x1/p2p/" PID,
        "/ip4/127.0.0.1/udp/4001/p2p/" PID,
        "/ip4/300.0.0.1/tcp/4001/p2p/" PID,        /* not an address */
        "/dns4/x.test/tcp/4001/p2p/" PID,          /* a name to resolve */
        "/ip4//tcp/4001/p2p/" PID,
        "127.0.0.1:4001",
        "",
    };
    char id[SHOAL_ID_MAX], small[8];
    shoal_addr a;

    (void)state;
    assert_int_equal(shoal_addr_parse_named("/ip4/10.0.0.1/tcp/4001/p2p/" PID,
                                            &a, id, sizeof(id)), 0);
    assert_string_equal(a.host, "10.0.0.1");
    assert_int_equal(a.port, 4001);
    assert_string_equal(id, PID);
    assert_int_equal(shoal_addr_parse_named("/ip6/::1/tcp/9/p2p/" PID, &a, id,
                                            sizeof(id)), 0);
    assert_string_equal(a.host, "::1");
    assert_int_equal(a.port, 9);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (shoal_addr_parse_named(bad[i], &a, id, sizeof(id)) !=
            SHOAL_EBADADDR)
            fail_msg("accepted %s", bad[i]);
    assert_int_equal(shoal_addr_parse_named(NULL, &a, id, sizeof(id)),
                     SHOAL_EBADADDR);
    assert_int_equal(shoal_addr_parse_named("/ip4/10.0.0.1/tcp/1/p2p/" PID,
                                            &a, small, sizeof(small)),
                     SHOAL_EBADADDR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_good),
        cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_parse_host_length),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_parse_named),
    };
    return cmocka_run_group_tests_name("addr", tests, NULL, NULL);
}
