/* Ping, /ipfs/ping/1.0.0 (libp2p specs ping/ping.md): the dialer sends 32
 * random bytes, the listener echoes them; repeatable on one stream. Uses
 * only the public stream API. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "shoal.h"
#include "node/thread.h"

#define PING_SIZE 32
#define PING_PROTOCOL "/ipfs/ping/1.0.0"

/* ---------------------------------------------------------------- server
 * Echoes whole 32-byte pings; a partial one waits for its rest. */
typedef struct ping_echo {
    uint8_t buf[PING_SIZE];
    size_t got;
} ping_echo;

static void echo_data(shoal_stream *s, const uint8_t *data, size_t len,
                      void *user)
{
    ping_echo *e = user;

    while (len > 0) {
        size_t n = PING_SIZE - e->got < len ? PING_SIZE - e->got : len;
        memcpy(e->buf + e->got, data, n);
        e->got += n;
        data += n;
        len -= n;
        if (e->got == PING_SIZE) {
            e->got = 0;
            if (shoal_stream_write(s, e->buf, PING_SIZE) < 0) {
                shoal_stream_reset(s); /* a flood nobody reads */
                return;
            }
        }
    }
}

static void echo_eof(shoal_stream *s, void *user)
{
    (void)user;
    shoal_stream_close(s);
}

static void echo_closed(shoal_stream *s, int status, void *user)
{
    (void)s;
    (void)status;
    free(user);
}

static void on_ping_stream(shoal_stream *s, void *user)
{
    static const shoal_stream_cbs cbs = {
        .data = echo_data, .eof = echo_eof, .closed = echo_closed};
    ping_echo *e = calloc(1, sizeof(*e));

    (void)user;
    if (e != NULL)
        shoal_stream_set_cbs(s, &cbs, e);
}

int shoal_ping_serve(shoal_node *node)
{
    SHOAL_LOOP_ONLY(node, SHOAL_EBUSY);
    return shoal_protocol_handle(node, PING_PROTOCOL, on_ping_stream, NULL);
}

/* ---------------------------------------------------------------- client
 * A call holds two references: its timer's and its stream's (from the open
 * until the stream is over). It reports once, on the first of: the echo,
 * an error, the deadline. */
typedef struct ping_call {
    shoal_node *node;
    shoal_stream *stream;
    uv_timer_t timer;
    int refs;
    shoal_ping_cb cb;
    void *user;
    uint8_t sent[PING_SIZE];
    size_t got;
    int reported;
    uint64_t started;
    uint64_t rtt_us;
} ping_call;

static void call_unref(ping_call *c)
{
    if (--c->refs == 0)
        free(c);
}

static void timer_closed(uv_handle_t *h)
{
    call_unref(h->data);
}

static void call_report(ping_call *c, int status)
{
    if (c->reported)
        return;
    c->reported = 1;
    c->cb(c->node, status, c->rtt_us, c->user);
    uv_close((uv_handle_t *)&c->timer, timer_closed);
    if (c->stream != NULL && status != 0)
        shoal_stream_reset(c->stream);
}

static void call_data(shoal_stream *s, const uint8_t *data, size_t len,
                      void *user)
{
    ping_call *c = user;

    if (c->reported)
        return;
    if (c->got + len > PING_SIZE ||
        memcmp(c->sent + c->got, data, len) != 0) {
        call_report(c, SHOAL_EPROTO);
        return;
    }
    c->got += len;
    if (c->got == PING_SIZE) {
        c->rtt_us = (uv_hrtime() - c->started) / 1000;
        shoal_stream_close(s);
        call_report(c, 0);
    }
}

static void call_closed(shoal_stream *s, int status, void *user)
{
    ping_call *c = user;

    (void)s;
    c->stream = NULL;
    call_report(c, status < 0 ? status : SHOAL_EPROTO);
    call_unref(c);
}

static void call_open(shoal_stream *s, int status, void *user)
{
    static const shoal_stream_cbs cbs = {.data = call_data,
                                         .closed = call_closed};
    ping_call *c = user;

    if (s == NULL) {
        call_report(c, status);
        call_unref(c);
        return;
    }
    c->stream = s;
    shoal_stream_set_cbs(s, &cbs, c);
    if (c->reported) { /* the deadline passed while connecting */
        shoal_stream_reset(s);
        return;
    }
    randombytes_buf(c->sent, sizeof(c->sent));
    c->started = uv_hrtime();
    if ((status = shoal_stream_write(s, c->sent, sizeof(c->sent))) < 0)
        call_report(c, status);
}

static void call_timeout(uv_timer_t *t)
{
    call_report(t->data, SHOAL_ETIMEDOUT);
}

int shoal_ping(shoal_node *node, const char *addr, uint32_t timeout_ms,
               shoal_ping_cb cb, void *user)
{
    SHOAL_LOOP_ONLY(node, SHOAL_EBUSY);
    ping_call *c;
    int rc;

    if (cb == NULL || timeout_ms == 0)
        return SHOAL_EINVAL;
    if ((c = calloc(1, sizeof(*c))) == NULL)
        return SHOAL_ENOMEM;
    c->node = node;
    c->cb = cb;
    c->user = user;
    if ((rc = shoal_stream_open(node, addr, PING_PROTOCOL, call_open, c)) <
        0) {
        free(c);
        return rc;
    }
    c->refs = 2;
    uv_timer_init(shoal_node_loop(node), &c->timer);
    c->timer.data = c;
    uv_timer_start(&c->timer, call_timeout, timeout_ms, 0);
    return 0;
}
