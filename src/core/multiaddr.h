/* Multiaddrs: "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooW..." and their binary
 * form, (uvarint code, value)+, with a uvarint length before variable-size
 * values. Network-free. */
#ifndef SHOAL_CORE_MULTIADDR_H
#define SHOAL_CORE_MULTIADDR_H

#include <stddef.h>
#include <stdint.h>

#define SHOAL_MULTIADDR_MAX 1024 /* bytes, binary; text is capped the same */

enum shoal_ma_code {
    SHOAL_MA_IP4 = 4,
    SHOAL_MA_TCP = 6,
    SHOAL_MA_DNS = 53,
    SHOAL_MA_DNS4 = 54,
    SHOAL_MA_DNS6 = 55,
    SHOAL_MA_DNSADDR = 56,
    SHOAL_MA_IP6 = 41,
    SHOAL_MA_UDP = 273,
    SHOAL_MA_P2P_CIRCUIT = 290,
    SHOAL_MA_P2P = 421,
    SHOAL_MA_WS = 477,
    SHOAL_MA_WSS = 478,
};

/* Text to binary. Returns the binary length, SHOAL_EBADADDR for text that
 * is not a multiaddr or is over the cap (text or binary), SHOAL_EINVAL when
 * a valid address does not fit in out. */
int shoal_multiaddr_parse(const char *text, uint8_t *out, size_t size);

/* Binary to text. Returns the text length, or SHOAL_EBADADDR for bytes that
 * are not a valid multiaddr (or whose binary or text is over the cap),
 * SHOAL_EINVAL when out is too small. What format writes, parse reads back
 * to the same bytes. */
int shoal_multiaddr_format(const uint8_t *bin, size_t len, char *out,
                           size_t size);

/* Walks the components of a valid binary multiaddr: on return *code and
 * the value (*value, *vlen) of the component at *pos, and *pos advanced.
 * Returns 1 for a component, 0 at the end, SHOAL_EBADADDR if malformed. */
int shoal_multiaddr_next(const uint8_t *bin, size_t len, size_t *pos,
                         uint64_t *code, const uint8_t **value, size_t *vlen);

#endif
