/* shoal node --bootstrap: joining the network through the addresses given,
 * names included. An address the resolver handles (/dnsaddr/NAME always,
 * /dns4, /dns6 and /dns names when --dns-server is given) is resolved
 * first (include/shoal/dns.h) and each address found is joined in turn,
 * at most BOOTSTRAP_RESOLVED_MAX of them; any other address is joined as
 * it is. What fails is said on stderr, and the node runs on.
 *
 * Threads: the node's loop thread. */
#ifndef SHOAL_APP_BOOTSTRAP_H
#define SHOAL_APP_BOOTSTRAP_H

#include <stddef.h>

#include "shoal.h"

/* Addresses joined from one name, at most. */
#define BOOTSTRAP_RESOLVED_MAX 8

typedef struct bootstrapper bootstrapper;

/* A bootstrapper for node: its DNS resolver asks dns_server ("IPv4" or
 * "IPv4:PORT"; NULL: the system's resolver). SHOAL_EINVAL for a
 * dns_server that is neither, SHOAL_ENOMEM. */
int bootstrap_new(bootstrapper **out, shoal_node *node,
                  const char *dns_server, int hops);

/* Starts joining through addr (borrowed: it must outlive b, as argv
 * does); prints "joined: ..." on stdout when each walk is over, errors on
 * stderr. */
void bootstrap_join(bootstrapper *b, const char *addr);

/* Forgets the resolutions in flight and frees b, before the node. NULL:
 * nothing. */
void bootstrap_free(bootstrapper *b);

#endif
