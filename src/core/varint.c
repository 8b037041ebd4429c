#include "core/varint.h"

#include "shoal.h"

size_t shoal_varint_encode(uint64_t v, uint8_t out[SHOAL_VARINT_MAX])
{
    size_t n = 0;

    while (v >= 0x80 && n < SHOAL_VARINT_MAX - 1) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

int shoal_varint_decode(const uint8_t *in, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    size_t i;

    for (i = 0; i < len && i < SHOAL_VARINT_MAX; i++) {
        v |= (uint64_t)(in[i] & 0x7f) << (7 * i);
        if ((in[i] & 0x80) == 0) {
            if (in[i] == 0 && i > 0)
                return SHOAL_EPROTO; /* a trailing zero group: not minimal */
            *out = v;
            return (int)(i + 1);
        }
    }
    return i == SHOAL_VARINT_MAX ? SHOAL_EPROTO : 0;
}

size_t shoal_varint_size(uint64_t v)
{
    size_t n = 1;

    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}
