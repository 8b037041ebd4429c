/* Errors that say what happened: a request or a dial that fails ends with a
 * code naming the cause (the wrong wire, another peer id, a payload over
 * the remote's limit, this node's own address), a refused address is named
 * with the part that is wrong on a WARN line, and a join walk that fails at
 * its start says why. Each was found ending with a code that named
 * something else ("message too large", "not found", "connection reset by
 * peer", "invalid argument"). */
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
#define LOG_LINES 256

/* The WARN and ERROR lines a node logged (and, with SHOAL_DEBUG set in the
 * environment, every line on stderr). */
typedef struct log_rec {
    size_t count;
    char *lines[LOG_LINES];
} log_rec;

static void on_log(int level, const char *line, void *user)
{
    log_rec *r = user;

    itest_log_sink(level, line, NULL);
    if (level <= SHOAL_LOG_WARN && r->count < LOG_LINES)
        r->lines[r->count++] = strdup(line);
}

/* The first recorded line holding every one of the NULL-terminated
 * fragments, or NULL. */
static const char *log_find(const log_rec *r, ...)
{
    size_t i;

    for (i = 0; i < r->count; i++) {
        va_list ap;
        const char *frag;
        int all = 1;
        va_start(ap, r);
        while ((frag = va_arg(ap, const char *)) != NULL)
            if (r->lines[i] == NULL || strstr(r->lines[i], frag) == NULL)
                all = 0;
        va_end(ap);
        if (all)
            return r->lines[i];
    }
    return NULL;
}

/* Fails the test with what was looked for and what was logged. */
#define assert_logged(rec, ...)                                              \
    do {                                                                     \
        if (log_find((rec), __VA_ARGS__, (const char *)NULL) == NULL) {      \
            const char *frags[] = {__VA_ARGS__};                             \
            size_t k_;                                                       \
            for (k_ = 0; k_ < (rec)->count; k_++)                            \
                fprintf(stderr, "  logged: %s\n", (rec)->lines[k_]);         \
            fail_msg("no WARN line with \"%s\"... (%zu lines logged)",       \
                     frags[0], (rec)->count);                                \
        }                                                                    \
    } while (0)

static void log_clear(log_rec *r)
{
    size_t i;

    for (i = 0; i < r->count; i++)
        free(r->lines[i]);
    r->count = 0;
}

/* Up to five nodes on one loop, each with its log recorded. */
typedef struct net {
    uv_loop_t loop;
    shoal_node *node[5];
    log_rec log[5];
    size_t n;
    size_t max_peers;       /* for the nodes added next; 0: the default */
} net;

static void net_init(net *t)
{
    memset(t, 0, sizeof(*t));
    assert_int_equal(uv_loop_init(&t->loop), 0);
}

/* A node listening on a loopback port; classic or secure; max_message 0
 * keeps the default. Returns its index. */
static size_t net_add(net *t, int classic, size_t max_message)
{
    shoal_config cfg;
    size_t i = t->n++;

    itest_secure_config(&cfg, classic ? "127.0.0.1:0" : "/ip4/127.0.0.1/tcp/0",
                        GUARD_MS);
    cfg.classic = classic;
    cfg.log_cb = on_log;
    cfg.log_user = &t->log[i];
    if (max_message != 0)
        cfg.max_message = max_message;
    if (t->max_peers != 0)
        cfg.max_peers = t->max_peers;
    t->node[i] = itest_node_new(&t->loop, &cfg);
    return i;
}

static void net_free(net *t)
{
    size_t i;

    assert_true(itest_close_nodes(&t->loop, t->node, t->n, GUARD_MS));
    assert_int_equal(uv_loop_close(&t->loop), 0);
    for (i = 0; i < t->n; i++)
        log_clear(&t->log[i]);
}

/* "HOST:PORT" of node i, and its multiaddr ("/p2p/ID" after it when
 * secure). */
static void hostport(net *t, size_t i, char *out, size_t size)
{
    snprintf(out, size, "127.0.0.1:%d", shoal_node_port(t->node[i]));
}

static void multiaddr(net *t, size_t i, char *out, size_t size)
{
    assert_int_equal(shoal_node_addr(t->node[i], out, size), 0);
}

static void on_echo(shoal_req *req, const shoal_msg *msg, void *user)
{
    (void)user;
    shoal_reply(req, "REPL", msg->data, msg->len);
}

/* Runs a request from node `from` to addr and returns its end status,
 * failing the test if it does not end in time. */
static int request_status(net *t, size_t from, const char *addr,
                          const void *data, size_t len, itest_call *call)
{
    itest_call_init(call);
    assert_int_equal(shoal_request(t->node[from], addr, "ECHO", data, len,
                                   GUARD_MS, itest_on_reply, itest_on_end,
                                   call),
                     0);
    if (!itest_run_until(&t->loop, itest_call_ended, call, GUARD_MS + 2000))
        fail_msg("the request to %s did not end", addr);
    assert_int_equal(call->ended, 1);
    return call->status;
}

#define assert_status(got, want)                                             \
    do {                                                                     \
        int g_ = (got), w_ = (want);                                         \
        if (g_ != w_)                                                        \
            fail_msg("expected %s (%s), came %d (%s)", #want,                \
                     shoal_strerror(w_), g_, shoal_strerror(g_));            \
    } while (0)

/* ------------------------------------------------------------- wrong wire */

/* A "HOST:PORT" request (the classic wire) to a secure node: the secure
 * listener's multistream header came back and was read as a frame header
 * announcing a 330 MB reply ("message too large"). */
static void test_classic_request_to_secure_node(void **state)
{
    net t;
    itest_call call;
    char addr[64];
    size_t classic, secure, target;

    (void)state;
    net_init(&t);
    classic = net_add(&t, 1, 0);
    secure = net_add(&t, 0, 0);
    target = net_add(&t, 0, 0);
    shoal_handle(t.node[target], "ECHO", on_echo, NULL);
    hostport(&t, target, addr, sizeof(addr));

    assert_status(request_status(&t, classic, addr, "hi", 2, &call),
                  SHOAL_EWRONGWIRE);
    assert_int_equal(call.count, 0);
    itest_call_free(&call);
    /* a secure node given HOST:PORT speaks the classic wire too */
    assert_status(request_status(&t, secure, addr, "hi", 2, &call),
                  SHOAL_EWRONGWIRE);
    itest_call_free(&call);
    assert_logged(&t.log[classic], "wrong_wire", addr);
    net_free(&t);
}

/* A secure request (a multiaddr) to a classic node: the classic server read
 * the multistream header as a frame of 1.8 GB and cut the connection ("end
 * of file" or "connection reset by peer"). */
static void test_secure_request_to_classic_node(void **state)
{
    net t;
    itest_call call;
    char addr[96];
    size_t secure, classic;

    (void)state;
    net_init(&t);
    secure = net_add(&t, 0, 0);
    classic = net_add(&t, 1, 0);
    shoal_handle(t.node[classic], "ECHO", on_echo, NULL);
    snprintf(addr, sizeof(addr), "/ip4/127.0.0.1/tcp/%d",
             shoal_node_port(t.node[classic]));

    assert_status(request_status(&t, secure, addr, "hi", 2, &call),
                  SHOAL_EWRONGWIRE);
    itest_call_free(&call);
    /* the classic node says what came */
    assert_logged(&t.log[classic], "wrong_wire");
    net_free(&t);
}

/* ----------------------------------------------------------- peer id */

typedef struct opened {
    int done;
    int status;
} opened;

static void on_open(shoal_stream *s, int status, void *user)
{
    opened *o = user;

    if (s != NULL)
        shoal_stream_reset(s);
    o->status = status;
    o->done = 1;
}

typedef struct failed_event {
    int seen;
    int status;
} failed_event;

static void on_peer_event(shoal_node *node, const shoal_peer_event *ev,
                          void *user)
{
    failed_event *f = user;

    (void)node;
    if (ev->kind == SHOAL_PEER_CONNECT_FAILED) {
        f->seen++;
        f->status = ev->status;
    }
}

/* The address names B's port but C's peer id: Noise proves B is B, not C.
 * This ended with "not found" (SHOAL_ENOENT), which is also what a refused
 * protocol ends with. */
static void test_peer_id_mismatch(void **state)
{
    net t;
    itest_call call;
    opened o = {0, 0};
    failed_event ev = {0, 0};
    char addr[256];
    size_t a, b, c;

    (void)state;
    net_init(&t);
    a = net_add(&t, 0, 0);
    b = net_add(&t, 0, 0);
    c = net_add(&t, 0, 0);
    shoal_handle(t.node[b], "ECHO", on_echo, NULL);
    assert_int_equal(shoal_peer_events_add(t.node[a], on_peer_event, &ev), 0);
    snprintf(addr, sizeof(addr), "/ip4/127.0.0.1/tcp/%d/p2p/%s",
             shoal_node_port(t.node[b]), shoal_node_peer_id(t.node[c]));

    assert_int_equal(shoal_stream_open(t.node[a], addr, "/ipfs/ping/1.0.0",
                                       on_open, &o),
                     0);
    assert_true(itest_run_until(&t.loop, itest_int_nonzero, &o.done,
                                GUARD_MS));
    assert_status(o.status, SHOAL_EPEERID);
    assert_int_equal(ev.seen, 1);
    assert_status(ev.status, SHOAL_EPEERID);

    assert_status(request_status(&t, a, addr, "hi", 2, &call), SHOAL_EPEERID);
    itest_call_free(&call);
    assert_logged(&t.log[a], "peer_id_mismatch",
                  shoal_node_peer_id(t.node[c]),
                  shoal_node_peer_id(t.node[b]));
    net_free(&t);
}

/* --------------------------------------------------------- message size */

/* A payload over the remote's max_message: the remote refuses it, and the
 * refusal reaches the requester as SHOAL_EMSGSIZE on either wire; before,
 * the remote cut the connection or reset the stream ("connection reset by
 * peer", or "end of file"). Small (one write) and large (many) payloads. */
static void oversize(int classic)
{
    static const size_t sizes[] = {4096, 300 * 1024, 8 * 1024 * 1024};
    net t;
    itest_call call;
    char addr[256];
    uint8_t *big = calloc(1, 8 * 1024 * 1024);
    size_t a, b, i;

    assert_non_null(big);
    net_init(&t);
    a = net_add(&t, classic, 0);
    b = net_add(&t, classic, 1024);
    shoal_handle(t.node[b], "ECHO", on_echo, NULL);
    multiaddr(&t, b, addr, sizeof(addr));
    if (classic)
        hostport(&t, b, addr, sizeof(addr));

    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        int st = request_status(&t, a, addr, big, sizes[i], &call);
        if (st != SHOAL_EMSGSIZE)
            fail_msg("%s, %zu bytes to a node taking 1024: expected "
                     "SHOAL_EMSGSIZE, came %d (%s)",
                     classic ? "classic" : "secure", sizes[i], st,
                     shoal_strerror(st));
        itest_call_free(&call);
    }
    /* what fits still goes through */
    assert_status(request_status(&t, a, addr, big, 1024, &call), 0);
    assert_int_equal(call.count, 1);
    assert_int_equal(call.len[0], 1024);
    itest_call_free(&call);
    assert_logged(&t.log[b], "message_too_large");
    free(big);
    net_free(&t);
}

static void test_oversize_classic(void **state)
{
    (void)state;
    oversize(1);
}

static void test_oversize_secure(void **state)
{
    (void)state;
    oversize(0);
}

/* ------------------------------------------------------------- oneself */

static void on_pong(shoal_node *node, int status, uint64_t rtt_us,
                    void *user)
{
    opened *o = user;

    (void)node;
    (void)rtt_us;
    o->status = status;
    o->done = 1;
}

/* A secure node asked to reach itself: with its own /p2p/ id it was
 * refused with "invalid argument"; by its listen address alone it dialed
 * itself. Both are SHOAL_ESELF now, said on a WARN line. */
static void test_request_to_self(void **state)
{
    net t;
    itest_call call;
    opened o = {0, 0};
    char addr[256], bare[64];
    size_t a;

    (void)state;
    net_init(&t);
    a = net_add(&t, 0, 0);
    shoal_handle(t.node[a], "ECHO", on_echo, NULL);
    multiaddr(&t, a, addr, sizeof(addr));
    snprintf(bare, sizeof(bare), "/ip4/127.0.0.1/tcp/%d",
             shoal_node_port(t.node[a]));

    assert_status(shoal_request(t.node[a], addr, "ECHO", "x", 1, GUARD_MS,
                                itest_on_reply, itest_on_end, &call),
                  SHOAL_ESELF);
    assert_logged(&t.log[a], "addr=", addr, "own");
    assert_status(shoal_ping(t.node[a], addr, GUARD_MS, on_pong, &o),
                  SHOAL_ESELF);

    assert_status(request_status(&t, a, bare, "x", 1, &call), SHOAL_ESELF);
    itest_call_free(&call);
    assert_int_equal(shoal_ping(t.node[a], bare, GUARD_MS, on_pong, &o), 0);
    assert_true(itest_run_until(&t.loop, itest_int_nonzero, &o.done,
                                GUARD_MS));
    assert_status(o.status, SHOAL_ESELF);
    net_free(&t);
}

/* --------------------------------------------------------- bad addresses */

/* Every refused address is named on a WARN line with the part that is
 * wrong; before, a bare SHOAL_EBADADDR was all there was. */
static void test_bad_address_says_why(void **state)
{
    static const struct {
        int classic;
        const char *addr;
        const char *why;
    } cases[] = {
        {1, "127.0.0.1:99999", "port out of range"},
        {1, "127.0.0.1", "no port"},
        {1, "127.0.0.1:", "no port"},
        {1, "127.0.0.1:8x", "port is not a number"},
        {1, ":4000", "no host"},
        {1, "::1:4000", "[brackets]"},
        {1, "/ip4/127.0.0.1/tcp/1/p2p/"
            "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq",
         "classic"},
        {0, "/ip4/127.0.0.1/tcp/70000", "tcp port out of range"},
        {0, "/ip4/127.0.0.300/tcp/1", "not an ip4 address"},
        {0, "/ip4/127.0.0.1/udp/1", "/udp"},
        {0, "/ip4/127.0.0.1", "no /tcp/PORT"},
        {0, "/tcp/1", "no host"},
        {0, "/ip4/127.0.0.1/tcp/1/p2p/nonsense", "not a peer id"},
        {0, "/ip5/127.0.0.1/tcp/1", "unknown protocol"},
        {0, "/ip4/127.0.0.1/tcp/1/", "trailing"},
    };
    net t;
    itest_call call;
    size_t i, nodes[2];

    (void)state;
    net_init(&t);
    nodes[0] = net_add(&t, 0, 0);
    nodes[1] = net_add(&t, 1, 0);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = nodes[cases[i].classic];
        char key[300];
        int rc;
        itest_call_init(&call);
        rc = shoal_request(t.node[n], cases[i].addr, "ECHO", "x", 1,
                           GUARD_MS, itest_on_reply, itest_on_end, &call);
        if (rc != SHOAL_EBADADDR)
            fail_msg("%s: expected SHOAL_EBADADDR, came %d (%s)",
                     cases[i].addr, rc, shoal_strerror(rc));
        snprintf(key, sizeof(key), "addr=\"%s\"", cases[i].addr);
        assert_logged(&t.log[n], "request_refused", key, cases[i].why);
        log_clear(&t.log[n]);
    }
    /* the other calls that take an address say so too */
    {
        opened o = {0, 0};
        const char *bad = "/ip4/127.0.0.1/tcp/70000";
        assert_status(shoal_ping(t.node[nodes[0]], bad, GUARD_MS, on_pong,
                                 &o),
                      SHOAL_EBADADDR);
        assert_logged(&t.log[nodes[0]], bad, "tcp port out of range");
        log_clear(&t.log[nodes[0]]);
        assert_status(shoal_stream_open(t.node[nodes[0]], bad, "/x/1",
                                        on_open, &o),
                      SHOAL_EBADADDR);
        assert_logged(&t.log[nodes[0]], bad, "tcp port out of range");
        log_clear(&t.log[nodes[0]]);
        /* and other arguments */
        assert_status(shoal_request(t.node[nodes[1]], "127.0.0.1:1", "TOOLONG",
                                    "x", 1, 0, NULL, itest_on_end, &call),
                      SHOAL_EINVAL);
        assert_logged(&t.log[nodes[1]], "request_refused", "type");
        assert_status(shoal_request(t.node[nodes[1]], "127.0.0.1:1", "ECHO",
                                    "x", 1, 0, NULL, NULL, &call),
                      SHOAL_EINVAL);
        assert_logged(&t.log[nodes[1]], "request_refused", "on_end");
    }
    net_free(&t);
}

/* ------------------------------------------------------------------ join */

typedef struct joined {
    int done;
    int status;
    size_t added;
} joined;

static void on_joined(shoal_node *node, int status, size_t added, void *user)
{
    joined *j = user;

    (void)node;
    j->done = 1;
    j->status = status;
    j->added = added;
}

static int join(net *t, size_t from, const char *addr, joined *j)
{
    memset(j, 0, sizeof(*j));
    assert_int_equal(shoal_join(t->node[from], addr, 2, on_joined, j), 0);
    if (!itest_run_until(&t->loop, itest_int_nonzero, &j->done, GUARD_MS))
        fail_msg("the join walk from %s did not end", addr);
    return j->status;
}

/* The walk's callback had only the number added: a walk that could not
 * start (nobody there, the wrong peer, the wrong wire, oneself) looked
 * like one that found nobody new. */
static void test_join_status(void **state)
{
    net t;
    joined j;
    char addr[256];
    size_t a, b, c, classic, full;

    (void)state;
    net_init(&t);
    a = net_add(&t, 0, 0);
    b = net_add(&t, 0, 0);
    c = net_add(&t, 0, 0);
    classic = net_add(&t, 1, 0);
    for (size_t i = 0; i < t.n; i++)
        assert_int_equal(shoal_membership_enable(t.node[i]), 0);

    snprintf(addr, sizeof(addr), "/ip4/127.0.0.1/tcp/%d",
             itest_refusing_port());
    assert_status(join(&t, a, addr, &j), SHOAL_ECONNREFUSED);
    assert_logged(&t.log[a], "join_failed", addr, "connection refused");

    snprintf(addr, sizeof(addr), "/ip4/127.0.0.1/tcp/%d/p2p/%s",
             shoal_node_port(t.node[b]), shoal_node_peer_id(t.node[c]));
    assert_status(join(&t, a, addr, &j), SHOAL_EPEERID);
    assert_int_equal(j.added, 0);
    assert_int_equal(shoal_peer_count(t.node[a]), 0);

    snprintf(addr, sizeof(addr), "/ip4/127.0.0.1/tcp/%d",
             shoal_node_port(t.node[classic]));
    assert_status(join(&t, a, addr, &j), SHOAL_EWRONGWIRE);

    multiaddr(&t, a, addr, sizeof(addr));
    assert_status(join(&t, a, addr, &j), SHOAL_ESELF);
    hostport(&t, classic, addr, sizeof(addr));
    assert_status(join(&t, classic, addr, &j), SHOAL_ESELF);
    assert_logged(&t.log[classic], "join_failed", addr);

    multiaddr(&t, b, addr, sizeof(addr));
    assert_status(join(&t, a, addr, &j), 0);
    assert_int_equal(j.added, 1);

    /* a remote whose table is full refuses us: its ERRO is the reason */
    t.max_peers = 1;
    full = net_add(&t, 0, 0);
    assert_int_equal(shoal_membership_enable(t.node[full]), 0);
    multiaddr(&t, full, addr, sizeof(addr));
    assert_status(join(&t, a, addr, &j), 0);
    assert_status(join(&t, c, addr, &j), SHOAL_EFULL);
    assert_logged(&t.log[c], "join_failed", "too many peers");

    /* an address refused at once says why too */
    assert_status(shoal_join(t.node[a], "127.0.0.1:4000", 2, on_joined, &j),
                  SHOAL_EBADADDR);
    assert_logged(&t.log[a], "join_refused", "addr=\"127.0.0.1:4000\"",
                  "classic node");
    assert_status(shoal_join(t.node[classic], "127.0.0.1:99999", 2, on_joined,
                             &j),
                  SHOAL_EBADADDR);
    assert_logged(&t.log[classic], "join_refused", "port");
    net_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classic_request_to_secure_node),
        cmocka_unit_test(test_secure_request_to_classic_node),
        cmocka_unit_test(test_peer_id_mismatch),
        cmocka_unit_test(test_oversize_classic),
        cmocka_unit_test(test_oversize_secure),
        cmocka_unit_test(test_request_to_self),
        cmocka_unit_test(test_bad_address_says_why),
        cmocka_unit_test(test_join_status),
    };
    return cmocka_run_group_tests_name("errors", tests, NULL, NULL);
}
