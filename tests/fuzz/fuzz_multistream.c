/* libFuzzer target: multistream-select (src/secure/multistream.c).
 *
 * Input layout:
 *   byte 0      control: bits 0-2 = k, the number of chunk-size bytes;
 *               bit 3 = the listener answers "ls";
 *               bits 4-5 = what reads the stream: 0 the message reader,
 *               1 a listener, 2 a dialer (3: a listener too)
 *   bytes 1..k  chunk sizes, used in turn for each call (0: all that is left)
 *   the rest    the byte stream, as it would arrive on a socket
 * So a seed "\x10" + stream feeds a listener the stream in one piece.
 *
 * Checks, whatever the input:
 *  - reader: each message it returns re-encodes to exactly the bytes it
 *    took (lengths are minimal, the text is one valid line), errors are
 *    EPROTO or EMSGSIZE, and it takes every byte offered unless a message
 *    ends first;
 *  - listener and dialer: fed in chunks they do exactly what they do fed
 *    the whole stream at once (same result, same bytes taken, same bytes
 *    written), they stop right after the message that ends the
 *    negotiation, and what they write is well-formed messages only: the
 *    header, "na", a list, or an echo of a protocol they know. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/varint.h"
#include "secure/multistream.h"
#include "shoal.h"

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "fuzz_multistream: %s:%d: check failed: %s\n", \
                    __FILE__, __LINE__, #cond);                            \
            abort();                                                       \
        }                                                                  \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const PROTOS[] = {"/noise", "/yamux/1.0.0",
                                     "/ipfs/id/1.0.0", "/x"};
#define NPROTOS (sizeof(PROTOS) / sizeof(PROTOS[0]))

typedef struct chunks {
    const uint8_t *sizes;
    size_t n, next;
} chunks;

static size_t next_chunk(chunks *c, size_t left)
{
    size_t k;

    if (c == NULL || c->n == 0)
        return left;
    k = c->sizes[c->next++ % c->n];
    return k == 0 || k > left ? left : k;
}

/* ----------------------------------------------------------------- reader */

static void run_reader(const uint8_t *s, size_t len, chunks *c)
{
    shoal_mss_reader r;
    shoal_outbuf enc;
    size_t off = 0, start = 0;

    shoal_mss_reader_init(&r);
    shoal_outbuf_init(&enc);
    while (off < len) {
        size_t k = next_chunk(c, len - off), used = (size_t)-1;
        int rc = shoal_mss_reader_feed(&r, s + off, k, &used);

        CHECK(used <= k);
        off += used;
        if (rc < 0) {
            CHECK(rc == SHOAL_EPROTO || rc == SHOAL_EMSGSIZE);
            break;
        }
        if (rc == 0) {
            CHECK(used == k);
            CHECK(!r.complete);
            continue;
        }
        CHECK(rc == SHOAL_MSS_MSG);
        CHECK(r.complete);
        CHECK(r.text_len >= 1 && r.text_len <= SHOAL_MSS_PROTO_MAX);
        CHECK(strlen(r.text) == r.text_len);
        /* what was taken is exactly the encoding of the text */
        shoal_outbuf_consume(&enc, enc.len);
        CHECK(shoal_mss_encode(&enc, r.text) == 0);
        CHECK(enc.len == off - start);
        CHECK(memcmp(enc.data, s + start, enc.len) == 0);
        shoal_mss_reader_next(&r);
        start = off;
    }
    shoal_outbuf_free(&enc);
}

/* ----------------------------------------------- listener and dialer */

typedef struct outcome {
    int rc;            /* last result */
    size_t used;       /* bytes taken in all */
    shoal_outbuf out;  /* bytes written, start() included */
    const char *proto;
} outcome;

static void run_listener(const uint8_t *s, size_t len, chunks *c, int ls,
                         outcome *o)
{
    shoal_mss_listener l;
    size_t off = 0;

    memset(o, 0, sizeof(*o));
    shoal_outbuf_init(&o->out);
    CHECK(shoal_mss_listener_init(&l, PROTOS, NPROTOS, ls) == 0);
    CHECK(shoal_mss_listener_start(&l, &o->out) == 0);
    while (off < len) {
        size_t k = next_chunk(c, len - off), used = (size_t)-1;

        o->rc = shoal_mss_listener_feed(&l, s + off, k, &used, &o->out);
        CHECK(used <= k);
        off += used;
        if (o->rc != 0)
            break;
        CHECK(used == k);
    }
    o->used = off;
    o->proto = shoal_mss_listener_protocol(&l);
    CHECK((o->rc == SHOAL_MSS_DONE) == (o->proto != NULL));
    if (o->rc != 0 && o->rc != SHOAL_MSS_DONE) {
        CHECK(o->rc == SHOAL_EPROTO || o->rc == SHOAL_EMSGSIZE);
        /* dead: everything is refused from now on */
        if (len) {
            size_t used;
            CHECK(shoal_mss_listener_feed(&l, s, len, &used, &o->out) ==
                  SHOAL_EBUSY);
        }
    }
}

static void run_dialer(const uint8_t *s, size_t len, chunks *c, outcome *o)
{
    shoal_mss_dialer d;
    size_t off = 0;

    memset(o, 0, sizeof(*o));
    shoal_outbuf_init(&o->out);
    CHECK(shoal_mss_dialer_init(&d, PROTOS, NPROTOS) == 0);
    CHECK(shoal_mss_dialer_start(&d, &o->out) == 0);
    while (off < len) {
        size_t k = next_chunk(c, len - off), used = (size_t)-1;

        o->rc = shoal_mss_dialer_feed(&d, s + off, k, &used, &o->out);
        CHECK(used <= k);
        off += used;
        if (o->rc != 0)
            break;
        CHECK(used == k);
    }
    o->used = off;
    o->proto = shoal_mss_dialer_protocol(&d);
    CHECK((o->rc == SHOAL_MSS_DONE) == (o->proto != NULL));
    if (o->rc < 0)
        CHECK(o->rc == SHOAL_EPROTO || o->rc == SHOAL_EMSGSIZE ||
              o->rc == SHOAL_ENOENT);
}

/* The listener's answer to "ls": one message holding one per protocol. */
static void list_bytes(shoal_outbuf *list)
{
    shoal_outbuf inner;
    uint8_t v[SHOAL_VARINT_MAX];
    size_t i, vn;

    shoal_outbuf_init(&inner);
    for (i = 0; i < NPROTOS; i++)
        CHECK(shoal_mss_encode(&inner, PROTOS[i]) == 0);
    vn = shoal_varint_encode(inner.len + 1, v);
    CHECK(shoal_outbuf_append(list, v, vn) == 0);
    CHECK(shoal_outbuf_append(list, inner.data, inner.len) == 0);
    CHECK(shoal_outbuf_append(list, "\n", 1) == 0);
    shoal_outbuf_free(&inner);
}

/* What a side wrote must be a sequence of valid messages. For the
 * listener: the header, then "na"s and lists, and an echo last when done.
 * For the dialer: the header, then proposals from its list, in order. */
static void check_output(const outcome *o, int listener, int ls)
{
    shoal_mss_reader r;
    shoal_outbuf list;
    size_t off = 0, used, nmsg = 0, next_proposal = 0;

    shoal_outbuf_init(&list);
    list_bytes(&list);
    shoal_mss_reader_init(&r);
    while (off < o->out.len) {
        int rc;

        if (listener && nmsg > 0 && o->out.len - off >= list.len &&
            memcmp(o->out.data + off, list.data, list.len) == 0) {
            CHECK(ls);
            off += list.len;
            continue;
        }
        rc = shoal_mss_reader_feed(&r, o->out.data + off, o->out.len - off,
                                   &used);
        off += used;
        CHECK(rc == SHOAL_MSS_MSG);
        if (nmsg == 0) {
            CHECK(strcmp(r.text, SHOAL_MSS_HEADER) == 0);
        } else if (!listener) {
            CHECK(next_proposal < NPROTOS);
            CHECK(strcmp(r.text, PROTOS[next_proposal]) == 0);
            next_proposal++;
        } else if (strcmp(r.text, "na") != 0) {
            /* an echo, which ends the negotiation */
            CHECK(off == o->out.len);
            CHECK(o->rc == SHOAL_MSS_DONE);
            CHECK(strcmp(r.text, o->proto) == 0);
        }
        nmsg++;
        shoal_mss_reader_next(&r);
    }
    if (!listener) {
        CHECK(next_proposal >= 1);
        if (o->rc == SHOAL_MSS_DONE)
            CHECK(strcmp(o->proto, PROTOS[next_proposal - 1]) == 0);
        if (o->rc == SHOAL_ENOENT)
            CHECK(next_proposal == NPROTOS);
    }
    shoal_outbuf_free(&list);
}

static void same(const outcome *a, const outcome *b)
{
    CHECK(a->rc == b->rc);
    CHECK(a->used == b->used);
    CHECK(a->out.len == b->out.len);
    CHECK(a->out.len == 0 || memcmp(a->out.data, b->out.data,
                                    a->out.len) == 0);
    CHECK(a->proto == b->proto);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    chunks c;
    const uint8_t *s;
    size_t k, len;
    uint8_t ctl;
    int mode, ls;
    outcome whole, split;

    if (size == 0)
        return 0;
    ctl = data[0];
    k = ctl & 7u;
    if (k > size - 1)
        k = size - 1;
    ls = (ctl >> 3) & 1;
    mode = (ctl >> 4) & 3;
    c.sizes = data + 1;
    c.n = k;
    c.next = 0;
    s = data + 1 + k;
    len = size - 1 - k;

    if (mode == 0) {
        run_reader(s, len, &c);
        return 0;
    }
    if (mode == 2) {
        run_dialer(s, len, NULL, &whole);
        run_dialer(s, len, &c, &split);
    } else {
        run_listener(s, len, NULL, ls, &whole);
        run_listener(s, len, &c, ls, &split);
    }
    same(&whole, &split);
    check_output(&whole, mode != 2, ls);
    shoal_outbuf_free(&whole.out);
    shoal_outbuf_free(&split.out);
    return 0;
}
