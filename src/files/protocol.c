/* Payload parsers and writers of the files service (see protocol.h). */
#include "files/protocol.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "files/manifest.h"

/* Text we accept: printable bytes or UTF-8 (>= 0x80), spaces inside. */
static int text_ok(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] < 0x20 || p[i] == 0x7f)
            return 0;
    return 1;
}

/* The next space-free word at *pos (one space after it is skipped). */
static int word(const uint8_t *p, size_t len, size_t *pos, const uint8_t **w,
                size_t *wlen)
{
    size_t s = *pos, e = s;

    while (e < len && p[e] != ' ')
        e++;
    if (e == s)
        return -1;
    *w = p + s;
    *wlen = e - s;
    *pos = e < len ? e + 1 : e;
    return 0;
}

static int word_copy(const uint8_t *w, size_t wlen, char *out, size_t size)
{
    if (wlen >= size)
        return -1;
    memcpy(out, w, wlen);
    out[wlen] = '\0';
    return 0;
}

/* A decimal number of at most digits digits, <= max. */
static int number(const uint8_t *w, size_t wlen, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;

    if (wlen == 0 || wlen > 20)
        return -1;
    for (size_t i = 0; i < wlen; i++) {
        if (w[i] < '0' || w[i] > '9')
            return -1;
        if (v > (max - (uint64_t)(w[i] - '0')) / 10)
            return -1;
        v = v * 10 + (uint64_t)(w[i] - '0');
    }
    *out = v;
    return 0;
}

static int hex_word(const uint8_t *w, size_t wlen, uint8_t *out, size_t n)
{
    return files_unhex((const char *)w, wlen, out, n);
}

int files_find_parse(const uint8_t *p, size_t len, files_find_msg *out)
{
    const uint8_t *w;
    size_t wlen, pos = 0;
    uint8_t qid[8];
    uint64_t v;

    if (len == 0 || !text_ok(p, len))
        return -1;
    if (word(p, len, &pos, &w, &wlen) < 0 || hex_word(w, wlen, qid, 8) < 0)
        return -1;
    out->qid = 0;
    for (int i = 0; i < 8; i++)
        out->qid = out->qid << 8 | qid[i];
    if (word(p, len, &pos, &w, &wlen) < 0 ||
        number(w, wlen, FILES_TTL_MAX, &v) < 0)
        return -1;
    out->ttl = (int)v;
    if (word(p, len, &pos, &w, &wlen) < 0 ||
        number(w, wlen, FILES_FIND_MS_MAX, &v) < 0 || v == 0)
        return -1;
    out->ms = (uint32_t)v;
    if (pos >= len || len - pos > FILES_KEY_MAX)
        return -1;
    out->key = (const char *)p + pos;
    out->keylen = len - pos;
    return 0;
}

int files_hit_parse(const uint8_t *p, size_t len, files_hit_msg *out)
{
    const uint8_t *w;
    size_t wlen, pos = 0;
    uint8_t root[32];

    if (len == 0 || !text_ok(p, len))
        return -1;
    if (word(p, len, &pos, &w, &wlen) < 0 || hex_word(w, wlen, root, 32) < 0)
        return -1;
    files_hex(root, 32, out->hash);
    if (word(p, len, &pos, &w, &wlen) < 0 ||
        number(w, wlen, FILES_MAX_SIZE, &out->size) < 0)
        return -1;
    if (word(p, len, &pos, &w, &wlen) < 0 ||
        word_copy(w, wlen, out->peer, sizeof(out->peer)) < 0)
        return -1;
    if (word(p, len, &pos, &w, &wlen) < 0 ||
        word_copy(w, wlen, out->addr, sizeof(out->addr)) < 0)
        return -1;
    if (pos >= len)
        return -1;
    out->name = (const char *)p + pos;
    out->namelen = len - pos;
    return 0;
}

int files_hash_parse(const uint8_t *p, size_t len, uint8_t root[32])
{
    return hex_word(p, len, root, 32);
}

int files_chunk_parse(const uint8_t *p, size_t len, uint8_t root[32],
                      uint32_t *index)
{
    const uint8_t *w;
    size_t wlen, pos = 0;
    uint64_t v;

    if (word(p, len, &pos, &w, &wlen) < 0 || hex_word(w, wlen, root, 32) < 0)
        return -1;
    /* the index must end the payload: no trailing space */
    if (word(p, len, &pos, &w, &wlen) < 0 || w + wlen != p + len ||
        number(w, wlen, UINT32_MAX, &v) < 0)
        return -1;
    *index = (uint32_t)v;
    return 0;
}

int files_quer_parse(const uint8_t *p, size_t len, files_quer_msg *out)
{
    const uint8_t *w;
    size_t wlen, pos = 0, last;
    uint64_t v;

    if (len == 0 || !text_ok(p, len))
        return -1;
    if (word(p, len, &pos, &w, &wlen) < 0 ||
        word_copy(w, wlen, out->pid, sizeof(out->pid)) < 0)
        return -1;
    for (last = len; last > pos && p[last - 1] != ' '; last--)
        ;
    /* no key between the id and the ttl, or no ttl (a trailing space) */
    if (last <= pos + 1 || last == len)
        return -1;
    /* the reference's ttl is a Python int: accept a leading '-' as 0 */
    if (p[last] == '-') {
        if (number(p + last + 1, len - last - 1, INT32_MAX, &v) < 0)
            return -1;
        v = 0;
    } else if (number(p + last, len - last, INT32_MAX, &v) < 0) {
        return -1;
    }
    out->ttl = v > FILES_TTL_MAX ? FILES_TTL_MAX : (int)v;
    out->key = (const char *)p + pos;
    out->keylen = last - 1 - pos;
    return out->keylen > 0 && out->keylen <= FILES_KEY_MAX ? 0 : -1;
}

int files_resp_parse(const uint8_t *p, size_t len, const char **name,
                     size_t *namelen, char *pid, size_t pidsize)
{
    size_t last;

    if (len == 0 || !text_ok(p, len))
        return -1;
    for (last = len; last > 0 && p[last - 1] != ' '; last--)
        ;
    if (last < 2 || last == len)
        return -1;
    if (word_copy(p + last, len - last, pid, pidsize) < 0)
        return -1;
    *name = (const char *)p;
    *namelen = last - 1;
    return 0;
}

int files_find_format(char *out, size_t size, uint64_t qid, int ttl,
                      uint32_t ms, const char *key)
{
    return snprintf(out, size, "%016" PRIx64 " %d %u %s", qid, ttl,
                    (unsigned)ms, key);
}

int files_hit_format(char *out, size_t size, const char *hash, uint64_t size_,
                     const char *peer, const char *addr, const char *name)
{
    return snprintf(out, size, "%s %" PRIu64 " %s %s %s", hash, size_, peer,
                    addr, name);
}
