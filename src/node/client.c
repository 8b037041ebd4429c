/* Outbound requests: resolve, connect, write one message, read replies
 * until the remote closes. Every step has a deadline (conn.c). */
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"
#include "core/bigbuf.h"
#include "node/session.h"

struct shoal_outreq {
    shoal_conn conn;        /* first: a conn of an outreq is freed with it */
    uv_connect_t connect;
    uv_getaddrinfo_t resolve;
    uv_write_t write;
    int resolving;          /* getaddrinfo in flight: free waits for it */
    int freed;              /* both handles closed */
    int ended;
    int write_err;          /* the remote cut us off while we wrote */
    size_t replies;         /* complete replies so far */
    shoal_reply_cb on_reply;
    shoal_end_cb on_end;
    void *user;
    uint16_t port;
    uint8_t header[SHOAL_FRAME_HEADER];
    uint8_t *payload;       /* owned, until written */
    size_t len;
};

static void free_outreq(shoal_outreq *o)
{
    free(o->payload);
    free(o);
}

void shoal_client_conn_free(shoal_conn *c)
{
    shoal_outreq *o = c->out;

    o->freed = 1;
    if (!o->resolving)
        free_outreq(o);
}

void shoal_client_conn_closed(shoal_conn *c, int status)
{
    shoal_outreq *o = c->out;

    if (o->resolving)
        uv_cancel((uv_req_t *)&o->resolve);
    if (!o->ended) {
        o->ended = 1;
        o->on_end(status, o->user);
    }
}

int shoal_refusal_status(const shoal_msg *reply)
{
    static const struct {
        const char *text;
        int status;
    } refusals[] = {{SHOAL_REFUSED_SIZE, SHOAL_EMSGSIZE},
                    {SHOAL_REFUSED_WIRE, SHOAL_EWRONGWIRE}};
    size_t i;

    if (strcmp(reply->type, "ERRO") != 0)
        return 0;
    for (i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
        size_t n = strlen(refusals[i].text);
        if (reply->len >= n && memcmp(reply->data, refusals[i].text, n) == 0)
            return refusals[i].status;
    }
    return 0;
}

/* A secure node answered our classic request with its multistream-select
 * header, which reads as a frame of 1.8 GB: say so rather than "message
 * too large". */
static void wrong_wire(shoal_conn *c)
{
    char remote[64] = "?";
    struct sockaddr_storage ss;
    int len = sizeof(ss);

    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0)
        shoal_sockaddr_format((struct sockaddr *)&ss, remote, sizeof(remote));
    SHOAL_LOG(&c->node->log, SHOAL_LOG_WARN,
              "wrong_wire addr=%s why=\"a secure (libp2p) node answered a "
              "classic request: give it a multiaddr\"",
              remote);
    shoal_conn_close(c, SHOAL_EWRONGWIRE, "wrong_wire");
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    shoal_conn *c = stream->data;
    shoal_outreq *o = c->out;
    int rc;

    (void)buf;
    if (nread == 0 || c->closing)
        return;
    if (nread < 0) {
        int midway = c->reader.header_got != 0;
        if (nread == UV_ENOBUFS)
            shoal_conn_close(c, SHOAL_ENOBUFS, "input_budget");
        else if (o->write_err != 0) /* no refusal came to say why */
            shoal_conn_close(c, o->write_err, "write_failed");
        else if (nread == UV_EOF && !midway)
            shoal_conn_close(c, 0, NULL); /* end of replies */
        else
            shoal_conn_close(c, nread == UV_EOF ? SHOAL_EPROTO : (int)nread,
                             nread == UV_EOF ? "truncated_reply"
                                             : "read_failed");
        return;
    }
    rc = shoal_frame_reader_commit(&c->reader, (size_t)nread);
    shoal_conn_progress(c);
    if (o->replies == 0 && c->reader.header_got == SHOAL_FRAME_HEADER &&
        memcmp(c->reader.header, SHOAL_MSS_START, 4) == 0) {
        wrong_wire(c);
        return;
    }
    if (rc < 0) {
        shoal_conn_close(c, rc, "reply_too_large");
        return;
    }
    if (rc == 1) {
        shoal_msg msg;
        int refused;
        shoal_frame_reader_msg(&c->reader, &msg);
        /* the remote refused our request unread, and said why */
        refused = o->replies++ == 0 ? shoal_refusal_status(&msg) : 0;
        if (o->on_reply != NULL)
            o->on_reply(&msg, o->user);
        if (refused != 0 && !c->closing)
            shoal_conn_close(c, refused, "refused");
        if (!c->closing)
            shoal_conn_next_message(c);
    }
}

static void on_written(uv_write_t *w, int status)
{
    shoal_outreq *o = w->data;
    shoal_conn *c = &o->conn;

    c->writes--;
    free(o->payload);
    o->payload = NULL;
    if (c->closing)
        return;
    if ((status == UV_EPIPE || status == UV_ECONNRESET) && c->reading) {
        /* The remote closed on our request: its refusal (an ERRO saying
         * why) may be waiting to be read. Reading ends the request. */
        o->write_err = status;
        return;
    }
    if (status < 0) {
        shoal_conn_close(c, status, "write_failed");
        return;
    }
    shoal_conn_progress(c);
}

/* Sends the request: straight into the socket when it fits, else queued
 * from the payload we already own (no second copy of a large payload). */
static int send_request(shoal_outreq *o)
{
    shoal_conn *c = &o->conn;
    uv_buf_t bufs[2];
    size_t done = 0, total = SHOAL_FRAME_HEADER + o->len;
    unsigned nbufs = o->len ? 2 : 1;
    int rc;

    bufs[0].base = (char *)o->header;
    bufs[0].len = SHOAL_FRAME_HEADER;
    bufs[1].base = (char *)o->payload;
    bufs[1].len = o->len;
    rc = uv_try_write((uv_stream_t *)&c->tcp, bufs, nbufs);
    if (rc < 0 && rc != UV_EAGAIN)
        return rc;
    if (rc > 0)
        done = (size_t)rc;
    if (done == total) {
        free(o->payload);
        o->payload = NULL;
        return 0;
    }
    if (done < SHOAL_FRAME_HEADER) {
        bufs[0].base += done;
        bufs[0].len -= done;
    } else { /* the header is out: only payload remains */
        bufs[0].base = bufs[1].base + (done - SHOAL_FRAME_HEADER);
        bufs[0].len = total - done;
        nbufs = 1;
    }
    o->write.data = o;
    if ((rc = uv_write(&o->write, (uv_stream_t *)&c->tcp, bufs, nbufs,
                       on_written)) < 0)
        return rc;
    c->writes++;
    c->last_queue = total - done;
    return 0;
}

static void on_connect(uv_connect_t *req, int status)
{
    shoal_outreq *o = req->data;
    shoal_conn *c = &o->conn;
    int rc;

    if (c->closing)
        return;
    if (status < 0) {
        shoal_conn_close(c, status, "connect_failed");
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    shoal_conn_progress(c);
    c->reading = 1;
    if ((rc = send_request(o)) < 0 ||
        (rc = uv_read_start((uv_stream_t *)&c->tcp, shoal_conn_alloc,
                            on_read)) < 0) {
        shoal_conn_close(c, rc, "write_failed");
        return;
    }
    shoal_conn_arm(c);
}

static int start_connect(shoal_outreq *o, const struct sockaddr *sa)
{
    o->connect.data = o;
    return uv_tcp_connect(&o->connect, &o->conn.tcp, sa, on_connect);
}

static void on_resolved(uv_getaddrinfo_t *r, int status, struct addrinfo *ai)
{
    shoal_outreq *o = r->data;
    shoal_conn *c = &o->conn;
    int rc;

    o->resolving = 0;
    if (o->freed) {
        uv_freeaddrinfo(ai);
        free_outreq(o);
        return;
    }
    if (c->closing) {
        uv_freeaddrinfo(ai);
        return;
    }
    if (status < 0) {
        shoal_conn_close(c, status, "resolve_failed");
        return;
    }
    if (ai->ai_family == AF_INET)
        ((struct sockaddr_in *)ai->ai_addr)->sin_port = htons(o->port);
    else
        ((struct sockaddr_in6 *)ai->ai_addr)->sin6_port = htons(o->port);
    rc = start_connect(o, ai->ai_addr);
    uv_freeaddrinfo(ai);
    if (rc < 0)
        shoal_conn_close(c, rc, "connect_failed");
}

/* A request refused for one of its arguments: said on a WARN line, with
 * which one and why, and returned. */
static int refused(shoal_node *node, int rc, const char *addr,
                   const char *why)
{
    char text[256];

    SHOAL_LOG(&node->log, SHOAL_LOG_WARN,
              "request_refused addr=\"%s\" why=\"%s\" error=%s",
              shoal_log_text(addr, text, sizeof(text)), why,
              shoal_err_name(rc));
    return rc;
}

/* shoal_request_owned, with the first reply read into into (NULL: none). */
static int request_start(shoal_node *node, const char *addr,
                         const char *type, void *data, size_t len,
                         void *into, size_t into_cap, uint32_t timeout_ms,
                         shoal_reply_cb on_reply, shoal_end_cb on_end,
                         void *user)
{
    struct sockaddr_storage ss;
    shoal_addr a;
    shoal_outreq *o = NULL;
    char norm[5], why[160] = "";
    int rc = 0;

    if (shoal_node_refusing(node) < 0)
        rc = SHOAL_ECANCELED;
    else if (on_end == NULL)
        rc = refused(node, SHOAL_EINVAL, addr, "on_end is NULL");
    else if (shoal_type_normalize(type, norm) < 0)
        rc = refused(node, SHOAL_EINVAL, addr,
                     "type must be 1 to 4 printable ASCII characters");
    else if (data == NULL && len != 0)
        rc = refused(node, SHOAL_EINVAL, addr, "data is NULL, len is not 0");
    else if (len > UINT32_MAX)
        rc = refused(node, SHOAL_EMSGSIZE, addr,
                     "payload over 4 GiB, the frame's limit");
    else if (node->stats.connections >= node->cfg.max_connections)
        rc = SHOAL_ENOBUFS;
    if (rc == 0 && node->secure != NULL && addr != NULL && addr[0] == '/')
        return shoal_msgproto_request(node, addr, norm, data, len, into,
                                      into_cap, timeout_ms, on_reply, on_end,
                                      user);
    if (rc == 0 && (rc = shoal_addr_parse(addr, &a)) == 0 && a.port == 0)
        rc = SHOAL_EBADADDR; /* a port to listen on, not to dial */
    if (rc == SHOAL_EBADADDR) {
        shoal_addr_explain(addr, 0, why, sizeof(why));
        refused(node, rc, addr, why[0] ? why : "port 0 cannot be dialed");
    }
    if (rc == 0) {
        o = calloc(1, sizeof(*o));
        if (o == NULL)
            rc = SHOAL_ENOMEM;
    }
    if (rc < 0 || o == NULL) {
        free(data); /* ours from the call on, whatever happens */
        return rc;
    }
    shoal_frame_header_encode(o->header, norm, (uint32_t)len);
    o->payload = data;
    o->len = len;
    o->on_reply = on_reply;
    o->on_end = on_end;
    o->user = user;
    o->port = a.port;
    o->conn.outbound = 1;
    o->conn.out = o;
    if ((rc = shoal_conn_init(node, &o->conn)) < 0) {
        free_outreq(o);
        return rc;
    }
    shoal_frame_reader_into(&o->conn.reader, into, into_cap);
    /* From here on, failures are reported through on_end. */
    if (timeout_ms != 0)
        o->conn.deadline = uv_now(node->loop) + timeout_ms;
    o->conn.reading = 2; /* connecting */
    shoal_conn_arm(&o->conn);

    if (uv_ip4_addr(a.host, a.port, (struct sockaddr_in *)&ss) == 0 ||
        uv_ip6_addr(a.host, a.port, (struct sockaddr_in6 *)&ss) == 0) {
        rc = start_connect(o, (struct sockaddr *)&ss);
    } else {
        struct addrinfo hints;
        memset(&hints, 0, sizeof(hints));
        hints.ai_socktype = SOCK_STREAM;
        o->resolve.data = o;
        rc = uv_getaddrinfo(node->loop, &o->resolve, on_resolved, a.host,
                            NULL, &hints);
        if (rc == 0)
            o->resolving = 1;
    }
    if (rc < 0) {
        o->ended = 1; /* the caller hears it from the return value */
        shoal_conn_close(&o->conn, rc, NULL);
        return rc;
    }
    return 0;
}

int shoal_request_owned(shoal_node *node, const char *addr,
                        const char *type, void *data, size_t len,
                        uint32_t timeout_ms, shoal_reply_cb on_reply,
                        shoal_end_cb on_end, void *user)
{
    if (!shoal_node_on_loop_thread(node, __func__)) {
        free(data); /* ours from the call on, refused or not */
        return SHOAL_EBUSY;
    }
    return request_start(node, addr, type, data, len, NULL, 0, timeout_ms,
                         on_reply, on_end, user);
}

/* A malloc'd copy of data (NULL for none) in *copy; 0 or an error. */
static int copy_payload(shoal_node *node, const char *addr,
                        const void *data, size_t len, void **copy)
{
    *copy = NULL;
    if (data == NULL && len != 0)
        return refused(node, SHOAL_EINVAL, addr, "data is NULL, len is not 0");
    if (len != 0) {
        if ((*copy = malloc(len)) == NULL)
            return SHOAL_ENOMEM;
        shoal_bigbuf_advise(*copy, len);
        memcpy(*copy, data, len);
    }
    return 0;
}

int shoal_request(shoal_node *node, const char *addr, const char *type,
                  const void *data, size_t len, uint32_t timeout_ms,
                  shoal_reply_cb on_reply, shoal_end_cb on_end, void *user)
{
    SHOAL_LOOP_ONLY(node, SHOAL_EBUSY);
    void *copy;
    int rc = copy_payload(node, addr, data, len, &copy);

    if (rc < 0)
        return rc;
    return request_start(node, addr, type, copy, len, NULL, 0, timeout_ms,
                         on_reply, on_end, user);
}

int shoal_request_into(shoal_node *node, const char *addr, const char *type,
                       const void *data, size_t len, void *buf, size_t cap,
                       uint32_t timeout_ms, shoal_reply_cb on_reply,
                       shoal_end_cb on_end, void *user)
{
    SHOAL_LOOP_ONLY(node, SHOAL_EBUSY);
    void *copy;
    int rc = buf == NULL || cap == 0
                 ? refused(node, SHOAL_EINVAL, addr, "no buf to read into")
                 : copy_payload(node, addr, data, len, &copy);

    if (rc < 0)
        return rc;
    return request_start(node, addr, type, copy, len, buf, cap, timeout_ms,
                         on_reply, on_end, user);
}

int shoal_request_peer(shoal_node *node, const char *peer_id,
                       const char *type, const void *data, size_t len,
                       uint32_t timeout_ms, shoal_reply_cb on_reply,
                       shoal_end_cb on_end, void *user)
{
    SHOAL_LOOP_ONLY(node, SHOAL_EBUSY);
    const shoal_peer *hop;
    char addr[SHOAL_HOST_MAX + SHOAL_ID_MAX + 32];

    if (peer_id == NULL)
        return SHOAL_EINVAL;
    if (node->router != NULL)
        hop = node->router(node, peer_id, node->router_user);
    else
        hop = shoal_peer_get(node, peer_id);
    if (hop == NULL)
        return SHOAL_ENOROUTE;
    if (shoal_node_peer_addr(node, hop, addr, sizeof(addr)) < 0)
        return SHOAL_EINVAL;
    return shoal_request(node, addr, type, data, len, timeout_ms, on_reply,
                         on_end, user);
}
