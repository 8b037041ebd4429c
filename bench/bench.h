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
#include <pthread.h>
#include <sched.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
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

/* ------------------------------------------------------------ placement
 * A transfer between two single-threaded peers runs at its best with one
 * peer per core; left to itself the scheduler sometimes stacks both on one
 * core for a while, which is most of the spread between runs on a 2-core
 * machine. The throughput benchmarks run each side both ways, pinned and
 * unpinned, and keep each side's best, so neither is measured in a
 * placement that suits only the other. cpu < 0: every CPU. */
static inline int bench_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static inline void bench_cpu_set(cpu_set_t *set, int cpu)
{
    CPU_ZERO(set);
    if (cpu >= 0) {
        CPU_SET(cpu % bench_cpus(), set);
    } else {
        for (int i = 0; i < bench_cpus() && i < CPU_SETSIZE; i++)
            CPU_SET(i, set);
    }
}

/* Pins thread t (any thread of this process) to cpu. */
static inline void bench_pin_thread(pthread_t t, int cpu)
{
    cpu_set_t set;

    bench_cpu_set(&set, cpu);
    pthread_setaffinity_np(t, sizeof(set), &set);
}

/* ------------------------------------------- a shoal node on its own thread
 * Created on the calling thread (so its port is known at once), then run by
 * a thread until bench_server_stop(). */
typedef struct bench_server {
    shoal_node *node;
    uv_thread_t thread;
    char addr[256]; /* classic: HOST:PORT; secure: /ip4/.../tcp/P/p2p/ID */
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

/* A secure-mode node (Noise, yamux) on its own thread; cfg may set limits,
 * listen and signals are set here. perf: also serve /perf/1.0.0. addr is
 * the node's full multiaddr, with /p2p/<id>. */
static inline void bench_secure_server_start(bench_server *s,
                                             shoal_config *cfg, int perf)
{
    int rc;

    cfg->classic = 0;
    cfg->listen = "127.0.0.1:0";
    cfg->handle_signals = 0;
    if ((rc = shoal_node_new(&s->node, NULL, cfg)) < 0)
        bench_die("server node", rc);
    if (perf && (rc = shoal_perf_serve(s->node)) < 0)
        bench_die("shoal_perf_serve", rc);
    if ((rc = shoal_node_addr(s->node, s->addr, sizeof(s->addr))) < 0)
        bench_die("shoal_node_addr", rc);
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

/* ------------------------------------------------ a secure client node
 * A secure node on a loop of the benchmark's own, driven by
 * bench_client_wait() from the calling thread: the connection is opened
 * once with a ping, then every bench_client_perf() runs one /perf/1.0.0
 * stream on it. */
typedef struct bench_client {
    uv_loop_t loop;
    uv_timer_t tick;    /* wakes the loop so that deadlines are seen */
    shoal_node *node;
    const char *addr;
    int done;
    int status;
    uint64_t rtt_us;
    shoal_perf_result perf;
    double t1;
} bench_client;

static inline void bench_client_tick(uv_timer_t *t)
{
    (void)t;
}

/* Runs the loop until c->done or the deadline; 0 or SHOAL_ETIMEDOUT. */
static inline int bench_client_wait(bench_client *c, double deadline)
{
    uv_timer_start(&c->tick, bench_client_tick, 100, 100);
    while (!c->done && bench_now() < deadline)
        uv_run(&c->loop, UV_RUN_ONCE);
    uv_timer_stop(&c->tick);
    return c->done ? 0 : SHOAL_ETIMEDOUT;
}

static inline void bench_client_on_ping(shoal_node *node, int status,
                                        uint64_t rtt_us, void *user)
{
    bench_client *c = user;

    (void)node;
    c->t1 = bench_now();
    c->status = status;
    c->rtt_us = rtt_us;
    c->done = 1;
}

static inline void bench_client_on_perf(shoal_node *node, int status,
                                        const shoal_perf_result *r,
                                        void *user)
{
    bench_client *c = user;

    (void)node;
    c->t1 = bench_now();
    c->status = status;
    c->perf = *r;
    c->done = 1;
}

/* Creates the node and connects (Noise, yamux, one ping) to addr. */
static inline void bench_client_open(bench_client *c, const char *addr)
{
    shoal_config cfg;
    int rc;

    memset(c, 0, sizeof(*c));
    c->addr = addr;
    if (uv_loop_init(&c->loop) < 0)
        bench_die("loop", ENOMEM);
    uv_timer_init(&c->loop, &c->tick);
    shoal_config_init(&cfg);
    cfg.handle_signals = 0;
    cfg.log_level = SHOAL_LOG_WARN;
    if ((rc = shoal_node_new(&c->node, &c->loop, &cfg)) < 0)
        bench_die("client node", rc);
    if ((rc = shoal_ping(c->node, addr, 10000, bench_client_on_ping, c)) < 0)
        bench_die("shoal_ping", rc);
    if ((rc = bench_client_wait(c, bench_now() + 15)) < 0 ||
        (rc = c->status) < 0)
        bench_die("connect and ping", rc);
}

/* One perf stream: upload bytes up, download bytes back (checked by
 * shoal_perf against the pattern). Returns the seconds from the call to
 * its callback, or 0 when it failed (said on stderr). */
static inline double bench_client_perf(bench_client *c, uint64_t upload,
                                       uint64_t download, double limit_s)
{
    double t0;
    int rc;

    c->done = 0;
    t0 = bench_now();
    rc = shoal_perf(c->node, c->addr, upload, download, bench_client_on_perf,
                    c);
    if (rc == 0)
        rc = bench_client_wait(c, t0 + limit_s);
    if (rc == 0)
        rc = c->status;
    if (rc < 0) {
        fprintf(stderr, "bench: perf: %s (got %llu of %llu bytes)\n",
                shoal_strerror(rc), (unsigned long long)c->perf.downloaded,
                (unsigned long long)download);
        return 0;
    }
    return c->t1 - t0;
}

static inline void bench_client_close(bench_client *c)
{
    shoal_node_close(c->node, NULL, NULL);
    uv_close((uv_handle_t *)&c->tick, NULL);
    uv_run(&c->loop, UV_RUN_DEFAULT); /* until every handle is closed */
    uv_loop_close(&c->loop);
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

/* ------------------------------------------------ child processes, lines */

/* Reads one line (without its newline) from fd into buf by the deadline
 * (bench_now() seconds); 0, or -1 on EOF, error or deadline. */
static inline int bench_read_line(int fd, char *buf, size_t size,
                                  double deadline)
{
    size_t got = 0;

    while (got + 1 < size) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int ms = (int)((deadline - bench_now()) * 1000);
        ssize_t n;

        if (ms <= 0)
            return -1;
        if (poll(&p, 1, ms) <= 0)
            continue; /* timeout or EINTR: the deadline decides */
        n = read(fd, buf + got, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        if (buf[got] == '\n') {
            buf[got] = '\0';
            return 0;
        }
        got++;
    }
    buf[got] = '\0';
    return 0; /* a long line, cut */
}

/* Waits for pid up to `seconds`, then SIGTERM, then SIGKILL. Returns the
 * exit status as waitpid() gives it, or -1. */
static inline int bench_reap(pid_t pid, double seconds)
{
    double deadline = bench_now() + seconds;
    int status = 0, sig = SIGTERM;

    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        if (r < 0 && errno != EINTR)
            return -1;
        if (bench_now() > deadline) {
            kill(pid, sig);
            if (sig == SIGKILL) {
                waitpid(pid, &status, 0);
                return -1;
            }
            sig = SIGKILL;
            deadline = bench_now() + 5.0;
        }
        poll(NULL, 0, 10);
    }
}

/* A number after "key": in a JSON line (flat lookup, first match); 0 or -1. */
static inline int bench_json_num(const char *line, const char *key,
                                 double *out)
{
    char pat[64];
    const char *p;
    char *end;

    snprintf(pat, sizeof(pat), "\"%s\":", key);
    if ((p = strstr(line, pat)) == NULL)
        return -1;
    p += strlen(pat);
    *out = strtod(p, &end);
    return end == p ? -1 : 0;
}

/* ------------------------------------ the js-libp2p peer (tests/interop/js)
 * Baselines run tests/interop/js/peer.mjs with node: SHOAL_JS_PEER names
 * another peer.mjs, NODE another node binary. */
#ifndef SHOAL_JS_PEER_DEFAULT
#define SHOAL_JS_PEER_DEFAULT "tests/interop/js/peer.mjs"
#endif

typedef struct bench_proc {
    pid_t pid;
    int out; /* its stdout */
    int in;  /* its stdin */
} bench_proc;

/* peer.mjs's path, or NULL (said on stderr) when it or its node_modules
 * are missing. */
static inline const char *bench_js_peer(void)
{
    static char modules[4096];
    const char *peer = getenv("SHOAL_JS_PEER");
    const char *slash;

    if (peer == NULL || peer[0] == '\0')
        peer = SHOAL_JS_PEER_DEFAULT;
    slash = strrchr(peer, '/');
    snprintf(modules, sizeof(modules), "%.*s/node_modules",
             slash != NULL ? (int)(slash - peer) : 1,
             slash != NULL ? peer : ".");
    if (access(peer, R_OK) != 0 || access(modules, R_OK) != 0) {
        fprintf(stderr,
                "bench: no js peer (%s or %s missing; run "
                "scripts/install-js-deps)\n",
                peer, modules);
        return NULL;
    }
    return peer;
}

/* Starts `node PEER args...` (args NULL-terminated), stdout and stdin on
 * pipes, stderr shared; every thread of it on cpu (-1: any). 0 or -1. */
static inline int bench_js_start(bench_proc *p, const char *peer,
                                 const char *const *args, int cpu)
{
    const char *node = getenv("NODE");
    const char *argv[32];
    int out[2], in[2];
    size_t n = 0;

    if (node == NULL || node[0] == '\0')
        node = "node";
    argv[n++] = node;
    argv[n++] = peer;
    while (*args != NULL && n < 31)
        argv[n++] = *args++;
    argv[n] = NULL;
    if (pipe(out) < 0)
        return -1;
    if (pipe(in) < 0) {
        close(out[0]);
        close(out[1]);
        return -1;
    }
    fcntl(out[0], F_SETFD, FD_CLOEXEC);
    fcntl(out[1], F_SETFD, FD_CLOEXEC);
    fcntl(in[0], F_SETFD, FD_CLOEXEC);
    fcntl(in[1], F_SETFD, FD_CLOEXEC);
    fflush(stdout);
    fflush(stderr);
    if ((p->pid = fork()) < 0)
        return -1;
    if (p->pid == 0) {
        cpu_set_t set;
        bench_cpu_set(&set, cpu);
        sched_setaffinity(0, sizeof(set), &set); /* what we were given aside */
        dup2(out[1], 1);
        dup2(in[0], 0);
        execvp(node, (char *const *)argv);
        {
            static const char msg[] = "bench: cannot run node\n";
            ssize_t w = write(2, msg, sizeof(msg) - 1);
            (void)w;
        }
        _exit(127);
    }
    close(out[1]);
    close(in[0]);
    p->out = out[0];
    p->in = in[1];
    return 0;
}

/* Reads lines until one holds "event":"<event>" (copied to line) or an
 * error event, by the deadline. 0, or -1 (what came is on stderr). */
static inline int bench_js_wait_event(bench_proc *p, const char *event,
                                      char *line, size_t size,
                                      double deadline)
{
    char pat[64];

    snprintf(pat, sizeof(pat), "\"event\":\"%s\"", event);
    while (bench_read_line(p->out, line, size, deadline) == 0) {
        if (strstr(line, pat) != NULL)
            return 0;
        if (strstr(line, "\"event\":\"error\"") != NULL) {
            fprintf(stderr, "bench: js: %s\n", line);
            return -1;
        }
    }
    fprintf(stderr, "bench: js: no \"%s\" event\n", event);
    return -1;
}

/* Closes its pipes (a `--stdin` peer leaves at EOF) and reaps it. Returns
 * its exit code, or -1. */
static inline int bench_js_end(bench_proc *p, double seconds)
{
    int status;

    if (p->in >= 0)
        close(p->in);
    p->in = -1;
    status = bench_reap(p->pid, seconds);
    if (p->out >= 0)
        close(p->out);
    p->out = -1;
    return status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Starts `peer.mjs listen --stdin` on cpu (-1: any) and gets its loopback
 * multiaddr (with /p2p/). 0 or -1. */
static inline int bench_js_listen(bench_proc *p, const char *peer,
                                  int timeout_s, char *addr, size_t size,
                                  int cpu)
{
    static char line[8192];
    char timeout[32];
    const char *args[] = {"listen", "--stdin", "--timeout", timeout, NULL};
    const char *a, *e;

    snprintf(timeout, sizeof(timeout), "%d", timeout_s);
    if (bench_js_start(p, peer, args, cpu) < 0)
        return -1;
    if (bench_js_wait_event(p, "listening", line, sizeof(line),
                            bench_now() + 30) < 0 ||
        (a = strstr(line, "/ip4/127.0.0.1/tcp/")) == NULL ||
        (e = strchr(a, '"')) == NULL || (size_t)(e - a) >= size) {
        bench_js_end(p, 5);
        return -1;
    }
    memcpy(addr, a, (size_t)(e - a));
    addr[e - a] = '\0';
    return 0;
}

#endif
