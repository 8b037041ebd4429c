/* libFuzzer target: peer ids and public keys (src/crypto/identity.c) and
 * base58 (src/core/base58.c).
 *
 * Each input is read as:
 *   - peer id text (up to the first NUL): when it parses, formatting gives
 *     base58 that parses to the same id (and is the input itself when the
 *     input was base58); a key inside must give the same id back;
 *   - base58 text: when it decodes, encoding gives the same text back;
 *   - a PublicKey protobuf: when it decodes, it is the one canonical
 *     36-byte encoding of that key, and its peer id round-trips;
 *   - a binary peer id: formatting and parsing agree with each other;
 *   - key, signature and message for verify, which must not crash. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base58.h"
#include "crypto/identity.h"
#include "shoal.h"

/* Not assert(): release builds define NDEBUG. */
#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "fuzz_peerid: %s:%d: check failed: %s\n",      \
                    __FILE__, __LINE__, #cond);                            \
            abort();                                                       \
        }                                                                  \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What holds for every peer id parse accepts. */
static void check_id(const shoal_peerid *id)
{
    char text[SHOAL_PEERID_TEXT_MAX];
    uint8_t pk[SHOAL_ED25519_PK];
    shoal_peerid again, from_key;
    int n, rc;

    CHECK(id->len >= 2 && id->len <= SHOAL_PEERID_MAX);
    CHECK(id->bytes[0] == 0x00 || id->bytes[0] == 0x12);
    n = shoal_peerid_format(id, text, sizeof(text));
    CHECK(n > 0 && (size_t)n == strlen(text));
    CHECK(shoal_peerid_format(id, text, (size_t)n) == SHOAL_EINVAL);
    CHECK(shoal_peerid_parse(text, &again) == 0);
    CHECK(shoal_peerid_equal(id, &again));
    rc = shoal_peerid_pubkey(id, pk);
    if (rc == 0) {
        shoal_peerid_from_pubkey(pk, &from_key);
        CHECK(shoal_peerid_equal(id, &from_key));
    } else if (rc == SHOAL_ENOENT) {
        CHECK(id->bytes[0] == 0x12 && id->len == 34);
    } else {
        CHECK(rc == SHOAL_EPROTO && id->bytes[0] == 0x00);
    }
}

static void text_side(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1), again[1100];
    uint8_t bin[600];
    shoal_peerid id;
    int n;

    if (s == NULL)
        return;
    memcpy(s, data, size);
    s[size] = '\0';

    n = shoal_peerid_parse(s, &id);
    if (n == 0) {
        check_id(&id);
        if (s[0] != 'b') { /* base58: one text per byte string */
            char text[SHOAL_PEERID_TEXT_MAX];
            CHECK(shoal_peerid_format(&id, text, sizeof(text)) > 0);
            CHECK(strcmp(text, s) == 0);
        }
    } else {
        CHECK(n == SHOAL_EBADADDR);
    }

    n = shoal_base58_decode(s, bin, sizeof(bin));
    if (n >= 0 && n <= 256) {
        CHECK(shoal_base58_encode(bin, (size_t)n, again, sizeof(again)) ==
              (int)strlen(s));
        CHECK(strcmp(again, s) == 0);
    } else if (n < 0) {
        CHECK(n == SHOAL_EINVAL);
    }
    free(s);
}

static void pubkey_side(const uint8_t *data, size_t size)
{
    uint8_t pk[SHOAL_ED25519_PK], pk2[SHOAL_ED25519_PK];
    uint8_t enc[SHOAL_PUBKEY_PB_MAX];
    shoal_peerid id;

    if (shoal_pubkey_decode(data, size, pk) != 0)
        return;
    CHECK(size == 36);
    CHECK(shoal_pubkey_encode(pk, enc) == size);
    CHECK(memcmp(enc, data, size) == 0);
    shoal_peerid_from_pubkey(pk, &id);
    CHECK(id.len == 38 && memcmp(id.bytes + 2, data, size) == 0);
    check_id(&id);
    CHECK(shoal_peerid_pubkey(&id, pk2) == 0);
    CHECK(memcmp(pk, pk2, sizeof(pk)) == 0);
}

static void binary_id_side(const uint8_t *data, size_t size)
{
    char text[SHOAL_PEERID_TEXT_MAX];
    shoal_peerid id, parsed;
    uint8_t pk[SHOAL_ED25519_PK];
    int n, rc;

    if (size == 0 || size > SHOAL_PEERID_MAX)
        return;
    memcpy(id.bytes, data, size);
    id.len = size;
    rc = shoal_peerid_pubkey(&id, pk);
    CHECK(rc == 0 || rc == SHOAL_ENOENT || rc == SHOAL_EPROTO);
    n = shoal_peerid_format(&id, text, sizeof(text));
    CHECK(n > 0); /* 64 bytes of base58 fit in the text cap */
    if (shoal_peerid_parse(text, &parsed) == 0) {
        CHECK(shoal_peerid_equal(&id, &parsed));
        check_id(&parsed);
    } else {
        /* not a peer id: then its key cannot have been read either */
        CHECK(rc == SHOAL_EPROTO);
    }
}

static void verify_side(const uint8_t *data, size_t size)
{
    int rc;

    if (size < SHOAL_ED25519_PK + SHOAL_ED25519_SIG)
        return;
    rc = shoal_pubkey_verify(data, data + SHOAL_ED25519_PK + SHOAL_ED25519_SIG,
                             size - SHOAL_ED25519_PK - SHOAL_ED25519_SIG,
                             data + SHOAL_ED25519_PK);
    CHECK(rc == 0 || rc == SHOAL_EPROTO);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    text_side(data, size);
    pubkey_side(data, size);
    binary_id_side(data, size);
    verify_side(data, size);
    return 0;
}
