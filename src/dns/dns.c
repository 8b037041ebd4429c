/* The resolver's loop glue (include/shoal/dns.h): one thread-pool job per
 * resolution runs dnsaddr_expand (dnsaddr.c) with real queries, sent by
 * glibc's res_nquery on a resolver state of the job's own (res_ninit, then
 * the configured server written over resolv.conf's), and the callback
 * runs on the loop when the job is done. */
#include "shoal/dns.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "dns/dnsaddr.h"
#include "node/thread.h"

typedef struct dns_job dns_job;

struct shoal_dns {
    shoal_node *node;
    shoal_dns_config cfg;
    int has_server;
    struct sockaddr_in server;
    dns_job *jobs;              /* in flight, doubly linked */
};

struct dns_job {
    uv_work_t work;
    shoal_dns *d;               /* NULL once the resolver is gone */
    dns_job *prev, *next;
    atomic_int canceled;        /* read by the worker between queries */
    char *addr;
    shoal_dns_cb cb;
    void *user;
    /* what the worker needs, copied: d may be freed while it runs */
    dnsaddr_limits lim;
    int has_server;
    struct sockaddr_in server;
    int retrans_s, attempts;
    uint64_t deadline_ns;       /* uv_hrtime() clock */
    struct __res_state res;     /* the worker's, between res_ninit/nclose */
    /* out */
    int status;
    dnsaddr_result result;
};

static void config_defaults(shoal_dns_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->size = sizeof(*cfg);
    cfg->timeout_ms = 2000;
    cfg->attempts = 2;
    cfg->deadline_ms = 10000;
    cfg->max_records = 32;
    cfg->max_addrs = 32;
    cfg->max_queries = 32;
    cfg->max_depth = 4;
}

void shoal_dns_config_init_size(shoal_dns_config *cfg, size_t size)
{
    shoal_dns_config d;

    config_defaults(&d);
    shoal_cfg_fill(cfg, size, &d, sizeof(d));
}

/* "A.B.C.D" or "A.B.C.D:PORT". */
static int parse_server(const char *s, struct sockaddr_in *out)
{
    char host[INET_ADDRSTRLEN];
    const char *colon = strchr(s, ':');
    size_t hlen = colon != NULL ? (size_t)(colon - s) : strlen(s);
    unsigned long port = 53;
    char *end;

    if (hlen == 0 || hlen >= sizeof(host))
        return SHOAL_EINVAL;
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    if (colon != NULL) {
        port = strtoul(colon + 1, &end, 10);
        if (colon[1] == '\0' || *end != '\0' || port == 0 || port > 65535)
            return SHOAL_EINVAL;
    }
    return uv_ip4_addr(host, (int)port, out) == 0 ? 0 : SHOAL_EINVAL;
}

int shoal_dns_server_check(const char *server)
{
    struct sockaddr_in sa;

    return server != NULL ? parse_server(server, &sa) : SHOAL_EINVAL;
}

int shoal_dns_new(shoal_dns **out, shoal_node *node,
                  const shoal_dns_config *cfg)
{
    SHOAL_LOOP_ONLY(node, SHOAL_EBUSY);
    shoal_dns *d;
    shoal_dns_config own; /* the caller's, over the defaults */

    config_defaults(&own);
    if (shoal_cfg_take(node, "shoal_dns_config", &own, sizeof(own), cfg) < 0)
        return SHOAL_EINVAL;
    cfg = &own;
    if (out == NULL || node == NULL || cfg->timeout_ms == 0 ||
        cfg->attempts <= 0 || cfg->deadline_ms == 0 ||
        cfg->max_records == 0 || cfg->max_addrs == 0 ||
        cfg->max_queries == 0 || cfg->max_depth <= 0 ||
        cfg->max_depth > DNSADDR_DEPTH_MAX)
        return SHOAL_EINVAL;
    if ((d = calloc(1, sizeof(*d))) == NULL)
        return SHOAL_ENOMEM;
    d->node = node;
    d->cfg = *cfg;
    d->cfg.server = NULL; /* parsed below; the text is not kept */
    if (cfg->server != NULL) {
        if (parse_server(cfg->server, &d->server) < 0) {
            free(d);
            return SHOAL_EINVAL;
        }
        d->has_server = 1;
    }
    *out = d;
    return 0;
}

static void job_unlink(dns_job *j)
{
    if (j->prev != NULL)
        j->prev->next = j->next;
    else if (j->d != NULL)
        j->d->jobs = j->next;
    if (j->next != NULL)
        j->next->prev = j->prev;
    j->prev = j->next = NULL;
}

void shoal_dns_free(shoal_dns *d)
{
    dns_job *j, *next;

    if (d == NULL)
        return;
    SHOAL_LOOP_ONLY(d->node);
    for (j = d->jobs; j != NULL; j = next) {
        next = j->next;
        atomic_store(&j->canceled, 1);
        j->prev = j->next = NULL;
        j->d = NULL; /* its after-work callback frees it, unheard */
    }
    free(d);
}

int shoal_dns_wants(const shoal_dns *d, const char *addr)
{
    SHOAL_LOOP_ONLY(d->node, 0);
    return dnsaddr_wants(addr, d->has_server);
}

/* ---------------------------------------------------- on the thread pool */

static int job_query(void *ctx, const char *name, int type, uint8_t *answer,
                     size_t size)
{
    dns_job *j = ctx;
    int n;

    if (atomic_load(&j->canceled))
        return SHOAL_ECANCELED;
    if (uv_hrtime() >= j->deadline_ns)
        return SHOAL_ETIMEDOUT;
    n = res_nquery(&j->res, name, ns_c_in, type, answer, (int)size);
    if (n >= 0)
        return n;
    switch (j->res.res_h_errno) {
    case HOST_NOT_FOUND: /* NXDOMAIN */
    case NO_DATA:        /* the name, but no records of that type */
        return 0;
    case TRY_AGAIN:      /* no answer, or SERVFAIL */
        return SHOAL_ETIMEDOUT;
    default:
        return SHOAL_EPROTO;
    }
}

static void job_work(uv_work_t *w)
{
    dns_job *j = w->data;

    memset(&j->res, 0, sizeof(j->res));
    if (res_ninit(&j->res) < 0) {
        j->status = SHOAL_EPROTO;
        return;
    }
    if (j->has_server) {
        /* one server, ours: glibc uses nsaddr_list[i] when its family is
         * set, over the IPv6 ones it keeps apart */
        j->res.nscount = 1;
        j->res.nsaddr_list[0] = j->server;
    }
    j->res.retrans = j->retrans_s;
    j->res.retry = j->attempts;
    j->res.options |= RES_USE_EDNS0; /* larger answers without TCP */
    j->status = dnsaddr_expand(&j->lim, job_query, j, j->addr, &j->result);
    res_nclose(&j->res);
}

/* ------------------------------------------------------- back on the loop */

/* "not_dnsaddr=2 bad_multiaddr=1": what was skipped, by reason ("" for
 * nothing), for the log line and for the caller's message. */
static void skip_counts(const dnsaddr_result *r, char *out, size_t size)
{
    size_t n = 0;
    int k;

    out[0] = '\0';
    for (k = 1; k < DNSADDR_NSKIP; k++)
        if (r->skipped[k] != 0 && n < size)
            n += (size_t)snprintf(out + n, size - n, "%s%s=%zu",
                                  n > 0 ? " " : "", dnsaddr_skip_name(k),
                                  r->skipped[k]);
}

static void job_after(uv_work_t *w, int status)
{
    dns_job *j = w->data;
    shoal_dns *d = j->d;
    const dnsaddr_result *r = &j->result;
    shoal_dns_result out;
    char counts[512];

    if (status == UV_ECANCELED && j->status == 0)
        j->status = SHOAL_ECANCELED;
    if (d != NULL) {
        job_unlink(j);
        skip_counts(r, counts, sizeof(counts));
        /* one line for everything skipped, and where it started */
        if (r->nskipped > 0)
            shoal_log(d->node, SHOAL_LOG_WARN,
                      "dns_skipped addr=%s skipped=%zu %s first=%s name=%s",
                      j->addr, r->nskipped, counts,
                      dnsaddr_skip_name(r->first_skip),
                      r->first_skip_name[0] ? r->first_skip_name : "-");
        shoal_log(d->node, j->status == 0 ? SHOAL_LOG_INFO : SHOAL_LOG_WARN,
                  "dns_resolved addr=%s addrs=%zu queries=%zu status=%s",
                  j->addr, r->naddrs, r->queries,
                  j->status == 0 ? "ok" : shoal_strerror(j->status));
        out.addrs = (const char *const *)r->addrs;
        out.naddrs = j->status == 0 ? r->naddrs : 0;
        out.queries = r->queries;
        out.nskipped = r->nskipped;
        out.skipped = counts;
        j->cb(d, j->status, &out, j->user);
    }
    dnsaddr_result_free(&j->result);
    free(j->addr);
    free(j);
}

int shoal_dns_resolve(shoal_dns *d, const char *addr, shoal_dns_cb cb,
                      void *user)
{
    SHOAL_LOOP_ONLY(d->node, SHOAL_EBUSY);
    uint8_t bin[SHOAL_MULTIADDR_MAX];
    dns_job *j;
    int rc;

    if (d == NULL || cb == NULL)
        return SHOAL_EINVAL;
    if (addr == NULL || shoal_multiaddr_parse(addr, bin, sizeof(bin)) <= 0)
        return SHOAL_EBADADDR;
    if ((j = calloc(1, sizeof(*j))) == NULL ||
        (j->addr = strdup(addr)) == NULL) {
        free(j);
        return SHOAL_ENOMEM;
    }
    j->d = d;
    j->cb = cb;
    j->user = user;
    dnsaddr_limits_init(&j->lim);
    j->lim.max_records = d->cfg.max_records;
    j->lim.max_addrs = d->cfg.max_addrs;
    j->lim.max_queries = d->cfg.max_queries;
    j->lim.max_depth = d->cfg.max_depth;
    j->lim.resolve_hosts = d->has_server;
    j->has_server = d->has_server;
    j->server = d->server;
    j->retrans_s = (int)((d->cfg.timeout_ms + 999) / 1000);
    j->attempts = d->cfg.attempts;
    j->deadline_ns = uv_hrtime() + (uint64_t)d->cfg.deadline_ms * 1000000u;
    atomic_init(&j->canceled, 0);
    j->work.data = j;
    if ((rc = uv_queue_work(shoal_node_loop(d->node), &j->work, job_work,
                            job_after)) < 0) {
        free(j->addr);
        free(j);
        return rc;
    }
    j->next = d->jobs;
    if (d->jobs != NULL)
        d->jobs->prev = j;
    d->jobs = j;
    return 0;
}
