/* The tracker (include/shoal/tracker.h) between real secure nodes on one
 * loop: 50 client nodes that know only a tracker reach a connected network
 * within a deadline; bad input (malformed ANNC payloads, too many addrs
 * and topics, addresses of another host, an announce flood from one source
 * which is rate limited while another source is still served); STAT; a
 * database that is not one, named so (shoal_tracker_db_check); an
 * announce of another peer's id refused on both protocols (test_hijack).
 * Every wait polls with a deadline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "itest.h"
#include "shoal.h"
#include "shoal/tracker.h"

#define NODES 50
/* Deadlines, generous: under valgrind 51 nodes share one slow thread. */
#define WAIT_MS 120000

/* A handshake that times out is retried, and under valgrind a storm of
 * them can starve every other: let each finish. */
static shoal_node *secure_node(uv_loop_t *loop, const char *listen)
{
    return itest_secure_node(loop, listen, WAIT_MS);
}

/* Closes them all, waiting as long as that takes. */
static void close_nodes(uv_loop_t *loop, shoal_node **v, size_t n)
{
    itest_close_nodes(loop, v, n, 0);
}

/* --------------------------------------------------- 50 nodes, one tracker */

typedef struct net {
    shoal_node *node[NODES];
} net;

static int index_of(const net *nt, const char *id)
{
    for (int i = 0; i < NODES; i++)
        if (strcmp(shoal_node_peer_id(nt->node[i]), id) == 0)
            return i;
    return -1;
}

/* Every table non-empty, and the graph of tables (either direction)
 * connected. */
static int connected(void *arg)
{
    net *nt = arg;
    static uint8_t adj[NODES][NODES];
    int seen[NODES] = {0}, stack[NODES], top = 0, count = 0;

    memset(adj, 0, sizeof(adj));
    for (int i = 0; i < NODES; i++) {
        size_t n = shoal_peer_count(nt->node[i]);
        if (n == 0)
            return 0;
        for (size_t k = 0; k < n; k++) {
            int j = index_of(nt, shoal_peer_at(nt->node[i], k)->id);
            if (j >= 0)
                adj[i][j] = adj[j][i] = 1;
        }
    }
    seen[0] = 1;
    stack[top++] = 0;
    while (top > 0) {
        int i = stack[--top];
        count++;
        for (int j = 0; j < NODES; j++)
            if (adj[i][j] && !seen[j]) {
                seen[j] = 1;
                stack[top++] = j;
            }
    }
    return count == NODES;
}

static void test_fifty_nodes(void **state)
{
    uv_loop_t loop;
    shoal_node *tracker_node;
    shoal_tracker *tracker;
    shoal_tracker_config tc;
    shoal_tracker_client *client[NODES];
    shoal_tracker_client_config cc;
    char taddr[512];
    const char *trackers[1] = {taddr};
    static net nt;
    shoal_tracker_stats st;
    uint64_t t0;

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    tracker_node = secure_node(&loop, "/ip4/127.0.0.1/tcp/0");
    shoal_tracker_config_init(&tc);
    tc.rate = 1e6;     /* every client is 127.0.0.1 here */
    tc.burst = 1e6;
    assert_int_equal(shoal_tracker_new(&tracker, tracker_node, &tc), 0);
    assert_int_equal(shoal_node_addr(tracker_node, taddr, sizeof(taddr)), 0);

    shoal_tracker_client_config_init(&cc);
    cc.trackers = trackers;
    cc.ntrackers = 1;
    cc.interval_ms = 300;
    cc.target_peers = 6;
    for (int i = 0; i < NODES; i++) {
        nt.node[i] = secure_node(&loop, "/ip4/127.0.0.1/tcp/0");
        assert_int_equal(shoal_tracker_client_new(&client[i], nt.node[i],
                                                  &cc), 0);
    }
    t0 = itest_now_ms();
    assert_true(itest_run_until(&loop, connected, &nt, WAIT_MS));
    fprintf(stderr, "test_tracker: %d nodes connected in %llu ms\n", NODES,
            (unsigned long long)(itest_now_ms() - t0));
    shoal_tracker_stats_get(tracker, &st);
    assert_int_equal(st.peers, NODES);
    for (int i = 0; i < NODES; i++) {
        shoal_tracker_client_stats cs;
        shoal_tracker_client_stats_get(client[i], &cs);
        assert_true(cs.announces_ok > 0);
        assert_true(shoal_peer_count(nt.node[i]) <= 6);
        shoal_tracker_client_free(client[i]);
    }
    shoal_tracker_free(tracker);
    close_nodes(&loop, nt.node, NODES);
    close_nodes(&loop, &tracker_node, 1);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* ------------------------------------------------------------ bad input */

typedef struct bad {
    uv_loop_t loop;
    shoal_node *tracker_node, *asker, *other;
    shoal_tracker *tracker;
    char addr4[512], addr6[512];
} bad;

/* Sends payload as an ANNC to addr and waits for the end. */
static void annc(bad *b, const char *addr, const char *payload,
                 itest_call *call)
{
    itest_call_init(call);
    assert_int_equal(shoal_request(b->asker, addr, "ANNC", payload,
                                   strlen(payload), 5000, itest_on_reply,
                                   itest_on_end, call), 0);
    assert_true(itest_run_until(&b->loop, itest_call_ended, call, WAIT_MS));
}

static void expect_erro(bad *b, const char *payload, const char *reason)
{
    itest_call call;

    annc(b, b->addr4, payload, &call);
    assert_int_equal(call.status, 0);
    assert_int_equal(call.count, 1);
    if (!itest_reply_is(&call, 0, "ERRO", reason))
        fail_msg("wanted ERRO %s, got %s %s", reason, call.type[0],
                 call.data[0] ? call.data[0] : "");
    itest_call_free(&call);
}

static void test_bad_input(void **state)
{
    static bad b;
    shoal_tracker_config tc;
    char payload[8192], own[512];
    const char *id;
    size_t pos;
    itest_call call;
    int limited = 0, served = 0;

    (void)state;
    memset(&b, 0, sizeof(b));
    assert_int_equal(uv_loop_init(&b.loop), 0);
    b.tracker_node = secure_node(&b.loop, "/ip4/127.0.0.1/tcp/0");
    assert_int_equal(shoal_node_listen(b.tracker_node, "/ip6/::1/tcp/0"), 0);
    shoal_tracker_config_init(&tc);
    tc.rate = 2;
    tc.burst = 10;
    assert_int_equal(shoal_tracker_new(&b.tracker, b.tracker_node, &tc), 0);
    assert_int_equal(shoal_node_listen_addr(b.tracker_node, 0, b.addr4,
                                            sizeof(b.addr4)), 0);
    assert_int_equal(shoal_node_listen_addr(b.tracker_node, 1, b.addr6,
                                            sizeof(b.addr6)), 0);
    b.asker = secure_node(&b.loop, "/ip4/127.0.0.1/tcp/0");
    id = shoal_node_peer_id(b.asker);
    assert_int_equal(shoal_node_addr(b.asker, own, sizeof(own)), 0);

    expect_erro(&b, "garbage", "malformed: bad peer id");
    pos = (size_t)snprintf(payload, sizeof(payload), "%s", id);
    for (int i = 0; i < 9; i++)
        pos += (size_t)snprintf(payload + pos, sizeof(payload) - pos,
                                "\naddr /ip4/127.0.0.1/tcp/%d", 1000 + i);
    expect_erro(&b, payload, "malformed: too many addrs");
    pos = (size_t)snprintf(payload, sizeof(payload), "%s", id);
    for (int i = 0; i < 9; i++)
        pos += (size_t)snprintf(payload + pos, sizeof(payload) - pos,
                                "\ntopic t%d", i);
    expect_erro(&b, payload, "malformed: too many topics");
    snprintf(payload, sizeof(payload), "%s\naddr /ip4/10.9.8.7/tcp/1", id);
    expect_erro(&b, payload, "malformed: no addr on the connection's host");
    snprintf(payload, sizeof(payload), "%s\naddr /ip4/1.2.3.4/tcp/1/p2p/%s",
             id, shoal_node_peer_id(b.tracker_node));
    expect_erro(&b, payload, "malformed: addr of another peer id");

    /* a flood from 127.0.0.1: the bucket (10, 2/s) runs dry */
    snprintf(payload, sizeof(payload), "%s\naddr %s\ntopic flood", id, own);
    for (int i = 0; i < 40; i++) {
        annc(&b, b.addr4, payload, &call);
        assert_int_equal(call.status, 0);
        if (itest_reply_is(&call, 0, "ERRO", "rate_limited"))
            limited++;
        else
            assert_true(call.count == 0 || strcmp(call.type[0], "PEER") == 0);
        itest_call_free(&call);
    }
    assert_true(limited >= 25);

    /* another source (::1) is served meanwhile, and sees the flooder */
    b.other = secure_node(&b.loop, "/ip6/::1/tcp/0");
    assert_int_equal(shoal_node_addr(b.other, own, sizeof(own)), 0);
    snprintf(payload, sizeof(payload), "%s\naddr %s\ntopic flood\nwant 5",
             shoal_node_peer_id(b.other), own);
    itest_call_init(&call);
    assert_int_equal(shoal_request(b.other, b.addr6, "ANNC", payload,
                                   strlen(payload), 5000, itest_on_reply,
                                   itest_on_end, &call), 0);
    assert_true(itest_run_until(&b.loop, itest_call_ended, &call, WAIT_MS));
    assert_int_equal(call.status, 0);
    for (size_t i = 0; i < call.count; i++)
        served += strcmp(call.type[i], "PEER") == 0 &&
                  strstr(call.data[i], id) == call.data[i];
    assert_int_equal(served, 1);
    itest_call_free(&call);

    /* STAT: two peers, one topic */
    itest_call_init(&call);
    assert_int_equal(shoal_request(b.other, b.addr6, "STAT", NULL, 0, 5000,
                                   itest_on_reply, itest_on_end, &call), 0);
    assert_true(itest_run_until(&b.loop, itest_call_ended, &call, WAIT_MS));
    assert_int_equal(call.count, 1);
    assert_string_equal(call.type[0], "REPL");
    assert_non_null(strstr(call.data[0], "peers=2 topics=1 announces_per_s="));
    assert_non_null(strstr(call.data[0], "entries_cap=1000000"));
    itest_call_free(&call);

    shoal_tracker_free(b.tracker);
    shoal_node *all[3] = {b.asker, b.other, b.tracker_node};
    close_nodes(&b.loop, all, 3);
    assert_int_equal(uv_loop_close(&b.loop), 0);
}

/* ------------------------------------------- the session protocol, raw */

#define TRK_PROTOCOL_ID "/shoal/tracker/1.0.0"

/* A client's stream of /shoal/tracker/1.0.0, driven by hand: every answer
 * is split out of the byte stream by its 8-byte header and recorded. */
typedef struct sess {
    shoal_stream *s;
    int opened, open_status;
    itest_call answers;         /* ended and status: the stream's closed() */
    uint8_t in[1 << 16];
    size_t inlen;
    int overflow;               /* an answer longer than in[] */
} sess;

static void sess_data(shoal_stream *s, const uint8_t *data, size_t len,
                      void *user)
{
    sess *k = user;

    (void)s;
    while (len > 0) {
        size_t n = sizeof(k->in) - k->inlen, pos = 0;
        if (n > len)
            n = len;
        memcpy(k->in + k->inlen, data, n);
        k->inlen += n;
        data += n;
        len -= n;
        while (k->inlen - pos >= 8) {
            const uint8_t *h = k->in + pos;
            size_t plen = (size_t)h[4] << 24 | (size_t)h[5] << 16 |
                          (size_t)h[6] << 8 | h[7];
            shoal_msg msg;
            if (plen > sizeof(k->in) - 8) {
                k->overflow = 1;
                return;
            }
            if (k->inlen - pos < 8 + plen)
                break;
            memcpy(msg.type, h, 4);
            msg.type[4] = '\0';
            msg.data = h + 8;
            msg.len = plen;
            itest_on_reply(&msg, &k->answers);
            pos += 8 + plen;
        }
        memmove(k->in, k->in + pos, k->inlen - pos);
        k->inlen -= pos;
    }
}

static void sess_eof(shoal_stream *s, void *user)
{
    (void)user;
    shoal_stream_close(s);
}

static void sess_closed(shoal_stream *s, int status, void *user)
{
    sess *k = user;

    (void)s;
    k->s = NULL;
    itest_on_end(status, &k->answers);
}

static void sess_on_open(shoal_stream *s, int status, void *user)
{
    static const shoal_stream_cbs cbs = {.data = sess_data,
                                         .eof = sess_eof,
                                         .closed = sess_closed};
    sess *k = user;

    k->opened = 1;
    k->open_status = status;
    k->s = s;
    if (s != NULL)
        shoal_stream_set_cbs(s, &cbs, k);
}

static int sess_opened(void *arg)
{
    return ((sess *)arg)->opened;
}

static sess *sess_open(uv_loop_t *loop, shoal_node *from, const char *to)
{
    sess *k = calloc(1, sizeof(*k));

    assert_non_null(k);
    itest_call_init(&k->answers);
    assert_int_equal(shoal_stream_open(from, to, TRK_PROTOCOL_ID,
                                       sess_on_open, k), 0);
    assert_true(itest_run_until(loop, sess_opened, k, WAIT_MS));
    assert_int_equal(k->open_status, 0);
    return k;
}

static void sess_free(uv_loop_t *loop, sess *k)
{
    if (k->s != NULL)
        shoal_stream_reset(k->s);
    assert_true(itest_run_until(loop, itest_call_ended, &k->answers,
                                WAIT_MS));
    itest_call_free(&k->answers);
    free(k);
}

typedef struct sess_wait {
    sess *k;
    size_t count;
} sess_wait;

static int sess_has(void *arg)
{
    sess_wait *w = arg;
    return w->k->answers.count >= w->count || w->k->answers.ended;
}

/* Appends one framed message to buf at *pos. */
static void put_msg(uint8_t *buf, size_t size, size_t *pos, const char *type,
                    const void *data, size_t len)
{
    assert_true(*pos + 8 + len <= size);
    itest_header(buf + *pos, type, (uint32_t)len);
    if (len)
        memcpy(buf + *pos + 8, data, len);
    *pos += 8 + len;
}

static void test_session(void **state)
{
    static uint8_t buf[40000 * 8];
    uv_loop_t loop;
    shoal_node *tnode, *a, *b;
    shoal_tracker *tracker;
    shoal_tracker_config tc;
    char taddr[512], own[512], payload[1024];
    sess *ka, *kb, *kc;
    sess_wait w;
    size_t pos = 0;

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    tnode = secure_node(&loop, "/ip4/127.0.0.1/tcp/0");
    shoal_tracker_config_init(&tc);
    tc.rate = 1000;
    tc.burst = 1000;
    assert_int_equal(shoal_tracker_new(&tracker, tnode, &tc), 0);
    assert_int_equal(shoal_node_addr(tnode, taddr, sizeof(taddr)), 0);
    a = secure_node(&loop, "/ip4/127.0.0.1/tcp/0");
    b = secure_node(&loop, "/ip4/127.0.0.1/tcp/0");

    /* pipelined in one write: each message gets one answer, in order */
    ka = sess_open(&loop, a, taddr);
    assert_int_equal(shoal_node_addr(a, own, sizeof(own)), 0);
    *strstr(own, "/p2p/") = '\0';
    snprintf(payload, sizeof(payload), "%s\naddr %s\ntopic s",
             shoal_node_peer_id(a), own);
    put_msg(buf, sizeof(buf), &pos, "ANNC", payload, strlen(payload));
    put_msg(buf, sizeof(buf), &pos, "STAT", NULL, 0);
    put_msg(buf, sizeof(buf), &pos, "XXXX", "?", 1);
    snprintf(payload, sizeof(payload), "%s\naddr %s",
             shoal_node_peer_id(b), own);
    put_msg(buf, sizeof(buf), &pos, "ANNC", payload, strlen(payload));
    put_msg(buf, sizeof(buf), &pos, "ANNC", "garbage", 7);
    assert_int_equal(shoal_stream_write(ka->s, buf, pos), 0);
    w.k = ka;
    w.count = 5;
    assert_true(itest_run_until(&loop, sess_has, &w, WAIT_MS));
    assert_int_equal(ka->answers.ended, 0);
    assert_true(itest_reply_is(&ka->answers, 0, "PLST", ""));
    assert_string_equal(ka->answers.type[1], "REPL");
    assert_non_null(strstr(ka->answers.data[1], "peers=1 topics=1 "));
    assert_true(itest_reply_is(&ka->answers, 2, "ERRO", "unknown type"));
    assert_true(itest_reply_is(&ka->answers, 3, "ERRO",
                               "malformed: not the connection's peer id"));
    assert_true(itest_reply_is(&ka->answers, 4, "ERRO",
                               "malformed: bad peer id"));

    /* b's announce lists a, as one PEER line of a PLST */
    kb = sess_open(&loop, b, taddr);
    assert_int_equal(shoal_node_addr(b, own, sizeof(own)), 0);
    *strstr(own, "/p2p/") = '\0';
    snprintf(payload, sizeof(payload), "%s\naddr %s\ntopic s",
             shoal_node_peer_id(b), own);
    pos = 0;
    put_msg(buf, sizeof(buf), &pos, "ANNC", payload, strlen(payload));
    assert_int_equal(shoal_stream_write(kb->s, buf, pos), 0);
    w.k = kb;
    w.count = 1;
    assert_true(itest_run_until(&loop, sess_has, &w, WAIT_MS));
    assert_string_equal(kb->answers.type[0], "PLST");
    assert_ptr_equal(strstr(kb->answers.data[0], shoal_node_peer_id(a)),
                     kb->answers.data[0]);
    assert_null(strchr(kb->answers.data[0], '\n')); /* one peer: a */

    /* a frame longer than an ANNC may be: the stream is reset, unanswered */
    pos = 0;
    itest_header(buf, "ANNC", 4097);
    memset(buf + 8, 'x', 4097);
    assert_int_equal(shoal_stream_write(ka->s, buf, 8 + 4097), 0);
    w.k = ka;
    w.count = 6;
    assert_true(itest_run_until(&loop, sess_has, &w, WAIT_MS));
    assert_int_equal(ka->answers.ended, 1);
    assert_int_not_equal(ka->answers.status, 0);
    assert_int_equal(ka->answers.count, 5);

    /* 40,000 STATs at once, about 3 MB of answers: more than the tracker
     * queues for one stream, so the stream is cut before they are all
     * sent */
    kc = sess_open(&loop, a, taddr);
    pos = 0;
    for (int i = 0; i < 40000; i++)
        put_msg(buf, sizeof(buf), &pos, "STAT", NULL, 0);
    assert_int_equal(shoal_stream_write(kc->s, buf, pos), 0);
    w.k = kc;
    w.count = 40000;
    assert_true(itest_run_until(&loop, sess_has, &w, WAIT_MS));
    assert_int_equal(kc->answers.ended, 1);
    assert_int_not_equal(kc->answers.status, 0);
    assert_true(kc->answers.count < 40000);
    assert_int_equal(kc->overflow, 0);

    /* meanwhile b is still served; and its end closes the stream cleanly
     * once the answer is out */
    pos = 0;
    put_msg(buf, sizeof(buf), &pos, "STAT", NULL, 0);
    assert_int_equal(shoal_stream_write(kb->s, buf, pos), 0);
    assert_int_equal(shoal_stream_close(kb->s), 0);
    w.k = kb;
    w.count = 2;
    assert_true(itest_run_until(&loop, itest_call_ended, &kb->answers,
                                WAIT_MS));
    assert_int_equal(kb->answers.status, 0);
    assert_int_equal(kb->answers.count, 2);
    assert_string_equal(kb->answers.type[1], "REPL");
    assert_non_null(strstr(kb->answers.data[1], "peers=2 topics=1 "));

    sess_free(&loop, ka);
    sess_free(&loop, kb);
    sess_free(&loop, kc);
    shoal_tracker_free(tracker);
    shoal_node *all[3] = {a, b, tnode};
    close_nodes(&loop, all, 3);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* ------------------------------------------------------------- hijack */

typedef struct hijack {
    uv_loop_t loop;
    shoal_node *tnode, *victim, *attacker, *observer;
    char taddr[512], vaddr[512];
} hijack;

/* node sends payload as an ANNC over /shoal/msg/1.0.0; call holds the
 * replies. */
static void hijack_annc(hijack *h, shoal_node *node, const char *payload,
                        itest_call *call)
{
    itest_call_init(call);
    assert_int_equal(shoal_request(node, h->taddr, "ANNC", payload,
                                   strlen(payload), 5000, itest_on_reply,
                                   itest_on_end, call), 0);
    assert_true(itest_run_until(&h->loop, itest_call_ended, call, WAIT_MS));
    assert_int_equal(call->status, 0);
}

/* The observer asks for topic h: the victim must be listed with its own
 * address alone. */
static void victim_intact(hijack *h)
{
    const char *vid = shoal_node_peer_id(h->victim);
    char payload[512], want[1200];
    itest_call call;
    int seen = 0;

    snprintf(payload, sizeof(payload), "%s\ntopic h\nwant 10",
             shoal_node_peer_id(h->observer));
    hijack_annc(h, h->observer, payload, &call);
    snprintf(want, sizeof(want), "%s %s", vid, h->vaddr);
    for (size_t i = 0; i < call.count; i++) {
        if (strcmp(call.type[i], "PEER") != 0)
            fail_msg("wanted PEER lines, got %s %s", call.type[i],
                     call.data[i] ? call.data[i] : "");
        if (strncmp(call.data[i], vid, strlen(vid)) != 0)
            continue;
        if (strcmp(call.data[i], want) != 0)
            fail_msg("victim's entry changed: wanted \"%s\", got \"%s\"",
                     want, call.data[i]);
        seen++;
    }
    if (seen != 1)
        fail_msg("victim listed %d times, wanted once", seen);
    itest_call_free(&call);
}

/* An attacker announces the victim's id with a dead address (on its own
 * host, so only the id check can stop it), over /shoal/msg/1.0.0 and over
 * /shoal/tracker/1.0.0: both refused, the victim's entry unchanged. */
static void test_hijack(void **state)
{
    static hijack h;
    static uint8_t buf[2048];
    shoal_tracker *tracker;
    shoal_tracker_config tc;
    char payload[1024];
    itest_call call;
    sess_wait w;
    sess *k;
    size_t pos = 0;

    (void)state;
    memset(&h, 0, sizeof(h));
    assert_int_equal(uv_loop_init(&h.loop), 0);
    h.tnode = secure_node(&h.loop, "/ip4/127.0.0.1/tcp/0");
    shoal_tracker_config_init(&tc);
    assert_int_equal(shoal_tracker_new(&tracker, h.tnode, &tc), 0);
    assert_int_equal(shoal_node_addr(h.tnode, h.taddr, sizeof(h.taddr)), 0);
    h.victim = secure_node(&h.loop, "/ip4/127.0.0.1/tcp/0");
    h.attacker = secure_node(&h.loop, "/ip4/127.0.0.1/tcp/0");
    h.observer = secure_node(&h.loop, "/ip4/127.0.0.1/tcp/0");
    assert_int_equal(shoal_node_addr(h.victim, h.vaddr, sizeof(h.vaddr)), 0);

    snprintf(payload, sizeof(payload), "%s\naddr %s\ntopic h",
             shoal_node_peer_id(h.victim), h.vaddr);
    hijack_annc(&h, h.victim, payload, &call);
    assert_true(call.count == 0 || strcmp(call.type[0], "PEER") == 0);
    itest_call_free(&call);
    victim_intact(&h);

    /* the victim's id, a port nobody listens on */
    snprintf(payload, sizeof(payload), "%s\naddr /ip4/127.0.0.1/tcp/1\n"
             "topic h", shoal_node_peer_id(h.victim));
    hijack_annc(&h, h.attacker, payload, &call);
    if (call.count != 1 ||
        !itest_reply_is(&call, 0, "ERRO",
                        "malformed: not the connection's peer id"))
        fail_msg("over /shoal/msg/1.0.0: wanted one ERRO \"malformed: not "
                 "the connection's peer id\", got %zu replies, the first "
                 "%s %s", call.count, call.count ? call.type[0] : "-",
                 call.count && call.data[0] ? call.data[0] : "");
    itest_call_free(&call);
    victim_intact(&h);

    k = sess_open(&h.loop, h.attacker, h.taddr);
    put_msg(buf, sizeof(buf), &pos, "ANNC", payload, strlen(payload));
    assert_int_equal(shoal_stream_write(k->s, buf, pos), 0);
    w.k = k;
    w.count = 1;
    assert_true(itest_run_until(&h.loop, sess_has, &w, WAIT_MS));
    if (!itest_reply_is(&k->answers, 0, "ERRO",
                        "malformed: not the connection's peer id"))
        fail_msg("over /shoal/tracker/1.0.0: wanted ERRO \"malformed: not "
                 "the connection's peer id\", got %s %s",
                 k->answers.count ? k->answers.type[0] : "(end)",
                 k->answers.count && k->answers.data[0] ? k->answers.data[0]
                                                        : "");
    sess_free(&h.loop, k);
    victim_intact(&h);

    shoal_tracker_free(tracker);
    shoal_node *all[4] = {h.victim, h.attacker, h.observer, h.tnode};
    close_nodes(&h.loop, all, 4);
    assert_int_equal(uv_loop_close(&h.loop), 0);
}

/* ------------------------------------------------ what is wrong with a db */

static void write_junk(const char *path)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    for (int i = 0; i < 8192; i++)
        fputc((i * 131 + 7) & 0xff, f);
    fclose(f);
}

/* shoal_tracker_new refuses a database that is not one (SHOAL_EPROTO),
 * and shoal_tracker_db_check says why, as it does for a path whose folder
 * is missing; a good database and a new one are fine. */
static void test_db_check(void **state)
{
    char dir[] = "/tmp/shoal-trackerdb-XXXXXX", path[256], why[256];
    shoal_tracker_config tc;
    shoal_tracker *tracker;
    shoal_node *node;
    uv_loop_t loop;

    (void)state;
    assert_non_null(mkdtemp(dir));
    assert_int_equal(uv_loop_init(&loop), 0);
    node = secure_node(&loop, "/ip4/127.0.0.1/tcp/0");
    shoal_tracker_config_init(&tc);
    tc.db_path = path;

    snprintf(path, sizeof(path), "%s/new.db", dir);
    assert_int_equal(shoal_tracker_db_check(path, why, sizeof(why)), 0);
    assert_string_equal(why, "");
    assert_int_equal(access(path, F_OK), -1); /* a check makes nothing */
    assert_int_equal(shoal_tracker_new(&tracker, node, &tc), 0);
    shoal_tracker_free(tracker);
    assert_int_equal(shoal_tracker_db_check(path, why, sizeof(why)), 0);

    snprintf(path, sizeof(path), "%s/junk.db", dir);
    write_junk(path);
    assert_int_equal(shoal_tracker_new(&tracker, node, &tc), SHOAL_EPROTO);
    assert_int_equal(shoal_tracker_db_check(path, why, sizeof(why)),
                     SHOAL_EPROTO);
    assert_string_equal(why, "not a database (file is not a database)");

    snprintf(path, sizeof(path), "%s/none/x.db", dir);
    assert_true(shoal_tracker_db_check(path, why, sizeof(why)) < 0);
    assert_non_null(strstr(why, "cannot create it: folder "));

    snprintf(path, sizeof(path), "%s/folder.db", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(shoal_tracker_db_check(path, why, sizeof(why)),
                     SHOAL_EPROTO);
    assert_string_equal(why, "not a regular file");
    assert_int_equal(shoal_tracker_db_check(path, NULL, 0), SHOAL_EPROTO);

    close_nodes(&loop, &node, 1);
    assert_int_equal(uv_loop_close(&loop), 0);
    rmdir(path);
    for (const char *f = "new.db\0new.db-wal\0new.db-shm\0junk.db\0"; *f;
         f += strlen(f) + 1) {
        snprintf(path, sizeof(path), "%s/%s", dir, f);
        unlink(path);
    }
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_db_check),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_session),
        cmocka_unit_test(test_hijack),
        cmocka_unit_test(test_fifty_nodes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
