/* base58btc (src/core/base58.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/base58.h"
#include "shoal.h"

/* Published vectors (Bitcoin's base58_encode_decode.json and the base58
 * draft), hex on the left. */
static const struct {
    const char *hex, *text;
} VECTORS[] = {
    {"", ""},
    {"61", "2g"},
    {"626262", "a3gV"},
    {"636363", "aPEr"},
    {"73696d706c792061206c6f6e6720737472696e67",
     "2cFupjhnEsSn59qHXstmK2ffpLv2"},
    {"00eb15231dfceb60925886b67d065299925915aeb172c06647",
     "1NS17iag9jJgTHD1VXjvLCEnZuQ3rJDE9L"},
    {"516b6fcd0f", "ABnLTmg"},
    {"bf4f89001e670274dd", "3SEo3LWLoPntC"},
    {"572e4794", "3EFU7m"},
    {"ecac89cad93923c02321", "EJDM8drfXA6uyA"},
    {"10c8511e", "Rt5zm"},
    {"00", "1"},
    {"0000", "11"},
    {"00000000000000000000", "1111111111"},
    {"000000287fb4cd", "111233QC4"},
    {"000111d38e5fc9071ffcd20b4a763cc9ae4f252bb4e48fd66a835e252ada93ff480d"
     "6dd43dc62a641155a5",
     "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"},
    /* a peer id: identity multihash of an Ed25519 PublicKey */
    {"0024080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d4"
     "74fce27e",
     "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq"},
};
#define NVECTORS (sizeof(VECTORS) / sizeof(VECTORS[0]))

static size_t unhex(const char *hex, uint8_t *out)
{
    size_t n = strlen(hex) / 2, i;

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
        uint8_t bin[128], back[128];
        char text[256];
        size_t n;
        n = unhex(VECTORS[i].hex, bin);
        assert_int_equal(shoal_base58_encode(bin, n, text, sizeof(text)),
                         (int)strlen(VECTORS[i].text));
        assert_string_equal(text, VECTORS[i].text);
        assert_int_equal(shoal_base58_decode(VECTORS[i].text, back,
                                             sizeof(back)),
                         (int)n);
        assert_memory_equal(back, bin, n);
    }
}

static void test_leading_zeros(void **state)
{
    uint8_t bin[16] = {0}, back[16];
    char text[64];
    size_t zeros;

    (void)state;
    /* k zero bytes then 0x01: k '1's then "2" */
    for (zeros = 0; zeros < 10; zeros++) {
        size_t i;
        memset(bin, 0, sizeof(bin));
        bin[zeros] = 1;
        assert_int_equal(shoal_base58_encode(bin, zeros + 1, text,
                                             sizeof(text)),
                         (int)zeros + 1);
        for (i = 0; i < zeros; i++)
            assert_int_equal(text[i], '1');
        assert_int_equal(text[zeros], '2');
        assert_int_equal(shoal_base58_decode(text, back, sizeof(back)),
                         (int)zeros + 1);
        assert_memory_equal(back, bin, zeros + 1);
    }
}

static void test_round_trip_random(void **state)
{
    unsigned seed = 12345;
    int round;

    (void)state;
    for (round = 0; round < 500; round++) {
        uint8_t bin[256], back[256];
        char text[400];
        size_t len = (size_t)(round % 257), i;
        int n;
        for (i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            bin[i] = (uint8_t)(seed >> 16);
        }
        for (i = 0; i < len && i < (size_t)(round % 4); i++)
            bin[i] = 0; /* some leading zeros */
        n = shoal_base58_encode(bin, len, text, sizeof(text));
        assert_true(n >= 0);
        assert_int_equal(strlen(text), (size_t)n);
        assert_int_equal(shoal_base58_decode(text, back, sizeof(back)),
                         (int)len);
        assert_memory_equal(back, bin, len);
    }
}

static void test_bad_chars(void **state)
{
    static const char *const bad[] = {
        "0", "O", "I", "l", "+", "/", " ", "2g ", " 2g", "2 g", "2g\n",
        "abc-", "12D3KooW0", "\xc3\xa9", "\x80", "\xff",
    };
    uint8_t out[64];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(shoal_base58_decode(bad[i], out, sizeof(out)),
                         SHOAL_EINVAL);
}

static void test_limits(void **state)
{
    uint8_t bin[300], out[400];
    char text[600];
    char *big;

    (void)state;
    memset(bin, 0xff, sizeof(bin));
    /* input over 256 bytes */
    assert_int_equal(shoal_base58_encode(bin, 257, text, sizeof(text)),
                     SHOAL_EINVAL);
    assert_true(shoal_base58_encode(bin, 256, text, sizeof(text)) > 0);
    /* text at 512 characters is read, 513 is refused */
    big = malloc(514);
    assert_non_null(big);
    memset(big, 'z', 513);
    big[512] = '\0';
    assert_true(shoal_base58_decode(big, out, sizeof(out)) > 0);
    big[512] = 'z';
    big[513] = '\0';
    assert_int_equal(shoal_base58_decode(big, out, sizeof(out)), SHOAL_EINVAL);
    /* all '1's: as many zero bytes */
    memset(big, '1', 512);
    big[512] = '\0';
    assert_int_equal(shoal_base58_decode(big, (uint8_t *)text, sizeof(text)),
                     512);
    assert_int_equal(text[0], 0);
    assert_int_equal(text[511], 0);
    assert_int_equal(shoal_base58_decode(big, out, sizeof(out)), SHOAL_EINVAL);
    free(big);
}

static void test_small_output(void **state)
{
    static const uint8_t bin[] = {0x00, 0x00, 0x28, 0x7f, 0xb4, 0xcd};
    uint8_t out[8];
    char text[16];

    (void)state;
    /* "111233QC4" minus one leading zero: "11233QC4", 8 characters */
    assert_int_equal(shoal_base58_encode(bin, sizeof(bin), text, 8),
                     SHOAL_EINVAL); /* no room for the NUL */
    assert_int_equal(shoal_base58_encode(bin, sizeof(bin), text, 9), 8);
    assert_string_equal(text, "11233QC4");
    assert_int_equal(shoal_base58_encode(bin, 0, text, 0), SHOAL_EINVAL);
    assert_int_equal(shoal_base58_encode(bin, 0, text, 1), 0);
    assert_string_equal(text, "");

    assert_int_equal(shoal_base58_decode("11233QC4", out, 5), SHOAL_EINVAL);
    assert_int_equal(shoal_base58_decode("11233QC4", out, 6), 6);
    assert_memory_equal(out, bin, 6);
    assert_int_equal(shoal_base58_decode("111", out, 2), SHOAL_EINVAL);
    assert_int_equal(shoal_base58_decode("", out, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_leading_zeros),
        cmocka_unit_test(test_round_trip_random),
        cmocka_unit_test(test_bad_chars),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_small_output),
    };
    return cmocka_run_group_tests_name("base58", tests, NULL, NULL);
}
