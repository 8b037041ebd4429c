/* Eclipse over secure membership: a secure attacker tries to fill a
 * victim's peer table with peers that never proved their id, and to push
 * an honest peer out of it:
 *   - JOIN of a foreign valid peer id, of "evil", of its own id on another
 *     host, and QUIT of the honest peer: each an ERRO, the table unchanged;
 *   - 1000 fake JOINs (half valid-looking foreign peer ids, half not peer
 *     ids): none added, the honest peer kept, an honest ping answered
 *     after every batch, and the refusals logged a bounded number of lines;
 *   - its own JOIN and QUIT, from its own host, still work;
 *   - the liveness check removes a planted entry whose id does not parse.
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

#define WAIT_MS 120000
#define FAKES 1000
#define BATCH 50

/* The victim's WARN lines about refused membership. */
typedef struct log_count {
    size_t refused_lines;
} log_count;

static void count_log(int level, const char *line, void *user)
{
    log_count *lc = user;

    if (strstr(line, "membership_refused") != NULL)
        lc->refused_lines++;
    itest_log_sink(level, line, NULL);
}

static shoal_node *secure_node(uv_loop_t *loop, log_count *lc)
{
    shoal_config cfg;

    /* valgrind: let each handshake finish */
    itest_secure_config(&cfg, "/ip4/127.0.0.1/tcp/0", WAIT_MS);
    if (lc != NULL) {
        cfg.log_cb = count_log;
        cfg.log_user = lc;
    }
    return itest_node_new(loop, &cfg);
}

static uint16_t port_of(const char *addr)
{
    return (uint16_t)atoi(strstr(addr, "/tcp/") + 5);
}

/* Sends type with text from `from` to addr and waits for its end. */
static void call(uv_loop_t *loop, shoal_node *from, const char *addr,
                 const char *type, const char *text, itest_call *c)
{
    itest_call_init(c);
    assert_int_equal(shoal_request(from, addr, type, text, strlen(text),
                                   WAIT_MS, itest_on_reply, itest_on_end, c),
                     0);
    assert_true(itest_run_until(loop, itest_call_ended, &c->ended, WAIT_MS));
}

/* The reply was one ERRO; says which request got what otherwise. */
static void expect_erro(const itest_call *c, const char *what)
{
    if (c->count != 1 || strcmp(c->type[0], "ERRO") != 0)
        fail_msg("%s: expected one ERRO reply, got %zu, the first %s \"%s\"",
                 what, c->count, c->count ? c->type[0] : "-",
                 c->count ? c->data[0] : "");
}

/* ---------------------------------------------------------- the flood */

typedef struct flood {
    size_t ended, erro, repl;
} flood;

static void flood_reply(const shoal_msg *reply, void *user)
{
    flood *f = user;

    if (strcmp(reply->type, "ERRO") == 0)
        f->erro++;
    else
        f->repl++;
}

static void flood_end(int status, void *user)
{
    (void)status;
    ((flood *)user)->ended++;
}

typedef struct wait_count {
    const size_t *value;
    size_t want;
} wait_count;

static int count_reached(void *arg)
{
    const wait_count *w = arg;

    return *w->value >= w->want;
}

typedef struct pong {
    int done;
    int status;
} pong;

static void on_pong(shoal_node *node, int status, uint64_t rtt_us, void *user)
{
    pong *p = user;

    (void)node;
    (void)rtt_us;
    p->status = status;
    p->done = 1;
}

/* The honest peer pings the victim: answered, by the deadline. */
static void honest_ping(uv_loop_t *loop, shoal_node *honest,
                        const char *victim_addr, const char *when)
{
    pong p = {0, 1};

    assert_int_equal(shoal_ping(honest, victim_addr, WAIT_MS, on_pong, &p), 0);
    assert_true(itest_run_until(loop, itest_int_nonzero, &p.done, WAIT_MS));
    if (p.status != 0)
        fail_msg("honest ping %s: expected 0, got %s", when,
                 shoal_strerror(p.status));
}

/* A valid-looking peer id that is no node's: another's id, one byte of
 * its key changed. */
static void foreign_id(const char *base, unsigned i, char *out, size_t size)
{
    uint8_t bytes[128];
    int n = shoal_peer_id_to_bytes(base, bytes, sizeof(bytes));

    assert_true(n > 8);
    bytes[n - 1] ^= (uint8_t)(i + 1);
    bytes[n - 2] ^= (uint8_t)((i >> 8) + 1);
    assert_true(shoal_peer_id_to_text(bytes, (size_t)n, out, size) > 0);
}

static void test_secure_join_quit(void **state)
{
    uv_loop_t loop;
    log_count lc = {0};
    shoal_node *victim, *honest, *attacker, *other;
    char vaddr[512], haddr[512], aaddr[512], text[1024], fake[SHOAL_ID_MAX];
    itest_call c;
    flood f = {0};
    uint64_t started;

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    victim = secure_node(&loop, &lc);
    honest = secure_node(&loop, NULL);
    attacker = secure_node(&loop, NULL);
    other = secure_node(&loop, NULL); /* only its id is used */
    assert_int_equal(shoal_membership_enable(victim), 0);
    assert_int_equal(shoal_node_addr(victim, vaddr, sizeof(vaddr)), 0);
    assert_int_equal(shoal_node_addr(honest, haddr, sizeof(haddr)), 0);
    assert_int_equal(shoal_node_addr(attacker, aaddr, sizeof(aaddr)), 0);
    assert_int_equal(shoal_peer_add(victim, shoal_node_peer_id(honest),
                                    "127.0.0.1", port_of(haddr)),
                     0);
    started = itest_now_ms();

    /* another node's (valid) id */
    snprintf(text, sizeof(text), "%s 127.0.0.1 %u", shoal_node_peer_id(other),
             (unsigned)port_of(aaddr));
    call(&loop, attacker, vaddr, "JOIN", text, &c);
    expect_erro(&c, "JOIN of another peer's id");
    itest_call_free(&c);
    assert_null(shoal_peer_get(victim, shoal_node_peer_id(other)));

    /* not a peer id at all */
    call(&loop, attacker, vaddr, "JOIN", "evil 127.0.0.1 4000", &c);
    expect_erro(&c, "JOIN of \"evil\"");
    itest_call_free(&c);
    assert_null(shoal_peer_get(victim, "evil"));

    /* its own id, but on another host */
    snprintf(text, sizeof(text), "%s 10.9.8.7 %u", shoal_node_peer_id(attacker),
             (unsigned)port_of(aaddr));
    call(&loop, attacker, vaddr, "JOIN", text, &c);
    expect_erro(&c, "JOIN of its own id on another host");
    itest_call_free(&c);
    assert_null(shoal_peer_get(victim, shoal_node_peer_id(attacker)));

    /* the honest peer's QUIT, sent by the attacker */
    call(&loop, attacker, vaddr, "QUIT", shoal_node_peer_id(honest), &c);
    expect_erro(&c, "QUIT of the honest peer");
    itest_call_free(&c);
    assert_non_null(shoal_peer_get(victim, shoal_node_peer_id(honest)));
    honest_ping(&loop, honest, vaddr, "after the single attempts");

    /* the flood, in batches, the honest peer pinging between them */
    for (unsigned i = 0; i < FAKES; i += BATCH) {
        wait_count w = {&f.ended, i + BATCH};
        for (unsigned j = i; j < i + BATCH; j++) {
            if (j % 2)
                foreign_id(shoal_node_peer_id(other), j, fake, sizeof(fake));
            else
                snprintf(fake, sizeof(fake), "fake%u", j);
            snprintf(text, sizeof(text), "%s 127.0.0.1 %u", fake, 1000 + j);
            assert_int_equal(shoal_request(attacker, vaddr, "JOIN", text,
                                           strlen(text), WAIT_MS, flood_reply,
                                           flood_end, &f),
                             0);
        }
        assert_true(itest_run_until(&loop, count_reached, &w, WAIT_MS));
        honest_ping(&loop, honest, vaddr, "during the flood");
    }
    if (f.erro != FAKES || f.repl != 0)
        fail_msg("flood: expected %d ERRO and no REPL, got %zu ERRO, %zu "
                 "REPL", FAKES, f.erro, f.repl);
    if (shoal_peer_count(victim) != 1 ||
        shoal_peer_get(victim, shoal_node_peer_id(honest)) == NULL)
        fail_msg("after the flood: expected the honest peer alone, got %zu "
                 "peers, the first %s", shoal_peer_count(victim),
                 shoal_peer_count(victim) ? shoal_peer_at(victim, 0)->id : "-");
    /* one line per cause per interval (1 s by default), however many
     * refusals */
    {
        size_t allowed = 4 * (2 + (size_t)((itest_now_ms() - started) / 1000));
        if (lc.refused_lines > allowed)
            fail_msg("log: expected at most %zu membership_refused lines for "
                     "%d refusals, got %zu", allowed, FAKES + 4,
                     lc.refused_lines);
    }

    /* the attacker's own JOIN and QUIT are still honoured */
    snprintf(text, sizeof(text), "%s 127.0.0.1 %u", shoal_node_peer_id(attacker),
             (unsigned)port_of(aaddr));
    call(&loop, attacker, vaddr, "JOIN", text, &c);
    if (c.count != 1 || strcmp(c.type[0], "REPL") != 0)
        fail_msg("own JOIN: expected REPL, got %s \"%s\"",
                 c.count ? c.type[0] : "-", c.count ? c.data[0] : "");
    itest_call_free(&c);
    assert_non_null(shoal_peer_get(victim, shoal_node_peer_id(attacker)));
    call(&loop, attacker, vaddr, "QUIT", shoal_node_peer_id(attacker), &c);
    if (c.count != 1 || strcmp(c.type[0], "REPL") != 0)
        fail_msg("own QUIT: expected REPL, got %s", c.count ? c.type[0] : "-");
    itest_call_free(&c);
    assert_null(shoal_peer_get(victim, shoal_node_peer_id(attacker)));
    honest_ping(&loop, honest, vaddr, "after the flood");

    shoal_node *all[] = {victim, honest, attacker, other};
    itest_close_nodes(&loop, all, 4, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* ----------------------------------------------------------- liveness */

typedef struct checked {
    int done;
    size_t removed;
} checked;

static void on_checked(shoal_node *node, size_t removed, void *user)
{
    checked *ck = user;

    (void)node;
    ck->removed = removed;
    ck->done = 1;
}

static void test_liveness_removes_unparsable(void **state)
{
    uv_loop_t loop;
    shoal_node *victim, *honest;
    char haddr[512];
    checked ck = {0, 0};

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    victim = secure_node(&loop, NULL);
    honest = secure_node(&loop, NULL);
    assert_int_equal(shoal_node_addr(honest, haddr, sizeof(haddr)), 0);
    assert_int_equal(shoal_peer_add(victim, shoal_node_peer_id(honest),
                                    "127.0.0.1", port_of(haddr)),
                     0);
    /* planted as an old node's JOIN handler let any peer do */
    assert_int_equal(shoal_peer_add(victim, "not-a-peer-id", "127.0.0.1",
                                    port_of(haddr)),
                     0);
    assert_int_equal(shoal_peers_check(victim, on_checked, &ck), 0);
    assert_true(itest_run_until(&loop, itest_int_nonzero, &ck.done, WAIT_MS));
    if (ck.removed != 1 || shoal_peer_get(victim, "not-a-peer-id") != NULL)
        fail_msg("liveness: expected the unparsable entry removed (1), got "
                 "%zu removed, it %s", ck.removed,
                 shoal_peer_get(victim, "not-a-peer-id") ? "kept" : "gone");
    assert_non_null(shoal_peer_get(victim, shoal_node_peer_id(honest)));

    shoal_node *all[] = {victim, honest};
    itest_close_nodes(&loop, all, 2, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secure_join_quit),
        cmocka_unit_test(test_liveness_removes_unparsable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
