/* yamux session: framing, streams, flow control, pings (see yamux.h). */
#include "mux/yamux.h"

#include <stdlib.h>
#include <string.h>

/* Output is a list of chunks of cfg.out_chunk bytes; a frame may straddle
 * two. */
#define PEND_MIN 4096
#define HASH_BITS_MIN 4

typedef struct out_chunk {
    struct out_chunk *next;
    size_t head, tail;
    uint8_t data[];
} out_chunk;

struct shoal_yamux_stream {
    shoal_yamux *mux;
    uint32_t id;
    unsigned outbound : 1;
    unsigned acked : 1;        /* outbound: the remote's ACK came */
    unsigned need_ack : 1;     /* inbound: our ACK has not gone out yet */
    unsigned local_fin : 1;    /* our FIN is queued */
    unsigned fin_pending : 1;  /* close() called, FIN waits behind pend */
    unsigned remote_fin : 1;
    unsigned finished : 1;     /* off the table, waiting for closed() */
    unsigned want_writable : 1;
    int status;
    uint64_t send_window;      /* bytes the remote lets us send */
    uint64_t recv_avail;       /* bytes the remote may still send us */
    uint64_t window_max;       /* our receive window for this stream */
    uint64_t unconsumed;       /* handed to data(), not consumed */
    uint64_t credit;           /* consumed, not yet given back */
    uint64_t last_update;      /* when we last sent a window update */
    uint8_t *pend;             /* bytes written beyond the window */
    size_t pend_head, pend_len, pend_cap;
    void *user;
    shoal_yamux_stream *hnext;       /* hash chain */
    shoal_yamux_stream *prev, *next; /* the live list or the zombie list */
};

struct shoal_yamux {
    shoal_yamux_config cfg;
    shoal_yamux_callbacks cb;
    void *user;
    int error;                 /* 0 while alive */
    uint32_t next_id;          /* 0 once ids ran out */
    int local_go_away, remote_go_away;

    shoal_yamux_stream **buckets;
    unsigned hbits;
    size_t nstreams;           /* live streams, all in the table */
    shoal_yamux_stream *live;
    shoal_yamux_stream *zombie_head, *zombie_tail;
    size_t unacked;
    uint64_t window_extra;     /* window growth granted, all streams */

    /* input: the header being read, then the payload of a data frame */
    uint8_t hdr[SHOAL_YAMUX_HEADER];
    size_t hdr_got;
    uint32_t cur_id;
    uint64_t cur_left;
    uint16_t cur_flags;
    int cur_deliver;           /* 0: the payload is skipped */

    out_chunk *out_head, *out_tail;
    size_t out_len;
    out_chunk *spare;          /* emptied chunks kept for reuse */
    size_t nspare;
    size_t provoked;           /* provoked bytes possibly still queued */

    uint64_t now;
    int ping_out, pinged;
    uint32_t ping_value;
    uint64_t ping_sent, last_ping;
    int64_t rtt;

    size_t mem;
    int depth;                 /* inside feed, tick, abort or free */
    int free_requested;
};

/* ------------------------------------------------------------------ bytes */

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

void shoal_yamux_header_encode(uint8_t out[SHOAL_YAMUX_HEADER], uint8_t type,
                               uint16_t flags, uint32_t stream_id,
                               uint32_t length)
{
    out[0] = SHOAL_YAMUX_VERSION;
    out[1] = type;
    out[2] = (uint8_t)(flags >> 8);
    out[3] = (uint8_t)flags;
    out[4] = (uint8_t)(stream_id >> 24);
    out[5] = (uint8_t)(stream_id >> 16);
    out[6] = (uint8_t)(stream_id >> 8);
    out[7] = (uint8_t)stream_id;
    out[8] = (uint8_t)(length >> 24);
    out[9] = (uint8_t)(length >> 16);
    out[10] = (uint8_t)(length >> 8);
    out[11] = (uint8_t)length;
}

static void *mem_alloc(shoal_yamux *m, size_t n)
{
    void *p = malloc(n);
    if (p != NULL)
        m->mem += n;
    return p;
}

static void mem_free(shoal_yamux *m, void *p, size_t n)
{
    if (p != NULL) {
        free(p);
        m->mem -= n;
    }
}

/* ----------------------------------------------------------------- output
 * A queue of chunks (cfg.out_chunk bytes each). Chunks that empty while data flows are kept
 * and reused, up to what one full window needs: freeing and allocating
 * them again at transfer speed makes the allocator hand memory back to the
 * kernel and fault it in again, which cost more than the copying. So the
 * queue's peak is held while streams are busy, not more;
 * shoal_yamux_trim() lets it go once the session is quiet. */

static out_chunk *chunk_get(shoal_yamux *m)
{
    out_chunk *c = m->spare;

    if (c != NULL) {
        m->spare = c->next;
        m->nspare--;
    } else if ((c = mem_alloc(m, sizeof(*c) + m->cfg.out_chunk)) == NULL) {
        return NULL;
    }
    c->next = NULL;
    c->head = c->tail = 0;
    return c;
}

static void chunk_put(shoal_yamux *m, out_chunk *c)
{
    if (m->nspare < m->cfg.max_window / m->cfg.out_chunk + 2) {
        c->next = m->spare;
        m->spare = c;
        m->nspare++;
    } else {
        mem_free(m, c, sizeof(*c) + m->cfg.out_chunk);
    }
}

void shoal_yamux_trim(shoal_yamux *m)
{
    while (m->spare != NULL) {
        out_chunk *c = m->spare;
        m->spare = c->next;
        mem_free(m, c, sizeof(*c) + m->cfg.out_chunk);
    }
    m->nspare = 0;
    if (m->out_len == 0)
        while (m->out_head != NULL) {
            out_chunk *c = m->out_head;
            m->out_head = c->next;
            mem_free(m, c, sizeof(*c) + m->cfg.out_chunk);
        }
    if (m->out_head == NULL)
        m->out_tail = NULL;
}

/* Makes room for n more bytes, so that the out_put() calls that follow
 * cannot fail halfway through a frame. */
static int out_ensure(shoal_yamux *m, size_t n)
{
    size_t room = 0;
    out_chunk *c;

    for (c = m->out_tail; c != NULL; c = c->next)
        room += m->cfg.out_chunk - c->tail;
    while (room < n) {
        c = chunk_get(m);
        if (c == NULL)
            return SHOAL_ENOMEM;
        if (m->out_tail == NULL) {
            m->out_head = m->out_tail = c;
        } else {
            out_chunk *last = m->out_tail;
            while (last->next != NULL)
                last = last->next;
            last->next = c;
        }
        room += m->cfg.out_chunk;
    }
    return 0;
}

/* Appends n bytes; out_ensure(n) must have been called. */
static void out_put(shoal_yamux *m, const uint8_t *p, size_t n)
{
    m->out_len += n;
    while (n > 0) {
        out_chunk *c = m->out_tail;
        size_t k;
        if (c->tail == m->cfg.out_chunk) {
            c = m->out_tail = c->next;
        }
        k = m->cfg.out_chunk - c->tail;
        if (k > n)
            k = n;
        memcpy(c->data + c->tail, p, k);
        c->tail += k;
        p += k;
        n -= k;
    }
}

/* Empties the queue; its chunks become spares. */
static void out_free_all(shoal_yamux *m)
{
    while (m->out_head != NULL) {
        out_chunk *c = m->out_head;
        m->out_head = c->next;
        chunk_put(m, c);
    }
    m->out_tail = NULL;
    m->out_len = 0;
}

static int send_frame(shoal_yamux *m, uint8_t type, uint16_t flags,
                      uint32_t id, uint32_t len)
{
    uint8_t h[SHOAL_YAMUX_HEADER];

    if (out_ensure(m, sizeof(h)) < 0)
        return SHOAL_ENOMEM;
    shoal_yamux_header_encode(h, type, flags, id, len);
    out_put(m, h, sizeof(h));
    return 0;
}

/* A frame the remote's input calls for (ping answer, RST): dropped when the
 * remote keeps provoking them faster than the output is drained. */
static void send_provoked(shoal_yamux *m, uint8_t type, uint16_t flags,
                          uint32_t id, uint32_t len)
{
    if (m->provoked + SHOAL_YAMUX_HEADER > m->cfg.max_provoked)
        return;
    if (send_frame(m, type, flags, id, len) == 0)
        m->provoked += SHOAL_YAMUX_HEADER;
}

size_t shoal_yamux_output_pending(const shoal_yamux *m)
{
    return m->out_len;
}

size_t shoal_yamux_output_peek(shoal_yamux *m, const uint8_t **data)
{
    out_chunk *c = m->out_head;

    while (m->out_len > 0 && c != NULL && c->head == c->tail)
        c = c->next;
    if (m->out_len == 0 || c == NULL) {
        *data = NULL;
        return 0;
    }
    *data = c->data + c->head;
    return c->tail - c->head;
}

void shoal_yamux_output_consume(shoal_yamux *m, size_t n)
{
    if (n > m->out_len)
        n = m->out_len;
    while (n > 0) {
        out_chunk *c = m->out_head;
        size_t k = c->tail - c->head;
        if (k > n)
            k = n;
        c->head += k;
        n -= k;
        m->out_len -= k;
        if (c->head == c->tail && c->next != NULL) {
            if (m->out_tail == c)
                m->out_tail = c->next;
            m->out_head = c->next;
            chunk_put(m, c);
        }
    }
    if (m->out_len == 0)
        out_free_all(m);
    if (m->provoked > m->out_len)
        m->provoked = m->out_len;
}

size_t shoal_yamux_output_read(shoal_yamux *m, void *buf, size_t cap)
{
    size_t done = 0;

    while (done < cap) {
        const uint8_t *p;
        size_t n = shoal_yamux_output_peek(m, &p);
        if (n == 0)
            break;
        if (n > cap - done)
            n = cap - done;
        memcpy((uint8_t *)buf + done, p, n);
        shoal_yamux_output_consume(m, n);
        done += n;
    }
    return done;
}

/* ------------------------------------------------------------ stream table */

static size_t hslot(const shoal_yamux *m, uint32_t id)
{
    return (size_t)((uint32_t)(id * 2654435769u) >> (32 - m->hbits));
}

static shoal_yamux_stream *lookup(const shoal_yamux *m, uint32_t id)
{
    shoal_yamux_stream *st = m->buckets[hslot(m, id)];

    while (st != NULL && st->id != id)
        st = st->hnext;
    return st;
}

static void hash_grow(shoal_yamux *m)
{
    unsigned bits = m->hbits + 1;
    size_t n = (size_t)1 << bits, old_n = (size_t)1 << m->hbits, i;
    shoal_yamux_stream **nb, **old = m->buckets;

    if (bits > 24)
        return;
    nb = mem_alloc(m, n * sizeof(*nb));
    if (nb == NULL)
        return; /* longer chains, still correct */
    memset(nb, 0, n * sizeof(*nb));
    m->buckets = nb;
    m->hbits = bits;
    for (i = 0; i < old_n; i++) {
        while (old[i] != NULL) {
            shoal_yamux_stream *st = old[i];
            size_t h = hslot(m, st->id);
            old[i] = st->hnext;
            st->hnext = nb[h];
            nb[h] = st;
        }
    }
    mem_free(m, old, old_n * sizeof(*old));
}

static void table_add(shoal_yamux *m, shoal_yamux_stream *st)
{
    size_t h;

    if (m->nstreams >= ((size_t)1 << m->hbits))
        hash_grow(m);
    h = hslot(m, st->id);
    st->hnext = m->buckets[h];
    m->buckets[h] = st;
    st->prev = NULL;
    st->next = m->live;
    if (m->live != NULL)
        m->live->prev = st;
    m->live = st;
    m->nstreams++;
}

static void table_remove(shoal_yamux *m, shoal_yamux_stream *st)
{
    shoal_yamux_stream **pp = &m->buckets[hslot(m, st->id)];

    while (*pp != st)
        pp = &(*pp)->hnext;
    *pp = st->hnext;
    st->hnext = NULL;
    if (st->prev != NULL)
        st->prev->next = st->next;
    else
        m->live = st->next;
    if (st->next != NULL)
        st->next->prev = st->prev;
    st->prev = st->next = NULL;
    m->nstreams--;
}

static void zombie_remove(shoal_yamux *m, shoal_yamux_stream *st)
{
    if (st->prev != NULL)
        st->prev->next = st->next;
    else
        m->zombie_head = st->next;
    if (st->next != NULL)
        st->next->prev = st->prev;
    else
        m->zombie_tail = st->prev;
    st->prev = st->next = NULL;
}

static shoal_yamux_stream *stream_new(shoal_yamux *m, uint32_t id,
                                      int outbound)
{
    shoal_yamux_stream *st = mem_alloc(m, sizeof(*st));

    if (st == NULL)
        return NULL;
    memset(st, 0, sizeof(*st));
    st->mux = m;
    st->id = id;
    st->outbound = outbound ? 1u : 0u;
    st->need_ack = outbound ? 0u : 1u;
    st->send_window = SHOAL_YAMUX_INITIAL_WINDOW;
    st->recv_avail = SHOAL_YAMUX_INITIAL_WINDOW;
    st->window_max = SHOAL_YAMUX_INITIAL_WINDOW;
    st->last_update = m->now;
    return st;
}

static void pend_release(shoal_yamux *m, shoal_yamux_stream *st)
{
    mem_free(m, st->pend, st->pend_cap);
    st->pend = NULL;
    st->pend_cap = st->pend_head = st->pend_len = 0;
}

static void stream_destroy(shoal_yamux *m, shoal_yamux_stream *st)
{
    pend_release(m, st);
    mem_free(m, st, sizeof(*st));
}

/* The stream is over: off the table, its memory but the handle released;
 * closed() comes from reap(). */
static void finish(shoal_yamux *m, shoal_yamux_stream *st, int status)
{
    if (st->finished)
        return;
    st->finished = 1;
    st->status = status;
    table_remove(m, st);
    if (st->outbound && !st->acked)
        m->unacked--;
    m->window_extra -= st->window_max - SHOAL_YAMUX_INITIAL_WINDOW;
    pend_release(m, st);
    st->fin_pending = 0;
    st->want_writable = 0;
    st->prev = m->zombie_tail;
    st->next = NULL;
    if (m->zombie_tail != NULL)
        m->zombie_tail->next = st;
    else
        m->zombie_head = st;
    m->zombie_tail = st;
}

static void maybe_finish(shoal_yamux *m, shoal_yamux_stream *st)
{
    if (!st->finished && st->local_fin && st->remote_fin)
        finish(m, st, 0);
}

/* Delivers closed() for every finished stream and frees it. Only where
 * callbacks may run, holding no stream pointer. */
static void reap(shoal_yamux *m)
{
    while (m->zombie_head != NULL) {
        shoal_yamux_stream *st = m->zombie_head;
        zombie_remove(m, st);
        if (m->cb.closed != NULL)
            m->cb.closed(st, st->status, m->user);
        stream_destroy(m, st);
    }
}

static void session_die(shoal_yamux *m, int err)
{
    if (m->error != 0)
        return;
    m->error = err;
    while (m->live != NULL)
        finish(m, m->live, err);
    m->cur_deliver = 0;
}

static void protocol_error(shoal_yamux *m)
{
    if (m->error != 0)
        return;
    (void)send_frame(m, SHOAL_YAMUX_GO_AWAY, 0, 0,
                     SHOAL_YAMUX_GO_AWAY_PROTOCOL);
    session_die(m, SHOAL_EPROTO);
}

static void destroy(shoal_yamux *m)
{
    while (m->zombie_head != NULL) {
        shoal_yamux_stream *st = m->zombie_head;
        zombie_remove(m, st);
        stream_destroy(m, st);
    }
    while (m->live != NULL) {
        shoal_yamux_stream *st = m->live;
        table_remove(m, st);
        stream_destroy(m, st);
    }
    out_free_all(m);
    shoal_yamux_trim(m);
    mem_free(m, m->buckets, ((size_t)1 << m->hbits) * sizeof(*m->buckets));
    free(m);
}

/* ---------------------------------------------------------------- session */

void shoal_yamux_config_init(shoal_yamux_config *cfg, int client)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->client = client ? 1 : 0;
    cfg->max_window = 16u * 1024 * 1024;
    cfg->window_budget = (size_t)64 * 1024 * 1024;
    cfg->open_window = SHOAL_YAMUX_INITIAL_WINDOW;
    cfg->max_frame = 64u * 1024 - SHOAL_YAMUX_HEADER;
    cfg->max_streams = 1024;
    cfg->max_unacked = 256;
    cfg->max_write_buffer = 256u * 1024;
    cfg->keepalive_ms = 30000;
    cfg->ping_timeout_ms = 10000;
    cfg->max_provoked = 64u * 1024;
    cfg->out_chunk = 64u * 1024;
}

int shoal_yamux_new(shoal_yamux **out, const shoal_yamux_config *cfg,
                    const shoal_yamux_callbacks *cb, void *user)
{
    shoal_yamux *m;
    size_t nb = (size_t)1 << HASH_BITS_MIN;

    if (out == NULL)
        return SHOAL_EINVAL;
    *out = NULL;
    if (cfg != NULL &&
        (cfg->max_window < SHOAL_YAMUX_INITIAL_WINDOW ||
         cfg->open_window < SHOAL_YAMUX_INITIAL_WINDOW ||
         cfg->open_window > cfg->max_window ||
         cfg->max_frame == 0 || cfg->max_streams == 0 ||
         cfg->max_unacked == 0 || cfg->out_chunk < 4096 ||
         cfg->out_chunk > 1024 * 1024))
        return SHOAL_EINVAL;
    m = calloc(1, sizeof(*m));
    if (m == NULL)
        return SHOAL_ENOMEM;
    m->mem = sizeof(*m);
    if (cfg != NULL)
        m->cfg = *cfg;
    else
        shoal_yamux_config_init(&m->cfg, 0);
    if (cb != NULL)
        m->cb = *cb;
    m->user = user;
    m->next_id = m->cfg.client ? 1 : 2;
    m->rtt = -1;
    m->hbits = HASH_BITS_MIN;
    m->buckets = mem_alloc(m, nb * sizeof(*m->buckets));
    if (m->buckets == NULL) {
        free(m);
        return SHOAL_ENOMEM;
    }
    memset(m->buckets, 0, nb * sizeof(*m->buckets));
    *out = m;
    return 0;
}

void shoal_yamux_free(shoal_yamux *m)
{
    if (m == NULL)
        return;
    session_die(m, SHOAL_ECANCELED);
    if (m->depth > 0) {
        m->free_requested = 1;
        return;
    }
    m->depth++;
    reap(m);
    m->depth--;
    destroy(m);
}

void shoal_yamux_abort(shoal_yamux *m, int err)
{
    if (m == NULL || m->error != 0)
        return;
    session_die(m, err < 0 ? err : SHOAL_ECANCELED);
    if (m->depth > 0)
        return;
    m->depth++;
    reap(m);
    m->depth--;
    if (m->free_requested)
        destroy(m);
}

int shoal_yamux_error(const shoal_yamux *m)
{
    return m->error;
}

size_t shoal_yamux_stream_count(const shoal_yamux *m)
{
    return m->nstreams;
}

int64_t shoal_yamux_rtt(const shoal_yamux *m)
{
    return m->rtt;
}

size_t shoal_yamux_memory(const shoal_yamux *m)
{
    return m->mem;
}

/* --------------------------------------------------------- flow control */

static size_t write_space(const shoal_yamux_stream *st)
{
    const shoal_yamux *m = st->mux;
    uint64_t space;

    if (st->finished || st->local_fin || st->fin_pending || m->error != 0)
        return 0;
    space = m->cfg.max_write_buffer - st->pend_len;
    if (st->pend_len == 0)
        space += st->send_window;
    return space > SIZE_MAX ? SIZE_MAX : (size_t)space;
}

static size_t writable_threshold(const shoal_yamux *m)
{
    size_t t = m->cfg.max_write_buffer / 2;
    return t > 0 ? t : 1;
}

/* Queues n bytes as data frames (n <= send_window), FIN on the last one if
 * fin; the stream's pending ACK rides on the first. */
static int send_data(shoal_yamux_stream *st, const uint8_t *p, size_t n,
                     int fin)
{
    shoal_yamux *m = st->mux;
    size_t max = m->cfg.max_frame;
    size_t frames = n == 0 ? 1 : n / max + (n % max != 0);

    if (out_ensure(m, frames * SHOAL_YAMUX_HEADER + n) < 0)
        return SHOAL_ENOMEM;
    st->send_window -= n;
    do {
        uint8_t h[SHOAL_YAMUX_HEADER];
        size_t k = n < max ? n : max;
        uint16_t flags = 0;
        if (st->need_ack) {
            flags |= SHOAL_YAMUX_ACK;
            st->need_ack = 0;
        }
        if (fin && k == n)
            flags |= SHOAL_YAMUX_FIN;
        shoal_yamux_header_encode(h, SHOAL_YAMUX_DATA, flags, st->id,
                                  (uint32_t)k);
        out_put(m, h, sizeof(h));
        out_put(m, p, k);
        p += k;
        n -= k;
    } while (n > 0);
    return 0;
}

/* Sends what the window now allows of the pending bytes, then a pending
 * FIN on a frame of its own: js-libp2p's yamux drops the data of a Data
 * frame that also carries FIN (it closes the stream first), so the FIN
 * never rides on data, as in hashicorp's implementation. */
static int flush(shoal_yamux *m, shoal_yamux_stream *st)
{
    while (st->pend_len > 0 && st->send_window > 0) {
        size_t k = st->pend_len;
        if (k > st->send_window)
            k = (size_t)st->send_window;
        if (send_data(st, st->pend + st->pend_head, k, 0) < 0)
            return SHOAL_ENOMEM;
        st->pend_head += k;
        st->pend_len -= k;
    }
    if (st->fin_pending && st->pend_len == 0) {
        if (send_frame(m, SHOAL_YAMUX_WINDOW_UPDATE, SHOAL_YAMUX_FIN, st->id,
                       0) < 0)
            return SHOAL_ENOMEM;
        st->fin_pending = 0;
        st->local_fin = 1;
    }
    /* An emptied buffer stays with the stream until it ends: releasing it
     * at each drain would allocate it again at transfer speed. */
    maybe_finish(m, st);
    return 0;
}

/* Gives consumed bytes back as window once half a window is free, doubling
 * the window when the remote used that half within two round trips (up to
 * max_window and the session's budget). A due ACK goes out at once, with a
 * zero delta if no update is due yet. */
static int window_update(shoal_yamux *m, shoal_yamux_stream *st)
{
    uint64_t add = 0;
    int update = !st->remote_fin && st->credit >= st->window_max / 2;

    if (!update && !st->need_ack)
        return 0;
    if (update && m->rtt >= 0 && st->window_max < m->cfg.max_window &&
        m->now >= st->last_update &&
        /* a loopback or LAN round trip measures 0 ms: count it as 1 */
        m->now - st->last_update < 2 * (uint64_t)(m->rtt > 0 ? m->rtt : 1)) {
        uint64_t budget = m->cfg.window_budget > m->window_extra
                              ? m->cfg.window_budget - m->window_extra
                              : 0;
        add = st->window_max;
        if (add > m->cfg.max_window - st->window_max)
            add = m->cfg.max_window - st->window_max;
        if (add > budget)
            add = budget;
    }
    if (send_frame(m, SHOAL_YAMUX_WINDOW_UPDATE,
                   st->need_ack ? SHOAL_YAMUX_ACK : 0, st->id,
                   update ? (uint32_t)(st->credit + add) : 0) < 0)
        return SHOAL_ENOMEM;
    st->need_ack = 0;
    if (update) {
        st->window_max += add;
        m->window_extra += add;
        st->recv_avail += st->credit + add;
        st->credit = 0;
        st->last_update = m->now;
    }
    return 0;
}

/* ------------------------------------------------------------------ input */

static int is_local_id(const shoal_yamux *m, uint32_t id)
{
    return (int)(id & 1u) == (m->cfg.client ? 1 : 0);
}

static void skip_payload(shoal_yamux *m, uint64_t n)
{
    m->cur_id = 0;
    m->cur_left = n;
    m->cur_deliver = 0;
}

static void remote_fin(shoal_yamux *m, shoal_yamux_stream *st)
{
    if (st->remote_fin || st->finished)
        return;
    st->remote_fin = 1;
    if (m->cb.fin != NULL)
        m->cb.fin(st, m->user);
    maybe_finish(m, st);
}

/* An inbound SYN: the application accepts the stream or not. NULL when it
 * is refused. */
static shoal_yamux_stream *accept_stream(shoal_yamux *m, uint32_t id)
{
    shoal_yamux_stream *st;
    int rc;

    if (m->local_go_away || m->nstreams >= m->cfg.max_streams ||
        m->cb.stream == NULL) {
        send_provoked(m, SHOAL_YAMUX_WINDOW_UPDATE, SHOAL_YAMUX_RST, id, 0);
        if (m->cb.refused != NULL && m->nstreams >= m->cfg.max_streams)
            m->cb.refused(m, id, m->user);
        return NULL;
    }
    st = stream_new(m, id, 0);
    if (st == NULL) {
        send_provoked(m, SHOAL_YAMUX_WINDOW_UPDATE, SHOAL_YAMUX_RST, id, 0);
        return NULL;
    }
    table_add(m, st);
    rc = m->cb.stream(m, st, m->user);
    if (rc == 0)
        return st;
    if (st->finished) {
        zombie_remove(m, st);
    } else {
        (void)send_frame(m, SHOAL_YAMUX_WINDOW_UPDATE, SHOAL_YAMUX_RST, id, 0);
        finish(m, st, SHOAL_ECANCELED);
        zombie_remove(m, st);
    }
    stream_destroy(m, st);
    return NULL;
}

static void stream_frame(shoal_yamux *m, uint8_t type, uint16_t flags,
                         uint32_t id, uint32_t len)
{
    uint64_t payload = type == SHOAL_YAMUX_DATA ? len : 0;
    shoal_yamux_stream *st = lookup(m, id);

    if (flags & SHOAL_YAMUX_SYN) {
        if (st != NULL || is_local_id(m, id) ||
            payload > SHOAL_YAMUX_INITIAL_WINDOW) {
            protocol_error(m);
            return;
        }
        st = accept_stream(m, id);
        if (m->error != 0)
            return;
        if (st == NULL || st->finished) {
            skip_payload(m, payload);
            return;
        }
    } else if (st == NULL) {
        /* gone, or never was: late frames after a reset are normal */
        if (type == SHOAL_YAMUX_DATA && !(flags & SHOAL_YAMUX_RST))
            send_provoked(m, SHOAL_YAMUX_WINDOW_UPDATE, SHOAL_YAMUX_RST, id,
                          0);
        skip_payload(m, payload);
        return;
    }
    if ((flags & SHOAL_YAMUX_ACK) && st->outbound && !st->acked) {
        st->acked = 1;
        m->unacked--;
        if (m->cb.acked != NULL)
            m->cb.acked(st, m->user);
        if (st->finished || m->error != 0) {
            skip_payload(m, payload);
            return;
        }
    }
    if (flags & SHOAL_YAMUX_RST) {
        finish(m, st, SHOAL_ECONNRESET);
        skip_payload(m, payload);
        return;
    }
    if (type == SHOAL_YAMUX_WINDOW_UPDATE) {
        if (st->send_window + len > UINT32_MAX) {
            protocol_error(m);
            return;
        }
        st->send_window += len;
        if (flush(m, st) < 0) {
            session_die(m, SHOAL_ENOMEM);
            return;
        }
        if (st->want_writable && write_space(st) >= writable_threshold(m)) {
            st->want_writable = 0;
            if (m->cb.writable != NULL)
                m->cb.writable(st, m->user);
        }
        if ((flags & SHOAL_YAMUX_FIN) && !st->finished && m->error == 0)
            remote_fin(m, st);
        return;
    }
    if (st->remote_fin) {
        if (payload > 0) { /* data after FIN: this stream is broken */
            (void)send_frame(m, SHOAL_YAMUX_WINDOW_UPDATE, SHOAL_YAMUX_RST,
                             id, 0);
            finish(m, st, SHOAL_EPROTO);
        }
        skip_payload(m, payload);
        return;
    }
    if (payload > st->recv_avail) {
        protocol_error(m);
        return;
    }
    st->recv_avail -= payload;
    m->cur_id = id;
    m->cur_left = payload;
    m->cur_flags = flags;
    m->cur_deliver = 1;
}

static void frame_end(shoal_yamux *m)
{
    if (m->cur_deliver && (m->cur_flags & SHOAL_YAMUX_FIN)) {
        shoal_yamux_stream *st = lookup(m, m->cur_id);
        if (st != NULL)
            remote_fin(m, st);
    }
    m->cur_deliver = 0;
    m->cur_id = 0;
}

static void frame_header(shoal_yamux *m)
{
    const uint8_t *h = m->hdr;
    uint8_t type = h[1];
    uint16_t flags = get16(h + 2);
    uint32_t id = get32(h + 4), len = get32(h + 8);

    if (h[0] != SHOAL_YAMUX_VERSION) {
        protocol_error(m);
        return;
    }
    switch (type) {
    case SHOAL_YAMUX_DATA:
    case SHOAL_YAMUX_WINDOW_UPDATE:
        if (id == 0) {
            protocol_error(m);
            return;
        }
        stream_frame(m, type, flags, id, len);
        return;
    case SHOAL_YAMUX_PING:
        if (id != 0) {
            protocol_error(m);
            return;
        }
        if (flags & SHOAL_YAMUX_SYN) {
            send_provoked(m, SHOAL_YAMUX_PING, SHOAL_YAMUX_ACK, 0, len);
        } else if ((flags & SHOAL_YAMUX_ACK) && m->ping_out &&
                   len == m->ping_value) {
            m->ping_out = 0;
            m->rtt = (int64_t)(m->now - m->ping_sent);
            if (m->cb.pong != NULL)
                m->cb.pong(m, (uint64_t)m->rtt, m->user);
        }
        return;
    case SHOAL_YAMUX_GO_AWAY:
        if (id != 0) {
            protocol_error(m);
            return;
        }
        if (!m->remote_go_away) {
            m->remote_go_away = 1;
            if (m->cb.go_away != NULL)
                m->cb.go_away(m, len, m->user);
        }
        return;
    default:
        protocol_error(m);
        return;
    }
}

int shoal_yamux_feed(shoal_yamux *m, const void *data, size_t len)
{
    const uint8_t *p = data;
    int rc;

    if (m->depth > 0)
        return SHOAL_EBUSY;
    if (m->error != 0)
        return m->error;
    m->depth++;
    while (len > 0 && m->error == 0) {
        if (m->cur_left > 0) {
            size_t n = len;
            shoal_yamux_stream *st;
            if (n > m->cur_left)
                n = (size_t)m->cur_left;
            st = m->cur_deliver ? lookup(m, m->cur_id) : NULL;
            if (st != NULL) {
                st->unconsumed += n;
                if (m->cb.data != NULL)
                    m->cb.data(st, p, n, m->user);
                else
                    (void)shoal_yamux_stream_consumed(st, n);
            }
            p += n;
            len -= n;
            m->cur_left -= n;
            if (m->cur_left == 0)
                frame_end(m);
        } else {
            size_t n = SHOAL_YAMUX_HEADER - m->hdr_got;
            if (n > len)
                n = len;
            memcpy(m->hdr + m->hdr_got, p, n);
            m->hdr_got += n;
            p += n;
            len -= n;
            if (m->hdr_got == SHOAL_YAMUX_HEADER) {
                m->hdr_got = 0;
                m->cur_deliver = 0;
                frame_header(m);
                if (m->cur_left == 0)
                    frame_end(m);
            }
        }
        reap(m);
    }
    reap(m);
    rc = m->error;
    m->depth--;
    if (m->free_requested)
        destroy(m);
    return rc;
}

/* ------------------------------------------------------------------- time */

static void send_ping(shoal_yamux *m)
{
    uint32_t value = m->ping_value + 1;

    if (send_frame(m, SHOAL_YAMUX_PING, SHOAL_YAMUX_SYN, 0, value) < 0)
        return;
    m->ping_value = value;
    m->ping_out = 1;
    m->pinged = 1;
    m->ping_sent = m->last_ping = m->now;
}

int shoal_yamux_tick(shoal_yamux *m, uint64_t now_ms)
{
    int rc;

    if (m->depth > 0)
        return SHOAL_EBUSY;
    if (now_ms > m->now)
        m->now = now_ms;
    m->depth++;
    if (m->error == 0) {
        if (m->ping_out) {
            if (m->cfg.ping_timeout_ms != 0 &&
                m->now - m->ping_sent >= m->cfg.ping_timeout_ms)
                session_die(m, SHOAL_ETIMEDOUT);
        } else if (m->cfg.keepalive_ms != 0 &&
                   (!m->pinged ||
                    m->now - m->last_ping >= m->cfg.keepalive_ms)) {
            send_ping(m);
        }
    }
    reap(m);
    rc = m->error;
    m->depth--;
    if (m->free_requested)
        destroy(m);
    return rc;
}

uint64_t shoal_yamux_next_tick(const shoal_yamux *m)
{
    if (m->zombie_head != NULL)
        return m->now;
    if (m->error != 0)
        return UINT64_MAX;
    if (m->ping_out)
        return m->cfg.ping_timeout_ms != 0
                   ? m->ping_sent + m->cfg.ping_timeout_ms
                   : UINT64_MAX;
    if (m->cfg.keepalive_ms == 0)
        return UINT64_MAX;
    return m->pinged ? m->last_ping + m->cfg.keepalive_ms : m->now;
}

int shoal_yamux_ping(shoal_yamux *m)
{
    if (m->error != 0)
        return SHOAL_ECLOSED;
    if (!m->ping_out) {
        send_ping(m);
        if (!m->ping_out)
            return SHOAL_ENOMEM;
    }
    return 0;
}

int shoal_yamux_go_away(shoal_yamux *m, uint32_t code)
{
    if (m->error != 0 || m->local_go_away)
        return SHOAL_ECLOSED;
    if (send_frame(m, SHOAL_YAMUX_GO_AWAY, 0, 0, code) < 0)
        return SHOAL_ENOMEM;
    m->local_go_away = 1;
    return 0;
}

/* ---------------------------------------------------------------- streams */

/* How much more than 256 KiB a stream we open may take at once: the
 * configured open_window, within what is left of the budget. */
static uint32_t open_window_extra(const shoal_yamux *m)
{
    uint64_t want = m->cfg.open_window > SHOAL_YAMUX_INITIAL_WINDOW
                        ? m->cfg.open_window - SHOAL_YAMUX_INITIAL_WINDOW
                        : 0;
    uint64_t left = m->cfg.window_budget > m->window_extra
                        ? m->cfg.window_budget - m->window_extra
                        : 0;

    return (uint32_t)(want < left ? want : left);
}

int shoal_yamux_open(shoal_yamux *m, shoal_yamux_stream **out)
{
    shoal_yamux_stream *st;
    uint32_t extra;

    if (out == NULL)
        return SHOAL_EINVAL;
    *out = NULL;
    if (m->error != 0 || m->local_go_away || m->remote_go_away)
        return SHOAL_ECLOSED;
    if (m->nstreams >= m->cfg.max_streams || m->next_id == 0)
        return SHOAL_EFULL;
    if (m->unacked >= m->cfg.max_unacked)
        return SHOAL_EBUSY;
    st = stream_new(m, m->next_id, 1);
    if (st == NULL)
        return SHOAL_ENOMEM;
    extra = open_window_extra(m);
    if (send_frame(m, SHOAL_YAMUX_WINDOW_UPDATE, SHOAL_YAMUX_SYN, st->id,
                   extra) < 0) {
        stream_destroy(m, st);
        return SHOAL_ENOMEM;
    }
    st->window_max += extra;
    st->recv_avail += extra;
    m->window_extra += extra;
    table_add(m, st);
    m->unacked++;
    m->next_id = m->next_id > UINT32_MAX - 2 ? 0 : m->next_id + 2;
    *out = st;
    return 0;
}

/* Room for add more pending bytes (pend_len + add <= max_write_buffer). */
static int pend_reserve(shoal_yamux *m, shoal_yamux_stream *st, size_t add)
{
    size_t need = st->pend_len + add, cap;
    uint8_t *p;

    if (st->pend_head + need <= st->pend_cap)
        return 0;
    if (need <= st->pend_cap) {
        memmove(st->pend, st->pend + st->pend_head, st->pend_len);
        st->pend_head = 0;
        return 0;
    }
    cap = st->pend_cap ? st->pend_cap * 2 : PEND_MIN;
    if (cap > m->cfg.max_write_buffer)
        cap = m->cfg.max_write_buffer;
    if (cap < need)
        cap = need;
    p = malloc(cap);
    if (p == NULL)
        return SHOAL_ENOMEM;
    if (st->pend_len > 0)
        memcpy(p, st->pend + st->pend_head, st->pend_len);
    mem_free(m, st->pend, st->pend_cap);
    m->mem += cap;
    st->pend = p;
    st->pend_cap = cap;
    st->pend_head = 0;
    return 0;
}

int shoal_yamux_stream_write(shoal_yamux_stream *st, const void *data,
                             size_t len, size_t *taken)
{
    shoal_yamux *m = st->mux;
    size_t space, n, direct = 0;

    if (taken != NULL)
        *taken = 0;
    if (st->finished || st->local_fin || st->fin_pending || m->error != 0)
        return SHOAL_ECLOSED;
    space = write_space(st);
    n = len < space ? len : space;
    if (n < len) {
        st->want_writable = 1;
        if (taken == NULL)
            return SHOAL_ENOBUFS;
    }
    if (n == 0)
        return 0;
    if (st->pend_len == 0)
        direct = n < st->send_window ? n : (size_t)st->send_window;
    if (n > direct && pend_reserve(m, st, n - direct) < 0)
        return SHOAL_ENOMEM;
    if (direct > 0 && send_data(st, data, direct, 0) < 0)
        return SHOAL_ENOMEM;
    if (n > direct) {
        memcpy(st->pend + st->pend_head + st->pend_len,
               (const uint8_t *)data + direct, n - direct);
        st->pend_len += n - direct;
    }
    if (taken != NULL)
        *taken = n;
    return 0;
}

size_t shoal_yamux_stream_write_space(const shoal_yamux_stream *st)
{
    return write_space(st);
}

int shoal_yamux_stream_close(shoal_yamux_stream *st)
{
    shoal_yamux *m = st->mux;
    uint16_t flags = SHOAL_YAMUX_FIN;

    if (st->finished)
        return SHOAL_ECLOSED;
    if (st->local_fin || st->fin_pending)
        return 0;
    if (st->pend_len > 0) {
        st->fin_pending = 1;
        return 0;
    }
    if (st->need_ack)
        flags |= SHOAL_YAMUX_ACK;
    if (send_frame(m, SHOAL_YAMUX_WINDOW_UPDATE, flags, st->id, 0) < 0)
        return SHOAL_ENOMEM;
    st->need_ack = 0;
    st->local_fin = 1;
    st->want_writable = 0;
    maybe_finish(m, st);
    return 0;
}

int shoal_yamux_stream_reset(shoal_yamux_stream *st)
{
    shoal_yamux *m = st->mux;
    int rc;

    if (st->finished)
        return SHOAL_ECLOSED;
    rc = send_frame(m, SHOAL_YAMUX_WINDOW_UPDATE, SHOAL_YAMUX_RST, st->id, 0);
    finish(m, st, SHOAL_ECANCELED);
    return rc;
}

int shoal_yamux_stream_consumed(shoal_yamux_stream *st, size_t n)
{
    if (st->finished)
        return 0;
    if (n > st->unconsumed)
        return SHOAL_EINVAL;
    st->unconsumed -= n;
    st->credit += n;
    return window_update(st->mux, st);
}

size_t shoal_yamux_stream_unconsumed(const shoal_yamux_stream *st)
{
    return (size_t)st->unconsumed;
}

uint32_t shoal_yamux_stream_recv_window(const shoal_yamux_stream *st)
{
    return (uint32_t)st->window_max;
}

uint32_t shoal_yamux_stream_id(const shoal_yamux_stream *st)
{
    return st->id;
}

shoal_yamux *shoal_yamux_stream_session(const shoal_yamux_stream *st)
{
    return st->mux;
}

void shoal_yamux_stream_set_user(shoal_yamux_stream *st, void *user)
{
    st->user = user;
}

void *shoal_yamux_stream_user(const shoal_yamux_stream *st)
{
    return st->user;
}
