/* secure_connections: secure connections per second, 16 at a time, each
 * dial, upgrade, one ping round trip, close; shoal to shoal against js to
 * js in the same run.
 *
 * shoal: a server node on its own thread; the client is the main thread,
 * with 16 slots on one loop of its own. A slot, over and over: creates a
 * client node on that loop (shoal_node_new: a fresh Ed25519 identity),
 * opens a /ipfs/ping/1.0.0 stream to the server (which dials: TCP,
 * multistream-select, Noise XX, yamux, then the protocol's negotiation),
 * sends 32 random bytes, reads the 32 back and checks them, closes its
 * side and waits for the server's close of the stream (as js's
 * `await stream.close()` does), then closes the connection by closing the
 * node (shoal_node_close; its callback runs once the socket is closed).
 * shoal has no call that closes one connection (one connection per peer
 * is kept and reused), hence a node per connection: its creation (key
 * generation included) is counted against shoal. Time per connection: from
 * the node's creation to its close callback.
 * Baseline: tests/interop/js/peer.mjs `listen` and `conns --concurrency 16`
 * (16 js nodes, each: dial, newStream ping, one round trip, stream close,
 * connection close), its own perSecond.
 * Figure: connections completed / seconds from the first start to the last
 * completion. Both sides run COUNT connections (shoal: at most
 * SHOAL_SECONDS of starts); failures are counted and shown, not timed.
 *
 * Usage: secure_connections [shoal_count] [js_count] */
#include <sodium.h>

#include "bench.h"

#define SLOTS 16
#define SHOAL_COUNT_DEFAULT 4000
#define JS_COUNT_DEFAULT 480
#define SHOAL_SECONDS 15.0  /* no new connection starts after this */
#define ATTEMPT_TIMEOUT_MS 5000
#define JS_TIMEOUT_S 40

#define PING_PROTOCOL "/ipfs/ping/1.0.0"
#define PING_SIZE 32

typedef struct bench_state bench_state;

typedef struct slot {
    bench_state *b;
    shoal_node *node;       /* NULL between attempts */
    uv_timer_t timer;       /* the attempt's deadline */
    double t0;
    uint8_t sent[PING_SIZE];
    size_t got;
    int echoed;             /* the 32 bytes came back intact */
    int ending;             /* the node is closing */
    int ok;
} slot;

struct bench_state {
    uv_loop_t loop;
    const char *addr;
    shoal_config cfg;
    long count;             /* connections to run */
    long started, done, failed;
    double t_first, t_last, deadline;
    double *lat;            /* per completed connection, seconds */
    int last_error;
    slot slots[SLOTS];
};

static void slot_start(slot *sl);

static void slot_node_closed(shoal_node *node, void *user)
{
    slot *sl = user;
    bench_state *b = sl->b;

    (void)node;
    sl->node = NULL;
    sl->ending = 0;
    b->t_last = bench_now();
    if (sl->ok)
        b->lat[b->done++] = b->t_last - sl->t0;
    else
        b->failed++;
    slot_start(sl);
}

/* The attempt is over: close the connection (the node). */
static void slot_end(slot *sl, int ok, int err)
{
    if (sl->ending)
        return;
    sl->ending = 1;
    sl->ok = ok;
    if (!ok && err < 0)
        sl->b->last_error = err;
    uv_timer_stop(&sl->timer);
    shoal_node_close(sl->node, slot_node_closed, sl);
}

static void on_data(shoal_stream *s, const uint8_t *data, size_t len,
                    void *user)
{
    slot *sl = user;

    if (sl->ending)
        return;
    if (sl->got + len > PING_SIZE ||
        memcmp(sl->sent + sl->got, data, len) != 0) {
        slot_end(sl, 0, SHOAL_EPROTO);
        return;
    }
    sl->got += len;
    if (sl->got == PING_SIZE) {
        sl->echoed = 1;
        shoal_stream_close(s); /* then the server closes its side */
    }
}

static void on_closed(shoal_stream *s, int status, void *user)
{
    slot *sl = user;

    (void)s;
    if (sl->ending)
        return;
    if (status == 0 && sl->echoed)
        slot_end(sl, 1, 0);
    else
        slot_end(sl, 0, status < 0 ? status : SHOAL_EPROTO);
}

static void on_open(shoal_stream *s, int status, void *user)
{
    static const shoal_stream_cbs cbs = {.data = on_data,
                                         .closed = on_closed};
    slot *sl = user;
    int rc;

    if (sl->ending)
        return; /* cannot happen: closing the node ends the open first */
    if (s == NULL) {
        slot_end(sl, 0, status);
        return;
    }
    shoal_stream_set_cbs(s, &cbs, sl);
    randombytes_buf(sl->sent, sizeof(sl->sent));
    if ((rc = shoal_stream_write(s, sl->sent, sizeof(sl->sent))) < 0)
        slot_end(sl, 0, rc);
}

static void on_attempt_timeout(uv_timer_t *t)
{
    slot_end(t->data, 0, SHOAL_ETIMEDOUT);
}

static void slot_start(slot *sl)
{
    bench_state *b = sl->b;
    int rc;

    if (b->started >= b->count || bench_now() > b->deadline)
        return;
    b->started++;
    sl->t0 = bench_now();
    if (b->t_first == 0)
        b->t_first = sl->t0;
    sl->got = 0;
    sl->echoed = 0;
    sl->ending = 0;
    if ((rc = shoal_node_new(&sl->node, &b->loop, &b->cfg)) < 0)
        bench_die("client node", rc);
    uv_timer_start(&sl->timer, on_attempt_timeout, ATTEMPT_TIMEOUT_MS, 0);
    if ((rc = shoal_stream_open(sl->node, b->addr, PING_PROTOCOL, on_open,
                                sl)) < 0)
        slot_end(sl, 0, rc);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double pct(const double *v, long n, double p)
{
    long i = (long)(p * (double)n);

    return n == 0 ? 0 : v[i < n ? i : n - 1];
}

/* The shoal side: connections per second, or 0. */
static double shoal_run(const char *addr, long count)
{
    bench_state *b = calloc(1, sizeof(*b));
    double rate, secs;
    int i;

    if (b == NULL || (b->lat = calloc((size_t)count, sizeof(double))) == NULL)
        bench_die("malloc", ENOMEM);
    b->addr = addr;
    b->count = count;
    if (uv_loop_init(&b->loop) < 0)
        bench_die("loop", ENOMEM);
    shoal_config_init(&b->cfg);
    b->cfg.handle_signals = 0;
    b->cfg.log_level = SHOAL_LOG_ERROR;
    b->deadline = bench_now() + SHOAL_SECONDS;
    for (i = 0; i < SLOTS; i++) {
        b->slots[i].b = b;
        uv_timer_init(&b->loop, &b->slots[i].timer);
        b->slots[i].timer.data = &b->slots[i];
    }
    for (i = 0; i < SLOTS; i++)
        slot_start(&b->slots[i]);
    /* Every attempt ends by its deadline and no new one starts after
     * b->deadline, so this returns; the timers are the only other handles
     * and are stopped between attempts. */
    uv_run(&b->loop, UV_RUN_DEFAULT);
    for (i = 0; i < SLOTS; i++)
        uv_close((uv_handle_t *)&b->slots[i].timer, NULL);
    uv_run(&b->loop, UV_RUN_DEFAULT);
    uv_loop_close(&b->loop);

    secs = b->t_last - b->t_first;
    rate = secs > 0 ? (double)b->done / secs : 0;
    qsort(b->lat, (size_t)b->done, sizeof(double), cmp_double);
    fprintf(stderr,
            "secure_connections: shoal: %ld ok, %ld failed%s%s in %.2f s: "
            "%.0f/s; latency ms p50 %.2f p90 %.2f p99 %.2f max %.2f\n",
            b->done, b->failed, b->failed ? ", last error " : "",
            b->failed ? shoal_strerror(b->last_error) : "", secs, rate,
            pct(b->lat, b->done, 0.5) * 1e3, pct(b->lat, b->done, 0.9) * 1e3,
            pct(b->lat, b->done, 0.99) * 1e3,
            b->done ? b->lat[b->done - 1] * 1e3 : 0);
    free(b->lat);
    free(b);
    return rate;
}

/* The js side: perSecond as peer.mjs conns reports it, or 0. */
static double js_run(const char *peer, long count)
{
    static char line[8192];
    char addr[256], scount[32], conc[32], timeout[32];
    const char *args[] = {"conns",   "--addr",        addr,    "--count",
                          scount,    "--concurrency", conc,    "--timeout",
                          timeout,   NULL};
    bench_proc listener, p;
    double rate = 0, ok = 0, failed = 0, seconds = 0, p50 = 0;
    int rc;

    if (bench_js_listen(&listener, peer, 300, addr, sizeof(addr), -1) < 0) {
        fprintf(stderr, "secure_connections: the js listener did not "
                        "start\n");
        return 0;
    }
    snprintf(scount, sizeof(scount), "%ld", count);
    snprintf(conc, sizeof(conc), "%d", SLOTS);
    snprintf(timeout, sizeof(timeout), "%d", JS_TIMEOUT_S);
    if (bench_js_start(&p, peer, args, -1) < 0) {
        bench_js_end(&listener, 10);
        return 0;
    }
    rc = bench_js_wait_event(&p, "conns", line, sizeof(line),
                             bench_now() + JS_TIMEOUT_S + 10);
    if (rc == 0 && (bench_json_num(line, "perSecond", &rate) < 0 ||
                    bench_json_num(line, "ok", &ok) < 0 ||
                    bench_json_num(line, "failed", &failed) < 0)) {
        fprintf(stderr, "secure_connections: js: %s\n", line);
        rc = -1;
    }
    bench_json_num(line, "seconds", &seconds);
    bench_json_num(line, "p50", &p50);
    bench_js_end(&p, 10);
    bench_js_end(&listener, 10);
    if (rc < 0)
        return 0;
    fprintf(stderr,
            "secure_connections: js: %.0f ok, %.0f failed in %.2f s: %.0f/s; "
            "latency ms p50 %.2f\n",
            ok, failed, seconds, rate, p50);
    return rate;
}

int main(int argc, char **argv)
{
    long count = SHOAL_COUNT_DEFAULT, js_count = JS_COUNT_DEFAULT;
    double shoal_rate, js_rate = 0;
    const char *peer;
    bench_server ss;
    shoal_config cfg;

    if (argc > 1)
        count = atol(argv[1]);
    if (argc > 2)
        js_count = atol(argv[2]);
    if (count < SLOTS || count > 100000 || js_count < SLOTS ||
        js_count > 10000) {
        fprintf(stderr, "usage: secure_connections [shoal_count<=100000] "
                        "[js_count<=10000]\n");
        return 2;
    }
    if (sodium_init() < 0)
        bench_die("sodium_init", ENOMEM);
    /* js first, before this process has threads (it forks) */
    peer = bench_js_peer();
    if (peer != NULL)
        js_rate = js_run(peer, js_count);
    if (js_rate == 0)
        fprintf(stderr, "secure_connections: no js baseline\n");

    shoal_config_init(&cfg);
    cfg.log_level = SHOAL_LOG_ERROR;
    cfg.max_connections = 4 * SLOTS + 64;
    bench_secure_server_start(&ss, &cfg, 0);
    fprintf(stderr,
            "secure_connections: shoal: up to %ld connections, %d at a time "
            "(a client node per connection, see the source)\n",
            count, SLOTS);
    shoal_rate = shoal_run(ss.addr, count);
    {
        shoal_stats st;
        shoal_node_stats(ss.node, &st);
        fprintf(stderr,
                "secure_connections: server: accepted %llu, dropped %llu, "
                "rejected %llu, open %zu\n",
                (unsigned long long)st.accepted,
                (unsigned long long)st.dropped,
                (unsigned long long)st.rejected, st.connections);
    }
    bench_server_stop(&ss);
    bench_print("secure_connections", shoal_rate, "conn/s", js_rate, 1);
    return shoal_rate == 0 || js_rate == 0;
}
