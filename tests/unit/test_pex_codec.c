/* Peer exchange payloads (src/pex/codec.c): lists of named addresses taken
 * whole or refused whole, with the reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "pex/codec.h"
#include "shoal.h"

#define ID1 "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"
#define ID2 "12D3KooWJbX9ccH5wHwz2sJGEWH4kCYuBoF6BZdZpPw1R9L3PHBy"
#define A1 "/ip4/127.0.0.1/tcp/4001/p2p/" ID1
#define A2 "/ip6/::1/tcp/4002/p2p/" ID2

static pex_entry list[PEX_LIST_MAX];

static int parse(const char *text, size_t max, char *why, size_t whysize)
{
    return pex_list_parse((const uint8_t *)text, strlen(text), list, max, why,
                          whysize);
}

static void test_good(void **state)
{
    char why[96];

    (void)state;
    assert_int_equal(parse("", PEX_LIST_MAX, why, sizeof(why)), 0);
    assert_int_equal(parse(A1, PEX_LIST_MAX, why, sizeof(why)), 1);
    assert_string_equal(list[0].addr, A1);
    assert_string_equal(list[0].id, ID1);
    assert_string_equal(list[0].where.host, "127.0.0.1");
    assert_int_equal(list[0].where.port, 4001);
    assert_int_equal(parse(A1 "\n" A2, PEX_LIST_MAX, why, sizeof(why)), 2);
    assert_string_equal(list[1].id, ID2);
    assert_string_equal(list[1].where.host, "::1");
}

static void expect_refused(const char *text, size_t max, const char *reason)
{
    char why[96];

    if (parse(text, max, why, sizeof(why)) != -1)
        fail_msg("accepted \"%s\"", text);
    if (strstr(why, reason) == NULL)
        fail_msg("\"%s\": reason \"%s\", wanted \"%s\"", text, why, reason);
}

static void test_bad(void **state)
{
    char big[PEX_PAYLOAD_MAX + 64], why[96];
    size_t pos = 0;

    (void)state;
    expect_refused("garbage", PEX_LIST_MAX, "not /ip4|ip6/HOST/tcp/PORT/p2p/ID");
    expect_refused(A1 "\n", PEX_LIST_MAX, "empty line (line 2)");
    expect_refused("\n" A1, PEX_LIST_MAX, "empty line (line 1)");
    expect_refused(A1 "\n" A1, PEX_LIST_MAX, "peer listed twice (line 2)");
    expect_refused(A1 "\n" A2, 1, "too many addresses (line 2)");
    expect_refused("/ip4/127.0.0.1/tcp/4001", PEX_LIST_MAX, "not /ip4");
    expect_refused("/dns4/x.test/tcp/1/p2p/" ID1, PEX_LIST_MAX, "not /ip4");
    expect_refused("/ip4/127.0.0.1/tcp/1/p2p/" ID1 "/p2p-circuit",
                   PEX_LIST_MAX, "not /ip4");
    expect_refused(A1 "\r", PEX_LIST_MAX, "not /ip4");

    /* a NUL inside a line */
    {
        static const uint8_t nul[] = "/ip4/127.0.0.1\0/tcp/1/p2p/" ID1;
        assert_int_equal(pex_list_parse(nul, sizeof(nul) - 1, list,
                                        PEX_LIST_MAX, why, sizeof(why)), -1);
        assert_non_null(strstr(why, "NUL byte"));
    }
    /* a line longer than any address */
    memset(big, 'a', PEX_ADDR_MAX + 10);
    big[PEX_ADDR_MAX + 10] = '\0';
    expect_refused(big, PEX_LIST_MAX, "address too long");
    /* more bytes than a whole list may have */
    while (pos + sizeof(A1) < sizeof(big) - 1) {
        memcpy(big + pos, A1 "\n", sizeof(A1));
        pos += sizeof(A1);
    }
    big[pos - 1] = '\0';
    assert_true(pos > PEX_PAYLOAD_MAX);
    expect_refused(big, PEX_LIST_MAX, "list too long");
}

static void test_max_is_capped(void **state)
{
    char text[PEX_PAYLOAD_MAX];
    char addrs[PEX_LIST_MAX + 1][PEX_ADDR_MAX];
    const char *ptr[PEX_LIST_MAX + 1];
    uint8_t key[32];
    char why[96];
    int n;

    (void)state;
    /* PEX_LIST_MAX + 1 different ids: one too many, even when asked for
     * more */
    for (size_t i = 0; i <= PEX_LIST_MAX; i++) {
        uint8_t mh[38] = {0x00, 0x24, 0x08, 0x01, 0x12, 0x20};
        char id[SHOAL_ID_MAX];
        memset(key, (int)i + 1, sizeof(key));
        memcpy(mh + 6, key, 32);
        assert_true(shoal_peer_id_to_text(mh, sizeof(mh), id, sizeof(id)) >
                    0);
        snprintf(addrs[i], sizeof(addrs[i]), "/ip4/10.0.0.1/tcp/%zu/p2p/%s",
                 i + 1, id);
        ptr[i] = addrs[i];
    }
    n = pex_list_format(text, sizeof(text), ptr, PEX_LIST_MAX);
    assert_true(n > 0);
    assert_int_equal(pex_list_parse((const uint8_t *)text, (size_t)n, list,
                                    PEX_LIST_MAX + 5, why, sizeof(why)),
                     PEX_LIST_MAX);
    for (size_t i = 0; i < PEX_LIST_MAX; i++)
        assert_string_equal(list[i].addr, addrs[i]);
    assert_int_equal(pex_list_format(text, sizeof(text), ptr,
                                     PEX_LIST_MAX + 1), -1); /* too many */
}

static void test_format_refuses(void **state)
{
    const char *bad[] = {A1, "/ip4/127.0.0.1/tcp/1"};
    const char *good[] = {A1, A2};
    char out[1024], small[40];

    (void)state;
    assert_int_equal(pex_list_format(out, sizeof(out), bad, 2), -1);
    assert_int_equal(pex_list_format(small, sizeof(small), good, 1), -1);
    assert_int_equal(pex_list_format(out, sizeof(out), good, 0), 0);
    assert_string_equal(out, "");
    assert_int_equal(pex_list_format(out, sizeof(out), good, 2),
                     (int)strlen(A1 "\n" A2));
    assert_string_equal(out, A1 "\n" A2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_max_is_capped),
        cmocka_unit_test(test_format_refuses),
    };
    return cmocka_run_group_tests_name("pex_codec", tests, NULL, NULL);
}
