/* classic_throughput: one 256 MiB message over the classic wire.
 *
 * shoal: a client node sends one DATA message of SIZE bytes with
 * shoal_request_owned (the API for large payloads: the filled buffer is
 * handed over, not copied) to a server node (own thread, max_message >= SIZE) whose
 * handler checks the length and replies one small REPL; the time runs from
 * the call until the end callback; the buffer is filled before the clock
 * starts, as the raw writer's is.
 * Baseline: raw TCP on loopback: the main thread write()s SIZE bytes to a
 * reader thread that read()s them into a 256 KiB buffer, then answers with
 * one small message the writer reads until close; the time runs from the
 * connect until that answer. The writer sends from the same pre-touched
 * buffer the shoal client sends from.
 * Each side runs RUNS times, alternating, and the best time of each counts
 * (the first runs of a process pay for fresh memory; see stderr).
 *
 * What shoal does beyond the wire: the server holds the whole message in
 * memory for its handler, fresh memory every time (see src/core/bigbuf.h).
 * (shoal_request, which copies the caller's buffer, costs one more pass
 * over fresh memory: about 50 ms for 256 MiB here.)
 *
 * Usage: classic_throughput [MiB] [runs] */
#include "bench.h"

#define RUNS_DEFAULT 5
#define RAW_READ_BUF (256 * 1024)
#define TIMEOUT_MS 60000

static size_t size = 256u * 1024 * 1024;
static uint8_t *data;

static double mib_per_s(double seconds)
{
    return seconds > 0 ? (double)size / (1024.0 * 1024.0) / seconds : 0;
}

/* ---------------------------------------------------------------- raw TCP */

typedef struct raw_reader {
    int lfd;
    uv_thread_t thread;
    size_t got;
    int ok;
} raw_reader;

static void raw_reader_loop(void *arg)
{
    raw_reader *r = arg;
    uint8_t *buf = malloc(RAW_READ_BUF);
    int fd = accept(r->lfd, NULL, NULL);
    char reply[16];

    if (fd < 0 || buf == NULL)
        bench_die("raw accept", errno);
    for (;;) {
        ssize_t n = read(fd, buf, RAW_READ_BUF);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        r->got += (size_t)n;
    }
    memcpy(reply, "REPL", 4);
    bench_put_be32((uint8_t *)reply + 4, 2);
    memcpy(reply + 8, "ok", 2);
    r->ok = r->got == size && write(fd, reply, 10) == 10;
    close(fd);
    free(buf);
}

static double raw_once(void)
{
    raw_reader r;
    struct sockaddr_in sa;
    int port, fd;
    size_t off = 0;
    char reply[64];
    size_t rgot = 0;
    double t0, t1;

    memset(&r, 0, sizeof(r));
    r.lfd = bench_listen(16, &port);
    sa = bench_loopback(port);
    if (uv_thread_create(&r.thread, raw_reader_loop, &r) < 0)
        bench_die("raw reader thread", EAGAIN);
    t0 = bench_now();
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        bench_die("raw connect", errno);
    while (off < size) {
        ssize_t n = write(fd, data + off, size - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            bench_die("raw write", errno);
        off += (size_t)n;
    }
    shutdown(fd, SHUT_WR);
    for (;;) {
        ssize_t n = read(fd, reply + rgot, sizeof(reply) - rgot);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        rgot += (size_t)n;
    }
    t1 = bench_now();
    close(fd);
    uv_thread_join(&r.thread);
    close(r.lfd);
    if (!r.ok || rgot != 10 || memcmp(reply, "REPL", 4) != 0) {
        fprintf(stderr, "classic_throughput: raw run failed (got %zu)\n",
                r.got);
        return 0;
    }
    return t1 - t0;
}

/* ------------------------------------------------------------------ shoal */

static void on_data(shoal_req *req, const shoal_msg *msg, void *user)
{
    (void)user;
    if (msg->len == size)
        shoal_replyf(req, "REPL", "ok %zu", msg->len);
    else
        shoal_replyf(req, "ERRO", "short %zu", msg->len);
}

typedef struct shoal_client {
    shoal_node *node;
    const char *addr;
    double t0, t_call, t1;
    int status;
    int good;
} shoal_client;

static void on_reply(const shoal_msg *reply, void *user)
{
    shoal_client *sc = user;

    sc->good = strcmp(reply->type, "REPL") == 0;
}

static void on_end(int status, void *user)
{
    shoal_client *sc = user;

    sc->t1 = bench_now();
    sc->status = status;
    shoal_node_stop(sc->node);
}

static double shoal_once(const char *addr)
{
    shoal_client sc;
    shoal_config cfg;
    uint8_t *payload;
    int rc;

    memset(&sc, 0, sizeof(sc));
    shoal_config_init(&cfg);
    cfg.classic = 1; /* the classic wire is what this measures */
    cfg.handle_signals = 0;
    cfg.log_level = SHOAL_LOG_WARN;
    if ((rc = shoal_node_new(&sc.node, NULL, &cfg)) < 0)
        bench_die("client node", rc);
    sc.addr = addr;
    if ((payload = malloc(size)) == NULL)
        bench_die("malloc", ENOMEM);
    memcpy(payload, data, size); /* the application's filled buffer */
    sc.t0 = bench_now();
    rc = shoal_request_owned(sc.node, addr, "DATA", payload, size,
                             TIMEOUT_MS, on_reply, on_end, &sc);
    if (rc < 0)
        bench_die("shoal_request_owned", rc);
    sc.t_call = bench_now();
    if ((rc = shoal_node_run(sc.node)) < 0)
        bench_die("client run", rc);
    shoal_node_free(sc.node);
    if (sc.status != 0 || !sc.good) {
        fprintf(stderr, "classic_throughput: shoal run failed: %s%s\n",
                shoal_strerror(sc.status), sc.good ? "" : " (no REPL)");
        return 0;
    }
    fprintf(stderr,
            "classic_throughput: shoal: %.3f s in the call, "
            "%.3f s on the wire\n",
            sc.t_call - sc.t0, sc.t1 - sc.t_call);
    return sc.t1 - sc.t0;
}

int main(int argc, char **argv)
{
    int runs = RUNS_DEFAULT;
    double best_raw = 0, best_shoal = 0;
    bench_server ss;
    shoal_config cfg;

    if (argc > 1)
        size = (size_t)atol(argv[1]) * 1024 * 1024;
    if (argc > 2)
        runs = atoi(argv[2]);
    if (size == 0 || size > 1024u * 1024 * 1024 || runs < 1 || runs > 10) {
        fprintf(stderr, "usage: classic_throughput [MiB<=1024] [runs<=10]\n");
        return 2;
    }
    data = malloc(size);
    if (data == NULL)
        bench_die("malloc", ENOMEM);
    for (size_t i = 0; i < size; i++) /* touched: no page faults measured */
        data[i] = (uint8_t)(i * 131 + 7);

    shoal_config_init(&cfg);

    cfg.classic = 1; /* the classic wire is what this measures */
    cfg.log_level = SHOAL_LOG_WARN;
    cfg.max_message = size;
    cfg.max_input_total = 2 * size;
    bench_server_start(&ss, &cfg, "DATA", on_data, NULL);
    fprintf(stderr,
            "classic_throughput: %zu MiB message, best of %d runs each "
            "(alternating raw, shoal)\n",
            size >> 20, runs);
    for (int i = 0; i < runs; i++) {
        double a = raw_once(), b = shoal_once(ss.addr);
        fprintf(stderr,
                "classic_throughput: run %d: raw %.3f s (%.0f MiB/s), "
                "shoal %.3f s (%.0f MiB/s)\n",
                i + 1, a, mib_per_s(a), b, mib_per_s(b));
        if (a > 0 && (best_raw == 0 || a < best_raw))
            best_raw = a;
        if (b > 0 && (best_shoal == 0 || b < best_shoal))
            best_shoal = b;
    }
    bench_server_stop(&ss);
    free(data);
    bench_print("classic_throughput", mib_per_s(best_shoal), "MiB/s",
                mib_per_s(best_raw), 1);
    return 0;
}
