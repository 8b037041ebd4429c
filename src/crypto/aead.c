/* ChaCha20-Poly1305 on OpenSSL's EVP interface (see aead.h). */
#include "crypto/aead.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "shoal.h"

struct shoal_aead {
    EVP_CIPHER_CTX *ctx;
};

int shoal_aead_new(shoal_aead **out, const uint8_t key[SHOAL_AEAD_KEY])
{
    shoal_aead *a = malloc(sizeof(*a));

    *out = NULL;
    if (a == NULL)
        return SHOAL_ENOMEM;
    if ((a->ctx = EVP_CIPHER_CTX_new()) == NULL ||
        EVP_CipherInit_ex(a->ctx, EVP_chacha20_poly1305(), NULL, key, NULL,
                          1) != 1) {
        shoal_aead_free(a);
        return SHOAL_ENOMEM;
    }
    *out = a;
    return 0;
}

int shoal_aead_rekey(shoal_aead *a, const uint8_t key[SHOAL_AEAD_KEY])
{
    return EVP_CipherInit_ex(a->ctx, NULL, NULL, key, NULL, 1) == 1
               ? 0
               : SHOAL_ENOMEM;
}

/* EVP takes lengths as int: longer input goes in pieces. */
static int update(EVP_CIPHER_CTX *ctx, uint8_t *out, const uint8_t *in,
                  size_t len)
{
    while (len > 0) {
        int n = len > INT_MAX / 2 ? INT_MAX / 2 : (int)len, got;
        if (EVP_CipherUpdate(ctx, out, &got, in, n) != 1 || got != n)
            return -1;
        in += n;
        len -= (size_t)n;
        if (out != NULL)
            out += n;
    }
    return 0;
}

int shoal_aead_seal(shoal_aead *a, const uint8_t nonce[SHOAL_AEAD_NONCE],
                    const uint8_t *ad, size_t adlen, const uint8_t *pt,
                    size_t len, uint8_t *out)
{
    int n;

    if (EVP_CipherInit_ex(a->ctx, NULL, NULL, NULL, nonce, 1) != 1 ||
        update(a->ctx, NULL, ad, adlen) < 0 ||
        update(a->ctx, out, pt, len) < 0 ||
        EVP_CipherFinal_ex(a->ctx, out + len, &n) != 1 ||
        EVP_CIPHER_CTX_ctrl(a->ctx, EVP_CTRL_AEAD_GET_TAG, SHOAL_AEAD_TAG,
                            out + len) != 1)
        return SHOAL_ENOMEM;
    return 0;
}

int shoal_aead_open(shoal_aead *a, const uint8_t nonce[SHOAL_AEAD_NONCE],
                    const uint8_t *ad, size_t adlen, const uint8_t *ct,
                    size_t len, uint8_t *out)
{
    uint8_t tag[SHOAL_AEAD_TAG];
    int n;

    if (len < SHOAL_AEAD_TAG)
        return SHOAL_EPROTO;
    len -= SHOAL_AEAD_TAG;
    memcpy(tag, ct + len, sizeof(tag));
    if (EVP_CipherInit_ex(a->ctx, NULL, NULL, NULL, nonce, 0) != 1 ||
        EVP_CIPHER_CTX_ctrl(a->ctx, EVP_CTRL_AEAD_SET_TAG, SHOAL_AEAD_TAG,
                            tag) != 1 ||
        update(a->ctx, NULL, ad, adlen) < 0 ||
        update(a->ctx, out, ct, len) < 0 ||
        EVP_CipherFinal_ex(a->ctx, out + len, &n) != 1) {
        if (out != ct)
            memset(out, 0, len); /* unauthenticated: not to be seen */
        return SHOAL_EPROTO;
    }
    return 0;
}

void shoal_aead_free(shoal_aead *a)
{
    if (a == NULL)
        return;
    EVP_CIPHER_CTX_free(a->ctx); /* clears the key schedule it holds */
    free(a);
}
