/* The mDNS codec (src/mdns/codec.c): what we write reads back, and what a
 * network may send (cut short, looping names, other services, bad TXT
 * records) is refused or skipped, never trusted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mdns/codec.h"
#include "shoal.h"

#define ID "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq"
#define ID2 "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"

static const char *const addrs[] = {
    "/ip4/10.77.0.1/tcp/4001/p2p/" ID,
    "/ip6/fe80::1/tcp/4001/p2p/" ID,
};

static void test_query_round_trip(void **state)
{
    uint8_t buf[512];
    mdns_msg m;
    int n;

    (void)state;
    n = mdns_query_encode(buf, sizeof(buf), MDNS_SERVICE);
    assert_true(n > 12);
    assert_int_equal(mdns_parse(buf, (size_t)n, MDNS_SERVICE, &m), 0);
    assert_int_equal(m.response, 0);
    assert_int_equal(m.asks_service, 1);
    assert_int_equal(m.npeers, 0);
    /* another service's query is not ours */
    n = mdns_query_encode(buf, sizeof(buf), "_other._udp.local");
    assert_true(n > 12);
    assert_int_equal(mdns_parse(buf, (size_t)n, MDNS_SERVICE, &m), 0);
    assert_int_equal(m.asks_service, 0);
    assert_int_equal(mdns_query_encode(buf, 8, MDNS_SERVICE), SHOAL_EMSGSIZE);
}

static void test_response_round_trip(void **state)
{
    uint8_t buf[MDNS_SEND_MAX];
    mdns_msg m;
    int n;

    (void)state;
    n = mdns_response_encode(buf, sizeof(buf), MDNS_SERVICE, "abcdef", addrs,
                             2, 120);
    assert_true(n > 12);
    assert_int_equal(mdns_parse(buf, (size_t)n, MDNS_SERVICE, &m), 0);
    assert_int_equal(m.response, 1);
    assert_int_equal(m.npeers, 1);
    assert_string_equal(m.peers[0].id, ID);
    assert_int_equal(m.peers[0].naddrs, 2);
    assert_string_equal(m.peers[0].addrs[0], addrs[0]);
    assert_string_equal(m.peers[0].addrs[1], addrs[1]);
    /* read for another service, it announces nobody */
    assert_int_equal(mdns_parse(buf, (size_t)n, "_other._udp.local", &m), 0);
    assert_int_equal(m.npeers, 0);
}

/* Every prefix of a good response is refused or read without a peer that
 * has no address; none is read past its end (ASan would say). */
static void test_truncated(void **state)
{
    uint8_t buf[MDNS_SEND_MAX];
    mdns_msg m;
    int n = mdns_response_encode(buf, sizeof(buf), MDNS_SERVICE, "abcdef",
                                 addrs, 2, 120);

    (void)state;
    assert_true(n > 12);
    for (int len = 0; len < n; len++) {
        int rc = mdns_parse(buf, (size_t)len, MDNS_SERVICE, &m);
        assert_true(rc == 0 || rc == SHOAL_EPROTO);
        if (rc == 0)
            for (size_t i = 0; i < m.npeers; i++)
                assert_true(m.peers[i].naddrs >= 1);
    }
}

/* A question whose name is a compression pointer to itself, or forwards. */
static void test_pointer_loops(void **state)
{
    uint8_t self[] = {0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0,
                      0xc0, 12, 0, 12, 0, 1};
    uint8_t fwd[] = {0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0,
                     0xc0, 14, 0, 12, 0, 1, 0};
    mdns_msg m;

    (void)state;
    assert_int_equal(mdns_parse(self, sizeof(self), MDNS_SERVICE, &m),
                     SHOAL_EPROTO);
    assert_int_equal(mdns_parse(fwd, sizeof(fwd), MDNS_SERVICE, &m),
                     SHOAL_EPROTO);
}

/* What we would not announce is refused when writing: names that are not
 * one label, addresses without /p2p/, with another peer's id, too long. */
static void test_encode_refuses(void **state)
{
    uint8_t buf[MDNS_SEND_MAX];
    char longaddr[400];
    const char *no_p2p[] = {"/ip4/10.0.0.1/tcp/1"};
    const char *mixed[] = {addrs[0], "/ip4/10.0.0.2/tcp/1/p2p/" ID2};
    const char *lng[] = {longaddr};

    (void)state;
    memset(longaddr, 'a', sizeof(longaddr) - 1);
    longaddr[sizeof(longaddr) - 1] = '\0';
    assert_true(mdns_response_encode(buf, sizeof(buf), MDNS_SERVICE, "a.b",
                                     addrs, 1, 120) < 0);
    assert_true(mdns_response_encode(buf, sizeof(buf), MDNS_SERVICE, "",
                                     addrs, 1, 120) < 0);
    assert_true(mdns_response_encode(buf, sizeof(buf), MDNS_SERVICE, "x",
                                     lng, 1, 120) < 0);
    assert_true(mdns_response_encode(buf, 40, MDNS_SERVICE, "x", addrs, 2,
                                     120) < 0);
    /* a response carrying bad records reads without them */
    {
        mdns_msg m;
        int n = mdns_response_encode(buf, sizeof(buf), MDNS_SERVICE, "x",
                                     no_p2p, 1, 120);
        if (n > 0) {
            assert_int_equal(mdns_parse(buf, (size_t)n, MDNS_SERVICE, &m), 0);
            assert_int_equal(m.npeers, 0);
        }
        n = mdns_response_encode(buf, sizeof(buf), MDNS_SERVICE, "x", mixed,
                                 2, 120);
        if (n > 0) {
            assert_int_equal(mdns_parse(buf, (size_t)n, MDNS_SERVICE, &m), 0);
            assert_true(m.npeers <= 1);
            if (m.npeers == 1)
                assert_int_equal(m.peers[0].naddrs, 1);
        }
    }
}

static void test_addr_host_port(void **state)
{
    char host[64];
    uint16_t port = 0;

    (void)state;
    assert_int_equal(mdns_addr_host_port(addrs[0], host, sizeof(host), &port),
                     0);
    assert_string_equal(host, "10.77.0.1");
    assert_int_equal(port, 4001);
    assert_int_equal(mdns_addr_host_port("/dns4/x/tcp/1", host, sizeof(host),
                                         &port),
                     SHOAL_EBADADDR);
    assert_int_equal(mdns_addr_host_port("/ip4/10.0.0.1/udp/1", host,
                                         sizeof(host), &port),
                     SHOAL_EBADADDR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_round_trip),
        cmocka_unit_test(test_response_round_trip),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_pointer_loops),
        cmocka_unit_test(test_encode_refuses),
        cmocka_unit_test(test_addr_host_port),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
