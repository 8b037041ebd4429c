/* ChaCha20-Poly1305 (src/crypto/aead.c): RFC 8439's AEAD vector, agreement
 * with libsodium's implementation (an independent one) on every length
 * that matters, in-place use, rekeying, and everything that must fail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "crypto/aead.h"
#include "shoal.h"

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

/* RFC 8439, section 2.8.2. */
static void test_rfc8439_vector(void **state)
{
    static const char pt[] =
        "Ladies and Gentlemen of the class of '99: If I could offer you "
        "only one tip for the future, sunscreen would be it.";
    uint8_t key[32], nonce[12], ad[12], want_head[16], want_tag[16];
    uint8_t out[sizeof(pt) - 1 + 16], back[sizeof(pt) - 1];
    size_t len = sizeof(pt) - 1;
    shoal_aead *a;

    (void)state;
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)(0x80 + i);
    unhex("070000004041424344454647", nonce, sizeof(nonce));
    unhex("50515253c0c1c2c3c4c5c6c7", ad, sizeof(ad));
    unhex("d31a8d34648e60db7b86afbc53ef7ec2", want_head, sizeof(want_head));
    unhex("1ae10b594f09e26a7e902ecbd0600691", want_tag, sizeof(want_tag));
    assert_int_equal(shoal_aead_new(&a, key), 0);
    assert_int_equal(shoal_aead_seal(a, nonce, ad, sizeof(ad),
                                     (const uint8_t *)pt, len, out),
                     0);
    assert_memory_equal(out, want_head, 16);
    assert_memory_equal(out + len, want_tag, 16);
    assert_int_equal(shoal_aead_open(a, nonce, ad, sizeof(ad), out,
                                     sizeof(out), back),
                     0);
    assert_memory_equal(back, pt, len);
    shoal_aead_free(a);
}

/* Every length near the block sizes and Noise's limit, with and without
 * associated data: the same bytes as libsodium's, and back again. */
static void test_agrees_with_libsodium(void **state)
{
    static const size_t lens[] = {0,  1,   15,  16,   17,    63,    64,
                                  65, 255, 256, 4095, 65519, 65535, 200000};
    static uint8_t pt[200000], ours[200016], theirs[200016], back[200000];
    uint8_t key[32], nonce[12], ad[32];
    shoal_aead *a;

    (void)state;
    randombytes_buf(key, sizeof(key));
    randombytes_buf(pt, sizeof(pt));
    randombytes_buf(ad, sizeof(ad));
    assert_int_equal(shoal_aead_new(&a, key), 0);
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        for (size_t adlen = 0; adlen <= 32; adlen += 32) {
            unsigned long long clen;
            size_t len = lens[i];
            randombytes_buf(nonce, sizeof(nonce));
            assert_int_equal(
                shoal_aead_seal(a, nonce, adlen ? ad : NULL, adlen, pt, len,
                                ours),
                0);
            crypto_aead_chacha20poly1305_ietf_encrypt(
                theirs, &clen, pt, len, adlen ? ad : NULL, adlen, NULL,
                nonce, key);
            assert_int_equal(clen, len + 16);
            assert_memory_equal(ours, theirs, len + 16);
            assert_int_equal(shoal_aead_open(a, nonce, adlen ? ad : NULL,
                                             adlen, theirs, len + 16, back),
                             0);
            if (len)
                assert_memory_equal(back, pt, len);
        }
    }
    shoal_aead_free(a);
}

static void test_in_place(void **state)
{
    uint8_t key[32], nonce[12] = {0}, buf[1000 + 16], copy[1000];
    shoal_aead *a;

    (void)state;
    randombytes_buf(key, sizeof(key));
    randombytes_buf(buf, 1000);
    memcpy(copy, buf, 1000);
    assert_int_equal(shoal_aead_new(&a, key), 0);
    assert_int_equal(shoal_aead_seal(a, nonce, NULL, 0, buf, 1000, buf), 0);
    assert_memory_not_equal(buf, copy, 1000);
    assert_int_equal(shoal_aead_open(a, nonce, NULL, 0, buf, sizeof(buf),
                                     buf),
                     0);
    assert_memory_equal(buf, copy, 1000);
    shoal_aead_free(a);
}

/* A flipped bit anywhere, the wrong nonce, the wrong associated data, the
 * wrong key, a short input: refused, and nothing of the plaintext left in
 * the output. */
static void test_refusals(void **state)
{
    uint8_t key[32], other[32], nonce[12] = {0}, nonce2[12] = {1};
    uint8_t pt[100], ct[116], out[100], ad[4] = {1, 2, 3, 4};
    shoal_aead *a;

    (void)state;
    randombytes_buf(key, sizeof(key));
    randombytes_buf(other, sizeof(other));
    memset(pt, 'p', sizeof(pt));
    assert_int_equal(shoal_aead_new(&a, key), 0);
    assert_int_equal(shoal_aead_seal(a, nonce, ad, 4, pt, 100, ct), 0);
    for (size_t i = 0; i < sizeof(ct); i++) {
        ct[i] ^= 0x01;
        memset(out, 0xee, sizeof(out));
        assert_int_equal(shoal_aead_open(a, nonce, ad, 4, ct, sizeof(ct),
                                         out),
                         SHOAL_EPROTO);
        assert_null(memchr(out, 'p', sizeof(out)));
        ct[i] ^= 0x01;
    }
    assert_int_equal(shoal_aead_open(a, nonce2, ad, 4, ct, sizeof(ct), out),
                     SHOAL_EPROTO);
    assert_int_equal(shoal_aead_open(a, nonce, ad, 3, ct, sizeof(ct), out),
                     SHOAL_EPROTO);
    assert_int_equal(shoal_aead_open(a, nonce, NULL, 0, ct, sizeof(ct), out),
                     SHOAL_EPROTO);
    assert_int_equal(shoal_aead_open(a, nonce, ad, 4, ct, 15, out),
                     SHOAL_EPROTO);
    /* after all that, the right input still opens */
    assert_int_equal(shoal_aead_open(a, nonce, ad, 4, ct, sizeof(ct), out),
                     0);
    assert_memory_equal(out, pt, sizeof(pt));
    /* another key: refused; back to the first: opens */
    assert_int_equal(shoal_aead_rekey(a, other), 0);
    assert_int_equal(shoal_aead_open(a, nonce, ad, 4, ct, sizeof(ct), out),
                     SHOAL_EPROTO);
    assert_int_equal(shoal_aead_rekey(a, key), 0);
    assert_int_equal(shoal_aead_open(a, nonce, ad, 4, ct, sizeof(ct), out),
                     0);
    shoal_aead_free(a);
    shoal_aead_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc8439_vector),
        cmocka_unit_test(test_agrees_with_libsodium),
        cmocka_unit_test(test_in_place),
        cmocka_unit_test(test_refusals),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
