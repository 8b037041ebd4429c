/* Peer exchange (include/shoal/pex.h): PEXQ and PEXA on the node's message
 * protocol, every address heard checked before the table takes it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/config.h"
#include "core/backoff.h"
#include "pex/codec.h"
#include "shoal/pex.h"
#include "node/thread.h"

#define TICK_MS 100
#define SOON_MS 200           /* an ask after a peer joined a small table */
#define QUARANTINE_MAX 256    /* addresses remembered as failed */

/* Callbacks may outlive the service: p is NULL then, and they only free
 * themselves. One struct serves questions and checks alike. */
typedef struct pending {
    shoal_pex *p;
    char id[SHOAL_ID_MAX];    /* a check: the peer being checked */
    struct pending *next;
} pending;

typedef struct failed {
    char id[SHOAL_ID_MAX];
    uint64_t until_ms;
} failed;

struct shoal_pex {
    shoal_node *node;
    shoal_pex_config cfg;
    shoal_timer *timer;
    uint64_t next_ask_ms;
    double tokens;            /* answers we may give now */
    uint64_t tokens_ms;       /* ... as of then */
    pending *asks, *checks;
    size_t nchecks;
    failed quarantine[QUARANTINE_MAX];
    size_t quarantine_next;   /* the slot the next failure takes */
    shoal_pex_stats stats;
    pex_entry list[PEX_LIST_MAX]; /* the loop thread's scratch space */
};

static void config_defaults(shoal_pex_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->size = sizeof(*cfg);
    cfg->interval_ms = 30000;
    cfg->share_max = 16;
    cfg->checks_max = 8;
    cfg->timeout_ms = 5000;
    cfg->quarantine_ms = 600000;
    cfg->target_peers = 0;
    cfg->answers_per_s = 50;
}

void shoal_pex_config_init_size(shoal_pex_config *cfg, size_t size)
{
    shoal_pex_config d;

    config_defaults(&d);
    shoal_cfg_fill(cfg, size, &d, sizeof(d));
}

static uint64_t now_ms(shoal_pex *p)
{
    return uv_now(shoal_node_loop(p->node));
}

static int wants_peers(const shoal_pex *p)
{
    if (shoal_peers_full(p->node))
        return 0;
    return p->cfg.target_peers == 0 ||
           shoal_peer_count(p->node) < p->cfg.target_peers;
}

static void unlink_pending(pending **head, pending *k)
{
    while (*head != NULL && *head != k)
        head = &(*head)->next;
    if (*head == k)
        *head = k->next;
}

/* -------------------------------------------------------------- checks */

static failed *quarantined(shoal_pex *p, const char *id)
{
    uint64_t now = now_ms(p);

    for (size_t i = 0; i < QUARANTINE_MAX; i++)
        if (p->quarantine[i].until_ms > now &&
            strcmp(p->quarantine[i].id, id) == 0)
            return &p->quarantine[i];
    return NULL;
}

/* The oldest failure makes room for the newest. */
static void quarantine(shoal_pex *p, const char *id)
{
    failed *f = quarantined(p, id);

    if (f == NULL) {
        f = &p->quarantine[p->quarantine_next];
        p->quarantine_next = (p->quarantine_next + 1) % QUARANTINE_MAX;
    }
    snprintf(f->id, sizeof(f->id), "%s", id);
    f->until_ms = now_ms(p) + p->cfg.quarantine_ms;
}

static int checking(const shoal_pex *p, const char *id)
{
    for (const pending *k = p->checks; k != NULL; k = k->next)
        if (strcmp(k->id, id) == 0)
            return 1;
    return 0;
}

static void on_verified(shoal_node *node, int status, const char *peer_id,
                        void *user)
{
    pending *k = user;
    shoal_pex *p = k->p;

    if (p != NULL) {
        unlink_pending(&p->checks, k);
        p->nchecks--;
        if (status == 0) {
            p->stats.added++;
            shoal_log(node, SHOAL_LOG_DEBUG, "pex_peer_added peer=%s",
                      peer_id);
        } else if (status != SHOAL_EEXIST && status != SHOAL_EFULL) {
            p->stats.check_failed++;
            quarantine(p, peer_id);
        }
    }
    free(k);
}

/* An address heard from someone: checked, unless there is no need. */
static void consider(shoal_pex *p, const pex_entry *e)
{
    pending *k;

    if (strcmp(e->id, shoal_node_peer_id(p->node)) == 0 ||
        shoal_peer_get(p->node, e->id) != NULL || checking(p, e->id) ||
        !wants_peers(p) || p->nchecks >= p->cfg.checks_max)
        return;
    if (quarantined(p, e->id) != NULL) {
        p->stats.quarantined++;
        return;
    }
    if ((k = calloc(1, sizeof(*k))) == NULL)
        return;
    k->p = p;
    snprintf(k->id, sizeof(k->id), "%s", e->id);
    if (shoal_peer_add_verified(p->node, e->addr, p->cfg.timeout_ms,
                                on_verified, k) < 0) {
        free(k);
        return;
    }
    k->next = p->checks;
    p->checks = k;
    p->nchecks++;
    p->stats.checked++;
}

/* ----------------------------------------------------- answering PEXQ */

/* A known peer's dialable address, or -1 (a name, not an address). */
static int peer_addr(const shoal_peer *peer, char *out, size_t size)
{
    shoal_addr where;
    char id[SHOAL_ID_MAX];
    int n = snprintf(out, size, "/%s/%s/tcp/%u/p2p/%s",
                     strchr(peer->host, ':') ? "ip6" : "ip4", peer->host,
                     (unsigned)peer->port, peer->id);

    if (n < 0 || (size_t)n >= size ||
        shoal_addr_parse_named(out, &where, id, sizeof(id)) < 0)
        return -1;
    return 0;
}

static int take_token(shoal_pex *p)
{
    uint64_t now = now_ms(p);
    double burst = 2 * p->cfg.answers_per_s;

    p->tokens += (double)(now - p->tokens_ms) * p->cfg.answers_per_s / 1000;
    p->tokens_ms = now;
    if (p->tokens > burst)
        p->tokens = burst;
    if (p->tokens < 1)
        return -1;
    p->tokens -= 1;
    return 0;
}

/* The asker's own addresses: on its connection's host (a wildcard host is
 * that host), each then considered. 0, or -1 with the reason. */
static int take_asker(shoal_pex *p, const shoal_req *req, const shoal_msg *msg,
                      char *why, size_t whysize)
{
    shoal_addr from;
    int n = pex_list_parse(msg->data, msg->len, p->list, PEX_OWN_MAX, why,
                           whysize);

    if (n < 0)
        return -1;
    if (n > 0 && shoal_addr_parse(shoal_req_remote(req), &from) < 0) {
        snprintf(why, whysize, "no remote address");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        pex_entry *e = &p->list[i];
        const char *h = e->where.host;
        if (strcmp(h, "0.0.0.0") == 0 || strcmp(h, "::") == 0) {
            char addr[PEX_ADDR_MAX];
            int len = snprintf(addr, sizeof(addr), "/%s/%s/tcp/%u/p2p/%s",
                               strchr(from.host, ':') ? "ip6" : "ip4",
                               from.host, (unsigned)e->where.port, e->id);
            if (len < 0 || (size_t)len >= sizeof(addr))
                continue;
            memcpy(e->addr, addr, (size_t)len + 1);
            snprintf(e->where.host, sizeof(e->where.host), "%s", from.host);
        } else if (strcmp(h, from.host) != 0) {
            snprintf(why, whysize, "address %d is not on the asker's host",
                     i + 1);
            return -1;
        }
    }
    for (int i = 0; i < n; i++)
        consider(p, &p->list[i]);
    return 0;
}

static void on_pexq(shoal_req *req, const shoal_msg *msg, void *user)
{
    shoal_pex *p = user;
    char why[96], buf[PEX_PAYLOAD_MAX], addrs[PEX_LIST_MAX][PEX_ADDR_MAX];
    const char *ptr[PEX_LIST_MAX];
    size_t count = shoal_peer_count(p->node), n = 0, start;
    const char *asker = NULL;
    int len;

    if (take_token(p) < 0) {
        p->stats.rate_limited++;
        shoal_reply(req, "ERRO", "rate_limited", 12);
        return;
    }
    if (take_asker(p, req, msg, why, sizeof(why)) < 0) {
        p->stats.bad_questions++;
        shoal_replyf(req, "ERRO", "malformed: %s", why);
        return;
    }
    if (msg->len > 0)
        asker = p->list[0].id; /* not sent its own address back */
    /* share_max peers from a random place in the table, in a circle */
    start = count ? randombytes_uniform((uint32_t)count) : 0;
    for (size_t i = 0; i < count && n < p->cfg.share_max; i++) {
        const shoal_peer *peer = shoal_peer_at(p->node, (start + i) % count);
        if (peer == NULL || (asker != NULL && strcmp(peer->id, asker) == 0) ||
            peer_addr(peer, addrs[n], sizeof(addrs[n])) < 0)
            continue;
        ptr[n] = addrs[n];
        n++;
    }
    if ((len = pex_list_format(buf, sizeof(buf), ptr, n)) < 0)
        len = 0;
    p->stats.served++;
    shoal_reply(req, "PEXA", buf, (size_t)len);
}

/* -------------------------------------------------------------- asking */

static void on_answer(const shoal_msg *reply, void *user)
{
    pending *k = user;
    shoal_pex *p = k->p;
    char why[96];
    int n;

    if (p == NULL)
        return;
    if (strcmp(reply->type, "PEXA") != 0 ||
        (n = pex_list_parse(reply->data, reply->len, p->list,
                            PEX_LIST_MAX, why, sizeof(why))) < 0) {
        p->stats.bad_answers++;
        shoal_log_limited(p->node, SHOAL_LOG_DEBUG, "pex_bad_answer",
                  "pex_bad_answer type=%s "
                  "reason=\"%s\"", reply->type,
                  strcmp(reply->type, "PEXA") ? "not PEXA" : why);
        return;
    }
    p->stats.answers++;
    for (int i = 0; i < n; i++)
        consider(p, &p->list[i]);
}

static void on_ask_end(int status, void *user)
{
    pending *k = user;

    (void)status;
    if (k->p != NULL)
        unlink_pending(&k->p->asks, k);
    free(k);
}

/* This node's listen addresses that others can dial, as a PEXQ. */
static int own_list(shoal_pex *p, char *out, size_t size)
{
    char addrs[PEX_OWN_MAX][PEX_ADDR_MAX];
    const char *ptr[PEX_OWN_MAX];
    size_t n = 0;

    for (size_t i = 0; n < PEX_OWN_MAX; i++) {
        shoal_addr where;
        char id[SHOAL_ID_MAX];
        if (shoal_node_listen_addr(p->node, i, addrs[n], sizeof(addrs[n])) ==
            SHOAL_ENOENT)
            break;
        if (shoal_addr_parse_named(addrs[n], &where, id, sizeof(id)) == 0) {
            ptr[n] = addrs[n];
            n++;
        }
    }
    return pex_list_format(out, size, ptr, n);
}

int shoal_pex_ask(shoal_pex *p, const char *addr)
{
    SHOAL_LOOP_ONLY(p->node, SHOAL_EBUSY);
    char own[PEX_OWN_MAX * PEX_ADDR_MAX], buf[PEX_ADDR_MAX];
    pending *k;
    int n, rc;

    if (addr == NULL) {
        size_t count = shoal_peer_count(p->node);
        const shoal_peer *peer;
        if (count == 0)
            return SHOAL_ENOENT;
        peer = shoal_peer_at(p->node, randombytes_uniform((uint32_t)count));
        if (peer == NULL || peer_addr(peer, buf, sizeof(buf)) < 0)
            return SHOAL_EBADADDR;
        addr = buf;
    }
    if ((n = own_list(p, own, sizeof(own))) < 0)
        n = 0;
    if ((k = calloc(1, sizeof(*k))) == NULL)
        return SHOAL_ENOMEM;
    k->p = p;
    if ((rc = shoal_request(p->node, addr, "PEXQ", own, (size_t)n,
                            p->cfg.timeout_ms, on_answer, on_ask_end, k)) <
        0) {
        free(k);
        return rc;
    }
    k->next = p->asks;
    p->asks = k;
    p->stats.asked++;
    return 0;
}

static void on_tick(shoal_node *node, void *user)
{
    shoal_pex *p = user;
    uint64_t now = now_ms(p);

    (void)node;
    if (now < p->next_ask_ms)
        return;
    /* give or take a quarter, so that neighbours do not ask in step */
    p->next_ask_ms = now + shoal_jitter(p->cfg.interval_ms, shoal_rand_sodium,
                                        NULL);
    if (p->asks == NULL) /* one question out at a time */
        shoal_pex_ask(p, NULL);
}

/* A peer joined a table that wants more: ask soon, not in a while. */
static void on_peer_event(shoal_node *node, const shoal_peer_event *ev,
                          void *user)
{
    shoal_pex *p = user;
    uint64_t soon;

    (void)node;
    if (ev->kind != SHOAL_PEER_ADDED || !wants_peers(p))
        return;
    soon = now_ms(p) + SOON_MS;
    if (soon < p->next_ask_ms)
        p->next_ask_ms = soon;
}

/* ----------------------------------------------------------- lifetime */

int shoal_pex_new(shoal_pex **out, shoal_node *node,
                  const shoal_pex_config *cfg)
{
    SHOAL_LOOP_ONLY(node, SHOAL_EBUSY);
    shoal_pex_config own; /* the caller's, over the defaults */
    shoal_pex *p;
    int rc;

    *out = NULL;
    config_defaults(&own);
    if ((rc = shoal_cfg_take(node, "shoal_pex_config", &own, sizeof(own),
                             cfg)) < 0)
        return rc;
    cfg = &own;
    if (shoal_node_peer_id(node) == NULL || cfg->interval_ms == 0 ||
        cfg->share_max == 0 || cfg->share_max > PEX_LIST_MAX ||
        cfg->checks_max == 0 || cfg->timeout_ms == 0 ||
        !(cfg->answers_per_s > 0))
        return SHOAL_EINVAL;
    if ((p = calloc(1, sizeof(*p))) == NULL)
        return SHOAL_ENOMEM;
    p->node = node;
    p->cfg = *cfg;
    p->tokens = 2 * cfg->answers_per_s;
    p->tokens_ms = now_ms(p);
    p->next_ask_ms = now_ms(p) + SOON_MS;
    if ((rc = shoal_handle(node, "PEXQ", on_pexq, p)) < 0 ||
        (rc = shoal_peer_events_add(node, on_peer_event, p)) < 0 ||
        (rc = shoal_timer_start(node, TICK_MS, on_tick, p, &p->timer)) < 0) {
        shoal_pex_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void shoal_pex_free(shoal_pex *p)
{
    if (p == NULL)
        return;
    SHOAL_LOOP_ONLY(p->node);
    shoal_handle(p->node, "PEXQ", NULL, NULL);
    shoal_peer_events_remove(p->node, on_peer_event, p);
    if (p->timer != NULL)
        shoal_timer_stop(p->timer);
    for (pending *k = p->asks; k != NULL; k = k->next)
        k->p = NULL;
    for (pending *k = p->checks; k != NULL; k = k->next)
        k->p = NULL;
    free(p);
}

void shoal_pex_stats_get(const shoal_pex *p, shoal_pex_stats *out)
{
    memset(out, 0, sizeof(*out)); /* what a wrong thread gets */
    SHOAL_LOOP_ONLY(p->node);
    *out = p->stats;
}
