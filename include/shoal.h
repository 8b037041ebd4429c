/*
 * shoal: a peer-to-peer networking library.
 *
 * One header, in sections: errors, logging, configuration, node, messages
 * and requests, known peers and routing, timers, services.
 *
 * Threads: every function runs on the node's loop thread unless its comment
 * says "any thread". Handlers and callbacks always run on the loop thread and
 * must not block. The rule is checked: while the loop runs, a loop-only
 * function called from another thread does nothing and returns SHOAL_EBUSY
 * (NULL, 0 or "" where it returns no error code; a function returning
 * nothing just returns), and the node logs "wrong_thread fn=NAME" once.
 * Hand work to the loop with shoal_post(). The loop's thread is the one
 * inside shoal_node_run() for a node with a loop of its own (before it
 * runs and after it returns, any one thread may call the node: set it up,
 * free it), and the one that last ran the loop for a node on an
 * application's loop, which therefore belongs to that thread for good.
 *
 * Ownership: the caller owns what it allocates; data handed to a callback is
 * borrowed for the duration of that callback; objects the library creates are
 * released with the matching close/free call named in their comment.
 */
#ifndef SHOAL_H
#define SHOAL_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SHOAL_VERSION_MAJOR 0
#define SHOAL_VERSION_MINOR 1
#define SHOAL_VERSION_PATCH 0

/* Marks the public API: the library is built with hidden visibility, so
 * that only these names are exported from libshoal.so. */
#if defined(__GNUC__) && __GNUC__ >= 4
#define SHOAL_EXTERN __attribute__((visibility("default")))
#else
#define SHOAL_EXTERN
#endif

/* ------------------------------------------------------------------ errors
 * Functions return 0 or a negative code. System-level failures are libuv's
 * own codes (UV_ECONNREFUSED, UV_ENOMEM, ...), passed through unchanged; the
 * SHOAL_E* names below either alias those or are shoal's own (-30000 and
 * below), so one shoal_strerror() names them all.
 */
#define SHOAL_EINVAL        UV_EINVAL        /* bad argument */
#define SHOAL_ENOMEM        UV_ENOMEM        /* out of memory */
#define SHOAL_ETIMEDOUT     UV_ETIMEDOUT     /* a deadline passed */
#define SHOAL_ECANCELED     UV_ECANCELED     /* the node stopped first */
#define SHOAL_ECONNREFUSED  UV_ECONNREFUSED  /* nobody listening there */
#define SHOAL_EEXIST        UV_EEXIST        /* already present */
#define SHOAL_ENOENT        UV_ENOENT        /* no such peer / entry */
#define SHOAL_EMSGSIZE      UV_EMSGSIZE      /* message larger than allowed */
#define SHOAL_EPROTO        UV_EPROTO        /* the remote broke the protocol */
#define SHOAL_ENOBUFS       UV_ENOBUFS       /* too much output pending */
#define SHOAL_EFULL         (-30001)         /* peer table is full */
#define SHOAL_ENOROUTE      (-30002)         /* the router knows no next hop */
#define SHOAL_EBADADDR      (-30003)         /* address cannot be parsed */
#define SHOAL_ECLOSED       (-30004)         /* the connection is gone */
#define SHOAL_EBUSY         (-30005)         /* wrong state or wrong thread */
/* The remote proved (Noise) a peer id other than the /p2p/ID dialed. */
#define SHOAL_EPEERID       (-30006)
/* The remote speaks the other wire: a classic request ("HOST:PORT") met a
 * secure node, or a secure dial (a multiaddr) met a classic one. */
#define SHOAL_EWRONGWIRE    (-30007)
/* The address is this node's own (its peer id, or its listening socket). */
#define SHOAL_ESELF         (-30008)

/* What an error code means, for humans ("deadline passed"). Never NULL:
 * "unknown error" for a code that is neither shoal's nor libuv's. The
 * string is static. Any thread. */
SHOAL_EXTERN
const char *shoal_strerror(int err);

/* The name of an error code, for logs and programs: the macro a program
 * writes for it. Codes shoal.h names are given that name, aliases of
 * libuv's included ("SHOAL_ECONNREFUSED" for UV_ECONNREFUSED,
 * "SHOAL_EPEERID"); other libuv codes are given libuv's macro
 * ("UV_ECONNRESET", "UV_EOF"). 0 is "0"; any other code is "UNKNOWN".
 * Never NULL; the string is static. Any thread. */
SHOAL_EXTERN
const char *shoal_err_name(int err);

/* ----------------------------------------------------------------- logging
 * One line per event, "event key=value ...". The default sink is stderr.
 */
enum shoal_log_level {
    SHOAL_LOG_ERROR = 0,
    SHOAL_LOG_WARN = 1,
    SHOAL_LOG_INFO = 2,
    SHOAL_LOG_DEBUG = 3,
};

/* Receives each log line (no trailing newline), borrowed for the call. */
typedef void (*shoal_log_cb)(int level, const char *line, void *user);

/* Name of a log level ("error", "warn", "info", "debug"). Any thread. */
SHOAL_EXTERN
const char *shoal_log_level_name(int level);

typedef struct shoal_node shoal_node;

/* Logs one "event key=value ..." line through the node's sink, as the
 * node's own lines are (for services and applications). Dropped above the
 * node's log_level. Any thread: the sink then runs on the calling thread. */
SHOAL_EXTERN
void shoal_log(shoal_node *node, int level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* shoal_log for a line a remote peer can cause once per event (a refusal,
 * a drop, bad input): lines of one cause, named by key (e.g.
 * "myservice_bad_request"; NULL: not limited), go out at most once per the
 * node's log_interval_ms, and one that goes out after some were held back
 * ends with " suppressed=N", their count. Lines dropped by level are not
 * counted. On the loop's thread; from another thread the line is not
 * limited. */
SHOAL_EXTERN
void shoal_log_limited(shoal_node *node, int level, const char *key,
                       const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* ----------------------------------------------------------- configuration
 * Every configuration struct of the library (shoal_config below, and those
 * of the services in include/shoal/) follows one rule, so that it can grow
 * without breaking programs built against an older header:
 *  - its first member is `size_t size`, the struct's size as the program
 *    was compiled; new fields are only ever added at the end;
 *  - its *_config_init(cfg) is a macro that passes sizeof(*cfg) to the
 *    library, which fills that many bytes with defaults and sets size (an
 *    older program's smaller struct is never written past its end);
 *  - the *_new function that takes it reads only size bytes of it, over
 *    its own defaults: fields the program's header did not have keep
 *    their defaults. NULL instead of a struct means all the defaults.
 * So fill a config with its *_config_init, then set fields. A size of 0
 * (a zeroed struct that never went through init) is refused with
 * SHOAL_EINVAL and a WARN line naming the struct, as is a struct larger
 * than the library's with any of the extra fields set (a program built
 * against a newer header, running on an older library). The struct is
 * copied by *_new: the program may reuse or drop it on return.
 */
typedef struct shoal_config {
    size_t size;                /* set by shoal_config_init: leave it */

    /* Where to listen: "HOST:PORT" or "/ip4/HOST/tcp/PORT" ("/ip6/..."). Port
     * 0 picks a free one. NULL: do not listen (a client-only node). */
    const char *listen;
    /* Host other peers should use to reach us. NULL: the listen host, or
     * 127.0.0.1 when listening on a wildcard address. */
    const char *advertise_host;
    /* This node's id. NULL: "HOST:PORT" of the advertised address. */
    const char *id;

    size_t max_peers;           /* known-peer table size; 0 = unlimited */
    size_t max_message;         /* largest payload accepted, bytes */
    size_t max_connections;     /* concurrent inbound + outbound */
    size_t max_pending_output;  /* queued reply bytes per connection */
    size_t max_input_total;     /* message bytes buffered, all connections */

    uint32_t connect_timeout_ms; /* an outbound connect must finish by then */
    uint32_t io_timeout_ms;      /* a read or write must progress by then */
    uint32_t request_timeout_ms; /* a handler must finish its request by then */

    int log_level;              /* lines above this level are dropped */
    shoal_log_cb log_cb;        /* NULL: stderr */
    void *log_user;

    int handle_signals;         /* shoal_node_run stops on SIGINT/SIGTERM */

    /* Secure mode (libp2p: multistream-select, Noise, yamux). */
    int classic;                /* 1: listen on the classic wire instead */
    const char *key_file;       /* identity key, created (0600) if missing;
                                 * NULL: a new key for every run */
    uint32_t handshake_timeout_ms; /* TCP connect to yamux, at most */
    uint32_t idle_timeout_ms;   /* a connection without streams closes */
    size_t max_streams;         /* per connection, both directions */
    size_t max_stream_buffer;   /* bytes a stream queues beyond the window */
    size_t conn_high_water;     /* above this many secure connections, */
    size_t conn_low_water;      /* idle ones close, down to this many */

    /* A line a remote peer can cause once per event (a refused connection,
     * a drop, bad input) is written at most once per this many ms per
     * cause, with "suppressed=N" telling how many were held back since the
     * last. 0: every line. */
    uint32_t log_interval_ms;
} shoal_config;

/* shoal_config_init(cfg), a macro (the rule above), fills cfg with safe
 * defaults and sets its size: no listen address, 128 peers, 16 MiB
 * messages, 1024 connections, 64 MiB pending output per connection, 256 MiB
 * of buffered input in all, 5 s connect, 10 s io, 60 s request deadlines,
 * info logging to stderr, signals handled; secure mode with an ephemeral
 * key, 10 s handshakes, 120 s idle connections, 256 streams per
 * connection, 1 MiB queued per stream, idle connections trimmed from 768
 * down to 512, lines a peer can cause limited to one a second per cause.
 * shoal_config_init_size is what it calls, with size the program's
 * sizeof(shoal_config); call the macro. Any thread. */
SHOAL_EXTERN
void shoal_config_init_size(shoal_config *cfg, size_t size);
#define shoal_config_init(cfg) shoal_config_init_size((cfg), sizeof(*(cfg)))

/* Checks the key file at path (cfg->key_file) as shoal_node_new() would
 * load it, and says what is wrong with it, for a program's message: 0 when
 * it holds a usable key or is not there yet in an existing folder (the node
 * creates it); else the code shoal_node_new() fails with, and why (when not
 * NULL; size bytes) gets a reason such as "not a shoal key (bad length: 12
 * bytes, a key file has 68)", "can be read by others (mode 0644): refusing
 * it (chmod 600 it)" or "cannot open it (Permission denied)". Reads the
 * file; keeps nothing. Any thread. */
SHOAL_EXTERN
int shoal_key_file_check(const char *path, char *why, size_t size);

/* -------------------------------------------------------------------- node */

/* Creates a node and, when cfg->listen is set, binds and listens at once so
 * that the real port is known on return. loop: the libuv loop to run on, or
 * NULL for a loop of the node's own. cfg: filled by shoal_config_init (a
 * size of 0 is refused: see "configuration"), or NULL for the defaults.
 * The config and its strings are copied.
 * On success *out owns the node: release it with shoal_node_free() or
 * shoal_node_close(). */
SHOAL_EXTERN
int shoal_node_new(shoal_node **out, uv_loop_t *loop, const shoal_config *cfg);

/* Runs the node's loop until the node stops: shoal_node_stop(),
 * SIGINT/SIGTERM when handle_signals is set, shoal_node_close(), or the
 * end of shoal_node_drain(). On return every connection is closed and
 * every request ended. It returns then even when the application keeps
 * handles of its own on the loop (shoal_node_loop()): it stops the loop
 * with uv_stop() once the node's closes are issued, and the application's
 * handles stay open. Whoever owns such handles closes them (uv_close)
 * before shoal_node_free(), which runs the loop until every handle on it
 * has closed and would otherwise not return. Returns 0, SHOAL_EBUSY when
 * the node is closing or already running, or an error if the node cannot
 * run. On the loop's thread, while nothing else runs that loop. */
SHOAL_EXTERN
int shoal_node_run(shoal_node *node);

/* Asks the node to stop: closes the listeners and every connection, ends
 * outstanding requests with SHOAL_ECANCELED, stops timers. From then on,
 * calls that would start work on the node (shoal_request*,
 * shoal_stream_open, shoal_timer_start, shoal_handle, shoal_post, ...)
 * return SHOAL_ECANCELED, until it is freed. It takes effect on the loop
 * thread, the next time the loop runs. Any thread. */
SHOAL_EXTERN
void shoal_node_stop(shoal_node *node);

typedef void (*shoal_close_cb)(shoal_node *node, void *user);

/* Stops the node and releases it. cb (may be NULL) runs on the loop once
 * every handle of the node has closed; the node must not be used in it.
 * A node on an application's loop is freed when cb returns; a node with
 * its own loop is freed by shoal_node_free(), which must still be called
 * (and runs the loop to the end of the close, cb included). Calling this
 * again before cb has run does nothing more (the first cb stands), and so
 * does shoal_node_free() on a node of an application's loop. Once cb has
 * returned the node is gone: calling this, or anything else, on it then is
 * a use of freed memory that the library cannot detect. Held requests
 * (shoal_req_hold) live until cb, then go with the node. Loop thread; a
 * handler or a callback of the node may call it. */
SHOAL_EXTERN
void shoal_node_close(shoal_node *node, shoal_close_cb cb, void *user);

/* Closes the node after what is in flight: so that the last message before
 * a clean exit is not lost. At once the node stops accepting connections,
 * streams and requests (the listeners close; shoal_request*,
 * shoal_stream_open and inbound streams are refused with SHOAL_ECANCELED),
 * and it lets requests it made, requests it serves (held ones too: reply
 * and end them as usual) and their queued output finish. When nothing is
 * left, or after timeout_ms, it closes as by shoal_node_close(node, cb,
 * user): what is still going then ends with SHOAL_ECANCELED. Streams of
 * other protocols do not hold the drain up; they end at the close. On a
 * node run by shoal_node_run(), that returns once the drain is over; free
 * the node then with shoal_node_free(). To drain from another thread, post
 * a function that calls this (shoal_post). shoal_node_close() during the
 * drain closes at once, with its own cb instead. Returns 0, SHOAL_EBUSY if
 * the node is draining already, SHOAL_ECANCELED if it has stopped. Loop
 * thread. */
SHOAL_EXTERN
int shoal_node_drain(shoal_node *node, uint32_t timeout_ms, shoal_close_cb cb,
                     void *user);

/* Stops the node if needed and frees it. A node with its own loop is freed
 * before this returns, loop included; call it when the loop is not running
 * (after shoal_node_run() returns), once the application has closed any
 * handles of its own on that loop. A node on an application's loop is
 * freed as by shoal_node_close(node, NULL, NULL) (nothing more if it is
 * closing already). Not twice, and not after the close callback: the node
 * is gone then. */
SHOAL_EXTERN
void shoal_node_free(shoal_node *node);

/* This node's id, e.g. "127.0.0.1:9000". Borrowed; lives with the node.
 * These four, shoal_node_addr and shoal_node_peer_id are any thread: what
 * they read is set once, by shoal_node_new. */
SHOAL_EXTERN
const char *shoal_node_id(const shoal_node *node);
/* Advertised host, and the port the node listens on (0 if it does not). */
SHOAL_EXTERN
const char *shoal_node_host(const shoal_node *node);
SHOAL_EXTERN
int shoal_node_port(const shoal_node *node);
/* Listens on one more address (as cfg->listen; at most 8 in all). */
SHOAL_EXTERN
int shoal_node_listen(shoal_node *node, const char *addr);

/* The address peers reach this node at, written to out: in secure mode a
 * multiaddr "/ip4/HOST/tcp/PORT/p2p/ID", in classic mode "HOST:PORT".
 * shoal_node_addr is the primary one (cfg->listen; any thread, and still
 * given after the node stopped); listen_addr gives each listening address
 * by index. Return 0, SHOAL_ENOENT when there is no such
 * address, SHOAL_EINVAL when out is too small. */
SHOAL_EXTERN
int shoal_node_addr(const shoal_node *node, char *out, size_t size);
SHOAL_EXTERN
int shoal_node_listen_addr(const shoal_node *node, size_t index, char *out,
                           size_t size);
/* The loop the node runs on. */
SHOAL_EXTERN
uv_loop_t *shoal_node_loop(shoal_node *node);

typedef struct shoal_stats {
    size_t connections;       /* open now, inbound + outbound */
    size_t inbound;           /* open inbound connections */
    uint64_t accepted;        /* inbound connections accepted, ever */
    uint64_t rejected;        /* inbound connections refused at the limit */
    uint64_t dropped;         /* connections dropped for a deadline or bad input */
    uint64_t requests_served; /* handlers run */
} shoal_stats;

SHOAL_EXTERN
void shoal_node_stats(const shoal_node *node, shoal_stats *out);

/* Runs fn(node, user) on the loop thread soon. Any thread. Returns
 * SHOAL_ECANCELED if the node is stopping (fn will not run). */
typedef void (*shoal_post_cb)(shoal_node *node, void *user);
SHOAL_EXTERN
int shoal_post(shoal_node *node, shoal_post_cb fn, void *user);

/* ------------------------------------------------------ messages, requests
 * A message is a 4-byte type and a payload. Types are matched without
 * regard to case and are given as text of 1 to 4 characters ("PING").
 */
typedef struct shoal_msg {
    char type[5];            /* upper-cased, NUL-terminated */
    const uint8_t *data;     /* payload, borrowed */
    size_t len;
} shoal_msg;

/* An incoming request being served. It is valid during the handler, and
 * after it only when the handler called shoal_req_hold(): then until
 * shoal_req_done() or the node's end (its close callback, or
 * shoal_node_free). A request the handler did not hold is freed when the
 * handler returns, and one ended with shoal_req_done() when that returns
 * (or, inside the handler, when the handler returns): any call with it
 * after that is a use of freed memory, which the library cannot detect.
 * What it can tell, it refuses: see shoal_reply(). */
typedef struct shoal_req shoal_req;

/* Handler for one message type. It may call shoal_reply() any number of
 * times. When it returns, the request ends (replies are flushed, then the
 * connection closes) unless it called shoal_req_hold(): req is invalid
 * after the handler returns unless held. */
typedef void (*shoal_handler_cb)(shoal_req *req, const shoal_msg *msg,
                                 void *user);

/* Registers cb for type, replacing any earlier handler for it; cb NULL
 * removes it. A message of a type with no handler is closed unanswered.
 * Registering on a node that is stopping or closing returns
 * SHOAL_ECANCELED; removing is always fine. */
SHOAL_EXTERN
int shoal_handle(shoal_node *node, const char *type, shoal_handler_cb cb,
                 void *user);

/* Sends one reply. Data is copied. Returns SHOAL_ECLOSED if the requester is
 * gone (its connection or stream closed, or a deadline ended it) or the
 * request was ended already by shoal_req_done() inside the handler,
 * SHOAL_ECANCELED if the node is stopping or closing (a held request stays
 * valid until the node's end), SHOAL_ENOBUFS if max_pending_output bytes
 * are already queued. */
SHOAL_EXTERN
int shoal_reply(shoal_req *req, const char *type, const void *data,
                size_t len);
/* The same, with printf-style text as the payload. */
SHOAL_EXTERN
int shoal_replyf(shoal_req *req, const char *type, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Keeps the request open after the handler returns, to reply later; end it
 * with shoal_req_done(). On a classic node the request deadline
 * (request_timeout_ms) closes its connection; the request itself stays
 * until shoal_req_done() (replies are then refused with SHOAL_ECLOSED).
 * Every held request must be ended with shoal_req_done(), unless the node
 * goes first: then it goes with the node. */
SHOAL_EXTERN
void shoal_req_hold(shoal_req *req);
/* Ends a request: flushes replies and closes. In the handler, it ends when
 * the handler returns (replies after this are refused, a second call does
 * nothing); after the handler (held), req is gone when this returns. Fine
 * on a request whose requester left or whose node is closing. */
SHOAL_EXTERN
void shoal_req_done(shoal_req *req);

/* The node serving req. */
SHOAL_EXTERN
shoal_node *shoal_req_node(const shoal_req *req);
/* Where the request came from: the remote end of its socket as the
 * operating system reports it, taken when the request arrived. Classic:
 * "HOST:PORT" ("[HOST]:PORT" for IPv6), e.g. "127.0.0.1:53412". Secure:
 * the connection's remote end as a multiaddr, "/ip4/HOST/tcp/PORT" or
 * "/ip6/...", without /p2p. For a connection the requester dialed the
 * port is an ephemeral one, not an address to dial back. Behind a relay or
 * NAT it is the last hop's address. Never NULL; borrowed, lives with req. */
SHOAL_EXTERN
const char *shoal_req_remote(const shoal_req *req);
/* The requester's peer id ("12D3KooW..."), proved by the Noise handshake
 * of its connection: a handler can authorize on it without trusting the
 * payload. NULL on a classic node (its wire proves no identity). Borrowed,
 * lives with req. */
SHOAL_EXTERN
const char *shoal_req_peer(const shoal_req *req);

/* Client side: each reply, borrowed for the call. */
typedef void (*shoal_reply_cb)(const shoal_msg *reply, void *user);
/* Then exactly once: 0 when the remote closed after its replies, or
 * SHOAL_ETIMEDOUT, SHOAL_ECONNREFUSED, SHOAL_EPROTO, SHOAL_EMSGSIZE (a
 * reply over our max_message, or our payload over the remote's: a node
 * refuses such a request unread with one ERRO reply, "Message too large:
 * N bytes, the limit is M", which on_reply sees first, on either wire),
 * SHOAL_EWRONGWIRE (the remote speaks the other wire),
 * SHOAL_EPEERID (a /p2p/ID that is not who answered), SHOAL_ESELF (this
 * node's own listening socket, in secure mode), SHOAL_ECANCELED, another
 * libuv error. */
typedef void (*shoal_end_cb)(int status, void *user);

/* Sends a message to addr ("HOST:PORT" or "/ip4/HOST/tcp/PORT"), one
 * request per connection, and reports every reply, then the end. timeout_ms
 * bounds the whole request (0: the node's request_timeout_ms). If this
 * returns an error, no callback runs: SHOAL_EBADADDR, SHOAL_EINVAL,
 * SHOAL_EMSGSIZE, SHOAL_ESELF for an argument refused, said on a WARN line
 * naming it and what is wrong ("request_refused addr=... why=\"port out of
 * range\""); SHOAL_ENOBUFS at max_connections; SHOAL_ECANCELED when the
 * node is stopping. */
SHOAL_EXTERN
int shoal_request(shoal_node *node, const char *addr, const char *type,
                  const void *data, size_t len, uint32_t timeout_ms,
                  shoal_reply_cb on_reply, shoal_end_cb on_end, void *user);

/* The same without a copy, for large payloads: data must come from malloc()
 * and belongs to shoal from this call on (freed once sent, or at once when
 * an error is returned). */
SHOAL_EXTERN
int shoal_request_owned(shoal_node *node, const char *addr, const char *type,
                        void *data, size_t len, uint32_t timeout_ms,
                        shoal_reply_cb on_reply, shoal_end_cb on_end,
                        void *user);

/* The same as shoal_request, with a place for the reply: the first reply
 * whose payload is 1 to cap bytes is read straight into buf, and on_reply
 * sees reply->data == buf. For large replies of a size known in advance (a
 * file chunk), this saves copying each out of a borrowed payload. Other
 * replies are delivered as by shoal_request. buf must stay valid, and be
 * left alone, until on_end. SHOAL_EINVAL without a buf. */
SHOAL_EXTERN
int shoal_request_into(shoal_node *node, const char *addr, const char *type,
                       const void *data, size_t len, void *buf, size_t cap,
                       uint32_t timeout_ms, shoal_reply_cb on_reply,
                       shoal_end_cb on_end, void *user);

/* The same as shoal_request, addressed to a peer id: the router picks the
 * next hop. Returns
 * SHOAL_ENOROUTE if it has none. */
SHOAL_EXTERN
int shoal_request_peer(shoal_node *node, const char *peer_id,
                       const char *type, const void *data, size_t len,
                       uint32_t timeout_ms, shoal_reply_cb on_reply,
                       shoal_end_cb on_end, void *user);

/* Replies collected by shoal_request_sync(). */
typedef struct shoal_replies {
    size_t count;
    shoal_msg *msgs;         /* owned; free with shoal_replies_free() */
} shoal_replies;

/* Blocking request for programs that want "send and wait". Any thread but
 * the loop's, while the loop runs. Fills *out with every reply (also when the
 * end status is an error) and returns the end status. */
SHOAL_EXTERN
int shoal_request_sync(shoal_node *node, const char *addr, const char *type,
                       const void *data, size_t len, uint32_t timeout_ms,
                       shoal_replies *out);
SHOAL_EXTERN
void shoal_replies_free(shoal_replies *replies);

/* ------------------------------------------------- known peers and routing
 * The table of peers this node knows, in insertion order. Pointers returned
 * are borrowed and valid until the table next changes.
 */
#define SHOAL_ID_MAX 256
#define SHOAL_HOST_MAX 256

typedef struct shoal_peer {
    char id[SHOAL_ID_MAX];
    char host[SHOAL_HOST_MAX];
    uint16_t port;
} shoal_peer;

/* Adds a peer. SHOAL_EFULL when max_peers are known, SHOAL_EEXIST when the
 * id is already there, SHOAL_EINVAL for an empty or overlong id or host. */
SHOAL_EXTERN
int shoal_peer_add(shoal_node *node, const char *id, const char *host,
                   uint16_t port);
/* Removes a peer; SHOAL_ENOENT if unknown. */
SHOAL_EXTERN
int shoal_peer_remove(shoal_node *node, const char *id);
/* Looks up by id or by position (0 .. count-1); NULL if none. */
SHOAL_EXTERN
const shoal_peer *shoal_peer_get(const shoal_node *node, const char *id);
SHOAL_EXTERN
const shoal_peer *shoal_peer_at(const shoal_node *node, size_t index);
SHOAL_EXTERN
size_t shoal_peer_count(const shoal_node *node);
/* True when the table holds max_peers peers. */
SHOAL_EXTERN
int shoal_peers_full(const shoal_node *node);

/* Peer events, for observers such as a peer store (include/shoal/
 * peerstore.h). ADDED and REMOVED follow the known-peer table (both
 * modes). CONNECTED and CONNECT_FAILED follow secure connections:
 * CONNECTED once Noise has proved the remote's id (inbound or outbound),
 * CONNECT_FAILED when a dial to a named peer (an address with /p2p/ID)
 * fails before that (refused, deadline, closed mid-handshake, another
 * id answered: status SHOAL_EPEERID). */
enum shoal_peer_event_kind {
    SHOAL_PEER_ADDED = 1,
    SHOAL_PEER_REMOVED = 2,
    SHOAL_PEER_CONNECTED = 3,
    SHOAL_PEER_CONNECT_FAILED = 4,
};

typedef struct shoal_peer_event {
    int kind;               /* enum shoal_peer_event_kind */
    const char *id;         /* the peer's id */
    /* ADDED: where it is reached ("HOST:PORT", or a multiaddr with
     * /p2p/ID); CONNECTED, CONNECT_FAILED: the socket's remote end,
     * "/ip4/HOST/tcp/PORT" (for an inbound connection an ephemeral port,
     * not an address to dial); REMOVED: "". */
    const char *addr;
    int outbound;           /* CONNECTED, CONNECT_FAILED: we dialed */
    int status;             /* CONNECT_FAILED: why */
} shoal_peer_event;

/* ev and its strings are borrowed for the call. It may run from inside a
 * connection's teardown: record what happened and return; dial or change
 * the peer table later (a timer), not from here. */
typedef void (*shoal_peer_event_cb)(shoal_node *node,
                                    const shoal_peer_event *ev, void *user);

/* Adds an observer (at most 8 per node; SHOAL_EFULL beyond), or removes
 * the one registered with the same cb and user (SHOAL_ENOENT if none).
 * Observers are told in the order they were added. Not from inside a
 * peer-event callback. */
SHOAL_EXTERN
int shoal_peer_events_add(shoal_node *node, shoal_peer_event_cb cb,
                          void *user);
SHOAL_EXTERN
int shoal_peer_events_remove(shoal_node *node, shoal_peer_event_cb cb,
                             void *user);

/* 1 when a secured connection to peer_id ("12D3KooW...") is open, else 0
 * (always 0 on a classic node, whose connections carry one request). */
SHOAL_EXTERN
int shoal_peer_connected(shoal_node *node, const char *peer_id);

/* Router: for a destination peer id, the known peer to send through, or
 * NULL for no route. The default sends straight to the peer if known. */
typedef const shoal_peer *(*shoal_router_cb)(shoal_node *node,
                                             const char *peer_id, void *user);
SHOAL_EXTERN
void shoal_set_router(shoal_node *node, shoal_router_cb cb, void *user);

/* Liveness: PINGs every known peer and removes those that cannot be reached
 * (connect refused or deadline). cb (may be NULL) gets the number removed. */
typedef void (*shoal_check_cb)(shoal_node *node, size_t removed, void *user);
SHOAL_EXTERN
int shoal_peers_check(shoal_node *node, shoal_check_cb cb, void *user);

/* ----------------------------------------------------------------- streams
 * Secure mode: a connection to a peer carries many streams, each agreed on
 * a protocol id ("/ipfs/ping/1.0.0"). Addresses are multiaddrs naming the
 * peer ("/ip4/127.0.0.1/tcp/4001/p2p/12D3KooW..."); one connection per peer
 * is opened and reused.
 */
typedef struct shoal_stream shoal_stream;

/* What a stream reports. Any member may be NULL. */
typedef struct shoal_stream_cbs {
    /* Bytes arrived, borrowed for the call. */
    void (*data)(shoal_stream *s, const uint8_t *data, size_t len,
                 void *user);
    /* The remote closed its side: no more data will come. */
    void (*eof)(shoal_stream *s, void *user);
    /* After SHOAL_ENOBUFS from shoal_stream_write(): room again. */
    void (*writable)(shoal_stream *s, void *user);
    /* The stream is over: 0 when both sides closed it, else why (reset,
     * connection lost, node stopping). Inside it, calls with s are
     * refused (write and close: SHOAL_ECLOSED; reset, set_cbs: nothing).
     * s is freed when this returns: any call with it after that is a use
     * of freed memory, which the library cannot detect. */
    void (*closed)(shoal_stream *s, int status, void *user);
} shoal_stream_cbs;

/* An inbound stream for a registered protocol: set its callbacks with
 * shoal_stream_set_cbs() before returning, or it is reset. */
typedef void (*shoal_protocol_cb)(shoal_stream *s, void *user);

/* An outbound stream is ready (status 0), or could not be had: then s is
 * NULL and status says why (SHOAL_ECONNREFUSED, SHOAL_ETIMEDOUT,
 * SHOAL_ENOENT: the peer refused the protocol, SHOAL_EPEERID: it proved
 * another id than addr's /p2p/ID, SHOAL_EWRONGWIRE: a classic node
 * answered, SHOAL_ESELF: addr is this node's own listening socket, ...). */
typedef void (*shoal_stream_open_cb)(shoal_stream *s, int status,
                                     void *user);

/* Serves protocol_id (copied) with cb; cb NULL removes it. At most 32.
 * Registering on a node that is stopping or closing returns
 * SHOAL_ECANCELED; removing is always fine. */
SHOAL_EXTERN
int shoal_protocol_handle(shoal_node *node, const char *protocol_id,
                          shoal_protocol_cb cb, void *user);

/* Opens a stream for protocol_id to the peer at addr, a multiaddr (with
 * /p2p/<id> to insist on that peer), dialing it unless a connection is
 * open. cb runs exactly once, unless this returns an error: SHOAL_EBADADDR
 * (addr is no multiaddr we dial), SHOAL_ESELF (its /p2p/ id is ours),
 * SHOAL_EINVAL (no cb, a protocol id empty or too long, a classic node),
 * each said on a WARN line naming the argument and what is wrong with it
 * ("stream_open_refused addr=... why=..."), or SHOAL_ECANCELED when the
 * node is stopping, closing or draining. */
SHOAL_EXTERN
int shoal_stream_open(shoal_node *node, const char *addr,
                      const char *protocol_id, shoal_stream_open_cb cb,
                      void *user);

SHOAL_EXTERN
void shoal_stream_set_cbs(shoal_stream *s, const shoal_stream_cbs *cbs,
                          void *user);

/* Queues data (copied), all or nothing: SHOAL_ENOBUFS when it does not fit,
 * and then writable() follows when there is room again; SHOAL_ECLOSED after
 * close or reset, and inside closed(). */
SHOAL_EXTERN
int shoal_stream_write(shoal_stream *s, const void *data, size_t len);
/* Bytes a write would take now. */
SHOAL_EXTERN
size_t shoal_stream_write_space(const shoal_stream *s);
/* Half close: queued bytes go out, then the end of our side. */
SHOAL_EXTERN
int shoal_stream_close(shoal_stream *s);
/* Abandons the stream at once; closed() follows with SHOAL_ECANCELED. */
SHOAL_EXTERN
void shoal_stream_reset(shoal_stream *s);

/* The agreed protocol id, and the remote's peer id, borrowed. */
SHOAL_EXTERN
const char *shoal_stream_protocol(const shoal_stream *s);
SHOAL_EXTERN
const char *shoal_stream_peer(const shoal_stream *s);
/* The remote's address, "/ip4/.../tcp/..." as seen from here. */
SHOAL_EXTERN
const char *shoal_stream_remote_addr(const shoal_stream *s);

/* Closes every connection to the peer (a peer id, "12D3KooW..."); its open
 * streams end with SHOAL_ECLOSED. Returns SHOAL_ENOENT when there is none. */
SHOAL_EXTERN
int shoal_disconnect(shoal_node *node, const char *peer_id);

/* Multiaddrs and peer ids, text and binary (network-free, any thread).
 * A multiaddr: "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooW..." <-> its binary
 * form (uvarint code, value)+. A peer id: "12D3KooW..." (base58btc; CIDv1
 * "bafz..." is accepted too) <-> its binary multihash. The to_bytes
 * functions return the byte count, the to_text ones the text length;
 * SHOAL_EBADADDR for malformed input, SHOAL_EINVAL when out is too small. */
SHOAL_EXTERN
int shoal_multiaddr_to_bytes(const char *text, uint8_t *out, size_t size);
SHOAL_EXTERN
int shoal_multiaddr_to_text(const uint8_t *bytes, size_t len, char *out,
                            size_t size);
SHOAL_EXTERN
int shoal_peer_id_to_bytes(const char *text, uint8_t *out, size_t size);
SHOAL_EXTERN
int shoal_peer_id_to_text(const uint8_t *bytes, size_t len, char *out,
                          size_t size);

/* This node's peer id in secure mode ("12D3KooW..."); NULL in classic mode.
 * The node id (shoal_node_id) is the same text. */
SHOAL_EXTERN
const char *shoal_node_peer_id(const shoal_node *node);

/* Ping (/ipfs/ping/1.0.0), served by every secure node: one round trip to
 * the peer at addr (a multiaddr), dialing if needed. cb gets 0 and the
 * round-trip time in microseconds, or an error (SHOAL_ETIMEDOUT after
 * timeout_ms). cb runs exactly once unless this returns an error. */
typedef void (*shoal_ping_cb)(shoal_node *node, int status, uint64_t rtt_us,
                              void *user);
SHOAL_EXTERN
int shoal_ping(shoal_node *node, const char *addr, uint32_t timeout_ms,
               shoal_ping_cb cb, void *user);
SHOAL_EXTERN
int shoal_ping_serve(shoal_node *node);

/* Adds the peer at addr, "/ip4|ip6/HOST/tcp/PORT/p2p/ID", to the known-peer
 * table only once a connection has proved it is ID: pings it (Noise
 * authenticates the id), then shoal_peer_add(ID, HOST, PORT). This is how
 * discovery services take addresses heard from others. cb runs exactly
 * once, unless this returns an error (SHOAL_EBADADDR for another form of
 * address), with the id and 0 (added), SHOAL_EEXIST, SHOAL_EFULL, or the
 * ping's error. */
typedef void (*shoal_verified_cb)(shoal_node *node, int status,
                                  const char *peer_id, void *user);
SHOAL_EXTERN
int shoal_peer_add_verified(shoal_node *node, const char *addr,
                            uint32_t timeout_ms, shoal_verified_cb cb,
                            void *user);

/* Identify (/ipfs/id/1.0.0), served by every secure node: what the peer at
 * addr says of itself. Strings are borrowed for the callback. */
typedef struct shoal_identify_info {
    const char *protocol_version;
    const char *agent_version;
    const char *observed_addr;      /* how the peer sees us; "" if unsaid */
    size_t nprotocols;
    const char *const *protocols;
    size_t naddrs;
    const char *const *listen_addrs; /* multiaddrs, text */
} shoal_identify_info;
/* info is NULL unless status is 0. */
typedef void (*shoal_identify_cb)(shoal_node *node, int status,
                                  const shoal_identify_info *info,
                                  void *user);
SHOAL_EXTERN
int shoal_identify(shoal_node *node, const char *addr, uint32_t timeout_ms,
                   shoal_identify_cb cb, void *user);
SHOAL_EXTERN
int shoal_identify_serve(shoal_node *node);

/* Perf (/perf/1.0.0): serve it (off by default), or measure against a peer
 * that does: upload bytes go up, then download bytes come back, both
 * checked against the pattern byte i = i mod 251. */
typedef struct shoal_perf_result {
    uint64_t uploaded, downloaded;
    uint64_t upload_ns;   /* from the stream's start to the upload's end */
    uint64_t total_ns;    /* from the stream's start to its end */
} shoal_perf_result;
typedef void (*shoal_perf_cb)(shoal_node *node, int status,
                              const shoal_perf_result *result, void *user);
SHOAL_EXTERN
int shoal_perf_serve(shoal_node *node);
SHOAL_EXTERN
int shoal_perf(shoal_node *node, const char *addr, uint64_t upload,
               uint64_t download, shoal_perf_cb cb, void *user);

/* ------------------------------------------------------------------ timers
 * Stabilizers: a callback every interval_ms on the loop. A timer ticks
 * until shoal_timer_stop() or the node stops; its memory lives until
 * shoal_timer_stop() or the node is freed, so stopping it after the node has
 * stopped is fine. Starting one on a stopping or closing node returns
 * SHOAL_ECANCELED (and *out is NULL).
 */
typedef struct shoal_timer shoal_timer;
typedef void (*shoal_timer_cb)(shoal_node *node, void *user);
SHOAL_EXTERN
int shoal_timer_start(shoal_node *node, uint32_t interval_ms,
                      shoal_timer_cb cb, void *user, shoal_timer **out);
SHOAL_EXTERN
void shoal_timer_stop(shoal_timer *timer);

/* ---------------------------------------------------------------- services
 * Membership: the classic network's NAME, LIST, JOIN, QUIT and PING
 * handlers, answered from the known-peer table (specs/classic-wire.md).
 */
SHOAL_EXTERN
int shoal_membership_enable(shoal_node *node);

/* The classic "build peers" walk: starting from addr, learn each peer's id
 * (NAME), JOIN it, add it, LIST its peers and walk on with one hop less,
 * until the table is full or hops run out. cb (may be NULL) runs once, when
 * the walk is over, with the number of peers added and a status: 0 when
 * the walk started (the first peer answered and took us, or was known
 * already), or why it failed at its start: that request's end status
 * (SHOAL_ECONNREFUSED, SHOAL_ETIMEDOUT, SHOAL_EPEERID when addr's /p2p/ID
 * was not who answered, SHOAL_EWRONGWIRE, ...), SHOAL_ESELF (addr is this
 * node), SHOAL_EFULL (this node's table, or the remote's, is full: its
 * refusal), SHOAL_EPROTO (a refusal or a reply we cannot read); a failed
 * walk is also said on a WARN line, join_failed. Later peers that fail are
 * skipped. addr is HOST:PORT for a classic node; a secure node walks the
 * same messages over secure streams, from a multiaddr
 * ("/ip4/HOST/tcp/PORT", "/p2p/ID" after it allowed, and then checked),
 * and its table holds peer ids. shoal_join returns SHOAL_EBADADDR for an
 * address of the other mode (no callback then). */
typedef void (*shoal_join_cb)(shoal_node *node, int status, size_t added,
                              void *user);
SHOAL_EXTERN
int shoal_join(shoal_node *node, const char *addr, int hops,
               shoal_join_cb cb, void *user);

#ifdef __cplusplus
}
#endif
#endif /* SHOAL_H */
