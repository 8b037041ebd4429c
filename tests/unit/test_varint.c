/* Unsigned varints (src/core/varint.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/varint.h"
#include "shoal.h"

static const struct {
    uint64_t v;
    size_t len;
    uint8_t bytes[SHOAL_VARINT_MAX];
} VECTORS[] = {
    {0, 1, {0x00}},
    {1, 1, {0x01}},
    {127, 1, {0x7f}},
    {128, 2, {0x80, 0x01}},
    {255, 2, {0xff, 0x01}},
    {300, 2, {0xac, 0x02}},
    {421, 2, {0xa5, 0x03}}, /* multiaddr p2p */
    {16383, 2, {0xff, 0x7f}},
    {16384, 3, {0x80, 0x80, 0x01}},
    {(1ull << 56), 9, {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}},
    {(1ull << 63) - 1, 9,
     {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}},
};
#define NVECTORS (sizeof(VECTORS) / sizeof(VECTORS[0]))

static void test_encode_vectors(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < NVECTORS; i++) {
        uint8_t out[SHOAL_VARINT_MAX];
        memset(out, 0xee, sizeof(out));
        assert_int_equal(shoal_varint_encode(VECTORS[i].v, out),
                         VECTORS[i].len);
        assert_memory_equal(out, VECTORS[i].bytes, VECTORS[i].len);
        assert_int_equal(shoal_varint_size(VECTORS[i].v), VECTORS[i].len);
    }
}

static void test_decode_vectors(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < NVECTORS; i++) {
        uint8_t in[SHOAL_VARINT_MAX + 3];
        uint64_t v = 12345;
        /* with bytes after it, which must not be read as part of it */
        memcpy(in, VECTORS[i].bytes, VECTORS[i].len);
        memset(in + VECTORS[i].len, 0xff, sizeof(in) - VECTORS[i].len);
        assert_int_equal(shoal_varint_decode(in, sizeof(in), &v),
                         (int)VECTORS[i].len);
        assert_true(v == VECTORS[i].v);
        /* and exactly its own bytes */
        v = 12345;
        assert_int_equal(
            shoal_varint_decode(VECTORS[i].bytes, VECTORS[i].len, &v),
            (int)VECTORS[i].len);
        assert_true(v == VECTORS[i].v);
    }
}

static void test_round_trip(void **state)
{
    uint64_t v;
    int shift;

    (void)state;
    /* every power of two and its neighbours, below 2^63 */
    for (shift = 0; shift < 63; shift++) {
        uint64_t base = 1ull << shift, d;
        for (d = 0; d < 3; d++) {
            uint8_t out[SHOAL_VARINT_MAX];
            uint64_t got = 0;
            size_t n;
            v = base - 1 + d;
            if (v >= (1ull << 63))
                continue;
            n = shoal_varint_encode(v, out);
            assert_int_equal(n, shoal_varint_size(v));
            assert_true(n >= 1 && n <= SHOAL_VARINT_MAX);
            assert_int_equal(out[n - 1] & 0x80, 0);
            assert_int_equal(shoal_varint_decode(out, n, &got), (int)n);
            assert_true(got == v);
            /* one byte short is "need more", never a value */
            if (n > 1)
                assert_int_equal(shoal_varint_decode(out, n - 1, &got), 0);
        }
    }
}

static void test_truncated(void **state)
{
    static const uint8_t cont[SHOAL_VARINT_MAX] = {
        0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80};
    uint64_t v = 77;
    size_t len;

    (void)state;
    assert_int_equal(shoal_varint_decode(cont, 0, &v), 0);
    for (len = 1; len < SHOAL_VARINT_MAX; len++)
        assert_int_equal(shoal_varint_decode(cont, len, &v), 0);
    assert_true(v == 77); /* untouched */
}

static void test_non_minimal(void **state)
{
    static const struct {
        size_t len;
        uint8_t bytes[SHOAL_VARINT_MAX];
    } bad[] = {
        {2, {0x80, 0x00}},             /* 0 in two bytes */
        {2, {0x81, 0x00}},             /* 1 in two bytes */
        {3, {0xff, 0x80, 0x00}},       /* 127 in three */
        {3, {0x80, 0x81, 0x00}},
        {9, {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t v = 77;
        assert_int_equal(shoal_varint_decode(bad[i].bytes, bad[i].len, &v),
                         SHOAL_EPROTO);
        assert_true(v == 77);
    }
}

static void test_overlong(void **state)
{
    uint8_t ten[10];
    uint64_t v = 77;

    (void)state;
    /* nine continuation bytes: a tenth byte would be needed, over 63 bits */
    memset(ten, 0x80, sizeof(ten));
    ten[9] = 0x01;
    assert_int_equal(shoal_varint_decode(ten, 10, &v), SHOAL_EPROTO);
    assert_int_equal(shoal_varint_decode(ten, 9, &v), SHOAL_EPROTO);
    memset(ten, 0xff, sizeof(ten));
    ten[9] = 0x01; /* 2^64 - 1 */
    assert_int_equal(shoal_varint_decode(ten, 10, &v), SHOAL_EPROTO);
    ten[8] = 0x81;
    ten[9] = 0x00; /* non-minimal and overlong */
    assert_int_equal(shoal_varint_decode(ten, 10, &v), SHOAL_EPROTO);
    assert_true(v == 77);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_vectors),
        cmocka_unit_test(test_decode_vectors),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_non_minimal),
        cmocka_unit_test(test_overlong),
    };
    return cmocka_run_group_tests_name("varint", tests, NULL, NULL);
}
