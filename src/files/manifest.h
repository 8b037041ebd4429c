/* Content names for shared files: chunk hashes, the file hash, manifests
 * (see include/shoal/files.h). Network-free and loop-free: pure functions
 * plus one that reads a file descriptor, for the thread pool. */
#ifndef SHOAL_FILES_MANIFEST_H
#define SHOAL_FILES_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#define FILES_HASH 32                    /* SHA-256 */
#define FILES_MAX_SIZE (256ull << 30)    /* largest file shared: 256 GiB */
/* A manifest on the wire: size (8, big-endian), count (4), hashes. */
#define FILES_MANIFEST_HEADER 12

/* Hex text of n bytes into out (2n + 1 bytes, NUL-terminated). */
void files_hex(const uint8_t *bin, size_t n, char *out);
/* 2n lowercase hex digits (exactly len == 2n) into out: 0 or -1. */
int files_unhex(const char *hex, size_t len, uint8_t *out, size_t n);

/* Chunks of a file of size bytes (0 for an empty file). */
uint32_t files_chunk_count(uint64_t size);
/* Bytes of chunk i of a file of size bytes. */
size_t files_chunk_len(uint64_t size, uint32_t i);

/* SHA-256 of data into out. */
void files_sha256(const void *data, size_t len, uint8_t out[FILES_HASH]);
/* The file hash: SHA-256("shoal-files-1" || size BE64 || chunk hashes). */
void files_root(uint64_t size, const uint8_t *chunks, uint32_t n,
                uint8_t out[FILES_HASH]);

/* Reads fd from the start and hashes every chunk: *chunks (malloc'd,
 * n * 32 bytes; NULL for an empty file), *n, the root. size is what stat
 * said; a file that reads shorter or longer changed under us: -EAGAIN.
 * 0, or a negative errno. Blocking: thread pool only. */
int files_hash_fd(int fd, uint64_t size, uint8_t **chunks, uint32_t *n,
                  uint8_t root[FILES_HASH]);

/* Encodes size and n chunk hashes; out must hold FILES_MANIFEST_HEADER +
 * 32 n bytes. Returns the length. */
size_t files_manifest_encode(uint64_t size, const uint8_t *chunks,
                             uint32_t n, uint8_t *out);
/* Checks a manifest received for the file named root: the count matches
 * the size, the hashes hash to root. On 0, *size, *chunks (pointing into
 * data) and *n are set. -1 for anything wrong. */
int files_manifest_decode(const uint8_t *data, size_t len,
                          const uint8_t root[FILES_HASH], uint64_t *size,
                          const uint8_t **chunks, uint32_t *n);

#endif
