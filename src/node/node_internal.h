/* What the node's files share. Not installed; services use shoal.h only. */
#ifndef SHOAL_NODE_INTERNAL_H
#define SHOAL_NODE_INTERNAL_H

#include <stdint.h>

#include "core/frame.h"
#include "core/log.h"
#include "node/peers.h"
#include "node/thread.h"
#include "shoal.h"

typedef struct shoal_handler {
    char type[5];
    shoal_handler_cb cb;
    void *user;
} shoal_handler;

#define SHOAL_LISTEN_MAX 8

/* One listening socket, and the host and port peers reach it at. */
typedef struct shoal_listener {
    uv_tcp_t tcp;           /* tcp.data is the node */
    char host[SHOAL_HOST_MAX];
    int port;
} shoal_listener;

typedef struct shoal_posted {
    shoal_post_cb fn;
    void *user;
    struct shoal_posted *next;
} shoal_posted;

/* Intrusive list link: connections and timers hang off the node. */
typedef struct shoal_link {
    struct shoal_link *prev, *next;
} shoal_link;

struct shoal_timer {
    uv_timer_t handle;
    shoal_link link;
    shoal_node *node;
    shoal_timer_cb cb;
    void *user;
};

typedef struct shoal_conn shoal_conn;
typedef struct shoal_msgserve shoal_msgserve; /* node/msgproto.c */
typedef struct shoal_secure shoal_secure; /* node/session.h */

struct shoal_req {
    shoal_conn *conn;       /* classic: NULL once the connection is gone */
    shoal_msgserve *ms;     /* secure: NULL once the stream is gone */
    shoal_node *node;
    shoal_link link;        /* in node->held while held */
    char remote[SHOAL_HOST_MAX + 32]; /* filled when the request arrives */
    char peer[128];         /* secure: the Noise-proven id; classic: "" */
    int held;
    int done;
    int in_handler;
};

typedef struct shoal_outreq shoal_outreq;

/* One TCP connection, inbound (serving one request) or outbound (making
 * one). Two handles, tcp and timer; freed when both have closed. */
struct shoal_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;       /* the one deadline timer: see conn_arm() */
    shoal_link link;
    shoal_node *node;
    shoal_frame_reader reader;
    uint64_t last_progress; /* loop time of the last byte moved */
    uint64_t deadline;      /* loop time the whole exchange must end by */
    size_t pending_out;     /* bytes queued for writing */
    size_t last_queue;      /* write queue size at the last timer check */
    unsigned writes;        /* uv_write requests in flight */
    unsigned handles;       /* open handles, 0..2 */
    unsigned char closing;
    unsigned char reading;  /* waiting for bytes we need */
    unsigned char finishing; /* close once writes drain */
    unsigned char outbound;
    shoal_req *req;         /* inbound: the request being served */
    shoal_outreq *out;      /* outbound: the request being made */
};

struct shoal_node {
    uv_loop_t *loop;
    uv_loop_t own_loop;
    int owns_loop;

    shoal_config cfg;       /* strings below are our copies */
    char id[SHOAL_ID_MAX];
    char host[SHOAL_HOST_MAX];
    int port;
    shoal_logger log;

    shoal_listener *listeners[SHOAL_LISTEN_MAX]; /* [0] is the primary */
    size_t nlisteners;
    int listening;
    uv_async_t async;
    uv_signal_t sigint, sigterm;
    int signals_on;
    int running;            /* inside shoal_node_run() */
    uv_prepare_t prepare;   /* records the loop's thread: node/thread.c */
    uv_thread_t loop_thread; /* atomic: the thread running the loop */
    int loop_running;       /* atomic: loop_thread is running the loop */
    int wrong_thread_logged; /* atomic */

    uv_mutex_t post_lock;
    shoal_posted *posted;   /* guarded by post_lock */
    int stop_requested;     /* guarded by post_lock */
    int posts_closed;       /* guarded by post_lock: stopped, posts refused */

    int stopped;
    int closing;
    unsigned handles;       /* node-level handles still open */
    shoal_close_cb close_cb;
    void *close_user;

    /* shoal_node_drain(): nothing new starts; the close follows once
     * nothing is in flight, or at the deadline. */
    int draining;
    uv_timer_t drain_timer;
    shoal_close_cb drain_cb;
    void *drain_user;
    size_t msg_inflight;    /* secure requests made and served, not ended */

    shoal_handler *handlers;
    size_t handler_count;

    shoal_peertable peers;
    struct {
        shoal_peer_event_cb cb;
        void *user;
    } peer_obs[8];          /* shoal_peer_events_add() */
    size_t npeer_obs;
    shoal_router_cb router;
    void *router_user;

    shoal_link conns;       /* every open shoal_conn */
    shoal_link timers;
    shoal_link held;        /* requests held by handlers */
    shoal_stats stats;
    size_t input_bytes;     /* payload buffers of all readers, in bytes */

    uint8_t scratch[4096];  /* where unwanted bytes are read to */
    shoal_secure *secure;   /* NULL for a classic node */
    /* Every secure read lands here first: room for several whole Noise
     * frames, so that most are decrypted where they lie rather than
     * gathered (a 64 KiB read would split nearly every 64 KiB frame). */
    uint8_t secure_read[256 * 1024];
};

void shoal_link_init(shoal_link *head);
void shoal_link_add(shoal_link *head, shoal_link *item);
void shoal_link_del(shoal_link *item);
#define SHOAL_CONTAINER(ptr, type, member)                                \
    ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* node.c */
/* Where to reach a known peer: "HOST:PORT" on a classic node, a multiaddr
 * ending in /p2p/<id> on a secure one. */
int shoal_node_peer_addr(const shoal_node *node, const shoal_peer *p,
                         char *out, size_t size);
/* Tells every peer-event observer (shoal_peer_events_add). */
void shoal_node_peer_event(shoal_node *node, int kind, const char *id,
                           const char *addr, int outbound, int status);
const shoal_handler *shoal_node_handler(const shoal_node *node,
                                        const char *type);
void shoal_node_handle_closed(uv_handle_t *h);
/* SHOAL_ECANCELED once the node is stopping or closing (nothing new may
 * start on it), else 0. */
int shoal_node_ending(const shoal_node *node);
/* The same, and also while the node drains: no new requests or streams. */
int shoal_node_refusing(const shoal_node *node);
/* Something in flight ended: a draining node closes once nothing is. */
void shoal_node_drain_check(shoal_node *node);

/* thread.c: the loop's thread is the calling one; running 0 when the
 * loop has stopped (shoal_node_run returned) */
void shoal_node_thread_set(shoal_node *node, int running);

/* conn.c: shared connection machinery */
int shoal_conn_init(shoal_node *node, shoal_conn *c);
void shoal_conn_progress(shoal_conn *c);
void shoal_conn_arm(shoal_conn *c);
/* Closes a connection, logging reason when it is a drop. */
void shoal_conn_close(shoal_conn *c, int status, const char *reason);
int shoal_conn_write(shoal_conn *c, const char *type, const void *data,
                     size_t len);
void shoal_conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
/* Releases the reader's payload buffer and its share of the input budget.
 * Returns the buffer to the caller instead when keep is set. */
uint8_t *shoal_conn_release_input(shoal_conn *c, int keep);
/* After a complete message: the reader moves on, the budget follows. */
void shoal_conn_next_message(shoal_conn *c);
void shoal_sockaddr_format(const struct sockaddr *sa, char *out, size_t size);

/* server.c */
/* Over the connection limit: accepts the connection and closes it at once
 * (so the backlog does not fill), counted and logged. Both wires use it. */
void shoal_reject_connection(shoal_node *node, uv_stream_t *listener);
/* Runs handler h for req (classic or secure alike), and finishes req when
 * the handler returns unless it was held. */
void shoal_req_run(shoal_req *req, const shoal_handler *h,
                   const shoal_msg *msg);

/* msgproto.c: the secure side of a request */
int shoal_msgserve_reply(shoal_msgserve *ms, const char *type,
                         const void *data, size_t len);
void shoal_msgserve_finish(shoal_msgserve *ms);

void shoal_server_on_connection(uv_stream_t *listener, int status);
void shoal_server_conn_closed(shoal_conn *c, int status);
void shoal_server_free_held(shoal_node *node);

/* What a node says before closing on a request it will not read: one ERRO
 * reply whose text starts with one of these. A classic peer sees a plain
 * ERRO; a shoal requester ends the request with the code it names. */
#define SHOAL_REFUSED_SIZE "Message too large:"  /* SHOAL_EMSGSIZE */
#define SHOAL_REFUSED_WIRE "Wrong wire:"         /* SHOAL_EWRONGWIRE */
/* How multistream-select starts ("\x13/multistream/1.0.0\n"): a secure
 * peer's dial, or its answer, read as a classic frame header. */
#define SHOAL_MSS_START "\x13/mu"

/* client.c */
/* SHOAL_EMSGSIZE or SHOAL_EWRONGWIRE when reply is such a refusal, else 0. */
int shoal_refusal_status(const shoal_msg *reply);
void shoal_client_conn_closed(shoal_conn *c, int status);
void shoal_client_conn_free(shoal_conn *c);

#endif
