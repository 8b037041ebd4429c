/* mDNS on the node's loop (include/shoal/mdns.h): one UDP socket on port
 * 5353 shared with any other responder on the host (SO_REUSEADDR), joined
 * to 224.0.0.251 on each interface; the messages themselves are
 * src/mdns/codec.c's. Nothing heard is trusted: a peer is pinged, which
 * proves its id through Noise, before it enters the peer table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "core/config.h"
#include "shoal/mdns.h"
#include "mdns/codec.h"
#include "node/thread.h"

#define MDNS_GROUP4 "224.0.0.251"
#define TICK_MS 100
#define IFACES_MAX 16
#define PINGS_MAX 16          /* checks in flight */
#define TRIED_MAX 64          /* peers remembered as recently checked */
#define RETRY_MS 5000         /* a peer is checked again after this */
#define ANSWER_GAP_MS 1000    /* at most one answer a second (RFC 6762, 6) */
#define OWN_ADDRS_MAX 8
#define PEER_NAME_LEN 32      /* libp2p: 32 to 63 random characters */

typedef struct iface {
    char ip[64];
    int loopback;
} iface;

typedef struct ping {
    shoal_mdns *m;            /* NULL once the mdns is freed */
    char id[MDNS_ID_MAX];
    char addr[MDNS_ADDR_MAX];
    char host[SHOAL_HOST_MAX];
    uint16_t port;
    struct ping *next;
} ping;

typedef struct tried {
    char id[MDNS_ID_MAX];
    uint64_t at_ms;
    unsigned attempts;
} tried;

struct shoal_mdns {
    shoal_node *node;
    shoal_mdns_config cfg;
    char *service;
    char *iface_only;
    char peer_name[PEER_NAME_LEN + 1];
    char full_name[MDNS_NAME_MAX + 1];  /* peer_name.service */
    uv_udp_t *udp;
    shoal_timer *timer;
    iface ifs[IFACES_MAX];
    size_t nifs;
    uint64_t next_query_ms;
    unsigned queries;
    uint64_t interval_start_ms;
    size_t new_in_interval;
    int answer_due;
    uint64_t last_answer_ms;
    ping *pings;
    size_t npings;
    tried tried[TRIED_MAX];
    size_t ntried, tried_next;
    shoal_mdns_stats stats;
    uint8_t rbuf[MDNS_PACKET_MAX];
    mdns_msg msg;
};

static void config_defaults(shoal_mdns_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->size = sizeof(*cfg);
    cfg->interval_ms = 10000;
    cfg->max_new_per_interval = 16;
    cfg->ping_timeout_ms = 5000;
    cfg->ttl_s = 120;
}

void shoal_mdns_config_init_size(shoal_mdns_config *cfg, size_t size)
{
    shoal_mdns_config d;

    config_defaults(&d);
    shoal_cfg_fill(cfg, size, &d, sizeof(d));
}

static uint64_t now_ms(shoal_mdns *m)
{
    return uv_now(shoal_node_loop(m->node));
}

/* ------------------------------------------------------------ interfaces */

/* Joins the group on every interface not yet joined (all non-loopback
 * IPv4 ones, or only cfg.interface_addr). */
static void scan_interfaces(shoal_mdns *m)
{
    uv_interface_address_t *a;
    int n;

    if (uv_interface_addresses(&a, &n) < 0)
        return;
    for (int i = 0; i < n && m->nifs < IFACES_MAX; i++) {
        char ip[64];
        int known = 0, rc;
        if (a[i].address.address4.sin_family != AF_INET)
            continue;
        uv_ip4_name(&a[i].address.address4, ip, sizeof(ip));
        if (m->iface_only != NULL ? strcmp(ip, m->iface_only) != 0
                                  : a[i].is_internal)
            continue;
        for (size_t k = 0; k < m->nifs; k++)
            known |= strcmp(m->ifs[k].ip, ip) == 0;
        if (known)
            continue;
        rc = uv_udp_set_membership(m->udp, MDNS_GROUP4, ip, UV_JOIN_GROUP);
        if (rc < 0 && rc != UV_EADDRINUSE) {
            shoal_log(m->node, SHOAL_LOG_WARN, "mdns_join_failed iface=%s "
                      "error=%s", ip, shoal_strerror(rc));
            continue;
        }
        snprintf(m->ifs[m->nifs].ip, sizeof(m->ifs[0].ip), "%s", ip);
        m->ifs[m->nifs].loopback = a[i].is_internal;
        m->nifs++;
        shoal_log(m->node, SHOAL_LOG_INFO, "mdns_joined iface=%s", ip);
    }
    uv_free_interface_addresses(a, n);
}

static int send_on(shoal_mdns *m, const iface *f, const uint8_t *data,
                   size_t len)
{
    struct sockaddr_in to;
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    int rc;

    uv_ip4_addr(MDNS_GROUP4, m->cfg.port, &to);
    /* the interface picks the route: a namespace's veth has no multicast
     * route of its own, and a host with several LANs wants each one */
    if ((rc = uv_udp_set_multicast_interface(m->udp, f->ip)) < 0)
        return rc;
    rc = uv_udp_try_send(m->udp, &b, 1, (const struct sockaddr *)&to);
    if (rc < 0)
        shoal_log(m->node, SHOAL_LOG_DEBUG, "mdns_send_failed iface=%s "
                  "error=%s", f->ip, shoal_strerror(rc));
    return rc < 0 ? rc : 0;
}

/* ------------------------------------------------------- asking, answering */

static void send_queries(shoal_mdns *m)
{
    uint8_t q[512];
    int n = mdns_query_encode(q, sizeof(q), m->service);

    if (n < 0)
        return;
    for (size_t i = 0; i < m->nifs; i++)
        if (send_on(m, &m->ifs[i], q, (size_t)n) == 0)
            m->stats.queries_sent++;
}

static int is_loopback4(const char *host)
{
    return strncmp(host, "127.", 4) == 0;
}

/* Our listen addresses as a peer on f's network reaches them. */
static size_t own_addrs(shoal_mdns *m, const iface *f,
                        char out[OWN_ADDRS_MAX][MDNS_ADDR_MAX])
{
    char buf[1024], host[SHOAL_HOST_MAX];
    uint16_t port;
    size_t n = 0;
    const char *id = shoal_node_peer_id(m->node);

    for (size_t i = 0; n < OWN_ADDRS_MAX &&
                       shoal_node_listen_addr(m->node, i, buf, sizeof(buf)) == 0;
         i++) {
        int dup = 0;
        if (mdns_addr_host_port(buf, host, sizeof(host), &port) < 0)
            continue;
        if (strncmp(buf, "/ip4/", 5) == 0) {
            if (strcmp(host, "0.0.0.0") == 0)
                snprintf(buf, sizeof(buf), "/ip4/%s/tcp/%u/p2p/%s", f->ip,
                         (unsigned)port, id);
            else if (is_loopback4(host) && !f->loopback)
                continue;       /* of no use to anyone else */
        } else if (strcmp(host, "::") == 0 || strcmp(host, "::1") == 0) {
            continue;
        }
        if (strlen(buf) >= MDNS_ADDR_MAX)
            continue;
        for (size_t k = 0; k < n; k++)
            dup |= strcmp(out[k], buf) == 0;
        if (!dup)
            memcpy(out[n++], buf, strlen(buf) + 1); /* < MDNS_ADDR_MAX */
    }
    return n;
}

static void send_answers(shoal_mdns *m)
{
    char addrs[OWN_ADDRS_MAX][MDNS_ADDR_MAX];
    const char *ptrs[OWN_ADDRS_MAX];
    uint8_t r[MDNS_SEND_MAX];

    for (size_t i = 0; i < m->nifs; i++) {
        size_t n = own_addrs(m, &m->ifs[i], addrs);
        int len = SHOAL_EMSGSIZE;
        for (size_t k = 0; k < n; k++)
            ptrs[k] = addrs[k];
        /* what does not fit one frame is left out, last first */
        while (n > 0 && (len = mdns_response_encode(
                             r, sizeof(r), m->service, m->peer_name, ptrs, n,
                             m->cfg.ttl_s)) == SHOAL_EMSGSIZE)
            n--;
        if (n > 0 && len > 0 && send_on(m, &m->ifs[i], r, (size_t)len) == 0)
            m->stats.responses_sent++;
    }
}

/* ------------------------------------------------------------- checking */

static tried *tried_find(shoal_mdns *m, const char *id)
{
    for (size_t i = 0; i < m->ntried; i++)
        if (strcmp(m->tried[i].id, id) == 0)
            return &m->tried[i];
    return NULL;
}

static int pinging(const shoal_mdns *m, const char *id)
{
    for (const ping *p = m->pings; p != NULL; p = p->next)
        if (strcmp(p->id, id) == 0)
            return 1;
    return 0;
}

static void on_ping(shoal_node *node, int status, uint64_t rtt_us, void *user)
{
    ping *p = user;
    shoal_mdns *m = p->m;

    (void)rtt_us;
    if (m != NULL) {
        ping **pp = &m->pings;
        while (*pp != NULL && *pp != p)
            pp = &(*pp)->next;
        if (*pp == p) {
            *pp = p->next;
            m->npings--;
        }
        if (status == 0 && !shoal_peers_full(node) &&
            shoal_peer_add(node, p->id, p->host, p->port) == 0) {
            m->stats.peers_added++;
            shoal_log(node, SHOAL_LOG_INFO, "mdns_peer_added peer=%s addr=%s",
                      p->id, p->addr);
            if (m->cfg.on_peer != NULL)
                m->cfg.on_peer(m, p->id, p->addr, m->cfg.user);
        } else if (status != 0) {
            shoal_log_limited(node, SHOAL_LOG_DEBUG, "mdns_check_failed",
                      "mdns_check_failed peer=%s "
                      "addr=%s error=%s", p->id, p->addr,
                      shoal_strerror(status));
        }
    }
    free(p);
}

/* A peer named in a response: checked unless known, being checked,
 * checked a moment ago, or over this interval's budget. */
static void consider(shoal_mdns *m, const mdns_peer *peer, int from_loopback)
{
    const char *usable[MDNS_ADDRS_MAX];
    size_t nusable = 0;
    uint64_t now = now_ms(m);
    tried *t;
    ping *p;
    const char *addr;

    if (shoal_peer_get(m->node, peer->id) != NULL || pinging(m, peer->id) ||
        shoal_peers_full(m->node) || m->npings >= PINGS_MAX ||
        m->new_in_interval >= m->cfg.max_new_per_interval)
        return;
    if ((t = tried_find(m, peer->id)) != NULL && now < t->at_ms + RETRY_MS)
        return;
    for (size_t i = 0; i < peer->naddrs; i++) {
        /* a loopback address is someone else's loopback unless the
         * packet itself came over loopback */
        if (!from_loopback && (strncmp(peer->addrs[i], "/ip4/127.", 9) == 0 ||
                               strncmp(peer->addrs[i], "/ip6/::1/", 9) == 0))
            continue;
        usable[nusable++] = peer->addrs[i];
    }
    if (nusable == 0)
        return;
    if (t == NULL) {
        t = &m->tried[m->tried_next];
        m->tried_next = (m->tried_next + 1) % TRIED_MAX;
        if (m->ntried < TRIED_MAX)
            m->ntried++;
        snprintf(t->id, sizeof(t->id), "%s", peer->id);
        t->attempts = 0;
    }
    addr = usable[t->attempts % nusable]; /* another address each time */
    t->attempts++;
    t->at_ms = now;
    if ((p = calloc(1, sizeof(*p))) == NULL)
        return;
    p->m = m;
    snprintf(p->id, sizeof(p->id), "%s", peer->id);
    snprintf(p->addr, sizeof(p->addr), "%s", addr);
    if (mdns_addr_host_port(addr, p->host, sizeof(p->host), &p->port) < 0 ||
        shoal_ping(m->node, addr, m->cfg.ping_timeout_ms, on_ping, p) < 0) {
        free(p);
        return;
    }
    p->next = m->pings;
    m->pings = p;
    m->npings++;
    m->new_in_interval++;
    m->stats.pings_started++;
}

/* --------------------------------------------------------------- the loop */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    shoal_mdns *m = h->data;

    (void)suggested;
    *buf = uv_buf_init((char *)m->rbuf, sizeof(m->rbuf));
}

static void on_recv(uv_udp_t *udp, ssize_t nread, const uv_buf_t *buf,
                    const struct sockaddr *from, unsigned flags)
{
    shoal_mdns *m = udp->data;
    const char *self = shoal_node_peer_id(m->node);
    int from_loopback;

    (void)buf;
    if (nread <= 0 || from == NULL)
        return;
    m->stats.packets_in++;
    if ((flags & UV_UDP_PARTIAL) ||
        mdns_parse(m->rbuf, (size_t)nread, m->service, &m->msg) < 0) {
        m->stats.packets_bad++;
        return;
    }
    if (!m->msg.response) {
        if (m->msg.asks_service)
            m->answer_due = 1;  /* on the next tick, rate limited */
        return;
    }
    from_loopback = from->sa_family == AF_INET &&
                    (ntohl(((const struct sockaddr_in *)from)->sin_addr.s_addr)
                     >> 24) == 127;
    for (size_t i = 0; i < m->msg.npeers; i++) {
        const mdns_peer *peer = &m->msg.peers[i];
        if (strcasecmp(peer->name, m->full_name) == 0 ||
            strcmp(peer->id, self) == 0)
            continue;           /* our own answer, looped back */
        m->stats.peers_heard++;
        consider(m, peer, from_loopback);
    }
}

static void on_tick(shoal_node *node, void *user)
{
    shoal_mdns *m = user;
    uint64_t now = now_ms(m);

    (void)node;
    if (now >= m->next_query_ms) {
        /* a short burst first (now, +0.5 s, +1.5 s), as peers starting
         * together would otherwise wait a whole interval for each other */
        static const uint32_t burst[] = {500, 1000};
        scan_interfaces(m);
        send_queries(m);
        m->next_query_ms = now + (m->queries < 2 ? burst[m->queries]
                                                 : m->cfg.interval_ms);
        m->queries++;
    }
    if (now >= m->interval_start_ms + m->cfg.interval_ms) {
        m->interval_start_ms = now;
        m->new_in_interval = 0;
    }
    if (m->answer_due && now >= m->last_answer_ms + ANSWER_GAP_MS) {
        m->answer_due = 0;
        m->last_answer_ms = now;
        send_answers(m);
    }
}

static void on_udp_closed(uv_handle_t *h)
{
    free(h);
}

int shoal_mdns_new(shoal_mdns **out, shoal_node *node,
                   const shoal_mdns_config *cfg)
{
    SHOAL_LOOP_ONLY(node, SHOAL_EBUSY);
    static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    struct sockaddr_in any;
    shoal_mdns_config own; /* the caller's, over the defaults */
    shoal_mdns *m;
    int rc;

    *out = NULL;
    config_defaults(&own);
    if ((rc = shoal_cfg_take(node, "shoal_mdns_config", &own, sizeof(own),
                             cfg)) < 0)
        return rc;
    cfg = &own;
    if (shoal_node_peer_id(node) == NULL || cfg->interval_ms == 0)
        return SHOAL_EINVAL;
    if ((m = calloc(1, sizeof(*m))) == NULL)
        return SHOAL_ENOMEM;
    m->node = node;
    m->cfg = *cfg;
    if (m->cfg.port == 0)
        m->cfg.port = 5353;
    if (m->cfg.ping_timeout_ms == 0)
        m->cfg.ping_timeout_ms = 5000;
    m->service = strdup(cfg->service != NULL ? cfg->service : MDNS_SERVICE);
    if (cfg->interface_addr != NULL)
        m->iface_only = strdup(cfg->interface_addr);
    m->cfg.service = NULL;
    m->cfg.interface_addr = NULL;
    for (size_t i = 0; i < PEER_NAME_LEN; i++)
        m->peer_name[i] = alnum[randombytes_uniform(sizeof(alnum) - 1)];
    rc = m->service == NULL ||
                 (cfg->interface_addr != NULL && m->iface_only == NULL)
             ? SHOAL_ENOMEM : 0;
    if (rc == 0 && (strlen(m->service) + 1 + PEER_NAME_LEN > MDNS_NAME_MAX ||
                    mdns_query_encode(m->rbuf, sizeof(m->rbuf), m->service) < 0))
        rc = SHOAL_EINVAL;
    if (rc == 0) {
        snprintf(m->full_name, sizeof(m->full_name), "%s.%s", m->peer_name,
                 m->service);
        if ((m->udp = calloc(1, sizeof(*m->udp))) == NULL)
            rc = SHOAL_ENOMEM;
    }
    if (rc == 0 &&
        (rc = uv_udp_init(shoal_node_loop(node), m->udp)) < 0) {
        free(m->udp);
        m->udp = NULL;
    }
    if (rc == 0) {
        m->udp->data = m;
        /* the node's own handles keep the loop running, not this one */
        uv_unref((uv_handle_t *)m->udp);
        uv_ip4_addr("0.0.0.0", m->cfg.port, &any);
        rc = uv_udp_bind(m->udp, (const struct sockaddr *)&any,
                         UV_UDP_REUSEADDR);
    }
    if (rc == 0) {
        /* others on this host (and our own queries) are heard too */
        uv_udp_set_multicast_loop(m->udp, 1);
        uv_udp_set_multicast_ttl(m->udp, 255);
        rc = uv_udp_recv_start(m->udp, on_alloc, on_recv);
    }
    if (rc == 0)
        rc = shoal_timer_start(node, TICK_MS, on_tick, m, &m->timer);
    if (rc < 0) {
        shoal_mdns_free(m);
        return rc;
    }
    scan_interfaces(m);
    if (m->nifs == 0)
        shoal_log(node, SHOAL_LOG_WARN, "mdns_no_interface%s%s",
                  m->iface_only ? " iface=" : "",
                  m->iface_only ? m->iface_only : "");
    shoal_log(node, SHOAL_LOG_INFO, "mdns_started service=%s name=%s port=%u",
              m->service, m->peer_name, (unsigned)m->cfg.port);
    *out = m;
    return 0;
}

void shoal_mdns_free(shoal_mdns *m)
{
    if (m == NULL)
        return;
    SHOAL_LOOP_ONLY(m->node);
    if (m->timer != NULL)
        shoal_timer_stop(m->timer);
    if (m->udp != NULL) {
        uv_udp_recv_stop(m->udp);
        m->udp->data = NULL;
        uv_close((uv_handle_t *)m->udp, on_udp_closed);
    }
    for (ping *p = m->pings; p != NULL; p = p->next)
        p->m = NULL;
    free(m->service);
    free(m->iface_only);
    free(m);
}

void shoal_mdns_stats_get(const shoal_mdns *m, shoal_mdns_stats *out)
{
    memset(out, 0, sizeof(*out)); /* what a wrong thread gets */
    SHOAL_LOOP_ONLY(m->node);
    *out = m->stats;
}
