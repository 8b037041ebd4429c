/* libFuzzer target: peer exchange payloads (src/pex/codec.h), network-free.
 *
 * Each input is read as a PEXA list (at most PEX_LIST_MAX) and as a PEXQ
 * list (at most PEX_OWN_MAX). Checks: a refused list gives a reason; an
 * accepted one has one entry per '\n'-separated line, within the bound,
 * each entry's address is its line as given, a named address whose host,
 * port and id read back the same, no id twice; written again with
 * pex_list_format it is the input byte for byte.
 * Seeds: tests/fuzz/corpus/pex/. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pex/codec.h"

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "fuzz_pex: %s:%d: check failed: %s\n",         \
                    __FILE__, __LINE__, #cond);                            \
            abort();                                                       \
        }                                                                  \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_list(const uint8_t *data, size_t size, size_t max)
{
    static pex_entry list[PEX_LIST_MAX];
    static char text[PEX_PAYLOAD_MAX + 1];
    const char *addrs[PEX_LIST_MAX];
    size_t lines = size > 0;
    char why[96];
    int n;

    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    n = pex_list_parse(data, size, list, max, why, sizeof(why));
    if (n < 0) {
        CHECK(why[0] != '\0');
        return;
    }
    CHECK((size_t)n == lines && (size_t)n <= max);
    for (int i = 0; i < n; i++) {
        shoal_addr where;
        char id[SHOAL_ID_MAX];
        CHECK(shoal_addr_parse_named(list[i].addr, &where, id,
                                     sizeof(id)) == 0);
        CHECK(strcmp(where.host, list[i].where.host) == 0);
        CHECK(where.port == list[i].where.port && where.port != 0);
        CHECK(strcmp(id, list[i].id) == 0);
        for (int k = 0; k < i; k++)
            CHECK(strcmp(list[k].id, list[i].id) != 0);
        addrs[i] = list[i].addr;
    }
    CHECK(pex_list_format(text, sizeof(text), addrs, (size_t)n) ==
          (int)size);
    CHECK(memcmp(text, data, size) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_list(data, size, PEX_LIST_MAX);
    check_list(data, size, PEX_OWN_MAX);
    return 0;
}
