/* multistream-select 1.0: agreeing on a protocol id over a byte stream.
 * (multiformats/multistream-select README; libp2p connections/README.md)
 *
 * A message is an unsigned varint length, then UTF-8 text ending in '\n';
 * the length counts the newline ("na" is 03 6e 61 0a). Both sides send the
 * header "/multistream/1.0.0"; the dialer proposes a protocol id, the
 * listener echoes it (agreed) or answers "na" and the dialer tries its next
 * one.
 *
 * Like the rest of src/secure/, this owns no socket and no loop: the caller
 * feeds the bytes it received and sends the bytes appended to a buffer it
 * owns. Every feed call says how many input bytes it used, so whatever
 * follows the last negotiation message (the start of the agreed protocol's
 * data, which a peer may pipeline) stays with the caller.
 *
 * Nothing here allocates except shoal_outbuf, and nothing is shared: any
 * number of negotiations may run at once, on any threads, one thread per
 * object at a time. */
#ifndef SHOAL_SECURE_MULTISTREAM_H
#define SHOAL_SECURE_MULTISTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "core/varint.h"

/* The header both sides send first. */
#define SHOAL_MSS_HEADER "/multistream/1.0.0"
/* The longest message accepted or sent, newline included, as js-libp2p caps
 * a protocol id: so a protocol id is 1 to 1023 bytes. */
#define SHOAL_MSS_MSG_MAX 1024
#define SHOAL_MSS_PROTO_MAX (SHOAL_MSS_MSG_MAX - 1)
/* Proposals (and "ls" requests) a listener answers before giving up. */
#define SHOAL_MSS_MAX_ROUNDS 64

/* What the feed functions return besides 0 (need more bytes) and errors. */
#define SHOAL_MSS_MSG 1   /* reader: one message is complete */
#define SHOAL_MSS_DONE 1  /* dialer/listener: a protocol was agreed */

/* ------------------------------------------------------------ out buffer
 * A growable byte buffer the caller owns; the secure layer's state machines
 * (this file and noise.h) append what is to be sent to it. data is NULL
 * until the first append. The caller sends data[0..len) and then drops what
 * was sent with shoal_outbuf_consume(), or reads the fields directly. */
typedef struct shoal_outbuf {
    uint8_t *data;
    size_t len;
    size_t cap;
} shoal_outbuf;

/* An empty buffer; nothing is allocated. */
void shoal_outbuf_init(shoal_outbuf *b);
/* Frees the memory (the buffer is empty and usable again after). */
void shoal_outbuf_free(shoal_outbuf *b);
/* Makes room for n more bytes after len: on return data[len..len+n) may be
 * written and then counted with b->len += n. Returns 0 or SHOAL_ENOMEM (the
 * buffer is unchanged then). */
int shoal_outbuf_reserve(shoal_outbuf *b, size_t n);
/* Copies n bytes to the end. Returns 0 or SHOAL_ENOMEM (nothing added). */
int shoal_outbuf_append(shoal_outbuf *b, const void *p, size_t n);
/* Drops the first n bytes (n <= len), keeping the rest in order. */
void shoal_outbuf_consume(shoal_outbuf *b, size_t n);

/* -------------------------------------------------------------- messages */

/* Appends the message for text (without its newline): varint length, the
 * text, '\n'. text must be 1 to SHOAL_MSS_PROTO_MAX bytes of UTF-8 without
 * a newline; otherwise nothing is appended and SHOAL_EINVAL is returned.
 * Returns 0 or SHOAL_ENOMEM. */
int shoal_mss_encode(shoal_outbuf *out, const char *text);

/* An incremental reader of one message at a time, for bytes split in any
 * way. Holds the message in place (no allocation). */
typedef struct shoal_mss_reader {
    uint8_t varint[SHOAL_VARINT_MAX]; /* length bytes so far */
    size_t varint_got;
    size_t len;          /* announced length, newline included */
    size_t got;          /* message bytes so far */
    int complete;
    /* Once complete: the text without its newline, NUL-terminated, and its
     * length (text_len = len - 1). */
    size_t text_len;
    char text[SHOAL_MSS_MSG_MAX + 1];
} shoal_mss_reader;

void shoal_mss_reader_init(shoal_mss_reader *r);

/* Reads from in[0..len), stopping at the end of a message: *used says how
 * many bytes were taken (all of them unless a message ended earlier).
 * Returns SHOAL_MSS_MSG when a message is complete (r->text, r->text_len),
 * 0 when more bytes are needed, or an error, after which the reader must
 * not be fed again: SHOAL_EMSGSIZE for a length over SHOAL_MSS_MSG_MAX,
 * SHOAL_EPROTO for a non-minimal length varint, an empty message or text,
 * a message not ending in '\n', a newline or NUL inside the text, or text
 * that is not UTF-8. Must not be called on a complete message. */
int shoal_mss_reader_feed(shoal_mss_reader *r, const uint8_t *in, size_t len,
                          size_t *used);

/* After a complete message: forget it and get ready for the next one. */
void shoal_mss_reader_next(shoal_mss_reader *r);

/* --------------------------------------------------------------- dialer
 * The side that proposes. It sends the header and its first proposal at
 * once (pipelined, as js does), then reads the listener's header and one
 * answer per proposal: the echo agrees, "na" moves on to the next protocol
 * in its list. */
typedef struct shoal_mss_dialer {
    shoal_mss_reader r;
    const char *const *protocols; /* borrowed: must outlive the dialer */
    size_t count;
    size_t current;               /* index of the pending proposal */
    int state;
} shoal_mss_dialer;

/* Sets the dialer up to propose protocols[0..count) in order (count >= 1;
 * each a valid protocol id as for shoal_mss_encode). The array and strings
 * are borrowed until the negotiation ends. Returns 0 or SHOAL_EINVAL. */
int shoal_mss_dialer_init(shoal_mss_dialer *d, const char *const *protocols,
                          size_t count);

/* Appends the header and the first proposal to out. Call once, first.
 * Returns 0, SHOAL_ENOMEM, or SHOAL_EBUSY when called twice. */
int shoal_mss_dialer_start(shoal_mss_dialer *d, shoal_outbuf *out);

/* Feeds received bytes; appends any next proposal to out. *used says how
 * many bytes were taken: after SHOAL_MSS_DONE the rest belongs to the
 * agreed protocol. Returns SHOAL_MSS_DONE (the protocol is
 * shoal_mss_dialer_protocol()), 0 when more bytes are needed, or an error,
 * after which the negotiation is over: SHOAL_ENOENT when the listener
 * refused every protocol, SHOAL_EPROTO for a bad header, an answer that is
 * neither the echo nor "na", or a malformed message (see the reader),
 * SHOAL_EMSGSIZE, SHOAL_ENOMEM, SHOAL_EBUSY before start or after the end. */
int shoal_mss_dialer_feed(shoal_mss_dialer *d, const uint8_t *in, size_t len,
                          size_t *used, shoal_outbuf *out);

/* The agreed protocol (one of the borrowed strings), or NULL before DONE. */
const char *shoal_mss_dialer_protocol(const shoal_mss_dialer *d);

/* ------------------------------------------------------------- listener
 * The side that answers. It sends the header at once, reads the dialer's
 * header, then answers each proposal: the echo for the first supported one
 * (which ends the negotiation), "na" otherwise. "ls" is answered with the
 * supported list when enabled, and with "na" when not. */
typedef struct shoal_mss_listener {
    shoal_mss_reader r;
    const char *const *protocols; /* borrowed */
    size_t count;
    size_t selected;              /* index, once done */
    int allow_ls;
    int state;
    unsigned rounds;
} shoal_mss_listener;

/* Sets the listener up to accept any of protocols[0..count) (count may be 0:
 * every proposal gets "na"). Borrowed as for the dialer. allow_ls: answer
 * "ls" with the list (one message holding a length-prefixed line per
 * protocol, go-multistream's form). Returns 0 or SHOAL_EINVAL. */
int shoal_mss_listener_init(shoal_mss_listener *l,
                            const char *const *protocols, size_t count,
                            int allow_ls);

/* Appends the header to out. Call once, first. Returns 0, SHOAL_ENOMEM, or
 * SHOAL_EBUSY when called twice. */
int shoal_mss_listener_start(shoal_mss_listener *l, shoal_outbuf *out);

/* Feeds received bytes; appends the answers to out. Returns SHOAL_MSS_DONE
 * once a proposal was accepted (the echo is in out; the protocol is
 * shoal_mss_listener_protocol(); *used stops right after the proposal), 0
 * when more bytes are needed, or an error, after which the negotiation is
 * over: SHOAL_EPROTO for a bad header, a malformed message, or more than
 * SHOAL_MSS_MAX_ROUNDS proposals, SHOAL_EMSGSIZE, SHOAL_ENOMEM, SHOAL_EBUSY
 * before start or after the end. */
int shoal_mss_listener_feed(shoal_mss_listener *l, const uint8_t *in,
                            size_t len, size_t *used, shoal_outbuf *out);

/* The agreed protocol (one of the borrowed strings), or NULL before DONE. */
const char *shoal_mss_listener_protocol(const shoal_mss_listener *l);

#endif
