/* Base conversion by long multiplication, in wide limbs: base 58^5 for the
 * digits and 2^32 for the bytes, four bytes or five digits taken per step.
 * Still quadratic, but with about twenty times fewer steps than a digit at
 * a time: a tracker formats and parses a peer id per peer it lists. */
#include "core/base58.h"

#include <string.h>

#include "shoal.h"

static const char ALPHABET[] =
    "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/* Each byte's digit value, -1 outside the alphabet. */
static const int8_t VALUE[256] = {
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1,  0,  1,  2,  3,  4,  5,  6,  7,  8, -1, -1, -1, -1, -1, -1,
    -1,  9, 10, 11, 12, 13, 14, 15, 16, -1, 17, 18, 19, 20, 21, -1,
    22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, -1, -1, -1, -1, -1,
    -1, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, -1, 44, 45, 46,
    47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

#define IN_MAX 256
#define TEXT_MAX 512
#define B58_5 656356768u        /* 58^5, the largest power below 2^32 */

/* limbs[0 .. *n) (little-endian, base) = limbs * mul + add. */
static void mul_add(uint32_t *limbs, size_t *n, uint64_t base, uint64_t mul,
                    uint64_t add)
{
    uint64_t carry = add;

    for (size_t j = 0; j < *n; j++) {
        carry += (uint64_t)limbs[j] * mul;
        limbs[j] = (uint32_t)(carry % base);
        carry /= base;
    }
    while (carry > 0) {
        limbs[(*n)++] = (uint32_t)(carry % base);
        carry /= base;
    }
}

int shoal_base58_encode(const uint8_t *in, size_t len, char *out, size_t size)
{
    uint32_t limbs[IN_MAX * 138 / 100 / 5 + 2]; /* log(256)/log(58) ~ 1.37 */
    size_t zeros = 0, nlimbs = 0, i, n, top;
    char *w;

    if (len > IN_MAX)
        return SHOAL_EINVAL;
    while (zeros < len && in[zeros] == 0)
        zeros++;
    /* the first step takes what is left over after whole 4-byte groups */
    for (i = zeros; i < len;) {
        size_t k = i == zeros && (len - i) % 4 ? (len - i) % 4 : 4;
        uint64_t v = 0;
        for (size_t b = 0; b < k; b++)
            v = v << 8 | in[i + b];
        mul_add(limbs, &nlimbs, B58_5, (uint64_t)1 << (8 * k), v);
        i += k;
    }
    /* the top limb has as many digits as it needs, the others five each */
    top = 0;
    if (nlimbs > 0)
        for (uint32_t v = limbs[nlimbs - 1]; v > 0; v /= 58)
            top++;
    n = zeros + (nlimbs > 0 ? top + 5 * (nlimbs - 1) : 0);
    if (n + 1 > size)
        return SHOAL_EINVAL;
    memset(out, '1', zeros);
    w = out + n;
    *w = '\0';
    for (i = 0; i < nlimbs; i++) {
        uint32_t v = limbs[i];
        size_t digits = i + 1 < nlimbs ? 5 : top;
        for (size_t d = 0; d < digits; d++) {
            *--w = ALPHABET[v % 58];
            v /= 58;
        }
    }
    return (int)n;
}

int shoal_base58_decode(const char *text, uint8_t *out, size_t size)
{
    uint32_t limbs[TEXT_MAX * 733 / 1000 / 4 + 2]; /* log(58)/log(256) */
    size_t len = strlen(text), zeros = 0, nlimbs = 0, i, nbytes, top;

    if (len > TEXT_MAX)
        return SHOAL_EINVAL;
    while (zeros < len && text[zeros] == '1')
        zeros++;
    for (i = zeros; i < len;) {
        size_t k = i == zeros && (len - i) % 5 ? (len - i) % 5 : 5;
        uint64_t v = 0, mul = 1;
        for (size_t d = 0; d < k; d++) {
            int x = VALUE[(uint8_t)text[i + d]];
            if (x < 0)
                return SHOAL_EINVAL;
            v = v * 58 + (uint64_t)x;
            mul *= 58;
        }
        mul_add(limbs, &nlimbs, (uint64_t)1 << 32, mul, v);
        i += k;
    }
    top = 0;
    if (nlimbs > 0)
        for (uint32_t v = limbs[nlimbs - 1]; v > 0; v >>= 8)
            top++;
    nbytes = nlimbs > 0 ? top + 4 * (nlimbs - 1) : 0;
    if (zeros + nbytes > size)
        return SHOAL_EINVAL;
    memset(out, 0, zeros);
    for (i = 0; i < nlimbs; i++) {
        uint32_t v = limbs[i];
        size_t bytes = i + 1 < nlimbs ? 4 : top;
        for (size_t b = 0; b < bytes; b++) {
            out[zeros + nbytes - 1 - (4 * i + b)] = (uint8_t)v;
            v >>= 8;
        }
    }
    return (int)(zeros + nbytes);
}
