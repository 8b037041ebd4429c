/* The peer store on SQLite (store.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "peerstore/store.h"

struct ps_db {
    sqlite3 *db;
    sqlite3_stmt *put, *del;
};

/* A shoal peer store says so in its header (PRAGMA application_id, "shoa")
 * and gives its schema's version in user_version: a file of another
 * program is recognised before anything is written to it. */
#define PS_APP_ID 1936224097 /* 0x73686f61 */
#define PS_SCHEMA 1
#define PS_STR_(x) #x
#define PS_STR(x) PS_STR_(x)

/* Run only once the file is known to be ours (classify()). */
static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "CREATE TABLE IF NOT EXISTS shoal_peers ("
    "  id TEXT PRIMARY KEY,"            /* base58 peer id */
    "  addrs TEXT NOT NULL,"            /* multiaddrs, newest first, one a
                                         * line */
    "  first_seen INTEGER NOT NULL,"    /* unix ms; 0: never */
    "  last_seen INTEGER NOT NULL,"
    "  last_connect INTEGER NOT NULL,"
    "  failures INTEGER NOT NULL,"      /* consecutive */
    "  next_retry INTEGER NOT NULL"
    ") WITHOUT ROWID;";

/* shoal_peers' columns, in order */
static const char *const columns[] = {"id", "addrs", "first_seen",
                                      "last_seen", "last_connect",
                                      "failures", "next_retry"};

static void set_err(char *err, size_t size, const char *what,
                    const char *why)
{
    if (err != NULL && size > 0)
        snprintf(err, size, "%s: %s", what, why);
}

/* Fails on anything but "ok" from PRAGMA quick_check. */
static int check(sqlite3 *db, char *err, size_t errsize)
{
    sqlite3_stmt *q;
    int rc, ok = 0;

    if (sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &q, NULL) !=
        SQLITE_OK) {
        set_err(err, errsize, "check", sqlite3_errmsg(db));
        return -1;
    }
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        const char *r = (const char *)sqlite3_column_text(q, 0);
        ok = r != NULL && strcmp(r, "ok") == 0;
        if (!ok)
            set_err(err, errsize, "corrupt", r != NULL ? r : "?");
    } else {
        set_err(err, errsize, "check", sqlite3_errmsg(db));
    }
    sqlite3_finalize(q);
    return ok ? 0 : -1;
}

/* One integer from a PRAGMA; 0 or -1 with err set. */
static int pragma_int(sqlite3 *db, const char *sql, long long *v, char *err,
                      size_t errsize)
{
    sqlite3_stmt *q;
    int rc;

    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
        set_err(err, errsize, "open", sqlite3_errmsg(db));
        return -1;
    }
    rc = sqlite3_step(q);
    *v = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
    if (rc != SQLITE_ROW)
        set_err(err, errsize, "open", sqlite3_errmsg(db));
    sqlite3_finalize(q);
    return rc == SQLITE_ROW ? 0 : -1;
}

/* shoal_peers has our columns. 0 or -1 with err set. */
static int columns_match(sqlite3 *db, char *err, size_t errsize)
{
    sqlite3_stmt *q;
    size_t n = 0;
    int ok = 1;

    if (sqlite3_prepare_v2(db, "PRAGMA table_info(shoal_peers)", -1, &q,
                           NULL) != SQLITE_OK) {
        set_err(err, errsize, "schema", sqlite3_errmsg(db));
        return -1;
    }
    while (sqlite3_step(q) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(q, 1);
        if (n >= sizeof(columns) / sizeof(columns[0]) || name == NULL ||
            strcmp(name, columns[n]) != 0)
            ok = 0;
        n++;
    }
    sqlite3_finalize(q);
    if (!ok || n != sizeof(columns) / sizeof(columns[0])) {
        set_err(err, errsize, "schema",
                "table shoal_peers has other columns than a peer store's");
        return -1;
    }
    return 0;
}

/* What the file holds, found by reading only: 1 a new (empty) database,
 * 0 a shoal peer store, -1 anything else (err says why); *stamped: it
 * carries our application_id already. A store written
 * before stores carried an application_id is one whose only object is a
 * shoal_peers table of our columns. */
static int classify(sqlite3 *db, int *stamped, char *err, size_t errsize)
{
    char why[256], other[96] = "";
    long long app, version;
    long objects = 0, peers = 0;
    sqlite3_stmt *q;
    int rc;

    if (pragma_int(db, "PRAGMA application_id", &app, err, errsize) < 0 ||
        pragma_int(db, "PRAGMA user_version", &version, err, errsize) < 0)
        return -1;
    if (sqlite3_prepare_v2(db, "SELECT type, name FROM sqlite_master", -1,
                           &q, NULL) != SQLITE_OK) {
        set_err(err, errsize, "open", sqlite3_errmsg(db));
        return -1;
    }
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *type = (const char *)sqlite3_column_text(q, 0);
        const char *name = (const char *)sqlite3_column_text(q, 1);
        objects++;
        if (type != NULL && name != NULL && strcmp(type, "table") == 0 &&
            strcmp(name, "shoal_peers") == 0)
            peers++;
        else if (other[0] == '\0')
            snprintf(other, sizeof(other), "%s %s", type ? type : "?",
                     name ? name : "?");
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE) {
        set_err(err, errsize, "open", sqlite3_errmsg(db));
        return -1;
    }
    *stamped = app == PS_APP_ID;
    if (app == PS_APP_ID) {
        if (version > PS_SCHEMA) {
            snprintf(why, sizeof(why), "schema %lld, of a newer shoal (this "
                     "one reads %d)", version, PS_SCHEMA);
            set_err(err, errsize, "not a peer store this shoal reads", why);
            return -1;
        }
        return peers && columns_match(db, err, errsize) < 0 ? -1 : 0;
    }
    if (app != 0) {
        snprintf(why, sizeof(why), "application_id 0x%08llx, another "
                 "program's", (unsigned long long)(uint32_t)app);
        set_err(err, errsize, "not a shoal peer store", why);
        return -1;
    }
    if (objects == 0 && version == 0)
        return 1;
    if (objects == 1 && peers == 1 && version == 0)
        return columns_match(db, err, errsize) < 0 ? -1 : 0;
    if (other[0] != '\0')
        snprintf(why, sizeof(why), "it holds %s, of another program", other);
    else
        snprintf(why, sizeof(why), "user_version %lld without shoal's "
                 "application_id", version);
    set_err(err, errsize, "not a shoal peer store", why);
    return -1;
}

int ps_db_open(ps_db **out, const char *path, char *err, size_t errsize)
{
    ps_db *s = calloc(1, sizeof(*s));
    char *msg = NULL;
    int stamped = 0;

    *out = NULL;
    if (s == NULL) {
        set_err(err, errsize, "open", "out of memory");
        return -1;
    }
    if (sqlite3_open(path, &s->db) != SQLITE_OK) {
        set_err(err, errsize, "open", sqlite3_errmsg(s->db));
        ps_db_close(s);
        return -1;
    }
    /* a second node on the same file waits a little for the lock rather
     * than failing its flush (which would be tried again anyway) */
    sqlite3_busy_timeout(s->db, 50);
    /* nothing is written (not even the journal mode) before the file is
     * known to be ours: another program's database is left as it was */
    if (classify(s->db, &stamped, err, errsize) < 0 ||
        check(s->db, err, errsize) < 0) {
        ps_db_close(s);
        return -1;
    }
    if (!stamped &&
        sqlite3_exec(s->db, "PRAGMA application_id=" PS_STR(PS_APP_ID) ";"
                     "PRAGMA user_version=" PS_STR(PS_SCHEMA) ";", NULL,
                     NULL, &msg) != SQLITE_OK) {
        set_err(err, errsize, "open",
                msg != NULL ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        ps_db_close(s);
        return -1;
    }
    if (sqlite3_exec(s->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
        set_err(err, errsize, "open",
                msg != NULL ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        ps_db_close(s);
        return -1;
    }
    if (sqlite3_prepare_v2(s->db,
                           "INSERT OR REPLACE INTO shoal_peers "
                           "VALUES (?,?,?,?,?,?,?)",
                           -1, &s->put, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db, "DELETE FROM shoal_peers WHERE id = ?",
                           -1, &s->del, NULL) != SQLITE_OK) {
        /* a table of that name, of another shape */
        set_err(err, errsize, "schema", sqlite3_errmsg(s->db));
        ps_db_close(s);
        return -1;
    }
    *out = s;
    return 0;
}

void ps_db_close(ps_db *s)
{
    if (s == NULL)
        return;
    sqlite3_finalize(s->put);
    sqlite3_finalize(s->del);
    sqlite3_close(s->db);
    free(s);
}

static uint64_t col_u64(sqlite3_stmt *q, int i)
{
    sqlite3_int64 v = sqlite3_column_int64(q, i);

    return v < 0 ? 0 : (uint64_t)v;
}

/* A row's newline-separated addresses into e (each checked later, by
 * ps_table_put); over-long ones and those past the cap are skipped. */
static void row_addrs(const char *text, ps_entry *e)
{
    while (text != NULL && *text != '\0' &&
           e->naddrs < SHOAL_PEERSTORE_ADDRS_MAX) {
        const char *nl = strchr(text, '\n');
        size_t len = nl != NULL ? (size_t)(nl - text) : strlen(text);
        if (len > 0 && len < PS_ADDR_MAX) {
            memcpy(e->addrs[e->naddrs], text, len);
            e->addrs[e->naddrs++][len] = '\0';
        }
        text = nl != NULL ? nl + 1 : NULL;
    }
}

long ps_db_load(ps_db *s, ps_table *t, char *err, size_t errsize)
{
    sqlite3_stmt *q;
    long loaded = 0;
    int rc;

    /* best first, as ps_table_put wants them */
    if (sqlite3_prepare_v2(s->db,
                           "SELECT id, addrs, first_seen, last_seen, "
                           "last_connect, failures, next_retry "
                           "FROM shoal_peers "
                           "ORDER BY failures ASC, last_seen DESC, id",
                           -1, &q, NULL) != SQLITE_OK) {
        set_err(err, errsize, "load", sqlite3_errmsg(s->db));
        return -1;
    }
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        ps_entry *e = calloc(1, sizeof(*e));
        const char *id = (const char *)sqlite3_column_text(q, 0);
        if (e == NULL)
            break;
        if (id != NULL && strlen(id) < PS_ID_MAX) {
            memcpy(e->id, id, strlen(id) + 1);
            row_addrs((const char *)sqlite3_column_text(q, 1), e);
            e->first_seen = col_u64(q, 2);
            e->last_seen = col_u64(q, 3);
            e->last_connect = col_u64(q, 4);
            e->failures = (uint32_t)(col_u64(q, 5) > UINT32_MAX
                                         ? UINT32_MAX
                                         : col_u64(q, 5));
            e->next_retry = col_u64(q, 6);
            if (ps_table_put(t, e) == 0)
                loaded++;
        }
        free(e);
    }
    if (rc != SQLITE_DONE) {
        set_err(err, errsize, "load", sqlite3_errmsg(s->db));
        loaded = -1;
    }
    sqlite3_finalize(q);
    return loaded;
}

static int put_row(ps_db *s, const ps_entry *e)
{
    char addrs[SHOAL_PEERSTORE_ADDRS_MAX * PS_ADDR_MAX];
    size_t len = 0;
    int rc;

    addrs[0] = '\0';
    for (size_t i = 0; i < e->naddrs; i++)
        len += (size_t)snprintf(addrs + len, sizeof(addrs) - len, "%s%s",
                                i ? "\n" : "", e->addrs[i]);
    sqlite3_bind_text(s->put, 1, e->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s->put, 2, addrs, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(s->put, 3, (sqlite3_int64)e->first_seen);
    sqlite3_bind_int64(s->put, 4, (sqlite3_int64)e->last_seen);
    sqlite3_bind_int64(s->put, 5, (sqlite3_int64)e->last_connect);
    sqlite3_bind_int64(s->put, 6, (sqlite3_int64)e->failures);
    sqlite3_bind_int64(s->put, 7, (sqlite3_int64)e->next_retry);
    rc = sqlite3_step(s->put);
    sqlite3_reset(s->put);
    sqlite3_clear_bindings(s->put);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int del_row(ps_db *s, const char *id)
{
    int rc;

    sqlite3_bind_text(s->del, 1, id, -1, SQLITE_STATIC);
    rc = sqlite3_step(s->del);
    sqlite3_reset(s->del);
    sqlite3_clear_bindings(s->del);
    return rc == SQLITE_DONE ? 0 : -1;
}

long ps_db_flush(ps_db *s, ps_table *t)
{
    long rows = 0;
    size_t i;

    for (i = 0; i < t->n && !t->e[i].dirty; i++)
        ;
    if (i == t->n && t->ngone == 0)
        return 0;
    if (sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return -1;
    for (i = 0; i < t->ngone; i++, rows++)
        if (del_row(s, t->gone[i]) < 0)
            goto fail;
    for (i = 0; i < t->n; i++)
        if (t->e[i].dirty) {
            if (put_row(s, &t->e[i]) < 0)
                goto fail;
            rows++;
        }
    if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    for (i = 0; i < t->n; i++)
        t->e[i].dirty = 0;
    t->ngone = 0;
    return rows;
fail:
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}
