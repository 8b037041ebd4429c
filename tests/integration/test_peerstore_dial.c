/* The peer store's node side on loopback: peer events recorded (a dial
 * seen from both ends), the dialer filling the peer table from the store
 * at start, backoff between failed dials to a peer that is not there, and
 * the store on disk carried from one node to its successor with the same
 * key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "itest.h"
#include "shoal/peerstore.h"

static char tmpdir[256];

static int setup_dir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_peerstore_dial.XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    return 0;
}

static int teardown_dir(void **state)
{
    char cmd[300];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static shoal_node *new_node(uv_loop_t *loop, const char *key_file)
{
    shoal_config cfg;
    shoal_node *node;

    shoal_config_init(&cfg);
    cfg.handle_signals = 0;
    cfg.log_level = getenv("SHOAL_DEBUG") ? SHOAL_LOG_DEBUG : SHOAL_LOG_ERROR;
    cfg.listen = "127.0.0.1:0";
    cfg.key_file = key_file;
    assert_int_equal(shoal_node_new(&node, loop, &cfg), 0);
    assert_int_equal(shoal_membership_enable(node), 0);
    return node;
}

static void close_nodes(uv_loop_t *loop, shoal_node **nodes, int n)
{
    assert_true(itest_close_nodes(loop, nodes, (size_t)n, 5000));
}

/* One stored peer, looked up by id through the listing. */
typedef struct lookup {
    const char *id;
    int found;
    shoal_peerstore_entry e;
    char addr0[256];
} lookup;

static void on_entry(const shoal_peerstore_entry *e, void *user)
{
    lookup *l = user;

    if (strcmp(e->id, l->id) != 0)
        return;
    l->found = 1;
    l->e = *e;
    snprintf(l->addr0, sizeof(l->addr0), "%s", e->naddrs ? e->addrs[0] : "");
}

static lookup find(shoal_peerstore *ps, const char *id)
{
    lookup l;

    memset(&l, 0, sizeof(l));
    l.id = id;
    shoal_peerstore_list(ps, on_entry, &l);
    return l;
}

typedef struct in_table {
    shoal_node *node;
    const char *id;
} in_table;

static int peer_known(void *arg)
{
    in_table *t = arg;

    return shoal_peer_get(t->node, t->id) != NULL;
}

static void test_events_recorded(void **state)
{
    uv_loop_t loop;
    shoal_node *n[2];
    shoal_peerstore *pa, *pb;
    char addr[128];
    lookup l;
    in_table w;

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    n[0] = new_node(&loop, NULL);
    n[1] = new_node(&loop, NULL);
    assert_int_equal(shoal_peerstore_new(&pa, n[0], NULL, NULL, 0), 0);
    assert_int_equal(shoal_peerstore_new(&pb, n[1], NULL, NULL, 0), 0);
    /* b joins a: each adds the other (JOIN), both stores learn */
    snprintf(addr, sizeof(addr), "/ip4/127.0.0.1/tcp/%d/p2p/%s",
             shoal_node_port(n[0]), shoal_node_peer_id(n[0]));
    assert_int_equal(shoal_join(n[1], addr, 1, NULL, NULL), 0);
    w.node = n[0];
    w.id = shoal_node_peer_id(n[1]);
    assert_true(itest_run_until(&loop, peer_known, &w, 5000));

    l = find(pb, shoal_node_peer_id(n[0]));
    assert_true(l.found);
    snprintf(addr, sizeof(addr), "/ip4/127.0.0.1/tcp/%d",
             shoal_node_port(n[0]));
    assert_string_equal(l.addr0, addr);
    assert_true(l.e.connected);
    assert_true(l.e.last_seen_ms > 0);
    assert_true(l.e.last_connect_ms > 0);
    assert_int_equal(l.e.failures, 0);

    /* a learned b from its JOIN, at b's listen address (not the
     * connection's ephemeral port) */
    l = find(pa, shoal_node_peer_id(n[1]));
    assert_true(l.found);
    snprintf(addr, sizeof(addr), "/ip4/127.0.0.1/tcp/%d",
             shoal_node_port(n[1]));
    assert_string_equal(l.addr0, addr);
    assert_int_equal(l.e.naddrs, 1);
    /* neither stores itself */
    assert_false(find(pa, shoal_node_peer_id(n[0])).found);
    assert_false(find(pb, shoal_node_peer_id(n[1])).found);

    shoal_peerstore_free(pa);
    shoal_peerstore_free(pb);
    close_nodes(&loop, n, 2);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* Watches one stored peer's failures and the times of its dials. */
typedef struct watch {
    shoal_peerstore *ps;
    const char *id;
    uint32_t failures;
    uint64_t attempts[8];
    uint64_t retry[8];
    size_t n;
} watch;

static int failed_thrice(void *arg)
{
    watch *w = arg;
    lookup l = find(w->ps, w->id);

    if (l.found && l.e.failures > w->failures && w->n < 8) {
        w->attempts[w->n] = l.e.last_connect_ms;
        w->retry[w->n++] = l.e.next_retry_ms;
        w->failures = l.e.failures;
    }
    return w->failures >= 3;
}

static void test_dialer_and_backoff(void **state)
{
    uv_loop_t loop;
    shoal_node *n[2];
    shoal_peerstore_config cfg;
    shoal_peerstore *ps;
    char addr[128];
    const char *dead = "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq";
    int port = itest_refusing_port();
    in_table w;
    watch dw;
    lookup l;

    (void)state;
    assert_true(port > 0);
    assert_int_equal(uv_loop_init(&loop), 0);
    n[0] = new_node(&loop, NULL);
    n[1] = new_node(&loop, NULL);
    shoal_peerstore_config_init(&cfg);
    cfg.dial_interval_ms = 50;
    cfg.backoff_min_ms = 300;
    cfg.backoff_max_ms = 1000;
    cfg.target_peers = 4;
    /* first a store that knows a and a dead peer, made while b is alone */
    assert_int_equal(shoal_peerstore_new(&ps, n[1], &cfg, NULL, 0), 0);
    snprintf(addr, sizeof(addr), "/ip4/127.0.0.1/tcp/%d",
             shoal_node_port(n[0]));
    assert_int_equal(shoal_peerstore_add(ps, shoal_node_peer_id(n[0]), addr),
                     0);
    snprintf(addr, sizeof(addr), "/ip4/127.0.0.1/tcp/%d", port);
    assert_int_equal(shoal_peerstore_add(ps, dead, addr), 0);

    /* a is dialed and enters the table; the dead one fails, and each
     * retry waits out its backoff, doubling */
    w.node = n[1];
    w.id = shoal_node_peer_id(n[0]);
    assert_true(itest_run_until(&loop, peer_known, &w, 5000));
    l = find(ps, w.id);
    assert_true(l.e.connected);
    assert_int_equal(l.e.failures, 0);

    memset(&dw, 0, sizeof(dw));
    dw.ps = ps;
    dw.id = dead;
    assert_true(itest_run_until(&loop, failed_thrice, &dw, 10000));
    assert_true(dw.n >= 2);
    for (size_t i = 1; i < dw.n; i++) {
        /* never before the retry time; the delays 300, 600, ... */
        assert_true(dw.attempts[i] >= dw.retry[i - 1]);
        assert_true(dw.retry[i] - dw.attempts[i] >=
                    dw.retry[i - 1] - dw.attempts[i - 1]);
    }
    assert_null(shoal_peer_get(n[1], dead));
    shoal_peerstore_free(ps);
    close_nodes(&loop, n, 2);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_file_carried_to_a_restart(void **state)
{
    uv_loop_t loop;
    shoal_node *n[2];
    shoal_peerstore_config cfg;
    shoal_peerstore *ps;
    char path[300], key[300], addr[256], a_id[128];
    in_table w;
    lookup l;

    (void)state;
    snprintf(path, sizeof(path), "%s/b.peers", tmpdir);
    snprintf(key, sizeof(key), "%s/b.key", tmpdir);
    assert_int_equal(uv_loop_init(&loop), 0);
    n[0] = new_node(&loop, NULL);
    snprintf(a_id, sizeof(a_id), "%s", shoal_node_peer_id(n[0]));
    n[1] = new_node(&loop, key);
    shoal_peerstore_config_init(&cfg);
    cfg.path = path;
    assert_int_equal(shoal_peerstore_new(&ps, n[1], &cfg, NULL, 0), 0);
    snprintf(addr, sizeof(addr), "/ip4/127.0.0.1/tcp/%d/p2p/%s",
             shoal_node_port(n[0]), a_id);
    assert_int_equal(shoal_join(n[1], addr, 1, NULL, NULL), 0);
    w.node = n[1];
    w.id = a_id;
    assert_true(itest_run_until(&loop, peer_known, &w, 5000));
    shoal_peerstore_free(ps); /* writes it */
    close_nodes(&loop, &n[1], 1);

    /* b again, same key, no join: the store brings a back */
    n[1] = new_node(&loop, key);
    assert_int_equal(shoal_peerstore_new(&ps, n[1], &cfg, NULL, 0), 0);
    assert_int_equal(shoal_peerstore_count(ps), 1);
    w.node = n[1];
    assert_true(itest_run_until(&loop, peer_known, &w, 5000));
    l = find(ps, a_id);
    assert_true(l.found);
    assert_true(l.e.connected);
    shoal_peerstore_free(ps);
    close_nodes(&loop, n, 2);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events_recorded),
        cmocka_unit_test(test_dialer_and_backoff),
        cmocka_unit_test(test_file_carried_to_a_restart),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
