/* libFuzzer target: multiaddrs (src/core/multiaddr.c) and the varints
 * under them (src/core/varint.c).
 *
 * Each input is read three ways:
 *   - as a binary multiaddr: when format accepts it, the text must parse
 *     back to exactly the same bytes, and the component walk must cover
 *     the same bytes; a buffer one byte short must give SHOAL_EINVAL;
 *   - as text (up to the first NUL): when parse accepts it, the binary
 *     must format, and that text must parse to the same binary again;
 *   - as a varint: when it decodes, the value must encode to exactly the
 *     bytes read (only minimal encodings are accepted). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/multiaddr.h"
#include "core/varint.h"
#include "shoal.h"

/* Not assert(): release builds define NDEBUG. */
#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "fuzz_multiaddr: %s:%d: check failed: %s\n",   \
                    __FILE__, __LINE__, #cond);                            \
            abort();                                                       \
        }                                                                  \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_walk(const uint8_t *bin, size_t len)
{
    size_t pos = 0, last = 0, vlen;
    const uint8_t *value;
    uint64_t code;
    int rc;

    while ((rc = shoal_multiaddr_next(bin, len, &pos, &code, &value,
                                      &vlen)) == 1) {
        CHECK(pos > last && pos <= len);
        CHECK(value >= bin + last && value + vlen == bin + pos);
        last = pos;
    }
    CHECK(rc == 0 && pos == len);
}

static void binary_side(const uint8_t *data, size_t size)
{
    char text[SHOAL_MULTIADDR_MAX + 1], small[SHOAL_MULTIADDR_MAX + 1];
    uint8_t back[SHOAL_MULTIADDR_MAX];
    int n, m;

    n = shoal_multiaddr_format(data, size, text, sizeof(text));
    if (n < 0) {
        CHECK(n == SHOAL_EBADADDR);
        CHECK(text[0] == '\0');
        return;
    }
    CHECK(n > 0 && (size_t)n == strlen(text) && n <= SHOAL_MULTIADDR_MAX);
    check_walk(data, size);
    m = shoal_multiaddr_parse(text, back, sizeof(back));
    CHECK(m == (int)size);
    CHECK(memcmp(back, data, size) == 0);
    /* the room needed is exactly the text and its NUL */
    CHECK(shoal_multiaddr_format(data, size, small, (size_t)n) ==
          SHOAL_EINVAL);
    CHECK(shoal_multiaddr_format(data, size, small, (size_t)n + 1) == n);
    CHECK(strcmp(small, text) == 0);
    CHECK(shoal_multiaddr_parse(text, back, size - 1) == SHOAL_EINVAL);
}

static void text_side(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    uint8_t bin[SHOAL_MULTIADDR_MAX], bin2[SHOAL_MULTIADDR_MAX];
    char text[SHOAL_MULTIADDR_MAX + 1], text2[SHOAL_MULTIADDR_MAX + 1];
    int n, t, n2;

    if (s == NULL)
        return;
    memcpy(s, data, size);
    s[size] = '\0';
    n = shoal_multiaddr_parse(s, bin, sizeof(bin));
    if (n < 0) {
        CHECK(n == SHOAL_EBADADDR);
        free(s);
        return;
    }
    CHECK(n > 0 && n <= SHOAL_MULTIADDR_MAX);
    CHECK(strlen(s) <= SHOAL_MULTIADDR_MAX);
    t = shoal_multiaddr_format(bin, (size_t)n, text, sizeof(text));
    /* Parse reads spellings format does not write ("/ipfs/", ports with
     * leading zeros, ip6 forms), and format's can be the longer one
     * ("/ip6/::2:3" is written "/ip6/::0.2.0.3"), so text near the cap may
     * format to more than the cap: refused as a whole, never cut. */
    if (t < 0) {
        CHECK(t == SHOAL_EBADADDR);
        free(s);
        return;
    }
    n2 = shoal_multiaddr_parse(text, bin2, sizeof(bin2));
    CHECK(n2 == n && memcmp(bin, bin2, (size_t)n) == 0);
    CHECK(shoal_multiaddr_format(bin2, (size_t)n2, text2, sizeof(text2)) == t);
    CHECK(strcmp(text, text2) == 0);
    free(s);
}

static void varint_side(const uint8_t *data, size_t size)
{
    uint8_t enc[SHOAL_VARINT_MAX];
    uint64_t v = 0;
    int n = shoal_varint_decode(data, size, &v);

    if (n <= 0) {
        CHECK(n == 0 || n == SHOAL_EPROTO);
        if (n == 0) /* more needed: every byte so far continues */
            CHECK(size < SHOAL_VARINT_MAX);
        return;
    }
    CHECK(n <= SHOAL_VARINT_MAX && (size_t)n <= size);
    CHECK(v < (1ull << 63));
    CHECK(shoal_varint_size(v) == (size_t)n);
    CHECK(shoal_varint_encode(v, enc) == (size_t)n);
    CHECK(memcmp(enc, data, (size_t)n) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    binary_side(data, size);
    text_side(data, size);
    varint_side(data, size);
    return 0;
}
