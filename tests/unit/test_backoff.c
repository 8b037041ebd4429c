/* The retry schedule (src/core/backoff.h) the tracker client uses, with the
 * jitter's random source injected: doubling from min, capped at max, reset
 * after a success, jitter within a quarter either way and never 0, no
 * overflow at the ends of uint32_t; and the client's config checks
 * (shoal_tracker_client_new on a node that does not listen: nothing is
 * sent, the loop never runs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "shoal.h"
#include "shoal/tracker.h"
#include "core/backoff.h"

/* Random sources: always the lowest, always the highest, a fixed value
 * (taken modulo upper by the caller's contract: here by hand), and one
 * that records the bound it was asked for. */
static uint32_t rand_low(uint32_t upper, void *user)
{
    (void)upper;
    (void)user;
    return 0;
}

static uint32_t rand_high(uint32_t upper, void *user)
{
    (void)user;
    return upper - 1;
}

/* A source that breaks its contract (returns upper or more): the jitter
 * must stay in range anyway. */
static uint32_t rand_wild(uint32_t upper, void *user)
{
    (void)user;
    return upper + 12345;
}

typedef struct seq {
    uint32_t next;            /* a counter, so values differ call to call */
    uint32_t last_upper;
} seq;

static uint32_t rand_seq(uint32_t upper, void *user)
{
    seq *s = user;

    s->last_upper = upper;
    return s->next++ % upper;
}

static void test_step(void **state)
{
    (void)state;
    /* doubling from min, capped at max */
    assert_int_equal(shoal_backoff_step(0, 1000, 60000), 1000);
    assert_int_equal(shoal_backoff_step(1000, 1000, 60000), 2000);
    assert_int_equal(shoal_backoff_step(16000, 1000, 60000), 32000);
    assert_int_equal(shoal_backoff_step(32000, 1000, 60000), 60000);
    assert_int_equal(shoal_backoff_step(60000, 1000, 60000), 60000);
    /* a delay past max (a config made smaller) comes back to max */
    assert_int_equal(shoal_backoff_step(500000, 1000, 60000), 60000);
    /* min == max: a constant delay */
    assert_int_equal(shoal_backoff_step(0, 700, 700), 700);
    assert_int_equal(shoal_backoff_step(700, 700, 700), 700);
    /* the ends of uint32_t: no wrap to a small delay */
    assert_int_equal(shoal_backoff_step(UINT32_MAX, 1, UINT32_MAX), UINT32_MAX);
    assert_int_equal(shoal_backoff_step(UINT32_MAX / 2 + 1, 1, UINT32_MAX),
                     UINT32_MAX);
    assert_int_equal(shoal_backoff_step(UINT32_MAX / 2, 1, UINT32_MAX),
                     UINT32_MAX - 1);
    assert_int_equal(shoal_backoff_step(0x80000000u, 1, UINT32_MAX),
                     UINT32_MAX);
    assert_int_equal(shoal_backoff_step(UINT32_MAX, UINT32_MAX, UINT32_MAX),
                     UINT32_MAX);
}

static void test_schedule(void **state)
{
    shoal_backoff b;
    uint32_t want = 100;

    (void)state;
    /* rand_low: every wait is its delay less a quarter, so the delays can
     * be read off the waits */
    shoal_backoff_init(&b, 100, 3200, rand_low, NULL);
    assert_int_equal(b.cur_ms, 0);
    assert_int_equal(b.failures, 0);
    for (uint32_t i = 1; i <= 10; i++) {
        uint32_t w = shoal_backoff_fail(&b);
        assert_int_equal(b.failures, i);
        assert_int_equal(b.cur_ms, want);
        assert_int_equal(w, want - want / 4);
        want = want * 2 > 3200 ? 3200 : want * 2;
    }
    assert_int_equal(b.cur_ms, 3200); /* capped, and it stays there */

    /* a success: back to min on the next failure */
    shoal_backoff_reset(&b);
    assert_int_equal(b.cur_ms, 0);
    assert_int_equal(b.failures, 0);
    assert_int_equal(shoal_backoff_fail(&b), 75);
    assert_int_equal(b.cur_ms, 100);
    assert_int_equal(b.failures, 1);

    /* rand_high: the delay plus a quarter */
    shoal_backoff_init(&b, 100, 3200, rand_high, NULL);
    assert_int_equal(shoal_backoff_fail(&b), 125);
    assert_int_equal(shoal_backoff_fail(&b), 250);

    /* the failure count saturates instead of wrapping to "not failing" */
    b.failures = UINT32_MAX;
    shoal_backoff_fail(&b);
    assert_int_equal(b.failures, UINT32_MAX);
    assert_int_not_equal(b.cur_ms, 0);

    /* no source given: libsodium's, within the same bounds */
    shoal_backoff_init(&b, 1000, 1000, NULL, NULL);
    for (int i = 0; i < 1000; i++) {
        uint32_t w = shoal_backoff_fail(&b);
        assert_true(w >= 750 && w <= 1250);
    }
}

static void test_jitter(void **state)
{
    seq s = {0, 0};
    uint32_t lo = UINT32_MAX, hi = 0;

    (void)state;
    /* within a quarter either way, and both ends reached */
    assert_int_equal(shoal_jitter(1000, rand_low, NULL), 750);
    assert_int_equal(shoal_jitter(1000, rand_high, NULL), 1250);
    for (int i = 0; i < 2000; i++) {
        uint32_t w = shoal_jitter(1000, rand_seq, &s);
        assert_int_equal(s.last_upper, 501);
        assert_true(w >= 750 && w <= 1250);
        lo = w < lo ? w : lo;
        hi = w > hi ? w : hi;
    }
    assert_int_equal(lo, 750);
    assert_int_equal(hi, 1250);
    /* a source that breaks its contract stays in range */
    assert_true(shoal_jitter(1000, rand_wild, NULL) >= 750);
    assert_true(shoal_jitter(1000, rand_wild, NULL) <= 1250);

    /* never 0: small delays are kept, 0 becomes 1 */
    assert_int_equal(shoal_jitter(0, rand_low, NULL), 1);
    assert_int_equal(shoal_jitter(0, rand_high, NULL), 1);
    for (uint32_t d = 1; d < 64; d++) {
        assert_true(shoal_jitter(d, rand_low, NULL) >= 1);
        assert_true(shoal_jitter(d, rand_low, NULL) >= d - d / 4);
        assert_true(shoal_jitter(d, rand_high, NULL) <= d + d / 4);
    }
    assert_int_equal(shoal_jitter(1, rand_low, NULL), 1);
    assert_int_equal(shoal_jitter(3, rand_high, NULL), 3);
    assert_int_equal(shoal_jitter(4, rand_low, NULL), 3);
    assert_int_equal(shoal_jitter(4, rand_high, NULL), 5);

    /* huge delays: no wrap past UINT32_MAX */
    assert_int_equal(shoal_jitter(UINT32_MAX, rand_high, NULL), UINT32_MAX);
    assert_int_equal(shoal_jitter(UINT32_MAX, rand_low, NULL),
                     UINT32_MAX - UINT32_MAX / 4);
    assert_int_equal(shoal_jitter(0xE0000000u, rand_high, NULL), UINT32_MAX);
    assert_int_equal(shoal_jitter(0x80000000u, rand_high, NULL), 0xA0000000u);
}

static void test_check(void **state)
{
    (void)state;
    assert_int_equal(shoal_backoff_check(1000, 60000), 0);
    assert_int_equal(shoal_backoff_check(1, 1), 0);
    assert_int_equal(shoal_backoff_check(1, UINT32_MAX), 0);
    assert_int_equal(shoal_backoff_check(0, 60000), -1);
    assert_int_equal(shoal_backoff_check(0, 0), -1);
    assert_int_equal(shoal_backoff_check(60001, 60000), -1);
    assert_int_equal(shoal_backoff_check(UINT32_MAX, 1), -1);
}

/* ------------------------------------------------- the client's config */

static int warned;
static void log_sink(int level, const char *line, void *user)
{
    (void)user;
    if (level == SHOAL_LOG_WARN && strstr(line, "tracker_client_refused"))
        warned++;
}

static int refused(shoal_node *node, const shoal_tracker_client_config *cc)
{
    shoal_tracker_client *c = (shoal_tracker_client *)1;
    int before = warned, rc = shoal_tracker_client_new(&c, node, cc);

    assert_null(c);
    assert_int_equal(warned, before + 1); /* and said why */
    return rc;
}

static void test_client_config(void **state)
{
    char addr[12][320], id[SHOAL_ID_MAX];
    const char *trackers[12];
    shoal_config cfg;
    shoal_node *node, *other;
    shoal_tracker_client *c;
    shoal_tracker_client_config cc;
    shoal_tracker_client_tracker_stats ts;
    shoal_tracker_client_stats st;

    (void)state;
    shoal_config_init(&cfg);
    cfg.handle_signals = 0;
    cfg.log_level = SHOAL_LOG_WARN;
    cfg.log_cb = log_sink;
    assert_int_equal(shoal_node_new(&node, NULL, &cfg), 0);
    /* ids of real keys, so that only what is tested is wrong */
    for (int i = 0; i < 12; i++) {
        assert_int_equal(shoal_node_new(&other, NULL, &cfg), 0);
        snprintf(id, sizeof(id), "%s", shoal_node_peer_id(other));
        shoal_node_free(other);
        snprintf(addr[i], sizeof(addr[i]), "/ip4/127.0.0.1/tcp/%d/p2p/%s",
                 4000 + i, id);
        trackers[i] = addr[i];
    }

    shoal_tracker_client_config_init(&cc);
    assert_int_equal(cc.backoff_min_ms, 1000);
    assert_int_equal(cc.backoff_max_ms, 60000);
    cc.trackers = trackers;
    cc.ntrackers = 8;
    assert_int_equal(shoal_tracker_client_new(&c, node, &cc), 0);
    /* the per-tracker stats before anything ran: nothing yet */
    for (size_t i = 0; i < 8; i++) {
        assert_int_equal(shoal_tracker_client_tracker_stats_get(c, i, &ts), 0);
        assert_string_equal(ts.addr, addr[i]);
        assert_int_equal(ts.failures, 0);
        assert_int_equal(ts.backoff_ms, 0);
        assert_int_equal(ts.announces_ok, 0);
    }
    assert_int_equal(shoal_tracker_client_tracker_stats_get(c, 8, &ts),
                     SHOAL_EINVAL);
    assert_null(ts.addr);
    shoal_tracker_client_stats_get(c, &st);
    assert_int_equal(st.announces_ok + st.announces_failed, 0);
    shoal_tracker_client_free(c);

    cc.ntrackers = 9;
    assert_int_equal(refused(node, &cc), SHOAL_EINVAL);
    cc.ntrackers = 12;
    assert_int_equal(refused(node, &cc), SHOAL_EINVAL);
    cc.ntrackers = 0;
    assert_int_equal(refused(node, &cc), SHOAL_EINVAL);

    /* the same tracker twice: by its peer id, whatever the address */
    cc.ntrackers = 3;
    trackers[2] = addr[0];
    assert_int_equal(refused(node, &cc), SHOAL_EEXIST);
    snprintf(addr[11], sizeof(addr[11]), "/ip6/::1/tcp/9/p2p/%s",
             strstr(addr[1], "/p2p/") + 5);
    trackers[2] = addr[11];
    assert_int_equal(refused(node, &cc), SHOAL_EEXIST);
    trackers[2] = "/ip4/127.0.0.1/tcp/9";
    assert_int_equal(refused(node, &cc), SHOAL_EBADADDR);
    trackers[2] = "/ip4/127.0.0.1/tcp/9/p2p/";
    assert_int_equal(refused(node, &cc), SHOAL_EBADADDR);
    trackers[2] = addr[2];

    /* the schedule */
    cc.backoff_min_ms = 0;
    assert_int_equal(refused(node, &cc), SHOAL_EINVAL);
    cc.backoff_min_ms = 2000;
    cc.backoff_max_ms = 1999;
    assert_int_equal(refused(node, &cc), SHOAL_EINVAL);
    cc.backoff_max_ms = 2000; /* min == max: a fixed delay, fine */
    assert_int_equal(shoal_tracker_client_new(&c, node, &cc), 0);
    shoal_tracker_client_free(c);
    cc.backoff_min_ms = 1;
    cc.backoff_max_ms = UINT32_MAX;
    assert_int_equal(shoal_tracker_client_new(&c, node, &cc), 0);
    shoal_tracker_client_free(c);

    shoal_node_free(node);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_step),
        cmocka_unit_test(test_schedule),
        cmocka_unit_test(test_jitter),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_client_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
