/* libFuzzer target: the files service's payloads (src/files/protocol.h),
 * its manifests (src/files/manifest.h) and its name check
 * (shoal_files_name_ok), all network-free.
 *
 * Each input is read by every parser, and what a parser accepts must hold:
 *   - FIND "QID TTL MS KEY": ttl and ms in range, the key a non-empty run
 *     of the input's own bytes (its tail) with no control byte; formatted
 *     again with files_find_format it parses back to the same fields;
 *   - HITS "HASH SIZE PEER ADDR NAME": the hash is the input's first 64
 *     bytes, peer and addr are words of the input (no space, no control
 *     byte, terminated), the name is the input's tail; formatted again with
 *     files_hit_format it parses back to the same fields;
 *   - MANI "HASH", CHNK "HASH INDEX": the hash's hex is the input's (hex
 *     round trip), the index formats back the same;
 *   - QUER "PID KEY TTL", RESP "NAME PID": the fields are runs of the input,
 *     and written again they parse back to the same;
 *   - a manifest: decoded against a root that is not its own (taken from
 *     the input) it is refused; when its header and length agree, its root
 *     is computed with files_root and it must decode against that, exactly
 *     when the count matches the size, to the same size and chunk hashes,
 *     and encode back to the same bytes;
 *   - shoal_files_name_ok agrees with a plain reading of its contract
 *     (include/shoal/files.h);
 *   - files_hex / files_unhex round trip.
 * Seeds: tests/fuzz/corpus/files/ (made by make_corpus_files.sh). */
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "files/manifest.h"
#include "files/protocol.h"
#include "shoal/files.h"

/* Not assert(): release builds define NDEBUG. */
#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "fuzz_files: %s:%d: check failed: %s\n",       \
                    __FILE__, __LINE__, #cond);                            \
            abort();                                                       \
        }                                                                  \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Where a parsed payload is written again: as long as the input and a
 * little more (set per input; numbers written again are never longer). */
static char *line;
static size_t line_size;

static int within(const uint8_t *data, size_t size, const void *p,
                  size_t len)
{
    const uint8_t *q = p;
    return q >= data && len <= size && (size_t)(q - data) <= size - len;
}

static int no_control(const void *p, size_t len)
{
    const uint8_t *q = p;
    for (size_t i = 0; i < len; i++)
        if (q[i] < 0x20 || q[i] == 0x7f)
            return 0;
    return 1;
}

static int is_lower_hex(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return 0;
    return 1;
}

/* A NUL-terminated copy of n bytes (the parsers' fields hold no NUL). */
static char *dup_n(const char *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s == NULL)
        abort();
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static int contains(const uint8_t *hay, size_t size, const char *w,
                    size_t n)
{
    for (size_t i = 0; n <= size && i <= size - n; i++)
        if (memcmp(hay + i, w, n) == 0)
            return 1;
    return 0;
}

/* A word copied out by a parser: terminated within its buffer, no space,
 * no control byte, and found in the input. */
static void check_word(const uint8_t *data, size_t size, const char *w,
                       size_t cap)
{
    size_t n = strnlen(w, cap);

    CHECK(n > 0 && n < cap);
    CHECK(no_control(w, n) && memchr(w, ' ', n) == NULL);
    CHECK(contains(data, size, w, n));
}

/* ------------------------------------------------------------------ FIND */

static void find_side(const uint8_t *data, size_t size)
{
    files_find_msg m, back;
    char *key;
    int n;

    if (files_find_parse(data, size, &m) != 0)
        return;
    CHECK(m.ttl >= 0 && m.ttl <= FILES_TTL_MAX);
    CHECK(m.ms >= 1 && m.ms <= FILES_FIND_MS_MAX);
    CHECK(m.keylen > 0 && m.keylen <= FILES_KEY_MAX);
    CHECK(within(data, size, m.key, m.keylen));
    CHECK((const uint8_t *)m.key + m.keylen == data + size); /* the tail */
    CHECK(no_control(m.key, m.keylen));
    /* the qid is the first word, lowercase hex */
    {
        char hex[17];
        snprintf(hex, sizeof(hex), "%016" PRIx64, m.qid);
        CHECK(size > 17 && memcmp(data, hex, 16) == 0 && data[16] == ' ');
    }
    key = dup_n(m.key, m.keylen);
    n = files_find_format(line, line_size, m.qid, m.ttl, m.ms, key);
    CHECK(n > 0 && (size_t)n < line_size);
    CHECK((size_t)n <= size); /* canonical numbers: never longer */
    CHECK(files_find_parse((const uint8_t *)line, (size_t)n, &back) == 0);
    CHECK(back.qid == m.qid && back.ttl == m.ttl && back.ms == m.ms);
    CHECK(back.keylen == m.keylen && memcmp(back.key, key, m.keylen) == 0);
    /* formatting is a fixed point */
    {
        char again[FILES_KEY_MAX + 64];
        int k = files_find_format(again, sizeof(again), back.qid, back.ttl,
                                  back.ms, key);
        CHECK(k == n && memcmp(again, line, (size_t)n) == 0);
    }
    free(key);
}

/* ------------------------------------------------------------------ HITS */

static void hit_side(const uint8_t *data, size_t size)
{
    static files_hit_msg h, back;
    char *name;
    int n;

    if (files_hit_parse(data, size, &h) != 0)
        return;
    CHECK(strlen(h.hash) == 64 && is_lower_hex((const uint8_t *)h.hash, 64));
    CHECK(size > 64 && memcmp(data, h.hash, 64) == 0 && data[64] == ' ');
    CHECK(h.size <= FILES_MAX_SIZE);
    check_word(data, size, h.peer, sizeof(h.peer));
    check_word(data, size, h.addr, sizeof(h.addr));
    CHECK(h.namelen > 0 && within(data, size, h.name, h.namelen));
    CHECK((const uint8_t *)h.name + h.namelen == data + size);
    CHECK(no_control(h.name, h.namelen));
    name = dup_n(h.name, h.namelen);
    n = files_hit_format(line, line_size, h.hash, h.size, h.peer, h.addr,
                         name);
    CHECK(n > 0 && (size_t)n < line_size && (size_t)n <= size);
    CHECK(files_hit_parse((const uint8_t *)line, (size_t)n, &back) == 0);
    CHECK(strcmp(back.hash, h.hash) == 0 && back.size == h.size);
    CHECK(strcmp(back.peer, h.peer) == 0 && strcmp(back.addr, h.addr) == 0);
    CHECK(back.namelen == h.namelen &&
          memcmp(back.name, name, h.namelen) == 0);
    free(name);
}

/* ------------------------------------------------------------ MANI, CHNK */

static void hash_side(const uint8_t *data, size_t size)
{
    uint8_t root[32], root2[32];
    char hex[65];
    uint32_t index;
    int ok = files_hash_parse(data, size, root) == 0;

    /* exactly 64 lowercase hex digits */
    CHECK(ok == (size == 64 && is_lower_hex(data, 64)));
    if (ok) {
        files_hex(root, 32, hex);
        CHECK(memcmp(hex, data, 64) == 0);
    }
    if (files_chunk_parse(data, size, root, &index) == 0) {
        int n;
        CHECK(size >= 66 && data[64] == ' ');
        files_hex(root, 32, hex);
        CHECK(memcmp(hex, data, 64) == 0);
        n = snprintf(line, line_size, "%s %" PRIu32, hex, index);
        CHECK(n > 0 && (size_t)n <= size);
        CHECK(files_chunk_parse((const uint8_t *)line, (size_t)n, root2,
                                &index) == 0);
        CHECK(memcmp(root, root2, 32) == 0);
        /* the index is the tail: digits only */
        for (size_t i = 65; i < size; i++)
            CHECK(data[i] >= '0' && data[i] <= '9');
    }
}

/* ------------------------------------------------------------ QUER, RESP */

static void quer_side(const uint8_t *data, size_t size)
{
    static files_quer_msg q, back;
    char *key;
    int n;

    if (files_quer_parse(data, size, &q) != 0)
        return;
    check_word(data, size, q.pid, sizeof(q.pid));
    CHECK(memcmp(data, q.pid, strlen(q.pid)) == 0); /* the first word */
    CHECK(q.keylen > 0 && q.keylen <= FILES_KEY_MAX);
    CHECK(within(data, size, q.key, q.keylen));
    CHECK(no_control(q.key, q.keylen));
    CHECK(q.ttl >= 0 && q.ttl <= FILES_TTL_MAX);
    key = dup_n(q.key, q.keylen);
    n = snprintf(line, line_size, "%s %s %d", q.pid, key, q.ttl);
    CHECK(n > 0 && (size_t)n < line_size);
    CHECK(files_quer_parse((const uint8_t *)line, (size_t)n, &back) == 0);
    CHECK(strcmp(back.pid, q.pid) == 0 && back.ttl == q.ttl);
    CHECK(back.keylen == q.keylen && memcmp(back.key, key, q.keylen) == 0);
    free(key);
}

static void resp_side(const uint8_t *data, size_t size)
{
    char pid[SHOAL_ID_MAX], pid2[SHOAL_ID_MAX], *name;
    const char *nm, *nm2;
    size_t nlen, nlen2;
    int n;

    if (files_resp_parse(data, size, &nm, &nlen, pid, sizeof(pid)) != 0)
        return;
    check_word(data, size, pid, sizeof(pid));
    CHECK(nlen > 0 && within(data, size, nm, nlen));
    CHECK((const uint8_t *)nm == data); /* the name leads */
    CHECK(no_control(nm, nlen));
    /* the pid is the input's last word */
    CHECK(nlen + 1 + strlen(pid) == size && data[nlen] == ' ');
    name = dup_n(nm, nlen);
    n = snprintf(line, line_size, "%s %s", name, pid);
    CHECK(n > 0 && (size_t)n == size);
    CHECK(files_resp_parse((const uint8_t *)line, (size_t)n, &nm2, &nlen2,
                           pid2, sizeof(pid2)) == 0);
    CHECK(nlen2 == nlen && memcmp(nm2, name, nlen) == 0);
    CHECK(strcmp(pid, pid2) == 0);
    /* a pid buffer too small for it is refused, never cut */
    {
        size_t plen = strlen(pid);
        CHECK(files_resp_parse(data, size, &nm2, &nlen2, pid2, plen) != 0);
    }
    free(name);
}

/* -------------------------------------------------------------- manifest */

static void manifest_side(const uint8_t *data, size_t size)
{
    uint8_t wrong[FILES_HASH], root[FILES_HASH];
    const uint8_t *chunks = NULL;
    uint64_t s = 0, got_size = 0;
    uint32_t count = 0, n = 0;
    int ok;

    /* a root that is not the manifest's own: taken from the input's tail
     * (or zeros), it matches only by a SHA-256 collision */
    memset(wrong, 0, sizeof(wrong));
    if (size >= FILES_HASH)
        memcpy(wrong, data + size - FILES_HASH, FILES_HASH);
    if (size >= FILES_MANIFEST_HEADER) {
        for (int i = 0; i < 8; i++)
            s = s << 8 | data[i];
        for (int i = 0; i < 4; i++)
            count = count << 8 | data[8 + i];
    }
    ok = files_manifest_decode(data, size, wrong, &got_size, &chunks, &n) == 0;
    if (ok) {
        /* then wrong really is its root: only when a hash equals itself */
        files_root(s, data + FILES_MANIFEST_HEADER, count, root);
        CHECK(memcmp(root, wrong, FILES_HASH) == 0);
    }
    if (size < FILES_MANIFEST_HEADER ||
        (size - FILES_MANIFEST_HEADER) % FILES_HASH != 0 ||
        (size - FILES_MANIFEST_HEADER) / FILES_HASH != count)
        return; /* the header and the length disagree: nothing to hash */
    files_root(s, data + FILES_MANIFEST_HEADER, count, root);
    ok = files_manifest_decode(data, size, root, &got_size, &chunks, &n) == 0;
    CHECK(ok == (s <= FILES_MAX_SIZE && count == files_chunk_count(s)));
    if (!ok)
        return;
    CHECK(got_size == s && n == count);
    CHECK(count == 0 ? chunks == NULL
                     : chunks == data + FILES_MANIFEST_HEADER);
    if (count > 0) {
        CHECK(files_chunk_len(s, count - 1) > 0);
        CHECK(files_chunk_len(s, count - 1) <= SHOAL_FILES_CHUNK);
        CHECK((uint64_t)(count - 1) * SHOAL_FILES_CHUNK +
                  files_chunk_len(s, count - 1) == s);
    }
    CHECK(files_chunk_len(s, count) == 0);
    {
        uint8_t *enc = malloc(size);
        CHECK(enc != NULL);
        CHECK(files_manifest_encode(got_size, chunks, n, enc) == size);
        CHECK(memcmp(enc, data, size) == 0);
        free(enc);
    }
    /* one bit off in the root: refused */
    root[size % FILES_HASH] ^= 1;
    CHECK(files_manifest_decode(data, size, root, &got_size, &chunks, &n) !=
          0);
}

/* ----------------------------------------------------------------- names */

/* The contract, read plainly: 1..SHOAL_FILES_NAME_MAX bytes, no NUL, no
 * backslash, no control byte (< 0x20), relative (no leading '/'), and no
 * empty, "." or ".." part between slashes. */
static int name_contract(const uint8_t *p, size_t len)
{
    size_t start = 0;

    if (len == 0 || len > SHOAL_FILES_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (p[i] < 0x20 || p[i] == 0x7f || p[i] == '\\')
            return 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && p[i] != '/')
            continue;
        size_t part = i - start;
        if (part == 0 || (part == 1 && p[start] == '.') ||
            (part == 2 && p[start] == '.' && p[start + 1] == '.'))
            return 0;
        start = i + 1;
    }
    return 1;
}

static void name_side(const uint8_t *data, size_t size)
{
    int rc = shoal_files_name_ok((const char *)data, size);

    CHECK(rc == 0 || rc == SHOAL_EINVAL);
    CHECK((rc == 0) == name_contract(data, size));
    if (rc == 0) {
        CHECK(data[0] != '/' && data[size - 1] != '/');
        CHECK(memchr(data, '\0', size) == NULL);
    }
    CHECK(shoal_files_name_ok(NULL, size) == SHOAL_EINVAL);
}

/* ------------------------------------------------------------------- hex */

static void hex_side(const uint8_t *data, size_t size)
{
    enum { N = 128 };
    uint8_t bin[N], bin2[N];
    char hex[2 * N + 1];
    size_t n = size / 2 < N ? size / 2 : N;

    /* bytes -> hex -> bytes */
    files_hex(data, n, hex);
    CHECK(strlen(hex) == 2 * n && is_lower_hex((const uint8_t *)hex, 2 * n));
    CHECK(files_unhex(hex, 2 * n, bin, n) == 0);
    CHECK(memcmp(bin, data, n) == 0);
    /* hex -> bytes -> hex: only lowercase digits are taken */
    if (size <= 2 * N) {
        int ok = files_unhex((const char *)data, size, bin2, size / 2) == 0;
        CHECK(ok == (size % 2 == 0 && is_lower_hex(data, size)));
        if (ok && size > 0) {
            files_hex(bin2, size / 2, hex);
            CHECK(memcmp(hex, data, size) == 0);
        }
        /* a length that is not twice n: refused */
        if (size > 0 && size / 2 + 1 <= N)
            CHECK(files_unhex((const char *)data, size, bin2,
                              size / 2 + 1) != 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    line_size = size + 64;
    if ((line = malloc(line_size)) == NULL)
        return 0;
    find_side(data, size);
    hit_side(data, size);
    hash_side(data, size);
    quer_side(data, size);
    resp_side(data, size);
    manifest_side(data, size);
    name_side(data, size);
    hex_side(data, size);
    free(line);
    line = NULL;
    return 0;
}
