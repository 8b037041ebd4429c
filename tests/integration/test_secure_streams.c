/* Secure mode end to end on loopback: two nodes, the full upgrade
 * (multistream-select, Noise XX, yamux), streams with protocol ids, one
 * connection reused for many streams, the wrong peer id refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "itest.h"

#define ECHO_PROTO "/test/echo/1.0.0"

typedef struct pair {
    uv_loop_t loop;
    shoal_node *a, *b;
    char b_addr[512];
} pair;

static void echo_data(shoal_stream *s, const uint8_t *data, size_t len,
                      void *user)
{
    (void)user;
    assert_int_equal(shoal_stream_write(s, data, len), 0);
}

static void echo_eof(shoal_stream *s, void *user)
{
    (void)user;
    shoal_stream_close(s);
}

static void on_echo_stream(shoal_stream *s, void *user)
{
    static const shoal_stream_cbs cbs = {.data = echo_data, .eof = echo_eof};
    (void)user;
    assert_string_equal(shoal_stream_protocol(s), ECHO_PROTO);
    shoal_stream_set_cbs(s, &cbs, NULL);
}

static void pair_up(pair *p)
{
    shoal_config cfg;

    assert_int_equal(uv_loop_init(&p->loop), 0);
    shoal_config_init(&cfg);
    cfg.classic = 0;
    cfg.handle_signals = 0;
    cfg.log_level = getenv("SHOAL_DEBUG") ? SHOAL_LOG_DEBUG : SHOAL_LOG_WARN;
    cfg.listen = "127.0.0.1:0";
    assert_int_equal(shoal_node_new(&p->a, &p->loop, &cfg), 0);
    assert_int_equal(shoal_node_new(&p->b, &p->loop, &cfg), 0);
    assert_int_equal(shoal_protocol_handle(p->b, ECHO_PROTO, on_echo_stream, NULL),
                     0);
    snprintf(p->b_addr, sizeof(p->b_addr), "/ip4/127.0.0.1/tcp/%d/p2p/%s",
             shoal_node_port(p->b), shoal_node_peer_id(p->b));
    assert_string_equal(shoal_node_id(p->b), shoal_node_peer_id(p->b));
    assert_memory_equal(shoal_node_peer_id(p->b), "12D3KooW", 8);
}

static void pair_down(pair *p)
{
    shoal_node *both[2] = {p->a, p->b};

    assert_true(itest_close_nodes(&p->loop, both, 2, 5000));
    assert_int_equal(uv_loop_close(&p->loop), 0);
}

/* A client stream that writes a pattern, closes, and checks the echo. */
typedef struct client {
    size_t size;
    size_t got;
    int bad;
    int eof;
    int done;
    int status;
    int open_status;
} client;

static uint8_t pattern(size_t i)
{
    return (uint8_t)(i % 251);
}

static void cl_data(shoal_stream *s, const uint8_t *data, size_t len,
                    void *user)
{
    client *c = user;
    size_t i;

    (void)s;
    for (i = 0; i < len; i++)
        if (data[i] != pattern(c->got + i))
            c->bad = 1;
    c->got += len;
}

static void cl_eof(shoal_stream *s, void *user)
{
    (void)s;
    ((client *)user)->eof = 1;
}

static void cl_closed(shoal_stream *s, int status, void *user)
{
    client *c = user;

    (void)s;
    c->status = status;
    c->done = 1;
}

static void cl_open(shoal_stream *s, int status, void *user)
{
    static const shoal_stream_cbs cbs = {
        .data = cl_data, .eof = cl_eof, .closed = cl_closed};
    client *c = user;
    uint8_t *buf;
    size_t i;

    c->open_status = status;
    if (s == NULL) {
        c->done = 1;
        return;
    }
    shoal_stream_set_cbs(s, &cbs, c);
    buf = malloc(c->size);
    for (i = 0; i < c->size; i++)
        buf[i] = pattern(i);
    assert_int_equal(shoal_stream_write(s, buf, c->size), 0);
    free(buf);
    shoal_stream_close(s);
}

static int client_done(void *arg)
{
    return ((client *)arg)->done;
}

static void test_echo_one_stream(void **state)
{
    pair p;
    client c = {.size = 1000};

    (void)state;
    pair_up(&p);
    assert_int_equal(shoal_stream_open(p.a, p.b_addr, ECHO_PROTO, cl_open, &c), 0);
    assert_true(itest_run_until(&p.loop, client_done, &c, 5000));
    assert_int_equal(c.open_status, 0);
    assert_int_equal(c.status, 0);
    assert_int_equal(c.got, 1000);
    assert_false(c.bad);
    assert_true(c.eof);
    pair_down(&p);
}

#define NSTREAMS 50
static int all_done(void *arg)
{
    client *c = arg;
    int i;

    for (i = 0; i < NSTREAMS; i++)
        if (!c[i].done)
            return 0;
    return 1;
}

static void test_many_streams_one_connection(void **state)
{
    pair p;
    client c[NSTREAMS];
    shoal_stats st;
    int i;

    (void)state;
    pair_up(&p);
    memset(c, 0, sizeof(c));
    for (i = 0; i < NSTREAMS; i++) {
        c[i].size = 300 * 1024; /* beyond the 256 KiB window */
        assert_int_equal(
            shoal_stream_open(p.a, p.b_addr, ECHO_PROTO, cl_open, &c[i]), 0);
    }
    assert_true(itest_run_until(&p.loop, all_done, c, 20000));
    for (i = 0; i < NSTREAMS; i++) {
        assert_int_equal(c[i].open_status, 0);
        assert_int_equal(c[i].got, c[i].size);
        assert_false(c[i].bad);
    }
    shoal_node_stats(p.a, &st);
    assert_int_equal(st.connections, 1);
    pair_down(&p);
}

static void test_unknown_protocol_refused(void **state)
{
    pair p;
    client c = {.size = 10};

    (void)state;
    pair_up(&p);
    assert_int_equal(
        shoal_stream_open(p.a, p.b_addr, "/no/such/1.0.0", cl_open, &c), 0);
    assert_true(itest_run_until(&p.loop, client_done, &c, 5000));
    assert_int_equal(c.open_status, SHOAL_ENOENT);
    pair_down(&p);
}

static void test_wrong_peer_id_refused(void **state)
{
    pair p;
    client c = {.size = 10};
    char addr[512];

    (void)state;
    pair_up(&p);
    /* node a's own id is certainly not b's */
    snprintf(addr, sizeof(addr), "/ip4/127.0.0.1/tcp/%d/p2p/%s",
             shoal_node_port(p.b),
             "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq");
    assert_int_equal(shoal_stream_open(p.a, addr, ECHO_PROTO, cl_open, &c), 0);
    assert_true(itest_run_until(&p.loop, client_done, &c, 5000));
    assert_int_equal(c.open_status, SHOAL_EPEERID);
    pair_down(&p);
}

static void test_connection_refused(void **state)
{
    pair p;
    client c = {.size = 10};

    (void)state;
    pair_up(&p);
    assert_int_equal(
        shoal_stream_open(p.a, "/ip4/127.0.0.1/tcp/1", ECHO_PROTO, cl_open, &c), 0);
    assert_true(itest_run_until(&p.loop, client_done, &c, 5000));
    assert_int_equal(c.open_status, SHOAL_ECONNREFUSED);
    pair_down(&p);
}

static void on_pong(shoal_node *node, int status, uint64_t rtt_us,
                    void *user)
{
    int *out = user;

    (void)node;
    (void)rtt_us;
    *out = status == 0 ? 1 : status;
}

static void test_ping(void **state)
{
    pair p;
    int result = 0;
    char addr[64];

    (void)state;
    pair_up(&p);
    assert_int_equal(shoal_ping(p.a, p.b_addr, 5000, on_pong, &result), 0);
    assert_true(itest_run_until(&p.loop, itest_int_nonzero, &result, 5000));
    assert_int_equal(result, 1);
    /* without the peer id, to the same node */
    result = 0;
    snprintf(addr, sizeof(addr), "/ip4/127.0.0.1/tcp/%d", shoal_node_port(p.b));
    assert_int_equal(shoal_ping(p.a, addr, 5000, on_pong, &result), 0);
    assert_true(itest_run_until(&p.loop, itest_int_nonzero, &result, 5000));
    assert_int_equal(result, 1);
    /* and a port where nobody listens */
    result = 0;
    assert_int_equal(shoal_ping(p.a, "/ip4/127.0.0.1/tcp/1", 5000, on_pong,
                                &result), 0);
    assert_true(itest_run_until(&p.loop, itest_int_nonzero, &result, 5000));
    assert_int_equal(result, SHOAL_ECONNREFUSED);
    pair_down(&p);
}

/* ---------------------------------------------- typed messages on streams */

static void on_echo_msg(shoal_req *req, const shoal_msg *msg, void *user)
{
    (void)user;
    shoal_reply(req, "REPL", msg->data, msg->len);
    shoal_reply(req, "REPL", "second", 6);
}

static shoal_req *held_req;
static void on_later(shoal_req *req, const shoal_msg *msg, void *user)
{
    (void)msg;
    (void)user;
    shoal_req_hold(req);
    held_req = req;
}

static int have_held(void *arg)
{
    (void)arg;
    return held_req != NULL;
}

static void test_typed_messages(void **state)
{
    pair p;
    itest_call c;
    size_t big = 3 * 1024 * 1024, i;
    uint8_t *data;

    (void)state;
    pair_up(&p);
    shoal_handle(p.b, "ECHO", on_echo_msg, NULL);
    shoal_handle(p.b, "LATE", on_later, NULL);

    /* a lower-case type reaches the ECHO handler; every reply arrives */
    itest_call_init(&c);
    assert_int_equal(shoal_request(p.a, p.b_addr, "echo", "hi", 2, 5000,
                                   itest_on_reply, itest_on_end, &c), 0);
    assert_true(itest_run_until(&p.loop, itest_call_ended, &c, 5000));
    assert_int_equal(c.status, 0);
    assert_int_equal(c.count, 2);
    assert_true(itest_reply_is(&c, 0, "REPL", "hi"));
    assert_true(itest_reply_is(&c, 1, "REPL", "second"));
    itest_call_free(&c);

    /* an unknown type: closed without a reply */
    itest_call_init(&c);
    assert_int_equal(shoal_request(p.a, p.b_addr, "NOPE", NULL, 0, 5000,
                                   itest_on_reply, itest_on_end, &c), 0);
    assert_true(itest_run_until(&p.loop, itest_call_ended, &c, 5000));
    assert_int_equal(c.status, 0);
    assert_int_equal(c.count, 0);
    itest_call_free(&c);

    /* a payload many windows long, both ways */
    data = malloc(big);
    for (i = 0; i < big; i++)
        data[i] = (uint8_t)(i * 7);
    itest_call_init(&c);
    assert_int_equal(shoal_request(p.a, p.b_addr, "ECHO", data, big, 10000,
                                   itest_on_reply, itest_on_end, &c), 0);
    assert_true(itest_run_until(&p.loop, itest_call_ended, &c, 10000));
    assert_int_equal(c.status, 0);
    assert_int_equal(c.len[0], big);
    assert_memory_equal(c.data[0], data, big);
    itest_call_free(&c);
    free(data);

    /* the same, read straight into the caller's buffer: the first reply
     * that fits goes there, "second" (the next one) does not */
    data = malloc(big);
    itest_call_init(&c);
    c.into = data;
    memset(data, 0, big);
    {
        uint8_t *want = malloc(big);
        for (i = 0; i < big; i++)
            want[i] = (uint8_t)(i * 13);
        assert_int_equal(shoal_request_into(p.a, p.b_addr, "ECHO", want, big,
                                            data, big, 10000, itest_on_reply,
                                            itest_on_end, &c), 0);
        assert_true(itest_run_until(&p.loop, itest_call_ended, &c, 10000));
        assert_int_equal(c.status, 0);
        assert_int_equal(c.count, 2);
        assert_int_equal(c.in_buf, 1u);
        assert_memory_equal(data, want, big);
        assert_true(itest_reply_is(&c, 1, "REPL", "second"));
        free(want);
    }
    itest_call_free(&c);
    /* a buffer too small for either reply: both come as usual */
    itest_call_init(&c);
    c.into = data;
    memset(data, 'x', 4);
    assert_int_equal(shoal_request_into(p.a, p.b_addr, "ECHO", "hello", 5,
                                        data, 4, 5000, itest_on_reply,
                                        itest_on_end, &c), 0);
    assert_true(itest_run_until(&p.loop, itest_call_ended, &c, 5000));
    assert_int_equal(c.status, 0);
    assert_int_equal(c.in_buf, 0u);
    assert_true(itest_reply_is(&c, 0, "REPL", "hello"));
    assert_true(itest_reply_is(&c, 1, "REPL", "second"));
    assert_memory_equal(data, "xxxx", 4);
    itest_call_free(&c);
    assert_int_equal(shoal_request_into(p.a, p.b_addr, "ECHO", "hi", 2, NULL,
                                        4, 5000, itest_on_reply, itest_on_end,
                                        &c), SHOAL_EINVAL);
    free(data);

    /* a reply sent later, from outside the handler */
    held_req = NULL;
    itest_call_init(&c);
    assert_int_equal(shoal_request(p.a, p.b_addr, "LATE", NULL, 0, 5000,
                                   itest_on_reply, itest_on_end, &c), 0);
    assert_true(itest_run_until(&p.loop, have_held, NULL, 5000));
    assert_int_equal(shoal_reply(held_req, "REPL", "later", 5), 0);
    shoal_req_done(held_req);
    assert_true(itest_run_until(&p.loop, itest_call_ended, &c, 5000));
    assert_int_equal(c.status, 0);
    assert_true(itest_reply_is(&c, 0, "REPL", "later"));
    itest_call_free(&c);

    /* the deadline: a held request never answered */
    held_req = NULL;
    itest_call_init(&c);
    assert_int_equal(shoal_request(p.a, p.b_addr, "LATE", NULL, 0, 200,
                                   itest_on_reply, itest_on_end, &c), 0);
    assert_true(itest_run_until(&p.loop, itest_call_ended, &c, 5000));
    assert_int_equal(c.status, SHOAL_ETIMEDOUT);
    assert_int_equal(shoal_reply(held_req, "REPL", "x", 1), SHOAL_ECLOSED);
    shoal_req_done(held_req);
    itest_call_free(&c);
    pair_down(&p);
}

/* IPv6 listening and dialing, and dialing by DNS name (localhost). */
static void test_ip6_and_dns(void **state)
{
    uv_loop_t loop;
    shoal_config cfg;
    shoal_node *a, *b;
    char addr[512];
    int result = 0;

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    shoal_config_init(&cfg);
    cfg.handle_signals = 0;
    cfg.log_level = SHOAL_LOG_ERROR;
    cfg.listen = "/ip6/::1/tcp/0";
    if (shoal_node_new(&b, &loop, &cfg) != 0) {
        uv_loop_close(&loop);
        skip(); /* no IPv6 loopback on this machine */
    }
    cfg.listen = NULL;
    assert_int_equal(shoal_node_new(&a, &loop, &cfg), 0);
    assert_int_equal(shoal_node_addr(b, addr, sizeof(addr)), 0);
    assert_memory_equal(addr, "/ip6/::1/tcp/", 13);
    assert_int_equal(shoal_ping(a, addr, 5000, on_pong, &result), 0);
    assert_true(itest_run_until(&loop, itest_int_nonzero, &result, 5000));
    assert_int_equal(result, 1);
    /* /dns6/localhost: a name, resolved, of the IPv6 family */
    snprintf(addr, sizeof(addr), "/dns6/localhost/tcp/%d/p2p/%s",
             shoal_node_port(b), shoal_node_peer_id(b));
    result = 0;
    assert_int_equal(shoal_ping(a, addr, 5000, on_pong, &result), 0);
    assert_true(itest_run_until(&loop, itest_int_nonzero, &result, 5000));
    assert_int_equal(result, 1);
    assert_true(itest_close_nodes(&loop, (shoal_node *[]){a, b}, 2, 5000));
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_dns4(void **state)
{
    pair p;
    int result = 0;
    char addr[512];

    (void)state;
    pair_up(&p);
    snprintf(addr, sizeof(addr), "/dns4/localhost/tcp/%d/p2p/%s",
             shoal_node_port(p.b), shoal_node_peer_id(p.b));
    assert_int_equal(shoal_ping(p.a, addr, 5000, on_pong, &result), 0);
    assert_true(itest_run_until(&p.loop, itest_int_nonzero, &result, 5000));
    assert_int_equal(result, 1);
    pair_down(&p);
}

/* Both dial each other at once: each ends up with one connection. */
static int one_conn_each(void *arg)
{
    pair *p = arg;
    shoal_stats sa, sb;

    shoal_node_stats(p->a, &sa);
    shoal_node_stats(p->b, &sb);
    return sa.connections == 1 && sb.connections == 1;
}

static void test_simultaneous_dial(void **state)
{
    pair p;
    int ra = 0, rb = 0;
    char a_addr[512];

    (void)state;
    pair_up(&p);
    assert_int_equal(shoal_node_addr(p.a, a_addr, sizeof(a_addr)), 0);
    assert_int_equal(shoal_ping(p.a, p.b_addr, 5000, on_pong, &ra), 0);
    assert_int_equal(shoal_ping(p.b, a_addr, 5000, on_pong, &rb), 0);
    assert_true(itest_run_until(&p.loop, itest_int_nonzero, &ra, 5000));
    assert_true(itest_run_until(&p.loop, itest_int_nonzero, &rb, 5000));
    assert_int_equal(ra, 1);
    assert_int_equal(rb, 1);
    /* the duplicate retires once its streams are done */
    assert_true(itest_run_until(&p.loop, one_conn_each, &p, 5000));
    ra = 0;
    assert_int_equal(shoal_ping(p.a, p.b_addr, 5000, on_pong, &ra), 0);
    assert_true(itest_run_until(&p.loop, itest_int_nonzero, &ra, 5000));
    assert_int_equal(ra, 1);
    assert_true(one_conn_each(&p));
    pair_down(&p);
}

static void test_disconnect(void **state)
{
    pair p;
    int result = 0;
    shoal_stats st;

    (void)state;
    pair_up(&p);
    assert_int_equal(shoal_ping(p.a, p.b_addr, 5000, on_pong, &result), 0);
    assert_true(itest_run_until(&p.loop, itest_int_nonzero, &result, 5000));
    assert_int_equal(shoal_disconnect(p.a, shoal_node_peer_id(p.b)), 0);
    shoal_node_stats(p.a, &st);
    assert_int_equal(st.connections, 0);
    assert_int_equal(shoal_disconnect(p.a, shoal_node_peer_id(p.b)),
                     SHOAL_ENOENT);
    assert_int_equal(shoal_disconnect(p.a, "not-a-peer-id"), SHOAL_EINVAL);
    /* and the next request dials again */
    result = 0;
    assert_int_equal(shoal_ping(p.a, p.b_addr, 5000, on_pong, &result), 0);
    assert_true(itest_run_until(&p.loop, itest_int_nonzero, &result, 5000));
    assert_int_equal(result, 1);
    pair_down(&p);
}

/* A protocol added while connected is pushed to the peer (identify push),
 * which checks the message and logs it. */
static int push_seen;
static char push_peer[128];
static void push_log(int level, const char *line, void *user)
{
    (void)level;
    (void)user;
    if (strstr(line, "identify_push peer=") != NULL &&
        strstr(line, push_peer) != NULL)
        push_seen = 1;
}

static void test_identify_push(void **state)
{
    uv_loop_t loop;
    shoal_config cfg;
    shoal_node *a, *b;
    char addr[512];
    int result = 0;

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    shoal_config_init(&cfg);
    cfg.handle_signals = 0;
    cfg.log_level = SHOAL_LOG_DEBUG;
    cfg.log_cb = push_log;
    cfg.listen = "127.0.0.1:0";
    assert_int_equal(shoal_node_new(&a, &loop, &cfg), 0);
    assert_int_equal(shoal_node_new(&b, &loop, &cfg), 0);
    snprintf(push_peer, sizeof(push_peer), "%s", shoal_node_peer_id(b));
    assert_int_equal(shoal_node_addr(b, addr, sizeof(addr)), 0);
    assert_int_equal(shoal_ping(a, addr, 5000, on_pong, &result), 0);
    assert_true(itest_run_until(&loop, itest_int_nonzero, &result, 5000));
    assert_int_equal(result, 1);
    push_seen = 0;
    assert_int_equal(
        shoal_protocol_handle(b, "/new/1.0.0", on_echo_stream, NULL), 0);
    assert_true(itest_run_until(&loop, itest_int_nonzero, &push_seen, 5000));
    assert_true(itest_close_nodes(&loop, (shoal_node *[]){a, b}, 2, 5000));
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* Raw bytes on a protocol's stream: write them, close our side, and record
 * what came back and how the stream ended. */
typedef struct raw_call {
    const uint8_t *bytes;
    size_t len;
    size_t got;
    int done, status, open_status;
} raw_call;

static void raw_data(shoal_stream *s, const uint8_t *data, size_t len,
                     void *user)
{
    (void)s;
    (void)data;
    ((raw_call *)user)->got += len;
}

static void raw_closed(shoal_stream *s, int status, void *user)
{
    raw_call *r = user;

    (void)s;
    r->status = status;
    r->done = 1;
}

static void raw_open(shoal_stream *s, int status, void *user)
{
    static const shoal_stream_cbs cbs = {.data = raw_data,
                                         .closed = raw_closed};
    raw_call *r = user;

    r->open_status = status;
    if (s == NULL) {
        r->done = 1;
        return;
    }
    shoal_stream_set_cbs(s, &cbs, r);
    if (r->len)
        assert_int_equal(shoal_stream_write(s, r->bytes, r->len), 0);
    shoal_stream_close(s);
}

static int raw_done(void *arg)
{
    return ((raw_call *)arg)->done;
}

static void raw_send(pair *p, const char *protocol, const void *bytes,
                     size_t len, raw_call *r)
{
    memset(r, 0, sizeof(*r));
    r->bytes = bytes;
    r->len = len;
    assert_int_equal(shoal_stream_open(p->a, p->b_addr, protocol, raw_open, r),
                     0);
    assert_true(itest_run_until(&p->loop, raw_done, r, 5000));
    assert_int_equal(r->open_status, 0);
}

/* Bad input on the typed-message and perf streams: each stream is reset,
 * nothing is answered, and the node goes on serving. */
static void test_bad_stream_input(void **state)
{
    static const uint8_t huge[8] = {'E', 'C', 'H', 'O', 0xff, 0xff, 0xff,
                                    0xff};
    static const uint8_t cut[10] = {'E', 'C', 'H', 'O', 0, 0, 0, 9, 'a', 'b'};
    pair p;
    raw_call r;
    itest_call c;

    (void)state;
    pair_up(&p);
    shoal_handle(p.b, "ECHO", on_echo_msg, NULL);
    assert_int_equal(shoal_perf_serve(p.b), 0);
    /* a header announcing 4 GiB: refused before any payload, with one
     * ERRO frame saying why ("Message too large: ..."), then a reset */
    raw_send(&p, "/shoal/msg/1.0.0", huge, sizeof(huge), &r);
    assert_int_not_equal(r.status, 0);
    assert_in_range(r.got, 8 + 18, 8 + 96);
    /* a message cut short by the end of the stream */
    raw_send(&p, "/shoal/msg/1.0.0", cut, sizeof(cut), &r);
    assert_int_not_equal(r.status, 0);
    assert_int_equal(r.got, 0);
    /* half a perf header, then the end */
    raw_send(&p, "/perf/1.0.0", "abc", 3, &r);
    assert_int_not_equal(r.status, 0);
    assert_int_equal(r.got, 0);
    /* and a well-formed request on the same connection still works */
    itest_call_init(&c);
    assert_int_equal(shoal_request(p.a, p.b_addr, "ECHO", "ok", 2, 5000,
                                   itest_on_reply, itest_on_end, &c), 0);
    assert_true(itest_run_until(&p.loop, itest_call_ended, &c, 5000));
    assert_int_equal(c.status, 0);
    assert_true(itest_reply_is(&c, 0, "REPL", "ok"));
    itest_call_free(&c);
    pair_down(&p);
}

/* More connections than the high watermark: idle ones are closed down to
 * the low watermark, and the node goes on serving. */
static void test_watermarks(void **state)
{
    uv_loop_t loop;
    shoal_config cfg;
    shoal_node *server, *clients[8];
    char addr[512];
    int results[8], i;
    shoal_stats st;

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    shoal_config_init(&cfg);
    cfg.handle_signals = 0;
    cfg.log_level = SHOAL_LOG_ERROR;
    cfg.listen = "127.0.0.1:0";
    cfg.conn_high_water = 4;
    cfg.conn_low_water = 2;
    assert_int_equal(shoal_node_new(&server, &loop, &cfg), 0);
    assert_int_equal(shoal_node_addr(server, addr, sizeof(addr)), 0);
    cfg.listen = NULL;
    for (i = 0; i < 8; i++) {
        assert_int_equal(shoal_node_new(&clients[i], &loop, &cfg), 0);
        results[i] = 0;
        assert_int_equal(
            shoal_ping(clients[i], addr, 5000, on_pong, &results[i]), 0);
        assert_true(
            itest_run_until(&loop, itest_int_nonzero, &results[i], 5000));
        assert_int_equal(results[i], 1);
        shoal_node_stats(server, &st);
        assert_true(st.connections <= 4 + 1);
    }
    shoal_node_stats(server, &st);
    assert_true(st.connections <= 4);
    for (i = 0; i < 8; i++)
        shoal_node_close(clients[i], NULL, NULL);
    assert_true(itest_close_nodes(&loop, &server, 1, 5000));
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_one_stream),
        cmocka_unit_test(test_many_streams_one_connection),
        cmocka_unit_test(test_unknown_protocol_refused),
        cmocka_unit_test(test_wrong_peer_id_refused),
        cmocka_unit_test(test_connection_refused),
        cmocka_unit_test(test_ping),
        cmocka_unit_test(test_typed_messages),
        cmocka_unit_test(test_watermarks),
        cmocka_unit_test(test_ip6_and_dns),
        cmocka_unit_test(test_dns4),
        cmocka_unit_test(test_simultaneous_dial),
        cmocka_unit_test(test_disconnect),
        cmocka_unit_test(test_identify_push),
        cmocka_unit_test(test_bad_stream_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
