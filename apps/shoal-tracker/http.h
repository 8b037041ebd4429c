/* shoal-tracker --http: the tracker's figures over HTTP (libmicrohttpd).
 *   GET /stats  JSON: peers, topics, announces_per_s, entries_cap,
 *               announces, refused, rate_limited, flushes, uptime_s
 *   GET /       a page showing the same, reloading itself every 2 s
 * Anything else is 404, methods other than GET and HEAD 405.
 *
 * Threads: start and stop on the node's loop thread. Requests are answered
 * on libmicrohttpd's one thread from a copy of the figures that a node
 * timer refreshes under a lock, so a request never waits for the loop. */
#ifndef SHOAL_TRACKER_HTTP_H
#define SHOAL_TRACKER_HTTP_H

#include <stddef.h>

#include "shoal.h"
#include "shoal/tracker.h"

typedef struct stats_http stats_http;

/* Splits "HOST:PORT", "[IPv6]:PORT" or a bare "PORT" (127.0.0.1) into
 * host (no brackets) and port. 0, or -1 when addr is none of those. */
int stats_http_split(const char *addr, char *host, size_t hostsize,
                     unsigned *port);

/* Serves t's figures on addr (stats_http_split; HOST is a numeric address
 * or localhost, bound exactly: names are not resolved). On failure returns
 * a negative code with the reason in err. */
int stats_http_start(stats_http **out, shoal_node *node, shoal_tracker *t,
                     const char *addr, char *err, size_t errsize);

/* "http://HOST:PORT/", with the port bound (for port 0, the one chosen). */
const char *stats_http_url(const stats_http *h);

/* Stops serving (waits for the HTTP thread) and frees h. NULL: nothing. */
void stats_http_stop(stats_http *h);

#endif
