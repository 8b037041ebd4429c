/* Identify, /ipfs/id/1.0.0 (libp2p specs identify/README.md): the listener
 * of the stream writes one varint-length-prefixed Identify protobuf (its
 * key, listen addresses, protocols, and the address it sees the dialer at)
 * and closes. /ipfs/id/push/1.0.0 carries the same message the other way;
 * we accept pushes and read them to the end. */
#include <stdlib.h>
#include <string.h>

#include "core/multiaddr.h"
#include "core/varint.h"
#include "node/session.h"
#include "proto/identify.pb-c.h"

#define IDENTIFY_PROTOCOL "/ipfs/id/1.0.0"
#define IDENTIFY_PUSH_PROTOCOL "/ipfs/id/push/1.0.0"
#define IDENTIFY_MAX (64 * 1024) /* js caps it at 8 KiB; we allow more */
#define PROTOCOL_VERSION "ipfs/0.1.0"
#define AGENT_VERSION "shoal/0.1.0"

/* ---------------------------------------------------------------- server */

/* Listening address i, binary, without the /p2p/ part. */
static int listen_addr_binary(shoal_node *node, size_t i, uint8_t *out,
                              size_t size)
{
    char text[SHOAL_MULTIADDR_MAX], *p2p;

    if (shoal_node_listen_addr(node, i, text, sizeof(text)) < 0)
        return SHOAL_ENOENT;
    if ((p2p = strstr(text, "/p2p/")) != NULL)
        *p2p = '\0';
    return shoal_multiaddr_parse(text, out, size);
}

static void close_on_eof(shoal_stream *s, void *user)
{
    (void)user;
    shoal_stream_close(s);
}

/* Our Identify message, varint-length-prefixed, for a peer that sees us
 * from observed (a multiaddr, or ""). Returns a malloc()ed buffer, or NULL
 * when out of memory. */
static uint8_t *identify_message(shoal_node *node, const char *observed_text,
                                 size_t *out_len)
{
    shoal_secure *sec = node->secure;
    Shoal__Pb__Identify msg = SHOAL__PB__IDENTIFY__INIT;
    uint8_t key[SHOAL_PUBKEY_PB_MAX], observed[SHOAL_MULTIADDR_MAX];
    uint8_t listen[SHOAL_LISTEN_MAX][64];
    ProtobufCBinaryData addrs[SHOAL_LISTEN_MAX];
    uint8_t *buf;
    size_t len, hdr, i;
    int n;

    msg.protocolversion = (char *)PROTOCOL_VERSION;
    msg.agentversion = (char *)AGENT_VERSION;
    msg.has_publickey = 1;
    msg.publickey.data = key;
    msg.publickey.len = shoal_pubkey_encode(sec->identity.pk, key);
    for (i = 0; i < SHOAL_LISTEN_MAX; i++) {
        if ((n = listen_addr_binary(node, i, listen[i], sizeof(listen[i]))) <
            0)
            break;
        addrs[i].data = listen[i];
        addrs[i].len = (size_t)n;
    }
    msg.n_listenaddrs = i;
    msg.listenaddrs = addrs;
    n = shoal_multiaddr_parse(observed_text, observed, sizeof(observed));
    if (n > 0) {
        msg.has_observedaddr = 1;
        msg.observedaddr.data = observed;
        msg.observedaddr.len = (size_t)n;
    }
    msg.n_protocols = sec->protocol_count;
    msg.protocols = sec->protocol_ids;

    len = shoal__pb__identify__get_packed_size(&msg);
    if ((buf = malloc(SHOAL_VARINT_MAX + len)) == NULL)
        return NULL;
    hdr = shoal_varint_encode(len, buf);
    shoal__pb__identify__pack(&msg, buf + hdr);
    *out_len = hdr + len;
    return buf;
}

/* Writes the message, and closes once the dialer has closed its side: js
 * cannot take a FIN that arrives before it has finished agreeing on the
 * protocol (it puts the bytes after the agreement back on the stream, and a
 * closed stream refuses them). */
static void on_identify_stream(shoal_stream *s, void *user)
{
    static const shoal_stream_cbs cbs = {.eof = close_on_eof};
    size_t len;
    uint8_t *buf = identify_message(user, shoal_stream_remote_addr(s), &len);

    if (buf == NULL)
        return; /* no callbacks: the stream is reset */
    shoal_stream_set_cbs(s, &cbs, NULL);
    if (shoal_stream_write(s, buf, len) < 0)
        shoal_stream_reset(s);
    free(buf);
}

/* A push from a peer: checked (it must be well formed and, if it names a
 * key, the peer's own) and logged; we keep no peer store yet. */
typedef struct push_in {
    shoal_node *node;
    shoal_outbuf in;
} push_in;

static void push_data(shoal_stream *s, const uint8_t *data, size_t len,
                      void *user)
{
    push_in *p = user;

    if (p->in.len + len > IDENTIFY_MAX ||
        shoal_outbuf_append(&p->in, data, len) < 0)
        shoal_stream_reset(s);
}

static void push_eof(shoal_stream *s, void *user)
{
    push_in *p = user;
    shoal_identify_decoded d;
    shoal_peerid who;
    int rc = shoal_peerid_parse(shoal_stream_peer(s), &who);

    if (rc == 0)
        rc = shoal_identify_decode(p->in.data, p->in.len, &who, &d);
    if (rc == 0) {
        SHOAL_LOG(&p->node->log, SHOAL_LOG_DEBUG,
                  "identify_push peer=%s protocols=%zu listen_addrs=%zu",
                  shoal_stream_peer(s), d.info.nprotocols, d.info.naddrs);
        shoal_identify_decoded_free(&d);
    } else {
        SHOAL_LOG_LIMITED(&p->node->log, SHOAL_LOG_INFO, "identify_push_bad",
                  "identify_push_bad peer=%s error=\"%s\"",
                  shoal_stream_peer(s), shoal_strerror(rc));
    }
    shoal_stream_close(s);
}

static void push_closed(shoal_stream *s, int status, void *user)
{
    push_in *p = user;

    (void)s;
    (void)status;
    shoal_outbuf_free(&p->in);
    free(p);
}

static void on_push_stream(shoal_stream *s, void *user)
{
    static const shoal_stream_cbs cbs = {
        .data = push_data, .eof = push_eof, .closed = push_closed};
    push_in *p = calloc(1, sizeof(*p));

    if (p == NULL)
        return;
    p->node = user;
    shoal_outbuf_init(&p->in);
    shoal_stream_set_cbs(s, &cbs, p);
}

/* Pushing ours: one stream per connected peer, the message, then close. */
static void push_out_open(shoal_stream *s, int status, void *user)
{
    static const shoal_stream_cbs cbs = {0};
    shoal_node *node = user;
    size_t len;
    uint8_t *buf;

    if (s == NULL) {
        SHOAL_LOG(&node->log, SHOAL_LOG_DEBUG, "identify_push_failed error=\"%s\"",
                  shoal_strerror(status));
        return;
    }
    shoal_stream_set_cbs(s, &cbs, NULL);
    buf = identify_message(node, shoal_stream_remote_addr(s), &len);
    if (buf == NULL || shoal_stream_write(s, buf, len) < 0)
        shoal_stream_reset(s);
    else
        shoal_stream_close(s);
    free(buf);
}

void shoal_identify_push_all(shoal_node *node)
{
    shoal_secure *sec = node->secure;
    shoal_link *l;

    if (sec == NULL || node->stopped)
        return;
    for (l = sec->sessions.next; l != &sec->sessions; l = l->next) {
        shoal_session *s = SHOAL_CONTAINER(l, shoal_session, link);
        char addr[SHOAL_HOST_MAX + SHOAL_PEERID_TEXT_MAX + 48];
        if (s->state != SESS_OPEN || s->retiring)
            continue;
        snprintf(addr, sizeof(addr), "%s/p2p/%s", s->remote_addr,
                 s->remote_id);
        shoal_stream_open(node, addr, IDENTIFY_PUSH_PROTOCOL, push_out_open,
                          node);
    }
}

int shoal_identify_serve(shoal_node *node)
{
    SHOAL_LOOP_ONLY(node, SHOAL_EBUSY);
    int rc = shoal_protocol_handle(node, IDENTIFY_PROTOCOL,
                                   on_identify_stream, node);
    return rc < 0 ? rc
                  : shoal_protocol_handle(node, IDENTIFY_PUSH_PROTOCOL,
                                          on_push_stream, node);
}

/* ---------------------------------------------------------------- client */

typedef struct id_call {
    shoal_node *node;
    shoal_stream *stream;
    uv_timer_t timer;
    int refs;
    int reported;
    shoal_identify_cb cb;
    void *user;
    shoal_outbuf in;
} id_call;

static void id_unref(id_call *c)
{
    if (--c->refs != 0)
        return;
    shoal_outbuf_free(&c->in);
    free(c);
}

static void id_timer_closed(uv_handle_t *h)
{
    id_unref(h->data);
}

static void id_report(id_call *c, int status, const shoal_identify_info *info)
{
    if (c->reported)
        return;
    c->reported = 1;
    c->cb(c->node, status, info, c->user);
    uv_close((uv_handle_t *)&c->timer, id_timer_closed);
    if (c->stream != NULL)
        shoal_stream_reset(c->stream);
}

/* Formats a binary multiaddr, or "" when it is not one we can read. */
static char *addr_text(const ProtobufCBinaryData *b)
{
    char text[SHOAL_MULTIADDR_MAX + 1];

    if (shoal_multiaddr_format(b->data, b->len, text, sizeof(text)) < 0)
        text[0] = '\0';
    return strdup(text);
}

void shoal_identify_decoded_free(shoal_identify_decoded *d)
{
    size_t i;

    for (i = 0; d->addrs != NULL && i < d->info.naddrs; i++)
        free((void *)d->addrs[i]);
    free(d->addrs);
    free(d->observed);
    if (d->msg != NULL)
        shoal__pb__identify__free_unpacked(d->msg, NULL);
    memset(d, 0, sizeof(*d));
}

int shoal_identify_decode(const uint8_t *buf, size_t len,
                          const shoal_peerid *expect,
                          shoal_identify_decoded *d)
{
    Shoal__Pb__Identify *msg;
    uint64_t mlen;
    int used = shoal_varint_decode(buf, len, &mlen);
    size_t i;

    memset(d, 0, sizeof(*d));
    if (used <= 0 || mlen != len - (size_t)used)
        return SHOAL_EPROTO;
    msg = shoal__pb__identify__unpack(NULL, (size_t)mlen, buf + used);
    if (msg == NULL)
        return SHOAL_EPROTO;
    d->msg = msg;
    /* The key, when given, must be the one the connection proved. */
    if (msg->has_publickey) {
        uint8_t pk[SHOAL_ED25519_PK];
        shoal_peerid who;
        if (shoal_pubkey_decode(msg->publickey.data, msg->publickey.len,
                                pk) < 0) {
            shoal_identify_decoded_free(d);
            return SHOAL_EPROTO;
        }
        shoal_peerid_from_pubkey(pk, &who);
        if (expect != NULL && !shoal_peerid_equal(&who, expect)) {
            shoal_identify_decoded_free(d);
            return SHOAL_EPROTO;
        }
    }
    d->addrs = calloc(msg->n_listenaddrs + 1, sizeof(*d->addrs));
    d->observed = msg->has_observedaddr ? addr_text(&msg->observedaddr)
                                        : strdup("");
    if (d->addrs == NULL || d->observed == NULL) {
        shoal_identify_decoded_free(d);
        return SHOAL_ENOMEM;
    }
    for (i = 0; i < msg->n_listenaddrs; i++) {
        if ((d->addrs[i] = addr_text(&msg->listenaddrs[i])) == NULL) {
            d->info.naddrs = i;
            shoal_identify_decoded_free(d);
            return SHOAL_ENOMEM;
        }
    }
    d->info.protocol_version = msg->protocolversion ? msg->protocolversion
                                                    : "";
    d->info.agent_version = msg->agentversion ? msg->agentversion : "";
    d->info.observed_addr = d->observed;
    d->info.nprotocols = msg->n_protocols;
    d->info.protocols = (const char *const *)msg->protocols;
    d->info.naddrs = msg->n_listenaddrs;
    d->info.listen_addrs = (const char *const *)d->addrs;
    return 0;
}

/* The whole message is in: decode it, check it is the peer we connected
 * to, and report it. */
static void id_parse(id_call *c)
{
    shoal_identify_decoded d;
    shoal_peerid expect;
    int rc;

    if (shoal_peerid_parse(shoal_stream_peer(c->stream), &expect) < 0) {
        id_report(c, SHOAL_EPROTO, NULL);
        return;
    }
    rc = shoal_identify_decode(c->in.data, c->in.len, &expect, &d);
    id_report(c, rc, rc == 0 ? &d.info : NULL);
    if (rc == 0)
        shoal_identify_decoded_free(&d);
}

static void id_data(shoal_stream *s, const uint8_t *data, size_t len,
                    void *user)
{
    id_call *c = user;

    (void)s;
    if (c->reported)
        return;
    if (c->in.len + len > IDENTIFY_MAX ||
        shoal_outbuf_append(&c->in, data, len) < 0)
        id_report(c, SHOAL_EMSGSIZE, NULL);
}

static void id_eof(shoal_stream *s, void *user)
{
    id_call *c = user;

    if (!c->reported)
        id_parse(c);
    shoal_stream_close(s);
}

static void id_closed(shoal_stream *s, int status, void *user)
{
    id_call *c = user;

    (void)s;
    c->stream = NULL;
    id_report(c, status < 0 ? status : SHOAL_EPROTO, NULL);
    id_unref(c);
}

static void id_open(shoal_stream *s, int status, void *user)
{
    static const shoal_stream_cbs cbs = {
        .data = id_data, .eof = id_eof, .closed = id_closed};
    id_call *c = user;

    if (s == NULL) {
        id_report(c, status, NULL);
        id_unref(c);
        return;
    }
    c->stream = s;
    shoal_stream_set_cbs(s, &cbs, c);
    if (c->reported)
        shoal_stream_reset(s);
    else
        shoal_stream_close(s); /* we only read */
}

static void id_timeout(uv_timer_t *t)
{
    id_report(t->data, SHOAL_ETIMEDOUT, NULL);
}

int shoal_identify(shoal_node *node, const char *addr, uint32_t timeout_ms,
                   shoal_identify_cb cb, void *user)
{
    SHOAL_LOOP_ONLY(node, SHOAL_EBUSY);
    id_call *c;
    int rc;

    if (cb == NULL || timeout_ms == 0)
        return SHOAL_EINVAL;
    if ((c = calloc(1, sizeof(*c))) == NULL)
        return SHOAL_ENOMEM;
    c->node = node;
    c->cb = cb;
    c->user = user;
    shoal_outbuf_init(&c->in);
    if ((rc = shoal_stream_open(node, addr, IDENTIFY_PROTOCOL, id_open, c)) <
        0) {
        free(c);
        return rc;
    }
    c->refs = 2;
    uv_timer_init(node->loop, &c->timer);
    c->timer.data = c;
    uv_timer_start(&c->timer, id_timeout, timeout_ms, 0);
    return 0;
}
