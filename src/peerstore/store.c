/* The peer store on SQLite (store.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "peerstore/store.h"

struct ps_db {
    sqlite3 *db;
    sqlite3_stmt *put, *del;
};

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

int ps_db_open(ps_db **out, const char *path, char *err, size_t errsize)
{
    ps_db *s = calloc(1, sizeof(*s));
    char *msg = NULL;

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
    if (sqlite3_exec(s->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
        set_err(err, errsize, "open",
                msg != NULL ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        ps_db_close(s);
        return -1;
    }
    if (check(s->db, err, errsize) < 0) {
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
