/* tracker_announces: announces per second one tracker node (its own loop,
 * its own thread) answers, from 32 client nodes on the main thread's loop,
 * each keeping 8 ANNC requests in flight (every request a yamux stream of
 * /shoal/msg/1.0.0 on the client's one secure connection). Ids cycle
 * through 200,000, so the table sees inserts first and refreshes later;
 * each announce asks for 5 peers. Baseline: the same announces fed to the
 * network-free table (src/tracker/table.h) directly, on one thread.
 *
 * tracker_entry_memory: heap bytes per entry with 1,000,000 entries in the
 * table (glibc mallinfo2 before and after), each a 38-byte Ed25519 peer
 * id, one /ip4/.../tcp/... address and one of 1000 topics. */
#include <malloc.h>

#include "bench.h"
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
    char taddr[512];
    char (*payload)[512];
    size_t *paylen;
    uint32_t next;
    uint64_t done, failed;
    unsigned in_flight;
    double start, end;
    int stopping;
} run;

static void send_one(run *r, size_t c);

static void on_end(int status, void *user)
{
    run *r = *(run **)user;

    r->in_flight--;
    if (status == 0)
        r->done++;
    else
        r->failed++;
    if (!r->stopping && bench_now() >= r->end)
        r->stopping = 1;
    if (!r->stopping)
        send_one(r, r->next % CLIENTS);
}

static run *the_run;

static void send_one(run *r, size_t c)
{
    uint32_t k = r->next++ % IDS;

    if (shoal_request(r->client[c], r->taddr, "ANNC", r->payload[k],
                      r->paylen[k], 10000, NULL, on_end, &the_run) == 0)
        r->in_flight++;
}

static void *tracker_thread(void *arg)
{
    shoal_node_run(arg);
    return NULL;
}

static int closed;
static void on_closed(shoal_node *n, void *u)
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
    the_run = &r;
    shoal_config_init(&cfg);
    cfg.listen = "/ip4/127.0.0.1/tcp/0";
    cfg.log_level = SHOAL_LOG_WARN;
    cfg.handle_signals = 0;
    if ((rc = shoal_node_new(&tnode, NULL, &cfg)) < 0)
        bench_die("tracker node", rc);
    shoal_tracker_config_init(&tc);
    tc.rate = 1e9;
    tc.burst = 1e9;
    if ((rc = shoal_tracker_new(&tracker, tnode, &tc)) < 0)
        bench_die("tracker", rc);
    shoal_node_addr(tnode, r.taddr, sizeof(r.taddr));

    /* payloads made before the clock starts */
    r.payload = malloc((size_t)IDS * sizeof(*r.payload));
    r.paylen = malloc((size_t)IDS * sizeof(*r.paylen));
    if (r.payload == NULL || r.paylen == NULL)
        bench_die("payloads", ENOMEM);
    for (uint32_t k = 0; k < IDS; k++) {
        uint8_t bin[38];
        make_id(k, bin);
        shoal_peer_id_to_text(bin, 38, id, sizeof(id));
        snprintf(addr, sizeof(addr), "/ip4/127.0.0.1/tcp/%u",
                 1024 + k % 60000);
        r.paylen[k] = (size_t)trk_annc_format(r.payload[k], 512, id, addrs,
                                              1, topics, 1, 5);
    }
    uv_loop_init(&r.loop);
    cfg.listen = NULL;
    for (int c = 0; c < CLIENTS; c++)
        if ((rc = shoal_node_new(&r.client[c], &r.loop, &cfg)) < 0)
            bench_die("client node", rc);
    pthread_create(&th, NULL, tracker_thread, tnode);

    /* warm up: every client connected (one round trip each) */
    r.stopping = 1;
    for (size_t c = 0; c < CLIENTS; c++)
        send_one(&r, c);
    while (r.in_flight > 0)
        uv_run(&r.loop, UV_RUN_ONCE);
    r.done = r.failed = 0;

    r.start = bench_now();
    r.end = r.start + SECONDS_RUN;
    r.stopping = 0;
    for (size_t c = 0; c < CLIENTS; c++)
        for (int k = 0; k < IN_FLIGHT; k++)
            send_one(&r, c);
    while (r.in_flight > 0)
        uv_run(&r.loop, UV_RUN_ONCE);
    double elapsed = bench_now() - r.start;
    double rate = (double)r.done / elapsed;

    shoal_tracker_stats st;
    shoal_tracker_stats_get(tracker, &st);
    fprintf(stderr, "tracker_announces: %llu announces (%llu failed) in "
            "%.2f s from %d clients x %d in flight; table holds %zu\n",
            (unsigned long long)r.done, (unsigned long long)r.failed,
            elapsed, CLIENTS, IN_FLIGHT, st.peers);
    for (int c = 0; c < CLIENTS; c++)
        shoal_node_close(r.client[c], on_closed, NULL);
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
