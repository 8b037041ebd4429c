/* Secure connections on libuv: the upgrade (multistream-select, Noise,
 * multistream-select, yamux) and the byte pump between the socket, the
 * Noise session and the yamux session. The protocol logic lives in
 * src/secure/ and src/mux/, which own no socket; this file only moves bytes
 * and keeps the deadlines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/multiaddr.h"
#include "node/session.h"

/* Output handed to the socket before we stop draining yamux: the rest
 * waits in the session, which then pushes back on the streams' writers. */
#define SESS_INFLIGHT_MAX (4u * 1024 * 1024)
/* Ciphertext per uv_write: big enough for few system calls, small enough
 * that one buffer, reused while a transfer lasts, stays warm in the cache. */
#define SESS_WRITE_CHUNK (256u * 1024)
#define SESS_WRITE_BUF (SESS_WRITE_CHUNK + 64 * 1024 + 1024)
#define SESS_TRIM_MS 1000u  /* no stream this long: buffers given back */

static void sess_flush(shoal_session *s);
static void sess_arm(shoal_session *s);

/* ------------------------------------------------------------- lifetime */

static void sess_handle_closed(uv_handle_t *h)
{
    shoal_session *s = h->data;

    if (--s->handles != 0 || s->resolving)
        return;
    free(s);
}

/* Ends the session: every stream and waiter is told status, the socket
 * closes. Safe to call from inside yamux callbacks: the memory stays until
 * the close callbacks run, on a later turn of the loop. */
void shoal_session_close(shoal_session *s, int status, const char *reason)
{
    shoal_node *node = s->node;

    if (s->closing)
        return;
    s->closing = 1;
    shoal_link_del(&s->link);
    node->secure->nsessions--;
    if (s->counted) {
        node->stats.connections--;
        if (!s->outbound)
            node->stats.inbound--;
    }
    if (reason != NULL) {
        /* a failed inbound session is the peer's doing: one cause a reason */
        char key[SHOAL_LOG_KEY_MAX];
        snprintf(key, sizeof(key), "session_end_%s", reason);
        SHOAL_LOG_LIMITED(&node->log,
                  status < 0 ? SHOAL_LOG_INFO : SHOAL_LOG_DEBUG,
                  s->outbound || status == 0 ? NULL : key,
                  "session_end peer=%s addr=%s dir=%s reason=%s error=\"%s\"",
                  s->remote_id[0] ? s->remote_id : "?", s->remote_addr,
                  s->outbound ? "out" : "in", reason, shoal_strerror(status));
    }
    if (status == 0)
        status = SHOAL_ECLOSED;
    /* A dial to a named peer that never proved it (refused, timed out,
     * closed on us mid-handshake, another id): what a peer store counts as
     * a failure. Not when the node itself is stopping. */
    if (s->outbound && s->has_expected && s->state < SESS_MUXING &&
        status != SHOAL_ECANCELED)
        shoal_node_peer_event(node, SHOAL_PEER_CONNECT_FAILED, s->remote_id,
                              s->remote_addr, 1, status);
    shoal_stream_fail_waiters(s, status);
    if (s->mux != NULL) {
        shoal_yamux_abort(s->mux, status);
        shoal_yamux_free(s->mux);
        s->mux = NULL;
    }
    if (s->resolving)
        uv_cancel((uv_req_t *)&s->resolve);
    shoal_noise_free(s->noise);
    s->noise = NULL;
    free(s->nego);
    s->nego = NULL;
    shoal_outbuf_free(&s->wire);
    shoal_outbuf_free(&s->plain);
    shoal_outbuf_free(&s->mss_out);
    free(s->spare);
    s->spare = NULL;
    uv_close((uv_handle_t *)&s->timer, sess_handle_closed);
    uv_close((uv_handle_t *)&s->tcp, sess_handle_closed);
}

static shoal_session *sess_new(shoal_node *node, int outbound)
{
    shoal_session *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    if (uv_tcp_init(node->loop, &s->tcp) < 0) {
        free(s);
        return NULL;
    }
    uv_timer_init(node->loop, &s->timer);
    s->tcp.data = s->timer.data = s;
    s->handles = 2;
    s->node = node;
    s->outbound = outbound;
    s->state = SESS_CONNECTING;
    s->deadline = uv_now(node->loop) + node->cfg.handshake_timeout_ms;
    shoal_outbuf_init(&s->wire);
    shoal_outbuf_init(&s->plain);
    shoal_outbuf_init(&s->mss_out);
    shoal_link_add(&node->secure->sessions, &s->link);
    node->secure->nsessions++;
    node->stats.connections++;
    if (!outbound)
        node->stats.inbound++;
    s->counted = 1;
    return s;
}

/* ------------------------------------------------------------- the pump */

typedef struct sess_write {
    uv_write_t req;
    shoal_session *sess;
    uint8_t *data;
    size_t len, cap;
} sess_write;

static void sess_on_written(uv_write_t *req, int status)
{
    sess_write *w = req->data;
    shoal_session *s = w->sess;

    s->inflight -= w->len;
    /* While a transfer goes on, its buffer is kept for the next write
     * (fresh memory costs page faults); an idle session keeps none. */
    if (!s->closing && s->spare == NULL && w->cap == SESS_WRITE_BUF &&
        s->mux != NULL && shoal_yamux_stream_count(s->mux) > 0)
        s->spare = w->data;
    else
        free(w->data);
    free(w);
    if (s->closing)
        return;
    if (status < 0) {
        shoal_session_close(s, status, "write_failed");
        return;
    }
    sess_flush(s);
    if (s->inflight == 0)
        shoal_node_drain_check(s->node); /* the last bytes are out */
}

/* Encrypts negotiation output (which runs inside the encryption) into the
 * wire buffer. */
static int sess_seal_mss(shoal_session *s)
{
    int rc = 0;

    if (s->mss_out.len != 0) {
        rc = shoal_noise_encrypt(s->noise, s->mss_out.data, s->mss_out.len,
                                 &s->wire);
        s->mss_out.len = 0;
    }
    return rc;
}

/* Hands the wire buffer to the socket. Returns 0 or an error (the session
 * is closed then). */
static int sess_write_wire(shoal_session *s)
{
    sess_write *w = malloc(sizeof(*w));
    uv_buf_t buf;
    int rc;

    if (w == NULL) {
        shoal_session_close(s, SHOAL_ENOMEM, "out_of_memory");
        return SHOAL_ENOMEM;
    }
    w->sess = s;
    w->data = s->wire.data; /* the buffer moves to the write */
    w->len = s->wire.len;
    w->cap = s->wire.cap;
    w->req.data = w;
    shoal_outbuf_init(&s->wire);
    buf.base = (char *)w->data;
    buf.len = w->len;
    s->inflight += w->len;
    if ((rc = uv_write(&w->req, (uv_stream_t *)&s->tcp, &buf, 1,
                       sess_on_written)) < 0) {
        s->inflight -= w->len;
        free(w->data);
        free(w);
        shoal_session_close(s, rc, "write_failed");
    }
    return rc;
}

/* Moves yamux output through Noise to the socket, a chunk per write, as far
 * as the in-flight limit allows. */
static void sess_flush(shoal_session *s)
{
    int rc;

    while (!s->closing) {
        if (s->state == SESS_OPEN) {
            const uint8_t *p;
            size_t n, pending = shoal_yamux_output_pending(s->mux);
            /* a bulk transfer: one buffer of the final size, reused */
            if (pending >= SESS_WRITE_CHUNK && s->wire.data == NULL) {
                s->wire.data = s->spare ? s->spare : malloc(SESS_WRITE_BUF);
                s->spare = NULL;
                if (s->wire.data == NULL) {
                    shoal_session_close(s, SHOAL_ENOMEM, "out_of_memory");
                    return;
                }
                s->wire.cap = SESS_WRITE_BUF;
            }
            while (s->wire.len < SESS_WRITE_CHUNK &&
                   s->inflight + s->wire.len < SESS_INFLIGHT_MAX &&
                   (n = shoal_yamux_output_peek(s->mux, &p)) > 0) {
                if (n > SESS_WRITE_CHUNK - s->wire.len)
                    n = SESS_WRITE_CHUNK - s->wire.len;
                if ((rc = shoal_noise_encrypt(s->noise, p, n, &s->wire)) <
                    0) {
                    shoal_session_close(s, rc, "encrypt_failed");
                    return;
                }
                shoal_yamux_output_consume(s->mux, n);
            }
        }
        if (s->wire.len == 0 || sess_write_wire(s) < 0)
            break;
        if (s->state != SESS_OPEN || s->inflight >= SESS_INFLIGHT_MAX)
            break;
    }
    sess_arm(s);
}

/* Keeps the one connection per peer: of two sessions with the same peer,
 * the one dialed by the smaller peer id survives (both ends decide alike),
 * or, both dialed by the same side, the older one. The other retires: no
 * new streams, closed once its streams are done. */
static void sess_dedupe(shoal_session *s)
{
    shoal_secure *sec = s->node->secure;
    shoal_link *l;

    for (l = sec->sessions.next; l != &sec->sessions; l = l->next) {
        shoal_session *o = SHOAL_CONTAINER(l, shoal_session, link);
        const shoal_peerid *ds, *dso;
        int cmp;
        if (o == s || o->retiring || o->state < SESS_MUXING ||
            !shoal_peerid_equal(&o->remote, &s->remote))
            continue;
        ds = s->outbound ? &sec->peerid : &s->remote;
        dso = o->outbound ? &sec->peerid : &o->remote;
        cmp = ds->len == dso->len ? memcmp(ds->bytes, dso->bytes, ds->len)
                                  : (int)ds->len - (int)dso->len;
        if (cmp < 0) {
            o->retiring = 1;
        } else {
            s->retiring = 1;
            return;
        }
    }
}

static int sess_start_muxing(shoal_session *s)
{
    const shoal_peerid *remote = shoal_noise_remote_peer(s->noise);
    int rc;

    s->remote = *remote;
    shoal_peerid_format(remote, s->remote_id, sizeof(s->remote_id));
    /* We dialed our own listening socket (an address of ours without
     * /p2p/): no session with oneself, on either end. */
    if (shoal_peerid_equal(remote, &s->node->secure->peerid))
        return SHOAL_ESELF;
    SHOAL_LOG(&s->node->log, SHOAL_LOG_DEBUG,
              "secured peer=%s addr=%s dir=%s", s->remote_id, s->remote_addr,
              s->outbound ? "out" : "in");
    s->state = SESS_MUXING;
    sess_dedupe(s);
    shoal_node_peer_event(s->node, SHOAL_PEER_CONNECTED, s->remote_id,
                          s->remote_addr, s->outbound, 0);
    memset(s->nego, 0, sizeof(*s->nego));
    s->nego->proposal[0] = SHOAL_YAMUX_PROTOCOL;
    if (s->outbound) {
        shoal_mss_dialer_init(&s->nego->dialer, s->nego->proposal, 1);
        rc = shoal_mss_dialer_start(&s->nego->dialer, &s->mss_out);
    } else {
        shoal_mss_listener_init(&s->nego->listener, s->nego->proposal, 1, 0);
        rc = shoal_mss_listener_start(&s->nego->listener, &s->mss_out);
    }
    return rc < 0 ? rc : sess_seal_mss(s);
}

/* Above the high watermark, closes open sessions without streams, oldest
 * first, down to the low one; fresh is spared (it has not had a chance to
 * open its streams yet). */
static void sess_trim(shoal_node *node, shoal_session *fresh)
{
    shoal_link *l, *next;
    size_t open = node->secure->nsessions;

    if (open <= node->cfg.conn_high_water)
        return;
    for (l = node->secure->sessions.next;
         l != &node->secure->sessions && open > node->cfg.conn_low_water;
         l = next) {
        shoal_session *s = SHOAL_CONTAINER(l, shoal_session, link);
        next = l->next;
        if (s == fresh || s->state != SESS_OPEN ||
            shoal_yamux_stream_count(s->mux) != 0)
            continue;
        shoal_session_close(s, 0, "trimmed");
        open--;
    }
}

static int sess_start_yamux(shoal_session *s)
{
    shoal_yamux_config ycfg;
    int rc;

    free(s->nego);
    s->nego = NULL;
    shoal_outbuf_free(&s->mss_out);
    shoal_yamux_config_init(&ycfg, s->outbound);
    ycfg.max_streams = (uint32_t)s->node->cfg.max_streams;
    ycfg.max_write_buffer = s->node->cfg.max_stream_buffer;
    ycfg.out_chunk = SHOAL_NOISE_PLAINTEXT_MAX; /* one chunk, one frame */
    /* A request's stream is opened here and its replies come back on it:
     * with 2 MiB of window from the start, a reply of a megabyte or so (a
     * file chunk) arrives without waiting for window updates, instead of
     * in four or more round trips of 256 KiB. The session's budget bounds
     * what all streams may take together. */
    ycfg.open_window = 2u * 1024 * 1024;
    if ((rc = shoal_yamux_new(&s->mux, &ycfg, &shoal_stream_yamux_cbs, s)) < 0)
        return rc;
    shoal_yamux_tick(s->mux, uv_now(s->node->loop));
    s->state = SESS_OPEN;
    s->idle_since = uv_now(s->node->loop);
    if (s->retiring) {
        /* A duplicate: its waiters go to the connection that stays. */
        shoal_session *keep = shoal_session_find(s->node, &s->remote);
        shoal_yamux_go_away(s->mux, SHOAL_YAMUX_GO_AWAY_NORMAL);
        if (keep != NULL && s->waiters != NULL) {
            shoal_open_waiter **tail = &keep->waiters;
            while (*tail != NULL)
                tail = &(*tail)->next;
            *tail = s->waiters;
            s->waiters = NULL;
            if (keep->state == SESS_OPEN) {
                shoal_stream_session_open(keep);
                sess_flush(keep);
            }
        }
    }
    shoal_stream_session_open(s);
    sess_trim(s->node, s);
    return 0;
}

/* A quiet session holds no buffers; a busy one reuses them. */
static void sess_release_buffers(shoal_session *s)
{
    if (s->plain.len == 0)
        shoal_outbuf_free(&s->plain);
    shoal_noise_trim(s->noise);
    if (s->mux != NULL)
        shoal_yamux_trim(s->mux);
    free(s->spare);
    s->spare = NULL;
}

/* Quiet means no stream for SESS_TRIM_MS, not just now: a server whose
 * client pauses between requests for a moment (a download waiting on its
 * disk) would otherwise give back its whole output queue each time and
 * fault it in again (on the benchmark machine about 30 us a 4 KiB page;
 * 8,000 64 KiB chunks allocated for one 1 GiB download). */
static void sess_trim_if_quiet(shoal_session *s, uint64_t now)
{
    if (s->trimmed || shoal_yamux_stream_count(s->mux) > 0) {
        if (shoal_yamux_stream_count(s->mux) > 0)
            s->trimmed = 0;
        return;
    }
    if (now - s->idle_since >= SESS_TRIM_MS) {
        sess_release_buffers(s);
        s->trimmed = 1;
    }
}

/* Plaintext from Noise: the yamux negotiation, then yamux itself. */
static int sess_plain(shoal_session *s)
{
    size_t off = 0, used;
    int rc, err;

    while (off < s->plain.len && !s->closing) {
        if (s->state == SESS_OPEN) {
            shoal_yamux_tick(s->mux, uv_now(s->node->loop));
            rc = shoal_yamux_feed(s->mux, s->plain.data + off,
                                  s->plain.len - off);
            off = s->plain.len;
            if (rc < 0)
                return rc;
            break;
        }
        rc = s->outbound
                 ? shoal_mss_dialer_feed(&s->nego->dialer, s->plain.data + off,
                                         s->plain.len - off, &used,
                                         &s->mss_out)
                 : shoal_mss_listener_feed(&s->nego->listener,
                                           s->plain.data + off,
                                           s->plain.len - off, &used,
                                           &s->mss_out);
        off += used;
        if (rc < 0)
            return rc;
        if ((err = sess_seal_mss(s)) < 0)
            return err;
        if (rc == 0)
            break; /* the reader kept what it used; more is needed */
        if ((err = sess_start_yamux(s)) < 0)
            return err;
    }
    if (!s->closing) {
        shoal_outbuf_consume(&s->plain, off);
        if (s->mux == NULL)
            sess_release_buffers(s); /* negotiating: nothing to keep */
        else
            sess_trim_if_quiet(s, uv_now(s->node->loop));
    }
    return 0;
}

/* Bytes from the socket, through whichever stage the session is in. On an
 * error *layer names the one that broke (for the log: a bad signature and a
 * window violation are both protocol errors, but different stories). */
static int sess_input(shoal_session *s, const uint8_t *p, size_t n,
                      const char **layer)
{
    size_t used;
    int rc;

    while (n > 0 && !s->closing) {
        switch (s->state) {
        case SESS_CONNECTING:
            *layer = "tcp";
            return SHOAL_EPROTO;
        case SESS_SECURING:
            *layer = "security";
            rc = s->outbound
                     ? shoal_mss_dialer_feed(&s->nego->dialer, p, n, &used,
                                             &s->wire)
                     : shoal_mss_listener_feed(&s->nego->listener, p, n,
                                               &used, &s->wire);
            p += used;
            n -= used;
            if (rc < 0)
                return rc;
            if (rc != SHOAL_MSS_DONE)
                return 0;
            s->state = SESS_HANDSHAKE;
            *layer = "noise";
            if ((rc = shoal_noise_start(s->noise, &s->wire)) < 0)
                return rc;
            break;
        case SESS_HANDSHAKE:
            *layer = "noise";
            rc = shoal_noise_handshake(s->noise, p, n, &used, &s->wire);
            p += used;
            n -= used;
            if (rc < 0)
                return rc;
            if (rc != SHOAL_NOISE_DONE)
                return 0;
            if ((rc = sess_start_muxing(s)) < 0)
                return rc;
            break;
        case SESS_MUXING:
        case SESS_OPEN:
            *layer = "noise";
            rc = shoal_noise_decrypt(s->noise, p, n, &used, &s->plain);
            if (rc < 0)
                return rc;
            rc = sess_plain(s);
            *layer = s->state == SESS_OPEN ? "yamux" : "muxer";
            return rc;
        }
    }
    return 0;
}

static void sess_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    shoal_session *s = h->data;

    (void)suggested;
    buf->base = (char *)s->node->secure_read;
    buf->len = sizeof(s->node->secure_read);
}

static const char *input_reason(int rc)
{
    switch (rc) {
    case SHOAL_EPEERID:
        return "peer_id_mismatch";
    case SHOAL_ESELF:
        return "dialed_self";
    case SHOAL_EMSGSIZE:
        return "frame_too_large";
    default:
        return "protocol_error";
    }
}

/* Whether the remote's first bytes are a classic frame (a 4-byte type of
 * letters and digits, NUL-padded) rather than multistream-select, whose
 * first byte is 0x13 (the length of "/multistream/1.0.0\n"). */
static int looks_classic(const uint8_t *p, size_t n)
{
    size_t i;

    for (i = 0; i < n && i < 4; i++) {
        uint8_t c = p[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || (i > 0 && c == 0)))
            return 0;
    }
    return n > 0;
}

/* The remote speaks the classic wire: a classic node answering our dial
 * (its "Wrong wire:" refusal, say), or a classic request to us. */
static void sess_wrong_wire(shoal_session *s)
{
    SHOAL_LOG_LIMITED(&s->node->log, SHOAL_LOG_WARN,
              s->outbound ? NULL : "wrong_wire",
              "wrong_wire peer=%s addr=%s dir=%s why=\"%s\"",
              s->remote_id[0] ? s->remote_id : "?", s->remote_addr,
              s->outbound ? "out" : "in",
              s->outbound ? "a classic node answered: give it HOST:PORT"
                          : "a classic request on the secure wire");
    if (!s->outbound)
        s->node->stats.dropped++;
    shoal_session_close(s, SHOAL_EWRONGWIRE, NULL);
}

static void sess_on_read(uv_stream_t *stream, ssize_t nread,
                         const uv_buf_t *buf)
{
    shoal_session *s = stream->data;
    const char *layer = "?";
    int rc;

    if (nread == 0 || s->closing)
        return;
    if (nread < 0) {
        shoal_session_close(s, nread == UV_EOF ? 0 : (int)nread,
                            nread == UV_EOF ? "remote_closed" : "read_failed");
        return;
    }
    if (!s->heard) {
        s->heard = 1;
        if (s->state == SESS_SECURING &&
            looks_classic((const uint8_t *)buf->base, (size_t)nread)) {
            sess_wrong_wire(s);
            return;
        }
    }
    rc = sess_input(s, (const uint8_t *)buf->base, (size_t)nread, &layer);
    if (s->closing)
        return;
    if (rc < 0) {
        char proved[SHOAL_PEERID_TEXT_MAX] = ""; /* who answered instead */
        char key[SHOAL_LOG_KEY_MAX];
        if (s->state == SESS_OPEN)
            sess_flush(s); /* a queued Go Away, if any, goes out first */
        if (rc == SHOAL_EPEERID && s->noise != NULL &&
            shoal_noise_proved_peer(s->noise) != NULL)
            shoal_peerid_format(shoal_noise_proved_peer(s->noise), proved,
                                sizeof(proved));
        /* inbound, the peer's doing: limited, one cause a reason */
        snprintf(key, sizeof(key), "session_drop_%s", input_reason(rc));
        /* Our own dial answered by ourselves: said once, by the dialer. */
        SHOAL_LOG_LIMITED(&s->node->log,
                  rc == SHOAL_ESELF && !s->outbound ? SHOAL_LOG_DEBUG
                                                    : SHOAL_LOG_WARN,
                  s->outbound ? NULL : key,
                  "session_drop peer=%s addr=%s layer=%s reason=%s "
                  "%s%s%serror=\"%s\"",
                  s->remote_id[0] ? s->remote_id : "?", s->remote_addr,
                  layer, input_reason(rc), proved[0] ? "proved=" : "",
                  proved, proved[0] ? " " : "", shoal_strerror(rc));
        s->node->stats.dropped++;
        shoal_session_close(s, rc, NULL);
        return;
    }
    sess_flush(s);
}

/* ------------------------------------------------------- deadlines */

static void sess_on_timer(uv_timer_t *t)
{
    shoal_session *s = t->data;
    uint64_t now = uv_now(s->node->loop);
    int rc;

    if (s->state != SESS_OPEN) {
        if (now >= s->deadline) {
            s->node->stats.dropped++;
            shoal_session_close(s, SHOAL_ETIMEDOUT, "handshake_timeout");
            return;
        }
    } else {
        if ((rc = shoal_yamux_tick(s->mux, now)) < 0) {
            shoal_session_close(s, rc, "keepalive_failed");
            return;
        }
        if (shoal_yamux_stream_count(s->mux) == 0 &&
            (s->retiring || (s->node->cfg.idle_timeout_ms != 0 &&
                             now - s->idle_since >=
                                 s->node->cfg.idle_timeout_ms))) {
            shoal_session_close(s, 0, s->retiring ? "duplicate" : "idle");
            return;
        }
        sess_trim_if_quiet(s, now);
    }
    sess_flush(s);
}

static void sess_arm(shoal_session *s)
{
    uint64_t now = uv_now(s->node->loop), at;

    if (s->closing)
        return;
    if (s->state != SESS_OPEN) {
        at = s->deadline;
    } else {
        at = shoal_yamux_next_tick(s->mux);
        if (shoal_yamux_stream_count(s->mux) == 0 && !s->trimmed &&
            s->idle_since + SESS_TRIM_MS < at)
            at = s->idle_since + SESS_TRIM_MS;
        if (shoal_yamux_stream_count(s->mux) == 0) {
            uint64_t idle = s->retiring ? now
                            : s->node->cfg.idle_timeout_ms
                                ? s->idle_since + s->node->cfg.idle_timeout_ms
                                : UINT64_MAX;
            if (idle < at)
                at = idle;
        }
    }
    if (at == UINT64_MAX) {
        uv_timer_stop(&s->timer);
        return;
    }
    uv_timer_start(&s->timer, sess_on_timer, at > now ? at - now : 0, 0);
}

void shoal_session_stream_ended(shoal_session *s)
{
    if (s->mux != NULL && shoal_yamux_stream_count(s->mux) <= 1) {
        s->idle_since = uv_now(s->node->loop);
        s->trimmed = 0;
    }
}

/* ------------------------------------------------------- establishing */

static void sockaddr_to_multiaddr(const struct sockaddr *sa, char *out,
                                  size_t size)
{
    char ip[64] = "?";
    int port = 0;

    if (sa->sa_family == AF_INET6) {
        uv_ip6_name((const struct sockaddr_in6 *)sa, ip, sizeof(ip));
        port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
        snprintf(out, size, "/ip6/%s/tcp/%d", ip, port);
    } else {
        uv_ip4_name((const struct sockaddr_in *)sa, ip, sizeof(ip));
        port = ntohs(((const struct sockaddr_in *)sa)->sin_port);
        snprintf(out, size, "/ip4/%s/tcp/%d", ip, port);
    }
}

/* The socket is connected (either way): start the upgrade. */
static int sess_begin(shoal_session *s)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss), rc;

    if (uv_tcp_getpeername(&s->tcp, (struct sockaddr *)&ss, &len) == 0)
        sockaddr_to_multiaddr((struct sockaddr *)&ss, s->remote_addr,
                              sizeof(s->remote_addr));
    uv_tcp_nodelay(&s->tcp, 1);
    s->nego = calloc(1, sizeof(*s->nego));
    if (s->nego == NULL)
        return SHOAL_ENOMEM;
    rc = shoal_noise_new(&s->noise,
                         s->outbound ? SHOAL_NOISE_DIALER : SHOAL_NOISE_LISTENER,
                         &s->node->secure->identity,
                         s->has_expected ? &s->expected : NULL);
    if (rc < 0)
        return rc;
    s->nego->proposal[0] = SHOAL_NOISE_PROTOCOL_ID;
    if (s->outbound) {
        shoal_mss_dialer_init(&s->nego->dialer, s->nego->proposal, 1);
        rc = shoal_mss_dialer_start(&s->nego->dialer, &s->wire);
    } else {
        shoal_mss_listener_init(&s->nego->listener, s->nego->proposal, 1, 0);
        rc = shoal_mss_listener_start(&s->nego->listener, &s->wire);
    }
    if (rc < 0)
        return rc;
    s->state = SESS_SECURING;
    if ((rc = uv_read_start((uv_stream_t *)&s->tcp, sess_alloc,
                            sess_on_read)) < 0)
        return rc;
    sess_flush(s);
    return 0;
}

static void sess_on_connect(uv_connect_t *req, int status)
{
    shoal_session *s = req->data;
    int rc;

    if (s->closing)
        return;
    if (status < 0) {
        shoal_session_close(s, status, "connect_failed");
        return;
    }
    if ((rc = sess_begin(s)) < 0)
        shoal_session_close(s, rc, "upgrade_failed");
}

static void sess_on_resolved(uv_getaddrinfo_t *r, int status,
                             struct addrinfo *ai)
{
    shoal_session *s = r->data;
    int rc;

    s->resolving = 0;
    if (s->closing) {
        uv_freeaddrinfo(ai);
        if (s->handles == 0)
            free(s);
        return;
    }
    if (status < 0) {
        shoal_session_close(s, status, "resolve_failed");
        return;
    }
    if (ai->ai_family == AF_INET)
        ((struct sockaddr_in *)ai->ai_addr)->sin_port = htons(s->port);
    else
        ((struct sockaddr_in6 *)ai->ai_addr)->sin6_port = htons(s->port);
    s->connect.data = s;
    rc = uv_tcp_connect(&s->connect, &s->tcp, ai->ai_addr, sess_on_connect);
    uv_freeaddrinfo(ai);
    if (rc < 0)
        shoal_session_close(s, rc, "connect_failed");
}

int shoal_session_parse_target(const char *addr, shoal_dial_target *t)
{
    uint8_t bin[SHOAL_MULTIADDR_MAX];
    const uint8_t *v;
    size_t pos = 0, vlen;
    uint64_t code;
    int n, rc, have_host = 0, have_port = 0;

    memset(t, 0, sizeof(*t));
    if ((n = shoal_multiaddr_parse(addr, bin, sizeof(bin))) < 0)
        return SHOAL_EBADADDR;
    while ((rc = shoal_multiaddr_next(bin, (size_t)n, &pos, &code, &v,
                                      &vlen)) > 0) {
        switch (code) {
        case SHOAL_MA_IP4:
            uv_inet_ntop(AF_INET, v, t->host, sizeof(t->host));
            t->family = AF_INET;
            have_host = 1;
            break;
        case SHOAL_MA_IP6:
            uv_inet_ntop(AF_INET6, v, t->host, sizeof(t->host));
            t->family = AF_INET6;
            have_host = 1;
            break;
        case SHOAL_MA_DNS:
        case SHOAL_MA_DNS4:
        case SHOAL_MA_DNS6:
            if (vlen >= sizeof(t->host))
                return SHOAL_EBADADDR;
            memcpy(t->host, v, vlen);
            t->host[vlen] = '\0';
            t->family = code == SHOAL_MA_DNS4   ? AF_INET
                        : code == SHOAL_MA_DNS6 ? AF_INET6
                                                : AF_UNSPEC;
            t->resolve = 1;
            have_host = 1;
            break;
        case SHOAL_MA_TCP:
            t->port = (uint16_t)((v[0] << 8) | v[1]);
            have_port = 1;
            break;
        case SHOAL_MA_P2P:
            if (vlen > sizeof(t->peer.bytes))
                return SHOAL_EBADADDR;
            memcpy(t->peer.bytes, v, vlen);
            t->peer.len = vlen;
            t->has_peer = 1;
            break;
        default:
            return SHOAL_EBADADDR; /* not something we dial over TCP */
        }
    }
    if (rc < 0 || !have_host || !have_port)
        return SHOAL_EBADADDR;
    return 0;
}

/* Starts dialing t. The session is returned at once; waiters are added by
 * the caller and served when it opens. */
int shoal_session_dial(shoal_node *node, const shoal_dial_target *t,
                       shoal_session **out)
{
    struct sockaddr_storage ss;
    shoal_session *s;
    int rc;

    if (node->stats.connections >= node->cfg.max_connections)
        return SHOAL_ENOBUFS;
    if ((s = sess_new(node, 1)) == NULL)
        return SHOAL_ENOMEM;
    if (t->has_peer) {
        s->has_expected = 1;
        s->expected = t->peer;
        shoal_peerid_format(&t->peer, s->remote_id, sizeof(s->remote_id));
    }
    snprintf(s->remote_addr, sizeof(s->remote_addr), "/%s/%s/tcp/%u",
             t->resolve ? "dns" : t->family == AF_INET6 ? "ip6" : "ip4",
             t->host, (unsigned)t->port);
    s->port = t->port;
    s->connect.data = s;
    if (!t->resolve && t->family == AF_INET &&
        uv_ip4_addr(t->host, t->port, (struct sockaddr_in *)&ss) == 0) {
        rc = uv_tcp_connect(&s->connect, &s->tcp, (struct sockaddr *)&ss,
                            sess_on_connect);
    } else if (!t->resolve && t->family == AF_INET6 &&
               uv_ip6_addr(t->host, t->port, (struct sockaddr_in6 *)&ss) ==
                   0) {
        rc = uv_tcp_connect(&s->connect, &s->tcp, (struct sockaddr *)&ss,
                            sess_on_connect);
    } else {
        struct addrinfo hints;
        memset(&hints, 0, sizeof(hints));
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_family = t->family;
        s->resolve.data = s;
        rc = uv_getaddrinfo(node->loop, &s->resolve, sess_on_resolved,
                            t->host, NULL, &hints);
        if (rc == 0)
            s->resolving = 1;
    }
    if (rc < 0) {
        shoal_session_close(s, rc, NULL);
        return rc;
    }
    sess_arm(s);
    *out = s;
    return 0;
}

void shoal_secure_on_connection(uv_stream_t *listener, int status)
{
    shoal_node *node = listener->data;
    shoal_session *s;
    int rc;

    if (status < 0)
        return;
    if (node->stats.connections >= node->cfg.max_connections) {
        shoal_reject_connection(node, listener);
        return;
    }
    if ((s = sess_new(node, 0)) == NULL)
        return;
    if (uv_accept(listener, (uv_stream_t *)&s->tcp) < 0) {
        shoal_session_close(s, 0, NULL);
        return;
    }
    node->stats.accepted++;
    if ((rc = sess_begin(s)) < 0)
        shoal_session_close(s, rc, "upgrade_failed");
    else
        sess_arm(s);
}

int shoal_peer_connected(shoal_node *node, const char *peer_id)
{
    SHOAL_LOOP_ONLY(node, 0);
    shoal_peerid id;
    shoal_session *s;

    if (node->secure == NULL || peer_id == NULL ||
        shoal_peerid_parse(peer_id, &id) < 0)
        return 0;
    s = shoal_session_find(node, &id);
    return s != NULL && s->state >= SESS_MUXING && !s->closing;
}

/* Finds a session with peer (open or on its way), not retiring. */
shoal_session *shoal_session_find(shoal_node *node, const shoal_peerid *peer)
{
    shoal_link *l;
    shoal_session *best = NULL;

    for (l = node->secure->sessions.next; l != &node->secure->sessions;
         l = l->next) {
        shoal_session *s = SHOAL_CONTAINER(l, shoal_session, link);
        const shoal_peerid *who = s->state >= SESS_MUXING ? &s->remote
                                  : s->has_expected      ? &s->expected
                                                         : NULL;
        if (s->retiring || who == NULL || !shoal_peerid_equal(who, peer))
            continue;
        if (s->state == SESS_OPEN)
            return s;
        best = s;
    }
    return best;
}

void shoal_session_kick(shoal_session *s)
{
    sess_flush(s);
}
