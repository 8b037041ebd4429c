/* yamux: many streams over one reliable, ordered byte connection
 * (hashicorp/yamux spec.md, as libp2p uses it: /yamux/1.0.0).
 *
 * A session owns no socket, no loop and no timer. The caller
 *   - feeds it the bytes that arrived (shoal_yamux_feed(), any split),
 *   - drains the bytes it wants sent (shoal_yamux_output_peek() and
 *     shoal_yamux_output_consume(), or shoal_yamux_output_read()),
 *   - tells it the time (shoal_yamux_tick(), at least by
 *     shoal_yamux_next_tick(), and best also just before each feed),
 * and the session reports to the application through callbacks. So a
 * session runs the same on a Noise-encrypted TCP connection, on a pipe, or
 * wired to another session in memory (the unit tests run 1000 streams so).
 *
 * Callbacks run only inside shoal_yamux_feed(), shoal_yamux_tick(),
 * shoal_yamux_abort() and shoal_yamux_free(). The functions an application
 * calls on streams (open, write, close, reset, consumed) never call back, so
 * they are safe to call from any callback; a stream they finish is reported
 * by its closed() callback at the next feed or tick (shoal_yamux_next_tick()
 * then says "now").
 *
 * Reading is push and zero-copy: data() hands the application bytes that
 * point straight into the buffer given to shoal_yamux_feed() (a frame split
 * across two feeds comes in two pieces), borrowed for the call. The
 * application says when it is done with them with
 * shoal_yamux_stream_consumed(), at once or later; only consumed bytes are
 * given back to the remote as window. So the session buffers no received
 * data at all, and what the application holds unconsumed is bounded by the
 * stream's receive window.
 *
 * Writing copies: bytes the remote's window allows go straight into the
 * output queue as data frames; the rest waits in the stream, up to
 * max_write_buffer, and goes out as Window Updates arrive. A write takes as
 * many bytes as fit and says how many (a partial count); a caller that asks
 * for no count gets all or nothing (SHOAL_ENOBUFS). After a short write,
 * writable() says when to go on.
 *
 * Not thread-safe: one thread (the loop's) uses a session and its streams.
 */
#ifndef SHOAL_MUX_YAMUX_H
#define SHOAL_MUX_YAMUX_H

#include <stddef.h>
#include <stdint.h>

#include "shoal.h"

/* Status of a stream reset by the remote (or refused by it). libuv's code,
 * so shoal_strerror() names it. */
#ifndef SHOAL_ECONNRESET
#define SHOAL_ECONNRESET UV_ECONNRESET
#endif

/* Wire constants. */
#define SHOAL_YAMUX_HEADER 12
#define SHOAL_YAMUX_VERSION 0
#define SHOAL_YAMUX_DATA 0
#define SHOAL_YAMUX_WINDOW_UPDATE 1
#define SHOAL_YAMUX_PING 2
#define SHOAL_YAMUX_GO_AWAY 3
#define SHOAL_YAMUX_SYN 1
#define SHOAL_YAMUX_ACK 2
#define SHOAL_YAMUX_FIN 4
#define SHOAL_YAMUX_RST 8
#define SHOAL_YAMUX_GO_AWAY_NORMAL 0
#define SHOAL_YAMUX_GO_AWAY_PROTOCOL 1
#define SHOAL_YAMUX_GO_AWAY_INTERNAL 2
/* Every stream's receive window starts here, on both sides. */
#define SHOAL_YAMUX_INITIAL_WINDOW (256u * 1024)

typedef struct shoal_yamux shoal_yamux;
typedef struct shoal_yamux_stream shoal_yamux_stream;

typedef struct shoal_yamux_config {
    int client;               /* 1: the dialer (odd stream ids), 0: listener */
    uint32_t max_window;      /* a stream's receive window may grow to this
                               * (doubling while the remote fills it faster
                               * than two round trips); >= 256 KiB */
    size_t window_budget;     /* growth above 256 KiB, all streams together */
    uint32_t open_window;     /* the receive window a stream we open starts
                               * with, announced in its SYN: 256 KiB (the
                               * protocol's) up to max_window; what is above
                               * 256 KiB comes out of window_budget */
    uint32_t max_frame;       /* largest data payload sent in one frame
                               * (received frames are bounded by the
                               * window only) */
    uint32_t max_streams;     /* live streams, both directions: more inbound
                               * ones are refused with RST */
    uint32_t max_unacked;     /* outbound streams the remote has not ACKed */
    size_t max_write_buffer;  /* bytes a stream holds beyond the remote's
                               * window */
    uint32_t keepalive_ms;    /* ping this often; 0: no keep-alive */
    uint32_t ping_timeout_ms; /* no answer by then: the session is dead;
                               * 0: wait forever */
    size_t max_provoked;      /* answers the remote provokes (ping ACKs,
                               * RSTs) queued while the output is not
                               * drained; beyond it they are dropped */
    size_t out_chunk;         /* the output queue grows in chunks of this
                               * many bytes, and shoal_yamux_output_peek()
                               * returns at most one chunk: a transport
                               * that seals messages of at most N bytes sets
                               * N, so that each chunk is one message;
                               * 4 KiB .. 1 MiB */
} shoal_yamux_config;

/* Fills cfg with the defaults: 16 MiB max_window, 64 MiB window_budget,
 * 256 KiB open_window,
 * 65524-byte max_frame (a whole frame is 64 KiB, as js-libp2p sends them),
 * 1024 max_streams, 256 max_unacked, 256 KiB max_write_buffer, 30 s
 * keep-alive, 10 s ping timeout, 64 KiB max_provoked, 64 KiB out_chunk;
 * client as given. */
void shoal_yamux_config_init(shoal_yamux_config *cfg, int client);

/* What the session tells the application. Every member may be NULL; user is
 * the pointer given to shoal_yamux_new(). A stream handle is valid from the
 * moment the application sees it (shoal_yamux_open() or stream()) until its
 * closed() callback returns, and only then freed. */
typedef struct shoal_yamux_callbacks {
    /* The remote opened st. Return 0 to accept it (the ACK goes out with
     * the first frame the stream sends, or the first consumed()), anything
     * else to refuse it: an RST is sent and st is freed when this returns,
     * with no other callback. NULL refuses every stream. */
    int (*stream)(shoal_yamux *mux, shoal_yamux_stream *st, void *user);
    /* len > 0 bytes arrived on st, borrowed for the call. Release them with
     * shoal_yamux_stream_consumed() (now or later). NULL: consumed at once. */
    void (*data)(shoal_yamux_stream *st, const uint8_t *data, size_t len,
                 void *user);
    /* The remote closed its side (FIN): no more data will come. */
    void (*fin)(shoal_yamux_stream *st, void *user);
    /* After a short write: st can take at least half of max_write_buffer
     * again (or, with no buffer, some window). */
    void (*writable)(shoal_yamux_stream *st, void *user);
    /* The remote accepted a stream we opened. */
    void (*acked)(shoal_yamux_stream *st, void *user);
    /* The stream is over and st is freed when this returns. status: 0 when
     * both sides closed and all our data was queued for sending,
     * SHOAL_ECONNRESET when the remote reset (or refused) it,
     * SHOAL_ECANCELED after shoal_yamux_stream_reset() or when the session
     * was freed, SHOAL_EPROTO when the remote sent data after its FIN, or
     * the session's error when it died (SHOAL_EPROTO, SHOAL_ETIMEDOUT,
     * ...). */
    void (*closed)(shoal_yamux_stream *st, int status, void *user);
    /* Our ping was answered, rtt_ms after it was sent (by the times given
     * to shoal_yamux_tick()). */
    void (*pong)(shoal_yamux *mux, uint64_t rtt_ms, void *user);
    /* The remote sent Go Away with code: it opens no more streams and we
     * may not open any; existing streams go on. */
    void (*go_away)(shoal_yamux *mux, uint32_t code, void *user);
    /* The remote opened stream id past max_streams: it was refused (RST).
     * For logging; nothing is to be done. */
    void (*refused)(shoal_yamux *mux, uint32_t id, void *user);
} shoal_yamux_callbacks;

/* Creates a session. cfg and cb are copied; NULL cfg: the defaults of a
 * listener. On success *out owns the session: free it with
 * shoal_yamux_free(). Returns SHOAL_EINVAL for a bad config, SHOAL_ENOMEM. */
int shoal_yamux_new(shoal_yamux **out, const shoal_yamux_config *cfg,
                    const shoal_yamux_callbacks *cb, void *user);

/* Frees the session, its streams and its output. Every stream still known
 * to the application gets closed() first (SHOAL_ECANCELED, or the status it
 * already had). Called from inside a callback, the session dies at once and
 * its memory is freed when the outermost feed or tick returns. NULL is a
 * no-op. */
void shoal_yamux_free(shoal_yamux *mux);

/* Takes len bytes received from the remote, in any split, and runs the
 * callbacks they cause. Returns 0; or, when the session is (now) dead, its
 * error: SHOAL_EPROTO when the remote broke the protocol (a Go Away with the
 * protocol-error code is then queued: send the output, then close the
 * connection), SHOAL_ENOMEM, or the error it died of before. SHOAL_EBUSY
 * from inside a callback. data is only read during the call. */
int shoal_yamux_feed(shoal_yamux *mux, const void *data, size_t len);

/* Tells the session the time (milliseconds, any origin, never going back)
 * and runs its timers: sends keep-alive pings, declares the session dead
 * (SHOAL_ETIMEDOUT) when a ping goes unanswered for ping_timeout_ms, and
 * reports streams finished by the application's own calls. Returns 0, the
 * session's error once it is dead, SHOAL_EBUSY from inside a callback. */
int shoal_yamux_tick(shoal_yamux *mux, uint64_t now_ms);

/* When tick() wants to run next (absolute, same clock), UINT64_MAX for
 * never. Equal to the last time given when something is due at once. */
uint64_t shoal_yamux_next_tick(const shoal_yamux *mux);

/* Frees the output memory kept for reuse while data flowed; call it when
 * the session goes quiet (no streams), so an idle session holds none. */
void shoal_yamux_trim(shoal_yamux *mux);

/* Bytes waiting to be sent. */
size_t shoal_yamux_output_pending(const shoal_yamux *mux);
/* Points *data at the first contiguous run of output and returns its length
 * (0 when there is none). The bytes stay owned by the session and valid
 * until the next call that changes the session. */
size_t shoal_yamux_output_peek(shoal_yamux *mux, const uint8_t **data);
/* The first n bytes of output were sent: drop them (n <= pending). */
void shoal_yamux_output_consume(shoal_yamux *mux, size_t n);
/* Copies up to cap bytes of output into buf, drops them, returns how many. */
size_t shoal_yamux_output_read(shoal_yamux *mux, void *buf, size_t cap);

/* Opens a stream: queues its SYN (a Window Update) and sets *out; data may
 * be written at once, before the remote ACKs. The stream belongs to the
 * session; its closed() callback ends it. Returns SHOAL_ECLOSED when the
 * session is dead or either side sent Go Away, SHOAL_EFULL at max_streams
 * (or when stream ids run out), SHOAL_EBUSY while max_unacked streams await
 * their ACK (try again after acked()), SHOAL_ENOMEM. */
int shoal_yamux_open(shoal_yamux *mux, shoal_yamux_stream **out);

/* Sends a ping now (unless one is outstanding: then its answer counts);
 * pong() reports the round trip, measured with the times given to
 * shoal_yamux_tick(). Returns 0, SHOAL_ECLOSED or SHOAL_ENOMEM. */
int shoal_yamux_ping(shoal_yamux *mux);

/* Sends Go Away with code (SHOAL_YAMUX_GO_AWAY_*): no new streams either
 * way from now on, existing ones go on. Once shoal_yamux_stream_count() is 0
 * and the output is sent, the connection can be closed. Returns 0 or
 * SHOAL_ECLOSED when already sent or dead. */
int shoal_yamux_go_away(shoal_yamux *mux, uint32_t code);

/* The connection under the session is gone (or the application gives up):
 * the session dies with err (< 0) and every stream is closed() with it.
 * Nothing is queued. No-op on a dead session. */
void shoal_yamux_abort(shoal_yamux *mux, int err);

/* 0 while the session lives, else the error it died of. */
int shoal_yamux_error(const shoal_yamux *mux);
/* Streams not yet finished, both directions. */
size_t shoal_yamux_stream_count(const shoal_yamux *mux);
/* The last round trip measured by a ping, or -1 before the first answer. */
int64_t shoal_yamux_rtt(const shoal_yamux *mux);
/* Bytes of memory the session holds now: itself, its streams, their write
 * buffers and the output queue. */
size_t shoal_yamux_memory(const shoal_yamux *mux);

/* Writes len bytes on st: as much as the remote's window allows goes into
 * the output queue at once, then up to max_write_buffer bytes wait in the
 * stream. *taken says how many were taken: possibly fewer than len, even
 * 0; writable() then says when more fit. With taken NULL the write is all
 * or nothing: SHOAL_ENOBUFS when not all of it fits. data is copied.
 * Returns 0, SHOAL_ECLOSED after close() or once the stream is finished,
 * SHOAL_ENOMEM. */
int shoal_yamux_stream_write(shoal_yamux_stream *st, const void *data,
                             size_t len, size_t *taken);
/* How many bytes a write would take now. */
size_t shoal_yamux_stream_write_space(const shoal_yamux_stream *st);
/* Half-closes st: a FIN follows the bytes already written. Reading goes on
 * until the remote's FIN. Returns 0 (also when already closed) or
 * SHOAL_ECLOSED once the stream is finished. */
int shoal_yamux_stream_close(shoal_yamux_stream *st);
/* Resets st: an RST is sent, unsent bytes are dropped, and closed() follows
 * with SHOAL_ECANCELED at the next feed or tick. Returns 0, or SHOAL_ECLOSED
 * when the stream was already finished. */
int shoal_yamux_stream_reset(shoal_yamux_stream *st);
/* The application is done with n bytes handed to data(): they become
 * window for the remote again (a Window Update goes out once half a window
 * is free). The first call on an inbound stream also sends its ACK, at once
 * (consumed(st, 0) just does that). Returns 0, SHOAL_ENOMEM, or
 * SHOAL_EINVAL when n is more than was handed out and not yet consumed. A
 * finished stream takes anything (returns 0). */
int shoal_yamux_stream_consumed(shoal_yamux_stream *st, size_t n);
/* Bytes handed to data() and not yet consumed. */
size_t shoal_yamux_stream_unconsumed(const shoal_yamux_stream *st);
/* The stream's receive window now: 256 KiB, or more once it grew. What the
 * application holds unconsumed never exceeds it. */
uint32_t shoal_yamux_stream_recv_window(const shoal_yamux_stream *st);

uint32_t shoal_yamux_stream_id(const shoal_yamux_stream *st);
shoal_yamux *shoal_yamux_stream_session(const shoal_yamux_stream *st);
/* The application's pointer for st (NULL until set). */
void shoal_yamux_stream_set_user(shoal_yamux_stream *st, void *user);
void *shoal_yamux_stream_user(const shoal_yamux_stream *st);

/* Writes a frame header, for tests and tools. */
void shoal_yamux_header_encode(uint8_t out[SHOAL_YAMUX_HEADER], uint8_t type,
                               uint16_t flags, uint32_t stream_id,
                               uint32_t length);

#endif
