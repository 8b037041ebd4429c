/* The peer store (include/shoal/peerstore.h): the node's side. Peer
 * events feed the table (table.c), a timer flushes it to SQLite (store.c)
 * and tops the peer table up from it. The decisions (who, when, what
 * goes) are all in table.c; this file only moves events and pings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "peerstore/store.h"
#include "peerstore/table.h"
#include "shoal/peerstore.h"
#include "node/thread.h"

#define TICK_MS 200

typedef struct shoal_peerstore store;

/* A dial in flight. It may outlive the store: then ps is NULL and the
 * callback only frees it. */
typedef struct dial {
    store *ps;
    char id[PS_ID_MAX];
    char addr[PS_ADDR_MAX];
    struct dial *next;
} dial;

struct shoal_peerstore {
    shoal_node *node;
    shoal_peerstore_config cfg;
    char *path;
    ps_table table;
    ps_db *db;
    shoal_timer *timer;
    uint64_t last_flush, next_dial;
    dial *dials;
    size_t ndials;
    char self[PS_ID_MAX];
    shoal_peerstore_stats stats;
};

static void config_defaults(shoal_peerstore_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->size = sizeof(*cfg);
    cfg->max_entries = 1000;
    cfg->max_addrs = SHOAL_PEERSTORE_ADDRS_MAX;
    cfg->flush_ms = 1000;
    cfg->target_peers = 8;
    cfg->max_dials = 4;
    cfg->dial_interval_ms = 10000;
    cfg->dial_timeout_ms = 5000;
    cfg->backoff_min_ms = 5000;
    cfg->backoff_max_ms = 3600000;
}

void shoal_peerstore_config_init_size(shoal_peerstore_config *cfg, size_t size)
{
    shoal_peerstore_config d;

    config_defaults(&d);
    shoal_cfg_fill(cfg, size, &d, sizeof(d));
}

static uint64_t now_ms(const store *ps)
{
    uv_timeval64_t tv;

    if (ps->cfg.clock != NULL)
        return ps->cfg.clock(ps->cfg.clock_user);
    if (uv_gettimeofday(&tv) < 0)
        return 0;
    return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

static dial *dialing(const store *ps, const char *id)
{
    for (dial *d = ps->dials; d != NULL; d = d->next)
        if (strcmp(d->id, id) == 0)
            return d;
    return NULL;
}

/* ------------------------------------------------------------- events */

static void on_peer_event(shoal_node *node, const shoal_peer_event *ev,
                          void *user)
{
    store *ps = user;
    uint64_t now = now_ms(ps);
    char id[PS_ID_MAX];

    (void)node;
    if (ps_id_normalize(ev->id, id) < 0 || strcmp(id, ps->self) == 0)
        return;
    switch (ev->kind) {
    case SHOAL_PEER_ADDED:
        /* the table's address, /p2p/ID included; one the store does not
         * keep (a name of the classic kind) still counts as seen */
        if (ps_table_seen(&ps->table, id, ev->addr, now) == SHOAL_EBADADDR)
            ps_table_seen(&ps->table, id, NULL, now);
        break;
    case SHOAL_PEER_CONNECTED:
        /* an outbound connection's remote end is where the peer listens;
         * an inbound one's is an ephemeral port, and a peer only ever
         * heard from that way is not worth an entry (nothing to dial) */
        if (ev->outbound)
            ps_table_connected(&ps->table, id, ev->addr, now);
        else if (ps_table_get(&ps->table, id) != NULL)
            ps_table_connected(&ps->table, id, NULL, now);
        break;
    case SHOAL_PEER_CONNECT_FAILED:
        /* our own dials are counted when their ping ends */
        if (dialing(ps, id) == NULL)
            ps_table_failed(&ps->table, id, ev->addr, now);
        break;
    default:
        break; /* REMOVED: the table forgets, the store remembers */
    }
}

/* -------------------------------------------------------------- dials */

/* HOST and PORT of a stored "/ip4/HOST/tcp/PORT" or "/ip6/...": only
 * those go into the peer table (its entries are IP addresses). */
static int ip_host_port(const char *addr, char *host, size_t size,
                        uint16_t *port)
{
    const char *h, *slash;
    char *end;
    unsigned long p;

    if (strncmp(addr, "/ip4/", 5) != 0 && strncmp(addr, "/ip6/", 5) != 0)
        return -1;
    h = addr + 5;
    if ((slash = strchr(h, '/')) == NULL || (size_t)(slash - h) >= size ||
        strncmp(slash, "/tcp/", 5) != 0)
        return -1;
    memcpy(host, h, (size_t)(slash - h));
    host[slash - h] = '\0';
    p = strtoul(slash + 5, &end, 10);
    if (*end != '\0' || p == 0 || p > 65535)
        return -1;
    *port = (uint16_t)p;
    return 0;
}

static void dial_unlink(dial *d)
{
    store *ps = d->ps;

    for (dial **pp = &ps->dials; *pp != NULL; pp = &(*pp)->next)
        if (*pp == d) {
            *pp = d->next;
            ps->ndials--;
            return;
        }
}

static void on_dialed(shoal_node *node, int status, uint64_t rtt_us,
                      void *user)
{
    dial *d = user;
    store *ps = d->ps;
    char host[SHOAL_HOST_MAX];
    uint16_t port;

    (void)rtt_us;
    if (ps != NULL) {
        uint64_t now = now_ms(ps);
        dial_unlink(d);
        if (status == SHOAL_ECANCELED) {
            /* the node is stopping: not the peer's failure */
        } else if (status == 0) {
            ps_table_connected(&ps->table, d->id, d->addr, now);
            ps->stats.dials_ok++;
            if (ip_host_port(d->addr, host, sizeof(host), &port) == 0)
                shoal_peer_add(node, d->id, host, port);
        } else {
            ps_table_failed(&ps->table, d->id, d->addr, now);
            shoal_log(node, SHOAL_LOG_DEBUG,
                      "peerstore_dial_failed peer=%s addr=%s error=\"%s\"",
                      d->id, d->addr, shoal_strerror(status));
        }
    }
    free(d);
}

/* The dialer's filter: peers it need not or cannot dial now. */
static int skip_peer(const char *id, void *user)
{
    store *ps = user;

    return shoal_peer_get(ps->node, id) != NULL ||
           shoal_peer_connected(ps->node, id) || dialing(ps, id) != NULL;
}

/* The first address of e the dialer can use, or NULL. */
static const char *dial_addr(const ps_entry *e)
{
    char host[SHOAL_HOST_MAX];
    uint16_t port;

    for (size_t i = 0; i < e->naddrs; i++)
        if (ip_host_port(e->addrs[i], host, sizeof(host), &port) == 0)
            return e->addrs[i];
    return NULL;
}

/* Dials stored peers, best first, until the peer table plus the dials in
 * flight reach the target. */
static void top_up(store *ps)
{
    size_t have = shoal_peer_count(ps->node) + ps->ndials, want, n;
    ps_entry *due[64];
    uint64_t now = now_ms(ps);

    if (ps->cfg.target_peers == 0 || have >= ps->cfg.target_peers ||
        ps->ndials >= ps->cfg.max_dials)
        return;
    want = ps->cfg.target_peers - have;
    if (want > ps->cfg.max_dials - ps->ndials)
        want = ps->cfg.max_dials - ps->ndials;
    if (want > sizeof(due) / sizeof(due[0]))
        want = sizeof(due) / sizeof(due[0]);
    n = ps_table_due(&ps->table, now, skip_peer, ps, due, want);
    for (size_t i = 0; i < n; i++) {
        const char *addr = dial_addr(due[i]);
        char target[PS_ADDR_MAX + PS_ID_MAX + 8];
        dial *d;
        int rc;
        if (addr == NULL)
            continue;
        if ((d = calloc(1, sizeof(*d))) == NULL)
            return;
        d->ps = ps;
        memcpy(d->id, due[i]->id, sizeof(d->id));
        memcpy(d->addr, addr, strlen(addr) + 1);
        snprintf(target, sizeof(target), "%s/p2p/%s", d->addr, d->id);
        /* before the ping: a failure reported at once must find it */
        d->next = ps->dials;
        ps->dials = d;
        ps->ndials++;
        ps->stats.dials++;
        if ((rc = shoal_ping(ps->node, target, ps->cfg.dial_timeout_ms,
                             on_dialed, d)) < 0) {
            dial_unlink(d);
            ps_table_failed(&ps->table, d->id, d->addr, now);
            free(d);
        }
    }
}

/* While connected, a peer is seen: its last_seen follows, once per
 * top-up period, so that a long connection does not age its entry. */
static void refresh_connected(store *ps, uint64_t now)
{
    for (size_t i = 0; i < ps->table.n; i++) {
        ps_entry *e = &ps->table.e[i];
        if (shoal_peer_connected(ps->node, e->id)) {
            e->last_seen = now;
            e->dirty = 1;
        }
    }
}

static void on_tick(shoal_node *node, void *user)
{
    store *ps = user;
    uint64_t now = now_ms(ps);

    (void)node;
    if (now >= ps->next_dial) {
        ps->next_dial = now + ps->cfg.dial_interval_ms;
        refresh_connected(ps, now);
        top_up(ps);
    }
    if (now - ps->last_flush >= ps->cfg.flush_ms || now < ps->last_flush) {
        ps->last_flush = now;
        shoal_peerstore_flush(ps);
    }
}

/* ---------------------------------------------------------- lifetime */

int shoal_peerstore_new(shoal_peerstore **out, shoal_node *node,
                        const shoal_peerstore_config *cfg, char *err,
                        size_t errsize)
{
    SHOAL_LOOP_ONLY(node, SHOAL_EBUSY);
    shoal_peerstore_config own; /* the caller's, over the defaults */
    char why[512];
    store *ps;
    int rc;

    *out = NULL;
    if (err != NULL && errsize > 0)
        err[0] = '\0';
    config_defaults(&own);
    if ((rc = shoal_cfg_take(node, "shoal_peerstore_config", &own,
                             sizeof(own), cfg)) < 0)
        return rc;
    cfg = &own;
    if (shoal_node_peer_id(node) == NULL)
        return SHOAL_EINVAL;
    if ((ps = calloc(1, sizeof(*ps))) == NULL)
        return SHOAL_ENOMEM;
    ps->node = node;
    ps->cfg = *cfg;
    if (ps->cfg.flush_ms == 0)
        ps->cfg.flush_ms = 1000;
    if (ps->cfg.max_dials == 0)
        ps->cfg.max_dials = 1;
    if (ps->cfg.dial_timeout_ms == 0)
        ps->cfg.dial_timeout_ms = 5000;
    ps_table_init(&ps->table, cfg->max_entries, cfg->max_addrs,
                  cfg->backoff_min_ms, cfg->backoff_max_ms);
    ps_id_normalize(shoal_node_peer_id(node), ps->self);
    ps->cfg.path = NULL;
    if (cfg->path != NULL) {
        if ((ps->path = strdup(cfg->path)) == NULL) {
            shoal_peerstore_free(ps);
            return SHOAL_ENOMEM;
        }
        if (ps_db_open(&ps->db, ps->path, why, sizeof(why)) < 0 ||
            ps_db_load(ps->db, &ps->table, why, sizeof(why)) < 0) {
            if (err != NULL)
                snprintf(err, errsize, "%s", why);
            else
                shoal_log(node, SHOAL_LOG_ERROR,
                          "peerstore_open_failed path=%s error=\"%s\"",
                          ps->path, why);
            shoal_peerstore_free(ps);
            return SHOAL_EPROTO;
        }
        ps->cfg.path = ps->path;
        /* a store copied from another node may hold this one */
        ps_table_remove(&ps->table, ps->self);
    }
    if ((rc = shoal_peer_events_add(node, on_peer_event, ps)) < 0 ||
        (rc = shoal_timer_start(node, TICK_MS, on_tick, ps, &ps->timer)) <
            0) {
        shoal_peer_events_remove(node, on_peer_event, ps);
        shoal_peerstore_free(ps);
        return rc;
    }
    ps->last_flush = now_ms(ps);
    ps->next_dial = ps->last_flush + ps->cfg.dial_interval_ms;
    shoal_log(node, SHOAL_LOG_DEBUG, "peerstore_open path=%s peers=%zu",
              ps->path != NULL ? ps->path : "(memory)", ps->table.n);
    top_up(ps); /* at start, not a period later */
    *out = ps;
    return 0;
}

void shoal_peerstore_free(shoal_peerstore *ps)
{
    if (ps == NULL)
        return;
    SHOAL_LOOP_ONLY(ps->node);
    if (ps->timer != NULL) {
        shoal_timer_stop(ps->timer);
        shoal_peer_events_remove(ps->node, on_peer_event, ps);
    }
    if (ps->db != NULL && shoal_peerstore_flush(ps) < 0)
        shoal_log(ps->node, SHOAL_LOG_WARN,
                  "peerstore_flush_failed path=%s (at close)", ps->path);
    for (dial *d = ps->dials; d != NULL; d = d->next)
        d->ps = NULL; /* each frees itself when its ping ends */
    ps_table_free(&ps->table);
    ps_db_close(ps->db);
    free(ps->path);
    free(ps);
}

int shoal_peerstore_flush(shoal_peerstore *ps)
{
    SHOAL_LOOP_ONLY(ps->node, SHOAL_EBUSY);
    long rows;

    if (ps->db == NULL)
        return 0;
    if ((rows = ps_db_flush(ps->db, &ps->table)) < 0) {
        ps->stats.flush_errors++;
        shoal_log(ps->node, SHOAL_LOG_WARN, "peerstore_flush_failed path=%s",
                  ps->path);
        return SHOAL_EPROTO;
    }
    if (rows > 0)
        ps->stats.flushes++;
    return 0;
}

/* -------------------------------------------------------------- the API */

size_t shoal_peerstore_list(shoal_peerstore *ps, shoal_peerstore_list_cb cb,
                            void *user)
{
    SHOAL_LOOP_ONLY(ps->node, 0);
    const ps_entry **sorted;
    size_t n;

    if (ps->table.n == 0)
        return 0;
    if ((sorted = malloc(ps->table.n * sizeof(*sorted))) == NULL)
        return 0;
    n = ps_table_sorted(&ps->table, sorted);
    for (size_t i = 0; i < n && cb != NULL; i++) {
        const ps_entry *e = sorted[i];
        shoal_peerstore_entry out;
        memset(&out, 0, sizeof(out));
        out.id = e->id;
        out.naddrs = e->naddrs;
        for (size_t j = 0; j < e->naddrs; j++)
            out.addrs[j] = e->addrs[j];
        out.first_seen_ms = e->first_seen;
        out.last_seen_ms = e->last_seen;
        out.last_connect_ms = e->last_connect;
        out.next_retry_ms = e->next_retry;
        out.failures = e->failures;
        out.connected = shoal_peer_connected(ps->node, e->id);
        cb(&out, user);
    }
    free(sorted);
    return n;
}

size_t shoal_peerstore_count(const shoal_peerstore *ps)
{
    SHOAL_LOOP_ONLY(ps->node, 0);
    return ps->table.n;
}

int shoal_peerstore_add(shoal_peerstore *ps, const char *peer_id,
                        const char *addr)
{
    SHOAL_LOOP_ONLY(ps->node, SHOAL_EBUSY);
    char id[PS_ID_MAX];

    if (ps_id_normalize(peer_id, id) < 0 || strcmp(id, ps->self) == 0)
        return SHOAL_EINVAL;
    return ps_table_seen(&ps->table, id, addr, now_ms(ps));
}

int shoal_peerstore_forget(shoal_peerstore *ps, const char *peer_id)
{
    SHOAL_LOOP_ONLY(ps->node, SHOAL_EBUSY);
    return ps_table_remove(&ps->table, peer_id);
}

void shoal_peerstore_stats_get(const shoal_peerstore *ps,
                               shoal_peerstore_stats *out)
{
    memset(out, 0, sizeof(*out)); /* what a wrong thread gets */
    SHOAL_LOOP_ONLY(ps->node);
    *out = ps->stats;
    out->entries = ps->table.n;
    out->evicted = ps->table.evicted;
}
