/* The thread rule, enforced: while a node's loop runs, every loop-only
 * public function called from another thread returns SHOAL_EBUSY (or
 * NULL, 0, "" where it returns no error) without touching anything, and
 * the node logs one "wrong_thread" line for it. Every such function of
 * include/shoal.h and the services' headers is called here, from a thread of
 * the test's own, on live objects of every kind (a node, a held request,
 * an open stream, a timer, each service); then the loop thread checks
 * that nothing changed and that the objects still work. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "itest.h"
#include "shoal/dns.h"
#include "shoal/files.h"
#include "shoal/mdns.h"
#include "shoal/peerstore.h"
#include "shoal/pex.h"
#include "shoal/tracker.h"

#define PROTO "/shoal-test/thread-rule/1"

typedef struct world {
    shoal_node *a, *b;            /* both on a's loop; a is checked */
    char addr_b[256];
    char dir[64];                 /* the files service's folder */
    char db[96];                  /* the peer store's file */

    shoal_req *held;              /* on b: a request held open */
    shoal_stream *stream;         /* a's side of a stream to b */
    shoal_timer *timer;

    shoal_files *files;
    shoal_tracker *tracker;       /* on b */
    shoal_tracker_client *tclient;
    shoal_peerstore *ps;
    shoal_pex *pex;
    shoal_mdns *mdns;
    shoal_dns *dns;

    itest_call call;              /* a's request to b */
    int ticks;                    /* after the wrong thread is done */
    int wrong_thread_lines_a;     /* "wrong_thread" lines a logged */
    char first_line_a[256];
    uv_thread_t *thread;
    int thread_done;
    char failures[4096];          /* what the wrong thread saw amiss */
    size_t checked;               /* calls made from the wrong thread */
} world;

static void log_a(int level, const char *line, void *user)
{
    world *w = user;

    (void)level;
    if (strstr(line, "wrong_thread") != NULL &&
        w->wrong_thread_lines_a++ == 0)
        snprintf(w->first_line_a, sizeof(w->first_line_a), "%s", line);
    itest_log_sink(level, line, NULL);
}

/* ------------------------------------------------------- on b: serving */

static void on_hold(shoal_req *req, const shoal_msg *msg, void *user)
{
    world *w = user;

    (void)msg;
    shoal_req_hold(req);
    w->held = req;
}

static void ignore_data(shoal_stream *s, const uint8_t *d, size_t n, void *u)
{
    (void)s, (void)d, (void)n, (void)u;
}

static void on_inbound(shoal_stream *s, void *user)
{
    static const shoal_stream_cbs take = {.data = ignore_data};

    shoal_stream_set_cbs(s, &take, user);
}

static void on_stream_closed(shoal_stream *s, int status, void *user)
{
    world *w = user;

    (void)s, (void)status;
    w->stream = NULL;
}

static void on_open(shoal_stream *s, int status, void *user)
{
    static const shoal_stream_cbs cbs = {.closed = on_stream_closed};
    world *w = user;

    assert_int_equal(status, 0);
    shoal_stream_set_cbs(s, &cbs, w);
    w->stream = s;
}

/* After the wrong thread is done: two more ticks (its shoal_timer_stop
 * did nothing) and the held request answered, then the loop stops. */
static void on_tick(shoal_node *node, void *user)
{
    world *w = user;

    (void)node;
    if (w->thread_done && w->ticks++ >= 2 && w->call.ended) {
        shoal_node_stop(w->b); /* b shares the loop: run returns once */
        shoal_node_stop(w->a); /* both are stopped */
    }
}

static void never_reply(const shoal_msg *m, void *u) { (void)m, (void)u; }
static void never_end(int status, void *u) { (void)status, (void)u; }
static void never_post(shoal_node *n, void *u) { (void)n, (void)u; }

static void never_ping(shoal_node *n, int s, uint64_t r, void *u)
{
    (void)n, (void)s, (void)r, (void)u;
}

static void never_verified(shoal_node *n, int s, const char *id, void *u)
{
    (void)n, (void)s, (void)id, (void)u;
}

static void never_identify(shoal_node *n, int s,
                           const shoal_identify_info *i, void *u)
{
    (void)n, (void)s, (void)i, (void)u;
}

static void never_perf(shoal_node *n, int s, const shoal_perf_result *r,
                       void *u)
{
    (void)n, (void)s, (void)r, (void)u;
}

static void never_check(shoal_node *n, size_t removed, void *u)
{
    (void)n, (void)removed, (void)u;
}

static void never_join(shoal_node *n, int status, size_t added, void *u)
{
    (void)n, (void)status, (void)added, (void)u;
}

static void never_stream(shoal_stream *s, void *u) { (void)s, (void)u; }
static void never_opened(shoal_stream *s, int st, void *u)
{
    (void)s, (void)st, (void)u;
}

static void never_handler(shoal_req *r, const shoal_msg *m, void *u)
{
    (void)r, (void)m, (void)u;
}

static void never_event(shoal_node *n, const shoal_peer_event *e, void *u)
{
    (void)n, (void)e, (void)u;
}

static const shoal_peer *never_route(shoal_node *n, const char *id, void *u)
{
    (void)n, (void)id, (void)u;
    return NULL;
}

static void never_search(shoal_files *f, int status,
                         const shoal_search_result *r, size_t n, void *u)
{
    (void)f, (void)r, (void)n, (void)status, (void)u;
}

static void never_found(shoal_files *f, const shoal_search_result *r,
                        void *u)
{
    (void)f, (void)r, (void)u;
}

static void never_transfer(shoal_files *f, const shoal_transfer_info *i,
                           void *u)
{
    (void)f, (void)i, (void)u;
}

static void never_rescan(shoal_files *f, void *u) { (void)f, (void)u; }

static void never_list(const shoal_peerstore_entry *e, void *u)
{
    (void)e, (void)u;
}

static void never_dns(shoal_dns *d, int status, const shoal_dns_result *r,
                      void *u)
{
    (void)d, (void)status, (void)r, (void)u;
}

/* ---------------------------------------------- from the wrong thread */

static void miss(world *w, const char *what, long got, long want)
{
    size_t n = strlen(w->failures);

    snprintf(w->failures + n, sizeof(w->failures) - n,
             "  %s: expected %ld, got %ld\n", what, want, got);
}

#define EXPECT(call, want)                                                \
    do {                                                                  \
        long got_ = (long)(call);                                         \
        w->checked++;                                                     \
        if (got_ != (long)(want))                                         \
            miss(w, #call, got_, (long)(want));                           \
    } while (0)
#define EXPECT_PTR(call, want)                                            \
    do {                                                                  \
        const void *got_ = (call);                                        \
        w->checked++;                                                     \
        if (got_ != (const void *)(want))                                 \
            miss(w, #call, got_ != NULL, (want) != NULL);                 \
    } while (0)
#define EXPECT_EMPTY(call)                                                \
    do {                                                                  \
        const char *got_ = (call);                                        \
        w->checked++;                                                     \
        if (got_ == NULL || got_[0] != '\0')                              \
            miss(w, #call " (\"\")", got_ != NULL ? (long)strlen(got_) : -1, \
                 0);                                                      \
    } while (0)
#define EXPECT_VOID(call)                                                 \
    do {                                                                  \
        w->checked++;                                                     \
        call;                                                             \
    } while (0)
#undef EBUSY /* errno's; ours is shorter to read below */
#define EBUSY SHOAL_EBUSY

static int all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < n; i++)
        if (b[i] != 0)
            return 0;
    return 1;
}

#define EXPECT_ZEROED(call, out)                                          \
    do {                                                                  \
        memset(&(out), 0xa5, sizeof(out));                                \
        w->checked++;                                                     \
        call;                                                             \
        if (!all_zero(&(out), sizeof(out)))                               \
            miss(w, #call " (zeroed)", 0, 1);                             \
    } while (0)

static void wrong_node_calls(world *w)
{
    shoal_node *a = w->a;
    shoal_timer *t = NULL;
    shoal_stats st;
    char buf[256];
    void *owned = malloc(16);
    unsigned id;

    EXPECT(shoal_node_run(a), EBUSY);
    EXPECT_VOID(shoal_node_close(a, NULL, NULL));
    EXPECT_VOID(shoal_node_free(a));
    EXPECT(shoal_node_drain(a, 1000, NULL, NULL), EBUSY);
    EXPECT(shoal_node_listen(a, "/ip4/127.0.0.1/tcp/0"), EBUSY);
    EXPECT(shoal_node_listen_addr(a, 0, buf, sizeof(buf)), EBUSY);
    EXPECT_ZEROED(shoal_node_stats(a, &st), st);
    EXPECT(shoal_handle(a, "XXXX", never_handler, NULL), EBUSY);
    EXPECT(shoal_handle(a, "HOLD", NULL, NULL), EBUSY);
    EXPECT(shoal_request(a, w->addr_b, "HOLD", "x", 1, 0, never_reply,
                         never_end, NULL),
           EBUSY);
    /* owned data is the library's even when refused (no leak here) */
    EXPECT(shoal_request_owned(a, w->addr_b, "HOLD", owned, 16, 0,
                               never_reply, never_end, NULL),
           EBUSY);
    EXPECT(shoal_request_into(a, w->addr_b, "HOLD", "x", 1, buf, sizeof(buf),
                              0, never_reply, never_end, NULL),
           EBUSY);
    EXPECT(shoal_request_peer(a, shoal_node_peer_id(w->b), "HOLD", "x", 1, 0,
                              never_reply, never_end, NULL),
           EBUSY);
    EXPECT(shoal_peer_add(a, "wrong", "127.0.0.1", 1), EBUSY);
    EXPECT(shoal_peer_remove(a, shoal_node_peer_id(w->b)), EBUSY);
    EXPECT_PTR(shoal_peer_get(a, shoal_node_peer_id(w->b)), NULL);
    EXPECT_PTR(shoal_peer_at(a, 0), NULL);
    EXPECT(shoal_peer_count(a), 0);
    EXPECT(shoal_peers_full(a), 0);
    EXPECT(shoal_peer_events_add(a, never_event, NULL), EBUSY);
    EXPECT(shoal_peer_events_remove(a, never_event, NULL), EBUSY);
    EXPECT(shoal_peer_connected(a, shoal_node_peer_id(w->b)), 0);
    EXPECT_VOID(shoal_set_router(a, never_route, NULL));
    EXPECT(shoal_peers_check(a, never_check, NULL), EBUSY);
    EXPECT(shoal_timer_start(a, 1, on_tick, w, &t), EBUSY);
    EXPECT_PTR(t, NULL);
    EXPECT_VOID(shoal_timer_stop(w->timer));
    EXPECT(shoal_protocol_handle(a, "/x/1", never_stream, NULL), EBUSY);
    EXPECT(shoal_stream_open(a, w->addr_b, PROTO, never_opened, NULL), EBUSY);
    EXPECT(shoal_disconnect(a, shoal_node_peer_id(w->b)), EBUSY);
    EXPECT(shoal_ping(a, w->addr_b, 1000, never_ping, NULL), EBUSY);
    EXPECT(shoal_ping_serve(a), EBUSY);
    EXPECT(shoal_peer_add_verified(a, w->addr_b, 1000, never_verified, NULL),
           EBUSY);
    EXPECT(shoal_identify(a, w->addr_b, 1000, never_identify, NULL), EBUSY);
    EXPECT(shoal_identify_serve(a), EBUSY);
    EXPECT(shoal_perf(a, w->addr_b, 1, 1, never_perf, NULL), EBUSY);
    EXPECT(shoal_perf_serve(a), EBUSY);
    EXPECT(shoal_membership_enable(a), EBUSY);
    EXPECT(shoal_join(a, w->addr_b, 1, never_join, NULL), EBUSY);
    (void)id;
}

static void wrong_req_and_stream_calls(world *w)
{
    shoal_stream *s = w->stream;
    static const shoal_stream_cbs none = {0};

    /* b's request: b is on the same loop, so its rule is the same */
    EXPECT(shoal_reply(w->held, "REPL", "x", 1), EBUSY);
    EXPECT(shoal_replyf(w->held, "REPL", "%d", 1), EBUSY);
    EXPECT_VOID(shoal_req_hold(w->held));
    EXPECT_VOID(shoal_req_done(w->held));
    EXPECT_EMPTY(shoal_req_remote(w->held));
    EXPECT_PTR(shoal_req_peer(w->held), NULL);

    EXPECT_VOID(shoal_stream_set_cbs(s, &none, NULL));
    EXPECT(shoal_stream_write(s, "x", 1), EBUSY);
    EXPECT(shoal_stream_write_space(s), 0);
    EXPECT(shoal_stream_close(s), EBUSY);
    EXPECT_VOID(shoal_stream_reset(s));
    EXPECT_EMPTY(shoal_stream_protocol(s));
    EXPECT_EMPTY(shoal_stream_peer(s));
    EXPECT_EMPTY(shoal_stream_remote_addr(s));
}

static void wrong_service_calls(world *w)
{
    shoal_files_config fc;
    shoal_tracker_config tc;
    shoal_tracker_client_config cc;
    shoal_peerstore_config pc;
    shoal_pex_config xc;
    shoal_mdns_config mc;
    shoal_dns_config dc;
    shoal_files *files = NULL;
    shoal_tracker *tracker = NULL;
    shoal_tracker_client *tclient = NULL;
    shoal_peerstore *ps = NULL;
    shoal_pex *pex = NULL;
    shoal_mdns *mdns = NULL;
    shoal_dns *dns = NULL;
    shoal_transfer_info ti;
    shoal_mdns_stats ms;
    shoal_peerstore_stats pss;
    shoal_pex_stats xs;
    shoal_tracker_stats ts;
    shoal_tracker_client_stats cs;
    shoal_tracker_client_tracker_stats cts;
    char err[128];
    unsigned id;

    /* the *_config_init are any thread */
    shoal_files_config_init(&fc);
    shoal_tracker_config_init(&tc);
    shoal_tracker_client_config_init(&cc);
    shoal_peerstore_config_init(&pc);
    shoal_pex_config_init(&xc);
    shoal_mdns_config_init(&mc);
    shoal_dns_config_init(&dc);

    EXPECT(shoal_files_new(&files, w->a, &fc), EBUSY);
    EXPECT(shoal_tracker_new(&tracker, w->a, &tc), EBUSY);
    EXPECT(shoal_tracker_client_new(&tclient, w->a, &cc), EBUSY);
    EXPECT(shoal_peerstore_new(&ps, w->a, &pc, err, sizeof(err)), EBUSY);
    EXPECT(shoal_pex_new(&pex, w->a, &xc), EBUSY);
    EXPECT(shoal_mdns_new(&mdns, w->a, &mc), EBUSY);
    EXPECT(shoal_dns_new(&dns, w->a, &dc), EBUSY);

    EXPECT_VOID(shoal_files_free(w->files));
    EXPECT(shoal_files_count(w->files), 0);
    EXPECT_PTR(shoal_files_at(w->files, 0), NULL);
    EXPECT(shoal_files_rescan(w->files, never_rescan, NULL), EBUSY);
    EXPECT(shoal_files_search(w->files, "x", 1000, never_search, NULL),
           EBUSY);
    EXPECT(shoal_files_search_stream(w->files, "x", 1000, never_found,
                                     never_search, NULL),
           EBUSY);
    EXPECT(shoal_files_get(w->files, "x", &id), EBUSY);
    EXPECT(shoal_transfer_count(w->files), 0);
    EXPECT(shoal_transfer_at(w->files, 0, &ti), EBUSY);
    EXPECT(shoal_transfer_get(w->files, 1, &ti), EBUSY);
    EXPECT_VOID(shoal_files_on_transfer(w->files, never_transfer, NULL));

    EXPECT_VOID(shoal_tracker_free(w->tracker));
    EXPECT_ZEROED(shoal_tracker_stats_get(w->tracker, &ts), ts);
    EXPECT(shoal_tracker_flush(w->tracker), EBUSY);

    EXPECT_VOID(shoal_tracker_client_free(w->tclient));
    EXPECT_ZEROED(shoal_tracker_client_stats_get(w->tclient, &cs), cs);
    EXPECT(shoal_tracker_client_tracker_stats_get(w->tclient, 0, &cts),
           EBUSY);

    EXPECT_VOID(shoal_peerstore_free(w->ps));
    EXPECT(shoal_peerstore_flush(w->ps), EBUSY);
    EXPECT(shoal_peerstore_list(w->ps, never_list, NULL), 0);
    EXPECT(shoal_peerstore_count(w->ps), 0);
    EXPECT(shoal_peerstore_add(w->ps, shoal_node_peer_id(w->b), w->addr_b),
           EBUSY);
    EXPECT(shoal_peerstore_forget(w->ps, shoal_node_peer_id(w->b)), EBUSY);
    EXPECT_ZEROED(shoal_peerstore_stats_get(w->ps, &pss), pss);

    EXPECT_VOID(shoal_pex_free(w->pex));
    EXPECT(shoal_pex_ask(w->pex, NULL), EBUSY);
    EXPECT_ZEROED(shoal_pex_stats_get(w->pex, &xs), xs);

    EXPECT_VOID(shoal_mdns_free(w->mdns));
    EXPECT_ZEROED(shoal_mdns_stats_get(w->mdns, &ms), ms);

    EXPECT_VOID(shoal_dns_free(w->dns));
    EXPECT(shoal_dns_wants(w->dns, "/dnsaddr/example.test"), 0);
    EXPECT(shoal_dns_resolve(w->dns, "/dnsaddr/example.test", never_dns,
                             NULL),
           EBUSY);

    /* none was made */
    EXPECT_PTR(files, NULL);
    EXPECT_PTR(tracker, NULL);
    EXPECT_PTR(tclient, NULL);
    EXPECT_PTR(ps, NULL);
    EXPECT_PTR(pex, NULL);
    EXPECT_PTR(mdns, NULL);
    EXPECT_PTR(dns, NULL);
}

/* What any thread may call, from the wrong one: they must work. */
static void any_thread_calls(world *w)
{
    char buf[256];

    EXPECT(shoal_node_addr(w->a, buf, sizeof(buf)), 0);
    EXPECT(strstr(buf, shoal_node_peer_id(w->a)) != NULL, 1);
    EXPECT(shoal_node_port(w->a) > 0, 1);
    EXPECT(strcmp(shoal_node_id(w->a), shoal_node_peer_id(w->a)), 0);
    EXPECT(shoal_node_host(w->a)[0] != '\0', 1);
    EXPECT_PTR(shoal_node_loop(w->a), shoal_node_loop(w->b));
    EXPECT(shoal_post(w->a, never_post, NULL), 0);
}

static void finish_on_loop(shoal_node *node, void *user);

static void wrong_thread(void *arg)
{
    world *w = arg;

    wrong_node_calls(w);
    wrong_req_and_stream_calls(w);
    wrong_service_calls(w);
    any_thread_calls(w);
    /* The loop takes it from here; a post is any thread. */
    if (shoal_post(w->a, finish_on_loop, w) != 0)
        miss(w, "shoal_post(finish_on_loop)", -1, 0);
}

/* ------------------------------------------------------ back on the loop */

/* Nothing the wrong thread asked for happened; everything still works. */
static void finish_on_loop(shoal_node *node, void *user)
{
    world *w = user;
    shoal_stats st;

    (void)node;
    assert_int_equal(shoal_peer_count(w->a), 0);
    assert_int_equal(shoal_handle(w->a, "XXXX", NULL, NULL), SHOAL_ENOENT);
    assert_int_equal(shoal_peer_events_remove(w->a, never_event, NULL),
                     SHOAL_ENOENT);
    shoal_node_stats(w->a, &st);
    assert_true(st.connections >= 1);
    assert_int_equal(shoal_stream_write(w->stream, "x", 1), 0);
    assert_string_equal(shoal_stream_protocol(w->stream), PROTO);
    assert_int_equal(shoal_reply(w->held, "REPL", "ok", 2), 0);
    shoal_req_done(w->held);
    w->held = NULL;
    w->thread_done = 1;
}

static int setup_done(void *arg)
{
    world *w = arg;

    return w->held != NULL && w->stream != NULL;
}

static void start_wrong_thread(shoal_node *node, void *user)
{
    world *w = user;

    (void)node;
    assert_int_equal(uv_thread_create(w->thread, wrong_thread, w), 0);
}

static void start_services(world *w)
{
    shoal_files_config fc;
    shoal_tracker_config tc;
    shoal_tracker_client_config cc;
    shoal_peerstore_config pc;
    shoal_pex_config xc;
    shoal_mdns_config mc;
    shoal_dns_config dc;
    const char *trackers[1] = {w->addr_b};
    char err[256];

    shoal_files_config_init(&fc);
    fc.share_dir = w->dir;
    assert_int_equal(shoal_files_new(&w->files, w->a, &fc), 0);
    shoal_tracker_config_init(&tc);
    assert_int_equal(shoal_tracker_new(&w->tracker, w->b, &tc), 0);
    shoal_tracker_client_config_init(&cc);
    cc.trackers = trackers;
    cc.ntrackers = 1;
    assert_int_equal(shoal_tracker_client_new(&w->tclient, w->a, &cc), 0);
    shoal_peerstore_config_init(&pc);
    pc.path = w->db;
    assert_int_equal(shoal_peerstore_new(&w->ps, w->a, &pc, err, sizeof(err)),
                     0);
    shoal_pex_config_init(&xc);
    assert_int_equal(shoal_pex_new(&w->pex, w->a, &xc), 0);
    shoal_mdns_config_init(&mc);
    mc.interface_addr = "127.0.0.1";
    mc.port = (uint16_t)(20000 + getpid() % 20000);
    mc.service = "_shoal-thread-rule._udp.local";
    assert_int_equal(shoal_mdns_new(&w->mdns, w->a, &mc), 0);
    shoal_dns_config_init(&dc);
    assert_int_equal(shoal_dns_new(&w->dns, w->a, &dc), 0);
}

static void stop_services(world *w)
{
    shoal_dns_free(w->dns);
    shoal_mdns_free(w->mdns);
    shoal_pex_free(w->pex);
    shoal_peerstore_free(w->ps);
    shoal_tracker_client_free(w->tclient);
    shoal_tracker_free(w->tracker);
    shoal_files_free(w->files);
}

static void test_every_function_from_the_wrong_thread(void **state)
{
    world w;
    shoal_config cfg;
    uv_loop_t *loop;
    uv_thread_t th;
    shoal_node *nodes[2];

    (void)state;
    memset(&w, 0, sizeof(w));
    snprintf(w.dir, sizeof(w.dir), "/tmp/shoal-thread-rule-XXXXXX");
    assert_non_null(mkdtemp(w.dir));
    snprintf(w.db, sizeof(w.db), "%s/peers.db", w.dir);

    itest_secure_config(&cfg, "/ip4/127.0.0.1/tcp/0", 20000);
    cfg.log_cb = log_a;
    cfg.log_user = &w;
    w.a = itest_node_new(NULL, &cfg);
    loop = shoal_node_loop(w.a);
    w.b = itest_secure_node(loop, "/ip4/127.0.0.1/tcp/0", 20000);
    assert_int_equal(shoal_node_addr(w.b, w.addr_b, sizeof(w.addr_b)), 0);
    assert_int_equal(shoal_handle(w.b, "HOLD", on_hold, &w), 0);
    assert_int_equal(shoal_protocol_handle(w.b, PROTO, on_inbound, &w), 0);
    start_services(&w);
    assert_int_equal(shoal_timer_start(w.a, 5, on_tick, &w, &w.timer), 0);

    /* A held request on b and a stream from a: live objects to misuse. */
    itest_call_init(&w.call);
    assert_int_equal(shoal_request(w.a, w.addr_b, "HOLD", "x", 1, 0,
                                   itest_on_reply, itest_on_end, &w.call),
                     0);
    assert_int_equal(shoal_stream_open(w.a, w.addr_b, PROTO, on_open, &w), 0);
    assert_true(itest_run_until(loop, setup_done, &w, 20000));

    /* From now on the loop runs in shoal_node_run, and the other thread,
     * started from inside it, makes its calls while it does. */
    w.thread = &th;
    assert_int_equal(shoal_post(w.a, start_wrong_thread, &w), 0);
    assert_int_equal(shoal_node_run(w.a), 0);
    uv_thread_join(&th);
    fprintf(stderr, "wrong-thread calls made: %zu\n", w.checked);
    if (w.failures[0] != '\0')
        fail_msg("calls from the wrong thread:\n%s", w.failures);
    assert_int_equal(w.thread_done, 1);
    assert_true(w.checked > 100);
    /* one line, naming the function, for all those calls */
    if (w.wrong_thread_lines_a != 1)
        fail_msg("expected 1 wrong_thread line from node a, got %d "
                 "(first: %s)",
                 w.wrong_thread_lines_a, w.first_line_a);
    assert_non_null(strstr(w.first_line_a, "fn=shoal_node_run"));
    fprintf(stderr, "node a logged: %s\n", w.first_line_a);

    stop_services(&w);
    nodes[0] = w.b;
    nodes[1] = w.a;
    shoal_timer_stop(w.timer);
    assert_null(w.stream); /* ended with its connection */
    assert_true(itest_close_nodes(loop, &nodes[0], 1, 0));
    shoal_node_free(w.a);
    /* the reply sent once the thread was done, and the end */
    assert_int_equal(w.call.count, 1);
    assert_int_equal(w.call.status, 0);
    itest_call_free(&w.call);
    unlink(w.db);
    rmdir(w.dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_function_from_the_wrong_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
