/* Nothing outside the share is ever served, and nothing that is not what
 * the index says: a folder of the share swapped for a symlink to a folder
 * outside it, back and forth, while CHNK (secure) and FGET (classic)
 * requests run; symlinks as the last and a middle component refused; all
 * with openat2 and with the component walk that stands in for it. And a
 * file rewritten keeping its size and mtime: its changed chunk is refused
 * with ERRO at once, and after a rescan the new hash is served and the old
 * one is not. Every wait polls with a deadline. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "itest.h"
#include "shoal.h"
#include "shoal/files.h"

/* The service's opener (src/files/name.c), tried here on its own too. */
int files_open_beneath(int rootfd, const char *name, int no_openat2);

#define WAIT_MS 60000
#define FILE_LEN 4096
#define RACE_REQUESTS 40000   /* at most, and at most RACE_MS of them */
#define RACE_MS 8000
#define RACE_IN_FLIGHT 32

typedef struct world {
    uv_loop_t loop;
    int classic;
    char root[64];
    char share[128], outside[128];
    shoal_node *a, *b;        /* a asks, b shares */
    shoal_files *files;
    char addr[300];           /* b, as a reaches it */
} world;

/* What b logged, to count its warnings. */
static char logged[1 << 16];
static size_t logged_len;

static void log_sink(int level, const char *line, void *user)
{
    size_t n = strlen(line);

    (void)level;
    (void)user;
    if (getenv("SHOAL_DEBUG"))
        fprintf(stderr, "%s\n", line);
    if (logged_len + n + 2 < sizeof(logged)) {
        memcpy(logged + logged_len, line, n);
        logged_len += n;
        logged[logged_len++] = '\n';
        logged[logged_len] = '\0';
    }
}

static void write_fill(const char *path, int byte, size_t len)
{
    char buf[FILE_LEN];
    FILE *fp = fopen(path, "wb");

    assert_non_null(fp);
    memset(buf, byte, sizeof(buf));
    for (size_t done = 0; done < len; done += sizeof(buf))
        assert_int_equal(fwrite(buf, 1, sizeof(buf), fp), sizeof(buf));
    assert_int_equal(fclose(fp), 0);
}

static void pathf(char *out, size_t size, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    assert_true(vsnprintf(out, size, fmt, ap) < (int)size);
    va_end(ap);
}

static shoal_node *node_new(uv_loop_t *loop, int classic)
{
    shoal_config cfg;

    shoal_config_init(&cfg);
    cfg.classic = classic;
    cfg.handle_signals = 0;
    cfg.listen = classic ? "127.0.0.1:0" : "/ip4/127.0.0.1/tcp/0";
    cfg.log_level = SHOAL_LOG_INFO;
    cfg.log_cb = log_sink;
    return itest_node_new(loop, &cfg);
}

/* share/dir/f.bin all 'I'; outside/dir/f.bin all 'O', the same size (so
 * only where it was opened tells them apart); share/.swap a symlink to
 * outside/dir (hidden: never indexed), exchanged with share/dir by the
 * race. */
static void world_up(world *w, int classic, int no_openat2)
{
    char p[600], q[600];
    shoal_files_config fc;

    memset(w, 0, sizeof(*w));
    logged_len = 0;
    logged[0] = '\0';
    w->classic = classic;
    snprintf(w->root, sizeof(w->root), "/tmp/shoal-escape-XXXXXX");
    assert_non_null(mkdtemp(w->root));
    pathf(w->share, sizeof(w->share), "%s/share", w->root);
    pathf(w->outside, sizeof(w->outside), "%s/outside", w->root);
    pathf(p, sizeof(p), "%s/share/dir", w->root);
    assert_int_equal(mkdir(w->share, 0755), 0);
    assert_int_equal(mkdir(p, 0755), 0);
    pathf(p, sizeof(p), "%s/outside/dir", w->root);
    assert_int_equal(mkdir(w->outside, 0755), 0);
    assert_int_equal(mkdir(p, 0755), 0);
    pathf(p, sizeof(p), "%s/share/dir/f.bin", w->root);
    write_fill(p, 'I', FILE_LEN);
    pathf(p, sizeof(p), "%s/outside/dir/f.bin", w->root);
    write_fill(p, 'O', FILE_LEN);
    pathf(p, sizeof(p), "%s/outside/dir", w->root);
    pathf(q, sizeof(q), "%s/share/.swap", w->root);
    assert_int_equal(symlink(p, q), 0);

    assert_int_equal(uv_loop_init(&w->loop), 0);
    w->a = node_new(&w->loop, classic);
    w->b = node_new(&w->loop, classic);
    if (no_openat2)
        setenv("SHOAL_FILES_NO_OPENAT2", "1", 1);
    shoal_files_config_init(&fc);
    fc.share_dir = w->share;
    fc.rescan_ms = 3600000; /* the test asks for each scan it wants */
    assert_int_equal(shoal_files_new(&w->files, w->b, &fc), 0);
    unsetenv("SHOAL_FILES_NO_OPENAT2");
    if (classic)
        pathf(w->addr, sizeof(w->addr), "127.0.0.1:%d",
              shoal_node_port(w->b));
    else
        pathf(w->addr, sizeof(w->addr), "/ip4/127.0.0.1/tcp/%d/p2p/%s",
              shoal_node_port(w->b), shoal_node_peer_id(w->b));
}

static void world_down(world *w)
{
    shoal_node *v[2] = {w->a, w->b};
    char cmd[128];

    shoal_files_free(w->files);
    assert_true(itest_close_nodes(&w->loop, v, 2, WAIT_MS));
    assert_int_equal(uv_loop_close(&w->loop), 0);
    pathf(cmd, sizeof(cmd), "rm -rf %s", w->root);
    assert_int_equal(system(cmd), 0);
}

static void on_scanned(shoal_files *f, void *user)
{
    (void)f;
    *(int *)user = 1;
}

static void rescan(world *w)
{
    int done = 0;

    assert_int_equal(shoal_files_rescan(w->files, on_scanned, &done), 0);
    assert_true(itest_run_until(&w->loop, itest_int_nonzero, &done, WAIT_MS));
}

/* The hash b's index gives name, or NULL. */
static const char *hash_of(world *w, const char *name)
{
    for (size_t i = 0; i < shoal_files_count(w->files); i++)
        if (strcmp(shoal_files_at(w->files, i)->name, name) == 0)
            return shoal_files_at(w->files, i)->hash;
    return NULL;
}

/* One request from a to b, run to its end: its first reply in c. */
static void ask(world *w, const char *type, const char *payload,
                itest_call *c)
{
    itest_call_init(c);
    assert_int_equal(shoal_request(w->a, w->addr, type, payload,
                                   strlen(payload), 10000, itest_on_reply,
                                   itest_on_end, c),
                     0);
    assert_true(itest_run_until(&w->loop, itest_call_ended, c, WAIT_MS));
    assert_int_equal(c->status, 0);
    assert_true(c->count >= 1);
}

/* The request that reads share/dir/f.bin: CHNK of its chunk 0, or FGET. */
static void file_request(world *w, char *out, size_t size)
{
    const char *hash = hash_of(w, "dir/f.bin");

    assert_non_null(hash);
    if (w->classic)
        pathf(out, size, "dir/f.bin");
    else
        pathf(out, size, "%s 0", hash);
}

/* ------------------------------------------------------------ the race */

typedef struct swapper {
    pthread_t thread;
    const char *a, *b;
    volatile int stop;
    unsigned long swaps;
} swapper;

/* Exchanges share/dir (a folder) and share/.swap (a symlink out) as fast
 * as it can: share/dir is always there, a folder one moment and a
 * symlink to outside/dir the next. */
static void *swap_main(void *arg)
{
    swapper *s = arg;

    while (!s->stop) {
        if (renameat2(AT_FDCWD, s->a, AT_FDCWD, s->b, RENAME_EXCHANGE) == 0)
            s->swaps++;
        sched_yield(); /* valgrind runs one thread at a time */
    }
    return NULL;
}

typedef struct race {
    world *w;
    const char *type, *payload;
    size_t sent, ended, in_flight;
    size_t served, refused, outside, other;
    uint64_t until;
    char first_bad[80];
} race;

static void race_send(race *r);

typedef struct race_call {
    race *r;
    int counted;
} race_call;

static void race_on_reply(const shoal_msg *m, void *user)
{
    race_call *c = user;
    race *r = c->r;
    size_t outside = 0, inside = 0;

    if (c->counted++)
        return;
    if (strcmp(m->type, "ERRO") == 0) {
        r->refused++;
        return;
    }
    for (size_t i = 0; i < m->len; i++) {
        outside += m->data[i] == 'O';
        inside += m->data[i] == 'I';
    }
    if (outside > 0) {
        if (r->outside++ == 0)
            snprintf(r->first_bad, sizeof(r->first_bad),
                     "%s of %zu bytes, %zu from outside", m->type, m->len,
                     outside);
    } else if (inside == FILE_LEN && m->len == FILE_LEN) {
        r->served++;
    } else {
        r->other++;
    }
}

static void race_on_end(int status, void *user)
{
    race_call *c = user;
    race *r = c->r;

    (void)status;
    free(c);
    r->ended++;
    r->in_flight--;
    race_send(r);
}

static void race_send(race *r)
{
    while (r->in_flight < RACE_IN_FLIGHT && r->sent < RACE_REQUESTS &&
           itest_now_ms() < r->until) {
        race_call *c = calloc(1, sizeof(*c));
        assert_non_null(c);
        c->r = r;
        if (shoal_request(r->w->a, r->w->addr, r->type, r->payload,
                          strlen(r->payload), 10000, race_on_reply,
                          race_on_end, c) < 0) {
            free(c);
            return;
        }
        r->sent++;
        r->in_flight++;
    }
}

static int race_over(void *arg)
{
    race *r = arg;

    return r->in_flight == 0 &&
           (r->sent >= RACE_REQUESTS || itest_now_ms() >= r->until);
}

static void run_race(int classic, int no_openat2)
{
    world w;
    swapper s;
    race r;
    char payload[128], dir[600], swap[600];
    itest_call c;

    world_up(&w, classic, no_openat2);
    rescan(&w);
    file_request(&w, payload, sizeof(payload));
    /* before the race: the file is served, whole and from inside */
    ask(&w, classic ? "FGET" : "CHNK", payload, &c);
    assert_string_equal(c.type[0], classic ? "REPL" : "CHNK");
    assert_int_equal(c.len[0], FILE_LEN);
    assert_int_equal(c.data[0][0], 'I');
    itest_call_free(&c);

    memset(&s, 0, sizeof(s));
    pathf(dir, sizeof(dir), "%s/dir", w.share);
    pathf(swap, sizeof(swap), "%s/.swap", w.share);
    s.a = dir;
    s.b = swap;
    memset(&r, 0, sizeof(r));
    r.w = &w;
    r.type = classic ? "FGET" : "CHNK";
    r.payload = payload;
    r.until = itest_now_ms() + RACE_MS;
    assert_int_equal(pthread_create(&s.thread, NULL, swap_main, &s), 0);
    race_send(&r);
    assert_true(itest_run_until(&w.loop, race_over, &r, WAIT_MS + RACE_MS));
    s.stop = 1;
    assert_int_equal(pthread_join(s.thread, NULL), 0);
    if (getenv("SHOAL_DEBUG"))
        fprintf(stderr,
                "race %s%s: %zu requests, %zu served, %zu refused, "
                "%zu outside, %zu unanswered, %lu swaps\n",
                classic ? "FGET" : "CHNK", no_openat2 ? " (walk)" : "",
                r.ended, r.served, r.refused, r.outside,
                r.ended - r.served - r.refused - r.outside - r.other,
                s.swaps);
    if (r.outside > 0)
        fail_msg("expected no bytes from outside the share; %zu of %zu "
                 "replies had some (first: %s)",
                 r.outside, r.ended, r.first_bad);
    if (r.other > 0)
        fail_msg("expected each reply to be the whole file or ERRO; %zu "
                 "were neither", r.other);
    /* the race did run, and the file was served during it (a request may
     * also time out unanswered on a slow machine: that is not a leak) */
    assert_true(s.swaps > 0);
    if (r.served == 0)
        fail_msg("expected the inside file served during the race; %zu "
                 "requests, %zu refused", r.ended, r.refused);
    world_down(&w);
}

static void test_race_chnk(void **state)
{
    (void)state;
    run_race(0, 0);
}

static void test_race_chnk_walk(void **state)
{
    (void)state;
    run_race(0, 1);
}

static void test_race_fget(void **state)
{
    (void)state;
    run_race(1, 0);
}

static void test_race_fget_walk(void **state)
{
    (void)state;
    run_race(1, 1);
}

/* ------------------------------------------- symlinks, standing still */

/* The opener itself: a symlink as the last component, in the middle, and
 * one that stays inside the share, each refused; plain names open. */
static void check_opener(int no_openat2)
{
    char root[64], p[600], q[600], cmd[128];
    int rootfd, fd;
    char byte;

    snprintf(root, sizeof(root), "/tmp/shoal-escape-XXXXXX");
    assert_non_null(mkdtemp(root));
    pathf(p, sizeof(p), "%s/share/a/b", root);
    pathf(cmd, sizeof(cmd), "mkdir -p %s %s/out", p, root);
    assert_int_equal(system(cmd), 0);
    pathf(p, sizeof(p), "%s/share/a/b/in.txt", root);
    write_fill(p, 'I', FILE_LEN);
    pathf(p, sizeof(p), "%s/out/in.txt", root);
    write_fill(p, 'O', FILE_LEN);
    pathf(p, sizeof(p), "%s/out/in.txt", root);
    pathf(q, sizeof(q), "%s/share/last.txt", root);
    assert_int_equal(symlink(p, q), 0);
    pathf(p, sizeof(p), "%s/out", root);
    pathf(q, sizeof(q), "%s/share/a/mid", root);
    assert_int_equal(symlink(p, q), 0);
    pathf(q, sizeof(q), "%s/share/a/inner", root);
    assert_int_equal(symlink("b", q), 0);
    pathf(p, sizeof(p), "%s/share", root);
    rootfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(rootfd >= 0);

    fd = files_open_beneath(rootfd, "a/b/in.txt", no_openat2);
    assert_true(fd >= 0);
    assert_int_equal(read(fd, &byte, 1), 1);
    assert_int_equal(byte, 'I');
    close(fd);
    assert_int_equal(files_open_beneath(rootfd, "last.txt", no_openat2),
                     -EACCES);
    assert_int_equal(files_open_beneath(rootfd, "a/mid/in.txt", no_openat2),
                     -EACCES);
    assert_int_equal(files_open_beneath(rootfd, "a/inner/in.txt",
                                        no_openat2),
                     -EACCES);
    assert_int_equal(files_open_beneath(rootfd, "../out/in.txt", no_openat2),
                     -EINVAL);
    assert_int_equal(files_open_beneath(rootfd, "a/none.txt", no_openat2),
                     -ENOENT);
    close(rootfd);
    pathf(cmd, sizeof(cmd), "rm -rf %s", root);
    assert_int_equal(system(cmd), 0);
}

static void test_opener(void **state)
{
    (void)state;
    check_opener(0);
    check_opener(1);
}

/* Through the node: a file indexed, then made a symlink to a file of the
 * same bytes outside (last component), or its folder made a symlink to
 * an outside folder holding the same file (middle): both refused with
 * ERRO, though the bytes would hash right. */
static void check_node_symlinks(int classic, int no_openat2)
{
    world w;
    char payload[128], p[600], q[600];
    itest_call c;

    world_up(&w, classic, no_openat2);
    rescan(&w);
    file_request(&w, payload, sizeof(payload));
    /* outside/dir/f.bin becomes a copy of the inside file */
    pathf(p, sizeof(p), "%s/dir/f.bin", w.outside);
    write_fill(p, 'I', FILE_LEN);

    /* middle: share/dir -> outside/dir */
    pathf(p, sizeof(p), "%s/dir", w.share);
    pathf(q, sizeof(q), "%s/.swap", w.share);
    assert_int_equal(renameat2(AT_FDCWD, p, AT_FDCWD, q, RENAME_EXCHANGE),
                     0);
    ask(&w, classic ? "FGET" : "CHNK", payload, &c);
    assert_string_equal(c.type[0], "ERRO");
    itest_call_free(&c);
    assert_int_equal(renameat2(AT_FDCWD, p, AT_FDCWD, q, RENAME_EXCHANGE),
                     0);

    /* last: share/dir/f.bin -> outside/dir/f.bin */
    pathf(p, sizeof(p), "%s/dir/f.bin", w.share);
    pathf(q, sizeof(q), "%s/dir/.f.bin", w.share);
    assert_int_equal(rename(p, q), 0);
    pathf(q, sizeof(q), "%s/dir/f.bin", w.outside);
    assert_int_equal(symlink(q, p), 0);
    ask(&w, classic ? "FGET" : "CHNK", payload, &c);
    assert_string_equal(c.type[0], "ERRO");
    itest_call_free(&c);
    world_down(&w);
}

static void test_node_symlinks(void **state)
{
    (void)state;
    check_node_symlinks(0, 0);
    check_node_symlinks(0, 1);
    check_node_symlinks(1, 0);
    check_node_symlinks(1, 1);
}

/* ------------------------------------------------------ a changed file */

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;

    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

/* Rewritten in place, size and mtime put back: the old hash's chunk is
 * refused (ERRO) rather than served as it now reads, logged once, and a
 * rescan (the one the refusal asks for, or ours) serves the new hash and
 * not the old. */
static void test_changed_file(void **state)
{
    world w;
    char payload[128], old_hash[65], p[600];
    const char *hash;
    struct stat st;
    struct timespec times[2];
    itest_call c;
    FILE *fp;

    (void)state;
    world_up(&w, 0, 0);
    rescan(&w);
    assert_non_null(hash = hash_of(&w, "dir/f.bin"));
    snprintf(old_hash, sizeof(old_hash), "%s", hash);
    pathf(p, sizeof(p), "%s/dir/f.bin", w.share);
    assert_int_equal(stat(p, &st), 0);
    fp = fopen(p, "r+b");
    assert_non_null(fp);
    fseek(fp, 100, SEEK_SET);
    fputc('X', fp);
    assert_int_equal(fclose(fp), 0);
    times[0] = st.st_atim;
    times[1] = st.st_mtim;
    assert_int_equal(utimensat(AT_FDCWD, p, times, 0), 0);

    /* before any rescan: the bytes no longer match, so not served */
    pathf(payload, sizeof(payload), "%s 0", old_hash);
    for (int i = 0; i < 3; i++) {
        ask(&w, "CHNK", payload, &c);
        if (strcmp(c.type[0], "ERRO") != 0)
            fail_msg("expected ERRO for a chunk changed on disk; got %s of "
                     "%zu bytes",
                     c.type[0], c.len[0]);
        itest_call_free(&c);
    }
    if (count_of(logged, "files_changed") != 1)
        fail_msg("expected one files_changed line for the file; got %zu:\n%s",
                 count_of(logged, "files_changed"), logged);

    rescan(&w);
    assert_non_null(hash = hash_of(&w, "dir/f.bin"));
    assert_string_not_equal(hash, old_hash);
    ask(&w, "CHNK", payload, &c);
    assert_string_equal(c.type[0], "ERRO");
    itest_call_free(&c);
    pathf(payload, sizeof(payload), "%s 0", hash);
    ask(&w, "CHNK", payload, &c);
    assert_string_equal(c.type[0], "CHNK");
    assert_int_equal(c.len[0], FILE_LEN);
    assert_int_equal(c.data[0][100], 'X');
    itest_call_free(&c);
    pathf(payload, sizeof(payload), "%s", old_hash);
    ask(&w, "MANI", payload, &c);
    assert_string_equal(c.type[0], "ERRO");
    itest_call_free(&c);
    world_down(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_opener),
        cmocka_unit_test(test_node_symlinks),
        cmocka_unit_test(test_changed_file),
        cmocka_unit_test(test_race_chnk),
        cmocka_unit_test(test_race_chnk_walk),
        cmocka_unit_test(test_race_fget),
        cmocka_unit_test(test_race_fget_walk),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
