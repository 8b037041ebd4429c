/* libFuzzer target: a yamux session (src/mux/yamux.c) fed arbitrary bytes.
 *
 * Input layout:
 *   byte 0      control: bits 0-2 = k, the number of chunk-size bytes;
 *               bit 3 = the session is the dialer (default: listener);
 *               bit 4 = the application holds received bytes until the
 *                       next chunk instead of consuming them at once;
 *               bit 5 = the application echoes what it receives;
 *               bit 6 = data pieces starting with R, C, O, P, G make the
 *                       application reset, close, open a stream, ping or
 *                       send Go Away;
 *               bit 7 = tight limits (4 streams, 1 KiB frames, no write
 *                       buffer) instead of the defaults
 *   byte 1      options: bit 0 = synthetic payloads: the input holds only
 *                       the headers of data frames, the harness makes up
 *                       their payloads (so that small inputs move windows'
 *                       worth of data: up to 8 MiB per run);
 *               bit 1 = bulk writer: the application writes 600 KiB on
 *                       every stream it gets (more than window and write
 *                       buffer take), more on each writable(), and closes
 *                       after 1 MiB
 *   bytes 2..k+1  chunk sizes, used in turn (0: all that is left); 100 ms
 *               pass between chunks (keep-alive pings every 3 s, a ping
 *               unanswered for 10 s kills the session)
 *   the rest    the bytes from the remote
 * So a seed "\x00\x00" + frames feeds the frames to a listener in one
 * piece.
 *
 * Within a chunk the bytes are fed frame by frame (as an independent parser
 * sees the frames), so that the output can be checked in step with the
 * input: every frame the session sends is well formed, and it never sends
 * more data on a stream than the window the input granted. After every
 * call the memory the session holds stays under a bound set by its limits
 * and the input just fed, the bytes held unconsumed never exceed a stream's
 * window, and every stream gets exactly one closed(). Leaks show up in
 * LeakSanitizer. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mux/yamux.h"
#include "shoal.h"

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "fuzz_yamux: %s:%d: check failed: %s\n",       \
                    __FILE__, __LINE__, #cond);                            \
            abort();                                                       \
        }                                                                  \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXLIVE 64
#define MAXID 1024 /* windows are checked on stream ids below this */
#define H SHOAL_YAMUX_HEADER
#define SYNTH_MAX (8u * 1024 * 1024) /* synthetic payload bytes per run */
#define SYNTH_PIECE (16 * 1024)
#define BULK_FIRST (600 * 1024)
#define BULK_TOTAL (1024 * 1024)

static uint8_t filler[BULK_FIRST]; /* 's' bytes: no chaos letter */

typedef struct app_stream {
    shoal_yamux_stream *st;
    uint64_t unconsumed;
    uint64_t written;          /* bulk writer */
    int fin;
} app_stream;

/* One direction of frames, parsed on its own. */
typedef struct parser {
    uint8_t hdr[H];
    size_t got;
    uint64_t left;
} parser;

typedef struct run {
    shoal_yamux *mux;
    shoal_yamux_config cfg;
    int hold, echo, chaos, synth, bulk;
    app_stream *live[MAXLIVE];
    size_t nlive;
    size_t opened, closed;     /* streams the application saw / saw end */
    parser in, out;
    uint64_t sent[MAXID];      /* data the session sent on each stream */
    uint64_t granted[MAXID];   /* window updates the input gave it */
} run;

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static int local_id(const run *r, uint32_t id)
{
    return (int)(id & 1u) == (r->cfg.client ? 1 : 0);
}

static void track(run *r, app_stream *a)
{
    CHECK(r->nlive < MAXLIVE);
    r->live[r->nlive++] = a;
    r->opened++;
}

static void untrack(run *r, app_stream *a)
{
    size_t i;

    for (i = 0; i < r->nlive; i++)
        if (r->live[i] == a) {
            r->live[i] = r->live[--r->nlive];
            return;
        }
    CHECK(0); /* closed() for a stream it never had or twice */
}

static void release(app_stream *a, size_t n)
{
    CHECK(n <= a->unconsumed);
    CHECK(shoal_yamux_stream_consumed(a->st, n) == 0);
    a->unconsumed -= n;
}

/* The bulk writer: as much as the stream takes, up to BULK_TOTAL, then
 * close. */
static void bulk_write(run *r, app_stream *a, size_t max)
{
    size_t want = BULK_TOTAL - (size_t)a->written, taken = 0;
    int rc;

    if (!r->bulk || a->written >= BULK_TOTAL)
        return;
    if (want > max)
        want = max;
    rc = shoal_yamux_stream_write(a->st, filler, want, &taken);
    CHECK(rc == 0 || rc == SHOAL_ECLOSED);
    CHECK(taken <= want);
    if (rc == 0 && taken < want)
        CHECK(shoal_yamux_stream_write_space(a->st) == 0);
    a->written += taken;
    if (a->written == BULK_TOTAL)
        (void)shoal_yamux_stream_close(a->st);
}

static void open_one(run *r)
{
    shoal_yamux_stream *st;
    app_stream *a;

    if (shoal_yamux_open(r->mux, &st) != 0) {
        CHECK(st == NULL);
        return;
    }
    a = calloc(1, sizeof(*a));
    CHECK(a != NULL);
    a->st = st;
    shoal_yamux_stream_set_user(st, a);
    track(r, a);
    (void)shoal_yamux_stream_write(st, "hello", 5, NULL);
    bulk_write(r, a, BULK_FIRST);
}

static int on_stream(shoal_yamux *mux, shoal_yamux_stream *st, void *user)
{
    run *r = user;
    app_stream *a;

    CHECK(mux == r->mux);
    CHECK(!local_id(r, shoal_yamux_stream_id(st)));
    if (shoal_yamux_stream_id(st) % 7 == 6)
        return -1; /* refuse some */
    a = calloc(1, sizeof(*a));
    CHECK(a != NULL);
    a->st = st;
    shoal_yamux_stream_set_user(st, a);
    track(r, a);
    bulk_write(r, a, BULK_FIRST);
    return 0;
}

static void on_data(shoal_yamux_stream *st, const uint8_t *data, size_t len,
                    void *user)
{
    run *r = user;
    app_stream *a = shoal_yamux_stream_user(st);
    size_t taken = 0;

    CHECK(len > 0 && a != NULL && a->st == st);
    CHECK(!a->fin);
    a->unconsumed += len;
    CHECK(a->unconsumed == shoal_yamux_stream_unconsumed(st));
    CHECK(a->unconsumed <= shoal_yamux_stream_recv_window(st));
    if (r->chaos) {
        switch (data[0]) {
        case 'R':
            CHECK(shoal_yamux_stream_reset(st) == 0);
            return;
        case 'C':
            (void)shoal_yamux_stream_close(st);
            break;
        case 'O':
            open_one(r);
            break;
        case 'P':
            (void)shoal_yamux_ping(r->mux);
            break;
        case 'G':
            (void)shoal_yamux_go_away(r->mux, 0);
            break;
        }
    }
    if (r->echo)
        (void)shoal_yamux_stream_write(st, data, len, &taken);
    if (r->hold)
        release(a, taken);
    else
        release(a, len);
}

static void on_fin(shoal_yamux_stream *st, void *user)
{
    run *r = user;
    app_stream *a = shoal_yamux_stream_user(st);

    CHECK(a != NULL && !a->fin);
    a->fin = 1;
    if (r->echo || r->chaos)
        (void)shoal_yamux_stream_close(st);
}

static void on_writable(shoal_yamux_stream *st, void *user)
{
    CHECK(shoal_yamux_stream_write_space(st) > 0);
    bulk_write(user, shoal_yamux_stream_user(st), BULK_FIRST);
}

static void on_closed(shoal_yamux_stream *st, int status, void *user)
{
    run *r = user;
    app_stream *a = shoal_yamux_stream_user(st);

    CHECK(status <= 0);
    CHECK(a != NULL && a->st == st);
    untrack(r, a);
    r->closed++;
    free(a);
}

static void on_pong(shoal_yamux *mux, uint64_t rtt, void *user)
{
    (void)mux;
    (void)rtt;
    (void)user;
}

static void on_go_away(shoal_yamux *mux, uint32_t code, void *user)
{
    shoal_yamux_stream *st;

    (void)code;
    (void)user;
    CHECK(shoal_yamux_open(mux, &st) == SHOAL_ECLOSED);
}

/* Bytes left in the current header, or in the payload after it. */
static size_t frame_left(const parser *p)
{
    if (p->got < H)
        return H - p->got;
    return (size_t)p->left;
}

/* The remote's bytes: window updates granted, SYNs start ids afresh. */
static void parse_in(run *r, const uint8_t *b, size_t n)
{
    parser *p = &r->in;

    while (n > 0) {
        if (p->got == H && p->left > 0) {
            size_t k = n < p->left ? n : (size_t)p->left;
            p->left -= k;
            b += k;
            n -= k;
        } else {
            if (p->got == H)
                p->got = 0;
            p->hdr[p->got++] = *b++;
            n--;
            if (p->got == H) {
                uint8_t type = p->hdr[1];
                uint16_t flags = (uint16_t)(p->hdr[2] << 8 | p->hdr[3]);
                uint32_t id = be32(p->hdr + 4), len = be32(p->hdr + 8);
                p->left = type == SHOAL_YAMUX_DATA ? len : 0;
                if (id < MAXID && type <= SHOAL_YAMUX_WINDOW_UPDATE) {
                    if ((flags & SHOAL_YAMUX_SYN) && !local_id(r, id))
                        r->sent[id] = r->granted[id] = 0;
                    if (type == SHOAL_YAMUX_WINDOW_UPDATE)
                        r->granted[id] += len;
                }
            }
        }
    }
}

/* The session's bytes: well formed, within the windows granted. */
static void parse_out(run *r, const uint8_t *b, size_t n)
{
    parser *p = &r->out;

    while (n > 0) {
        if (p->got == H && p->left > 0) {
            size_t k = n < p->left ? n : (size_t)p->left;
            p->left -= k;
            b += k;
            n -= k;
        } else {
            if (p->got == H)
                p->got = 0;
            p->hdr[p->got++] = *b++;
            n--;
            if (p->got == H) {
                uint8_t type = p->hdr[1];
                uint16_t flags = (uint16_t)(p->hdr[2] << 8 | p->hdr[3]);
                uint32_t id = be32(p->hdr + 4), len = be32(p->hdr + 8);
                CHECK(p->hdr[0] == 0);
                CHECK(type <= SHOAL_YAMUX_GO_AWAY);
                CHECK((flags & ~15u) == 0);
                if (type >= SHOAL_YAMUX_PING) {
                    CHECK(id == 0);
                    if (type == SHOAL_YAMUX_PING)
                        CHECK(flags == SHOAL_YAMUX_SYN ||
                              flags == SHOAL_YAMUX_ACK);
                    else
                        CHECK(flags == 0 && len <= 2);
                } else {
                    CHECK(id != 0);
                    if (flags & SHOAL_YAMUX_SYN)
                        CHECK(local_id(r, id));
                    if (flags & SHOAL_YAMUX_ACK)
                        CHECK(!local_id(r, id));
                }
                p->left = type == SHOAL_YAMUX_DATA ? len : 0;
                if (type == SHOAL_YAMUX_DATA) {
                    CHECK(len <= r->cfg.max_frame);
                    if (id < MAXID) {
                        r->sent[id] += len;
                        CHECK(r->sent[id] <= SHOAL_YAMUX_INITIAL_WINDOW +
                                                 r->granted[id]);
                    }
                }
            }
        }
    }
}

static void drain(run *r)
{
    const uint8_t *p;
    size_t n;

    while ((n = shoal_yamux_output_peek(r->mux, &p)) > 0) {
        CHECK(n <= shoal_yamux_output_pending(r->mux));
        parse_out(r, p, n);
        shoal_yamux_output_consume(r->mux, n);
    }
    CHECK(shoal_yamux_output_pending(r->mux) == 0);
}

/* What the session may hold after taking fed bytes: its limits, plus what
 * those bytes can make it queue (echoes, answers, window updates). */
static void check_memory(const run *r, size_t fed)
{
    size_t bound = 64 * 1024 +
                   (size_t)r->cfg.max_streams *
                       (1024 + r->cfg.max_write_buffer) +
                   4 * fed + r->cfg.max_provoked + 2 * 64 * 1024 +
                   r->cfg.max_frame + r->cfg.max_write_buffer +
                   (r->bulk ? 2 * BULK_FIRST : 0);

    CHECK(shoal_yamux_memory(r->mux) <= bound);
    CHECK(shoal_yamux_stream_count(r->mux) <= r->cfg.max_streams);
    CHECK(r->nlive <= r->cfg.max_streams);
}

static void between_chunks(run *r, uint64_t now)
{
    size_t i;
    int rc;

    if (r->hold)
        for (i = 0; i < r->nlive; i++)
            if (r->live[i]->unconsumed > 0)
                release(r->live[i], (size_t)r->live[i]->unconsumed);
    rc = shoal_yamux_tick(r->mux, now);
    CHECK(rc == 0 || rc == shoal_yamux_error(r->mux));
    drain(r);
    check_memory(r, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const shoal_yamux_callbacks cb = {
        on_stream, on_data, on_fin, on_writable, NULL, on_closed, on_pong,
        on_go_away, NULL,
    };
    run *r;
    const uint8_t *sizes, *in;
    size_t k, len, off = 0, next_size = 0, chunk_end = 0, synth = 0;
    uint64_t now = 0;
    uint8_t ctl, opt;
    int dead = 0;

    if (size < 2)
        return 0;
    if (filler[0] == 0)
        memset(filler, 's', sizeof(filler));
    ctl = data[0];
    opt = data[1];
    k = ctl & 7u;
    if (k > size - 2)
        k = size - 2;
    sizes = data + 2;
    in = data + 2 + k;
    len = size - 2 - k;

    r = calloc(1, sizeof(*r));
    CHECK(r != NULL);
    shoal_yamux_config_init(&r->cfg, (ctl & 0x08) != 0);
    r->cfg.keepalive_ms = 3000;
    r->cfg.ping_timeout_ms = 10000;
    r->cfg.max_streams = 16;
    r->cfg.max_window = 1024 * 1024;
    r->cfg.window_budget = 2 * 1024 * 1024;
    r->cfg.max_provoked = 4096;
    if (ctl & 0x80) {
        r->cfg.max_streams = 4;
        r->cfg.max_unacked = 2;
        r->cfg.max_frame = 1024;
        r->cfg.max_write_buffer = 0;
    }
    r->hold = (ctl & 0x10) != 0;
    r->echo = (ctl & 0x20) != 0;
    r->chaos = (ctl & 0x40) != 0;
    r->synth = (opt & 0x01) != 0;
    r->bulk = (opt & 0x02) != 0;
    CHECK(shoal_yamux_new(&r->mux, &r->cfg, &cb, r) == 0);
    r->in.got = H; /* "after a frame with no payload" */
    r->out.got = H;

    if (r->chaos)
        open_one(r);
    between_chunks(r, now);
    while (!dead) {
        const uint8_t *p;
        size_t n, piece;
        int rc;
        if (r->synth && r->in.got == H && r->in.left > 0 &&
            r->in.hdr[1] == SHOAL_YAMUX_DATA) {
            /* a payload the harness makes up */
            if (synth >= SYNTH_MAX)
                break;
            piece = r->in.left < SYNTH_PIECE ? (size_t)r->in.left
                                             : SYNTH_PIECE;
            p = filler;
            synth += piece;
        } else {
            if (off == len)
                break;
            if (off == chunk_end) {
                size_t want = k ? sizes[next_size++ % k] : 0;
                if (off > 0) {
                    now += 100;
                    between_chunks(r, now);
                }
                chunk_end = want == 0 || want > len - off ? len : off + want;
            }
            /* up to the end of the chunk or of the header or payload being
             * read, whichever is first */
            piece = chunk_end - off;
            n = r->in.got == H && r->in.left == 0 ? H : frame_left(&r->in);
            if (n < piece)
                piece = n;
            p = in + off;
            off += piece;
        }
        parse_in(r, p, piece);
        rc = shoal_yamux_feed(r->mux, p, piece);
        CHECK(rc <= 0);
        CHECK(rc == shoal_yamux_error(r->mux));
        drain(r);
        check_memory(r, piece);
        if (rc != 0) {
            CHECK(r->nlive == 0); /* all reported closed */
            CHECK(shoal_yamux_stream_count(r->mux) == 0);
            CHECK(shoal_yamux_feed(r->mux, "x", 1) == rc);
            dead = 1;
        }
    }
    if (!dead)
        between_chunks(r, now + 100);
    shoal_yamux_free(r->mux);
    CHECK(r->nlive == 0);
    CHECK(r->closed == r->opened);
    free(r);
    return 0;
}

#ifdef FUZZ_YAMUX_WRITE_SEEDS
/* The seeds in tests/fuzz/corpus/yamux/ come from here:
 *   cc -DFUZZ_YAMUX_WRITE_SEEDS -Iinclude -Isrc tests/fuzz/fuzz_yamux.c \
 *      src/mux/yamux.c -o /tmp/seeds && /tmp/seeds tests/fuzz/corpus/yamux
 * It rewrites only the seeds named below. */
typedef struct seed {
    uint8_t b[4096];
    size_t n;
} seed;

static void put(seed *s, const void *p, size_t n)
{
    CHECK(s->n + n <= sizeof(s->b));
    memcpy(s->b + s->n, p, n);
    s->n += n;
}

static void ctl2(seed *s, uint8_t c, uint8_t opt, const char *sizes,
                 size_t k)
{
    s->n = 0;
    put(s, &c, 1);
    put(s, &opt, 1);
    put(s, sizes, k);
}

static void ctl(seed *s, uint8_t c, const char *sizes, size_t k)
{
    ctl2(s, c, 0, sizes, k);
}

static void fr(seed *s, uint8_t type, uint16_t flags, uint32_t id,
               uint32_t len, const char *payload, size_t plen)
{
    uint8_t h[H] = {0, type, (uint8_t)(flags >> 8), (uint8_t)flags,
                    (uint8_t)(id >> 24), (uint8_t)(id >> 16),
                    (uint8_t)(id >> 8), (uint8_t)id, (uint8_t)(len >> 24),
                    (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len};
    put(s, h, H);
    put(s, payload, plen);
}

static void data(seed *s, uint16_t flags, uint32_t id, const char *text)
{
    fr(s, SHOAL_YAMUX_DATA, flags, id, (uint32_t)strlen(text), text,
       strlen(text));
}

static void save(const char *dir, const char *name, const seed *s)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK(fwrite(s->b, 1, s->n, f) == s->n);
    CHECK(fclose(f) == 0);
}

enum { D = SHOAL_YAMUX_DATA, W = SHOAL_YAMUX_WINDOW_UPDATE,
       P = SHOAL_YAMUX_PING, G = SHOAL_YAMUX_GO_AWAY,
       SYN = SHOAL_YAMUX_SYN, ACK = SHOAL_YAMUX_ACK, FIN = SHOAL_YAMUX_FIN,
       RST = SHOAL_YAMUX_RST };

int main(int argc, char **argv)
{
    static seed s;
    static char big[3000];
    uint32_t id;

    CHECK(argc == 2);
    memset(big, 'x', sizeof(big));
    /* a stream opened, data, FIN; echoed */
    ctl(&s, 0x20, "", 0);
    fr(&s, W, SYN, 1, 0, "", 0);
    data(&s, 0, 1, "hello");
    data(&s, FIN, 1, "");
    save(argv[1], "open_data_fin", &s);
    /* the same, one byte per chunk */
    s.b[0] = 0x21;
    memmove(s.b + 3, s.b + 2, s.n - 2);
    s.b[2] = 1;
    s.n++;
    save(argv[1], "open_data_fin_bytewise", &s);
    /* SYN on a data frame with FIN at once, then the ping of a remote */
    ctl(&s, 0x00, "", 0);
    data(&s, SYN | FIN, 3, "request");
    fr(&s, P, SYN, 0, 7, "", 0);
    save(argv[1], "syn_fin_ping", &s);
    /* a whole window announced, more than a window, in chunks */
    ctl(&s, 0x12, "\x05\x11", 2);
    fr(&s, D, SYN, 1, 256 * 1024, "abc", 3);
    save(argv[1], "full_window_truncated", &s);
    ctl(&s, 0x00, "", 0);
    fr(&s, D, SYN, 1, 256 * 1024 + 1, "", 0);
    save(argv[1], "over_window", &s);
    /* protocol errors: parity, version, type, session id */
    ctl(&s, 0x00, "", 0);
    fr(&s, W, SYN, 2, 0, "", 0);
    save(argv[1], "wrong_parity", &s);
    ctl(&s, 0x00, "", 0);
    fr(&s, P, SYN, 0, 1, "", 0);
    s.b[2] = 1;
    save(argv[1], "version_1", &s);
    ctl(&s, 0x00, "", 0);
    fr(&s, 9, 0, 0, 0, "", 0);
    save(argv[1], "unknown_type", &s);
    ctl(&s, 0x00, "", 0);
    fr(&s, D, 0, 0, 2, "zz", 2);
    save(argv[1], "data_on_session", &s);
    /* data for a stream nobody opened, then a window update for one */
    ctl(&s, 0x00, "", 0);
    data(&s, 0, 9, "abc");
    fr(&s, W, 0, 11, 1000, "", 0);
    save(argv[1], "unknown_stream", &s);
    /* Go Away, then a new stream anyway */
    ctl(&s, 0x20, "", 0);
    fr(&s, G, 0, 0, 0, "", 0);
    data(&s, SYN, 3, "late");
    save(argv[1], "go_away", &s);
    /* tight limits, echo in 1 KiB frames, a window update to send more */
    ctl(&s, 0xa0, "", 0);
    fr(&s, W, SYN, 1, 0, "", 0);
    fr(&s, D, 0, 1, sizeof(big), big, sizeof(big));
    fr(&s, W, 0, 1, 100000, "", 0);
    data(&s, FIN, 1, "");
    save(argv[1], "echo_tight", &s);
    /* the application opens, closes, resets, pings, goes away */
    ctl(&s, 0x60, "", 0);
    fr(&s, W, SYN, 1, 0, "", 0);
    data(&s, 0, 1, "Open one");
    data(&s, 0, 1, "Ping");
    fr(&s, W, SYN, 3, 0, "", 0);
    data(&s, 0, 3, "Reset");
    data(&s, 0, 1, "Close");
    data(&s, FIN, 1, "");
    data(&s, 0, 1, "Go away");
    save(argv[1], "chaos", &s);
    /* a dialer: its first stream (1) is ACKed, used, reset; pong */
    ctl(&s, 0x48, "", 0);
    fr(&s, W, ACK, 1, 1000, "", 0);
    data(&s, 0, 1, "hi");
    fr(&s, W, RST, 1, 0, "", 0);
    fr(&s, P, ACK, 0, 1, "", 0);
    fr(&s, W, SYN, 2, 0, "", 0);
    data(&s, FIN, 2, "bye");
    save(argv[1], "dialer", &s);
    /* more streams than the limit (16) */
    ctl(&s, 0x20, "", 0);
    for (id = 1; id < 40; id += 2)
        data(&s, SYN, id, "s");
    save(argv[1], "many_streams", &s);
    /* data after FIN */
    ctl(&s, 0x00, "", 0);
    data(&s, SYN | FIN, 1, "a");
    data(&s, 0, 1, "b");
    save(argv[1], "data_after_fin", &s);
    /* held bytes released between chunks of 7 and 3 */
    ctl(&s, 0x32, "\x07\x03", 2);
    fr(&s, W, SYN, 1, 0, "", 0);
    data(&s, 0, 1, "0123456789abcdef");
    data(&s, 0, 1, "ghijklmnop");
    save(argv[1], "hold_chunks", &s);
    /* a silent remote: 1 byte per 100 ms, the keep-alive ping times out */
    ctl(&s, 0x01, "\x01", 1);
    fr(&s, D, SYN, 1, 120, big, 120);
    save(argv[1], "ping_timeout", &s);
    /* synthetic payloads: a window's worth arrives, held, then more than
     * the window */
    ctl2(&s, 0x10, 0x01, "", 0);
    fr(&s, D, SYN, 1, 200000, "", 0);
    fr(&s, D, 0, 1, 62144, "", 0);
    fr(&s, D, 0, 1, 1, "", 0);
    save(argv[1], "synth_window_exceeded", &s);
    /* a measured round trip (our ping answered a chunk later), then fast
     * reading: the window grows */
    ctl2(&s, 0x03, 0x01, "\x0c\x0c\x00", 3);
    fr(&s, D, SYN, 1, 1, "", 0);
    fr(&s, P, ACK, 0, 1, "", 0);
    fr(&s, D, 0, 1, 131072, "", 0);
    fr(&s, D, 0, 1, 131072, "", 0);
    fr(&s, D, 0, 1, 262144, "", 0);
    fr(&s, D, 0, 1, 524288, "", 0);
    fr(&s, D, 0, 1, 1048576, "", 0);
    fr(&s, D, FIN, 1, 0, "", 0);
    save(argv[1], "synth_window_grows", &s);
    /* the bulk writer: 300 KiB on a stream the remote opens, window
     * updates let it go on, FIN both ways */
    ctl2(&s, 0x00, 0x02, "", 0);
    fr(&s, W, SYN, 1, 0, "", 0);
    fr(&s, W, 0, 1, 100000, "", 0);
    fr(&s, W, 0, 1, 400000, "", 0);
    fr(&s, W, FIN, 1, 1000000, "", 0);
    save(argv[1], "bulk_window_updates", &s);
    /* the bulk writer as a dialer with tight limits: no write buffer */
    ctl2(&s, 0xc8, 0x02, "", 0);
    fr(&s, W, ACK, 1, 0, "", 0);
    data(&s, 0, 1, "Open");
    fr(&s, W, 0, 3, 70000, "", 0);
    fr(&s, W, RST, 1, 0, "", 0);
    save(argv[1], "bulk_tight_dialer", &s);
    return 0;
}
#endif
