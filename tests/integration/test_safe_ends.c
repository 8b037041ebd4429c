/* The requester's identity and the safe ends of the API: shoal_req_peer
 * and shoal_req_remote in both modes; a node closed twice, closed from a
 * handler, freed after a close; requests used after they ended or while
 * their node closes; streams used inside closed(); calls on a stopped node;
 * shoal_node_run returning after shoal_node_stop while the application has
 * handles of its own on the node's loop; and shoal_node_drain, which lets
 * what is in flight finish before the node closes. Nodes on loopback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "itest.h"

/* ---------------------------------------------------------------- pairs
 * Two nodes on one loop of the test's: a serves, b requests. */

typedef struct pair {
    uv_loop_t loop;
    shoal_node *a, *b;
    char a_addr[512];
    int a_closed, b_closed;
} pair;

static void pair_config(shoal_config *cfg, int classic)
{
    itest_secure_config(cfg, classic ? "127.0.0.1:0" : "/ip4/127.0.0.1/tcp/0",
                        0);
    cfg->classic = classic;
}

/* The serving node a gives a request request_timeout_ms (0: the default). */
static void pair_up_timeout(pair *p, int classic, uint32_t request_timeout_ms)
{
    shoal_config cfg;
    uint32_t dflt;

    memset(p, 0, sizeof(*p));
    assert_int_equal(uv_loop_init(&p->loop), 0);
    pair_config(&cfg, classic);
    dflt = cfg.request_timeout_ms;
    if (request_timeout_ms != 0)
        cfg.request_timeout_ms = request_timeout_ms;
    p->a = itest_node_new(&p->loop, &cfg);
    cfg.request_timeout_ms = dflt;
    cfg.listen = NULL;
    p->b = itest_node_new(&p->loop, &cfg);
    assert_int_equal(shoal_node_addr(p->a, p->a_addr, sizeof(p->a_addr)), 0);
}

static void pair_up(pair *p, int classic)
{
    pair_up_timeout(p, classic, 0);
}

static void on_closed_flag(shoal_node *n, void *user)
{
    (void)n;
    (*(int *)user)++;
}

/* Closes whichever nodes are still open and the loop. */
static void pair_down(pair *p)
{
    if (p->a != NULL)
        shoal_node_close(p->a, on_closed_flag, &p->a_closed);
    if (p->b != NULL)
        shoal_node_close(p->b, on_closed_flag, &p->b_closed);
    p->a = p->b = NULL;
    assert_true(itest_run_until(&p->loop, itest_int_nonzero, &p->a_closed,
                                5000));
    assert_true(itest_run_until(&p->loop, itest_int_nonzero, &p->b_closed,
                                5000));
    uv_run(&p->loop, UV_RUN_NOWAIT);
    assert_int_equal(uv_loop_close(&p->loop), 0);
}

static void request(pair *p, const char *type, const char *text,
                    uint32_t timeout_ms, itest_call *call)
{
    itest_call_init(call);
    assert_int_equal(shoal_request(p->b, p->a_addr, type, text, strlen(text),
                                   timeout_ms, itest_on_reply, itest_on_end,
                                   call),
                     0);
}

static void wait_end(pair *p, itest_call *call)
{
    if (!itest_run_until(&p->loop, itest_call_ended, call, 10000))
        fail_msg("expected the request to end within 10 s; it did not");
}

/* --------------------------------------------- who is asking, and where */

typedef struct seen {
    int calls;
    int peer_null;
    char peer[SHOAL_ID_MAX];
    char remote[SHOAL_HOST_MAX + 32];
} seen;

static void on_who(shoal_req *req, const shoal_msg *msg, void *user)
{
    seen *s = user;
    const char *peer = shoal_req_peer(req);

    (void)msg;
    s->calls++;
    s->peer_null = peer == NULL;
    snprintf(s->peer, sizeof(s->peer), "%s", peer != NULL ? peer : "");
    snprintf(s->remote, sizeof(s->remote), "%s", shoal_req_remote(req));
    shoal_reply(req, "WHO", s->peer, strlen(s->peer));
}

static void test_req_peer_secure(void **state)
{
    pair p;
    seen s = {0};
    itest_call call;

    (void)state;
    pair_up(&p, 0);
    assert_int_equal(shoal_handle(p.a, "WHO", on_who, &s), 0);
    request(&p, "WHO", "", 0, &call);
    wait_end(&p, &call);
    assert_int_equal(call.status, 0);
    assert_int_equal(s.calls, 1);
    if (s.peer_null || strcmp(s.peer, shoal_node_peer_id(p.b)) != 0)
        fail_msg("expected shoal_req_peer to be the requester's id %s; "
                 "got %s", shoal_node_peer_id(p.b),
                 s.peer_null ? "NULL" : s.peer);
    /* the socket's remote end, as a multiaddr */
    if (strncmp(s.remote, "/ip4/127.0.0.1/tcp/", 19) != 0)
        fail_msg("expected shoal_req_remote to be /ip4/127.0.0.1/tcp/PORT; "
                 "got \"%s\"", s.remote);
    itest_call_free(&call);
    pair_down(&p);
}

static void test_req_peer_classic(void **state)
{
    pair p;
    seen s = {0};
    itest_call call;

    (void)state;
    pair_up(&p, 1);
    assert_int_equal(shoal_handle(p.a, "WHO", on_who, &s), 0);
    request(&p, "WHO", "", 0, &call);
    wait_end(&p, &call);
    assert_int_equal(call.status, 0);
    assert_int_equal(s.calls, 1);
    if (!s.peer_null)
        fail_msg("expected shoal_req_peer NULL on a classic node; got %s",
                 s.peer);
    if (strncmp(s.remote, "127.0.0.1:", 10) != 0)
        fail_msg("expected shoal_req_remote to be 127.0.0.1:PORT; got "
                 "\"%s\"", s.remote);
    itest_call_free(&call);
    pair_down(&p);
}

/* ------------------------------------------------------------ node ends */

static void test_close_twice(void **state)
{
    uv_loop_t loop;
    shoal_config cfg;
    shoal_node *n;
    int closed = 0, other = 0;

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    pair_config(&cfg, 0);
    n = itest_node_new(&loop, &cfg);
    shoal_node_close(n, on_closed_flag, &closed);
    shoal_node_close(n, on_closed_flag, &other); /* ignored */
    shoal_node_free(n);                          /* ignored too */
    assert_true(itest_run_until(&loop, itest_int_nonzero, &closed, 5000));
    uv_run(&loop, UV_RUN_NOWAIT);
    if (closed != 1 || other != 0)
        fail_msg("expected the first close's callback once and no other; "
                 "got %d and %d", closed, other);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* A node with its own loop: shoal_node_close reports through its callback,
 * then shoal_node_free frees it. */
static void test_own_loop_close_then_free(void **state)
{
    shoal_config cfg;
    shoal_node *n;
    int closed = 0;

    (void)state;
    pair_config(&cfg, 0);
    n = itest_node_new(NULL, &cfg);
    shoal_node_close(n, on_closed_flag, &closed);
    shoal_node_close(n, on_closed_flag, &closed);
    shoal_node_free(n);
    if (closed != 1)
        fail_msg("expected the close callback once by the end of "
                 "shoal_node_free; got %d", closed);
}

static void on_close_self(shoal_req *req, const shoal_msg *msg, void *user)
{
    (void)msg;
    shoal_node_close(shoal_req_node(req), on_closed_flag, user);
    /* the node is closing: the reply is refused, nothing crashes */
    assert_int_equal(shoal_reply(req, "NO", "x", 1), SHOAL_ECANCELED);
}

/* A handler closes its own node (a "quit" command). */
static void close_from_handler(int classic)
{
    pair p;
    itest_call call;

    (void)classic;
    pair_up(&p, classic);
    assert_int_equal(shoal_handle(p.a, "QUIT", on_close_self, &p.a_closed),
                     0);
    request(&p, "QUIT", "", 0, &call);
    wait_end(&p, &call);
    assert_int_equal(call.count, 0);
    assert_true(itest_run_until(&p.loop, itest_int_nonzero, &p.a_closed,
                                5000));
    p.a = NULL;
    itest_call_free(&call);
    pair_down(&p);
}

static void test_close_from_handler_secure(void **state)
{
    (void)state;
    close_from_handler(0);
}

static void test_close_from_handler_classic(void **state)
{
    (void)state;
    close_from_handler(1);
}

/* ---------------------------------------------------------- request ends */

static int ptr_set(void *arg)
{
    return *(void *volatile *)arg != NULL;
}

typedef struct held {
    shoal_req *req;
    int after_done;     /* shoal_reply after shoal_req_done, in the handler */
} held;

static void on_done_then_reply(shoal_req *req, const shoal_msg *msg,
                               void *user)
{
    held *h = user;

    (void)msg;
    assert_int_equal(shoal_reply(req, "ONE", "1", 1), 0);
    shoal_req_done(req);
    h->after_done = shoal_reply(req, "TWO", "2", 1);
    shoal_req_done(req); /* twice: nothing more */
}

static void reply_after_done(int classic)
{
    pair p;
    held h = {0};
    itest_call call;

    pair_up(&p, classic);
    assert_int_equal(shoal_handle(p.a, "DONE", on_done_then_reply, &h), 0);
    request(&p, "DONE", "", 0, &call);
    wait_end(&p, &call);
    if (h.after_done != SHOAL_ECLOSED)
        fail_msg("expected shoal_reply after shoal_req_done to return "
                 "SHOAL_ECLOSED; got %d (%s)", h.after_done,
                 shoal_strerror(h.after_done));
    if (call.status != 0 || call.count != 1)
        fail_msg("expected one reply and a clean end; got %zu replies, "
                 "status %d", call.count, call.status);
    itest_call_free(&call);
    pair_down(&p);
}

static void test_reply_after_done_secure(void **state)
{
    (void)state;
    reply_after_done(0);
}

static void test_reply_after_done_classic(void **state)
{
    (void)state;
    reply_after_done(1);
}

static void on_hold(shoal_req *req, const shoal_msg *msg, void *user)
{
    held *h = user;

    (void)msg;
    shoal_req_hold(req);
    h->req = req;
}

/* The requester gives up (its deadline); the held request's connection
 * goes; replying then is refused, ending it is fine. */
static void held_requester_gone(int classic)
{
    pair p;
    held h = {0};
    itest_call call;
    int rc;

    /* A classic requester that leaves is not noticed until the server
     * writes; the server's own deadline ends the connection instead. */
    pair_up_timeout(&p, classic, classic ? 200 : 0);
    assert_int_equal(shoal_handle(p.a, "HOLD", on_hold, &h), 0);
    request(&p, "HOLD", "", 200, &call);
    wait_end(&p, &call);
    assert_non_null(h.req);
    /* the server's side of it ends soon after */
    {
        uint64_t until = itest_now_ms() + 5000;
        while ((rc = shoal_reply(h.req, "LATE", "x", 1)) == 0 &&
               itest_now_ms() < until)
            uv_run(&p.loop, UV_RUN_ONCE);
    }
    if (rc != SHOAL_ECLOSED)
        fail_msg("expected SHOAL_ECLOSED replying to a held request whose "
                 "requester left; got %d (%s)", rc, shoal_strerror(rc));
    /* who asked, and from where, outlive the connection */
    if (shoal_req_remote(h.req)[0] == '\0')
        fail_msg("expected the requester's address after its connection "
                 "closed; got \"\"");
    if (!classic && (shoal_req_peer(h.req) == NULL ||
                     strcmp(shoal_req_peer(h.req),
                            shoal_node_peer_id(p.b)) != 0))
        fail_msg("expected the requester's id %s after its stream closed; "
                 "got %s", shoal_node_peer_id(p.b),
                 shoal_req_peer(h.req) ? shoal_req_peer(h.req) : "NULL");
    shoal_req_done(h.req);
    itest_call_free(&call);
    pair_down(&p);
}

static void test_held_requester_gone_secure(void **state)
{
    (void)state;
    held_requester_gone(0);
}

static void test_held_requester_gone_classic(void **state)
{
    (void)state;
    held_requester_gone(1);
}

/* The server closes while a request is held: until the close callback the
 * request is still valid, replies are refused with SHOAL_ECANCELED, and
 * shoal_req_done works; one never ended is freed with the node. */
static void held_node_closing(int classic, int end_it)
{
    pair p;
    held h = {0};
    itest_call call;
    int rc;

    pair_up(&p, classic);
    assert_int_equal(shoal_handle(p.a, "HOLD", on_hold, &h), 0);
    request(&p, "HOLD", "", 0, &call);
    assert_true(itest_run_until(&p.loop, ptr_set, &h.req, 5000));
    shoal_node_close(p.a, on_closed_flag, &p.a_closed);
    rc = shoal_reply(h.req, "LATE", "x", 1);
    if (rc != SHOAL_ECANCELED)
        fail_msg("expected SHOAL_ECANCELED replying while the node closes; "
                 "got %d (%s)", rc, shoal_strerror(rc));
    assert_int_equal(shoal_replyf(h.req, "LATE", "%d", 1), SHOAL_ECANCELED);
    if (end_it)
        shoal_req_done(h.req);
    p.a = NULL;
    wait_end(&p, &call);
    assert_int_equal(call.count, 0); /* the classic wire ends with a close */
    itest_call_free(&call);
    pair_down(&p);
}

static void test_held_node_closing_secure(void **state)
{
    (void)state;
    held_node_closing(0, 1);
    held_node_closing(0, 0);
}

static void test_held_node_closing_classic(void **state)
{
    (void)state;
    held_node_closing(1, 1);
    held_node_closing(1, 0);
}

/* ------------------------------------------------------------ stream ends */

typedef struct stream_probe {
    int opened, closed;
    int write_rc, close_rc;
    size_t space;
} stream_probe;

static void probe_closed(shoal_stream *s, int status, void *user)
{
    static const shoal_stream_cbs none = {0};
    stream_probe *p = user;

    (void)status;
    p->closed++;
    p->write_rc = shoal_stream_write(s, "x", 1);
    p->close_rc = shoal_stream_close(s);
    p->space = shoal_stream_write_space(s);
    shoal_stream_reset(s);
    shoal_stream_set_cbs(s, &none, NULL);
    shoal_stream_reset(s);
}

static void probe_open(shoal_stream *s, int status, void *user)
{
    static const shoal_stream_cbs cbs = {.closed = probe_closed};
    stream_probe *p = user;

    assert_int_equal(status, 0);
    p->opened = 1;
    shoal_stream_set_cbs(s, &cbs, p);
    shoal_stream_reset(s);
    /* reset: everything after is refused */
    assert_int_equal(shoal_stream_write(s, "x", 1), SHOAL_ECLOSED);
    assert_int_equal(shoal_stream_close(s), SHOAL_ECLOSED);
    assert_int_equal(shoal_stream_write_space(s), 0);
}

static void on_echo_stream(shoal_stream *s, void *user)
{
    static const shoal_stream_cbs cbs = {0};

    (void)user;
    shoal_stream_set_cbs(s, &cbs, NULL);
}

static void test_stream_in_closed(void **state)
{
    pair p;
    stream_probe probe = {0};

    (void)state;
    pair_up(&p, 0);
    assert_int_equal(shoal_protocol_handle(p.a, "/test/probe/1",
                                           on_echo_stream, NULL),
                     0);
    assert_int_equal(shoal_stream_open(p.b, p.a_addr, "/test/probe/1",
                                       probe_open, &probe),
                     0);
    assert_true(itest_run_until(&p.loop, itest_int_nonzero, &probe.closed,
                                5000));
    if (probe.write_rc != SHOAL_ECLOSED || probe.close_rc != SHOAL_ECLOSED ||
        probe.space != 0)
        fail_msg("expected write and close refused with SHOAL_ECLOSED and "
                 "no room inside closed(); got %d, %d, %zu", probe.write_rc,
                 probe.close_rc, probe.space);
    assert_int_equal(probe.closed, 1);
    pair_down(&p);
}

/* ------------------------------------------------ calls on a closing node */

static void never(shoal_node *n, void *user)
{
    (void)n;
    (void)user;
    fail_msg("expected no callback from a call refused on a closing node");
}

static void never_req(shoal_req *req, const shoal_msg *msg, void *user)
{
    (void)req;
    (void)msg;
    never(NULL, user);
}

static void never_open(shoal_stream *s, int status, void *user)
{
    (void)s;
    (void)status;
    never(NULL, user);
}

static void never_end(int status, void *user)
{
    (void)status;
    never(NULL, user);
}

static void never_stream(shoal_stream *s, void *user)
{
    (void)s;
    never(NULL, user);
}

static void never_ping(shoal_node *n, int status, uint64_t rtt, void *user)
{
    (void)status;
    (void)rtt;
    never(n, user);
}

static void never_identify(shoal_node *n, int status,
                           const shoal_identify_info *info, void *user)
{
    (void)status;
    (void)info;
    never(n, user);
}

static void never_verified(shoal_node *n, int status, const char *id,
                           void *user)
{
    (void)status;
    (void)id;
    never(n, user);
}

static void never_check(shoal_node *n, size_t removed, void *user)
{
    (void)removed;
    never(n, user);
}

static void never_perf(shoal_node *n, int status,
                       const shoal_perf_result *result, void *user)
{
    (void)status;
    (void)result;
    never(n, user);
}

#define EXPECT_CANCELED(call)                                              \
    do {                                                                   \
        int rc_ = (call);                                                  \
        if (rc_ != SHOAL_ECANCELED)                                        \
            fail_msg("expected SHOAL_ECANCELED from %s on a %s node; got " \
                     "%d (%s)", #call, what, rc_, shoal_strerror(rc_));    \
    } while (0)

/* Every call that would start work on n, which is closing or stopped. */
static void expect_refused(shoal_node *n, const char *addr, const char *what)
{
    shoal_timer *t = NULL;
    shoal_replies replies;
    uint8_t buf[8];

    EXPECT_CANCELED(shoal_request(n, addr, "PING", "", 0, 0, NULL, never_end,
                                  NULL));
    EXPECT_CANCELED(shoal_request_owned(n, addr, "PING", malloc(1), 1, 0,
                                        NULL, never_end, NULL));
    EXPECT_CANCELED(shoal_request_into(n, addr, "PING", "", 0, buf,
                                       sizeof(buf), 0, NULL, never_end,
                                       NULL));
    /* a known peer, so that the router has a next hop */
    shoal_peer_add(n, shoal_node_id(n), "127.0.0.1", 1);
    EXPECT_CANCELED(shoal_request_peer(n, shoal_node_id(n), "PING", "", 0, 0,
                                       NULL, never_end, NULL));
    EXPECT_CANCELED(shoal_request_sync(n, addr, "PING", "", 0, 1000,
                                       &replies));
    assert_int_equal(replies.count, 0);
    EXPECT_CANCELED(shoal_perf(n, addr, 1, 1, never_perf, NULL));
    EXPECT_CANCELED(shoal_stream_open(n, addr, "/x/1", never_open, NULL));
    EXPECT_CANCELED(shoal_timer_start(n, 10, never, NULL, &t));
    assert_null(t);
    EXPECT_CANCELED(shoal_handle(n, "NEW", never_req, NULL));
    EXPECT_CANCELED(shoal_protocol_handle(n, "/x/1", never_stream, NULL));
    EXPECT_CANCELED(shoal_node_listen(n, "/ip4/127.0.0.1/tcp/0"));
    EXPECT_CANCELED(shoal_post(n, never, NULL));
    EXPECT_CANCELED(shoal_ping(n, addr, 1000, never_ping, NULL));
    EXPECT_CANCELED(shoal_identify(n, addr, 1000, never_identify, NULL));
    EXPECT_CANCELED(shoal_peer_add_verified(n, addr, 1000, never_verified,
                                            NULL));
    EXPECT_CANCELED(shoal_peers_check(n, never_check, NULL));
    EXPECT_CANCELED(shoal_node_drain(n, 1000, never, NULL));
}

static void test_calls_on_closing_node(void **state)
{
    pair p;

    (void)state;
    pair_up(&p, 0);
    shoal_node_close(p.b, on_closed_flag, &p.b_closed);
    expect_refused(p.b, p.a_addr, "closing");
    p.b = NULL;
    pair_down(&p);
}

static void stop_on_tick(shoal_node *n, void *user)
{
    (void)user;
    shoal_node_stop(n);
}

/* A node with its own loop, stopped and run out: what would start work is
 * refused until shoal_node_free. */
static void test_calls_on_stopped_node(void **state)
{
    shoal_config cfg;
    shoal_node *n;
    char addr[512];

    (void)state;
    pair_config(&cfg, 0);
    n = itest_node_new(NULL, &cfg);
    assert_int_equal(shoal_node_addr(n, addr, sizeof(addr)), 0);
    assert_int_equal(shoal_timer_start(n, 1, stop_on_tick, NULL, NULL), 0);
    assert_int_equal(shoal_node_run(n), 0);
    expect_refused(n, addr, "stopped");
    shoal_node_free(n);
}

/* ------------------------------------------ run with the app's own handles */

typedef struct runner {
    shoal_node *node;
    uv_thread_t thread;
    uv_timer_t app_timer;   /* the application's, on the node's loop */
    uv_mutex_t lock;        /* guards the counts below */
    uv_cond_t changed;
    int ticks;
    int returned;
    int rc;
} runner;

static void bump(runner *r, int *count)
{
    uv_mutex_lock(&r->lock);
    (*count)++;
    uv_cond_signal(&r->changed);
    uv_mutex_unlock(&r->lock);
}

static void app_tick(uv_timer_t *t)
{
    runner *r = t->data;

    bump(r, &r->ticks);
}

static void run_thread(void *arg)
{
    runner *r = arg;

    r->rc = shoal_node_run(r->node);
    bump(r, &r->returned);
}

/* Waits until the loop thread has brought *count to want, for ms at most. */
static int wait_count(runner *r, const int *count, int want, uint32_t ms)
{
    uint64_t until = uv_hrtime() + (uint64_t)ms * 1000000u;
    int ok;

    uv_mutex_lock(&r->lock);
    while (*count < want) {
        uint64_t now = uv_hrtime();
        if (now >= until ||
            uv_cond_timedwait(&r->changed, &r->lock, until - now) ==
                UV_ETIMEDOUT)
            break;
    }
    ok = *count >= want;
    uv_mutex_unlock(&r->lock);
    return ok;
}

static void test_run_returns_with_app_handles(void **state)
{
    shoal_config cfg;
    runner r;

    (void)state;
    memset(&r, 0, sizeof(r));
    uv_mutex_init(&r.lock);
    uv_cond_init(&r.changed);
    pair_config(&cfg, 0);
    r.node = itest_node_new(NULL, &cfg);
    assert_int_equal(uv_timer_init(shoal_node_loop(r.node), &r.app_timer), 0);
    r.app_timer.data = &r;
    assert_int_equal(uv_timer_start(&r.app_timer, app_tick, 5, 5), 0);
    assert_int_equal(uv_thread_create(&r.thread, run_thread, &r), 0);
    assert_true(wait_count(&r, &r.ticks, 2, 5000));
    shoal_node_stop(r.node); /* from this thread: any thread may */
    if (!wait_count(&r, &r.returned, 1, 5000))
        fail_msg("expected shoal_node_run to return after shoal_node_stop "
                 "with an application timer active; it still runs after 5 s");
    uv_thread_join(&r.thread);
    assert_int_equal(r.rc, 0);
    /* the loop owner closes its handles, then frees the node */
    uv_close((uv_handle_t *)&r.app_timer, NULL);
    shoal_node_free(r.node);
    uv_cond_destroy(&r.changed);
    uv_mutex_destroy(&r.lock);
}

/* ------------------------------------------------------------------ drain */

static void on_echo(shoal_req *req, const shoal_msg *msg, void *user)
{
    (void)user;
    shoal_reply(req, "ECHO", msg->data, msg->len);
}

/* The requester drains at once: its request still reaches the server and
 * the reply comes back before the node closes. Closed instead, the same
 * request ends with SHOAL_ECANCELED and no reply. */
static void drain_delivers(int classic)
{
    pair p;
    itest_call call;

    pair_up(&p, classic);
    assert_int_equal(shoal_handle(p.a, "ECHO", on_echo, NULL), 0);

    request(&p, "ECHO", "last words", 0, &call);
    shoal_node_close(p.b, on_closed_flag, &p.b_closed);
    assert_true(itest_run_until(&p.loop, itest_int_nonzero, &p.b_closed,
                                5000));
    assert_int_equal(call.status, SHOAL_ECANCELED);
    assert_int_equal(call.count, 0);
    itest_call_free(&call);

    shoal_config cfg;
    pair_config(&cfg, classic);
    cfg.listen = NULL;
    p.b = itest_node_new(&p.loop, &cfg);
    p.b_closed = 0;
    request(&p, "ECHO", "last words", 0, &call);
    assert_int_equal(shoal_node_drain(p.b, 5000, on_closed_flag, &p.b_closed),
                     0);
    /* draining: nothing new starts */
    assert_int_equal(shoal_request(p.b, p.a_addr, "ECHO", "", 0, 0, NULL,
                                   never_end, NULL),
                     SHOAL_ECANCELED);
    assert_true(itest_run_until(&p.loop, itest_int_nonzero, &p.b_closed,
                                5000));
    p.b = NULL;
    if (call.status != 0 || !itest_reply_is(&call, 0, "ECHO", "last words"))
        fail_msg("expected the reply \"last words\" and a clean end before "
                 "the drained node closed; got %zu replies, status %d (%s)",
                 call.count, call.status,
                 call.status == 1 ? "not ended" : shoal_strerror(call.status));
    itest_call_free(&call);
    pair_down(&p);
}

static void test_drain_delivers_secure(void **state)
{
    (void)state;
    drain_delivers(0);
}

static void test_drain_delivers_classic(void **state)
{
    (void)state;
    drain_delivers(1);
}

/* A request that never ends is cancelled at the drain's deadline. */
static void drain_deadline(int classic)
{
    pair p;
    held h = {0};
    itest_call call;
    uint64_t t0;

    pair_up(&p, classic);
    assert_int_equal(shoal_handle(p.a, "HOLD", on_hold, &h), 0);
    request(&p, "HOLD", "", 0, &call);
    assert_true(itest_run_until(&p.loop, ptr_set, &h.req, 5000));
    t0 = itest_now_ms();
    assert_int_equal(shoal_node_drain(p.b, 300, on_closed_flag, &p.b_closed),
                     0);
    assert_true(itest_run_until(&p.loop, itest_int_nonzero, &p.b_closed,
                                5000));
    p.b = NULL;
    if (call.status != SHOAL_ECANCELED)
        fail_msg("expected the unanswered request cancelled at the drain's "
                 "deadline; got status %d", call.status);
    if (call.ended_ms < t0 + 250)
        fail_msg("expected the drain to wait about 300 ms; it ended the "
                 "request after %llu ms",
                 (unsigned long long)(call.ended_ms - t0));
    shoal_req_done(h.req);
    itest_call_free(&call);
    pair_down(&p);
}

static void test_drain_deadline_secure(void **state)
{
    (void)state;
    drain_deadline(0);
}

static void test_drain_deadline_classic(void **state)
{
    (void)state;
    drain_deadline(1);
}

/* The serving side drains: a held request still gets its reply, sent
 * after the drain began; a new request is refused. */
typedef struct later {
    held h;
    shoal_node *node;
} later;

static void reply_later(uv_timer_t *t)
{
    held *h = t->data;

    assert_int_equal(shoal_reply(h->req, "LATE", "ok", 2), 0);
    shoal_req_done(h->req);
    uv_close((uv_handle_t *)t, NULL);
}

static void drain_server(int classic)
{
    pair p;
    held h = {0};
    itest_call call, refused;
    uv_timer_t later;

    pair_up(&p, classic);
    assert_int_equal(shoal_handle(p.a, "HOLD", on_hold, &h), 0);
    request(&p, "HOLD", "", 0, &call);
    assert_true(itest_run_until(&p.loop, ptr_set, &h.req, 5000));
    assert_int_equal(shoal_node_drain(p.a, 5000, on_closed_flag, &p.a_closed),
                     0);
    uv_timer_init(&p.loop, &later);
    later.data = &h;
    uv_timer_start(&later, reply_later, 50, 0);
    request(&p, "HOLD", "", 0, &refused);
    assert_true(itest_run_until(&p.loop, itest_int_nonzero, &p.a_closed,
                                5000));
    p.a = NULL;
    if (call.status != 0 || !itest_reply_is(&call, 0, "LATE", "ok"))
        fail_msg("expected the held request's reply before the drained "
                 "node closed; got %zu replies, status %d", call.count,
                 call.status);
    wait_end(&p, &refused);
    if (refused.status == 0)
        fail_msg("expected a request made during the drain to fail; it "
                 "ended cleanly with %zu replies", refused.count);
    itest_call_free(&call);
    itest_call_free(&refused);
    pair_down(&p);
}

static void test_drain_server_secure(void **state)
{
    (void)state;
    drain_server(0);
}

static void test_drain_server_classic(void **state)
{
    (void)state;
    drain_server(1);
}

/* shoal_node_run and drain: a program that sends its last message and
 * exits. run returns once the drain is over. */
typedef struct last_words {
    itest_call call;
    char addr[512];
} last_words;

static void send_and_drain(shoal_node *n, void *user)
{
    last_words *w = user;

    itest_call_init(&w->call);
    assert_int_equal(shoal_request(n, w->addr, "ECHO", "bye", 3, 0,
                                   itest_on_reply, itest_on_end, &w->call),
                     0);
    assert_int_equal(shoal_node_drain(n, 5000, NULL, NULL), 0);
}

static void serve_thread(void *arg)
{
    shoal_node_run(arg);
}

static void test_drain_with_run(void **state)
{
    shoal_config cfg;
    shoal_node *server, *client;
    uv_thread_t thread;
    last_words w;

    (void)state;
    pair_config(&cfg, 0);
    server = itest_node_new(NULL, &cfg);
    assert_int_equal(shoal_handle(server, "ECHO", on_echo, NULL), 0);
    assert_int_equal(shoal_node_addr(server, w.addr, sizeof(w.addr)), 0);
    assert_int_equal(uv_thread_create(&thread, serve_thread, server), 0);
    cfg.listen = NULL;
    client = itest_node_new(NULL, &cfg);
    assert_int_equal(shoal_post(client, send_and_drain, &w), 0);
    assert_int_equal(shoal_node_run(client), 0);
    shoal_node_free(client);
    shoal_node_stop(server);
    uv_thread_join(&thread);
    shoal_node_free(server);
    if (w.call.status != 0 || !itest_reply_is(&w.call, 0, "ECHO", "bye"))
        fail_msg("expected the reply \"bye\" before shoal_node_run returned "
                 "on the drained node; got %zu replies, status %d",
                 w.call.count, w.call.status);
    itest_call_free(&w.call);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_req_peer_secure),
        cmocka_unit_test(test_req_peer_classic),
        cmocka_unit_test(test_close_twice),
        cmocka_unit_test(test_own_loop_close_then_free),
        cmocka_unit_test(test_close_from_handler_secure),
        cmocka_unit_test(test_close_from_handler_classic),
        cmocka_unit_test(test_reply_after_done_secure),
        cmocka_unit_test(test_reply_after_done_classic),
        cmocka_unit_test(test_held_requester_gone_secure),
        cmocka_unit_test(test_held_requester_gone_classic),
        cmocka_unit_test(test_held_node_closing_secure),
        cmocka_unit_test(test_held_node_closing_classic),
        cmocka_unit_test(test_stream_in_closed),
        cmocka_unit_test(test_calls_on_closing_node),
        cmocka_unit_test(test_calls_on_stopped_node),
        cmocka_unit_test(test_run_returns_with_app_handles),
        cmocka_unit_test(test_drain_delivers_secure),
        cmocka_unit_test(test_drain_delivers_classic),
        cmocka_unit_test(test_drain_deadline_secure),
        cmocka_unit_test(test_drain_deadline_classic),
        cmocka_unit_test(test_drain_server_secure),
        cmocka_unit_test(test_drain_server_classic),
        cmocka_unit_test(test_drain_with_run),
    };

    if (getenv("SHOAL_TEST") != NULL) /* one test by name, or a pattern */
        cmocka_set_test_filter(getenv("SHOAL_TEST"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
