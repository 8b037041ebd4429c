/* Membership: the classic network's NAME, LIST, JOIN, QUIT and PING, and
 * the "build peers" walk that joins a network. Uses shoal.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shoal.h"
#include "core/addr.h"
#include "node/thread.h"

/* Longest membership payload we parse: an id, a host and a port. */
#define ARGS_MAX (SHOAL_ID_MAX + SHOAL_HOST_MAX + 16)
/* The JOIN refusal of a peer that knows us already. */
#define ALREADY "Join: peer already inserted"
/* Peers followed from one LIST reply, at most. */
#define WALK_FANOUT 256

/* Why a secure JOIN or QUIT was refused: each cause is logged on its own
 * (shoal_log_limited). */
enum refusal {
    REF_NOT_PEER_ID,    /* JOIN: the id is not a peer id at all */
    REF_FOREIGN_ID,     /* JOIN: a peer id, but not the connection's */
    REF_FOREIGN_HOST,   /* JOIN: an address off the connection's host */
    REF_QUIT_FOREIGN,   /* QUIT: an id not the connection's */
};

static const char *const refusal_name[] = {
    "join_not_peer_id", "join_foreign_id", "join_foreign_host",
    "quit_foreign_id",
};

/* Splits "ID HOST PORT" (white-space separated, nothing more). */
static int parse_peer(const uint8_t *data, size_t len, char *id, char *host,
                      uint16_t *port)
{
    char text[ARGS_MAX], extra[2];
    unsigned long p;
    char *end;
    char portbuf[8];

    if (len == 0 || len >= sizeof(text) || memchr(data, '\0', len) != NULL)
        return SHOAL_EINVAL;
    memcpy(text, data, len);
    text[len] = '\0';
    /* Field widths are SHOAL_ID_MAX-1 and SHOAL_HOST_MAX-1. */
    if (sscanf(text, "%255s %255s %7s %1s", id, host, portbuf, extra) != 3)
        return SHOAL_EINVAL;
    p = strtoul(portbuf, &end, 10);
    if (*end != '\0' || p == 0 || p > 65535)
        return SHOAL_EINVAL;
    *port = (uint16_t)p;
    return 0;
}

/* One word: the id of QUIT. */
static int parse_id(const uint8_t *data, size_t len, char *id)
{
    char text[SHOAL_ID_MAX + 8], extra[2];

    if (len == 0 || len >= sizeof(text) || memchr(data, '\0', len) != NULL)
        return SHOAL_EINVAL;
    memcpy(text, data, len);
    text[len] = '\0';
    return sscanf(text, "%255s %1s", id, extra) == 1 ? 0 : SHOAL_EINVAL;
}

static void on_name(shoal_req *req, const shoal_msg *msg, void *user)
{
    (void)msg;
    (void)user;
    shoal_replyf(req, "REPL", "%s", shoal_node_id(shoal_req_node(req)));
}

static void on_list(shoal_req *req, const shoal_msg *msg, void *user)
{
    shoal_node *node = shoal_req_node(req);
    size_t i, n = shoal_peer_count(node);

    (void)msg;
    (void)user;
    shoal_replyf(req, "REPL", "%zu", n);
    for (i = 0; i < n; i++) {
        const shoal_peer *p = shoal_peer_at(node, i);
        shoal_replyf(req, "REPL", "%s %s %u", p->id, p->host,
                     (unsigned)p->port);
    }
}

/* A secure JOIN or QUIT refused: the ERRO reply, and a WARN line limited
 * per cause (a flood of fakes costs one line per interval, which says how
 * many it stands for). */
static void refuse(shoal_req *req, enum refusal why, const char *text)
{
    shoal_replyf(req, "ERRO", "%s", text);
    shoal_log_limited(shoal_req_node(req), SHOAL_LOG_WARN, refusal_name[why],
                      "membership_refused cause=%s peer=%s remote=%s "
                      "why=\"%s\"",
                      refusal_name[why], shoal_req_peer(req),
                      shoal_req_remote(req), text);
}

/* Secure mode: a JOIN adds only the connection's own proven id, at an
 * address on the host the connection comes from (as peer exchange takes
 * a PEXQ's addresses); a wildcard host is that host. Returns 0 (host
 * possibly rewritten), or -1 after refusing. */
static int join_allowed(shoal_req *req, const char *id, char *host)
{
    const char *proven = shoal_req_peer(req);
    uint8_t bytes[64];
    shoal_addr from;

    if (shoal_peer_id_to_bytes(id, bytes, sizeof(bytes)) < 0) {
        refuse(req, REF_NOT_PEER_ID, "Join: not a peer id");
        return -1;
    }
    if (strcmp(id, proven) != 0) {
        refuse(req, REF_FOREIGN_ID,
               "Join: a peer may only join as its own id");
        return -1;
    }
    if (shoal_addr_parse(shoal_req_remote(req), &from) < 0) {
        refuse(req, REF_FOREIGN_HOST, "Join: no remote address");
        return -1;
    }
    if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0)
        snprintf(host, SHOAL_HOST_MAX, "%s", from.host);
    else if (strcmp(host, from.host) != 0) {
        refuse(req, REF_FOREIGN_HOST,
               "Join: the address is not on the connection's host");
        return -1;
    }
    return 0;
}

/* Classic mode keeps the tutorial's JOIN and QUIT (specs/classic-wire.md):
 * its wire proves no identity, so any id is taken as given. Secure mode
 * checks them against the connection's Noise-proven id (join_allowed). */
static void on_join(shoal_req *req, const shoal_msg *msg, void *user)
{
    shoal_node *node = shoal_req_node(req);
    char id[SHOAL_ID_MAX], host[SHOAL_HOST_MAX];
    uint16_t port;

    (void)user;
    if (shoal_peers_full(node)) {
        shoal_replyf(req, "ERRO", "Join: too many peers");
        return;
    }
    if (parse_peer(msg->data, msg->len, id, host, &port) < 0) {
        shoal_replyf(req, "ERRO", "Join: incorrect arguments");
        return;
    }
    if (shoal_req_peer(req) != NULL && join_allowed(req, id, host) < 0)
        return;
    if (strcmp(id, shoal_node_id(node)) == 0 ||
        shoal_peer_add(node, id, host, port) == SHOAL_EEXIST) {
        shoal_replyf(req, "ERRO", "Join: peer already inserted %s", id);
        return;
    }
    if (shoal_peer_get(node, id) == NULL) { /* full in between, or bad */
        shoal_replyf(req, "ERRO", "Join: incorrect arguments");
        return;
    }
    shoal_replyf(req, "REPL", "Join: peer added: %s", id);
}

static void on_quit(shoal_req *req, const shoal_msg *msg, void *user)
{
    shoal_node *node = shoal_req_node(req);
    const char *proven = shoal_req_peer(req);
    char id[SHOAL_ID_MAX];

    (void)user;
    if (parse_id(msg->data, msg->len, id) < 0) {
        shoal_replyf(req, "ERRO", "Quit: incorrect arguments");
        return;
    }
    /* secure: a peer removes only itself (classic: any id, as the
     * tutorial's) */
    if (proven != NULL && strcmp(id, proven) != 0) {
        refuse(req, REF_QUIT_FOREIGN, "Quit: a peer may only remove itself");
        return;
    }
    if (shoal_peer_remove(node, id) == 0)
        shoal_replyf(req, "REPL", "Quit: peer removed: %s", id);
    else
        shoal_replyf(req, "ERRO", "Quit: peer not found: %s", id);
}

static void on_ping(shoal_req *req, const shoal_msg *msg, void *user)
{
    (void)msg;
    (void)user;
    shoal_reply(req, "REPL", NULL, 0);
}

int shoal_membership_enable(shoal_node *node)
{
    SHOAL_LOOP_ONLY(node, SHOAL_EBUSY);
    int rc;

    if ((rc = shoal_handle(node, "NAME", on_name, NULL)) < 0 ||
        (rc = shoal_handle(node, "LIST", on_list, NULL)) < 0 ||
        (rc = shoal_handle(node, "JOIN", on_join, NULL)) < 0 ||
        (rc = shoal_handle(node, "QUIT", on_quit, NULL)) < 0 ||
        (rc = shoal_handle(node, "PING", on_ping, NULL)) < 0)
        return rc;
    return 0;
}

/* ------------------------------------------------------- the join walk
 * Each step visits one address: NAME, then JOIN, then LIST, then starts a
 * step for every listed peer with one hop less. Steps run concurrently;
 * the walk ends when the last step does. An address is visited once. */

typedef struct walk {
    shoal_node *node;
    shoal_join_cb cb;
    void *user;
    size_t pending;
    size_t added;
    char **visited;
    size_t nvisited;
    int status;             /* why the first step failed, or 0 */
    char why[160];          /* said with it: the remote's refusal, say */
    char start[SHOAL_HOST_MAX + SHOAL_ID_MAX + 32]; /* as given */
} walk;

typedef enum { STEP_NAME, STEP_JOIN, STEP_LIST } step_phase;

typedef struct step {
    walk *w;
    step_phase phase;
    int hops;
    int ok;
    int first;              /* the walk's start: its failure is the walk's */
    char refusal[128];      /* JOIN's ERRO text */
    char addr[SHOAL_HOST_MAX + SHOAL_ID_MAX + 32]; /* the first: /p2p/ID */
    char host[SHOAL_HOST_MAX];
    uint16_t port;
    char id[SHOAL_ID_MAX];
    size_t nlisted;
    shoal_peer *listed;
} step;

static void step_send(step *s);

/* text, fit for a quoted log value: quotes, backslashes and control bytes
 * become '?'; cut to size - 1. */
static void quote(const char *text, char *out, size_t size)
{
    size_t i;

    for (i = 0; i + 1 < size && text[i] != '\0'; i++)
        out[i] = text[i] == '"' || text[i] == '\\' ||
                         (unsigned char)text[i] < 0x20 || text[i] == 0x7f
                     ? '?'
                     : text[i];
    out[i] = '\0';
}

static void walk_release(walk *w)
{
    size_t i;

    if (--w->pending != 0)
        return;
    if (w->status < 0) {
        char addr[sizeof(w->start)];
        quote(w->start, addr, sizeof(addr));
        shoal_log(w->node, SHOAL_LOG_WARN,
                  "join_failed addr=\"%s\" why=\"%s\" error=%s", addr,
                  w->why[0] ? w->why : shoal_strerror(w->status),
                  shoal_err_name(w->status));
    }
    if (w->cb != NULL)
        w->cb(w->node, w->status, w->added, w->user);
    for (i = 0; i < w->nvisited; i++)
        free(w->visited[i]);
    free(w->visited);
    free(w);
}

/* Marks addr visited; returns 0 if it already was. */
static int walk_visit(walk *w, const char *addr)
{
    char **grown;
    size_t i;

    for (i = 0; i < w->nvisited; i++)
        if (strcmp(w->visited[i], addr) == 0)
            return 0;
    grown = realloc(w->visited, (w->nvisited + 1) * sizeof(*grown));
    if (grown == NULL)
        return 0;
    w->visited = grown;
    if ((w->visited[w->nvisited] = strdup(addr)) == NULL)
        return 0;
    w->nvisited++;
    return 1;
}

/* The first step failed: the walk did not start. why NULL: the code's
 * own text. */
static void walk_failed(step *s, int status, const char *why)
{
    if (!s->first || s->w->status < 0)
        return;
    s->w->status = status;
    snprintf(s->w->why, sizeof(s->w->why), "%s",
             why != NULL ? why : shoal_strerror(status));
}

static void step_free(step *s)
{
    walk *w = s->w;

    free(s->listed);
    free(s);
    walk_release(w);
}

/* Where a walk step goes: HOST:PORT on the classic wire, a multiaddr in
 * secure mode (the same typed messages, over /shoal/msg/1.0.0). */
static void step_addr(shoal_node *node, const char *host, uint16_t port,
                      char *addr, size_t size)
{
    int ip6 = strchr(host, ':') != NULL;

    if (shoal_node_peer_id(node) != NULL)
        snprintf(addr, size, "/%s/%s/tcp/%u", ip6 ? "ip6" : "ip4", host,
                 (unsigned)port);
    else
        snprintf(addr, size, ip6 ? "[%s]:%u" : "%s:%u", host, (unsigned)port);
}

/* A step to host:port; the first one goes to the address as given
 * (first, not NULL), so that a /p2p/ID in it is checked. */
static void walk_start(walk *w, const char *host, uint16_t port, int hops,
                       const char *first)
{
    step *s;
    char addr[SHOAL_HOST_MAX + 32];

    if (hops <= 0 || shoal_peers_full(w->node))
        return;
    step_addr(w->node, host, port, addr, sizeof(addr));
    if (!walk_visit(w, addr) || (s = calloc(1, sizeof(*s))) == NULL)
        return;
    s->w = w;
    s->hops = hops;
    s->phase = STEP_NAME;
    s->first = first != NULL;
    snprintf(s->addr, sizeof(s->addr), "%s", first != NULL ? first : addr);
    snprintf(s->host, sizeof(s->host), "%s", host);
    s->port = port;
    w->pending++;
    step_send(s);
}

static void step_on_reply(const shoal_msg *reply, void *user)
{
    step *s = user;
    int is_repl = strcmp(reply->type, "REPL") == 0;

    switch (s->phase) {
    case STEP_NAME:
        if (is_repl && s->id[0] == '\0' && reply->len > 0 &&
            reply->len < sizeof(s->id) &&
            memchr(reply->data, '\0', reply->len) == NULL) {
            memcpy(s->id, reply->data, reply->len);
            s->id[reply->len] = '\0';
        }
        break;
    case STEP_JOIN:
        /* "already inserted": it knows us (we removed it, or restarted);
         * we may still take it back */
        s->ok = is_repl ||
                (strcmp(reply->type, "ERRO") == 0 &&
                 reply->len >= sizeof(ALREADY) - 1 &&
                 memcmp(reply->data, ALREADY, sizeof(ALREADY) - 1) == 0);
        if (!s->ok) { /* kept to say why, printable */
            size_t i, n = reply->len < sizeof(s->refusal) - 1
                              ? reply->len
                              : sizeof(s->refusal) - 1;
            for (i = 0; i < n; i++)
                s->refusal[i] = reply->data[i] < 0x20 || reply->data[i] > 0x7e ||
                                        reply->data[i] == '"' ||
                                        reply->data[i] == '\\'
                                    ? '?'
                                    : (char)reply->data[i];
            s->refusal[n] = '\0';
        }
        break;
    case STEP_LIST:
        /* the first REPL is the count; the rest are peers */
        if (is_repl && s->ok++ > 0 && s->nlisted < WALK_FANOUT) {
            shoal_peer p;
            if (s->listed == NULL &&
                (s->listed = calloc(WALK_FANOUT, sizeof(*s->listed))) == NULL)
                break;
            if (parse_peer(reply->data, reply->len, p.id, p.host, &p.port) == 0)
                s->listed[s->nlisted++] = p;
        }
        break;
    }
}

static void step_on_end(int status, void *user)
{
    step *s = user;
    walk *w = s->w;
    shoal_node *node = w->node;
    size_t i;
    int rc;

    switch (s->phase) {
    case STEP_NAME:
        if (status < 0) {
            walk_failed(s, status, NULL);
            break;
        }
        if (s->id[0] == '\0') {
            walk_failed(s, SHOAL_EPROTO, "no id in the NAME reply");
            break;
        }
        if (strcmp(s->id, shoal_node_id(node)) == 0) {
            walk_failed(s, SHOAL_ESELF, "the address is this node's own");
            break;
        }
        if (shoal_peer_get(node, s->id) != NULL)
            break; /* known already: nothing to do, nothing wrong */
        /* secure: NAME's answer is only a claim; JOIN and LIST go to
         * HOST/PORT/p2p/ID, so that Noise proves the id before it is
         * added (another id answering fails the step, SHOAL_EPEERID) */
        if (shoal_node_peer_id(node) != NULL &&
            strstr(s->addr, "/p2p/") != NULL &&
            strcmp(strstr(s->addr, "/p2p/") + 5, s->id) != 0) {
            walk_failed(s, SHOAL_EPEERID, "NAME replied another id");
            break;
        }
        if (shoal_node_peer_id(node) != NULL &&
            strstr(s->addr, "/p2p/") == NULL) {
            uint8_t bytes[64];
            size_t used = strlen(s->addr);
            if (shoal_peer_id_to_bytes(s->id, bytes, sizeof(bytes)) < 0 ||
                (size_t)snprintf(s->addr + used, sizeof(s->addr) - used,
                                 "/p2p/%s", s->id) >= sizeof(s->addr) - used) {
                walk_failed(s, SHOAL_EPROTO, "NAME replied no peer id");
                break;
            }
        }
        s->phase = STEP_JOIN;
        step_send(s);
        return;
    case STEP_JOIN:
        if (status < 0 && !s->ok) {
            walk_failed(s, status, NULL);
            break;
        }
        if (!s->ok) {
            /* the remote refused us: its table is full, or it did not
             * understand (its ERRO text says which) */
            walk_failed(s,
                        strstr(s->refusal, "too many") != NULL ? SHOAL_EFULL
                                                               : SHOAL_EPROTO,
                        s->refusal[0] ? s->refusal : "JOIN refused");
            break;
        }
        if ((rc = shoal_peer_add(node, s->id, s->host, s->port)) < 0) {
            walk_failed(s, rc, NULL);
            break;
        }
        w->added++;
        s->phase = STEP_LIST;
        s->ok = 0;
        step_send(s);
        return;
    case STEP_LIST:
        for (i = 0; i < s->nlisted; i++)
            if (strcmp(s->listed[i].id, shoal_node_id(node)) != 0)
                walk_start(w, s->listed[i].host, s->listed[i].port,
                           s->hops - 1, NULL);
        break;
    }
    step_free(s);
}

static void step_send(step *s)
{
    shoal_node *node = s->w->node;
    char args[ARGS_MAX];
    const char *type = "NAME";
    size_t len = 0;
    int rc;

    if (s->phase == STEP_JOIN) {
        type = "JOIN";
        len = (size_t)snprintf(args, sizeof(args), "%s %s %d",
                               shoal_node_id(node), shoal_node_host(node),
                               shoal_node_port(node));
    } else if (s->phase == STEP_LIST) {
        type = "LIST";
    }
    rc = shoal_request(node, s->addr, type, len ? args : NULL, len, 0,
                       step_on_reply, step_on_end, s);
    if (rc < 0) {
        walk_failed(s, rc, NULL);
        step_free(s);
    }
}

/* "/ip4/HOST/tcp/PORT" (ip6, dns4, dns6 too), "/p2p/ID" after it
 * allowed: the host and port. */
static int parse_multiaddr(const char *addr, char *host, unsigned *port)
{
    char proto[8], tcp[4], rest[2];
    int n = 0;

    if (sscanf(addr, "/%7[a-z0-9]/%255[^/]/%3[a-z]/%5u%n", proto, host, tcp,
               port, &n) != 4 ||
        strcmp(tcp, "tcp") != 0 || *port == 0 || *port > 65535 ||
        (strcmp(proto, "ip4") != 0 && strcmp(proto, "ip6") != 0 &&
         strcmp(proto, "dns4") != 0 && strcmp(proto, "dns6") != 0 &&
         strcmp(proto, "dns") != 0))
        return SHOAL_EBADADDR;
    if (addr[n] != '\0' && (strncmp(addr + n, "/p2p/", 5) != 0 ||
                            sscanf(addr + n + 5, "%*[^/]%1s", rest) == 1))
        return SHOAL_EBADADDR;
    return 0;
}

/* "HOST:PORT" or "[HOST]:PORT". */
static int parse_hostport(const char *addr, char *host, unsigned *port)
{
    const char *colon = strrchr(addr, ':');

    if (colon == NULL || (size_t)(colon - addr) >= SHOAL_HOST_MAX ||
        sscanf(colon + 1, "%5u", port) != 1 || *port == 0 || *port > 65535)
        return SHOAL_EBADADDR;
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host) - 2);
        host[strlen(host) - 2] = '\0';
    }
    return 0;
}

int shoal_join(shoal_node *node, const char *addr, int hops, shoal_join_cb cb,
               void *user)
{
    SHOAL_LOOP_ONLY(node, SHOAL_EBUSY);
    char host[SHOAL_HOST_MAX];
    unsigned port;
    walk *w;
    const char *why = NULL;
    int secure = shoal_node_peer_id(node) != NULL;

    if (addr == NULL)
        why = "no address (NULL)";
    else if (hops <= 0)
        why = "hops must be 1 or more";
    else if (addr[0] == '/' && !secure)
        why = "a multiaddr needs a secure node (classic: HOST:PORT)";
    else if (addr[0] != '/' && secure)
        why = "HOST:PORT needs a classic node (secure: /ip4/HOST/tcp/PORT)";
    else if (addr[0] == '/' && parse_multiaddr(addr, host, &port) < 0)
        why = "not /ip4|ip6|dns|dns4|dns6/HOST/tcp/PORT, /p2p/ID after it "
              "allowed";
    else if (addr[0] != '/' && parse_hostport(addr, host, &port) < 0)
        why = "not HOST:PORT with a port from 1 to 65535";
    if (why != NULL) {
        char text[SHOAL_HOST_MAX + SHOAL_ID_MAX + 32];
        quote(addr != NULL ? addr : "(null)", text, sizeof(text));
        shoal_log(node, SHOAL_LOG_WARN,
                  "join_refused addr=\"%s\" why=\"%s\" error=%s", text, why,
                  shoal_err_name(SHOAL_EBADADDR));
        return SHOAL_EBADADDR;
    }
    if ((w = calloc(1, sizeof(*w))) == NULL)
        return SHOAL_ENOMEM;
    w->node = node;
    w->cb = cb;
    w->user = user;
    w->pending = 1; /* held until the first step is started */
    snprintf(w->start, sizeof(w->start), "%s", addr);
    walk_start(w, host, (uint16_t)port, hops, addr);
    if (w->pending == 1 && w->status == 0) { /* no first step */
        w->status = shoal_peers_full(node) ? SHOAL_EFULL : SHOAL_ENOMEM;
        snprintf(w->why, sizeof(w->why), "%s",
                 w->status == SHOAL_EFULL ? "this node's peer table is full"
                                          : shoal_strerror(w->status));
    }
    walk_release(w);
    return 0;
}
