/* yamux sessions (src/mux/yamux.c), two of them wired to each other in
 * memory: a client (dialer, odd ids) and a server (listener, even ids).
 * Everything between them also passes through a wire monitor that parses
 * the frames on its own and checks that no side ever sends more data on a
 * stream than the other side's window updates allowed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mux/yamux.h"
#include "shoal.h"

#define KIB 1024u
#define MIB (1024u * 1024u)
#define MAXREC 64
#define MAXID 4096 /* the monitor tracks windows of stream ids below this */
#define H SHOAL_YAMUX_HEADER
#define WU SHOAL_YAMUX_WINDOW_UPDATE

/* ------------------------------------------------------------- the harness */

struct side;

/* What the application saw of one stream. */
typedef struct rec {
    struct side *side;
    shoal_yamux_stream *st; /* NULL once closed() ran */
    uint32_t id;
    uint8_t *data;          /* every byte received, in order */
    size_t len, cap;
    size_t held;            /* the last held bytes are not consumed yet */
    int fin, closed, status, acked, writable;
} rec;

typedef struct side {
    shoal_yamux *mux;
    int refuse;             /* stream() refuses */
    int hold;               /* data() does not consume */
    int reset_in_data;      /* data() resets the stream */
    int free_in_closed;     /* closed() frees the session */
    rec *recs[MAXREC];
    size_t nrecs;
    int pongs, go_aways, closed_count, refused;
    uint64_t rtt;
    uint32_t go_away_code;
    char log[8192];         /* events in order, data coalesced */
    size_t loglen;
    int rc;                 /* the last feed's result */
} side;

/* Frames seen in one direction, parsed independently of yamux.c. */
typedef struct wire {
    uint8_t hdr[H];
    size_t got;
    uint64_t left;
    int ndata, nwu, nping_syn, nping_ack, ngoaway, nrst, nsyn, nack, nfin;
    uint32_t goaway_code;
    uint64_t max_data, max_wu;
    uint64_t sent[MAXID];   /* data bytes sent on each stream */
    uint64_t granted[MAXID];/* window the other side granted on top */
} wire;

typedef struct pair {
    side c, s;
    wire to_s, to_c;        /* client->server, server->client */
} pair;

static uint64_t now_ms;

static void logf_(side *sd, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(sd->log + sd->loglen, sizeof(sd->log) - sd->loglen, fmt, ap);
    va_end(ap);
    if (n > 0 && sd->loglen + (size_t)n < sizeof(sd->log))
        sd->loglen += (size_t)n;
}

static rec *rec_new(side *sd, shoal_yamux_stream *st)
{
    rec *r = calloc(1, sizeof(*r));

    assert_non_null(r);
    assert_true(sd->nrecs < MAXREC);
    r->side = sd;
    r->st = st;
    r->id = shoal_yamux_stream_id(st);
    sd->recs[sd->nrecs++] = r;
    shoal_yamux_stream_set_user(st, r);
    return r;
}

static int cb_stream(shoal_yamux *mux, shoal_yamux_stream *st, void *user)
{
    side *sd = user;

    (void)mux;
    logf_(sd, "S%u;", shoal_yamux_stream_id(st));
    if (sd->refuse)
        return -1;
    rec_new(sd, st);
    return 0;
}

static void cb_data(shoal_yamux_stream *st, const uint8_t *data, size_t len,
                    void *user)
{
    side *sd = user;
    rec *r = shoal_yamux_stream_user(st);
    char tag[32];
    int n = snprintf(tag, sizeof(tag), "D%u;", r->id);

    assert_true(len > 0);
    /* coalesce: the same log whatever the split */
    if (sd->loglen < (size_t)n ||
        memcmp(sd->log + sd->loglen - (size_t)n, tag, (size_t)n) != 0)
        logf_(sd, "%s", tag);
    if (r->len + len > r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 4096;
        while (cap < r->len + len)
            cap *= 2;
        r->data = realloc(r->data, cap);
        assert_non_null(r->data);
        r->cap = cap;
    }
    memcpy(r->data + r->len, data, len);
    r->len += len;
    if (sd->reset_in_data) {
        assert_int_equal(shoal_yamux_stream_reset(st), 0);
        return;
    }
    if (sd->hold)
        r->held += len;
    else
        assert_int_equal(shoal_yamux_stream_consumed(st, len), 0);
}

static void cb_fin(shoal_yamux_stream *st, void *user)
{
    rec *r = shoal_yamux_stream_user(st);

    logf_(user, "F%u;", r->id);
    r->fin++;
}

static void cb_writable(shoal_yamux_stream *st, void *user)
{
    rec *r = shoal_yamux_stream_user(st);

    (void)user;
    r->writable++;
}

static void cb_acked(shoal_yamux_stream *st, void *user)
{
    rec *r = shoal_yamux_stream_user(st);

    logf_(user, "A%u;", r->id);
    r->acked++;
}

static void cb_closed(shoal_yamux_stream *st, int status, void *user)
{
    side *sd = user;
    rec *r = shoal_yamux_stream_user(st);

    logf_(sd, "C%u:%d;", r->id, status);
    assert_int_equal(r->closed, 0);
    r->closed = 1;
    r->status = status;
    r->st = NULL;
    sd->closed_count++;
    if (sd->free_in_closed) {
        sd->free_in_closed = 0;
        shoal_yamux_free(sd->mux);
        sd->mux = NULL;
    }
}

static void cb_pong(shoal_yamux *mux, uint64_t rtt, void *user)
{
    side *sd = user;

    (void)mux;
    logf_(sd, "P%llu;", (unsigned long long)rtt);
    sd->pongs++;
    sd->rtt = rtt;
}

static void cb_go_away(shoal_yamux *mux, uint32_t code, void *user)
{
    side *sd = user;

    (void)mux;
    logf_(sd, "G%u;", code);
    sd->go_aways++;
    sd->go_away_code = code;
}

static void cb_refused(shoal_yamux *mux, uint32_t id, void *user)
{
    (void)mux;
    (void)id;
    ((side *)user)->refused++;
}

static const shoal_yamux_callbacks callbacks = {
    cb_stream, cb_data, cb_fin, cb_writable, cb_acked, cb_closed, cb_pong,
    cb_go_away, cb_refused,
};

static void side_init(side *sd, const shoal_yamux_config *cfg)
{
    memset(sd, 0, sizeof(*sd));
    assert_int_equal(shoal_yamux_new(&sd->mux, cfg, &callbacks, sd), 0);
}

static void side_done(side *sd)
{
    size_t i;

    shoal_yamux_free(sd->mux);
    sd->mux = NULL;
    for (i = 0; i < sd->nrecs; i++) {
        assert_int_equal(sd->recs[i]->closed, 1); /* free reported each one */
        free(sd->recs[i]->data);
        free(sd->recs[i]);
    }
    sd->nrecs = 0;
}

static void pair_init(pair *p, const shoal_yamux_config *ccfg,
                      const shoal_yamux_config *scfg)
{
    shoal_yamux_config c, s;

    memset(p, 0, sizeof(*p));
    now_ms = 0;
    shoal_yamux_config_init(&c, 1);
    shoal_yamux_config_init(&s, 0);
    c.keepalive_ms = s.keepalive_ms = 0;
    side_init(&p->c, ccfg ? ccfg : &c);
    side_init(&p->s, scfg ? scfg : &s);
}

static void pair_done(pair *p)
{
    side_done(&p->c);
    side_done(&p->s);
}

static uint32_t be32(const uint8_t *b)
{
    return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) |
           ((uint32_t)b[2] << 8) | b[3];
}

/* Parses bytes going out of one side; back: the other direction, where the
 * window updates of this one are credited. */
static void monitor(wire *w, wire *back, const uint8_t *p, size_t n)
{
    while (n > 0) {
        if (w->left > 0) {
            size_t k = n < w->left ? n : (size_t)w->left;
            p += k;
            n -= k;
            w->left -= k;
            continue;
        }
        w->hdr[w->got++] = *p++;
        n--;
        if (w->got == H) {
            uint8_t type = w->hdr[1];
            uint16_t flags = (uint16_t)(w->hdr[2] << 8 | w->hdr[3]);
            uint32_t id = be32(w->hdr + 4), len = be32(w->hdr + 8);
            w->got = 0;
            assert_int_equal(w->hdr[0], 0);
            if (flags & SHOAL_YAMUX_RST)
                w->nrst++;
            if (type <= WU && (flags & SHOAL_YAMUX_SYN))
                w->nsyn++;
            if (type <= WU && (flags & SHOAL_YAMUX_ACK))
                w->nack++;
            if (type <= WU && (flags & SHOAL_YAMUX_FIN))
                w->nfin++;
            switch (type) {
            case SHOAL_YAMUX_DATA:
                w->ndata++;
                if (len > w->max_data)
                    w->max_data = len;
                w->left = len;
                if (id < MAXID) {
                    w->sent[id] += len;
                    /* never beyond the window the receiver gave */
                    assert_true(w->sent[id] <= SHOAL_YAMUX_INITIAL_WINDOW +
                                                   w->granted[id]);
                }
                break;
            case WU:
                w->nwu++;
                if (len > w->max_wu)
                    w->max_wu = len;
                if (id < MAXID)
                    back->granted[id] += len;
                break;
            case SHOAL_YAMUX_PING:
                if (flags & SHOAL_YAMUX_SYN)
                    w->nping_syn++;
                else
                    w->nping_ack++;
                break;
            case SHOAL_YAMUX_GO_AWAY:
                w->ngoaway++;
                w->goaway_code = len;
                break;
            }
        }
    }
}

/* Moves all of from's output into to; returns the bytes moved. */
static size_t xfer(side *from, side *to, wire *w, wire *back)
{
    static uint8_t buf[64 * 1024];
    size_t moved = 0, n;

    if (from->mux == NULL)
        return 0;
    while ((n = shoal_yamux_output_read(from->mux, buf, sizeof(buf))) > 0) {
        monitor(w, back, buf, n);
        moved += n;
        if (to->mux != NULL && to->rc == 0)
            to->rc = shoal_yamux_feed(to->mux, buf, n);
    }
    return moved;
}

static void pump(pair *p)
{
    int rounds = 0;

    while (xfer(&p->c, &p->s, &p->to_s, &p->to_c) +
               xfer(&p->s, &p->c, &p->to_c, &p->to_s) >
           0)
        assert_true(++rounds < 100000);
}

static void tick_both(pair *p, uint64_t t)
{
    now_ms = t;
    if (p->c.mux != NULL)
        (void)shoal_yamux_tick(p->c.mux, t);
    if (p->s.mux != NULL)
        (void)shoal_yamux_tick(p->s.mux, t);
}

static rec *open_rec(side *sd)
{
    shoal_yamux_stream *st;

    assert_int_equal(shoal_yamux_open(sd->mux, &st), 0);
    return rec_new(sd, st);
}

static rec *find_rec(side *sd, uint32_t id)
{
    size_t i;

    for (i = 0; i < sd->nrecs; i++)
        if (sd->recs[i]->id == id)
            return sd->recs[i];
    return NULL;
}

static void write_all(rec *r, const void *data, size_t len)
{
    size_t taken = 0;

    assert_int_equal(shoal_yamux_stream_write(r->st, data, len, &taken), 0);
    assert_int_equal(taken, len);
}

/* Feeds one hand-made frame. */
static int feed_frame(side *sd, uint8_t type, uint16_t flags, uint32_t id,
                      uint32_t len, const void *payload, size_t plen)
{
    uint8_t h[H];

    shoal_yamux_header_encode(h, type, flags, id, len);
    sd->rc = shoal_yamux_feed(sd->mux, h, H);
    if (sd->rc == 0 && plen > 0)
        sd->rc = shoal_yamux_feed(sd->mux, payload, plen);
    return sd->rc;
}

/* Drains sd's output and returns the first frame header in it (NULL when
 * there is none), skipping frames of type skip_type (or none if -1). */
static int out_frame(side *sd, int skip_type, uint8_t h[H])
{
    static uint8_t buf[1 << 20];
    size_t n = shoal_yamux_output_read(sd->mux, buf, sizeof(buf)), off = 0;

    while (off + H <= n) {
        memcpy(h, buf + off, H);
        if (h[1] != skip_type)
            return 1;
        off += H + (h[1] == SHOAL_YAMUX_DATA ? be32(h + 8) : 0);
    }
    return 0;
}

/* A pattern no two streams share, for checking bulk data. */
#define PAT 4099
static uint8_t pattern[PAT + 256 * KIB];

static void pattern_init(void)
{
    uint32_t x = 2463534242u;
    size_t i;

    for (i = 0; i < PAT; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        pattern[i] = (uint8_t)x;
    }
    for (; i < sizeof(pattern); i++)
        pattern[i] = pattern[i - PAT];
}

/* Bytes off.. of stream k's pattern, contiguous for up to 256 KiB. */
static const uint8_t *pat_at(uint32_t k, uint64_t off)
{
    return pattern + (size_t)((off + (uint64_t)k * 977) % PAT);
}

/* ------------------------------------------------------------------ tests */

static void test_open_syn_ack_data(void **state)
{
    pair p;
    const uint8_t *out;
    uint8_t h[H];
    rec *c, *s;

    (void)state;
    pair_init(&p, NULL, NULL);
    p.s.hold = 1; /* consuming would send the ACK: see the next test */
    c = open_rec(&p.c);
    assert_int_equal(c->id, 1);
    /* SYN: a window update on stream 1, nothing else */
    assert_int_equal(shoal_yamux_output_pending(p.c.mux), H);
    assert_int_equal(shoal_yamux_output_peek(p.c.mux, &out), H);
    shoal_yamux_header_encode(h, WU, SHOAL_YAMUX_SYN, 1, 0);
    assert_memory_equal(out, h, H);
    write_all(c, "hello", 5);
    pump(&p);
    assert_int_equal(p.s.nrecs, 1);
    s = p.s.recs[0];
    assert_int_equal(s->id, 1);
    assert_int_equal(s->len, 5);
    assert_memory_equal(s->data, "hello", 5);
    /* the server has neither sent nor consumed anything: no ACK... */
    assert_int_equal(c->acked, 0);
    assert_int_equal(p.to_c.nack, 0);
    /* ...until its first frame, which carries it */
    write_all(s, "world!", 6);
    pump(&p);
    assert_int_equal(c->acked, 1);
    assert_int_equal(p.to_c.nack, 1);
    assert_int_equal(c->len, 6);
    assert_memory_equal(c->data, "world!", 6);
    assert_int_equal(shoal_yamux_stream_count(p.c.mux), 1);
    assert_int_equal(shoal_yamux_stream_count(p.s.mux), 1);
    /* a second stream gets the next odd id; the server's own ones are even */
    assert_int_equal(open_rec(&p.c)->id, 3);
    assert_int_equal(open_rec(&p.s)->id, 2);
    pump(&p);
    assert_int_equal(p.c.nrecs, 3);
    assert_int_equal(p.s.nrecs, 3);
    assert_string_equal(p.s.log, "S1;D1;S3;");
    pair_done(&p);
}

static void test_ack_on_first_consume(void **state)
{
    pair p;
    rec *c;

    (void)state;
    pair_init(&p, NULL, NULL);
    p.s.hold = 1;
    c = open_rec(&p.c);
    write_all(c, "x", 1);
    pump(&p);
    assert_int_equal(c->acked, 0);
    /* consuming is reading: the ACK goes out with the window update */
    assert_int_equal(shoal_yamux_stream_consumed(p.s.recs[0]->st, 1), 0);
    pump(&p);
    assert_int_equal(c->acked, 1);
    assert_int_equal(p.to_c.nwu, 1);
    assert_int_equal(shoal_yamux_stream_consumed(p.s.recs[0]->st, 1),
                     SHOAL_EINVAL);
    pair_done(&p);
}

/* FIN one way, then the other, in both orders: each side sees one fin(),
 * both streams end with status 0. */
static void half_close(int client_first)
{
    pair p;
    rec *c, *s, *first, *second;

    pair_init(&p, NULL, NULL);
    c = open_rec(&p.c);
    write_all(c, "req", 3);
    pump(&p);
    s = p.s.recs[0];
    first = client_first ? c : s;
    second = client_first ? s : c;
    assert_int_equal(shoal_yamux_stream_close(first->st), 0);
    assert_int_equal(shoal_yamux_stream_close(first->st), 0); /* again: ok */
    pump(&p);
    assert_int_equal(second->fin, 1);
    assert_int_equal(first->fin, 0);
    /* the closed side cannot write, the other still can */
    assert_int_equal(shoal_yamux_stream_write(first->st, "x", 1, NULL),
                     SHOAL_ECLOSED);
    write_all(second, "more", 4);
    pump(&p);
    assert_int_equal(first->len, first == c ? 4 : 7);
    assert_int_equal(first->closed, 0);
    assert_int_equal(second->closed, 0);
    assert_int_equal(shoal_yamux_stream_close(second->st), 0);
    /* the second closer's stream is over; closed() comes at the next feed
     * or tick, which next_tick() asks for at once */
    assert_int_equal(second->closed, 0);
    assert_int_equal(shoal_yamux_next_tick(second->side->mux), now_ms);
    pump(&p);
    assert_int_equal(first->fin, 1);
    assert_int_equal(first->closed, 1);
    assert_int_equal(first->status, 0);
    tick_both(&p, now_ms);
    assert_int_equal(second->closed, 1);
    assert_int_equal(second->status, 0);
    assert_int_equal(shoal_yamux_stream_count(p.c.mux), 0);
    assert_int_equal(shoal_yamux_stream_count(p.s.mux), 0);
    assert_int_equal(p.to_s.nfin + p.to_c.nfin, 2);
    pair_done(&p);
}

static void test_half_close_client_first(void **state)
{
    (void)state;
    half_close(1);
}

static void test_half_close_server_first(void **state)
{
    (void)state;
    half_close(0);
}

/* close() with bytes still waiting for window: the FIN rides on the last
 * data frame once the window lets them go. */
static void test_fin_after_pending_data(void **state)
{
    pair p;
    rec *c, *s;
    static uint8_t big[400 * 1024];
    size_t taken;

    (void)state;
    memset(big, 'b', sizeof(big));
    pair_init(&p, NULL, NULL);
    p.s.hold = 1;
    c = open_rec(&p.c);
    assert_int_equal(
        shoal_yamux_stream_write(c->st, big, sizeof(big), &taken), 0);
    assert_int_equal(taken, sizeof(big));
    assert_int_equal(shoal_yamux_stream_close(c->st), 0);
    pump(&p);
    s = p.s.recs[0];
    assert_int_equal(s->len, SHOAL_YAMUX_INITIAL_WINDOW);
    assert_int_equal(s->fin, 0);
    assert_int_equal(p.to_s.nfin, 0);
    assert_int_equal(shoal_yamux_stream_consumed(s->st, s->len), 0);
    pump(&p);
    assert_int_equal(s->len, sizeof(big));
    assert_int_equal(s->fin, 1);
    assert_int_equal(p.to_s.nfin, 1);
    assert_int_equal(shoal_yamux_stream_close(s->st), 0);
    pump(&p);
    tick_both(&p, now_ms);
    assert_int_equal(c->closed + s->closed, 2);
    assert_int_equal(c->status, 0);
    pair_done(&p);
}

static void test_reset(void **state)
{
    pair p;
    rec *c, *s;

    (void)state;
    pair_init(&p, NULL, NULL);
    c = open_rec(&p.c);
    write_all(c, "abc", 3);
    pump(&p);
    s = p.s.recs[0];
    assert_int_equal(shoal_yamux_stream_reset(c->st), 0);
    assert_int_equal(shoal_yamux_stream_write(c->st, "x", 1, NULL),
                     SHOAL_ECLOSED);
    assert_int_equal(shoal_yamux_stream_reset(c->st), SHOAL_ECLOSED);
    assert_int_equal(shoal_yamux_stream_count(p.c.mux), 0);
    pump(&p);
    assert_int_equal(s->closed, 1);
    assert_int_equal(s->status, SHOAL_ECONNRESET);
    assert_int_equal(c->closed, 0); /* ours is reported at the next tick */
    tick_both(&p, 1);
    assert_int_equal(c->closed, 1);
    assert_int_equal(c->status, SHOAL_ECANCELED);
    /* late data for the reset stream: answered with RST, not fatal */
    assert_int_equal(feed_frame(&p.c, SHOAL_YAMUX_DATA, 0, 1, 2, "zz", 2),
                     0);
    {
        uint8_t h[H];
        assert_true(out_frame(&p.c, -1, h));
        assert_int_equal(h[1], WU);
        assert_int_equal(h[3], SHOAL_YAMUX_RST);
        assert_int_equal(be32(h + 4), 1);
    }
    /* a stream reset from inside data() */
    p.s.reset_in_data = 1;
    c = open_rec(&p.c);
    write_all(c, "abc", 3);
    pump(&p);
    assert_int_equal(c->closed, 1);
    assert_int_equal(c->status, SHOAL_ECONNRESET);
    assert_int_equal(find_rec(&p.s, 3)->status, SHOAL_ECANCELED);
    pair_done(&p);
}

static void test_refuse(void **state)
{
    pair p;
    rec *c;

    (void)state;
    pair_init(&p, NULL, NULL);
    p.s.refuse = 1;
    c = open_rec(&p.c);
    write_all(c, "abc", 3); /* data before the answer is allowed */
    pump(&p);
    assert_int_equal(p.s.nrecs, 0);
    assert_int_equal(c->closed, 1);
    assert_int_equal(c->status, SHOAL_ECONNRESET);
    assert_int_equal(shoal_yamux_stream_count(p.c.mux), 0);
    assert_int_equal(shoal_yamux_stream_count(p.s.mux), 0);
    assert_int_equal(p.s.rc, 0);
    pair_done(&p);
}

/* 10 MiB through a 256 KiB window to a receiver that consumes 20 KiB per
 * round: the sender waits for window updates, never sends beyond them (the
 * monitor checks), and nothing grows past its bound on either side. */
static void test_window_slow_consumer(void **state)
{
    pair p;
    rec *c, *s;
    const uint64_t total = 10 * MIB;
    uint64_t sent = 0, checked = 0;
    size_t max_held = 0, max_mem_c = 0, max_mem_s = 0;
    int rounds = 0, writables = 0;

    (void)state;
    pair_init(&p, NULL, NULL);
    p.s.hold = 1;
    c = open_rec(&p.c);
    while (checked < total) {
        assert_true(++rounds < 100000);
        /* the writer writes whenever it may */
        while (sent < total) {
            size_t want = 64 * KIB, taken = 0;
            if (want > total - sent)
                want = (size_t)(total - sent);
            assert_int_equal(shoal_yamux_stream_write(
                                 c->st, pat_at(1, sent), want, &taken),
                             0);
            sent += taken;
            if (taken < want)
                break;
        }
        if (sent == total && c->fin == 0 && !c->closed)
            (void)shoal_yamux_stream_close(c->st);
        if (c->writable > writables)
            writables = c->writable;
        pump(&p);
        s = p.s.recs[0];
        if (s->held > max_held)
            max_held = s->held;
        if (shoal_yamux_memory(p.c.mux) > max_mem_c)
            max_mem_c = shoal_yamux_memory(p.c.mux);
        if (shoal_yamux_memory(p.s.mux) > max_mem_s)
            max_mem_s = shoal_yamux_memory(p.s.mux);
        /* the reader takes a little */
        {
            size_t n = s->held < 20 * KIB ? s->held : 20 * KIB;
            size_t at = s->len - s->held; /* = stream offset checked */
            assert_memory_equal(s->data + at, pat_at(1, checked), n);
            assert_int_equal(shoal_yamux_stream_consumed(s->st, n), 0);
            s->held -= n;
            checked += n;
            assert_int_equal(shoal_yamux_stream_unconsumed(s->st), s->held);
        }
        /* keep the record small: forget checked bytes */
        if (s->held == 0 && s->len > MIB) {
            s->len = 0;
        }
    }
    pump(&p);
    s = p.s.recs[0];
    assert_int_equal(s->fin, 1);
    assert_int_equal(p.to_s.sent[1], total);
    /* held data never beyond the window; window updates came often */
    assert_true(max_held <= SHOAL_YAMUX_INITIAL_WINDOW);
    assert_true(p.to_c.nwu >= (int)(total / SHOAL_YAMUX_INITIAL_WINDOW));
    assert_true(p.to_s.max_data <= 64 * KIB);
    assert_true(c->writable > 0);
    /* the writer holds at most window + write buffer, plus output */
    assert_true(max_mem_c < 1 * MIB);
    assert_true(max_mem_s < 256 * KIB);
    print_message("window: %d rounds, %d window updates, max held %zu, "
                  "max memory client %zu server %zu\n",
                  rounds, p.to_c.nwu, max_held, max_mem_c, max_mem_s);
    pair_done(&p);
}

/* A stream opened with a larger open_window announces it in its SYN, and
 * the remote may send that much at once; the budget caps it. */
static void test_open_window(void **state)
{
    shoal_yamux_config c, sv;
    uint8_t h[H];
    pair p;
    rec *r, *s;
    size_t taken = 0;

    (void)state;
    shoal_yamux_config_init(&c, 1);
    shoal_yamux_config_init(&sv, 0);
    c.keepalive_ms = sv.keepalive_ms = 0;
    c.open_window = 1 * MIB;
    sv.max_write_buffer = 2 * MIB;
    pair_init(&p, &c, &sv);
    p.c.hold = 1; /* the opener consumes nothing: only the window counts */
    r = open_rec(&p.c);
    assert_int_equal(shoal_yamux_stream_recv_window(r->st), 1 * MIB);
    pump(&p);
    s = p.s.recs[0];
    assert_non_null(s);
    for (size_t off = 0; off < 2 * MIB; off += 256 * KIB) {
        assert_int_equal(shoal_yamux_stream_write(s->st, pat_at(2, off),
                                                  256 * KIB, &taken),
                         0);
        assert_int_equal(taken, 256 * KIB);
    }
    pump(&p);
    assert_int_equal(r->held, 1 * MIB); /* all of the window, no more */
    for (size_t off = 0; off < 1 * MIB; off += 256 * KIB)
        assert_memory_equal(r->data + off, pat_at(2, off), 256 * KIB);
    pair_done(&p);

    /* the budget left is what a stream gets above 256 KiB */
    c.window_budget = 100 * KIB;
    pair_init(&p, &c, NULL);
    r = open_rec(&p.c);
    assert_int_equal(shoal_yamux_stream_recv_window(r->st),
                     SHOAL_YAMUX_INITIAL_WINDOW + 100 * KIB);
    assert_true(out_frame(&p.c, -1, h));
    assert_int_equal(h[1], SHOAL_YAMUX_WINDOW_UPDATE);
    assert_int_equal(be32(h + 8), 100 * KIB);
    r = open_rec(&p.c); /* nothing left */
    assert_int_equal(shoal_yamux_stream_recv_window(r->st),
                     SHOAL_YAMUX_INITIAL_WINDOW);
    pair_done(&p);
}

/* With a measured round trip and a fast reader, windows double up to
 * max_window, and the sender still never exceeds them. */
static void test_window_grows(void **state)
{
    pair p;
    rec *c;
    shoal_yamux_config cc, sc;
    const uint64_t total = 64 * MIB;
    uint64_t sent = 0;
    int rounds = 0;

    (void)state;
    shoal_yamux_config_init(&cc, 1);
    shoal_yamux_config_init(&sc, 0);
    sc.max_window = 4 * MIB;
    pair_init(&p, &cc, &sc);
    tick_both(&p, 1000); /* first keep-alive pings */
    now_ms = 1010;
    (void)shoal_yamux_tick(p.c.mux, now_ms);
    (void)shoal_yamux_tick(p.s.mux, now_ms);
    pump(&p);
    assert_int_equal(p.s.rtt, 10);
    assert_int_equal(shoal_yamux_rtt(p.s.mux), 10);
    c = open_rec(&p.c);
    while (sent < total) {
        size_t taken = 0;
        assert_true(++rounds < 100000);
        assert_int_equal(shoal_yamux_stream_write(c->st, pat_at(1, sent),
                                                  256 * KIB, &taken),
                         0);
        sent += taken;
        pump(&p);
        p.s.recs[0]->len = 0; /* bytes not kept */
    }
    assert_true(p.to_c.max_wu > SHOAL_YAMUX_INITIAL_WINDOW);
    assert_true(p.to_c.granted[1] + SHOAL_YAMUX_INITIAL_WINDOW <=
                total + 4 * MIB);
    print_message("grow: largest window update %llu\n",
                  (unsigned long long)p.to_c.max_wu);
    /* and no further than max_window: what is unconsumed never passes it */
    assert_true(p.to_c.max_wu <= 4 * MIB);
    pair_done(&p);
}

static void expect_protocol_error(side *sd, int rc)
{
    uint8_t h[H];

    assert_int_equal(rc, SHOAL_EPROTO);
    assert_int_equal(shoal_yamux_error(sd->mux), SHOAL_EPROTO);
    assert_true(out_frame(sd, WU, h)); /* skips RSTs */
    assert_int_equal(h[1], SHOAL_YAMUX_GO_AWAY);
    assert_int_equal(be32(h + 8), SHOAL_YAMUX_GO_AWAY_PROTOCOL);
    /* dead from now on */
    assert_int_equal(feed_frame(sd, SHOAL_YAMUX_PING, SHOAL_YAMUX_SYN, 0, 1,
                                NULL, 0),
                     SHOAL_EPROTO);
    assert_int_equal(shoal_yamux_output_pending(sd->mux), 0);
}

static void test_window_violation(void **state)
{
    pair p;
    rec *s;
    static uint8_t big[SHOAL_YAMUX_INITIAL_WINDOW];

    (void)state;
    pair_init(&p, NULL, NULL);
    p.s.hold = 1;
    /* a SYN with a whole window of data is fine */
    assert_int_equal(feed_frame(&p.s, SHOAL_YAMUX_DATA, SHOAL_YAMUX_SYN, 1,
                                sizeof(big), big, sizeof(big)),
                     0);
    s = p.s.recs[0];
    assert_int_equal(s->len, sizeof(big));
    /* one byte more is not */
    expect_protocol_error(
        &p.s, feed_frame(&p.s, SHOAL_YAMUX_DATA, 0, 1, 1, "x", 1));
    assert_int_equal(s->closed, 1);
    assert_int_equal(s->status, SHOAL_EPROTO);
    pair_done(&p);

    /* nor a first frame beyond the initial window */
    pair_init(&p, NULL, NULL);
    expect_protocol_error(&p.s, feed_frame(&p.s, SHOAL_YAMUX_DATA,
                                           SHOAL_YAMUX_SYN, 1,
                                           SHOAL_YAMUX_INITIAL_WINDOW + 1,
                                           NULL, 0));
    pair_done(&p);
}

static void test_bad_frames(void **state)
{
    pair p;
    uint8_t h[H];

    (void)state;
    /* wrong parity: the client's id used by the server's remote */
    pair_init(&p, NULL, NULL);
    expect_protocol_error(&p.s, feed_frame(&p.s, WU, SHOAL_YAMUX_SYN, 2, 0,
                                           NULL, 0));
    expect_protocol_error(&p.c, feed_frame(&p.c, WU, SHOAL_YAMUX_SYN, 5, 0,
                                           NULL, 0));
    pair_done(&p);
    /* version 1 */
    pair_init(&p, NULL, NULL);
    shoal_yamux_header_encode(h, SHOAL_YAMUX_PING, SHOAL_YAMUX_SYN, 0, 7);
    h[0] = 1;
    expect_protocol_error(&p.s, shoal_yamux_feed(p.s.mux, h, H));
    pair_done(&p);
    /* unknown type */
    pair_init(&p, NULL, NULL);
    expect_protocol_error(&p.s, feed_frame(&p.s, 4, 0, 0, 0, NULL, 0));
    pair_done(&p);
    /* data on the session id, ping on a stream id */
    pair_init(&p, NULL, NULL);
    expect_protocol_error(&p.s, feed_frame(&p.s, SHOAL_YAMUX_DATA, 0, 0, 0,
                                           NULL, 0));
    pair_done(&p);
    pair_init(&p, NULL, NULL);
    expect_protocol_error(&p.s, feed_frame(&p.s, SHOAL_YAMUX_PING,
                                           SHOAL_YAMUX_SYN, 1, 0, NULL, 0));
    pair_done(&p);
    /* a SYN for a stream that is open */
    pair_init(&p, NULL, NULL);
    assert_int_equal(feed_frame(&p.s, WU, SHOAL_YAMUX_SYN, 1, 0, NULL, 0), 0);
    expect_protocol_error(&p.s, feed_frame(&p.s, WU, SHOAL_YAMUX_SYN, 1, 0,
                                           NULL, 0));
    pair_done(&p);
    /* a window beyond 4 GiB */
    pair_init(&p, NULL, NULL);
    assert_int_equal(feed_frame(&p.s, WU, SHOAL_YAMUX_SYN, 1, 0, NULL, 0), 0);
    expect_protocol_error(&p.s, feed_frame(&p.s, WU, 0, 1, UINT32_MAX, NULL,
                                           0));
    pair_done(&p);
}

static void test_unknown_stream(void **state)
{
    pair p;
    uint8_t h[H];

    (void)state;
    pair_init(&p, NULL, NULL);
    /* data for a stream never opened: RST, the session lives */
    assert_int_equal(feed_frame(&p.s, SHOAL_YAMUX_DATA, 0, 7, 3, "abc", 3), 0);
    assert_true(out_frame(&p.s, -1, h));
    assert_int_equal(h[1], WU);
    assert_int_equal(h[3], SHOAL_YAMUX_RST);
    assert_int_equal(be32(h + 4), 7);
    /* a window update or an RST for one: ignored, nothing sent */
    assert_int_equal(feed_frame(&p.s, WU, 0, 9, 100, NULL, 0), 0);
    assert_int_equal(feed_frame(&p.s, SHOAL_YAMUX_DATA, SHOAL_YAMUX_RST, 9, 0,
                                NULL, 0),
                     0);
    assert_int_equal(shoal_yamux_output_pending(p.s.mux), 0);
    /* and the session still works */
    open_rec(&p.c);
    pump(&p);
    assert_int_equal(p.s.nrecs, 1);
    assert_int_equal(shoal_yamux_error(p.s.mux), 0);
    pair_done(&p);
}

/* Data after the remote's FIN breaks that stream only: RST, EPROTO. */
static void test_data_after_fin(void **state)
{
    pair p;
    rec *s;
    uint8_t h[H];

    (void)state;
    pair_init(&p, NULL, NULL);
    assert_int_equal(feed_frame(&p.s, SHOAL_YAMUX_DATA,
                                SHOAL_YAMUX_SYN | SHOAL_YAMUX_FIN, 1, 2, "ab",
                                2),
                     0);
    s = p.s.recs[0];
    assert_int_equal(s->fin, 1);
    assert_int_equal(s->len, 2);
    (void)shoal_yamux_output_read(p.s.mux, (uint8_t[64]){0}, 64); /* ACK */
    /* an empty frame with FIN again is harmless */
    assert_int_equal(feed_frame(&p.s, SHOAL_YAMUX_DATA, SHOAL_YAMUX_FIN, 1, 0,
                                NULL, 0),
                     0);
    assert_int_equal(s->fin, 1);
    assert_int_equal(s->closed, 0);
    assert_int_equal(feed_frame(&p.s, SHOAL_YAMUX_DATA, 0, 1, 2, "cd", 2), 0);
    assert_int_equal(s->closed, 1);
    assert_int_equal(s->status, SHOAL_EPROTO);
    assert_int_equal(s->len, 2);
    assert_true(out_frame(&p.s, -1, h));
    assert_int_equal(h[3], SHOAL_YAMUX_RST);
    assert_int_equal(shoal_yamux_error(p.s.mux), 0);
    pair_done(&p);
}

static void test_stream_limit(void **state)
{
    pair p;
    shoal_yamux_config cc, sc;
    shoal_yamux_stream *st;
    int i;

    (void)state;
    shoal_yamux_config_init(&cc, 1);
    shoal_yamux_config_init(&sc, 0);
    cc.keepalive_ms = sc.keepalive_ms = 0;
    sc.max_streams = 4;
    cc.max_unacked = 6;
    pair_init(&p, &cc, &sc);
    for (i = 0; i < 6; i++)
        open_rec(&p.c);
    assert_int_equal(shoal_yamux_open(p.c.mux, &st), SHOAL_EBUSY);
    pump(&p);
    assert_int_equal(p.s.nrecs, 4);
    assert_int_equal(p.to_c.nrst, 2);
    assert_int_equal(p.s.refused, 2); /* told, for the log */
    assert_int_equal(p.c.recs[4]->status, SHOAL_ECONNRESET);
    assert_int_equal(p.c.recs[5]->status, SHOAL_ECONNRESET);
    assert_int_equal(p.c.recs[0]->closed, 0);
    assert_int_equal(shoal_yamux_stream_count(p.s.mux), 4);
    /* once one closes, a new one fits, and one only */
    assert_int_equal(shoal_yamux_stream_reset(p.c.recs[0]->st), 0);
    pump(&p);
    open_rec(&p.c); /* refused ones no longer count as unacknowledged */
    open_rec(&p.c);
    pump(&p);
    assert_int_equal(p.s.nrecs, 5);
    assert_int_equal(p.c.recs[6]->closed, 0);
    assert_int_equal(p.c.recs[7]->status, SHOAL_ECONNRESET);
    assert_int_equal(shoal_yamux_stream_count(p.s.mux), 4);
    /* the local limit */
    sc.max_streams = 2;
    pair_done(&p);
    cc.max_streams = 2;
    pair_init(&p, &cc, &sc);
    open_rec(&p.c);
    open_rec(&p.c);
    assert_int_equal(shoal_yamux_open(p.c.mux, &st), SHOAL_EFULL);
    assert_null(st);
    pair_done(&p);
}

static void test_ping(void **state)
{
    pair p;
    shoal_yamux_config cc;

    (void)state;
    shoal_yamux_config_init(&cc, 1);
    cc.keepalive_ms = 30000;
    cc.ping_timeout_ms = 5000;
    pair_init(&p, &cc, NULL);
    assert_int_equal(shoal_yamux_rtt(p.c.mux), -1);
    /* the first tick pings at once */
    assert_int_equal(shoal_yamux_next_tick(p.c.mux), 0);
    assert_int_equal(shoal_yamux_tick(p.c.mux, 1000), 0);
    assert_int_equal(shoal_yamux_output_pending(p.c.mux), H);
    assert_int_equal(shoal_yamux_next_tick(p.c.mux), 6000); /* timeout */
    /* the answer comes back 42 ms later */
    xfer(&p.c, &p.s, &p.to_s, &p.to_c);
    assert_int_equal(shoal_yamux_tick(p.c.mux, 1042), 0);
    xfer(&p.s, &p.c, &p.to_c, &p.to_s);
    assert_int_equal(p.to_c.nping_ack, 1);
    assert_int_equal(p.c.pongs, 1);
    assert_int_equal(p.c.rtt, 42);
    assert_int_equal(shoal_yamux_rtt(p.c.mux), 42);
    /* next keep-alive: 30 s after the last ping */
    assert_int_equal(shoal_yamux_next_tick(p.c.mux), 31000);
    assert_int_equal(shoal_yamux_tick(p.c.mux, 30999), 0);
    assert_int_equal(shoal_yamux_output_pending(p.c.mux), 0);
    assert_int_equal(shoal_yamux_tick(p.c.mux, 31000), 0);
    assert_int_equal(shoal_yamux_output_pending(p.c.mux), H);
    pump(&p);
    assert_int_equal(p.c.pongs, 2);
    assert_int_equal(p.c.rtt, 0);
    /* an explicit ping; while it is out, another one does not add one */
    assert_int_equal(shoal_yamux_ping(p.s.mux), 0);
    assert_int_equal(shoal_yamux_ping(p.s.mux), 0);
    assert_int_equal(shoal_yamux_output_pending(p.s.mux), H);
    pump(&p);
    assert_int_equal(p.s.pongs, 1);
    /* an answer nobody asked for is ignored */
    assert_int_equal(feed_frame(&p.c, SHOAL_YAMUX_PING, SHOAL_YAMUX_ACK, 0, 99,
                                NULL, 0),
                     0);
    assert_int_equal(p.c.pongs, 2);
    pair_done(&p);
}

static void test_keepalive_timeout(void **state)
{
    pair p;
    shoal_yamux_config cc;
    rec *c;

    (void)state;
    shoal_yamux_config_init(&cc, 1);
    cc.keepalive_ms = 1000;
    cc.ping_timeout_ms = 3000;
    pair_init(&p, &cc, NULL);
    c = open_rec(&p.c);
    assert_int_equal(shoal_yamux_tick(p.c.mux, 0), 0);
    pump(&p);
    assert_int_equal(p.c.pongs, 1);
    /* the remote goes silent: pings go out, nothing comes back */
    assert_int_equal(shoal_yamux_tick(p.c.mux, 1000), 0);
    assert_int_equal(shoal_yamux_output_read(p.c.mux, (uint8_t[64]){0}, 64),
                     H);
    assert_int_equal(shoal_yamux_tick(p.c.mux, 2000), 0);
    assert_int_equal(shoal_yamux_tick(p.c.mux, 3999), 0);
    assert_int_equal(shoal_yamux_output_pending(p.c.mux), 0);
    assert_int_equal(c->closed, 0);
    assert_int_equal(shoal_yamux_tick(p.c.mux, 4000), SHOAL_ETIMEDOUT);
    assert_int_equal(c->closed, 1);
    assert_int_equal(c->status, SHOAL_ETIMEDOUT);
    assert_int_equal(shoal_yamux_error(p.c.mux), SHOAL_ETIMEDOUT);
    assert_int_equal(shoal_yamux_next_tick(p.c.mux), UINT64_MAX);
    assert_int_equal(shoal_yamux_tick(p.c.mux, 5000), SHOAL_ETIMEDOUT);
    {
        shoal_yamux_stream *st;
        assert_int_equal(shoal_yamux_open(p.c.mux, &st), SHOAL_ECLOSED);
    }
    pair_done(&p);
}

static void test_go_away(void **state)
{
    pair p;
    rec *c, *s;
    shoal_yamux_stream *st;
    uint8_t h[H];

    (void)state;
    pair_init(&p, NULL, NULL);
    c = open_rec(&p.c);
    write_all(c, "one", 3);
    pump(&p);
    s = p.s.recs[0];
    assert_int_equal(shoal_yamux_go_away(p.s.mux, SHOAL_YAMUX_GO_AWAY_NORMAL),
                     0);
    assert_int_equal(shoal_yamux_go_away(p.s.mux, 0), SHOAL_ECLOSED);
    pump(&p);
    assert_int_equal(p.c.go_aways, 1);
    assert_int_equal(p.c.go_away_code, 0);
    /* no new streams either way */
    assert_int_equal(shoal_yamux_open(p.c.mux, &st), SHOAL_ECLOSED);
    assert_int_equal(shoal_yamux_open(p.s.mux, &st), SHOAL_ECLOSED);
    /* the existing one finishes */
    write_all(s, "two", 3);
    assert_int_equal(shoal_yamux_stream_close(s->st), 0);
    assert_int_equal(shoal_yamux_stream_close(c->st), 0);
    pump(&p);
    tick_both(&p, 1);
    assert_int_equal(c->len, 3);
    assert_int_equal(c->status, 0);
    assert_int_equal(s->status, 0);
    assert_int_equal(shoal_yamux_stream_count(p.s.mux), 0);
    /* a remote ignoring our Go Away gets its stream refused */
    assert_int_equal(feed_frame(&p.s, WU, SHOAL_YAMUX_SYN, 3, 0, NULL, 0), 0);
    assert_true(out_frame(&p.s, -1, h));
    assert_int_equal(h[3], SHOAL_YAMUX_RST);
    assert_int_equal(shoal_yamux_error(p.s.mux), 0);
    assert_int_equal(shoal_yamux_error(p.c.mux), 0);
    pair_done(&p);
}

/* Writes: a partial count, or all or nothing without *taken. */
static void test_write_limits(void **state)
{
    pair p;
    rec *c;
    static uint8_t big[2 * MIB];
    size_t taken = 0;
    shoal_yamux_config cc;

    (void)state;
    shoal_yamux_config_init(&cc, 1);
    cc.keepalive_ms = 0;
    cc.max_write_buffer = 100 * KIB;
    cc.max_frame = 16 * KIB;
    pair_init(&p, &cc, NULL);
    p.s.hold = 1;
    c = open_rec(&p.c);
    assert_int_equal(shoal_yamux_stream_write_space(c->st),
                     SHOAL_YAMUX_INITIAL_WINDOW + 100 * KIB);
    assert_int_equal(shoal_yamux_stream_write(c->st, big, sizeof(big), &taken),
                     0);
    assert_int_equal(taken, SHOAL_YAMUX_INITIAL_WINDOW + 100 * KIB);
    assert_int_equal(shoal_yamux_stream_write_space(c->st), 0);
    assert_int_equal(shoal_yamux_stream_write(c->st, big, 1, &taken), 0);
    assert_int_equal(taken, 0);
    assert_int_equal(shoal_yamux_stream_write(c->st, big, 1, NULL),
                     SHOAL_ENOBUFS);
    assert_int_equal(shoal_yamux_stream_write(c->st, big, 0, NULL), 0);
    pump(&p);
    assert_int_equal(p.to_s.max_data, 16 * KIB);
    assert_int_equal(p.s.recs[0]->len, SHOAL_YAMUX_INITIAL_WINDOW);
    /* half a window consumed: an update, the buffered bytes go, writable */
    assert_int_equal(c->writable, 0);
    assert_int_equal(shoal_yamux_stream_consumed(
                         p.s.recs[0]->st, SHOAL_YAMUX_INITIAL_WINDOW / 2),
                     0);
    pump(&p);
    assert_int_equal(c->writable, 1);
    assert_int_equal(p.s.recs[0]->len, SHOAL_YAMUX_INITIAL_WINDOW + 100 * KIB);
    assert_int_equal(shoal_yamux_stream_write_space(c->st),
                     SHOAL_YAMUX_INITIAL_WINDOW / 2 - 100 * KIB + 100 * KIB);
    /* all or nothing: fits now */
    assert_int_equal(shoal_yamux_stream_write(c->st, big, 100 * KIB, NULL), 0);
    pair_done(&p);
}

/* The same frames fed whole, in two pieces at every point, and one byte at
 * a time give the same events and the same answers. */
static void replay(const uint8_t *wire, size_t len, size_t split, int bytewise,
                   char *log, size_t logcap, uint8_t *out, size_t *outlen,
                   uint8_t **data, size_t *datalen)
{
    side s;
    shoal_yamux_config cfg;
    size_t i;

    shoal_yamux_config_init(&cfg, 0);
    cfg.keepalive_ms = 0;
    side_init(&s, &cfg);
    if (bytewise) {
        for (i = 0; i < len; i++)
            assert_int_equal(shoal_yamux_feed(s.mux, wire + i, 1), 0);
    } else {
        assert_int_equal(shoal_yamux_feed(s.mux, wire, split), 0);
        assert_int_equal(shoal_yamux_feed(s.mux, wire + split, len - split),
                         0);
    }
    *outlen = shoal_yamux_output_read(s.mux, out, 4096);
    assert_int_equal(shoal_yamux_output_pending(s.mux), 0);
    snprintf(log, logcap, "%s", s.log);
    /* data of streams 1 and 3, concatenated */
    *datalen = 0;
    for (i = 0; i < s.nrecs; i++) {
        memcpy(*data + *datalen, s.recs[i]->data, s.recs[i]->len);
        *datalen += s.recs[i]->len;
    }
    side_done(&s);
}

static void test_every_split(void **state)
{
    shoal_yamux *c;
    shoal_yamux_stream *a, *b;
    shoal_yamux_config cfg;
    uint8_t wire[8192], h[H];
    size_t len, i, ref_out_len, ref_data_len;
    static char ref_log[8192], log[8192];
    static uint8_t ref_out[4096], out[4096], ref_buf[8192], buf[8192];
    uint8_t *ref_data = ref_buf, *data = buf;
    uint8_t text[3000];

    (void)state;
    for (i = 0; i < sizeof(text); i++)
        text[i] = (uint8_t)(i * 7);
    /* a client's output: two streams, data in frames of 1000 bytes, a ping,
     * an empty data frame, a FIN, an RST, a Go Away */
    shoal_yamux_config_init(&cfg, 1);
    cfg.keepalive_ms = 0;
    cfg.max_frame = 1000;
    assert_int_equal(shoal_yamux_new(&c, &cfg, NULL, NULL), 0);
    assert_int_equal(shoal_yamux_open(c, &a), 0);
    assert_int_equal(shoal_yamux_stream_write(a, text, 2500, NULL), 0);
    assert_int_equal(shoal_yamux_open(c, &b), 0);
    assert_int_equal(shoal_yamux_stream_write(b, "hi", 2, NULL), 0);
    assert_int_equal(shoal_yamux_ping(c), 0);
    assert_int_equal(shoal_yamux_stream_write(a, text + 2500, 500, NULL), 0);
    assert_int_equal(shoal_yamux_stream_close(a), 0);
    assert_int_equal(shoal_yamux_stream_reset(b), 0);
    assert_int_equal(shoal_yamux_go_away(c, 0), 0);
    len = shoal_yamux_output_read(c, wire, sizeof(wire));
    shoal_yamux_free(c);
    /* plus a frame with data and FIN at once, and an empty data frame */
    shoal_yamux_header_encode(h, SHOAL_YAMUX_DATA, SHOAL_YAMUX_SYN, 5, 0);
    memcpy(wire + len, h, H);
    len += H;
    shoal_yamux_header_encode(h, SHOAL_YAMUX_DATA, SHOAL_YAMUX_FIN, 5, 4);
    memcpy(wire + len, h, H);
    memcpy(wire + len + H, "last", 4);
    len += H + 4;

    replay(wire, len, len, 0, ref_log, sizeof(ref_log), ref_out, &ref_out_len,
           &ref_data, &ref_data_len);
    snprintf(log, sizeof(log), "S1;D1;S3;D3;D1;F1;C3:%d;G0;S5;D5;F5;",
             SHOAL_ECONNRESET);
    assert_string_equal(ref_log, log);
    assert_int_equal(ref_data_len, 3000 + 2 + 4);
    assert_memory_equal(ref_data, text, 3000);
    /* the answers: each stream's ACK when its first bytes are consumed
     * (with no window yet: less than half a window was read) and the
     * ping's */
    assert_int_equal(ref_out_len, 4 * H);
    shoal_yamux_header_encode(h, WU, SHOAL_YAMUX_ACK, 1, 0);
    assert_memory_equal(ref_out, h, H);
    shoal_yamux_header_encode(h, WU, SHOAL_YAMUX_ACK, 3, 0);
    assert_memory_equal(ref_out + H, h, H);
    shoal_yamux_header_encode(h, SHOAL_YAMUX_PING, SHOAL_YAMUX_ACK, 0, 1);
    assert_memory_equal(ref_out + 2 * H, h, H);
    shoal_yamux_header_encode(h, WU, SHOAL_YAMUX_ACK, 5, 0);
    assert_memory_equal(ref_out + 3 * H, h, H);
    for (i = 0; i <= len; i++) {
        size_t out_len, data_len;
        replay(wire, len, i, 0, log, sizeof(log), out, &out_len, &data,
               &data_len);
        assert_string_equal(log, ref_log);
        assert_int_equal(out_len, ref_out_len);
        assert_memory_equal(out, ref_out, out_len);
        assert_int_equal(data_len, ref_data_len);
        assert_memory_equal(data, ref_data, data_len);
    }
    {
        size_t out_len, data_len;
        replay(wire, len, 0, 1, log, sizeof(log), out, &out_len, &data,
               &data_len);
        assert_string_equal(log, ref_log);
        assert_memory_equal(data, ref_data, data_len);
    }
}

/* ---------------------------------------------- 1000 streams, 1 MiB each */

#define SIM_STREAMS 1000
#define SIM_BYTES (1 * MIB)
/* every third stream's reader is slow: the client consumes 48 KiB of it per
 * round, so the server's echo, then the client's writes, wait for window */
#define SIM_SLOW(k) ((k) % 3 == 0)

typedef struct sim_stream {
    shoal_yamux_stream *st;
    uint32_t k;              /* index, for the pattern */
    uint64_t sent, got;      /* client: written, echoed back and checked */
    size_t unconsumed;       /* client, slow streams: not consumed yet */
    int done;
    /* server: bytes received but not yet taken by write (not consumed) */
    uint8_t *held;
    size_t held_len, held_cap;
    int fin;
} sim_stream;

typedef struct sim {
    shoal_yamux *c, *s;
    sim_stream cs[SIM_STREAMS];
    size_t opened, finished, server_closed;
    size_t max_held;
    int s_writables;
} sim;

static void sim_c_data(shoal_yamux_stream *st, const uint8_t *data, size_t len,
                       void *user)
{
    sim_stream *ss = shoal_yamux_stream_user(st);

    (void)user;
    assert_true(ss->got + len <= SIM_BYTES);
    while (len > 0) {
        size_t n = len < 64 * KIB ? len : 64 * KIB;
        assert_memory_equal(data, pat_at(ss->k, ss->got), n);
        if (SIM_SLOW(ss->k))
            ss->unconsumed += n; /* released a little per round */
        else
            assert_int_equal(shoal_yamux_stream_consumed(st, n), 0);
        ss->got += n;
        data += n;
        len -= n;
    }
}

static void sim_c_fin(shoal_yamux_stream *st, void *user)
{
    sim_stream *ss = shoal_yamux_stream_user(st);

    (void)user;
    assert_int_equal(ss->got, SIM_BYTES);
}

static void sim_c_closed(shoal_yamux_stream *st, int status, void *user)
{
    sim *sm = user;
    sim_stream *ss = shoal_yamux_stream_user(st);

    assert_int_equal(status, 0);
    assert_int_equal(ss->got, SIM_BYTES);
    ss->done = 1;
    ss->st = NULL;
    sm->finished++;
}

/* The server echoes: what write takes is consumed, the rest is held (and
 * stays unconsumed, so the window bounds it) until writable(). */
static void sim_s_flush(sim *sm, shoal_yamux_stream *st, sim_stream *ss)
{
    size_t taken = 0;

    if (ss->held_len > 0) {
        assert_int_equal(
            shoal_yamux_stream_write(st, ss->held, ss->held_len, &taken), 0);
        memmove(ss->held, ss->held + taken, ss->held_len - taken);
        ss->held_len -= taken;
        assert_int_equal(shoal_yamux_stream_consumed(st, taken), 0);
    }
    if (ss->held_len == 0 && ss->fin == 1) {
        assert_int_equal(shoal_yamux_stream_close(st), 0);
        ss->fin = 2;
    }
    (void)sm;
}

static int sim_s_stream(shoal_yamux *mux, shoal_yamux_stream *st, void *user)
{
    sim_stream *ss = calloc(1, sizeof(*ss));

    (void)mux;
    (void)user;
    assert_non_null(ss);
    shoal_yamux_stream_set_user(st, ss);
    return 0;
}

static void sim_s_data(shoal_yamux_stream *st, const uint8_t *data, size_t len,
                       void *user)
{
    sim *sm = user;
    sim_stream *ss = shoal_yamux_stream_user(st);
    size_t taken = 0;

    if (ss->held_len == 0) {
        assert_int_equal(shoal_yamux_stream_write(st, data, len, &taken), 0);
        assert_int_equal(shoal_yamux_stream_consumed(st, taken), 0);
    }
    /* the rest waits, unconsumed: never more than the window (which grows
     * here: the round trip is measured as one round) */
    assert_true(ss->held_len + len - taken <=
                shoal_yamux_stream_recv_window(st));
    assert_int_equal(shoal_yamux_stream_unconsumed(st),
                     ss->held_len + len - taken);
    if (ss->held_len + len - taken > ss->held_cap) {
        ss->held_cap = shoal_yamux_stream_recv_window(st);
        ss->held = realloc(ss->held, ss->held_cap);
        assert_non_null(ss->held);
    }
    if (len > taken)
        memcpy(ss->held + ss->held_len, data + taken, len - taken);
    ss->held_len += len - taken;
    if (ss->held_len > sm->max_held)
        sm->max_held = ss->held_len;
}

static void sim_s_fin(shoal_yamux_stream *st, void *user)
{
    sim_stream *ss = shoal_yamux_stream_user(st);

    ss->fin = 1;
    sim_s_flush(user, st, ss);
}

static void sim_s_writable(shoal_yamux_stream *st, void *user)
{
    ((sim *)user)->s_writables++;
    sim_s_flush(user, st, shoal_yamux_stream_user(st));
}

static void sim_s_closed(shoal_yamux_stream *st, int status, void *user)
{
    sim *sm = user;
    sim_stream *ss = shoal_yamux_stream_user(st);

    assert_int_equal(status, 0);
    free(ss->held);
    free(ss);
    sm->server_closed++;
}

static size_t sim_move(shoal_yamux *from, shoal_yamux *to, size_t max)
{
    static uint8_t buf[256 * KIB];
    size_t moved = 0, n;

    while (moved < max &&
           (n = shoal_yamux_output_read(from, buf, sizeof(buf))) > 0) {
        assert_int_equal(shoal_yamux_feed(to, buf, n), 0);
        moved += n;
    }
    return moved;
}

static void test_thousand_streams(void **state)
{
    static sim sm;
    shoal_yamux_config cc, sc;
    shoal_yamux_callbacks ccb = {0}, scb = {0};
    size_t i, max_mem_c = 0, max_mem_s = 0, max_out = 0;
    int rounds = 0;
    uint64_t t = 0;

    (void)state;
    memset(&sm, 0, sizeof(sm));
    ccb.data = sim_c_data;
    ccb.fin = sim_c_fin;
    ccb.closed = sim_c_closed;
    scb.stream = sim_s_stream;
    scb.data = sim_s_data;
    scb.fin = sim_s_fin;
    scb.writable = sim_s_writable;
    scb.closed = sim_s_closed;
    shoal_yamux_config_init(&cc, 1);
    shoal_yamux_config_init(&sc, 0);
    /* chunk sizes no frame fits evenly: the client's is Noise's largest
     * plaintext, as a secure session sets it */
    cc.out_chunk = 65519;
    sc.out_chunk = 4099;
    assert_int_equal(shoal_yamux_new(&sm.c, &cc, &ccb, &sm), 0);
    assert_int_equal(shoal_yamux_new(&sm.s, &sc, &scb, &sm), 0);
    while (sm.finished < SIM_STREAMS) {
        assert_true(++rounds < 200000);
        t += 1;
        assert_int_equal(shoal_yamux_tick(sm.c, t), 0);
        assert_int_equal(shoal_yamux_tick(sm.s, t), 0);
        /* open as many as the ACK backlog allows */
        while (sm.opened < SIM_STREAMS) {
            sim_stream *ss = &sm.cs[sm.opened];
            int rc = shoal_yamux_open(sm.c, &ss->st);
            if (rc == SHOAL_EBUSY)
                break;
            assert_int_equal(rc, 0);
            ss->k = (uint32_t)sm.opened;
            shoal_yamux_stream_set_user(ss->st, ss);
            sm.opened++;
        }
        /* write while the output queue is short (the application's own
         * backpressure, as it would watch a socket's write queue) */
        for (i = 0; i < sm.opened; i++) {
            sim_stream *ss = &sm.cs[i];
            while (ss->st != NULL && ss->sent < SIM_BYTES &&
                   shoal_yamux_output_pending(sm.c) < 4 * MIB) {
                size_t want = 32 * KIB, taken = 0;
                if (want > SIM_BYTES - ss->sent)
                    want = (size_t)(SIM_BYTES - ss->sent);
                assert_int_equal(shoal_yamux_stream_write(
                                     ss->st, pat_at(ss->k, ss->sent), want,
                                     &taken),
                                 0);
                ss->sent += taken;
                if (ss->sent == SIM_BYTES)
                    assert_int_equal(shoal_yamux_stream_close(ss->st), 0);
                if (taken < want)
                    break;
            }
        }
        for (i = 0; i < sm.opened; i++) {
            sim_stream *ss = &sm.cs[i];
            size_t n = ss->unconsumed < 48 * KIB ? ss->unconsumed : 48 * KIB;
            if (ss->st != NULL && n > 0) {
                assert_int_equal(shoal_yamux_stream_consumed(ss->st, n), 0);
                ss->unconsumed -= n;
            }
        }
        if (shoal_yamux_output_pending(sm.c) > max_out)
            max_out = shoal_yamux_output_pending(sm.c);
        {
            const uint8_t *p;
            assert_true(shoal_yamux_output_peek(sm.c, &p) <= cc.out_chunk);
            assert_true(shoal_yamux_output_peek(sm.s, &p) <= sc.out_chunk);
        }
        if (shoal_yamux_memory(sm.c) > max_mem_c)
            max_mem_c = shoal_yamux_memory(sm.c);
        /* the "network": up to 8 MiB each way per round */
        sim_move(sm.c, sm.s, 8 * MIB);
        if (shoal_yamux_memory(sm.s) > max_mem_s)
            max_mem_s = shoal_yamux_memory(sm.s);
        sim_move(sm.s, sm.c, 8 * MIB);
    }
    assert_int_equal(shoal_yamux_tick(sm.c, t + 1), 0);
    assert_int_equal(shoal_yamux_tick(sm.s, t + 1), 0);
    sim_move(sm.c, sm.s, SIZE_MAX);
    sim_move(sm.s, sm.c, SIZE_MAX);
    assert_int_equal(shoal_yamux_tick(sm.s, t + 2), 0);
    assert_int_equal(sm.server_closed, SIM_STREAMS);
    assert_int_equal(shoal_yamux_stream_count(sm.c), 0);
    assert_int_equal(shoal_yamux_stream_count(sm.s), 0);
    print_message("1000 streams x 1 MiB echoed: %d rounds, max memory "
                  "client %zu server %zu, max output %zu, max held %zu, "
                  "%d writable() on the server\n",
                  rounds, max_mem_c, max_mem_s, max_out, sm.max_held,
                  sm.s_writables);
    /* the slow readers made the echo wait */
    assert_true(sm.s_writables > 0);
    assert_true(sm.max_held > 0);
    /* memory: the output the application let build up plus, per stream,
     * its state and write buffer: far below 1000 windows */
    assert_true(max_mem_c < 32 * MIB);
    assert_true(max_mem_s < 64 * MIB);
    /* idle now: the output chunks kept for reuse go with a trim, and
     * then next to nothing is held */
    shoal_yamux_trim(sm.c);
    shoal_yamux_trim(sm.s);
    assert_true(shoal_yamux_memory(sm.c) < 64 * KIB);
    assert_true(shoal_yamux_memory(sm.s) < 64 * KIB);
    shoal_yamux_free(sm.c);
    shoal_yamux_free(sm.s);
}

/* ---------------------------------------------------------- odds and ends */

static void test_free_and_abort(void **state)
{
    pair p;
    rec *c1, *c2;

    (void)state;
    /* free() from inside closed(): the session goes when feed returns */
    pair_init(&p, NULL, NULL);
    c1 = open_rec(&p.c);
    c2 = open_rec(&p.c);
    pump(&p);
    assert_int_equal(shoal_yamux_stream_reset(p.s.recs[0]->st), 0);
    p.c.free_in_closed = 1;
    pump(&p);
    assert_null(p.c.mux);
    assert_int_equal(c1->status, SHOAL_ECONNRESET);
    assert_int_equal(c2->status, SHOAL_ECANCELED);
    pair_done(&p);
    /* abort: every stream closed with the error given */
    pair_init(&p, NULL, NULL);
    c1 = open_rec(&p.c);
    shoal_yamux_abort(p.c.mux, SHOAL_ECLOSED);
    assert_int_equal(c1->status, SHOAL_ECLOSED);
    assert_int_equal(shoal_yamux_error(p.c.mux), SHOAL_ECLOSED);
    assert_int_equal(shoal_yamux_feed(p.c.mux, "x", 1), SHOAL_ECLOSED);
    assert_int_equal(shoal_yamux_ping(p.c.mux), SHOAL_ECLOSED);
    pair_done(&p);
}

static void test_bad_config(void **state)
{
    shoal_yamux *m = NULL;
    shoal_yamux_config cfg;

    (void)state;
    shoal_yamux_config_init(&cfg, 0);
    cfg.max_window = 1000;
    assert_int_equal(shoal_yamux_new(&m, &cfg, NULL, NULL), SHOAL_EINVAL);
    assert_null(m);
    shoal_yamux_config_init(&cfg, 0);
    cfg.max_frame = 0;
    assert_int_equal(shoal_yamux_new(&m, &cfg, NULL, NULL), SHOAL_EINVAL);
    shoal_yamux_config_init(&cfg, 0);
    cfg.out_chunk = 4095;
    assert_int_equal(shoal_yamux_new(&m, &cfg, NULL, NULL), SHOAL_EINVAL);
    cfg.out_chunk = 1024 * 1024 + 1;
    assert_int_equal(shoal_yamux_new(&m, &cfg, NULL, NULL), SHOAL_EINVAL);
    shoal_yamux_config_init(&cfg, 0);
    cfg.open_window = SHOAL_YAMUX_INITIAL_WINDOW - 1;
    assert_int_equal(shoal_yamux_new(&m, &cfg, NULL, NULL), SHOAL_EINVAL);
    cfg.open_window = cfg.max_window + 1;
    assert_int_equal(shoal_yamux_new(&m, &cfg, NULL, NULL), SHOAL_EINVAL);
    /* NULL config, NULL callbacks: a listener that refuses every stream */
    assert_int_equal(shoal_yamux_new(&m, NULL, NULL, NULL), 0);
    {
        uint8_t h[H], o[64];
        shoal_yamux_header_encode(h, WU, SHOAL_YAMUX_SYN, 1, 0);
        assert_int_equal(shoal_yamux_feed(m, h, H), 0);
        assert_int_equal(shoal_yamux_output_read(m, o, sizeof(o)), H);
        assert_int_equal(o[3], SHOAL_YAMUX_RST);
    }
    shoal_yamux_free(m);
    shoal_yamux_free(NULL);
}

/* Without a data() callback, bytes are consumed as they arrive. */
static int accept_any(shoal_yamux *mux, shoal_yamux_stream *st, void *user)
{
    (void)mux;
    (void)st;
    (*(int *)user)++;
    return 0;
}

static void test_no_data_callback(void **state)
{
    shoal_yamux *m;
    shoal_yamux_callbacks cb = {0};
    static uint8_t payload[200000];
    uint8_t h[H], out[64];
    int accepted = 0;

    (void)state;
    cb.stream = accept_any;
    assert_int_equal(shoal_yamux_new(&m, NULL, &cb, &accepted), 0);
    shoal_yamux_header_encode(h, SHOAL_YAMUX_DATA, SHOAL_YAMUX_SYN, 1,
                              sizeof(payload));
    assert_int_equal(shoal_yamux_feed(m, h, H), 0);
    assert_int_equal(shoal_yamux_feed(m, payload, sizeof(payload)), 0);
    assert_int_equal(accepted, 1);
    /* one update: the ACK and the whole 200000 back (over half a window) */
    assert_int_equal(shoal_yamux_output_read(m, out, sizeof(out)), H);
    shoal_yamux_header_encode(h, WU, SHOAL_YAMUX_ACK, 1, sizeof(payload));
    assert_memory_equal(out, h, H);
    shoal_yamux_free(m); /* no closed() callback: nothing to report to */
}

/* A remote that floods pings and never reads: answers stop at
 * max_provoked, memory does not follow the flood. */
static void test_ping_flood(void **state)
{
    shoal_yamux *m;
    shoal_yamux_config cfg;
    static uint8_t flood[12 * 10000];
    size_t i;

    (void)state;
    for (i = 0; i < 10000; i++)
        shoal_yamux_header_encode(flood + i * H, SHOAL_YAMUX_PING,
                                  SHOAL_YAMUX_SYN, 0, (uint32_t)i);
    shoal_yamux_config_init(&cfg, 0);
    cfg.max_provoked = 1200;
    assert_int_equal(shoal_yamux_new(&m, &cfg, NULL, NULL), 0);
    for (i = 0; i < 10; i++)
        assert_int_equal(shoal_yamux_feed(m, flood, sizeof(flood)), 0);
    assert_int_equal(shoal_yamux_output_pending(m), 1200);
    /* drained, it answers again */
    shoal_yamux_output_consume(m, 1200);
    assert_int_equal(shoal_yamux_feed(m, flood, H), 0);
    assert_int_equal(shoal_yamux_output_pending(m), H);
    shoal_yamux_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_syn_ack_data),
        cmocka_unit_test(test_ack_on_first_consume),
        cmocka_unit_test(test_half_close_client_first),
        cmocka_unit_test(test_half_close_server_first),
        cmocka_unit_test(test_fin_after_pending_data),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_refuse),
        cmocka_unit_test(test_window_slow_consumer),
        cmocka_unit_test(test_window_grows),
        cmocka_unit_test(test_open_window),
        cmocka_unit_test(test_window_violation),
        cmocka_unit_test(test_bad_frames),
        cmocka_unit_test(test_unknown_stream),
        cmocka_unit_test(test_data_after_fin),
        cmocka_unit_test(test_stream_limit),
        cmocka_unit_test(test_ping),
        cmocka_unit_test(test_keepalive_timeout),
        cmocka_unit_test(test_go_away),
        cmocka_unit_test(test_write_limits),
        cmocka_unit_test(test_every_split),
        cmocka_unit_test(test_thousand_streams),
        cmocka_unit_test(test_free_and_abort),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_no_data_callback),
        cmocka_unit_test(test_ping_flood),
    };

    pattern_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
