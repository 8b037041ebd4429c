/* The tracker client (include/shoal/tracker.h): announces to each tracker
 * on its own schedule over one long-lived stream of the session protocol
 * (src/tracker/protocol.h), opened again when it is lost; pings the peers
 * returned and keeps those that answer. A tracker's failure only moves its
 * next announce (backoff); the peer table is never emptied on its
 * account. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/frame.h"
#include "shoal/tracker.h"
#include "core/backoff.h"
#include "tracker/protocol.h"
#include "node/thread.h"

#define TICK_MS 100
#define TRACKERS_MAX 8
#define PINGS_MAX 32          /* pings in flight at once */
#define PEERS_ANSWER_MAX 256  /* PEER lines one answer may hold */

typedef struct shoal_tracker_client client;

/* A tracker's stream, and the state its callbacks share with the client;
 * it may outlive the client: c is NULL then, and it only frees itself. */
typedef struct tlink {
    client *c;
    size_t tracker;
    shoal_stream *s;          /* NULL while opening */
    shoal_frame_reader reader;
} tlink;

typedef struct ping {
    client *c;
    char id[SHOAL_ID_MAX];
    char host[SHOAL_HOST_MAX];
    uint16_t port;
    struct ping *next;
} ping;

typedef struct tracker_state {
    char *addr;
    tlink *link;              /* the stream, open or opening; or NULL */
    uint64_t next_ms;         /* announce at */
    uint64_t deadline_ms;     /* the answer is due by then */
    shoal_backoff backoff;      /* the retry schedule (backoff.h) */
    uint32_t wait_ms;         /* chosen after the last announce */
    uint64_t announces_ok, failures;
    int in_flight;            /* an announce waits for its answer */
} tracker_state;

struct shoal_tracker_client {
    shoal_node *node;
    shoal_tracker_client_config cfg;
    tracker_state trk[TRACKERS_MAX];
    char **topics;
    char **addrs;
    shoal_timer *timer;
    ping *pings;
    size_t npings;
    shoal_tracker_client_stats stats;
    trk_peer_msg peer;        /* scratch for PLST lines */
};

static void config_defaults(shoal_tracker_client_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->size = sizeof(*cfg);
    cfg->interval_ms = 30000;
    cfg->target_peers = 8;
    cfg->backoff_min_ms = 1000;
    cfg->backoff_max_ms = 60000;
    cfg->request_timeout_ms = 5000;
}

void shoal_tracker_client_config_init_size(shoal_tracker_client_config *cfg, size_t size)
{
    shoal_tracker_client_config d;

    config_defaults(&d);
    shoal_cfg_fill(cfg, size, &d, sizeof(d));
}

static uint64_t now_ms(client *c)
{
    return uv_now(shoal_node_loop(c->node));
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

/* A peer a tracker returned: pinged, unless known or enough are. */
static void on_peer(const trk_peer_msg *m, void *user)
{
    client *c = user;
    ping *p;

    if (strcmp(m->idtext, shoal_node_peer_id(c->node)) == 0 ||
        shoal_peer_get(c->node, m->idtext) != NULL || pinging(c, m->idtext) ||
        shoal_peer_count(c->node) + c->npings >= c->cfg.target_peers ||
        c->npings >= PINGS_MAX)
        return;
    for (size_t i = 0; i < m->naddrs; i++) {
        char host[SHOAL_HOST_MAX];
        uint16_t port;
        if (trk_addr_host_port(m->addr[i], host, sizeof(host), &port) < 0)
            continue;
        if ((p = calloc(1, sizeof(*p))) == NULL)
            return;
        p->c = c;
        snprintf(p->id, sizeof(p->id), "%s", m->idtext);
        snprintf(p->host, sizeof(p->host), "%s", host);
        p->port = port;
        if (shoal_ping(c->node, m->addr[i], c->cfg.request_timeout_ms,
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

/* The announce to tracker i is over: ok, or failed (why, for the log). */
static void announce_end(client *c, size_t i, int ok, const char *why)
{
    tracker_state *ts = &c->trk[i];

    ts->in_flight = 0;
    if (ok) {
        c->stats.announces_ok++;
        ts->announces_ok++;
        if (ts->backoff.failures != 0)
            shoal_log(c->node, SHOAL_LOG_INFO, "tracker_back tracker=%s "
                      "failures=%u", ts->addr,
                      (unsigned)ts->backoff.failures);
        shoal_backoff_reset(&ts->backoff);
        ts->wait_ms = shoal_jitter(c->cfg.interval_ms, ts->backoff.rand,
                                 ts->backoff.rand_user);
        ts->next_ms = now_ms(c) + ts->wait_ms;
        return;
    }
    c->stats.announces_failed++;
    ts->failures++;
    ts->wait_ms = shoal_backoff_fail(&ts->backoff);
    ts->next_ms = now_ms(c) + ts->wait_ms;
    shoal_log(c->node, SHOAL_LOG_DEBUG, "tracker_failed tracker=%s "
              "error=\"%s\" failures=%u backoff_ms=%u retry_ms=%u",
              ts->addr, why, (unsigned)ts->backoff.failures,
              (unsigned)ts->backoff.cur_ms, (unsigned)ts->wait_ms);
}

/* One answer from the tracker: PLST (its peers), ERRO or REPL. */
static void link_msg(tlink *k, const shoal_msg *msg)
{
    client *c = k->c;

    if (!c->trk[k->tracker].in_flight)
        return;               /* nothing asked: ignored */
    if (strcmp(msg->type, "PLST") == 0) {
        if (trk_plst_parse(msg->data, msg->len, &c->peer, on_peer, c) < 0)
            shoal_log(c->node, SHOAL_LOG_DEBUG, "tracker_bad_list "
                      "tracker=%s", c->trk[k->tracker].addr);
        announce_end(c, k->tracker, 1, NULL);
    } else if (strcmp(msg->type, "ERRO") == 0) {
        shoal_log(c->node, SHOAL_LOG_INFO, "tracker_refused tracker=%s "
                  "reason=\"%.*s\"", c->trk[k->tracker].addr,
                  (int)(msg->len < 80 ? msg->len : 80),
                  (const char *)msg->data);
        announce_end(c, k->tracker, 0, "refused");
    } else {
        announce_end(c, k->tracker, 0, "unexpected answer");
    }
}

static void link_data(shoal_stream *s, const uint8_t *data, size_t len,
                      void *user)
{
    tlink *k = user;
    size_t used;
    int rc;

    while (len > 0 && k->c != NULL) {
        shoal_msg msg;
        rc = shoal_frame_reader_feed(&k->reader, data, len, &used);
        data += used;
        len -= used;
        if (rc < 0) {
            shoal_stream_reset(s);  /* closed() follows, as a failure */
            return;
        }
        if (rc == 0)
            break;
        shoal_frame_reader_msg(&k->reader, &msg);
        link_msg(k, &msg);
        shoal_frame_reader_next(&k->reader);
    }
}

static void link_eof(shoal_stream *s, void *user)
{
    (void)user;
    shoal_stream_close(s);
}

/* The stream is gone (the tracker stopped, a deadline, the client freed):
 * an announce waiting on it failed, and the next one opens another. */
static void link_closed(shoal_stream *s, int status, void *user)
{
    tlink *k = user;
    client *c = k->c;

    (void)s;
    if (c != NULL) {
        c->trk[k->tracker].link = NULL;
        if (c->trk[k->tracker].in_flight)
            announce_end(c, k->tracker, 0,
                         status ? shoal_strerror(status) : "stream closed");
    }
    shoal_frame_reader_free(&k->reader);
    free(k);
}

static void send_announce(client *c, size_t i)
{
    char payload[SHOAL_FRAME_HEADER + TRK_ANNC_MAX + 1], buf[TRK_ADDRS_MAX][320];
    const char *addrs[TRK_ADDRS_MAX];
    size_t naddrs = 0, have = shoal_peer_count(c->node);
    int want = have >= c->cfg.target_peers
                   ? 0 : (int)(c->cfg.target_peers - have);
    tracker_state *ts = &c->trk[i];
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
    n = trk_annc_format(payload + SHOAL_FRAME_HEADER, TRK_ANNC_MAX + 1,
                        shoal_node_peer_id(c->node), addrs, naddrs,
                        (const char *const *)c->topics, c->cfg.ntopics, want);
    if (n < 0) {
        ts->next_ms = now_ms(c) + c->cfg.interval_ms;
        return;
    }
    shoal_frame_header_encode((uint8_t *)payload, "ANNC", (uint32_t)n);
    ts->in_flight = 1;
    ts->deadline_ms = now_ms(c) + c->cfg.request_timeout_ms;
    if (shoal_stream_write(ts->link->s, payload,
                           SHOAL_FRAME_HEADER + (size_t)n) < 0)
        shoal_stream_reset(ts->link->s); /* closed() ends the announce */
}

static void on_open(shoal_stream *s, int status, void *user)
{
    static const shoal_stream_cbs cbs = {.data = link_data,
                                         .eof = link_eof,
                                         .closed = link_closed};
    tlink *k = user;
    client *c = k->c;

    if (c == NULL || s == NULL) {
        if (c != NULL) {
            c->trk[k->tracker].link = NULL;
            announce_end(c, k->tracker, 0, shoal_strerror(status));
        }
        if (s != NULL)
            shoal_stream_reset(s);
        free(k);
        return;
    }
    k->s = s;
    shoal_stream_set_cbs(s, &cbs, k);
    send_announce(c, k->tracker);
}

/* Announces on the tracker's stream, opening it first if need be. */
static void announce(client *c, size_t i)
{
    tracker_state *ts = &c->trk[i];
    tlink *k;
    int rc;

    if (ts->link != NULL) {
        send_announce(c, i);
        return;
    }
    if ((k = calloc(1, sizeof(*k))) == NULL) {
        ts->next_ms = now_ms(c) + c->cfg.interval_ms;
        return;
    }
    k->c = c;
    k->tracker = i;
    shoal_frame_reader_init(&k->reader, TRK_PEER_LINE_MAX * PEERS_ANSWER_MAX);
    ts->link = k;
    ts->in_flight = 1;        /* the stream's opening is the announce's */
    ts->deadline_ms = now_ms(c) + c->cfg.request_timeout_ms;
    if ((rc = shoal_stream_open(c->node, ts->addr, TRK_PROTOCOL, on_open,
                                k)) < 0) {
        ts->link = NULL;
        free(k);
        announce_end(c, i, 0, shoal_strerror(rc));
    }
}

static void on_tick(shoal_node *node, void *user)
{
    client *c = user;
    uint64_t now = now_ms(c);

    (void)node;
    for (size_t i = 0; i < c->cfg.ntrackers; i++) {
        tracker_state *ts = &c->trk[i];
        if (ts->in_flight && now >= ts->deadline_ms) {
            /* no answer in time: the stream is given up */
            tlink *k = ts->link;
            ts->link = NULL;
            announce_end(c, i, 0, "timed out");
            if (k != NULL) {
                k->c = NULL;
                if (k->s != NULL)
                    shoal_stream_reset(k->s);
            }
        }
        if (!ts->in_flight && now >= ts->next_ms)
            announce(c, i);
    }
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

/* The peer id of a tracker's multiaddr: what follows its last "/p2p/", up
 * to the next '/' (*len), or NULL without one. */
static const char *tracker_id(const char *addr, size_t *len)
{
    const char *p = NULL, *q;

    for (q = strstr(addr, "/p2p/"); q != NULL; q = strstr(q + 1, "/p2p/"))
        p = q + 5;
    if (p == NULL)
        return NULL;
    q = strchr(p, '/');
    *len = q != NULL ? (size_t)(q - p) : strlen(p);
    return *len > 0 ? p : NULL;
}

/* Why cfg cannot be used (and the error), or NULL when it can. */
static const char *config_refused(const shoal_tracker_client_config *cfg,
                                  int *rc)
{
    *rc = SHOAL_EINVAL;
    if (cfg->ntrackers == 0 || cfg->trackers == NULL)
        return "no trackers";
    if (cfg->ntrackers > TRACKERS_MAX)
        return "more than 8 trackers";
    if (cfg->ntopics > TRK_TOPICS_MAX)
        return "more than 8 topics";
    if (cfg->naddrs > TRK_ADDRS_MAX)
        return "more than 8 addrs";
    if (shoal_backoff_check(cfg->backoff_min_ms, cfg->backoff_max_ms) < 0)
        return "backoff_min_ms must be from 1 to backoff_max_ms";
    for (size_t i = 0; i < cfg->ntopics; i++) {
        size_t n = strlen(cfg->topics[i]);
        if (n == 0 || n > TRK_TOPIC_MAX || strchr(cfg->topics[i], '\n'))
            return "bad topic";
    }
    for (size_t i = 0; i < cfg->ntrackers; i++) {
        const char *id;
        size_t n;
        if ((id = tracker_id(cfg->trackers[i], &n)) == NULL) {
            *rc = SHOAL_EBADADDR;
            return "tracker address without /p2p/ID";
        }
        /* one tracker is one peer: two of its addresses would announce
         * twice over one connection and count its failures twice */
        for (size_t k = 0; k < i; k++) {
            size_t m = 0;
            const char *other = tracker_id(cfg->trackers[k], &m);
            if (other != NULL && m == n && memcmp(other, id, n) == 0) {
                *rc = SHOAL_EEXIST;
                return "the same tracker twice";
            }
        }
    }
    return NULL;
}

int shoal_tracker_client_new(shoal_tracker_client **out, shoal_node *node,
                             const shoal_tracker_client_config *cfg)
{
    SHOAL_LOOP_ONLY(node, SHOAL_EBUSY);
    shoal_tracker_client_config own; /* the caller's, over the defaults */
    const char *why;
    client *c;
    int rc;

    *out = NULL;
    if (shoal_node_peer_id(node) == NULL)
        return SHOAL_EINVAL;
    config_defaults(&own);
    if ((rc = shoal_cfg_take(node, "shoal_tracker_client_config", &own,
                             sizeof(own), cfg)) < 0)
        return rc;
    cfg = &own;
    if ((why = config_refused(cfg, &rc)) != NULL) {
        shoal_log(node, SHOAL_LOG_WARN, "tracker_client_refused "
                  "reason=\"%s\"", why);
        return rc;
    }
    if ((c = calloc(1, sizeof(*c))) == NULL)
        return SHOAL_ENOMEM;
    c->node = node;
    c->cfg = *cfg;
    if (c->cfg.interval_ms == 0)
        c->cfg.interval_ms = 30000;
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
        shoal_backoff_init(&c->trk[i].backoff, cfg->backoff_min_ms,
                         cfg->backoff_max_ms, NULL, NULL);
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
    SHOAL_LOOP_ONLY(c->node);
    if (c->timer != NULL)
        shoal_timer_stop(c->timer);
    for (size_t i = 0; i < TRACKERS_MAX; i++) {
        tlink *k = c->trk[i].link;
        if (k == NULL)
            continue;
        k->c = NULL;          /* an opening one frees itself in on_open */
        if (k->s != NULL)
            shoal_stream_reset(k->s);
    }
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
    memset(out, 0, sizeof(*out)); /* what a wrong thread gets */
    SHOAL_LOOP_ONLY(c->node);
    *out = c->stats;
}

int shoal_tracker_client_tracker_stats_get(
    const shoal_tracker_client *c, size_t i,
    shoal_tracker_client_tracker_stats *out)
{
    SHOAL_LOOP_ONLY(c->node, SHOAL_EBUSY);
    const tracker_state *ts;
    uint64_t now;

    memset(out, 0, sizeof(*out));
    if (i >= c->cfg.ntrackers)
        return SHOAL_EINVAL;
    ts = &c->trk[i];
    now = uv_now(shoal_node_loop(c->node));
    out->addr = ts->addr;
    out->announces_ok = ts->announces_ok;
    out->failures = ts->failures;
    out->failures_in_row = ts->backoff.failures;
    out->backoff_ms = ts->backoff.cur_ms;
    out->wait_ms = ts->wait_ms;
    out->in_flight = ts->in_flight;
    if (!ts->in_flight && ts->next_ms > now)
        out->next_ms = ts->next_ms - now > UINT32_MAX
                           ? UINT32_MAX : (uint32_t)(ts->next_ms - now);
    return 0;
}
