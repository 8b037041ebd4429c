/* The tracker service (include/shoal/tracker.h): ANNC and STAT handlers
 * over the network-free table (table.h), a timer that expires entries,
 * counts announces per second and writes changes to the store (store.h). */
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <sodium.h>

#include "core/config.h"
#include "core/frame.h"
#include "shoal/tracker.h"
#include "tracker/protocol.h"
#include "tracker/store.h"
#include "tracker/table.h"
#include "node/thread.h"

#define TICK_MS 250
#define PEERS_MAX 256           /* returned per announce, at most */
/* The table's clock: milliseconds from uv_hrtime, shifted up so that times
 * loaded from the store (now minus an age) never fall below zero. */
#define CLOCK_BASE ((uint64_t)1 << 40)

/* One client's stream of the session protocol (protocol.h). */
typedef struct trk_conn {
    shoal_tracker *t;
    shoal_stream *s;
    shoal_frame_reader reader;
    char host[SHOAL_HOST_MAX];
    uint8_t *out;             /* answers the stream did not take yet */
    size_t outlen, outcap;
    int eof;                  /* the client is done: close once out is */
    int closing;              /* our side is closed */
    struct trk_conn *prev, *next;
} trk_conn;

struct shoal_tracker {
    shoal_node *node;
    trk_conn *conns;
    shoal_tracker_config cfg;
    char *db_path;
    trk_table *table;
    trk_store *store;
    shoal_timer *timer;
    uint64_t last_flush;
    uint64_t window_start, window_count; /* announces this second */
    double per_s;                        /* the last full second's */
    uint64_t announces, refused, rate_limited, flushes;
    /* the loop thread's scratch space, one announce at a time */
    trk_annc_msg annc;
    trk_peer peers[PEERS_MAX], more[PEERS_MAX];
    char line[TRK_PEER_LINE_MAX];
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

static void config_defaults(shoal_tracker_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->size = sizeof(*cfg);
    cfg->max_entries = 1000000;
    cfg->max_topics = TRK_TOPICS_MAX;
    cfg->ttl_ms = 120000;
    cfg->max_peers = 50;
    cfg->rate = 20;
    cfg->burst = 40;
    cfg->max_sources = 4096;
    cfg->flush_ms = 1000;
}

void shoal_tracker_config_init_size(shoal_tracker_config *cfg, size_t size)
{
    shoal_tracker_config d;

    config_defaults(&d);
    shoal_cfg_fill(cfg, size, &d, sizeof(d));
}

/* An announce for an id that is not the connection's: a hijack, or a
 * misconfigured client. Limited like every line a peer can cause: a flood
 * costs one line per interval, which says how many it stands for. */
static void other_id_log(shoal_tracker *t, const char *peer, const char *host,
                         const char *claimed)
{
    shoal_log_limited(t->node, SHOAL_LOG_WARN, "tracker_annc_refused",
                      "tracker_annc_refused reason=not_own_id peer=%s "
                      "host=%s claimed=%s",
                      peer, host[0] ? host : "?", claimed);
}

/* Serves one announce (payload p) from host, whose connection proved the
 * peer id peer (NULL: unknown). Returns NULL and the peers to send back in
 * t->peers[0 .. *got), or the ERRO text (in why, or a constant). */
static const char *annc_take(shoal_tracker *t, const char *host,
                             const char *peer, const uint8_t *p, size_t len,
                             size_t *got, char *why, size_t whysize)
{
    trk_annc_msg *m = &t->annc;
    trk_peer *peers = t->peers;
    char ahost[SHOAL_HOST_MAX], reason[64];
    uint64_t now = mono_ms();
    size_t want, kept = 0;
    trk_announce a;
    int rc;

    *got = 0;
    if (trk_annc_parse(p, len, m, reason, sizeof(reason)) < 0) {
        snprintf(why, whysize, "malformed: %s", reason);
        return why;
    }
    if (m->ntopics > t->cfg.max_topics)
        return "malformed: too many topics";
    if (peer != NULL && !t->cfg.allow_other_ids &&
        strcmp(peer, m->idtext) != 0) {
        other_id_log(t, peer, host, m->idtext);
        return "malformed: not the connection's peer id";
    }
    /* keep only addresses on the requester's own host, so that nobody
     * lists someone else's machine */
    for (size_t i = 0; i < m->naddrs; i++) {
        if (trk_addr_host(m->addrtext[i], ahost, sizeof(ahost)) < 0 ||
            strcmp(ahost, host) != 0)
            continue;
        if (kept != i) {
            memcpy(m->addr[kept], m->addr[i], m->addrlen[i]);
            m->addrlen[kept] = m->addrlen[i];
            memcpy(m->addrtext[kept], m->addrtext[i], sizeof(m->addrtext[i]));
        }
        kept++;
    }
    if (m->naddrs > 0 && kept == 0)
        return "malformed: no addr on the connection's host";
    m->naddrs = kept;
    trk_annc_announce(m, &a);
    /* an announce without addresses asks for peers, and is not listed */
    if (a.naddrs > 0 && (rc = trk_table_announce(t->table, &a, now)) < 0)
        return rc == TRK_EINVAL ? "malformed: bad announce" : "full";
    t->announces++;
    t->window_count++;
    want = m->has_want ? m->want : t->cfg.max_peers;
    if (want > t->cfg.max_peers)
        want = t->cfg.max_peers;
    if (want > PEERS_MAX)
        want = PEERS_MAX;
    if (m->ntopics == 0) {
        *got = trk_table_sample(t->table, NULL, 0, m->id, m->idlen, now,
                                peers, want);
        return NULL;
    }
    /* from each topic in turn, a peer in two topics sent once */
    for (size_t k = 0; k < m->ntopics && *got < want; k++) {
        size_t n = trk_table_sample(t->table, m->topic[k], m->topiclen[k],
                                    m->id, m->idlen, now, t->more,
                                    want - *got);
        for (size_t i = 0; i < n; i++) {
            size_t j;
            for (j = 0; j < *got; j++)
                if (peers[j].idlen == t->more[i].idlen &&
                    memcmp(peers[j].id, t->more[i].id, t->more[i].idlen) == 0)
                    break;
            if (j == *got)
                peers[(*got)++] = t->more[i];
        }
    }
    return NULL;
}

static const char *annc_serve(shoal_tracker *t, const char *host,
                              const char *peer, const uint8_t *p, size_t len,
                              size_t *got, char *why, size_t whysize)
{
    const char *erro;

    *got = 0;
    if (trk_rate_take(t->table, host, mono_ms()) < 0) {
        t->rate_limited++;
        return "rate_limited";
    }
    if ((erro = annc_take(t, host, peer, p, len, got, why, whysize)) != NULL)
        t->refused++;
    return erro;
}

/* ANNC on /shoal/msg/1.0.0: one PEER per peer, or one ERRO. */
static void on_annc(shoal_req *req, const shoal_msg *msg, void *user)
{
    shoal_tracker *t = user;
    char host[SHOAL_HOST_MAX], why[96];
    const char *erro;
    size_t got;

    if (trk_addr_host(shoal_req_remote(req), host, sizeof(host)) < 0)
        host[0] = '\0';
    /* the same check as on the tracker's protocol: the announced id must be
     * the one the connection's handshake proved (NULL on a classic node,
     * whose wire proves none) */
    erro = annc_serve(t, host, shoal_req_peer(req), msg->data, msg->len,
                      &got, why, sizeof(why));
    if (erro != NULL) {
        shoal_reply(req, "ERRO", erro, strlen(erro));
        return;
    }
    for (size_t i = 0; i < got; i++) {
        int n = trk_peer_format(t->line, sizeof(t->line), &t->peers[i]);
        if (n > 0 && shoal_reply(req, "PEER", t->line, (size_t)n) < 0)
            break;
    }
}

/* STAT's answer. */
static int stat_text(shoal_tracker *t, char *out, size_t size)
{
    shoal_tracker_stats st;

    shoal_tracker_stats_get(t, &st);
    return snprintf(out, size, "peers=%zu topics=%zu announces_per_s=%.1f "
                    "entries_cap=%zu flushes=%llu", st.peers, st.topics,
                    st.announces_per_s, st.entries_cap,
                    (unsigned long long)st.flushes);
}

static void on_stat(shoal_req *req, const shoal_msg *msg, void *user)
{
    char text[256];
    int n = stat_text(user, text, sizeof(text));

    (void)msg;
    shoal_reply(req, "REPL", text, (size_t)n);
}

/* ------------------------------------------------- the session protocol */

static void conn_unlink(trk_conn *k)
{
    if (k->t == NULL)
        return;
    if (k->prev != NULL)
        k->prev->next = k->next;
    else
        k->t->conns = k->next;
    if (k->next != NULL)
        k->next->prev = k->prev;
    k->t = NULL;
}

/* n more bytes at the end of k's output, or NULL over the bound. */
static uint8_t *conn_reserve(trk_conn *k, size_t n)
{
    size_t need = k->outlen + n;
    uint8_t *at;

    if (need > TRK_SESSION_OUT_MAX)
        return NULL;
    if (need > k->outcap) {
        size_t cap = k->outcap ? k->outcap : 4096;
        uint8_t *p;
        while (cap < need)
            cap *= 2;
        if ((p = realloc(k->out, cap)) == NULL)
            return NULL;
        k->out = p;
        k->outcap = cap;
    }
    at = k->out + k->outlen;
    k->outlen = need;
    return at;
}

/* Appends one framed answer to k's output. 0, or -1 over the bound. */
static int conn_put(trk_conn *k, const char *type, const void *data,
                    size_t len)
{
    uint8_t *at = conn_reserve(k, SHOAL_FRAME_HEADER + len);

    if (at == NULL)
        return -1;
    shoal_frame_header_encode(at, type, (uint32_t)len);
    if (len)
        memcpy(at + SHOAL_FRAME_HEADER, data, len);
    return 0;
}

/* After the client's end, our side closes once every answer is out. */
static int conn_close_if_done(trk_conn *k)
{
    if (!k->eof || k->closing || k->outlen > 0)
        return 0;
    k->closing = 1;
    return shoal_stream_close(k->s);
}

/* Hands the stream as much of the output as it takes. A write that does
 * not fit all is refused (SHOAL_ENOBUFS) and arms writable(), which pumps
 * again; the part that fits goes now. */
static int conn_pump(trk_conn *k)
{
    size_t n = k->outlen;
    int rc;

    if (n == 0)
        return conn_close_if_done(k);
    if ((rc = shoal_stream_write(k->s, k->out, n)) == SHOAL_ENOBUFS) {
        n = shoal_stream_write_space(k->s);
        rc = n > 0 ? shoal_stream_write(k->s, k->out, n) : 0;
    }
    if (rc < 0)
        return -1;
    memmove(k->out, k->out + n, k->outlen - n);
    k->outlen -= n;
    if (k->outlen == 0 && k->outcap > 65536) {
        free(k->out);           /* a burst's buffer is not kept */
        k->out = NULL;
        k->outcap = 0;
    }
    return conn_close_if_done(k);
}

/* One message from k's client: its one answer, queued. */
static int conn_serve(trk_conn *k, const shoal_msg *msg)
{
    shoal_tracker *t = k->t;
    char why[96], text[256];
    const char *erro;
    size_t got, pos = 0, head;
    int n;

    if (strcmp(msg->type, "STAT") == 0) {
        n = stat_text(t, text, sizeof(text));
        return conn_put(k, "REPL", text, (size_t)n);
    }
    if (strcmp(msg->type, "ANNC") != 0)
        return conn_put(k, "ERRO", "unknown type", 12);
    erro = annc_serve(t, k->host, shoal_stream_peer(k->s), msg->data,
                      msg->len, &got, why, sizeof(why));
    if (erro != NULL)
        return conn_put(k, "ERRO", erro, strlen(erro));
    /* the PEER lines go straight after a header filled in last */
    head = k->outlen;
    if (conn_reserve(k, SHOAL_FRAME_HEADER) == NULL)
        return -1;
    for (size_t i = 0; i < got; i++) {
        uint8_t *w;
        if ((n = trk_peer_format(t->line, sizeof(t->line), &t->peers[i])) <=
            0)
            continue;
        if ((w = conn_reserve(k, (size_t)n + (pos > 0))) == NULL)
            return -1;
        if (pos > 0)
            *w++ = '\n';
        memcpy(w, t->line, (size_t)n);
        pos += (size_t)n + (pos > 0);
    }
    shoal_frame_header_encode(k->out + head, "PLST", (uint32_t)pos);
    return 0;
}

static void conn_drop(trk_conn *k, const char *why)
{
    shoal_log_limited(k->t->node, SHOAL_LOG_DEBUG, "tracker_stream_drop",
              "tracker_stream_drop peer=%s "
              "reason=%s", shoal_stream_peer(k->s), why);
    conn_unlink(k);           /* nothing more is served on it */
    shoal_stream_reset(k->s);
}

/* Every whole message in data is answered, and the answers go out in one
 * write: a pipelining client costs one frame each way per batch. */
static void conn_data(shoal_stream *s, const uint8_t *data, size_t len,
                      void *user)
{
    trk_conn *k = user;
    size_t used;
    int rc;

    (void)s;
    while (len > 0 && k->t != NULL) {
        shoal_msg msg;
        rc = shoal_frame_reader_feed(&k->reader, data, len, &used);
        data += used;
        len -= used;
        if (rc < 0)
            return conn_drop(k, "message_too_large");
        if (rc == 0)
            break;
        shoal_frame_reader_msg(&k->reader, &msg);
        if (conn_serve(k, &msg) < 0)
            return conn_drop(k, "answers_unread");
        shoal_frame_reader_next(&k->reader);
    }
    if (k->t != NULL && conn_pump(k) < 0)
        conn_drop(k, "write_failed");
}

static void conn_writable(shoal_stream *s, void *user)
{
    trk_conn *k = user;

    (void)s;
    if (k->t != NULL && conn_pump(k) < 0)
        conn_drop(k, "write_failed");
}

/* The client is done: our side closes once the answers are out. */
static void conn_eof(shoal_stream *s, void *user)
{
    trk_conn *k = user;

    (void)s;
    k->eof = 1;
    if (k->t != NULL && conn_pump(k) < 0)
        conn_drop(k, "write_failed");
}

static void conn_closed(shoal_stream *s, int status, void *user)
{
    trk_conn *k = user;

    (void)s;
    (void)status;
    conn_unlink(k);
    shoal_frame_reader_free(&k->reader);
    free(k->out);
    free(k);
}

static void on_conn_stream(shoal_stream *s, void *user)
{
    static const shoal_stream_cbs cbs = {.data = conn_data,
                                         .eof = conn_eof,
                                         .writable = conn_writable,
                                         .closed = conn_closed};
    shoal_tracker *t = user;
    trk_conn *k = calloc(1, sizeof(*k));

    if (k == NULL)
        return;               /* no callbacks: the stream is reset */
    k->t = t;
    k->s = s;
    shoal_frame_reader_init(&k->reader, TRK_ANNC_MAX);
    if (trk_addr_host(shoal_stream_remote_addr(s), k->host,
                      sizeof(k->host)) < 0)
        k->host[0] = '\0';
    k->next = t->conns;
    if (t->conns != NULL)
        t->conns->prev = k;
    t->conns = k;
    shoal_stream_set_cbs(s, &cbs, k);
}


int shoal_tracker_flush(shoal_tracker *t)
{
    SHOAL_LOOP_ONLY(t->node, SHOAL_EBUSY);
    long n;

    if (t->store == NULL)
        return 0;
    n = trk_store_flush(t->store, t->table, wall_ms(), mono_ms());
    if (n < 0) {
        shoal_log(t->node, SHOAL_LOG_WARN, "tracker_flush_failed db=%s",
                  t->db_path);
        return SHOAL_EPROTO;
    }
    t->flushes++;
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
    SHOAL_LOOP_ONLY(node, SHOAL_EBUSY);
    shoal_tracker_config own; /* the caller's, over the defaults */
    shoal_tracker *t;
    trk_config tc;
    char err[256];
    int rc;

    *out = NULL;
    if (shoal_node_peer_id(node) == NULL)
        return SHOAL_EINVAL;
    config_defaults(&own);
    if ((rc = shoal_cfg_take(node, "shoal_tracker_config", &own,
                             sizeof(own), cfg)) < 0)
        return rc;
    cfg = &own;
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
        (rc = shoal_protocol_handle(node, TRK_PROTOCOL, on_conn_stream,
                                    t)) < 0 ||
        (rc = shoal_handle(node, "STAT", on_stat, t)) < 0 ||
        (rc = shoal_timer_start(node, TICK_MS, on_tick, t, &t->timer)) < 0) {
        shoal_tracker_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

int shoal_tracker_db_check(const char *path, char *why, size_t size)
{
    char tmp[512], *dir, *slash;
    struct stat st;
    int rc = 0;

    if (why == NULL || size == 0) {
        why = tmp;
        size = sizeof(tmp);
    }
    why[0] = '\0';
    if (path == NULL || path[0] == '\0')
        return SHOAL_EINVAL;
    if (stat(path, &st) == 0) {
        if (!S_ISREG(st.st_mode)) {
            snprintf(why, size, "not a regular file");
            return SHOAL_EPROTO;
        }
        return trk_store_check(path, why, size) < 0 ? SHOAL_EPROTO : 0;
    }
    if (errno != ENOENT) {
        rc = uv_translate_sys_error(errno);
        snprintf(why, size, "cannot open it (%s)", strerror(errno));
        return rc;
    }
    /* not there yet: made at start, if its folder is there */
    if ((dir = strdup(path)) == NULL)
        return SHOAL_ENOMEM;
    if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
        *slash = '\0';
        if (stat(dir, &st) != 0) {
            rc = uv_translate_sys_error(errno);
            snprintf(why, size, "cannot create it: folder %s: %s", dir,
                     strerror(errno));
        } else if (!S_ISDIR(st.st_mode)) {
            rc = UV_ENOTDIR;
            snprintf(why, size, "cannot create it: %s is not a folder", dir);
        }
    }
    free(dir);
    return rc;
}

void shoal_tracker_free(shoal_tracker *t)
{
    if (t == NULL)
        return;
    SHOAL_LOOP_ONLY(t->node);
    shoal_handle(t->node, "ANNC", NULL, NULL);
    shoal_handle(t->node, "STAT", NULL, NULL);
    shoal_protocol_handle(t->node, TRK_PROTOCOL, NULL, NULL);
    /* streams still open are cut; their memory goes when they close */
    while (t->conns != NULL) {
        trk_conn *k = t->conns;
        conn_unlink(k);
        shoal_stream_reset(k->s);
    }
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
    memset(out, 0, sizeof(*out)); /* what a wrong thread gets */
    SHOAL_LOOP_ONLY(t->node);
    memset(out, 0, sizeof(*out));
    out->peers = trk_table_count(t->table);
    out->topics = trk_table_topic_count(t->table);
    out->announces_per_s = t->per_s;
    out->entries_cap = t->cfg.max_entries;
    out->announces = t->announces;
    out->refused = t->refused;
    out->rate_limited = t->rate_limited;
    out->flushes = t->flushes;
}
