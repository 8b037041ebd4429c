/* Fuzz target: the Identify message decoder (/ipfs/id/1.0.0), as a shoal
 * node runs it on what a remote sends: a varint length, a protobuf with
 * binary multiaddrs, strings and a public key. Whatever the input, the
 * decoder returns an error or a result whose every string is readable.
 * Seeds: tests/fuzz/corpus/identify/ (made by make_corpus_identify.py). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    shoal_identify_decoded d;
    size_t i, total = 0;

    if (shoal_identify_decode(data, size, NULL, &d) != 0)
        return 0;
    /* every string is there and terminated */
    total += strlen(d.info.protocol_version);
    total += strlen(d.info.agent_version);
    total += strlen(d.info.observed_addr);
    for (i = 0; i < d.info.naddrs; i++)
        total += strlen(d.info.listen_addrs[i]);
    for (i = 0; i < d.info.nprotocols; i++)
        total += strlen(d.info.protocols[i]);
    if (total > size * 8 + 1024) /* text can't outgrow its bytes by much */
        abort();
    shoal_identify_decoded_free(&d);
    return 0;
}
