/* The peer store's table (table.h): no sockets, no clock of its own. */
#include <stdlib.h>
#include <string.h>

#include "core/multiaddr.h"
#include "peerstore/table.h"

void ps_table_init(ps_table *t, size_t max_entries, size_t max_addrs,
                   uint32_t backoff_min_ms, uint32_t backoff_max_ms)
{
    memset(t, 0, sizeof(*t));
    t->max_entries = max_entries ? max_entries : 1000;
    t->max_addrs = max_addrs == 0 || max_addrs > SHOAL_PEERSTORE_ADDRS_MAX
                       ? SHOAL_PEERSTORE_ADDRS_MAX
                       : max_addrs;
    t->backoff_min_ms = backoff_min_ms ? backoff_min_ms : 5000;
    t->backoff_max_ms = backoff_max_ms >= t->backoff_min_ms
                            ? backoff_max_ms
                            : t->backoff_min_ms;
}

void ps_table_free(ps_table *t)
{
    free(t->e);
    free(t->gone);
    memset(t, 0, sizeof(*t));
}

/* ------------------------------------------------------ ids, addresses */

int ps_id_normalize(const char *id, char out[PS_ID_MAX])
{
    uint8_t bin[128];
    int n;

    if (id == NULL || strlen(id) >= PS_ID_MAX ||
        (n = shoal_peer_id_to_bytes(id, bin, sizeof(bin))) < 0 ||
        shoal_peer_id_to_text(bin, (size_t)n, out, PS_ID_MAX) < 0)
        return SHOAL_EINVAL;
    return 0;
}

static int is_host(uint64_t code)
{
    return code == SHOAL_MA_IP4 || code == SHOAL_MA_IP6 ||
           code == SHOAL_MA_DNS || code == SHOAL_MA_DNS4 ||
           code == SHOAL_MA_DNS6;
}

int ps_addr_normalize(const char *addr, const char *id, char *out,
                      size_t size)
{
    uint8_t bin[SHOAL_MULTIADDR_MAX];
    char who[PS_ID_MAX], mine[PS_ID_MAX];
    const uint8_t *v;
    size_t pos = 0, vlen, keep = 0;
    uint64_t code;
    int n, i, rc;

    if (addr == NULL || strlen(addr) >= PS_ADDR_MAX ||
        (n = shoal_multiaddr_parse(addr, bin, sizeof(bin))) < 0)
        return SHOAL_EBADADDR;
    /* a host, tcp, and at most a /p2p/ naming this peer: what the node
     * dials over TCP; relays, websockets and the like are not kept */
    for (i = 0; (rc = shoal_multiaddr_next(bin, (size_t)n, &pos, &code, &v,
                                           &vlen)) == 1;
         i++) {
        if ((i == 0 && !is_host(code)) || (i == 1 && code != SHOAL_MA_TCP) ||
            i > 2)
            return SHOAL_EBADADDR;
        if (i == 1)
            keep = pos;
        if (i == 2 && (code != SHOAL_MA_P2P ||
                       shoal_peer_id_to_text(v, vlen, who, sizeof(who)) < 0 ||
                       ps_id_normalize(id, mine) < 0 ||
                       strcmp(who, mine) != 0))
            return SHOAL_EBADADDR;
    }
    if (rc < 0 || i < 2 ||
        shoal_multiaddr_format(bin, keep, out, size) < 0)
        return SHOAL_EBADADDR;
    return 0;
}

/* -------------------------------------------------------------- entries */

static ps_entry *find(ps_table *t, const char *canon)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->e[i].id, canon) == 0)
            return &t->e[i];
    return NULL;
}

ps_entry *ps_table_get(ps_table *t, const char *id)
{
    char canon[PS_ID_MAX];

    return ps_id_normalize(id, canon) < 0 ? NULL : find(t, canon);
}

/* Notes id as removed, for the next flush. */
static int note_gone(ps_table *t, const char *id)
{
    if (t->ngone == t->gone_cap) {
        size_t cap = t->gone_cap ? 2 * t->gone_cap : 16;
        void *grown = realloc(t->gone, cap * sizeof(t->gone[0]));
        if (grown == NULL)
            return SHOAL_ENOMEM;
        t->gone = grown;
        t->gone_cap = cap;
    }
    memcpy(t->gone[t->ngone++], id, PS_ID_MAX);
    return 0;
}

static void drop_at(ps_table *t, size_t i)
{
    /* without the note (out of memory) the row stays on disk and the
     * peer comes back at the next start: harmless */
    note_gone(t, t->e[i].id);
    t->e[i] = t->e[--t->n];
}

int ps_table_remove(ps_table *t, const char *id)
{
    ps_entry *e = ps_table_get(t, id);

    if (e == NULL)
        return SHOAL_ENOENT;
    drop_at(t, (size_t)(e - t->e));
    return 0;
}

int ps_entry_cmp(const ps_entry *a, const ps_entry *b)
{
    if (a->failures != b->failures)
        return a->failures < b->failures ? -1 : 1;
    if (a->last_seen != b->last_seen)
        return a->last_seen > b->last_seen ? -1 : 1;
    return strcmp(a->id, b->id);
}

int ps_table_evict(ps_table *t)
{
    size_t worst = 0;

    if (t->n == 0)
        return 0;
    for (size_t i = 1; i < t->n; i++)
        if (ps_entry_cmp(&t->e[i], &t->e[worst]) > 0)
            worst = i;
    drop_at(t, worst);
    t->evicted++;
    return 1;
}

/* Puts addr (canonical) first in e's list. */
static void put_addr(ps_table *t, ps_entry *e, const char *addr)
{
    size_t i;

    for (i = 0; i < e->naddrs; i++)
        if (strcmp(e->addrs[i], addr) == 0)
            break;
    if (i == 0 && e->naddrs > 0)
        return; /* first already */
    if (i == e->naddrs) {
        if (e->naddrs < t->max_addrs)
            e->naddrs++;
        i = e->naddrs - 1; /* the oldest, overwritten if the list is full */
    }
    memmove(e->addrs[1], e->addrs[0], i * sizeof(e->addrs[0]));
    memcpy(e->addrs[0], addr, strlen(addr) + 1);
    e->dirty = 1;
}

/* The entry for id, made if missing (evicting past the cap). */
static int upsert(ps_table *t, const char *id, const char *addr,
                  uint64_t now, ps_entry **out)
{
    char canon[PS_ID_MAX], a[PS_ADDR_MAX];
    ps_entry *e;

    if (ps_id_normalize(id, canon) < 0)
        return SHOAL_EINVAL;
    if (addr != NULL && ps_addr_normalize(addr, canon, a, sizeof(a)) < 0)
        return SHOAL_EBADADDR;
    if ((e = find(t, canon)) == NULL) {
        if (t->n == t->cap) {
            size_t cap = t->cap ? 2 * t->cap : 16;
            ps_entry *grown = realloc(t->e, cap * sizeof(*grown));
            if (grown == NULL)
                return SHOAL_ENOMEM;
            t->e = grown;
            t->cap = cap;
        }
        /* the newcomer, seen now with no failures, is never the worst */
        while (t->n >= t->max_entries && ps_table_evict(t))
            ;
        e = &t->e[t->n++];
        memset(e, 0, sizeof(*e));
        memcpy(e->id, canon, sizeof(canon));
        e->first_seen = now;
        /* a peer forgotten and met again within one flush: not deleted */
        for (size_t i = 0; i < t->ngone; i++)
            if (strcmp(t->gone[i], canon) == 0)
                memmove(t->gone[i], t->gone[--t->ngone], PS_ID_MAX);
    }
    if (addr != NULL)
        put_addr(t, e, a);
    if (now > e->last_seen)
        e->last_seen = now;
    e->dirty = 1;
    *out = e;
    return 0;
}

int ps_table_put(ps_table *t, const ps_entry *src)
{
    ps_entry *e;
    int rc;

    if (ps_table_get(t, src->id) != NULL)
        return SHOAL_EEXIST;
    if (t->n >= t->max_entries) {
        /* rows come best first (store.c): the rest are worse than all
         * those loaded; their rows go at the next flush */
        char canon[PS_ID_MAX];
        if (ps_id_normalize(src->id, canon) == 0)
            note_gone(t, canon);
        return SHOAL_EFULL;
    }
    if ((rc = upsert(t, src->id, NULL, src->last_seen, &e)) < 0)
        return rc;
    /* oldest first, so that the newest ends first; bad ones skipped */
    for (size_t i = src->naddrs; i-- > 0;) {
        char a[PS_ADDR_MAX];
        if (ps_addr_normalize(src->addrs[i], e->id, a, sizeof(a)) == 0)
            put_addr(t, e, a);
    }
    e->first_seen = src->first_seen;
    e->last_seen = src->last_seen;
    e->last_connect = src->last_connect;
    e->failures = src->failures;
    e->next_retry = src->next_retry;
    e->dirty = 0;
    return 0;
}

int ps_table_seen(ps_table *t, const char *id, const char *addr,
                  uint64_t now)
{
    ps_entry *e;

    return upsert(t, id, addr, now, &e);
}

int ps_table_connected(ps_table *t, const char *id, const char *addr,
                       uint64_t now)
{
    ps_entry *e;
    int rc = upsert(t, id, addr, now, &e);

    if (rc == 0) {
        e->last_connect = now;
        e->failures = 0;
        e->next_retry = 0;
    }
    return rc;
}

uint64_t ps_backoff(const ps_table *t, uint32_t failures)
{
    uint64_t d = t->backoff_min_ms;

    if (failures == 0)
        return 0;
    /* doubling, stopped at the cap before it can overflow */
    for (uint32_t i = 1; i < failures && d < t->backoff_max_ms; i++)
        d *= 2;
    return d < t->backoff_max_ms ? d : t->backoff_max_ms;
}

int ps_table_failed(ps_table *t, const char *id, const char *addr,
                    uint64_t now)
{
    ps_entry *e = ps_table_get(t, id);
    char a[PS_ADDR_MAX];

    if (e == NULL)
        return SHOAL_ENOENT;
    if (e->failures < UINT32_MAX)
        e->failures++;
    e->last_connect = now;
    e->next_retry = now + ps_backoff(t, e->failures);
    e->dirty = 1;
    /* the address that failed goes last: the next dial tries another */
    if (addr != NULL && ps_addr_normalize(addr, e->id, a, sizeof(a)) == 0)
        for (size_t i = 0; i + 1 < e->naddrs; i++)
            if (strcmp(e->addrs[i], a) == 0) {
                memmove(e->addrs[i], e->addrs[i + 1],
                        (e->naddrs - i - 1) * sizeof(e->addrs[0]));
                memcpy(e->addrs[e->naddrs - 1], a, strlen(a) + 1);
                break;
            }
    return 0;
}

/* ---------------------------------------------------------- the order */

static int cmp_ptr(const void *a, const void *b)
{
    return ps_entry_cmp(*(const ps_entry *const *)a,
                        *(const ps_entry *const *)b);
}

size_t ps_table_sorted(const ps_table *t, const ps_entry **out)
{
    for (size_t i = 0; i < t->n; i++)
        out[i] = &t->e[i];
    qsort(out, t->n, sizeof(*out), cmp_ptr);
    return t->n;
}

size_t ps_table_due(ps_table *t, uint64_t now, ps_skip_fn skip, void *user,
                    ps_entry **out, size_t max)
{
    size_t k = 0;

    /* max is small (dials at once): a selection, not a sort */
    while (k < max) {
        ps_entry *best = NULL;
        for (size_t i = 0; i < t->n; i++) {
            ps_entry *e = &t->e[i];
            size_t j;
            if (e->naddrs == 0 || e->next_retry > now)
                continue;
            for (j = 0; j < k && out[j] != e; j++)
                ;
            if (j < k || (best != NULL && ps_entry_cmp(e, best) >= 0))
                continue;
            if (skip != NULL && skip(e->id, user))
                continue;
            best = e;
        }
        if (best == NULL)
            break;
        out[k++] = best;
    }
    return k;
}
