/* file_transfer: one 1 GiB file downloaded with the files service
 * (include/shoal/files.h), from one holder and from four, against a raw
 * TCP copy of the same file. Prints two figures:
 *
 *   file_transfer            MiB/s from one holder; baseline: the raw copy
 *   file_transfer_4_holders  MiB/s from four holders; baseline: the
 *                            single-holder MiB/s of this same run
 *
 * The file: SIZE random bytes (a xorshift generator), written and fsync'ed
 * under a temporary folder in /tmp before anything is timed, removed at
 * the end. With this much RAM it stays in the page cache, so the holders'
 * reads come from memory; the downloads and the raw copy write to the same
 * disk (ext4 here), and all of them end with the data fsync'ed.
 *
 * shoal: holder nodes are secure nodes (Noise, yamux), each on a thread of
 * its own with shoal_files_new(share = the file's folder) created before
 * its loop runs; the benchmark waits until each has indexed (hashed) the
 * file. For each run a fresh client node, on the main thread's loop, with
 * its own download folder and the holders in its peer table (one, or all
 * four), calls shoal_files_get(f, HASH): the service searches its peers
 * for holders (FIND), fetches the manifest (MANI), then the chunks (CHNK,
 * 1 MiB each, chunks_in_flight = 16, the default, over all holders), each
 * hashed and written on libuv's thread pool, then fsyncs and links the
 * file in place. Time: from the shoal_files_get() call (connection set-up
 * included) until shoal_transfer_get() says DONE, polled on every turn of
 * the loop. Between runs the client, its download and its .shoal-partial
 * folder are removed.
 *
 * Baseline: one thread read()s the file in 1 MiB pieces and write()s them
 * to a loopback TCP socket; another reads the socket into 1 MiB and
 * write()s a new file in the same folder, then fsyncs it. Time: from the
 * connect until the fsync returns. (Without the fsync: stderr.)
 *
 * Best of RUNS runs each (raw, one holder, four holders, alternating).
 *
 * What this machine makes of it (2 cores): everything is in one process.
 * The four holders' threads, the client's loop and libuv's one thread pool
 * (4 threads, shared by every node of the process, as the service's disk
 * reads, chunk hashes and writes all use it) share the two cores, so four
 * holders cannot add CPU; what they can add is overlap: more requests
 * being read, sealed and sent while others are opened and written.
 *
 * Where the time goes (perf record -e cpu-clock -g, one holder, at the
 * commit that added this): both cores are busy. libuv's pool threads take
 * about 60% of the CPU: the downloader's pwrite() of each chunk into the
 * page cache (about 40% of their time), SHA-256 of each chunk (about 20%),
 * and spinning on the file's inode lock (about 15%: several pool threads
 * pwrite() the same file at once and ext4 lets one in at a time). The
 * holder's loop thread (about 20%) and the client's (about 18%) spend
 * most of theirs in ChaCha20-Poly1305 and in copies. The raw copy hashes
 * nothing and writes from one thread. On stderr each download also says
 * how long its final fsync and link took.
 *
 * Usage: file_transfer [MiB] [runs] [only]
 * only (for profiling): 1 runs the one-holder downloads alone, 4 the
 * four-holder ones alone, 0 (the default) everything. */
#include <sys/stat.h>

#include "bench.h"
#include "shoal/files.h"

#define RUNS_DEFAULT 3
#define HOLDERS 4
#define PIECE (1024 * 1024)
#define TRANSFER_LIMIT_S 120.0

static uint64_t size = 1024ull * 1024 * 1024;
static char root[256];        /* the temporary folder */
static char share[300];       /* root/share, the file in it */
static char src_path[400];
static const char *file_name = "big.bin";

static double mib_per_s(double seconds)
{
    return seconds > 0 ? (double)size / (1024.0 * 1024.0) / seconds : 0;
}

static void rm_rf(const char *path)
{
    char cmd[600];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
    if (system(cmd) != 0)
        fprintf(stderr, "file_transfer: could not remove %s\n", path);
}

/* ------------------------------------------------------------ the file */

static void write_all_fd(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t k = write(fd, p, len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            bench_die("write", errno);
        p += k;
        len -= (size_t)k;
    }
}

static void make_file(void)
{
    uint64_t x = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid(), left = size;
    uint64_t *buf = malloc(PIECE);
    int fd = open(src_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

    if (buf == NULL || fd < 0)
        bench_die("make file", errno ? errno : ENOMEM);
    while (left > 0) {
        size_t n = left < PIECE ? (size_t)left : PIECE;
        for (size_t i = 0; i < PIECE / 8; i++) { /* xorshift64* */
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            buf[i] = x * 0x2545f4914f6cdd1dull;
        }
        write_all_fd(fd, (const uint8_t *)buf, n);
        left -= n;
    }
    if (fsync(fd) < 0)
        bench_die("fsync", errno);
    close(fd);
    free(buf);
}

/* ------------------------------------------------------------ raw copy */

typedef struct raw_reader {
    int lfd;
    const char *out;
    int do_fsync;
    uint64_t got;
    double t_end;
} raw_reader;

static void raw_reader_loop(void *arg)
{
    raw_reader *r = arg;
    uint8_t *buf = malloc(PIECE);
    int fd = accept(r->lfd, NULL, NULL);
    int out = open(r->out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

    if (fd < 0 || out < 0 || buf == NULL)
        bench_die("raw reader", errno ? errno : ENOMEM);
    for (;;) {
        ssize_t n = read(fd, buf, PIECE);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        write_all_fd(out, buf, (size_t)n);
        r->got += (uint64_t)n;
    }
    if (r->do_fsync && fsync(out) < 0)
        bench_die("raw fsync", errno);
    close(out);
    r->t_end = bench_now();
    close(fd);
    free(buf);
}

/* Seconds for the raw copy (with or without the fsync); 0 if it failed. */
static double raw_once(int do_fsync)
{
    raw_reader r;
    struct sockaddr_in sa;
    char out[500];
    uint8_t *buf = malloc(PIECE);
    uv_thread_t th;
    int port, fd, in;
    double t0;

    snprintf(out, sizeof(out), "%s/raw-copy.bin", root);
    memset(&r, 0, sizeof(r));
    r.out = out;
    r.do_fsync = do_fsync;
    r.lfd = bench_listen(4, &port);
    sa = bench_loopback(port);
    if (buf == NULL || uv_thread_create(&th, raw_reader_loop, &r) < 0)
        bench_die("raw setup", ENOMEM);
    t0 = bench_now();
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    in = open(src_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || in < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        bench_die("raw connect", errno);
    for (;;) {
        ssize_t n = read(in, buf, PIECE);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            bench_die("raw read", errno);
        if (n == 0)
            break;
        write_all_fd(fd, buf, (size_t)n);
    }
    close(in);
    shutdown(fd, SHUT_WR);
    uv_thread_join(&th);
    close(fd);
    close(r.lfd);
    free(buf);
    unlink(out);
    return r.got == size ? r.t_end - t0 : 0;
}

/* --------------------------------------------------------- the holders */

typedef struct holder {
    shoal_node *node;
    shoal_files *files;
    uv_thread_t thread;
    char peer_id[SHOAL_ID_MAX];
    int port;
    uv_mutex_t mu;
    uv_cond_t cond;
    int indexed;              /* under mu: 1 when the file is in the index */
    char hash[SHOAL_FILES_HASH_TEXT];
} holder;

static void holder_thread(void *arg)
{
    holder *h = arg;
    int rc = shoal_node_run(h->node);

    if (rc < 0)
        fprintf(stderr, "file_transfer: holder run: %s\n",
                shoal_strerror(rc));
}

/* On the holder's loop: the scan asked for is over. */
static void holder_indexed(shoal_files *f, void *user)
{
    holder *h = user;
    const shoal_file_info *info = shoal_files_at(f, 0);

    uv_mutex_lock(&h->mu);
    if (info != NULL) {
        snprintf(h->hash, sizeof(h->hash), "%s", info->hash);
        h->indexed = 1;
    } else {
        h->indexed = -1;
    }
    uv_cond_signal(&h->cond);
    uv_mutex_unlock(&h->mu);
}

static void holder_start(holder *h)
{
    shoal_config cfg;
    shoal_files_config fc;
    int rc;

    memset(h, 0, sizeof(*h));
    uv_mutex_init(&h->mu);
    uv_cond_init(&h->cond);
    shoal_config_init(&cfg);
    cfg.classic = 0;
    cfg.listen = "127.0.0.1:0";
    cfg.handle_signals = 0;
    cfg.log_level = SHOAL_LOG_WARN;
    if ((rc = shoal_node_new(&h->node, NULL, &cfg)) < 0)
        bench_die("holder node", rc);
    shoal_files_config_init(&fc);
    fc.share_dir = share;
    fc.rescan_ms = 600000; /* the share does not change */
    /* the loop does not run yet: the service is made on this thread */
    if ((rc = shoal_files_new(&h->files, h->node, &fc)) < 0)
        bench_die("holder files", rc);
    if ((rc = shoal_files_rescan(h->files, holder_indexed, h)) < 0)
        bench_die("holder rescan", rc);
    snprintf(h->peer_id, sizeof(h->peer_id), "%s",
             shoal_node_peer_id(h->node));
    h->port = shoal_node_port(h->node);
    if ((rc = uv_thread_create(&h->thread, holder_thread, h)) < 0)
        bench_die("holder thread", rc);
}

/* Waits for the holder's index (hashing SIZE bytes) by the deadline. */
static void holder_wait_indexed(holder *h, double deadline)
{
    uv_mutex_lock(&h->mu);
    while (h->indexed == 0 && bench_now() < deadline)
        uv_cond_timedwait(&h->cond, &h->mu, 100 * 1000 * 1000ull);
    uv_mutex_unlock(&h->mu);
    if (h->indexed != 1)
        bench_die("holder index", SHOAL_ETIMEDOUT);
}

static void holder_stop_on_loop(shoal_node *node, void *user)
{
    holder *h = user;

    shoal_files_free(h->files); /* the loop's thread only */
    h->files = NULL;
    shoal_node_stop(node);
}

static void holder_stop(holder *h)
{
    if (shoal_post(h->node, holder_stop_on_loop, h) < 0)
        shoal_node_stop(h->node);
    uv_thread_join(&h->thread);
    shoal_node_free(h->node);
    uv_cond_destroy(&h->cond);
    uv_mutex_destroy(&h->mu);
}

/* ----------------------------------------------------------- a download */

static void on_client_closed(shoal_node *node, void *user)
{
    (void)node;
    *(int *)user = 1;
}

/* One download of hash from the first n holders by a fresh client.
 * Returns the seconds from shoal_files_get() to DONE, or 0. */
static double download_once(holder *hs, size_t n, const char *hash,
                            int run)
{
    uv_loop_t loop;
    shoal_config cfg;
    shoal_files_config fc;
    shoal_node *node;
    shoal_files *f;
    shoal_transfer_info info;
    char dl[400], done_path[600];
    unsigned id;
    int rc, closed = 0;
    double t0, t1 = 0, t_written = 0, deadline;
    struct stat st;

    snprintf(dl, sizeof(dl), "%s/dl-%zu-%d", root, n, run);
    if (uv_loop_init(&loop) < 0)
        bench_die("loop", ENOMEM);
    shoal_config_init(&cfg);
    cfg.handle_signals = 0;
    cfg.log_level = SHOAL_LOG_WARN;
    if ((rc = shoal_node_new(&node, &loop, &cfg)) < 0)
        bench_die("client node", rc);
    for (size_t i = 0; i < n; i++)
        if ((rc = shoal_peer_add(node, hs[i].peer_id, "127.0.0.1",
                                 (uint16_t)hs[i].port)) < 0)
            bench_die("shoal_peer_add", rc);
    shoal_files_config_init(&fc);
    fc.download_dir = dl;
    if ((rc = shoal_files_new(&f, node, &fc)) < 0)
        bench_die("client files", rc);

    t0 = bench_now();
    if ((rc = shoal_files_get(f, hash, &id)) < 0)
        bench_die("shoal_files_get", rc);
    deadline = t0 + TRANSFER_LIMIT_S;
    info.state = SHOAL_TRANSFER_SEARCHING;
    while (bench_now() < deadline) {
        /* the service's 100 ms timer keeps the loop from blocking longer */
        uv_run(&loop, UV_RUN_ONCE);
        if (shoal_transfer_get(f, id, &info) < 0)
            break;
        if (t_written == 0 && info.size > 0 && info.received == info.size)
            t_written = bench_now(); /* every chunk verified and written */
        if (info.state == SHOAL_TRANSFER_DONE ||
            info.state == SHOAL_TRANSFER_FAILED)
            break;
    }
    if (info.state == SHOAL_TRANSFER_DONE) {
        t1 = bench_now();
        fprintf(stderr,
                "file_transfer: %zu holder(s): chunks written after %.2f s, "
                "then fsync and link %.2f s\n",
                n, (t_written > 0 ? t_written : t1) - t0,
                t_written > 0 ? t1 - t_written : 0);
    }
    snprintf(done_path, sizeof(done_path), "%s",
             info.state == SHOAL_TRANSFER_DONE ? info.path : "");
    if (info.state != SHOAL_TRANSFER_DONE)
        fprintf(stderr,
                "file_transfer: download from %zu holder(s) %s: %s "
                "(%llu of %llu bytes)\n",
                n, info.state == SHOAL_TRANSFER_FAILED ? "failed" : "timed out",
                shoal_strerror(info.error),
                (unsigned long long)info.received,
                (unsigned long long)info.size);
    else if (stat(done_path, &st) < 0 || (uint64_t)st.st_size != size) {
        fprintf(stderr, "file_transfer: the downloaded file is wrong\n");
        t1 = 0;
    }

    shoal_files_free(f);
    shoal_node_close(node, on_client_closed, &closed);
    while (!closed)
        uv_run(&loop, UV_RUN_ONCE);
    while (uv_loop_close(&loop) == UV_EBUSY) /* pool work winding down */
        uv_run(&loop, UV_RUN_ONCE);
    rm_rf(dl); /* the copy and its .shoal-partial folder */
    return t1 > 0 ? t1 - t0 : 0;
}

int main(int argc, char **argv)
{
    int runs = RUNS_DEFAULT, only = 0;
    double best_raw = 0, best_raw_nosync = 0, best1 = 0, best4 = 0;
    holder hs[HOLDERS];

    if (argc > 1)
        size = (uint64_t)atol(argv[1]) * 1024 * 1024;
    if (argc > 2)
        runs = atoi(argv[2]);
    if (argc > 3)
        only = atoi(argv[3]);
    if (size == 0 || size > 8192ull * 1024 * 1024 || runs < 1 || runs > 10 ||
        (only != 0 && only != 1 && only != HOLDERS)) {
        fprintf(stderr, "usage: file_transfer [MiB<=8192] [runs<=10] "
                        "[only: 0, 1 or %d]\n", HOLDERS);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    snprintf(root, sizeof(root), "/tmp/shoal-bench-files-XXXXXX");
    if (mkdtemp(root) == NULL)
        bench_die("mkdtemp", errno);
    snprintf(share, sizeof(share), "%s/share", root);
    snprintf(src_path, sizeof(src_path), "%s/%s", share, file_name);
    if (mkdir(share, 0755) < 0)
        bench_die("mkdir", errno);
    {
        double t = bench_now();
        make_file();
        fprintf(stderr, "file_transfer: %llu MiB of random bytes written "
                        "and fsync'ed in %.2f s\n",
                (unsigned long long)(size >> 20), bench_now() - t);
    }
    {
        double t = bench_now();
        for (int i = 0; i < HOLDERS; i++)
            holder_start(&hs[i]);
        for (int i = 0; i < HOLDERS; i++)
            holder_wait_indexed(&hs[i], bench_now() + 300);
        fprintf(stderr,
                "file_transfer: %d holders indexed it in %.2f s "
                "(hash %.16s...)\n",
                HOLDERS, bench_now() - t, hs[0].hash);
    }
    for (int i = 0; i < HOLDERS; i++)
        if (strcmp(hs[i].hash, hs[0].hash) != 0)
            bench_die("holders disagree on the hash", SHOAL_EPROTO);

    for (int r = 0; r < runs; r++) {
        double raw = only ? 0 : raw_once(1), raw_ns = only ? 0 : raw_once(0);
        double one = only == HOLDERS ? 0 : download_once(hs, 1, hs[0].hash, r);
        double four = only == 1 ? 0 : download_once(hs, HOLDERS, hs[0].hash, r);
        fprintf(stderr,
                "file_transfer: run %d: raw copy %.2f s (%.0f MiB/s; without "
                "fsync %.0f MiB/s), one holder %.2f s (%.0f MiB/s), %d "
                "holders %.2f s (%.0f MiB/s)\n",
                r + 1, raw, mib_per_s(raw), mib_per_s(raw_ns), one,
                mib_per_s(one), HOLDERS, four, mib_per_s(four));
        if (raw > 0 && (best_raw == 0 || raw < best_raw))
            best_raw = raw;
        if (raw_ns > 0 && (best_raw_nosync == 0 || raw_ns < best_raw_nosync))
            best_raw_nosync = raw_ns;
        if (one > 0 && (best1 == 0 || one < best1))
            best1 = one;
        if (four > 0 && (best4 == 0 || four < best4))
            best4 = four;
        if (one == 0 && four == 0)
            break; /* broken: do not pile up more */
    }
    for (int i = 0; i < HOLDERS; i++)
        holder_stop(&hs[i]);
    rm_rf(root);
    fprintf(stderr,
            "file_transfer: best: raw %.0f MiB/s (without fsync %.0f), "
            "one holder %.0f MiB/s, %d holders %.0f MiB/s\n",
            mib_per_s(best_raw), mib_per_s(best_raw_nosync),
            mib_per_s(best1), HOLDERS, mib_per_s(best4));
    bench_print("file_transfer", mib_per_s(best1), "MiB/s",
                mib_per_s(best_raw), 1);
    bench_print("file_transfer_4_holders", mib_per_s(best4), "MiB/s",
                mib_per_s(best1), 1);
    return (best1 > 0 || only == HOLDERS) && (best4 > 0 || only == 1) ? 0 : 1;
}
