/* The tracker service (include/shoal/tracker.h): ANNC and STAT handlers
 * over the network-free table (table.h), a timer that expires entries,
 * counts announces per second and writes changes to the store (store.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <sodium.h>

#include "shoal/tracker.h"
#include "tracker/protocol.h"
#include "tracker/store.h"
#include "tracker/table.h"

#define TICK_MS 250
/* The table's clock: milliseconds from uv_hrtime, shifted up so that times
 * loaded from the store (now minus an age) never fall below zero. */
#define CLOCK_BASE ((uint64_t)1 << 40)

struct shoal_tracker {
    shoal_node *node;
    shoal_tracker_config cfg;
    char *db_path;
    trk_table *table;
    trk_store *store;
    shoal_timer *timer;
    uint64_t last_flush;
    uint64_t window_start, window_count; /* announces this second */
    double per_s;                        /* the last full second's */
    uint64_t announces, refused, rate_limited;
};

static uint64_t mono_ms(void)
{
    return uv_hrtime() / 1000000u + CLOCK_BASE;
}

static uint64_t wall_ms(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
}

void shoal_tracker_config_init(shoal_tracker_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_entries = 1000000;
    cfg->max_topics = TRK_TOPICS_MAX;
    cfg->ttl_ms = 120000;
    cfg->max_peers = 50;
    cfg->rate = 20;
    cfg->burst = 40;
    cfg->max_sources = 4096;
    cfg->flush_ms = 1000;
}

static void refuse(shoal_tracker *t, shoal_req *req, const char *why)
{
    t->refused++;
    shoal_replyf(req, "ERRO", "%s", why);
}

static void on_annc(shoal_req *req, const shoal_msg *msg, void *user)
{
    shoal_tracker *t = user;
    static trk_annc_msg m;      /* 18 KiB: the loop thread's, one at a time */
    char host[SHOAL_HOST_MAX], ahost[SHOAL_HOST_MAX], why[64];
    trk_peer peers[TRK_WANT_MAX < 256 ? TRK_WANT_MAX : 256];
    char line[TRK_PEER_LINE_MAX];
    uint64_t now = mono_ms();
    size_t want, got = 0, kept = 0;
    trk_announce a;
    int rc;

    if (trk_addr_host(shoal_req_remote(req), host, sizeof(host)) < 0)
        host[0] = '\0';
    if (trk_rate_take(t->table, host, now) < 0) {
        t->rate_limited++;
        shoal_reply(req, "ERRO", "rate_limited", 12);
        return;
    }
    if (trk_annc_parse(msg->data, msg->len, &m, why, sizeof(why)) < 0) {
        char reason[96];
        snprintf(reason, sizeof(reason), "malformed: %s", why);
        refuse(t, req, reason);
        return;
    }
    if (m.ntopics > t->cfg.max_topics) {
        refuse(t, req, "malformed: too many topics");
        return;
    }
    /* The requester's peer id cannot be checked (no public API gives a
     * request's remote peer id): keep only addresses on its own host, so
     * that nobody lists someone else's machine. */
    for (size_t i = 0; i < m.naddrs; i++) {
        if (trk_addr_host(m.addrtext[i], ahost, sizeof(ahost)) < 0 ||
            strcmp(ahost, host) != 0)
            continue;
        if (kept != i) {
            memcpy(m.addr[kept], m.addr[i], m.addrlen[i]);
            m.addrlen[kept] = m.addrlen[i];
            memcpy(m.addrtext[kept], m.addrtext[i], sizeof(m.addrtext[i]));
        }
        kept++;
    }
    if (m.naddrs > 0 && kept == 0) {
        refuse(t, req, "malformed: no addr on the connection's host");
        return;
    }
    m.naddrs = kept;
    trk_annc_announce(&m, &a);
    /* an announce without addresses asks for peers, and is not listed */
    if (a.naddrs > 0 && (rc = trk_table_announce(t->table, &a, now)) < 0) {
        refuse(t, req, rc == TRK_EINVAL ? "malformed: bad announce"
                                        : "full");
        return;
    }
    t->announces++;
    t->window_count++;
    want = m.has_want ? m.want : t->cfg.max_peers;
    if (want > t->cfg.max_peers)
        want = t->cfg.max_peers;
    if (want > sizeof(peers) / sizeof(peers[0]))
        want = sizeof(peers) / sizeof(peers[0]);
    if (m.ntopics == 0) {
        got = trk_table_sample(t->table, NULL, 0, m.id, m.idlen, now, peers,
                               want);
    } else {
        /* from each topic in turn, a peer in two topics sent once */
        static trk_peer more[256];
        for (size_t k = 0; k < m.ntopics && got < want; k++) {
            size_t n = trk_table_sample(t->table, m.topic[k], m.topiclen[k],
                                        m.id, m.idlen, now, more,
                                        want - got);
            for (size_t i = 0; i < n; i++) {
                size_t j;
                for (j = 0; j < got; j++)
                    if (peers[j].idlen == more[i].idlen &&
                        memcmp(peers[j].id, more[i].id, more[i].idlen) == 0)
                        break;
                if (j == got)
                    peers[got++] = more[i];
            }
        }
    }
    for (size_t i = 0; i < got; i++) {
        int n = trk_peer_format(line, sizeof(line), &peers[i]);
        if (n > 0 && shoal_reply(req, "PEER", line, (size_t)n) < 0)
            break;
    }
}

static void on_stat(shoal_req *req, const shoal_msg *msg, void *user)
{
    shoal_tracker *t = user;
    shoal_tracker_stats st;

    (void)msg;
    shoal_tracker_stats_get(t, &st);
    shoal_replyf(req, "REPL", "peers=%zu topics=%zu announces_per_s=%.1f "
                 "entries_cap=%zu", st.peers, st.topics, st.announces_per_s,
                 st.entries_cap);
}

int shoal_tracker_flush(shoal_tracker *t)
{
    long n;

    if (t->store == NULL)
        return 0;
    n = trk_store_flush(t->store, t->table, wall_ms(), mono_ms());
    if (n < 0) {
        shoal_log(t->node, SHOAL_LOG_WARN, "tracker_flush_failed db=%s",
                  t->db_path);
        return SHOAL_EPROTO;
    }
    return 0;
}

static void on_tick(shoal_node *node, void *user)
{
    shoal_tracker *t = user;
    uint64_t now = mono_ms();

    (void)node;
    /* a slice of the table each tick: all of it within about a ttl/4 */
    trk_table_expire(t->table, now,
                     trk_table_count(t->table) / 64 + 1024);
    if (now - t->window_start >= 1000) {
        t->per_s = (double)t->window_count * 1000.0 /
                   (double)(now - t->window_start);
        t->window_start = now;
        t->window_count = 0;
    }
    if (t->store != NULL && now - t->last_flush >= t->cfg.flush_ms) {
        t->last_flush = now;
        shoal_tracker_flush(t);
    }
}

int shoal_tracker_new(shoal_tracker **out, shoal_node *node,
                      const shoal_tracker_config *cfg)
{
    shoal_tracker_config def;
    shoal_tracker *t;
    trk_config tc;
    char err[256];
    int rc;

    *out = NULL;
    if (shoal_node_peer_id(node) == NULL)
        return SHOAL_EINVAL;
    if (cfg == NULL) {
        shoal_tracker_config_init(&def);
        cfg = &def;
    }
    if ((t = calloc(1, sizeof(*t))) == NULL)
        return SHOAL_ENOMEM;
    t->node = node;
    t->cfg = *cfg;
    if (t->cfg.max_topics > TRK_TOPICS_MAX)
        t->cfg.max_topics = TRK_TOPICS_MAX;
    if (t->cfg.flush_ms == 0)
        t->cfg.flush_ms = 1000;
    t->cfg.db_path = NULL;
    trk_config_init(&tc);
    if (cfg->max_entries)
        tc.max_entries = cfg->max_entries;
    if (cfg->ttl_ms)
        tc.ttl_ms = cfg->ttl_ms;
    if (cfg->max_sources)
        tc.max_sources = cfg->max_sources;
    tc.max_topics = tc.max_entries < 100000 ? 100000 : tc.max_entries;
    tc.rate = cfg->rate;
    tc.burst = cfg->burst;
    randombytes_buf(&tc.seed, sizeof(tc.seed));
    t->cfg.max_entries = tc.max_entries;
    t->cfg.ttl_ms = tc.ttl_ms;
    if (trk_table_new(&t->table, &tc) < 0) {
        free(t);
        return SHOAL_ENOMEM;
    }
    if (cfg->db_path != NULL) {
        long n;
        if ((t->db_path = strdup(cfg->db_path)) == NULL) {
            shoal_tracker_free(t);
            return SHOAL_ENOMEM;
        }
        if (trk_store_open(&t->store, cfg->db_path, err, sizeof(err)) < 0) {
            shoal_log(node, SHOAL_LOG_ERROR, "tracker_db_failed db=%s "
                      "error=\"%s\"", cfg->db_path, err);
            shoal_tracker_free(t);
            return SHOAL_EPROTO;
        }
        n = trk_store_load(t->store, t->table, wall_ms(), mono_ms(),
                           tc.ttl_ms);
        shoal_log(node, SHOAL_LOG_INFO, "tracker_loaded entries=%ld db=%s",
                  n, cfg->db_path);
    }
    t->window_start = t->last_flush = mono_ms();
    if ((rc = shoal_handle(node, "ANNC", on_annc, t)) < 0 ||
        (rc = shoal_handle(node, "STAT", on_stat, t)) < 0 ||
        (rc = shoal_timer_start(node, TICK_MS, on_tick, t, &t->timer)) < 0) {
        shoal_tracker_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

void shoal_tracker_free(shoal_tracker *t)
{
    if (t == NULL)
        return;
    shoal_handle(t->node, "ANNC", NULL, NULL);
    shoal_handle(t->node, "STAT", NULL, NULL);
    if (t->timer != NULL)
        shoal_timer_stop(t->timer);
    if (t->store != NULL)
        shoal_tracker_flush(t);
    trk_store_close(t->store);
    trk_table_free(t->table);
    free(t->db_path);
    free(t);
}

void shoal_tracker_stats_get(const shoal_tracker *t, shoal_tracker_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->peers = trk_table_count(t->table);
    out->topics = trk_table_topic_count(t->table);
    out->announces_per_s = t->per_s;
    out->entries_cap = t->cfg.max_entries;
    out->announces = t->announces;
    out->refused = t->refused;
    out->rate_limited = t->rate_limited;
}
