/* multistream-select 1.0 (see multistream.h). */
#include "secure/multistream.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/varint.h"
#include "shoal.h"

enum {
    ST_NEW = 0,      /* start() not called yet */
    ST_HEADER,       /* waiting for the remote's header */
    ST_BODY,         /* dialer: waiting for an answer; listener: a proposal */
    ST_DONE,
    ST_FAILED,
};

static const char NA[] = "na";
static const char LS[] = "ls";

/* ------------------------------------------------------------ out buffer */

void shoal_outbuf_init(shoal_outbuf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void shoal_outbuf_free(shoal_outbuf *b)
{
    free(b->data);
    shoal_outbuf_init(b);
}

int shoal_outbuf_reserve(shoal_outbuf *b, size_t n)
{
    size_t want, cap;
    uint8_t *grown;

    /* no object may be larger than PTRDIFF_MAX bytes */
    if (n > (size_t)PTRDIFF_MAX - b->len)
        return SHOAL_ENOMEM;
    want = b->len + n;
    if (want <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 256;
    while (cap < want)
        cap = cap > (size_t)PTRDIFF_MAX / 2 ? want : cap * 2;
    grown = realloc(b->data, cap);
    if (grown == NULL)
        return SHOAL_ENOMEM;
    b->data = grown;
    b->cap = cap;
    return 0;
}

int shoal_outbuf_append(shoal_outbuf *b, const void *p, size_t n)
{
    int rc;

    if (n == 0)
        return 0;
    rc = shoal_outbuf_reserve(b, n);
    if (rc < 0)
        return rc;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

void shoal_outbuf_consume(shoal_outbuf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

/* -------------------------------------------------------------- messages */

/* Whether s[0..n) is well-formed UTF-8 (no overlong forms, no surrogates,
 * nothing past U+10FFFF). */
static int utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        uint8_t c = s[i];
        size_t k, need;
        uint32_t cp;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (n - i - 1 < need)
            return 0;
        for (k = 1; k <= need; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((need == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (need == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return 0;
        i += need + 1;
    }
    return 1;
}

/* A protocol id we may send: 1..PROTO_MAX bytes of UTF-8, no newline (nor
 * NUL, which a C string cannot hold anyway). */
static int text_ok(const char *text, size_t *len)
{
    size_t n;

    if (text == NULL)
        return 0;
    n = strnlen(text, SHOAL_MSS_PROTO_MAX + 1);
    if (n == 0 || n > SHOAL_MSS_PROTO_MAX)
        return 0;
    if (memchr(text, '\n', n) != NULL)
        return 0;
    if (!utf8_valid((const uint8_t *)text, n))
        return 0;
    *len = n;
    return 1;
}

/* Appends varint(n + 1), p[0..n), '\n' with no checks on the content. */
static int encode_raw(shoal_outbuf *out, const void *p, size_t n)
{
    uint8_t v[SHOAL_VARINT_MAX];
    size_t vn = shoal_varint_encode((uint64_t)n + 1, v);
    int rc = shoal_outbuf_reserve(out, vn + n + 1);

    if (rc < 0)
        return rc;
    memcpy(out->data + out->len, v, vn);
    if (n)
        memcpy(out->data + out->len + vn, p, n);
    out->data[out->len + vn + n] = '\n';
    out->len += vn + n + 1;
    return 0;
}

int shoal_mss_encode(shoal_outbuf *out, const char *text)
{
    size_t n;

    if (out == NULL || !text_ok(text, &n))
        return SHOAL_EINVAL;
    return encode_raw(out, text, n);
}

void shoal_mss_reader_init(shoal_mss_reader *r)
{
    r->varint_got = 0;
    r->len = 0;
    r->got = 0;
    r->complete = 0;
    r->text_len = 0;
    r->text[0] = '\0';
}

void shoal_mss_reader_next(shoal_mss_reader *r)
{
    shoal_mss_reader_init(r);
}

/* The whole message is in r->text[0..len): check it. */
static int reader_finish(shoal_mss_reader *r)
{
    size_t n = r->len - 1;

    if (r->text[n] != '\n')
        return SHOAL_EPROTO;
    if (n == 0)
        return SHOAL_EPROTO; /* empty text */
    if (memchr(r->text, '\n', n) != NULL || memchr(r->text, '\0', n) != NULL)
        return SHOAL_EPROTO;
    if (!utf8_valid((const uint8_t *)r->text, n))
        return SHOAL_EPROTO;
    r->text[n] = '\0';
    r->text_len = n;
    r->complete = 1;
    return SHOAL_MSS_MSG;
}

int shoal_mss_reader_feed(shoal_mss_reader *r, const uint8_t *in, size_t len,
                          size_t *used)
{
    size_t off = 0;

    *used = 0;
    if (r->complete)
        return SHOAL_EBUSY;
    /* the length varint, a byte at a time */
    while (r->len == 0) {
        uint64_t v = 0;
        int rc;

        if (off == len) {
            *used = off;
            return 0;
        }
        r->varint[r->varint_got++] = in[off++];
        if (r->varint[r->varint_got - 1] & 0x80) {
            if (r->varint_got == SHOAL_VARINT_MAX) {
                *used = off;
                return SHOAL_EPROTO;
            }
            continue;
        }
        rc = shoal_varint_decode(r->varint, r->varint_got, &v);
        *used = off;
        if (rc < 0)
            return SHOAL_EPROTO; /* not minimal */
        if (v == 0)
            return SHOAL_EPROTO; /* an empty message: not even a newline */
        if (v > SHOAL_MSS_MSG_MAX)
            return SHOAL_EMSGSIZE;
        r->len = (size_t)v;
    }
    /* the message */
    {
        size_t want = r->len - r->got, n = len - off < want ? len - off : want;

        memcpy(r->text + r->got, in + off, n);
        r->got += n;
        off += n;
        *used = off;
        if (r->got < r->len)
            return 0;
    }
    return reader_finish(r);
}

/* --------------------------------------------------------------- dialer */

static int reserved_id(const char *p)
{
    return strcmp(p, NA) == 0 || strcmp(p, LS) == 0 ||
           strcmp(p, SHOAL_MSS_HEADER) == 0;
}

int shoal_mss_dialer_init(shoal_mss_dialer *d, const char *const *protocols,
                          size_t count)
{
    size_t i, n;

    memset(d, 0, sizeof(*d));
    d->state = ST_FAILED;
    if (protocols == NULL || count == 0)
        return SHOAL_EINVAL;
    for (i = 0; i < count; i++)
        if (!text_ok(protocols[i], &n) || reserved_id(protocols[i]))
            return SHOAL_EINVAL;
    shoal_mss_reader_init(&d->r);
    d->protocols = protocols;
    d->count = count;
    d->current = 0;
    d->state = ST_NEW;
    return 0;
}

int shoal_mss_dialer_start(shoal_mss_dialer *d, shoal_outbuf *out)
{
    size_t before = out->len;
    int rc;

    if (d->state != ST_NEW)
        return SHOAL_EBUSY;
    rc = shoal_mss_encode(out, SHOAL_MSS_HEADER);
    if (rc == 0)
        rc = shoal_mss_encode(out, d->protocols[0]);
    if (rc < 0) {
        out->len = before; /* all or nothing */
        return rc;
    }
    d->state = ST_HEADER;
    return 0;
}

/* One complete message from the listener. */
static int dialer_message(shoal_mss_dialer *d, shoal_outbuf *out)
{
    const char *text = d->r.text;

    if (d->state == ST_HEADER) {
        if (strcmp(text, SHOAL_MSS_HEADER) != 0)
            return SHOAL_EPROTO;
        d->state = ST_BODY;
        return 0;
    }
    if (strcmp(text, d->protocols[d->current]) == 0) {
        d->state = ST_DONE;
        return SHOAL_MSS_DONE;
    }
    if (strcmp(text, NA) != 0)
        return SHOAL_EPROTO;
    if (d->current + 1 == d->count)
        return SHOAL_ENOENT;
    d->current++;
    return shoal_mss_encode(out, d->protocols[d->current]);
}

int shoal_mss_dialer_feed(shoal_mss_dialer *d, const uint8_t *in, size_t len,
                          size_t *used, shoal_outbuf *out)
{
    size_t off = 0;

    *used = 0;
    if (d->state != ST_HEADER && d->state != ST_BODY)
        return SHOAL_EBUSY;
    while (off < len) {
        size_t n = 0;
        int rc = shoal_mss_reader_feed(&d->r, in + off, len - off, &n);

        off += n;
        *used = off;
        if (rc == 0)
            break;
        if (rc > 0) {
            rc = dialer_message(d, out);
            shoal_mss_reader_next(&d->r);
        }
        if (rc < 0) {
            d->state = ST_FAILED;
            return rc;
        }
        if (rc == SHOAL_MSS_DONE)
            return SHOAL_MSS_DONE;
    }
    return 0;
}

const char *shoal_mss_dialer_protocol(const shoal_mss_dialer *d)
{
    return d->state == ST_DONE ? d->protocols[d->current] : NULL;
}

/* ------------------------------------------------------------- listener */

int shoal_mss_listener_init(shoal_mss_listener *l,
                            const char *const *protocols, size_t count,
                            int allow_ls)
{
    size_t i, n;

    memset(l, 0, sizeof(*l));
    l->state = ST_FAILED;
    if (count > 0 && protocols == NULL)
        return SHOAL_EINVAL;
    for (i = 0; i < count; i++)
        if (!text_ok(protocols[i], &n) || reserved_id(protocols[i]))
            return SHOAL_EINVAL;
    shoal_mss_reader_init(&l->r);
    l->protocols = protocols;
    l->count = count;
    l->allow_ls = allow_ls != 0;
    l->state = ST_NEW;
    return 0;
}

int shoal_mss_listener_start(shoal_mss_listener *l, shoal_outbuf *out)
{
    int rc;

    if (l->state != ST_NEW)
        return SHOAL_EBUSY;
    rc = shoal_mss_encode(out, SHOAL_MSS_HEADER);
    if (rc == 0)
        l->state = ST_HEADER;
    return rc;
}

/* The "ls" answer: one message holding a message per protocol. */
static int write_list(const shoal_mss_listener *l, shoal_outbuf *out)
{
    shoal_outbuf inner;
    size_t i;
    int rc = 0;

    shoal_outbuf_init(&inner);
    for (i = 0; i < l->count && rc == 0; i++)
        rc = shoal_mss_encode(&inner, l->protocols[i]);
    if (rc == 0)
        rc = encode_raw(out, inner.data, inner.len);
    shoal_outbuf_free(&inner);
    return rc;
}

/* One complete message from the dialer. */
static int listener_message(shoal_mss_listener *l, shoal_outbuf *out)
{
    const char *text = l->r.text;
    size_t i;

    if (l->state == ST_HEADER) {
        if (strcmp(text, SHOAL_MSS_HEADER) != 0)
            return SHOAL_EPROTO;
        l->state = ST_BODY;
        return 0;
    }
    if (++l->rounds > SHOAL_MSS_MAX_ROUNDS)
        return SHOAL_EPROTO;
    for (i = 0; i < l->count; i++) {
        if (strcmp(text, l->protocols[i]) == 0) {
            int rc = encode_raw(out, text, l->r.text_len);
            if (rc < 0)
                return rc;
            l->selected = i;
            l->state = ST_DONE;
            return SHOAL_MSS_DONE;
        }
    }
    if (l->allow_ls && strcmp(text, LS) == 0)
        return write_list(l, out);
    return encode_raw(out, NA, sizeof(NA) - 1);
}

int shoal_mss_listener_feed(shoal_mss_listener *l, const uint8_t *in,
                            size_t len, size_t *used, shoal_outbuf *out)
{
    size_t off = 0;

    *used = 0;
    if (l->state != ST_HEADER && l->state != ST_BODY)
        return SHOAL_EBUSY;
    while (off < len) {
        size_t n = 0;
        int rc = shoal_mss_reader_feed(&l->r, in + off, len - off, &n);

        off += n;
        *used = off;
        if (rc == 0)
            break;
        if (rc > 0) {
            rc = listener_message(l, out);
            shoal_mss_reader_next(&l->r);
        }
        if (rc < 0) {
            l->state = ST_FAILED;
            return rc;
        }
        if (rc == SHOAL_MSS_DONE)
            return SHOAL_MSS_DONE;
    }
    return 0;
}

const char *shoal_mss_listener_protocol(const shoal_mss_listener *l)
{
    return l->state == ST_DONE ? l->protocols[l->selected] : NULL;
}
