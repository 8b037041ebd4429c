/* The tracker client's promises (include/shoal/tracker.h) between real
 * secure nodes on one loop, on loopback:
 *   - a tracker nobody answers for is retried with a delay that doubles
 *     from backoff_min_ms up to backoff_max_ms (read off the client's
 *     per-tracker stats, never off the clock), and once a tracker listens
 *     there the client announces and its backoff is gone;
 *   - several trackers together: three nodes announce to two; one tracker
 *     dies and they keep their peers and connections, go on announcing to
 *     the other, and find a newcomer through it; the dead one comes back on
 *     its port and key and they announce to it again.
 * Every wait polls with a deadline; no assertion depends on how long
 * anything took. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "itest.h"
#include "shoal.h"
#include "shoal/tracker.h"

/* Deadlines, generous: under valgrind everything is ~50x slower. */
#define WAIT_MS 120000

/* key_file: the identity to use (a tracker restarted with its id), or
 * NULL for a new one. */
static shoal_node *secure_node(uv_loop_t *loop, const char *listen,
                               const char *key_file)
{
    shoal_config cfg;

    /* under valgrind a handshake can take seconds: let each finish */
    itest_secure_config(&cfg, listen, WAIT_MS);
    cfg.key_file = key_file;
    /* the peers' connections carry no streams once pinged: kept open for
     * the whole test, so that losing one means something */
    cfg.idle_timeout_ms = 10 * WAIT_MS;
    return itest_node_new(loop, &cfg);
}

/* Closes them all, waiting as long as that takes. */
static void close_nodes(uv_loop_t *loop, shoal_node **v, size_t n)
{
    itest_close_nodes(loop, v, n, 0);
}

/* A key file in a fresh directory, and the peer id it holds (made by a
 * node that neither listens nor runs). */
typedef struct ident {
    char dir[64], key[96], id[SHOAL_ID_MAX];
} ident;

static void ident_make(ident *k)
{
    shoal_config cfg;
    shoal_node *n;

    snprintf(k->dir, sizeof(k->dir), "/tmp/shoal-tc-XXXXXX");
    assert_non_null(mkdtemp(k->dir));
    snprintf(k->key, sizeof(k->key), "%s/tracker.key", k->dir);
    shoal_config_init(&cfg);
    cfg.handle_signals = 0;
    cfg.key_file = k->key;
    cfg.log_level = SHOAL_LOG_ERROR;
    assert_int_equal(shoal_node_new(&n, NULL, &cfg), 0);
    snprintf(k->id, sizeof(k->id), "%s", shoal_node_peer_id(n));
    shoal_node_free(n);
}

static void ident_remove(ident *k)
{
    unlink(k->key);
    rmdir(k->dir);
}

/* A tracker on node, taking every announce (all sources are 127.0.0.1). */
static shoal_tracker *tracker_on(shoal_node *node)
{
    shoal_tracker_config tc;
    shoal_tracker *t;

    shoal_tracker_config_init(&tc);
    tc.rate = 1e6;
    tc.burst = 1e6;
    assert_int_equal(shoal_tracker_new(&t, node, &tc), 0);
    return t;
}

static shoal_tracker_client_tracker_stats trk_stats(shoal_tracker_client *c,
                                                    size_t i)
{
    shoal_tracker_client_tracker_stats ts;

    assert_int_equal(shoal_tracker_client_tracker_stats_get(c, i, &ts), 0);
    return ts;
}

/* ------------------------------------------------- backoff, then back */

#define BO_MIN 50
#define BO_MAX 400
#define BO_FAILS 8            /* enough to sit at the cap a few times */

/* What the client must report after n failures in a row. */
static uint32_t backoff_after(uint32_t n)
{
    uint32_t d = BO_MIN;

    while (--n > 0 && d < BO_MAX)
        d *= 2;
    return d > BO_MAX ? BO_MAX : d;
}

typedef struct watch {
    shoal_tracker_client *c;
    uint32_t seen[BO_FAILS + 8]; /* backoff_ms seen at each failure count */
    uint32_t wait[BO_FAILS + 8];
    uint32_t last;            /* the highest failure count seen */
    int bad;                  /* an inconsistent report, and the first */
    char why[160];
} watch;

/* Checks, at every turn of the loop, that what the client reports is the
 * schedule: backoff_ms is a function of the failures in a row, and the
 * wait chosen is it give or take a quarter. */
static int failed_enough(void *arg)
{
    watch *w = arg;
    shoal_tracker_client_tracker_stats ts = trk_stats(w->c, 0);
    uint32_t n = ts.failures_in_row;

    if (w->bad)
        return 1;
    if (ts.announces_ok != 0 || ts.failures != n) {
        snprintf(w->why, sizeof(w->why), "ok=%llu failures=%llu in_row=%u",
                 (unsigned long long)ts.announces_ok,
                 (unsigned long long)ts.failures, (unsigned)n);
        w->bad = 1;
    } else if (n > 0 && (ts.backoff_ms != backoff_after(n) ||
                         ts.wait_ms < ts.backoff_ms - ts.backoff_ms / 4 ||
                         ts.wait_ms > ts.backoff_ms + ts.backoff_ms / 4)) {
        snprintf(w->why, sizeof(w->why), "failures=%u backoff_ms=%u "
                 "wait_ms=%u", (unsigned)n, (unsigned)ts.backoff_ms,
                 (unsigned)ts.wait_ms);
        w->bad = 1;
    } else if (n < w->last) {
        snprintf(w->why, sizeof(w->why), "failures went %u -> %u",
                 (unsigned)w->last, (unsigned)n);
        w->bad = 1;
    } else if (n < BO_FAILS + 8) {
        w->seen[n] = ts.backoff_ms;
        w->wait[n] = ts.wait_ms;
        w->last = n;
    }
    return w->bad || n >= BO_FAILS;
}

typedef struct back {
    shoal_tracker_client *c;
    shoal_tracker *t;
} back;

static int announced(void *arg)
{
    back *b = arg;
    shoal_tracker_stats st;

    shoal_tracker_stats_get(b->t, &st);
    return trk_stats(b->c, 0).announces_ok > 0 && st.peers == 1;
}

static void test_backoff(void **state)
{
    uv_loop_t loop;
    ident k;
    int port = itest_refusing_port();
    char taddr[512], listen[64];
    const char *trackers[1] = {taddr};
    shoal_node *node, *tnode;
    shoal_tracker_client_config cc;
    shoal_tracker_client_stats cs;
    shoal_tracker_client_tracker_stats ts;
    shoal_tracker_stats st;
    static watch w;
    back b;
    uint64_t failures;

    (void)state;
    assert_true(port > 0);
    ident_make(&k);
    snprintf(taddr, sizeof(taddr), "/ip4/127.0.0.1/tcp/%d/p2p/%s", port,
             k.id);
    assert_int_equal(uv_loop_init(&loop), 0);
    node = secure_node(&loop, "/ip4/127.0.0.1/tcp/0", NULL);

    shoal_tracker_client_config_init(&cc);
    cc.trackers = trackers;
    cc.ntrackers = 1;
    cc.interval_ms = 60000;   /* once back, one announce is all we see */
    cc.backoff_min_ms = BO_MIN;
    cc.backoff_max_ms = BO_MAX;
    cc.request_timeout_ms = WAIT_MS;
    memset(&w, 0, sizeof(w));
    assert_int_equal(shoal_tracker_client_new(&w.c, node, &cc), 0);

    /* nobody on the port: every announce is refused, and each failure
     * doubles the delay until the cap */
    assert_true(itest_run_until(&loop, failed_enough, &w, WAIT_MS));
    if (w.bad)
        fail_msg("the client's backoff report is off: %s", w.why);
    ts = trk_stats(w.c, 0);
    assert_true(ts.failures_in_row >= BO_FAILS);
    assert_int_equal(ts.backoff_ms, BO_MAX);
    for (uint32_t n = 1; n <= w.last; n++) {
        if (w.seen[n] == 0)
            continue;         /* two failures in one turn of the loop */
        assert_int_equal(w.seen[n], backoff_after(n));
        fprintf(stderr, "test_tracker_client: failure %u: backoff %u ms, "
                "waited %u ms\n", (unsigned)n, (unsigned)w.seen[n],
                (unsigned)w.wait[n]);
    }
    /* grew from min, doubling, and then stayed at the cap */
    assert_int_equal(backoff_after(1), BO_MIN);
    assert_int_equal(backoff_after(2), 2 * BO_MIN);
    assert_int_equal(backoff_after(4), BO_MAX);
    assert_int_equal(backoff_after(BO_FAILS), BO_MAX);
    shoal_tracker_client_stats_get(w.c, &cs);
    assert_int_equal(cs.announces_ok, 0);
    assert_int_equal(cs.announces_failed, ts.failures);

    /* a tracker with the expected id starts on the port: the next retry
     * announces, and the tracker is off backoff */
    snprintf(listen, sizeof(listen), "/ip4/127.0.0.1/tcp/%d", port);
    tnode = secure_node(&loop, listen, k.key);
    assert_string_equal(shoal_node_peer_id(tnode), k.id);
    b.c = w.c;
    b.t = tracker_on(tnode);
    assert_true(itest_run_until(&loop, announced, &b, WAIT_MS));
    ts = trk_stats(w.c, 0);
    failures = ts.failures;
    assert_true(failures >= BO_FAILS);
    assert_int_equal(ts.announces_ok, 1);
    assert_int_equal(ts.failures_in_row, 0);
    assert_int_equal(ts.backoff_ms, 0);
    assert_false(ts.in_flight);
    /* the next announce is an interval away, jittered, not a backoff */
    assert_true(ts.wait_ms >= 45000 && ts.wait_ms <= 75000);
    assert_true(ts.next_ms > BO_MAX && ts.next_ms <= 75000);
    shoal_tracker_stats_get(b.t, &st);
    assert_int_equal(st.peers, 1);
    assert_int_equal(st.announces, 1);
    shoal_tracker_client_stats_get(w.c, &cs);
    assert_int_equal(cs.announces_ok, 1);
    assert_int_equal(cs.announces_failed, failures);

    shoal_tracker_client_free(w.c);
    shoal_tracker_free(b.t);
    shoal_node *all[2] = {node, tnode};
    close_nodes(&loop, all, 2);
    assert_int_equal(uv_loop_close(&loop), 0);
    ident_remove(&k);
}

/* --------------------------------------------- two trackers together */

#define PEERS 4               /* three from the start, one later */

typedef struct two {
    uv_loop_t loop;
    shoal_node *node[PEERS];
    shoal_tracker_client *client[PEERS];
    size_t n;                 /* nodes running */
    shoal_tracker *ta, *tb;
    shoal_node *na, *nb;
    uint64_t a_failures[PEERS], b_ok[PEERS], a_ok[PEERS];
    uint64_t b_announces;
} two;

/* Node i's table holds every other running node. */
static int knows_all(two *t, size_t i)
{
    for (size_t j = 0; j < t->n; j++)
        if (j != i && shoal_peer_get(t->node[i],
                                     shoal_node_peer_id(t->node[j])) == NULL)
            return 0;
    return 1;
}

static int all_know_all(void *arg)
{
    two *t = arg;

    for (size_t i = 0; i < t->n; i++)
        if (!knows_all(t, i))
            return 0;
    return 1;
}

/* With A dead: every node failed on A twice more, was answered by B twice
 * more, and B counted at least that; nobody lost a peer meanwhile. */
static int going_on_without_a(void *arg)
{
    two *t = arg;
    shoal_tracker_stats st;

    for (size_t i = 0; i < 3; i++) {
        if (trk_stats(t->client[i], 0).failures < t->a_failures[i] + 2 ||
            trk_stats(t->client[i], 1).announces_ok < t->b_ok[i] + 2)
            return 0;
    }
    shoal_tracker_stats_get(t->tb, &st);
    return st.announces >= t->b_announces + 6;
}

/* A is back: each of the three announced to it and is off backoff, and A
 * lists them. */
static int a_is_back(void *arg)
{
    two *t = arg;
    shoal_tracker_stats st;

    for (size_t i = 0; i < 3; i++) {
        shoal_tracker_client_tracker_stats ts = trk_stats(t->client[i], 0);
        if (ts.announces_ok <= t->a_ok[i] || ts.failures_in_row != 0)
            return 0;
    }
    shoal_tracker_stats_get(t->ta, &st);
    return st.peers == 3;
}

static void new_client(two *t, const char *const *trackers, size_t n)
{
    shoal_tracker_client_config cc;
    size_t i = t->n;

    shoal_tracker_client_config_init(&cc);
    cc.trackers = trackers;
    cc.ntrackers = n;
    cc.interval_ms = 300;
    cc.target_peers = 8;
    cc.backoff_min_ms = 100;
    cc.backoff_max_ms = 1000;
    cc.request_timeout_ms = WAIT_MS;
    t->node[i] = secure_node(&t->loop, "/ip4/127.0.0.1/tcp/0", NULL);
    assert_int_equal(shoal_tracker_client_new(&t->client[i], t->node[i],
                                              &cc), 0);
    t->n++;
}

static void test_two_trackers(void **state)
{
    static two t;
    ident k;
    char a_addr[512], b_addr[512], a_listen[64];
    const char *both[2] = {a_addr, b_addr}, *only_b[1] = {b_addr};
    shoal_tracker_stats st;
    int connected[3][3], nconnected = 0;

    (void)state;
    memset(&t, 0, sizeof(t));
    ident_make(&k);
    assert_int_equal(uv_loop_init(&t.loop), 0);
    t.na = secure_node(&t.loop, "/ip4/127.0.0.1/tcp/0", k.key);
    t.ta = tracker_on(t.na);
    assert_int_equal(shoal_node_addr(t.na, a_addr, sizeof(a_addr)), 0);
    snprintf(a_listen, sizeof(a_listen), "/ip4/127.0.0.1/tcp/%d",
             shoal_node_port(t.na));
    t.nb = secure_node(&t.loop, "/ip4/127.0.0.1/tcp/0", NULL);
    t.tb = tracker_on(t.nb);
    assert_int_equal(shoal_node_addr(t.nb, b_addr, sizeof(b_addr)), 0);

    /* three nodes, each with both trackers, find each other */
    for (int i = 0; i < 3; i++)
        new_client(&t, both, 2);
    assert_true(itest_run_until(&t.loop, all_know_all, &t, WAIT_MS));
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 3; j++)
            connected[i][j] = i != j &&
                shoal_peer_connected(t.node[i],
                                     shoal_node_peer_id(t.node[j]));
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 3; j++)
            nconnected += connected[i][j];
    /* each pair met by a ping, over a connection still open */
    assert_int_equal(nconnected, 6);
    /* both trackers were used: each client has announced to each */
    for (size_t i = 0; i < 3; i++) {
        assert_true(trk_stats(t.client[i], 0).announces_ok > 0);
        assert_true(trk_stats(t.client[i], 1).announces_ok > 0);
    }
    shoal_tracker_stats_get(t.ta, &st);
    assert_int_equal(st.peers, 3);
    shoal_tracker_stats_get(t.tb, &st);
    assert_int_equal(st.peers, 3);

    /* A dies */
    shoal_tracker_free(t.ta);
    t.ta = NULL;
    close_nodes(&t.loop, &t.na, 1);
    for (size_t i = 0; i < 3; i++) {
        t.a_failures[i] = trk_stats(t.client[i], 0).failures;
        t.b_ok[i] = trk_stats(t.client[i], 1).announces_ok;
    }
    shoal_tracker_stats_get(t.tb, &st);
    t.b_announces = st.announces;
    assert_true(itest_run_until(&t.loop, going_on_without_a, &t, WAIT_MS));
    /* nothing was lost: peers, and the connections between them */
    assert_true(all_know_all(&t));
    shoal_tracker_stats_get(t.tb, &st);
    fprintf(stderr, "test_tracker_client: without A: B's announces %llu -> "
            "%llu; node 0: A failures %llu -> %llu (backoff %u ms)\n",
            (unsigned long long)t.b_announces,
            (unsigned long long)st.announces,
            (unsigned long long)t.a_failures[0],
            (unsigned long long)trk_stats(t.client[0], 0).failures,
            (unsigned)trk_stats(t.client[0], 0).backoff_ms);
    for (size_t i = 0; i < 3; i++) {
        shoal_tracker_client_tracker_stats ta = trk_stats(t.client[i], 0);
        shoal_tracker_client_tracker_stats tb = trk_stats(t.client[i], 1);
        assert_true(ta.failures_in_row >= 2);
        assert_true(ta.backoff_ms >= 200);
        assert_int_equal(tb.failures_in_row, 0);
        assert_int_equal(tb.backoff_ms, 0);
        assert_int_equal(shoal_peer_count(t.node[i]), 2);
        for (size_t j = 0; j < 3; j++)
            if (connected[i][j])
                assert_true(shoal_peer_connected(
                    t.node[i], shoal_node_peer_id(t.node[j])));
    }

    /* a fourth node that knows only B: found by the three through B */
    new_client(&t, only_b, 1);
    assert_true(itest_run_until(&t.loop, all_know_all, &t, WAIT_MS));
    shoal_tracker_stats_get(t.tb, &st);
    assert_int_equal(st.peers, 4);

    /* A comes back on its port with its id: announced to again */
    for (size_t i = 0; i < 3; i++)
        t.a_ok[i] = trk_stats(t.client[i], 0).announces_ok;
    t.na = secure_node(&t.loop, a_listen, k.key);
    assert_string_equal(shoal_node_peer_id(t.na), k.id);
    t.ta = tracker_on(t.na);
    assert_true(itest_run_until(&t.loop, a_is_back, &t, WAIT_MS));
    shoal_tracker_stats_get(t.ta, &st);
    assert_int_equal(st.peers, 3);   /* the fourth knows only B */
    for (size_t i = 0; i < t.n; i++)
        assert_int_equal(shoal_peer_count(t.node[i]), 3);

    for (size_t i = 0; i < t.n; i++)
        shoal_tracker_client_free(t.client[i]);
    shoal_tracker_free(t.ta);
    shoal_tracker_free(t.tb);
    close_nodes(&t.loop, t.node, t.n);
    shoal_node *trk[2] = {t.na, t.nb};
    close_nodes(&t.loop, trk, 2);
    assert_int_equal(uv_loop_close(&t.loop), 0);
    ident_remove(&k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_two_trackers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
