/* Two nodes in one process: a server node with a loop of its own and a
 * client node on the same loop. Requests and replies, held requests,
 * deadlines, the thread-safe surface (shoal_request_sync, shoal_node_stop),
 * node release, and the membership handlers byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "itest.h"
#include "shoal.h"

#define GUARD_MS 10000 /* no single step may take longer than this */

typedef struct fixture {
    shoal_node *a;      /* server: own loop, listening */
    shoal_node *b;      /* client: on a's loop, listening too */
    uv_loop_t *loop;
    char addr_a[64];
    char addr_b[64];

    /* set by handlers, on the loop thread unless noted */
    volatile int hang_started;
    shoal_req *hang_req;
    uv_timer_t late_timer;
    int late_timer_open;
    shoal_req *late_req;
    char late_remote[64];
} fixture;

/* --------------------------------------------------------------- handlers */

static void on_multi(shoal_req *req, const shoal_msg *msg, void *user)
{
    (void)msg;
    (void)user;
    shoal_reply(req, "REPL", "one", 3);
    shoal_reply(req, "REPL", "two", 3);
    shoal_replyf(req, "repl", "%s", "three"); /* the type is upper-cased */
}

static void on_echo(shoal_req *req, const shoal_msg *msg, void *user)
{
    char text[16];

    (void)user;
    /* Replies the type as the handler saw it, then the payload. */
    snprintf(text, sizeof(text), "type=%s", msg->type);
    shoal_reply(req, "REPL", text, strlen(text));
    shoal_reply(req, "REPL", msg->data, msg->len);
}

static void late_timer_closed(uv_handle_t *h)
{
    fixture *f = h->data;

    f->late_timer_open = 0;
}

static void on_late_timer(uv_timer_t *t)
{
    fixture *f = t->data;

    shoal_reply(f->late_req, "REPL", "later", 5);
    shoal_req_done(f->late_req);
    f->late_req = NULL;
    uv_close((uv_handle_t *)t, late_timer_closed);
}

/* Answers 100 ms after the handler returned. */
static void on_late(shoal_req *req, const shoal_msg *msg, void *user)
{
    fixture *f = user;

    (void)msg;
    shoal_req_hold(req);
    f->late_req = req;
    snprintf(f->late_remote, sizeof(f->late_remote), "%s",
             shoal_req_remote(req));
    uv_timer_init(shoal_node_loop(shoal_req_node(req)), &f->late_timer);
    f->late_timer.data = f;
    f->late_timer_open = 1;
    uv_timer_start(&f->late_timer, on_late_timer, 100, 0);
}

/* Holds, replies and ends the request, all inside the handler. */
static void on_hold_done(shoal_req *req, const shoal_msg *msg, void *user)
{
    (void)msg;
    (void)user;
    shoal_req_hold(req);
    shoal_reply(req, "REPL", "now", 3);
    shoal_req_done(req);
}

/* Holds the request and never answers: the node's deadline, the client's
 * deadline or the node's stop ends it. */
static void on_hang(shoal_req *req, const shoal_msg *msg, void *user)
{
    fixture *f = user;

    (void)msg;
    shoal_req_hold(req);
    f->hang_req = req;
    f->hang_started = 1;
}

/* ---------------------------------------------------------------- fixture */

static shoal_config test_config(void)
{
    shoal_config cfg;

    shoal_config_init(&cfg);

    cfg.classic = 1; /* the classic wire is under test */
    cfg.listen = "127.0.0.1:0";
    cfg.handle_signals = 0;
    cfg.log_level = SHOAL_LOG_ERROR;
    return cfg;
}

static void add_handlers(fixture *f, shoal_node *n)
{
    assert_int_equal(shoal_handle(n, "MULT", on_multi, f), 0);
    assert_int_equal(shoal_handle(n, "ECHO", on_echo, f), 0);
    assert_int_equal(shoal_handle(n, "LATE", on_late, f), 0);
    assert_int_equal(shoal_handle(n, "HANG", on_hang, f), 0);
    assert_int_equal(shoal_handle(n, "HDON", on_hold_done, f), 0);
}

static int setup_with(void **state, size_t max_peers,
                      uint32_t request_timeout_ms)
{
    fixture *f = calloc(1, sizeof(*f));
    shoal_config cfg = test_config();

    assert_non_null(f);
    cfg.max_peers = max_peers;
    if (request_timeout_ms != 0)
        cfg.request_timeout_ms = request_timeout_ms;
    assert_int_equal(shoal_node_new(&f->a, NULL, &cfg), 0);
    f->loop = shoal_node_loop(f->a);
    assert_non_null(f->loop);
    assert_int_equal(shoal_node_new(&f->b, f->loop, &cfg), 0);
    assert_ptr_equal(shoal_node_loop(f->b), f->loop);
    assert_true(shoal_node_port(f->a) > 0);
    assert_true(shoal_node_port(f->b) > 0);
    assert_int_not_equal(shoal_node_port(f->a), shoal_node_port(f->b));
    snprintf(f->addr_a, sizeof(f->addr_a), "127.0.0.1:%d",
             shoal_node_port(f->a));
    snprintf(f->addr_b, sizeof(f->addr_b), "127.0.0.1:%d",
             shoal_node_port(f->b));
    assert_string_equal(shoal_node_id(f->a), f->addr_a);
    assert_string_equal(shoal_node_host(f->a), "127.0.0.1");
    add_handlers(f, f->a);
    add_handlers(f, f->b);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, 0, 0);
}

static int setup_small_table(void **state)
{
    return setup_with(state, 2, 0);
}

static int setup_short_deadline(void **state)
{
    return setup_with(state, 0, 300);
}

/* Frees both nodes: b first (it lives on a's loop), then a, whose free
 * runs the loop until every handle of both has closed. */
static int teardown(void **state)
{
    fixture *f = *state;

    if (f->late_timer_open) {
        uv_close((uv_handle_t *)&f->late_timer, late_timer_closed);
        uv_run(f->loop, UV_RUN_NOWAIT);
    }
    if (f->b != NULL)
        shoal_node_free(f->b);
    if (f->a != NULL)
        shoal_node_free(f->a);
    free(f);
    return 0;
}

/* Makes a request from `from` and runs the loop until it ends. */
static void request(fixture *f, shoal_node *from, const char *addr,
                    const char *type, const char *payload, uint32_t timeout,
                    itest_call *call)
{
    itest_call_init(call);
    assert_int_equal(shoal_request(from, addr, type, payload,
                                   payload ? strlen(payload) : 0, timeout,
                                   itest_on_reply, itest_on_end, call),
                     0);
    assert_true(itest_run_until(f->loop, itest_call_ended, call, GUARD_MS));
    assert_int_equal(call->ended, 1);
}

/* ------------------------------------------------------------------ tests */

static void test_several_replies(void **state)
{
    fixture *f = *state;
    shoal_stats st;
    itest_call call;

    request(f, f->b, f->addr_a, "MULT", NULL, 0, &call);
    assert_int_equal(call.status, 0);
    assert_int_equal(call.count, 3);
    assert_true(itest_reply_is(&call, 0, "REPL", "one"));
    assert_true(itest_reply_is(&call, 1, "REPL", "two"));
    assert_true(itest_reply_is(&call, 2, "REPL", "three"));
    itest_call_free(&call);

    /* The same through a multiaddr, and in the other direction. */
    {
        char maddr[64];
        snprintf(maddr, sizeof(maddr), "/ip4/127.0.0.1/tcp/%d",
                 shoal_node_port(f->b));
        request(f, f->a, maddr, "MULT", NULL, 0, &call);
        assert_int_equal(call.status, 0);
        assert_int_equal(call.count, 3);
        itest_call_free(&call);
    }
    shoal_node_stats(f->a, &st);
    assert_int_equal(st.requests_served, 1);
    assert_int_equal(st.accepted, 1);
    assert_int_equal(st.dropped, 0);
}

/* shoal_request_into on the classic wire: the first reply that fits is
 * read into the caller's buffer, later ones and larger ones are not. */
static void test_request_into(void **state)
{
    fixture *f = *state;
    char buf[8];
    itest_call call;

    itest_call_init(&call);
    call.into = buf;
    assert_int_equal(shoal_request_into(f->b, f->addr_a, "MULT", NULL, 0, buf,
                                        sizeof(buf), 0, itest_on_reply,
                                        itest_on_end, &call),
                     0);
    assert_true(itest_run_until(f->loop, itest_call_ended, &call, GUARD_MS));
    assert_int_equal(call.status, 0);
    assert_int_equal(call.count, 3);
    assert_int_equal(call.in_buf, 1u); /* "one" only */
    assert_memory_equal(buf, "one", 3);
    assert_true(itest_reply_is(&call, 1, "REPL", "two"));
    assert_true(itest_reply_is(&call, 2, "REPL", "three"));
    itest_call_free(&call);

    /* ECHO answers "type=ECHO" (9 bytes: too big), then the payload */
    itest_call_init(&call);
    call.into = buf;
    assert_int_equal(shoal_request_into(f->b, f->addr_a, "ECHO", "abcd", 4,
                                        buf, sizeof(buf), 0, itest_on_reply,
                                        itest_on_end, &call),
                     0);
    assert_true(itest_run_until(f->loop, itest_call_ended, &call, GUARD_MS));
    assert_int_equal(call.status, 0);
    assert_int_equal(call.count, 2);
    assert_int_equal(call.in_buf, 2u);
    assert_true(itest_reply_is(&call, 0, "REPL", "type=ECHO"));
    assert_memory_equal(buf, "abcd", 4);
    itest_call_free(&call);

    assert_int_equal(shoal_request_into(f->b, f->addr_a, "ECHO", "x", 1, buf,
                                        0, 0, itest_on_reply, itest_on_end,
                                        &call),
                     SHOAL_EINVAL);
}

static void test_reply_later(void **state)
{
    fixture *f = *state;
    itest_call call;

    request(f, f->b, f->addr_a, "LATE", NULL, 0, &call);
    assert_int_equal(call.status, 0);
    assert_int_equal(call.count, 1);
    assert_true(itest_reply_is(&call, 0, "REPL", "later"));
    /* The reply came from the timer, not from the handler. */
    assert_true(call.ended_ms - call.started_ms >= 90);
    assert_null(f->late_req);
    /* The requester's address is the client's loopback socket. */
    assert_true(strncmp(f->late_remote, "127.0.0.1:", 10) == 0);
    itest_call_free(&call);

    /* Held and ended inside the handler: the same as not held. */
    request(f, f->b, f->addr_a, "HDON", NULL, 0, &call);
    assert_int_equal(call.status, 0);
    assert_int_equal(call.count, 1);
    assert_true(itest_reply_is(&call, 0, "REPL", "now"));
    itest_call_free(&call);
}

static int connections_zero(void *arg)
{
    shoal_stats st;

    shoal_node_stats(arg, &st);
    return st.connections == 0;
}

static void test_unknown_type(void **state)
{
    fixture *f = *state;
    shoal_stats st;
    itest_call call;

    request(f, f->b, f->addr_a, "NOPE", "x", 0, &call);
    assert_int_equal(call.status, 0);
    assert_int_equal(call.count, 0);
    itest_call_free(&call);
    assert_true(itest_run_until(f->loop, connections_zero, f->a, GUARD_MS));
    shoal_node_stats(f->a, &st);
    assert_int_equal(st.requests_served, 0);
    assert_int_equal(st.dropped, 0);

    /* A removed handler makes its type unknown. */
    assert_int_equal(shoal_handle(f->a, "MULT", NULL, NULL), 0);
    request(f, f->b, f->addr_a, "MULT", NULL, 0, &call);
    assert_int_equal(call.status, 0);
    assert_int_equal(call.count, 0);
    itest_call_free(&call);
}

typedef struct served_wait {
    shoal_node *node;
    uint64_t want;
} served_wait;

static int served_and_closed(void *arg)
{
    served_wait *w = arg;
    shoal_stats st;

    shoal_node_stats(w->node, &st);
    return st.requests_served >= w->want && st.connections == 0;
}

static void test_case_insensitive(void **state)
{
    fixture *f = *state;
    itest_call call;
    served_wait w = {f->a, 2};
    uint8_t frame[8 + 2], hdr[8];
    char payload[64];
    int fd, rc;

    /* Through the API: the client upper-cases the type. */
    request(f, f->b, f->addr_a, "echo", "hi", 0, &call);
    assert_int_equal(call.status, 0);
    assert_int_equal(call.count, 2);
    assert_true(itest_reply_is(&call, 0, "REPL", "type=ECHO"));
    assert_true(itest_reply_is(&call, 1, "REPL", "hi"));
    itest_call_free(&call);

    /* On the wire: a lower-case type, as the classic references may send,
     * reaches the ECHO handler. The kernel completes the connect; the loop
     * serves it; the replies wait in our socket buffer. */
    fd = itest_connect(shoal_node_port(f->a), 5000);
    assert_true(fd >= 0);
    itest_header(frame, "echo", 2);
    memcpy(frame + 8, "yo", 2);
    assert_int_equal(itest_send_all(fd, frame, sizeof(frame)), 0);
    assert_true(itest_run_until(f->loop, served_and_closed, &w, GUARD_MS));
    assert_int_equal(itest_recv_all(fd, hdr, 8), 0);
    assert_memory_equal(hdr, "REPL\0\0\0\x09", 8);
    assert_int_equal(itest_recv_all(fd, payload, 9), 0);
    assert_memory_equal(payload, "type=ECHO", 9);
    assert_int_equal(itest_recv_all(fd, hdr, 8), 0);
    assert_memory_equal(hdr, "REPL\0\0\0\x02", 8);
    assert_int_equal(itest_recv_all(fd, payload, 2), 0);
    assert_memory_equal(payload, "yo", 2);
    rc = itest_recv_all(fd, hdr, 1);
    assert_int_equal(rc, 1); /* end of replies is the close */
    close(fd);

    /* A short type is NUL-padded on the wire and matched the same way. */
    assert_int_equal(shoal_handle(f->a, "hi", on_multi, NULL), 0);
    request(f, f->b, f->addr_a, "HI", NULL, 0, &call);
    assert_int_equal(call.status, 0);
    assert_int_equal(call.count, 3);
    itest_call_free(&call);
}

static void test_connection_refused(void **state)
{
    fixture *f = *state;
    char addr[64];
    itest_call call;
    int port = itest_refusing_port();

    assert_true(port > 0);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    request(f, f->b, addr, "MULT", NULL, 2000, &call);
    assert_int_equal(call.status, SHOAL_ECONNREFUSED);
    assert_int_equal(call.count, 0);
    itest_call_free(&call);

    /* Bad arguments fail at once, with no callback. */
    itest_call_init(&call);
    assert_int_equal(shoal_request(f->b, "no-port", "MULT", NULL, 0, 0,
                                   itest_on_reply, itest_on_end, &call),
                     SHOAL_EBADADDR);
    assert_int_equal(shoal_request(f->b, f->addr_a, "TOOLONG", NULL, 0, 0,
                                   itest_on_reply, itest_on_end, &call),
                     SHOAL_EINVAL);
    assert_int_equal(shoal_request_peer(f->b, "nobody:1", "MULT", NULL, 0, 0,
                                        itest_on_reply, itest_on_end, &call),
                     SHOAL_ENOROUTE);
    uv_run(f->loop, UV_RUN_NOWAIT);
    assert_int_equal(call.ended, 0);
}

static void test_request_deadline(void **state)
{
    fixture *f = *state;
    itest_call call;
    uint64_t took;

    request(f, f->b, f->addr_a, "HANG", NULL, 200, &call);
    took = call.ended_ms - call.started_ms;
    assert_int_equal(call.status, SHOAL_ETIMEDOUT);
    assert_int_equal(call.count, 0);
    assert_true(f->hang_started);
    assert_true(took >= 190);
    assert_true(took < 5000);
    itest_call_free(&call);
    /* The held request on a is still there: teardown frees it. */
}

/* The serving side's deadline: a held request that is never answered is
 * closed by the node after request_timeout_ms (300 here); the requester sees
 * the close as the end of (no) replies. The handler may still end it. */
static void test_server_deadline(void **state)
{
    fixture *f = *state;
    itest_call call;
    uint64_t took;

    request(f, f->b, f->addr_a, "HANG", NULL, 5000, &call);
    took = call.ended_ms - call.started_ms;
    assert_int_equal(call.status, 0);
    assert_int_equal(call.count, 0);
    assert_true(took >= 250);
    assert_true(took < 5000);
    itest_call_free(&call);
    assert_non_null(f->hang_req);
    assert_int_equal(shoal_reply(f->hang_req, "REPL", "late", 4),
                     SHOAL_ECLOSED);
    shoal_req_done(f->hang_req);
    f->hang_req = NULL;
    assert_true(itest_run_until(f->loop, connections_zero, f->a, GUARD_MS));
    {
        shoal_stats st;
        shoal_node_stats(f->a, &st);
        assert_int_equal(st.dropped, 1);
    }
}

/* ------------------------------------------- a client facing a bad server
 * A raw listening socket plays the server. The kernel completes the connect
 * and holds the request; the loop's condition accepts it (non-blocking) and
 * sends whatever the case calls for. */
typedef struct evil {
    int listen_fd;
    int fd;              /* accepted, or -1 */
    const uint8_t *bytes;
    size_t len;
    size_t repeat;       /* send bytes this many times */
    int close_after;
} evil;

static int evil_listen(evil *e)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);

    memset(e, 0, sizeof(*e));
    e->fd = -1;
    e->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (e->listen_fd < 0)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(e->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(e->listen_fd, 16) != 0 ||
        getsockname(e->listen_fd, (struct sockaddr *)&sa, &len) != 0)
        return -1;
    return ntohs(sa.sin_port);
}

/* Loop condition: true once the connection is accepted and served. */
static int evil_serve(void *arg)
{
    evil *e = arg;
    size_t i;

    if (e->fd >= 0)
        return 1;
    e->fd = accept(e->listen_fd, NULL, NULL);
    if (e->fd < 0)
        return 0;
    for (i = 0; i < e->repeat; i++)
        if (itest_send_all(e->fd, e->bytes, e->len) != 0)
            break;
    if (e->close_after) {
        close(e->fd);
        e->fd = -2;
    }
    return 1;
}

static void evil_close(evil *e)
{
    if (e->fd >= 0)
        close(e->fd);
    close(e->listen_fd);
}

static void evil_case(fixture *f, const void *bytes, size_t len,
                      size_t repeat, int close_after, uint32_t timeout,
                      itest_call *call)
{
    evil e;
    char addr[64];
    int port = evil_listen(&e);

    assert_true(port > 0);
    e.bytes = bytes;
    e.len = len;
    e.repeat = repeat;
    e.close_after = close_after;
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    itest_call_init(call);
    assert_int_equal(shoal_request(f->b, addr, "MULT", "x", 1, timeout,
                                   itest_on_reply, itest_on_end, call),
                     0);
    if (repeat > 0)
        assert_true(itest_run_until(f->loop, evil_serve, &e, GUARD_MS));
    assert_true(itest_run_until(f->loop, itest_call_ended, call, GUARD_MS));
    evil_close(&e);
}

static void test_client_vs_bad_server(void **state)
{
    fixture *f = *state;
    static const uint8_t huge[8] = {'R', 'E', 'P', 'L', 0xff, 0xff, 0xff, 0xff};
    static const uint8_t cut[12] = {'R', 'E', 'P', 'L', 0, 0, 0, 16,
                                    'a', 'b', 'c', 'd'};
    static const uint8_t one[10] = {'R', 'E', 'P', 'L', 0, 0, 0, 2, 'o', 'k'};
    static const uint8_t empty[8] = {'R', 'E', 'P', 'L', 0, 0, 0, 0};
    itest_call call;
    uint64_t took;

    /* A reply announcing 4 GiB: refused at the header. */
    evil_case(f, huge, sizeof(huge), 1, 0, 5000, &call);
    assert_int_equal(call.status, SHOAL_EMSGSIZE);
    assert_int_equal(call.count, 0);
    itest_call_free(&call);

    /* A reply cut short by the close: a protocol error, not a clean end. */
    evil_case(f, cut, sizeof(cut), 1, 1, 5000, &call);
    assert_int_equal(call.status, SHOAL_EPROTO);
    assert_int_equal(call.count, 0);
    itest_call_free(&call);

    /* One good reply, then silence: the reply arrives, the deadline ends
     * the request. */
    evil_case(f, one, sizeof(one), 1, 0, 300, &call);
    took = call.ended_ms - call.started_ms;
    assert_int_equal(call.status, SHOAL_ETIMEDOUT);
    assert_int_equal(call.count, 1);
    assert_true(itest_reply_is(&call, 0, "REPL", "ok"));
    assert_true(took >= 250 && took < 5000);
    itest_call_free(&call);

    /* Never accepted at all (the kernel's backlog holds it). */
    evil_case(f, one, sizeof(one), 0, 0, 300, &call);
    assert_int_equal(call.status, SHOAL_ETIMEDOUT);
    assert_int_equal(call.count, 0);
    itest_call_free(&call);

    /* A thousand empty replies, then the close: every one is reported. */
    evil_case(f, empty, sizeof(empty), 1000, 1, 5000, &call);
    assert_int_equal(call.status, 0);
    assert_int_equal(call.count, 1000);
    assert_true(itest_reply_is(&call, 0, "REPL", ""));
    itest_call_free(&call);
}

/* -------------------------------------------- threads: sync and stop */

typedef struct thread_ctx {
    fixture *f;
    /* results, read by the test thread after the join */
    int sync_rc;
    size_t sync_count;
    int sync_ok;
    int sync_refused_rc;
    int busy_rc;
    volatile int busy_done;
    int waited_ok;
    itest_call hang_call; /* touched on the loop thread only */
    int post_rc;
} thread_ctx;

static void post_sync_on_loop(shoal_node *node, void *user)
{
    thread_ctx *t = user;
    shoal_replies r;

    /* On the loop thread, a blocking request would wait on itself. */
    t->busy_rc = shoal_request_sync(node, t->f->addr_b, "MULT", NULL, 0, 1000,
                                    &r);
    shoal_replies_free(&r);
    t->busy_done = 1;
}

/* Polls a flag set by the loop thread, for at most ms. */
static int wait_flag(volatile int *flag, uint32_t ms)
{
    uint64_t end = itest_now_ms() + ms;

    while (!*flag) {
        if (itest_now_ms() > end)
            return 0;
        uv_sleep(1);
    }
    return 1;
}

static void sync_thread(void *arg)
{
    thread_ctx *t = arg;
    fixture *f = t->f;
    shoal_replies r;
    char refused[64];

    t->sync_rc = shoal_request_sync(f->b, f->addr_a, "MULT", NULL, 0, 5000,
                                    &r);
    t->sync_count = r.count;
    t->sync_ok = r.count == 3 && strcmp(r.msgs[0].type, "REPL") == 0 &&
                 r.msgs[0].len == 3 &&
                 memcmp(r.msgs[0].data, "one", 3) == 0 &&
                 r.msgs[2].len == 5 &&
                 memcmp(r.msgs[2].data, "three", 5) == 0 &&
                 r.msgs[2].data[5] == '\0';
    shoal_replies_free(&r);

    snprintf(refused, sizeof(refused), "127.0.0.1:%d", itest_refusing_port());
    t->sync_refused_rc = shoal_request_sync(f->a, refused, "MULT", NULL, 0,
                                            5000, &r);
    shoal_replies_free(&r);

    t->post_rc = shoal_post(f->a, post_sync_on_loop, t);
    t->waited_ok = wait_flag(&t->busy_done, GUARD_MS);
    shoal_node_stop(f->b);
    shoal_node_stop(f->a);
}

static void on_watchdog(uv_timer_t *timer)
{
    fixture *f = timer->data;

    /* The test failed to finish in time: stop everything so that
     * shoal_node_run returns and the assertions report it. */
    shoal_node_stop(f->a);
    shoal_node_stop(f->b);
}

static void start_watchdog(fixture *f, uv_timer_t *wd)
{
    uv_timer_init(f->loop, wd);
    wd->data = f;
    uv_timer_start(wd, on_watchdog, 2 * GUARD_MS, 0);
    uv_unref((uv_handle_t *)wd); /* does not keep shoal_node_run going */
}

static void stop_watchdog(fixture *f, uv_timer_t *wd)
{
    int closed = 0;

    wd->data = &closed;
    uv_close((uv_handle_t *)wd, itest_guard_closed);
    while (closed != 2)
        uv_run(f->loop, UV_RUN_NOWAIT);
}

static void test_sync_from_thread(void **state)
{
    fixture *f = *state;
    thread_ctx t;
    uv_thread_t th;
    uv_timer_t wd;
    shoal_replies r;
    uint64_t start;

    memset(&t, 0, sizeof(t));
    t.f = f;
    start_watchdog(f, &wd);
    assert_int_equal(uv_thread_create(&th, sync_thread, &t), 0);
    start = itest_now_ms();
    assert_int_equal(shoal_node_run(f->a), 0); /* until the thread stops */
    uv_thread_join(&th);
    stop_watchdog(f, &wd);

    assert_true(itest_now_ms() - start < 2 * GUARD_MS);
    assert_int_equal(t.sync_rc, 0);
    assert_int_equal(t.sync_count, 3);
    assert_true(t.sync_ok);
    assert_int_equal(t.sync_refused_rc, SHOAL_ECONNREFUSED);
    assert_int_equal(t.post_rc, 0);
    assert_true(t.waited_ok);
    assert_int_equal(t.busy_rc, SHOAL_EBUSY);

    /* A stopped node takes no new requests, posted or not: the blocking
     * helper must not wait for a loop that will not run again. */
    assert_int_equal(shoal_post(f->a, post_sync_on_loop, &t),
                     SHOAL_ECANCELED);
    assert_int_equal(shoal_request_sync(f->a, f->addr_b, "MULT", NULL, 0,
                                        1000, &r),
                     SHOAL_ECANCELED);
    assert_int_equal(r.count, 0);
    shoal_replies_free(&r);
    assert_int_equal(shoal_request(f->b, f->addr_a, "MULT", NULL, 0, 0,
                                   itest_on_reply, itest_on_end, &t),
                     SHOAL_ECANCELED);
    assert_int_equal(shoal_node_run(f->a), 0);
}

static void start_hang(shoal_node *node, void *user)
{
    thread_ctx *t = user;

    itest_call_init(&t->hang_call);
    if (shoal_request(node, t->f->addr_a, "HANG", NULL, 0, 0, itest_on_reply,
                      itest_on_end, &t->hang_call) < 0)
        t->hang_call.ended = -1;
}

static void stop_thread(void *arg)
{
    thread_ctx *t = arg;
    fixture *f = t->f;

    t->post_rc = shoal_post(f->b, start_hang, t);
    /* Wait until a's handler holds the request, then stop the client:
     * its outstanding request must end with SHOAL_ECANCELED. */
    t->waited_ok = wait_flag(&f->hang_started, GUARD_MS);
    shoal_node_stop(f->b);
    t->waited_ok &= wait_flag(&t->hang_call.ended, GUARD_MS);
    shoal_node_stop(f->a);
}

static void test_stop_from_thread(void **state)
{
    fixture *f = *state;
    thread_ctx t;
    uv_thread_t th;
    uv_timer_t wd;
    shoal_stats st;

    memset(&t, 0, sizeof(t));
    t.f = f;
    start_watchdog(f, &wd);
    assert_int_equal(uv_thread_create(&th, stop_thread, &t), 0);
    assert_int_equal(shoal_node_run(f->a), 0);
    uv_thread_join(&th);
    stop_watchdog(f, &wd);

    assert_int_equal(t.post_rc, 0);
    assert_true(t.waited_ok);
    assert_int_equal(t.hang_call.ended, 1);
    assert_int_equal(t.hang_call.status, SHOAL_ECANCELED);
    assert_int_equal(t.hang_call.count, 0);
    itest_call_free(&t.hang_call);
    shoal_node_stats(f->a, &st);
    assert_int_equal(st.connections, 0);
    shoal_node_stats(f->b, &st);
    assert_int_equal(st.connections, 0);
    /* Posting to a stopped node still runs nothing new; stop is idempotent. */
    shoal_node_stop(f->a);
    shoal_node_stop(f->b);
}

/* Freeing nodes in the middle of everything: outstanding requests in both
 * directions, a held request, a periodic timer, known peers, posted work.
 * Everything must be released (the sanitizer and valgrind runs check). */
static void tick(shoal_node *node, void *user)
{
    (void)node;
    (*(int *)user)++;
}

static void posted_noop(shoal_node *node, void *user)
{
    (void)node;
    (*(int *)user)++;
}

static void test_free_releases_everything(void **state)
{
    fixture *f = *state;
    itest_call hang, slow;
    shoal_timer *timer = NULL;
    int ticks = 0, posted = 0;

    assert_int_equal(shoal_peer_add(f->a, "x:1", "127.0.0.1", 1), 0);
    assert_int_equal(shoal_peer_add(f->b, f->addr_a, "127.0.0.1",
                                    (uint16_t)shoal_node_port(f->a)), 0);
    assert_int_equal(shoal_timer_start(f->a, 5, tick, &ticks, &timer), 0);
    assert_non_null(timer);
    assert_true(itest_run_until(f->loop, itest_int_nonzero, &ticks,
                                GUARD_MS));
    itest_call_init(&hang);
    assert_int_equal(shoal_request(f->b, f->addr_a, "HANG", NULL, 0, 0,
                                   itest_on_reply, itest_on_end, &hang), 0);
    assert_true(itest_run_until(f->loop, itest_int_nonzero,
                                (void *)&f->hang_started, GUARD_MS));
    /* And one the other way: b holds it (f->hang_started is set again). */
    f->hang_started = 0;
    itest_call_init(&slow);
    assert_int_equal(shoal_request(f->a, f->addr_b, "HANG", "data", 4, 0,
                                   itest_on_reply, itest_on_end, &slow), 0);
    assert_true(itest_run_until(f->loop, itest_int_nonzero,
                                (void *)&f->hang_started, GUARD_MS));
    assert_int_equal(shoal_post(f->a, posted_noop, &posted), 0);

    /* b goes first: its outstanding request ends at once, and its held
     * request is released with it. */
    shoal_node_free(f->b);
    f->b = NULL;
    assert_int_equal(hang.ended, 1);
    assert_int_equal(hang.status, SHOAL_ECANCELED);
    /* Freeing a runs the loop until both nodes are gone. a's request to b
     * ends either way: b closed it (0) or a stopped first (canceled). */
    shoal_node_free(f->a);
    f->a = NULL;
    assert_int_equal(slow.ended, 1);
    assert_true(slow.status == SHOAL_ECANCELED || slow.status == 0);
    assert_int_equal(slow.count, 0);
    assert_int_equal(posted, 1); /* posted work runs, even when stopping */
    itest_call_free(&hang);
    itest_call_free(&slow);
}

/* ------------------------------------------------------------ membership */

static void test_membership_answers(void **state)
{
    fixture *f = *state;
    itest_call call;
    char text[128];

    assert_int_equal(shoal_membership_enable(f->a), 0);

    request(f, f->b, f->addr_a, "NAME", NULL, 0, &call);
    assert_int_equal(call.status, 0);
    assert_int_equal(call.count, 1);
    assert_true(itest_reply_is(&call, 0, "REPL", f->addr_a));
    itest_call_free(&call);

    request(f, f->b, f->addr_a, "LIST", NULL, 0, &call);
    assert_int_equal(call.count, 1);
    assert_true(itest_reply_is(&call, 0, "REPL", "0"));
    itest_call_free(&call);

    request(f, f->b, f->addr_a, "JOIN", "p1 127.0.0.1 1111", 0, &call);
    assert_int_equal(call.status, 0);
    assert_int_equal(call.count, 1);
    assert_true(itest_reply_is(&call, 0, "REPL", "Join: peer added: p1"));
    itest_call_free(&call);

    request(f, f->b, f->addr_a, "JOIN", "p1 127.0.0.1 1111", 0, &call);
    assert_int_equal(call.count, 1);
    assert_true(
        itest_reply_is(&call, 0, "ERRO", "Join: peer already inserted p1"));
    itest_call_free(&call);

    /* Malformed: too few fields, too many, a port that is not one. */
    {
        static const char *const bad[] = {"p2", "p2 127.0.0.1",
                                          "p2 127.0.0.1 1 extra",
                                          "p2 127.0.0.1 port", "p2 h 0",
                                          "p2 h 70000"};
        size_t i;
        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            request(f, f->b, f->addr_a, "JOIN", bad[i], 0, &call);
            assert_int_equal(call.count, 1);
            if (!itest_reply_is(&call, 0, "ERRO",
                                "Join: incorrect arguments"))
                fail_msg("JOIN '%s' got %s '%s'", bad[i], call.type[0],
                         call.data[0]);
            itest_call_free(&call);
        }
        /* An empty JOIN is malformed too. */
        request(f, f->b, f->addr_a, "JOIN", NULL, 0, &call);
        assert_true(
            itest_reply_is(&call, 0, "ERRO", "Join: incorrect arguments"));
        itest_call_free(&call);
    }

    request(f, f->b, f->addr_a, "join", "p2 localhost 2222", 0, &call);
    assert_true(itest_reply_is(&call, 0, "REPL", "Join: peer added: p2"));
    itest_call_free(&call);
    assert_int_equal(shoal_peer_count(f->a), 2);
    assert_true(shoal_peers_full(f->a));

    /* The table holds 2: full wins over everything else. */
    request(f, f->b, f->addr_a, "JOIN", "p3 127.0.0.1 3333", 0, &call);
    assert_int_equal(call.count, 1);
    assert_true(itest_reply_is(&call, 0, "ERRO", "Join: too many peers"));
    itest_call_free(&call);
    request(f, f->b, f->addr_a, "JOIN", "p1 127.0.0.1 1111", 0, &call);
    assert_true(itest_reply_is(&call, 0, "ERRO", "Join: too many peers"));
    itest_call_free(&call);

    request(f, f->b, f->addr_a, "LIST", NULL, 0, &call);
    assert_int_equal(call.status, 0);
    assert_int_equal(call.count, 3);
    assert_true(itest_reply_is(&call, 0, "REPL", "2"));
    assert_true(itest_reply_is(&call, 1, "REPL", "p1 127.0.0.1 1111"));
    assert_true(itest_reply_is(&call, 2, "REPL", "p2 localhost 2222"));
    itest_call_free(&call);

    request(f, f->b, f->addr_a, "QUIT", "p1", 0, &call);
    assert_int_equal(call.count, 1);
    assert_true(itest_reply_is(&call, 0, "REPL", "Quit: peer removed: p1"));
    itest_call_free(&call);
    request(f, f->b, f->addr_a, "QUIT", "p1", 0, &call);
    assert_int_equal(call.count, 1);
    assert_true(
        itest_reply_is(&call, 0, "ERRO", "Quit: peer not found: p1"));
    itest_call_free(&call);

    request(f, f->b, f->addr_a, "LIST", NULL, 0, &call);
    assert_int_equal(call.count, 2);
    assert_true(itest_reply_is(&call, 0, "REPL", "1"));
    assert_true(itest_reply_is(&call, 1, "REPL", "p2 localhost 2222"));
    itest_call_free(&call);

    /* Room again: the reply names the peer exactly as sent. */
    snprintf(text, sizeof(text), "%s 127.0.0.1 %d", f->addr_b,
             shoal_node_port(f->b));
    request(f, f->b, f->addr_a, "JOIN", text, 0, &call);
    snprintf(text, sizeof(text), "Join: peer added: %s", f->addr_b);
    assert_true(itest_reply_is(&call, 0, "REPL", text));
    itest_call_free(&call);

    request(f, f->b, f->addr_a, "PING", NULL, 0, &call);
    assert_int_equal(call.status, 0);
    assert_true(call.count <= 1);
    if (call.count == 1)
        assert_string_equal(call.type[0], "REPL");
    itest_call_free(&call);
}

static void test_membership_self_join(void **state)
{
    fixture *f = *state;
    itest_call call;
    char text[128], want[160];

    assert_int_equal(shoal_membership_enable(f->a), 0);
    snprintf(text, sizeof(text), "%s 127.0.0.1 %d", f->addr_a,
             shoal_node_port(f->a));
    request(f, f->b, f->addr_a, "JOIN", text, 0, &call);
    snprintf(want, sizeof(want), "Join: peer already inserted %s", f->addr_a);
    assert_true(itest_reply_is(&call, 0, "ERRO", want));
    itest_call_free(&call);
    assert_int_equal(shoal_peer_count(f->a), 0);
}

/* The join walk between two nodes: both end up knowing each other. */
typedef struct join_wait {
    int done;
    size_t added;
} join_wait;

static void on_joined(shoal_node *node, int status, size_t added,
                      void *user)
{
    join_wait *w = user;

    (void)node;
    (void)status;
    w->added = added;
    w->done = 1;
}

static void test_join_walk(void **state)
{
    fixture *f = *state;
    join_wait w = {0, 0};

    assert_int_equal(shoal_membership_enable(f->a), 0);
    assert_int_equal(shoal_membership_enable(f->b), 0);
    assert_int_equal(shoal_join(f->b, f->addr_a, 2, on_joined, &w), 0);
    assert_true(itest_run_until(f->loop, itest_int_nonzero, &w.done,
                                GUARD_MS));
    assert_int_equal(w.added, 1);
    assert_non_null(shoal_peer_get(f->b, f->addr_a));
    assert_non_null(shoal_peer_get(f->a, f->addr_b));
    assert_int_equal(shoal_peer_count(f->a), 1);
    assert_int_equal(shoal_peer_count(f->b), 1);
    assert_int_equal(shoal_peer_get(f->a, f->addr_b)->port,
                     shoal_node_port(f->b));
    assert_int_equal(shoal_join(f->b, "nonsense", 2, NULL, NULL),
                     SHOAL_EBADADDR);

    /* Walking to oneself, or to a peer already known, adds nothing. */
    w.done = 0;
    assert_int_equal(shoal_join(f->a, f->addr_a, 2, on_joined, &w), 0);
    assert_true(itest_run_until(f->loop, itest_int_nonzero, &w.done,
                                GUARD_MS));
    assert_int_equal(w.added, 0);
    w.done = 0;
    assert_int_equal(shoal_join(f->b, f->addr_a, 2, on_joined, &w), 0);
    assert_true(itest_run_until(f->loop, itest_int_nonzero, &w.done,
                                GUARD_MS));
    assert_int_equal(w.added, 0);
    assert_int_equal(shoal_peer_count(f->a), 1);
    assert_int_equal(shoal_peer_count(f->b), 1);

    /* b forgot a, a still knows b ("already inserted"): b takes a back */
    assert_int_equal(shoal_peer_remove(f->b, f->addr_a), 0);
    w.done = 0;
    assert_int_equal(shoal_join(f->b, f->addr_a, 2, on_joined, &w), 0);
    assert_true(itest_run_until(f->loop, itest_int_nonzero, &w.done,
                                GUARD_MS));
    assert_int_equal(w.added, 1);
    assert_non_null(shoal_peer_get(f->b, f->addr_a));
    assert_int_equal(shoal_peer_count(f->a), 1);
}

/* -------------------------------------------------------------- liveness */

typedef struct check_wait {
    int done;
    size_t removed;
} check_wait;

static void on_checked(shoal_node *node, size_t removed, void *user)
{
    check_wait *w = user;

    (void)node;
    w->removed = removed;
    w->done = 1;
}

static void test_peers_check(void **state)
{
    fixture *f = *state;
    check_wait w = {0, 0};
    int dead = itest_refusing_port();

    assert_true(dead > 0);
    assert_int_equal(shoal_membership_enable(f->b), 0);
    assert_int_equal(shoal_peer_add(f->a, "dead", "127.0.0.1",
                                    (uint16_t)dead), 0);
    assert_int_equal(shoal_peer_add(f->a, "live", "127.0.0.1",
                                    (uint16_t)shoal_node_port(f->b)), 0);
    assert_int_equal(shoal_peers_check(f->a, on_checked, &w), 0);
    assert_true(itest_run_until(f->loop, itest_int_nonzero, &w.done,
                                GUARD_MS));
    assert_int_equal(w.removed, 1);
    assert_int_equal(shoal_peer_count(f->a), 1);
    assert_null(shoal_peer_get(f->a, "dead"));
    assert_non_null(shoal_peer_get(f->a, "live"));

    /* A peer that answers nothing but does accept (no PING handler) is
     * alive too: a's own listener with no membership enabled. */
    assert_int_equal(shoal_peer_add(f->b, "quiet", "127.0.0.1",
                                    (uint16_t)shoal_node_port(f->a)), 0);
    w.done = 0;
    assert_int_equal(shoal_peers_check(f->b, on_checked, &w), 0);
    assert_true(itest_run_until(f->loop, itest_int_nonzero, &w.done,
                                GUARD_MS));
    assert_int_equal(w.removed, 0);
    assert_non_null(shoal_peer_get(f->b, "quiet"));

    /* An empty table finishes at once. */
    assert_int_equal(shoal_peer_remove(f->b, "quiet"), 0);
    w.done = 0;
    assert_int_equal(shoal_peers_check(f->b, on_checked, &w), 0);
    assert_true(itest_run_until(f->loop, itest_int_nonzero, &w.done,
                                GUARD_MS));
    assert_int_equal(w.removed, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_several_replies, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_request_into, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply_later, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_case_insensitive, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_connection_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_request_deadline, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_client_vs_bad_server, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_server_deadline,
                                        setup_short_deadline, teardown),
        cmocka_unit_test_setup_teardown(test_sync_from_thread, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stop_from_thread, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_free_releases_everything, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_membership_answers,
                                        setup_small_table, teardown),
        cmocka_unit_test_setup_teardown(test_membership_self_join, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_join_walk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peers_check, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
