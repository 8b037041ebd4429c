/* Chunk hashes, file hashes and manifests (see manifest.h). */
#include "files/manifest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "shoal/files.h"

#define ROOT_TAG "shoal-files-1"

void files_hex(const uint8_t *bin, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bin[i] >> 4];
        out[2 * i + 1] = digits[bin[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int files_unhex(const char *hex, size_t len, uint8_t *out, size_t n)
{
    if (len != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

uint32_t files_chunk_count(uint64_t size)
{
    return (uint32_t)((size + SHOAL_FILES_CHUNK - 1) / SHOAL_FILES_CHUNK);
}

size_t files_chunk_len(uint64_t size, uint32_t i)
{
    uint64_t start = (uint64_t)i * SHOAL_FILES_CHUNK;

    if (start >= size)
        return 0;
    return size - start < SHOAL_FILES_CHUNK ? (size_t)(size - start)
                                            : SHOAL_FILES_CHUNK;
}

/* OpenSSL's SHA-256 uses the CPU's SHA instructions where there are any:
 * several times libsodium's rate, and every byte shared is hashed. */
void files_sha256(const void *data, size_t len, uint8_t out[FILES_HASH])
{
    unsigned int n = FILES_HASH;

    if (EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) != 1)
        memset(out, 0, FILES_HASH); /* cannot happen: no matching hash */
}

void files_root(uint64_t size, const uint8_t *chunks, uint32_t n,
                uint8_t out[FILES_HASH])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    uint8_t be[8];
    unsigned int len = FILES_HASH;

    for (int i = 0; i < 8; i++)
        be[i] = (uint8_t)(size >> (56 - 8 * i));
    if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(ctx, ROOT_TAG, sizeof(ROOT_TAG) - 1) != 1 ||
        EVP_DigestUpdate(ctx, be, sizeof(be)) != 1 ||
        (n > 0 &&
         EVP_DigestUpdate(ctx, chunks, (size_t)n * FILES_HASH) != 1) ||
        EVP_DigestFinal_ex(ctx, out, &len) != 1)
        memset(out, 0, FILES_HASH);
    EVP_MD_CTX_free(ctx);
}

int files_hash_fd(int fd, uint64_t size, uint8_t **chunks, uint32_t *n,
                  uint8_t root[FILES_HASH])
{
    uint32_t count = files_chunk_count(size), i;
    uint8_t *hashes = NULL, *buf = NULL, extra;
    int rc = 0;

    *chunks = NULL;
    *n = 0;
    if (size > FILES_MAX_SIZE)
        return -EFBIG;
    if (count > 0 && ((hashes = malloc((size_t)count * FILES_HASH)) == NULL ||
                      (buf = malloc(SHOAL_FILES_CHUNK)) == NULL)) {
        free(hashes);
        return -ENOMEM;
    }
    for (i = 0; i < count && rc == 0; i++) {
        size_t want = files_chunk_len(size, i), got = 0;
        while (got < want) {
            ssize_t k = pread(fd, buf + got, want - got,
                              (off_t)i * SHOAL_FILES_CHUNK + (off_t)got);
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0) {
                rc = k == 0 ? -EAGAIN : -errno;
                break;
            }
            got += (size_t)k;
        }
        if (rc == 0)
            files_sha256(buf, want, hashes + (size_t)i * FILES_HASH);
    }
    /* one byte more than stat said: the file grew while we read it */
    if (rc == 0 && pread(fd, &extra, 1, (off_t)size) == 1)
        rc = -EAGAIN;
    free(buf);
    if (rc < 0) {
        free(hashes);
        return rc;
    }
    files_root(size, hashes, count, root);
    *chunks = hashes;
    *n = count;
    return 0;
}

size_t files_manifest_encode(uint64_t size, const uint8_t *chunks,
                             uint32_t n, uint8_t *out)
{
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(size >> (56 - 8 * i));
    for (int i = 0; i < 4; i++)
        out[8 + i] = (uint8_t)(n >> (24 - 8 * i));
    if (n > 0)
        memcpy(out + FILES_MANIFEST_HEADER, chunks, (size_t)n * FILES_HASH);
    return FILES_MANIFEST_HEADER + (size_t)n * FILES_HASH;
}

int files_manifest_decode(const uint8_t *data, size_t len,
                          const uint8_t root[FILES_HASH], uint64_t *size,
                          const uint8_t **chunks, uint32_t *n)
{
    uint8_t got[FILES_HASH];
    uint64_t s = 0;
    uint32_t count = 0;

    if (len < FILES_MANIFEST_HEADER)
        return -1;
    for (int i = 0; i < 8; i++)
        s = s << 8 | data[i];
    for (int i = 0; i < 4; i++)
        count = count << 8 | data[8 + i];
    if (s > FILES_MAX_SIZE || count != files_chunk_count(s) ||
        len != FILES_MANIFEST_HEADER + (size_t)count * FILES_HASH)
        return -1;
    files_root(s, data + FILES_MANIFEST_HEADER, count, got);
    if (memcmp(got, root, FILES_HASH) != 0)
        return -1;
    *size = s;
    *chunks = count ? data + FILES_MANIFEST_HEADER : NULL;
    *n = count;
    return 0;
}
