/* Serving what the share holds: MANI and CHNK (secure mode), FGET
 * (classic). Disk reads run on the thread pool while the request is held;
 * names go through files_open_shared(), which keeps them in the share,
 * and a chunk is served only if it still hashes to what the index says. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "files/files_internal.h"

struct files_job {
    uv_work_t work;
    files_job *next;          /* in f->jobs */
    shoal_files *f;
    shoal_req *req;           /* NULL once the service stopped */
    const char *reply_type;
    char *name;
    uint64_t off;
    size_t len;
    uint64_t expect_size;     /* FGET: 0; CHNK: the indexed size */
    int verify;               /* CHNK: the bytes must hash to chunk_hash */
    uint8_t root[FILES_HASH]; /* CHNK: the file's hash when asked */
    uint8_t chunk_hash[FILES_HASH];
    uint8_t *buf;
    int error;                /* -errno from the worker */
};

static void job_unlink(files_job *j)
{
    files_job **p = &j->f->jobs;

    while (*p != NULL && *p != j)
        p = &(*p)->next;
    if (*p == j)
        *p = j->next;
}

static void read_work(uv_work_t *w)
{
    files_job *j = w->data;
    uint64_t size;
    size_t got = 0;
    int fd = files_open_shared(j->f, j->name, &size);

    if (fd < 0) {
        j->error = fd;
        return;
    }
    if (j->expect_size == 0 && j->len == 0) { /* FGET: the whole file */
        if (size > j->f->cfg.max_classic_file) {
            j->error = -EFBIG;
            goto out;
        }
        j->len = (size_t)size;
    } else if (size != j->expect_size) {
        j->error = -ESTALE; /* changed since it was indexed */
        goto out;
    }
    /* a chunk's buffer is a kept one; a whole file (FGET) its own */
    j->buf = j->len > 0 && j->len <= SHOAL_FILES_CHUNK
                 ? shoal_bufcache_get(&j->f->chunk_bufs)
                 : malloc(j->len ? j->len : 1);
    if (j->buf == NULL) {
        j->error = -ENOMEM;
        goto out;
    }
    while (got < j->len) {
        ssize_t k = pread(fd, j->buf + got, j->len - got,
                          (off_t)(j->off + got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            j->error = k == 0 ? -ESTALE : -errno;
            break;
        }
        got += (size_t)k;
    }
    if (j->error == 0 && j->verify) {
        /* the file changed since it was hashed: these bytes are not the
         * chunk the asker named, and must not go out under that name */
        uint8_t h[FILES_HASH];
        files_sha256(j->buf, j->len, h);
        if (memcmp(h, j->chunk_hash, FILES_HASH) != 0)
            j->error = -EBADMSG;
    }
out:
    close(fd);
}

static void read_after(uv_work_t *w, int status)
{
    files_job *j = w->data;
    shoal_files *f = j->f;

    if (j->error == -EBADMSG && !f->dead)
        files_mark_stale(f, j->name, j->root); /* logs once per file */
    if (j->req != NULL) {
        if (j->error == -EBADMSG) {
            shoal_replyf(j->req, "ERRO", "File changed");
        } else if (status < 0 || j->error < 0) {
            shoal_log_limited(f->node, SHOAL_LOG_INFO, "files_read_failed",
                      "files_read_failed name=\"%s\" error=\"%s\"", j->name,
                      shoal_strerror(status < 0 ? status : j->error));
            shoal_replyf(j->req, "ERRO", "%s",
                         j->error == -ENOENT ? "File not found"
                                             : "Error reading file");
        } else {
            shoal_reply(j->req, j->reply_type, j->buf, j->len);
        }
        job_unlink(j);
        shoal_req_done(j->req);
    }
    if (j->len > 0 && j->len <= SHOAL_FILES_CHUNK)
        shoal_bufcache_put(&f->chunk_bufs, j->buf);
    else
        free(j->buf);
    free(j->name);
    free(j);
    files_release(f);
}

/* Holds req and reads len bytes at off of name (len 0 and expect_size 0:
 * the whole file) for a reply of type. check (may be NULL): the entry
 * whose chunk i the bytes must hash to. */
static void read_and_reply(shoal_files *f, shoal_req *req, const char *type,
                           const char *name, uint64_t off, size_t len,
                           uint64_t expect_size, const file_entry *check,
                           uint32_t i)
{
    files_job *j = calloc(1, sizeof(*j));

    if (j == NULL || (j->name = strdup(name)) == NULL) {
        free(j);
        shoal_replyf(req, "ERRO", "Error reading file");
        return;
    }
    j->f = f;
    j->req = req;
    j->reply_type = type;
    j->off = off;
    j->len = len;
    j->expect_size = expect_size;
    if (check != NULL) {
        /* copies: the index may move on while the job runs on the pool */
        j->verify = 1;
        memcpy(j->root, check->root, FILES_HASH);
        memcpy(j->chunk_hash, check->chunks + (size_t)i * FILES_HASH,
               FILES_HASH);
    }
    j->work.data = j;
    if (uv_queue_work(shoal_node_loop(f->node), &j->work, read_work,
                      read_after) < 0) {
        free(j->name);
        free(j);
        shoal_replyf(req, "ERRO", "Error reading file");
        return;
    }
    files_hold(f);
    shoal_req_hold(req);
    j->next = f->jobs;
    f->jobs = j;
}

static void on_mani(shoal_req *req, const shoal_msg *msg, void *user)
{
    shoal_files *f = user;
    uint8_t root[FILES_HASH], *out;
    const file_entry *e;
    size_t len;

    if (files_hash_parse(msg->data, msg->len, root) < 0) {
        shoal_replyf(req, "ERRO", "Manifest: incorrect arguments");
        return;
    }
    if ((e = files_find_hash(f, root)) == NULL) {
        shoal_replyf(req, "ERRO", "File not found");
        return;
    }
    len = FILES_MANIFEST_HEADER + (size_t)e->nchunks * FILES_HASH;
    if ((out = malloc(len)) == NULL) {
        shoal_replyf(req, "ERRO", "Error reading file");
        return;
    }
    files_manifest_encode(e->size, e->chunks, e->nchunks, out);
    shoal_reply(req, "MANI", out, len);
    free(out);
}

static void on_chnk(shoal_req *req, const shoal_msg *msg, void *user)
{
    shoal_files *f = user;
    uint8_t root[FILES_HASH];
    const file_entry *e;
    uint32_t i;

    if (files_chunk_parse(msg->data, msg->len, root, &i) < 0) {
        shoal_replyf(req, "ERRO", "Chunk: incorrect arguments");
        return;
    }
    if ((e = files_find_hash(f, root)) == NULL || i >= e->nchunks) {
        shoal_replyf(req, "ERRO", "File not found");
        return;
    }
    if (__atomic_load_n(&e->stale, __ATOMIC_RELAXED)) {
        shoal_replyf(req, "ERRO", "File changed"); /* until rehashed */
        return;
    }
    read_and_reply(f, req, "CHNK", e->name, (uint64_t)i * SHOAL_FILES_CHUNK,
                   files_chunk_len(e->size, i), e->size, e, i);
}

/* FGET <name>: the reference's bytes (one REPL with the whole file), but
 * only files in the index, so nothing outside the share; name is what
 * QUER answered (files_find_classic). */
static void on_fget(shoal_req *req, const shoal_msg *msg, void *user)
{
    shoal_files *f = user;
    char name[SHOAL_FILES_NAME_MAX + 1];
    const file_entry *e;

    if (msg->len == 0 || msg->len > SHOAL_FILES_NAME_MAX ||
        shoal_files_name_ok((const char *)msg->data, msg->len) < 0) {
        shoal_replyf(req, "ERRO", "File not found");
        return;
    }
    memcpy(name, msg->data, msg->len);
    name[msg->len] = '\0';
    if ((e = files_find_classic(f, name)) == NULL) {
        shoal_replyf(req, "ERRO", "File not found");
        return;
    }
    if (e->size > f->cfg.max_classic_file) {
        shoal_replyf(req, "ERRO", "Error reading file");
        return;
    }
    read_and_reply(f, req, "REPL", e->name, 0, 0, 0, NULL, 0);
}

void files_serve_register(shoal_files *f)
{
    if (f->share == NULL)
        return;
    if (f->classic) {
        shoal_handle(f->node, "FGET", on_fget, f);
    } else {
        shoal_handle(f->node, "MANI", on_mani, f);
        shoal_handle(f->node, "CHNK", on_chnk, f);
    }
}

void files_serve_stop(shoal_files *f)
{
    shoal_handle(f->node, "FGET", NULL, NULL);
    shoal_handle(f->node, "MANI", NULL, NULL);
    shoal_handle(f->node, "CHNK", NULL, NULL);
    /* reads in flight finish on the pool; their requests end now */
    while (f->jobs != NULL) {
        files_job *j = f->jobs;
        f->jobs = j->next;
        shoal_req_done(j->req);
        j->req = NULL;
    }
}
