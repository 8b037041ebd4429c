/* Helpers shared by the integration tests: running a loop until a condition
 * holds (with a guard timer, never sleep-and-hope), making and closing
 * nodes, recording a request's replies, and small socket utilities.
 * Header-only, static functions. Include it after <cmocka.h> (the node
 * helpers assert). */
#ifndef SHOAL_ITEST_H
#define SHOAL_ITEST_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shoal.h"

/* Milliseconds on a monotonic clock. */
static inline uint64_t itest_now_ms(void)
{
    return uv_hrtime() / 1000000u;
}

/* ------------------------------------------------------------ the loop */

typedef int (*itest_cond_fn)(void *arg);

static inline void itest_guard_fired(uv_timer_t *t)
{
    *(int *)t->data = 1;
}

static inline void itest_guard_closed(uv_handle_t *h)
{
    *(int *)h->data = 2;
}

/* Runs loop until cond(arg) is true or timeout_ms pass. Returns 1 when the
 * condition holds, 0 on timeout. The guard timer wakes the loop, so a
 * condition that never comes true fails the test instead of hanging it. */
static inline int itest_run_until(uv_loop_t *loop, itest_cond_fn cond,
                                  void *arg, uint32_t timeout_ms)
{
    uv_timer_t guard;
    int fired = 0, ok;

    uv_timer_init(loop, &guard);
    guard.data = &fired;
    uv_timer_start(&guard, itest_guard_fired, timeout_ms, 0);
    while (!(ok = cond(arg)) && !fired)
        uv_run(loop, UV_RUN_ONCE);
    /* The timer lives on our stack: wait for its close callback. */
    uv_close((uv_handle_t *)&guard, itest_guard_closed);
    while (fired != 2)
        uv_run(loop, UV_RUN_NOWAIT);
    return ok || cond(arg);
}

static inline int itest_int_nonzero(void *arg)
{
    return *(volatile int *)arg != 0;
}

/* ---------------------------------------------------------------- nodes */

/* A log callback that drops every line, or prints it to stderr when the
 * environment has SHOAL_DEBUG (set it to see a failing test's nodes). */
static inline void itest_log_sink(int level, const char *line, void *user)
{
    (void)level;
    (void)user;
    if (getenv("SHOAL_DEBUG"))
        fprintf(stderr, "%s\n", line);
}

/* The config of a test's secure node: no signal handling, listening on
 * listen (a multiaddr, port 0 for any), handshakes given
 * handshake_timeout_ms (0: the library's default), every log line at
 * DEBUG and up to itest_log_sink. Change what else the test needs, then
 * itest_node_new. */
static inline void itest_secure_config(shoal_config *cfg, const char *listen,
                                       uint32_t handshake_timeout_ms)
{
    shoal_config_init(cfg);
    cfg->handle_signals = 0;
    cfg->listen = listen;
    if (handshake_timeout_ms != 0)
        cfg->handshake_timeout_ms = handshake_timeout_ms;
    cfg->log_level = SHOAL_LOG_DEBUG;
    cfg->log_cb = itest_log_sink;
}

/* A node on loop made from cfg; the test fails if it cannot be made. */
static inline shoal_node *itest_node_new(uv_loop_t *loop,
                                         const shoal_config *cfg)
{
    shoal_node *n;

    assert_int_equal(shoal_node_new(&n, loop, cfg), 0);
    return n;
}

/* A secure node with itest_secure_config's settings. Under valgrind a
 * handshake can take seconds, and one that times out is retried: tests
 * that may run there give a handshake_timeout_ms long enough for each to
 * finish. */
static inline shoal_node *itest_secure_node(uv_loop_t *loop,
                                            const char *listen,
                                            uint32_t handshake_timeout_ms)
{
    shoal_config cfg;

    itest_secure_config(&cfg, listen, handshake_timeout_ms);
    return itest_node_new(loop, &cfg);
}

static inline void itest_node_closed(shoal_node *n, void *user)
{
    (void)n;
    (*(size_t *)user)++;
}

static inline int itest_all_closed(void *arg)
{
    const size_t *v = arg; /* {closed, wanted} */

    return v[0] == v[1];
}

/* Closes the n nodes v[0..n-1] and runs loop until all are closed, then
 * once more without waiting (what their closing left to do). With
 * timeout_ms 0 it waits as long as that takes (the test's own TIMEOUT is
 * the limit); otherwise it gives up after timeout_ms. Returns 1 when all
 * are closed, 0 on timeout. */
static inline int itest_close_nodes(uv_loop_t *loop, shoal_node *const *v,
                                    size_t n, uint32_t timeout_ms)
{
    size_t count[2] = {0, n};
    int ok = 1;

    for (size_t i = 0; i < n; i++)
        shoal_node_close(v[i], itest_node_closed, &count[0]);
    if (timeout_ms == 0)
        while (count[0] < n)
            uv_run(loop, UV_RUN_ONCE);
    else
        ok = itest_run_until(loop, itest_all_closed, count, timeout_ms);
    uv_run(loop, UV_RUN_NOWAIT);
    return ok;
}

/* ---------------------------------------------------- recorded requests */

#define ITEST_MAX_REPLIES 64

typedef struct itest_call {
    int ended;
    int status;
    size_t count;                       /* replies seen (may exceed max) */
    char type[ITEST_MAX_REPLIES][5];
    char *data[ITEST_MAX_REPLIES];      /* NUL-terminated copies */
    size_t len[ITEST_MAX_REPLIES];
    uint64_t started_ms, ended_ms;
    const void *into;                   /* shoal_request_into()'s buffer */
    unsigned in_buf;                    /* bit i: reply i was read into it */
} itest_call;

static inline void itest_call_init(itest_call *c)
{
    memset(c, 0, sizeof(*c));
    c->status = 1; /* not a possible end status */
    c->started_ms = itest_now_ms();
}

static inline void itest_call_free(itest_call *c)
{
    size_t i;

    for (i = 0; i < c->count && i < ITEST_MAX_REPLIES; i++)
        free(c->data[i]);
    memset(c, 0, sizeof(*c));
}

static inline void itest_on_reply(const shoal_msg *reply, void *user)
{
    itest_call *c = user;

    if (c->count < ITEST_MAX_REPLIES) {
        memcpy(c->type[c->count], reply->type, 5);
        c->data[c->count] = malloc(reply->len + 1);
        if (c->data[c->count] != NULL) {
            memcpy(c->data[c->count], reply->data, reply->len);
            c->data[c->count][reply->len] = '\0';
        }
        c->len[c->count] = reply->len;
        if (c->into != NULL && reply->data == c->into)
            c->in_buf |= 1u << c->count;
    }
    c->count++;
}

static inline void itest_on_end(int status, void *user)
{
    itest_call *c = user;

    c->ended++;
    c->status = status;
    c->ended_ms = itest_now_ms();
}

static inline int itest_call_ended(void *arg)
{
    return ((itest_call *)arg)->ended != 0;
}

/* Does reply i have this type and exactly this text as payload? */
static inline int itest_reply_is(const itest_call *c, size_t i,
                                 const char *type, const char *text)
{
    return i < c->count && i < ITEST_MAX_REPLIES &&
           strcmp(c->type[i], type) == 0 && c->data[i] != NULL &&
           c->len[i] == strlen(text) && memcmp(c->data[i], text,
                                               c->len[i]) == 0;
}

/* -------------------------------------------------------------- sockets */

/* A loopback port where nobody listens: bind one, read it, close it. */
static inline int itest_refusing_port(void)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    if (fd < 0)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

/* A blocking TCP connection to 127.0.0.1:port whose reads and writes give
 * up after timeout_ms. Returns the fd or -1. */
static inline int itest_connect(int port, uint32_t timeout_ms)
{
    struct sockaddr_in sa;
    struct timeval tv;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0)
        return -1;
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static inline int itest_send_all(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;

    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads exactly len bytes. Returns 0, 1 on a clean end of stream before
 * any byte, or -1 (error, timeout, or end of stream midway). */
static inline int itest_recv_all(int fd, void *data, size_t len)
{
    uint8_t *p = data;
    size_t got = 0;

    while (got < len) {
        ssize_t n = recv(fd, p + got, len - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0 && got == 0)
            return 1;
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    return 0;
}

static inline void itest_header(uint8_t out[8], const char *type, uint32_t len)
{
    size_t i;

    for (i = 0; i < 4 && type[i] != '\0'; i++)
        out[i] = (uint8_t)type[i];
    for (; i < 4; i++)
        out[i] = 0;
    out[4] = (uint8_t)(len >> 24);
    out[5] = (uint8_t)(len >> 16);
    out[6] = (uint8_t)(len >> 8);
    out[7] = (uint8_t)len;
}

#endif
