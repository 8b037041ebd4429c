/* The tracker's stats page: see http.h. The tracker lives on the node's
 * loop and may only be read there, while libmicrohttpd answers on a thread
 * of its own. Rather than hand each request to the loop and wait, a node
 * timer copies the figures into a snapshot under a lock every SNAP_MS:
 * the figures themselves change at most once a tick of the tracker, and a
 * request then costs the loop nothing and cannot be held up by it. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cJSON.h>
#include <microhttpd.h>

#include "http.h"

#define SNAP_MS 250             /* the tracker's own tick */
#define HOST_MAX 64             /* a numeric address, or localhost */
#define PAGE_MAX 4096

struct stats_http {
    shoal_node *node;
    shoal_tracker *tracker;
    shoal_timer *timer;
    struct MHD_Daemon *mhd;
    int fd;                     /* the listening socket, until MHD has it */
    uv_mutex_t lock;            /* guards snap */
    shoal_tracker_stats snap;
    uint64_t started_ns;        /* uv_hrtime at start, for uptime_s */
    char host[HOST_MAX];
    unsigned port;
    char url[HOST_MAX + 32];
};

/* ---------------------------------------------------- the loop's side */

static void take_snapshot(stats_http *h)
{
    shoal_tracker_stats st;

    shoal_tracker_stats_get(h->tracker, &st);
    uv_mutex_lock(&h->lock);
    h->snap = st;
    uv_mutex_unlock(&h->lock);
}

static void on_snap_tick(shoal_node *node, void *user)
{
    (void)node;
    take_snapshot(user);
}

/* ----------------------------------------------- MHD's side: answers */

/* The figures as the last snapshot had them, and the uptime now. */
static void read_snapshot(stats_http *h, shoal_tracker_stats *st,
                          uint64_t *uptime_s)
{
    uv_mutex_lock(&h->lock);
    *st = h->snap;
    uv_mutex_unlock(&h->lock);
    *uptime_s = (uv_hrtime() - h->started_ns) / 1000000000u;
}

/* Adds the headers every answer carries and queues it. */
static enum MHD_Result queue(struct MHD_Connection *c, unsigned status,
                             struct MHD_Response *resp, const char *type)
{
    enum MHD_Result ret;

    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    /* nothing from anywhere: the page is its own style and no more */
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'none'; style-src 'unsafe-inline'; "
                            "base-uri 'none'; form-action 'none'; "
                            "frame-ancestors 'none'");
    ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* A short text answer: the errors. allow, when not NULL, is the Allow
 * header. */
static enum MHD_Result respond_text(struct MHD_Connection *c, unsigned status,
                                    const char *text, const char *allow)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);

    if (resp != NULL && allow != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    return queue(c, status, resp, "text/plain; charset=utf-8");
}

/* Takes text (malloc'd), NULL being out of memory. */
static enum MHD_Result respond_owned(struct MHD_Connection *c, char *text,
                                     const char *type)
{
    struct MHD_Response *resp;

    if (text == NULL)
        return respond_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
                            "out of memory\n", NULL);
    resp = MHD_create_response_from_buffer(strlen(text), text,
                                           MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(text);
        return MHD_NO;
    }
    return queue(c, MHD_HTTP_OK, resp, type);
}

/* GET /stats. cJSON keeps numbers as doubles: exact up to 2^53. */
static char *stats_json(stats_http *h)
{
    shoal_tracker_stats st;
    uint64_t up;
    cJSON *o = cJSON_CreateObject();
    char *text;

    read_snapshot(h, &st, &up);
    if (o == NULL)
        return NULL;
    cJSON_AddNumberToObject(o, "peers", (double)st.peers);
    cJSON_AddNumberToObject(o, "topics", (double)st.topics);
    cJSON_AddNumberToObject(o, "announces_per_s", st.announces_per_s);
    cJSON_AddNumberToObject(o, "entries_cap", (double)st.entries_cap);
    cJSON_AddNumberToObject(o, "announces", (double)st.announces);
    cJSON_AddNumberToObject(o, "refused", (double)st.refused);
    cJSON_AddNumberToObject(o, "rate_limited", (double)st.rate_limited);
    cJSON_AddNumberToObject(o, "flushes", (double)st.flushes);
    cJSON_AddNumberToObject(o, "uptime_s", (double)up);
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

/* GET /: the same figures, written into the page here, so that it needs
 * no script; the browser reloads it every 2 s. */
static char *stats_page(stats_http *h)
{
    shoal_tracker_stats st;
    uint64_t up;
    char *page = malloc(PAGE_MAX);

    read_snapshot(h, &st, &up);
    if (page == NULL)
        return NULL;
    snprintf(page, PAGE_MAX,
             "<!doctype html>\n"
             "<html><head><meta charset=\"utf-8\">\n"
             "<meta http-equiv=\"refresh\" content=\"2\">\n"
             "<title>shoal-tracker</title>\n"
             "<style>body{font-family:sans-serif;margin:2em}"
             "td{padding:.2em 1em}td+td{text-align:right;"
             "font-variant-numeric:tabular-nums}</style>\n"
             "</head><body>\n<h1>shoal-tracker</h1>\n<table>\n"
             "<tr><td>peers</td><td id=\"peers\">%zu</td></tr>\n"
             "<tr><td>topics</td><td id=\"topics\">%zu</td></tr>\n"
             "<tr><td>announces per second</td>"
             "<td id=\"announces_per_s\">%.1f</td></tr>\n"
             "<tr><td>entries cap</td><td id=\"entries_cap\">%zu</td></tr>\n"
             "<tr><td>announces</td><td id=\"announces\">%llu</td></tr>\n"
             "<tr><td>refused</td><td id=\"refused\">%llu</td></tr>\n"
             "<tr><td>rate limited</td>"
             "<td id=\"rate_limited\">%llu</td></tr>\n"
             "<tr><td>flushes</td><td id=\"flushes\">%llu</td></tr>\n"
             "<tr><td>uptime (s)</td><td id=\"uptime_s\">%llu</td></tr>\n"
             "</table>\n<p>JSON: <a href=\"/stats\">/stats</a></p>\n"
             "</body></html>\n",
             st.peers, st.topics, st.announces_per_s, st.entries_cap,
             (unsigned long long)st.announces,
             (unsigned long long)st.refused,
             (unsigned long long)st.rate_limited,
             (unsigned long long)st.flushes, (unsigned long long)up);
    return page;
}

/* Every request is answered on its first call, from the headers: a body
 * is never read (MHD drops it and closes the connection). */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version,
                                  const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    stats_http *h = cls;

    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)con_cls;
    /* HEAD is answered as GET; MHD leaves the body out. */
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
        strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return respond_text(c, MHD_HTTP_METHOD_NOT_ALLOWED,
                            "method not allowed\n", "GET, HEAD");
    if (strcmp(url, "/stats") == 0)
        return respond_owned(c, stats_json(h), "application/json");
    if (strcmp(url, "/") == 0)
        return respond_owned(c, stats_page(h), "text/html; charset=utf-8");
    return respond_text(c, MHD_HTTP_NOT_FOUND, "not found\n", NULL);
}

/* -------------------------------------------------- starting, stopping */

int stats_http_split(const char *addr, char *host, size_t hostsize,
                     unsigned *port)
{
    const char *colon = strrchr(addr, ':'), *h = addr, *p = colon + 1;
    size_t hlen;
    char *end;
    unsigned long v;

    if (colon == NULL) {
        h = "127.0.0.1";  /* a bare port: loopback, never all hosts */
        hlen = strlen(h);
        p = addr;
    } else {
        hlen = (size_t)(colon - addr);
        if (addr[0] == '[') {
            if (hlen < 2 || addr[hlen - 1] != ']')
                return -1;
            h = addr + 1;
            hlen -= 2;
        } else if (memchr(addr, ':', hlen) != NULL) {
            return -1; /* IPv6 needs its brackets */
        }
    }
    if (*p < '0' || *p > '9')
        return -1;
    errno = 0;
    v = strtoul(p, &end, 10);
    if (hlen == 0 || hlen >= hostsize || *end != '\0' || errno != 0 ||
        v > 65535)
        return -1;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (unsigned)v;
    return 0;
}

/* Binds and listens ourselves, rather than inside MHD, so that a busy
 * port is reported as such and port 0 tells which one it got. A v6
 * address is bound v6 only: "[::]" does not take IPv4 as well. */
static int http_listen(stats_http *h, char *err, size_t errsize)
{
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    const char *ip = strcmp(h->host, "localhost") == 0 ? "127.0.0.1"
                                                       : h->host;
    int one = 1, v6 = strchr(ip, ':') != NULL;

    memset(&ss, 0, sizeof(ss));
    if ((v6 ? uv_ip6_addr(ip, (int)h->port, (struct sockaddr_in6 *)&ss)
            : uv_ip4_addr(ip, (int)h->port, (struct sockaddr_in *)&ss)) != 0) {
        snprintf(err, errsize, "--http wants a numeric address or localhost, "
                               "not '%s'", h->host);
        return SHOAL_EBADADDR;
    }
    h->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (h->fd < 0 ||
        setsockopt(h->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        (v6 && setsockopt(h->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
                          sizeof(one)) < 0) ||
        bind(h->fd, (struct sockaddr *)&ss,
             v6 ? sizeof(struct sockaddr_in6)
                : sizeof(struct sockaddr_in)) < 0 ||
        listen(h->fd, 64) < 0 ||
        getsockname(h->fd, (struct sockaddr *)&ss, &sslen) < 0) {
        int e = errno;
        snprintf(err, errsize, "--http: cannot listen on %s:%u: %s",
                 h->host, h->port, strerror(e));
        return -e;
    }
    h->port = ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                       : ((struct sockaddr_in *)&ss)->sin_port);
    snprintf(h->url, sizeof(h->url), v6 ? "http://[%s]:%u/" : "http://%s:%u/",
             h->host, h->port);
    return 0;
}

int stats_http_start(stats_http **out, shoal_node *node, shoal_tracker *t,
                     const char *addr, char *err, size_t errsize)
{
    /* One thread answers every connection: each answer is a copy of the
     * snapshot, so there is nothing to wait for, and a slow client holds
     * a connection slot, not a thread. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
                     MHD_USE_ERROR_LOG;
    stats_http *h;
    int rc;

    *out = NULL;
    if ((h = calloc(1, sizeof(*h))) == NULL) {
        snprintf(err, errsize, "out of memory");
        return SHOAL_ENOMEM;
    }
    h->fd = -1;
    h->node = node;
    h->tracker = t;
    h->started_ns = uv_hrtime();
    uv_mutex_init(&h->lock);
    if (stats_http_split(addr, h->host, sizeof(h->host), &h->port) < 0) {
        snprintf(err, errsize, "--http wants HOST:PORT, not '%s'", addr);
        stats_http_stop(h);
        return SHOAL_EBADADDR;
    }
    if ((rc = http_listen(h, err, errsize)) < 0) {
        stats_http_stop(h);
        return rc;
    }
    take_snapshot(h);
    if ((rc = shoal_timer_start(node, SNAP_MS, on_snap_tick, h,
                                &h->timer)) < 0) {
        snprintf(err, errsize, "--http: %s", shoal_strerror(rc));
        stats_http_stop(h);
        return rc;
    }
    if (strchr(h->host, ':') != NULL)
        flags |= MHD_USE_IPv6;
    /* Bounded: 64 connections, 10 s idle, and 16 KiB for a request's line
     * and headers (past that MHD refuses it). */
    h->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
                              MHD_OPTION_LISTEN_SOCKET, h->fd,
                              MHD_OPTION_CONNECTION_LIMIT, 64u,
                              MHD_OPTION_CONNECTION_TIMEOUT, 10u,
                              MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                              (size_t)16384,
                              MHD_OPTION_END);
    if (h->mhd == NULL) {
        snprintf(err, errsize, "--http: cannot start the HTTP server on %s",
                 h->url);
        stats_http_stop(h);
        return SHOAL_ENOMEM;
    }
    h->fd = -1; /* MHD's now, closed by MHD_stop_daemon */
    *out = h;
    return 0;
}

const char *stats_http_url(const stats_http *h) { return h->url; }

void stats_http_stop(stats_http *h)
{
    if (h == NULL)
        return;
    if (h->mhd != NULL)
        MHD_stop_daemon(h->mhd); /* no request runs after this */
    if (h->fd >= 0)
        close(h->fd);
    shoal_timer_stop(h->timer);
    uv_mutex_destroy(&h->lock);
    free(h);
}
