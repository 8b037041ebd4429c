/* Peer exchange payloads (src/pex/pex.c), network-free.
 *
 *   PEXQ  the asker's own addresses, then asks for peers:
 *         "<addr>\n<addr>..." (at most PEX_OWN_MAX; none: empty)
 *   PEXA  the answer: peers the answerer knows, "<addr>\n<addr>..." (at
 *         most PEX_LIST_MAX; none: empty), one address per peer
 *
 * Every <addr> is a named peer's dialable address,
 * "/ip4|ip6/HOST/tcp/PORT/p2p/ID" (core/addr.h shoal_addr_parse_named).
 * A list is taken whole or refused whole: a bad line, an empty line, a
 * peer twice or too many lines refuse it, with the reason. */
#ifndef SHOAL_PEX_CODEC_H
#define SHOAL_PEX_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "core/addr.h"

#define PEX_ADDR_MAX 320        /* one address's text, with its NUL */
#define PEX_LIST_MAX 32         /* peers in one PEXA */
#define PEX_OWN_MAX 4           /* the asker's addresses in one PEXQ */
#define PEX_PAYLOAD_MAX (PEX_LIST_MAX * PEX_ADDR_MAX)

typedef struct pex_entry {
    char addr[PEX_ADDR_MAX];    /* as it came, NUL-terminated */
    char id[SHOAL_ID_MAX];
    shoal_addr where;           /* its host and port */
} pex_entry;

/* Reads a list of at most max (<= PEX_LIST_MAX) addresses into out.
 * Returns how many, or -1 with the reason in why. */
int pex_list_parse(const uint8_t *p, size_t len, pex_entry *out, size_t max,
                   char *why, size_t whysize);

/* Writes n addresses as a list. Returns its length, or -1 when an address
 * is not a named one, n is over PEX_LIST_MAX or out is too small. */
int pex_list_format(char *out, size_t size, const char *const *addrs,
                    size_t n);

#endif
