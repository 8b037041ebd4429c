/* Perf, /perf/1.0.0 (libp2p specs perf/perf.md): the dialer sends a
 * big-endian u64 (the bytes it wants back), uploads any amount, and closes
 * its side; the listener reads to the end, then sends the bytes asked for
 * and closes. Off by default (a public node should not be a traffic
 * generator). Uses only the public stream API. Payload bytes follow the
 * pattern byte i = i mod 251, so both ends can check what they got. */
#include <stdlib.h>
#include <string.h>

#include "shoal.h"
#include "node/thread.h"

#define PERF_PROTOCOL "/perf/1.0.0"
#define PERF_CHUNK (64 * 1024)

/* One chunk of the pattern from any offset: a window into a buffer that
 * holds two periods, so every offset mod 251 starts a full chunk. */
static uint8_t pattern[PERF_CHUNK + 251];
static uv_once_t pattern_once = UV_ONCE_INIT;

static void pattern_fill(void)
{
    size_t i;

    for (i = 0; i < sizeof(pattern); i++)
        pattern[i] = (uint8_t)(i % 251);
}

static const uint8_t *pattern_at(uint64_t offset)
{
    uv_once(&pattern_once, pattern_fill);
    return pattern + offset % 251;
}

/* Writes from *sent toward total as far as the stream takes. Returns 1 when
 * all is written, 0 when it must wait for writable, <0 on error. */
static int send_pattern(shoal_stream *s, uint64_t *sent, uint64_t total)
{
    while (*sent < total) {
        size_t n = total - *sent < PERF_CHUNK ? (size_t)(total - *sent)
                                              : PERF_CHUNK;
        size_t room = shoal_stream_write_space(s);
        int rc;
        if (room != 0 && n > room)
            n = room; /* with no room at all, the write below fails and
                       * so asks for writable() */
        if ((rc = shoal_stream_write(s, pattern_at(*sent), n)) < 0)
            return rc == SHOAL_ENOBUFS ? 0 : rc;
        *sent += n;
    }
    return 1;
}

/* ---------------------------------------------------------------- server */
typedef struct perf_serve {
    uint8_t header[8];
    size_t header_got;
    uint64_t want, sent, received;
    int sending;
} perf_serve;

static void serve_pump(shoal_stream *s, perf_serve *ps)
{
    int rc = send_pattern(s, &ps->sent, ps->want);

    if (rc < 0)
        shoal_stream_reset(s);
    else if (rc == 1)
        shoal_stream_close(s);
}

static void serve_data(shoal_stream *s, const uint8_t *data, size_t len,
                       void *user)
{
    perf_serve *ps = user;
    size_t n;

    (void)s;
    if (ps->header_got < 8) {
        n = 8 - ps->header_got < len ? 8 - ps->header_got : len;
        memcpy(ps->header + ps->header_got, data, n);
        ps->header_got += n;
        len -= n;
    }
    ps->received += len;
}

static void serve_eof(shoal_stream *s, void *user)
{
    perf_serve *ps = user;
    int i;

    if (ps->header_got < 8) {
        shoal_stream_reset(s);
        return;
    }
    for (i = 0; i < 8; i++)
        ps->want = (ps->want << 8) | ps->header[i];
    ps->sending = 1;
    serve_pump(s, ps);
}

static void serve_writable(shoal_stream *s, void *user)
{
    perf_serve *ps = user;

    if (ps->sending)
        serve_pump(s, ps);
}

static void serve_closed(shoal_stream *s, int status, void *user)
{
    (void)s;
    (void)status;
    free(user);
}

static void on_perf_stream(shoal_stream *s, void *user)
{
    static const shoal_stream_cbs cbs = {.data = serve_data,
                                         .eof = serve_eof,
                                         .writable = serve_writable,
                                         .closed = serve_closed};
    perf_serve *ps = calloc(1, sizeof(*ps));

    (void)user;
    if (ps != NULL)
        shoal_stream_set_cbs(s, &cbs, ps);
}

int shoal_perf_serve(shoal_node *node)
{
    SHOAL_LOOP_ONLY(node, SHOAL_EBUSY);
    return shoal_protocol_handle(node, PERF_PROTOCOL, on_perf_stream, NULL);
}

/* ---------------------------------------------------------------- client */
typedef struct perf_call {
    shoal_node *node;
    shoal_perf_cb cb;
    void *user;
    uint64_t upload, download, sent, received;
    uint64_t started, upload_done;
    int bad;
    int reported;
} perf_call;

static void call_report(perf_call *c, int status)
{
    shoal_perf_result r;

    if (c->reported)
        return;
    c->reported = 1;
    memset(&r, 0, sizeof(r));
    r.uploaded = c->sent;
    r.downloaded = c->received;
    r.upload_ns = c->upload_done ? c->upload_done - c->started : 0;
    r.total_ns = uv_hrtime() - c->started;
    if (status == 0 && (c->bad || c->received != c->download))
        status = SHOAL_EPROTO;
    c->cb(c->node, status, &r, c->user);
}

static void call_pump(shoal_stream *s, perf_call *c)
{
    int rc = send_pattern(s, &c->sent, c->upload);

    if (rc < 0) {
        call_report(c, rc);
        shoal_stream_reset(s);
    } else if (rc == 1 && !c->upload_done) {
        c->upload_done = uv_hrtime();
        shoal_stream_close(s);
    }
}

static void call_data(shoal_stream *s, const uint8_t *data, size_t len,
                      void *user)
{
    perf_call *c = user;

    (void)s;
    while (len > 0) {
        size_t n = len < PERF_CHUNK ? len : PERF_CHUNK;
        if (memcmp(data, pattern_at(c->received), n) != 0)
            c->bad = 1;
        c->received += n;
        data += n;
        len -= n;
    }
}

static void call_writable(shoal_stream *s, void *user)
{
    call_pump(s, user);
}

static void call_closed(shoal_stream *s, int status, void *user)
{
    perf_call *c = user;

    (void)s;
    call_report(c, status);
    free(c);
}

static void call_open(shoal_stream *s, int status, void *user)
{
    static const shoal_stream_cbs cbs = {.data = call_data,
                                         .writable = call_writable,
                                         .closed = call_closed};
    perf_call *c = user;
    uint8_t header[8];
    int i;

    if (s == NULL) {
        call_report(c, status);
        free(c);
        return;
    }
    shoal_stream_set_cbs(s, &cbs, c);
    for (i = 0; i < 8; i++)
        header[i] = (uint8_t)(c->download >> (56 - 8 * i));
    c->started = uv_hrtime();
    if ((status = shoal_stream_write(s, header, 8)) < 0) {
        call_report(c, status);
        shoal_stream_reset(s);
        return;
    }
    call_pump(s, c);
}

int shoal_perf(shoal_node *node, const char *addr, uint64_t upload,
               uint64_t download, shoal_perf_cb cb, void *user)
{
    SHOAL_LOOP_ONLY(node, SHOAL_EBUSY);
    perf_call *c;
    int rc;

    if (cb == NULL)
        return SHOAL_EINVAL;
    if ((c = calloc(1, sizeof(*c))) == NULL)
        return SHOAL_ENOMEM;
    c->node = node;
    c->cb = cb;
    c->user = user;
    c->upload = upload;
    c->download = download;
    if ((rc = shoal_stream_open(node, addr, PERF_PROTOCOL, call_open, c)) <
        0)
        free(c);
    return rc;
}
