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

/* One js perf run against the js listener at addr: seconds, or 0. */
static double js_once(const char *peer, const char *addr)
{
    static char line[8192];
    char download[32], timeout[32];
    const char *args[] = {"perf",      "--addr",   addr,     "--upload",
                          "0",         "--download", download, "--timeout",
                          timeout,     NULL};
    bench_proc p;
    double seconds = 0, ok_bytes = 0;
    int rc;

    snprintf(download, sizeof(download), "%llu", (unsigned long long)size);
    snprintf(timeout, sizeof(timeout), "%d", JS_PERF_TIMEOUT_S);
    if (bench_js_start(&p, peer, args) < 0)
        return 0;
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
    return rc == 0 ? seconds : 0;
}

int main(int argc, char **argv)
{
    int runs = RUNS_DEFAULT, fail = 0;
    double best_js = 0, best_shoal = 0;
    const char *peer;
    char js_addr[256];
    bench_server ss;
    bench_client cl;
    bench_proc jsl;
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
    if (peer != NULL && bench_js_listen(&jsl, peer, 300, js_addr,
                                        sizeof(js_addr)) < 0) {
        fprintf(stderr, "secure_vs_js_throughput: the js listener did not "
                        "start\n");
        peer = NULL;
    }

    shoal_config_init(&cfg);
    cfg.log_level = SHOAL_LOG_WARN;
    bench_secure_server_start(&ss, &cfg, 1);
    bench_client_open(&cl, ss.addr);
    fprintf(stderr,
            "secure_vs_js_throughput: %llu MiB, server -> client on one "
            "stream; best of %d runs each (alternating shoal, js)\n",
            (unsigned long long)(size >> 20), runs);
    for (int i = 0; i < runs; i++) {
        double a = bench_client_perf(&cl, 0, size, 50.0);
        double b = peer != NULL ? js_once(peer, js_addr) : 0;
        fprintf(stderr,
                "secure_vs_js_throughput: run %d: shoal %.3f s (%.0f MiB/s), "
                "js %.3f s (%.0f MiB/s)\n",
                i + 1, a, mib_per_s(a), b, mib_per_s(b));
        if (a > 0 && (best_shoal == 0 || a < best_shoal))
            best_shoal = a;
        if (b > 0 && (best_js == 0 || b < best_js))
            best_js = b;
        if (a == 0 || (peer != NULL && b == 0))
            break; /* a failed transfer: do not pile up more */
    }
    bench_client_close(&cl);
    bench_server_stop(&ss);
    if (peer != NULL && bench_js_end(&jsl, 10) != 0)
        fprintf(stderr, "secure_vs_js_throughput: the js listener did not "
                        "exit cleanly\n");
    if (best_js == 0)
        fprintf(stderr, "secure_vs_js_throughput: no js baseline\n");
    fail = best_shoal == 0 || best_js == 0;
    bench_print("secure_vs_js_throughput", mib_per_s(best_shoal), "MiB/s",
                mib_per_s(best_js), 1);
    return fail;
}
