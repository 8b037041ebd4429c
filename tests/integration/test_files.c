/* The files service (include/shoal/files.h) between real nodes on one
 * loop: indexing, search across hops, downloads by hash and by name, a
 * chunk corrupted on one holder, a holder that dies mid-transfer, resuming
 * a partial file, path safety, bad payloads; and the classic QUER, RESP and
 * FGET. Every wait polls with a deadline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "itest.h"
#include "shoal.h"
#include "shoal/files.h"

#define WAIT_MS 60000
#define MAX_NODES 4

typedef struct net {
    uv_loop_t loop;
    int classic;
    size_t n;
    shoal_node *node[MAX_NODES];
    shoal_files *files[MAX_NODES];
    char dir[MAX_NODES][128];    /* node i's share: DIR/share, downloads */
    char root[64];
    int closed;
} net;

/* What the nodes logged, to check the reasons they give. */
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

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");

    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    uint8_t *buf;
    long n;

    if (fp == NULL)
        return NULL;
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    buf = malloc(n > 0 ? (size_t)n : 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

static void path_of(const net *nt, size_t i, const char *sub, const char *name,
                    char *out, size_t size)
{
    snprintf(out, size, "%s/%s/%s", nt->dir[i], sub, name);
}

static void net_up(net *nt, size_t n, int classic)
{
    char cmd[512];

    memset(nt, 0, sizeof(*nt));
    logged_len = 0;
    logged[0] = '\0';
    nt->classic = classic;
    nt->n = n;
    snprintf(nt->root, sizeof(nt->root), "/tmp/shoal-files-XXXXXX");
    assert_non_null(mkdtemp(nt->root));
    assert_int_equal(uv_loop_init(&nt->loop), 0);
    for (size_t i = 0; i < n; i++) {
        shoal_config cfg;
        snprintf(nt->dir[i], sizeof(nt->dir[i]), "%s/n%zu", nt->root, i);
        snprintf(cmd, sizeof(cmd), "mkdir -p %s/share %s/downloads",
                 nt->dir[i], nt->dir[i]);
        assert_int_equal(system(cmd), 0);
        shoal_config_init(&cfg);
        cfg.classic = classic;
        cfg.handle_signals = 0;
        cfg.listen = "127.0.0.1:0";
        cfg.log_level = SHOAL_LOG_INFO;
        cfg.log_cb = log_sink;
        cfg.max_message = 64u << 20;
        assert_int_equal(shoal_node_new(&nt->node[i], &nt->loop, &cfg), 0);
        assert_int_equal(shoal_membership_enable(nt->node[i]), 0);
    }
}

static void files_up_ms(net *nt, size_t i, unsigned in_flight,
                        uint32_t rescan_ms)
{
    shoal_files_config fc;
    char share[256], dl[256];

    shoal_files_config_init(&fc);
    snprintf(share, sizeof(share), "%s/share", nt->dir[i]);
    snprintf(dl, sizeof(dl), "%s/downloads", nt->dir[i]);
    fc.share_dir = share;
    fc.download_dir = dl;
    fc.rescan_ms = rescan_ms;
    fc.search_timeout_ms = nt->classic ? 8000 : 20000; /* as search() */
    if (in_flight)
        fc.chunks_in_flight = in_flight;
    assert_int_equal(shoal_files_new(&nt->files[i], nt->node[i], &fc), 0);
}

static void files_up(net *nt, size_t i, unsigned in_flight)
{
    files_up_ms(nt, i, in_flight, 200);
}

/* i knows j (one way: the table of i). */
static void link_peers(net *nt, size_t i, size_t j)
{
    assert_int_equal(shoal_peer_add(nt->node[i], shoal_node_id(nt->node[j]),
                                    "127.0.0.1",
                                    (uint16_t)shoal_node_port(nt->node[j])),
                     0);
}

static void on_closed(shoal_node *n, void *user)
{
    (void)n;
    ((net *)user)->closed++;
}

static int all_closed(void *arg)
{
    net *nt = arg;
    return nt->closed == (int)nt->n;
}

static void kill_node(net *nt, size_t i)
{
    if (nt->files[i] != NULL)
        shoal_files_free(nt->files[i]);
    nt->files[i] = NULL;
    shoal_node_close(nt->node[i], on_closed, nt);
    nt->node[i] = NULL;
}

static void net_down(net *nt)
{
    char cmd[512];

    for (size_t i = 0; i < nt->n; i++)
        if (nt->node[i] != NULL)
            kill_node(nt, i);
    assert_true(itest_run_until(&nt->loop, all_closed, nt, WAIT_MS));
    /* thread-pool jobs still running end too; then the loop is empty */
    while (uv_loop_close(&nt->loop) == UV_EBUSY)
        uv_run(&nt->loop, UV_RUN_ONCE);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", nt->root);
    assert_int_equal(system(cmd), 0);
}

typedef struct count_wait {
    shoal_files *f;
    size_t want;
} count_wait;

static int has_files(void *arg)
{
    count_wait *w = arg;
    return shoal_files_count(w->f) >= w->want;
}

static void wait_indexed(net *nt, size_t i, size_t want)
{
    count_wait w = {nt->files[i], want};
    assert_true(itest_run_until(&nt->loop, has_files, &w, WAIT_MS));
}

/* ---------------------------------------------------------- searching */

typedef struct search_out {
    int done, status;
    size_t count;
    char name[8][256];
    char hash[8][65];
    uint64_t size[8];
    size_t holders[8];
} search_out;

static void on_search(shoal_files *f, int status,
                      const shoal_search_result *r, size_t count, void *user)
{
    search_out *o = user;

    (void)f;
    o->done = 1;
    o->status = status;
    o->count = count;
    for (size_t i = 0; i < count && i < 8; i++) {
        snprintf(o->name[i], sizeof(o->name[i]), "%s", r[i].name);
        snprintf(o->hash[i], sizeof(o->hash[i]), "%s", r[i].hash);
        o->size[i] = r[i].size;
        o->holders[i] = r[i].nholders;
    }
}

static int search_done(void *arg)
{
    return ((search_out *)arg)->done;
}

static void search(net *nt, size_t i, const char *key, search_out *o)
{
    /* A secure search ends when every peer has answered, so a long
     * deadline costs nothing unless the machine is slow (valgrind); a
     * classic one always lasts its deadline (RESPs have no end). */
    uint32_t ms = nt->classic ? 8000 : 20000;

    memset(o, 0, sizeof(*o));
    assert_int_equal(shoal_files_search(nt->files[i], key, ms, on_search, o),
                     0);
    assert_true(itest_run_until(&nt->loop, search_done, o, WAIT_MS));
    assert_int_equal(o->status, 0);
}

typedef struct transfer_wait {
    shoal_files *f;
    unsigned id;
    uint64_t at_least;   /* or: wait until this many bytes are verified */
} transfer_wait;

static int transfer_over(void *arg)
{
    transfer_wait *w = arg;
    shoal_transfer_info info;

    if (shoal_transfer_get(w->f, w->id, &info) < 0)
        return 1;
    if (w->at_least)
        return info.received >= w->at_least ||
               info.state >= SHOAL_TRANSFER_DONE;
    return info.state == SHOAL_TRANSFER_DONE ||
           info.state == SHOAL_TRANSFER_FAILED;
}

static void get(net *nt, size_t i, const char *what,
                shoal_transfer_info *info)
{
    transfer_wait w = {nt->files[i], 0, 0};

    assert_int_equal(shoal_files_get(nt->files[i], what, &w.id), 0);
    assert_true(itest_run_until(&nt->loop, transfer_over, &w, WAIT_MS));
    assert_int_equal(shoal_transfer_get(nt->files[i], w.id, info), 0);
}

static void assert_same_file(const char *a, const char *b)
{
    size_t la, lb;
    uint8_t *da = read_file(a, &la), *db = read_file(b, &lb);

    assert_non_null(da);
    assert_non_null(db);
    assert_int_equal(la, lb);
    assert_memory_equal(da, db, la);
    free(da);
    free(db);
}

static uint8_t *random_bytes(size_t len)
{
    uint8_t *p = malloc(len);
    assert_non_null(p);
    randombytes_buf(p, len);
    return p;
}

/* ---------------------------------------------------------- the tests */

/* A -> B -> C: C's files found from A two hops away, by substring (any
 * case) and by hash, and fetched byte-exact by hash and by a name with
 * spaces, from a subfolder. */
static void test_search_and_get(void **state)
{
    net nt;
    search_out o;
    shoal_transfer_info info;
    char src[600], path[600];
    uint8_t *data = random_bytes(3 * SHOAL_FILES_CHUNK + 12345);

    (void)state;
    net_up(&nt, 3, 0);
    path_of(&nt, 2, "share", "sub", src, sizeof(src));
    mkdir(src, 0755);
    path_of(&nt, 2, "share", "sub/Data File.bin", src, sizeof(src));
    write_file(src, data, 3 * SHOAL_FILES_CHUNK + 12345);
    path_of(&nt, 2, "share", "hello world.txt", path, sizeof(path));
    write_file(path, "hello\n", 6);
    path_of(&nt, 2, "share", ".hidden", path, sizeof(path));
    write_file(path, "x", 1);
    for (size_t i = 0; i < 3; i++)
        files_up(&nt, i, 0);
    link_peers(&nt, 0, 1);
    link_peers(&nt, 1, 2);
    wait_indexed(&nt, 2, 2);
    assert_int_equal(shoal_files_count(nt.files[2]), 2); /* not .hidden */
    assert_string_equal(shoal_files_at(nt.files[2], 0)->name,
                        "hello world.txt");
    assert_string_equal(shoal_files_at(nt.files[2], 1)->name,
                        "sub/Data File.bin");

    /* white space around a key is not part of it */
    search(&nt, 0, " \tdata file  ", &o);
    assert_int_equal(o.count, 1);
    search(&nt, 2, "hello ", &o);
    assert_int_equal(o.count, 1); /* locally too */
    assert_int_equal(shoal_files_search(nt.files[0], "  ", 0, on_search, &o),
                     SHOAL_EINVAL);
    search(&nt, 0, "data file", &o);
    assert_int_equal(o.count, 1);
    assert_string_equal(o.name[0], "sub/Data File.bin");
    assert_int_equal(o.size[0], 3 * SHOAL_FILES_CHUNK + 12345);
    assert_int_equal(o.holders[0], 1);
    assert_string_equal(o.hash[0], shoal_files_at(nt.files[2], 1)->hash);

    get(&nt, 0, o.hash[0], &info);
    assert_int_equal(info.state, SHOAL_TRANSFER_DONE);
    assert_int_equal(info.received, info.size);
    path_of(&nt, 0, "downloads", "Data File.bin", path, sizeof(path));
    assert_string_equal(info.path, path);
    assert_same_file(src, path);

    get(&nt, 0, "hello world.txt", &info);
    assert_int_equal(info.state, SHOAL_TRANSFER_DONE);
    path_of(&nt, 0, "downloads", "hello world.txt", path, sizeof(path));
    assert_same_file(path, info.path);
    /* again: a second copy under a new name, the first left alone */
    get(&nt, 0, "hello world.txt", &info);
    assert_int_equal(info.state, SHOAL_TRANSFER_DONE);
    path_of(&nt, 0, "downloads", "hello world (1).txt", path, sizeof(path));
    assert_string_equal(info.path, path);

    /* nobody has it */
    get(&nt, 0, "no such file", &info);
    assert_int_equal(info.state, SHOAL_TRANSFER_FAILED);
    assert_int_equal(info.error, SHOAL_ENOENT);
    free(data);
    net_down(&nt);
}

/* B and C hold the same file; B's copy has two chunks corrupted behind
 * the index's back. A gets it from both: B refuses the chunks that no
 * longer match its hashes (ERRO, not the bytes), C serves them, and the
 * file is right. */
static void test_corrupt_chunk(void **state)
{
    net nt;
    search_out o;
    shoal_transfer_info info;
    char b[600], c[600], path[600];
    size_t len = 6 * SHOAL_FILES_CHUNK;
    uint8_t *data = random_bytes(len);
    struct stat st;
    struct timespec times[2];
    FILE *fp;

    (void)state;
    net_up(&nt, 3, 0);
    path_of(&nt, 1, "share", "same.bin", b, sizeof(b));
    path_of(&nt, 2, "share", "same.bin", c, sizeof(c));
    write_file(b, data, len);
    write_file(c, data, len);
    /* B scans only at the start: its index must not see the change
     * before the download asks */
    files_up(&nt, 0, 0);
    files_up_ms(&nt, 1, 0, 3600000);
    files_up(&nt, 2, 0);
    link_peers(&nt, 0, 1);
    link_peers(&nt, 0, 2);
    wait_indexed(&nt, 1, 1);
    wait_indexed(&nt, 2, 1);
    /* corrupt B's chunk 1 and 4, keeping size and times: B goes on
     * offering the old hash until it rescans */
    assert_int_equal(stat(b, &st), 0);
    fp = fopen(b, "r+b");
    assert_non_null(fp);
    fseek(fp, SHOAL_FILES_CHUNK + 7, SEEK_SET);
    fputc(data[SHOAL_FILES_CHUNK + 7] ^ 0xff, fp);
    fseek(fp, 4 * SHOAL_FILES_CHUNK + 7, SEEK_SET);
    fputc(data[4 * SHOAL_FILES_CHUNK + 7] ^ 0xff, fp);
    fclose(fp);
    times[0] = st.st_atim;
    times[1] = st.st_mtim;
    assert_int_equal(utimensat(AT_FDCWD, b, times, 0), 0);

    search(&nt, 0, "same", &o);
    assert_int_equal(o.count, 1);
    assert_int_equal(o.holders[0], 2);
    get(&nt, 0, o.hash[0], &info);
    assert_int_equal(info.state, SHOAL_TRANSFER_DONE);
    path_of(&nt, 0, "downloads", "same.bin", path, sizeof(path));
    assert_same_file(c, path);
    /* B checked what it read against its own hashes and answered ERRO
     * instead: no wrong byte reached A, and B said so once */
    assert_null(strstr(logged, "transfer_chunk_rejected"));
    assert_non_null(strstr(logged, "files_changed"));
    assert_non_null(strstr(logged, "reason=chunk_hash"));
    free(data);
    net_down(&nt);
}

/* B dies while A downloads from B and C: C finishes it. */
static void test_holder_dies(void **state)
{
    net nt;
    search_out o;
    shoal_transfer_info info;
    char b[600], c[600], path[600];
    size_t len = 48 * SHOAL_FILES_CHUNK;
    uint8_t *data = random_bytes(len);
    transfer_wait w;

    (void)state;
    net_up(&nt, 3, 0);
    path_of(&nt, 1, "share", "big.bin", b, sizeof(b));
    path_of(&nt, 2, "share", "big.bin", c, sizeof(c));
    write_file(b, data, len);
    write_file(c, data, len);
    files_up(&nt, 0, 2); /* few in flight: the transfer lasts a while */
    files_up(&nt, 1, 0);
    files_up(&nt, 2, 0);
    link_peers(&nt, 0, 1);
    link_peers(&nt, 0, 2);
    wait_indexed(&nt, 1, 1);
    wait_indexed(&nt, 2, 1);
    search(&nt, 0, "big", &o);
    assert_int_equal(o.holders[0], 2);
    w.f = nt.files[0];
    w.at_least = 2 * SHOAL_FILES_CHUNK;
    assert_int_equal(shoal_files_get(nt.files[0], o.hash[0], &w.id), 0);
    assert_true(itest_run_until(&nt.loop, transfer_over, &w, WAIT_MS));
    assert_int_equal(shoal_transfer_get(nt.files[0], w.id, &info), 0);
    assert_int_equal(info.state, SHOAL_TRANSFER_RUNNING);
    kill_node(&nt, 1);
    w.at_least = 0;
    assert_true(itest_run_until(&nt.loop, transfer_over, &w, WAIT_MS));
    assert_int_equal(shoal_transfer_get(nt.files[0], w.id, &info), 0);
    assert_int_equal(info.state, SHOAL_TRANSFER_DONE);
    path_of(&nt, 0, "downloads", "big.bin", path, sizeof(path));
    assert_same_file(c, path);
    free(data);
    net_down(&nt);
}

/* A partial file from an earlier try: its verified chunks are kept, one
 * damaged chunk is fetched again, and nothing appears before the end. */
static void test_resume(void **state)
{
    net nt;
    search_out o;
    shoal_transfer_info info;
    char src[600], part[800], path[600];
    size_t len = 5 * SHOAL_FILES_CHUNK + 99;
    uint8_t *data = random_bytes(len);

    (void)state;
    net_up(&nt, 2, 0);
    path_of(&nt, 1, "share", "r.bin", src, sizeof(src));
    write_file(src, data, len);
    files_up(&nt, 0, 0);
    files_up(&nt, 1, 0);
    link_peers(&nt, 0, 1);
    wait_indexed(&nt, 1, 1);
    search(&nt, 0, "r.bin", &o);
    assert_int_equal(o.count, 1);
    /* three chunks on disk already, the second one damaged */
    data[SHOAL_FILES_CHUNK] ^= 1;
    snprintf(part, sizeof(part), "%s/downloads/.shoal-partial/%s.part",
             nt.dir[0], o.hash[0]);
    write_file(part, data, 3 * SHOAL_FILES_CHUNK);
    data[SHOAL_FILES_CHUNK] ^= 1;
    get(&nt, 0, o.hash[0], &info);
    assert_int_equal(info.state, SHOAL_TRANSFER_DONE);
    assert_int_equal(info.resumed, 2 * SHOAL_FILES_CHUNK);
    path_of(&nt, 0, "downloads", "r.bin", path, sizeof(path));
    assert_same_file(src, path);
    assert_int_equal(access(part, F_OK), -1); /* moved into place */
    free(data);
    net_down(&nt);
}

/* The index follows the share: a file copied in appears, one removed goes. */
typedef struct name_wait {
    shoal_files *f;
    const char *name;
    int present;
} name_wait;

static int name_is(void *arg)
{
    name_wait *w = arg;
    int found = 0;

    for (size_t i = 0; i < shoal_files_count(w->f); i++)
        found |= strcmp(shoal_files_at(w->f, i)->name, w->name) == 0;
    return found == w->present;
}

typedef struct size_wait {
    shoal_files *f;
    size_t index;
    uint64_t size;
} size_wait;

static int size_is(void *arg)
{
    size_wait *w = arg;
    const shoal_file_info *fi = shoal_files_at(w->f, w->index);
    return fi != NULL && fi->size == w->size;
}

static void test_index_follows(void **state)
{
    net nt;
    char path[600];
    name_wait w;

    (void)state;
    net_up(&nt, 1, 0);
    path_of(&nt, 0, "share", "first.txt", path, sizeof(path));
    write_file(path, "1", 1);
    files_up(&nt, 0, 0);
    wait_indexed(&nt, 0, 1);
    path_of(&nt, 0, "share", "later one.txt", path, sizeof(path));
    write_file(path, "22", 2);
    w.f = nt.files[0];
    w.name = "later one.txt";
    w.present = 1;
    assert_true(itest_run_until(&nt.loop, name_is, &w, WAIT_MS));
    /* changed in place: hashed again */
    {
        size_wait sw = {w.f, 1, 3};
        char before[65];
        snprintf(before, sizeof(before), "%s", shoal_files_at(w.f, 1)->hash);
        write_file(path, "333", 3);
        assert_true(itest_run_until(&nt.loop, size_is, &sw, WAIT_MS));
        assert_string_not_equal(shoal_files_at(w.f, 1)->hash, before);
    }
    assert_int_equal(unlink(path), 0);
    w.present = 0;
    assert_true(itest_run_until(&nt.loop, name_is, &w, WAIT_MS));
    net_down(&nt);
}

/* A download folder that fills up: the transfer fails with ENOSPC, and
 * nothing appears under the file's name. Needs a small tmpfs (root). */
static void test_disk_full(void **state)
{
    net nt;
    search_out o;
    shoal_transfer_info info;
    char src[600], dl[600], cmd[1400], path[600];
    size_t len = 8 * SHOAL_FILES_CHUNK;
    uint8_t *data = random_bytes(len);
    int mounted;

    (void)state;
    net_up(&nt, 2, 0);
    path_of(&nt, 0, "downloads", "", dl, sizeof(dl));
    snprintf(cmd, sizeof(cmd), "mount -t tmpfs -o size=3m tmpfs %s 2>/dev/null",
             dl);
    mounted = system(cmd) == 0;
    if (!mounted) {
        free(data);
        net_down(&nt);
        skip(); /* not root, or no mount here */
    }
    path_of(&nt, 1, "share", "large.bin", src, sizeof(src));
    write_file(src, data, len);
    files_up(&nt, 0, 0);
    files_up(&nt, 1, 0);
    link_peers(&nt, 0, 1);
    wait_indexed(&nt, 1, 1);
    search(&nt, 0, "large", &o);
    get(&nt, 0, o.hash[0], &info);
    assert_int_equal(info.state, SHOAL_TRANSFER_FAILED);
    assert_int_equal(info.error, UV_ENOSPC);
    path_of(&nt, 0, "downloads", "large.bin", path, sizeof(path));
    assert_int_equal(access(path, F_OK), -1);
    assert_non_null(strstr(logged, "reason=disk_full"));
    shoal_files_free(nt.files[0]);
    nt.files[0] = NULL;
    snprintf(cmd, sizeof(cmd), "umount %s", dl);
    /* the files service is gone; its jobs may still hold the folder */
    for (int i = 0; i < 100 && system(cmd) != 0; i++)
        uv_run(&nt.loop, UV_RUN_NOWAIT), usleep(10000);
    free(data);
    net_down(&nt);
}

/* Names that must never be opened, and payloads that must be refused,
 * while the node keeps serving. */
static void test_names_and_bad_payloads(void **state)
{
    static const char *bad[] = {"",          "/etc/passwd", "../x",
                                "a/../../x", "a//b",        "./a",
                                "a/.",       "a\\b",        "a\nb"};
    net nt;
    char addr[300], path[600], target[600], big[SHOAL_FILES_NAME_MAX + 2];
    itest_call call;
    shoal_transfer_info info;
    static const char *payloads[][2] = {
        {"MANI", ""},
        {"MANI", "zz"},
        {"MANI", "0000000000000000000000000000000000000000000000000000000000000000"},
        {"CHNK", "0000000000000000000000000000000000000000000000000000000000000000"},
        {"CHNK", "0000000000000000000000000000000000000000000000000000000000000000 x"},
        {"CHNK", "0000000000000000000000000000000000000000000000000000000000000000 99999999999"},
        {"FIND", "nothex 1 100 k"},
        {"FIND", "0123456789abcdef 99 100 k"},
        {"FIND", "0123456789abcdef 1 0 k"},
        {"FIND", "0123456789abcdef 1 100 "},
        {"FIND", "0123456789abcdef 1 100    "}, /* a key of spaces only */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(shoal_files_name_ok(bad[i], strlen(bad[i])),
                         SHOAL_EINVAL);
    assert_int_equal(shoal_files_name_ok("a\0b", 3), SHOAL_EINVAL);
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(shoal_files_name_ok(big, strlen(big)), SHOAL_EINVAL);
    assert_int_equal(shoal_files_name_ok("ok name/é.txt", 14), 0);

    net_up(&nt, 2, 0);
    path_of(&nt, 1, "share", "fine.txt", path, sizeof(path));
    write_file(path, "fine", 4);
    /* a symlink out of the share is not shared */
    snprintf(target, sizeof(target), "%s/outside.txt", nt.root);
    write_file(target, "secret", 6);
    path_of(&nt, 1, "share", "link.txt", path, sizeof(path));
    assert_int_equal(symlink(target, path), 0);
    files_up(&nt, 0, 0);
    files_up(&nt, 1, 0);
    link_peers(&nt, 0, 1);
    wait_indexed(&nt, 1, 1);
    assert_int_equal(shoal_files_count(nt.files[1]), 1);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(shoal_files_get(nt.files[0], bad[i], NULL),
                         SHOAL_EINVAL);
    assert_int_equal(shoal_files_get(nt.files[0], big, NULL), SHOAL_EINVAL);
    get(&nt, 0, "link.txt", &info);
    assert_int_equal(info.state, SHOAL_TRANSFER_FAILED);

    snprintf(addr, sizeof(addr), "/ip4/127.0.0.1/tcp/%d/p2p/%s",
             shoal_node_port(nt.node[1]), shoal_node_peer_id(nt.node[1]));
    for (size_t i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
        itest_call_init(&call);
        assert_int_equal(shoal_request(nt.node[0], addr, payloads[i][0],
                                       payloads[i][1],
                                       strlen(payloads[i][1]), 5000,
                                       itest_on_reply, itest_on_end, &call),
                         0);
        assert_true(itest_run_until(&nt.loop, itest_call_ended, &call,
                                    WAIT_MS));
        assert_int_equal(call.status, 0);
        assert_int_equal(call.count, 1);
        assert_string_equal(call.type[0], "ERRO");
        itest_call_free(&call);
    }
    /* and it still serves */
    {
        search_out o;
        search(&nt, 0, "fine", &o);
        assert_int_equal(o.count, 1);
    }
    net_down(&nt);
}

/* Classic: QUER floods (two hops), RESP comes back, FGET fetches; every
 * match is answered; FGET outside the share is refused. */
static void test_classic(void **state)
{
    net nt;
    search_out o;
    shoal_transfer_info info;
    char src[600], path[600], addr[64];
    uint8_t *data = random_bytes(2 * SHOAL_FILES_CHUNK + 5);
    itest_call call;
    static const char *refused[] = {"../n0/share/x", "/etc/passwd",
                                    "missing.mp3"};

    (void)state;
    net_up(&nt, 3, 1);
    path_of(&nt, 2, "share", "song.mp3", src, sizeof(src));
    write_file(src, data, 2 * SHOAL_FILES_CHUNK + 5);
    path_of(&nt, 2, "share", "song-2.mp3", path, sizeof(path));
    write_file(path, "two", 3);
    for (size_t i = 0; i < 3; i++)
        files_up(&nt, i, 0);
    link_peers(&nt, 0, 1);
    link_peers(&nt, 1, 2);
    link_peers(&nt, 2, 1); /* a cycle: B <-> C */
    wait_indexed(&nt, 2, 2);
    search(&nt, 0, "song", &o);
    assert_int_equal(o.count, 2);
    get(&nt, 0, "song.mp3", &info);
    assert_int_equal(info.state, SHOAL_TRANSFER_DONE);
    path_of(&nt, 0, "downloads", "song.mp3", path, sizeof(path));
    assert_same_file(src, path);

    snprintf(addr, sizeof(addr), "127.0.0.1:%d", shoal_node_port(nt.node[2]));
    for (size_t i = 0; i < 3; i++) {
        itest_call_init(&call);
        assert_int_equal(shoal_request(nt.node[0], addr, "FGET", refused[i],
                                       strlen(refused[i]), 5000,
                                       itest_on_reply, itest_on_end, &call),
                         0);
        assert_true(itest_run_until(&nt.loop, itest_call_ended, &call,
                                    WAIT_MS));
        assert_true(itest_reply_is(&call, 0, "ERRO", "File not found"));
        itest_call_free(&call);
    }
    free(data);
    net_down(&nt);
}

typedef struct stream_out {
    uv_loop_t *loop;
    uint64_t first_ms;       /* loop time of the first result; 0: none */
    unsigned found;
    char name[256];
    search_out end;
} stream_out;

static void on_found(shoal_files *f, const shoal_search_result *r, void *user)
{
    stream_out *o = user;

    (void)f;
    if (o->found++ == 0) {
        o->first_ms = uv_now(o->loop);
        snprintf(o->name, sizeof(o->name), "%s", r->name);
    }
    assert_false(o->end.done); /* never after the end */
}

static void on_stream_end(shoal_files *f, int status,
                          const shoal_search_result *r, size_t count,
                          void *user)
{
    on_search(f, status, r, count, &((stream_out *)user)->end);
}

static int first_found(void *arg)
{
    return ((stream_out *)arg)->found > 0;
}

/* Classic, as the tutorial's programs need it: a name with a space is
 * fetched; files in folders are offered by their base name (which the
 * reference GUI can save), served by it, the shallowest (then first in
 * name order) of several with one base name and only that one; a key with
 * white space around it finds what it names; results come as they
 * arrive, and a download starts on the first holder, well before the
 * search's timeout (8 s here). */
static void test_classic_names_and_streaming(void **state)
{
    net nt;
    search_out o;
    stream_out so;
    shoal_transfer_info info;
    char path[600], addr[64];
    itest_call call;
    uint64_t t0;

    (void)state;
    net_up(&nt, 2, 1);
    path_of(&nt, 1, "share", "c space.txt", path, sizeof(path));
    write_file(path, "spaced", 6);
    path_of(&nt, 1, "share", "a", path, sizeof(path));
    mkdir(path, 0755);
    path_of(&nt, 1, "share", "b", path, sizeof(path));
    mkdir(path, 0755);
    path_of(&nt, 1, "share", "b/deep", path, sizeof(path));
    mkdir(path, 0755);
    path_of(&nt, 1, "share", "a/sub.txt", path, sizeof(path));
    write_file(path, "in a", 4);
    path_of(&nt, 1, "share", "b/sub.txt", path, sizeof(path));
    write_file(path, "in b", 4);
    path_of(&nt, 1, "share", "b/deep/top.txt", path, sizeof(path));
    write_file(path, "deep", 4);
    path_of(&nt, 1, "share", "top.txt", path, sizeof(path));
    write_file(path, "top", 3);
    path_of(&nt, 1, "share", "b/deep/only.txt", path, sizeof(path));
    write_file(path, "only", 4);
    files_up(&nt, 0, 0);
    files_up(&nt, 1, 0);
    link_peers(&nt, 0, 1);
    wait_indexed(&nt, 1, 6);

    /* results as they come (from the network: nothing is known yet), the
     * first long before the end */
    memset(&so, 0, sizeof(so));
    so.loop = &nt.loop;
    t0 = uv_now(&nt.loop);
    assert_int_equal(shoal_files_search_stream(nt.files[0], "space", 8000,
                                               on_found, on_stream_end, &so),
                     0);
    assert_true(itest_run_until(&nt.loop, first_found, &so, WAIT_MS));
    assert_string_equal(so.name, "c space.txt");
    assert_false(so.end.done);
    assert_true(so.first_ms - t0 < 4000);
    assert_true(itest_run_until(&nt.loop, search_done, &so.end, WAIT_MS));
    assert_int_equal(so.end.count, 1);
    assert_int_equal(so.found, 1);

    /* a download starts on the first holder: done in less than half the
     * search's timeout */
    t0 = uv_now(&nt.loop);
    get(&nt, 0, "top.txt", &info);
    assert_int_equal(info.state, SHOAL_TRANSFER_DONE);
    assert_true(uv_now(&nt.loop) - t0 < 4000);
    {
        size_t len;
        uint8_t *got = read_file(info.path, &len);
        assert_non_null(got);
        assert_int_equal(len, 3);
        assert_memory_equal(got, "top", 3);
        free(got);
    }

    /* by base name, one result per base name */
    search(&nt, 0, "sub", &o);
    assert_int_equal(o.count, 1);
    assert_string_equal(o.name[0], "sub.txt");
    search(&nt, 0, "top", &o);
    assert_int_equal(o.count, 1);
    assert_string_equal(o.name[0], "top.txt");
    search(&nt, 0, "only", &o);
    assert_int_equal(o.count, 1);
    assert_string_equal(o.name[0], "only.txt");
    search(&nt, 0, "deep", &o); /* folders are not part of what is offered */
    assert_int_equal(o.count, 0);
    /* a key with white space around it */
    search(&nt, 0, " space\t", &o);
    assert_int_equal(o.count, 1);
    assert_string_equal(o.name[0], "c space.txt");

    /* served by those names: the first of a/ and b/, the top-level one */
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", shoal_node_port(nt.node[1]));
    {
        static const char *ask[][2] = {
            {"sub.txt", "in a"},   {"top.txt", "top"},
            {"only.txt", "only"},  {"b/sub.txt", "in b"},
            {"c space.txt", "spaced"},
        };
        for (size_t i = 0; i < sizeof(ask) / sizeof(ask[0]); i++) {
            itest_call_init(&call);
            assert_int_equal(shoal_request(nt.node[0], addr, "FGET",
                                           ask[i][0], strlen(ask[i][0]),
                                           5000, itest_on_reply,
                                           itest_on_end, &call),
                             0);
            assert_true(itest_run_until(&nt.loop, itest_call_ended, &call,
                                        WAIT_MS));
            assert_true(itest_reply_is(&call, 0, "REPL", ask[i][1]));
            itest_call_free(&call);
        }
    }
    /* QUER: a key with spaces around it is that key; one of spaces only
     * is no key */
    {
        static const char *quer[][2] = {
            {"127.0.0.1:1   only  4", "Query ACK: only"},
            {"127.0.0.1:1     4", "Query: incorrect arguments"},
        };
        for (size_t i = 0; i < 2; i++) {
            itest_call_init(&call);
            assert_int_equal(shoal_request(nt.node[0], addr, "QUER",
                                           quer[i][0], strlen(quer[i][0]),
                                           5000, itest_on_reply,
                                           itest_on_end, &call),
                             0);
            assert_true(itest_run_until(&nt.loop, itest_call_ended, &call,
                                        WAIT_MS));
            assert_true(itest_reply_is(&call, 0, i ? "ERRO" : "REPL",
                                       quer[i][1]));
            itest_call_free(&call);
        }
    }

    /* a name with a space, fetched */
    get(&nt, 0, "c space.txt", &info);
    assert_int_equal(info.state, SHOAL_TRANSFER_DONE);
    path_of(&nt, 0, "downloads", "c space.txt", path, sizeof(path));
    assert_string_equal(info.path, path);
    get(&nt, 0, "sub.txt", &info);
    assert_int_equal(info.state, SHOAL_TRANSFER_DONE);
    {
        size_t len;
        uint8_t *got = read_file(info.path, &len);
        assert_non_null(got);
        assert_int_equal(len, 4);
        assert_memory_equal(got, "in a", 4);
        free(got);
    }
    /* nobody has it: that is known at the end of the search only */
    get(&nt, 0, "nothing.txt", &info);
    assert_int_equal(info.state, SHOAL_TRANSFER_FAILED);
    assert_int_equal(info.error, SHOAL_ENOENT);
    net_down(&nt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_search_and_get),
        cmocka_unit_test(test_corrupt_chunk),
        cmocka_unit_test(test_holder_dies),
        cmocka_unit_test(test_resume),
        cmocka_unit_test(test_index_follows),
        cmocka_unit_test(test_disk_full),
        cmocka_unit_test(test_names_and_bad_payloads),
        cmocka_unit_test(test_classic),
        cmocka_unit_test(test_classic_names_and_streaming),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
