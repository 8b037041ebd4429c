/* One node with small limits, on its own loop thread; raw sockets on the
 * test thread misbehave (huge headers, truncation, garbage, silence, floods)
 * while a well-behaved client keeps getting served. Each case checks the
 * reason the node logged through its log hook and its counters. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <cmocka.h>

#include "itest.h"
#include "shoal.h"

#define IO_TIMEOUT_MS 300
#define MAX_MESSAGE (1024 * 1024)
#define MAX_CONNECTIONS 64
#define MAX_PENDING (4 * 1024 * 1024)
#define REQUEST_TIMEOUT_MS 2000
#define DEADLINE_MS 10000 /* no case step may take longer than this */

typedef struct bad {
    shoal_node *node;
    int port;
    uv_thread_t thread;
    volatile int run_returned;
    int run_rc;

    uv_mutex_t log_lock;
    char **lines;
    size_t nlines, cap;

    unsigned echo_seq;

    /* the BULK handler's results, written on the loop thread */
    volatile int bulk_done;
    int bulk_ok;
    int bulk_err;
} bad;

/* ------------------------------------------------------ the node's side */

static void on_log(int level, const char *line, void *user)
{
    bad *b = user;

    (void)level;
    uv_mutex_lock(&b->log_lock);
    if (b->nlines == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        char **grown = realloc(b->lines, cap * sizeof(*grown));
        if (grown == NULL) {
            uv_mutex_unlock(&b->log_lock);
            return;
        }
        b->lines = grown;
        b->cap = cap;
    }
    b->lines[b->nlines] = strdup(line);
    if (b->lines[b->nlines] != NULL)
        b->nlines++;
    uv_mutex_unlock(&b->log_lock);
}

static void on_echo(shoal_req *req, const shoal_msg *msg, void *user)
{
    (void)user;
    shoal_reply(req, "REPL", msg->data, msg->len);
}

/* Replies up to 32 MiB in 1 MiB pieces, stopping at the first refusal. */
static void on_bulk(shoal_req *req, const shoal_msg *msg, void *user)
{
    static uint8_t piece[1024 * 1024];
    bad *b = user;
    int i, rc = 0;

    (void)msg;
    for (i = 0; i < 32 && rc == 0; i++)
        if ((rc = shoal_reply(req, "REPL", piece, sizeof(piece))) == 0)
            b->bulk_ok++;
    b->bulk_err = rc;
    b->bulk_done = 1;
}

static void run_node(void *arg)
{
    bad *b = arg;

    b->run_rc = shoal_node_run(b->node);
    b->run_returned = 1;
}

static int setup_with(void **state, uint32_t io_timeout_ms,
                      size_t max_input_total)
{
    bad *b = calloc(1, sizeof(*b));
    shoal_config cfg;

    assert_non_null(b);
    uv_mutex_init(&b->log_lock);
    shoal_config_init(&cfg);
    cfg.classic = 1; /* the classic wire is under test */
    cfg.listen = "127.0.0.1:0";
    cfg.io_timeout_ms = io_timeout_ms;
    cfg.request_timeout_ms = REQUEST_TIMEOUT_MS;
    cfg.max_message = MAX_MESSAGE;
    cfg.max_connections = MAX_CONNECTIONS;
    cfg.max_pending_output = MAX_PENDING;
    if (max_input_total != 0)
        cfg.max_input_total = max_input_total;
    cfg.handle_signals = 0;
    cfg.log_level = SHOAL_LOG_INFO;
    cfg.log_interval_ms = 0; /* every line: each case finds its own */
    cfg.log_cb = on_log;
    cfg.log_user = b;
    assert_int_equal(shoal_node_new(&b->node, NULL, &cfg), 0);
    assert_int_equal(shoal_handle(b->node, "ECHO", on_echo, NULL), 0);
    assert_int_equal(shoal_handle(b->node, "BULK", on_bulk, b), 0);
    b->port = shoal_node_port(b->node);
    assert_true(b->port > 0);
    assert_int_equal(uv_thread_create(&b->thread, run_node, b), 0);
    *state = b;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, IO_TIMEOUT_MS, 0);
}

/* Polls a flag for at most ms. */
static int wait_flag(volatile int *flag, uint32_t ms)
{
    uint64_t end = itest_now_ms() + ms;

    while (!*flag) {
        if (itest_now_ms() > end)
            return 0;
        uv_sleep(2);
    }
    return 1;
}

static int teardown(void **state)
{
    bad *b = *state;
    size_t i;

    shoal_node_stop(b->node);
    if (!wait_flag(&b->run_returned, DEADLINE_MS)) {
        fprintf(stderr, "test_bad_input: the node did not stop\n");
        abort();
    }
    uv_thread_join(&b->thread);
    assert_int_equal(b->run_rc, 0);
    shoal_node_free(b->node);
    for (i = 0; i < b->nlines; i++)
        free(b->lines[i]);
    free(b->lines);
    uv_mutex_destroy(&b->log_lock);
    free(b);
    return 0;
}

/* --------------------------------------------- reading the node's state */

typedef struct stats_call {
    uv_mutex_t lock;
    uv_cond_t cond;
    int done;
    shoal_stats st;
} stats_call;

static void stats_on_loop(shoal_node *node, void *user)
{
    stats_call *call = user;

    uv_mutex_lock(&call->lock);
    shoal_node_stats(node, &call->st);
    call->done = 1;
    uv_cond_signal(&call->cond);
    uv_mutex_unlock(&call->lock);
}

/* The node's counters, read on its loop thread. */
static shoal_stats get_stats(bad *b)
{
    stats_call call;
    uint64_t end = itest_now_ms() + DEADLINE_MS;

    memset(&call, 0, sizeof(call));
    uv_mutex_init(&call.lock);
    uv_cond_init(&call.cond);
    if (shoal_post(b->node, stats_on_loop, &call) != 0) {
        fprintf(stderr, "test_bad_input: cannot post to the node\n");
        abort();
    }
    uv_mutex_lock(&call.lock);
    while (!call.done) {
        /* The call lives on this stack: never leave while it is posted. */
        if (itest_now_ms() > end) {
            fprintf(stderr, "test_bad_input: the loop does not answer\n");
            abort();
        }
        uv_cond_timedwait(&call.cond, &call.lock, 100 * 1000000ull);
    }
    uv_mutex_unlock(&call.lock);
    uv_cond_destroy(&call.cond);
    uv_mutex_destroy(&call.lock);
    return call.st;
}

static size_t count_log(bad *b, const char *text)
{
    size_t i, n = 0;

    uv_mutex_lock(&b->log_lock);
    for (i = 0; i < b->nlines; i++)
        if (strstr(b->lines[i], text) != NULL)
            n++;
    uv_mutex_unlock(&b->log_lock);
    return n;
}

/* Waits until at least want lines contain text. */
static int wait_log(bad *b, const char *text, size_t want, uint32_t ms)
{
    uint64_t end = itest_now_ms() + ms;

    while (count_log(b, text) < want) {
        if (itest_now_ms() > end)
            return 0;
        uv_sleep(2);
    }
    return 1;
}

static void dump_log(bad *b)
{
    size_t i;

    uv_mutex_lock(&b->log_lock);
    for (i = 0; i < b->nlines; i++)
        fprintf(stderr, "  log: %s\n", b->lines[i]);
    uv_mutex_unlock(&b->log_lock);
}

static void expect_log(bad *b, const char *text, size_t want)
{
    if (!wait_log(b, text, want, DEADLINE_MS)) {
        dump_log(b);
        fail_msg("expected %zu log line(s) with '%s', saw %zu", want, text,
                 count_log(b, text));
    }
}

static int wait_connections(bad *b, size_t want, uint32_t ms)
{
    uint64_t end = itest_now_ms() + ms;

    while (get_stats(b).connections != want) {
        if (itest_now_ms() > end)
            return 0;
        uv_sleep(2);
    }
    return 1;
}

/* ------------------------------------------------------ the good client */

/* One ECHO exchange on a fresh connection: the reply must be the payload,
 * then the close. Returns 0 when served. */
static int good_exchange(bad *b, size_t len)
{
    uint8_t hdr[8], *payload, *back;
    int fd, rc = -1;
    size_t i;

    payload = malloc(len + 1);
    back = malloc(len + 1);
    if (payload == NULL || back == NULL)
        goto out;
    for (i = 0; i < len; i++)
        payload[i] = (uint8_t)('a' + (b->echo_seq + i) % 26);
    b->echo_seq++;
    if ((fd = itest_connect(b->port, 5000)) < 0)
        goto out;
    itest_header(hdr, "ECHO", (uint32_t)len);
    if (itest_send_all(fd, hdr, 8) == 0 &&
        itest_send_all(fd, payload, len) == 0 &&
        itest_recv_all(fd, hdr, 8) == 0 && memcmp(hdr, "REPL", 4) == 0 &&
        ((size_t)hdr[4] << 24 | (size_t)hdr[5] << 16 | (size_t)hdr[6] << 8 |
         hdr[7]) == len &&
        (len == 0 || itest_recv_all(fd, back, len) == 0) &&
        memcmp(back, payload, len) == 0 && itest_recv_all(fd, hdr, 1) == 1)
        rc = 0;
    close(fd);
out:
    free(payload);
    free(back);
    return rc;
}

static void assert_served(bad *b)
{
    if (good_exchange(b, 5) != 0 || good_exchange(b, 0) != 0) {
        dump_log(b);
        fail_msg("the well-behaved client was not served");
    }
}

/* ------------------------------------------------------- raw misbehaviour */

static int raw_send(int fd, const void *data, size_t len)
{
    return itest_send_all(fd, data, len);
}

/* Waits until the node closes fd (end of stream or reset). */
static int wait_closed(int fd, uint32_t ms)
{
    uint64_t end = itest_now_ms() + ms;
    uint8_t sink[4096];

    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        uint64_t now = itest_now_ms();
        int r;
        ssize_t n;

        if (now >= end)
            return 0;
        r = poll(&p, 1, (int)(end - now));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return 0;
        n = recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            return 1;
    }
}

static long max_rss_kib(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static size_t heap_in_use(void)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
#else
    return 0;
#endif
}

/* ------------------------------------------------------------------ tests */

static void test_huge_header(void **state)
{
    bad *b = *state;
    static const uint8_t huge[8] = {'E', 'C', 'H', 'O', 0xff, 0xff, 0xff, 0xff};
    uint8_t hdr[8], junk[1000];
    shoal_stats before = get_stats(b), after;
    long rss = max_rss_kib();
    size_t heap = heap_in_use();
    int fds[20], i;

    assert_served(b);
    memset(junk, 'x', sizeof(junk));

    /* 4 GiB announced, a little sent: dropped at the header. */
    fds[0] = itest_connect(b->port, 5000);
    assert_true(fds[0] >= 0);
    assert_int_equal(raw_send(fds[0], huge, sizeof(huge)), 0);
    raw_send(fds[0], junk, sizeof(junk)); /* may fail: the node hung up */
    assert_true(wait_closed(fds[0], DEADLINE_MS));
    close(fds[0]);
    expect_log(b, "reason=message_too_large", 1);
    assert_served(b);

    /* One byte over the limit is too large as well. */
    fds[0] = itest_connect(b->port, 5000);
    assert_true(fds[0] >= 0);
    itest_header(hdr, "ECHO", MAX_MESSAGE + 1);
    assert_int_equal(raw_send(fds[0], hdr, 8), 0);
    assert_true(wait_closed(fds[0], DEADLINE_MS));
    close(fds[0]);
    expect_log(b, "reason=message_too_large", 2);

    /* Twenty at once, and the good client served in the middle. */
    for (i = 0; i < 20; i++) {
        fds[i] = itest_connect(b->port, 5000);
        assert_true(fds[i] >= 0);
        assert_int_equal(raw_send(fds[i], huge, sizeof(huge)), 0);
    }
    assert_served(b);
    for (i = 0; i < 20; i++) {
        assert_true(wait_closed(fds[i], DEADLINE_MS));
        close(fds[i]);
    }
    expect_log(b, "reason=message_too_large", 22);
    assert_true(wait_connections(b, 0, DEADLINE_MS));

    /* Exactly the limit is fine: a 1 MiB echo comes back whole. */
    assert_int_equal(good_exchange(b, MAX_MESSAGE), 0);

    after = get_stats(b);
    assert_int_equal(after.dropped - before.dropped, 22);
    /* Nothing was allocated for the announced lengths: the heap and the
     * peak resident size moved by far less than a gigabyte. */
    assert_true(max_rss_kib() - rss < 256 * 1024);
    assert_true(heap_in_use() < heap + 64u * 1024 * 1024);
}

static void test_truncated(void **state)
{
    bad *b = *state;
    uint8_t hdr[8];
    shoal_stats before = get_stats(b), after;
    int fd;

    /* Half a header, then the close. */
    fd = itest_connect(b->port, 5000);
    assert_true(fd >= 0);
    assert_int_equal(raw_send(fd, "ECHO\0", 5), 0);
    assert_served(b);
    close(fd);
    expect_log(b, "reason=truncated", 1);

    /* A whole header, part of the payload, then the close. */
    fd = itest_connect(b->port, 5000);
    assert_true(fd >= 0);
    itest_header(hdr, "ECHO", 100);
    assert_int_equal(raw_send(fd, hdr, 8), 0);
    assert_int_equal(raw_send(fd, "0123456789", 10), 0);
    assert_served(b);
    close(fd);
    expect_log(b, "reason=truncated", 2);
    assert_true(wait_connections(b, 0, DEADLINE_MS));
    after = get_stats(b);
    assert_int_equal(after.dropped - before.dropped, 2);
    assert_int_equal(count_log(b, "reason=read_timeout"), 0);
    assert_served(b);
}

static void test_garbage_then_silence(void **state)
{
    bad *b = *state;
    static const uint8_t garbage[5] = {0xde, 0xad, 0xbe, 0xef, 0x00};
    uint8_t hdr[8];
    uint64_t t0, took;
    int fd;

    /* Garbage that is not even a header, then nothing. */
    fd = itest_connect(b->port, 5000);
    assert_true(fd >= 0);
    t0 = itest_now_ms();
    assert_int_equal(raw_send(fd, garbage, sizeof(garbage)), 0);
    assert_served(b);
    assert_true(wait_closed(fd, DEADLINE_MS));
    took = itest_now_ms() - t0;
    close(fd);
    expect_log(b, "reason=read_timeout", 1);
    assert_true(took >= IO_TIMEOUT_MS - 50);
    assert_true(took < DEADLINE_MS);

    /* A header, a few payload bytes, then nothing. */
    fd = itest_connect(b->port, 5000);
    assert_true(fd >= 0);
    itest_header(hdr, "\x01\x02\x03\x04", 4096);
    assert_int_equal(raw_send(fd, hdr, 8), 0);
    assert_int_equal(raw_send(fd, "garbage", 7), 0);
    assert_true(wait_closed(fd, DEADLINE_MS));
    close(fd);
    expect_log(b, "reason=read_timeout", 2);
    assert_int_equal(get_stats(b).dropped, 2);
    assert_served(b);
}

static void test_silent_client(void **state)
{
    bad *b = *state;
    uint64_t t0, took;
    shoal_stats st;
    int fd;

    /* Connects and says nothing: dropped by the read deadline. */
    fd = itest_connect(b->port, 5000);
    assert_true(fd >= 0);
    t0 = itest_now_ms();
    assert_served(b);
    assert_true(wait_closed(fd, DEADLINE_MS));
    took = itest_now_ms() - t0;
    close(fd);
    expect_log(b, "reason=read_timeout", 1);
    assert_true(took >= IO_TIMEOUT_MS - 50);
    assert_int_equal(get_stats(b).dropped, 1);

    /* Connects and leaves at once, saying nothing: not a drop. */
    fd = itest_connect(b->port, 5000);
    assert_true(fd >= 0);
    close(fd);
    assert_served(b); /* served after the one that left: it was seen */
    assert_true(wait_connections(b, 0, DEADLINE_MS));
    st = get_stats(b);
    assert_int_equal(st.dropped, 1);
    assert_int_equal(count_log(b, "reason=truncated"), 0);
}

static int connect_nonblocking(int port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

    if (fd < 0)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 &&
        errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

#define FLOOD 300

static void test_abandoned_flood(void **state)
{
    bad *b = *state;
    shoal_stats before = get_stats(b), st;
    static int fds[FLOOD];
    uint64_t end;
    int i;
    struct rlimit rl;

    /* 300 sockets of ours and up to 64 of the node's, with room to spare. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 1024 &&
        rl.rlim_max > rl.rlim_cur) {
        rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    for (i = 0; i < FLOOD; i++) {
        fds[i] = connect_nonblocking(b->port);
        assert_true(fds[i] >= 0);
    }

    /* Every one is accepted or rejected, and every accepted one is dropped
     * by its read deadline: back to no connections at all. */
    end = itest_now_ms() + 3 * DEADLINE_MS;
    for (;;) {
        st = get_stats(b);
        if (st.accepted - before.accepted + st.rejected - before.rejected >=
                FLOOD &&
            st.connections == 0)
            break;
        if (itest_now_ms() > end) {
            fail_msg("flood: accepted %llu rejected %llu connections %zu",
                     (unsigned long long)(st.accepted - before.accepted),
                     (unsigned long long)(st.rejected - before.rejected),
                     st.connections);
        }
        uv_sleep(5);
    }
    assert_int_equal(st.accepted - before.accepted +
                         st.rejected - before.rejected,
                     FLOOD);
    assert_true(st.rejected > 0);
    assert_true(st.accepted - before.accepted <= FLOOD);
    assert_true(st.accepted - before.accepted >= MAX_CONNECTIONS);
    assert_int_equal(st.inbound, 0);
    expect_log(b, "conn_reject reason=max_connections", 1);
    assert_true(count_log(b, "conn_reject reason=max_connections") <=
                st.rejected);
    /* The accepted ones said nothing: each ended by the read deadline. */
    expect_log(b, "reason=read_timeout",
               (size_t)(st.accepted - before.accepted));
    assert_int_equal(st.dropped - before.dropped,
                     st.accepted - before.accepted);

    /* Every socket of ours sees the node hang up. */
    for (i = 0; i < FLOOD; i++) {
        assert_true(wait_closed(fds[i], DEADLINE_MS));
        close(fds[i]);
    }
    assert_served(b);
    st = get_stats(b);
    assert_int_equal(st.connections, 0);
}

/* A slowloris: a byte now and then, each in time for the read deadline, but
 * the whole request is cut at request_timeout_ms. */
static void test_drip_feed(void **state)
{
    bad *b = *state;
    uint8_t hdr[8];
    uint64_t t0, took, end;
    int fd, closed = 0, sent = 0;

    fd = itest_connect(b->port, 5000);
    assert_true(fd >= 0);
    t0 = itest_now_ms();
    itest_header(hdr, "ECHO", 1000);
    assert_int_equal(raw_send(fd, hdr, 8), 0);
    end = t0 + REQUEST_TIMEOUT_MS + DEADLINE_MS;
    while (!closed && itest_now_ms() < end) {
        if (raw_send(fd, "d", 1) == 0)
            sent++;
        /* paces the drip: 100 ms, well inside the 300 ms read deadline */
        closed = wait_closed(fd, 100);
    }
    took = itest_now_ms() - t0;
    close(fd);
    assert_true(closed);
    expect_log(b, "reason=deadline", 1);
    assert_int_equal(count_log(b, "reason=read_timeout"), 0);
    assert_true(took >= REQUEST_TIMEOUT_MS - 100);
    assert_true(sent >= 10);
    assert_served(b);
}

/* A client that asks for a lot and never reads: the node stops queueing at
 * max_pending_output (the handler sees SHOAL_ENOBUFS) and drops the
 * connection when the writes stop moving for io_timeout_ms. */
static void test_slow_reader(void **state)
{
    bad *b = *state;
    uint8_t hdr[8];
    int fd;

    fd = itest_connect(b->port, 5000);
    assert_true(fd >= 0);
    itest_header(hdr, "BULK", 0);
    assert_int_equal(raw_send(fd, hdr, 8), 0);
    assert_true(wait_flag(&b->bulk_done, DEADLINE_MS));
    assert_int_equal(b->bulk_err, SHOAL_ENOBUFS);
    assert_true(b->bulk_ok >= 1);
    assert_true(b->bulk_ok < 32);
    expect_log(b, "reason=write_timeout", 1);
    assert_true(wait_connections(b, 0, DEADLINE_MS));
    close(fd); /* unread replies: the kernel resets, nobody cares */
    assert_served(b);
    assert_int_equal(get_stats(b).dropped, 1);
}

/* A node-wide budget for buffered input (max_input_total): connections
 * that each park most of a large message can exhaust it; the one that
 * would go over is dropped, and the rest time out as usual. */
static int setup_budget(void **state)
{
    return setup_with(state, 1000, 4u * 1024 * 1024);
}

static void test_input_budget(void **state)
{
    bad *b = *state;
    enum { N = 6, PART = 900 * 1024 };
    uint8_t hdr[8], *part = malloc(PART);
    int fds[N], i;

    assert_non_null(part);
    memset(part, 'p', PART);
    itest_header(hdr, "ECHO", MAX_MESSAGE);
    for (i = 0; i < N; i++) {
        fds[i] = itest_connect(b->port, 5000);
        assert_true(fds[i] >= 0);
        assert_int_equal(raw_send(fds[i], hdr, 8), 0);
        raw_send(fds[i], part, PART); /* may fail once the node hangs up */
    }
    /* Six times 900 KiB do not fit in 4 MiB: at least one is dropped. */
    expect_log(b, "reason=input_budget", 1);
    for (i = 0; i < N; i++) {
        assert_true(wait_closed(fds[i], DEADLINE_MS));
        close(fds[i]);
    }
    assert_true(wait_connections(b, 0, DEADLINE_MS));
    assert_int_equal(get_stats(b).dropped, N);
    /* The budget is whole again: a full-size message fits. */
    assert_served(b);
    assert_int_equal(good_exchange(b, MAX_MESSAGE), 0);
    free(part);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_huge_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_then_silence, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_silent_client, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abandoned_flood, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_drip_feed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_reader, setup, teardown),
        cmocka_unit_test_setup_teardown(test_input_budget, setup_budget,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
