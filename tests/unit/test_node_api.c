/* The node's public API on a real loop (src/node/node.c, client.c):
 * configuration, ids, handlers, the peer wrappers, timers, the router,
 * shoal_post, and freeing. Loopback only, port 0; nothing sleeps: each test
 * runs the loop and stops it from a callback, with a guard timer that fails
 * the test if it is ever reached. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "node/node_internal.h"
#include "shoal.h"

#define GUARD_MS 5000

/* ----------------------------------------------------------------- helpers */

static void quiet_config(shoal_config *cfg, const char *listen)
{
    shoal_config_init(cfg);
    cfg->classic = 1; /* these tests are about the node, not the wire */
    cfg->listen = listen;
    cfg->handle_signals = 0;
    cfg->log_level = SHOAL_LOG_ERROR;
}

static shoal_node *new_node(uv_loop_t *loop, const char *listen)
{
    shoal_config cfg;
    shoal_node *node = NULL;

    quiet_config(&cfg, listen);
    assert_int_equal(shoal_node_new(&node, loop, &cfg), 0);
    assert_non_null(node);
    return node;
}

/* Stops up to two nodes when the test has gone on too long. */
typedef struct guard {
    shoal_node *nodes[2];
    int fired;
} guard;

static void on_guard(shoal_node *node, void *user)
{
    guard *g = user;
    size_t i;

    (void)node;
    g->fired = 1;
    for (i = 0; i < 2; i++)
        if (g->nodes[i] != NULL)
            shoal_node_stop(g->nodes[i]);
}

static void start_guard(guard *g, shoal_node *a, shoal_node *b)
{
    memset(g, 0, sizeof(*g));
    g->nodes[0] = a;
    g->nodes[1] = b;
    assert_int_equal(shoal_timer_start(a, GUARD_MS, on_guard, g, NULL), 0);
}

static void run_guarded(shoal_node *node, guard *g)
{
    assert_int_equal(shoal_node_run(node), 0);
    if (g->fired)
        fail_msg("guard timer reached: the test did not finish in %d ms",
                 GUARD_MS);
}

/* ----------------------------------------------------------- configuration */

static void test_config_defaults(void **state)
{
    shoal_config cfg;

    (void)state;
    memset(&cfg, 0xA5, sizeof(cfg));
    shoal_config_init(&cfg);
    assert_null(cfg.listen);
    assert_null(cfg.advertise_host);
    assert_null(cfg.id);
    assert_int_equal(cfg.max_peers, 128);
    assert_int_equal(cfg.max_message, 16u * 1024 * 1024);
    assert_int_equal(cfg.max_connections, 1024);
    assert_int_equal(cfg.max_pending_output, 64u * 1024 * 1024);
    assert_int_equal(cfg.max_input_total, 256u * 1024 * 1024);
    assert_int_equal(cfg.connect_timeout_ms, 5000);
    assert_int_equal(cfg.io_timeout_ms, 10000);
    assert_int_equal(cfg.request_timeout_ms, 60000);
    assert_int_equal(cfg.log_level, SHOAL_LOG_INFO);
    assert_null(cfg.log_cb);
    assert_null(cfg.log_user);
    assert_int_equal(cfg.handle_signals, 1);
}

static void expect_new_fails(const shoal_config *cfg, int want)
{
    shoal_node *node = (shoal_node *)(uintptr_t)1;
    int rc = shoal_node_new(&node, NULL, cfg);

    if (rc != want)
        fail_msg("listen=%s: got %d (%s), want %d (%s)",
                 cfg->listen ? cfg->listen : "(null)", rc, shoal_strerror(rc),
                 want, shoal_strerror(want));
    assert_null(node);
}

static void test_new_bad_config(void **state)
{
    static const char *const bad_listen[] = {
        "nonsense", "127.0.0.1", "127.0.0.1:70000", "/ip4/127.0.0.1/udp/0",
        "",
        /* listen addresses are numeric: no name lookups */
        "localhost:0", "/dns4/localhost/tcp/0",
    };
    char overlong[SHOAL_ID_MAX + 8];
    shoal_config cfg;
    shoal_node *node;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad_listen) / sizeof(bad_listen[0]); i++) {
        quiet_config(&cfg, bad_listen[i]);
        expect_new_fails(&cfg, SHOAL_EBADADDR);
    }

    quiet_config(&cfg, "127.0.0.1:0");
    cfg.max_connections = 0;
    expect_new_fails(&cfg, SHOAL_EINVAL);

    quiet_config(&cfg, "127.0.0.1:0");
    cfg.max_message = 0;
    expect_new_fails(&cfg, SHOAL_EINVAL);

    memset(overlong, 'x', sizeof(overlong) - 1);
    overlong[sizeof(overlong) - 1] = '\0';
    quiet_config(&cfg, "127.0.0.1:0");
    cfg.id = overlong;
    expect_new_fails(&cfg, SHOAL_EINVAL);
    cfg.id = "";
    expect_new_fails(&cfg, SHOAL_EINVAL);
    cfg.id = NULL;
    cfg.advertise_host = overlong;
    expect_new_fails(&cfg, SHOAL_EINVAL);

    quiet_config(&cfg, "127.0.0.1:0");
    assert_int_equal(shoal_node_new(NULL, NULL, &cfg), SHOAL_EINVAL);

    /* a port in use: libuv's error, and everything set up so far undone */
    node = new_node(NULL, "127.0.0.1:0");
    {
        char busy[64];
        snprintf(busy, sizeof(busy), "127.0.0.1:%d", shoal_node_port(node));
        quiet_config(&cfg, busy);
        expect_new_fails(&cfg, UV_EADDRINUSE);
    }
    shoal_node_free(node);
}

static void test_new_default_config(void **state)
{
    shoal_node *node = NULL;

    (void)state;
    /* NULL config: the defaults, a client-only node in secure mode, named
     * by its (fresh) peer id */
    assert_int_equal(shoal_node_new(&node, NULL, NULL), 0);
    assert_non_null(node);
    assert_int_equal(shoal_node_port(node), 0);
    assert_string_equal(shoal_node_id(node), shoal_node_peer_id(node));
    assert_memory_equal(shoal_node_id(node), "12D3KooW", 8);
    assert_non_null(shoal_node_loop(node));
    shoal_node_free(node);
    shoal_node_free(NULL); /* harmless */
}

/* ---------------------------------------------------------------------- ids */

static void test_node_id(void **state)
{
    char want[64], idbuf[32];
    shoal_config cfg;
    shoal_node *node;

    (void)state;
    /* default: "127.0.0.1:<port>" of the listening socket */
    node = new_node(NULL, "127.0.0.1:0");
    assert_true(shoal_node_port(node) > 0);
    snprintf(want, sizeof(want), "127.0.0.1:%d", shoal_node_port(node));
    assert_string_equal(shoal_node_id(node), want);
    assert_string_equal(shoal_node_host(node), "127.0.0.1");
    shoal_node_free(node);

    /* multiaddr form */
    node = new_node(NULL, "/ip4/127.0.0.1/tcp/0");
    snprintf(want, sizeof(want), "127.0.0.1:%d", shoal_node_port(node));
    assert_string_equal(shoal_node_id(node), want);
    shoal_node_free(node);

    /* a wildcard listen address advertises 127.0.0.1 */
    node = new_node(NULL, "0.0.0.0:0");
    snprintf(want, sizeof(want), "127.0.0.1:%d", shoal_node_port(node));
    assert_string_equal(shoal_node_id(node), want);
    assert_string_equal(shoal_node_host(node), "127.0.0.1");
    shoal_node_free(node);

    /* cfg.id overrides, and is copied */
    quiet_config(&cfg, "127.0.0.1:0");
    strcpy(idbuf, "alice");
    cfg.id = idbuf;
    assert_int_equal(shoal_node_new(&node, NULL, &cfg), 0);
    strcpy(idbuf, "mallory");
    assert_string_equal(shoal_node_id(node), "alice");
    shoal_node_free(node);

    /* advertise_host names the host in the id */
    quiet_config(&cfg, "127.0.0.1:0");
    cfg.advertise_host = "192.0.2.7";
    assert_int_equal(shoal_node_new(&node, NULL, &cfg), 0);
    snprintf(want, sizeof(want), "192.0.2.7:%d", shoal_node_port(node));
    assert_string_equal(shoal_node_id(node), want);
    assert_string_equal(shoal_node_host(node), "192.0.2.7");
    shoal_node_free(node);

    /* not listening */
    node = new_node(NULL, NULL);
    assert_int_equal(shoal_node_port(node), 0);
    assert_string_equal(shoal_node_id(node), "client");
    shoal_node_free(node);
}

/* ------------------------------------------------------ an application loop */

static void on_closed(shoal_node *node, void *user)
{
    (void)node;
    (*(int *)user)++;
}

static void stop_self(shoal_node *node, void *user)
{
    (void)user;
    shoal_node_stop(node);
}

static void test_application_loop(void **state)
{
    uv_loop_t loop;
    shoal_node *node;
    int closed = 0;
    guard g;

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);

    /* close before it ever ran */
    node = new_node(&loop, "127.0.0.1:0");
    assert_ptr_equal(shoal_node_loop(node), &loop);
    shoal_node_close(node, on_closed, &closed);
    assert_int_equal(closed, 0); /* the close callback comes from the loop */
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(closed, 1);

    /* run, stop from a callback, free */
    node = new_node(&loop, "127.0.0.1:0");
    start_guard(&g, node, NULL);
    assert_int_equal(shoal_post(node, stop_self, NULL), 0);
    run_guarded(node, &g);
    shoal_node_free(node);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* ----------------------------------------------------------------- handlers */

static void handler_a(shoal_req *req, const shoal_msg *msg, void *user)
{
    (void)req, (void)msg, (void)user;
}

static void handler_b(shoal_req *req, const shoal_msg *msg, void *user)
{
    (void)req, (void)msg, (void)user;
}

/* The node's lookup takes a normalized type, all five bytes. */
static const shoal_handler *lookup(const shoal_node *node, const char *type)
{
    char norm[5] = {0};

    assert_int_equal(shoal_type_normalize(type, norm), 0);
    return shoal_node_handler(node, norm);
}

static void test_handle(void **state)
{
    static const char *const bad[] = {"", "TOOLONG", "A B", "\n", "PIN\x01"};
    shoal_node *node = new_node(NULL, "127.0.0.1:0");
    const shoal_handler *h;
    int ua, ub;
    size_t i;

    (void)state;
    assert_null(lookup(node, "PING"));

    /* register; the type is matched without regard to case */
    assert_int_equal(shoal_handle(node, "ping", handler_a, &ua), 0);
    h = lookup(node, "PING");
    assert_non_null(h);
    assert_true(h->cb == handler_a);
    assert_ptr_equal(h->user, &ua);

    /* replace */
    assert_int_equal(shoal_handle(node, "PING", handler_b, &ub), 0);
    assert_int_equal(node->handler_count, 1);
    h = lookup(node, "PING");
    assert_true(h->cb == handler_b);
    assert_ptr_equal(h->user, &ub);

    /* short types, several at once */
    assert_int_equal(shoal_handle(node, "Q", handler_a, NULL), 0);
    assert_int_equal(shoal_handle(node, "ECHO", handler_a, NULL), 0);
    assert_int_equal(node->handler_count, 3);
    assert_non_null(lookup(node, "Q"));

    /* remove with a NULL callback; the others stay */
    assert_int_equal(shoal_handle(node, "PING", NULL, NULL), 0);
    assert_null(lookup(node, "PING"));
    assert_int_equal(node->handler_count, 2);
    assert_true(lookup(node, "Q")->cb == handler_a);
    assert_true(lookup(node, "ECHO")->cb == handler_a);
    /* removing what is not there */
    assert_int_equal(shoal_handle(node, "PING", NULL, NULL), SHOAL_ENOENT);
    assert_int_equal(shoal_handle(node, "q", NULL, NULL), 0);
    assert_int_equal(shoal_handle(node, "echo", NULL, NULL), 0);
    assert_int_equal(node->handler_count, 0);

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(shoal_handle(node, bad[i], handler_a, NULL),
                         SHOAL_EINVAL);
    assert_int_equal(shoal_handle(node, NULL, handler_a, NULL), SHOAL_EINVAL);
    assert_int_equal(node->handler_count, 0);

    /* registered handlers are freed with the node */
    assert_int_equal(shoal_handle(node, "NAME", handler_a, NULL), 0);
    shoal_node_free(node);
}

/* -------------------------------------------------------------------- peers */

static void test_peer_wrappers(void **state)
{
    shoal_config cfg;
    shoal_node *node;
    const shoal_peer *p;

    (void)state;
    quiet_config(&cfg, NULL);
    cfg.max_peers = 2;
    assert_int_equal(shoal_node_new(&node, NULL, &cfg), 0);

    assert_int_equal(shoal_peer_count(node), 0);
    assert_false(shoal_peers_full(node));
    assert_int_equal(shoal_peer_add(node, "a", "127.0.0.1", 1), 0);
    assert_int_equal(shoal_peer_add(node, "a", "127.0.0.1", 1), SHOAL_EEXIST);
    assert_int_equal(shoal_peer_add(node, "", "127.0.0.1", 1), SHOAL_EINVAL);
    assert_int_equal(shoal_peer_add(node, "b", NULL, 1), SHOAL_EINVAL);
    assert_int_equal(shoal_peer_add(node, "b", "127.0.0.2", 2), 0);
    assert_true(shoal_peers_full(node));
    assert_int_equal(shoal_peer_add(node, "c", "127.0.0.3", 3), SHOAL_EFULL);
    assert_int_equal(shoal_peer_count(node), 2);

    p = shoal_peer_get(node, "b");
    assert_non_null(p);
    assert_string_equal(p->host, "127.0.0.2");
    assert_int_equal(p->port, 2);
    assert_string_equal(shoal_peer_at(node, 0)->id, "a");
    assert_ptr_equal(shoal_peer_at(node, 1), p);
    assert_null(shoal_peer_at(node, 2));
    assert_null(shoal_peer_get(node, "c"));

    assert_int_equal(shoal_peer_remove(node, "a"), 0);
    assert_int_equal(shoal_peer_remove(node, "a"), SHOAL_ENOENT);
    assert_false(shoal_peers_full(node));
    assert_int_equal(shoal_peer_count(node), 1);
    assert_string_equal(shoal_peer_at(node, 0)->id, "b");
    shoal_node_free(node); /* with a peer still known */

    /* max_peers 0: unlimited */
    quiet_config(&cfg, NULL);
    cfg.max_peers = 0;
    assert_int_equal(shoal_node_new(&node, NULL, &cfg), 0);
    {
        char id[16];
        int i;
        for (i = 0; i < 300; i++) {
            snprintf(id, sizeof(id), "p%d", i);
            assert_int_equal(shoal_peer_add(node, id, "h", (uint16_t)i), 0);
        }
    }
    assert_false(shoal_peers_full(node));
    assert_int_equal(shoal_peer_count(node), 300);
    shoal_node_free(node);
}

/* ------------------------------------------------------------------- timers */

typedef struct ticks {
    int count;
    int limit;
    shoal_timer *timer;
} ticks;

static void on_tick_stop_node(shoal_node *node, void *user)
{
    ticks *t = user;

    if (++t->count == t->limit)
        shoal_node_stop(node);
}

static void test_timer_repeats(void **state)
{
    shoal_node *node = new_node(NULL, "127.0.0.1:0");
    ticks t = {0, 3, NULL};
    guard g;

    (void)state;
    start_guard(&g, node, NULL);
    assert_int_equal(shoal_timer_start(node, 1, on_tick_stop_node, &t,
                                       &t.timer),
                     0);
    assert_non_null(t.timer);
    run_guarded(node, &g);
    assert_int_equal(t.count, 3);
    shoal_node_free(node);
}

static void on_tick_stop_timer(shoal_node *node, void *user)
{
    ticks *t = user;

    (void)node;
    t->count++;
    shoal_timer_stop(t->timer);
    shoal_timer_stop(t->timer); /* twice in the same callback: harmless */
}

static void test_timer_stop_in_callback(void **state)
{
    shoal_node *node = new_node(NULL, "127.0.0.1:0");
    ticks self = {0, 0, NULL};
    ticks later = {0, 1, NULL};
    guard g;

    (void)state;
    start_guard(&g, node, NULL);
    /* ticks every millisecond, but stops itself at the first */
    assert_int_equal(shoal_timer_start(node, 1, on_tick_stop_timer, &self,
                                       &self.timer),
                     0);
    /* a while later, the node stops: the first timer must not have ticked
     * again in between */
    assert_int_equal(shoal_timer_start(node, 50, on_tick_stop_node, &later,
                                       NULL),
                     0);
    run_guarded(node, &g);
    assert_int_equal(self.count, 1);
    assert_int_equal(later.count, 1);
    shoal_node_free(node);
}

static void never(shoal_node *node, void *user)
{
    (void)node, (void)user;
    fail_msg("this timer must not run");
}

static void test_timer_bad_args(void **state)
{
    shoal_node *node = new_node(NULL, "127.0.0.1:0");
    shoal_timer *t = (shoal_timer *)(uintptr_t)1;

    (void)state;
    assert_int_equal(shoal_timer_start(node, 0, never, NULL, &t),
                     SHOAL_EINVAL);
    assert_int_equal(shoal_timer_start(node, 10, NULL, NULL, &t),
                     SHOAL_EINVAL);
    shoal_timer_stop(NULL); /* harmless */

    /* stopped node: no new timers */
    shoal_node_stop(node);
    assert_int_equal(shoal_node_run(node), 0);
    assert_int_equal(shoal_timer_start(node, 10, never, NULL, &t),
                     SHOAL_ECANCELED);
    shoal_node_free(node);
}

/* A timer stopped by the application before the node runs never fires. */
static void test_timer_stop_before_run(void **state)
{
    shoal_node *node = new_node(NULL, "127.0.0.1:0");
    ticks later = {0, 1, NULL};
    shoal_timer *t;
    guard g;

    (void)state;
    start_guard(&g, node, NULL);
    assert_int_equal(shoal_timer_start(node, 1, never, NULL, &t), 0);
    shoal_timer_stop(t);
    assert_int_equal(shoal_timer_start(node, 20, on_tick_stop_node, &later,
                                       NULL),
                     0);
    run_guarded(node, &g);
    assert_int_equal(later.count, 1);
    shoal_node_free(node);
}

/* ------------------------------------------------------------------- router */

typedef struct route_log {
    int calls;
    char last_id[SHOAL_ID_MAX];
    void *last_user;
    const char *via; /* the known peer to route through, or NULL */
} route_log;

static const shoal_peer *router(shoal_node *node, const char *peer_id,
                                void *user)
{
    route_log *log = user;

    log->calls++;
    snprintf(log->last_id, sizeof(log->last_id), "%s", peer_id);
    log->last_user = user;
    return log->via != NULL ? shoal_peer_get(node, log->via) : NULL;
}

static void unexpected_end(int status, void *user)
{
    (void)user;
    fail_msg("end callback ran (status %d)", status);
}

static void test_router_no_route(void **state)
{
    shoal_node *node = new_node(NULL, "127.0.0.1:0");
    route_log log;

    (void)state;
    memset(&log, 0, sizeof(log));
    /* a known peer, which a NULL-returning router still does not use */
    assert_int_equal(shoal_peer_add(node, "bob", "127.0.0.1", 1), 0);
    shoal_set_router(node, router, &log);
    assert_int_equal(shoal_request_peer(node, "bob", "PING", NULL, 0, 1000,
                                        NULL, unexpected_end, NULL),
                     SHOAL_ENOROUTE);
    assert_int_equal(log.calls, 1);
    assert_string_equal(log.last_id, "bob");
    assert_ptr_equal(log.last_user, &log);
    assert_int_equal(shoal_request_peer(node, NULL, "PING", NULL, 0, 1000,
                                        NULL, unexpected_end, NULL),
                     SHOAL_EINVAL);

    /* the default router: unknown ids have no route */
    shoal_set_router(node, NULL, NULL);
    assert_int_equal(shoal_request_peer(node, "carol", "PING", NULL, 0, 1000,
                                        NULL, unexpected_end, NULL),
                     SHOAL_ENOROUTE);
    assert_int_equal(log.calls, 1); /* the old router is no longer asked */
    shoal_node_free(node);
}

/* The echo side. */
typedef struct echo_stats {
    int served;
    char remote[64];
} echo_stats;

static void on_echo(shoal_req *req, const shoal_msg *msg, void *user)
{
    echo_stats *st = user;

    st->served++;
    snprintf(st->remote, sizeof(st->remote), "%s", shoal_req_remote(req));
    assert_string_equal(msg->type, "ECHO");
    assert_int_equal(shoal_reply(req, "REPL", msg->data, msg->len), 0);
}

/* The requesting side. */
typedef struct exchange {
    shoal_node *a, *b;
    int replies;
    char text[64];
    char type[5];
    int ended;
    int status;
} exchange;

static void on_reply(const shoal_msg *reply, void *user)
{
    exchange *x = user;

    x->replies++;
    memcpy(x->type, reply->type, sizeof(x->type));
    snprintf(x->text, sizeof(x->text), "%.*s", (int)reply->len,
             (const char *)reply->data);
}

static void on_end_stop_both(int status, void *user)
{
    exchange *x = user;

    x->ended++;
    x->status = status;
    shoal_node_stop(x->a);
    shoal_node_stop(x->b);
}

/* A asks for `target`, routed by `log` (NULL: the default router); B, on
 * the same loop and known to A as "bob", echoes. */
static void routed_echo(route_log *log, const char *target)
{
    shoal_node *a = new_node(NULL, "127.0.0.1:0");
    shoal_node *b = new_node(shoal_node_loop(a), "127.0.0.1:0");
    echo_stats st;
    exchange x;
    guard g;

    memset(&st, 0, sizeof(st));
    memset(&x, 0, sizeof(x));
    x.a = a;
    x.b = b;
    x.status = 1;
    assert_int_equal(shoal_handle(b, "ECHO", on_echo, &st), 0);
    assert_int_equal(shoal_peer_add(a, "bob", "127.0.0.1",
                                    (uint16_t)shoal_node_port(b)),
                     0);
    if (log != NULL)
        shoal_set_router(a, router, log);
    start_guard(&g, a, b);
    assert_int_equal(shoal_request_peer(a, target, "echo", "hello", 5, 3000,
                                        on_reply, on_end_stop_both, &x),
                     0);
    run_guarded(a, &g);

    assert_int_equal(x.ended, 1);
    assert_int_equal(x.status, 0);
    assert_int_equal(x.replies, 1);
    assert_string_equal(x.type, "REPL");
    assert_string_equal(x.text, "hello");
    assert_int_equal(st.served, 1);
    assert_true(strncmp(st.remote, "127.0.0.1:", 10) == 0);

    /* b lives on a's loop: free it first, a's free runs its closing */
    shoal_node_free(b);
    shoal_node_free(a);
}

static void test_router_routes_to_peer(void **state)
{
    route_log log;

    (void)state;
    memset(&log, 0, sizeof(log));
    log.via = "bob";
    /* "dave" is not known to A at all: the router sends it through bob */
    routed_echo(&log, "dave");
    assert_int_equal(log.calls, 1);
    assert_string_equal(log.last_id, "dave");
}

static void test_default_router_known_peer(void **state)
{
    (void)state;
    routed_echo(NULL, "bob");
}

/* ------------------------------------------------------------------- post */

typedef struct posted {
    uv_thread_t loop_thread;
    shoal_node *node;
    int ran;
    int on_loop_thread;
    int stop_after;
    int post_rc;
} posted;

static void on_posted(shoal_node *node, void *user)
{
    posted *p = user;
    uv_thread_t self = uv_thread_self();

    assert_ptr_equal(node, p->node);
    p->ran++;
    if (uv_thread_equal(&self, &p->loop_thread))
        p->on_loop_thread++;
    if (p->ran == p->stop_after)
        shoal_node_stop(node);
}

static void post_from_thread(void *arg)
{
    posted *p = arg;

    p->post_rc = shoal_post(p->node, on_posted, p);
}

static void test_post(void **state)
{
    shoal_node *node = new_node(NULL, "127.0.0.1:0");
    uv_thread_t th;
    posted p;
    guard g;

    (void)state;
    memset(&p, 0, sizeof(p));
    p.loop_thread = uv_thread_self();
    p.node = node;
    p.stop_after = 2;
    p.post_rc = 1;
    start_guard(&g, node, NULL);

    assert_int_equal(shoal_post(node, NULL, NULL), SHOAL_EINVAL);
    /* from this thread before the loop runs: nothing runs yet */
    assert_int_equal(shoal_post(node, on_posted, &p), 0);
    assert_int_equal(p.ran, 0);
    /* and from another thread */
    assert_int_equal(uv_thread_create(&th, post_from_thread, &p), 0);
    run_guarded(node, &g);
    assert_int_equal(uv_thread_join(&th), 0);

    assert_int_equal(p.post_rc, 0);
    assert_int_equal(p.ran, 2);
    assert_int_equal(p.on_loop_thread, 2);
    shoal_node_free(node);
}

/* Once the node has stopped, a post is refused: it would never run. */
static void test_post_after_stop(void **state)
{
    shoal_node *node = new_node(NULL, "127.0.0.1:0");
    posted p;

    (void)state;
    memset(&p, 0, sizeof(p));
    p.node = node;
    shoal_node_stop(node);
    assert_int_equal(shoal_node_run(node), 0);
    assert_int_equal(shoal_post(node, on_posted, &p), SHOAL_ECANCELED);
    shoal_node_free(node);
    assert_int_equal(p.ran, 0);
}

/* shoal_request_sync from another thread against a node that stops first
 * returns instead of waiting forever. */
typedef struct sync_arg {
    shoal_node *node;
    int rc;
    shoal_replies replies;
} sync_arg;

static void sync_thread(void *arg)
{
    sync_arg *s = arg;

    s->rc = shoal_request_sync(s->node, "127.0.0.1:1", "PING", NULL, 0, 1000,
                               &s->replies);
}

static void test_request_sync_after_stop(void **state)
{
    shoal_node *node = new_node(NULL, "127.0.0.1:0");
    uv_thread_t th;
    sync_arg s;

    (void)state;
    memset(&s, 0, sizeof(s));
    s.node = node;
    shoal_node_stop(node);
    assert_int_equal(shoal_node_run(node), 0);
    assert_int_equal(uv_thread_create(&th, sync_thread, &s), 0);
    assert_int_equal(uv_thread_join(&th), 0);
    assert_int_equal(s.rc, SHOAL_ECANCELED);
    assert_int_equal(s.replies.count, 0);
    shoal_replies_free(&s.replies);
    shoal_node_free(node);
}

/* ------------------------------------------------------------------- free */

typedef struct pending {
    int ended;
    int status;
} pending;

static void on_pending_end(int status, void *user)
{
    pending *p = user;

    p->ended++;
    p->status = status;
}

static void count_post(shoal_node *node, void *user)
{
    (void)node;
    (*(int *)user)++;
}

/* A node that never ran: free releases the listener, handlers, peers,
 * timers, posted work and requests in flight (ASan checks the memory). */
static void test_free_never_ran(void **state)
{
    shoal_node *node = new_node(NULL, "127.0.0.1:0");
    char self[64];
    pending req = {0, 1};
    shoal_timer *t;
    int posts = 0;

    (void)state;
    assert_int_equal(shoal_handle(node, "ECHO", handler_a, NULL), 0);
    assert_int_equal(shoal_handle(node, "NAME", handler_b, NULL), 0);
    assert_int_equal(shoal_peer_add(node, "a", "127.0.0.1", 1), 0);
    assert_int_equal(shoal_peer_add(node, "b", "127.0.0.1", 2), 0);
    assert_int_equal(shoal_timer_start(node, 10, never, NULL, &t), 0);
    assert_int_equal(shoal_timer_start(node, 1000, never, NULL, NULL), 0);
    assert_int_equal(shoal_post(node, count_post, &posts), 0);
    snprintf(self, sizeof(self), "127.0.0.1:%d", shoal_node_port(node));
    assert_int_equal(shoal_request(node, self, "ECHO", "x", 1, 1000, NULL,
                                   on_pending_end, &req),
                     0);
    assert_int_equal(req.ended, 0);
    shoal_node_free(node);
    /* the request ended, cancelled; posted work still ran */
    assert_int_equal(req.ended, 1);
    assert_int_equal(req.status, SHOAL_ECANCELED);
    assert_int_equal(posts, 1);
}

/* Requests that fail at once report through the return value only. */
static void test_request_bad_args(void **state)
{
    shoal_node *node = new_node(NULL, "127.0.0.1:0");

    (void)state;
    assert_int_equal(shoal_request(node, "127.0.0.1:1", "TOOLONG", NULL, 0, 0,
                                   NULL, unexpected_end, NULL),
                     SHOAL_EINVAL);
    assert_int_equal(shoal_request(node, "127.0.0.1:1", "PING", NULL, 3, 0,
                                   NULL, unexpected_end, NULL),
                     SHOAL_EINVAL);
    assert_int_equal(shoal_request(node, "127.0.0.1:1", "PING", NULL, 0, 0,
                                   NULL, NULL, NULL),
                     SHOAL_EINVAL);
    assert_int_equal(shoal_request(node, "nowhere", "PING", NULL, 0, 0, NULL,
                                   unexpected_end, NULL),
                     SHOAL_EBADADDR);
    shoal_node_free(node);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_defaults),
        cmocka_unit_test(test_new_bad_config),
        cmocka_unit_test(test_new_default_config),
        cmocka_unit_test(test_node_id),
        cmocka_unit_test(test_application_loop),
        cmocka_unit_test(test_handle),
        cmocka_unit_test(test_peer_wrappers),
        cmocka_unit_test(test_timer_repeats),
        cmocka_unit_test(test_timer_stop_in_callback),
        cmocka_unit_test(test_timer_bad_args),
        cmocka_unit_test(test_timer_stop_before_run),
        cmocka_unit_test(test_router_no_route),
        cmocka_unit_test(test_router_routes_to_peer),
        cmocka_unit_test(test_default_router_known_peer),
        cmocka_unit_test(test_post),
        cmocka_unit_test(test_post_after_stop),
        cmocka_unit_test(test_request_sync_after_stop),
        cmocka_unit_test(test_free_never_ran),
        cmocka_unit_test(test_request_bad_args),
    };
    return cmocka_run_group_tests_name("node_api", tests, NULL, NULL);
}
