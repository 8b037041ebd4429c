/* The tracker's table on disk (SQLite). The table in memory is the truth;
 * the store is written from its change list in one transaction per flush,
 * and read back at start. Rows hold wall-clock times (the table's are
 * monotonic), so that a restart can tell what expired meanwhile. */
#ifndef SHOAL_TRACKER_STORE_H
#define SHOAL_TRACKER_STORE_H

#include <stdint.h>

#include "tracker/table.h"

typedef struct trk_store trk_store;

/* Opens (creates) the database at path: WAL, synchronous=NORMAL. 0 or -1;
 * err (may be NULL) gets SQLite's reason. */
int trk_store_open(trk_store **out, const char *path, char *err,
                   size_t errsize);
void trk_store_close(trk_store *s);

/* Checks that the existing database at path can be opened as
 * trk_store_open would (it is not changed): 0, or -1 with why a person
 * should know ("not a database (file is not a database)", "corrupt
 * (...)") in why. */
int trk_store_check(const char *path, char *why, size_t size);

/* Deletes rows older than ttl_ms at wall_ms and loads the others into t,
 * their times moved onto the table's clock (mono_ms is now there). Returns
 * the number loaded, or -1. */
long trk_store_load(trk_store *s, trk_table *t, uint64_t wall_ms,
                    uint64_t mono_ms, uint32_t ttl_ms);

/* Writes t's change list in one transaction. Returns rows written or
 * deleted, or -1 (the changes are lost from the list then; their entries
 * are noted again at their next change or quarter-ttl refresh). */
long trk_store_flush(trk_store *s, trk_table *t, uint64_t wall_ms,
                     uint64_t mono_ms);

#endif
