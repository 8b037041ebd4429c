/* shoal node --bootstrap (bootstrap.h): names resolved, then joined. */
#include "bootstrap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shoal/dns.h"

/* One name being resolved. Kept on b's list until b is freed, because the
 * resolver may be freed with its callback still to come. */
typedef struct pending {
    struct pending *next;
    bootstrapper *b;
    const char *given;   /* the --bootstrap text, borrowed */
} pending;

struct bootstrapper {
    shoal_node *node;
    shoal_dns *dns;
    const char *server;  /* for messages; NULL: the system's */
    int hops;
    pending *list;
};

int bootstrap_new(bootstrapper **out, shoal_node *node,
                  const char *dns_server, int hops)
{
    shoal_dns_config cfg;
    bootstrapper *b;
    int rc;

    if ((b = calloc(1, sizeof(*b))) == NULL)
        return SHOAL_ENOMEM;
    shoal_dns_config_init(&cfg);
    cfg.server = dns_server;
    cfg.max_addrs = BOOTSTRAP_RESOLVED_MAX;
    if ((rc = shoal_dns_new(&b->dns, node, &cfg)) < 0) {
        free(b);
        return rc;
    }
    b->node = node;
    b->server = dns_server;
    b->hops = hops;
    *out = b;
    return 0;
}

void bootstrap_free(bootstrapper *b)
{
    pending *p, *next;

    if (b == NULL)
        return;
    shoal_dns_free(b->dns);
    for (p = b->list; p != NULL; p = next) {
        next = p->next;
        free(p);
    }
    free(b);
}

static void on_joined(shoal_node *node, int status, size_t added,
                      void *user)
{
    (void)user;
    if (status < 0) {
        fprintf(stderr, "shoal: join failed: %s\n", shoal_strerror(status));
        return;
    }
    printf("joined: %zu peers added, %zu known\n", added,
           shoal_peer_count(node));
    fflush(stdout);
}

/* from: the name addr was found under, or NULL. */
static void join(bootstrapper *b, const char *addr, const char *from)
{
    int rc = shoal_join(b->node, addr, b->hops, on_joined, NULL);

    if (rc < 0)
        fprintf(stderr, "shoal: cannot join %s%s%s%s: %s\n", addr,
                from != NULL ? " (from --bootstrap " : "",
                from != NULL ? from : "", from != NULL ? ")" : "",
                shoal_strerror(rc));
}

/* For a name that has no records: which ones were asked for. */
static void say_no_records(const char *addr)
{
    int dnsaddr = strncmp(addr, "/dnsaddr/", 9) == 0;
    const char *name = strchr(addr + 1, '/') + 1; /* /dnsaddr/, /dns4/ */
    int len = (int)strcspn(name, "/");

    fprintf(stderr, "shoal: --bootstrap %s: no usable addresses (no %s "
                    "records for %s%.*s)\n", addr,
            dnsaddr ? "TXT" : "address", dnsaddr ? "_dnsaddr." : "", len,
            name);
}

static void on_resolved(shoal_dns *d, int status, const shoal_dns_result *r,
                        void *user)
{
    pending *p = user;
    bootstrapper *b = p->b;
    const char *s = r->nskipped == 1 ? "" : "s";
    size_t i;

    (void)d;
    if (status == SHOAL_ENOENT && r->nskipped > 0)
        fprintf(stderr, "shoal: --bootstrap %s: no usable addresses (%zu "
                        "record%s skipped: %s)\n",
                p->given, r->nskipped, s, r->skipped);
    else if (status == SHOAL_ENOENT)
        say_no_records(p->given);
    else if (status == SHOAL_ETIMEDOUT)
        fprintf(stderr, "shoal: --bootstrap %s: no answer from the DNS "
                        "server (%s)\n", p->given,
                b->server != NULL ? b->server : "the system's resolver");
    else if (status < 0)
        fprintf(stderr, "shoal: --bootstrap %s: cannot resolve: %s\n",
                p->given, shoal_strerror(status));
    else if (r->nskipped > 0)
        fprintf(stderr, "shoal: --bootstrap %s: %zu record%s skipped (%s)\n",
                p->given, r->nskipped, s, r->skipped);
    if (status < 0)
        return;
    for (i = 0; i < r->naddrs; i++) {
        printf("bootstrap %s: %s\n", p->given, r->addrs[i]);
        join(b, r->addrs[i], p->given);
    }
    fflush(stdout);
}

void bootstrap_join(bootstrapper *b, const char *addr)
{
    pending *p;
    int rc;

    if (!shoal_dns_wants(b->dns, addr)) {
        join(b, addr, NULL);
        return;
    }
    if (shoal_node_peer_id(b->node) == NULL) {
        /* a classic node joins HOST:PORT only */
        fprintf(stderr, "shoal: --bootstrap %s: names need secure mode "
                        "(classic takes HOST:PORT)\n", addr);
        return;
    }
    if ((p = calloc(1, sizeof(*p))) == NULL) {
        fprintf(stderr, "shoal: --bootstrap %s: out of memory\n", addr);
        return;
    }
    p->b = b;
    p->given = addr;
    if ((rc = shoal_dns_resolve(b->dns, addr, on_resolved, p)) < 0) {
        fprintf(stderr, "shoal: --bootstrap %s: %s\n", addr,
                shoal_strerror(rc));
        free(p);
        return;
    }
    p->next = b->list;
    b->list = p;
}
