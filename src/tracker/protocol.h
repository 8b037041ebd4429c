/* The tracker's message payloads, parsed and written without a network (so
 * that a fuzz target can feed them anything). Typed messages on
 * /shoal/msg/1.0.0:
 *
 *   ANNC  text lines, '\n' between them (a last '\n' allowed):
 *           <peer id>                  first line, base58 (or CIDv1)
 *           addr <multiaddr>           0..8; "/p2p/<that same id>" at its
 *                                      end or no /p2p/ at all
 *           topic <text>               0..8, 1..64 printable bytes
 *                                      (spaces inside allowed), no repeats
 *           want <n>                   peers wanted, 0..1000 (the tracker
 *                                      caps it); absent: the tracker's max
 *         Any other line, an empty line, a control byte: malformed.
 *         Replies: one PEER per peer returned, or one ERRO.
 *   PEER  "<peer id> <multiaddr> [<multiaddr>...]", each multiaddr ending
 *         in /p2p/<peer id> (dialable as it stands).
 *   ERRO  "rate_limited", "full", "malformed: <what>".
 *   STAT  (empty) -> REPL "peers=N topics=N announces_per_s=X entries_cap=N
 *                          flushes=N" (one line; flushes: database writes)
 *
 * The session protocol, /shoal/tracker/1.0.0: one long-lived stream per
 * client and tracker, so that an announce costs one framed message each
 * way instead of a stream's setup (open, multistream-select, close). The
 * client writes messages framed as on /shoal/msg/1.0.0 (4-byte type,
 * 4-byte big-endian length, payload), ANNC or STAT, as many as it likes,
 * pipelined; the tracker answers each with exactly one message, in order:
 *   ANNC -> PLST  the PEER lines, '\n' between them (none: empty), or ERRO
 *   STAT -> REPL  as above
 *   anything else -> ERRO "unknown type"
 * A frame longer than TRK_ANNC_MAX, or a client that leaves more than
 * TRK_SESSION_OUT_MAX bytes of answers unread, loses the stream (reset).
 */
#ifndef SHOAL_TRACKER_PROTOCOL_H
#define SHOAL_TRACKER_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#include "tracker/table.h"

#define TRK_ANNC_MAX 4096       /* longest ANNC payload, bytes */
#define TRK_IDTEXT_MAX 128      /* peer id text with its NUL */
#define TRK_ADDRTEXT_MAX 256    /* one multiaddr's text with its NUL */
#define TRK_WANT_MAX 1000
#define TRK_PROTOCOL "/shoal/tracker/1.0.0"
#define TRK_SESSION_OUT_MAX (256 * 1024) /* answers queued per stream */
#define TRK_PLST_PEERS_MAX 256          /* PEER lines in one PLST */
#define TRK_PEER_LINE_MAX (TRK_IDTEXT_MAX + TRK_ADDRS_MAX * \
                           (TRK_ADDRTEXT_MAX + TRK_IDTEXT_MAX + 8))

typedef struct trk_annc_msg {
    char idtext[TRK_IDTEXT_MAX];
    uint8_t id[TRK_ID_MAX];
    size_t idlen;
    size_t naddrs;
    char addrtext[TRK_ADDRS_MAX][TRK_ADDRTEXT_MAX]; /* without /p2p/ */
    uint8_t addr[TRK_ADDRS_MAX][TRK_ADDR_MAX];      /* the same, binary */
    size_t addrlen[TRK_ADDRS_MAX];
    size_t ntopics;
    const char *topic[TRK_TOPICS_MAX];              /* into the payload */
    size_t topiclen[TRK_TOPICS_MAX];
    int has_want;
    unsigned want;
} trk_annc_msg;

/* Parses an ANNC payload. 0, or -1 with why ("too many addrs", ...) set
 * to a short reason (why may be NULL). */
int trk_annc_parse(const uint8_t *p, size_t len, trk_annc_msg *out,
                   char *why, size_t whysize);
/* The table's view of a parsed announce (pointing into m). */
void trk_annc_announce(const trk_annc_msg *m, trk_announce *a);
/* Writes an ANNC payload; want < 0: no want line. Returns its length, or
 * -1 when it does not fit (or would not parse). */
int trk_annc_format(char *out, size_t size, const char *idtext,
                    const char *const *addrs, size_t naddrs,
                    const char *const *topics, size_t ntopics, int want);

typedef struct trk_peer_msg {
    char idtext[TRK_IDTEXT_MAX];
    size_t naddrs;
    char addr[TRK_ADDRS_MAX][TRK_ADDRTEXT_MAX + TRK_IDTEXT_MAX + 8];
} trk_peer_msg;

/* A PEER payload: 0 or -1. Every address must end in /p2p/<its id>. */
int trk_peer_parse(const uint8_t *p, size_t len, trk_peer_msg *out);
/* A PEER payload for an entry of the table. Length, or -1. */
int trk_peer_format(char *out, size_t size, const trk_peer *peer);

/* Walks a PLST payload: fn(peer, user) for each PEER line, parsed into m
 * (the caller's scratch space, 18 KiB) by trk_peer_parse, in order. Returns the number of lines, or -1 when the
 * payload is malformed (a line that does not parse, an empty line, more
 * than TRK_PLST_PEERS_MAX lines); fn may have run for lines before the bad
 * one. An empty payload is no peers (0). */
typedef void (*trk_plst_fn)(const trk_peer_msg *peer, void *user);
int trk_plst_parse(const uint8_t *p, size_t len, trk_peer_msg *m,
                   trk_plst_fn fn, void *user);

/* "/ip4/H/tcp/P..." or "/ip6/H/tcp/P...": host H and port P; 0 or -1. */
int trk_addr_host_port(const char *maddr, char *host, size_t size,
                       uint16_t *port);
/* The host of an address given as a multiaddr (ip4, ip6, dns*) or as
 * "HOST:PORT" / "[HOST]:PORT"; 0 or -1. */
int trk_addr_host(const char *addr, char *host, size_t size);

#endif
