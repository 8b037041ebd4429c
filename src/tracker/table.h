/* The tracker's table, network-free (in the manner of jech/dht): the caller
 * feeds announces and the time; there is no socket, no loop, no clock here.
 *
 * An entry is a peer id (binary multihash) with up to TRK_ADDRS_MAX binary
 * multiaddrs (without /p2p/: the id is known), up to TRK_TOPICS_MAX topics
 * and the time it was last announced. It expires ttl_ms after that.
 *
 * Memory is the point at a million entries: one allocation per entry
 * holding its id, addresses and topic references; topics interned once
 * (a topic is an index into the topic table); entries kept in a dense array
 * (so a uniform random pick is one random index) with an open-addressing
 * index of 4-byte slots from id to position.
 *
 * Rate limits: a token bucket per source (the caller's notion: a host),
 * in a bounded table; when it is full the oldest source made is dropped
 * for the new one.
 *
 * Persistence is the caller's: every entry added, changed or removed is
 * noted once in a change list (trk_table_changes) until taken.
 */
#ifndef SHOAL_TRACKER_TABLE_H
#define SHOAL_TRACKER_TABLE_H

#include <stddef.h>
#include <stdint.h>

#define TRK_ID_MAX 64       /* binary peer id, bytes */
#define TRK_ADDR_MAX 96     /* one binary multiaddr, bytes */
#define TRK_ADDRS_MAX 8
#define TRK_TOPICS_MAX 8
#define TRK_TOPIC_MAX 64    /* topic text, bytes (1..64, printable) */
#define TRK_SOURCE_MAX 64   /* source name (a host), bytes with the NUL */

/* Error codes (negative), each with a reply reason (trk_strerror). */
#define TRK_EFULL     (-1)  /* max_entries reached: "full" */
#define TRK_ERATE     (-2)  /* the source's bucket is empty: "rate_limited" */
#define TRK_EINVAL    (-3)  /* bad announce: "malformed" */
#define TRK_ENOMEM    (-4)  /* "no memory" */
#define TRK_ETOPICS   (-5)  /* max_topics reached: "full" */

typedef struct trk_config {
    size_t max_entries;     /* peers held, at most */
    size_t max_topics;      /* distinct topics held, at most */
    uint32_t ttl_ms;        /* an entry lives this long after an announce */
    size_t max_sources;     /* token buckets kept */
    double rate;            /* tokens per second per source */
    double burst;           /* bucket size */
    uint64_t seed;          /* sampling's random numbers */
} trk_config;

/* One announce, binary (see protocol.h for the wire's text). */
typedef struct trk_announce {
    const uint8_t *id;
    size_t idlen;                     /* 1..TRK_ID_MAX */
    size_t naddrs;                    /* 0..TRK_ADDRS_MAX */
    const uint8_t *addr[TRK_ADDRS_MAX];
    size_t addrlen[TRK_ADDRS_MAX];    /* 1..TRK_ADDR_MAX each */
    size_t ntopics;                   /* 0..TRK_TOPICS_MAX, no repeats */
    const char *topic[TRK_TOPICS_MAX];
    size_t topiclen[TRK_TOPICS_MAX];  /* 1..TRK_TOPIC_MAX each */
} trk_announce;

/* A view of an entry, borrowed until the table next changes. */
typedef struct trk_peer {
    const uint8_t *id;
    size_t idlen;
    size_t naddrs;
    const uint8_t *addr[TRK_ADDRS_MAX];
    size_t addrlen[TRK_ADDRS_MAX];
    size_t ntopics;
    const char *topic[TRK_TOPICS_MAX];   /* NUL-terminated */
    uint64_t seen_ms;
} trk_peer;

typedef struct trk_table trk_table;

/* Fills cfg with defaults: 1,000,000 entries, 100,000 topics, 120 s,
 * 4096 sources, 20 tokens/s with a burst of 40, seed 1. */
void trk_config_init(trk_config *cfg);
int trk_table_new(trk_table **out, const trk_config *cfg);
void trk_table_free(trk_table *t);

/* Takes one token from source's bucket at now_ms: 0, or TRK_ERATE. */
int trk_rate_take(trk_table *t, const char *source, uint64_t now_ms);

/* Adds or refreshes a's entry (addresses and topics replaced by a's) as
 * seen at now_ms. 0 or TRK_EINVAL, TRK_EFULL, TRK_ETOPICS, TRK_ENOMEM;
 * on error the table is as before. */
int trk_table_announce(trk_table *t, const trk_announce *a, uint64_t now_ms);

/* Removes the entry of id; 0 or -1 if unknown. */
int trk_table_remove(trk_table *t, const uint8_t *id, size_t idlen);

/* The entry of id, or -1. */
int trk_table_get(const trk_table *t, const uint8_t *id, size_t idlen,
                  trk_peer *out);

/* Up to max live entries (seen within ttl at now_ms) picked at random,
 * none twice, not the one of exclude (may be NULL). topic NULL: from all
 * entries; else from those announced under it. Returns the count written
 * to out. */
size_t trk_table_sample(trk_table *t, const char *topic, size_t topiclen,
                        const uint8_t *exclude, size_t exclude_len,
                        uint64_t now_ms, trk_peer *out, size_t max);

/* Removes entries unseen for ttl, looking at up to max_scan of them from
 * where the last call stopped (so a big table is swept in slices).
 * Returns the number removed. */
size_t trk_table_expire(trk_table *t, uint64_t now_ms, size_t max_scan);

size_t trk_table_count(const trk_table *t);
size_t trk_table_topic_count(const trk_table *t);
/* Members of a topic (0 if unknown). */
size_t trk_table_topic_size(const trk_table *t, const char *topic,
                            size_t topiclen);

/* The change list: ids added, changed or removed since the last take, each
 * once. Calls fn(id, idlen, user) for each and empties the list; the caller
 * looks each id up (trk_table_get) to learn whether to write or delete.
 * fn NULL: the list is only emptied. */
typedef void (*trk_change_fn)(const uint8_t *id, size_t idlen, void *user);
size_t trk_table_changes(trk_table *t, trk_change_fn fn, void *user);

/* Reason text for an error code ("full", "rate_limited", ...). */
const char *trk_strerror(int err);

#endif
