/* libFuzzer target: the classic frame reader (src/core/frame.c).
 *
 * Input layout:
 *   byte 0      control: bits 0-2 = k, the number of chunk-size bytes;
 *               bit 6 = a small max_len (64) instead of 1 MiB;
 *               bit 7 = read through prepare/commit instead of feed
 *   bytes 1..k  chunk sizes, used in turn for each call (0: all that is left)
 *   the rest    the byte stream, as it would arrive on a socket
 * So a seed "\x00" + frame feeds the frame in one piece.
 *
 * The stream is read message after message (next() after each complete
 * one) until it ends or the reader reports an error, and every step is
 * checked against a plain re-parse of the same bytes: the type, length and
 * payload of each message, where each one ends, and what the reader holds
 * in memory (never more than the bytes received justify). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/frame.h"
#include "shoal.h"

#define KEEP_MAX (64 * 1024) /* frame.c: first allocation, largest kept */
#define BIG_MAX_LEN (1024 * 1024)
#define SMALL_MAX_LEN 64

/* Not assert(): release builds define NDEBUG. */
#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "fuzz_frame: %s:%d: check failed: %s\n",       \
                    __FILE__, __LINE__, #cond);                            \
            abort();                                                       \
        }                                                                  \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct run {
    const uint8_t *stream;
    size_t len;
    size_t off;        /* bytes handed to the reader so far */
    size_t msg_start;  /* where the current message begins */
    size_t max_len;
    const uint8_t *sizes;
    size_t nsizes, next_size;
    int messages;
} run;

static size_t be32(const uint8_t *p)
{
    return ((size_t)p[0] << 24) | ((size_t)p[1] << 16) | ((size_t)p[2] << 8) |
           (size_t)p[3];
}

/* How many bytes the next call gets. */
static size_t next_chunk(run *st)
{
    size_t left = st->len - st->off, n;

    if (st->nsizes == 0)
        return left;
    n = st->sizes[st->next_size++ % st->nsizes];
    return n == 0 || n > left ? left : n;
}

/* What holds after every call, whatever the input. */
static void check_state(const run *st, const shoal_frame_reader *r)
{
    size_t i, since = st->off - st->msg_start;

    CHECK(r->header_got <= SHOAL_FRAME_HEADER);
    CHECK((r->payload == NULL) == (r->cap == 0));
    CHECK(r->cap <= (r->len > KEEP_MAX ? r->len : KEEP_MAX));
    if (r->header_got < SHOAL_FRAME_HEADER) {
        CHECK(!r->complete);
        CHECK(r->got == 0);
        CHECK(r->header_got == since);
        return;
    }
    CHECK(r->got <= r->len);
    CHECK(r->got == since - SHOAL_FRAME_HEADER);
    CHECK(r->complete == (r->got == r->len));
    /* memory follows the bytes received, not the length announced */
    CHECK(r->cap <= KEEP_MAX || r->cap <= 2 * r->got);
    for (i = 0; i < 5 && r->type[i] != '\0'; i++)
        CHECK(!(r->type[i] >= 'a' && r->type[i] <= 'z'));
    CHECK(i <= 4);
}

/* The header is in: length over the limit must be what the reader said. */
static void check_error(const run *st, const shoal_frame_reader *r, int rc)
{
    const uint8_t *h = st->stream + st->msg_start;

    CHECK(rc == SHOAL_EMSGSIZE);
    CHECK(st->off == st->msg_start + SHOAL_FRAME_HEADER);
    CHECK(be32(h + 4) > st->max_len);
    CHECK(r->len == be32(h + 4));
    CHECK(!r->complete);
    CHECK(r->cap <= KEEP_MAX);
}

/* A complete message must be exactly the bytes of the stream. */
static void check_message(run *st, const shoal_frame_reader *r)
{
    const uint8_t *h = st->stream + st->msg_start;
    size_t len = be32(h + 4), i;
    char type[5] = {0};

    CHECK(r->complete);
    CHECK(len <= st->max_len);
    CHECK(r->len == len);
    CHECK(r->got == len);
    CHECK(st->off == st->msg_start + SHOAL_FRAME_HEADER + len);
    for (i = 0; i < 4 && h[i] != 0; i++)
        type[i] = (char)(h[i] >= 'a' && h[i] <= 'z' ? h[i] - 32 : h[i]);
    CHECK(memcmp(r->type, type, sizeof(type)) == 0); /* NUL-padded */
    if (len != 0) {
        CHECK(r->payload != NULL);
        CHECK(memcmp(r->payload, h + SHOAL_FRAME_HEADER, len) == 0);
    }
    st->messages++;
}

static void done_message(run *st, shoal_frame_reader *r)
{
    size_t cap = r->cap;
    uint8_t *kept = r->payload;

    check_message(st, r);
    shoal_frame_reader_next(r);
    CHECK(!r->complete && r->header_got == 0 && r->got == 0);
    if (cap > KEEP_MAX)
        CHECK(r->payload == NULL && r->cap == 0);
    else
        CHECK(r->payload == kept && r->cap == cap);
    st->msg_start = st->off;
}

static void read_by_feed(run *st, shoal_frame_reader *r)
{
    while (st->off < st->len) {
        size_t n = next_chunk(st), used = (size_t)-1;
        int rc = shoal_frame_reader_feed(r, st->stream + st->off, n, &used);

        CHECK(used <= n);
        st->off += used;
        if (rc < 0) {
            check_error(st, r, rc);
            return;
        }
        CHECK(rc == 0 || rc == 1);
        if (rc == 0)
            CHECK(used == n); /* it only stops early at a message's end */
        check_state(st, r);
        if (rc == 1)
            done_message(st, r);
    }
}

static void read_by_prepare(run *st, shoal_frame_reader *r)
{
    while (st->off < st->len) {
        uint8_t *buf = NULL;
        size_t cap = 0, n = next_chunk(st);
        int rc = shoal_frame_reader_prepare(r, &buf, &cap);

        CHECK(rc == 0);
        CHECK(buf != NULL && cap > 0);
        if (r->header_got < SHOAL_FRAME_HEADER) {
            CHECK(buf == r->header + r->header_got);
            CHECK(cap == SHOAL_FRAME_HEADER - r->header_got);
        } else {
            /* inside the payload buffer, and only this message's bytes */
            CHECK(buf == r->payload + r->got);
            CHECK(r->got + cap <= r->cap);
            CHECK(r->got + cap <= r->len);
        }
        if (n > cap)
            n = cap;
        memcpy(buf, st->stream + st->off, n);
        st->off += n;
        rc = shoal_frame_reader_commit(r, n);
        if (rc < 0) {
            check_error(st, r, rc);
            return;
        }
        CHECK(rc == 0 || rc == 1);
        check_state(st, r);
        if (rc == 1)
            done_message(st, r);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    shoal_frame_reader r;
    run st;
    size_t k;
    uint8_t ctl;

    if (size == 0)
        return 0;
    ctl = data[0];
    k = ctl & 7u;
    if (k > size - 1)
        k = size - 1;
    memset(&st, 0, sizeof(st));
    st.sizes = data + 1;
    st.nsizes = k;
    st.stream = data + 1 + k;
    st.len = size - 1 - k;
    st.max_len = (ctl & 0x40) ? SMALL_MAX_LEN : BIG_MAX_LEN;

    shoal_frame_reader_init(&r, st.max_len);
    if (ctl & 0x80)
        read_by_prepare(&st, &r);
    else
        read_by_feed(&st, &r);
    shoal_frame_reader_free(&r);
    CHECK(r.payload == NULL && r.cap == 0);
    return 0;
}
