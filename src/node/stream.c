/* Streams: yamux streams that agreed on a protocol id with
 * multistream-select, the registry of protocols this node serves, and
 * opening streams to peers (dialing when no connection is open). */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"
#include "node/session.h"

static void stream_free(shoal_stream *s)
{
    free(s->nego);
    shoal_outbuf_free(&s->nego_out);
    free(s->protocol);
    free(s);
}

/* Sends what the negotiation produced on the stream. */
static int stream_send_nego(shoal_stream *s)
{
    int rc = 0;

    if (s->nego_out.len != 0) {
        rc = shoal_yamux_stream_write(s->ys, s->nego_out.data,
                                      s->nego_out.len, NULL);
        s->nego_out.len = 0;
    }
    return rc;
}

static int protocol_index(const shoal_secure *sec, const char *id)
{
    size_t i;

    for (i = 0; i < sec->protocol_count; i++)
        if (strcmp(sec->protocol_ids[i], id) == 0)
            return (int)i;
    return -1;
}

/* The protocol is agreed: hand the stream to its owner. Returns the bytes
 * of data the owner is to get after this (0 or all of the rest), or -1 when
 * the stream was reset. */
static int stream_ready(shoal_stream *s, const char *protocol)
{
    shoal_secure *sec = s->sess->node->secure;

    free(s->nego);
    s->nego = NULL;
    shoal_outbuf_free(&s->nego_out);
    s->ready = 1;
    if (!s->outbound && shoal_node_refusing(s->sess->node) < 0) {
        shoal_yamux_stream_reset(s->ys); /* draining: nothing new */
        return -1;
    }
    if (!s->outbound && (s->protocol = strdup(protocol)) == NULL) {
        shoal_yamux_stream_reset(s->ys);
        return -1;
    }
    if (s->outbound) {
        s->open_cb(s, 0, s->open_user);
        return 0;
    }
    {
        int i = protocol_index(sec, protocol);
        if (i >= 0)
            sec->protocol_cbs[i](s, sec->protocol_users[i]);
        if (i < 0 || (s->cbs.data == NULL && s->cbs.closed == NULL &&
                      s->cbs.eof == NULL)) {
            shoal_yamux_stream_reset(s->ys); /* nobody took it */
            return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------ yamux callbacks */

static int on_stream(shoal_yamux *mux, shoal_yamux_stream *ys, void *user)
{
    shoal_session *sess = user;
    shoal_secure *sec = sess->node->secure;
    shoal_stream *s = calloc(1, sizeof(*s));

    (void)mux;
    if (s == NULL || (s->nego = calloc(1, sizeof(*s->nego))) == NULL) {
        free(s);
        return -1;
    }
    s->sess = sess;
    s->ys = ys;
    shoal_outbuf_init(&s->nego_out);
    shoal_yamux_stream_set_user(ys, s);
    shoal_mss_listener_init(&s->nego->listener,
                            (const char *const *)sec->protocol_ids,
                            sec->protocol_count, 0);
    if (shoal_mss_listener_start(&s->nego->listener, &s->nego_out) < 0 ||
        stream_send_nego(s) < 0) {
        shoal_yamux_stream_set_user(ys, NULL);
        stream_free(s);
        return -1;
    }
    return 0;
}

static void on_data(shoal_yamux_stream *ys, const uint8_t *data, size_t len,
                    void *user)
{
    shoal_stream *s = shoal_yamux_stream_user(ys);
    size_t off = 0;

    (void)user;
    if (s != NULL && !s->ready) {
        size_t used = 0;
        int rc = s->outbound
                     ? shoal_mss_dialer_feed(&s->nego->dialer, data, len,
                                             &used, &s->nego_out)
                     : shoal_mss_listener_feed(&s->nego->listener, data, len,
                                               &used, &s->nego_out);
        off = used;
        if (rc >= 0 && stream_send_nego(s) < 0)
            rc = SHOAL_ENOMEM;
        if (rc < 0) {
            s->nego_err = rc;
            shoal_yamux_stream_reset(ys);
            off = len;
        } else if (rc == SHOAL_MSS_DONE) {
            const char *p = s->outbound
                                ? shoal_mss_dialer_protocol(&s->nego->dialer)
                                : shoal_mss_listener_protocol(
                                      &s->nego->listener);
            if (stream_ready(s, p) < 0)
                off = len;
        } else {
            off = len;
        }
    }
    if (s != NULL && s->ready && off < len && s->cbs.data != NULL &&
        !s->reset)
        s->cbs.data(s, data + off, len - off, s->user);
    shoal_yamux_stream_consumed(ys, len);
}

static void on_fin(shoal_yamux_stream *ys, void *user)
{
    shoal_stream *s = shoal_yamux_stream_user(ys);

    (void)user;
    if (s == NULL)
        return;
    if (!s->ready) {
        s->nego_err = SHOAL_EPROTO;
        shoal_yamux_stream_reset(ys);
    } else if (s->cbs.eof != NULL && !s->reset) {
        s->cbs.eof(s, s->user);
    }
}

static void on_writable(shoal_yamux_stream *ys, void *user)
{
    shoal_stream *s = shoal_yamux_stream_user(ys);

    (void)user;
    if (s != NULL && s->ready && s->cbs.writable != NULL && !s->reset)
        s->cbs.writable(s, s->user);
}

static void on_closed(shoal_yamux_stream *ys, int status, void *user)
{
    shoal_stream *s = shoal_yamux_stream_user(ys);

    (void)user;
    if (s == NULL)
        return;
    if (!s->ready) {
        if (s->outbound)
            s->open_cb(NULL, s->nego_err ? s->nego_err : status,
                       s->open_user);
    } else if (s->cbs.closed != NULL) {
        s->over = 1; /* inside closed(): every call is refused */
        s->cbs.closed(s, status, s->user);
    }
    shoal_session_stream_ended(s->sess);
    stream_free(s);
}

/* A stream over the limit: logged once per connection at warn level (a
 * flood must not flood the log too), then at debug. */
static void on_refused(shoal_yamux *mux, uint32_t id, void *user)
{
    shoal_session *sess = user;
    int level = sess->streams_refused++ == 0 ? SHOAL_LOG_WARN
                                             : SHOAL_LOG_DEBUG;

    (void)mux;
    SHOAL_LOG_LIMITED(&sess->node->log, level, "stream_refused",
              "stream_refused peer=%s addr=%s stream=%u reason=max_streams "
              "limit=%zu",
              sess->remote_id, sess->remote_addr, (unsigned)id,
              sess->node->cfg.max_streams);
}

const shoal_yamux_callbacks shoal_stream_yamux_cbs = {
    .refused = on_refused,
    .stream = on_stream,
    .data = on_data,
    .fin = on_fin,
    .writable = on_writable,
    .closed = on_closed,
};

/* ----------------------------------------------------- opening streams */

static int stream_open_on(shoal_session *sess, const char *protocol,
                          shoal_stream_open_cb cb, void *user)
{
    shoal_yamux_stream *ys;
    shoal_stream *s;
    int rc;

    if ((rc = shoal_yamux_open(sess->mux, &ys)) < 0)
        return rc;
    if ((s = calloc(1, sizeof(*s))) == NULL ||
        (s->nego = calloc(1, sizeof(*s->nego))) == NULL ||
        (s->protocol = strdup(protocol)) == NULL) {
        if (s != NULL)
            stream_free(s);
        shoal_yamux_stream_reset(ys);
        return SHOAL_ENOMEM;
    }
    s->sess = sess;
    s->ys = ys;
    s->outbound = 1;
    s->open_cb = cb;
    s->open_user = user;
    shoal_outbuf_init(&s->nego_out);
    shoal_yamux_stream_set_user(ys, s);
    s->nego->proposal[0] = s->protocol;
    shoal_mss_dialer_init(&s->nego->dialer, s->nego->proposal, 1);
    if ((rc = shoal_mss_dialer_start(&s->nego->dialer, &s->nego_out)) < 0 ||
        (rc = stream_send_nego(s)) < 0) {
        s->nego_err = rc;
        shoal_yamux_stream_reset(ys); /* closed() reports it */
    }
    return 0;
}

/* The session is open: serve the streams that waited for it. */
void shoal_stream_session_open(shoal_session *sess)
{
    while (sess->waiters != NULL) {
        shoal_open_waiter *w = sess->waiters;
        int rc;
        sess->waiters = w->next;
        if ((rc = stream_open_on(sess, w->protocol, w->cb, w->user)) < 0)
            w->cb(NULL, rc, w->user);
        free(w);
    }
}

void shoal_stream_fail_waiters(shoal_session *sess, int status)
{
    while (sess->waiters != NULL) {
        shoal_open_waiter *w = sess->waiters;
        sess->waiters = w->next;
        w->cb(NULL, status, w->user);
        free(w);
    }
}

/* A dial refused for one of its arguments: said on a WARN line, as
 * "<caller>_refused", with which one and why, and returned. */
static int open_refused(shoal_node *node, const char *caller, int rc,
                        const char *addr, const char *protocol_id,
                        const char *why)
{
    char a[256], p[SHOAL_MSS_PROTO_MAX + 1];

    SHOAL_LOG(&node->log, SHOAL_LOG_WARN,
              "%s_refused addr=\"%s\" protocol=\"%s\" why=\"%s\" error=%s",
              caller, shoal_log_text(addr, a, sizeof(a)),
              shoal_log_text(protocol_id, p, sizeof(p)), why,
              shoal_err_name(rc));
    return rc;
}

int shoal_stream_open_as(shoal_node *node, const char *addr,
                         const char *protocol_id, shoal_stream_open_cb cb,
                         void *user, const char *caller)
{
    SHOAL_LOOP_ONLY(node, SHOAL_EBUSY);
    shoal_dial_target t;
    shoal_session *sess = NULL;
    shoal_open_waiter *w, **tail;
    size_t plen;
    int rc;

    if ((rc = shoal_node_refusing(node)) < 0)
        return rc;
    if (node->secure == NULL)
        return open_refused(node, caller, SHOAL_EINVAL, addr, protocol_id,
                            "a classic node has no streams");
    if (cb == NULL)
        return open_refused(node, caller, SHOAL_EINVAL, addr, protocol_id,
                            "cb is NULL");
    if (protocol_id == NULL || (plen = strlen(protocol_id)) == 0 ||
        plen > SHOAL_MSS_PROTO_MAX)
        return open_refused(node, caller, SHOAL_EINVAL, addr, protocol_id,
                            "protocol id empty or too long");
    if ((rc = shoal_session_parse_target(addr, &t)) < 0) {
        char why[160];
        shoal_addr_explain(addr, 1, why, sizeof(why));
        return open_refused(node, caller, rc, addr, protocol_id,
                            why[0] ? why : "not a dialable multiaddr");
    }
    if (t.has_peer && shoal_peerid_equal(&t.peer, &node->secure->peerid))
        return open_refused(node, caller, SHOAL_ESELF, addr, protocol_id,
                            "the /p2p/ id is this node's own");
    if (t.has_peer)
        sess = shoal_session_find(node, &t.peer);
    if (sess != NULL && sess->state == SESS_OPEN) {
        if ((rc = stream_open_on(sess, protocol_id, cb, user)) == 0)
            shoal_session_kick(sess);
        return rc;
    }
    if ((w = malloc(sizeof(*w) + plen + 1)) == NULL)
        return SHOAL_ENOMEM;
    w->next = NULL;
    w->cb = cb;
    w->user = user;
    memcpy(w->protocol, protocol_id, plen + 1);
    if (sess == NULL && (rc = shoal_session_dial(node, &t, &sess)) < 0) {
        free(w);
        return rc;
    }
    for (tail = &sess->waiters; *tail != NULL; tail = &(*tail)->next)
        ;
    *tail = w;
    return 0;
}

int shoal_stream_open(shoal_node *node, const char *addr,
                      const char *protocol_id, shoal_stream_open_cb cb,
                      void *user)
{
    SHOAL_LOOP_ONLY(node, SHOAL_EBUSY); /* named as the caller knows it */
    return shoal_stream_open_as(node, addr, protocol_id, cb, user,
                                "stream_open");
}

/* ------------------------------------------------------ the stream API */

void shoal_stream_set_cbs(shoal_stream *s, const shoal_stream_cbs *cbs,
                          void *user)
{
    SHOAL_LOOP_ONLY(s->sess->node);
    if (s->over)
        return;
    s->cbs = *cbs;
    s->user = user;
}

int shoal_stream_write(shoal_stream *s, const void *data, size_t len)
{
    SHOAL_LOOP_ONLY(s->sess->node, SHOAL_EBUSY);
    int rc;

    if (s->reset || s->over)
        return SHOAL_ECLOSED;
    rc = shoal_yamux_stream_write(s->ys, data, len, NULL);
    if (rc == 0)
        shoal_session_kick(s->sess);
    return rc;
}

size_t shoal_stream_write_space(const shoal_stream *s)
{
    SHOAL_LOOP_ONLY(s->sess->node, 0);
    return s->reset || s->over ? 0 : shoal_yamux_stream_write_space(s->ys);
}

int shoal_stream_close(shoal_stream *s)
{
    SHOAL_LOOP_ONLY(s->sess->node, SHOAL_EBUSY);
    int rc;

    if (s->reset || s->over)
        return SHOAL_ECLOSED;
    rc = shoal_yamux_stream_close(s->ys);
    shoal_session_kick(s->sess);
    return rc;
}

void shoal_stream_reset(shoal_stream *s)
{
    SHOAL_LOOP_ONLY(s->sess->node);
    if (s->reset || s->over)
        return;
    s->reset = 1;
    shoal_yamux_stream_reset(s->ys);
    shoal_session_kick(s->sess);
}

const char *shoal_stream_protocol(const shoal_stream *s)
{
    SHOAL_LOOP_ONLY(s->sess->node, "");
    return s->protocol != NULL ? s->protocol : "";
}

const char *shoal_stream_peer(const shoal_stream *s)
{
    SHOAL_LOOP_ONLY(s->sess->node, "");
    return s->sess->remote_id;
}

const char *shoal_stream_remote_addr(const shoal_stream *s)
{
    SHOAL_LOOP_ONLY(s->sess->node, "");
    return s->sess->remote_addr;
}

/* -------------------------------------------------- protocol registry */

int shoal_protocol_handle(shoal_node *node, const char *protocol_id,
                          shoal_protocol_cb cb, void *user)
{
    SHOAL_LOOP_ONLY(node, SHOAL_EBUSY);
    shoal_secure *sec = node->secure;
    size_t len;
    int i, added;

    if (cb != NULL && (i = shoal_node_ending(node)) < 0)
        return i; /* nothing new on a node that ends; removing is fine */
    if (sec == NULL || protocol_id == NULL ||
        (len = strlen(protocol_id)) == 0 || len > SHOAL_MSS_PROTO_MAX)
        return SHOAL_EINVAL;
    i = protocol_index(sec, protocol_id);
    if (cb == NULL) {
        if (i < 0)
            return SHOAL_ENOENT;
        free(sec->protocol_ids[i]);
        sec->protocol_count--;
        sec->protocol_ids[i] = sec->protocol_ids[sec->protocol_count];
        sec->protocol_cbs[i] = sec->protocol_cbs[sec->protocol_count];
        sec->protocol_users[i] = sec->protocol_users[sec->protocol_count];
        shoal_identify_push_all(node);
        return 0;
    }
    added = i < 0;
    if (added) {
        if (sec->protocol_count == SHOAL_PROTOCOLS_MAX)
            return SHOAL_EFULL;
        i = (int)sec->protocol_count;
        if ((sec->protocol_ids[i] = strdup(protocol_id)) == NULL)
            return SHOAL_ENOMEM;
        sec->protocol_count++;
    }
    sec->protocol_cbs[i] = cb;
    sec->protocol_users[i] = user;
    if (added)
        shoal_identify_push_all(node); /* a new one: tell the peers */
    return 0;
}

/* ------------------------------------------------- the node's secure side */

int shoal_secure_init(shoal_node *node, const char *key_file)
{
    shoal_secure *sec = calloc(1, sizeof(*sec));
    int rc;

    if (sec == NULL)
        return SHOAL_ENOMEM;
    node->secure = sec;
    shoal_link_init(&sec->sessions);
    rc = key_file != NULL ? shoal_identity_load_or_create(key_file,
                                                          &sec->identity)
                          : shoal_identity_generate(&sec->identity);
    if (rc < 0)
        return rc;
    shoal_peerid_from_pubkey(sec->identity.pk, &sec->peerid);
    shoal_peerid_format(&sec->peerid, sec->peer_id, sizeof(sec->peer_id));
    return 0;
}

void shoal_secure_stop(shoal_node *node)
{
    shoal_secure *sec = node->secure;

    if (sec == NULL)
        return;
    while (sec->sessions.next != &sec->sessions)
        shoal_session_close(SHOAL_CONTAINER(sec->sessions.next,
                                            shoal_session, link),
                            SHOAL_ECANCELED, NULL);
}

void shoal_secure_free(shoal_node *node)
{
    shoal_secure *sec = node->secure;
    size_t i;

    if (sec == NULL)
        return;
    for (i = 0; i < sec->protocol_count; i++)
        free(sec->protocol_ids[i]);
    sodium_memzero(&sec->identity, sizeof(sec->identity));
    free(sec);
    node->secure = NULL;
}

int shoal_disconnect(shoal_node *node, const char *peer_id)
{
    SHOAL_LOOP_ONLY(node, SHOAL_EBUSY);
    shoal_peerid who;
    shoal_link *l, *next;
    int found = 0;

    if (node->secure == NULL || peer_id == NULL ||
        shoal_peerid_parse(peer_id, &who) < 0)
        return SHOAL_EINVAL;
    for (l = node->secure->sessions.next; l != &node->secure->sessions;
         l = next) {
        shoal_session *s = SHOAL_CONTAINER(l, shoal_session, link);
        next = l->next;
        if (s->state >= SESS_MUXING && shoal_peerid_equal(&s->remote, &who)) {
            shoal_session_close(s, 0, "disconnect");
            found = 1;
        }
    }
    return found ? 0 : SHOAL_ENOENT;
}

const char *shoal_node_peer_id(const shoal_node *node)
{
    return node->secure != NULL ? node->secure->peer_id : NULL;
}
