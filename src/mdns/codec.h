/* mDNS messages as libp2p uses them (libp2p specs, discovery/mdns.md),
 * written and read without a network so that tests and a fuzz target can
 * feed the reader anything:
 *
 *   query     question "<service> PTR" (class IN), ID 0, no flags
 *   response  QR|AA, answer "<service> PTR <peer-name>.<service>", and one
 *             additional "<peer-name>.<service> TXT dnsaddr=<multiaddr>"
 *             record per address, each multiaddr ending in /p2p/<peer id>
 *
 * The reader takes RFC 1035 wire format with name compression (pointers
 * only backwards, a few hops at most), checks every length, and keeps a
 * bounded number of peers and addresses per message. */
#ifndef SHOAL_MDNS_CODEC_H
#define SHOAL_MDNS_CODEC_H

#include <stddef.h>
#include <stdint.h>

#define MDNS_SERVICE "_p2p._udp.local"
#define MDNS_PACKET_MAX 9000   /* largest message read (RFC 6762, 17) */
#define MDNS_SEND_MAX 1400     /* what we write fits one Ethernet frame */
#define MDNS_NAME_MAX 255      /* a name as text, without a final dot */
#define MDNS_ADDR_MAX 248      /* a dnsaddr value: 255 - "dnsaddr=" + NUL */
#define MDNS_PEERS_MAX 16      /* peers read from one message */
#define MDNS_ADDRS_MAX 8       /* addresses kept per peer */
#define MDNS_RECORDS_MAX 128   /* records looked at per message */
#define MDNS_ID_MAX 128        /* peer id text with its NUL */

typedef struct mdns_peer {
    char name[MDNS_NAME_MAX + 1];   /* "<peer-name>.<service>" */
    char id[MDNS_ID_MAX];           /* from the first address's /p2p/ */
    size_t naddrs;
    char addrs[MDNS_ADDRS_MAX][MDNS_ADDR_MAX]; /* canonical text */
} mdns_peer;

typedef struct mdns_msg {
    int response;                   /* QR set */
    int asks_service;               /* a question for <service> PTR/ANY */
    size_t npeers;                  /* peers with at least one address */
    mdns_peer peers[MDNS_PEERS_MAX];
} mdns_msg;

/* Writes a query for service's PTR records. Returns its length,
 * SHOAL_EINVAL for a bad service name, SHOAL_EMSGSIZE when out is small. */
int mdns_query_encode(uint8_t *out, size_t size, const char *service);

/* Writes a response naming peer_name (one label, 1..63 bytes, no dot) as
 * an instance of service, with one TXT record per address (each shorter
 * than MDNS_ADDR_MAX). Returns its length, SHOAL_EINVAL for bad names or
 * addresses, SHOAL_EMSGSIZE when it does not fit in size. */
int mdns_response_encode(uint8_t *out, size_t size, const char *service,
                         const char *peer_name, const char *const *addrs,
                         size_t naddrs, uint32_t ttl_s);

/* Reads one message: whether it asks for service, and the peers it
 * announces under service (PTR target names with TXT dnsaddr= records:
 * valid multiaddrs starting /ip4/ or /ip6/ then /tcp/, ending in /p2p/,
 * all of a peer's addresses under the same peer id). Other records and
 * bad TXT strings are skipped. Returns 0, or SHOAL_EPROTO for a message
 * that is not well-formed DNS (then *m says nothing). */
int mdns_parse(const uint8_t *data, size_t len, const char *service,
               mdns_msg *m);

/* The host and TCP port of a multiaddr "/ip4|ip6/HOST/tcp/PORT/...".
 * 0, or SHOAL_EBADADDR. */
int mdns_addr_host_port(const char *addr, char *host, size_t size,
                        uint16_t *port);

#endif
