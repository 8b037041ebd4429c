/* Classic addresses: "HOST:PORT", "[V6]:PORT", "/ip4/HOST/tcp/PORT",
 * "/ip6/HOST/tcp/PORT", "/dns4/NAME/tcp/PORT". Network-free parsing. */
#ifndef SHOAL_CORE_ADDR_H
#define SHOAL_CORE_ADDR_H

#include <stdint.h>

#include "shoal.h"

typedef struct shoal_addr {
    char host[SHOAL_HOST_MAX];
    uint16_t port;
} shoal_addr;

/* Returns 0 or SHOAL_EBADADDR. Port 0 is allowed (listen anywhere). */
int shoal_addr_parse(const char *text, shoal_addr *out);

/* A named peer's dialable address, "/ip4/HOST/tcp/PORT/p2p/ID" or the
 * same with /ip6/, exactly: its host and port, and its id (a valid peer id
 * text) in id. Returns 0 or SHOAL_EBADADDR. */
int shoal_addr_parse_named(const char *text, shoal_addr *out, char *id,
                           size_t idsize);

/* Why text is not an address this node dials, for the WARN line of a
 * refused call: a short phrase naming the part that is wrong ("port out of
 * range", "\"/udp\" is not dialed over TCP"), written to out (NUL-
 * terminated, cut to size). multiaddr: text is read by the secure dial
 * rules (any multiaddr with a host, /tcp/PORT and maybe /p2p/ID), else by
 * shoal_addr_parse()'s. Text with nothing wrong gets "". */
void shoal_addr_explain(const char *text, int multiaddr, char *out,
                        size_t size);

/* Formats "HOST:PORT" ("[HOST]:PORT" for IPv6) into out; returns 0 or
 * SHOAL_EINVAL if it does not fit. */
int shoal_addr_format(const char *host, uint16_t port, char *out,
                      size_t size);

#endif
