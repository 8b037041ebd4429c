/* The peer store's table: entries, addresses, backoff, eviction and the
 * order the dialer tries peers in. Network-free and clock-free: every
 * function that needs the time is given it (unix ms), so that tests drive
 * it with a fake clock, as jech/dht's core is driven by its caller.
 *
 * Lookups are linear: the table holds at most a few thousand entries and
 * is touched a few times per connection, not per message. */
#ifndef SHOAL_PEERSTORE_TABLE_H
#define SHOAL_PEERSTORE_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "shoal/peerstore.h"

#define PS_ID_MAX 128     /* peer id text, NUL included */
#define PS_ADDR_MAX 256   /* one address's text, NUL included */

typedef struct ps_entry {
    char id[PS_ID_MAX];
    /* most recently learned first; each a host (ip4, ip6, dns) and tcp */
    char addrs[SHOAL_PEERSTORE_ADDRS_MAX][PS_ADDR_MAX];
    size_t naddrs;
    uint64_t first_seen, last_seen, last_connect, next_retry; /* 0: never */
    uint32_t failures;     /* consecutive */
    int dirty;             /* changed since the last flush */
} ps_entry;

typedef struct ps_table {
    ps_entry *e;           /* owned */
    size_t n, cap;
    size_t max_entries;
    size_t max_addrs;
    uint32_t backoff_min_ms, backoff_max_ms;
    char (*gone)[PS_ID_MAX]; /* removed since the last flush (owned) */
    size_t ngone, gone_cap;
    uint64_t evicted;      /* ever */
} ps_table;

/* max_addrs is capped at SHOAL_PEERSTORE_ADDRS_MAX; 0s take defaults. */
void ps_table_init(ps_table *t, size_t max_entries, size_t max_addrs,
                   uint32_t backoff_min_ms, uint32_t backoff_max_ms);
void ps_table_free(ps_table *t);

/* The canonical text of a storable address for peer id: a host component
 * (ip4, ip6, dns, dns4, dns6), then tcp, then optionally /p2p/ID naming
 * this very peer (dropped: the entry's id says it). 0, or SHOAL_EBADADDR
 * for anything else, over-long text included. */
int ps_addr_normalize(const char *addr, const char *id, char *out,
                      size_t size);
/* The canonical (base58) text of a peer id, CIDv1 accepted. 0, or
 * SHOAL_EINVAL for anything that is not a peer id. */
int ps_id_normalize(const char *id, char out[PS_ID_MAX]);

ps_entry *ps_table_get(ps_table *t, const char *id);

/* Ids given to the functions below are normalized first (so "bafz..."
 * and "12D3KooW..." name the same entry); NULL or a bad one is not found.
 *
 * The peer was heard of or from at now: created if new (first_seen), its
 * last_seen moved, addr (may be NULL) put first in its list (the oldest
 * falls off past max_addrs). A new entry past max_entries evicts one (see
 * ps_table_evict). SHOAL_EINVAL for a bad id, SHOAL_EBADADDR for a bad
 * address (then nothing changes), SHOAL_ENOMEM. */
int ps_table_seen(ps_table *t, const char *id, const char *addr,
                  uint64_t now);
/* An entry as read back from disk: id and addresses checked (bad
 * addresses dropped, past max_addrs the oldest), times and failures as
 * given, not dirty. SHOAL_EINVAL for a bad id, SHOAL_EEXIST for a
 * duplicate, SHOAL_EFULL past max_entries (give rows best first: those
 * refused are noted removed, for the next flush). */
int ps_table_put(ps_table *t, const ps_entry *src);
/* A connection to the peer is up: seen, last_connect = now, failures and
 * backoff cleared. Same errors. */
int ps_table_connected(ps_table *t, const char *id, const char *addr,
                       uint64_t now);
/* A dial to a known peer failed at now: one more consecutive failure,
 * next_retry = now + ps_backoff(failures); the address tried moves to the
 * end of the list so that the next dial tries another. SHOAL_ENOENT for
 * an unknown peer (a failure alone does not make an entry). */
int ps_table_failed(ps_table *t, const char *id, const char *addr,
                    uint64_t now);
/* Forgets the peer. SHOAL_ENOENT if unknown. */
int ps_table_remove(ps_table *t, const char *id);

/* Delay before the next dial after this many consecutive failures:
 * backoff_min_ms doubled per failure after the first, at most
 * backoff_max_ms; 0 for no failures. */
uint64_t ps_backoff(const ps_table *t, uint32_t failures);

/* Removes the worst entry: the most failures, then the oldest last_seen.
 * Returns 1 if one went, 0 for an empty table. */
int ps_table_evict(ps_table *t);

/* "Better first": fewer failures, then more recently seen, then id. */
int ps_entry_cmp(const ps_entry *a, const ps_entry *b);

/* Fills out with every entry, best first; returns t->n. out must have
 * room for t->n; its pointers are valid until the table next changes. */
size_t ps_table_sorted(const ps_table *t, const ps_entry **out);

/* Up to max entries that may be dialed at now (next_retry <= now and an
 * address), best first, for which skip(id, user) (may be NULL) is 0.
 * Returns how many were written to out (pointers into the table, valid
 * until it next changes). */
typedef int (*ps_skip_fn)(const char *id, void *user);
size_t ps_table_due(ps_table *t, uint64_t now, ps_skip_fn skip, void *user,
                    ps_entry **out, size_t max);

#endif
