/*
 * shoal/tracker.h: discovery through trackers.
 *
 * A tracker is a secure shoal node with the tracker service: peers announce
 * their peer id and addresses, optionally under topics (an application's
 * name, a file hash), and get back a bounded random list of live peers.
 * Entries expire when not refreshed. Anyone can run one (shoal-tracker).
 *
 * Wire (typed messages on /shoal/msg/1.0.0; src/tracker/protocol.h):
 * ANNC, a few text lines (peer id, "addr", "topic", "want"), answered by one
 * PEER per peer returned or one ERRO ("rate_limited", "full",
 * "malformed: ..."); STAT, answered by one REPL
 * "peers=N topics=N announces_per_s=X entries_cap=N".
 *
 * Trust: the tracker has no public way to learn a request's remote peer id
 * (shoal_req has only a remote address), so it keeps only announced
 * addresses on the requester's own host. A client trusts nothing it is
 * told: each peer returned is pinged at its /p2p/ address (Noise proves the
 * id) before it enters the peer table.
 *
 * Threads: every function runs on the node's loop thread.
 */
#ifndef SHOAL_TRACKER_H
#define SHOAL_TRACKER_H

#include "shoal.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------ the tracker */
typedef struct shoal_tracker shoal_tracker;

typedef struct shoal_tracker_config {
    size_t size;                /* set by its _config_init: leave it */
    size_t max_entries;         /* peers held */
    size_t max_topics;          /* topics per announce, at most (<= 8) */
    uint32_t ttl_ms;            /* an entry lives this long unrefreshed */
    size_t max_peers;           /* peers returned per announce */
    double rate;                /* announces per second per source host */
    double burst;               /* and the bucket they are drawn from */
    size_t max_sources;         /* source buckets kept (oldest dropped) */
    const char *db_path;        /* SQLite file; NULL: memory only */
    uint32_t flush_ms;          /* changes written this often */
    int allow_other_ids;        /* 1: take announces for peer ids other
                                 * than the connection's (a benchmark
                                 * standing in for many peers); 0 */
} shoal_tracker_config;

/* Defaults: 1,000,000 entries, 8 topics, 120 s, 50 peers, 20/s with a
 * burst of 40 per source, 4096 sources, no database, 1 s flushes. */
SHOAL_EXTERN
void shoal_tracker_config_init_size(shoal_tracker_config *cfg, size_t size);
/* What the program calls (any thread): its sizeof goes to the library
 * (shoal.h, "configuration"). */
#define shoal_tracker_config_init(cfg) \
    shoal_tracker_config_init_size((cfg), sizeof(*(cfg)))

/* Serves ANNC and STAT on node (which must be in secure mode). With a
 * db_path, the unexpired entries stored there are loaded first, and changes
 * are written every flush_ms (WAL, synchronous=NORMAL: a crash loses at
 * most about that much). SHOAL_EINVAL for a classic node, SHOAL_EPROTO when
 * the database cannot be opened. Free it with shoal_tracker_free() before
 * the node. */
SHOAL_EXTERN
int shoal_tracker_new(shoal_tracker **out, shoal_node *node,
                      const shoal_tracker_config *cfg);
/* Checks the database at path (cfg->db_path) as shoal_tracker_new() would
 * open it, changing nothing, and says what is wrong with it, for a
 * program's message: 0 when it can be used or is not there yet in an
 * existing folder (it is made at start); else a negative code, and why
 * (when not NULL; size bytes) gets a reason such as "not a database (file
 * is not a database)". Any thread. */
SHOAL_EXTERN
int shoal_tracker_db_check(const char *path, char *why, size_t size);
/* Writes what is unwritten, removes the handlers, frees t. NULL: nothing. */
SHOAL_EXTERN
void shoal_tracker_free(shoal_tracker *t);

typedef struct shoal_tracker_stats {
    size_t peers;               /* entries now */
    size_t topics;              /* distinct topics now */
    double announces_per_s;     /* over the last second */
    size_t entries_cap;
    uint64_t announces;         /* accepted, ever */
    uint64_t refused;           /* malformed, full */
    uint64_t rate_limited;
    uint64_t flushes;           /* writes to the database that succeeded:
                                 * the table as it was before the last
                                 * one is on disk */
} shoal_tracker_stats;

SHOAL_EXTERN
void shoal_tracker_stats_get(const shoal_tracker *t, shoal_tracker_stats *out);

/* Writes pending changes now (the timer does it every flush_ms).
 * 0, or SHOAL_EPROTO when the database refused. */
SHOAL_EXTERN
int shoal_tracker_flush(shoal_tracker *t);

/* ------------------------------------------------------------- the client */
typedef struct shoal_tracker_client shoal_tracker_client;

typedef struct shoal_tracker_client_config {
    size_t size;                 /* set by its _config_init: leave it */
    const char *const *trackers; /* multiaddrs with /p2p/, each tracker
                                  * (peer id) once */
    size_t ntrackers;            /* 1..8 */
    const char *const *topics;   /* announced under these (may be none) */
    size_t ntopics;
    const char *const *addrs;    /* announced addresses; NULL: the node's
                                  * listen addresses */
    size_t naddrs;
    uint32_t interval_ms;        /* re-announce period */
    size_t target_peers;         /* stop adding peers at this many */
    uint32_t backoff_min_ms;     /* after a failure: from this (>= 1), */
    uint32_t backoff_max_ms;     /* doubling up to this (>= min); each
                                  * wait, and each interval, give or take
                                  * a quarter */
    uint32_t request_timeout_ms;
} shoal_tracker_client_config;

/* Defaults: no trackers, no topics, the node's addresses, 30 s, 8 peers,
 * backoff from 1 s to 60 s, 5 s requests. */
SHOAL_EXTERN
void shoal_tracker_client_config_init_size(shoal_tracker_client_config *cfg,
                                           size_t size);
/* What the program calls (any thread): its sizeof goes to the library
 * (shoal.h, "configuration"). */
#define shoal_tracker_client_config_init(cfg) \
    shoal_tracker_client_config_init_size((cfg), sizeof(*(cfg)))

/* Announces to every tracker now and then every interval_ms. Each returned
 * peer not yet known is pinged; one that answers is added to the node's
 * peer table (shoal_peer_add), until target_peers are known. Each tracker
 * is on its own schedule: one that fails (refused, no answer in
 * request_timeout_ms, an ERRO) is retried after backoff_min_ms, then twice
 * that after each failure in a row, at most backoff_max_ms; its first
 * success puts it back on interval_ms. The others go on meanwhile, and
 * peers already known are kept whatever the trackers do. Strings are
 * copied. Refused, with a WARN line saying why: no trackers or more than 8
 * (SHOAL_EINVAL), one without /p2p/ID (SHOAL_EBADADDR), two with the same
 * peer id (SHOAL_EEXIST), backoff_min_ms 0 or above backoff_max_ms, more
 * than 8 topics or addrs, an empty topic or one with a newline
 * (SHOAL_EINVAL); interval_ms and request_timeout_ms 0 mean the
 * defaults. */
SHOAL_EXTERN
int shoal_tracker_client_new(shoal_tracker_client **out, shoal_node *node,
                             const shoal_tracker_client_config *cfg);
/* Stops announcing; outstanding requests finish without effect. */
SHOAL_EXTERN
void shoal_tracker_client_free(shoal_tracker_client *c);

typedef struct shoal_tracker_client_stats {
    uint64_t announces_ok;      /* announces answered without ERRO */
    uint64_t announces_failed;
    uint64_t peers_added;
} shoal_tracker_client_stats;
SHOAL_EXTERN
void shoal_tracker_client_stats_get(const shoal_tracker_client *c,
                                    shoal_tracker_client_stats *out);

/* One tracker's side, i in the order of cfg->trackers. */
typedef struct shoal_tracker_client_tracker_stats {
    const char *addr;           /* as configured; valid until the free */
    uint64_t announces_ok;      /* answered without ERRO */
    uint64_t failures;          /* announces that failed, ever */
    uint32_t failures_in_row;   /* since the last success; 0: not failing */
    uint32_t backoff_ms;        /* the retry delay now, before jitter
                                 * (backoff_min_ms << failures_in_row - 1,
                                 * at most backoff_max_ms); 0: not failing */
    uint32_t wait_ms;           /* the wait chosen after the last announce:
                                 * backoff_ms or interval_ms, jittered */
    uint32_t next_ms;           /* until the next announce; 0 while one is
                                 * in flight or due */
    int in_flight;              /* an announce waits for its answer */
} shoal_tracker_client_tracker_stats;

/* 0, or SHOAL_EINVAL when i is not a configured tracker (*out zeroed). */
SHOAL_EXTERN
int shoal_tracker_client_tracker_stats_get(
    const shoal_tracker_client *c, size_t i,
    shoal_tracker_client_tracker_stats *out);

#ifdef __cplusplus
}
#endif
#endif /* SHOAL_TRACKER_H */
