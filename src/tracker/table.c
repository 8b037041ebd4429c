/* The tracker's table (table.h): entries, topics, token buckets. */
#include <stdlib.h>
#include <string.h>

#include "tracker/table.h"

#define SAMPLE_MAX 256

/* An entry's topic: its index in the topic table and the entry's position
 * in that topic's member list (so leaving is a swap, not a search). */
typedef struct tref {
    uint32_t topic;
    uint32_t pos;
} tref;

/* One allocation: this header, ntopics trefs, the id's bytes, then each
 * address as a length byte and its bytes. */
typedef struct entry {
    uint64_t seen_ms;
    uint32_t dense;         /* position in t->entries */
    uint32_t noted_s;       /* seen_ms / 1024 when last put in the changes */
    uint8_t idlen, naddrs, ntopics, dirty;
    tref topics[];
} entry;

typedef struct topic {
    char *name;             /* NULL: a free slot */
    uint8_t len;
    uint32_t n, cap;
    entry **members;
} topic;

typedef struct source {
    char name[TRK_SOURCE_MAX];
    double tokens;
    uint64_t last_ms;
    int used;
} source;

/* Open addressing, linear probing, values are index + 1 (0 = empty),
 * deletion by backward shift (no tombstones). */
typedef struct oaindex {
    uint32_t *slot;
    size_t mask;            /* capacity - 1, a power of two minus one */
    size_t used;
} oaindex;

struct trk_table {
    trk_config cfg;
    entry **entries;
    size_t n, cap;
    oaindex ids;
    topic *topics;
    size_t ntopics_slots, ntopics_live;
    uint32_t *free_topics;
    size_t nfree_topics;
    oaindex topic_ix;
    source *sources;
    size_t ring;            /* next source slot to (re)use */
    oaindex source_ix;
    uint8_t *changes;       /* [len][id bytes]... */
    size_t changes_len, changes_cap;
    size_t expire_cursor;
    uint64_t rng;
};

/* ------------------------------------------------------------ helpers */

static uint64_t hash_bytes(const void *p, size_t len)
{
    const uint8_t *b = p;
    uint64_t h = 1469598103934665603ull;     /* FNV-1a, then a mix */

    for (size_t i = 0; i < len; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    h ^= h >> 31;
    h *= 0x9e3779b97f4a7c15ull;
    return h ^ (h >> 29);
}

static uint64_t rng_next(trk_table *t)
{
    uint64_t x = t->rng;                     /* xorshift64* */

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    t->rng = x;
    return x * 2685821657736338717ull;
}

static size_t rng_below(trk_table *t, size_t n)
{
    return (size_t)(rng_next(t) % n);
}

static const uint8_t *entry_id(const entry *e)
{
    return (const uint8_t *)(e->topics + e->ntopics);
}

static const uint8_t *entry_addrs(const entry *e)
{
    return entry_id(e) + e->idlen;
}

typedef uint64_t (*value_hash_fn)(const trk_table *t, uint32_t v);

static uint64_t entry_hash(const trk_table *t, uint32_t v)
{
    const entry *e = t->entries[v - 1];
    return hash_bytes(entry_id(e), e->idlen);
}

static uint64_t topic_hash(const trk_table *t, uint32_t v)
{
    const topic *tp = &t->topics[v - 1];
    return hash_bytes(tp->name, tp->len);
}

static uint64_t source_hash(const trk_table *t, uint32_t v)
{
    const char *s = t->sources[v - 1].name;
    return hash_bytes(s, strlen(s));
}

static int oa_init(oaindex *ix, size_t cap)
{
    ix->slot = calloc(cap, sizeof(*ix->slot));
    ix->mask = cap - 1;
    ix->used = 0;
    return ix->slot != NULL ? 0 : -1;
}

/* Puts v in (no check for a duplicate). */
static void oa_put(oaindex *ix, uint64_t h, uint32_t v)
{
    size_t i = (size_t)h & ix->mask;

    while (ix->slot[i] != 0)
        i = (i + 1) & ix->mask;
    ix->slot[i] = v;
    ix->used++;
}

/* Doubles the index when it is 70% full. */
static int oa_reserve(trk_table *t, oaindex *ix, value_hash_fn hf)
{
    oaindex bigger;

    if ((ix->used + 1) * 10 < (ix->mask + 1) * 7)
        return 0;
    if (oa_init(&bigger, (ix->mask + 1) * 2) < 0)
        return -1;
    for (size_t i = 0; i <= ix->mask; i++)
        if (ix->slot[i] != 0)
            oa_put(&bigger, hf(t, ix->slot[i]), ix->slot[i]);
    free(ix->slot);
    *ix = bigger;
    return 0;
}

/* The slot holding v (which must be there). */
static size_t oa_slot_of(const oaindex *ix, uint64_t h, uint32_t v)
{
    size_t i = (size_t)h & ix->mask;

    while (ix->slot[i] != v)
        i = (i + 1) & ix->mask;
    return i;
}

/* Empties slot i and moves later members of its run back so that every
 * value stays reachable from its home slot. */
static void oa_delete_at(trk_table *t, oaindex *ix, size_t i,
                         value_hash_fn hf)
{
    size_t j = i;

    ix->slot[i] = 0;
    ix->used--;
    for (;;) {
        size_t home;
        j = (j + 1) & ix->mask;
        if (ix->slot[j] == 0)
            return;
        home = (size_t)hf(t, ix->slot[j]) & ix->mask;
        /* leave it if its home lies cyclically in (i, j] */
        if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
            continue;
        ix->slot[i] = ix->slot[j];
        ix->slot[j] = 0;
        i = j;
    }
}

/* -------------------------------------------------------------- config */

void trk_config_init(trk_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_entries = 1000000;
    cfg->max_topics = 100000;
    cfg->ttl_ms = 120000;
    cfg->max_sources = 4096;
    cfg->rate = 20;
    cfg->burst = 40;
    cfg->seed = 1;
}

static size_t pow2_at_least(size_t n)
{
    size_t c = 16;

    while (c < n)
        c *= 2;
    return c;
}

int trk_table_new(trk_table **out, const trk_config *cfg)
{
    trk_table *t = calloc(1, sizeof(*t));

    *out = NULL;
    if (t == NULL)
        return TRK_ENOMEM;
    t->cfg = *cfg;
    if (t->cfg.max_entries == 0 || t->cfg.max_entries > UINT32_MAX / 2)
        t->cfg.max_entries = 1000000;
    if (t->cfg.max_topics == 0 || t->cfg.max_topics > UINT32_MAX / 2)
        t->cfg.max_topics = 100000;
    if (t->cfg.max_sources == 0)
        t->cfg.max_sources = 4096;
    t->rng = cfg->seed ? cfg->seed : 1;
    t->sources = calloc(t->cfg.max_sources, sizeof(*t->sources));
    if (t->sources == NULL || oa_init(&t->ids, 64) < 0 ||
        oa_init(&t->topic_ix, 16) < 0 ||
        oa_init(&t->source_ix, pow2_at_least(2 * t->cfg.max_sources)) < 0) {
        trk_table_free(t);
        return TRK_ENOMEM;
    }
    *out = t;
    return 0;
}

void trk_table_free(trk_table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n; i++)
        free(t->entries[i]);
    for (size_t i = 0; i < t->ntopics_slots; i++) {
        free(t->topics[i].name);
        free(t->topics[i].members);
    }
    free(t->entries);
    free(t->topics);
    free(t->free_topics);
    free(t->ids.slot);
    free(t->topic_ix.slot);
    free(t->source_ix.slot);
    free(t->sources);
    free(t->changes);
    free(t);
}

/* --------------------------------------------------------- rate limits */

int trk_rate_take(trk_table *t, const char *who, uint64_t now_ms)
{
    size_t len = strnlen(who, TRK_SOURCE_MAX - 1);
    uint64_t h = hash_bytes(who, len);
    size_t i = (size_t)h & t->source_ix.mask;
    source *s = NULL;

    for (; t->source_ix.slot[i] != 0; i = (i + 1) & t->source_ix.mask) {
        source *c = &t->sources[t->source_ix.slot[i] - 1];
        if (strncmp(c->name, who, len) == 0 && c->name[len] == '\0') {
            s = c;
            break;
        }
    }
    if (s == NULL) {
        /* a new source takes the ring's next slot: the oldest made */
        s = &t->sources[t->ring];
        if (s->used) {
            uint32_t v = (uint32_t)t->ring + 1;
            oa_delete_at(t, &t->source_ix,
                         oa_slot_of(&t->source_ix, source_hash(t, v), v),
                         source_hash);
        }
        memcpy(s->name, who, len);
        s->name[len] = '\0';
        s->tokens = t->cfg.burst;
        s->last_ms = now_ms;
        s->used = 1;
        oa_put(&t->source_ix, h, (uint32_t)t->ring + 1);
        t->ring = (t->ring + 1) % t->cfg.max_sources;
    }
    if (now_ms > s->last_ms) {
        s->tokens += (double)(now_ms - s->last_ms) * t->cfg.rate / 1000.0;
        if (s->tokens > t->cfg.burst)
            s->tokens = t->cfg.burst;
        s->last_ms = now_ms;
    }
    if (s->tokens < 1.0)
        return TRK_ERATE;
    s->tokens -= 1.0;
    return 0;
}

/* ------------------------------------------------------------- topics */

static uint32_t *topic_find(const trk_table *t, const char *name,
                            size_t len)
{
    size_t i = (size_t)hash_bytes(name, len) & t->topic_ix.mask;

    for (; t->topic_ix.slot[i] != 0; i = (i + 1) & t->topic_ix.mask) {
        const topic *tp = &t->topics[t->topic_ix.slot[i] - 1];
        if (tp->len == len && memcmp(tp->name, name, len) == 0)
            return &t->topic_ix.slot[i];
    }
    return NULL;
}

/* The index of topic name, made if new; -1 when full or out of memory. */
static long topic_intern(trk_table *t, const char *name, size_t len)
{
    uint32_t *slot = topic_find(t, name, len);
    size_t k;
    topic *tp;

    if (slot != NULL)
        return (long)*slot - 1;
    if (t->ntopics_live >= t->cfg.max_topics)
        return -1;
    if (oa_reserve(t, &t->topic_ix, topic_hash) < 0)
        return -1;
    if (t->nfree_topics > 0) {
        k = t->free_topics[--t->nfree_topics];
    } else {
        topic *grown = realloc(t->topics,
                               (t->ntopics_slots + 1) * sizeof(*grown));
        uint32_t *fl = realloc(t->free_topics,
                               (t->ntopics_slots + 1) * sizeof(*fl));
        if (grown != NULL)
            t->topics = grown;
        if (fl != NULL)
            t->free_topics = fl;
        if (grown == NULL || fl == NULL)
            return -1;
        k = t->ntopics_slots++;
        memset(&t->topics[k], 0, sizeof(t->topics[k]));
    }
    tp = &t->topics[k];
    if ((tp->name = malloc(len + 1)) == NULL) {
        t->free_topics[t->nfree_topics++] = (uint32_t)k;
        return -1;
    }
    memcpy(tp->name, name, len);
    tp->name[len] = '\0';
    tp->len = (uint8_t)len;
    tp->n = 0;
    oa_put(&t->topic_ix, hash_bytes(name, len), (uint32_t)k + 1);
    t->ntopics_live++;
    return (long)k;
}

/* Drops a topic left without members. */
static void topic_release(trk_table *t, uint32_t k)
{
    topic *tp = &t->topics[k];

    if (tp->n != 0)
        return;
    oa_delete_at(t, &t->topic_ix,
                 oa_slot_of(&t->topic_ix, topic_hash(t, k + 1), k + 1),
                 topic_hash);
    free(tp->name);
    free(tp->members);
    memset(tp, 0, sizeof(*tp));
    t->free_topics[t->nfree_topics++] = k;
    t->ntopics_live--;
}

static int topic_join(trk_table *t, uint32_t k, entry *e, size_t which)
{
    topic *tp = &t->topics[k];

    if (tp->n == tp->cap) {
        uint32_t cap = tp->cap ? 2 * tp->cap : 4;
        entry **m = realloc(tp->members, cap * sizeof(*m));
        if (m == NULL)
            return -1;
        tp->members = m;
        tp->cap = cap;
    }
    e->topics[which].topic = k;
    e->topics[which].pos = tp->n;
    tp->members[tp->n++] = e;
    return 0;
}

static void topic_leave(trk_table *t, entry *e, size_t which)
{
    topic *tp = &t->topics[e->topics[which].topic];
    uint32_t pos = e->topics[which].pos;
    entry *last = tp->members[--tp->n];

    if (last != e) {
        tp->members[pos] = last;
        for (size_t i = 0; i < last->ntopics; i++)
            if (last->topics[i].topic == e->topics[which].topic)
                last->topics[i].pos = pos;
    }
}

/* ------------------------------------------------------------ entries */

static uint32_t *id_find(const trk_table *t, const uint8_t *id, size_t len)
{
    size_t i = (size_t)hash_bytes(id, len) & t->ids.mask;

    for (; t->ids.slot[i] != 0; i = (i + 1) & t->ids.mask) {
        const entry *e = t->entries[t->ids.slot[i] - 1];
        if (e->idlen == len && memcmp(entry_id(e), id, len) == 0)
            return &t->ids.slot[i];
    }
    return NULL;
}

static void note_change(trk_table *t, entry *e, const uint8_t *id,
                        size_t idlen)
{
    if (e != NULL && e->dirty)
        return;
    if (e != NULL)
        e->noted_s = (uint32_t)(e->seen_ms >> 10);
    if (t->changes_len + 1 + idlen > t->changes_cap) {
        size_t cap = t->changes_cap ? 2 * t->changes_cap : 4096;
        uint8_t *c = realloc(t->changes, cap);
        if (c == NULL)
            return; /* the next flush misses it; the next announce has it */
        t->changes = c;
        t->changes_cap = cap;
    }
    t->changes[t->changes_len++] = (uint8_t)idlen;
    memcpy(t->changes + t->changes_len, id, idlen);
    t->changes_len += idlen;
    if (e != NULL)
        e->dirty = 1;
}

static int announce_ok(const trk_announce *a)
{
    if (a->idlen == 0 || a->idlen > TRK_ID_MAX ||
        a->naddrs > TRK_ADDRS_MAX || a->ntopics > TRK_TOPICS_MAX)
        return 0;
    for (size_t i = 0; i < a->naddrs; i++)
        if (a->addrlen[i] == 0 || a->addrlen[i] > TRK_ADDR_MAX)
            return 0;
    for (size_t i = 0; i < a->ntopics; i++) {
        if (a->topiclen[i] == 0 || a->topiclen[i] > TRK_TOPIC_MAX)
            return 0;
        for (size_t k = 0; k < i; k++)
            if (a->topiclen[k] == a->topiclen[i] &&
                memcmp(a->topic[k], a->topic[i], a->topiclen[i]) == 0)
                return 0;
    }
    return 1;
}

/* A new entry for a (topics not joined yet). */
static entry *entry_make(const trk_announce *a, uint64_t now_ms)
{
    size_t size = sizeof(entry) + a->ntopics * sizeof(tref) + a->idlen;
    uint8_t *p;
    entry *e;

    for (size_t i = 0; i < a->naddrs; i++)
        size += 1 + a->addrlen[i];
    if ((e = malloc(size)) == NULL)
        return NULL;
    e->seen_ms = now_ms;
    e->idlen = (uint8_t)a->idlen;
    e->naddrs = (uint8_t)a->naddrs;
    e->ntopics = (uint8_t)a->ntopics;
    e->dirty = 0;
    p = (uint8_t *)(e->topics + e->ntopics);
    memcpy(p, a->id, a->idlen);
    p += a->idlen;
    for (size_t i = 0; i < a->naddrs; i++) {
        *p++ = (uint8_t)a->addrlen[i];
        memcpy(p, a->addr[i], a->addrlen[i]);
        p += a->addrlen[i];
    }
    return e;
}

/* Does e hold exactly a's addresses and topics? (then a refresh is only a
 * new time, and nothing needs writing but that) */
static int entry_same(const trk_table *t, const entry *e,
                      const trk_announce *a)
{
    const uint8_t *p = entry_addrs(e);

    if (e->naddrs != a->naddrs || e->ntopics != a->ntopics)
        return 0;
    for (size_t i = 0; i < a->naddrs; i++) {
        if (*p != a->addrlen[i] || memcmp(p + 1, a->addr[i], *p) != 0)
            return 0;
        p += 1 + *p;
    }
    for (size_t i = 0; i < a->ntopics; i++) {
        const topic *tp = &t->topics[e->topics[i].topic];
        if (tp->len != a->topiclen[i] ||
            memcmp(tp->name, a->topic[i], tp->len) != 0)
            return 0;
    }
    return 1;
}

static void entry_leave_topics(trk_table *t, entry *e)
{
    for (size_t i = 0; i < e->ntopics; i++) {
        topic_leave(t, e, i);
        topic_release(t, e->topics[i].topic);
    }
}

/* Joins e (at dense position) to a's topics; undoes itself on failure. */
static int entry_join_topics(trk_table *t, entry *e, const trk_announce *a)
{
    for (size_t i = 0; i < a->ntopics; i++) {
        long k = topic_intern(t, a->topic[i], a->topiclen[i]);
        if (k < 0 || topic_join(t, (uint32_t)k, e, i) < 0) {
            if (k >= 0)
                topic_release(t, (uint32_t)k);
            e->ntopics = (uint8_t)i;   /* the ones joined so far */
            entry_leave_topics(t, e);
            return k < 0 ? TRK_ETOPICS : TRK_ENOMEM;
        }
    }
    return 0;
}

int trk_table_announce(trk_table *t, const trk_announce *a, uint64_t now_ms)
{
    uint32_t *slot;
    entry *e, *old;
    int rc;

    if (!announce_ok(a))
        return TRK_EINVAL;
    slot = id_find(t, a->id, a->idlen);
    if (slot != NULL) {
        old = t->entries[*slot - 1];
        if (entry_same(t, old, a)) {
            /* a refresh: the store needs its new time only now and then
             * (every quarter ttl), not at every announce */
            old->seen_ms = now_ms;
            if ((uint32_t)(now_ms >> 10) - old->noted_s >=
                (t->cfg.ttl_ms / 4) >> 10)
                note_change(t, old, a->id, a->idlen);
            return 0;
        }
    } else {
        old = NULL;
        if (t->n >= t->cfg.max_entries)
            return TRK_EFULL;
    }
    if ((e = entry_make(a, now_ms)) == NULL)
        return TRK_ENOMEM;
    if ((rc = entry_join_topics(t, e, a)) < 0) {
        free(e);
        return rc;
    }
    if (old != NULL) {
        e->dense = old->dense;
        e->dirty = old->dirty;
        entry_leave_topics(t, old);
        t->entries[e->dense] = e;
        free(old);
    } else {
        if (t->n == t->cap) {
            size_t cap = t->cap ? 2 * t->cap : 64;
            entry **v = realloc(t->entries, cap * sizeof(*v));
            if (v == NULL) {
                entry_leave_topics(t, e);
                free(e);
                return TRK_ENOMEM;
            }
            t->entries = v;
            t->cap = cap;
        }
        if (oa_reserve(t, &t->ids, entry_hash) < 0) {
            entry_leave_topics(t, e);
            free(e);
            return TRK_ENOMEM;
        }
        e->dense = (uint32_t)t->n;
        t->entries[t->n++] = e;
        oa_put(&t->ids, hash_bytes(a->id, a->idlen), e->dense + 1);
    }
    note_change(t, e, a->id, a->idlen);
    return 0;
}

/* Removes the entry at dense position p; the last one moves there. */
static void entry_remove_at(trk_table *t, size_t p)
{
    entry *e = t->entries[p];
    uint32_t v = (uint32_t)p + 1;

    oa_delete_at(t, &t->ids, oa_slot_of(&t->ids, entry_hash(t, v), v),
                 entry_hash);
    if (p != t->n - 1) {
        uint32_t lastv = (uint32_t)t->n;
        size_t s = oa_slot_of(&t->ids, entry_hash(t, lastv), lastv);
        t->entries[p] = t->entries[t->n - 1];
        t->entries[p]->dense = (uint32_t)p;
        t->ids.slot[s] = v;
    }
    t->n--;
    entry_leave_topics(t, e);
    if (!e->dirty)
        note_change(t, NULL, entry_id(e), e->idlen);
    free(e);
}

int trk_table_remove(trk_table *t, const uint8_t *id, size_t idlen)
{
    uint32_t *slot = id_find(t, id, idlen);

    if (slot == NULL)
        return -1;
    entry_remove_at(t, *slot - 1);
    return 0;
}

static void entry_view(const trk_table *t, const entry *e, trk_peer *out)
{
    const uint8_t *p = entry_addrs(e);

    out->id = entry_id(e);
    out->idlen = e->idlen;
    out->naddrs = e->naddrs;
    for (size_t i = 0; i < e->naddrs; i++) {
        out->addrlen[i] = *p;
        out->addr[i] = p + 1;
        p += 1 + *p;
    }
    out->ntopics = e->ntopics;
    for (size_t i = 0; i < e->ntopics; i++)
        out->topic[i] = t->topics[e->topics[i].topic].name;
    out->seen_ms = e->seen_ms;
}

int trk_table_get(const trk_table *t, const uint8_t *id, size_t idlen,
                  trk_peer *out)
{
    uint32_t *slot = id_find(t, id, idlen);

    if (slot == NULL)
        return -1;
    entry_view(t, t->entries[*slot - 1], out);
    return 0;
}

/* ----------------------------------------------------------- sampling */

static int live(const trk_table *t, const entry *e, uint64_t now_ms)
{
    return e->seen_ms + t->cfg.ttl_ms > now_ms;
}

size_t trk_table_sample(trk_table *t, const char *topic_name,
                        size_t topiclen, const uint8_t *exclude,
                        size_t exclude_len, uint64_t now_ms, trk_peer *out,
                        size_t max)
{
    entry *pick[SAMPLE_MAX];
    entry **pool;
    size_t n, got = 0, seen = 0;

    if (max > SAMPLE_MAX)
        max = SAMPLE_MAX;
    if (topic_name != NULL) {
        uint32_t *slot = topic_find(t, topic_name, topiclen);
        if (slot == NULL)
            return 0;
        pool = t->topics[*slot - 1].members;
        n = t->topics[*slot - 1].n;
    } else {
        pool = t->entries;
        n = t->n;
    }
    if (max == 0 || n == 0)
        return 0;
#define ELIGIBLE(e)                                                        \
    (live(t, (e), now_ms) &&                                               \
     !(exclude != NULL && (e)->idlen == exclude_len &&                     \
       memcmp(entry_id(e), exclude, exclude_len) == 0))
    if (n <= 4 * max) {
        /* few: reservoir sampling over all of them */
        for (size_t i = 0; i < n; i++) {
            if (!ELIGIBLE(pool[i]))
                continue;
            seen++;
            if (got < max) {
                pick[got++] = pool[i];
            } else {
                size_t j = rng_below(t, seen);
                if (j < max)
                    pick[j] = pool[i];
            }
        }
    } else {
        /* many: random picks, a repeat or an ineligible one skipped; the
         * bound on tries keeps a table of mostly expired entries cheap */
        for (size_t tries = 0; got < max && tries < 8 * max + 32; tries++) {
            entry *e = pool[rng_below(t, n)];
            size_t k;
            if (!ELIGIBLE(e))
                continue;
            for (k = 0; k < got && pick[k] != e; k++)
                ;
            if (k == got)
                pick[got++] = e;
        }
    }
#undef ELIGIBLE
    for (size_t i = 0; i < got; i++)
        entry_view(t, pick[i], &out[i]);
    return got;
}

/* ------------------------------------------------------------- expiry */

size_t trk_table_expire(trk_table *t, uint64_t now_ms, size_t max_scan)
{
    size_t removed = 0;

    for (size_t scanned = 0; scanned < max_scan && t->n > 0; scanned++) {
        if (t->expire_cursor >= t->n)
            t->expire_cursor = 0;
        if (!live(t, t->entries[t->expire_cursor], now_ms)) {
            entry_remove_at(t, t->expire_cursor); /* the last moves here */
            removed++;
        } else {
            t->expire_cursor++;
        }
    }
    return removed;
}

size_t trk_table_count(const trk_table *t)
{
    return t->n;
}

size_t trk_table_topic_count(const trk_table *t)
{
    return t->ntopics_live;
}

size_t trk_table_topic_size(const trk_table *t, const char *name,
                            size_t len)
{
    uint32_t *slot = topic_find(t, name, len);
    return slot != NULL ? t->topics[*slot - 1].n : 0;
}

size_t trk_table_changes(trk_table *t, trk_change_fn fn, void *user)
{
    size_t count = 0, i = 0;

    while (i < t->changes_len) {
        size_t len = t->changes[i];
        const uint8_t *id = t->changes + i + 1;
        uint32_t *slot = id_find(t, id, len);
        if (slot != NULL)
            t->entries[*slot - 1]->dirty = 0;
        if (fn != NULL)
            fn(id, len, user);
        count++;
        i += 1 + len;
    }
    t->changes_len = 0;
    return count;
}

const char *trk_strerror(int err)
{
    switch (err) {
    case 0: return "ok";
    case TRK_EFULL: return "full";
    case TRK_ETOPICS: return "full";
    case TRK_ERATE: return "rate_limited";
    case TRK_EINVAL: return "malformed";
    case TRK_ENOMEM: return "no memory";
    default: return "error";
    }
}
