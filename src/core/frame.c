#include "core/frame.h"

#include <stdlib.h>
#include <string.h>

#include "core/bigbuf.h"
#include "shoal.h"

/* First payload allocation, and the largest buffer kept between messages. */
#define FRAME_FIRST_ALLOC (64 * 1024)

void shoal_frame_reader_init(shoal_frame_reader *r, size_t max_len)
{
    memset(r, 0, sizeof(*r));
    r->max_len = max_len;
}

void shoal_frame_reader_free(shoal_frame_reader *r)
{
    free(r->payload);
    r->payload = NULL;
    r->cap = 0;
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
    return 0;
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

/* Grows the payload buffer geometrically, never past the announced length. */
static int grow(shoal_frame_reader *r)
{
    size_t want = r->cap + shoal_frame_reader_growth(r);
    uint8_t *p;

    p = realloc(r->payload, want);
    if (p == NULL)
        return SHOAL_ENOMEM;
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
