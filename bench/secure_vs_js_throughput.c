/* secure_vs_js_throughput: one secure stream, 1 GiB, shoal to shoal against
 * js-libp2p to js-libp2p, both on this machine in the same run.
 *
 * shoal: as secure_throughput: a server node on its own thread serving
 * /perf/1.0.0, a client node connected first (Noise, yamux, one ping),
 * then shoal_perf(upload 0, download SIZE): SIZE bytes server -> client,
 * each checked against the perf pattern. Time: from the shoal_perf() call
 * to its callback (stream open and negotiation included, dial not).
 * Baseline: tests/interop/js/peer.mjs `listen` (one node process) and
 * `perf --upload 0 --download SIZE` (another): the same protocol, the same
 * direction, the same byte check; its own "seconds" (from before its
 * newStream to the end of the download; the dial is before it).
 * Figure: MiB/s of each, best of RUNS runs each, alternating.
 * Placement (bench.h): each side runs RUNS times with its two peers pinned
 * to different cores (server on CPU 0, client on CPU 1; for js, every
 * thread of each process) and RUNS times where the scheduler puts them;
 * each side's best run counts, whichever placement it came from. The js
 * listener is started afresh for every js run, in that run's placement.
 *
 * Usage: secure_vs_js_throughput [MiB] [runs] */
#include "bench.h"

#define RUNS_DEFAULT 3
#define JS_PERF_TIMEOUT_S 45

static uint64_t size = 1024u * 1024 * 1024;

static double mib_per_s(double seconds)
{
    return seconds > 0 ? (double)size / (1024.0 * 1024.0) / seconds : 0;
}

/* One js perf run, listener and client pinned to two cores or not: the
 * seconds of the transfer, or 0. */
static double js_once(const char *peer, int pinned)
{
    static char line[8192];
    char addr[256], download[32], timeout[32];
    const char *args[] = {"perf",      "--addr",   addr,     "--upload",
                          "0",         "--download", download, "--timeout",
                          timeout,     NULL};
    bench_proc listener, p;
    double seconds = 0, ok_bytes = 0;
    int rc;

    if (bench_js_listen(&listener, peer, 300, addr, sizeof(addr),
                        pinned ? 0 : -1) < 0) {
        fprintf(stderr, "secure_vs_js_throughput: the js listener did not "
                        "start\n");
        return 0;
    }
    snprintf(download, sizeof(download), "%llu", (unsigned long long)size);
    snprintf(timeout, sizeof(timeout), "%d", JS_PERF_TIMEOUT_S);
    if (bench_js_start(&p, peer, args, pinned ? 1 : -1) < 0) {
        bench_js_end(&listener, 10);
        return 0;
    }
    rc = bench_js_wait_event(&p, "perf", line, sizeof(line),
                             bench_now() + JS_PERF_TIMEOUT_S + 10);
    if (rc == 0 && (strstr(line, "\"ok\":true") == NULL ||
                    bench_json_num(line, "received", &ok_bytes) < 0 ||
                    (uint64_t)ok_bytes != size ||
                    bench_json_num(line, "seconds", &seconds) < 0)) {
        fprintf(stderr, "secure_vs_js_throughput: js perf: %s\n", line);
        rc = -1;
    }
    if (bench_js_end(&p, 10) != 0)
        rc = -1;
    if (bench_js_end(&listener, 10) != 0)
        fprintf(stderr, "secure_vs_js_throughput: the js listener did not "
                        "exit cleanly\n");
    return rc == 0 ? seconds : 0;
}

static const char *placement(int pinned)
{
    return pinned ? "pinned" : "unpinned";
}

int main(int argc, char **argv)
{
    int runs = RUNS_DEFAULT, fail = 0;
    double best_js = 0, best_shoal = 0;
    double best[2][2] = {{0, 0}, {0, 0}}; /* [shoal, js][unpinned, pinned] */
    const char *peer;
    bench_server ss;
    bench_client cl;
    shoal_config cfg;

    if (argc > 1)
        size = (uint64_t)atol(argv[1]) * 1024 * 1024;
    if (argc > 2)
        runs = atoi(argv[2]);
    if (size == 0 || size > 4096ull * 1024 * 1024 || runs < 1 || runs > 10) {
        fprintf(stderr,
                "usage: secure_vs_js_throughput [MiB<=4096] [runs<=10]\n");
        return 2;
    }
    peer = bench_js_peer();

    shoal_config_init(&cfg);
    cfg.log_level = SHOAL_LOG_WARN;
    bench_secure_server_start(&ss, &cfg, 1);
    bench_client_open(&cl, ss.addr);
    fprintf(stderr,
            "secure_vs_js_throughput: %llu MiB, server -> client on one "
            "stream; best of %d runs each, pinned and unpinned (alternating "
            "shoal, js)\n",
            (unsigned long long)(size >> 20), runs);
    for (int i = 0; i < 2 * runs; i++) {
        int pinned = i % 2;
        double a, b;
        bench_pin_thread(ss.thread, pinned ? 0 : -1);
        bench_pin_thread(pthread_self(), pinned ? 1 : -1);
        a = bench_client_perf(&cl, 0, size, 50.0);
        bench_pin_thread(pthread_self(), -1);
        b = peer != NULL ? js_once(peer, pinned) : 0;
        fprintf(stderr,
                "secure_vs_js_throughput: run %d (%s): shoal %.3f s "
                "(%.0f MiB/s), js %.3f s (%.0f MiB/s)\n",
                i + 1, placement(pinned), a, mib_per_s(a), b, mib_per_s(b));
        if (a > 0 && (best[0][pinned] == 0 || a < best[0][pinned]))
            best[0][pinned] = a;
        if (b > 0 && (best[1][pinned] == 0 || b < best[1][pinned]))
            best[1][pinned] = b;
        if (a == 0 || (peer != NULL && b == 0))
            break; /* a failed transfer: do not pile up more */
    }
    bench_client_close(&cl);
    bench_server_stop(&ss);
    for (int pinned = 0; pinned < 2; pinned++) {
        double a = best[0][pinned], b = best[1][pinned];
        fprintf(stderr,
                "secure_vs_js_throughput: best %s: shoal %.0f MiB/s, js %.0f "
                "MiB/s\n",
                placement(pinned), mib_per_s(a), mib_per_s(b));
        if (a > 0 && (best_shoal == 0 || a < best_shoal))
            best_shoal = a;
        if (b > 0 && (best_js == 0 || b < best_js))
            best_js = b;
    }
    if (best_js == 0)
        fprintf(stderr, "secure_vs_js_throughput: no js baseline\n");
    fail = best_shoal == 0 || best_js == 0;
    bench_print("secure_vs_js_throughput", mib_per_s(best_shoal), "MiB/s",
                mib_per_s(best_js), 1);
    return fail;
}
