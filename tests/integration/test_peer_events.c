/* Peer events (shoal_peer_events_add): ADDED and REMOVED follow the peer
 * table in both modes, CONNECTED fires on both ends once Noise proved the
 * ids, CONNECT_FAILED on a dial to a named peer that failed (refused,
 * another id answered) and not on one to an unnamed address;
 * shoal_peer_connected follows the connection. Two nodes on loopback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "itest.h"

#define MAX_EVENTS 32

typedef struct recorded {
    int kind;
    char id[SHOAL_ID_MAX];
    char addr[600];
    int outbound;
    int status;
} recorded;

typedef struct recorder {
    recorded ev[MAX_EVENTS];
    size_t count;
} recorder;

static void on_event(shoal_node *node, const shoal_peer_event *ev, void *user)
{
    recorder *r = user;
    recorded *e;

    (void)node;
    assert_non_null(ev->id);
    assert_non_null(ev->addr);
    if (r->count == MAX_EVENTS)
        return;
    e = &r->ev[r->count++];
    e->kind = ev->kind;
    snprintf(e->id, sizeof(e->id), "%s", ev->id);
    snprintf(e->addr, sizeof(e->addr), "%s", ev->addr);
    e->outbound = ev->outbound;
    e->status = ev->status;
}

/* The first recorded event of kind, or NULL. */
static const recorded *find(const recorder *r, int kind)
{
    for (size_t i = 0; i < r->count; i++)
        if (r->ev[i].kind == kind)
            return &r->ev[i];
    return NULL;
}

typedef struct wait_kind {
    const recorder *r;
    int kind;
} wait_kind;

static int has_kind(void *arg)
{
    wait_kind *w = arg;

    return find(w->r, w->kind) != NULL;
}

static int wait_for(uv_loop_t *loop, const recorder *r, int kind)
{
    wait_kind w = {r, kind};

    return itest_run_until(loop, has_kind, &w, 5000);
}

typedef struct pair {
    uv_loop_t loop;
    shoal_node *a, *b;
    recorder ra, rb;
    char b_addr[512];
} pair;

static void pair_up(pair *p, int classic)
{
    shoal_config cfg;

    memset(p, 0, sizeof(*p));
    assert_int_equal(uv_loop_init(&p->loop), 0);
    shoal_config_init(&cfg);
    cfg.classic = classic;
    cfg.handle_signals = 0;
    cfg.log_level = getenv("SHOAL_DEBUG") ? SHOAL_LOG_DEBUG : SHOAL_LOG_ERROR;
    cfg.listen = "127.0.0.1:0";
    assert_int_equal(shoal_node_new(&p->a, &p->loop, &cfg), 0);
    assert_int_equal(shoal_node_new(&p->b, &p->loop, &cfg), 0);
    assert_int_equal(shoal_peer_events_add(p->a, on_event, &p->ra), 0);
    assert_int_equal(shoal_peer_events_add(p->b, on_event, &p->rb), 0);
    if (!classic)
        snprintf(p->b_addr, sizeof(p->b_addr), "/ip4/127.0.0.1/tcp/%d/p2p/%s",
                 shoal_node_port(p->b), shoal_node_peer_id(p->b));
}

static void pair_down(pair *p)
{
    shoal_node *both[2] = {p->a, p->b};

    assert_true(itest_close_nodes(&p->loop, both, 2, 5000));
    assert_int_equal(uv_loop_close(&p->loop), 0);
}

static void on_pong(shoal_node *node, int status, uint64_t rtt_us,
                    void *user)
{
    int *out = user;

    (void)node;
    (void)rtt_us;
    *out = status == 0 ? 1 : status;
}

static int ping(pair *p, const char *addr)
{
    int result = 0;

    assert_int_equal(shoal_ping(p->a, addr, 5000, on_pong, &result), 0);
    assert_true(itest_run_until(&p->loop, itest_int_nonzero, &result, 6000));
    return result;
}

static void test_connected_both_ends(void **state)
{
    pair p;
    const recorded *e;
    char expect[64];

    (void)state;
    pair_up(&p, 0);
    assert_false(shoal_peer_connected(p.a, shoal_node_peer_id(p.b)));
    assert_int_equal(ping(&p, p.b_addr), 1);
    assert_true(wait_for(&p.loop, &p.rb, SHOAL_PEER_CONNECTED));

    e = find(&p.ra, SHOAL_PEER_CONNECTED);
    assert_non_null(e);
    assert_string_equal(e->id, shoal_node_peer_id(p.b));
    snprintf(expect, sizeof(expect), "/ip4/127.0.0.1/tcp/%d",
             shoal_node_port(p.b));
    assert_string_equal(e->addr, expect);
    assert_int_equal(e->outbound, 1);

    e = find(&p.rb, SHOAL_PEER_CONNECTED);
    assert_string_equal(e->id, shoal_node_peer_id(p.a));
    assert_memory_equal(e->addr, "/ip4/127.0.0.1/tcp/", 19);
    assert_int_equal(e->outbound, 0);

    /* one connection, one event each; no failure anywhere */
    assert_int_equal(p.ra.count, 1);
    assert_int_equal(p.rb.count, 1);
    assert_true(shoal_peer_connected(p.a, shoal_node_peer_id(p.b)));
    assert_true(shoal_peer_connected(p.b, shoal_node_peer_id(p.a)));
    assert_false(shoal_peer_connected(p.a, "not an id"));
    assert_false(shoal_peer_connected(p.a, NULL));

    assert_int_equal(shoal_disconnect(p.a, shoal_node_peer_id(p.b)), 0);
    assert_false(shoal_peer_connected(p.a, shoal_node_peer_id(p.b)));
    pair_down(&p);
}

static void test_added_removed(void **state)
{
    pair p;
    char id[SHOAL_ID_MAX];
    const recorded *e;

    (void)state;
    pair_up(&p, 0);
    snprintf(id, sizeof(id), "%s", shoal_node_peer_id(p.b));
    assert_int_equal(shoal_peer_add(p.a, id, "127.0.0.1",
                                    (uint16_t)shoal_node_port(p.b)), 0);
    e = find(&p.ra, SHOAL_PEER_ADDED);
    assert_non_null(e);
    assert_string_equal(e->id, id);
    assert_string_equal(e->addr, p.b_addr);
    /* a peer already there is not added again */
    assert_int_equal(shoal_peer_add(p.a, id, "127.0.0.1", 1), SHOAL_EEXIST);
    assert_int_equal(p.ra.count, 1);

    /* the id handed in may be the table's own copy */
    assert_int_equal(shoal_peer_remove(p.a, shoal_peer_at(p.a, 0)->id), 0);
    e = find(&p.ra, SHOAL_PEER_REMOVED);
    assert_non_null(e);
    assert_string_equal(e->id, id);
    assert_string_equal(e->addr, "");
    assert_int_equal(shoal_peer_remove(p.a, id), SHOAL_ENOENT);
    assert_int_equal(p.ra.count, 2);

    /* an observer removed hears nothing more */
    assert_int_equal(shoal_peer_events_remove(p.a, on_event, &p.ra), 0);
    assert_int_equal(shoal_peer_events_remove(p.a, on_event, &p.ra),
                     SHOAL_ENOENT);
    assert_int_equal(shoal_peer_add(p.a, id, "127.0.0.1", 1), 0);
    assert_int_equal(p.ra.count, 2);
    pair_down(&p);
}

static void test_classic_added(void **state)
{
    pair p;
    const recorded *e;

    (void)state;
    pair_up(&p, 1);
    assert_int_equal(shoal_peer_add(p.a, "peer1", "127.0.0.1", 7000), 0);
    e = find(&p.ra, SHOAL_PEER_ADDED);
    assert_non_null(e);
    assert_string_equal(e->id, "peer1");
    assert_string_equal(e->addr, "127.0.0.1:7000");
    assert_false(shoal_peer_connected(p.a, "peer1"));
    pair_down(&p);
}

static void test_connect_failed(void **state)
{
    pair p;
    char addr[512];
    const char *other = "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq";
    const recorded *e;
    int port = itest_refusing_port();

    (void)state;
    assert_true(port > 0);
    pair_up(&p, 0);

    /* nobody there, unnamed: not a peer's failure */
    snprintf(addr, sizeof(addr), "/ip4/127.0.0.1/tcp/%d", port);
    assert_int_equal(ping(&p, addr), SHOAL_ECONNREFUSED);
    assert_int_equal(p.ra.count, 0);

    /* nobody there, named */
    snprintf(addr, sizeof(addr), "/ip4/127.0.0.1/tcp/%d/p2p/%s", port, other);
    assert_int_equal(ping(&p, addr), SHOAL_ECONNREFUSED);
    e = find(&p.ra, SHOAL_PEER_CONNECT_FAILED);
    assert_non_null(e);
    assert_string_equal(e->id, other);
    assert_int_equal(e->outbound, 1);
    assert_int_equal(e->status, SHOAL_ECONNREFUSED);
    snprintf(addr, sizeof(addr), "/ip4/127.0.0.1/tcp/%d", port);
    assert_string_equal(e->addr, addr);

    /* b answers where other was expected: other failed, b connected to
     * nobody (on a's side) */
    p.ra.count = 0;
    snprintf(addr, sizeof(addr), "/ip4/127.0.0.1/tcp/%d/p2p/%s",
             shoal_node_port(p.b), other);
    assert_true(ping(&p, addr) < 0);
    e = find(&p.ra, SHOAL_PEER_CONNECT_FAILED);
    assert_non_null(e);
    assert_string_equal(e->id, other);
    assert_true(e->status < 0);
    assert_null(find(&p.ra, SHOAL_PEER_CONNECTED));
    assert_false(shoal_peer_connected(p.a, other));
    pair_down(&p);
}

static void test_observer_limit(void **state)
{
    pair p;
    recorder extra[8];

    (void)state;
    pair_up(&p, 0);
    /* one is there already */
    for (int i = 0; i < 7; i++)
        assert_int_equal(shoal_peer_events_add(p.a, on_event, &extra[i]), 0);
    assert_int_equal(shoal_peer_events_add(p.a, on_event, &extra[7]),
                     SHOAL_EFULL);
    assert_int_equal(shoal_peer_events_add(p.a, NULL, NULL), SHOAL_EINVAL);
    memset(extra, 0, sizeof(extra));
    /* all told, in order */
    assert_int_equal(shoal_peer_add(p.a, "x", "127.0.0.1", 1), 0);
    assert_int_equal(p.ra.count, 1);
    for (int i = 0; i < 7; i++)
        assert_int_equal(extra[i].count, 1);
    assert_int_equal(extra[7].count, 0);
    pair_down(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connected_both_ends),
        cmocka_unit_test(test_added_removed),
        cmocka_unit_test(test_classic_added),
        cmocka_unit_test(test_connect_failed),
        cmocka_unit_test(test_observer_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
