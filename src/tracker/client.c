/* The tracker client (include/shoal/tracker.h): announces to each tracker
 * on its own schedule, pings the peers returned and keeps those that
 * answer. A tracker's failure only moves its next announce (backoff); the
 * peer table is never emptied on its account. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "shoal/tracker.h"
#include "tracker/protocol.h"

#define TICK_MS 100
#define TRACKERS_MAX 8
#define PINGS_MAX 32          /* pings in flight at once */

typedef struct shoal_tracker_client client;

/* State shared with callbacks that may outlive the client: they find
 * c == NULL then and only free themselves. */
typedef struct call {
    client *c;
    size_t tracker;
    int erro;                 /* an ERRO came */
    struct call *next;
} call;

typedef struct ping {
    client *c;
    char id[SHOAL_ID_MAX];
    char host[SHOAL_HOST_MAX];
    uint16_t port;
    struct ping *next;
} ping;

typedef struct tracker_state {
    char *addr;
    uint64_t next_ms;         /* announce at */
    uint32_t backoff_ms;      /* 0: not failing */
    int in_flight;
} tracker_state;

struct shoal_tracker_client {
    shoal_node *node;
    shoal_tracker_client_config cfg;
    tracker_state trk[TRACKERS_MAX];
    char **topics;
    char **addrs;
    shoal_timer *timer;
    call *calls;
    ping *pings;
    size_t npings;
    shoal_tracker_client_stats stats;
};

void shoal_tracker_client_config_init(shoal_tracker_client_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->interval_ms = 30000;
    cfg->target_peers = 8;
    cfg->backoff_min_ms = 1000;
    cfg->backoff_max_ms = 60000;
    cfg->request_timeout_ms = 5000;
}

static uint64_t now_ms(client *c)
{
    return uv_now(shoal_node_loop(c->node));
}

/* d, give or take a quarter, so that many clients do not beat in step. */
static uint32_t jitter(uint32_t d)
{
    uint32_t q = d / 4;
    return q ? d - q + randombytes_uniform(2 * q + 1) : d;
}

static int pinging(const client *c, const char *id)
{
    for (const ping *p = c->pings; p != NULL; p = p->next)
        if (strcmp(p->id, id) == 0)
            return 1;
    return 0;
}

static void unlink_ping(client *c, ping *p)
{
    ping **pp = &c->pings;

    while (*pp != NULL && *pp != p)
        pp = &(*pp)->next;
    if (*pp == p) {
        *pp = p->next;
        c->npings--;
    }
}

static void on_ping(shoal_node *node, int status, uint64_t rtt_us,
                    void *user)
{
    ping *p = user;
    client *c = p->c;

    (void)rtt_us;
    if (c != NULL) {
        unlink_ping(c, p);
        /* only a peer that proved its id (Noise) to us goes in */
        if (status == 0 && shoal_peer_count(node) < c->cfg.target_peers &&
            shoal_peer_add(node, p->id, p->host, p->port) == 0) {
            c->stats.peers_added++;
            shoal_log(node, SHOAL_LOG_DEBUG, "tracker_peer_added peer=%s",
                      p->id);
        }
    }
    free(p);
}

static void on_peer(const shoal_msg *reply, void *user)
{
    call *k = user;
    client *c = k->c;
    static trk_peer_msg m;
    ping *p;

    if (c == NULL)
        return;
    if (strcmp(reply->type, "ERRO") == 0) {
        k->erro = 1;
        shoal_log(c->node, SHOAL_LOG_INFO, "tracker_refused tracker=%s "
                  "reason=\"%.*s\"", c->trk[k->tracker].addr,
                  (int)(reply->len < 80 ? reply->len : 80),
                  (const char *)reply->data);
        return;
    }
    if (strcmp(reply->type, "PEER") != 0 ||
        trk_peer_parse(reply->data, reply->len, &m) < 0 ||
        strcmp(m.idtext, shoal_node_peer_id(c->node)) == 0 ||
        shoal_peer_get(c->node, m.idtext) != NULL || pinging(c, m.idtext) ||
        shoal_peer_count(c->node) + c->npings >= c->cfg.target_peers ||
        c->npings >= PINGS_MAX)
        return;
    for (size_t i = 0; i < m.naddrs; i++) {
        char host[SHOAL_HOST_MAX];
        uint16_t port;
        if (trk_addr_host_port(m.addr[i], host, sizeof(host), &port) < 0)
            continue;
        if ((p = calloc(1, sizeof(*p))) == NULL)
            return;
        p->c = c;
        snprintf(p->id, sizeof(p->id), "%s", m.idtext);
        snprintf(p->host, sizeof(p->host), "%s", host);
        p->port = port;
        if (shoal_ping(c->node, m.addr[i], c->cfg.request_timeout_ms,
                       on_ping, p) < 0) {
            free(p);
            return;
        }
        p->next = c->pings;
        c->pings = p;
        c->npings++;
        return;               /* one address tried per peer and round */
    }
}

static void on_end(int status, void *user)
{
    call *k = user;
    client *c = k->c;

    if (c != NULL) {
        tracker_state *ts = &c->trk[k->tracker];
        call **pp = &c->calls;
        while (*pp != NULL && *pp != k)
            pp = &(*pp)->next;
        if (*pp == k)
            *pp = k->next;
        ts->in_flight = 0;
        if (status == 0 && !k->erro) {
            c->stats.announces_ok++;
            if (ts->backoff_ms != 0)
                shoal_log(c->node, SHOAL_LOG_INFO, "tracker_back tracker=%s",
                          ts->addr);
            ts->backoff_ms = 0;
            ts->next_ms = now_ms(c) + jitter(c->cfg.interval_ms);
        } else {
            c->stats.announces_failed++;
            ts->backoff_ms = ts->backoff_ms == 0 ? c->cfg.backoff_min_ms
                                                 : 2 * ts->backoff_ms;
            if (ts->backoff_ms > c->cfg.backoff_max_ms)
                ts->backoff_ms = c->cfg.backoff_max_ms;
            ts->next_ms = now_ms(c) + jitter(ts->backoff_ms);
            shoal_log(c->node, SHOAL_LOG_DEBUG, "tracker_failed tracker=%s "
                      "error=%s retry_ms=%u", ts->addr,
                      k->erro ? "refused" : shoal_strerror(status),
                      (unsigned)ts->backoff_ms);
        }
    }
    free(k);
}

static void announce(client *c, size_t i)
{
    char payload[TRK_ANNC_MAX + 1], buf[TRACKERS_MAX][320];
    const char *addrs[TRK_ADDRS_MAX];
    size_t naddrs = 0, have = shoal_peer_count(c->node);
    int want = have >= c->cfg.target_peers
                   ? 0 : (int)(c->cfg.target_peers - have);
    tracker_state *ts = &c->trk[i];
    call *k;
    int n;

    if (c->addrs != NULL) {
        for (; naddrs < c->cfg.naddrs && naddrs < TRK_ADDRS_MAX; naddrs++)
            addrs[naddrs] = c->addrs[naddrs];
    } else {
        for (; naddrs < TRK_ADDRS_MAX &&
               shoal_node_listen_addr(c->node, naddrs, buf[naddrs],
                                      sizeof(buf[0])) == 0;
             naddrs++)
            addrs[naddrs] = buf[naddrs];
    }
    n = trk_annc_format(payload, sizeof(payload), shoal_node_peer_id(c->node),
                        addrs, naddrs, (const char *const *)c->topics,
                        c->cfg.ntopics, want);
    if (n < 0 || (k = calloc(1, sizeof(*k))) == NULL) {
        ts->next_ms = now_ms(c) + c->cfg.interval_ms;
        return;
    }
    k->c = c;
    k->tracker = i;
    if (shoal_request(c->node, ts->addr, "ANNC", payload, (size_t)n,
                      c->cfg.request_timeout_ms, on_peer, on_end, k) < 0) {
        free(k);
        k = NULL;
        /* as a failed announce */
        ts->backoff_ms = ts->backoff_ms ? 2 * ts->backoff_ms
                                        : c->cfg.backoff_min_ms;
        if (ts->backoff_ms > c->cfg.backoff_max_ms)
            ts->backoff_ms = c->cfg.backoff_max_ms;
        ts->next_ms = now_ms(c) + jitter(ts->backoff_ms);
        return;
    }
    k->next = c->calls;
    c->calls = k;
    ts->in_flight = 1;
}

static void on_tick(shoal_node *node, void *user)
{
    client *c = user;
    uint64_t now = now_ms(c);

    (void)node;
    for (size_t i = 0; i < c->cfg.ntrackers; i++)
        if (!c->trk[i].in_flight && now >= c->trk[i].next_ms)
            announce(c, i);
}

static char **copy_strings(const char *const *v, size_t n)
{
    char **out = calloc(n + 1, sizeof(*out));

    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if ((out[i] = strdup(v[i])) == NULL) {
            for (size_t k = 0; k < i; k++)
                free(out[k]);
            free(out);
            return NULL;
        }
    return out;
}

static void free_strings(char **v)
{
    if (v == NULL)
        return;
    for (size_t i = 0; v[i] != NULL; i++)
        free(v[i]);
    free(v);
}

int shoal_tracker_client_new(shoal_tracker_client **out, shoal_node *node,
                             const shoal_tracker_client_config *cfg)
{
    client *c;
    int rc;

    *out = NULL;
    if (shoal_node_peer_id(node) == NULL || cfg->ntrackers == 0 ||
        cfg->ntrackers > TRACKERS_MAX || cfg->ntopics > TRK_TOPICS_MAX ||
        cfg->naddrs > TRK_ADDRS_MAX)
        return SHOAL_EINVAL;
    for (size_t i = 0; i < cfg->ntopics; i++) {
        size_t n = strlen(cfg->topics[i]);
        if (n == 0 || n > TRK_TOPIC_MAX || strchr(cfg->topics[i], '\n'))
            return SHOAL_EINVAL;
    }
    for (size_t i = 0; i < cfg->ntrackers; i++)
        if (strstr(cfg->trackers[i], "/p2p/") == NULL)
            return SHOAL_EBADADDR;
    if ((c = calloc(1, sizeof(*c))) == NULL)
        return SHOAL_ENOMEM;
    c->node = node;
    c->cfg = *cfg;
    if (c->cfg.interval_ms == 0)
        c->cfg.interval_ms = 30000;
    if (c->cfg.backoff_min_ms == 0)
        c->cfg.backoff_min_ms = 1000;
    if (c->cfg.backoff_max_ms < c->cfg.backoff_min_ms)
        c->cfg.backoff_max_ms = c->cfg.backoff_min_ms;
    if (c->cfg.request_timeout_ms == 0)
        c->cfg.request_timeout_ms = 5000;
    c->topics = copy_strings(cfg->topics, cfg->ntopics);
    if (cfg->addrs != NULL)
        c->addrs = copy_strings(cfg->addrs, cfg->naddrs);
    rc = c->topics == NULL || (cfg->addrs != NULL && c->addrs == NULL)
             ? SHOAL_ENOMEM : 0;
    for (size_t i = 0; rc == 0 && i < cfg->ntrackers; i++) {
        if ((c->trk[i].addr = strdup(cfg->trackers[i])) == NULL)
            rc = SHOAL_ENOMEM;
        c->trk[i].next_ms = 0; /* at the first tick */
    }
    c->cfg.trackers = NULL;
    c->cfg.topics = NULL;
    c->cfg.addrs = NULL;
    if (rc == 0)
        rc = shoal_timer_start(node, TICK_MS, on_tick, c, &c->timer);
    if (rc < 0) {
        shoal_tracker_client_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void shoal_tracker_client_free(shoal_tracker_client *c)
{
    if (c == NULL)
        return;
    if (c->timer != NULL)
        shoal_timer_stop(c->timer);
    for (call *k = c->calls; k != NULL; k = k->next)
        k->c = NULL;
    for (ping *p = c->pings; p != NULL; p = p->next)
        p->c = NULL;
    for (size_t i = 0; i < TRACKERS_MAX; i++)
        free(c->trk[i].addr);
    free_strings(c->topics);
    free_strings(c->addrs);
    free(c);
}

void shoal_tracker_client_stats_get(const shoal_tracker_client *c,
                                    shoal_tracker_client_stats *out)
{
    *out = c->stats;
}
