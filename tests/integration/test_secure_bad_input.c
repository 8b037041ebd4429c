/* Secure mode under attack. One node (the victim) with small limits runs on
 * its own loop thread; a hand-made libp2p dialer on the test thread, built
 * from the network-free modules (multistream-select, the Noise core, yamux
 * frame headers) over a blocking socket, deviates from the protocol at
 * chosen moments: a handshake that stops halfway, a bad signature, a stream
 * flood, a window violation, frames too large or malformed, garbage, idle
 * connections, too many connections. Each case checks the reason the node
 * logged (through its log hook), its counters, and that a well-behaved
 * shoal client (a second node on another thread) is still served. */
#define _GNU_SOURCE
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "itest.h"
#include "mux/yamux.h"
#include "secure/multistream.h"
#include "secure/noise.h"
#include "shoal.h"

#define HANDSHAKE_MS 300
#define IDLE_MS 500
#define MAX_STREAMS 16
#define MAX_CONNECTIONS 32
#define DEADLINE_MS 10000 /* no step of a case may take longer than this */
#define ECHO_PROTO "/test/echo/1.0.0"
#define WINDOW SHOAL_YAMUX_INITIAL_WINDOW

/* ================================================== the nodes' side */

typedef struct runner {
    shoal_node *node;
    uv_thread_t thread;
    volatile int returned;
    int rc;
} runner;

typedef struct victim {
    runner v, good;
    char addr[512];        /* the victim's multiaddr with its peer id */
    const char *peer_id;   /* the victim's, immutable once created */

    uv_mutex_t log_lock;
    char **lines;
    size_t nlines, cap;

    volatile int echo_errors; /* written on the victim's loop thread */
} victim;

static void on_log(int level, const char *line, void *user)
{
    victim *v = user;

    (void)level;
    uv_mutex_lock(&v->log_lock);
    if (v->nlines == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 256;
        char **grown = realloc(v->lines, cap * sizeof(*grown));
        if (grown == NULL) {
            uv_mutex_unlock(&v->log_lock);
            return;
        }
        v->lines = grown;
        v->cap = cap;
    }
    if ((v->lines[v->nlines] = strdup(line)) != NULL)
        v->nlines++;
    if (getenv("SHOAL_DEBUG") != NULL)
        fprintf(stderr, "victim: %s\n", line);
    uv_mutex_unlock(&v->log_lock);
}

/* An echo protocol on streams: what arrives goes back; EOF closes. */
static void echo_data(shoal_stream *s, const uint8_t *data, size_t len,
                      void *user)
{
    victim *v = user;

    if (shoal_stream_write(s, data, len) != 0)
        v->echo_errors++;
}

static void echo_eof(shoal_stream *s, void *user)
{
    (void)user;
    shoal_stream_close(s);
}

static void on_echo_stream(shoal_stream *s, void *user)
{
    static const shoal_stream_cbs cbs = {.data = echo_data, .eof = echo_eof};

    shoal_stream_set_cbs(s, &cbs, user);
}

/* And as a typed message. */
static void on_echo_msg(shoal_req *req, const shoal_msg *msg, void *user)
{
    (void)user;
    shoal_reply(req, "REPL", msg->data, msg->len);
}

static void run_node(void *arg)
{
    runner *r = arg;

    r->rc = shoal_node_run(r->node);
    r->returned = 1;
}

typedef struct limits {
    uint32_t handshake_ms;
    uint32_t idle_ms;
    size_t max_connections;
} limits;

static int setup_with(void **state, const limits *l)
{
    victim *v = calloc(1, sizeof(*v));
    shoal_config cfg;

    assert_non_null(v);
    uv_mutex_init(&v->log_lock);

    shoal_config_init(&cfg);
    cfg.classic = 0;
    cfg.listen = "127.0.0.1:0";
    cfg.handshake_timeout_ms = l->handshake_ms;
    cfg.idle_timeout_ms = l->idle_ms;
    cfg.max_streams = MAX_STREAMS;
    cfg.max_connections = l->max_connections;
    cfg.handle_signals = 0;
    cfg.log_level = SHOAL_LOG_DEBUG; /* "idle" is a debug line */
    cfg.log_interval_ms = 0; /* every line: each case finds its own */
    cfg.log_cb = on_log;
    cfg.log_user = v;
    assert_int_equal(shoal_node_new(&v->v.node, NULL, &cfg), 0);
    assert_int_equal(
        shoal_protocol_handle(v->v.node, ECHO_PROTO, on_echo_stream, v), 0);
    assert_int_equal(shoal_handle(v->v.node, "ECHO", on_echo_msg, NULL), 0);
    v->peer_id = shoal_node_peer_id(v->v.node);
    snprintf(v->addr, sizeof(v->addr), "/ip4/127.0.0.1/tcp/%d/p2p/%s",
             shoal_node_port(v->v.node), v->peer_id);

    /* The well-behaved client closes its idle connections well before the
     * victim would, so that a request never races the victim's idle close. */
    shoal_config_init(&cfg);
    cfg.classic = 0;
    cfg.idle_timeout_ms = 100;
    cfg.handle_signals = 0;
    cfg.log_level = getenv("SHOAL_DEBUG") ? SHOAL_LOG_DEBUG : SHOAL_LOG_ERROR;
    assert_int_equal(shoal_node_new(&v->good.node, NULL, &cfg), 0);

    assert_int_equal(uv_thread_create(&v->v.thread, run_node, &v->v), 0);
    assert_int_equal(uv_thread_create(&v->good.thread, run_node, &v->good),
                     0);
    *state = v;
    return 0;
}

static int setup(void **state)
{
    static const limits l = {HANDSHAKE_MS, IDLE_MS, MAX_CONNECTIONS};

    return setup_with(state, &l);
}

#define LIMIT_CONNECTIONS 4
static int setup_few_connections(void **state)
{
    /* silent connections must outlive the steps that count them */
    static const limits l = {5000, IDLE_MS, LIMIT_CONNECTIONS};

    return setup_with(state, &l);
}

/* Polls a flag for at most ms. */
static int wait_flag(volatile int *flag, uint32_t ms)
{
    uint64_t end = itest_now_ms() + ms;

    while (!*flag) {
        if (itest_now_ms() > end)
            return 0;
        uv_sleep(2);
    }
    return 1;
}

static void runner_stop(runner *r)
{
    shoal_node_stop(r->node);
    if (!wait_flag(&r->returned, DEADLINE_MS)) {
        fprintf(stderr, "test_secure_bad_input: a node did not stop\n");
        abort();
    }
    uv_thread_join(&r->thread);
    assert_int_equal(r->rc, 0);
    shoal_node_free(r->node);
}

static int teardown(void **state)
{
    victim *v = *state;
    size_t i;

    runner_stop(&v->good);
    runner_stop(&v->v);
    assert_int_equal(v->echo_errors, 0);
    for (i = 0; i < v->nlines; i++)
        free(v->lines[i]);
    free(v->lines);
    uv_mutex_destroy(&v->log_lock);
    free(v);
    return 0;
}

/* ------------------------------------------- reaching into the loops */

/* A call posted to a node's loop thread, waited for on this one. */
typedef struct loop_call {
    uv_mutex_t lock;
    uv_cond_t cond;
    int done;
    int status;
    shoal_stats st;
    const char *addr;
} loop_call;

static void call_init(loop_call *c)
{
    memset(c, 0, sizeof(*c));
    uv_mutex_init(&c->lock);
    uv_cond_init(&c->cond);
}

static void call_finish(loop_call *c, int status)
{
    uv_mutex_lock(&c->lock);
    c->status = status;
    c->done = 1;
    uv_cond_signal(&c->cond);
    uv_mutex_unlock(&c->lock);
}

/* Waits for the call; it lives on the caller's stack, so this never leaves
 * while the loop may still touch it. */
static void call_wait(loop_call *c)
{
    uint64_t end = itest_now_ms() + DEADLINE_MS;

    uv_mutex_lock(&c->lock);
    while (!c->done) {
        if (itest_now_ms() > end) {
            fprintf(stderr, "test_secure_bad_input: a loop does not answer\n");
            abort();
        }
        uv_cond_timedwait(&c->cond, &c->lock, 100 * 1000000ull);
    }
    uv_mutex_unlock(&c->lock);
    uv_cond_destroy(&c->cond);
    uv_mutex_destroy(&c->lock);
}

static void stats_on_loop(shoal_node *node, void *user)
{
    loop_call *c = user;

    shoal_node_stats(node, &c->st);
    call_finish(c, 0);
}

/* The victim's counters, read on its loop thread. */
static shoal_stats get_stats(victim *v)
{
    loop_call c;

    call_init(&c);
    if (shoal_post(v->v.node, stats_on_loop, &c) != 0) {
        fprintf(stderr, "test_secure_bad_input: cannot post\n");
        abort();
    }
    call_wait(&c);
    return c.st;
}

static void on_pong(shoal_node *node, int status, uint64_t rtt_us, void *user)
{
    (void)node;
    (void)rtt_us;
    call_finish(user, status);
}

static void ping_on_loop(shoal_node *node, void *user)
{
    loop_call *c = user;
    int rc = shoal_ping(node, c->addr, 5000, on_pong, c);

    if (rc < 0)
        call_finish(c, rc);
}

/* ------------------------------------------------------- the node's log */

static size_t count_log2(victim *v, const char *a, const char *b)
{
    size_t i, n = 0;

    uv_mutex_lock(&v->log_lock);
    for (i = 0; i < v->nlines; i++)
        if (strstr(v->lines[i], a) != NULL &&
            (b == NULL || strstr(v->lines[i], b) != NULL))
            n++;
    uv_mutex_unlock(&v->log_lock);
    return n;
}

static void dump_log(victim *v)
{
    size_t i;

    uv_mutex_lock(&v->log_lock);
    for (i = 0; i < v->nlines; i++)
        fprintf(stderr, "  log: %s\n", v->lines[i]);
    uv_mutex_unlock(&v->log_lock);
}

/* Waits until at least want lines hold both texts (b may be NULL). */
static void expect_log2(victim *v, const char *a, const char *b, size_t want)
{
    uint64_t end = itest_now_ms() + DEADLINE_MS;

    while (count_log2(v, a, b) < want) {
        if (itest_now_ms() > end) {
            dump_log(v);
            fail_msg("expected %zu log line(s) with '%s' and '%s', saw %zu",
                     want, a, b ? b : "", count_log2(v, a, b));
        }
        uv_sleep(2);
    }
}

static void expect_dropped(victim *v, uint64_t want)
{
    uint64_t end = itest_now_ms() + DEADLINE_MS;
    shoal_stats st;

    while ((st = get_stats(v)).dropped != want) {
        if (itest_now_ms() > end) {
            dump_log(v);
            fail_msg("dropped is %llu, expected %llu",
                     (unsigned long long)st.dropped,
                     (unsigned long long)want);
        }
        uv_sleep(2);
    }
}

static void expect_connections(victim *v, size_t want)
{
    uint64_t end = itest_now_ms() + DEADLINE_MS;
    shoal_stats st;

    while ((st = get_stats(v)).connections != want) {
        if (itest_now_ms() > end) {
            dump_log(v);
            fail_msg("%zu connections, expected %zu", st.connections, want);
        }
        uv_sleep(2);
    }
}

/* ------------------------------------------------------ the good client */

/* A typed request and a ping, from the well-behaved node. */
static void assert_served(victim *v)
{
    static const char text[] = "well-behaved";
    shoal_replies r;
    loop_call c;
    int rc;

    rc = shoal_request_sync(v->good.node, v->addr, "ECHO", text,
                            sizeof(text) - 1, 5000, &r);
    if (rc != 0 || r.count != 1 || strcmp(r.msgs[0].type, "REPL") != 0 ||
        r.msgs[0].len != sizeof(text) - 1 ||
        memcmp(r.msgs[0].data, text, sizeof(text) - 1) != 0) {
        shoal_replies_free(&r);
        dump_log(v);
        fail_msg("the well-behaved request was not served: %s",
                 shoal_strerror(rc));
    }
    shoal_replies_free(&r);

    call_init(&c);
    c.addr = v->addr;
    assert_int_equal(shoal_post(v->good.node, ping_on_loop, &c), 0);
    call_wait(&c);
    if (c.status != 0) {
        dump_log(v);
        fail_msg("the well-behaved ping failed: %s", shoal_strerror(c.status));
    }
}

/* ================================================== the attacker's side */

#define ATK_IDS 128 /* stream ids below this are tracked one by one */

typedef struct atk_stream {
    int acked, rst, fin;
    uint64_t window;    /* window granted by Window Updates */
    shoal_outbuf in;    /* data received */
} atk_stream;

typedef struct atk {
    int fd;
    char tag[64];          /* "addr=/ip4/127.0.0.1/tcp/PORT ", as logged */
    uint8_t raw[128 * 1024];
    size_t rlen;
    int eof;               /* the node closed (or reset) the connection */
    shoal_identity id;
    shoal_noise_hs hs;
    shoal_noise_cipher tx, rx;
    shoal_outbuf plain;    /* decrypted, not yet parsed */
    int go_away;
    uint32_t go_away_code;
    unsigned pings;
    unsigned rst_total;
    atk_stream st[ATK_IDS];
} atk;

static atk *atk_new(victim *v)
{
    atk *a = calloc(1, sizeof(*a));
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);

    assert_non_null(a);
    a->fd = itest_connect(shoal_node_port(v->v.node), DEADLINE_MS);
    assert_true(a->fd >= 0);
    assert_int_equal(getsockname(a->fd, (struct sockaddr *)&sa, &len), 0);
    snprintf(a->tag, sizeof(a->tag), "addr=/ip4/127.0.0.1/tcp/%d ",
             ntohs(sa.sin_port));
    assert_int_equal(shoal_identity_generate(&a->id), 0);
    shoal_outbuf_init(&a->plain);
    return a;
}

static void atk_free(atk *a)
{
    size_t i;

    if (a->fd >= 0)
        close(a->fd);
    for (i = 0; i < ATK_IDS; i++)
        shoal_outbuf_free(&a->st[i].in);
    shoal_outbuf_free(&a->plain);
    shoal_noise_hs_wipe(&a->hs);
    shoal_noise_cipher_wipe(&a->tx);
    shoal_noise_cipher_wipe(&a->rx);
    sodium_memzero(a, sizeof(*a));
    free(a);
}

static int atk_send(atk *a, const void *data, size_t len)
{
    return itest_send_all(a->fd, data, len);
}

/* One read into raw. 1: bytes came, 0: end of stream, -1: timeout. */
static int atk_fill(atk *a, uint64_t deadline)
{
    for (;;) {
        struct pollfd p = {a->fd, POLLIN, 0};
        uint64_t now = itest_now_ms();
        ssize_t n;
        int r;

        if (a->eof)
            return 0;
        if (a->rlen == sizeof(a->raw) || now >= deadline)
            return -1;
        r = poll(&p, 1, (int)(deadline - now));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        n = recv(a->fd, a->raw + a->rlen, sizeof(a->raw) - a->rlen,
                 MSG_DONTWAIT);
        if (n > 0) {
            a->rlen += (size_t)n;
            return 1;
        }
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK &&
                       errno != EINTR)) {
            a->eof = 1; /* end of stream, or reset */
            return 0;
        }
    }
}

static void atk_consume_raw(atk *a, size_t n)
{
    memmove(a->raw, a->raw + n, a->rlen - n);
    a->rlen -= n;
}

/* Takes exactly n raw bytes. 0, or -1 (end of stream or timeout). */
static int atk_take(atk *a, uint8_t *out, size_t n, uint64_t deadline)
{
    while (a->rlen < n)
        if (atk_fill(a, deadline) <= 0)
            return -1;
    memcpy(out, a->raw, n);
    atk_consume_raw(a, n);
    return 0;
}

/* Reads and throws away until the node closes. 1 when it did. */
static int atk_wait_closed_raw(atk *a, uint32_t ms)
{
    uint64_t end = itest_now_ms() + ms;

    for (;;) {
        int r = atk_fill(a, end);
        a->rlen = 0;
        if (r == 0)
            return 1;
        if (r < 0)
            return 0;
    }
}

/* ---------------------------------------------------- multistream, raw */

static void atk_mss_send(atk *a, const char *const *texts, size_t n)
{
    shoal_outbuf o;
    size_t i;

    shoal_outbuf_init(&o);
    for (i = 0; i < n; i++)
        assert_int_equal(shoal_mss_encode(&o, texts[i]), 0);
    assert_int_equal(atk_send(a, o.data, o.len), 0);
    shoal_outbuf_free(&o);
}

/* Reads one multistream message from the raw stream into out. */
static int atk_mss_read(atk *a, char *out, size_t size)
{
    uint64_t end = itest_now_ms() + DEADLINE_MS;
    shoal_mss_reader r;

    shoal_mss_reader_init(&r);
    for (;;) {
        size_t used = 0;
        int rc = 0;

        if (a->rlen > 0) {
            rc = shoal_mss_reader_feed(&r, a->raw, a->rlen, &used);
            atk_consume_raw(a, used);
        }
        if (rc < 0)
            return rc;
        if (rc == SHOAL_MSS_MSG) {
            snprintf(out, size, "%s", r.text);
            return 0;
        }
        if (atk_fill(a, end) <= 0)
            return -1;
    }
}

static void atk_expect_mss(atk *a, const char *want)
{
    char text[SHOAL_MSS_MSG_MAX + 1];

    assert_int_equal(atk_mss_read(a, text, sizeof(text)), 0);
    assert_string_equal(text, want);
}

/* --------------------------------------------------------------- Noise */

/* Agrees on /noise and sends Noise message 1 (-> e). */
static void atk_noise_begin(atk *a)
{
    static const char *const hello[] = {SHOAL_MSS_HEADER,
                                        SHOAL_NOISE_PROTOCOL_ID};
    uint8_t s_sk[SHOAL_NOISE_KEY], msg[2 + 64];
    size_t len = 0;

    atk_mss_send(a, hello, 2);
    atk_expect_mss(a, SHOAL_MSS_HEADER);
    atk_expect_mss(a, SHOAL_NOISE_PROTOCOL_ID);
    randombytes_buf(s_sk, sizeof(s_sk));
    assert_int_equal(shoal_noise_hs_init(&a->hs, 1, NULL, 0, s_sk, NULL), 0);
    sodium_memzero(s_sk, sizeof(s_sk));
    assert_int_equal(shoal_noise_hs_write(&a->hs, NULL, 0, msg + 2,
                                          sizeof(msg) - 2, &len), 0);
    msg[0] = (uint8_t)(len >> 8);
    msg[1] = (uint8_t)len;
    assert_int_equal(atk_send(a, msg, 2 + len), 0);
}

/* Reads Noise message 2 (<- e, ee, s, es) and checks the victim's proof. */
static void atk_noise_read_msg2(atk *a, const char *peer_id)
{
    uint64_t end = itest_now_ms() + DEADLINE_MS;
    uint8_t hdr[2], *msg, payload[1024], idpk[SHOAL_ED25519_PK];
    char text[SHOAL_PEERID_TEXT_MAX];
    shoal_peerid pid;
    size_t len, plen = 0;

    assert_int_equal(atk_take(a, hdr, 2, end), 0);
    len = ((size_t)hdr[0] << 8) | hdr[1];
    assert_true(len <= sizeof(payload));
    msg = malloc(len);
    assert_non_null(msg);
    assert_int_equal(atk_take(a, msg, len, end), 0);
    assert_int_equal(shoal_noise_hs_read(&a->hs, msg, len, payload,
                                         sizeof(payload), &plen), 0);
    free(msg);
    assert_int_equal(shoal_noise_payload_verify(payload, plen, a->hs.rs, idpk),
                     0);
    shoal_peerid_from_pubkey(idpk, &pid);
    assert_true(shoal_peerid_format(&pid, text, sizeof(text)) > 0);
    assert_string_equal(text, peer_id);
}

/* What the attacker's handshake payload says. */
enum sig_mode {
    SIG_GOOD,          /* a proper payload */
    SIG_FLIPPED,       /* one bit of the signature flipped */
    SIG_OTHER_STATIC,  /* a valid signature, over another static key */
    SIG_IMPOSTOR,      /* someone else's identity key, our signature */
    SIG_EMPTY,         /* no payload at all */
    SIG_JUNK,          /* bytes that are no protobuf */
};

/* The NoiseHandshakePayload is 0a 24 <PublicKey: 08 01 12 20 pk[32]>
 * 12 40 <sig[64]>: the key at 6, the signature at 40. */
#define PAYLOAD_PK_AT 6
#define PAYLOAD_SIG_AT 40
#define PAYLOAD_LEN 104

/* Sends Noise message 3 (-> s, se) carrying a payload made as mode says,
 * and derives the transport keys. */
static void atk_noise_finish(atk *a, enum sig_mode mode)
{
    uint8_t payload[256], msg[512], other[SHOAL_NOISE_KEY];
    shoal_identity someone;
    size_t plen = 0, len = 0;
    int n;

    switch (mode) {
    case SIG_OTHER_STATIC:
        randombytes_buf(other, sizeof(other));
        n = shoal_noise_payload_encode(&a->id, other, payload,
                                       sizeof(payload));
        break;
    default:
        n = shoal_noise_payload_encode(&a->id, a->hs.s_pk, payload,
                                       sizeof(payload));
        break;
    }
    assert_int_equal(n, PAYLOAD_LEN);
    plen = (size_t)n;
    assert_memory_equal(payload + PAYLOAD_PK_AT, a->id.pk, SHOAL_ED25519_PK);
    switch (mode) {
    case SIG_FLIPPED:
        payload[PAYLOAD_SIG_AT + 17] ^= 0x01;
        break;
    case SIG_IMPOSTOR:
        assert_int_equal(shoal_identity_generate(&someone), 0);
        memcpy(payload + PAYLOAD_PK_AT, someone.pk, SHOAL_ED25519_PK);
        break;
    case SIG_EMPTY:
        plen = 0;
        break;
    case SIG_JUNK:
        memset(payload, 0xff, 40);
        plen = 40;
        break;
    default:
        break;
    }
    assert_int_equal(shoal_noise_hs_write(&a->hs, payload, plen, msg + 2,
                                          sizeof(msg) - 2, &len), 0);
    msg[0] = (uint8_t)(len >> 8);
    msg[1] = (uint8_t)len;
    assert_int_equal(atk_send(a, msg, 2 + len), 0);
    assert_int_equal(shoal_noise_hs_split(&a->hs, &a->tx, &a->rx), 0);
}

/* Encrypts pt into transport frames and sends them. */
static void atk_send_plain(atk *a, const void *pt, size_t len)
{
    const uint8_t *p = pt;
    shoal_outbuf o;

    shoal_outbuf_init(&o);
    while (len > 0) {
        size_t k = len < SHOAL_NOISE_PLAINTEXT_MAX ? len
                                                   : SHOAL_NOISE_PLAINTEXT_MAX;
        size_t clen = k + SHOAL_NOISE_TAG;
        assert_int_equal(shoal_outbuf_reserve(&o, 2 + clen), 0);
        o.data[o.len] = (uint8_t)(clen >> 8);
        o.data[o.len + 1] = (uint8_t)clen;
        assert_int_equal(shoal_noise_cipher_encrypt(&a->tx, NULL, 0, p, k,
                                                    o.data + o.len + 2), 0);
        o.len += 2 + clen;
        p += k;
        len -= k;
    }
    assert_int_equal(atk_send(a, o.data, o.len), 0);
    shoal_outbuf_free(&o);
}

/* Reads one transport frame and appends its plaintext to a->plain.
 * 0, or -1 (end of stream or timeout). A frame from the victim that does
 * not decrypt fails the test. */
static int atk_read_frame(atk *a, uint64_t deadline)
{
    uint8_t hdr[2], *ct;
    size_t len;

    if (atk_take(a, hdr, 2, deadline) < 0)
        return -1;
    len = ((size_t)hdr[0] << 8) | hdr[1];
    assert_true(len >= SHOAL_NOISE_TAG);
    ct = malloc(len);
    assert_non_null(ct);
    if (atk_take(a, ct, len, deadline) < 0) {
        free(ct);
        return -1;
    }
    assert_int_equal(shoal_outbuf_reserve(&a->plain, len), 0);
    assert_int_equal(shoal_noise_cipher_decrypt(&a->rx, NULL, 0, ct, len,
                                                a->plain.data + a->plain.len),
                     0);
    a->plain.len += len - SHOAL_NOISE_TAG;
    free(ct);
    return 0;
}

/* Reads one multistream message from the decrypted stream. */
static void atk_expect_mss_plain(atk *a, const char *want)
{
    uint64_t end = itest_now_ms() + DEADLINE_MS;
    shoal_mss_reader r;

    shoal_mss_reader_init(&r);
    for (;;) {
        size_t used = 0;
        int rc = 0;

        if (a->plain.len > 0) {
            rc = shoal_mss_reader_feed(&r, a->plain.data, a->plain.len,
                                       &used);
            shoal_outbuf_consume(&a->plain, used);
        }
        assert_true(rc >= 0);
        if (rc == SHOAL_MSS_MSG) {
            assert_string_equal(r.text, want);
            return;
        }
        assert_int_equal(atk_read_frame(a, end), 0);
    }
}

/* The secured part of the upgrade: multistream-select for yamux. */
static void atk_pick_yamux(atk *a)
{
    shoal_outbuf o;

    /* the victim, as listener, speaks first once secured */
    atk_expect_mss_plain(a, SHOAL_MSS_HEADER);
    shoal_outbuf_init(&o);
    assert_int_equal(shoal_mss_encode(&o, SHOAL_MSS_HEADER), 0);
    assert_int_equal(shoal_mss_encode(&o, "/yamux/1.0.0"), 0);
    atk_send_plain(a, o.data, o.len);
    shoal_outbuf_free(&o);
    atk_expect_mss_plain(a, "/yamux/1.0.0");
}

/* A connection upgraded all the way: yamux is running. */
static atk *atk_upgraded(victim *v)
{
    atk *a = atk_new(v);

    atk_noise_begin(a);
    atk_noise_read_msg2(a, v->peer_id);
    atk_noise_finish(a, SIG_GOOD);
    atk_pick_yamux(a);
    return a;
}

/* ---------------------------------------------------------------- yamux */

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

/* Sends a frame whose header says len and which carries plen bytes. */
static void atk_frame(atk *a, uint8_t type, uint16_t flags, uint32_t id,
                      uint32_t len, const void *payload, size_t plen)
{
    uint8_t *buf = malloc(SHOAL_YAMUX_HEADER + plen);

    assert_non_null(buf);
    shoal_yamux_header_encode(buf, type, flags, id, len);
    if (plen)
        memcpy(buf + SHOAL_YAMUX_HEADER, payload, plen);
    atk_send_plain(a, buf, SHOAL_YAMUX_HEADER + plen);
    free(buf);
}

static void atk_data(atk *a, uint16_t flags, uint32_t id, const void *data,
                     size_t len)
{
    atk_frame(a, SHOAL_YAMUX_DATA, flags, id, (uint32_t)len, data, len);
}

/* Reads the next frame from the victim and records it; answers pings.
 * 0, or -1 (end of stream or timeout). */
static int atk_next(atk *a, uint64_t deadline)
{
    const uint8_t *h;
    uint8_t type;
    uint16_t flags;
    uint32_t id, len;
    size_t need;
    atk_stream *st;

    while (a->plain.len < SHOAL_YAMUX_HEADER)
        if (atk_read_frame(a, deadline) < 0)
            return -1;
    h = a->plain.data;
    assert_int_equal(h[0], SHOAL_YAMUX_VERSION);
    type = h[1];
    flags = (uint16_t)(h[2] << 8 | h[3]);
    id = get32(h + 4);
    len = get32(h + 8);
    need = SHOAL_YAMUX_HEADER + (type == SHOAL_YAMUX_DATA ? len : 0);
    while (a->plain.len < need)
        if (atk_read_frame(a, deadline) < 0)
            return -1;
    h = a->plain.data;
    st = id != 0 && id < ATK_IDS ? &a->st[id] : NULL;
    switch (type) {
    case SHOAL_YAMUX_DATA:
    case SHOAL_YAMUX_WINDOW_UPDATE:
        assert_true(id != 0);
        if (flags & SHOAL_YAMUX_RST)
            a->rst_total++;
        if (st == NULL)
            break;
        if (flags & SHOAL_YAMUX_ACK)
            st->acked = 1;
        if (flags & SHOAL_YAMUX_RST)
            st->rst = 1;
        if (flags & SHOAL_YAMUX_FIN)
            st->fin = 1;
        if (type == SHOAL_YAMUX_WINDOW_UPDATE)
            st->window += len;
        else if (len > 0)
            assert_int_equal(shoal_outbuf_append(&st->in,
                                                 h + SHOAL_YAMUX_HEADER, len),
                             0);
        break;
    case SHOAL_YAMUX_PING:
        a->pings++;
        if (flags & SHOAL_YAMUX_SYN)
            atk_frame(a, SHOAL_YAMUX_PING, SHOAL_YAMUX_ACK, 0, len, NULL, 0);
        break;
    case SHOAL_YAMUX_GO_AWAY:
        a->go_away = 1;
        a->go_away_code = len;
        break;
    default:
        fail_msg("the victim sent a yamux frame of type %u", type);
    }
    shoal_outbuf_consume(&a->plain, need);
    return 0;
}

typedef int (*atk_cond)(atk *a, const void *arg);

/* Reads frames until cond holds, the connection ends, or ms pass.
 * Returns whether cond holds. */
static int atk_pump(atk *a, atk_cond cond, const void *arg, uint32_t ms)
{
    uint64_t end = itest_now_ms() + ms;

    while (!cond(a, arg))
        if (atk_next(a, end) < 0)
            break;
    return cond(a, arg);
}

static int cond_eof(atk *a, const void *arg)
{
    (void)arg;
    return a->eof;
}

static int cond_never(atk *a, const void *arg)
{
    (void)a;
    (void)arg;
    return 0;
}

typedef struct want_bytes {
    uint32_t id;
    size_t len;
} want_bytes;

static int cond_bytes(atk *a, const void *arg)
{
    const want_bytes *w = arg;

    return a->st[w->id].in.len >= w->len;
}

static int cond_fin(atk *a, const void *arg)
{
    return a->st[*(const uint32_t *)arg].fin;
}

/* Opens stream id (SYN with the proposal) and agrees on the echo protocol;
 * the stream's input is empty after. */
static void atk_open_echo(atk *a, uint32_t id, int syn)
{
    shoal_outbuf o;
    want_bytes w;

    shoal_outbuf_init(&o);
    assert_int_equal(shoal_mss_encode(&o, SHOAL_MSS_HEADER), 0);
    assert_int_equal(shoal_mss_encode(&o, ECHO_PROTO), 0);
    atk_data(a, syn ? SHOAL_YAMUX_SYN : 0, id, o.data, o.len);
    w.id = id;
    w.len = o.len; /* the listener's header and echo: the same bytes */
    assert_true(atk_pump(a, cond_bytes, &w, DEADLINE_MS));
    assert_true(a->st[id].acked);
    assert_memory_equal(a->st[id].in.data, o.data, o.len);
    shoal_outbuf_consume(&a->st[id].in, o.len);
    shoal_outbuf_free(&o);
}

/* Sends len bytes on an echo stream and checks they come back. */
static void atk_echo(atk *a, uint32_t id, size_t len)
{
    uint8_t *data = malloc(len);
    want_bytes w = {id, len};
    size_t i;

    assert_non_null(data);
    for (i = 0; i < len; i++)
        data[i] = (uint8_t)(i * 31 + id);
    atk_data(a, 0, id, data, len);
    assert_true(atk_pump(a, cond_bytes, &w, DEADLINE_MS));
    assert_int_equal(a->st[id].in.len, len);
    assert_memory_equal(a->st[id].in.data, data, len);
    shoal_outbuf_consume(&a->st[id].in, len);
    free(data);
}

/* The victim must say Go Away (protocol error) and hang up. */
static void atk_expect_go_away(atk *a)
{
    assert_true(atk_pump(a, cond_eof, NULL, DEADLINE_MS));
    assert_true(a->go_away);
    assert_int_equal(a->go_away_code, SHOAL_YAMUX_GO_AWAY_PROTOCOL);
}

/* ================================================================ cases */

/* 1. Handshakes that stop halfway, at every stage: the deadline drops them
 * while the well-behaved client is served. */
static void test_handshake_stops_halfway(void **state)
{
    victim *v = *state;
    shoal_stats before, st;
    atk *a[4];
    uint64_t t0;
    int i;

    assert_served(v);
    before = get_stats(v);
    t0 = itest_now_ms();
    a[0] = atk_new(v);           /* TCP only: not a byte */
    a[1] = atk_new(v);           /* the multistream header, no proposal */
    atk_mss_send(a[1], (const char *const[]){SHOAL_MSS_HEADER}, 1);
    a[2] = atk_new(v);           /* Noise message 1, then silence */
    atk_noise_begin(a[2]);
    atk_noise_read_msg2(a[2], v->peer_id);
    a[3] = atk_new(v);           /* secured, but never picks a muxer */
    atk_noise_begin(a[3]);
    atk_noise_read_msg2(a[3], v->peer_id);
    atk_noise_finish(a[3], SIG_GOOD);
    atk_expect_mss_plain(a[3], SHOAL_MSS_HEADER);

    /* while they hang, others are served */
    assert_served(v);

    for (i = 0; i < 4; i++) {
        assert_true(atk_wait_closed_raw(a[i], DEADLINE_MS));
        /* the first, not before its deadline (give or take the loop's
         * cached clock) */
        if (i == 0)
            assert_true(itest_now_ms() - t0 >= HANDSHAKE_MS - 50);
        expect_log2(v, a[i]->tag, "reason=handshake_timeout", 1);
    }
    expect_log2(v, "session_end", "reason=handshake_timeout", 4);
    expect_dropped(v, before.dropped + 4);
    st = get_stats(v);
    assert_true(st.accepted >= before.accepted + 4);
    for (i = 0; i < 4; i++)
        atk_free(a[i]);
    assert_served(v);
}

/* 2. A dialer whose handshake payload does not prove its identity. */
static void test_bad_signature(void **state)
{
    static const enum sig_mode modes[] = {SIG_FLIPPED, SIG_OTHER_STATIC,
                                          SIG_IMPOSTOR, SIG_EMPTY, SIG_JUNK};
    victim *v = *state;
    shoal_stats before;
    atk *a;
    size_t i;

    /* the attacker's own handshake is right when it plays fair */
    a = atk_upgraded(v);
    atk_open_echo(a, 1, 1);
    atk_echo(a, 1, 100);
    atk_free(a);

    for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        before = get_stats(v);
        a = atk_new(v);
        atk_noise_begin(a);
        atk_noise_read_msg2(a, v->peer_id);
        atk_noise_finish(a, modes[i]);
        /* dropped at message 3: nothing encrypted comes back */
        assert_true(atk_wait_closed_raw(a, DEADLINE_MS));
        expect_log2(v, a->tag, "session_drop", 1);
        expect_log2(v, a->tag, "layer=noise reason=protocol_error", 1);
        expect_dropped(v, before.dropped + 1);
        atk_free(a);
        assert_served(v);
    }
}

/* 3. More streams than max_streams: the extras are refused with RST; the
 * connection and the streams it has go on. */
static void test_stream_flood(void **state)
{
    victim *v = *state;
    shoal_stats before = get_stats(v);
    atk *a = atk_upgraded(v);
    shoal_outbuf o;
    uint32_t id, last = 2 * (MAX_STREAMS + 4) - 1, extra = 500;
    unsigned rst_before;
    int all;

    /* MAX_STREAMS + 4 SYNs at once */
    shoal_outbuf_init(&o);
    for (id = 1; id <= last; id += 2) {
        assert_int_equal(shoal_outbuf_reserve(&o, SHOAL_YAMUX_HEADER), 0);
        shoal_yamux_header_encode(o.data + o.len, SHOAL_YAMUX_WINDOW_UPDATE,
                                  SHOAL_YAMUX_SYN, id, 0);
        o.len += SHOAL_YAMUX_HEADER;
    }
    atk_send_plain(a, o.data, o.len);
    o.len = 0;
    /* every one is answered: ACK (with the multistream header) or RST */
    {
        uint64_t end = itest_now_ms() + DEADLINE_MS;
        do {
            all = 1;
            for (id = 1; id <= last; id += 2)
                if (!a->st[id].acked && !a->st[id].rst)
                    all = 0;
        } while (!all && atk_next(a, end) == 0);
    }
    assert_true(all);
    for (id = 1; id <= last; id += 2) {
        if (id < 2 * MAX_STREAMS) {
            assert_true(a->st[id].acked);
            assert_false(a->st[id].rst);
        } else {
            assert_false(a->st[id].acked);
            assert_true(a->st[id].rst);
        }
    }
    assert_int_equal(a->rst_total, 4);

    /* the accepted streams work: agree on echo on the first (its SYN went
     * out already, and the victim's multistream header came back) and on
     * the last */
    atk_open_echo(a, 1, 0);
    atk_echo(a, 1, 1000);
    atk_open_echo(a, 2 * MAX_STREAMS - 1, 0);
    atk_echo(a, 2 * MAX_STREAMS - 1, 1000);

    /* a stream that ends frees its slot for a new one */
    atk_frame(a, SHOAL_YAMUX_WINDOW_UPDATE, SHOAL_YAMUX_RST, 3, 0, NULL, 0);
    atk_open_echo(a, last + 2, 1);
    atk_echo(a, last + 2, 10);

    /* a flood of SYNs far past the limit: each refused, nothing else */
    rst_before = a->rst_total;
    for (id = last + 4; id < last + 4 + 2 * extra; id += 2) {
        assert_int_equal(shoal_outbuf_reserve(&o, SHOAL_YAMUX_HEADER), 0);
        shoal_yamux_header_encode(o.data + o.len, SHOAL_YAMUX_WINDOW_UPDATE,
                                  SHOAL_YAMUX_SYN, id, 0);
        o.len += SHOAL_YAMUX_HEADER;
    }
    atk_send_plain(a, o.data, o.len);
    shoal_outbuf_free(&o);
    {
        uint64_t end = itest_now_ms() + DEADLINE_MS;
        while (a->rst_total < rst_before + extra && atk_next(a, end) == 0)
            ;
    }
    assert_int_equal(a->rst_total, rst_before + extra);
    /* logged, once: a flood does not flood the log */
    expect_log2(v, "stream_refused", "reason=max_streams", 1);
    assert_int_equal(count_log2(v, "warn stream_refused", NULL), 1);

    /* and during all that, the connection lives and others are served */
    atk_echo(a, 1, 5000);
    assert_served(v);
    atk_echo(a, last + 2, 10);
    assert_false(a->eof);
    assert_int_equal(get_stats(v).dropped, before.dropped);
    atk_free(a);
}

/* 4. More data than the window allows: Go Away (protocol error), then the
 * connection is dropped. */
static void test_window_violation(void **state)
{
    victim *v = *state;
    shoal_stats before;
    uint8_t chunk[1000];
    atk *a;

    memset(chunk, 'w', sizeof(chunk));

    /* on an open stream: a frame announcing the window and one byte more */
    before = get_stats(v);
    a = atk_upgraded(v);
    atk_open_echo(a, 1, 1);
    atk_echo(a, 1, 100);
    atk_frame(a, SHOAL_YAMUX_DATA, 0, 1, WINDOW + 1, chunk, sizeof(chunk));
    atk_expect_go_away(a);
    expect_log2(v, a->tag, "layer=yamux reason=protocol_error", 1);
    expect_dropped(v, before.dropped + 1);
    atk_free(a);
    assert_served(v);

    /* a SYN that comes with more than a window of data */
    before = get_stats(v);
    a = atk_upgraded(v);
    atk_frame(a, SHOAL_YAMUX_DATA, SHOAL_YAMUX_SYN, 1, WINDOW + 1, chunk,
              sizeof(chunk));
    atk_expect_go_away(a);
    expect_log2(v, a->tag, "layer=yamux reason=protocol_error", 1);
    expect_dropped(v, before.dropped + 1);
    atk_free(a);

    /* within the window, a yamux frame of 64 KiB + 1 (over two Noise
     * frames) is fine, and so is a whole window in one frame */
    before = get_stats(v);
    a = atk_upgraded(v);
    atk_open_echo(a, 1, 1);
    atk_echo(a, 1, 64 * 1024 + 1);
    atk_open_echo(a, 3, 1);
    {
        /* the victim consumed the negotiation: a window less those bytes is
         * surely allowed */
        size_t len = WINDOW - 64;
        uint8_t *big = malloc(len);
        want_bytes w = {3, len};
        assert_non_null(big);
        memset(big, 'b', len);
        atk_data(a, 0, 3, big, len);
        /* the echo comes back in window-sized pieces: grant ours */
        atk_frame(a, SHOAL_YAMUX_WINDOW_UPDATE, 0, 3, (uint32_t)len, NULL, 0);
        assert_true(atk_pump(a, cond_bytes, &w, DEADLINE_MS));
        assert_memory_equal(a->st[3].in.data, big, len);
        free(big);
    }
    assert_false(a->go_away);
    assert_int_equal(get_stats(v).dropped, before.dropped);
    atk_free(a);
    assert_served(v);
}

/* 5. Frames too large or malformed, at each layer. */
typedef struct yamux_case {
    const char *what;
    uint8_t version, type;
    uint16_t flags;
    uint32_t id, len;
} yamux_case;

static void test_bad_frames(void **state)
{
    static const yamux_case cases[] = {
        {"version 1", 1, SHOAL_YAMUX_PING, SHOAL_YAMUX_SYN, 0, 7},
        {"unknown type", 0, 7, 0, 1, 0},
        {"data on stream 0", 0, SHOAL_YAMUX_DATA, 0, 0, 0},
        {"ping on a stream", 0, SHOAL_YAMUX_PING, SHOAL_YAMUX_SYN, 1, 7},
        {"SYN with the listener's parity", 0, SHOAL_YAMUX_WINDOW_UPDATE,
         SHOAL_YAMUX_SYN, 2, 0},
        {"window overflow", 0, SHOAL_YAMUX_WINDOW_UPDATE, 0, 1, 0xffffffffu},
    };
    victim *v = *state;
    shoal_stats before;
    uint8_t junk[2048];
    shoal_outbuf o;
    atk *a;
    size_t i;

    memset(junk, 'j', sizeof(junk));
    shoal_outbuf_init(&o);

    /* a multistream message of 1025 bytes (the cap is 1024), before Noise */
    before = get_stats(v);
    a = atk_new(v);
    atk_mss_send(a, (const char *const[]){SHOAL_MSS_HEADER}, 1);
    atk_expect_mss(a, SHOAL_MSS_HEADER);
    assert_int_equal(shoal_varint_encode(SHOAL_MSS_MSG_MAX + 1, junk), 2);
    junk[2 + SHOAL_MSS_MSG_MAX] = '\n';
    itest_send_all(a->fd, junk, 2 + SHOAL_MSS_MSG_MAX + 1);
    assert_true(atk_wait_closed_raw(a, DEADLINE_MS));
    expect_log2(v, a->tag, "layer=security reason=frame_too_large", 1);
    expect_dropped(v, before.dropped + 1);
    atk_free(a);
    memset(junk, 'j', sizeof(junk));

    /* the same inside the encryption, proposing a muxer */
    before = get_stats(v);
    a = atk_new(v);
    atk_noise_begin(a);
    atk_noise_read_msg2(a, v->peer_id);
    atk_noise_finish(a, SIG_GOOD);
    assert_int_equal(shoal_mss_encode(&o, SHOAL_MSS_HEADER), 0);
    assert_int_equal(shoal_outbuf_reserve(&o, 2 + 2000), 0);
    o.len += (size_t)shoal_varint_encode(2000, o.data + o.len);
    memset(o.data + o.len, 'm', 2000);
    o.len += 2000;
    atk_send_plain(a, o.data, o.len);
    o.len = 0;
    assert_true(atk_wait_closed_raw(a, DEADLINE_MS));
    expect_log2(v, a->tag, "layer=muxer reason=frame_too_large", 1);
    expect_dropped(v, before.dropped + 1);
    atk_free(a);

    /* a Noise transport frame shorter than a tag */
    before = get_stats(v);
    a = atk_upgraded(v);
    assert_int_equal(atk_send(a, "\x00\x05hello", 7), 0);
    assert_true(atk_wait_closed_raw(a, DEADLINE_MS));
    expect_log2(v, a->tag, "layer=noise reason=protocol_error", 1);
    expect_dropped(v, before.dropped + 1);
    atk_free(a);

    /* a Noise transport frame whose tag fails (one bit flipped) */
    before = get_stats(v);
    a = atk_upgraded(v);
    {
        uint8_t pt[SHOAL_YAMUX_HEADER], fr[2 + sizeof(pt) + SHOAL_NOISE_TAG];
        shoal_yamux_header_encode(pt, SHOAL_YAMUX_PING, SHOAL_YAMUX_SYN, 0, 1);
        fr[0] = 0;
        fr[1] = sizeof(pt) + SHOAL_NOISE_TAG;
        assert_int_equal(shoal_noise_cipher_encrypt(&a->tx, NULL, 0, pt,
                                                    sizeof(pt), fr + 2), 0);
        fr[5] ^= 0x40;
        assert_int_equal(atk_send(a, fr, sizeof(fr)), 0);
    }
    assert_true(atk_wait_closed_raw(a, DEADLINE_MS));
    expect_log2(v, a->tag, "layer=noise reason=protocol_error", 1);
    expect_dropped(v, before.dropped + 1);
    atk_free(a);

    /* a Noise frame cut short, then silence: a stream is open, so only the
     * connection's end (ours) ends it; meanwhile it does not block others */
    a = atk_upgraded(v);
    atk_open_echo(a, 1, 1);
    assert_int_equal(atk_send(a, "\xff\xff" "abc", 5), 0);
    assert_served(v);
    atk_free(a);

    /* yamux frames the spec does not allow: Go Away, dropped */
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t hdr[SHOAL_YAMUX_HEADER];
        before = get_stats(v);
        a = atk_upgraded(v);
        if (cases[i].id == 1 && cases[i].type != SHOAL_YAMUX_PING)
            atk_open_echo(a, 1, 1);
        shoal_yamux_header_encode(hdr, cases[i].type, cases[i].flags,
                                  cases[i].id, cases[i].len);
        hdr[0] = cases[i].version;
        atk_send_plain(a, hdr, sizeof(hdr));
        if (!atk_pump(a, cond_eof, NULL, DEADLINE_MS) || !a->go_away) {
            dump_log(v);
            fail_msg("%s: no Go Away and close", cases[i].what);
        }
        assert_int_equal(a->go_away_code, SHOAL_YAMUX_GO_AWAY_PROTOCOL);
        expect_log2(v, a->tag, "layer=yamux reason=protocol_error", 1);
        expect_dropped(v, before.dropped + 1);
        atk_free(a);
    }
    shoal_outbuf_free(&o);
    assert_served(v);
}

/* 6. Garbage instead of multistream, and security nobody offered. */
static void test_garbage_and_unknown_security(void **state)
{
#define BYTES(s) s, sizeof(s) - 1
    static const struct {
        const char *what;
        const char *bytes;
        size_t len;
    } garbage[] = {
        {"not ending in a newline", BYTES("\x05hello")},
        {"an empty message", BYTES("\x00")},
        {"a non-minimal length", BYTES("\x80\x00")},
        /* 'G' says 71 bytes follow: they do, with newlines inside */
        {"an HTTP request",
         BYTES("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: curl/8.5.0"
               "\r\nAccept: */*\r\nConnection: close\r\n\r\n")},
        /* 0x16 says 22 bytes follow: they do, without the newline */
        {"a TLS ClientHello",
         BYTES("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"
               "0123456789abcdef0123456789abcdef")},
        {"another multistream version",
         BYTES("\x13/multistream/2.0.0\n")},
    };
#undef BYTES
    victim *v = *state;
    shoal_stats before;
    atk *a;
    size_t i;

    for (i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
        before = get_stats(v);
        a = atk_new(v);
        assert_int_equal(atk_send(a, garbage[i].bytes, garbage[i].len), 0);
        if (!atk_wait_closed_raw(a, DEADLINE_MS)) {
            dump_log(v);
            fail_msg("%s: not dropped", garbage[i].what);
        }
        expect_log2(v, a->tag, "layer=security reason=protocol_error", 1);
        expect_dropped(v, before.dropped + 1);
        atk_free(a);
    }
    assert_served(v);

    /* unknown security protocols: "na" each time, then the deadline */
    before = get_stats(v);
    a = atk_new(v);
    atk_mss_send(a,
                 (const char *const[]){SHOAL_MSS_HEADER, "/tls/1.0.0"}, 2);
    atk_expect_mss(a, SHOAL_MSS_HEADER);
    atk_expect_mss(a, "na");
    atk_mss_send(a, (const char *const[]){"/secio/1.0.0", "ls"}, 2);
    atk_expect_mss(a, "na");
    atk_expect_mss(a, "na");
    assert_true(atk_wait_closed_raw(a, DEADLINE_MS));
    expect_log2(v, a->tag, "reason=handshake_timeout", 1);
    expect_dropped(v, before.dropped + 1);
    atk_free(a);

    /* proposals without end are cut off before the deadline */
    before = get_stats(v);
    a = atk_new(v);
    {
        const char *props[SHOAL_MSS_MAX_ROUNDS + 2];
        props[0] = SHOAL_MSS_HEADER;
        for (i = 1; i < SHOAL_MSS_MAX_ROUNDS + 2; i++)
            props[i] = "/nope/1.0.0";
        atk_mss_send(a, props, SHOAL_MSS_MAX_ROUNDS + 2);
        assert_true(atk_wait_closed_raw(a, DEADLINE_MS));
        expect_log2(v, a->tag, "layer=security reason=protocol_error", 1);
    }
    expect_dropped(v, before.dropped + 1);
    atk_free(a);
    assert_served(v);
}

/* 7. A connection without streams is closed after idle_timeout_ms; one with
 * a stream is not. Neither is counted as dropped. */
static void test_idle_deadline(void **state)
{
    victim *v = *state;
    shoal_stats before = get_stats(v);
    uint32_t id = 1;
    uint64_t t0;
    atk *a;

    a = atk_upgraded(v);
    t0 = itest_now_ms();
    assert_true(atk_pump(a, cond_eof, NULL, DEADLINE_MS));
    assert_true(itest_now_ms() - t0 >= IDLE_MS - 100);
    assert_false(a->go_away); /* a quiet close, not an error */
    expect_log2(v, a->tag, "reason=idle", 1);
    atk_free(a);

    /* a stream keeps it: still there well past the idle deadline */
    a = atk_upgraded(v);
    atk_open_echo(a, id, 1);
    assert_false(atk_pump(a, cond_never, NULL, 3 * IDLE_MS));
    assert_false(a->eof);
    atk_echo(a, id, 10);
    assert_int_equal(count_log2(v, a->tag, "reason=idle"), 0);
    /* the stream ends (FIN both ways): the idle clock starts then */
    atk_data(a, SHOAL_YAMUX_FIN, id, NULL, 0);
    assert_true(atk_pump(a, cond_fin, &id, DEADLINE_MS));
    t0 = itest_now_ms();
    assert_true(atk_pump(a, cond_eof, NULL, DEADLINE_MS));
    assert_true(itest_now_ms() - t0 >= IDLE_MS - 100);
    expect_log2(v, a->tag, "reason=idle", 1);
    atk_free(a);

    assert_int_equal(get_stats(v).dropped, before.dropped);
    assert_served(v);
}

/* 8. More connections than max_connections: the extras are refused at
 * once, the connections already there go on. */
static void test_connection_limit(void **state)
{
    victim *v = *state;
    shoal_stats st;
    shoal_replies r;
    atk *up, *raw[LIMIT_CONNECTIONS + 1];
    int accepted = 0, refused = 0, rc;
    size_t i;

    expect_connections(v, 0);
    up = atk_upgraded(v);
    atk_open_echo(up, 1, 1);
    expect_connections(v, 1);

    /* LIMIT - 1 more fit; the 2 after are refused */
    for (i = 0; i < LIMIT_CONNECTIONS + 1; i++) {
        uint8_t first;
        raw[i] = atk_new(v);
        /* an accepted connection hears the multistream header at once;
         * a refused one is closed at once */
        if (atk_take(raw[i], &first, 1, itest_now_ms() + DEADLINE_MS) == 0) {
            assert_int_equal(first, strlen(SHOAL_MSS_HEADER) + 1);
            accepted++;
        } else {
            assert_true(raw[i]->eof);
            refused++;
        }
    }
    assert_int_equal(accepted, LIMIT_CONNECTIONS - 1);
    assert_int_equal(refused, 2);
    expect_log2(v, "conn_reject", "reason=max_connections", 2);
    st = get_stats(v);
    assert_int_equal(st.rejected, 2);
    assert_int_equal(st.connections, LIMIT_CONNECTIONS);
    assert_int_equal(st.inbound, LIMIT_CONNECTIONS);

    /* at the limit a newcomer is refused, even a well-behaved one ... */
    rc = shoal_request_sync(v->good.node, v->addr, "ECHO", "x", 1, 5000, &r);
    shoal_replies_free(&r);
    assert_true(rc < 0);
    expect_log2(v, "conn_reject", "reason=max_connections", 3);
    assert_int_equal(get_stats(v).rejected, 3);

    /* ... while the connections in place carry on */
    atk_echo(up, 1, 1000);

    /* room again once some go */
    for (i = 0; i < LIMIT_CONNECTIONS + 1; i++)
        atk_free(raw[i]);
    expect_connections(v, 1);
    assert_served(v);
    atk_echo(up, 1, 1000);
    atk_free(up);
    st = get_stats(v);
    assert_int_equal(st.rejected, 3);
    assert_int_equal(st.dropped, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_handshake_stops_halfway, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_signature, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_flood, setup, teardown),
        cmocka_unit_test_setup_teardown(test_window_violation, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_and_unknown_security,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_limit,
                                        setup_few_connections, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
