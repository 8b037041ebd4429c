/* Secure connections: TCP, then multistream-select for /noise, the Noise XX
 * handshake, multistream-select for /yamux/1.0.0 inside the encryption, and
 * a yamux session whose streams carry the application's protocols.
 * (specs/libp2p-interop.md) */
#ifndef SHOAL_NODE_SESSION_H
#define SHOAL_NODE_SESSION_H

#include "crypto/identity.h"
#include "mux/yamux.h"
#include "node/node_internal.h"
#include "secure/multistream.h"
#include "secure/noise.h"

#define SHOAL_PROTOCOLS_MAX 32
#define SHOAL_YAMUX_PROTOCOL "/yamux/1.0.0"
#define SHOAL_MSG_PROTOCOL "/shoal/msg/1.0.0"

typedef enum {
    SESS_CONNECTING, /* resolving or connecting TCP */
    SESS_SECURING,   /* multistream-select for /noise */
    SESS_HANDSHAKE,  /* Noise XX */
    SESS_MUXING,     /* multistream-select for yamux, encrypted */
    SESS_OPEN,       /* yamux */
} shoal_sess_state;

typedef struct shoal_open_waiter {
    struct shoal_open_waiter *next;
    shoal_stream_open_cb cb;
    void *user;
    char protocol[];
} shoal_open_waiter;

/* One multistream-select negotiation, allocated only while it runs. */
typedef struct shoal_nego {
    shoal_mss_dialer dialer;
    shoal_mss_listener listener;
    const char *proposal[1];
} shoal_nego;

typedef struct shoal_session {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_connect_t connect;
    uv_getaddrinfo_t resolve;
    shoal_link link;            /* in node->sessions */
    shoal_node *node;
    unsigned handles;           /* open handles, 0..2 */
    int resolving;
    int outbound;
    int closing;
    int retiring;               /* a duplicate: no new streams, then close */
    int counted;                /* counted in node->stats.connections */
    int heard;                  /* a byte came from the remote */
    unsigned streams_refused;   /* past max_streams, for the log */
    shoal_sess_state state;
    uint16_t port;              /* for a resolved dial */

    shoal_nego *nego;
    shoal_noise *noise;
    shoal_yamux *mux;
    shoal_outbuf wire;          /* bytes to write */
    shoal_outbuf plain;         /* decrypted input not yet used */
    shoal_outbuf mss_out;       /* negotiation output, before encryption */
    size_t inflight;            /* bytes handed to uv_write */
    uint8_t *spare;             /* a write buffer kept while output flows */

    int has_expected;
    shoal_peerid expected;
    shoal_peerid remote;
    char remote_id[SHOAL_PEERID_TEXT_MAX];
    char remote_addr[SHOAL_HOST_MAX + 32]; /* the remote socket, as a multiaddr */
    uint64_t deadline;          /* handshake deadline, loop time */
    uint64_t idle_since;        /* when the last stream ended */
    int trimmed;                /* buffers given back since then */
    shoal_open_waiter *waiters; /* streams to open once the session is up */
} shoal_session;

struct shoal_stream {
    shoal_session *sess;
    shoal_yamux_stream *ys;
    shoal_nego *nego;           /* while the protocol is being agreed */
    shoal_outbuf nego_out;
    int outbound;
    int ready;                  /* protocol agreed */
    char *protocol;             /* owned */
    shoal_stream_cbs cbs;
    void *user;
    shoal_stream_open_cb open_cb;
    void *open_user;
    int nego_err;               /* why the negotiation failed */
    int reset;                  /* reset by us: no more callbacks */
    int over;                   /* closed() runs: the stream is gone */
};

/* The node's secure side, kept in shoal_node. */
struct shoal_secure {
    shoal_identity identity;
    shoal_peerid peerid;
    char peer_id[SHOAL_PEERID_TEXT_MAX];
    shoal_link sessions;
    size_t nsessions;           /* in sessions */
    char *protocol_ids[SHOAL_PROTOCOLS_MAX];
    shoal_protocol_cb protocol_cbs[SHOAL_PROTOCOLS_MAX];
    void *protocol_users[SHOAL_PROTOCOLS_MAX];
    size_t protocol_count;
};

/* What a dialable multiaddr says: where, and optionally who. */
typedef struct shoal_dial_target {
    char host[SHOAL_HOST_MAX];
    int family;                /* AF_INET, AF_INET6, AF_UNSPEC */
    int resolve;               /* host is a name (dns, dns4, dns6) */
    uint16_t port;
    int has_peer;
    shoal_peerid peer;
} shoal_dial_target;

/* session.c */
int shoal_session_parse_target(const char *addr, shoal_dial_target *t);
int shoal_session_dial(shoal_node *node, const shoal_dial_target *t,
                       shoal_session **out);
shoal_session *shoal_session_find(shoal_node *node, const shoal_peerid *peer);
void shoal_session_close(shoal_session *s, int status, const char *reason);
/* Pushes pending output to the socket and re-arms the deadlines: call after
 * writing to a stream outside a session callback. */
void shoal_session_kick(shoal_session *s);
void shoal_session_stream_ended(shoal_session *s);
void shoal_secure_on_connection(uv_stream_t *listener, int status);

/* stream.c */
extern const shoal_yamux_callbacks shoal_stream_yamux_cbs;
void shoal_stream_session_open(shoal_session *s);
void shoal_stream_fail_waiters(shoal_session *s, int status);
/* shoal_stream_open, refusals logged as "<caller>_refused" (the public
 * entry point the caller came through: "request", "stream_open"). */
int shoal_stream_open_as(shoal_node *node, const char *addr,
                         const char *protocol_id, shoal_stream_open_cb cb,
                         void *user, const char *caller);
int shoal_secure_init(shoal_node *node, const char *key_file);

/* identify.c: the Identify message, decoded without a network, so that it
 * can be tested and fuzzed on its own. */
typedef struct Shoal__Pb__Identify Shoal__Pb__Identify;
typedef struct shoal_identify_decoded {
    shoal_identify_info info;  /* points into the members below */
    Shoal__Pb__Identify *msg;
    char **addrs;
    char *observed;
} shoal_identify_decoded;

/* Decodes a varint-length-prefixed Identify message filling all of buf.
 * When it carries a public key, that key's peer id must be expect (unless
 * expect is NULL). Returns 0 (free d with shoal_identify_decoded_free()),
 * SHOAL_EPROTO or SHOAL_ENOMEM. */
int shoal_identify_decode(const uint8_t *buf, size_t len,
                          const shoal_peerid *expect,
                          shoal_identify_decoded *d);
void shoal_identify_decoded_free(shoal_identify_decoded *d);
/* Tells every connected peer our protocols changed (/ipfs/id/push/1.0.0). */
void shoal_identify_push_all(shoal_node *node);

/* msgproto.c: typed messages on streams */
int shoal_msgproto_serve(shoal_node *node);
int shoal_msgproto_request(shoal_node *node, const char *addr,
                           const char *type, void *data, size_t len,
                           void *into, size_t into_cap, uint32_t timeout_ms,
                           shoal_reply_cb on_reply, shoal_end_cb on_end,
                           void *user);
void shoal_secure_stop(shoal_node *node);
void shoal_secure_free(shoal_node *node);

#endif
