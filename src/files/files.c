/* The files service: its life, the index of the share, the one timer.
 * Protocols are in search.c (FIND, QUER, RESP), serve.c (MANI, CHNK,
 * FGET) and transfer.c (downloads). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "files/files_internal.h"
#include "node/thread.h"

#define SCAN_DEPTH_MAX 32

static void config_defaults(shoal_files_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->size = sizeof(*cfg);
    cfg->rescan_ms = 2000;
    cfg->search_timeout_ms = 3000;
    cfg->search_ttl = 4;
    cfg->max_results = 500;
    cfg->max_files = 100000;
    cfg->max_classic_file = 16u * 1024 * 1024; /* the node's max_message */
    cfg->chunks_in_flight = 16;
    cfg->max_transfers = 16;
}

void shoal_files_config_init_size(shoal_files_config *cfg, size_t size)
{
    shoal_files_config d;

    config_defaults(&d);
    shoal_cfg_fill(cfg, size, &d, sizeof(d));
}

/* ---------------------------------------------------------------- helpers */

uint64_t files_now(const shoal_files *f)
{
    return uv_now(shoal_node_loop(f->node));
}

void files_hold(shoal_files *f)
{
    f->pending++;
}

static void files_destroy(shoal_files *f);

void files_release(shoal_files *f)
{
    if (--f->pending == 0 && f->dead)
        files_destroy(f);
}

static int root_cmp(const void *a, const void *b)
{
    return memcmp((*(file_entry *const *)a)->root,
                  (*(file_entry *const *)b)->root, FILES_HASH);
}

const file_entry *files_find_hash(const shoal_files *f,
                                  const uint8_t root[FILES_HASH])
{
    file_entry key, *kp = &key, **hit;

    if (f->index.n == 0)
        return NULL;
    memcpy(key.root, root, FILES_HASH);
    hit = bsearch(&kp, f->index.by_root, f->index.n, sizeof(*hit), root_cmp);
    return hit != NULL ? *hit : NULL;
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const file_entry *)a)->name,
                  ((const file_entry *)b)->name);
}

const file_entry *files_find_name(const shoal_files *f, const char *name)
{
    file_entry key;

    key.name = (char *)(uintptr_t)name;
    return f->index.n ? bsearch(&key, f->index.v, f->index.n,
                                sizeof(*f->index.v), entry_cmp)
                      : NULL;
}

static size_t depth_of(const char *name)
{
    size_t n = 0;

    for (; *name != '\0'; name++)
        n += *name == '/';
    return n;
}

/* By base name, then the shallowest, then name order: the first of each
 * base name is the one classic peers see. */
static int base_cmp(const void *a, const void *b)
{
    const file_entry *x = *(file_entry *const *)a;
    const file_entry *y = *(file_entry *const *)b;
    size_t dx, dy;
    int c = strcmp(x->base, y->base);

    if (c != 0)
        return c;
    dx = depth_of(x->name);
    dy = depth_of(y->name);
    if (dx != dy)
        return dx < dy ? -1 : 1;
    return strcmp(x->name, y->name);
}

const char *files_classic_name(const file_entry *e)
{
    return e->classic ? e->base : NULL;
}

const file_entry *files_find_classic(const shoal_files *f, const char *name)
{
    size_t lo = 0, hi = f->index.n;

    if (strchr(name, '/') != NULL)
        return files_find_name(f, name);
    /* the first entry of that base name: the one it stands for */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(f->index.by_base[mid]->base, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < f->index.n && strcmp(f->index.by_base[lo]->base, name) == 0)
        return f->index.by_base[lo];
    return NULL;
}

void files_trim(const char **key, size_t *len)
{
    const char *p = *key;
    size_t n = *len;

    while (n > 0 && (*p == ' ' || (*p >= '\t' && *p <= '\r')))
        p++, n--;
    while (n > 0 && (p[n - 1] == ' ' || (p[n - 1] >= '\t' && p[n - 1] <= '\r')))
        n--;
    *key = p;
    *len = n;
}

int files_seen_add(shoal_files *f, uint64_t qid)
{
    uint64_t now = files_now(f);

    for (size_t i = 0; i < FILES_SEEN; i++)
        if (f->seen[i].qid == qid && f->seen[i].until > now)
            return 0;
    f->seen[f->seen_next].qid = qid;
    f->seen[f->seen_next].until = now + FILES_SEEN_MS;
    f->seen_next = (f->seen_next + 1) % FILES_SEEN;
    return 1;
}

void files_peer_addr(const shoal_files *f, const shoal_peer *p, char *out,
                     size_t size)
{
    int ip6 = strchr(p->host, ':') != NULL;

    if (f->classic)
        snprintf(out, size, ip6 ? "[%s]:%u" : "%s:%u", p->host,
                 (unsigned)p->port);
    else
        snprintf(out, size, "/%s/%s/tcp/%u/p2p/%s", ip6 ? "ip6" : "ip4",
                 p->host, (unsigned)p->port, p->id);
}

void files_self_addr(const shoal_files *f, char *out, size_t size)
{
    if (f->classic || shoal_node_addr(f->node, out, size) < 0)
        snprintf(out, size, "%s", shoal_node_id(f->node));
}

int files_name_matches_n(const shoal_files *f, const char *name, size_t n,
                         const char *key, size_t keylen)
{
    if (keylen == 0 || keylen > n)
        return 0;
    for (size_t i = 0; i + keylen <= n; i++)
        if (f->classic ? memcmp(name + i, key, keylen) == 0
                       : strncasecmp(name + i, key, keylen) == 0)
            return 1;
    return 0;
}

int files_name_matches(const shoal_files *f, const char *name,
                       const char *key, size_t keylen)
{
    return files_name_matches_n(f, name, strlen(name), key, keylen);
}

/* ------------------------------------------------------------- the index */

static void entry_clear(file_entry *e)
{
    free(e->name);
    free(e->chunks);
    memset(e, 0, sizeof(*e));
}

static void index_clear(files_index *ix)
{
    for (size_t i = 0; i < ix->n; i++)
        entry_clear(&ix->v[i]);
    free(ix->v);
    free(ix->info);
    free(ix->by_root);
    free(ix->by_base);
    memset(ix, 0, sizeof(*ix));
}

/* A scan, run on the thread pool: reads the share and the old index (which
 * the loop leaves alone while a scan runs), builds a new one. */
typedef struct scan_job {
    uv_work_t work;
    shoal_files *f;
    files_index out;
    size_t cap;
    size_t hashed, skipped;
    int error;
} scan_job;

typedef struct scan_waiter {
    struct scan_waiter *next;
    void (*cb)(shoal_files *f, void *user);
    void *user;
} scan_waiter;

static void entry_stat(file_entry *e, const struct stat *st)
{
    e->size = (uint64_t)st->st_size;
    e->mtime_s = st->st_mtim.tv_sec;
    e->mtime_ns = st->st_mtim.tv_nsec;
    e->ctime_s = st->st_ctim.tv_sec;
    e->ctime_ns = st->st_ctim.tv_nsec;
    e->ino = (uint64_t)st->st_ino;
    e->dev = (uint64_t)st->st_dev;
}

/* Has the file not changed since old was hashed? ctime catches a write
 * whose size and mtime were put back; ino and dev a file replaced. */
static int same_file(const file_entry *old, const file_entry *e)
{
    return old->size == e->size && old->mtime_s == e->mtime_s &&
           old->mtime_ns == e->mtime_ns && old->ctime_s == e->ctime_s &&
           old->ctime_ns == e->ctime_ns && old->ino == e->ino &&
           old->dev == e->dev;
}

static int scan_add(scan_job *j, const char *name, const struct stat *st)
{
    const shoal_files *f = j->f;
    const file_entry *old = files_find_name(f, name);
    file_entry e;

    if (j->out.n == f->cfg.max_files) {
        j->skipped++;
        return 0;
    }
    if (j->out.n == j->cap) {
        size_t cap = j->cap ? 2 * j->cap : 64;
        file_entry *v = realloc(j->out.v, cap * sizeof(*v));
        if (v == NULL)
            return -ENOMEM;
        j->out.v = v;
        j->cap = cap;
    }
    memset(&e, 0, sizeof(e));
    entry_stat(&e, st);
    if ((e.name = strdup(name)) == NULL)
        return -ENOMEM;
    /* stale is set by the loop while scans run (files_mark_stale) */
    if (old != NULL && !__atomic_load_n(&old->stale, __ATOMIC_RELAXED) &&
        same_file(old, &e)) {
        /* unchanged: keep its hashes */
        memcpy(e.root, old->root, FILES_HASH);
        e.nchunks = old->nchunks;
        if (old->nchunks > 0) {
            e.chunks = malloc((size_t)old->nchunks * FILES_HASH);
            if (e.chunks == NULL) {
                free(e.name);
                return -ENOMEM;
            }
            memcpy(e.chunks, old->chunks, (size_t)old->nchunks * FILES_HASH);
        }
    } else {
        struct stat now, after;
        int fd = files_open_shared(f, name, NULL), rc;
        if (fd < 0 || fstat(fd, &now) < 0) {
            if (fd >= 0)
                close(fd);
            free(e.name);
            j->skipped++;
            return 0;
        }
        /* what was opened and hashed, not what the walk saw before */
        entry_stat(&e, &now);
        rc = files_hash_fd(fd, e.size, &e.chunks, &e.nchunks, e.root);
        if (rc == 0 && (fstat(fd, &after) < 0 ||
                        after.st_ctim.tv_sec != now.st_ctim.tv_sec ||
                        after.st_ctim.tv_nsec != now.st_ctim.tv_nsec)) {
            free(e.chunks);
            e.chunks = NULL;
            rc = -EAGAIN; /* written while hashed */
        }
        close(fd);
        if (rc < 0) { /* changing under us, or unreadable: next scan */
            free(e.name);
            j->skipped++;
            return rc == -ENOMEM ? rc : 0;
        }
        j->hashed++;
    }
    files_hex(e.root, FILES_HASH, e.hash);
    j->out.v[j->out.n++] = e;
    return 0;
}

/* Walks the folder dirfd (rel: its name under the share, "" for the
 * share itself; dirfd is closed here). Hidden names are skipped
 * (".shoal-partial" among them), and so are symlinks: folders are opened
 * from their parent with O_NOFOLLOW, files beneath the share's fd. */
static int scan_dir(scan_job *j, int dirfd, const char *rel, int depth)
{
    char name[PATH_MAX];
    struct dirent *d;
    DIR *dir;
    int rc = 0;

    if (depth > SCAN_DEPTH_MAX || (dir = fdopendir(dirfd)) == NULL) {
        close(dirfd);
        return 0;
    }
    while (rc == 0 && (d = readdir(dir)) != NULL) {
        struct stat st;
        int sub;
        if (d->d_name[0] == '.')
            continue;
        if (snprintf(name, sizeof(name), "%s%s%s", rel, rel[0] ? "/" : "",
                     d->d_name) >= (int)sizeof(name) ||
            shoal_files_name_ok(name, strlen(name)) < 0 ||
            fstatat(dirfd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            sub = openat(dirfd, d->d_name,
                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0)
                rc = scan_dir(j, sub, name, depth + 1);
        } else if (S_ISREG(st.st_mode)) {
            rc = scan_add(j, name, &st);
        }
    }
    closedir(dir);
    return rc;
}

static void scan_work(uv_work_t *w)
{
    scan_job *j = w->data;
    /* a fd of its own: fdopendir takes it */
    int fd = openat(j->f->share_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    j->error = fd >= 0 ? scan_dir(j, fd, "", 0) : 0;
    if (j->error == 0 && j->out.n > 1)
        qsort(j->out.v, j->out.n, sizeof(*j->out.v), entry_cmp);
}

static void scan_start(shoal_files *f);

static void scan_after(uv_work_t *w, int status)
{
    scan_job *j = w->data;
    shoal_files *f = j->f;
    scan_waiter *waiters;

    f->scanning = 0;
    if (f->dead || status < 0 || j->error < 0 ||
        (j->out.n > 0 &&
         ((j->out.info = calloc(j->out.n, sizeof(*j->out.info))) == NULL ||
          (j->out.by_root = calloc(j->out.n, sizeof(*j->out.by_root))) ==
              NULL ||
          (j->out.by_base = calloc(j->out.n, sizeof(*j->out.by_base))) ==
              NULL))) {
        index_clear(&j->out);
    } else {
        for (size_t i = 0; i < j->out.n; i++) {
            j->out.info[i].name = j->out.v[i].name;
            j->out.info[i].size = j->out.v[i].size;
            j->out.info[i].hash = j->out.v[i].hash;
            j->out.by_root[i] = &j->out.v[i];
            j->out.by_base[i] = &j->out.v[i];
            j->out.v[i].base = strrchr(j->out.v[i].name, '/');
            j->out.v[i].base = j->out.v[i].base ? j->out.v[i].base + 1
                                                : j->out.v[i].name;
        }
        if (j->out.n > 1) {
            qsort(j->out.by_root, j->out.n, sizeof(*j->out.by_root),
                  root_cmp);
            qsort(j->out.by_base, j->out.n, sizeof(*j->out.by_base),
                  base_cmp);
        }
        for (size_t i = 0; i < j->out.n; i++)
            j->out.by_base[i]->classic =
                i == 0 || strcmp(j->out.by_base[i - 1]->base,
                                 j->out.by_base[i]->base) != 0;
        if (j->hashed > 0 || j->out.n != f->index.n)
            shoal_log(f->node, SHOAL_LOG_INFO, "index files=%zu hashed=%zu skipped=%zu",
                            j->out.n, j->hashed, j->skipped);
        index_clear(&f->index);
        f->index = j->out;
    }
    free(j);
    if (!f->dead) /* else the node may be gone already */
        f->next_scan = files_now(f) + f->cfg.rescan_ms;
    waiters = f->scan_waiters;
    f->scan_waiters = NULL;
    if (!f->dead && f->scan_again) {
        f->scan_again = 0;
        f->scan_waiters = waiters; /* they wait for the scan that follows */
        waiters = NULL;
        scan_start(f);
    }
    while (waiters != NULL) {
        scan_waiter *next = waiters->next;
        if (!f->dead && waiters->cb != NULL)
            waiters->cb(f, waiters->user);
        free(waiters);
        waiters = next;
    }
    files_release(f);
}

static void scan_start(shoal_files *f)
{
    scan_job *j;

    if (f->share == NULL || f->dead)
        return;
    if (f->scanning) {
        f->scan_again = 1;
        return;
    }
    if ((j = calloc(1, sizeof(*j))) == NULL)
        return;
    j->f = f;
    j->work.data = j;
    if (uv_queue_work(shoal_node_loop(f->node), &j->work, scan_work,
                      scan_after) < 0) {
        free(j);
        return;
    }
    f->scanning = 1;
    files_hold(f);
}

int shoal_files_rescan(shoal_files *f, void (*cb)(shoal_files *f, void *user),
                       void *user)
{
    SHOAL_LOOP_ONLY(f->node, SHOAL_EBUSY);
    scan_waiter *w;

    if (f->share == NULL)
        return SHOAL_EINVAL;
    if ((w = calloc(1, sizeof(*w))) == NULL)
        return SHOAL_ENOMEM;
    w->cb = cb;
    w->user = user;
    if (f->scanning) {
        /* the running scan may have read the folder already: one more */
        f->scan_again = 1;
        scan_waiter **tail = &f->scan_waiters;
        while (*tail != NULL)
            tail = &(*tail)->next;
        /* waiters of the running scan move to the next one in scan_after */
        *tail = w;
        return 0;
    }
    w->next = f->scan_waiters;
    f->scan_waiters = w;
    scan_start(f);
    return f->scanning ? 0 : SHOAL_ENOMEM;
}

void files_mark_stale(shoal_files *f, const char *name,
                      const uint8_t root[FILES_HASH])
{
    file_entry *e = (file_entry *)files_find_name(f, name);

    /* the index may have moved on since the read began */
    if (e == NULL || memcmp(e->root, root, FILES_HASH) != 0 ||
        __atomic_exchange_n(&e->stale, 1, __ATOMIC_RELAXED))
        return;
    shoal_log(f->node, SHOAL_LOG_WARN,
              "files_changed name=\"%s\" hash=%s reason=chunk_hash "
              "action=rehash",
              e->name, e->hash);
    if (f->scanning)
        f->scan_again = 1;
    else
        scan_start(f);
}

size_t shoal_files_count(const shoal_files *f)
{
    SHOAL_LOOP_ONLY(f->node, 0);
    return f->index.n;
}

const shoal_file_info *shoal_files_at(const shoal_files *f, size_t index)
{
    SHOAL_LOOP_ONLY(f->node, NULL);
    return index < f->index.n ? &f->index.info[index] : NULL;
}

/* ---------------------------------------------------------------- life */

static void on_tick(shoal_node *node, void *user)
{
    shoal_files *f = user;
    uint64_t now = files_now(f);

    (void)node;
    if (f->share != NULL && !f->scanning && now >= f->next_scan)
        scan_start(f);
    files_search_tick(f, now);
    files_transfer_tick(f, now);
    shoal_bufcache_trim_idle(&f->chunk_bufs, FILES_BUFS_IDLE_MS);
}

/* The real path of dir, which must be a folder; made if make is set. */
static int real_dir(const char *dir, int make, char **out)
{
    struct stat st;

    *out = NULL;
    if (dir == NULL)
        return 0;
    if (make)
        mkdir(dir, 0755);
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode) ||
        (*out = realpath(dir, NULL)) == NULL)
        return SHOAL_EINVAL;
    return 0;
}

int shoal_files_new(shoal_files **out, shoal_node *node,
                    const shoal_files_config *cfg)
{
    SHOAL_LOOP_ONLY(node, SHOAL_EBUSY);
    shoal_files_config own; /* the caller's, over the defaults */
    shoal_files *f;
    int rc;

    *out = NULL;
    config_defaults(&own);
    if ((rc = shoal_cfg_take(node, "shoal_files_config", &own, sizeof(own),
                             cfg)) < 0)
        return rc;
    cfg = &own;
    if (cfg->search_ttl < 0 || cfg->search_ttl > FILES_TTL_MAX ||
        cfg->chunks_in_flight == 0 || cfg->max_transfers == 0 ||
        cfg->search_timeout_ms == 0 ||
        cfg->search_timeout_ms > FILES_FIND_MS_MAX)
        return SHOAL_EINVAL;
    if ((f = calloc(1, sizeof(*f))) == NULL)
        return SHOAL_ENOMEM;
    /* a download holds at most twice its chunks in flight (received,
     * being hashed or written); a few more for the chunks being served */
    if (shoal_bufcache_init(&f->chunk_bufs, SHOAL_FILES_CHUNK,
                            2 * cfg->chunks_in_flight + 4 <
                                    SHOAL_BUFCACHE_MAX
                                ? 2 * cfg->chunks_in_flight + 4
                                : SHOAL_BUFCACHE_MAX) < 0) {
        free(f);
        return SHOAL_ENOMEM;
    }
    f->node = node;
    f->cfg = *cfg;
    f->cfg.share_dir = f->cfg.download_dir = NULL; /* kept as real paths */
    f->classic = shoal_node_peer_id(node) == NULL;
    f->next_transfer_id = 1;
    f->share_fd = -1;
    f->no_openat2 = getenv("SHOAL_FILES_NO_OPENAT2") != NULL;
    if ((rc = real_dir(cfg->share_dir, 0, &f->share)) < 0 ||
        (rc = real_dir(cfg->download_dir, 1, &f->downloads)) < 0)
        goto fail;
    if (f->share != NULL &&
        (f->share_fd = open(f->share, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) <
            0) {
        rc = SHOAL_EINVAL;
        goto fail;
    }
    if (f->downloads != NULL) {
        size_t n = strlen(f->downloads) + sizeof("/.shoal-partial");
        if ((f->partial = malloc(n)) == NULL) {
            rc = SHOAL_ENOMEM;
            goto fail;
        }
        snprintf(f->partial, n, "%s/.shoal-partial", f->downloads);
        if (mkdir(f->partial, 0700) < 0 && errno != EEXIST) {
            rc = SHOAL_EINVAL;
            goto fail;
        }
    }
    if ((rc = shoal_timer_start(node, FILES_TICK_MS, on_tick, f, &f->tick)) <
        0)
        goto fail;
    files_search_register(f);
    files_serve_register(f);
    scan_start(f);
    *out = f;
    return 0;
fail:
    if (f->share_fd >= 0)
        close(f->share_fd);
    free(f->share);
    free(f->downloads);
    free(f->partial);
    shoal_bufcache_destroy(&f->chunk_bufs);
    free(f);
    return rc;
}

static void files_destroy(shoal_files *f)
{
    files_transfer_free_all(f);
    index_clear(&f->index);
    for (size_t i = 0; i < f->nremote; i++)
        free(f->remote[i].name);
    free(f->remote);
    while (f->scan_waiters != NULL) {
        scan_waiter *next = f->scan_waiters->next;
        free(f->scan_waiters);
        f->scan_waiters = next;
    }
    if (f->share_fd >= 0)
        close(f->share_fd);
    free(f->share);
    free(f->downloads);
    free(f->partial);
    shoal_bufcache_destroy(&f->chunk_bufs);
    free(f);
}

void shoal_files_free(shoal_files *f)
{
    if (f == NULL || f->dead)
        return;
    SHOAL_LOOP_ONLY(f->node);
    f->dead = 1;
    /* held while stopping: a search cancelled here may be the last thing a
     * transfer waited for, and must not free f under us */
    files_hold(f);
    shoal_timer_stop(f->tick);
    f->tick = NULL;
    files_search_stop(f);
    files_serve_stop(f);
    /* transfers' requests and thread-pool jobs still in flight see f->dead
     * and wind down (the node cancels requests when it stops); the last
     * one frees f */
    files_release(f);
}

void shoal_files_on_transfer(shoal_files *f, shoal_transfer_cb cb,
                             void *user)
{
    SHOAL_LOOP_ONLY(f->node);
    f->on_transfer = cb;
    f->on_transfer_user = user;
}
