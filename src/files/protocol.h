/* The files service's message payloads, parsed and written without a
 * network (so that a fuzz target can feed them anything).
 *
 * Secure mode, typed messages on /shoal/msg/1.0.0 (text, space-separated;
 * a name is always last and may hold spaces):
 *   FIND "QID TTL MS KEY"  search: QID 16 hex digits (the search's id, for
 *                          duplicate suppression), TTL 0..16 hops left,
 *                          MS 1..60000 the time left to answer, KEY the
 *                          text to look for (or a file hash). Replies:
 *   HITS "HASH SIZE PEER ADDR NAME"  one per file: its hash, size, the
 *                          holder's peer id and multiaddr, its name.
 *   MANI "HASH"            the manifest: replied MANI (binary, manifest.h)
 *                          or ERRO "File not found".
 *   CHNK "HASH INDEX"      one chunk: replied CHNK (its bytes) or ERRO.
 * Classic mode (specs/classic-wire.md):
 *   QUER "PID KEY TTL", RESP "NAME PID", FGET "NAME".
 */
#ifndef SHOAL_FILES_PROTOCOL_H
#define SHOAL_FILES_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#define FILES_TTL_MAX 16
#define FILES_KEY_MAX 256
#define FILES_FIND_MS_MAX 60000
#define FILES_PEER_MAX 128
#define FILES_ADDR_MAX 320

typedef struct files_find_msg {
    uint64_t qid;
    int ttl;
    uint32_t ms;
    const char *key;          /* into the payload; keylen bytes */
    size_t keylen;
} files_find_msg;

typedef struct files_hit_msg {
    char hash[65];
    uint64_t size;
    char peer[FILES_PEER_MAX];
    char addr[FILES_ADDR_MAX];
    const char *name;         /* into the payload; namelen bytes */
    size_t namelen;
} files_hit_msg;

typedef struct files_quer_msg {
    char pid[256];
    const char *key;
    size_t keylen;
    int ttl;
} files_quer_msg;

/* Each returns 0, or -1 for a payload that is not exactly that. Text
 * fields must hold no NUL and no control bytes. */
int files_find_parse(const uint8_t *p, size_t len, files_find_msg *out);
int files_hit_parse(const uint8_t *p, size_t len, files_hit_msg *out);
/* "HASH" -> the 32-byte root. */
int files_hash_parse(const uint8_t *p, size_t len, uint8_t root[32]);
/* "HASH INDEX" */
int files_chunk_parse(const uint8_t *p, size_t len, uint8_t root[32],
                      uint32_t *index);
/* "PID KEY TTL": the key is what lies between the first and last word. */
int files_quer_parse(const uint8_t *p, size_t len, files_quer_msg *out);
/* "NAME PID": name is all but the last word. */
int files_resp_parse(const uint8_t *p, size_t len, const char **name,
                     size_t *namelen, char *pid, size_t pidsize);

/* Writers: the length written (snprintf's rule: >= size means cut). */
int files_find_format(char *out, size_t size, uint64_t qid, int ttl,
                      uint32_t ms, const char *key);
int files_hit_format(char *out, size_t size, const char *hash, uint64_t size_,
                     const char *peer, const char *addr, const char *name);

#endif
