/* The network-free half of the DNS resolver (include/shoal/dns.h): DNS
 * answers read with libresolv's ns_initparse/ns_parserr, TXT records
 * turned into validated multiaddrs, and the walk that expands
 * /dnsaddr/NAME (and, when asked, /dns4/NAME ...) into dialable addresses
 * with every limit applied. The DNS queries themselves are a function the
 * caller passes (dns.c sends real ones with res_nquery on libuv's thread
 * pool; the unit tests and the fuzz target answer from memory).
 *
 * dnsaddr (multiformats/multiaddr, protocols/DNSADDR.md): /dnsaddr/NAME
 * is resolved by the TXT records of _dnsaddr.NAME; those of the form
 * "dnsaddr=<multiaddr>" each give one multiaddr, which may itself be a
 * /dnsaddr (resolved again, to a depth limit). What follows /dnsaddr/NAME
 * in the address being resolved (usually /p2p/ID) must end every record
 * kept: /dnsaddr/boot.example/p2p/QmA keeps only records ending in
 * /p2p/QmA.
 *
 * A TXT record may hold several character-strings: they are joined, as
 * other resolvers do, so a record longer than 255 bytes can be written as
 * several strings.
 */
#ifndef SHOAL_DNS_DNSADDR_H
#define SHOAL_DNS_DNSADDR_H

#include <stddef.h>
#include <stdint.h>

#include "core/multiaddr.h"

#define DNSADDR_PREFIX "dnsaddr="
#define DNSADDR_PREFIX_LEN 8
/* Longest TXT record text that can be a dnsaddr record: the prefix and a
 * multiaddr's text at its cap. Longer ones are garbage. */
#define DNSADDR_TXT_MAX (DNSADDR_PREFIX_LEN + SHOAL_MULTIADDR_MAX)
#define DNSADDR_NAME_MAX 253   /* a DNS name, text, without a last dot */
/* A name queried: "_dnsaddr." and a name of up to 255 bytes, NUL. */
#define DNSADDR_QNAME_MAX 272
#define DNSADDR_DEPTH_MAX 8    /* hard cap on limits.max_depth */
#define DNSADDR_ANSWER_MAX 65535 /* a DNS message, bytes */

/* DNS record types asked for (the values of ns_t_txt, ns_t_a, ns_t_aaaa). */
#define DNSADDR_T_A 1
#define DNSADDR_T_TXT 16
#define DNSADDR_T_AAAA 28

/* Why a record or a name was skipped. 0 is "kept". */
enum dnsaddr_skip {
    DNSADDR_OK = 0,
    DNSADDR_NOT_DNSADDR,  /* a TXT record without the dnsaddr= prefix */
    DNSADDR_TOO_LONG,     /* over DNSADDR_TXT_MAX */
    DNSADDR_BAD_TXT,      /* TXT rdata whose strings overrun it */
    DNSADDR_BAD_MULTIADDR,/* dnsaddr= and then no valid multiaddr */
    DNSADDR_WRONG_SUFFIX, /* does not end as the query does (/p2p/ID) */
    DNSADDR_LOOP,         /* a /dnsaddr name already being resolved */
    DNSADDR_TOO_DEEP,     /* nested /dnsaddr past max_depth */
    DNSADDR_TOO_MANY_RECORDS, /* past max_records in one answer */
    DNSADDR_TOO_MANY_ADDRS,   /* past max_addrs in the result */
    DNSADDR_QUERY_BUDGET, /* past max_queries for one resolution */
    DNSADDR_BAD_ANSWER,   /* a DNS message ns_initparse refuses */
    DNSADDR_QUERY_FAILED, /* no answer (timeout, server failure) */
    DNSADDR_NSKIP
};

/* Name of a skip reason, for the log line ("not_dnsaddr", ...). */
const char *dnsaddr_skip_name(int reason);

/* Joins the character-strings of one TXT record's rdata into out (not
 * NUL-terminated). Returns the text length; -DNSADDR_BAD_TXT when a
 * string's length runs past the rdata, -DNSADDR_TOO_LONG when the text
 * would not fit in size bytes. */
int dnsaddr_txt_join(const uint8_t *rdata, size_t len, uint8_t *out,
                     size_t size);

/* One TXT record's text (len bytes, any bytes at all) as a dnsaddr record.
 * suffix[0..slen) is the binary tail every kept record must end with,
 * component for component (slen 0: any). On success writes the record's
 * binary multiaddr to out (size >= SHOAL_MULTIADDR_MAX) and returns its
 * length; otherwise returns minus a dnsaddr_skip reason. */
int dnsaddr_record(const uint8_t *txt, size_t len, const uint8_t *suffix,
                   size_t slen, uint8_t *out, size_t size);

/* Whether bin[0..len) (a valid binary multiaddr) ends with
 * suffix[0..slen) on a component boundary. */
int dnsaddr_has_suffix(const uint8_t *bin, size_t len, const uint8_t *suffix,
                       size_t slen);

/* Asks for name's records of type (DNSADDR_T_*): writes the whole DNS
 * answer message into answer[0..size) and returns its length, 0 when the
 * name has no such records (NXDOMAIN, no data), or a negative SHOAL_E*
 * (SHOAL_ETIMEDOUT: no answer in time; SHOAL_ECANCELED: stop now). Runs
 * on whatever thread dnsaddr_expand runs on. */
typedef int (*dnsaddr_query_fn)(void *ctx, const char *name, int type,
                                uint8_t *answer, size_t size);

typedef struct dnsaddr_limits {
    size_t max_records;   /* records read from one answer */
    size_t max_addrs;     /* addresses in the result */
    size_t max_queries;   /* DNS queries for one resolution */
    int max_depth;        /* nested /dnsaddr levels (1: no nesting);
                           * at most DNSADDR_DEPTH_MAX */
    int resolve_hosts;    /* 1: /dns4, /dns6, /dns names become /ip4, /ip6
                           * by A and AAAA queries; 0: kept as they are */
} dnsaddr_limits;

/* Defaults: 32 records, 32 addresses, 32 queries, depth 4, hosts kept. */
void dnsaddr_limits_init(dnsaddr_limits *lim);

typedef struct dnsaddr_result {
    char **addrs;          /* text multiaddrs, owned; no repeats */
    size_t naddrs;
    size_t queries;        /* DNS queries made */
    size_t skipped[DNSADDR_NSKIP]; /* records and names skipped, by reason */
    size_t nskipped;       /* their sum */
    int first_skip;        /* reason of the first one skipped */
    char first_skip_name[DNSADDR_QNAME_MAX]; /* and the name queried */
    int query_error;       /* last negative status of a query, or 0 */
} dnsaddr_result;

/* Expands addr (text multiaddr) into res (which it initialises): a
 * /dnsaddr address into the addresses its records give, recursively; a
 * /dns4, /dns6, /dns one into /ip4 and /ip6 ones when lim->resolve_hosts
 * is set; anything else into itself. Garbage is skipped and counted in
 * res, never fatal. Returns 0 with res->naddrs >= 1; SHOAL_EBADADDR for
 * an addr that is no multiaddr; SHOAL_ENOENT when nothing usable was
 * found; the queries' error (SHOAL_ETIMEDOUT, ...) when nothing was found
 * and a query failed; SHOAL_ENOMEM. Free res with dnsaddr_result_free()
 * whatever the return. */
int dnsaddr_expand(const dnsaddr_limits *lim, dnsaddr_query_fn query,
                   void *ctx, const char *addr, dnsaddr_result *res);
void dnsaddr_result_free(dnsaddr_result *res);

/* 1 if addr (text) starts with a component dnsaddr_expand would resolve
 * (/dnsaddr always; /dns4, /dns6, /dns when resolve_hosts), else 0. */
int dnsaddr_wants(const char *addr, int resolve_hosts);

#endif
