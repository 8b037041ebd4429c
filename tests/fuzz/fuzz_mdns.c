/* libFuzzer target: the mDNS reader (src/mdns/codec.h), fed whatever a
 * LAN may multicast. Checks: 0 or SHOAL_EPROTO; the peers and addresses
 * stay within their bounds, each peer has an address and an id; and each
 * peer read, written again as our response, reads back the same.
 * Seeds: tests/fuzz/corpus/mdns/ (make_corpus_mdns.py). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdns/codec.h"
#include "shoal.h"

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "fuzz_mdns: check failed: %s\n", #cond);      \
            abort();                                                       \
        }                                                                  \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static mdns_msg m, back;
    uint8_t out[MDNS_PACKET_MAX];
    int rc = mdns_parse(data, size, MDNS_SERVICE, &m);

    CHECK(rc == 0 || rc == SHOAL_EPROTO);
    if (rc < 0)
        return 0;
    CHECK(m.npeers <= MDNS_PEERS_MAX);
    for (size_t i = 0; i < m.npeers; i++) {
        const mdns_peer *p = &m.peers[i];
        const char *addrs[MDNS_ADDRS_MAX];
        char label[64];
        const char *dot = strchr(p->name, '.');
        size_t llen = dot ? (size_t)(dot - p->name) : strlen(p->name);
        int n;

        CHECK(p->naddrs >= 1 && p->naddrs <= MDNS_ADDRS_MAX);
        CHECK(memchr(p->id, '\0', sizeof(p->id)) != NULL && p->id[0]);
        for (size_t k = 0; k < p->naddrs; k++) {
            CHECK(memchr(p->addrs[k], '\0', MDNS_ADDR_MAX) != NULL);
            addrs[k] = p->addrs[k];
        }
        if (llen == 0 || llen >= sizeof(label))
            continue;
        memcpy(label, p->name, llen);
        label[llen] = '\0';
        n = mdns_response_encode(out, sizeof(out), MDNS_SERVICE, label, addrs,
                                 p->naddrs, 120);
        if (n < 0)
            continue; /* e.g. a label we would not write ourselves */
        CHECK(mdns_parse(out, (size_t)n, MDNS_SERVICE, &back) == 0);
        CHECK(back.npeers == 1 && back.peers[0].naddrs == p->naddrs);
        CHECK(strcmp(back.peers[0].id, p->id) == 0);
        for (size_t k = 0; k < p->naddrs; k++)
            CHECK(strcmp(back.peers[0].addrs[k], p->addrs[k]) == 0);
    }
    return 0;
}
