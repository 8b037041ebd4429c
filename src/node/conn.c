/* What inbound and outbound connections share: setup, the deadline timer,
 * writing framed messages, and closing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/node_internal.h"

typedef struct write_buf {
    uv_write_t req;
    shoal_conn *conn;
    size_t len;
    uint8_t data[];
} write_buf;

static void on_timer(uv_timer_t *t);

int shoal_conn_init(shoal_node *node, shoal_conn *c)
{
    int rc;

    c->node = node;
    if ((rc = uv_tcp_init(node->loop, &c->tcp)) < 0)
        return rc;
    uv_timer_init(node->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->handles = 2;
    shoal_frame_reader_init(&c->reader, node->cfg.max_message);
    c->last_progress = uv_now(node->loop);
    c->deadline = c->last_progress + node->cfg.request_timeout_ms;
    shoal_link_add(&node->conns, &c->link);
    node->stats.connections++;
    return 0;
}

void shoal_conn_progress(shoal_conn *c)
{
    c->last_progress = uv_now(c->node->loop);
}

/* How long the connection may go without moving a byte it is waiting for;
 * 0 when it waits on nobody's I/O (a held request, say). */
static uint64_t idle_limit(const shoal_conn *c)
{
    if (c->out != NULL && c->reading == 2)
        return c->node->cfg.connect_timeout_ms;
    if (c->reading || c->writes)
        return c->node->cfg.io_timeout_ms;
    return 0;
}

/* One timer per connection, set for the earlier of the idle limit and the
 * whole-exchange deadline. Reads do not move it (that would cost a heap
 * operation per read); when it fires early, it re-checks and re-arms. */
void shoal_conn_arm(shoal_conn *c)
{
    uint64_t now = uv_now(c->node->loop);
    uint64_t at = c->deadline;
    uint64_t idle = idle_limit(c);

    if (c->closing)
        return;
    if (idle != 0 && c->last_progress + idle < at)
        at = c->last_progress + idle;
    uv_timer_start(&c->timer, on_timer, at > now ? at - now : 0, 0);
}

static void on_timer(uv_timer_t *t)
{
    shoal_conn *c = t->data;
    uint64_t now = uv_now(c->node->loop);
    uint64_t idle = idle_limit(c);

    if (now >= c->deadline) {
        shoal_conn_close(c, SHOAL_ETIMEDOUT, "deadline");
        return;
    }
    if (c->writes != 0) {
        size_t q = uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp);
        if (q < c->last_queue)
            shoal_conn_progress(c);
        c->last_queue = q;
    }
    if (idle != 0 && now - c->last_progress >= idle) {
        shoal_conn_close(c, SHOAL_ETIMEDOUT,
                         c->reading == 2 ? "connect_timeout"
                         : c->reading    ? "read_timeout"
                                         : "write_timeout");
        return;
    }
    shoal_conn_arm(c);
}

static void on_handle_closed(uv_handle_t *h)
{
    shoal_conn *c = h->data;

    if (--c->handles != 0)
        return;
    if (c->outbound)
        shoal_client_conn_free(c);
    else
        free(c);
}

void shoal_conn_close(shoal_conn *c, int status, const char *reason)
{
    shoal_node *node = c->node;

    if (c->closing)
        return;
    c->closing = 1;
    shoal_link_del(&c->link);
    shoal_node_drain_check(node);
    node->stats.connections--;
    if (!c->outbound)
        node->stats.inbound--;
    if (status < 0 && reason != NULL && (c->outbound ||
                                         strcmp(reason, "peer_gone") == 0)) {
        SHOAL_LOG(&node->log, SHOAL_LOG_DEBUG,
                  "conn_end dir=%s reason=%s error=\"%s\"",
                  c->outbound ? "out" : "in", reason, shoal_strerror(status));
    } else if (status < 0 && reason != NULL) {
        char remote[64] = "?", key[SHOAL_LOG_KEY_MAX];
        struct sockaddr_storage ss;
        int len = sizeof(ss);
        /* inbound, the peer's doing: limited, one cause a reason */
        snprintf(key, sizeof(key), "conn_drop_%s", reason);
        if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0)
            shoal_sockaddr_format((struct sockaddr *)&ss, remote,
                                  sizeof(remote));
        node->stats.dropped++;
        SHOAL_LOG_LIMITED(&node->log, SHOAL_LOG_WARN,
                  c->outbound ? NULL : key,
                  "conn_drop remote=%s dir=%s reason=%s error=\"%s\"", remote,
                  c->outbound ? "out" : "in", reason, shoal_strerror(status));
    }
    if (c->outbound)
        shoal_client_conn_closed(c, status);
    else
        shoal_server_conn_closed(c, status);
    shoal_conn_release_input(c, 0);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

static void on_write(uv_write_t *req, int status)
{
    write_buf *wb = req->data;
    shoal_conn *c = wb->conn;

    c->writes--;
    c->pending_out -= wb->len;
    free(wb);
    if (c->closing)
        return;
    if (status < 0) {
        shoal_conn_close(c, status,
                         status == UV_EPIPE || status == UV_ECONNRESET
                             ? "peer_gone"
                             : "write_failed");
        return;
    }
    shoal_conn_progress(c);
    if (c->writes == 0 && c->finishing)
        shoal_conn_close(c, 0, NULL);
}

int shoal_conn_write(shoal_conn *c, const char *type, const void *data,
                     size_t len)
{
    uint8_t header[SHOAL_FRAME_HEADER];
    uv_buf_t bufs[2];
    size_t total = SHOAL_FRAME_HEADER + len, done = 0, rest;
    write_buf *wb;
    uv_buf_t out;
    int rc;

    if (len > UINT32_MAX || len > c->node->cfg.max_message)
        return SHOAL_EMSGSIZE;
    shoal_frame_header_encode(header, type, (uint32_t)len);
    bufs[0] = uv_buf_init((char *)header, SHOAL_FRAME_HEADER);
    bufs[1].base = (char *)(uintptr_t)data;
    bufs[1].len = len;

    /* Most replies fit the socket buffer: write them without a copy. */
    if (c->writes == 0) {
        rc = uv_try_write((uv_stream_t *)&c->tcp, bufs, len ? 2 : 1);
        if (rc < 0 && rc != UV_EAGAIN)
            return rc;
        if (rc > 0) {
            done = (size_t)rc;
            shoal_conn_progress(c);
        }
        if (done == total)
            return 0;
    }
    rest = total - done;
    wb = malloc(sizeof(*wb) + rest);
    if (wb == NULL)
        return SHOAL_ENOMEM;
    if (done < SHOAL_FRAME_HEADER) {
        memcpy(wb->data, header + done, SHOAL_FRAME_HEADER - done);
        if (len)
            memcpy(wb->data + SHOAL_FRAME_HEADER - done, data, len);
    } else {
        memcpy(wb->data, (const uint8_t *)data + done - SHOAL_FRAME_HEADER,
               rest);
    }
    wb->conn = c;
    wb->len = rest;
    wb->req.data = wb;
    out.base = (char *)wb->data;
    out.len = rest;
    rc = uv_write(&wb->req, (uv_stream_t *)&c->tcp, &out, 1, on_write);
    if (rc < 0) {
        free(wb);
        return rc;
    }
    c->pending_out += rest;
    if (c->writes++ == 0) {
        c->last_queue = uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp);
        shoal_conn_progress(c);
        shoal_conn_arm(c);
    }
    return 0;
}

uint8_t *shoal_conn_release_input(shoal_conn *c, int keep)
{
    uint8_t *p = NULL;

    c->node->input_bytes -= shoal_frame_reader_held(&c->reader);
    if (keep && !c->reader.borrowed) { /* a caller's buffer is not ours */
        p = c->reader.payload;
        c->reader.payload = NULL;
        c->reader.cap = 0;
    }
    shoal_frame_reader_free(&c->reader);
    return p;
}

void shoal_conn_next_message(shoal_conn *c)
{
    size_t before = shoal_frame_reader_held(&c->reader);

    shoal_frame_reader_next(&c->reader);
    c->node->input_bytes -= before - shoal_frame_reader_held(&c->reader);
}

void shoal_conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    shoal_conn *c = h->data;
    uint8_t *p;
    size_t cap, before;

    (void)suggested;
    if (!c->reading || c->reader.complete) {
        *buf = uv_buf_init((char *)c->node->scratch,
                           sizeof(c->node->scratch));
        return;
    }
    before = shoal_frame_reader_held(&c->reader);
    if (c->node->input_bytes + shoal_frame_reader_growth(&c->reader) >
            c->node->cfg.max_input_total ||
        shoal_frame_reader_prepare(&c->reader, &p, &cap) < 0) {
        *buf = uv_buf_init(NULL, 0); /* read_cb gets UV_ENOBUFS */
        return;
    }
    c->node->input_bytes += shoal_frame_reader_held(&c->reader) - before;
    buf->base = (char *)p;
    buf->len = cap;
}

void shoal_sockaddr_format(const struct sockaddr *sa, char *out, size_t size)
{
    char ip[64] = "?";
    int port = 0;

    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        uv_ip4_name(in, ip, sizeof(ip));
        port = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        uv_ip6_name(in6, ip, sizeof(ip));
        port = ntohs(in6->sin6_port);
        snprintf(out, size, "[%s]:%d", ip, port);
        return;
    }
    snprintf(out, size, "%s:%d", ip, port);
}
