/* Inbound connections: read one message, run its handler, send the
 * replies, close. Every step has a deadline (conn.c). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/node_internal.h"

static void on_rejected_closed(uv_handle_t *h)
{
    free(h);
}

/* Over the connection limit: accept and close at once, so the backlog does
 * not fill with connections nobody will serve. */
void shoal_reject_connection(shoal_node *node, uv_stream_t *listener)
{
    uv_tcp_t *tcp = malloc(sizeof(*tcp));

    node->stats.rejected++;
    if (tcp == NULL || uv_tcp_init(node->loop, tcp) < 0) {
        free(tcp);
        return;
    }
    if (uv_accept(listener, (uv_stream_t *)tcp) == 0)
        SHOAL_LOG_LIMITED(&node->log, SHOAL_LOG_WARN, "conn_reject",
                  "conn_reject reason=max_connections limit=%zu",
                  node->cfg.max_connections);
    uv_close((uv_handle_t *)tcp, on_rejected_closed);
}

static void finish(shoal_req *req)
{
    shoal_conn *c = req->conn;

    if (req->held)
        shoal_link_del(&req->link);
    if (req->ms != NULL)
        shoal_msgserve_finish(req->ms);
    free(req);
    if (c == NULL)
        return;
    c->req = NULL;
    c->finishing = 1;
    if (c->writes == 0)
        shoal_conn_close(c, 0, NULL);
    else
        shoal_conn_arm(c);
}

static void dispatch(shoal_conn *c)
{
    shoal_node *node = c->node;
    const shoal_handler *h = shoal_node_handler(node, c->reader.type);
    shoal_msg msg;
    shoal_req *req;
    uint8_t *payload;
    struct sockaddr_storage ss;
    int sslen = sizeof(ss);

    if (h == NULL) {
        SHOAL_LOG_LIMITED(&node->log, SHOAL_LOG_DEBUG, "unknown_type",
                          "unknown_type type=%s", c->reader.type);
        shoal_conn_close(c, 0, NULL);
        return;
    }
    req = calloc(1, sizeof(*req));
    if (req == NULL) {
        shoal_conn_close(c, SHOAL_ENOMEM, "out_of_memory");
        return;
    }
    req->conn = c;
    req->node = node;
    c->req = req;
    /* kept in req: a held request outlives its connection */
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sslen) == 0)
        shoal_sockaddr_format((struct sockaddr *)&ss, req->remote,
                              sizeof(req->remote));
    shoal_frame_reader_msg(&c->reader, &msg);
    /* The payload is ours until the handler returns, even if the connection
     * closes under it (a failed reply, say). */
    payload = shoal_conn_release_input(c, 1);
    node->stats.requests_served++;
    shoal_req_run(req, h, &msg);
    free(payload);
}

void shoal_req_run(shoal_req *req, const shoal_handler *h,
                   const shoal_msg *msg)
{
    req->in_handler = 1;
    h->cb(req, msg, h->user);
    req->in_handler = 0;
    if (!req->held || req->done)
        finish(req);
    else if (req->conn != NULL)
        shoal_conn_arm(req->conn);
}

/* A request we will not read: over max_message, or a secure (libp2p) dial
 * on the classic wire. One ERRO saying why goes out before the close, so
 * that the requester can tell it from a crash (a shoal requester ends with
 * SHOAL_EMSGSIZE or SHOAL_EWRONGWIRE); what else comes is dropped. */
static void refuse(shoal_conn *c, int wrong_wire)
{
    shoal_node *node = c->node;
    char remote[64] = "?", text[SHOAL_ID_MAX + 96];
    struct sockaddr_storage ss;
    int len = sizeof(ss);

    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0)
        shoal_sockaddr_format((struct sockaddr *)&ss, remote, sizeof(remote));
    node->stats.dropped++;
    if (wrong_wire) {
        snprintf(text, sizeof(text),
                 SHOAL_REFUSED_WIRE " %s speaks the classic wire (HOST:PORT), "
                                    "not libp2p",
                 node->id);
        SHOAL_LOG_LIMITED(&node->log, SHOAL_LOG_WARN, "wrong_wire",
                  "wrong_wire remote=%s why=\"a secure (libp2p) dial on the "
                  "classic wire\"",
                  remote);
    } else {
        snprintf(text, sizeof(text),
                 SHOAL_REFUSED_SIZE " %zu bytes, the limit is %zu",
                 c->reader.len, node->cfg.max_message);
        SHOAL_LOG_LIMITED(&node->log, SHOAL_LOG_WARN, "conn_drop_too_large",
                  "conn_drop remote=%s dir=in reason=message_too_large "
                  "len=%zu limit=%zu",
                  remote, c->reader.len, node->cfg.max_message);
    }
    c->reading = 0; /* the rest goes to the scratch buffer */
    shoal_conn_release_input(c, 0);
    if (shoal_conn_write(c, "ERRO", text, strlen(text)) < 0) {
        shoal_conn_close(c, 0, NULL);
        return;
    }
    c->finishing = 1;
    if (c->writes == 0)
        shoal_conn_close(c, 0, NULL);
    else
        shoal_conn_arm(c);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    shoal_conn *c = stream->data;
    int rc;

    if (nread == 0 || c->closing)
        return;
    if (nread < 0) {
        if (!c->reading && nread == UV_EOF) {
            uv_read_stop(stream); /* half close: replies still go out */
        } else if (!c->reading) {
            shoal_conn_close(c, (int)nread, "peer_gone");
        } else if (nread == UV_ENOBUFS) {
            shoal_conn_close(c, SHOAL_ENOBUFS, "input_budget");
        } else if (c->reader.header_got == 0) {
            shoal_conn_close(c, 0, NULL); /* connected, said nothing, left */
        } else {
            shoal_conn_close(c, SHOAL_EPROTO,
                             nread == UV_EOF ? "truncated" : "read_failed");
        }
        return;
    }
    if (!c->reading || buf->base == (char *)c->node->scratch)
        return; /* bytes after the one request: ignored */
    rc = shoal_frame_reader_commit(&c->reader, (size_t)nread);
    shoal_conn_progress(c);
    if (c->reader.header_got == SHOAL_FRAME_HEADER &&
        memcmp(c->reader.header, SHOAL_MSS_START, 4) == 0) {
        refuse(c, 1);
        return;
    }
    if (rc < 0) {
        refuse(c, 0);
        return;
    }
    if (rc == 1) {
        c->reading = 0;
        dispatch(c);
    }
}

void shoal_server_on_connection(uv_stream_t *listener, int status)
{
    shoal_node *node = listener->data;
    shoal_conn *c;

    if (status < 0) {
        SHOAL_LOG_LIMITED(&node->log, SHOAL_LOG_WARN, "accept_failed",
                          "accept_failed error=\"%s\"", shoal_strerror(status));
        return;
    }
    if (node->stats.connections >= node->cfg.max_connections) {
        shoal_reject_connection(node, listener);
        return;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL || shoal_conn_init(node, c) < 0) {
        free(c);
        shoal_reject_connection(node, listener);
        return;
    }
    node->stats.inbound++;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) < 0) {
        shoal_conn_close(c, 0, NULL);
        return;
    }
    node->stats.accepted++;
    uv_tcp_nodelay(&c->tcp, 1);
    c->reading = 1;
    uv_read_start((uv_stream_t *)&c->tcp, shoal_conn_alloc, on_read);
    shoal_conn_arm(c);
}

void shoal_server_conn_closed(shoal_conn *c, int status)
{
    (void)status;
    if (c->req != NULL) {
        c->req->conn = NULL;
        c->req = NULL;
    }
}

void shoal_server_free_held(shoal_node *node)
{
    while (node->held.next != &node->held) {
        shoal_req *req = SHOAL_CONTAINER(node->held.next, shoal_req, link);
        shoal_link_del(&req->link);
        free(req);
    }
}

/* ------------------------------------------------------------ public API */

int shoal_reply(shoal_req *req, const char *type, const void *data,
                size_t len)
{
    SHOAL_LOOP_ONLY(req->node, SHOAL_EBUSY);
    shoal_conn *c = req->conn;
    char norm[5];
    int rc;

    if (shoal_node_ending(req->node) < 0)
        return SHOAL_ECANCELED; /* held requests live until the node goes */
    if (req->done)
        return SHOAL_ECLOSED; /* ended inside the handler */
    if (shoal_type_normalize(type, norm) < 0)
        return SHOAL_EINVAL;
    if (req->ms != NULL)
        return shoal_msgserve_reply(req->ms, norm, data, len);
    if (c == NULL || c->closing || c->finishing)
        return SHOAL_ECLOSED;
    if (c->pending_out > c->node->cfg.max_pending_output)
        return SHOAL_ENOBUFS;
    rc = shoal_conn_write(c, norm, data, len);
    if (rc < 0 && rc != SHOAL_EMSGSIZE && rc != SHOAL_ENOMEM) {
        shoal_conn_close(c, rc, "peer_gone");
        return SHOAL_ECLOSED;
    }
    return rc;
}

int shoal_replyf(shoal_req *req, const char *type, const char *fmt, ...)
{
    SHOAL_LOOP_ONLY(req->node, SHOAL_EBUSY);
    char small[512];
    char *text = small;
    va_list ap;
    int n, rc;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return SHOAL_EINVAL;
    if ((size_t)n >= sizeof(small)) {
        text = malloc((size_t)n + 1);
        if (text == NULL)
            return SHOAL_ENOMEM;
        va_start(ap, fmt);
        vsnprintf(text, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    rc = shoal_reply(req, type, text, (size_t)n);
    if (text != small)
        free(text);
    return rc;
}

void shoal_req_hold(shoal_req *req)
{
    SHOAL_LOOP_ONLY(req->node);
    if (req->held)
        return;
    req->held = 1;
    shoal_link_add(&req->node->held, &req->link);
}

void shoal_req_done(shoal_req *req)
{
    SHOAL_LOOP_ONLY(req->node);
    if (req->in_handler)
        req->done = 1; /* dispatch() finishes it when the handler returns */
    else
        finish(req);
}

shoal_node *shoal_req_node(const shoal_req *req)
{
    return req->node;
}

const char *shoal_req_remote(const shoal_req *req)
{
    SHOAL_LOOP_ONLY(req->node, "");
    return req->remote;
}

const char *shoal_req_peer(const shoal_req *req)
{
    SHOAL_LOOP_ONLY(req->node, NULL);
    return req->peer[0] != '\0' ? req->peer : NULL;
}
