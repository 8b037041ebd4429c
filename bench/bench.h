/* What the benchmarks share: a clock, the BENCH line, a shoal node on a
 * thread of its own, and small raw-socket helpers for the baselines.
 *
 * A benchmark prints, per figure, exactly one line on stdout:
 *   BENCH <name> value=<v> unit=<u> baseline=<b> ratio=<v/b or b/v>
 * (ratio oriented so that higher is better; no baseline: value and unit
 * only). Everything else goes to stderr. Benchmarks never fail on time. */
#ifndef SHOAL_BENCH_H
#define SHOAL_BENCH_H

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "shoal.h"

static inline double bench_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* higher_is_better: ratio = value / baseline, else baseline / value.
 * baseline <= 0: no baseline (value and unit only). */
static inline void bench_print(const char *name, double value,
                               const char *unit, double baseline,
                               int higher_is_better)
{
    if (baseline > 0 && value > 0) {
        double ratio = higher_is_better ? value / baseline : baseline / value;
        printf("BENCH %s value=%.2f unit=%s baseline=%.2f ratio=%.3f\n", name,
               value, unit, baseline, ratio);
    } else if (baseline > 0) {
        printf("BENCH %s value=%.2f unit=%s baseline=%.2f ratio=0\n", name,
               value, unit, baseline);
    } else {
        printf("BENCH %s value=%.2f unit=%s\n", name, value, unit);
    }
    fflush(stdout);
}

static inline void bench_die(const char *what, int err)
{
    fprintf(stderr, "bench: %s: %s\n", what,
            err < 0 ? shoal_strerror(err) : strerror(err));
    exit(2);
}

/* ------------------------------------------- a shoal node on its own thread
 * Created on the calling thread (so its port is known at once), then run by
 * a thread until bench_server_stop(). */
typedef struct bench_server {
    shoal_node *node;
    uv_thread_t thread;
    char addr[64];
} bench_server;

static inline void bench_server_thread(void *arg)
{
    bench_server *s = arg;
    int rc = shoal_node_run(s->node);

    if (rc < 0)
        fprintf(stderr, "bench: server run: %s\n", shoal_strerror(rc));
}

/* cfg may set limits; listen, signals are set here. */
static inline void bench_server_start(bench_server *s, shoal_config *cfg,
                                      const char *type, shoal_handler_cb cb,
                                      void *user)
{
    int rc;

    cfg->listen = "127.0.0.1:0";
    cfg->handle_signals = 0;
    if ((rc = shoal_node_new(&s->node, NULL, cfg)) < 0)
        bench_die("server node", rc);
    if ((rc = shoal_handle(s->node, type, cb, user)) < 0)
        bench_die("shoal_handle", rc);
    snprintf(s->addr, sizeof(s->addr), "127.0.0.1:%d",
             shoal_node_port(s->node));
    if ((rc = uv_thread_create(&s->thread, bench_server_thread, s)) < 0)
        bench_die("server thread", rc);
}

static inline void bench_server_stop(bench_server *s)
{
    shoal_node_stop(s->node);
    uv_thread_join(&s->thread);
    shoal_node_free(s->node);
    s->node = NULL;
}

/* ---------------------------------------------------- raw socket helpers */

/* A listening socket on 127.0.0.1, port chosen by the kernel. */
static inline int bench_listen(int backlog, int *port)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        bench_die("socket", errno);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(fd, backlog) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
        bench_die("bind/listen", errno);
    *port = ntohs(sa.sin_port);
    return fd;
}

static inline struct sockaddr_in bench_loopback(int port)
{
    struct sockaddr_in sa;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)port);
    return sa;
}

static inline void bench_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline uint32_t bench_get_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

#endif
