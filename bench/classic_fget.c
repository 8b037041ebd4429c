/* classic_fget: a 100 MiB file by the classic wire's FGET, with the files
 * service on both sides, against a raw TCP copy of the same file.
 *
 * The file: SIZE random bytes, written and fsync'ed under a temporary
 * folder in /tmp before anything is timed, removed at the end (it stays in
 * the page cache: the holder's read comes from memory).
 *
 * shoal: the holder is a classic node on a thread of its own with
 * shoal_files_new(share = the file's folder), created before its loop
 * runs; the benchmark waits until the file is indexed. For each run a
 * fresh classic client node (listening: classic RESPs come back as
 * requests of their own), on the main thread's loop, with the holder in its
 * peer table and a download folder of its own, calls
 * shoal_files_get(f, "big.bin"): the service's classic path, by name. It
 * sends QUER, gets RESP, and when the search is over sends FGET; the
 * holder reads the whole file on the thread pool and replies one REPL
 * message of SIZE bytes; the client copies the reply, writes it on the
 * thread pool, fsyncs it and links it in place. max_message is 128 MiB on
 * both nodes (the default 16 MiB would refuse the reply), max_classic_file
 * 128 MiB on the holder.
 * Time: from the moment the transfer leaves SEARCHING (the FGET request is
 * sent on that turn of the loop) until shoal_transfer_get() says DONE,
 * polled on every turn of the loop. The classic search before it is not
 * counted: as the reference's, it waits for RESPs until its deadline
 * (search_timeout_ms, 200 ms here) whatever comes; the whole time from
 * shoal_files_get() is on stderr.
 *
 * Baseline: one thread read()s the file in 1 MiB pieces and write()s them
 * to a loopback TCP socket; another reads the socket into 1 MiB and
 * write()s a new file in the same folder, then fsyncs it. Time: from the
 * connect until the fsync returns. (Without the fsync: stderr.)
 *
 * Best of RUNS runs each, alternating. Where FGET's time goes beyond the
 * raw copy's: the whole file is one message, so it is held in memory
 * several times over (the holder's read buffer and its queued copy, the
 * client's input buffer and the service's copy of the reply) before the
 * first byte reaches the disk, and nothing overlaps reading, sending and
 * writing as the raw copy's pipeline does.
 *
 * Usage: classic_fget [MiB] [runs] */
#include "file_bench.h"

#define RUNS_DEFAULT 5
#define MAX_MESSAGE (128u * 1024 * 1024)
#define TRANSFER_LIMIT_S 60.0

/* ---------------------------------------------------------- the holder */

/* On the holder's loop: the scan asked for is over. */
static void holder_indexed(shoal_files *f, void *user)
{
    file_bench_holder *h = user;

    uv_mutex_lock(&h->mu);
    h->indexed = shoal_files_count(f) == 1 ? 1 : -1;
    uv_cond_signal(&h->cond);
    uv_mutex_unlock(&h->mu);
}

/* ----------------------------------------------------------- a download */

/* One FGET download by a fresh client. Returns the seconds from the end of
 * the search to DONE (and *whole the seconds from shoal_files_get()), or
 * 0. */
static double download_once(const file_bench *fb, const file_bench_holder *h,
                            int run, double *whole)
{
    uv_loop_t loop;
    shoal_config cfg;
    shoal_files_config fc;
    shoal_node *node;
    shoal_files *f;
    shoal_transfer_info info;
    char dl[400], done_path[600];
    unsigned id;
    int rc;
    double t0, t_run = 0, t1 = 0, deadline;

    *whole = 0;
    snprintf(dl, sizeof(dl), "%s/dl-%d", fb->root, run);
    if (uv_loop_init(&loop) < 0)
        bench_die("loop", ENOMEM);
    shoal_config_init(&cfg);
    cfg.classic = 1;
    cfg.listen = "127.0.0.1:0"; /* RESPs come to us */
    cfg.handle_signals = 0;
    cfg.log_level = SHOAL_LOG_WARN;
    cfg.max_message = MAX_MESSAGE;
    if ((rc = shoal_node_new(&node, &loop, &cfg)) < 0)
        bench_die("client node", rc);
    if ((rc = shoal_peer_add(node, h->id, "127.0.0.1", (uint16_t)h->port)) <
        0)
        bench_die("shoal_peer_add", rc);
    shoal_files_config_init(&fc);
    fc.download_dir = dl;
    fc.search_timeout_ms = 200;
    fc.max_classic_file = MAX_MESSAGE;
    if ((rc = shoal_files_new(&f, node, &fc)) < 0)
        bench_die("client files", rc);

    t0 = bench_now();
    if ((rc = shoal_files_get(f, fb->name, &id)) < 0)
        bench_die("shoal_files_get", rc);
    deadline = t0 + TRANSFER_LIMIT_S;
    info.state = SHOAL_TRANSFER_SEARCHING;
    while (bench_now() < deadline) {
        /* the service's 100 ms timer keeps the loop from blocking longer */
        uv_run(&loop, UV_RUN_ONCE);
        if (shoal_transfer_get(f, id, &info) < 0)
            break;
        if (t_run == 0 && info.state != SHOAL_TRANSFER_SEARCHING)
            t_run = bench_now();
        if (info.state == SHOAL_TRANSFER_DONE ||
            info.state == SHOAL_TRANSFER_FAILED)
            break;
    }
    if (info.state == SHOAL_TRANSFER_DONE)
        t1 = bench_now();
    snprintf(done_path, sizeof(done_path), "%s",
             info.state == SHOAL_TRANSFER_DONE ? info.path : "");
    if (info.state != SHOAL_TRANSFER_DONE)
        fprintf(stderr, "classic_fget: download %s: %s\n",
                info.state == SHOAL_TRANSFER_FAILED ? "failed" : "timed out",
                shoal_strerror(info.error));
    else if (!file_bench_download_right(fb, done_path))
        t1 = 0;

    file_bench_client_free(fb, &loop, node, f, dl);
    if (t1 == 0)
        return 0;
    *whole = t1 - t0;
    return t1 - t_run;
}

int main(int argc, char **argv)
{
    int runs = RUNS_DEFAULT;
    double best_raw = 0, best_raw_nosync = 0, best = 0, best_whole = 0;
    file_bench fb = {.prog = "classic_fget",
                     .size = 100ull * 1024 * 1024,
                     .name = "big.bin"};
    file_bench_holder h;

    if (argc > 1)
        fb.size = (uint64_t)atol(argv[1]) * 1024 * 1024;
    if (argc > 2)
        runs = atoi(argv[2]);
    if (fb.size == 0 || fb.size > MAX_MESSAGE || runs < 1 || runs > 20) {
        fprintf(stderr, "usage: classic_fget [MiB<=128] [runs<=20]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    file_bench_dirs(&fb, "/tmp/shoal-bench-fget-XXXXXX");
    file_bench_make_file(&fb);
    file_bench_holder_start(&h, &fb, 1, MAX_MESSAGE, holder_indexed);
    file_bench_holder_wait_indexed(&h, bench_now() + 120);
    fprintf(stderr, "classic_fget: %llu MiB file shared by %s\n",
            (unsigned long long)(fb.size >> 20), h.id);

    for (int r = 0; r < runs; r++) {
        double raw = file_bench_raw_once(&fb, FILE_BENCH_FSYNC);
        double raw_ns = file_bench_raw_once(&fb, FILE_BENCH_NO_SYNC), whole;
        double fget = download_once(&fb, &h, r, &whole);
        fprintf(stderr,
                "classic_fget: run %d: raw copy %.3f s (%.0f MiB/s; without "
                "fsync %.0f MiB/s), FGET %.3f s (%.0f MiB/s; %.3f s with "
                "the search)\n",
                r + 1, raw, file_bench_mib_per_s(&fb, raw),
                file_bench_mib_per_s(&fb, raw_ns), fget,
                file_bench_mib_per_s(&fb, fget), whole);
        if (raw > 0 && (best_raw == 0 || raw < best_raw))
            best_raw = raw;
        if (raw_ns > 0 && (best_raw_nosync == 0 || raw_ns < best_raw_nosync))
            best_raw_nosync = raw_ns;
        if (fget > 0 && (best == 0 || fget < best)) {
            best = fget;
            best_whole = whole;
        }
        if (fget == 0)
            break;
    }
    file_bench_holder_stop(&h);
    file_bench_rm_rf(&fb, fb.root);
    fprintf(stderr,
            "classic_fget: best: raw %.0f MiB/s (without fsync %.0f), FGET "
            "%.0f MiB/s (%.0f MiB/s counting the search)\n",
            file_bench_mib_per_s(&fb, best_raw),
            file_bench_mib_per_s(&fb, best_raw_nosync),
            file_bench_mib_per_s(&fb, best),
            file_bench_mib_per_s(&fb, best_whole));
    bench_print("classic_fget", file_bench_mib_per_s(&fb, best), "MiB/s",
                file_bench_mib_per_s(&fb, best_raw), 1);
    return best > 0 ? 0 : 1;
}
