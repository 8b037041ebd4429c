/* Peer exchange (include/shoal/pex.h) between real secure nodes on one
 * loop:
 *   - a network grown from one seed, which at first knows nobody, keeps
 *     growing: every node ends up knowing several others, with no tracker;
 *   - bad answers from a neighbour (garbage, too many peers, a peer twice,
 *     ERRO, another type) are refused and counted, and a good one is still
 *     taken after them;
 *   - addresses that do not prove their id (nobody listening, another
 *     peer answering) are never added, and are not tried again while
 *     quarantined;
 *   - questions whose addresses are of another host, or malformed, get an
 *     ERRO; a flood of questions is rate limited.
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
#include "shoal/pex.h"

#define NODES 12
#define WAIT_MS 120000

static shoal_node *secure_node(uv_loop_t *loop)
{
    /* valgrind: let each handshake finish */
    return itest_secure_node(loop, "/ip4/127.0.0.1/tcp/0", WAIT_MS);
}

/* Closes them all, waiting as long as that takes. */
static void close_nodes(uv_loop_t *loop, shoal_node **v, size_t n)
{
    itest_close_nodes(loop, v, n, 0);
}

static void addr_of(shoal_node *n, char *out, size_t size)
{
    assert_int_equal(shoal_node_addr(n, out, size), 0);
}

/* "/ip4/127.0.0.1/tcp/PORT/p2p/ID" -> PORT */
static uint16_t port_of(const char *addr)
{
    return (uint16_t)atoi(strstr(addr, "/tcp/") + 5);
}

/* ------------------------------------------------- growing from a seed */

typedef struct net {
    shoal_node *node[NODES];
    size_t want;
} net;

/* The seed knows everyone, everyone else at least want peers. */
static int grown(void *arg)
{
    net *nt = arg;

    if (shoal_peer_count(nt->node[0]) < NODES - 1)
        return 0;
    for (int i = 1; i < NODES; i++)
        if (shoal_peer_count(nt->node[i]) < nt->want)
            return 0;
    return 1;
}

static void test_grow_from_one_seed(void **state)
{
    uv_loop_t loop;
    static net nt;
    shoal_pex *pex[NODES];
    shoal_pex_config pc;
    char seed[512];
    uint64_t t0;

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    shoal_pex_config_init(&pc);
    pc.interval_ms = 300;
    pc.share_max = 4;   /* so that it takes several rounds */
    /* under valgrind a check can take long: one that timed out would be
     * quarantined past the end of the test */
    pc.timeout_ms = WAIT_MS / 2;
    for (int i = 0; i < NODES; i++) {
        nt.node[i] = secure_node(&loop);
        assert_int_equal(shoal_pex_new(&pex[i], nt.node[i], &pc), 0);
    }
    addr_of(nt.node[0], seed, sizeof(seed));
    /* each node knows the seed, and the seed knows nobody */
    for (int i = 1; i < NODES; i++)
        assert_int_equal(shoal_peer_add(nt.node[i],
                                        shoal_node_peer_id(nt.node[0]),
                                        "127.0.0.1", port_of(seed)), 0);
    nt.want = 6;
    t0 = itest_now_ms();
    assert_true(itest_run_until(&loop, grown, &nt, WAIT_MS));
    fprintf(stderr, "test_pex: %d nodes grown from one seed in %llu ms\n",
            NODES, (unsigned long long)(itest_now_ms() - t0));
    for (int i = 0; i < NODES; i++) {
        shoal_pex_stats st;
        shoal_pex_stats_get(pex[i], &st);
        assert_int_equal(st.bad_answers + st.bad_questions, 0);
        assert_true(st.added > 0);
        assert_true(st.added <= st.checked);
        for (size_t k = 0; k < shoal_peer_count(nt.node[i]); k++)
            assert_string_not_equal(shoal_peer_at(nt.node[i], k)->id,
                                    shoal_node_peer_id(nt.node[i]));
        shoal_pex_free(pex[i]);
    }
    close_nodes(&loop, nt.node, NODES);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* ------------------------------------------- a neighbour that lies */

typedef struct liar {
    const char *type;          /* what it answers PEXQ with */
    char payload[8192];
    int asked;
} liar;

static void on_liar_pexq(shoal_req *req, const shoal_msg *msg, void *user)
{
    liar *l = user;

    (void)msg;
    l->asked++;
    shoal_reply(req, l->type, l->payload, strlen(l->payload));
}

typedef struct wait_stat {
    shoal_pex *pex;
    size_t offset;             /* of the counter in shoal_pex_stats */
    uint64_t at_least;
} wait_stat;

static int stat_reached(void *arg)
{
    wait_stat *w = arg;
    shoal_pex_stats st;
    uint64_t v;

    shoal_pex_stats_get(w->pex, &st);
    memcpy(&v, (const char *)&st + w->offset, sizeof(v));
    return v >= w->at_least;
}

#define WAIT_STAT(loop, p, field, n)                                       \
    do {                                                                   \
        wait_stat w_ = {(p), offsetof(shoal_pex_stats, field), (n)};       \
        assert_true(itest_run_until((loop), stat_reached, &w_, WAIT_MS));  \
    } while (0)

/* A peer id nobody holds: the multihash of a made-up key. */
static void made_up_id(int seed, char *out, size_t size)
{
    uint8_t mh[38] = {0x00, 0x24, 0x08, 0x01, 0x12, 0x20};

    memset(mh + 6, seed, 32);
    assert_true(shoal_peer_id_to_text(mh, sizeof(mh), out, size) > 0);
}

static void test_lying_neighbour(void **state)
{
    uv_loop_t loop;
    shoal_node *asker, *liar_node, *honest;
    shoal_pex *pex;
    shoal_pex_config pc;
    shoal_pex_stats st;
    static liar l;
    char laddr[512], haddr[512], id[SHOAL_ID_MAX], id2[SHOAL_ID_MAX];
    size_t pos = 0;
    int refusing = itest_refusing_port();

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    asker = secure_node(&loop);
    liar_node = secure_node(&loop);
    honest = secure_node(&loop);
    shoal_pex_config_init(&pc);
    pc.interval_ms = 3600000;  /* asked by hand only */
    pc.timeout_ms = 10000;
    assert_int_equal(shoal_pex_new(&pex, asker, &pc), 0);
    assert_int_equal(shoal_handle(liar_node, "PEXQ", on_liar_pexq, &l), 0);
    addr_of(liar_node, laddr, sizeof(laddr));
    addr_of(honest, haddr, sizeof(haddr));
    made_up_id(7, id, sizeof(id));
    made_up_id(8, id2, sizeof(id2));

    /* answers that are refused whole, each counted */
    static const struct {
        const char *type, *payload;
    } bad[] = {
        {"PEXA", "garbage"},
        {"PEXA", "/ip4/127.0.0.1/tcp/1/p2p/x\n"},
        {"ERRO", "no"},
        {"PEER", ""},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        l.type = bad[i].type;
        snprintf(l.payload, sizeof(l.payload), "%s", bad[i].payload);
        assert_int_equal(shoal_pex_ask(pex, laddr), 0);
        WAIT_STAT(&loop, pex, bad_answers, i + 1);
    }
    /* 33 peers: one too many */
    l.type = "PEXA";
    for (int i = 0; i < 33; i++) {
        char other[SHOAL_ID_MAX];
        made_up_id(20 + i, other, sizeof(other));
        pos += (size_t)snprintf(l.payload + pos, sizeof(l.payload) - pos,
                                "%s/ip4/127.0.0.1/tcp/%d/p2p/%s",
                                i ? "\n" : "", refusing, other);
    }
    assert_int_equal(shoal_pex_ask(pex, laddr), 0);
    WAIT_STAT(&loop, pex, bad_answers, 5);
    /* the same peer twice */
    snprintf(l.payload, sizeof(l.payload),
             "/ip4/127.0.0.1/tcp/%d/p2p/%s\n/ip4/127.0.0.1/tcp/%d/p2p/%s",
             refusing, id, refusing, id);
    assert_int_equal(shoal_pex_ask(pex, laddr), 0);
    WAIT_STAT(&loop, pex, bad_answers, 6);
    shoal_pex_stats_get(pex, &st);
    assert_int_equal(st.checked, 0);
    assert_int_equal(shoal_peer_count(asker), 0);

    /* a well-formed answer: one address where nobody listens, one where
     * another peer (honest) answers for id2, and honest itself */
    snprintf(l.payload, sizeof(l.payload),
             "/ip4/127.0.0.1/tcp/%d/p2p/%s\n"
             "/ip4/127.0.0.1/tcp/%u/p2p/%s\n%s",
             refusing, id, (unsigned)port_of(haddr), id2, haddr);
    assert_int_equal(shoal_pex_ask(pex, laddr), 0);
    WAIT_STAT(&loop, pex, answers, 1);
    WAIT_STAT(&loop, pex, check_failed, 2);
    WAIT_STAT(&loop, pex, added, 1);
    shoal_pex_stats_get(pex, &st);
    assert_int_equal(st.checked, 3);
    assert_int_equal(shoal_peer_count(asker), 1);
    assert_non_null(shoal_peer_get(asker, shoal_node_peer_id(honest)));
    assert_null(shoal_peer_get(asker, id));
    assert_null(shoal_peer_get(asker, id2));

    /* the same again: the two that failed rest, honest is known */
    assert_int_equal(shoal_pex_ask(pex, laddr), 0);
    WAIT_STAT(&loop, pex, answers, 2);
    shoal_pex_stats_get(pex, &st);
    assert_int_equal(st.checked, 3);
    assert_int_equal(st.quarantined, 2);
    assert_int_equal(st.bad_answers, 6);
    assert_int_equal(l.asked, 8);

    shoal_pex_free(pex);
    shoal_node *all[3] = {asker, liar_node, honest};
    close_nodes(&loop, all, 3);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* ------------------------------------------------- bad questions */

static void ask_raw(uv_loop_t *loop, shoal_node *from, const char *to,
                    const char *payload, itest_call *call)
{
    itest_call_init(call);
    assert_int_equal(shoal_request(from, to, "PEXQ", payload, strlen(payload),
                                   10000, itest_on_reply, itest_on_end,
                                   call), 0);
    assert_true(itest_run_until(loop, itest_call_ended, call, WAIT_MS));
    assert_int_equal(call->status, 0);
    assert_int_equal(call->count, 1);
}

static void test_bad_questions(void **state)
{
    uv_loop_t loop;
    shoal_node *server, *asker;
    shoal_pex *pex;
    shoal_pex_config pc;
    shoal_pex_stats st;
    itest_call call;
    char saddr[512], own[512], q[1024];
    int limited = 0, served = 0;

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    server = secure_node(&loop);
    asker = secure_node(&loop);
    shoal_pex_config_init(&pc);
    pc.interval_ms = 3600000;
    pc.answers_per_s = 5;       /* a burst of 10 */
    assert_int_equal(shoal_pex_new(&pex, server, &pc), 0);
    addr_of(server, saddr, sizeof(saddr));
    addr_of(asker, own, sizeof(own));

    ask_raw(&loop, asker, saddr, "garbage", &call);
    assert_true(strcmp(call.type[0], "ERRO") == 0 &&
                strstr(call.data[0], "malformed: not /ip4") != NULL);
    itest_call_free(&call);
    snprintf(q, sizeof(q), "/ip4/10.1.2.3/tcp/4001/p2p/%s",
             shoal_node_peer_id(asker));
    ask_raw(&loop, asker, saddr, q, &call);
    assert_true(itest_reply_is(&call, 0, "ERRO", "malformed: address 1 is "
                               "not on the asker's host"));
    itest_call_free(&call);
    shoal_pex_stats_get(pex, &st);
    assert_int_equal(st.bad_questions, 2);
    assert_int_equal(st.checked, 0);

    /* a good question: the asker's address is checked and added; the
     * answer leaves the asker out */
    ask_raw(&loop, asker, saddr, own, &call);
    assert_true(itest_reply_is(&call, 0, "PEXA", ""));
    itest_call_free(&call);
    WAIT_STAT(&loop, pex, added, 1);
    assert_non_null(shoal_peer_get(server, shoal_node_peer_id(asker)));

    /* a flood: the bucket (10, 5/s) runs dry, and the node still serves */
    for (int i = 0; i < 30; i++) {
        ask_raw(&loop, asker, saddr, "", &call);
        if (itest_reply_is(&call, 0, "ERRO", "rate_limited"))
            limited++;
        else if (strcmp(call.type[0], "PEXA") == 0)
            served++;
        itest_call_free(&call);
    }
    assert_true(limited >= 10);
    assert_true(served >= 1);
    shoal_pex_stats_get(pex, &st);
    assert_int_equal(st.rate_limited, (uint64_t)limited);

    shoal_pex_free(pex);
    shoal_node *all[2] = {server, asker};
    close_nodes(&loop, all, 2);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_refused(void **state)
{
    uv_loop_t loop;
    shoal_config cfg;
    shoal_node *n;
    shoal_pex *pex;

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    shoal_config_init(&cfg);
    cfg.handle_signals = 0;
    cfg.classic = 1;
    cfg.listen = "127.0.0.1:0";
    cfg.log_cb = itest_log_sink;
    assert_int_equal(shoal_node_new(&n, &loop, &cfg), 0);
    assert_int_equal(shoal_pex_new(&pex, n, NULL), SHOAL_EINVAL);
    assert_null(pex);
    close_nodes(&loop, &n, 1);

    /* and configs that cannot work */
    n = secure_node(&loop);
    for (int i = 0; i < 5; i++) {
        shoal_pex_config pc;
        shoal_pex_config_init(&pc);
        if (i == 0)
            pc.interval_ms = 0;
        if (i == 1)
            pc.share_max = 0;
        if (i == 2)
            pc.share_max = 33;
        if (i == 3)
            pc.checks_max = 0;
        if (i == 4)
            pc.answers_per_s = 0;
        assert_int_equal(shoal_pex_new(&pex, n, &pc), SHOAL_EINVAL);
    }
    close_nodes(&loop, &n, 1);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_bad_questions),
        cmocka_unit_test(test_lying_neighbour),
        cmocka_unit_test(test_grow_from_one_seed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
