/*
 * shoal/peerstore.h: the peers a node has known, kept across restarts.
 *
 * The store watches the node's peer events (shoal_peer_events_add): a peer
 * added to the table or connected to (Noise proved its id) is recorded
 * with the address it was reached at, last seen now; a dial to it that
 * fails counts one more consecutive failure and pushes its next retry out
 * (exponential backoff, capped). Per peer: id, up to max_addrs addresses
 * (each a valid, dialable multiaddr: ip4, ip6 or dns, then tcp), first and
 * last seen, last connect, consecutive failures, next retry. Past
 * max_entries, the entry with the most failures goes, then the one seen
 * longest ago. Peers the table forgets stay in the store: remembering them
 * is its point.
 *
 * The dialer: at start and every dial_interval_ms, while the node's peer
 * table holds fewer than target_peers, stored peers not in it, not
 * connected and not in backoff are pinged at their /p2p/ address, best
 * first (fewest failures, then most recently seen), at most max_dials at
 * a time; one that answers enters the peer table.
 *
 * On disk (path set): SQLite, WAL, synchronous=NORMAL; read at start,
 * changes written in one transaction about every flush_ms and at
 * shoal_peerstore_free(), so a crash loses at most about that much. Times
 * are wall-clock (unix ms), so that backoff survives a restart.
 *
 * Threads: every function runs on the node's loop thread.
 */
#ifndef SHOAL_PEERSTORE_H
#define SHOAL_PEERSTORE_H

#include "shoal.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SHOAL_PEERSTORE_ADDRS_MAX 8

typedef struct shoal_peerstore shoal_peerstore;

typedef struct shoal_peerstore_config {
    size_t size;                 /* set by its _config_init: leave it */
    const char *path;            /* SQLite file, made if missing; NULL:
                                  * memory only */
    size_t max_entries;          /* peers kept */
    size_t max_addrs;            /* addresses per peer (<= 8) */
    uint32_t flush_ms;           /* changes written this often */
    size_t target_peers;         /* the dialer fills the peer table to
                                  * this many; 0: no dialer */
    size_t max_dials;            /* dials in flight at once */
    uint32_t dial_interval_ms;   /* between top-ups */
    uint32_t dial_timeout_ms;    /* one dial (a ping), at most */
    uint32_t backoff_min_ms;     /* after the first failure */
    uint32_t backoff_max_ms;     /* the cap, however many failures */
    /* The clock, unix ms, for tests; NULL: the system's. */
    uint64_t (*clock)(void *user);
    void *clock_user;
} shoal_peerstore_config;

/* Defaults: memory only, 1000 peers, 8 addresses each, 1 s flushes,
 * target 8 peers, 4 dials at once, every 10 s, 5 s per dial, backoff from
 * 5 s doubling up to 1 h, the system clock. */
SHOAL_EXTERN
void shoal_peerstore_config_init_size(shoal_peerstore_config *cfg,
                                      size_t size);
/* What the program calls (any thread): its sizeof goes to the library
 * (shoal.h, "configuration"). */
#define shoal_peerstore_config_init(cfg) \
    shoal_peerstore_config_init_size((cfg), sizeof(*(cfg)))

/* Opens the store for node (secure mode: SHOAL_EINVAL for a classic one),
 * loads what path holds, starts observing and (target_peers > 0) dialing.
 * path is copied. SHOAL_EPROTO when the file cannot be used as a peer
 * store (not SQLite, corrupt, not writable): the reason is logged at
 * error level and, when err is not NULL, written there. Free it with
 * shoal_peerstore_free() before the node. */
SHOAL_EXTERN
int shoal_peerstore_new(shoal_peerstore **out, shoal_node *node,
                        const shoal_peerstore_config *cfg, char *err,
                        size_t errsize);
/* Writes what is unwritten, stops observing and dialing, frees ps (dials
 * in flight end without effect). NULL: nothing. */
SHOAL_EXTERN
void shoal_peerstore_free(shoal_peerstore *ps);

/* Writes pending changes now (the timer does it every flush_ms). 0, or
 * SHOAL_EPROTO when the database refused (the changes are kept and tried
 * again at the next flush). 0 at once for a store in memory. */
SHOAL_EXTERN
int shoal_peerstore_flush(shoal_peerstore *ps);

/* One stored peer, as listed. Strings are borrowed for the callback. */
typedef struct shoal_peerstore_entry {
    const char *id;
    size_t naddrs;
    const char *addrs[SHOAL_PEERSTORE_ADDRS_MAX]; /* newest first, no /p2p/ */
    uint64_t first_seen_ms;      /* unix ms; 0: never */
    uint64_t last_seen_ms;
    uint64_t last_connect_ms;    /* the last connection (or dial) */
    uint64_t next_retry_ms;      /* no dial before then; 0: any time */
    uint32_t failures;           /* consecutive failed dials */
    int connected;               /* a secured connection is open now */
} shoal_peerstore_entry;

/* Calls cb for every stored peer, best first (as the dialer tries them).
 * The store must not be changed from cb. Returns the number listed. */
typedef void (*shoal_peerstore_list_cb)(const shoal_peerstore_entry *e,
                                        void *user);
SHOAL_EXTERN
size_t shoal_peerstore_list(shoal_peerstore *ps, shoal_peerstore_list_cb cb,
                            void *user);
SHOAL_EXTERN
size_t shoal_peerstore_count(const shoal_peerstore *ps);

/* Records a peer and an address learned elsewhere (a multiaddr, /p2p/ID
 * allowed when it is this id), seen now. SHOAL_EINVAL for a bad id or our
 * own, SHOAL_EBADADDR for an address the store does not keep. */
SHOAL_EXTERN
int shoal_peerstore_add(shoal_peerstore *ps, const char *peer_id,
                        const char *addr);
/* Forgets a peer. SHOAL_ENOENT if it is not stored. */
SHOAL_EXTERN
int shoal_peerstore_forget(shoal_peerstore *ps, const char *peer_id);

typedef struct shoal_peerstore_stats {
    size_t entries;
    uint64_t dials;              /* started */
    uint64_t dials_ok;           /* answered and added */
    uint64_t evicted;
    uint64_t flushes;            /* transactions written */
    uint64_t flush_errors;
} shoal_peerstore_stats;
SHOAL_EXTERN
void shoal_peerstore_stats_get(const shoal_peerstore *ps,
                               shoal_peerstore_stats *out);

#ifdef __cplusplus
}
#endif
#endif /* SHOAL_PEERSTORE_H */
