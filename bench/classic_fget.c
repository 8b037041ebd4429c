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
#include <sys/stat.h>

#include "bench.h"
#include "shoal/files.h"

#define RUNS_DEFAULT 5
#define PIECE (1024 * 1024)
#define MAX_MESSAGE (128u * 1024 * 1024)
#define TRANSFER_LIMIT_S 60.0

static uint64_t size = 100ull * 1024 * 1024;
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
        fprintf(stderr, "classic_fget: could not remove %s\n", path);
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

/* ---------------------------------------------------------- the holder */

typedef struct holder {
    shoal_node *node;
    shoal_files *files;
    uv_thread_t thread;
    char id[SHOAL_ID_MAX];
    int port;
    uv_mutex_t mu;
    uv_cond_t cond;
    int indexed;              /* under mu: 1 when the file is in the index */
} holder;

static void holder_thread(void *arg)
{
    holder *h = arg;
    int rc = shoal_node_run(h->node);

    if (rc < 0)
        fprintf(stderr, "classic_fget: holder run: %s\n",
                shoal_strerror(rc));
}

/* On the holder's loop: the scan asked for is over. */
static void holder_indexed(shoal_files *f, void *user)
{
    holder *h = user;

    uv_mutex_lock(&h->mu);
    h->indexed = shoal_files_count(f) == 1 ? 1 : -1;
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
    cfg.classic = 1;
    cfg.listen = "127.0.0.1:0";
    cfg.handle_signals = 0;
    cfg.log_level = SHOAL_LOG_WARN;
    cfg.max_message = MAX_MESSAGE;
    if ((rc = shoal_node_new(&h->node, NULL, &cfg)) < 0)
        bench_die("holder node", rc);
    shoal_files_config_init(&fc);
    fc.share_dir = share;
    fc.rescan_ms = 600000; /* the share does not change */
    fc.max_classic_file = MAX_MESSAGE;
    /* the loop does not run yet: the service is made on this thread */
    if ((rc = shoal_files_new(&h->files, h->node, &fc)) < 0)
        bench_die("holder files", rc);
    if ((rc = shoal_files_rescan(h->files, holder_indexed, h)) < 0)
        bench_die("holder rescan", rc);
    snprintf(h->id, sizeof(h->id), "%s", shoal_node_id(h->node));
    h->port = shoal_node_port(h->node);
    if ((rc = uv_thread_create(&h->thread, holder_thread, h)) < 0)
        bench_die("holder thread", rc);
}

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

/* One FGET download by a fresh client. Returns the seconds from the end of
 * the search to DONE (and *whole the seconds from shoal_files_get()), or
 * 0. */
static double download_once(const holder *h, int run, double *whole)
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
    double t0, t_run = 0, t1 = 0, deadline;
    struct stat st;

    *whole = 0;
    snprintf(dl, sizeof(dl), "%s/dl-%d", root, run);
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
    if ((rc = shoal_files_get(f, file_name, &id)) < 0)
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
    else if (stat(done_path, &st) < 0 || (uint64_t)st.st_size != size) {
        fprintf(stderr, "classic_fget: the downloaded file is wrong\n");
        t1 = 0;
    }

    shoal_files_free(f);
    shoal_node_close(node, on_client_closed, &closed);
    while (!closed)
        uv_run(&loop, UV_RUN_ONCE);
    while (uv_loop_close(&loop) == UV_EBUSY) /* pool work winding down */
        uv_run(&loop, UV_RUN_ONCE);
    rm_rf(dl); /* the copy and its .shoal-partial folder */
    if (t1 == 0)
        return 0;
    *whole = t1 - t0;
    return t1 - t_run;
}

int main(int argc, char **argv)
{
    int runs = RUNS_DEFAULT;
    double best_raw = 0, best_raw_nosync = 0, best = 0, best_whole = 0;
    holder h;

    if (argc > 1)
        size = (uint64_t)atol(argv[1]) * 1024 * 1024;
    if (argc > 2)
        runs = atoi(argv[2]);
    if (size == 0 || size > MAX_MESSAGE || runs < 1 || runs > 20) {
        fprintf(stderr, "usage: classic_fget [MiB<=128] [runs<=20]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    snprintf(root, sizeof(root), "/tmp/shoal-bench-fget-XXXXXX");
    if (mkdtemp(root) == NULL)
        bench_die("mkdtemp", errno);
    snprintf(share, sizeof(share), "%s/share", root);
    snprintf(src_path, sizeof(src_path), "%s/%s", share, file_name);
    if (mkdir(share, 0755) < 0)
        bench_die("mkdir", errno);
    make_file();
    holder_start(&h);
    holder_wait_indexed(&h, bench_now() + 120);
    fprintf(stderr, "classic_fget: %llu MiB file shared by %s\n",
            (unsigned long long)(size >> 20), h.id);

    for (int r = 0; r < runs; r++) {
        double raw = raw_once(1), raw_ns = raw_once(0), whole;
        double fget = download_once(&h, r, &whole);
        fprintf(stderr,
                "classic_fget: run %d: raw copy %.3f s (%.0f MiB/s; without "
                "fsync %.0f MiB/s), FGET %.3f s (%.0f MiB/s; %.3f s with "
                "the search)\n",
                r + 1, raw, mib_per_s(raw), mib_per_s(raw_ns), fget,
                mib_per_s(fget), whole);
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
    holder_stop(&h);
    rm_rf(root);
    fprintf(stderr,
            "classic_fget: best: raw %.0f MiB/s (without fsync %.0f), FGET "
            "%.0f MiB/s (%.0f MiB/s counting the search)\n",
            mib_per_s(best_raw), mib_per_s(best_raw_nosync), mib_per_s(best),
            mib_per_s(best_whole));
    bench_print("classic_fget", mib_per_s(best), "MiB/s", mib_per_s(best_raw),
                1);
    return best > 0 ? 0 : 1;
}
