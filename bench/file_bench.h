/* What the file benchmarks (file_transfer, classic_fget) share: a file of
 * random bytes under a temporary folder, the raw TCP copy of it that is
 * their baseline, the holder (a node on a thread of its own with the files
 * service sharing the file's folder), and the end of a client's download
 * (the size check, the client's teardown).
 *
 * A file_bench holds the file: its size, the temporary folder (root), the
 * share in it (root/share), the file's path and name, and the benchmark's
 * name for its stderr notes. */
#ifndef SHOAL_FILE_BENCH_H
#define SHOAL_FILE_BENCH_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sync_file_range */
#endif
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "bench.h"
#include "shoal/files.h"

#define FILE_BENCH_PIECE (1024 * 1024)

/* How the raw copy ends: not synced; fsync'ed; or fsync'ed and streamed
 * past the page cache as the files service does (src/files/transfer.c):
 * each piece's writeback started as it is written (sync_file_range), and
 * the piece 8 before it waited for and dropped from the cache. */
enum { FILE_BENCH_NO_SYNC, FILE_BENCH_FSYNC, FILE_BENCH_WRITEBACK };

typedef struct file_bench {
    const char *prog;   /* the benchmark, on its stderr notes */
    uint64_t size;
    char root[256];     /* the temporary folder */
    char share[300];    /* root/share, the file in it */
    char src_path[400];
    const char *name;   /* the file's name in the share */
} file_bench;

static inline double file_bench_mib_per_s(const file_bench *fb,
                                          double seconds)
{
    return seconds > 0 ? (double)fb->size / (1024.0 * 1024.0) / seconds : 0;
}

/* Touches, then gives back, twice the file's size of memory, just before a
 * timed copy, so every copy (raw or shoal) starts with memory in the same
 * state. Why: on this project's benchmark machines (virtual machines), the
 * host takes back guest memory that has been free for a few seconds, and
 * the first write to such memory again runs at 250 to 400 MiB/s instead of
 * several GiB/s (measured: 1 GiB written to the page cache of a fresh file
 * at 295 MiB/s, and at 3,858 MiB/s just after this warm-up). A download
 * writes a new file, so its page cache is such memory, and without this
 * whichever copy runs first after a pause measures the host, not the copy. */
static inline void file_bench_warm_memory(const file_bench *fb)
{
    size_t len = (size_t)fb->size * 2, page = 4096;
    uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED)
        return;
    for (size_t i = 0; i < len; i += page)
        p[i] = 1;
    munmap(p, len);
}

static inline void file_bench_rm_rf(const file_bench *fb, const char *path)
{
    char cmd[600];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
    if (system(cmd) != 0)
        fprintf(stderr, "%s: could not remove %s\n", fb->prog, path);
}

/* Makes the temporary folder from tmpl (ending in XXXXXX) and the share in
 * it; the file is not written yet. */
static inline void file_bench_dirs(file_bench *fb, const char *tmpl)
{
    snprintf(fb->root, sizeof(fb->root), "%s", tmpl);
    if (mkdtemp(fb->root) == NULL)
        bench_die("mkdtemp", errno);
    snprintf(fb->share, sizeof(fb->share), "%s/share", fb->root);
    snprintf(fb->src_path, sizeof(fb->src_path), "%s/%s", fb->share,
             fb->name);
    if (mkdir(fb->share, 0755) < 0)
        bench_die("mkdir", errno);
}

/* ------------------------------------------------------------ the file */

static inline void file_bench_write_all(int fd, const uint8_t *p, size_t len)
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

/* Writes size random bytes to src_path and fsyncs them. */
static inline void file_bench_make_file(const file_bench *fb)
{
    uint64_t x = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid(), left = fb->size;
    uint64_t *buf = malloc(FILE_BENCH_PIECE);
    int fd = open(fb->src_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                  0644);

    if (buf == NULL || fd < 0)
        bench_die("make file", errno ? errno : ENOMEM);
    while (left > 0) {
        size_t n = left < FILE_BENCH_PIECE ? (size_t)left : FILE_BENCH_PIECE;
        for (size_t i = 0; i < FILE_BENCH_PIECE / 8; i++) { /* xorshift64* */
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            buf[i] = x * 0x2545f4914f6cdd1dull;
        }
        file_bench_write_all(fd, (const uint8_t *)buf, n);
        left -= n;
    }
    if (fsync(fd) < 0)
        bench_die("fsync", errno);
    close(fd);
    free(buf);
}

/* ------------------------------------------------------------ raw copy */

typedef struct file_bench_raw_reader {
    int lfd;
    const char *out;
    int do_fsync;
    uint64_t got;
    double t_end;
} file_bench_raw_reader;

static inline void file_bench_raw_reader_loop(void *arg)
{
    file_bench_raw_reader *r = arg;
    uint8_t *buf = malloc(FILE_BENCH_PIECE);
    int fd = accept(r->lfd, NULL, NULL);
    int out = open(r->out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

    if (fd < 0 || out < 0 || buf == NULL)
        bench_die("raw reader", errno ? errno : ENOMEM);
    for (;;) {
        ssize_t n = read(fd, buf, FILE_BENCH_PIECE);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        file_bench_write_all(out, buf, (size_t)n);
#ifdef SYNC_FILE_RANGE_WRITE
        if (r->do_fsync == FILE_BENCH_WRITEBACK) {
            off_t behind = (off_t)r->got - 8 * FILE_BENCH_PIECE;
            (void)sync_file_range(out, (off_t)r->got, n,
                                  SYNC_FILE_RANGE_WRITE);
            if (behind >= 0) {
                (void)sync_file_range(out, behind, FILE_BENCH_PIECE,
                                      SYNC_FILE_RANGE_WAIT_BEFORE |
                                          SYNC_FILE_RANGE_WRITE |
                                          SYNC_FILE_RANGE_WAIT_AFTER);
                (void)posix_fadvise(out, behind, FILE_BENCH_PIECE,
                                    POSIX_FADV_DONTNEED);
            }
        }
#endif
        r->got += (uint64_t)n;
    }
    if (r->do_fsync != FILE_BENCH_NO_SYNC && fsync(out) < 0)
        bench_die("raw fsync", errno);
    close(out);
    r->t_end = bench_now();
    close(fd);
    free(buf);
}

/* What a timed copy cost the whole process (every thread), on stderr:
 * CPU seconds (user, system), and the cores it kept busy on average, minor
 * page faults and context switches. CPU time counts less of what other
 * programs on the machine do than wall time does. */
static inline void file_bench_print_usage(const struct rusage *a,
                                          const struct rusage *b,
                                          double wall)
{
    double user = (double)(b->ru_utime.tv_sec - a->ru_utime.tv_sec) +
                  (double)(b->ru_utime.tv_usec - a->ru_utime.tv_usec) / 1e6;
    double sys = (double)(b->ru_stime.tv_sec - a->ru_stime.tv_sec) +
                 (double)(b->ru_stime.tv_usec - a->ru_stime.tv_usec) / 1e6;

    fprintf(stderr, "cpu %.2f s (user %.2f, system %.2f; %.2f cores), "
                    "%ld minor faults, %ld+%ld context switches\n",
            user + sys, user, sys, wall > 0 ? (user + sys) / wall : 0,
            b->ru_minflt - a->ru_minflt, b->ru_nvcsw - a->ru_nvcsw,
            b->ru_nivcsw - a->ru_nivcsw);
}

/* Seconds for the raw copy (do_fsync: FILE_BENCH_NO_SYNC, _FSYNC or
 * _WRITEBACK); 0 if it failed. */
static inline double file_bench_raw_once(const file_bench *fb, int do_fsync)
{
    file_bench_raw_reader r;
    struct sockaddr_in sa;
    char out[500];
    uint8_t *buf = malloc(FILE_BENCH_PIECE);
    uv_thread_t th;
    int port, fd, in;
    double t0;
    struct rusage ru0, ru1;

    snprintf(out, sizeof(out), "%s/raw-copy.bin", fb->root);
    memset(&r, 0, sizeof(r));
    r.out = out;
    r.do_fsync = do_fsync;
    r.lfd = bench_listen(4, &port);
    sa = bench_loopback(port);
    if (buf == NULL ||
        uv_thread_create(&th, file_bench_raw_reader_loop, &r) < 0)
        bench_die("raw setup", ENOMEM);
    getrusage(RUSAGE_SELF, &ru0);
    t0 = bench_now();
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    in = open(fb->src_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || in < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        bench_die("raw connect", errno);
    for (;;) {
        ssize_t n = read(in, buf, FILE_BENCH_PIECE);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            bench_die("raw read", errno);
        if (n == 0)
            break;
        file_bench_write_all(fd, buf, (size_t)n);
    }
    close(in);
    shutdown(fd, SHUT_WR);
    uv_thread_join(&th);
    getrusage(RUSAGE_SELF, &ru1);
    fprintf(stderr, "%s: raw copy%s: ", fb->prog,
            do_fsync == FILE_BENCH_NO_SYNC     ? " without fsync"
            : do_fsync == FILE_BENCH_WRITEBACK ? " streamed past the cache"
                                               : "");
    file_bench_print_usage(&ru0, &ru1, r.t_end - t0);
    close(fd);
    close(r.lfd);
    free(buf);
    unlink(out);
    return r.got == fb->size ? r.t_end - t0 : 0;
}

/* ---------------------------------------------------------- the holder
 * A node on a thread of its own, made with its files service (sharing the
 * file's folder) before its loop runs, then asked to scan the share;
 * on_indexed, on the holder's loop, sets indexed (1, or -1 if the scan did
 * not find the file) under mu and signals cond. */

typedef struct file_bench_holder {
    shoal_node *node;
    shoal_files *files;
    uv_thread_t thread;
    char id[SHOAL_ID_MAX];    /* classic: the node id; else the peer id */
    int port;
    uv_mutex_t mu;
    uv_cond_t cond;
    int indexed;              /* under mu: 1 when the file is in the index */
    char hash[SHOAL_FILES_HASH_TEXT]; /* the file's, if on_indexed keeps it */
    const char *prog;
} file_bench_holder;

static inline void file_bench_holder_thread(void *arg)
{
    file_bench_holder *h = arg;
    int rc = shoal_node_run(h->node);

    if (rc < 0)
        fprintf(stderr, "%s: holder run: %s\n", h->prog, shoal_strerror(rc));
}

/* classic: a classic node, with max_message and max_classic_file set to
 * max_message; else a secure node with the defaults (max_message unused). */
static inline void file_bench_holder_start(file_bench_holder *h,
                                           const file_bench *fb, int classic,
                                           size_t max_message,
                                           void (*on_indexed)(shoal_files *f,
                                                              void *user))
{
    shoal_config cfg;
    shoal_files_config fc;
    int rc;

    memset(h, 0, sizeof(*h));
    h->prog = fb->prog;
    uv_mutex_init(&h->mu);
    uv_cond_init(&h->cond);
    shoal_config_init(&cfg);
    cfg.classic = classic;
    cfg.listen = "127.0.0.1:0";
    cfg.handle_signals = 0;
    cfg.log_level = SHOAL_LOG_WARN;
    if (classic)
        cfg.max_message = max_message;
    if ((rc = shoal_node_new(&h->node, NULL, &cfg)) < 0)
        bench_die("holder node", rc);
    shoal_files_config_init(&fc);
    fc.share_dir = fb->share;
    fc.rescan_ms = 600000; /* the share does not change */
    if (classic)
        fc.max_classic_file = max_message;
    /* the loop does not run yet: the service is made on this thread */
    if ((rc = shoal_files_new(&h->files, h->node, &fc)) < 0)
        bench_die("holder files", rc);
    if ((rc = shoal_files_rescan(h->files, on_indexed, h)) < 0)
        bench_die("holder rescan", rc);
    snprintf(h->id, sizeof(h->id), "%s",
             classic ? shoal_node_id(h->node) : shoal_node_peer_id(h->node));
    h->port = shoal_node_port(h->node);
    if ((rc = uv_thread_create(&h->thread, file_bench_holder_thread, h)) < 0)
        bench_die("holder thread", rc);
}

/* Waits for the holder's index (hashing size bytes) by the deadline. */
static inline void file_bench_holder_wait_indexed(file_bench_holder *h,
                                                  double deadline)
{
    uv_mutex_lock(&h->mu);
    while (h->indexed == 0 && bench_now() < deadline)
        uv_cond_timedwait(&h->cond, &h->mu, 100 * 1000 * 1000ull);
    uv_mutex_unlock(&h->mu);
    if (h->indexed != 1)
        bench_die("holder index", SHOAL_ETIMEDOUT);
}

static inline void file_bench_holder_stop_on_loop(shoal_node *node,
                                                  void *user)
{
    file_bench_holder *h = user;

    shoal_files_free(h->files); /* the loop's thread only */
    h->files = NULL;
    shoal_node_stop(node);
}

static inline void file_bench_holder_stop(file_bench_holder *h)
{
    if (shoal_post(h->node, file_bench_holder_stop_on_loop, h) < 0)
        shoal_node_stop(h->node);
    uv_thread_join(&h->thread);
    shoal_node_free(h->node);
    uv_cond_destroy(&h->cond);
    uv_mutex_destroy(&h->mu);
}

/* ----------------------------------------------------------- a download */

/* A client node's shoal_node_close() callback: user is an int set to 1. */
static inline void file_bench_on_client_closed(shoal_node *node, void *user)
{
    (void)node;
    *(int *)user = 1;
}

/* Whether the download at path is size bytes (if not, says so). */
static inline int file_bench_download_right(const file_bench *fb,
                                            const char *path)
{
    struct stat st;

    if (stat(path, &st) < 0 || (uint64_t)st.st_size != fb->size) {
        fprintf(stderr, "%s: the downloaded file is wrong\n", fb->prog);
        return 0;
    }
    return 1;
}

/* Frees a client, its files service f and node on loop, closes the loop
 * and removes the client's download folder dl. */
static inline void file_bench_client_free(const file_bench *fb,
                                          uv_loop_t *loop, shoal_node *node,
                                          shoal_files *f, const char *dl)
{
    int closed = 0;

    shoal_files_free(f);
    shoal_node_close(node, file_bench_on_client_closed, &closed);
    while (!closed)
        uv_run(loop, UV_RUN_ONCE);
    while (uv_loop_close(loop) == UV_EBUSY) /* pool work winding down */
        uv_run(loop, UV_RUN_ONCE);
    file_bench_rm_rf(fb, dl); /* the copy and its .shoal-partial folder */
}

#endif
