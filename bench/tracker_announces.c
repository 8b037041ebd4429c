/* tracker_announces: announces per second one tracker node (its own loop,
 * its own thread) answers, from 32 client nodes on the main thread's loop,
 * each with its own secure connection and one stream of the session
 * protocol (/shoal/tracker/1.0.0, src/tracker/protocol.h), keeping 32
 * ANNC messages in flight on it: every answer (a PLST with the peers, or
 * an ERRO counted as failed) is read and parsed, and sends the next
 * announce. Ids cycle through 200,000, so the table sees inserts first and
 * refreshes later (the tracker's allow_other_ids lets 32 connections stand
 * for 200,000 peers; the address-host check still runs); each announce
 * asks for 5 peers of its topic. Baseline: the same announces fed to the
 * network-free table (src/tracker/table.h) directly, on one thread.
 *
 * tracker_entry_memory: heap bytes per entry with 1,000,000 entries in the
 * table (glibc mallinfo2 before and after), each a 38-byte Ed25519 peer
 * id, one /ip4/.../tcp/... address and one of 1000 topics. */
#include <malloc.h>

#include "bench.h"
#include "core/frame.h"
#include "shoal/tracker.h"
#include "tracker/protocol.h"
#include "tracker/table.h"

#define CLIENTS 32
#define IN_FLIGHT 32
#define IDS 200000
#define SECONDS_RUN 4.0

static void make_id(uint32_t n, uint8_t id[38])
{
    static const uint8_t head[6] = {0x00, 0x24, 0x08, 0x01, 0x12, 0x20};

    memcpy(id, head, 6);
    memset(id + 6, 0x33, 32);
    memcpy(id + 6, &n, sizeof(n));
}

/* ----------------------------------------------------- over the network */

typedef struct run {
    uv_loop_t loop;
    shoal_node *client[CLIENTS];
    shoal_stream *stream[CLIENTS];
    shoal_frame_reader reader[CLIENTS];
    trk_peer_msg scratch;
    char taddr[512];
    char (*payload)[512];       /* framed ANNC messages */
    size_t *paylen;
    uint32_t next;
    uint64_t done, failed, peers;
    unsigned in_flight, open;
    size_t opening;             /* the client whose stream is opening */
    double start, end;
    int stopping;
} run;

static void count_peer(const trk_peer_msg *m, void *user)
{
    (void)m;
    ((run *)user)->peers++;
}

/* n announces on client c's stream, in one write. */
static void send_some(run *r, size_t c, unsigned n)
{
    static uint8_t buf[IN_FLIGHT * 512];
    size_t len = 0;

    for (unsigned i = 0; i < n; i++) {
        uint32_t k = r->next++ % IDS;
        memcpy(buf + len, r->payload[k], r->paylen[k]);
        len += r->paylen[k];
    }
    if (n > 0 && shoal_stream_write(r->stream[c], buf, len) == 0)
        r->in_flight += n;
}

static size_t client_of(run *r, shoal_stream *s)
{
    for (size_t c = 0; c < CLIENTS; c++)
        if (r->stream[c] == s)
            return c;
    bench_die("unknown stream", EINVAL);
    return 0;
}

static void on_data(shoal_stream *s, const uint8_t *data, size_t len,
                    void *user)
{
    run *r = user;
    size_t c = client_of(r, s), used;
    unsigned answered = 0;

    while (len > 0) {
        shoal_msg msg;
        int rc = shoal_frame_reader_feed(&r->reader[c], data, len, &used);
        data += used;
        len -= used;
        if (rc < 0)
            bench_die("answer too large", rc);
        if (rc == 0)
            break;
        shoal_frame_reader_msg(&r->reader[c], &msg);
        if (strcmp(msg.type, "PLST") == 0 &&
            trk_plst_parse(msg.data, msg.len, &r->scratch, count_peer, r) >=
                0)
            r->done++;
        else
            r->failed++;
        shoal_frame_reader_next(&r->reader[c]);
        answered++;
    }
    r->in_flight -= answered;
    if (!r->stopping && bench_now() >= r->end)
        r->stopping = 1;
    if (!r->stopping)
        send_some(r, c, answered);
}

static void on_closed(shoal_stream *s, int status, void *user)
{
    run *r = user;

    if (!r->stopping)
        bench_die("stream closed", status);
    r->stream[client_of(r, s)] = NULL;
    r->open--;
}

static void on_open(shoal_stream *s, int status, void *user)
{
    static const shoal_stream_cbs cbs = {.data = on_data,
                                         .closed = on_closed};
    run *r = user;

    if (s == NULL)
        bench_die("stream open", status);
    r->stream[r->opening] = s;
    shoal_stream_set_cbs(s, &cbs, r);
    r->open++;
}

static void *tracker_thread(void *arg)
{
    shoal_node_run(arg);
    return NULL;
}

static int closed;
static void on_node_closed(shoal_node *n, void *u)
{
    (void)n;
    (void)u;
    closed++;
}

static double network_rate(void)
{
    static run r;
    shoal_config cfg;
    shoal_node *tnode;
    shoal_tracker *tracker;
    shoal_tracker_config tc;
    pthread_t th;
    char id[128], addr[256];
    const char *addrs[1] = {addr};
    const char *topics[1] = {"bench"};
    int rc;

    memset(&r, 0, sizeof(r));
    shoal_config_init(&cfg);
    cfg.listen = "/ip4/127.0.0.1/tcp/0";
    cfg.log_level = SHOAL_LOG_WARN;
    cfg.handle_signals = 0;
    if ((rc = shoal_node_new(&tnode, NULL, &cfg)) < 0)
        bench_die("tracker node", rc);
    shoal_tracker_config_init(&tc);
    tc.rate = 1e9;
    tc.burst = 1e9;
    tc.allow_other_ids = 1;
    if ((rc = shoal_tracker_new(&tracker, tnode, &tc)) < 0)
        bench_die("tracker", rc);
    shoal_node_addr(tnode, r.taddr, sizeof(r.taddr));

    /* framed payloads made before the clock starts */
    r.payload = malloc((size_t)IDS * sizeof(*r.payload));
    r.paylen = malloc((size_t)IDS * sizeof(*r.paylen));
    if (r.payload == NULL || r.paylen == NULL)
        bench_die("payloads", ENOMEM);
    for (uint32_t k = 0; k < IDS; k++) {
        uint8_t bin[38];
        int n;
        make_id(k, bin);
        shoal_peer_id_to_text(bin, 38, id, sizeof(id));
        snprintf(addr, sizeof(addr), "/ip4/127.0.0.1/tcp/%u",
                 1024 + k % 60000);
        n = trk_annc_format(r.payload[k] + SHOAL_FRAME_HEADER,
                            512 - SHOAL_FRAME_HEADER, id, addrs, 1, topics,
                            1, 5);
        if (n < 0)
            bench_die("announce format", EINVAL);
        shoal_frame_header_encode((uint8_t *)r.payload[k], "ANNC",
                                  (uint32_t)n);
        r.paylen[k] = SHOAL_FRAME_HEADER + (size_t)n;
    }
    uv_loop_init(&r.loop);
    cfg.listen = NULL;
    for (int c = 0; c < CLIENTS; c++) {
        if ((rc = shoal_node_new(&r.client[c], &r.loop, &cfg)) < 0)
            bench_die("client node", rc);
        shoal_frame_reader_init(&r.reader[c], 1 << 20);
    }
    pthread_create(&th, NULL, tracker_thread, tnode);

    /* warm up: every client connected, its stream open (one at a time) */
    for (size_t c = 0; c < CLIENTS; c++) {
        r.opening = c;
        if ((rc = shoal_stream_open(r.client[c], r.taddr, TRK_PROTOCOL,
                                    on_open, &r)) < 0)
            bench_die("stream open", rc);
        while (r.open <= c)
            uv_run(&r.loop, UV_RUN_ONCE);
    }

    r.start = bench_now();
    r.end = r.start + SECONDS_RUN;
    for (size_t c = 0; c < CLIENTS; c++)
        send_some(&r, c, IN_FLIGHT);
    while (r.in_flight > 0)
        uv_run(&r.loop, UV_RUN_ONCE);
    double elapsed = bench_now() - r.start;
    double rate = (double)r.done / elapsed;

    shoal_tracker_stats st;
    shoal_tracker_stats_get(tracker, &st);
    fprintf(stderr, "tracker_announces: %llu announces answered (%llu "
            "failed, %llu peers returned) in %.2f s from %d clients x %d "
            "in flight; table holds %zu\n", (unsigned long long)r.done,
            (unsigned long long)r.failed, (unsigned long long)r.peers,
            elapsed, CLIENTS, IN_FLIGHT, st.peers);
    if (r.failed > 0)
        bench_die("announces refused", EPROTO);
    for (int c = 0; c < CLIENTS; c++) {
        shoal_stream_close(r.stream[c]);
        shoal_node_close(r.client[c], on_node_closed, NULL);
        shoal_frame_reader_free(&r.reader[c]);
    }
    while (closed < CLIENTS)
        uv_run(&r.loop, UV_RUN_ONCE);
    uv_run(&r.loop, UV_RUN_NOWAIT);
    uv_loop_close(&r.loop);
    shoal_node_stop(tnode);
    pthread_join(th, NULL);
    shoal_tracker_free(tracker);
    shoal_node_free(tnode);
    free(r.payload);
    free(r.paylen);
    return rate;
}

/* ------------------------------------------------------ the table alone */

static void announce_of(trk_announce *a, const uint8_t *id, uint32_t k,
                        uint8_t addr[8], char topic[16])
{
    memset(a, 0, sizeof(*a));
    a->id = id;
    a->idlen = 38;
    addr[0] = 0x04, addr[1] = 127, addr[2] = 0, addr[3] = 0, addr[4] = 1;
    addr[5] = 0x06, addr[6] = (uint8_t)(k >> 8), addr[7] = (uint8_t)k;
    a->naddrs = 1;
    a->addr[0] = addr;
    a->addrlen[0] = 8;
    snprintf(topic, 16, "topic%u", (unsigned)(k % 1000));
    a->ntopics = 1;
    a->topic[0] = topic;
    a->topiclen[0] = strlen(topic);
}

static double table_rate(void)
{
    trk_config cfg;
    trk_table *t;
    trk_peer out[5];
    uint8_t id[38], addr[8];
    char topic[16];
    trk_announce a;
    uint64_t n = 0;
    double start = bench_now(), now = start;

    trk_config_init(&cfg);
    cfg.rate = 1e9;
    cfg.burst = 1e9;
    trk_table_new(&t, &cfg);
    while (now - start < 2.0) {
        for (int i = 0; i < 1000; i++, n++) {
            uint32_t k = (uint32_t)(n % IDS);
            make_id(k, id);
            announce_of(&a, id, k, addr, topic);
            trk_rate_take(t, "127.0.0.1", n);
            trk_table_announce(t, &a, n);
            trk_table_sample(t, topic, a.topiclen[0], id, 38, n, out, 5);
        }
        now = bench_now();
    }
    trk_table_free(t);
    return (double)n / (now - start);
}

static double entry_memory(void)
{
    trk_config cfg;
    trk_table *t;
    uint8_t id[38], addr[8];
    char topic[16];
    trk_announce a;
    size_t before, after;
    struct mallinfo2 mi;

    malloc_trim(0);
    mi = mallinfo2();
    before = mi.uordblks + mi.hblkhd;
    trk_config_init(&cfg);
    trk_table_new(&t, &cfg);
    for (uint32_t k = 0; k < 1000000; k++) {
        make_id(k, id);
        announce_of(&a, id, k, addr, topic);
        if (trk_table_announce(t, &a, 1) < 0)
            bench_die("table announce", ENOMEM);
    }
    /* the change list is the store's, emptied at every flush (1 s) */
    trk_table_changes(t, NULL, NULL);
    mi = mallinfo2();
    after = mi.uordblks + mi.hblkhd;
    fprintf(stderr, "tracker_entry_memory: %zu entries, %zu topics, %.1f MB\n",
            trk_table_count(t), trk_table_topic_count(t),
            (double)(after - before) / 1e6);
    double per = (double)(after - before) / (double)trk_table_count(t);
    trk_table_free(t);
    return per;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    double base = table_rate();
    double rate = network_rate();
    bench_print("tracker_announces", rate, "announces/s", base, 1);
    bench_print("tracker_entry_memory", entry_memory(), "bytes", 0, 0);
    return 0;
}
