/* Identities, public key encodings, peer ids and key files
 * (src/crypto/identity.c). */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "crypto/identity.h"
#include "shoal.h"

/* libp2p specs, peer-ids/peer-ids.md */
#define VEC_PB                                                             \
    "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce2" \
    "7e"
#define VEC_ID "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq"
/* the same peer id as a CIDv1 (libp2p-key, base32) */
#define VEC_CID "bafzaajaiaejcahwr5d5ofrfbis4l5d6uwr57hu5tjodrypfm6yaq6dsc2r2pzyt6"
/* a SHA-256 peer id and its CIDv1, both from the spec */
#define SHA_ID "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"
#define SHA_CID "bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqxe"
#define SHA_HEX                                                            \
    "12209dff3b17d74cf4d38a50d8b6383e92d181a10395a5e73a726dcccbd21bf6f0b9"

/* RFC 8032, 7.1, test 1 */
#define RFC_SEED                                                           \
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
#define RFC_PK                                                             \
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
#define RFC_SIG                                                            \
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb882" \
    "1590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"

#define Z8 "0000000000000000" /* 8 zero bytes, in hex */

static size_t unhex(const char *hex, uint8_t *out, size_t size)
{
    size_t n = strlen(hex) / 2, i;

    assert_true(n <= size);
    for (i = 0; i < n; i++) {
        unsigned b;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &b), 1);
        out[i] = (uint8_t)b;
    }
    return n;
}

/* ------------------------------------------------------ keys, peer ids */

static void test_vector(void **state)
{
    uint8_t pb[SHOAL_PUBKEY_PB_MAX], enc[SHOAL_PUBKEY_PB_MAX];
    uint8_t pk[SHOAL_ED25519_PK], pk2[SHOAL_ED25519_PK];
    char text[SHOAL_PEERID_TEXT_MAX];
    shoal_peerid id, parsed;
    size_t n = unhex(VEC_PB, pb, sizeof(pb));

    (void)state;
    assert_int_equal(n, 36);
    assert_int_equal(shoal_pubkey_decode(pb, n, pk), 0);
    assert_memory_equal(pk, pb + 4, 32);
    assert_int_equal(shoal_pubkey_encode(pk, enc), 36);
    assert_memory_equal(enc, pb, 36);

    shoal_peerid_from_pubkey(pk, &id);
    assert_int_equal(id.len, 38);
    assert_int_equal(id.bytes[0], 0x00);
    assert_int_equal(id.bytes[1], 36);
    assert_memory_equal(id.bytes + 2, pb, 36);
    assert_int_equal(shoal_peerid_format(&id, text, sizeof(text)),
                     (int)strlen(VEC_ID));
    assert_string_equal(text, VEC_ID);

    assert_int_equal(shoal_peerid_parse(VEC_ID, &parsed), 0);
    assert_true(shoal_peerid_equal(&id, &parsed));
    assert_int_equal(shoal_peerid_parse(VEC_CID, &parsed), 0);
    assert_true(shoal_peerid_equal(&id, &parsed));

    assert_int_equal(shoal_peerid_pubkey(&parsed, pk2), 0);
    assert_memory_equal(pk2, pk, 32);
}

static void test_sha256_peerid(void **state)
{
    uint8_t want[64], pk[SHOAL_ED25519_PK];
    char text[SHOAL_PEERID_TEXT_MAX];
    shoal_peerid a, b;
    size_t n = unhex(SHA_HEX, want, sizeof(want));

    (void)state;
    assert_int_equal(shoal_peerid_parse(SHA_ID, &a), 0);
    assert_int_equal(a.len, n);
    assert_memory_equal(a.bytes, want, n);
    assert_int_equal(shoal_peerid_parse(SHA_CID, &b), 0);
    assert_true(shoal_peerid_equal(&a, &b));
    assert_int_equal(shoal_peerid_format(&b, text, sizeof(text)),
                     (int)strlen(SHA_ID));
    assert_string_equal(text, SHA_ID);
    assert_int_equal(shoal_peerid_pubkey(&a, pk), SHOAL_ENOENT);
}

static void test_generate_sign_verify(void **state)
{
    static const uint8_t msg[] = "noise-libp2p-static-key:";
    uint8_t sig[SHOAL_ED25519_SIG], bad[SHOAL_ED25519_SIG];
    uint8_t m2[sizeof(msg)], pk2[SHOAL_ED25519_PK];
    shoal_identity a, b;
    shoal_peerid ida, idb, parsed;
    char text[SHOAL_PEERID_TEXT_MAX];
    size_t i;

    (void)state;
    assert_int_equal(shoal_identity_generate(&a), 0);
    assert_int_equal(shoal_identity_generate(&b), 0);
    assert_memory_not_equal(a.pk, b.pk, SHOAL_ED25519_PK);
    assert_memory_equal(a.sk + 32, a.pk, 32); /* seed || public key */

    shoal_identity_sign(&a, msg, sizeof(msg), sig);
    assert_int_equal(shoal_pubkey_verify(a.pk, msg, sizeof(msg), sig), 0);
    assert_int_equal(shoal_pubkey_verify(b.pk, msg, sizeof(msg), sig),
                     SHOAL_EPROTO);
    /* any flipped bit, in the signature, the message or the key, fails */
    for (i = 0; i < 8 * SHOAL_ED25519_SIG; i += 7) {
        memcpy(bad, sig, sizeof(bad));
        bad[i / 8] ^= (uint8_t)(1u << (i % 8));
        assert_int_equal(shoal_pubkey_verify(a.pk, msg, sizeof(msg), bad),
                         SHOAL_EPROTO);
    }
    for (i = 0; i < 8 * sizeof(msg); i += 5) {
        memcpy(m2, msg, sizeof(m2));
        m2[i / 8] ^= (uint8_t)(1u << (i % 8));
        assert_int_equal(shoal_pubkey_verify(a.pk, m2, sizeof(m2), sig),
                         SHOAL_EPROTO);
    }
    memcpy(pk2, a.pk, sizeof(pk2));
    pk2[3] ^= 0x10;
    assert_int_equal(shoal_pubkey_verify(pk2, msg, sizeof(msg), sig),
                     SHOAL_EPROTO);
    assert_int_equal(shoal_pubkey_verify(a.pk, msg, sizeof(msg) - 1, sig),
                     SHOAL_EPROTO);

    /* the empty message */
    shoal_identity_sign(&a, NULL, 0, sig);
    assert_int_equal(shoal_pubkey_verify(a.pk, NULL, 0, sig), 0);
    assert_int_equal(shoal_pubkey_verify(a.pk, msg, 0, sig), 0);

    /* peer ids: distinct, and they round-trip through text */
    shoal_peerid_from_pubkey(a.pk, &ida);
    shoal_peerid_from_pubkey(b.pk, &idb);
    assert_false(shoal_peerid_equal(&ida, &idb));
    assert_true(shoal_peerid_format(&ida, text, sizeof(text)) > 0);
    assert_memory_equal(text, "12D3KooW", 8);
    assert_int_equal(shoal_peerid_parse(text, &parsed), 0);
    assert_true(shoal_peerid_equal(&ida, &parsed));
    assert_int_equal(shoal_peerid_pubkey(&parsed, pk2), 0);
    assert_memory_equal(pk2, a.pk, SHOAL_ED25519_PK);
}

static void test_rfc8032(void **state)
{
    uint8_t seed[32], pk[32], want[64], sig[64];
    shoal_identity id;

    (void)state;
    unhex(RFC_SEED, seed, sizeof(seed));
    unhex(RFC_PK, pk, sizeof(pk));
    unhex(RFC_SIG, want, sizeof(want));
    assert_int_equal(sodium_init() < 0, 0);
    crypto_sign_seed_keypair(id.pk, id.sk, seed);
    assert_memory_equal(id.pk, pk, 32);
    shoal_identity_sign(&id, NULL, 0, sig);
    assert_memory_equal(sig, want, 64);
    assert_int_equal(shoal_pubkey_verify(pk, (const uint8_t *)"", 0, want),
                     0);
}

static void test_pubkey_decode_bad(void **state)
{
    static const char *const bad[] = {
        "",
        "08",
        "0801",
        "080112",
        "08011220",
        /* wrong key types */
        "080012201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e",
        "080212201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e",
        "080312201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e",
        "080912201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e",
        /* wrong lengths */
        "0801121f1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce2",
        "080112211ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e00",
        "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce2",
        /* type missing, data missing */
        "12201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e",
        "0801",
        /* trailing bytes, unknown fields, repeated fields */
        "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e00",
        "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27eff",
        "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e1a0100",
        "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e0801",
        "0801080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e",
        "1a0100080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e",
        /* fields out of order */
        "12201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e0801",
        /* non-minimal varints */
        "08810012201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e",
        "080112a0001ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e",
        /* a wire type that is not the field's */
        "0d01000000122000000000000000000000000000000000000000000000000000000000000000",
    };
    uint8_t in[80], pk[SHOAL_ED25519_PK], big[200];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t n = unhex(bad[i], in, sizeof(in));
        int rc;
        memset(pk, 0x5a, sizeof(pk));
        rc = shoal_pubkey_decode(n ? in : NULL, n, pk);
        if (rc != SHOAL_EPROTO)
            fail_msg("case %zu (%s) gave %d", i, bad[i], rc);
        assert_int_equal(pk[0], 0x5a); /* untouched */
    }
    /* oversize input */
    memset(big, 0, sizeof(big));
    unhex(VEC_PB, big, sizeof(big));
    assert_int_equal(shoal_pubkey_decode(big, sizeof(big), pk), SHOAL_EPROTO);
    assert_int_equal(shoal_pubkey_decode(big, SHOAL_PUBKEY_PB_MAX + 1, pk),
                     SHOAL_EPROTO);
    assert_int_equal(shoal_pubkey_decode(big, 36, pk), 0);
}

/* The base58 text of a byte string, for building bad peer ids. */
static void b58(const char *hex, char *out, size_t size)
{
    static const char alphabet[] =
        "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    uint8_t bin[128], digits[256];
    size_t n = unhex(hex, bin, sizeof(bin)), nd = 0, zeros = 0, i, j;

    while (zeros < n && bin[zeros] == 0)
        zeros++;
    for (i = zeros; i < n; i++) {
        unsigned carry = bin[i];
        for (j = 0; j < nd; j++) {
            carry += (unsigned)digits[j] << 8;
            digits[j] = (uint8_t)(carry % 58);
            carry /= 58;
        }
        while (carry) {
            digits[nd++] = (uint8_t)(carry % 58);
            carry /= 58;
        }
    }
    assert_true(zeros + nd < size);
    for (i = 0; i < zeros; i++)
        out[i] = '1';
    for (i = 0; i < nd; i++)
        out[zeros + i] = alphabet[digits[nd - 1 - i]];
    out[zeros + nd] = '\0';
}

/* "b" + lower-case unpadded base32, for building bad CIDs. */
static void b32(const char *hex, char *out, size_t size)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
    uint8_t bin[128];
    size_t n = unhex(hex, bin, sizeof(bin)), i, o = 0;
    unsigned acc = 0, bits = 0;

    out[o++] = 'b';
    for (i = 0; i < n; i++) {
        acc = (acc << 8) | bin[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            out[o++] = alphabet[(acc >> bits) & 31];
        }
    }
    if (bits > 0)
        out[o++] = alphabet[(acc << (5 - bits)) & 31];
    assert_true(o < size);
    out[o] = '\0';
}

static void test_builders(void **state)
{
    char text[256];

    (void)state;
    b58("0024" VEC_PB, text, sizeof(text));
    assert_string_equal(text, VEC_ID);
    b32("01720024" VEC_PB, text, sizeof(text));
    assert_string_equal(text, VEC_CID);
    b32("0172" SHA_HEX, text, sizeof(text));
    assert_string_equal(text, SHA_CID);
}

static void test_peerid_parse_bad(void **state)
{
    /* byte strings that are not peer ids, in either text form */
    static const char *const bad_hex[] = {
        "",
        "00",
        "0000",                     /* identity, empty */
        "0024" VEC_PB "00",         /* length says 36, 37 follow */
        "0025" VEC_PB,              /* length says 37, 36 follow */
        "0023" VEC_PB,
        /* identity over 42 bytes */
        "002b" Z8 Z8 Z8 Z8 Z8 "000000",
        /* SHA-256 with a wrong length */
        "121f9dff3b17d74cf4d38a50d8b6383e92d181a10395a5e73a726dcccbd21bf6f0",
        "12219dff3b17d74cf4d38a50d8b6383e92d181a10395a5e73a726dcccbd21bf6f0b9"
        "00",
        "1220",
        /* other hash functions */
        "13209dff3b17d74cf4d38a50d8b6383e92d181a10395a5e73a726dcccbd21bf6f0b9",
        "16209dff3b17d74cf4d38a50d8b6383e92d181a10395a5e73a726dcccbd21bf6f0b9",
        "b220209dff3b17d74cf4d38a50d8b6383e92d181a10395a5e73a726dcccbd21bf6f0"
        "b9",
        /* non-minimal / overlong varints */
        "800024" VEC_PB,
        "00a400" VEC_PB,
        "928000209dff3b17d74cf4d38a50d8b6383e92d181a10395a5e73a726dcccbd21bf6"
        "f0b9",
        "ffffffffffffffffff01",
    };
    /* CID bodies (before base32) that are not ours */
    static const char *const bad_cid[] = {
        "",
        "01",
        "0172",
        "00720024" VEC_PB,          /* version 0 */
        "02720024" VEC_PB,          /* version 2 */
        "01700024" VEC_PB,          /* dag-pb, not libp2p-key */
        "01550024" VEC_PB,          /* raw */
        "0181000024" VEC_PB,        /* version not minimal */
        "0172" "0025" VEC_PB,
        "0172" "0024" VEC_PB "00",
        "0172" "121f9dff3b17d74cf4d38a50d8b6383e92d181a10395a5e73a726dcccbd2"
        "1bf6f0",
    };
    static const char *const bad_text[] = {
        "",
        "1",
        "Qm",
        "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3p0", /* '0' */
        "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pI", /* 'I' */
        "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pl", /* 'l' */
        "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3p",  /* short */
        "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pqq", /* long */
        " 12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq",
        "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq ",
        "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq\n",
        "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5",
        "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5NN",
        /* CIDs: upper case, padding, wrong alphabet, leftover bits */
        "BAFZBEIE5745RPV2M6TJYUUGYWY4D5EWRQGQQHFNF445HE3OMZPJBX5XQXE",
        "bAFZBEIE5745RPV2M6TJYUUGYWY4D5EWRQGQQHFNF445HE3OMZPJBX5XQXE",
        "bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqxE",
        "bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqxe=",
        "bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqxe======",
        "bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqxf",
        "bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqx",
        "bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqxea",
        "bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqx1",
        "bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqx8",
        "b",
        "zQmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N", /* multibase z */
        "fa0b1",
        ("/p2p/" VEC_ID),
    };
    char text[512];
    shoal_peerid out;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad_hex) / sizeof(bad_hex[0]); i++) {
        b58(bad_hex[i], text, sizeof(text));
        if (shoal_peerid_parse(text, &out) != SHOAL_EBADADDR)
            fail_msg("base58 of %s accepted", bad_hex[i]);
        if (strlen(bad_hex[i]) >= 4) {
            char body[300];
            snprintf(body, sizeof(body), "0172%s", bad_hex[i]);
            b32(body, text, sizeof(text));
            if (shoal_peerid_parse(text, &out) != SHOAL_EBADADDR)
                fail_msg("CID of %s accepted", bad_hex[i]);
        }
    }
    for (i = 0; i < sizeof(bad_cid) / sizeof(bad_cid[0]); i++) {
        b32(bad_cid[i], text, sizeof(text));
        if (shoal_peerid_parse(text, &out) != SHOAL_EBADADDR)
            fail_msg("CID %s (%s) accepted", bad_cid[i], text);
    }
    for (i = 0; i < sizeof(bad_text) / sizeof(bad_text[0]); i++)
        if (shoal_peerid_parse(bad_text[i], &out) != SHOAL_EBADADDR)
            fail_msg("\"%s\" accepted", bad_text[i]);

    /* text over the cap */
    memset(text, 'z', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    assert_int_equal(shoal_peerid_parse(text, &out), SHOAL_EBADADDR);
    text[SHOAL_PEERID_TEXT_MAX + 1] = '\0';
    text[0] = 'b';
    assert_int_equal(shoal_peerid_parse(text, &out), SHOAL_EBADADDR);
    assert_int_equal(shoal_peerid_parse(NULL, &out), SHOAL_EBADADDR);
}

static void test_peerid_edges(void **state)
{
    char text[SHOAL_PEERID_TEXT_MAX];
    shoal_peerid id, other;
    uint8_t pk[SHOAL_ED25519_PK];

    (void)state;
    /* identity of 42 bytes is the most; it need not be an Ed25519 key */
    b58("002a" Z8 Z8 Z8 Z8 Z8 "0000", text, sizeof(text));
    assert_int_equal(shoal_peerid_parse(text, &id), 0);
    assert_int_equal(id.len, 44);
    assert_int_equal(shoal_peerid_pubkey(&id, pk), SHOAL_EPROTO);
    /* a secp256k1 key (type 2, 33 bytes) inlined: a peer id, not ours */
    b58("0025080212210279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2"
        "815b16f81798",
        text, sizeof(text));
    assert_int_equal(shoal_peerid_parse(text, &other), 0);
    assert_int_equal(shoal_peerid_pubkey(&other, pk), SHOAL_EPROTO);
    assert_false(shoal_peerid_equal(&id, &other));

    /* format: too small, exactly enough */
    assert_int_equal(shoal_peerid_parse(VEC_ID, &id), 0);
    assert_int_equal(shoal_peerid_format(&id, text, strlen(VEC_ID)),
                     SHOAL_EINVAL);
    assert_int_equal(shoal_peerid_format(&id, text, strlen(VEC_ID) + 1),
                     (int)strlen(VEC_ID));
    assert_string_equal(text, VEC_ID);
    assert_int_equal(shoal_peerid_format(&id, text, 0), SHOAL_EINVAL);
    other = id;
    other.len = 0;
    assert_int_equal(shoal_peerid_format(&other, text, sizeof(text)),
                     SHOAL_EINVAL);
    assert_int_equal(shoal_peerid_pubkey(&other, pk), SHOAL_EPROTO);
    other.len = SHOAL_PEERID_MAX + 1;
    assert_int_equal(shoal_peerid_format(&other, text, sizeof(text)),
                     SHOAL_EINVAL);
    assert_int_equal(shoal_peerid_pubkey(&other, pk), SHOAL_EPROTO);
    assert_false(shoal_peerid_equal(&id, &other));
    /* equal: same length and bytes */
    other = id;
    assert_true(shoal_peerid_equal(&id, &other));
    other.bytes[20] ^= 1;
    assert_false(shoal_peerid_equal(&id, &other));
    other = id;
    other.len--;
    assert_false(shoal_peerid_equal(&id, &other));
}

/* ------------------------------------------------------------- key files */

typedef struct tmpdir {
    char path[256];
} tmpdir;

static int setup_dir(void **state)
{
    tmpdir *d = malloc(sizeof(*d));

    if (d == NULL)
        return -1;
    snprintf(d->path, sizeof(d->path), "%s/shoal-id-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(d->path) == NULL) {
        free(d);
        return -1;
    }
    *state = d;
    return 0;
}

static int teardown_dir(void **state)
{
    tmpdir *d = *state;
    DIR *dir = opendir(d->path);
    struct dirent *e;
    char p[600];

    if (dir != NULL) {
        while ((e = readdir(dir)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(p, sizeof(p), "%s/%s", d->path, e->d_name);
            if (unlink(p) != 0)
                rmdir(p);
        }
        closedir(dir);
    }
    rmdir(d->path);
    free(d);
    return 0;
}

static void path_in(void **state, const char *name, char *out, size_t size)
{
    tmpdir *d = *state;

    snprintf(out, size, "%s/%s", d->path, name);
}

static void write_file(const char *path, const uint8_t *data, size_t len,
                       mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    assert_true(fd >= 0);
    if (len > 0)
        assert_int_equal(write(fd, data, len), (ssize_t)len);
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
}

static size_t count_entries(void **state)
{
    tmpdir *d = *state;
    DIR *dir = opendir(d->path);
    struct dirent *e;
    size_t n = 0;

    assert_non_null(dir);
    while ((e = readdir(dir)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(dir);
    return n;
}

static void test_keyfile_create_reload(void **state)
{
    char path[600], t1[SHOAL_PEERID_TEXT_MAX], t2[SHOAL_PEERID_TEXT_MAX];
    uint8_t file[200], sig[SHOAL_ED25519_SIG];
    shoal_identity a, b;
    shoal_peerid ida, idb;
    struct stat st;
    int fd;
    ssize_t n;

    path_in(state, "key", path, sizeof(path));
    assert_int_equal(shoal_identity_load_or_create(path, &a), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 68);
    assert_int_equal(count_entries(state), 1); /* no temporary left */

    /* the libp2p PrivateKey protobuf: Ed25519, seed || public key */
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    n = read(fd, file, sizeof(file));
    close(fd);
    assert_int_equal(n, 68);
    assert_memory_equal(file, "\x08\x01\x12\x40", 4);
    assert_memory_equal(file + 4, a.sk, 64);
    assert_memory_equal(file + 4 + 32, a.pk, 32);

    assert_int_equal(shoal_identity_load_or_create(path, &b), 0);
    assert_memory_equal(a.pk, b.pk, sizeof(a.pk));
    assert_memory_equal(a.sk, b.sk, sizeof(a.sk));
    shoal_peerid_from_pubkey(a.pk, &ida);
    shoal_peerid_from_pubkey(b.pk, &idb);
    assert_true(shoal_peerid_equal(&ida, &idb));
    assert_true(shoal_peerid_format(&ida, t1, sizeof(t1)) > 0);
    assert_true(shoal_peerid_format(&idb, t2, sizeof(t2)) > 0);
    assert_string_equal(t1, t2);

    shoal_identity_sign(&b, (const uint8_t *)"hello", 5, sig);
    assert_int_equal(shoal_pubkey_verify(a.pk, (const uint8_t *)"hello", 5,
                                         sig),
                     0);
    /* a second file is another key */
    path_in(state, "key2", path, sizeof(path));
    assert_int_equal(shoal_identity_load_or_create(path, &b), 0);
    assert_memory_not_equal(a.pk, b.pk, sizeof(a.pk));
}

/* Processes racing to create the same key file all end with one key. */
static void test_keyfile_race(void **state)
{
    enum { N = 6 };
    char path[600];
    uint8_t pks[N][SHOAL_ED25519_PK];
    shoal_identity id;
    int fds[N][2], i;
    pid_t pids[N];

    path_in(state, "raced", path, sizeof(path));
    for (i = 0; i < N; i++) {
        assert_int_equal(pipe(fds[i]), 0);
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            int rc = shoal_identity_load_or_create(path, &id);
            if (rc == 0 && write(fds[i][1], id.pk, sizeof(id.pk)) ==
                               (ssize_t)sizeof(id.pk))
                _exit(0);
            _exit(1);
        }
        close(fds[i][1]);
    }
    for (i = 0; i < N; i++) {
        int status;
        assert_int_equal(read(fds[i][0], pks[i], SHOAL_ED25519_PK),
                         SHOAL_ED25519_PK);
        close(fds[i][0]);
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    assert_int_equal(shoal_identity_load_or_create(path, &id), 0);
    for (i = 0; i < N; i++)
        assert_memory_equal(pks[i], id.pk, SHOAL_ED25519_PK);
    assert_int_equal(count_entries(state), 1); /* no temporaries left */
}

/* A key file another libp2p program wrote from a known seed. */
static void test_keyfile_foreign(void **state)
{
    char path[600];
    uint8_t file[68], seed[32], pk[32];
    shoal_identity id;

    path_in(state, "foreign", path, sizeof(path));
    unhex(RFC_SEED, seed, sizeof(seed));
    unhex(RFC_PK, pk, sizeof(pk));
    memcpy(file, "\x08\x01\x12\x40", 4);
    memcpy(file + 4, seed, 32);
    memcpy(file + 36, pk, 32);
    write_file(path, file, sizeof(file), 0600);
    assert_int_equal(shoal_identity_load_or_create(path, &id), 0);
    assert_memory_equal(id.pk, pk, 32);
    assert_memory_equal(id.sk, seed, 32);
    /* read-only for the owner is fine too */
    assert_int_equal(chmod(path, 0400), 0);
    assert_int_equal(shoal_identity_load_or_create(path, &id), 0);
    assert_memory_equal(id.pk, pk, 32);
}

static void test_keyfile_mode(void **state)
{
    static const mode_t modes[] = {0644, 0640, 0604, 0660, 0606, 0610, 0601,
                                   0700 | 0040, 0777};
    char path[600];
    shoal_identity id, good;
    uint8_t file[200];
    size_t i;
    int fd;
    ssize_t n;

    path_in(state, "key", path, sizeof(path));
    assert_int_equal(shoal_identity_load_or_create(path, &good), 0);
    fd = open(path, O_RDONLY);
    n = read(fd, file, sizeof(file));
    close(fd);
    assert_int_equal(n, 68);
    for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        assert_int_equal(chmod(path, modes[i]), 0);
        assert_int_equal(shoal_identity_load_or_create(path, &id), UV_EPERM);
        /* and it is left as it was */
        {
            uint8_t again[200];
            fd = open(path, O_RDONLY);
            assert_int_equal(read(fd, again, sizeof(again)), 68);
            close(fd);
            assert_memory_equal(again, file, 68);
        }
    }
    /* a mode-0644 file of garbage is refused for its mode first */
    path_in(state, "open", path, sizeof(path));
    write_file(path, (const uint8_t *)"junk", 4, 0644);
    assert_int_equal(shoal_identity_load_or_create(path, &id), UV_EPERM);
}

static void test_keyfile_malformed(void **state)
{
    char path[600];
    uint8_t good[68], f[5000], seed[32];
    shoal_identity id, other;
    size_t i;

    unhex(RFC_SEED, seed, sizeof(seed));
    assert_int_equal(sodium_init() < 0, 0);
    crypto_sign_seed_keypair(id.pk, id.sk, seed);
    memcpy(good, "\x08\x01\x12\x40", 4);
    memcpy(good + 4, id.sk, 64);
    assert_int_equal(shoal_identity_generate(&other), 0);

    path_in(state, "bad", path, sizeof(path));
    for (i = 0;; i++) {
        size_t len = sizeof(good);
        memcpy(f, good, sizeof(good));
        switch (i) {
        case 0: len = 0; break;                          /* empty */
        case 1: memcpy(f, "garbage, not a key\n", 19); len = 19; break;
        case 2: len = 67; break;                         /* cut short */
        case 3: f[68] = 0; len = 69; break;              /* trailing byte */
        case 4: f[1] = 0; break;                         /* RSA */
        case 5: f[1] = 2; break;                         /* secp256k1 */
        case 6: /* Data of 32 bytes: the seed alone */
            f[3] = 0x20;
            len = 36;
            break;
        case 7: /* Data of 96 bytes (old go-libp2p: seed||pk||pk) */
            f[3] = 0x60;
            memcpy(f + 68, id.pk, 32);
            len = 100;
            break;
        case 8: memcpy(f + 36, other.pk, 32); break;    /* another pk */
        case 9: f[40] ^= 1; break;                       /* pk bit flipped */
        case 10: f[3] = 0x41; break;                     /* length past end */
        case 11: /* an unknown field after */
            memcpy(f + 68, "\x1a\x01\x00", 3);
            len = 71;
            break;
        case 12: /* a PublicKey instead */
            memcpy(f, "\x08\x01\x12\x20", 4);
            memcpy(f + 4, id.pk, 32);
            len = 36;
            break;
        case 13: /* big: over the 4 KiB a key file may have */
            memset(f + 68, 0, sizeof(f) - 68);
            len = sizeof(f);
            break;
        case 14: /* fields out of order: 68 bytes, but not canonical */
            memcpy(f, "\x12\x40", 2);
            memcpy(f + 2, id.sk, 64);
            memcpy(f + 66, "\x08\x01", 2);
            break;
        default: len = (size_t)-1; break;
        }
        if (len == (size_t)-1)
            break;
        write_file(path, f, len, 0600);
        memset(&other, 0x5a, sizeof(other));
        if (shoal_identity_load_or_create(path, &other) != SHOAL_EPROTO)
            fail_msg("malformed key file %zu accepted", i);
    }
    /* the good one, for contrast */
    write_file(path, good, sizeof(good), 0600);
    assert_int_equal(shoal_identity_load_or_create(path, &other), 0);
    assert_memory_equal(other.pk, id.pk, 32);

    /* something that is not a file */
    path_in(state, "dir", path, sizeof(path));
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(shoal_identity_load_or_create(path, &other),
                     SHOAL_EPROTO);
    /* a folder that does not exist */
    path_in(state, "none/key", path, sizeof(path));
    assert_int_equal(shoal_identity_load_or_create(path, &other), UV_ENOENT);
    assert_int_equal(shoal_identity_load_or_create("", &other), SHOAL_EINVAL);
    assert_int_equal(shoal_identity_load_or_create(NULL, &other),
                     SHOAL_EINVAL);
}

/* shoal_key_file_check: the code the load would give, and why in words. */
static void test_keyfile_check(void **state)
{
    char path[600], why[256];
    uint8_t junk[68];
    shoal_identity id;

    path_in(state, "key", path, sizeof(path));
    assert_int_equal(shoal_key_file_check(path, why, sizeof(why)), 0);
    assert_string_equal(why, ""); /* not there yet: made at start */
    assert_int_equal(shoal_identity_load_or_create(path, &id), 0);
    assert_int_equal(shoal_key_file_check(path, why, sizeof(why)), 0);
    assert_int_equal(shoal_key_file_check(path, NULL, 0), 0);

    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(shoal_key_file_check(path, why, sizeof(why)), UV_EPERM);
    assert_non_null(strstr(why, "can be read by others (mode 0644)"));

    write_file(path, (const uint8_t *)"twelve bytes", 12, 0600);
    assert_int_equal(shoal_key_file_check(path, why, sizeof(why)),
                     SHOAL_EPROTO);
    assert_string_equal(why, "not a shoal key (bad length: 12 bytes, a key "
                             "file has 68)");
    memset(junk, 0x5a, sizeof(junk));
    write_file(path, junk, sizeof(junk), 0600);
    assert_int_equal(shoal_key_file_check(path, why, sizeof(why)),
                     SHOAL_EPROTO);
    assert_non_null(strstr(why, "not a shoal key"));

    path_in(state, "dir", path, sizeof(path));
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(shoal_key_file_check(path, why, sizeof(why)),
                     SHOAL_EPROTO);
    assert_string_equal(why, "not a regular file");
    path_in(state, "none/key", path, sizeof(path));
    assert_int_equal(shoal_key_file_check(path, why, sizeof(why)), UV_ENOENT);
    assert_non_null(strstr(why, "cannot create it: folder "));
    assert_int_equal(shoal_key_file_check("", why, sizeof(why)),
                     SHOAL_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector),
        cmocka_unit_test(test_sha256_peerid),
        cmocka_unit_test(test_generate_sign_verify),
        cmocka_unit_test(test_rfc8032),
        cmocka_unit_test(test_pubkey_decode_bad),
        cmocka_unit_test(test_builders),
        cmocka_unit_test(test_peerid_parse_bad),
        cmocka_unit_test(test_peerid_edges),
        cmocka_unit_test_setup_teardown(test_keyfile_create_reload,
                                        setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_keyfile_race, setup_dir,
                                        teardown_dir),
        cmocka_unit_test_setup_teardown(test_keyfile_foreign, setup_dir,
                                        teardown_dir),
        cmocka_unit_test_setup_teardown(test_keyfile_mode, setup_dir,
                                        teardown_dir),
        cmocka_unit_test_setup_teardown(test_keyfile_malformed, setup_dir,
                                        teardown_dir),
        cmocka_unit_test_setup_teardown(test_keyfile_check, setup_dir,
                                        teardown_dir),
    };
    return cmocka_run_group_tests_name("identity", tests, NULL, NULL);
}
