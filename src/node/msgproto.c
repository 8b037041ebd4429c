/* Typed messages over secure streams, protocol /shoal/msg/1.0.0: the
 * classic exchange, one stream per request. The requester writes one
 * framed message (4-byte type, 4-byte length, payload) and closes its side;
 * the server runs the handler for the type, writes its replies framed the
 * same way, and closes. So a handler serves classic and secure peers alike.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/session.h"

/* ------------------------------------------------------------- output
 * Bytes a stream could not take yet (the remote's window is full), sent as
 * writable() says there is room. */
typedef struct out_chunk {
    struct out_chunk *next;
    size_t len, off;
    uint8_t data[];
} out_chunk;

typedef struct out_queue {
    out_chunk *head, *tail;
    size_t bytes;
} out_queue;

static void out_clear(out_queue *q)
{
    while (q->head != NULL) {
        out_chunk *c = q->head;
        q->head = c->next;
        free(c);
    }
    q->tail = NULL;
    q->bytes = 0;
}

/* Writes as much of the queue as the stream takes. */
static int out_pump(out_queue *q, shoal_stream *s)
{
    while (q->head != NULL) {
        out_chunk *c = q->head;
        size_t taken = 0;
        int rc = shoal_yamux_stream_write(s->ys, c->data + c->off,
                                          c->len - c->off, &taken);
        if (rc < 0)
            return rc;
        c->off += taken;
        q->bytes -= taken;
        if (c->off < c->len)
            break;
        q->head = c->next;
        free(c);
    }
    if (q->head == NULL)
        q->tail = NULL;
    shoal_session_kick(s->sess);
    return 0;
}

/* Writes what the stream takes of p[0 .. *len) when nothing is queued
 * before it; advances p and *len past what it took. 0 or an error. */
static int write_direct(out_queue *q, shoal_stream *s, const uint8_t **p,
                        size_t *len)
{
    size_t taken = 0;
    int rc;

    if (q->head != NULL || *len == 0)
        return 0;
    if ((rc = shoal_yamux_stream_write(s->ys, *p, *len, &taken)) < 0)
        return rc;
    *p += taken;
    *len -= taken;
    return 0;
}

/* Sends a header and a payload: straight to the stream as far as it takes
 * them (a 1 MiB chunk reply is not copied twice), the rest queued (copied)
 * for writable(). */
static int out_push(out_queue *q, shoal_stream *s, const uint8_t *header,
                    const void *data, size_t len)
{
    const uint8_t *h = header, *d = data;
    size_t hlen = SHOAL_FRAME_HEADER;
    out_chunk *c;
    int rc;

    if ((rc = write_direct(q, s, &h, &hlen)) < 0 ||
        (hlen == 0 && (rc = write_direct(q, s, &d, &len)) < 0))
        return rc;
    if (hlen + len == 0) {
        shoal_session_kick(s->sess);
        return 0;
    }
    if ((c = malloc(sizeof(*c) + hlen + len)) == NULL)
        return SHOAL_ENOMEM;
    memcpy(c->data, h, hlen);
    if (len)
        memcpy(c->data + hlen, d, len);
    c->len = hlen + len;
    c->off = 0;
    c->next = NULL;
    if (q->tail != NULL)
        q->tail->next = c;
    else
        q->head = c;
    q->tail = c;
    q->bytes += c->len;
    return out_pump(q, s);
}

/* ------------------------------------------------------------- server */

struct shoal_msgserve {
    shoal_node *node;
    shoal_stream *stream;   /* NULL once the stream is over */
    shoal_req *req;         /* while the handler's request lives */
    shoal_frame_reader reader;
    out_queue out;
    int finishing;          /* the request is done: close after the queue */
    int dispatched;
};

static void serve_free(shoal_msgserve *ms)
{
    shoal_node *node = ms->node;

    shoal_frame_reader_free(&ms->reader);
    out_clear(&ms->out);
    free(ms);
    node->msg_inflight--;
    shoal_node_drain_check(node);
}

static void serve_close_if_done(shoal_msgserve *ms)
{
    if (ms->finishing && ms->stream != NULL && ms->out.head == NULL)
        shoal_stream_close(ms->stream);
}

static void serve_dispatch(shoal_msgserve *ms)
{
    shoal_node *node = ms->node;
    const shoal_handler *h = shoal_node_handler(node, ms->reader.type);
    shoal_msg msg;
    shoal_req *req;

    ms->dispatched = 1;
    if (h == NULL || (req = calloc(1, sizeof(*req))) == NULL) {
        SHOAL_LOG_LIMITED(&node->log, SHOAL_LOG_DEBUG, "unknown_type",
                          "unknown_type type=%s", ms->reader.type);
        ms->finishing = 1;
        serve_close_if_done(ms);
        return;
    }
    req->node = node;
    req->ms = ms;
    ms->req = req;
    /* kept in req: a held request outlives its stream */
    snprintf(req->remote, sizeof(req->remote), "%s",
             shoal_stream_remote_addr(ms->stream));
    snprintf(req->peer, sizeof(req->peer), "%s",
             shoal_stream_peer(ms->stream));
    shoal_frame_reader_msg(&ms->reader, &msg);
    shoal_req_run(req, h, &msg);
    shoal_frame_reader_free(&ms->reader); /* the payload was the handler's */
}

static void serve_data(shoal_stream *s, const uint8_t *data, size_t len,
                       void *user)
{
    shoal_msgserve *ms = user;
    size_t used;
    int rc;

    if (ms->dispatched)
        return; /* one message per stream: the rest is ignored */
    rc = shoal_frame_reader_feed(&ms->reader, data, len, &used);
    if (rc < 0) {
        /* Refused unread, saying why before the reset (it goes out first):
         * the requester ends with SHOAL_EMSGSIZE, not a bare reset. */
        uint8_t header[SHOAL_FRAME_HEADER];
        char text[96];
        int n = snprintf(text, sizeof(text),
                         SHOAL_REFUSED_SIZE " %zu bytes, the limit is %zu",
                         ms->reader.len, ms->node->cfg.max_message);
        SHOAL_LOG_LIMITED(&ms->node->log, SHOAL_LOG_WARN,
                  "stream_drop_too_large",
                  "stream_drop peer=%s reason=message_too_large len=%zu "
                  "limit=%zu",
                  shoal_stream_peer(s), ms->reader.len,
                  ms->node->cfg.max_message);
        ms->node->stats.dropped++;
        ms->dispatched = 1;
        shoal_frame_header_encode(header, "ERRO", (uint32_t)n);
        out_push(&ms->out, s, header, text, (size_t)n);
        shoal_stream_reset(s);
        return;
    }
    if (rc == 1)
        serve_dispatch(ms);
}

static void serve_eof(shoal_stream *s, void *user)
{
    shoal_msgserve *ms = user;

    if (!ms->dispatched) {
        if (ms->reader.header_got != 0)
            SHOAL_LOG_LIMITED(&ms->node->log, SHOAL_LOG_WARN,
                      "stream_drop_truncated",
                      "stream_drop peer=%s reason=truncated",
                      shoal_stream_peer(s));
        shoal_stream_reset(s);
    }
}

static void serve_writable(shoal_stream *s, void *user)
{
    shoal_msgserve *ms = user;

    if (out_pump(&ms->out, s) < 0)
        shoal_stream_reset(s);
    else
        serve_close_if_done(ms);
}

static void serve_closed(shoal_stream *s, int status, void *user)
{
    shoal_msgserve *ms = user;

    (void)s;
    (void)status;
    ms->stream = NULL;
    if (ms->req != NULL) { /* a held request outlives its stream */
        ms->req->ms = NULL;
        ms->req = NULL;
    }
    serve_free(ms);
}

static void on_msg_stream(shoal_stream *s, void *user)
{
    static const shoal_stream_cbs cbs = {.data = serve_data,
                                         .eof = serve_eof,
                                         .writable = serve_writable,
                                         .closed = serve_closed};
    shoal_node *node = user;
    shoal_msgserve *ms = calloc(1, sizeof(*ms));

    if (ms == NULL)
        return; /* no callbacks set: the stream is reset */
    ms->node = node;
    ms->stream = s;
    shoal_frame_reader_init(&ms->reader, node->cfg.max_message);
    node->stats.requests_served++;
    node->msg_inflight++; /* until serve_free: a drain waits for it */
    shoal_stream_set_cbs(s, &cbs, ms);
}

int shoal_msgproto_serve(shoal_node *node)
{
    return shoal_protocol_handle(node, SHOAL_MSG_PROTOCOL, on_msg_stream,
                                 node);
}

int shoal_msgserve_reply(shoal_msgserve *ms, const char *type,
                         const void *data, size_t len)
{
    uint8_t header[SHOAL_FRAME_HEADER];

    if (ms->stream == NULL || ms->finishing)
        return SHOAL_ECLOSED;
    if (len > UINT32_MAX || len > ms->node->cfg.max_message)
        return SHOAL_EMSGSIZE;
    if (ms->out.bytes > ms->node->cfg.max_pending_output)
        return SHOAL_ENOBUFS;
    shoal_frame_header_encode(header, type, (uint32_t)len);
    return out_push(&ms->out, ms->stream, header, data, len);
}

void shoal_msgserve_finish(shoal_msgserve *ms)
{
    ms->req = NULL;
    ms->finishing = 1;
    serve_close_if_done(ms);
}


/* ------------------------------------------------------------- client */

typedef struct msg_call {
    shoal_node *node;
    shoal_stream *stream;
    uv_timer_t timer;
    int refs;               /* the timer's and the stream's */
    int ended;
    size_t replies;         /* complete replies so far */
    shoal_frame_reader reader;
    out_queue out;
    shoal_reply_cb on_reply;
    shoal_end_cb on_end;
    void *user;
    uint8_t header[SHOAL_FRAME_HEADER];
    uint8_t *payload;       /* owned until queued */
    size_t len;
} msg_call;

static void call_unref(msg_call *c)
{
    if (--c->refs != 0)
        return;
    shoal_frame_reader_free(&c->reader);
    out_clear(&c->out);
    free(c->payload);
    free(c);
}

static void call_timer_closed(uv_handle_t *h)
{
    call_unref(h->data);
}

static void call_end(msg_call *c, int status)
{
    if (c->ended)
        return;
    c->ended = 1;
    c->node->msg_inflight--;
    c->on_end(status, c->user);
    uv_close((uv_handle_t *)&c->timer, call_timer_closed);
    if (c->stream != NULL && status != 0)
        shoal_stream_reset(c->stream);
    shoal_node_drain_check(c->node);
}

static void call_data(shoal_stream *s, const uint8_t *data, size_t len,
                      void *user)
{
    msg_call *c = user;

    (void)s;
    while (len > 0 && !c->ended) {
        size_t used;
        int rc = shoal_frame_reader_feed(&c->reader, data, len, &used);
        data += used;
        len -= used;
        if (rc < 0) {
            call_end(c, rc);
            return;
        }
        if (rc == 1) {
            shoal_msg msg;
            int refused;
            shoal_frame_reader_msg(&c->reader, &msg);
            /* the listener refused our request unread, and said why */
            refused = c->replies++ == 0 ? shoal_refusal_status(&msg) : 0;
            if (c->on_reply != NULL)
                c->on_reply(&msg, c->user);
            shoal_frame_reader_next(&c->reader);
            if (refused != 0)
                call_end(c, refused);
        }
    }
}

static void call_writable(shoal_stream *s, void *user)
{
    msg_call *c = user;

    if (out_pump(&c->out, s) < 0)
        call_end(c, SHOAL_ECLOSED);
    else if (c->out.head == NULL)
        shoal_stream_close(s);
}

static void call_closed(shoal_stream *s, int status, void *user)
{
    msg_call *c = user;

    (void)s;
    c->stream = NULL;
    if (status == 0 && c->reader.header_got != 0)
        status = SHOAL_EPROTO; /* the last reply was cut short */
    call_end(c, status);
    call_unref(c);
}

static void call_open(shoal_stream *s, int status, void *user)
{
    static const shoal_stream_cbs cbs = {.data = call_data,
                                         .writable = call_writable,
                                         .closed = call_closed};
    msg_call *c = user;
    int rc;

    if (s == NULL) {
        call_end(c, status);
        call_unref(c);
        return;
    }
    c->stream = s;
    shoal_stream_set_cbs(s, &cbs, c);
    if (c->ended) {
        shoal_stream_reset(s);
        return;
    }
    rc = out_push(&c->out, s, c->header, c->payload, c->len);
    free(c->payload);
    c->payload = NULL;
    if (rc < 0)
        call_end(c, rc);
    else if (c->out.head == NULL)
        shoal_stream_close(s); /* all sent: our side is done */
}

static void call_timeout(uv_timer_t *t)
{
    call_end(t->data, SHOAL_ETIMEDOUT);
}

int shoal_msgproto_request(shoal_node *node, const char *addr,
                           const char *type, void *data, size_t len,
                           void *into, size_t into_cap, uint32_t timeout_ms,
                           shoal_reply_cb on_reply, shoal_end_cb on_end,
                           void *user)
{
    msg_call *c = calloc(1, sizeof(*c));
    int rc;

    if (c == NULL) {
        free(data);
        return SHOAL_ENOMEM;
    }
    c->node = node;
    c->on_reply = on_reply;
    c->on_end = on_end;
    c->user = user;
    c->payload = data;
    c->len = len;
    shoal_frame_header_encode(c->header, type, (uint32_t)len);
    shoal_frame_reader_init(&c->reader, node->cfg.max_message);
    shoal_frame_reader_into(&c->reader, into, into_cap);
    node->msg_inflight++; /* until call_end: a drain waits for it */
    if ((rc = shoal_stream_open_as(node, addr, SHOAL_MSG_PROTOCOL, call_open,
                                   c, "request")) < 0) {
        node->msg_inflight--;
        free(c->payload);
        free(c);
        return rc;
    }
    c->refs = 2;
    uv_timer_init(node->loop, &c->timer);
    c->timer.data = c;
    uv_timer_start(&c->timer, call_timeout,
                   timeout_ms ? timeout_ms : node->cfg.request_timeout_ms, 0);
    return 0;
}
