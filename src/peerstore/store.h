/* The peer store's table on disk (SQLite). The table in memory is the
 * truth: rows are read into it at start, and its dirty entries and
 * removals are written in one transaction per flush. */
#ifndef SHOAL_PEERSTORE_STORE_H
#define SHOAL_PEERSTORE_STORE_H

#include <stddef.h>

#include "peerstore/table.h"

typedef struct ps_db ps_db;

/* Opens (creates) the database at path: WAL, synchronous=NORMAL, checked
 * (quick_check) so that a corrupt file is refused here rather than found
 * later. Only an empty database or a shoal peer store (our application_id,
 * or from before it: shoal_peers alone) is taken, and nothing is written
 * before that is known: another program's file is left as it was. 0 or
 * -1; err (may be NULL) gets the reason. */
int ps_db_open(ps_db **out, const char *path, char *err, size_t errsize);
void ps_db_close(ps_db *db);

/* Reads every row into t, best first (rows past its cap are dropped and
 * noted removed, bad rows skipped). Returns the number loaded, or -1 with
 * err set. */
long ps_db_load(ps_db *db, ps_table *t, char *err, size_t errsize);

/* Writes t's dirty entries and removals in one transaction; on success
 * they are marked clean. Returns rows written, or -1 (nothing is marked:
 * the next flush tries again). */
long ps_db_flush(ps_db *db, ps_table *t);

#endif
