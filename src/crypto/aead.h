/* ChaCha20-Poly1305, IETF variant (RFC 8439): Noise's ChaChaPoly.
 *
 * Every byte of a secure connection goes through this cipher twice, once
 * each side, so its speed bounds a connection's throughput. It runs on
 * OpenSSL's libcrypto, whose vectorized code (AVX2, AVX-512) seals 64 KiB
 * frames about three times as fast as libsodium's on the machines we
 * measure (bench/secure_throughput prints both rates). The rest of our
 * crypto stays on libsodium.
 *
 * A shoal_aead holds one key and seals or opens any number of messages,
 * each with a 12-byte nonce the caller never repeats under that key. One
 * thread at a time; no global state. */
#ifndef SHOAL_CRYPTO_AEAD_H
#define SHOAL_CRYPTO_AEAD_H

#include <stddef.h>
#include <stdint.h>

#define SHOAL_AEAD_KEY 32
#define SHOAL_AEAD_NONCE 12
#define SHOAL_AEAD_TAG 16

typedef struct shoal_aead shoal_aead;

/* Creates *out keyed with key. 0 or SHOAL_ENOMEM. Free it with
 * shoal_aead_free(), which also wipes the key. */
int shoal_aead_new(shoal_aead **out, const uint8_t key[SHOAL_AEAD_KEY]);

/* Replaces the key. 0 or SHOAL_ENOMEM. */
int shoal_aead_rekey(shoal_aead *a, const uint8_t key[SHOAL_AEAD_KEY]);

/* Encrypts pt[0..len) with associated data ad[0..adlen) (ad may be NULL
 * when adlen is 0) into out: len bytes of ciphertext, then the 16-byte
 * tag. out may be pt itself, or not overlap it at all. 0, or SHOAL_ENOMEM
 * should the library fail. */
int shoal_aead_seal(shoal_aead *a, const uint8_t nonce[SHOAL_AEAD_NONCE],
                    const uint8_t *ad, size_t adlen, const uint8_t *pt,
                    size_t len, uint8_t *out);

/* Decrypts ct[0..len) (ciphertext then tag; len >= 16) into out (len - 16
 * bytes; out may be ct itself, or not overlap it). 0, or SHOAL_EPROTO when
 * len < 16 or the tag does not verify: then out holds nothing to use. */
int shoal_aead_open(shoal_aead *a, const uint8_t nonce[SHOAL_AEAD_NONCE],
                    const uint8_t *ad, size_t adlen, const uint8_t *ct,
                    size_t len, uint8_t *out);

/* Wipes and frees a (NULL: nothing). */
void shoal_aead_free(shoal_aead *a);

#endif
