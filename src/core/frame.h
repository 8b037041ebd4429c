/* The classic frame: 4-byte type, 4-byte big-endian length, payload.
 *
 * The reader owns no socket: the caller asks where to put the next bytes
 * (prepare), reads into that space, and says how many arrived (commit), or
 * hands it bytes it already has (feed). Memory grows with the bytes actually
 * received, never with the length a header announces. */
#ifndef SHOAL_CORE_FRAME_H
#define SHOAL_CORE_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define SHOAL_FRAME_HEADER 8

typedef struct shoal_frame_reader {
    uint8_t header[SHOAL_FRAME_HEADER];
    size_t header_got;
    char type[5];          /* upper-cased, NUL-terminated, once the header is in */
    size_t len;            /* announced payload length */
    uint8_t *payload;      /* owned */
    size_t cap;
    size_t got;
    size_t max_len;        /* a larger announced length is an error */
    int complete;
    uint8_t *into;         /* the caller's buffer for the next message */
    size_t into_cap;
    int borrowed;          /* payload is into's; own is the reader's */
    uint8_t *own;
    size_t own_cap;
} shoal_frame_reader;

void shoal_frame_reader_init(shoal_frame_reader *r, size_t max_len);
/* Frees the payload buffer. The reader can be initialised again after. */
void shoal_frame_reader_free(shoal_frame_reader *r);

/* The next message whose payload is 1 to cap bytes goes straight into buf
 * (the caller's, valid until next() or free()) instead of into a buffer of
 * the reader's: for a reply of a size known in advance, the copy out of a
 * borrowed payload is saved. Once: the messages after it use the reader's
 * own buffer again. */
void shoal_frame_reader_into(shoal_frame_reader *r, void *buf, size_t cap);

/* Space for the next bytes: at most *cap bytes at *buf. Only the current
 * message's bytes are asked for, so two messages never share one read.
 * Returns 0, or SHOAL_ENOMEM. Must not be called on a complete message. */
int shoal_frame_reader_prepare(shoal_frame_reader *r, uint8_t **buf,
                               size_t *cap);
/* n bytes were written where prepare said. Returns 1 when the message is
 * complete, 0 when more is needed, SHOAL_EMSGSIZE for a length over the
 * limit. */
int shoal_frame_reader_commit(shoal_frame_reader *r, size_t n);

/* Bytes of payload buffer the reader holds (not counting a caller's buffer
 * from shoal_frame_reader_into()). */
size_t shoal_frame_reader_held(const shoal_frame_reader *r);

/* How many bytes the next prepare() will add to the payload buffer: 0 until
 * the buffer is full. Lets a caller keep a budget across many readers. */
size_t shoal_frame_reader_growth(const shoal_frame_reader *r);

/* Copies bytes in. *used says how many were taken (it stops at the end of a
 * message). Returns as commit does. */
int shoal_frame_reader_feed(shoal_frame_reader *r, const uint8_t *data,
                            size_t len, size_t *used);

/* The complete message as a shoal_msg, borrowing the reader's payload (an
 * empty one points at ""). */
struct shoal_msg;
void shoal_frame_reader_msg(const shoal_frame_reader *r, struct shoal_msg *out);

/* After a complete message: forget it and get ready for the next one.
 * A small buffer is kept for reuse, a large one freed. */
void shoal_frame_reader_next(shoal_frame_reader *r);

/* Writes a header. type is 1-4 bytes of text; shorter ones are NUL-padded. */
void shoal_frame_header_encode(uint8_t out[SHOAL_FRAME_HEADER],
                               const char *type, uint32_t len);

/* Checks a type given by an application (1 to 4 printable ASCII characters)
 * and writes it upper-cased to out. Returns 0 or SHOAL_EINVAL. */
int shoal_type_normalize(const char *type, char out[5]);

#endif
