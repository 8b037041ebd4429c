/* Lines a peer can cause once per event, limited per cause (src/core/log.h)
 * on a made-up clock: the first line of a cause goes out, the next ones
 * within the interval are held back, the first after it goes out with
 * suppressed=N; causes are independent; an interval of 0 or a NULL key
 * lets everything through; two loggers (two nodes) do not share counts;
 * past the table's size, new causes share its last slot. Lines are caught
 * by the logger's hook. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/log.h"

#define MAX_LINES 64

typedef struct sink {
    size_t n;
    char lines[MAX_LINES][1100]; /* a whole line (1024 at most) */
} sink;

static void on_line(int level, const char *line, void *user)
{
    sink *s = user;

    (void)level;
    if (s->n < MAX_LINES)
        snprintf(s->lines[s->n], sizeof(s->lines[0]), "%s", line);
    s->n++;
}

static void logger_init(shoal_logger *lg, sink *s, uint32_t interval_ms)
{
    memset(lg, 0, sizeof(*lg));
    memset(s, 0, sizeof(*s));
    lg->level = SHOAL_LOG_INFO;
    lg->cb = on_line;
    lg->user = s;
    lg->limits.interval_ms = interval_ms;
}

static void expect_line(const sink *s, size_t i, const char *want)
{
    if (s->n <= i)
        fail_msg("expected line %zu \"%s\", only %zu lines came", i, want,
                 s->n);
    if (strcmp(s->lines[i], want) != 0)
        fail_msg("line %zu: expected \"%s\", got \"%s\"", i, want,
                 s->lines[i]);
}

static void test_first_passes_then_one_per_interval(void **state)
{
    shoal_logger lg;
    sink s;
    uint64_t t = 5000, held;
    int i;

    (void)state;
    logger_init(&lg, &s, 1000);
    shoal_logf_limited(&lg, SHOAL_LOG_WARN, "conn_reject", t,
                       "conn_reject n=%d", 0);
    expect_line(&s, 0, "warn conn_reject n=0");
    /* 10 more within the interval, the last 1 ms before its end */
    for (i = 1; i <= 10; i++)
        shoal_logf_limited(&lg, SHOAL_LOG_WARN, "conn_reject",
                           t + (uint64_t)(i == 10 ? 999 : i * 10),
                           "conn_reject n=%d", i);
    assert_int_equal(s.n, 1);
    /* the first after the interval says how many were held back */
    shoal_logf_limited(&lg, SHOAL_LOG_WARN, "conn_reject", t + 1000,
                       "conn_reject n=%d", 11);
    expect_line(&s, 1, "warn conn_reject n=11 suppressed=10");
    assert_int_equal(s.n, 2);
    /* the count starts again from there */
    shoal_logf_limited(&lg, SHOAL_LOG_WARN, "conn_reject", t + 1500,
                       "conn_reject n=%d", 12);
    assert_int_equal(s.n, 2);
    shoal_logf_limited(&lg, SHOAL_LOG_WARN, "conn_reject", t + 2000,
                       "conn_reject n=%d", 13);
    expect_line(&s, 2, "warn conn_reject n=13 suppressed=1");
    /* after a quiet spell, nothing was held back: no count */
    shoal_logf_limited(&lg, SHOAL_LOG_WARN, "conn_reject", t + 60000,
                       "conn_reject n=%d", 14);
    expect_line(&s, 3, "warn conn_reject n=14");

    /* the decision alone, as a caller without a logger would use it */
    assert_int_equal(shoal_log_limit(&lg.limits, "x", 0, &held), 1);
    assert_int_equal(held, 0);
    assert_int_equal(shoal_log_limit(&lg.limits, "x", 1, &held), 0);
    assert_int_equal(shoal_log_limit(&lg.limits, "x", 2, &held), 0);
    assert_int_equal(shoal_log_limit(&lg.limits, "x", 1000, &held), 1);
    assert_int_equal(held, 2);
}

static void test_causes_are_independent(void **state)
{
    shoal_logger lg;
    sink s;
    int i;

    (void)state;
    logger_init(&lg, &s, 1000);
    for (i = 0; i < 5; i++) {
        shoal_logf_limited(&lg, SHOAL_LOG_WARN, "conn_reject", 100,
                           "conn_reject");
        shoal_logf_limited(&lg, SHOAL_LOG_WARN, "stream_drop_truncated",
                           100, "stream_drop reason=truncated");
    }
    assert_int_equal(s.n, 2);
    expect_line(&s, 0, "warn conn_reject");
    expect_line(&s, 1, "warn stream_drop reason=truncated");
    /* one cause again after the interval; the other stays quiet */
    shoal_logf_limited(&lg, SHOAL_LOG_WARN, "conn_reject", 1100,
                       "conn_reject");
    expect_line(&s, 2, "warn conn_reject suppressed=4");
    shoal_logf_limited(&lg, SHOAL_LOG_WARN, "stream_drop_truncated", 1300,
                       "stream_drop reason=truncated");
    expect_line(&s, 3, "warn stream_drop reason=truncated suppressed=4");
    assert_int_equal(s.n, 4);
}

static void test_unlimited(void **state)
{
    shoal_logger lg;
    sink s;
    int i;

    (void)state;
    /* interval 0: every line */
    logger_init(&lg, &s, 0);
    for (i = 0; i < 7; i++)
        shoal_logf_limited(&lg, SHOAL_LOG_WARN, "conn_reject", 100,
                           "conn_reject");
    assert_int_equal(s.n, 7);
    expect_line(&s, 6, "warn conn_reject");
    /* a NULL key: a line of our own making, never limited */
    logger_init(&lg, &s, 1000);
    for (i = 0; i < 7; i++)
        shoal_logf_limited(&lg, SHOAL_LOG_WARN, NULL, 100, "conn_drop");
    assert_int_equal(s.n, 7);
}

static void test_level_filtered_not_counted(void **state)
{
    shoal_logger lg;
    sink s;
    int i;

    (void)state;
    logger_init(&lg, &s, 1000);
    lg.level = SHOAL_LOG_WARN;
    for (i = 0; i < 3; i++)
        SHOAL_LOG_LIMITED(&lg, SHOAL_LOG_DEBUG, "unknown_type",
                          "unknown_type");
    assert_int_equal(s.n, 0);
    /* the debug lines took no slot and no count */
    assert_string_equal(lg.limits.slot[0].key, "");
    lg.level = SHOAL_LOG_DEBUG;
    shoal_logf_limited(&lg, SHOAL_LOG_DEBUG, "unknown_type", 0,
                       "unknown_type");
    expect_line(&s, 0, "debug unknown_type");
}

/* Two nodes in one process: each logger keeps its own counts. */
static void test_two_loggers(void **state)
{
    shoal_logger a, b;
    sink sa, sb;

    (void)state;
    logger_init(&a, &sa, 1000);
    logger_init(&b, &sb, 1000);
    shoal_logf_limited(&a, SHOAL_LOG_WARN, "conn_reject", 0, "conn_reject");
    shoal_logf_limited(&a, SHOAL_LOG_WARN, "conn_reject", 1, "conn_reject");
    shoal_logf_limited(&b, SHOAL_LOG_WARN, "conn_reject", 1, "conn_reject");
    assert_int_equal(sa.n, 1);
    assert_int_equal(sb.n, 1);
    shoal_logf_limited(&b, SHOAL_LOG_WARN, "conn_reject", 1001,
                       "conn_reject");
    expect_line(&sb, 1, "warn conn_reject");
    shoal_logf_limited(&a, SHOAL_LOG_WARN, "conn_reject", 1001,
                       "conn_reject");
    expect_line(&sa, 1, "warn conn_reject suppressed=1");
}

/* More causes than slots: the extra ones share the last slot, so they are
 * still limited (together) rather than let through. */
static void test_table_full(void **state)
{
    shoal_logger lg;
    sink s;
    char key[32];
    int i;

    (void)state;
    logger_init(&lg, &s, 1000);
    for (i = 0; i < SHOAL_LOG_CAUSES + 5; i++) {
        snprintf(key, sizeof(key), "cause_%d", i);
        shoal_logf_limited(&lg, SHOAL_LOG_WARN, key, 0, "%s", key);
    }
    assert_int_equal(s.n, SHOAL_LOG_CAUSES);
    snprintf(key, sizeof(key), "cause_%d", SHOAL_LOG_CAUSES + 9);
    shoal_logf_limited(&lg, SHOAL_LOG_WARN, key, 1000, "%s", key);
    assert_int_equal(s.n, SHOAL_LOG_CAUSES + 1);
    snprintf(key, sizeof(key), "warn cause_%d suppressed=5",
             SHOAL_LOG_CAUSES + 9);
    expect_line(&s, SHOAL_LOG_CAUSES, key);
}

/* A line cut at the buffer's end keeps its count. */
static void test_long_line_keeps_count(void **state)
{
    shoal_logger lg;
    sink s;
    char big[2000];

    (void)state;
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    logger_init(&lg, &s, 1000);
    shoal_logf_limited(&lg, SHOAL_LOG_WARN, "k", 0, "%s", big);
    shoal_logf_limited(&lg, SHOAL_LOG_WARN, "k", 1, "%s", big);
    shoal_logf_limited(&lg, SHOAL_LOG_WARN, "k", 1000, "%s", big);
    assert_int_equal(s.n, 2);
    /* cut to fit, the count still at its end */
    assert_true(strncmp(s.lines[1], "warn xxx", 8) == 0);
    assert_true(strlen(s.lines[1]) < 1024);
    if (strstr(s.lines[1], "x suppressed=1") == NULL ||
        strcmp(s.lines[1] + strlen(s.lines[1]) - 13, " suppressed=1") != 0)
        fail_msg("expected a cut line ending in \"x suppressed=1\", got "
                 "one ending in \"%s\"",
                 s.lines[1] + strlen(s.lines[1]) - 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_passes_then_one_per_interval),
        cmocka_unit_test(test_causes_are_independent),
        cmocka_unit_test(test_unlimited),
        cmocka_unit_test(test_level_filtered_not_counted),
        cmocka_unit_test(test_two_loggers),
        cmocka_unit_test(test_table_full),
        cmocka_unit_test(test_long_line_keeps_count),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
