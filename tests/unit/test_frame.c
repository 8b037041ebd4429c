/* The classic frame reader and writer (src/core/frame.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/frame.h"
#include "shoal.h"

#define FIRST_ALLOC (64 * 1024) /* frame.c's first and largest kept buffer */

/* Writes header + payload to out; returns the total length. */
static size_t make_msg(uint8_t *out, const char *type, const void *payload,
                       size_t len)
{
    shoal_frame_header_encode(out, type, (uint32_t)len);
    if (len)
        memcpy(out + SHOAL_FRAME_HEADER, payload, len);
    return SHOAL_FRAME_HEADER + len;
}

static void assert_msg(const shoal_frame_reader *r, const char *type,
                       const void *payload, size_t len)
{
    assert_true(r->complete);
    assert_string_equal(r->type, type);
    assert_int_equal(r->len, len);
    assert_int_equal(r->got, len);
    if (len) {
        assert_non_null(r->payload);
        assert_memory_equal(r->payload, payload, len);
    }
}

static const char payload_text[] = "peer-1 127.0.0.1 9000";

/* --------------------------------------------------------------- splitting */

static void test_feed_every_chunk_size(void **state)
{
    uint8_t wire[64];
    size_t n = make_msg(wire, "JOIN", payload_text, strlen(payload_text));
    size_t chunk;

    (void)state;
    for (chunk = 1; chunk <= n; chunk++) {
        shoal_frame_reader r;
        size_t off = 0;
        int rc = 0;

        shoal_frame_reader_init(&r, 1024);
        while (off < n) {
            size_t want = n - off < chunk ? n - off : chunk, used = 0;
            rc = shoal_frame_reader_feed(&r, wire + off, want, &used);
            assert_int_equal(used, want);
            off += used;
            assert_int_equal(rc, off == n ? 1 : 0);
            assert_int_equal(r.complete, off == n);
        }
        assert_msg(&r, "JOIN", payload_text, strlen(payload_text));
        shoal_frame_reader_free(&r);
    }
}

static void test_feed_every_two_part_split(void **state)
{
    uint8_t wire[64];
    size_t n = make_msg(wire, "JOIN", payload_text, strlen(payload_text));
    size_t split;

    (void)state;
    for (split = 0; split <= n; split++) {
        shoal_frame_reader r;
        size_t used = 99;
        int rc;

        shoal_frame_reader_init(&r, 1024);
        rc = shoal_frame_reader_feed(&r, wire, split, &used);
        assert_int_equal(used, split);
        assert_int_equal(rc, split == n ? 1 : 0);
        if (split < n) {
            assert_false(r.complete);
            rc = shoal_frame_reader_feed(&r, wire + split, n - split, &used);
            assert_int_equal(rc, 1);
            assert_int_equal(used, n - split);
        }
        assert_msg(&r, "JOIN", payload_text, strlen(payload_text));
        shoal_frame_reader_free(&r);
    }
}

/* prepare/commit, writing at most `step` bytes each time (0: all offered). */
static void read_by_prepare(shoal_frame_reader *r, const uint8_t *wire,
                            size_t n, size_t step)
{
    size_t off = 0;

    while (off < n) {
        uint8_t *buf = NULL;
        size_t cap = 0, take;
        int rc;

        assert_false(r->complete);
        assert_int_equal(shoal_frame_reader_prepare(r, &buf, &cap), 0);
        assert_non_null(buf);
        assert_true(cap > 0);
        /* Only this message's bytes are asked for. */
        assert_true(cap <= n - off);
        take = step != 0 && step < cap ? step : cap;
        memcpy(buf, wire + off, take);
        off += take;
        rc = shoal_frame_reader_commit(r, take);
        assert_int_equal(rc, off == n ? 1 : 0);
    }
}

static void test_prepare_commit_splits(void **state)
{
    uint8_t wire[64];
    size_t n = make_msg(wire, "JOIN", payload_text, strlen(payload_text));
    size_t step;

    (void)state;
    for (step = 0; step <= n; step++) {
        shoal_frame_reader r;

        shoal_frame_reader_init(&r, 1024);
        read_by_prepare(&r, wire, n, step);
        assert_msg(&r, "JOIN", payload_text, strlen(payload_text));
        shoal_frame_reader_free(&r);
    }
}

static void test_prepare_commit_large_payload(void **state)
{
    size_t len = 3 * FIRST_ALLOC + 17;
    uint8_t *wire = malloc(SHOAL_FRAME_HEADER + len);
    uint8_t *payload = malloc(len);
    shoal_frame_reader r;
    size_t i, n;

    (void)state;
    assert_non_null(wire);
    assert_non_null(payload);
    for (i = 0; i < len; i++)
        payload[i] = (uint8_t)(i * 7 + 3);
    n = make_msg(wire, "FGET", payload, len);
    shoal_frame_reader_init(&r, len);
    read_by_prepare(&r, wire, n, 0);
    assert_msg(&r, "FGET", payload, len);
    assert_int_equal(r.cap, len); /* grown to the length, not beyond */
    shoal_frame_reader_free(&r);
    free(wire);
    free(payload);
}

/* ------------------------------------------------------------ back to back */

static void test_back_to_back(void **state)
{
    uint8_t wire[256];
    size_t ends[4], n = 0;
    shoal_frame_reader r;
    size_t off = 0;
    int i;

    (void)state;
    n += make_msg(wire + n, "NAME", NULL, 0);
    ends[0] = n;
    n += make_msg(wire + n, "join", payload_text, strlen(payload_text));
    ends[1] = n;
    n += make_msg(wire + n, "REPL", "x", 1);
    ends[2] = n;
    n += make_msg(wire + n, "PING", NULL, 0);
    ends[3] = n;

    shoal_frame_reader_init(&r, 1024);
    for (i = 0; i < 4; i++) {
        size_t used = 0;
        int rc = shoal_frame_reader_feed(&r, wire + off, n - off, &used);
        assert_int_equal(rc, 1);
        /* feed stops exactly at the end of the message */
        assert_int_equal(off + used, ends[i]);
        off += used;
        switch (i) {
        case 0: assert_msg(&r, "NAME", NULL, 0); break;
        case 1:
            assert_msg(&r, "JOIN", payload_text, strlen(payload_text));
            break;
        case 2: assert_msg(&r, "REPL", "x", 1); break;
        case 3: assert_msg(&r, "PING", NULL, 0); break;
        }
        /* a complete reader takes nothing more until next() */
        rc = shoal_frame_reader_feed(&r, wire, n, &used);
        assert_int_equal(rc, 1);
        assert_int_equal(used, 0);
        shoal_frame_reader_next(&r);
        assert_false(r.complete);
        assert_int_equal(r.header_got, 0);
    }
    assert_int_equal(off, n);
    shoal_frame_reader_free(&r);
}

/* Back-to-back messages fed one byte at a time. */
static void test_back_to_back_bytewise(void **state)
{
    uint8_t wire[256];
    size_t n = 0, off;
    shoal_frame_reader r;
    int got = 0;

    (void)state;
    n += make_msg(wire + n, "AAAA", "1", 1);
    n += make_msg(wire + n, "BB", NULL, 0);
    n += make_msg(wire + n, "CCC", "333", 3);
    shoal_frame_reader_init(&r, 16);
    for (off = 0; off < n; off++) {
        size_t used = 0;
        int rc = shoal_frame_reader_feed(&r, wire + off, 1, &used);
        assert_int_equal(used, 1);
        assert_true(rc == 0 || rc == 1);
        if (rc == 1) {
            static const char *const types[] = {"AAAA", "BB", "CCC"};
            static const size_t lens[] = {1, 0, 3};
            assert_string_equal(r.type, types[got]);
            assert_int_equal(r.len, lens[got]);
            got++;
            shoal_frame_reader_next(&r);
        }
    }
    assert_int_equal(got, 3);
    shoal_frame_reader_free(&r);
}

/* ----------------------------------------------------------- edge payloads */

static void test_zero_length(void **state)
{
    uint8_t wire[SHOAL_FRAME_HEADER + 4];
    shoal_frame_reader r;
    size_t used = 0;

    (void)state;
    make_msg(wire, "NAME", NULL, 0);
    memcpy(wire + SHOAL_FRAME_HEADER, "junk", 4); /* the next message */
    shoal_frame_reader_init(&r, 1024);
    assert_int_equal(shoal_frame_reader_feed(&r, wire, sizeof(wire), &used), 1);
    assert_int_equal(used, SHOAL_FRAME_HEADER);
    assert_msg(&r, "NAME", NULL, 0);
    assert_null(r.payload); /* nothing allocated for an empty payload */
    shoal_frame_reader_free(&r);

    /* the same through prepare/commit */
    shoal_frame_reader_init(&r, 1024);
    read_by_prepare(&r, wire, SHOAL_FRAME_HEADER, 0);
    assert_msg(&r, "NAME", NULL, 0);
    shoal_frame_reader_free(&r);
}

static void check_type(const uint8_t raw[4], const char *want)
{
    uint8_t wire[SHOAL_FRAME_HEADER] = {0};
    shoal_frame_reader r;
    size_t used;

    memcpy(wire, raw, 4);
    shoal_frame_reader_init(&r, 1024);
    assert_int_equal(shoal_frame_reader_feed(&r, wire, sizeof(wire), &used), 1);
    assert_string_equal(r.type, want);
    shoal_frame_reader_free(&r);
}

static void test_type_upper_and_padding(void **state)
{
    (void)state;
    check_type((const uint8_t *)"ping", "PING");
    check_type((const uint8_t *)"NaMe", "NAME");
    check_type((const uint8_t *)"AB\0\0", "AB");
    check_type((const uint8_t *)"ab\0\0", "AB");
    check_type((const uint8_t *)"q\0\0\0", "Q");
    check_type((const uint8_t *)"\0\0\0\0", "");
    check_type((const uint8_t *)"A\0BC", "A"); /* stops at the first NUL */
    check_type((const uint8_t *)"a1_z", "A1_Z");
}

/* The type is NUL-padded to all five bytes, also after a longer type was
 * read before (the node looks handlers up by comparing all five). */
static void test_type_padded_after_next(void **state)
{
    uint8_t wire[SHOAL_FRAME_HEADER];
    shoal_frame_reader r;
    size_t used;

    (void)state;
    shoal_frame_reader_init(&r, 1024);
    make_msg(wire, "PING", NULL, 0);
    assert_int_equal(shoal_frame_reader_feed(&r, wire, sizeof(wire), &used), 1);
    assert_memory_equal(r.type, "PING\0", 5);
    shoal_frame_reader_next(&r);
    make_msg(wire, "ab", NULL, 0);
    assert_int_equal(shoal_frame_reader_feed(&r, wire, sizeof(wire), &used), 1);
    assert_memory_equal(r.type, "AB\0\0\0", 5);
    shoal_frame_reader_next(&r);
    memcpy(wire, "Q\0ZZ", 4);
    assert_int_equal(shoal_frame_reader_feed(&r, wire, sizeof(wire), &used), 1);
    assert_memory_equal(r.type, "Q\0\0\0\0", 5);
    shoal_frame_reader_free(&r);
}

static void test_max_len(void **state)
{
    enum { MAX = 100 };
    uint8_t wire[SHOAL_FRAME_HEADER + MAX + 1];
    uint8_t payload[MAX + 1];
    shoal_frame_reader r;
    size_t used, n;

    (void)state;
    memset(payload, 'p', sizeof(payload));

    /* exactly max_len: accepted */
    n = make_msg(wire, "FGET", payload, MAX);
    shoal_frame_reader_init(&r, MAX);
    assert_int_equal(shoal_frame_reader_feed(&r, wire, n, &used), 1);
    assert_int_equal(used, n);
    assert_msg(&r, "FGET", payload, MAX);
    shoal_frame_reader_free(&r);

    /* max_len + 1: rejected once the header is in, nothing allocated */
    n = make_msg(wire, "FGET", payload, MAX + 1);
    shoal_frame_reader_init(&r, MAX);
    assert_int_equal(shoal_frame_reader_feed(&r, wire, n, &used),
                     SHOAL_EMSGSIZE);
    assert_int_equal(used, SHOAL_FRAME_HEADER);
    assert_false(r.complete);
    assert_null(r.payload);
    shoal_frame_reader_free(&r);

    /* the same through commit, header split in two */
    shoal_frame_reader_init(&r, MAX);
    {
        uint8_t *buf;
        size_t cap;
        assert_int_equal(shoal_frame_reader_prepare(&r, &buf, &cap), 0);
        assert_int_equal(cap, SHOAL_FRAME_HEADER);
        memcpy(buf, wire, 3);
        assert_int_equal(shoal_frame_reader_commit(&r, 3), 0);
        assert_int_equal(shoal_frame_reader_prepare(&r, &buf, &cap), 0);
        assert_int_equal(cap, SHOAL_FRAME_HEADER - 3);
        memcpy(buf, wire + 3, cap);
        assert_int_equal(shoal_frame_reader_commit(&r, cap), SHOAL_EMSGSIZE);
    }
    shoal_frame_reader_free(&r);
}

/* A header announcing 4 GiB - 1 must not make the reader allocate it. */
static void test_huge_announced_length(void **state)
{
    uint8_t wire[SHOAL_FRAME_HEADER + 16];
    shoal_frame_reader r;
    size_t used;

    (void)state;
    shoal_frame_header_encode(wire, "FGET", 0xFFFFFFFFu);
    memset(wire + SHOAL_FRAME_HEADER, 'x', 16);

    shoal_frame_reader_init(&r, SIZE_MAX);
    assert_int_equal(shoal_frame_reader_feed(&r, wire, sizeof(wire), &used),
                     0);
    assert_int_equal(used, sizeof(wire));
    assert_int_equal(r.len, 0xFFFFFFFFu);
    assert_int_equal(r.got, 16);
    assert_false(r.complete);
    assert_true(r.cap <= FIRST_ALLOC);
    shoal_frame_reader_free(&r);

    /* and through prepare: the space offered is bounded too */
    shoal_frame_reader_init(&r, SIZE_MAX);
    {
        uint8_t *buf;
        size_t cap;
        assert_int_equal(shoal_frame_reader_feed(&r, wire, 8, &used), 0);
        assert_int_equal(shoal_frame_reader_prepare(&r, &buf, &cap), 0);
        assert_true(cap > 0);
        assert_true(cap <= FIRST_ALLOC);
        assert_true(r.cap <= FIRST_ALLOC);
    }
    shoal_frame_reader_free(&r);

    /* with the default-sized limit it is simply refused */
    shoal_frame_reader_init(&r, 16u * 1024 * 1024);
    assert_int_equal(shoal_frame_reader_feed(&r, wire, sizeof(wire), &used),
                     SHOAL_EMSGSIZE);
    assert_null(r.payload);
    shoal_frame_reader_free(&r);
}

/* Memory follows the bytes that arrived: feeding a big message in pieces
 * never allocates more than twice what was received (or the first block). */
static void test_growth_follows_data(void **state)
{
    size_t len = 1u << 20, off = 0;
    uint8_t *chunk = calloc(1, 4096);
    uint8_t hdr[SHOAL_FRAME_HEADER];
    shoal_frame_reader r;
    size_t used;

    (void)state;
    assert_non_null(chunk);
    shoal_frame_header_encode(hdr, "FGET", (uint32_t)len);
    shoal_frame_reader_init(&r, len);
    assert_int_equal(shoal_frame_reader_feed(&r, hdr, sizeof(hdr), &used), 0);
    while (off < len) {
        int rc = shoal_frame_reader_feed(&r, chunk, 4096, &used);
        off += used;
        assert_int_equal(rc, off == len ? 1 : 0);
        assert_true(r.cap <= len);
        assert_true(r.cap <= FIRST_ALLOC || r.cap <= 2 * r.got);
    }
    assert_true(r.complete);
    shoal_frame_reader_free(&r);
    free(chunk);
}

static void test_truncated(void **state)
{
    uint8_t wire[64];
    size_t n = make_msg(wire, "JOIN", payload_text, strlen(payload_text));
    shoal_frame_reader r;
    size_t used;

    (void)state;
    /* truncated header */
    shoal_frame_reader_init(&r, 1024);
    assert_int_equal(shoal_frame_reader_feed(&r, wire, 5, &used), 0);
    assert_int_equal(used, 5);
    assert_int_equal(r.header_got, 5);
    assert_false(r.complete);
    assert_null(r.payload);
    shoal_frame_reader_free(&r);

    /* truncated payload */
    shoal_frame_reader_init(&r, 1024);
    assert_int_equal(shoal_frame_reader_feed(&r, wire, n - 1, &used), 0);
    assert_int_equal(used, n - 1);
    assert_false(r.complete);
    assert_int_equal(r.got, r.len - 1);
    /* the last byte completes it */
    assert_int_equal(shoal_frame_reader_feed(&r, wire + n - 1, 1, &used), 1);
    assert_msg(&r, "JOIN", payload_text, strlen(payload_text));
    shoal_frame_reader_free(&r);

    /* feeding nothing changes nothing */
    shoal_frame_reader_init(&r, 1024);
    assert_int_equal(shoal_frame_reader_feed(&r, wire, 0, &used), 0);
    assert_int_equal(used, 0);
    assert_int_equal(r.header_got, 0);
    shoal_frame_reader_free(&r);
}

static void test_next_keeps_small_frees_large(void **state)
{
    size_t big = FIRST_ALLOC + 1; /* just over what next() keeps */
    uint8_t *wire = malloc(SHOAL_FRAME_HEADER + big);
    uint8_t *payload = calloc(1, big);
    shoal_frame_reader r;
    uint8_t *kept;
    size_t used, n, cap;

    (void)state;
    assert_non_null(wire);
    assert_non_null(payload);
    shoal_frame_reader_init(&r, big);

    /* small: the buffer stays for the next message */
    n = make_msg(wire, "REPL", "hello", 5);
    assert_int_equal(shoal_frame_reader_feed(&r, wire, n, &used), 1);
    kept = r.payload;
    cap = r.cap;
    assert_non_null(kept);
    shoal_frame_reader_next(&r);
    assert_ptr_equal(r.payload, kept);
    assert_int_equal(r.cap, cap);
    assert_int_equal(r.header_got, 0);
    assert_int_equal(r.got, 0);
    assert_int_equal(r.len, 0);
    assert_string_equal(r.type, "");
    assert_false(r.complete);

    /* and is reused by a message that fits */
    n = make_msg(wire, "REPL", "bye", 3);
    assert_int_equal(shoal_frame_reader_feed(&r, wire, n, &used), 1);
    assert_ptr_equal(r.payload, kept);
    assert_msg(&r, "REPL", "bye", 3);
    shoal_frame_reader_next(&r);

    /* exactly the largest size kept: kept */
    n = make_msg(wire, "FGET", payload, FIRST_ALLOC);
    assert_int_equal(shoal_frame_reader_feed(&r, wire, n, &used), 1);
    assert_int_equal(r.cap, FIRST_ALLOC);
    kept = r.payload;
    shoal_frame_reader_next(&r);
    assert_ptr_equal(r.payload, kept);
    assert_int_equal(r.cap, FIRST_ALLOC);

    /* one byte more: freed */
    n = make_msg(wire, "FGET", payload, big);
    assert_int_equal(shoal_frame_reader_feed(&r, wire, n, &used), 1);
    assert_true(r.cap > FIRST_ALLOC);
    shoal_frame_reader_next(&r);
    assert_null(r.payload);
    assert_int_equal(r.cap, 0);

    /* still usable afterwards */
    n = make_msg(wire, "PING", NULL, 0);
    assert_int_equal(shoal_frame_reader_feed(&r, wire, n, &used), 1);
    assert_msg(&r, "PING", NULL, 0);

    shoal_frame_reader_free(&r);
    assert_null(r.payload);
    /* free, then init again */
    shoal_frame_reader_init(&r, 8);
    assert_int_equal(shoal_frame_reader_feed(&r, wire, n, &used), 1);
    shoal_frame_reader_free(&r);
    free(wire);
    free(payload);
}

/* -------------------------------------------------------------- the writer */

/* ------------------------------------------------ into a caller's buffer */

static void test_into_caller_buffer(void **state)
{
    uint8_t wire[256], mine[16], big[32];
    shoal_frame_reader r;
    size_t n, used, off;

    (void)state;
    memset(big, 'b', sizeof(big));
    shoal_frame_reader_init(&r, 1024);
    shoal_frame_reader_into(&r, mine, sizeof(mine));

    /* too big for mine: read into the reader's own buffer; mine stays
     * armed for the next message */
    n = make_msg(wire, "BIGG", big, sizeof(big));
    assert_int_equal(shoal_frame_reader_feed(&r, wire, n, &used), 1);
    assert_ptr_not_equal(r.payload, mine);
    assert_msg(&r, "BIGG", big, sizeof(big));
    assert_true(shoal_frame_reader_held(&r) > 0);
    shoal_frame_reader_next(&r);

    /* fits: straight into mine, in pieces through prepare and commit; the
     * reader's own buffer is still held, and counted */
    n = make_msg(wire, "CHNK", payload_text, 10);
    off = 0;
    while (off < n) {
        uint8_t *buf;
        size_t cap;
        assert_int_equal(shoal_frame_reader_prepare(&r, &buf, &cap), 0);
        if (r.header_got == SHOAL_FRAME_HEADER)
            assert_true(buf >= mine && buf < mine + sizeof(mine));
        cap = cap > 3 ? 3 : cap;
        memcpy(buf, wire + off, cap);
        off += cap;
        assert_int_equal(shoal_frame_reader_commit(&r, cap), off == n);
    }
    assert_ptr_equal(r.payload, mine);
    assert_msg(&r, "CHNK", payload_text, 10);
    assert_int_equal(shoal_frame_reader_held(&r), sizeof(big)); /* BIGG's */
    shoal_frame_reader_next(&r);

    /* once only: the next message that would fit uses the reader's own */
    n = make_msg(wire, "CHNK", "again", 5);
    assert_int_equal(shoal_frame_reader_feed(&r, wire, n, &used), 1);
    assert_ptr_not_equal(r.payload, mine);
    assert_msg(&r, "CHNK", "again", 5);
    assert_memory_equal(mine, payload_text, 10);
    shoal_frame_reader_next(&r);

    /* freed midway through a message in mine: mine is not freed (the
     * sanitizer build would see it), the reader's own buffer is */
    shoal_frame_reader_into(&r, mine, sizeof(mine));
    n = make_msg(wire, "CHNK", payload_text, 12);
    assert_int_equal(shoal_frame_reader_feed(&r, wire, n - 4, &used), 0);
    assert_ptr_equal(r.payload, mine);
    shoal_frame_reader_free(&r);
    assert_null(r.payload);
    assert_int_equal(shoal_frame_reader_held(&r), 0);

    /* an empty message never uses it; NULL disarms */
    shoal_frame_reader_init(&r, 1024);
    shoal_frame_reader_into(&r, mine, sizeof(mine));
    n = make_msg(wire, "PING", NULL, 0);
    assert_int_equal(shoal_frame_reader_feed(&r, wire, n, &used), 1);
    assert_ptr_not_equal(r.payload, mine);
    shoal_frame_reader_next(&r);
    shoal_frame_reader_into(&r, NULL, sizeof(mine));
    n = make_msg(wire, "CHNK", "x", 1);
    assert_int_equal(shoal_frame_reader_feed(&r, wire, n, &used), 1);
    assert_ptr_not_equal(r.payload, mine);
    shoal_frame_reader_free(&r);
}

static void test_header_encode(void **state)
{
    static const struct {
        const char *type;
        uint32_t len;
        uint8_t bytes[8];
    } cases[] = {
        {"PING", 0, {'P', 'I', 'N', 'G', 0, 0, 0, 0}},
        {"AB", 0x01020304u, {'A', 'B', 0, 0, 1, 2, 3, 4}},
        {"Q", 255, {'Q', 0, 0, 0, 0, 0, 0, 255}},
        {"FGET", 0xFFFFFFFFu, {'F', 'G', 'E', 'T', 255, 255, 255, 255}},
        {"JOIN", 0x80000000u, {'J', 'O', 'I', 'N', 0x80, 0, 0, 0}},
        /* only the first four bytes of a longer string */
        {"LONGER", 7, {'L', 'O', 'N', 'G', 0, 0, 0, 7}},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t out[SHOAL_FRAME_HEADER];
        shoal_frame_reader r;
        size_t used;
        char want[5] = {0};
        int rc;

        memset(out, 0xAA, sizeof(out));
        shoal_frame_header_encode(out, cases[i].type, cases[i].len);
        assert_memory_equal(out, cases[i].bytes, SHOAL_FRAME_HEADER);

        /* round trip through the reader */
        shoal_frame_reader_init(&r, SIZE_MAX);
        rc = shoal_frame_reader_feed(&r, out, sizeof(out), &used);
        assert_int_equal(rc, cases[i].len == 0 ? 1 : 0);
        assert_int_equal(used, SHOAL_FRAME_HEADER);
        assert_int_equal(r.len, cases[i].len);
        snprintf(want, sizeof(want), "%.4s", cases[i].type);
        assert_string_equal(r.type, want);
        shoal_frame_reader_free(&r);
    }
}

static void test_type_normalize(void **state)
{
    static const struct {
        const char *in, *out;
    } good[] = {
        {"PING", "PING"}, {"ping", "PING"}, {"a", "A"},     {"Ab1!", "AB1!"},
        {"~", "~"},       {"x-y", "X-Y"},   {"zz", "ZZ"},   {"REPL", "REPL"},
    };
    static const char *const bad[] = {
        "",     "ABCDE", "A B",  " AB",     "AB ",   "AB\n", "\t",
        "\x01", "A\x7f", "\xc3\xa9", "abcdefgh", "a\rb",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        char out[5];
        memset(out, 'Z', sizeof(out));
        assert_int_equal(shoal_type_normalize(good[i].in, out), 0);
        assert_string_equal(out, good[i].out);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char out[5];
        assert_int_equal(shoal_type_normalize(bad[i], out), SHOAL_EINVAL);
    }
    {
        char out[5];
        assert_int_equal(shoal_type_normalize(NULL, out), SHOAL_EINVAL);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_feed_every_chunk_size),
        cmocka_unit_test(test_feed_every_two_part_split),
        cmocka_unit_test(test_prepare_commit_splits),
        cmocka_unit_test(test_prepare_commit_large_payload),
        cmocka_unit_test(test_back_to_back),
        cmocka_unit_test(test_back_to_back_bytewise),
        cmocka_unit_test(test_zero_length),
        cmocka_unit_test(test_type_upper_and_padding),
        cmocka_unit_test(test_type_padded_after_next),
        cmocka_unit_test(test_max_len),
        cmocka_unit_test(test_huge_announced_length),
        cmocka_unit_test(test_growth_follows_data),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_next_keeps_small_frees_large),
        cmocka_unit_test(test_into_caller_buffer),
        cmocka_unit_test(test_header_encode),
        cmocka_unit_test(test_type_normalize),
    };
    return cmocka_run_group_tests_name("frame", tests, NULL, NULL);
}
