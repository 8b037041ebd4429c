/* The peer store (src/peerstore/): addresses checked and bounded, the
 * backoff schedule and the dial order on a fake clock, caps and eviction,
 * the SQLite round trip across close and reopen, corrupt and foreign
 * files refused with a reason, and the public API on a node that does not
 * listen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "peerstore/store.h"
#include "peerstore/table.h"
#include "shoal.h"
#include "shoal/peerstore.h"

/* A peer id made from a number (identity multihash of an Ed25519 key's
 * protobuf), so that tests can name many. */
static void make_id(uint32_t n, char out[PS_ID_MAX])
{
    static const uint8_t head[6] = {0x00, 0x24, 0x08, 0x01, 0x12, 0x20};
    uint8_t id[38];

    memcpy(id, head, 6);
    memset(id + 6, 0x5a, 32);
    memcpy(id + 6, &n, sizeof(n));
    assert_true(shoal_peer_id_to_text(id, sizeof(id), out, PS_ID_MAX) > 0);
}

static const char *addr_of(uint32_t n, char *buf, size_t size)
{
    snprintf(buf, size, "/ip4/10.0.%u.%u/tcp/4001", (n >> 8) & 255, n & 255);
    return buf;
}

/* ----------------------------------------------------------- addresses */

static void test_addresses_checked(void **state)
{
    char id[PS_ID_MAX], other[PS_ID_MAX], in[1024], out[PS_ADDR_MAX];
    char longname[400];

    (void)state;
    make_id(1, id);
    make_id(2, other);
    assert_int_equal(ps_addr_normalize("/ip4/127.0.0.1/tcp/4001", id, out,
                                       sizeof(out)), 0);
    assert_string_equal(out, "/ip4/127.0.0.1/tcp/4001");
    snprintf(in, sizeof(in), "/ip4/127.0.0.1/tcp/4001/p2p/%s", id);
    assert_int_equal(ps_addr_normalize(in, id, out, sizeof(out)), 0);
    assert_string_equal(out, "/ip4/127.0.0.1/tcp/4001");
    assert_int_equal(ps_addr_normalize("/ip6/::1/tcp/9", id, out,
                                       sizeof(out)), 0);
    assert_string_equal(out, "/ip6/::1/tcp/9");
    assert_int_equal(ps_addr_normalize("/dns4/example.org/tcp/1", id, out,
                                       sizeof(out)), 0);

    /* another peer's address, and what the node cannot dial over TCP */
    snprintf(in, sizeof(in), "/ip4/127.0.0.1/tcp/4001/p2p/%s", other);
    assert_int_equal(ps_addr_normalize(in, id, out, sizeof(out)),
                     SHOAL_EBADADDR);
    const char *bad[] = {
        "", "/", "garbage", "/ip4/127.0.0.1", "/ip4/127.0.0.1/udp/53",
        "/tcp/4001", "/ip4/300.0.0.1/tcp/1", "/ip4/127.0.0.1/tcp/70000",
        "/ip4/127.0.0.1/tcp/1/ws", "127.0.0.1:4001",
        "/ip4/127.0.0.1/tcp/1/p2p/notanid",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(ps_addr_normalize(bad[i], id, out, sizeof(out)),
                         SHOAL_EBADADDR);
    assert_int_equal(ps_addr_normalize(NULL, id, out, sizeof(out)),
                     SHOAL_EBADADDR);
    /* over-long: a host name past the text cap */
    memset(longname, 'a', sizeof(longname));
    longname[sizeof(longname) - 1] = '\0';
    snprintf(in, sizeof(in), "/dns4/%s/tcp/1", longname);
    assert_int_equal(ps_addr_normalize(in, id, out, sizeof(out)),
                     SHOAL_EBADADDR);

    /* ids: canonical, CIDv1 or nothing */
    assert_int_equal(ps_id_normalize(id, out), 0);
    assert_string_equal(out, id);
    assert_int_equal(ps_id_normalize("12D3KooW0OIl", out), SHOAL_EINVAL);
    assert_int_equal(ps_id_normalize("", out), SHOAL_EINVAL);
    assert_int_equal(ps_id_normalize(NULL, out), SHOAL_EINVAL);
}

static void test_addresses_bounded(void **state)
{
    ps_table t;
    char id[PS_ID_MAX], a[64];
    ps_entry *e;

    (void)state;
    ps_table_init(&t, 10, 3, 1000, 60000);
    make_id(1, id);
    for (uint32_t i = 1; i <= 5; i++)
        assert_int_equal(ps_table_seen(&t, id, addr_of(i, a, sizeof(a)),
                                       100 * i), 0);
    e = ps_table_get(&t, id);
    assert_non_null(e);
    assert_int_equal(e->naddrs, 3);
    assert_string_equal(e->addrs[0], addr_of(5, a, sizeof(a)));
    assert_string_equal(e->addrs[1], addr_of(4, a, sizeof(a)));
    assert_string_equal(e->addrs[2], addr_of(3, a, sizeof(a)));
    assert_int_equal(e->first_seen, 100);
    assert_int_equal(e->last_seen, 500);
    /* one already there moves first, no duplicate */
    assert_int_equal(ps_table_seen(&t, id, addr_of(3, a, sizeof(a)), 600), 0);
    assert_int_equal(e->naddrs, 3);
    assert_string_equal(e->addrs[0], addr_of(3, a, sizeof(a)));
    assert_string_equal(e->addrs[1], addr_of(5, a, sizeof(a)));
    /* a bad one changes nothing */
    assert_int_equal(ps_table_seen(&t, id, "/ip4/1.2.3.4/udp/1", 700),
                     SHOAL_EBADADDR);
    assert_int_equal(e->last_seen, 600);
    assert_int_equal(ps_table_seen(&t, "nope", NULL, 700), SHOAL_EINVAL);
    assert_int_equal(t.n, 1);
    ps_table_free(&t);
}

/* ------------------------------------------------ backoff, dial order */

static void test_backoff_schedule(void **state)
{
    ps_table t;
    char id[PS_ID_MAX], a[64];
    uint64_t now = 1000000, expect[] = {1000, 2000, 4000, 8000, 16000,
                                        32000, 60000, 60000, 60000};
    ps_entry *due[4], *e;

    (void)state;
    ps_table_init(&t, 10, 4, 1000, 60000);
    make_id(7, id);
    assert_int_equal(ps_backoff(&t, 0), 0);
    assert_int_equal(ps_backoff(&t, 1000000), 60000); /* no overflow */
    assert_int_equal(ps_backoff(&t, UINT32_MAX), 60000);
    assert_int_equal(ps_table_failed(&t, id, NULL, now), SHOAL_ENOENT);
    assert_int_equal(ps_table_seen(&t, id, addr_of(1, a, sizeof(a)), now), 0);
    assert_int_equal(ps_table_due(&t, now, NULL, NULL, due, 4), 1);

    for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
        assert_int_equal(ps_table_failed(&t, id, NULL, now), 0);
        e = ps_table_get(&t, id);
        assert_int_equal(e->failures, i + 1);
        assert_int_equal(e->next_retry, now + expect[i]);
        assert_int_equal(e->last_connect, now);
        /* not a moment before its time, and then yes */
        assert_int_equal(ps_table_due(&t, now + expect[i] - 1, NULL, NULL,
                                      due, 4), 0);
        assert_int_equal(ps_table_due(&t, now + expect[i], NULL, NULL, due,
                                      4), 1);
        now += expect[i];
    }
    /* a connection clears it all */
    assert_int_equal(ps_table_connected(&t, id, NULL, now), 0);
    e = ps_table_get(&t, id);
    assert_int_equal(e->failures, 0);
    assert_int_equal(e->next_retry, 0);
    assert_int_equal(e->last_connect, now);
    assert_int_equal(ps_table_failed(&t, id, NULL, now), 0);
    assert_int_equal(e->next_retry, now + 1000);
    ps_table_free(&t);
}

static void test_failed_address_goes_last(void **state)
{
    ps_table t;
    char id[PS_ID_MAX], a[64];
    ps_entry *e;

    (void)state;
    ps_table_init(&t, 10, 4, 1000, 60000);
    make_id(7, id);
    for (uint32_t i = 1; i <= 3; i++)
        ps_table_seen(&t, id, addr_of(i, a, sizeof(a)), i);
    e = ps_table_get(&t, id);
    assert_string_equal(e->addrs[0], addr_of(3, a, sizeof(a)));
    assert_int_equal(ps_table_failed(&t, id, addr_of(3, a, sizeof(a)), 10),
                     0);
    assert_string_equal(e->addrs[0], addr_of(2, a, sizeof(a)));
    assert_string_equal(e->addrs[2], addr_of(3, a, sizeof(a)));
    ps_table_free(&t);
}

static int skip_even(const char *id, void *user)
{
    char want[PS_ID_MAX];

    (void)user;
    for (uint32_t i = 0; i < 20; i += 2) {
        make_id(i, want);
        if (strcmp(id, want) == 0)
            return 1;
    }
    return 0;
}

static void test_dial_order(void **state)
{
    ps_table t;
    char id[8][PS_ID_MAX], a[64];
    ps_entry *due[8];
    const ps_entry *sorted[8];

    (void)state;
    ps_table_init(&t, 10, 4, 1000, 60000);
    for (uint32_t i = 0; i < 6; i++) {
        make_id(i, id[i]);
        /* later ids seen later */
        assert_int_equal(ps_table_seen(&t, id[i], addr_of(i, a, sizeof(a)),
                                       1000 + i), 0);
    }
    /* 5: failed once, long ago and due again; 4: in backoff */
    ps_table_failed(&t, id[5], NULL, 0);
    ps_table_failed(&t, id[4], NULL, 5000);
    /* 6: no address, never dialed */
    make_id(6, id[6]);
    ps_table_seen(&t, id[6], NULL, 9999);

    assert_int_equal(ps_table_due(&t, 5000, NULL, NULL, due, 8), 5);
    assert_string_equal(due[0]->id, id[3]); /* no failures, newest */
    assert_string_equal(due[1]->id, id[2]);
    assert_string_equal(due[2]->id, id[1]);
    assert_string_equal(due[3]->id, id[0]);
    assert_string_equal(due[4]->id, id[5]); /* one failure */
    /* bounded, and the filter honoured */
    assert_int_equal(ps_table_due(&t, 5000, NULL, NULL, due, 2), 2);
    assert_string_equal(due[1]->id, id[2]);
    assert_int_equal(ps_table_due(&t, 5000, skip_even, NULL, due, 8), 3);
    assert_string_equal(due[0]->id, id[3]);
    assert_string_equal(due[1]->id, id[1]);
    assert_string_equal(due[2]->id, id[5]);

    /* the listing order is the same, everyone included */
    assert_int_equal(ps_table_sorted(&t, sorted), 7);
    assert_string_equal(sorted[0]->id, id[6]);
    assert_string_equal(sorted[1]->id, id[3]);
    assert_string_equal(sorted[6]->id, id[4]); /* failed last */
    ps_table_free(&t);
}

/* ---------------------------------------------------------- eviction */

static void test_cap_and_eviction(void **state)
{
    ps_table t;
    char id[8][PS_ID_MAX], a[64];

    (void)state;
    ps_table_init(&t, 3, 2, 1000, 60000);
    for (uint32_t i = 0; i < 8; i++)
        make_id(i, id[i]);
    ps_table_seen(&t, id[0], addr_of(0, a, sizeof(a)), 100);
    ps_table_seen(&t, id[1], addr_of(1, a, sizeof(a)), 200);
    ps_table_seen(&t, id[2], addr_of(2, a, sizeof(a)), 300);
    ps_table_failed(&t, id[1], NULL, 400);
    ps_table_failed(&t, id[1], NULL, 500);
    ps_table_failed(&t, id[2], NULL, 500);
    /* full: the most failures goes (1), though 0 is older */
    assert_int_equal(ps_table_seen(&t, id[3], NULL, 600), 0);
    assert_int_equal(t.n, 3);
    assert_null(ps_table_get(&t, id[1]));
    assert_non_null(ps_table_get(&t, id[0]));
    /* then 2 (one failure) */
    ps_table_seen(&t, id[4], NULL, 700);
    assert_null(ps_table_get(&t, id[2]));
    /* with failures even, the one seen longest ago (0) */
    ps_table_seen(&t, id[5], NULL, 800);
    assert_null(ps_table_get(&t, id[0]));
    assert_non_null(ps_table_get(&t, id[3]));
    assert_non_null(ps_table_get(&t, id[4]));
    assert_non_null(ps_table_get(&t, id[5]));
    assert_int_equal(t.evicted, 3);
    /* the removals are noted for the flush */
    assert_int_equal(t.ngone, 3);

    /* many more: never above the cap */
    for (uint32_t i = 100; i < 1100; i++) {
        char more[PS_ID_MAX];
        make_id(i, more);
        assert_int_equal(ps_table_seen(&t, more, NULL, i), 0);
        assert_true(t.n <= 3);
    }
    assert_int_equal(ps_table_remove(&t, id[0]), SHOAL_ENOENT);
    ps_table_free(&t);
}

/* -------------------------------------------------------------- SQLite */

static char tmpdir[256];

static int setup_dir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_peerstore.XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    return 0;
}

static int teardown_dir(void **state)
{
    char cmd[300];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *path_in(const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", tmpdir, name);
    return buf;
}

static void test_round_trip(void **state)
{
    ps_table t, back;
    ps_db *db;
    char path[300], err[256], id[4][PS_ID_MAX], a[64];
    ps_entry *e, *f;

    (void)state;
    path_in("rt.db", path, sizeof(path));
    ps_table_init(&t, 10, 4, 1000, 60000);
    for (uint32_t i = 0; i < 4; i++) {
        make_id(i, id[i]);
        ps_table_seen(&t, id[i], addr_of(i, a, sizeof(a)), 1000 + i);
    }
    ps_table_seen(&t, id[0], "/ip6/::1/tcp/7", 2000);
    ps_table_connected(&t, id[1], NULL, 3000);
    ps_table_failed(&t, id[2], NULL, 4000);
    ps_table_failed(&t, id[2], NULL, 5000);

    assert_int_equal(ps_db_open(&db, path, err, sizeof(err)), 0);
    assert_int_equal(ps_db_flush(db, &t), 4);
    assert_int_equal(ps_db_flush(db, &t), 0); /* nothing dirty */
    ps_table_remove(&t, id[3]);
    ps_table_seen(&t, id[0], NULL, 6000);
    assert_int_equal(ps_db_flush(db, &t), 2); /* one put, one delete */
    ps_db_close(db);

    ps_table_init(&back, 10, 4, 1000, 60000);
    assert_int_equal(ps_db_open(&db, path, err, sizeof(err)), 0);
    assert_int_equal(ps_db_load(db, &back, err, sizeof(err)), 3);
    ps_db_close(db);
    assert_null(ps_table_get(&back, id[3]));
    for (uint32_t i = 0; i < 3; i++) {
        e = ps_table_get(&t, id[i]);
        f = ps_table_get(&back, id[i]);
        assert_non_null(f);
        assert_int_equal(f->naddrs, e->naddrs);
        for (size_t j = 0; j < e->naddrs; j++)
            assert_string_equal(f->addrs[j], e->addrs[j]);
        assert_int_equal(f->first_seen, e->first_seen);
        assert_int_equal(f->last_seen, e->last_seen);
        assert_int_equal(f->last_connect, e->last_connect);
        assert_int_equal(f->failures, e->failures);
        assert_int_equal(f->next_retry, e->next_retry);
        assert_false(f->dirty);
    }
    assert_string_equal(ps_table_get(&back, id[0])->addrs[0], "/ip6/::1/tcp/7");
    assert_int_equal(ps_table_get(&back, id[2])->failures, 2);
    assert_int_equal(ps_table_get(&back, id[2])->next_retry, 5000 + 2000);
    ps_table_free(&back);

    /* a smaller cap keeps the best and drops the rest from the file */
    ps_table_init(&back, 2, 4, 1000, 60000);
    assert_int_equal(ps_db_open(&db, path, err, sizeof(err)), 0);
    assert_int_equal(ps_db_load(db, &back, err, sizeof(err)), 2);
    assert_null(ps_table_get(&back, id[2])); /* the failing one */
    assert_int_equal(ps_db_flush(db, &back), 1);
    ps_db_close(db);
    ps_table_free(&back);
    ps_table_init(&back, 10, 4, 1000, 60000);
    assert_int_equal(ps_db_open(&db, path, err, sizeof(err)), 0);
    assert_int_equal(ps_db_load(db, &back, err, sizeof(err)), 2);
    ps_db_close(db);
    ps_table_free(&back);
    ps_table_free(&t);
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void test_bad_rows_skipped(void **state)
{
    sqlite3 *raw;
    ps_table t;
    ps_db *db;
    char path[300], err[256], id[PS_ID_MAX], sql[1024];

    (void)state;
    path_in("rows.db", path, sizeof(path));
    assert_int_equal(ps_db_open(&db, path, err, sizeof(err)), 0);
    ps_db_close(db);
    /* rows written by someone else: bad ids, bad and over-long addresses,
     * negative times */
    make_id(9, id);
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    snprintf(sql, sizeof(sql),
             "INSERT INTO shoal_peers VALUES ('notanid', '/ip4/1.2.3.4/tcp/1',"
             " 1, 1, 1, 0, 0);"
             "INSERT INTO shoal_peers VALUES ('%s', 'garbage\n/ip4/1.2.3.4/"
             "tcp/1\n/ip4/1.2.3.4/udp/1\n/dns4/%0300d/tcp/1', -5, 7, 0, -1,"
             " 0);", id, 0);
    assert_int_equal(sqlite3_exec(raw, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);

    ps_table_init(&t, 10, 4, 1000, 60000);
    assert_int_equal(ps_db_open(&db, path, err, sizeof(err)), 0);
    assert_int_equal(ps_db_load(db, &t, err, sizeof(err)), 1);
    ps_db_close(db);
    assert_int_equal(t.n, 1);
    assert_int_equal(t.e[0].naddrs, 1);
    assert_string_equal(t.e[0].addrs[0], "/ip4/1.2.3.4/tcp/1");
    assert_int_equal(t.e[0].first_seen, 0);
    assert_int_equal(t.e[0].last_seen, 7);
    assert_int_equal(t.e[0].failures, 0);
    ps_table_free(&t);
}

static void test_corrupt_files_refused(void **state)
{
    char path[300], err[256], id[PS_ID_MAX], a[64];
    uint8_t junk[8192];
    ps_table t;
    ps_db *db;
    sqlite3 *raw;
    FILE *f;

    (void)state;
    /* not SQLite at all */
    path_in("junk.db", path, sizeof(path));
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)(i * 7 + 3);
    write_file(path, junk, sizeof(junk));
    err[0] = '\0';
    assert_int_equal(ps_db_open(&db, path, err, sizeof(err)), -1);
    assert_null(db);
    assert_non_null(strstr(err, "not a database"));

    /* a text file */
    path_in("text.db", path, sizeof(path));
    write_file(path, "hello\n", 6);
    assert_int_equal(ps_db_open(&db, path, err, sizeof(err)), -1);
    assert_true(strlen(err) > 0);

    /* a directory, and a folder that does not exist */
    assert_int_equal(ps_db_open(&db, tmpdir, err, sizeof(err)), -1);
    path_in("no/such/folder.db", path, sizeof(path));
    assert_int_equal(ps_db_open(&db, path, err, sizeof(err)), -1);

    /* a real store with its pages overwritten past the header */
    path_in("torn.db", path, sizeof(path));
    ps_table_init(&t, 2000, 4, 1000, 60000);
    for (uint32_t i = 0; i < 1000; i++) {
        make_id(i, id);
        ps_table_seen(&t, id, addr_of(i, a, sizeof(a)), i);
    }
    assert_int_equal(ps_db_open(&db, path, err, sizeof(err)), 0);
    assert_int_equal(ps_db_flush(db, &t), 1000);
    ps_db_close(db); /* checkpoints the WAL into the file */
    ps_table_free(&t);
    f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, 4096 + 100, SEEK_SET);
    memset(junk, 0xa5, sizeof(junk));
    fwrite(junk, 1, sizeof(junk), f);
    fclose(f);
    ps_table_init(&t, 2000, 4, 1000, 60000);
    if (ps_db_open(&db, path, err, sizeof(err)) == 0) {
        /* what quick_check let through, the load finds */
        long n = ps_db_load(db, &t, err, sizeof(err));
        ps_db_close(db);
        assert_true(n < 1000);
    } else {
        assert_true(strlen(err) > 0);
    }
    ps_table_free(&t);

    /* SQLite, but a table of that name of another shape */
    path_in("foreign.db", path, sizeof(path));
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    assert_int_equal(sqlite3_exec(raw, "CREATE TABLE shoal_peers (x);", NULL,
                                  NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);
    assert_int_equal(ps_db_open(&db, path, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "schema"));
}

/* The whole file at path, into buf (at most size bytes); its length. */
static size_t read_file(const char *path, uint8_t *buf, size_t size)
{
    FILE *f = fopen(path, "rb");
    size_t n;

    assert_non_null(f);
    n = fread(buf, 1, size, f);
    assert_true(n < size);
    fclose(f);
    return n;
}

/* One integer or text from a PRAGMA on a raw connection, as text. */
static void raw_pragma(const char *path, const char *sql, char *out,
                       size_t size)
{
    sqlite3 *raw;
    sqlite3_stmt *q;

    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(raw, sql, -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    snprintf(out, size, "%s", (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    sqlite3_close(raw);
}

/* Another program's SQLite file (a table of its own, journal mode DELETE;
 * then one with an application_id of its own): refused with the reason,
 * its bytes and journal mode unchanged, no WAL made beside it. A store
 * made new carries shoal's application_id, and one from before that
 * (shoal_peers alone, application_id 0) is still read, and stamped. */
static void test_foreign_file_untouched(void **state)
{
    static uint8_t before[1 << 16], after[1 << 16];
    char path[300], wal[320], err[256], text[64];
    size_t n0, n1;
    sqlite3 *raw;
    ps_db *db;

    (void)state;
    path_in("other-program.db", path, sizeof(path));
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    assert_int_equal(sqlite3_exec(raw, "PRAGMA journal_mode=DELETE;"
                                  "CREATE TABLE accounts (id INTEGER PRIMARY"
                                  " KEY, name TEXT);"
                                  "INSERT INTO accounts VALUES (1, 'ann');",
                                  NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);
    n0 = read_file(path, before, sizeof(before));
    err[0] = '\0';
    assert_int_equal(ps_db_open(&db, path, err, sizeof(err)), -1);
    assert_null(db);
    if (strstr(err, "not a shoal peer store") == NULL ||
        strstr(err, "accounts") == NULL)
        fail_msg("wanted \"not a shoal peer store\" naming table accounts, "
                 "got \"%s\"", err);
    n1 = read_file(path, after, sizeof(after));
    assert_int_equal(n1, n0);
    if (memcmp(before, after, n0) != 0)
        fail_msg("the other program's file was changed");
    snprintf(wal, sizeof(wal), "%s-wal", path);
    assert_int_not_equal(access(wal, F_OK), 0);
    raw_pragma(path, "PRAGMA journal_mode", text, sizeof(text));
    assert_string_equal(text, "delete");

    /* an application_id of another program, even with no table */
    path_in("other-app.db", path, sizeof(path));
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    assert_int_equal(sqlite3_exec(raw, "PRAGMA application_id=1234;", NULL,
                                  NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);
    n0 = read_file(path, before, sizeof(before));
    assert_int_equal(ps_db_open(&db, path, err, sizeof(err)), -1);
    if (strstr(err, "application_id 0x000004d2") == NULL)
        fail_msg("wanted the other application_id named, got \"%s\"", err);
    n1 = read_file(path, after, sizeof(after));
    assert_true(n1 == n0 && memcmp(before, after, n0) == 0);

    /* a new store says it is shoal's */
    path_in("new.db", path, sizeof(path));
    assert_int_equal(ps_db_open(&db, path, err, sizeof(err)), 0);
    ps_db_close(db);
    raw_pragma(path, "PRAGMA application_id", text, sizeof(text));
    assert_string_equal(text, "1936224097"); /* "shoa" */
    raw_pragma(path, "PRAGMA user_version", text, sizeof(text));
    assert_string_equal(text, "1");
    assert_int_equal(ps_db_open(&db, path, err, sizeof(err)), 0);
    ps_db_close(db);

    /* a store from before application_id: accepted, then stamped */
    path_in("old.db", path, sizeof(path));
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    assert_int_equal(sqlite3_exec(raw, "CREATE TABLE shoal_peers (id TEXT "
                                  "PRIMARY KEY, addrs TEXT NOT NULL, "
                                  "first_seen INTEGER NOT NULL, last_seen "
                                  "INTEGER NOT NULL, last_connect INTEGER "
                                  "NOT NULL, failures INTEGER NOT NULL, "
                                  "next_retry INTEGER NOT NULL) WITHOUT "
                                  "ROWID;", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);
    assert_int_equal(ps_db_open(&db, path, err, sizeof(err)), 0);
    ps_db_close(db);
    raw_pragma(path, "PRAGMA application_id", text, sizeof(text));
    assert_string_equal(text, "1936224097");
}

/* ------------------------------------------------------ the public API */

static shoal_node *quiet_node(uv_loop_t *loop)
{
    shoal_config cfg;
    shoal_node *node;

    shoal_config_init(&cfg);
    cfg.handle_signals = 0;
    cfg.log_level = SHOAL_LOG_ERROR;
    cfg.listen = NULL;
    assert_int_equal(uv_loop_init(loop), 0);
    assert_int_equal(shoal_node_new(&node, loop, &cfg), 0);
    return node;
}

static void node_done(shoal_node *node, uv_loop_t *loop)
{
    shoal_node_free(node);
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(loop), 0);
}

typedef struct listing {
    size_t n;
    char ids[8][PS_ID_MAX];
    uint32_t failures[8];
    uint64_t last_seen[8];
    size_t naddrs[8];
} listing;

static void on_entry(const shoal_peerstore_entry *e, void *user)
{
    listing *l = user;

    assert_false(e->connected);
    if (l->n < 8) {
        snprintf(l->ids[l->n], PS_ID_MAX, "%s", e->id);
        l->failures[l->n] = e->failures;
        l->last_seen[l->n] = e->last_seen_ms;
        l->naddrs[l->n] = e->naddrs;
    }
    l->n++;
}

static uint64_t fake_now;
static uint64_t fake_clock(void *user)
{
    (void)user;
    return fake_now;
}

static void test_api(void **state)
{
    uv_loop_t loop;
    shoal_node *node = quiet_node(&loop);
    shoal_peerstore_config cfg;
    shoal_peerstore *ps;
    shoal_peerstore_stats st;
    char path[300], err[256], id[3][PS_ID_MAX], a[64], own[300];
    listing l;

    (void)state;
    for (uint32_t i = 0; i < 3; i++)
        make_id(i, id[i]);
    path_in("api.db", path, sizeof(path));
    shoal_peerstore_config_init(&cfg);
    cfg.path = path;
    cfg.target_peers = 0; /* no dialer: nothing to reach here */
    cfg.clock = fake_clock;
    fake_now = 1000;
    assert_int_equal(shoal_peerstore_new(&ps, node, &cfg, err, sizeof(err)),
                     0);
    assert_int_equal(shoal_peerstore_count(ps), 0);
    assert_int_equal(shoal_peerstore_add(ps, id[0], addr_of(0, a, sizeof(a))),
                     0);
    fake_now = 2000;
    snprintf(own, sizeof(own), "/ip4/10.0.0.1/tcp/1/p2p/%s", id[1]);
    assert_int_equal(shoal_peerstore_add(ps, id[1], own), 0);
    /* refused: bad ids, our own id, bad or another peer's addresses */
    assert_int_equal(shoal_peerstore_add(ps, "x", NULL), SHOAL_EINVAL);
    assert_int_equal(shoal_peerstore_add(ps, shoal_node_peer_id(node), NULL),
                     SHOAL_EINVAL);
    assert_int_equal(shoal_peerstore_add(ps, id[2], "/ip4/1.2.3.4"),
                     SHOAL_EBADADDR);
    assert_int_equal(shoal_peerstore_add(ps, id[2], own), SHOAL_EBADADDR);
    assert_int_equal(shoal_peerstore_count(ps), 2);

    memset(&l, 0, sizeof(l));
    assert_int_equal(shoal_peerstore_list(ps, on_entry, &l), 2);
    assert_string_equal(l.ids[0], id[1]); /* seen last */
    assert_int_equal(l.last_seen[0], 2000);
    assert_int_equal(l.naddrs[0], 1);
    assert_int_equal(shoal_peerstore_flush(ps), 0);
    shoal_peerstore_stats_get(ps, &st);
    assert_int_equal(st.entries, 2);
    assert_int_equal(st.flushes, 1);
    assert_int_equal(shoal_peerstore_forget(ps, id[0]), 0);
    assert_int_equal(shoal_peerstore_forget(ps, id[0]), SHOAL_ENOENT);
    shoal_peerstore_free(ps); /* flushes the forgetting */

    /* reopened: what was left */
    assert_int_equal(shoal_peerstore_new(&ps, node, &cfg, err, sizeof(err)),
                     0);
    memset(&l, 0, sizeof(l));
    assert_int_equal(shoal_peerstore_list(ps, on_entry, &l), 1);
    assert_string_equal(l.ids[0], id[1]);
    shoal_peerstore_free(ps);

    /* a file that is not a store: a clear error, no store */
    path_in("api-junk.db", path, sizeof(path));
    write_file(path, "this is not sqlite, not at all, no. ", 36);
    ps = (shoal_peerstore *)&l;
    assert_int_equal(shoal_peerstore_new(&ps, node, &cfg, err, sizeof(err)),
                     SHOAL_EPROTO);
    assert_null(ps);
    assert_true(strlen(err) > 0);
    /* in memory, and the default config */
    assert_int_equal(shoal_peerstore_new(&ps, node, NULL, NULL, 0), 0);
    shoal_peerstore_free(ps);
    shoal_peerstore_free(NULL);
    node_done(node, &loop);
}

static void test_classic_node_refused(void **state)
{
    uv_loop_t loop;
    shoal_config cfg;
    shoal_node *node;
    shoal_peerstore *ps;

    (void)state;
    shoal_config_init(&cfg);
    cfg.handle_signals = 0;
    cfg.classic = 1;
    cfg.listen = "127.0.0.1:0";
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(shoal_node_new(&node, &loop, &cfg), 0);
    assert_int_equal(shoal_peerstore_new(&ps, node, NULL, NULL, 0),
                     SHOAL_EINVAL);
    node_done(node, &loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addresses_checked),
        cmocka_unit_test(test_addresses_bounded),
        cmocka_unit_test(test_backoff_schedule),
        cmocka_unit_test(test_failed_address_goes_last),
        cmocka_unit_test(test_dial_order),
        cmocka_unit_test(test_cap_and_eviction),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_bad_rows_skipped),
        cmocka_unit_test(test_corrupt_files_refused),
        cmocka_unit_test(test_foreign_file_untouched),
        cmocka_unit_test(test_api),
        cmocka_unit_test(test_classic_node_refused),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
