/* Base conversion by long multiplication: quadratic, which is fine for the
 * short strings (peer ids, about 50 characters) it serves. */
#include "core/base58.h"

#include <string.h>

#include "shoal.h"

static const char ALPHABET[] =
    "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

#define IN_MAX 256
#define TEXT_MAX 512

int shoal_base58_encode(const uint8_t *in, size_t len, char *out, size_t size)
{
    uint8_t digits[IN_MAX * 138 / 100 + 1]; /* log(256)/log(58) ~ 1.37 */
    size_t zeros = 0, ndigits = 0, i, j, n;

    if (len > IN_MAX)
        return SHOAL_EINVAL;
    while (zeros < len && in[zeros] == 0)
        zeros++;
    for (i = zeros; i < len; i++) {
        unsigned carry = in[i];
        for (j = 0; j < ndigits; j++) {
            carry += (unsigned)digits[j] << 8;
            digits[j] = (uint8_t)(carry % 58);
            carry /= 58;
        }
        while (carry > 0) {
            digits[ndigits++] = (uint8_t)(carry % 58);
            carry /= 58;
        }
    }
    n = zeros + ndigits;
    if (n + 1 > size)
        return SHOAL_EINVAL;
    memset(out, '1', zeros);
    for (i = 0; i < ndigits; i++)
        out[zeros + i] = ALPHABET[digits[ndigits - 1 - i]];
    out[n] = '\0';
    return (int)n;
}

static int digit_of(char c)
{
    const char *p = c != '\0' ? strchr(ALPHABET, c) : NULL;

    return p != NULL ? (int)(p - ALPHABET) : -1;
}

int shoal_base58_decode(const char *text, uint8_t *out, size_t size)
{
    uint8_t bytes[TEXT_MAX]; /* little-endian while building */
    size_t len = strlen(text), zeros = 0, nbytes = 0, i, j;

    if (len > TEXT_MAX)
        return SHOAL_EINVAL;
    while (zeros < len && text[zeros] == '1')
        zeros++;
    for (i = zeros; i < len; i++) {
        int d = digit_of(text[i]);
        unsigned carry;
        if (d < 0)
            return SHOAL_EINVAL;
        carry = (unsigned)d;
        for (j = 0; j < nbytes; j++) {
            carry += (unsigned)bytes[j] * 58;
            bytes[j] = (uint8_t)carry;
            carry >>= 8;
        }
        while (carry > 0) {
            bytes[nbytes++] = (uint8_t)carry;
            carry >>= 8;
        }
    }
    if (zeros + nbytes > size)
        return SHOAL_EINVAL;
    memset(out, 0, zeros);
    for (i = 0; i < nbytes; i++)
        out[zeros + i] = bytes[nbytes - 1 - i];
    return (int)(zeros + nbytes);
}
