/*
 * shoal/mdns.h: finding peers on the local network with multicast DNS, as
 * libp2p specifies it (libp2p specs, discovery/mdns.md).
 *
 * A node with mDNS on joins 224.0.0.251 port 5353 on its IPv4 interfaces,
 * asks "_p2p._udp.local PTR" now, again shortly after, then every
 * interval_ms, and answers such questions (at most once a second per
 * interface) with its listen addresses as TXT "dnsaddr=<multiaddr>/p2p/ID"
 * records under a random peer name. Wildcard listen addresses are given as
 * the interface's own address; loopback ones only on the loopback
 * interface. A peer heard of is pinged at one of its addresses (Noise
 * proves its id) and added to the peer table only if it answers, until the
 * table is full; at most max_new_per_interval such checks start per
 * interval. IPv6 (ff02::fb) is not joined.
 *
 * Threads: every function runs on the node's loop thread.
 */
#ifndef SHOAL_MDNS_H
#define SHOAL_MDNS_H

#include "shoal.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct shoal_mdns shoal_mdns;

/* A peer that answered its ping and was added to the table; addr is the
 * multiaddr it was reached at. Borrowed for the call. */
typedef void (*shoal_mdns_peer_cb)(shoal_mdns *m, const char *peer_id,
                                   const char *addr, void *user);

typedef struct shoal_mdns_config {
    size_t size;                 /* set by its _config_init: leave it */
    uint32_t interval_ms;        /* between queries after the first burst */
    const char *service;         /* NULL: "_p2p._udp.local"; tests use
                                  * their own so as to meet no one else */
    uint16_t port;               /* 0: 5353 */
    const char *interface_addr;  /* only this IPv4 interface ("127.0.0.1"
                                  * for tests); NULL: every non-loopback
                                  * IPv4 interface */
    size_t max_new_per_interval; /* peers checked per interval, at most */
    uint32_t ping_timeout_ms;
    uint32_t ttl_s;              /* TTL of the records we send */
    shoal_mdns_peer_cb on_peer;  /* may be NULL */
    void *user;
} shoal_mdns_config;

/* Defaults: 10 s, "_p2p._udp.local", 5353, every interface, 16 peers per
 * interval, 5 s pings, 120 s TTL, no callback. */
SHOAL_EXTERN
void shoal_mdns_config_init_size(shoal_mdns_config *cfg, size_t size);
/* What the program calls (any thread): its sizeof goes to the library
 * (shoal.h, "configuration"). */
#define shoal_mdns_config_init(cfg) \
    shoal_mdns_config_init_size((cfg), sizeof(*(cfg)))

/* Starts mDNS on node (secure mode; SHOAL_EINVAL for a classic one).
 * Strings are copied. Errors from the socket (port, membership) are
 * libuv's. Free it with shoal_mdns_free() before the node. */
SHOAL_EXTERN
int shoal_mdns_new(shoal_mdns **out, shoal_node *node,
                   const shoal_mdns_config *cfg);
/* Stops: closes the socket (its memory goes once the loop has run the
 * close, which shoal_node_free() does), outstanding pings end without
 * effect. NULL: nothing. */
SHOAL_EXTERN
void shoal_mdns_free(shoal_mdns *m);

typedef struct shoal_mdns_stats {
    uint64_t queries_sent;
    uint64_t responses_sent;
    uint64_t packets_in;          /* read from the socket */
    uint64_t packets_bad;         /* not DNS, truncated or too large */
    uint64_t peers_heard;         /* other peers named in responses */
    uint64_t pings_started;
    uint64_t peers_added;
} shoal_mdns_stats;
SHOAL_EXTERN
void shoal_mdns_stats_get(const shoal_mdns *m, shoal_mdns_stats *out);

#ifdef __cplusplus
}
#endif
#endif /* SHOAL_MDNS_H */
