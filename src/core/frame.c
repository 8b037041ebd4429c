#include "core/frame.h"

#include <stdlib.h>
#include <string.h>

#include "core/bigbuf.h"
#include "core/bufcache.h"
#include "shoal.h"

/* First payload allocation, and the largest buffer kept between messages. */
#define FRAME_FIRST_ALLOC (64 * 1024)

/* The payload buffers a growing message passes through (128 KiB, 256 KiB,
 * 512 KiB, 1 MiB: a file chunk's reply) come from caches shared by every
 * reader of the process, two of each size: memory just freed by the last
 * message costs no page faults, where fresh memory costs one per 4 KiB
 * (bench/file_transfer counted about one per 4 KiB received). Larger
 * messages, and sizes in between, are malloc'd as before. At most 3.75 MiB
 * is kept. */
#define FRAME_CACHE_SHIFT_MIN 17
#define FRAME_CACHE_CLASSES 4
#define FRAME_CACHE_KEEP 2

static shoal_bufcache frame_cache[FRAME_CACHE_CLASSES];
static uv_once_t frame_cache_once = UV_ONCE_INIT;
static int frame_cache_ok;

static void frame_cache_init(void)
{
    int ok = 1;

    for (size_t i = 0; i < FRAME_CACHE_CLASSES; i++)
        ok &= shoal_bufcache_init(&frame_cache[i],
                                  (size_t)1 << (FRAME_CACHE_SHIFT_MIN + i),
                                  FRAME_CACHE_KEEP) == 0;
    frame_cache_ok = ok;
}

/* The cache for buffers of exactly size bytes, or NULL. */
static shoal_bufcache *frame_cache_for(size_t size)
{
    uv_once(&frame_cache_once, frame_cache_init);
    if (!frame_cache_ok)
        return NULL;
    for (size_t i = 0; i < FRAME_CACHE_CLASSES; i++)
        if (size == (size_t)1 << (FRAME_CACHE_SHIFT_MIN + i))
            return &frame_cache[i];
    return NULL;
}

/* p, cap bytes from grow(): back to its cache, or freed. */
static void payload_release(uint8_t *p, size_t cap)
{
    shoal_bufcache *c = p != NULL ? frame_cache_for(cap) : NULL;

    if (c != NULL)
        shoal_bufcache_put(c, p);
    else
        free(p);
}

void shoal_frame_reader_init(shoal_frame_reader *r, size_t max_len)
{
    memset(r, 0, sizeof(*r));
    r->max_len = max_len;
}

/* Back to the reader's own buffer after a message read into the caller's. */
static void unborrow(shoal_frame_reader *r)
{
    if (!r->borrowed)
        return;
    r->payload = r->own;
    r->cap = r->own_cap;
    r->own = NULL;
    r->own_cap = 0;
    r->borrowed = 0;
}

void shoal_frame_reader_free(shoal_frame_reader *r)
{
    unborrow(r);
    payload_release(r->payload, r->cap);
    r->payload = NULL;
    r->cap = 0;
    r->into = NULL;
}

void shoal_frame_reader_into(shoal_frame_reader *r, void *buf, size_t cap)
{
    r->into = buf;
    r->into_cap = buf != NULL ? cap : 0;
}

static int header_done(shoal_frame_reader *r)
{
    const uint8_t *h = r->header;
    size_t i;

    for (i = 0; i < 4 && h[i] != 0; i++)
        r->type[i] = (h[i] >= 'a' && h[i] <= 'z') ? (char)(h[i] - 32)
                                                  : (char)h[i];
    for (; i < sizeof(r->type); i++) /* all 5 bytes: types compare whole */
        r->type[i] = '\0';
    r->len = ((size_t)h[4] << 24) | ((size_t)h[5] << 16) |
             ((size_t)h[6] << 8) | (size_t)h[7];
    r->got = 0;
    if (r->len > r->max_len)
        return SHOAL_EMSGSIZE;
    if (r->len == 0) {
        r->complete = 1;
        return 1;
    }
    if (r->into != NULL && r->len <= r->into_cap) {
        r->own = r->payload;
        r->own_cap = r->cap;
        r->payload = r->into;
        r->cap = r->len; /* never grown: it is full when the message is */
        r->borrowed = 1;
        r->into = NULL;
    }
    return 0;
}

size_t shoal_frame_reader_held(const shoal_frame_reader *r)
{
    return r->borrowed ? r->own_cap : r->cap;
}

size_t shoal_frame_reader_growth(const shoal_frame_reader *r)
{
    size_t want;

    if (r->header_got < SHOAL_FRAME_HEADER || r->got < r->cap)
        return 0;
    want = r->cap ? r->cap * 2 : FRAME_FIRST_ALLOC;
    if (want > r->len || want < r->cap)
        want = r->len;
    return want - r->cap;
}

/* Grows the payload buffer geometrically, never past the announced length:
 * into a kept buffer when one of that size is cached (the bytes so far
 * copied over, as realloc would), else by realloc. */
static int grow(shoal_frame_reader *r)
{
    size_t want = r->cap + shoal_frame_reader_growth(r);
    shoal_bufcache *cache = frame_cache_for(want);
    uint8_t *p;

    if (cache != NULL || frame_cache_for(r->cap) != NULL) {
        /* a cached buffer is never realloc'd: it goes back whole */
        if ((p = cache != NULL ? shoal_bufcache_get(cache) : malloc(want)) ==
            NULL)
            return SHOAL_ENOMEM;
        if (r->got > 0)
            memcpy(p, r->payload, r->got);
        payload_release(r->payload, r->cap);
    } else if ((p = realloc(r->payload, want)) == NULL) {
        return SHOAL_ENOMEM;
    }
    shoal_bigbuf_advise(p, want);
    r->payload = p;
    r->cap = want;
    return 0;
}

int shoal_frame_reader_prepare(shoal_frame_reader *r, uint8_t **buf,
                               size_t *cap)
{
    int rc;

    if (r->header_got < SHOAL_FRAME_HEADER) {
        *buf = r->header + r->header_got;
        *cap = SHOAL_FRAME_HEADER - r->header_got;
        return 0;
    }
    if (r->got == r->cap && (rc = grow(r)) < 0)
        return rc;
    *buf = r->payload + r->got;
    *cap = (r->cap < r->len ? r->cap : r->len) - r->got;
    return 0;
}

int shoal_frame_reader_commit(shoal_frame_reader *r, size_t n)
{
    if (r->header_got < SHOAL_FRAME_HEADER) {
        r->header_got += n;
        if (r->header_got < SHOAL_FRAME_HEADER)
            return 0;
        return header_done(r);
    }
    r->got += n;
    if (r->got < r->len)
        return 0;
    r->complete = 1;
    return 1;
}

int shoal_frame_reader_feed(shoal_frame_reader *r, const uint8_t *data,
                            size_t len, size_t *used)
{
    size_t off = 0;
    int rc = 0;

    while (off < len && !r->complete) {
        uint8_t *buf;
        size_t cap, n;

        if ((rc = shoal_frame_reader_prepare(r, &buf, &cap)) < 0)
            break;
        n = len - off < cap ? len - off : cap;
        memcpy(buf, data + off, n);
        off += n;
        if ((rc = shoal_frame_reader_commit(r, n)) != 0)
            break;
    }
    if (r->complete)
        rc = 1;
    *used = off;
    return rc;
}

void shoal_frame_reader_msg(const shoal_frame_reader *r, shoal_msg *out)
{
    memcpy(out->type, r->type, sizeof(out->type));
    out->data = r->payload != NULL ? r->payload : (const uint8_t *)"";
    out->len = r->len;
}

void shoal_frame_reader_next(shoal_frame_reader *r)
{
    unborrow(r);
    if (r->cap > FRAME_FIRST_ALLOC)
        shoal_frame_reader_free(r);
    r->header_got = 0;
    r->type[0] = '\0';
    r->len = 0;
    r->got = 0;
    r->complete = 0;
}

void shoal_frame_header_encode(uint8_t out[SHOAL_FRAME_HEADER],
                               const char *type, uint32_t len)
{
    size_t i;

    for (i = 0; i < 4 && type[i] != '\0'; i++)
        out[i] = (uint8_t)type[i];
    for (; i < 4; i++)
        out[i] = 0;
    out[4] = (uint8_t)(len >> 24);
    out[5] = (uint8_t)(len >> 16);
    out[6] = (uint8_t)(len >> 8);
    out[7] = (uint8_t)len;
}

int shoal_type_normalize(const char *type, char out[5])
{
    size_t i;

    if (type == NULL || type[0] == '\0')
        return SHOAL_EINVAL;
    for (i = 0; type[i] != '\0'; i++) {
        unsigned char c = (unsigned char)type[i];
        if (i == 4 || c <= ' ' || c > '~')
            return SHOAL_EINVAL;
        out[i] = (char)((c >= 'a' && c <= 'z') ? c - 32 : c);
    }
    out[i] = '\0';
    return 0;
}
