/* Downloads. Secure mode: find holders (a search by name or hash), fetch
 * the manifest from one, check what a partial file from an earlier try
 * already holds, then fetch the missing chunks from every holder at once,
 * each verified against its hash before it is written; a holder that fails
 * or sends a bad chunk is dropped and its chunks go to the others. The file
 * is written in downloads/.shoal-partial/<hash>.part and appears under its
 * name only when every chunk is verified. Classic mode: FGET from the
 * holders a QUER found, one after another, into a partial file renamed
 * when complete. Disk work runs on the thread pool. */
#define _GNU_SOURCE /* sync_file_range */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files/files_internal.h"
#include "node/thread.h"

#define CHUNK_TIMEOUT_MS 30000
#define STRIKES_MAX 2        /* failures before a holder is dropped */
#define TRANSFERS_KEPT 1000  /* finished ones forgotten beyond this */

enum phase {
    PH_SEARCH, PH_MANIFEST, PH_RESUME, PH_RUN, PH_FINISH, PH_DONE, PH_FAILED
};

enum chunk_state { C_TODO = 0, C_BUSY = 1, C_DONE = 2 };

#define STREAM_BEHIND 8      /* chunks written, still in the page cache */

typedef struct stream_range {
    uint64_t off;
    size_t len;
} stream_range;

typedef struct holder {
    char *peer;
    char *addr;
    int strikes;
    int bad;
    unsigned inflight;
} holder;

struct files_transfer {
    shoal_files *f;
    unsigned id;
    int phase;
    int error;
    char *what;
    char *name;               /* the file's name in downloads */
    char *full_name;          /* as the holders share it */
    char hash[SHOAL_FILES_HASH_TEXT];
    uint8_t root[FILES_HASH];
    int by_hash;
    char *part;               /* the partial file's path */
    char *path;               /* the finished file's, once done */
    int fd;
    uint64_t size, received, resumed;
    uint8_t *manifest;        /* chunk hashes, nchunks * 32 */
    uint32_t nchunks, ndone, next_todo;
    uint8_t *state;           /* enum chunk_state per chunk */
    holder *holders;
    size_t nholders;
    size_t next_holder;       /* classic: the one FGET asks now */
    unsigned inflight;        /* chunk requests and pool jobs */
    unsigned disk_pending;    /* chunks being verified or written */
    struct disk_job *wq_head, *wq_tail; /* verified, to write in turn */
    struct disk_job *wq_batch; /* the chunks the running write job has */
    int writing;              /* a write is on the pool */
    stream_range written[STREAM_BEHIND]; /* the last chunks written, */
    unsigned nwritten;        /* by the write jobs only (stream_written) */
    int searched_again;
    int searching;            /* a search for holders runs */
    int waiting;              /* out of holders to ask: the search's next
                               * one goes on (classic_next, manifest_next) */
    uint64_t started, ended;
    uint64_t rate_at, rate_bytes;
    double rate;
};

static void schedule(files_transfer *t);
static void classic_schedule(files_transfer *t);
typedef struct disk_job disk_job;
static void write_enqueue(files_transfer *t, disk_job *j);
static void write_next(files_transfer *t);
static void write_batch_done(files_transfer *t, disk_job *j);

/* ------------------------------------------------------------- helpers */

static void notify(files_transfer *t)
{
    shoal_transfer_info info;
    shoal_files *f = t->f;

    if (f->on_transfer != NULL && !f->dead &&
        shoal_transfer_get(f, t->id, &info) == 0)
        f->on_transfer(f, &info, f->on_transfer_user);
}

static void fail(files_transfer *t, int error, const char *why)
{
    if (t->phase == PH_DONE || t->phase == PH_FAILED)
        return;
    t->phase = PH_FAILED;
    t->error = error;
    t->ended = files_now(t->f);
    shoal_log(t->f->node, SHOAL_LOG_INFO,
              "transfer_failed id=%u name=\"%s\" reason=%s error=\"%s\"",
              t->id, t->name ? t->name : t->what, why, shoal_strerror(error));
    notify(t);
}

static int holder_add(files_transfer *t, const char *peer, const char *addr)
{
    holder *v;

    if (strcmp(peer, shoal_node_id(t->f->node)) == 0)
        return 0; /* ourselves */
    for (size_t i = 0; i < t->nholders; i++)
        if (strcmp(t->holders[i].peer, peer) == 0) {
            t->holders[i].bad = 0; /* found again: worth another try */
            t->holders[i].strikes = 0;
            return 0;
        }
    if ((v = realloc(t->holders, (t->nholders + 1) * sizeof(*v))) == NULL)
        return SHOAL_ENOMEM;
    t->holders = v;
    memset(&v[t->nholders], 0, sizeof(*v));
    v[t->nholders].peer = strdup(peer);
    v[t->nholders].addr = strdup(addr);
    if (v[t->nholders].peer == NULL || v[t->nholders].addr == NULL) {
        free(v[t->nholders].peer);
        free(v[t->nholders].addr);
        return SHOAL_ENOMEM;
    }
    t->nholders++;
    return 0;
}

static size_t holders_good(const files_transfer *t)
{
    size_t n = 0;

    for (size_t i = 0; i < t->nholders; i++)
        n += !t->holders[i].bad;
    return n;
}

static void holder_strike(files_transfer *t, holder *h, int bad,
                          const char *why)
{
    if (bad || ++h->strikes >= STRIKES_MAX) {
        if (!h->bad)
            shoal_log(t->f->node, SHOAL_LOG_INFO,
                      "transfer_holder_dropped id=%u peer=%s reason=%s",
                      t->id, h->peer, why);
        h->bad = 1;
    }
}

static const char *basename_of(const char *name)
{
    const char *slash = strrchr(name, '/');
    return slash ? slash + 1 : name;
}

/* ------------------------------------------------------- disk (pool) */

struct disk_job {
    uv_work_t work;
    files_transfer *t;
    uint32_t chunk;           /* write: which; resume: unused */
    uint8_t *buf;
    size_t len;
    int kind;                 /* DJ_VERIFY, DJ_WRITE, DJ_RESUME, DJ_FINISH */
    struct disk_job *next;    /* in the transfer's write queue */
    int error;                /* -errno, or 1: the chunk's hash is wrong */
    size_t holder;
    char *final_path;
    uint64_t resumed;
    int cached;               /* buf is from f->chunk_bufs */
};

/* A disk job's buffer goes back where it came from. */
static void job_buf_free(disk_job *j)
{
    if (j->cached)
        shoal_bufcache_put(&j->t->f->chunk_bufs, j->buf);
    else
        free(j->buf);
    j->buf = NULL;
}

/* Chunks are verified in parallel on the pool, then written by one job at
 * a time: writers of one file on several threads only queue on its inode
 * lock (spinning, on a 2-core machine half the CPU). That job writes every
 * chunk verified by the time it starts, not one: libuv's pool is first in,
 * first out, so a write queued behind the next chunks' hashes would wait
 * for them, and one chunk per wait made the writer the bottleneck. */
enum { DJ_VERIFY, DJ_WRITE, DJ_RESUME, DJ_FINISH };

static int write_all(int fd, const uint8_t *p, size_t len, uint64_t off)
{
    while (len > 0) {
        ssize_t k = pwrite(fd, p, len, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return k < 0 ? -errno : -EIO;
        p += k;
        len -= (size_t)k;
        off += (uint64_t)k;
    }
    return 0;
}

/* A download streams past the page cache. Each chunk written has the disk
 * start on it at once (Linux: sync_file_range queues the range's dirty
 * pages and returns), so the fsync at the end waits for the last chunks
 * only, not the whole file. The chunk written STREAM_BEHIND chunks before
 * it, on disk by then, leaves the page cache: a download holds a few MiB
 * of it, not its whole size, so it does not push out what the machine had
 * cached, and the pages its writes need are ones it has just given back.
 * That is also what keeps it fast on a virtual machine whose host takes
 * back the guest's free memory (virtio-balloon free page reporting): every
 * fresh page there costs a fault on the host, and a 1 GiB download that
 * wrote into fresh pages spent up to twice the system time
 * (bench/file_transfer). */
static void stream_written(files_transfer *t, uint64_t off, size_t len)
{
#ifdef SYNC_FILE_RANGE_WRITE
    stream_range *old = &t->written[t->nwritten % STREAM_BEHIND];

    (void)sync_file_range(t->fd, (off_t)off, (off_t)len,
                          SYNC_FILE_RANGE_WRITE);
    if (t->nwritten++ >= STREAM_BEHIND) {
        (void)sync_file_range(t->fd, (off_t)old->off, (off_t)old->len,
                              SYNC_FILE_RANGE_WAIT_BEFORE |
                                  SYNC_FILE_RANGE_WRITE |
                                  SYNC_FILE_RANGE_WAIT_AFTER);
        (void)posix_fadvise(t->fd, (off_t)old->off, (off_t)old->len,
                            POSIX_FADV_DONTNEED);
    }
    old->off = off;
    old->len = len;
#else
    (void)t, (void)off, (void)len;
#endif
}

/* Checks each chunk already in the partial file against the manifest.
 * Marks verified ones done in t->state (the loop leaves them alone until
 * this job returns). */
static void resume_scan(disk_job *j)
{
    files_transfer *t = j->t;
    uint8_t *buf = shoal_bufcache_get(&t->f->chunk_bufs), h[FILES_HASH];
    struct stat st;

    memset(&st, 0, sizeof(st)); /* size 0 if fstat fails: nothing resumed */
    if (buf == NULL) {
        j->error = -ENOMEM;
        return;
    }
    if (fstat(t->fd, &st) == 0)
        for (uint32_t i = 0; i < t->nchunks; i++) {
            size_t len = files_chunk_len(t->size, i);
            uint64_t off = (uint64_t)i * SHOAL_FILES_CHUNK;
            if (off + len > (uint64_t)st.st_size ||
                pread(t->fd, buf, len, (off_t)off) != (ssize_t)len)
                continue;
            files_sha256(buf, len, h);
            if (memcmp(h, t->manifest + (size_t)i * FILES_HASH, FILES_HASH) ==
                0) {
                t->state[i] = C_DONE;
                j->resumed += len;
            }
        }
    shoal_bufcache_put(&t->f->chunk_bufs, buf);
    /* leftovers past the end (an older, longer try) must not stay; a
     * shorter file is not extended here: writes into a sparse file's
     * holes cost ext4 several times what appending does, and the last
     * chunk's write gives the file its size */
    if ((uint64_t)st.st_size > t->size && ftruncate(t->fd, (off_t)t->size) < 0)
        j->error = -errno;
}

/* Puts the finished file in place under a name not taken yet: "a.txt",
 * "a (1).txt", ...; link() fails rather than replace anything. */
static void finish_file(disk_job *j)
{
    files_transfer *t = j->t;
    const char *name = t->name, *dot = strrchr(name, '.');
    size_t stem = dot && dot != name ? (size_t)(dot - name) : strlen(name);
    char path[PATH_MAX];

    if (fsync(t->fd) < 0) {
        j->error = -errno;
        return;
    }
    for (int i = 0; i < 1000; i++) {
        if (i == 0)
            snprintf(path, sizeof(path), "%s/%s", t->f->downloads, name);
        else
            snprintf(path, sizeof(path), "%s/%.*s (%d)%s", t->f->downloads,
                     (int)stem, name, i, name + stem);
        if (link(t->part, path) == 0) {
            unlink(t->part);
            j->final_path = strdup(path);
            return;
        }
        if (errno != EEXIST) {
            j->error = -errno;
            return;
        }
    }
    j->error = -EEXIST;
}

static void disk_work(uv_work_t *w)
{
    disk_job *j = w->data;
    files_transfer *t = j->t;

    switch (j->kind) {
    case DJ_VERIFY: {
        uint8_t h[FILES_HASH];
        files_sha256(j->buf, j->len, h);
        if (memcmp(h, t->manifest + (size_t)j->chunk * FILES_HASH,
                   FILES_HASH) != 0)
            j->error = 1;
        break;
    }
    case DJ_WRITE: /* j and the chunks chained after it */
        for (disk_job *k = j; k != NULL; k = k->next) {
            uint64_t off = (uint64_t)k->chunk * SHOAL_FILES_CHUNK;
            if ((k->error = write_all(t->fd, k->buf, k->len, off)) < 0)
                break; /* the rest stay unwritten: error 0, not counted */
            stream_written(t, off, k->len);
        }
        break;
    case DJ_RESUME:
        resume_scan(j);
        break;
    case DJ_FINISH:
        finish_file(j);
        break;
    }
}

static void transfer_done(files_transfer *t, char *path)
{
    t->path = path;
    t->phase = PH_DONE;
    t->ended = files_now(t->f);
    close(t->fd);
    t->fd = -1;
    shoal_log(t->f->node, SHOAL_LOG_INFO,
              "transfer_done id=%u name=\"%s\" bytes=%llu resumed=%llu "
              "holders=%zu ms=%llu",
              t->id, t->name, (unsigned long long)t->size,
              (unsigned long long)t->resumed, t->nholders,
              (unsigned long long)(t->ended - t->started));
    notify(t);
}

static void disk_after(uv_work_t *w, int status)
{
    disk_job *j = w->data;
    files_transfer *t = j->t;
    shoal_files *f = t->f;

    t->inflight--;
    t->disk_pending--;
    if (f->dead) {
        /* the service stopped, and its node may be gone: the job's memory
         * (a write's whole batch) goes back, nothing is logged or done */
        if (j->kind == DJ_WRITE)
            t->writing = 0, t->wq_batch = NULL;
        while (j != NULL) {
            disk_job *next = j->kind == DJ_WRITE ? j->next : NULL;
            free(j->final_path);
            job_buf_free(j);
            free(j);
            j = next;
        }
        write_next(t); /* drops what still waits */
        files_release(f);
        return;
    }
    if (status < 0 && j->error == 0)
        j->error = status;
    switch (j->kind) {
    case DJ_VERIFY:
        if (j->error == 1) {
            t->state[j->chunk] = C_TODO;
            if (j->chunk < t->next_todo)
                t->next_todo = j->chunk;
            holder_strike(t, &t->holders[j->holder], 1, "bad_chunk");
            shoal_log(f->node, SHOAL_LOG_WARN,
                      "transfer_chunk_rejected id=%u chunk=%u peer=%s "
                      "reason=hash_mismatch",
                      t->id, j->chunk, t->holders[j->holder].peer);
        } else if (j->error < 0) {
            t->state[j->chunk] = C_TODO;
            fail(t, j->error, "verify_failed");
        } else {
            write_enqueue(t, j);
            j = NULL; /* queued for writing */
        }
        break;
    case DJ_WRITE:
        t->writing = 0;
        write_batch_done(t, j);
        j = NULL;
        break;
    case DJ_RESUME:
        if (j->error < 0) {
            fail(t, j->error, "resume_failed");
            break;
        }
        for (uint32_t i = 0; i < t->nchunks; i++)
            t->ndone += t->state[i] == C_DONE;
        t->resumed = t->received = j->resumed;
        if (t->resumed > 0)
            shoal_log(f->node, SHOAL_LOG_INFO,
                      "transfer_resumed id=%u name=\"%s\" bytes=%llu", t->id,
                      t->name, (unsigned long long)t->resumed);
        if (t->phase == PH_RESUME)
            t->phase = PH_RUN;
        break;
    case DJ_FINISH:
        if (j->error < 0)
            fail(t, j->error, "finish_failed");
        else if (t->phase == PH_FINISH)
            transfer_done(t, j->final_path), j->final_path = NULL;
        break;
    }
    if (j != NULL) {
        free(j->final_path);
        job_buf_free(j);
        free(j);
    }
    write_next(t);
    if (!f->dead)
        schedule(t);
    files_release(f);
}

/* A write job is over: its chunks are on disk up to the first that failed,
 * which fails the transfer. Frees the batch. */
static void write_batch_done(files_transfer *t, disk_job *j)
{
    int error = j->error; /* a failure of the first chunk, or of the pool */

    while (j != NULL) {
        disk_job *next = j->next;
        if (j != t->wq_batch)
            t->disk_pending--; /* the first one's is counted by the caller */
        if (error == 0)
            error = j->error;
        if (error < 0) {
            t->state[j->chunk] = C_TODO;
        } else {
            t->state[j->chunk] = C_DONE;
            t->ndone++;
            t->received += j->len;
            t->rate_bytes += j->len;
        }
        job_buf_free(j);
        free(j);
        j = next;
    }
    t->wq_batch = NULL;
    if (error < 0)
        fail(t, error, error == UV_ENOSPC ? "disk_full" : "write_failed");
}

static int job_start(disk_job *j)
{
    files_transfer *t = j->t;

    if (uv_queue_work(shoal_node_loop(t->f->node), &j->work, disk_work,
                      disk_after) < 0)
        return SHOAL_ENOMEM;
    t->inflight++;
    files_hold(t->f);
    return 0;
}

/* The job (kind, chunk and buffer: the job owns buf from here) started on
 * the pool, or queued for writing (DJ_WRITE). */
static int disk_queue(files_transfer *t, int kind, uint32_t chunk,
                      uint8_t *buf, size_t len, size_t holder)
{
    disk_job *j = calloc(1, sizeof(*j));

    if (j == NULL)
        return SHOAL_ENOMEM;
    j->t = t;
    j->kind = kind;
    j->chunk = chunk;
    j->buf = buf;
    j->len = len;
    j->holder = holder;
    j->cached = kind == DJ_VERIFY; /* a chunk received (chunk_send) */
    j->work.data = j;
    if (kind == DJ_WRITE) {
        write_enqueue(t, j);
        write_next(t);
        return 0;
    }
    if (job_start(j) < 0) {
        free(j);
        return SHOAL_ENOMEM;
    }
    t->disk_pending++;
    return 0;
}

/* A verified chunk waits for its turn to be written. */
static void write_enqueue(files_transfer *t, disk_job *j)
{
    j->kind = DJ_WRITE;
    j->next = NULL;
    if (t->wq_tail != NULL)
        t->wq_tail->next = j;
    else
        t->wq_head = j;
    t->wq_tail = j;
    t->disk_pending++;
}

static void write_drop_all(files_transfer *t)
{
    while (t->wq_head != NULL) {
        disk_job *j = t->wq_head;
        t->wq_head = j->next;
        t->disk_pending--;
        job_buf_free(j);
        free(j);
    }
    t->wq_tail = NULL;
}

/* Starts the next write unless one runs; after a failure, or once the
 * service is gone, what waits is dropped. */
static void write_next(files_transfer *t)
{
    disk_job *j;

    if (t->phase >= PH_DONE || t->f->dead) {
        write_drop_all(t);
        return;
    }
    if (t->writing || (j = t->wq_head) == NULL)
        return;
    t->wq_head = t->wq_tail = NULL; /* the whole queue, in one job */
    t->wq_batch = j;
    if (job_start(j) < 0) {
        j->error = SHOAL_ENOMEM;
        t->disk_pending--;
        write_batch_done(t, j);
        return;
    }
    t->writing = 1;
}

/* ---------------------------------------------------- chunk requests */

typedef struct chunk_req {
    files_transfer *t;
    size_t holder;
    uint32_t chunk;
    uint8_t *buf;
    size_t len, got;
    int bad;                  /* an ERRO, or the wrong length */
} chunk_req;

static void chunk_on_reply(const shoal_msg *reply, void *user)
{
    chunk_req *c = user;

    if (strcmp(reply->type, "CHNK") != 0 || c->got != 0 ||
        reply->len != c->len) {
        c->bad = 1;
        return;
    }
    if (reply->data != c->buf) /* read into it unless it did not fit */
        memcpy(c->buf, reply->data, reply->len);
    c->got = reply->len;
}

static void chunk_on_end(int status, void *user)
{
    chunk_req *c = user;
    files_transfer *t = c->t;
    shoal_files *f = t->f;
    holder *h = &t->holders[c->holder];

    t->inflight--;
    h->inflight--;
    if (f->dead || t->phase != PH_RUN) {
        t->state[c->chunk] = C_TODO;
        shoal_bufcache_put(&f->chunk_bufs, c->buf);
    } else if (status == 0 && !c->bad && c->got == c->len) {
        h->strikes = 0;
        if (disk_queue(t, DJ_VERIFY, c->chunk, c->buf, c->len, c->holder) <
            0) {
            shoal_bufcache_put(&f->chunk_bufs, c->buf);
            t->state[c->chunk] = C_TODO;
            fail(t, SHOAL_ENOMEM, "out_of_memory");
        }
    } else {
        shoal_bufcache_put(&f->chunk_bufs, c->buf);
        t->state[c->chunk] = C_TODO;
        if (c->chunk < t->next_todo)
            t->next_todo = c->chunk;
        holder_strike(t, h, 0, status < 0 ? shoal_strerror(status)
                                          : "bad_reply");
    }
    free(c);
    if (!f->dead)
        schedule(t);
    files_release(f);
}

/* The good holder with the fewest chunks in flight, or -1. */
static long pick_holder(const files_transfer *t)
{
    long best = -1;

    for (size_t i = 0; i < t->nholders; i++)
        if (!t->holders[i].bad &&
            (best < 0 || t->holders[i].inflight < t->holders[best].inflight))
            best = (long)i;
    return best;
}

static int chunk_send(files_transfer *t, uint32_t i, size_t hi)
{
    chunk_req *c = calloc(1, sizeof(*c));
    char payload[96];
    int rc;

    if (c == NULL)
        return SHOAL_ENOMEM;
    c->t = t;
    c->holder = hi;
    c->chunk = i;
    c->len = files_chunk_len(t->size, i);
    if ((c->buf = shoal_bufcache_get(&t->f->chunk_bufs)) == NULL) {
        free(c);
        return SHOAL_ENOMEM;
    }
    snprintf(payload, sizeof(payload), "%s %u", t->hash, (unsigned)i);
    rc = shoal_request_into(t->f->node, t->holders[hi].addr, "CHNK", payload,
                            strlen(payload), c->buf, c->len, CHUNK_TIMEOUT_MS,
                            chunk_on_reply, chunk_on_end, c);
    if (rc < 0) {
        shoal_bufcache_put(&t->f->chunk_bufs, c->buf);
        free(c);
        return rc;
    }
    t->state[i] = C_BUSY;
    t->inflight++;
    t->holders[hi].inflight++;
    files_hold(t->f);
    return 0;
}

/* ------------------------------------------------ finding and manifest */

static void search_holders(files_transfer *t);
static void manifest_next(files_transfer *t);

static void open_partial(files_transfer *t)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/%s.part", t->f->partial,
             t->hash[0] ? t->hash : "classic");
    if (!t->hash[0]) /* classic: no hash; one partial file per transfer */
        snprintf(path, sizeof(path), "%s/classic-%u-%s.part", t->f->partial,
                 t->id, t->name);
    if ((t->part = strdup(path)) == NULL) {
        fail(t, SHOAL_ENOMEM, "out_of_memory");
        return;
    }
    t->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | (t->hash[0] ? 0 : O_TRUNC),
                 0600);
    if (t->fd < 0)
        fail(t, -errno, "open_failed");
}

typedef struct mani_req {
    files_transfer *t;
    int ok;
} mani_req;

static void mani_on_reply(const shoal_msg *reply, void *user)
{
    mani_req *m = user;
    files_transfer *t = m->t;
    const uint8_t *chunks;
    uint64_t size;
    uint32_t n;

    if (m->ok || strcmp(reply->type, "MANI") != 0 ||
        files_manifest_decode(reply->data, reply->len, t->root, &size,
                              &chunks, &n) < 0)
        return;
    if ((t->manifest = malloc(n ? (size_t)n * FILES_HASH : 1)) == NULL ||
        (t->state = calloc(n ? n : 1, 1)) == NULL) {
        free(t->manifest);
        t->manifest = NULL;
        return;
    }
    if (n)
        memcpy(t->manifest, chunks, (size_t)n * FILES_HASH);
    t->size = size;
    t->nchunks = n;
    m->ok = 1;
}

static void mani_on_end(int status, void *user)
{
    mani_req *m = user;
    files_transfer *t = m->t;
    shoal_files *f = t->f;
    int ok = m->ok;

    (void)status;
    t->inflight--;
    free(m);
    if (!f->dead && t->phase == PH_MANIFEST) {
        if (!ok) {
            holder_strike(t, &t->holders[t->next_holder], 1, "no_manifest");
            t->next_holder++;
            manifest_next(t);
        } else {
            open_partial(t);
            if (t->phase == PH_MANIFEST) {
                t->phase = PH_RESUME;
                if (disk_queue(t, DJ_RESUME, 0, NULL, 0, 0) < 0)
                    fail(t, SHOAL_ENOMEM, "out_of_memory");
            }
        }
    }
    files_release(f);
}

/* Asks the next holder for the manifest. */
static void manifest_next(files_transfer *t)
{
    mani_req *m;

    while (t->next_holder < t->nholders && t->holders[t->next_holder].bad)
        t->next_holder++;
    if (t->next_holder >= t->nholders) {
        if (t->searching)
            t->waiting = 1; /* a holder found later takes it on */
        else
            fail(t, SHOAL_ENOENT, "no_holder");
        return;
    }
    if ((m = calloc(1, sizeof(*m))) == NULL) {
        fail(t, SHOAL_ENOMEM, "out_of_memory");
        return;
    }
    m->t = t;
    if (shoal_request(t->f->node, t->holders[t->next_holder].addr, "MANI",
                      t->hash, 64, CHUNK_TIMEOUT_MS, mani_on_reply,
                      mani_on_end, m) < 0) {
        free(m);
        holder_strike(t, &t->holders[t->next_holder], 1, "unreachable");
        t->next_holder++;
        manifest_next(t);
        return;
    }
    t->inflight++;
    files_hold(t->f);
}

/* ------------------------------------------------------- classic FGET */

typedef struct fget_req {
    files_transfer *t;
    uint8_t *data;
    size_t len;
    int ok;
} fget_req;

static void classic_next(files_transfer *t);

static void fget_on_reply(const shoal_msg *reply, void *user)
{
    fget_req *g = user;

    if (g->ok || strcmp(reply->type, "REPL") != 0)
        return;
    if ((g->data = malloc(reply->len ? reply->len : 1)) == NULL)
        return;
    memcpy(g->data, reply->data, reply->len);
    g->len = reply->len;
    g->ok = 1;
}

static void fget_on_end(int status, void *user)
{
    fget_req *g = user;
    files_transfer *t = g->t;
    shoal_files *f = t->f;

    t->inflight--;
    t->holders[t->next_holder].inflight--;
    if (!f->dead && t->phase == PH_RUN) {
        if (status == 0 && g->ok) {
            /* one "chunk": the whole file, written, then renamed */
            t->size = g->len;
            t->nchunks = 1;
            if ((t->state = calloc(1, 1)) == NULL ||
                disk_queue(t, DJ_WRITE, 0, g->data, g->len, t->next_holder) <
                    0) {
                free(g->data);
                fail(t, SHOAL_ENOMEM, "out_of_memory");
            } else {
                t->state[0] = C_BUSY;
            }
            g->data = NULL;
        } else {
            holder_strike(t, &t->holders[t->next_holder], 1,
                          status < 0 ? shoal_strerror(status) : "not_found");
            t->next_holder++;
            classic_next(t);
        }
    }
    free(g->data);
    free(g);
    files_release(f);
}

static void classic_next(files_transfer *t)
{
    fget_req *g;

    if (t->next_holder >= t->nholders) {
        if (t->searching)
            t->waiting = 1; /* a holder found later takes it on */
        else
            fail(t, SHOAL_ENOENT, "no_holder");
        return;
    }
    if ((g = calloc(1, sizeof(*g))) == NULL) {
        fail(t, SHOAL_ENOMEM, "out_of_memory");
        return;
    }
    g->t = t;
    if (shoal_request(t->f->node, t->holders[t->next_holder].addr, "FGET",
                      t->full_name, strlen(t->full_name), 0, fget_on_reply,
                      fget_on_end, g) < 0) {
        free(g);
        t->next_holder++;
        classic_next(t);
        return;
    }
    t->inflight++;
    t->holders[t->next_holder].inflight++;
    files_hold(t->f);
}

/* ------------------------------------------------------------- search */

/* Whether search result r is the file t wants. */
static int result_is_wanted(const files_transfer *t,
                            const shoal_search_result *r)
{
    return t->by_hash ? strcmp(r->hash, t->hash) == 0
                      : strcmp(r->name, t->what) == 0 ||
                            strcmp(basename_of(r->name), t->what) == 0;
}

/* The holders are known: the download starts, from pick (its name). */
static void start_download(files_transfer *t, const shoal_search_result *pick)
{
    shoal_files *f = t->f;

    if (t->name == NULL) {
        t->full_name = strdup(pick->name);
        t->name = strdup(basename_of(pick->name));
        if (t->name == NULL || t->full_name == NULL) {
            fail(t, SHOAL_ENOMEM, "out_of_memory");
            return;
        }
    }
    if (f->classic) {
        t->phase = PH_RUN;
        open_partial(t);
        if (t->phase == PH_RUN)
            classic_next(t);
    } else {
        snprintf(t->hash, sizeof(t->hash), "%s", pick->hash);
        files_unhex(t->hash, 64, t->root, FILES_HASH);
        t->by_hash = 1;
        t->phase = PH_MANIFEST;
        t->next_holder = 0;
        manifest_next(t);
    }
    if (t->phase < PH_DONE)
        notify(t); /* running */
}

/* A holder found while the search runs: for a hash, and in classic mode
 * (a name is one file there), the first one starts the download and the
 * others join it. A name in secure mode may be several files (hashes):
 * that waits for the end (on_holders). */
static void on_holder_found(shoal_files *f, const shoal_search_result *r,
                            void *user)
{
    files_transfer *t = user;

    if (f->dead || t->phase >= PH_DONE || (!f->classic && !t->by_hash) ||
        !result_is_wanted(t, r))
        return;
    for (size_t k = 0; k < r->nholders; k++)
        holder_add(t, r->holders[k].peer, r->holders[k].addr);
    if (holders_good(t) == 0)
        return; /* only ourselves */
    if (t->phase == PH_SEARCH) {
        start_download(t, r);
    } else if (t->waiting) {
        t->waiting = 0;
        if (t->phase == PH_MANIFEST)
            manifest_next(t);
        else if (t->phase == PH_RUN && t->manifest == NULL)
            classic_next(t);
    }
    if (!f->dead)
        schedule(t);
}

/* The search is over: every result is in. */
static void on_holders(shoal_files *f, int status,
                       const shoal_search_result *r, size_t count, void *user)
{
    files_transfer *t = user;
    const shoal_search_result *pick = NULL;

    t->searching = 0;
    if (status < 0 || f->dead) {
        if (!f->dead)
            fail(t, status, "search_failed");
        files_release(f);
        return;
    }
    if (t->phase >= PH_DONE) {
        files_release(f);
        return;
    }
    if (f->classic || t->by_hash) { /* on_holder_found had each result */
        if (t->phase == PH_SEARCH)
            fail(t, SHOAL_ENOENT, "not_found");
        else if (t->waiting)
            fail(t, SHOAL_ENOENT, "no_holder");
        else
            schedule(t);
        files_release(f);
        return;
    }
    for (size_t i = 0; i < count; i++) {
        if (!result_is_wanted(t, &r[i]))
            continue;
        if (pick != NULL && strcmp(pick->hash, r[i].hash) != 0) {
            fail(t, SHOAL_EEXIST, "ambiguous_name");
            files_release(f);
            return;
        }
        if (pick == NULL || r[i].nholders > pick->nholders)
            pick = &r[i];
        for (size_t k = 0; k < r[i].nholders; k++)
            holder_add(t, r[i].holders[k].peer, r[i].holders[k].addr);
    }
    if (pick == NULL || holders_good(t) == 0) {
        fail(t, SHOAL_ENOENT, "not_found");
        files_release(f);
        return;
    }
    if (t->phase == PH_SEARCH)
        start_download(t, pick);
    if (!f->dead)
        schedule(t);
    files_release(f);
}

/* What to search for to find t's holders. A QUER key is one word, so a
 * classic name with spaces is looked for by its longest word ("c
 * space.txt" by "space.txt"), and the results are matched by the whole
 * name (result_is_wanted). out has room for SHOAL_FILES_NAME_MAX + 1. */
static const char *search_key(const files_transfer *t, char *out)
{
    const char *p = t->what, *best = t->what;
    size_t bestlen = 0;

    if (t->by_hash)
        return t->hash;
    if (!t->f->classic || strchr(t->what, ' ') == NULL)
        return t->what;
    while (*p != '\0') {
        size_t n = strcspn(p, " ");
        if (n > bestlen)
            best = p, bestlen = n;
        p += n;
        p += strspn(p, " ");
    }
    if (bestlen > FILES_KEY_MAX)
        bestlen = FILES_KEY_MAX; /* a part of it finds it as well */
    memcpy(out, best, bestlen);
    out[bestlen] = '\0';
    return out;
}

static void search_holders(files_transfer *t)
{
    char key[SHOAL_FILES_NAME_MAX + 1];
    int rc;

    /* set first: on_holder_found may run before the call returns. Not in
     * t->inflight: the download may end while the search still runs */
    t->searching = 1;
    files_hold(t->f);
    rc = shoal_files_search_stream(t->f, search_key(t, key), 0,
                                   on_holder_found, on_holders, t);
    if (rc < 0) {
        t->searching = 0;
        fail(t, rc, "search_failed");
        files_release(t->f);
    }
}

/* ------------------------------------------------------------ driving */

/* Starts what can start: chunk requests up to the limit, the end. */
static void schedule(files_transfer *t)
{
    shoal_files *f = t->f;
    unsigned busy = 0;

    if (t->phase != PH_RUN)
        return;
    if (t->manifest == NULL) {
        classic_schedule(t);
        return;
    }
    for (size_t i = 0; i < t->nholders; i++)
        busy += t->holders[i].inflight;
    /* chunks not yet on disk count too: the network may run ahead of the
     * disk by as much again, not without bound (memory: at most twice
     * chunks_in_flight chunks per transfer) */
    while (busy < f->cfg.chunks_in_flight &&
           busy + t->disk_pending < f->cfg.chunks_in_flight * 2) {
        long hi = pick_holder(t);
        uint32_t i = t->next_todo;
        while (i < t->nchunks && t->state[i] != C_TODO)
            i++;
        t->next_todo = i;
        if (i >= t->nchunks || hi < 0)
            break;
        if (chunk_send(t, i, (size_t)hi) < 0) {
            holder_strike(t, &t->holders[hi], 1, "unreachable");
            continue;
        }
        busy++;
    }
    if (t->ndone == t->nchunks && t->inflight == 0 && t->wq_head == NULL) {
        t->phase = PH_FINISH;
        if (disk_queue(t, DJ_FINISH, 0, NULL, 0, 0) < 0)
            fail(t, SHOAL_ENOMEM, "out_of_memory");
        return;
    }
    if (t->inflight == 0 && t->wq_head == NULL && holders_good(t) == 0 &&
        !t->searching) {
        /* everyone failed: look once more before giving up */
        if (t->searched_again) {
            fail(t, SHOAL_ENOENT, "no_holder_left");
            return;
        }
        t->searched_again = 1;
        search_holders(t);
    }
}

/* The classic path writes the whole file as chunk 0; its end is here. */
static void classic_schedule(files_transfer *t)
{
    if (t->phase == PH_RUN && t->manifest == NULL && t->nchunks == 1 &&
        t->ndone == 1 && t->inflight == 0) {
        t->phase = PH_FINISH;
        if (disk_queue(t, DJ_FINISH, 0, NULL, 0, 0) < 0)
            fail(t, SHOAL_ENOMEM, "out_of_memory");
    }
}

void files_transfer_tick(shoal_files *f, uint64_t now)
{
    for (size_t i = 0; i < f->ntransfers; i++) {
        files_transfer *t = f->transfers[i];
        uint64_t dt = now - t->rate_at;
        if (t->phase >= PH_DONE)
            continue;
        if (dt >= 500) {
            double inst = (double)t->rate_bytes * 1000.0 / (double)dt;
            t->rate = t->rate == 0 ? inst : 0.6 * t->rate + 0.4 * inst;
            t->rate_bytes = 0;
            t->rate_at = now;
        }
    }
}

/* --------------------------------------------------------------- API */

static unsigned running(const shoal_files *f)
{
    unsigned n = 0;

    for (size_t i = 0; i < f->ntransfers; i++)
        n += f->transfers[i]->phase < PH_DONE;
    return n;
}

int shoal_files_get(shoal_files *f, const char *what, unsigned *id)
{
    SHOAL_LOOP_ONLY(f->node, SHOAL_EBUSY);
    files_transfer *t, **v;
    size_t len = what ? strlen(what) : 0;
    int by_hash;

    if (f->downloads == NULL || len == 0 || len > SHOAL_FILES_NAME_MAX ||
        shoal_files_name_ok(what, len) < 0)
        return SHOAL_EINVAL;
    if (running(f) >= f->cfg.max_transfers)
        return SHOAL_ENOBUFS;
    by_hash = !f->classic && len == 64 &&
              files_unhex(what, 64, (uint8_t[32]){0}, 32) == 0;
    if (f->ntransfers == TRANSFERS_KEPT)
        return SHOAL_ENOBUFS;
    if ((t = calloc(1, sizeof(*t))) == NULL ||
        (t->what = strdup(what)) == NULL ||
        (v = realloc(f->transfers, (f->ntransfers + 1) * sizeof(*v))) ==
            NULL) {
        if (t != NULL)
            free(t->what);
        free(t);
        return SHOAL_ENOMEM;
    }
    f->transfers = v;
    v[f->ntransfers++] = t;
    t->f = f;
    t->fd = -1;
    t->id = f->next_transfer_id++;
    t->phase = PH_SEARCH;
    t->started = t->rate_at = files_now(f);
    t->by_hash = by_hash;
    if (by_hash) {
        snprintf(t->hash, sizeof(t->hash), "%s", what);
        files_unhex(t->hash, 64, t->root, FILES_HASH);
    }
    if (id != NULL)
        *id = t->id;
    shoal_log(f->node, SHOAL_LOG_INFO, "transfer_start id=%u what=\"%s\"",
              t->id, what);
    search_holders(t);
    return 0;
}

size_t shoal_transfer_count(const shoal_files *f)
{
    SHOAL_LOOP_ONLY(f->node, 0);
    return f->ntransfers;
}

static void info_of(const files_transfer *t, shoal_transfer_info *out)
{
    static const int states[] = {
        SHOAL_TRANSFER_SEARCHING, SHOAL_TRANSFER_RUNNING,
        SHOAL_TRANSFER_RUNNING,   SHOAL_TRANSFER_RUNNING,
        SHOAL_TRANSFER_RUNNING,   SHOAL_TRANSFER_DONE,
        SHOAL_TRANSFER_FAILED};

    memset(out, 0, sizeof(*out));
    out->id = t->id;
    out->state = states[t->phase];
    out->error = t->error;
    out->name = t->name ? t->name : t->what;
    out->hash = t->hash;
    out->path = t->path ? t->path : "";
    out->size = t->size;
    out->received = t->received;
    out->resumed = t->resumed;
    for (size_t i = 0; i < t->nholders; i++)
        out->nholders += !t->holders[i].bad;
    out->rate = t->phase >= PH_DONE ? 0 : t->rate;
    out->started_ms = t->started;
    out->ended_ms = t->ended;
}

int shoal_transfer_at(const shoal_files *f, size_t index,
                      shoal_transfer_info *out)
{
    SHOAL_LOOP_ONLY(f->node, SHOAL_EBUSY);
    if (index >= f->ntransfers)
        return SHOAL_ENOENT;
    info_of(f->transfers[index], out);
    return 0;
}

int shoal_transfer_get(const shoal_files *f, unsigned id,
                       shoal_transfer_info *out)
{
    SHOAL_LOOP_ONLY(f->node, SHOAL_EBUSY);
    for (size_t i = 0; i < f->ntransfers; i++)
        if (f->transfers[i]->id == id) {
            info_of(f->transfers[i], out);
            return 0;
        }
    return SHOAL_ENOENT;
}

void files_transfer_free_all(shoal_files *f)
{
    for (size_t i = 0; i < f->ntransfers; i++) {
        files_transfer *t = f->transfers[i];
        write_drop_all(t);
        if (t->fd >= 0)
            close(t->fd); /* partial files stay, to resume */
        for (size_t k = 0; k < t->nholders; k++) {
            free(t->holders[k].peer);
            free(t->holders[k].addr);
        }
        free(t->holders);
        free(t->manifest);
        free(t->state);
        free(t->what);
        free(t->name);
        free(t->full_name);
        free(t->part);
        free(t->path);
        free(t);
    }
    free(f->transfers);
    f->transfers = NULL;
    f->ntransfers = 0;
}
