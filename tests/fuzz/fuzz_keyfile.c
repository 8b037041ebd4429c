/* Fuzz target: a key file's contents (the libp2p PrivateKey protobuf), as
 * shoal_identity_load_or_create() reads them. Whatever the input, decoding
 * fails cleanly, or gives a key pair that encodes back to the very same
 * bytes and signs what it verifies. Seeds: tests/fuzz/corpus/keyfile/. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    shoal_identity id;
    uint8_t again[SHOAL_PRIVKEY_PB_LEN], sig[SHOAL_ED25519_SIG];

    if (shoal_identity_decode(data, size, &id) != 0)
        return 0;
    if (shoal_identity_encode(id.sk, again) != size ||
        memcmp(again, data, size) != 0)
        abort(); /* only the canonical encoding is accepted */
    shoal_identity_sign(&id, data, size, sig);
    if (shoal_pubkey_verify(id.pk, data, size, sig) != 0)
        abort();
    return 0;
}
