/* The tracker's store (store.h) on SQLite. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "tracker/store.h"

struct trk_store {
    sqlite3 *db;
    sqlite3_stmt *put, *del;
};

static const char pragmas[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;";
static const char schema[] =
    "CREATE TABLE IF NOT EXISTS peers ("
    "  id BLOB PRIMARY KEY,"   /* binary peer id */
    "  seen INTEGER NOT NULL," /* unix ms of the last announce */
    "  addrs BLOB NOT NULL,"   /* ([len][binary multiaddr])* */
    "  topics BLOB NOT NULL"   /* topics, each followed by a NUL */
    ") WITHOUT ROWID;";

static const char put_sql[] = "INSERT OR REPLACE INTO peers VALUES (?,?,?,?)";
static const char del_sql[] = "DELETE FROM peers WHERE id = ?";

/* What SQLite's code means for a person, in why. */
static void db_why(sqlite3 *db, const char *msg, char *why, size_t size)
{
    const char *m = msg != NULL ? msg : sqlite3_errmsg(db);

    switch (sqlite3_errcode(db)) {
    case SQLITE_NOTADB:
        snprintf(why, size, "not a database (%s)", m);
        break;
    case SQLITE_CORRUPT:
        snprintf(why, size, "corrupt (%s)", m);
        break;
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
        snprintf(why, size, "cannot open it for writing (%s)", m);
        break;
    default:
        snprintf(why, size, "cannot use it (%s)", m);
    }
}

int trk_store_check(const char *path, char *why, size_t size)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *put = NULL, *del = NULL;
    char *msg = NULL;
    int rc = 0;

    /* everything trk_store_open does but the pragmas (WAL cannot be set in
     * a transaction), undone at the end */
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
        sqlite3_exec(db, "BEGIN", NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_exec(db, schema, NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_prepare_v2(db, put_sql, -1, &put, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, del_sql, -1, &del, NULL) != SQLITE_OK) {
        db_why(db, msg, why, size);
        rc = -1;
    }
    sqlite3_free(msg);
    sqlite3_finalize(put);
    sqlite3_finalize(del);
    if (db != NULL && !sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
    return rc;
}

int trk_store_open(trk_store **out, const char *path, char *err,
                   size_t errsize)
{
    trk_store *s = calloc(1, sizeof(*s));
    char *msg = NULL;

    *out = NULL;
    if (s == NULL)
        return -1;
    if (sqlite3_open(path, &s->db) != SQLITE_OK ||
        sqlite3_exec(s->db, pragmas, NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_exec(s->db, schema, NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db, put_sql, -1, &s->put, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db, del_sql, -1, &s->del, NULL) != SQLITE_OK) {
        if (err != NULL)
            snprintf(err, errsize, "%s",
                     msg != NULL ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        trk_store_close(s);
        return -1;
    }
    *out = s;
    return 0;
}

void trk_store_close(trk_store *s)
{
    if (s == NULL)
        return;
    sqlite3_finalize(s->put);
    sqlite3_finalize(s->del);
    sqlite3_close(s->db);
    free(s);
}

/* Splits a row back into an announce (pointing into the row's blobs). */
static int row_announce(sqlite3_stmt *q, trk_announce *a)
{
    const uint8_t *addrs = sqlite3_column_blob(q, 2);
    const char *topics = sqlite3_column_blob(q, 3);
    size_t alen = (size_t)sqlite3_column_bytes(q, 2);
    size_t tlen = (size_t)sqlite3_column_bytes(q, 3), i;

    memset(a, 0, sizeof(*a));
    a->id = sqlite3_column_blob(q, 0);
    a->idlen = (size_t)sqlite3_column_bytes(q, 0);
    for (i = 0; i < alen; i += 1 + addrs[i]) {
        if (a->naddrs == TRK_ADDRS_MAX || i + 1 + addrs[i] > alen)
            return -1;
        a->addrlen[a->naddrs] = addrs[i];
        a->addr[a->naddrs++] = addrs + i + 1;
    }
    for (i = 0; i < tlen;) {
        const char *nul = memchr(topics + i, '\0', tlen - i);
        if (nul == NULL || a->ntopics == TRK_TOPICS_MAX)
            return -1;
        a->topic[a->ntopics] = topics + i;
        a->topiclen[a->ntopics++] = (size_t)(nul - (topics + i));
        i = (size_t)(nul - topics) + 1;
    }
    return 0;
}

long trk_store_load(trk_store *s, trk_table *t, uint64_t wall_ms,
                    uint64_t mono_ms, uint32_t ttl_ms)
{
    sqlite3_stmt *q;
    long loaded = 0;
    int64_t oldest = (int64_t)wall_ms - ttl_ms;

    sqlite3_stmt *d;
    if (sqlite3_prepare_v2(s->db, "DELETE FROM peers WHERE seen <= ?", -1,
                           &d, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(d, 1, oldest);
    sqlite3_step(d);
    sqlite3_finalize(d);
    if (sqlite3_prepare_v2(s->db, "SELECT id, seen, addrs, topics FROM peers",
                           -1, &q, NULL) != SQLITE_OK)
        return -1;
    while (sqlite3_step(q) == SQLITE_ROW) {
        trk_announce a;
        uint64_t seen = (uint64_t)sqlite3_column_int64(q, 1), age;
        if (row_announce(q, &a) < 0)
            continue;
        age = wall_ms > seen ? wall_ms - seen : 0;
        if (age >= ttl_ms || age > mono_ms)
            continue;
        if (trk_table_announce(t, &a, mono_ms - age) == 0)
            loaded++;
    }
    sqlite3_finalize(q);
    /* what was just loaded is on disk already */
    trk_table_changes(t, NULL, NULL);
    return loaded;
}

typedef struct flush_ctx {
    trk_store *s;
    trk_table *t;
    uint64_t wall_ms, mono_ms;
    long rows;
    int failed;
} flush_ctx;

static void flush_one(const uint8_t *id, size_t idlen, void *user)
{
    flush_ctx *f = user;
    uint8_t addrs[TRK_ADDRS_MAX * (TRK_ADDR_MAX + 1)];
    char topics[TRK_TOPICS_MAX * (TRK_TOPIC_MAX + 1)];
    size_t alen = 0, tlen = 0;
    sqlite3_stmt *q;
    trk_peer p;

    if (f->failed)
        return;
    if (trk_table_get(f->t, id, idlen, &p) == 0) {
        for (size_t i = 0; i < p.naddrs; i++) {
            addrs[alen++] = (uint8_t)p.addrlen[i];
            memcpy(addrs + alen, p.addr[i], p.addrlen[i]);
            alen += p.addrlen[i];
        }
        for (size_t i = 0; i < p.ntopics; i++) {
            size_t n = strlen(p.topic[i]) + 1;
            memcpy(topics + tlen, p.topic[i], n);
            tlen += n;
        }
        q = f->s->put;
        sqlite3_bind_blob(q, 1, id, (int)idlen, SQLITE_STATIC);
        sqlite3_bind_int64(q, 2, (int64_t)(f->wall_ms -
                                           (f->mono_ms - p.seen_ms)));
        sqlite3_bind_blob(q, 3, addrs, (int)alen, SQLITE_STATIC);
        sqlite3_bind_blob(q, 4, topics, (int)tlen, SQLITE_STATIC);
    } else {
        q = f->s->del;
        sqlite3_bind_blob(q, 1, id, (int)idlen, SQLITE_STATIC);
    }
    if (sqlite3_step(q) != SQLITE_DONE)
        f->failed = 1;
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    f->rows++;
}

long trk_store_flush(trk_store *s, trk_table *t, uint64_t wall_ms,
                     uint64_t mono_ms)
{
    flush_ctx f = {s, t, wall_ms, mono_ms, 0, 0};

    if (sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        trk_table_changes(t, NULL, NULL);
        return -1;
    }
    trk_table_changes(t, flush_one, &f);
    if (f.failed) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        return -1;
    return f.rows;
}
