/*
 * shoal/pex.h: peer exchange. Neighbours share some of the peers they
 * know, so that a network grown from one bootstrap peer keeps growing
 * with no tracker.
 *
 * Every interval_ms (and soon after a peer joins the table while it holds
 * fewer than target_peers) the node asks one known peer, at random, with a
 * PEXQ message that carries its own listen addresses. The peer answers
 * PEXA with up to share_max peers of its table (src/pex/codec.h gives the
 * payloads). Nothing heard is trusted: each new address, in an answer or
 * in a question, is pinged first, and added to the table only when the
 * connection proves the peer id (shoal_peer_add_verified). An address
 * that fails is quarantined: not tried again for quarantine_ms. An
 * asker's addresses must be on the host its connection comes from (a
 * wildcard host is taken as that one), so nobody can point us at a third
 * machine. Answers are rate limited for all askers together.
 *
 * Secure mode only. Threads: every function runs on the node's loop.
 */
#ifndef SHOAL_PEX_H
#define SHOAL_PEX_H

#include "shoal.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct shoal_pex shoal_pex;

typedef struct shoal_pex_config {
    size_t size;                /* set by its _config_init: leave it */
    uint32_t interval_ms;       /* one peer asked this often */
    size_t share_max;           /* peers in one answer, at most 32 */
    size_t checks_max;          /* addresses being checked at once */
    uint32_t timeout_ms;        /* a question's and a check's deadline */
    uint32_t quarantine_ms;     /* an address that failed rests this long */
    size_t target_peers;        /* add peers until the table holds this
                                 * many; 0: until it is full */
    double answers_per_s;       /* questions answered per second, all
                                 * askers together (burst: twice that) */
} shoal_pex_config;

/* Defaults: 30 s, 16 peers, 8 checks, 5 s, 10 min, 0, 50/s. */
SHOAL_EXTERN
void shoal_pex_config_init_size(shoal_pex_config *cfg, size_t size);
/* What the program calls (any thread): its sizeof goes to the library
 * (shoal.h, "configuration"). */
#define shoal_pex_config_init(cfg) \
    shoal_pex_config_init_size((cfg), sizeof(*(cfg)))

/* Starts peer exchange on node (SHOAL_EINVAL for a classic node or a bad
 * config): serves PEXQ and asks on its timer. Free it before the node. */
SHOAL_EXTERN
int shoal_pex_new(shoal_pex **out, shoal_node *node,
                  const shoal_pex_config *cfg);
/* Stops: questions and checks still out end without effect. NULL:
 * nothing. */
SHOAL_EXTERN
void shoal_pex_free(shoal_pex *p);

/* Asks the peer at addr (a multiaddr; NULL: a known peer at random) now.
 * SHOAL_ENOENT when addr is NULL and no peer is known. */
SHOAL_EXTERN
int shoal_pex_ask(shoal_pex *p, const char *addr);

typedef struct shoal_pex_stats {
    uint64_t asked;             /* questions sent */
    uint64_t answers;           /* answers taken */
    uint64_t bad_answers;       /* refused: malformed, ERRO, not PEXA */
    uint64_t served;            /* questions answered */
    uint64_t bad_questions;     /* refused: malformed, addresses of
                                 * another host */
    uint64_t rate_limited;      /* questions refused over the rate */
    uint64_t checked;           /* addresses pinged */
    uint64_t added;             /* ... and added to the table */
    uint64_t check_failed;      /* ... that did not prove their id */
    uint64_t quarantined;       /* addresses skipped: failed lately */
} shoal_pex_stats;

SHOAL_EXTERN
void shoal_pex_stats_get(const shoal_pex *p, shoal_pex_stats *out);

#ifdef __cplusplus
}
#endif
#endif /* SHOAL_PEX_H */
