/* The public multiaddr and peer id conversions of shoal.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "shoal.h"

#define PEER "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq"

static void test_multiaddr_round_trip(void **state)
{
    static const uint8_t expect[] = {0x04, 0x7f, 0x00, 0x00, 0x01,
                                     0x06, 0x0f, 0xa1};
    uint8_t bin[256];
    char text[256];
    int n;

    (void)state;
    n = shoal_multiaddr_to_bytes("/ip4/127.0.0.1/tcp/4001", bin, sizeof(bin));
    assert_int_equal(n, sizeof(expect));
    assert_memory_equal(bin, expect, sizeof(expect));
    assert_int_equal(shoal_multiaddr_to_text(bin, (size_t)n, text,
                                             sizeof(text)),
                     (int)strlen("/ip4/127.0.0.1/tcp/4001"));
    assert_string_equal(text, "/ip4/127.0.0.1/tcp/4001");
    n = shoal_multiaddr_to_bytes("/ip6/::1/tcp/1/p2p/" PEER, bin, sizeof(bin));
    assert_true(n > 0);
    assert_true(shoal_multiaddr_to_text(bin, (size_t)n, text, sizeof(text)) >
                0);
    assert_string_equal(text, "/ip6/::1/tcp/1/p2p/" PEER);
    /* bad input, small buffers */
    assert_int_equal(shoal_multiaddr_to_bytes("/ip4/1.2.3/tcp/1", bin, 256),
                     SHOAL_EBADADDR);
    assert_int_equal(shoal_multiaddr_to_bytes("/ip4/1.2.3.4/tcp/1", bin, 3),
                     SHOAL_EINVAL);
    assert_int_equal(shoal_multiaddr_to_text((const uint8_t *)"\xff\xff", 2,
                                             text, sizeof(text)),
                     SHOAL_EBADADDR);
    assert_int_equal(shoal_multiaddr_to_text(expect, sizeof(expect), text, 5),
                     SHOAL_EINVAL);
}

static void test_peer_id_round_trip(void **state)
{
    uint8_t bin[64];
    char text[128];
    int n;

    (void)state;
    n = shoal_peer_id_to_bytes(PEER, bin, sizeof(bin));
    assert_int_equal(n, 38); /* identity multihash of a 36-byte key */
    assert_int_equal(bin[0], 0x00);
    assert_int_equal(bin[1], 36);
    assert_int_equal(shoal_peer_id_to_text(bin, (size_t)n, text,
                                           sizeof(text)),
                     (int)strlen(PEER));
    assert_string_equal(text, PEER);
    assert_int_equal(shoal_peer_id_to_bytes("not a peer id", bin, 64),
                     SHOAL_EBADADDR);
    assert_int_equal(shoal_peer_id_to_bytes(PEER, bin, 10), SHOAL_EINVAL);
    assert_int_equal(shoal_peer_id_to_text((const uint8_t *)"\x00\x05" "ab", 4,
                                           text, sizeof(text)),
                     SHOAL_EBADADDR);
    assert_int_equal(shoal_peer_id_to_text(bin, (size_t)n, text, 10),
                     SHOAL_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multiaddr_round_trip),
        cmocka_unit_test(test_peer_id_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
