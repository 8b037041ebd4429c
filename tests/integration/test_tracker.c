/* The tracker (include/shoal/tracker.h) between real secure nodes on one
 * loop: 50 client nodes that know only a tracker reach a connected network
 * within a deadline; bad input (malformed ANNC payloads, too many addrs
 * and topics, addresses of another host, an announce flood from one source
 * which is rate limited while another source is still served); STAT.
 * Every wait polls with a deadline. */
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
#include "shoal/tracker.h"

#define NODES 50
#define WAIT_MS 60000

static void log_sink(int level, const char *line, void *user)
{
    (void)level;
    (void)user;
    if (getenv("SHOAL_DEBUG"))
        fprintf(stderr, "%s\n", line);
}

static shoal_node *secure_node(uv_loop_t *loop, const char *listen)
{
    shoal_config cfg;
    shoal_node *n;

    shoal_config_init(&cfg);
    cfg.handle_signals = 0;
    cfg.listen = listen;
    cfg.log_level = SHOAL_LOG_DEBUG;
    cfg.log_cb = log_sink;
    assert_int_equal(shoal_node_new(&n, loop, &cfg), 0);
    return n;
}

static int node_closed;
static void on_node_closed(shoal_node *n, void *user)
{
    (void)n;
    (void)user;
    node_closed++;
}

static void close_nodes(uv_loop_t *loop, shoal_node **v, size_t n)
{
    node_closed = 0;
    for (size_t i = 0; i < n; i++)
        shoal_node_close(v[i], on_node_closed, NULL);
    while (node_closed < (int)n)
        uv_run(loop, UV_RUN_ONCE);
    uv_run(loop, UV_RUN_NOWAIT);
}

/* --------------------------------------------------- 50 nodes, one tracker */

typedef struct net {
    shoal_node *node[NODES];
} net;

static int index_of(const net *nt, const char *id)
{
    for (int i = 0; i < NODES; i++)
        if (strcmp(shoal_node_peer_id(nt->node[i]), id) == 0)
            return i;
    return -1;
}

/* Every table non-empty, and the graph of tables (either direction)
 * connected. */
static int connected(void *arg)
{
    net *nt = arg;
    static uint8_t adj[NODES][NODES];
    int seen[NODES] = {0}, stack[NODES], top = 0, count = 0;

    memset(adj, 0, sizeof(adj));
    for (int i = 0; i < NODES; i++) {
        size_t n = shoal_peer_count(nt->node[i]);
        if (n == 0)
            return 0;
        for (size_t k = 0; k < n; k++) {
            int j = index_of(nt, shoal_peer_at(nt->node[i], k)->id);
            if (j >= 0)
                adj[i][j] = adj[j][i] = 1;
        }
    }
    seen[0] = 1;
    stack[top++] = 0;
    while (top > 0) {
        int i = stack[--top];
        count++;
        for (int j = 0; j < NODES; j++)
            if (adj[i][j] && !seen[j]) {
                seen[j] = 1;
                stack[top++] = j;
            }
    }
    return count == NODES;
}

static void test_fifty_nodes(void **state)
{
    uv_loop_t loop;
    shoal_node *tracker_node;
    shoal_tracker *tracker;
    shoal_tracker_config tc;
    shoal_tracker_client *client[NODES];
    shoal_tracker_client_config cc;
    char taddr[512];
    const char *trackers[1] = {taddr};
    static net nt;
    shoal_tracker_stats st;
    uint64_t t0;

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    tracker_node = secure_node(&loop, "/ip4/127.0.0.1/tcp/0");
    shoal_tracker_config_init(&tc);
    tc.rate = 1e6;     /* every client is 127.0.0.1 here */
    tc.burst = 1e6;
    assert_int_equal(shoal_tracker_new(&tracker, tracker_node, &tc), 0);
    assert_int_equal(shoal_node_addr(tracker_node, taddr, sizeof(taddr)), 0);

    shoal_tracker_client_config_init(&cc);
    cc.trackers = trackers;
    cc.ntrackers = 1;
    cc.interval_ms = 300;
    cc.target_peers = 6;
    for (int i = 0; i < NODES; i++) {
        nt.node[i] = secure_node(&loop, "/ip4/127.0.0.1/tcp/0");
        assert_int_equal(shoal_tracker_client_new(&client[i], nt.node[i],
                                                  &cc), 0);
    }
    t0 = itest_now_ms();
    assert_true(itest_run_until(&loop, connected, &nt, WAIT_MS));
    fprintf(stderr, "test_tracker: %d nodes connected in %llu ms\n", NODES,
            (unsigned long long)(itest_now_ms() - t0));
    shoal_tracker_stats_get(tracker, &st);
    assert_int_equal(st.peers, NODES);
    for (int i = 0; i < NODES; i++) {
        shoal_tracker_client_stats cs;
        shoal_tracker_client_stats_get(client[i], &cs);
        assert_true(cs.announces_ok > 0);
        assert_true(shoal_peer_count(nt.node[i]) <= 6);
        shoal_tracker_client_free(client[i]);
    }
    shoal_tracker_free(tracker);
    close_nodes(&loop, nt.node, NODES);
    close_nodes(&loop, &tracker_node, 1);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* ------------------------------------------------------------ bad input */

typedef struct bad {
    uv_loop_t loop;
    shoal_node *tracker_node, *asker, *other;
    shoal_tracker *tracker;
    char addr4[512], addr6[512];
} bad;

/* Sends payload as an ANNC to addr and waits for the end. */
static void annc(bad *b, const char *addr, const char *payload,
                 itest_call *call)
{
    itest_call_init(call);
    assert_int_equal(shoal_request(b->asker, addr, "ANNC", payload,
                                   strlen(payload), 5000, itest_on_reply,
                                   itest_on_end, call), 0);
    assert_true(itest_run_until(&b->loop, itest_call_ended, call, WAIT_MS));
}

static void expect_erro(bad *b, const char *payload, const char *reason)
{
    itest_call call;

    annc(b, b->addr4, payload, &call);
    assert_int_equal(call.status, 0);
    assert_int_equal(call.count, 1);
    if (!itest_reply_is(&call, 0, "ERRO", reason))
        fail_msg("wanted ERRO %s, got %s %s", reason, call.type[0],
                 call.data[0] ? call.data[0] : "");
    itest_call_free(&call);
}

static void test_bad_input(void **state)
{
    static bad b;
    shoal_tracker_config tc;
    char payload[8192], own[512];
    const char *id;
    size_t pos;
    itest_call call;
    int limited = 0, served = 0;

    (void)state;
    memset(&b, 0, sizeof(b));
    assert_int_equal(uv_loop_init(&b.loop), 0);
    b.tracker_node = secure_node(&b.loop, "/ip4/127.0.0.1/tcp/0");
    assert_int_equal(shoal_node_listen(b.tracker_node, "/ip6/::1/tcp/0"), 0);
    shoal_tracker_config_init(&tc);
    tc.rate = 2;
    tc.burst = 10;
    assert_int_equal(shoal_tracker_new(&b.tracker, b.tracker_node, &tc), 0);
    assert_int_equal(shoal_node_listen_addr(b.tracker_node, 0, b.addr4,
                                            sizeof(b.addr4)), 0);
    assert_int_equal(shoal_node_listen_addr(b.tracker_node, 1, b.addr6,
                                            sizeof(b.addr6)), 0);
    b.asker = secure_node(&b.loop, "/ip4/127.0.0.1/tcp/0");
    id = shoal_node_peer_id(b.asker);
    assert_int_equal(shoal_node_addr(b.asker, own, sizeof(own)), 0);

    expect_erro(&b, "garbage", "malformed: bad peer id");
    pos = (size_t)snprintf(payload, sizeof(payload), "%s", id);
    for (int i = 0; i < 9; i++)
        pos += (size_t)snprintf(payload + pos, sizeof(payload) - pos,
                                "\naddr /ip4/127.0.0.1/tcp/%d", 1000 + i);
    expect_erro(&b, payload, "malformed: too many addrs");
    pos = (size_t)snprintf(payload, sizeof(payload), "%s", id);
    for (int i = 0; i < 9; i++)
        pos += (size_t)snprintf(payload + pos, sizeof(payload) - pos,
                                "\ntopic t%d", i);
    expect_erro(&b, payload, "malformed: too many topics");
    snprintf(payload, sizeof(payload), "%s\naddr /ip4/10.9.8.7/tcp/1", id);
    expect_erro(&b, payload, "malformed: no addr on the connection's host");
    snprintf(payload, sizeof(payload), "%s\naddr /ip4/1.2.3.4/tcp/1/p2p/%s",
             id, shoal_node_peer_id(b.tracker_node));
    expect_erro(&b, payload, "malformed: addr of another peer id");

    /* a flood from 127.0.0.1: the bucket (10, 2/s) runs dry */
    snprintf(payload, sizeof(payload), "%s\naddr %s\ntopic flood", id, own);
    for (int i = 0; i < 40; i++) {
        annc(&b, b.addr4, payload, &call);
        assert_int_equal(call.status, 0);
        if (itest_reply_is(&call, 0, "ERRO", "rate_limited"))
            limited++;
        else
            assert_true(call.count == 0 || strcmp(call.type[0], "PEER") == 0);
        itest_call_free(&call);
    }
    assert_true(limited >= 25);

    /* another source (::1) is served meanwhile, and sees the flooder */
    b.other = secure_node(&b.loop, "/ip6/::1/tcp/0");
    assert_int_equal(shoal_node_addr(b.other, own, sizeof(own)), 0);
    snprintf(payload, sizeof(payload), "%s\naddr %s\ntopic flood\nwant 5",
             shoal_node_peer_id(b.other), own);
    itest_call_init(&call);
    assert_int_equal(shoal_request(b.other, b.addr6, "ANNC", payload,
                                   strlen(payload), 5000, itest_on_reply,
                                   itest_on_end, &call), 0);
    assert_true(itest_run_until(&b.loop, itest_call_ended, &call, WAIT_MS));
    assert_int_equal(call.status, 0);
    for (size_t i = 0; i < call.count; i++)
        served += strcmp(call.type[i], "PEER") == 0 &&
                  strstr(call.data[i], id) == call.data[i];
    assert_int_equal(served, 1);
    itest_call_free(&call);

    /* STAT: two peers, one topic */
    itest_call_init(&call);
    assert_int_equal(shoal_request(b.other, b.addr6, "STAT", NULL, 0, 5000,
                                   itest_on_reply, itest_on_end, &call), 0);
    assert_true(itest_run_until(&b.loop, itest_call_ended, &call, WAIT_MS));
    assert_int_equal(call.count, 1);
    assert_string_equal(call.type[0], "REPL");
    assert_non_null(strstr(call.data[0], "peers=2 topics=1 announces_per_s="));
    assert_non_null(strstr(call.data[0], "entries_cap=1000000"));
    itest_call_free(&call);

    shoal_tracker_free(b.tracker);
    shoal_node *all[3] = {b.asker, b.other, b.tracker_node};
    close_nodes(&b.loop, all, 3);
    assert_int_equal(uv_loop_close(&b.loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_fifty_nodes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
