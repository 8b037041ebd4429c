/* The control API: see api.h for the shape, and the README for the
 * endpoints. Two threads meet here. libmicrohttpd's connection threads
 * have a request checked and parsed (api_input.c, which decides every
 * refusal of what a client sent), then post a job to the node's loop
 * and wait on the API's condition variable; the loop runs the job (at once,
 * or later from a search or join callback) and fills in the answer. A job
 * is counted by both sides, so whichever is last frees it: a waiter that
 * gives up (deadline, shutdown) leaves the loop a job it can still finish.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>
#include <microhttpd.h>
#include <sodium.h>

#include "api.h"
#include "api_input.h"
#include "home.h"
#include "web_assets.h"

#define HOST_TEXT (SHOAL_HOST_MAX + 16) /* "[host]:port" */
#define WAIT_MS 30000           /* a job that is not a search ends by then */
#define WAIT_SLACK_MS 5000      /* a search: its own deadline, and this */
#define SEARCHES_MAX 32         /* searches kept for GET /api/search/<id> */
#define SEARCH_KEEP_MS 60000    /* a finished one is kept this long at least */

/* Who may hold the API's connections. Every client is 127.0.0.1, so a cap
 * per IP would be the total cap and would lock the user out with the
 * attacker: what keeps the user in is that a connection still sending its
 * request holds its slot only briefly. A request (header and body: every
 * one is small) must be all in within CONN_REQUEST_MS of the connection's
 * start or of its previous answer (keep-alive idling counts too), or the
 * connection is cut. Past CONN_WAITING_MAX connections still sending, the
 * oldest of them are cut, but never one younger than CONN_GRACE_MS: a
 * real client sends its request at once, so the user's connection is
 * never the one cut, while a slow client's pile of connections is cut
 * down (cutting the oldest at once instead made slow clients reconnect in
 * a storm, 5,000 a second, in which the user's connection became the
 * oldest within milliseconds). CONN_MAX (MHD's cap, a thread each) leaves
 * room above CONN_WAITING_MAX for new connections to be accepted while the
 * old ones wait for their cut. Once a request is in, it is answered
 * however long its work takes (a search). */
#define CONN_MAX 512u
#define CONN_WAITING_MAX 64
#define CONN_REQUEST_MS 5000u
#define CONN_GRACE_MS 1000u
#define CONN_SWEEP_MS 250u
/* MHD's own messages (a line per connection closed early) go to the node's
 * log at most once per this interval, with the count of those left out. */
#define MHD_LOG_MS 10000u

/* One HTTP connection, MHD's socket context. Under api->lock. */
typedef struct api_conn {
    int fd;
    int busy;                   /* its request is in: being answered */
    int cut;                    /* shut down here, MHD closes it */
    uint64_t since;             /* ms: connected, or its last answer out */
    struct api_conn *prev, *next;
} api_conn;

typedef struct api_search api_search;

struct api {
    shoal_node *node;
    shoal_files *files;
    shoal_peerstore *store;     /* may be NULL */
    struct MHD_Daemon *mhd;
    int fd;                     /* the listening socket, until MHD has it */
    uv_mutex_t lock;            /* guards stopping and every job's answer */
    uv_cond_t cond;             /* broadcast when a job is answered */
    int stopping;
    api_conn *conns;            /* every open connection, newest first */
    uv_thread_t sweeper;        /* cuts connections past CONN_REQUEST_MS */
    int sweeping;
    uv_mutex_t log_lock;        /* guards log_at and log_left_out */
    uint64_t log_at, log_left_out;
    uint32_t search_timeout_ms;
    char host[SHOAL_HOST_MAX];  /* bound, without brackets */
    unsigned port;
    char self[HOST_TEXT];       /* the Host header we answer to */
    char token[API_TOKEN_HEX + 1];
    char token_file[4096];
    char url[HOST_TEXT + API_TOKEN_HEX + 32];
    char *share_dir, *download_dir;
    /* searches started with "wait": false; only the loop touches these */
    api_search *searches;       /* newest first */
    unsigned next_search_id;
};

/* ------------------------------------------------------------------ jobs */

typedef struct job job;
typedef void (*job_fn)(job *j);

struct job {
    api *api;
    job_fn run;                 /* on the loop */
    int refs;                   /* waiter + loop; under api->lock */
    int done;
    uint32_t wait_ms;
    char *arg;                  /* the request's string argument, owned */
    unsigned num;               /* its number argument */
    int nowait;                 /* API_SEARCH: answer with an id at once */
    unsigned status;            /* the answer: HTTP status */
    char *text;                 /* and JSON text, malloc'd */
};

static void job_unref_locked(job *j)
{
    if (--j->refs > 0)
        return;
    free(j->arg);
    free(j->text);
    free(j);
}

/* Loop thread: the answer is obj (consumed). Wakes the waiter. */
static void job_answer(job *j, unsigned status, cJSON *obj)
{
    char *text = obj != NULL ? cJSON_PrintUnformatted(obj) : NULL;
    api *a = j->api;

    cJSON_Delete(obj);
    uv_mutex_lock(&a->lock);
    j->status = text != NULL ? status : MHD_HTTP_INTERNAL_SERVER_ERROR;
    j->text = text;
    j->done = 1;
    uv_cond_broadcast(&a->cond);
    job_unref_locked(j);
    uv_mutex_unlock(&a->lock);
}

/* {"error": "..."}, built with cJSON like every other answer. */
static cJSON *error_json(const char *fmt, va_list ap)
{
    char msg[512];
    cJSON *obj = cJSON_CreateObject();

    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (obj != NULL && cJSON_AddStringToObject(obj, "error", msg) == NULL) {
        cJSON_Delete(obj);
        obj = NULL;
    }
    return obj;
}

static void job_error(job *j, unsigned status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static void job_error(job *j, unsigned status, const char *fmt, ...)
{
    va_list ap;
    cJSON *obj;

    va_start(ap, fmt);
    obj = error_json(fmt, ap);
    va_end(ap);
    job_answer(j, status, obj);
}

/* The HTTP status for a shoal error code returned by a call. */
static unsigned status_of(int err)
{
    switch (err) {
    case SHOAL_EINVAL:
    case SHOAL_EBADADDR: return MHD_HTTP_BAD_REQUEST;
    case SHOAL_ENOENT: return MHD_HTTP_NOT_FOUND;
    case SHOAL_EEXIST: return MHD_HTTP_CONFLICT;
    case SHOAL_ENOBUFS:
    case SHOAL_EFULL: return MHD_HTTP_TOO_MANY_REQUESTS;
    case SHOAL_ECANCELED: return MHD_HTTP_SERVICE_UNAVAILABLE;
    default: return MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
}

static void on_job_posted(shoal_node *node, void *user)
{
    job *j = user;

    (void)node;
    j->run(j);
}

/* MHD thread: posts j to the loop and waits for its answer, or its
 * deadline, or shutdown. Returns the status; *text gets the JSON (owned),
 * or NULL when the loop did not answer. Frees j (its waiter's share). */
static unsigned job_wait(api *a, job *j, char **text)
{
    uint64_t end = uv_hrtime() + (uint64_t)j->wait_ms * 1000000u;
    unsigned status;
    int rc;

    *text = NULL;
    j->api = a;
    j->refs = 2;
    uv_mutex_lock(&a->lock);
    rc = a->stopping ? SHOAL_ECANCELED : 0;
    uv_mutex_unlock(&a->lock);
    if (rc == 0)
        rc = shoal_post(a->node, on_job_posted, j);
    uv_mutex_lock(&a->lock);
    if (rc < 0)
        j->refs = 1; /* the loop will never see it */
    while (rc == 0 && !j->done && !a->stopping) {
        uint64_t now = uv_hrtime();
        if (now >= end)
            break;
        uv_cond_timedwait(&a->cond, &a->lock, end - now);
    }
    if (j->done) {
        status = j->status;
        *text = j->text;
        j->text = NULL;
    } else {
        status = rc < 0 || a->stopping ? MHD_HTTP_SERVICE_UNAVAILABLE
                                       : MHD_HTTP_GATEWAY_TIMEOUT;
    }
    job_unref_locked(j);
    uv_mutex_unlock(&a->lock);
    return status;
}

/* ------------------------------------------------- JSON of shoal objects */

/* The address others dial a known peer at: a multiaddr in secure mode,
 * HOST:PORT in classic mode; IPv6 hosts are the ones with a ':'. */
static void peer_addr(const api *a, const shoal_peer *p, char *out,
                      size_t size)
{
    int v6 = strchr(p->host, ':') != NULL;

    if (shoal_node_peer_id(a->node) != NULL)
        snprintf(out, size, "/%s/%s/tcp/%u/p2p/%s", v6 ? "ip6" : "ip4",
                 p->host, p->port, p->id);
    else if (v6)
        snprintf(out, size, "[%s]:%u", p->host, p->port);
    else
        snprintf(out, size, "%s:%u", p->host, p->port);
}

static cJSON *peer_json(const api *a, const shoal_peer *p)
{
    char addr[SHOAL_HOST_MAX + SHOAL_ID_MAX + 32];
    cJSON *o = cJSON_CreateObject();

    peer_addr(a, p, addr, sizeof(addr));
    cJSON_AddStringToObject(o, "id", p->id);
    cJSON_AddStringToObject(o, "host", p->host);
    cJSON_AddNumberToObject(o, "port", p->port);
    cJSON_AddStringToObject(o, "addr", addr);
    return o;
}

static const char *state_name(int state)
{
    switch (state) {
    case SHOAL_TRANSFER_SEARCHING: return "searching";
    case SHOAL_TRANSFER_RUNNING: return "running";
    case SHOAL_TRANSFER_DONE: return "done";
    case SHOAL_TRANSFER_FAILED: return "failed";
    default: return "unknown";
    }
}

/* cJSON keeps numbers as doubles: exact up to 2^53 bytes, plenty. now is
 * the loop's clock, which the transfer's times are read on. */
static cJSON *transfer_json(const shoal_transfer_info *t, uint64_t now)
{
    uint64_t end = t->ended_ms ? t->ended_ms : now;
    cJSON *o = cJSON_CreateObject();

    cJSON_AddNumberToObject(o, "id", t->id);
    cJSON_AddStringToObject(o, "state", state_name(t->state));
    if (t->state == SHOAL_TRANSFER_FAILED) {
        cJSON_AddStringToObject(o, "error", shoal_strerror(t->error));
        cJSON_AddNumberToObject(o, "error_code", t->error);
    } else {
        cJSON_AddNullToObject(o, "error");
        cJSON_AddNullToObject(o, "error_code");
    }
    cJSON_AddStringToObject(o, "name", t->name ? t->name : "");
    cJSON_AddStringToObject(o, "hash", t->hash ? t->hash : "");
    cJSON_AddStringToObject(o, "path", t->path ? t->path : "");
    cJSON_AddNumberToObject(o, "size", (double)t->size);
    cJSON_AddNumberToObject(o, "received", (double)t->received);
    cJSON_AddNumberToObject(o, "resumed", (double)t->resumed);
    cJSON_AddNumberToObject(o, "rate", t->rate);
    cJSON_AddNumberToObject(o, "holders", (double)t->nholders);
    cJSON_AddNumberToObject(o, "elapsed_ms",
                            end > t->started_ms ? (double)(end - t->started_ms)
                                                : 0);
    /* Time left at the recent rate; unknown before there is one. */
    if (t->state == SHOAL_TRANSFER_RUNNING && t->rate > 0 &&
        t->size >= t->received)
        cJSON_AddNumberToObject(o, "eta", (double)(t->size - t->received) /
                                              t->rate);
    else
        cJSON_AddNullToObject(o, "eta");
    return o;
}

static cJSON *string_array(cJSON *parent, const char *name)
{
    cJSON *arr = cJSON_CreateArray();

    cJSON_AddItemToObject(parent, name, arr);
    return arr;
}

/* ------------------------------------------------ the jobs, on the loop */

static void run_status(job *j)
{
    api *a = j->api;
    char addr[1024];
    cJSON *o = cJSON_CreateObject(), *listen;
    const char *pid = shoal_node_peer_id(a->node);
    size_t i;

    cJSON_AddStringToObject(o, "id", shoal_node_id(a->node));
    if (pid != NULL)
        cJSON_AddStringToObject(o, "peer_id", pid);
    else
        cJSON_AddNullToObject(o, "peer_id");
    cJSON_AddStringToObject(o, "mode", pid != NULL ? "secure" : "classic");
    listen = string_array(o, "listen");
    for (i = 0; shoal_node_listen_addr(a->node, i, addr, sizeof(addr)) == 0;
         i++)
        cJSON_AddItemToArray(listen, cJSON_CreateString(addr));
    if (a->share_dir != NULL)
        cJSON_AddStringToObject(o, "share_dir", a->share_dir);
    else
        cJSON_AddNullToObject(o, "share_dir");
    cJSON_AddStringToObject(o, "download_dir", a->download_dir);
    cJSON_AddNumberToObject(o, "files", (double)shoal_files_count(a->files));
    cJSON_AddNumberToObject(o, "peers", (double)shoal_peer_count(a->node));
    cJSON_AddNumberToObject(o, "transfers",
                            (double)shoal_transfer_count(a->files));
    job_answer(j, MHD_HTTP_OK, o);
}

/* One peer store entry; times are unix ms, 0 for never. */
static void on_stored(const shoal_peerstore_entry *e, void *user)
{
    cJSON *o = cJSON_CreateObject(), *addrs = string_array(o, "addrs");

    cJSON_AddStringToObject(o, "id", e->id);
    for (size_t i = 0; i < e->naddrs; i++)
        cJSON_AddItemToArray(addrs, cJSON_CreateString(e->addrs[i]));
    cJSON_AddNumberToObject(o, "first_seen", (double)e->first_seen_ms);
    cJSON_AddNumberToObject(o, "last_seen", (double)e->last_seen_ms);
    cJSON_AddNumberToObject(o, "last_connect", (double)e->last_connect_ms);
    cJSON_AddNumberToObject(o, "next_retry", (double)e->next_retry_ms);
    cJSON_AddNumberToObject(o, "failures", (double)e->failures);
    cJSON_AddBoolToObject(o, "connected", e->connected);
    cJSON_AddItemToArray(user, o);
}

static void run_peers(job *j)
{
    api *a = j->api;
    cJSON *o = cJSON_CreateObject(), *arr = string_array(o, "peers");
    cJSON *stored;
    size_t i, n = shoal_peer_count(a->node);

    for (i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, peer_json(a, shoal_peer_at(a->node, i)));
    /* the peer store, best first; null when the node keeps none */
    if (a->store != NULL) {
        stored = string_array(o, "stored");
        shoal_peerstore_list(a->store, on_stored, stored);
    } else {
        cJSON_AddNullToObject(o, "stored");
    }
    job_answer(j, MHD_HTTP_OK, o);
}

static void on_joined(shoal_node *node, int status, size_t added,
                      void *user)
{
    cJSON *o;

    if (status < 0) { /* the walk could not start: say why */
        job_error(user, status == SHOAL_ESELF ? MHD_HTTP_BAD_REQUEST
                                              : MHD_HTTP_BAD_GATEWAY,
                  "cannot join: %s", shoal_strerror(status));
        return;
    }
    o = cJSON_CreateObject();

    cJSON_AddNumberToObject(o, "added", (double)added);
    cJSON_AddNumberToObject(o, "known", (double)shoal_peer_count(node));
    job_answer(user, MHD_HTTP_OK, o);
}

static void run_join(job *j)
{
    /* The callback may run before shoal_join returns: j is not touched
     * after a successful call. */
    int rc = shoal_join(j->api->node, j->arg, 2, on_joined, j);

    if (rc < 0)
        job_error(j, status_of(rc), "cannot join %s: %s", j->arg,
                  shoal_strerror(rc));
}

static void run_peer_remove(job *j)
{
    int rc = shoal_peer_remove(j->api->node, j->arg);
    cJSON *o;

    /* forgotten by the store too, or its dialer would bring it back */
    if (j->api->store != NULL &&
        shoal_peerstore_forget(j->api->store, j->arg) == 0 &&
        rc == SHOAL_ENOENT)
        rc = 0;
    if (rc < 0) {
        job_error(j, status_of(rc), "cannot remove peer %s: %s", j->arg,
                  shoal_strerror(rc));
        return;
    }
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "removed", j->arg);
    job_answer(j, MHD_HTTP_OK, o);
}

static void run_files(job *j)
{
    shoal_files *f = j->api->files;
    cJSON *o = cJSON_CreateObject(), *arr = string_array(o, "files");
    size_t i, n = shoal_files_count(f);

    for (i = 0; i < n; i++) {
        const shoal_file_info *fi = shoal_files_at(f, i);
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", fi->name);
        cJSON_AddNumberToObject(e, "size", (double)fi->size);
        cJSON_AddStringToObject(e, "hash", fi->hash);
        cJSON_AddItemToArray(arr, e);
    }
    job_answer(j, MHD_HTTP_OK, o);
}

static char *dup_string(const char *s);

static cJSON *result_json(const shoal_search_result *r)
{
    cJSON *e = cJSON_CreateObject(), *holders;

    cJSON_AddStringToObject(e, "name", r->name);
    cJSON_AddNumberToObject(e, "size", (double)r->size);
    cJSON_AddStringToObject(e, "hash", r->hash ? r->hash : "");
    holders = string_array(e, "holders");
    for (size_t h = 0; h < r->nholders; h++) {
        cJSON *ho = cJSON_CreateObject();
        cJSON_AddStringToObject(ho, "peer", r->holders[h].peer);
        cJSON_AddStringToObject(ho, "addr", r->holders[h].addr);
        cJSON_AddItemToArray(holders, ho);
    }
    return e;
}

static void on_searched(shoal_files *f, int status,
                        const shoal_search_result *results, size_t count,
                        void *user)
{
    cJSON *o, *arr;

    (void)f;
    if (status < 0) {
        job_error(user, status_of(status), "search failed: %s",
                  shoal_strerror(status));
        return;
    }
    o = cJSON_CreateObject();
    arr = string_array(o, "results");
    for (size_t i = 0; i < count; i++)
        cJSON_AddItemToArray(arr, result_json(&results[i]));
    job_answer(user, MHD_HTTP_OK, o);
}

/* A search started with "wait": false. Its results so far are read with
 * GET /api/search/<id> as they come: a classic search lasts its whole
 * timeout, and a person wants to see the first holder at once. */
struct api_search {
    api_search *next;
    api *api;
    unsigned id;
    char *key;
    cJSON *results;             /* array, in the order found */
    int done;
    int status;                 /* how it ended, once done */
    uint64_t ended;             /* loop time, once done */
};

static void search_free(api_search *s)
{
    cJSON_Delete(s->results);
    free(s->key);
    free(s);
}

/* Finished searches past SEARCH_KEEP_MS go; then, while there are
 * SEARCHES_MAX or more, the oldest finished ones. 0, or -1 when every
 * kept search still runs. */
static int searches_trim(api *a, uint64_t now)
{
    api_search **p, *oldest_done;
    size_t n = 0;

    for (p = &a->searches; *p != NULL;) {
        api_search *s = *p;
        if (s->done && now - s->ended >= SEARCH_KEEP_MS) {
            *p = s->next;
            search_free(s);
        } else {
            n++;
            p = &s->next;
        }
    }
    while (n >= SEARCHES_MAX) {
        api_search **victim = NULL;
        for (p = &a->searches; *p != NULL; p = &(*p)->next)
            if ((*p)->done)
                victim = p; /* the last done one is the oldest */
        if (victim == NULL)
            return -1;
        oldest_done = *victim;
        *victim = oldest_done->next;
        search_free(oldest_done);
        n--;
    }
    return 0;
}

/* The same result: the same hash, or without one (classic), the same
 * name. */
static int same_result(const cJSON *e, const shoal_search_result *r)
{
    const char *hash = r->hash ? r->hash : "";
    const cJSON *eh = cJSON_GetObjectItemCaseSensitive(e, "hash");
    const cJSON *en = cJSON_GetObjectItemCaseSensitive(e, "name");

    if (!cJSON_IsString(eh) || !cJSON_IsString(en))
        return 0;
    if (hash[0] != '\0')
        return strcmp(eh->valuestring, hash) == 0;
    return eh->valuestring[0] == '\0' && strcmp(en->valuestring, r->name) == 0;
}

static void on_search_found(shoal_files *f, const shoal_search_result *r,
                            void *user)
{
    api_search *s = user;
    cJSON *e;
    int i = 0;

    (void)f;
    cJSON_ArrayForEach(e, s->results) {
        if (same_result(e, r)) {
            cJSON_ReplaceItemInArray(s->results, i, result_json(r));
            return;
        }
        i++;
    }
    cJSON_AddItemToArray(s->results, result_json(r));
}

static void on_search_end(shoal_files *f, int status,
                          const shoal_search_result *results, size_t count,
                          void *user)
{
    api_search *s = user;

    s->done = 1;
    s->status = status;
    s->ended = uv_now(shoal_node_loop(s->api->node));
    if (status == 0) { /* every result, merged: the final word */
        cJSON_Delete(s->results);
        s->results = cJSON_CreateArray();
        for (size_t i = 0; i < count; i++)
            cJSON_AddItemToArray(s->results, result_json(&results[i]));
    }
    (void)f;
}

static void run_search_start(job *j)
{
    api *a = j->api;
    api_search *s;
    cJSON *o;
    int rc;

    if (searches_trim(a, uv_now(shoal_node_loop(a->node))) < 0) {
        job_error(j, MHD_HTTP_TOO_MANY_REQUESTS,
                  "%d searches are running; try later", SEARCHES_MAX);
        return;
    }
    if ((s = calloc(1, sizeof(*s))) == NULL ||
        (s->key = dup_string(j->arg)) == NULL ||
        (s->results = cJSON_CreateArray()) == NULL) {
        if (s != NULL)
            free(s->key);
        free(s);
        job_error(j, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
        return;
    }
    s->api = a;
    s->id = ++a->next_search_id;
    /* listed first: results may come before the call returns */
    s->next = a->searches;
    a->searches = s;
    rc = shoal_files_search_stream(a->files, j->arg, j->num, on_search_found,
                                   on_search_end, s);
    if (rc < 0) {
        a->searches = s->next;
        search_free(s);
        job_error(j, status_of(rc), "cannot search: %s", shoal_strerror(rc));
        return;
    }
    o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", s->id);
    cJSON_AddStringToObject(o, "key", s->key);
    job_answer(j, MHD_HTTP_OK, o);
}

static void run_search(job *j)
{
    int rc;

    if (j->nowait) {
        run_search_start(j);
        return;
    }
    rc = shoal_files_search(j->api->files, j->arg, j->num, on_searched, j);
    if (rc < 0)
        job_error(j, status_of(rc), "cannot search: %s", shoal_strerror(rc));
}

/* {"id", "key", "done", "error", "results"}: what a search has found so
 * far; once done, every result. */
static void run_search_get(job *j)
{
    api_search *s = j->api->searches;
    cJSON *o;

    while (s != NULL && s->id != j->num)
        s = s->next;
    if (s == NULL) {
        job_error(j, MHD_HTTP_NOT_FOUND, "no search %u (or it ended over "
                  "%d s ago)", j->num, SEARCH_KEEP_MS / 1000);
        return;
    }
    o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", s->id);
    cJSON_AddStringToObject(o, "key", s->key);
    cJSON_AddBoolToObject(o, "done", s->done);
    if (s->done && s->status < 0)
        cJSON_AddStringToObject(o, "error", shoal_strerror(s->status));
    else
        cJSON_AddNullToObject(o, "error");
    cJSON_AddItemToObject(o, "results", cJSON_Duplicate(s->results, 1));
    job_answer(j, MHD_HTTP_OK, o);
}

static void run_get(job *j)
{
    unsigned id = 0;
    int rc = shoal_files_get(j->api->files, j->arg, &id);
    cJSON *o;

    if (rc == SHOAL_ENOBUFS) {
        job_error(j, status_of(rc), "too many transfers running; try later");
        return;
    }
    if (rc < 0) {
        job_error(j, status_of(rc), "cannot get '%s': %s", j->arg,
                  shoal_strerror(rc));
        return;
    }
    o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", id);
    job_answer(j, MHD_HTTP_OK, o);
}

static void run_transfers(job *j)
{
    shoal_files *f = j->api->files;
    cJSON *o = cJSON_CreateObject(), *arr = string_array(o, "transfers");
    shoal_transfer_info t;
    size_t i, n = shoal_transfer_count(f);

    uint64_t now = uv_now(shoal_node_loop(j->api->node));

    for (i = 0; i < n; i++)
        if (shoal_transfer_at(f, i, &t) == 0)
            cJSON_AddItemToArray(arr, transfer_json(&t, now));
    job_answer(j, MHD_HTTP_OK, o);
}

static void run_transfer(job *j)
{
    shoal_transfer_info t;
    int rc = shoal_transfer_get(j->api->files, j->num, &t);

    if (rc < 0)
        job_error(j, status_of(rc), "no transfer %u", j->num);
    else
        job_answer(j, MHD_HTTP_OK,
                   transfer_json(&t, uv_now(shoal_node_loop(j->api->node))));
}

/* ------------------------------------------- requests, on an MHD thread */

/* What one HTTP request has gathered so far (MHD's con_cls). */
typedef struct request {
    char *body;                 /* up to one byte past API_MAX_BODY */
    size_t len, cap;
} request;

/* Adds the headers every answer carries and queues it. */
static enum MHD_Result queue(struct MHD_Connection *c, unsigned status,
                             struct MHD_Response *resp)
{
    enum MHD_Result ret;

    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Queues JSON text (owned, freed by MHD). */
static enum MHD_Result respond_json(struct MHD_Connection *c, unsigned status,
                                    char *text, const char *allow)
{
    struct MHD_Response *resp;

    if (text == NULL)
        return MHD_NO;
    resp = MHD_create_response_from_buffer(strlen(text), text,
                                           MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "application/json");
    if (allow != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    return queue(c, status, resp);
}

static enum MHD_Result respond_error(struct MHD_Connection *c,
                                     unsigned status, const char *allow,
                                     const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* Queues {"error": ...}; allow, when not NULL, is the Allow header. */
static enum MHD_Result respond_error(struct MHD_Connection *c,
                                     unsigned status, const char *allow,
                                     const char *fmt, ...)
{
    va_list ap;
    cJSON *obj;
    char *text;

    va_start(ap, fmt);
    obj = error_json(fmt, ap);
    va_end(ap);
    text = obj != NULL ? cJSON_PrintUnformatted(obj) : NULL;
    cJSON_Delete(obj);
    return respond_json(c, status, text, allow);
}

/* Who this API is, for the input checks (api_input.h). */
static api_input_self input_self(const api *a)
{
    api_input_self self = {a->self, a->port, a->token};

    return self;
}

/* The headers the input checks read, from MHD. */
static api_input_headers input_headers(struct MHD_Connection *c)
{
    api_input_headers h;

    h.host = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                         MHD_HTTP_HEADER_HOST);
    h.origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                           MHD_HTTP_HEADER_ORIGIN);
    h.token = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                          API_TOKEN_HEADER);
    h.content_length = MHD_lookup_connection_value(
        c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    return h;
}

/* Keeps the body up to one byte past API_MAX_BODY: enough for
 * api_input_parse to see that it is too large (413 at the end), and no
 * more, so that a chunked body cannot grow memory. 0, or -1 when out of
 * memory. */
static int body_append(request *r, const char *data, size_t len)
{
    size_t room = API_MAX_BODY + 1 - r->len;

    if (len > room)
        len = room;
    if (len == 0)
        return 0;
    if (r->len + len + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 1024;
        char *grown;
        while (cap < r->len + len + 1)
            cap *= 2;
        if ((grown = realloc(r->body, cap)) == NULL)
            return -1;
        r->body = grown;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, len);
    r->len += len;
    r->body[r->len] = '\0';
    return 0;
}

static char *dup_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);

    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

/* What the loop runs for each endpoint of the API. */
static const job_fn job_runs[API_ENDPOINTS] = {
    [API_STATUS] = run_status,
    [API_PEERS] = run_peers,
    [API_JOIN] = run_join,
    [API_PEER_REMOVE] = run_peer_remove,
    [API_FILES] = run_files,
    [API_SEARCH] = run_search,
    [API_SEARCH_GET] = run_search_get,
    [API_GET] = run_get,
    [API_TRANSFERS] = run_transfers,
    [API_TRANSFER] = run_transfer,
};

/* How long an MHD thread waits for the loop to answer req. */
static uint32_t job_wait_ms(const api *a, const api_request *req)
{
    switch (req->endpoint) {
    case API_JOIN: return WAIT_MS * 2; /* a walk of a few connects */
    case API_SEARCH:
        if (req->nowait)
            return WAIT_MS;
        return (req->num ? req->num : a->search_timeout_ms) + WAIT_SLACK_MS;
    default: return WAIT_MS;
    }
}

/* Runs a checked /api/ request (api_input_parse): the work on the loop,
 * then the answer. */
static enum MHD_Result serve_api(api *a, struct MHD_Connection *c,
                                 const api_request *req)
{
    unsigned status;
    char *text;
    job *j;

    if ((j = calloc(1, sizeof(*j))) == NULL)
        return MHD_NO;
    j->run = job_runs[req->endpoint];
    j->wait_ms = job_wait_ms(a, req);
    j->num = req->num;
    j->nowait = req->nowait;
    if (req->arg[0] != '\0' && (j->arg = dup_string(req->arg)) == NULL) {
        free(j);
        return respond_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
                             "out of memory");
    }
    status = job_wait(a, j, &text);
    if (text != NULL)
        return respond_json(c, status, text, NULL);
    return respond_error(c, status, NULL, "%s",
                         status == MHD_HTTP_GATEWAY_TIMEOUT
                             ? "the node did not answer in time"
                             : "the node is stopping");
}

/* The web UI's files, from the binary (the method is checked already). */
static enum MHD_Result serve_static(struct MHD_Connection *c, const char *url)
{
    const web_asset *w;
    struct MHD_Response *resp;

    if (strcmp(url, "/") == 0)
        url = "/index.html";
    for (w = web_assets; w->path != NULL; w++)
        if (strcmp(w->path, url) == 0)
            break;
    if (w->path == NULL)
        return respond_error(c, MHD_HTTP_NOT_FOUND, NULL, "no such page: %s",
                             url);
    resp = MHD_create_response_from_buffer(w->len, (void *)w->data,
                                           MHD_RESPMEM_PERSISTENT);
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, w->type);
    /* Nothing but this API's own scripts, styles and fetches. */
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'none'; script-src 'self'; "
                            "style-src 'self'; connect-src 'self'; "
                            "img-src 'self' data:; base-uri 'none'; "
                            "form-action 'none'; frame-ancestors 'none'");
    return queue(c, MHD_HTTP_OK, resp);
}

/* Answers a refusal decided by api_input. */
static enum MHD_Result respond_refusal(struct MHD_Connection *c,
                                       const api_decision *d)
{
    return respond_error(c, d->status, d->allow[0] ? d->allow : NULL, "%s",
                         d->why);
}

/* ------------------------------------------------------- connections */

static uint64_t conn_now_ms(void)
{
    return uv_hrtime() / 1000000u;
}

/* Cuts k: MHD's thread for it sees the end and closes it. Under lock; k is
 * still registered, so its fd is still its own. */
static void conn_cut(api_conn *k)
{
    if (k->cut)
        return;
    k->cut = 1;
    shutdown(k->fd, SHUT_RDWR);
}

/* c's request is in (busy 1), or its answer is out (0). */
static void conn_mark(api *a, struct MHD_Connection *c, int busy)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    api_conn *k = ci != NULL ? ci->socket_context : NULL;

    if (k == NULL)
        return;
    uv_mutex_lock(&a->lock);
    k->busy = busy;
    k->since = conn_now_ms();
    uv_mutex_unlock(&a->lock);
}

/* Under lock: while more than CONN_WAITING_MAX connections are still
 * sending their request, cuts the oldest of them past CONN_GRACE_MS, at
 * most max of them. */
static void conns_trim(api *a, uint64_t now, size_t max)
{
    size_t waiting = 0;

    for (api_conn *k = a->conns; k != NULL; k = k->next)
        waiting += !k->busy && !k->cut;
    while (waiting > CONN_WAITING_MAX && max-- > 0) {
        api_conn *oldest = NULL;
        for (api_conn *k = a->conns; k != NULL; k = k->next)
            if (!k->busy && !k->cut && now - k->since >= CONN_GRACE_MS &&
                (oldest == NULL || k->since <= oldest->since))
                oldest = k;
        if (oldest == NULL)
            return;
        conn_cut(oldest);
        waiting--;
    }
}

/* MHD's thread, at a connection's start and end: registers it; a new one
 * past CONN_WAITING_MAX still sending cuts the oldest of those (past the
 * grace). */
static void on_connection(void *cls, struct MHD_Connection *c,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    api *a = cls;
    api_conn *k = *socket_context;
    const union MHD_ConnectionInfo *ci;

    if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        if (k == NULL)
            return;
        uv_mutex_lock(&a->lock);
        if (k->prev != NULL)
            k->prev->next = k->next;
        else
            a->conns = k->next;
        if (k->next != NULL)
            k->next->prev = k->prev;
        uv_mutex_unlock(&a->lock);
        free(k);
        *socket_context = NULL;
        return;
    }
    ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci == NULL)
        return;
    if ((k = calloc(1, sizeof(*k))) == NULL) {
        shutdown(ci->connect_fd, SHUT_RDWR); /* untracked: not kept */
        return;
    }
    k->fd = ci->connect_fd;
    k->since = conn_now_ms();
    uv_mutex_lock(&a->lock);
    conns_trim(a, k->since, 1);
    k->next = a->conns;
    if (a->conns != NULL)
        a->conns->prev = k;
    a->conns = k;
    uv_mutex_unlock(&a->lock);
    *socket_context = k;
}

/* The sweeper thread: every CONN_SWEEP_MS, cuts the connections whose
 * request is not in CONN_REQUEST_MS after their start or last answer, and
 * trims those still sending down to CONN_WAITING_MAX (conns_trim), so
 * that MHD, full, accepts again. */
static void sweep(void *arg)
{
    api *a = arg;

    uv_mutex_lock(&a->lock);
    while (!a->stopping) {
        uint64_t now = conn_now_ms();
        for (api_conn *k = a->conns; k != NULL; k = k->next)
            if (!k->busy && now - k->since >= CONN_REQUEST_MS)
                conn_cut(k);
        conns_trim(a, now, CONN_MAX);
        uv_cond_timedwait(&a->cond, &a->lock,
                          (uint64_t)CONN_SWEEP_MS * 1000000u);
    }
    uv_mutex_unlock(&a->lock);
}

/* MHD's messages, from any of its threads: rate limited (MHD_LOG_MS). */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    api *a = cls;
    uint64_t now = conn_now_ms(), left_out;
    char text[256];
    size_t n;

    uv_mutex_lock(&a->log_lock);
    if (a->log_at != 0 && now - a->log_at < MHD_LOG_MS) {
        a->log_left_out++;
        uv_mutex_unlock(&a->log_lock);
        return;
    }
    left_out = a->log_left_out;
    a->log_left_out = 0;
    a->log_at = now;
    uv_mutex_unlock(&a->log_lock);
    vsnprintf(text, sizeof(text), fmt, ap);
    n = strlen(text);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '.'))
        text[--n] = '\0';
    for (char *p = text; *p != '\0'; p++)
        if (*p == '"' || *p == '\n')
            *p = '\'';
    shoal_log(a->node, SHOAL_LOG_INFO, "api_http_note msg=\"%s\" "
              "left_out=%llu", text, (unsigned long long)left_out);
}

/* MHD's access handler: called once with the headers, then with each
 * piece of the body, then once more with none to answer. What the client
 * sent is judged by api_input (api_input.h); this only carries it out. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version,
                                  const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    api *a = cls;
    request *r = *con_cls;
    api_decision d;

    (void)version;
    if (r == NULL) {
        /* Refused on the headers: answered at once, the body unread. */
        api_input_self self = input_self(a);
        api_input_headers h = input_headers(c);
        if (api_input_check_headers(&self, url, &h, &d) != 0) {
            conn_mark(a, c, 1);
            return respond_refusal(c, &d);
        }
        if ((r = calloc(1, sizeof(*r))) == NULL)
            return MHD_NO;
        *con_cls = r;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (body_append(r, upload_data, *upload_data_size) < 0)
            return MHD_NO;
        *upload_data_size = 0;
        return MHD_YES;
    }
    conn_mark(a, c, 1); /* all in: no deadline while it is answered */
    if (api_input_parse(method, url, r->body, r->len, &d) != 0)
        return respond_refusal(c, &d);
    if (d.req.endpoint == API_PAGE)
        return serve_static(c, url);
    return serve_api(a, c, &d.req);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    request *r = *con_cls;

    (void)toe;
    conn_mark(cls, c, 0); /* the next request's deadline starts now */
    if (r != NULL) {
        free(r->body);
        free(r);
        *con_cls = NULL;
    }
}

/* ------------------------------------------------------ starting, files */

int api_split_addr(const char *addr, char *host, size_t hostsize,
                   unsigned *port)
{
    const char *colon = strrchr(addr, ':'), *h = addr;
    size_t hlen;
    char *end;
    unsigned long p;

    if (colon == NULL)
        return -1;
    hlen = (size_t)(colon - addr);
    if (addr[0] == '[') {
        if (hlen < 2 || addr[hlen - 1] != ']')
            return -1;
        h = addr + 1;
        hlen -= 2;
    } else if (memchr(addr, ':', hlen) != NULL) {
        return -1; /* IPv6 needs its brackets */
    }
    p = strtoul(colon + 1, &end, 10);
    if (hlen == 0 || hlen >= hostsize || colon[1] == '\0' || *end != '\0' ||
        p > 65535)
        return -1;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (unsigned)p;
    return 0;
}

int api_default_token_file(const char *home, const char *host,
                           unsigned port, char *out, size_t size)
{
    char dir[4096];
    int n;

    if (home_dir(home, dir, sizeof(dir)) < 0)
        return -1;
    n = snprintf(out, size, "%s/api-%s-%u.token", dir, host, port);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* Binds and listens on host:port ourselves, rather than inside MHD, so that
 * a busy port is reported as such and port 0 tells which one it got. */
static int api_listen(api *a, char *err, size_t errsize)
{
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    const char *ip = strcmp(a->host, "localhost") == 0 ? "127.0.0.1" : a->host;
    int one = 1, v6 = strchr(ip, ':') != NULL;

    memset(&ss, 0, sizeof(ss));
    if ((v6 ? uv_ip6_addr(ip, (int)a->port, (struct sockaddr_in6 *)&ss)
            : uv_ip4_addr(ip, (int)a->port, (struct sockaddr_in *)&ss)) != 0) {
        snprintf(err, errsize, "--api wants a numeric address or localhost, "
                               "not '%s'", a->host);
        return SHOAL_EBADADDR;
    }
    /* the longest backlog the kernel allows: with a short one, slow clients
     * reconnecting fill it and the user's SYN is dropped (a 1 s retry) */
    a->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (a->fd < 0 ||
        setsockopt(a->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(a->fd, (struct sockaddr *)&ss,
             v6 ? sizeof(struct sockaddr_in6)
                : sizeof(struct sockaddr_in)) < 0 ||
        listen(a->fd, SOMAXCONN) < 0 ||
        getsockname(a->fd, (struct sockaddr *)&ss, &sslen) < 0) {
        int e = errno;
        snprintf(err, errsize, "cannot listen on %s:%u: %s", a->host, a->port,
                 strerror(e));
        return -e;
    }
    a->port = ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                       : ((struct sockaddr_in *)&ss)->sin_port);
    return 0;
}

/* The token, where only this user can read it. */
static int write_token(api *a, char *err, size_t errsize)
{
    char dir[4096], *slash;
    int fd, e;

    snprintf(dir, sizeof(dir), "%s", a->token_file);
    if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
        *slash = '\0';
        mkdir(dir, 0700); /* the home, usually there already */
    }
    fd = open(a->token_file, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
                                 O_CLOEXEC, 0600);
    if (fd >= 0 && fchmod(fd, 0600) == 0 &&
        write(fd, a->token, API_TOKEN_HEX) == API_TOKEN_HEX &&
        write(fd, "\n", 1) == 1 && close(fd) == 0)
        return 0;
    e = errno;
    if (fd >= 0)
        close(fd);
    snprintf(err, errsize, "cannot write the API token to %s: %s",
             a->token_file, strerror(e));
    return -e;
}

static void api_names(api *a)
{
    int v6 = strchr(a->host, ':') != NULL;

    snprintf(a->self, sizeof(a->self), v6 ? "[%s]:%u" : "%s:%u", a->host,
             a->port);
    snprintf(a->url, sizeof(a->url), "http://%s/#token=%s", a->self,
             a->token);
}

static char *dup_or_null(const char *s)
{
    return s != NULL ? dup_string(s) : NULL;
}

int api_start(api **out, shoal_node *node, shoal_files *files,
              const api_config *cfg, char *err, size_t errsize)
{
    unsigned char raw[API_TOKEN_HEX / 2];
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_THREAD_PER_CONNECTION | MHD_USE_AUTO |
                     MHD_USE_ERROR_LOG;
    api *a;
    int rc;

    *out = NULL;
    if (sodium_init() < 0) {
        snprintf(err, errsize, "libsodium cannot start");
        return SHOAL_ENOMEM;
    }
    if ((a = calloc(1, sizeof(*a))) == NULL) {
        snprintf(err, errsize, "out of memory");
        return SHOAL_ENOMEM;
    }
    a->fd = -1;
    a->node = node;
    a->files = files;
    a->store = cfg->peerstore;
    a->search_timeout_ms = cfg->search_timeout_ms ? cfg->search_timeout_ms
                                                  : 3000;
    uv_mutex_init(&a->lock);
    uv_mutex_init(&a->log_lock);
    uv_cond_init(&a->cond);
    a->share_dir = dup_or_null(cfg->share_dir);
    a->download_dir = dup_or_null(cfg->download_dir ? cfg->download_dir : "");
    if (api_split_addr(cfg->addr, a->host, sizeof(a->host), &a->port) < 0) {
        snprintf(err, errsize, "--api wants HOST:PORT, not '%s'", cfg->addr);
        api_free(a);
        return SHOAL_EBADADDR;
    }
    if ((rc = api_listen(a, err, errsize)) < 0) {
        api_free(a);
        return rc;
    }
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(a->token, sizeof(a->token), raw, sizeof(raw));
    sodium_memzero(raw, sizeof(raw));
    api_names(a);
    if (cfg->token_file != NULL)
        snprintf(a->token_file, sizeof(a->token_file), "%s", cfg->token_file);
    else if (api_default_token_file(cfg->home, a->host, a->port,
                                    a->token_file,
                                    sizeof(a->token_file)) < 0) {
        snprintf(err, errsize, "no home for the API token file: pass "
                               "--home or --api-token-file");
        api_free(a);
        return SHOAL_EINVAL;
    }
    if ((rc = write_token(a, err, errsize)) < 0) {
        a->token_file[0] = '\0'; /* not ours to remove */
        api_free(a);
        return rc;
    }
    if (strchr(a->host, ':') != NULL)
        flags |= MHD_USE_IPv6;
    /* The logger first: MHD says so on its own logger otherwise. */
    a->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, a,
                              MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, a,
                              MHD_OPTION_LISTEN_SOCKET, a->fd,
                              MHD_OPTION_NOTIFY_COMPLETED, on_completed, a,
                              MHD_OPTION_NOTIFY_CONNECTION, on_connection, a,
                              MHD_OPTION_CONNECTION_LIMIT, CONN_MAX,
                              /* MHD's idle limit is only a backstop: an
                               * answer its client does not read */
                              MHD_OPTION_CONNECTION_TIMEOUT, 120u,
                              MHD_OPTION_END);
    if (a->mhd == NULL) {
        snprintf(err, errsize, "cannot start the HTTP server on %s", a->self);
        api_free(a);
        return SHOAL_ENOMEM;
    }
    a->fd = -1; /* MHD's now, closed by MHD_stop_daemon */
    if (uv_thread_create(&a->sweeper, sweep, a) != 0) {
        snprintf(err, errsize, "cannot start the API's connection sweeper");
        api_free(a);
        return SHOAL_ENOMEM;
    }
    a->sweeping = 1;
    *out = a;
    return 0;
}

const char *api_url(const api *a) { return a->url; }

void api_stop(api *a)
{
    if (a == NULL || a->mhd == NULL)
        return;
    uv_mutex_lock(&a->lock);
    a->stopping = 1;
    uv_cond_broadcast(&a->cond);
    uv_mutex_unlock(&a->lock);
    if (a->sweeping)
        uv_thread_join(&a->sweeper);
    a->sweeping = 0;
    MHD_stop_daemon(a->mhd);
    a->mhd = NULL;
    if (a->token_file[0] != '\0')
        unlink(a->token_file);
    a->token_file[0] = '\0';
}

void api_free(api *a)
{
    if (a == NULL)
        return;
    api_stop(a);
    if (a->fd >= 0)
        close(a->fd);
    if (a->token_file[0] != '\0')
        unlink(a->token_file);
    sodium_memzero(a->token, sizeof(a->token));
    uv_cond_destroy(&a->cond);
    uv_mutex_destroy(&a->lock);
    uv_mutex_destroy(&a->log_lock);
    free(a->share_dir);
    free(a->download_dir);
    /* the files service is freed first: no search calls back any more */
    while (a->searches != NULL) {
        api_search *next = a->searches->next;
        search_free(a->searches);
        a->searches = next;
    }
    free(a);
}
