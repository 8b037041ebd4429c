/* Peer exchange payloads (src/pex/codec.h). */
#include "pex/codec.h"

#include <stdio.h>
#include <string.h>

static int refuse(char *why, size_t whysize, const char *reason, size_t line)
{
    snprintf(why, whysize, "%s (line %zu)", reason, line + 1);
    return -1;
}

int pex_list_parse(const uint8_t *p, size_t len, pex_entry *out, size_t max,
                   char *why, size_t whysize)
{
    size_t pos = 0, n = 0;

    why[0] = '\0';
    if (max > PEX_LIST_MAX)
        max = PEX_LIST_MAX;
    if (len == 0)
        return 0;
    if (len > PEX_PAYLOAD_MAX) {
        snprintf(why, whysize, "list too long (%zu bytes)", len);
        return -1;
    }
    while (pos <= len) {
        const uint8_t *nl = memchr(p + pos, '\n', len - pos);
        size_t end = nl != NULL ? (size_t)(nl - p) : len, k;
        pex_entry *e = &out[n];

        if (n == max)
            return refuse(why, whysize, "too many addresses", n);
        if (end == pos)
            return refuse(why, whysize, "empty line", n);
        if (end - pos >= sizeof(e->addr))
            return refuse(why, whysize, "address too long", n);
        if (memchr(p + pos, '\0', end - pos) != NULL)
            return refuse(why, whysize, "NUL byte", n);
        memcpy(e->addr, p + pos, end - pos);
        e->addr[end - pos] = '\0';
        if (shoal_addr_parse_named(e->addr, &e->where, e->id,
                                   sizeof(e->id)) < 0)
            return refuse(why, whysize, "not /ip4|ip6/HOST/tcp/PORT/p2p/ID",
                          n);
        for (k = 0; k < n; k++)
            if (strcmp(out[k].id, e->id) == 0)
                return refuse(why, whysize, "peer listed twice", n);
        n++;
        pos = end + 1;
    }
    return (int)n;
}

int pex_list_format(char *out, size_t size, const char *const *addrs,
                    size_t n)
{
    size_t pos = 0;

    if (size == 0 || n > PEX_LIST_MAX)
        return -1;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        char id[SHOAL_ID_MAX];
        shoal_addr where;
        size_t len = strlen(addrs[i]);
        if (len >= PEX_ADDR_MAX ||
            shoal_addr_parse_named(addrs[i], &where, id, sizeof(id)) < 0 ||
            pos + (i > 0) + len >= size)
            return -1;
        if (i > 0)
            out[pos++] = '\n';
        memcpy(out + pos, addrs[i], len);
        pos += len;
        out[pos] = '\0';
    }
    return (int)pos;
}
