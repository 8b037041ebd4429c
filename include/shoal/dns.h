/*
 * shoal/dns.h: resolving /dnsaddr and /dns4 multiaddrs, for bootstrapping
 * and for any service that is given a name instead of an address.
 *
 * /dnsaddr/NAME[/p2p/ID] (libp2p's dnsaddr: multiformats/multiaddr,
 * protocols/DNSADDR.md) becomes the multiaddrs in the TXT records
 * "dnsaddr=<multiaddr>" of _dnsaddr.NAME: nested /dnsaddr records are
 * resolved in turn (to max_depth, loops cut), only records ending as the
 * address does (its /p2p/ID) are kept, and garbage (other TXT records,
 * bad multiaddrs, overlong records, a broken answer) is skipped and logged
 * once per resolution ("dns_skipped ..."), never fatal.
 *
 * /dns4/NAME, /dns6/NAME, /dns/NAME: with a server configured they become
 * /ip4 and /ip6 addresses from that server's A and AAAA records (so a test
 * can point a node at its own DNS server); with none they are returned as
 * they are, and the dialer resolves them with getaddrinfo (hosts file and
 * resolv.conf) when it connects.
 *
 * Queries are made with glibc's libresolv (res_nquery) on libuv's thread
 * pool, one job per resolution; the callback runs on the node's loop.
 *
 * Threads: every function runs on the node's loop thread.
 */
#ifndef SHOAL_DNS_H
#define SHOAL_DNS_H

#include "shoal.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct shoal_dns shoal_dns;

typedef struct shoal_dns_config {
    size_t size;           /* set by its _config_init: leave it */
    /* The DNS server: "IPv4" (port 53) or "IPv4:PORT". NULL: the servers
     * of /etc/resolv.conf (and /dns4 names left to the dialer). */
    const char *server;
    uint32_t timeout_ms;   /* one query's wait for an answer (libresolv
                            * counts whole seconds: rounded up) */
    int attempts;          /* tries per query */
    uint32_t deadline_ms;  /* a whole resolution, at most */
    size_t max_records;    /* TXT (or A/AAAA) records read per answer */
    size_t max_addrs;      /* addresses returned, at most */
    size_t max_queries;    /* DNS queries per resolution */
    int max_depth;         /* nested /dnsaddr levels (1..8) */
} shoal_dns_config;

/* Defaults: resolv.conf's servers, 2 s per query, 2 attempts, 10 s per
 * resolution, 32 records, 32 addresses, 32 queries, depth 4. */
SHOAL_EXTERN
void shoal_dns_config_init_size(shoal_dns_config *cfg, size_t size);
/* What the program calls (any thread): its sizeof goes to the library
 * (shoal.h, "configuration"). */
#define shoal_dns_config_init(cfg) \
    shoal_dns_config_init_size((cfg), sizeof(*(cfg)))

/* A resolver for node's loop. The config is copied. SHOAL_EINVAL for a
 * server that is not "IPv4[:PORT]" or a limit of 0. Free it with
 * shoal_dns_free() before the node. */
SHOAL_EXTERN
int shoal_dns_new(shoal_dns **out, shoal_node *node,
                  const shoal_dns_config *cfg);

/* 0 if server is one shoal_dns_config takes ("IPv4" or "IPv4:PORT"),
 * SHOAL_EINVAL if not: a program's option checked before it has a node. */
SHOAL_EXTERN
int shoal_dns_server_check(const char *server);

/* Forgets every resolution in flight (their callbacks will not run; a
 * query already sent ends on its own, within its timeout) and frees d.
 * NULL: nothing. */
SHOAL_EXTERN
void shoal_dns_free(shoal_dns *d);

/* 1 if addr (a text multiaddr) is one that d resolves (/dnsaddr, or a
 * /dns name when a server is set), 0 if it can be dialed as it stands. */
SHOAL_EXTERN
int shoal_dns_wants(const shoal_dns *d, const char *addr);

/* What a resolution found, borrowed for the callback. */
typedef struct shoal_dns_result {
    const char *const *addrs;  /* text multiaddrs, no repeats */
    size_t naddrs;             /* >= 1 when status is 0, else 0 */
    size_t queries;            /* DNS queries sent */
    size_t nskipped;           /* records and names skipped as garbage */
    /* why, for a message: "not_dnsaddr=2 bad_multiaddr=1" ("" if none) */
    const char *skipped;
} shoal_dns_result;

/* status is 0 (r->naddrs >= 1), or SHOAL_ENOENT (nothing usable was
 * found), SHOAL_ETIMEDOUT (the server did not answer), SHOAL_ENOMEM; r is
 * given either way, so a caller can say what was skipped. An address that
 * needs no resolving comes back as the one address. */
typedef void (*shoal_dns_cb)(shoal_dns *d, int status,
                             const shoal_dns_result *r, void *user);

/* Resolves addr (copied) and calls cb once, later, on the loop, unless
 * this returns an error: SHOAL_EBADADDR for text that is no multiaddr,
 * SHOAL_ENOMEM. */
SHOAL_EXTERN
int shoal_dns_resolve(shoal_dns *d, const char *addr, shoal_dns_cb cb,
                      void *user);

#ifdef __cplusplus
}
#endif
#endif /* SHOAL_DNS_H */
