/* The node: configuration, lifecycle, the handler table, posting work from
 * other threads, and the thin public wrappers over the peer table. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"
#include "core/config.h"
#include "node/session.h"

void shoal_link_init(shoal_link *head)
{
    head->prev = head->next = head;
}

void shoal_link_add(shoal_link *head, shoal_link *item)
{
    item->next = head;
    item->prev = head->prev;
    head->prev->next = item;
    head->prev = item;
}

void shoal_link_del(shoal_link *item)
{
    item->prev->next = item->next;
    item->next->prev = item->prev;
    item->prev = item->next = item;
}

static void config_defaults(shoal_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->size = sizeof(*cfg);
    cfg->max_peers = 128;
    cfg->max_message = 16u * 1024 * 1024;
    cfg->max_connections = 1024;
    cfg->max_pending_output = 64u * 1024 * 1024;
    cfg->max_input_total = 256u * 1024 * 1024;
    cfg->connect_timeout_ms = 5000;
    cfg->io_timeout_ms = 10000;
    cfg->request_timeout_ms = 60000;
    cfg->log_level = SHOAL_LOG_INFO;
    cfg->handle_signals = 1;
    cfg->handshake_timeout_ms = 10000;
    cfg->idle_timeout_ms = 120000;
    cfg->max_streams = 256;
    cfg->max_stream_buffer = 1024 * 1024;
    cfg->conn_high_water = 768;
    cfg->conn_low_water = 512;
    cfg->log_interval_ms = SHOAL_LOG_INTERVAL_MS;
}

void shoal_config_init_size(shoal_config *cfg, size_t size)
{
    shoal_config d;

    config_defaults(&d);
    shoal_cfg_fill(cfg, size, &d, sizeof(d));
}

/* A write to a socket the remote has closed must be an error, not a
 * process-killing signal. The one piece of process-wide state we touch. */
static uv_once_t ignore_sigpipe_once = UV_ONCE_INIT;
static void ignore_sigpipe(void)
{
    signal(SIGPIPE, SIG_IGN);
}

static int is_wildcard(const char *host)
{
    return strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0;
}

static void node_handle_gone(shoal_node *node);

static void on_listener_closed(uv_handle_t *h)
{
    shoal_node *node = h->data;

    free(SHOAL_CONTAINER(h, shoal_listener, tcp));
    node_handle_gone(node);
}

int shoal_node_listen(shoal_node *node, const char *listen)
{
    SHOAL_LOOP_ONLY(node, SHOAL_EBUSY);
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    shoal_listener *l;
    shoal_addr a;
    int rc;

    if ((rc = shoal_node_refusing(node)) < 0)
        return rc;
    if (node->nlisteners == SHOAL_LISTEN_MAX)
        return SHOAL_EFULL;
    if ((rc = shoal_addr_parse(listen, &a)) < 0)
        return rc;
    if (uv_ip4_addr(a.host, a.port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(a.host, a.port, (struct sockaddr_in6 *)&ss) != 0)
        return SHOAL_EBADADDR; /* listen addresses are numeric */
    if ((l = calloc(1, sizeof(*l))) == NULL)
        return SHOAL_ENOMEM;
    if ((rc = uv_tcp_init(node->loop, &l->tcp)) < 0) {
        free(l);
        return rc;
    }
    l->tcp.data = node;
    node->handles++;
    if ((rc = uv_tcp_bind(&l->tcp, (struct sockaddr *)&ss, 0)) < 0 ||
        (rc = uv_listen((uv_stream_t *)&l->tcp, 511,
                        node->secure ? shoal_secure_on_connection
                                     : shoal_server_on_connection)) < 0) {
        uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
        return rc;
    }
    uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&ss, &len);
    l->port = ntohs(ss.ss_family == AF_INET
                        ? ((struct sockaddr_in *)&ss)->sin_port
                        : ((struct sockaddr_in6 *)&ss)->sin6_port);
    snprintf(l->host, sizeof(l->host), "%s",
             !is_wildcard(a.host)       ? a.host
             : strchr(a.host, ':') != 0 ? "::1"
                                        : "127.0.0.1");
    node->listeners[node->nlisteners++] = l;
    node->listening = 1;
    if (node->nlisteners == 1) { /* the primary address names the node */
        node->port = l->port;
        if (node->host[0] == '\0') /* cfg.advertise_host, copied by setup() */
            strcpy(node->host, l->host);
    }
    return 0;
}

/* "HOST:PORT" on a classic node, "/ip4|ip6/HOST/tcp/PORT/p2p/ID" on a
 * secure one. */
static int format_own_addr(const shoal_node *node, const char *host,
                           int port, char *out, size_t size)
{
    int n;

    if (node->secure == NULL)
        return shoal_addr_format(host, (uint16_t)port, out, size);
    n = snprintf(out, size, "/%s/%s/tcp/%d/p2p/%s",
                 strchr(host, ':') != NULL ? "ip6" : "ip4", host, port,
                 shoal_node_peer_id(node));
    return n < 0 || (size_t)n >= size ? SHOAL_EINVAL : 0;
}

int shoal_node_listen_addr(const shoal_node *node, size_t index, char *out,
                           size_t size)
{
    SHOAL_LOOP_ONLY(node, SHOAL_EBUSY);
    if (index >= node->nlisteners)
        return SHOAL_ENOENT;
    /* an advertised host stands for the primary listener */
    return format_own_addr(node,
                           index == 0 ? node->host
                                      : node->listeners[index]->host,
                           node->listeners[index]->port, out, size);
}

static void on_async(uv_async_t *a);

static void on_prepare(uv_prepare_t *p)
{
    shoal_node_thread_set(p->data, 1);
}

static int setup(shoal_node *node, uv_loop_t *loop, const shoal_config *cfg)
{
    int rc;

    node->cfg = *cfg;
    node->cfg.listen = NULL; /* not kept: used once, below */
    node->cfg.advertise_host = NULL;
    node->cfg.id = NULL;
    node->cfg.key_file = NULL;
    if (cfg->max_connections == 0 || cfg->max_message == 0 ||
        (!cfg->classic && (cfg->max_streams == 0 ||
                           cfg->handshake_timeout_ms == 0 ||
                           cfg->conn_low_water > cfg->conn_high_water)))
        return SHOAL_EINVAL;
    if (loop == NULL) {
        if ((rc = uv_loop_init(&node->own_loop)) < 0)
            return rc;
        node->owns_loop = 1;
        loop = &node->own_loop;
    }
    node->loop = loop;
    node->log.level = cfg->log_level;
    node->log.cb = cfg->log_cb;
    node->log.user = cfg->log_user;
    node->log.prefix = node->id;
    node->log.loop = loop;
    node->log.limits.interval_ms = cfg->log_interval_ms;
    shoal_link_init(&node->conns);
    shoal_link_init(&node->timers);
    shoal_link_init(&node->held);
    shoal_peertable_init(&node->peers, cfg->max_peers);
    uv_mutex_init(&node->post_lock);
    uv_async_init(loop, &node->async, on_async);
    node->async.data = node;
    node->handles++;
    uv_prepare_init(loop, &node->prepare);
    node->prepare.data = node;
    node->handles++;
    if (!node->owns_loop) { /* an own loop runs in shoal_node_run() only */
        uv_prepare_start(&node->prepare, on_prepare);
        uv_unref((uv_handle_t *)&node->prepare);
    }

    if (cfg->advertise_host != NULL) {
        if (strlen(cfg->advertise_host) >= sizeof(node->host))
            return SHOAL_EINVAL;
        strcpy(node->host, cfg->advertise_host);
    }
    if (!cfg->classic && ((rc = shoal_secure_init(node, cfg->key_file)) < 0 ||
                          (rc = shoal_ping_serve(node)) < 0 ||
                          (rc = shoal_identify_serve(node)) < 0 ||
                          (rc = shoal_msgproto_serve(node)) < 0))
        return rc;
    if (cfg->listen != NULL && (rc = shoal_node_listen(node, cfg->listen)) < 0)
        return rc;
    if (cfg->id != NULL) {
        if (cfg->id[0] == '\0' || strlen(cfg->id) >= sizeof(node->id))
            return SHOAL_EINVAL;
        strcpy(node->id, cfg->id);
    } else if (node->secure != NULL) {
        strcpy(node->id, shoal_node_peer_id(node));
    } else if (node->listening) {
        shoal_addr_format(node->host, (uint16_t)node->port, node->id,
                          sizeof(node->id));
    } else {
        strcpy(node->id, "client");
    }
    if (node->listening)
        SHOAL_LOG(&node->log, SHOAL_LOG_DEBUG, "listen id=%s port=%d",
                  node->id, node->port);
    return 0;
}

int shoal_node_new(shoal_node **out, uv_loop_t *loop, const shoal_config *cfg)
{
    shoal_config own; /* the caller's, over the defaults: see config.h */
    shoal_node *node;
    int rc;

    if (out == NULL)
        return SHOAL_EINVAL;
    *out = NULL;
    config_defaults(&own);
    if ((rc = shoal_cfg_take(NULL, "shoal_config", &own, sizeof(own),
                             cfg)) < 0)
        return rc;
    cfg = &own;
    uv_once(&ignore_sigpipe_once, ignore_sigpipe);
    node = calloc(1, sizeof(*node));
    if (node == NULL)
        return SHOAL_ENOMEM;
    if ((rc = setup(node, loop, cfg)) < 0) {
        shoal_node_free(node);
        return rc;
    }
    *out = node;
    return 0;
}

/* ------------------------------------------------------------- stopping */

/* Every node-level handle (listener, async, signals, timers, the drain's
 * timer) ends here. When the last one is gone, a closing node releases its
 * memory, held requests included (the header says they go with them). */
static void node_handle_gone(shoal_node *node)
{
    shoal_close_cb cb;
    void *user;

    if (--node->handles != 0 || !node->closing)
        return;
    shoal_server_free_held(node);
    shoal_peertable_free(&node->peers);
    free(node->handlers);
    node->handlers = NULL;
    shoal_secure_free(node);
    uv_mutex_destroy(&node->post_lock);
    cb = node->close_cb;
    user = node->close_user;
    node->close_cb = NULL;
    if (cb != NULL)
        cb(node, user);
    if (!node->owns_loop) /* else shoal_node_free() closes the loop, frees */
        free(node);
}

static void on_node_handle_closed(uv_handle_t *h)
{
    node_handle_gone(h->data);
}

static void on_timer_closed(uv_handle_t *h)
{
    shoal_timer *t = h->data;
    shoal_node *node = t->node;

    free(t);
    node_handle_gone(node);
}

/* Runs whatever was posted. Posts that arrive while stopping still run:
 * their work then fails with SHOAL_ECANCELED, which wakes any waiter. */
static void run_posted(shoal_node *node)
{
    shoal_posted *p, *fifo = NULL;

    uv_mutex_lock(&node->post_lock);
    p = node->posted;
    node->posted = NULL;
    uv_mutex_unlock(&node->post_lock);
    while (p != NULL) { /* pushed newest first; run oldest first */
        shoal_posted *next = p->next;
        p->next = fifo;
        fifo = p;
        p = next;
    }
    p = fifo;
    while (p != NULL) {
        shoal_posted *next = p->next;
        p->fn(node, p->user);
        free(p);
        p = next;
    }
}

static void stop_now(shoal_node *node)
{
    shoal_link *l;

    if (node->stopped)
        return;
    node->stopped = 1;
    SHOAL_LOG(&node->log, SHOAL_LOG_DEBUG, "stop id=%s", node->id);
    while (node->nlisteners > 0)
        uv_close((uv_handle_t *)&node->listeners[--node->nlisteners]->tcp,
                 on_listener_closed);
    node->listening = 0;
    if (node->signals_on) {
        node->signals_on = 0;
        uv_close((uv_handle_t *)&node->sigint, on_node_handle_closed);
        uv_close((uv_handle_t *)&node->sigterm, on_node_handle_closed);
    }
    for (l = node->timers.next; l != &node->timers; l = l->next)
        uv_timer_stop(&SHOAL_CONTAINER(l, shoal_timer, link)->handle);
    while (node->conns.next != &node->conns)
        shoal_conn_close(SHOAL_CONTAINER(node->conns.next, shoal_conn, link),
                         SHOAL_ECANCELED, NULL);
    shoal_secure_stop(node);
    /* Held requests lose their connections above and are freed by the
     * handlers' shoal_req_done(), or by shoal_node_free(). */
    uv_unref((uv_handle_t *)&node->async);
    uv_mutex_lock(&node->post_lock);
    node->posts_closed = 1;
    uv_mutex_unlock(&node->post_lock);
    run_posted(node);
    /* Every close is issued; their callbacks run in this turn of the loop.
     * shoal_node_run returns after it, whatever handles the application
     * keeps on the loop (uv_run alone would wait for those too). */
    if (node->running)
        uv_stop(node->loop);
}

static void on_async(uv_async_t *a)
{
    shoal_node *node = a->data;
    int stop;

    uv_mutex_lock(&node->post_lock);
    stop = node->stop_requested;
    uv_mutex_unlock(&node->post_lock);
    run_posted(node);
    if (stop)
        stop_now(node);
}

void shoal_node_stop(shoal_node *node)
{
    uv_mutex_lock(&node->post_lock);
    node->stop_requested = 1;
    uv_mutex_unlock(&node->post_lock);
    uv_async_send(&node->async);
}

static void on_signal(uv_signal_t *s, int signum)
{
    shoal_node *node = s->data;

    SHOAL_LOG(&node->log, SHOAL_LOG_INFO, "signal name=%s",
              signum == SIGINT ? "SIGINT" : "SIGTERM");
    stop_now(node);
}

int shoal_node_run(shoal_node *node)
{
    SHOAL_LOOP_ONLY(node, SHOAL_EBUSY);
    int rc;

    if (node->closing || node->running)
        return SHOAL_EBUSY;
    if (node->stopped)
        return 0;
    if (node->cfg.handle_signals && !node->signals_on) {
        uv_signal_init(node->loop, &node->sigint);
        uv_signal_init(node->loop, &node->sigterm);
        node->sigint.data = node->sigterm.data = node;
        node->handles += 2;
        node->signals_on = 1;
        uv_signal_start(&node->sigint, on_signal, SIGINT);
        uv_signal_start(&node->sigterm, on_signal, SIGTERM);
    }
    shoal_node_thread_set(node, 1);
    node->running = 1;
    rc = uv_run(node->loop, UV_RUN_DEFAULT);
    (void)rc;
    /* uv_run returns once our handles are closed; with a shared loop it
     * may return earlier, in which case the application drives the rest. */
    node->running = 0;
    shoal_node_thread_set(node, 0); /* any thread may free it now */
    return 0;
}

void shoal_node_close(shoal_node *node, shoal_close_cb cb, void *user)
{
    SHOAL_LOOP_ONLY(node);
    if (node->closing)
        return; /* the first close's callback stands */
    stop_now(node);
    node->closing = 1;
    node->close_cb = cb;
    node->close_user = user;
    while (node->timers.next != &node->timers)
        shoal_timer_stop(SHOAL_CONTAINER(node->timers.next, shoal_timer,
                                         link));
    if (node->draining)
        uv_close((uv_handle_t *)&node->drain_timer, on_node_handle_closed);
    uv_close((uv_handle_t *)&node->async, on_node_handle_closed);
    uv_close((uv_handle_t *)&node->prepare, on_node_handle_closed);
}

/* ---------------------------------------------------------------- drain */

int shoal_node_ending(const shoal_node *node)
{
    return node->stopped || node->closing ? SHOAL_ECANCELED : 0;
}

int shoal_node_refusing(const shoal_node *node)
{
    return node->draining ? SHOAL_ECANCELED : shoal_node_ending(node);
}

/* Is anything the drain waits for still going: a classic connection (a
 * request made or served), a secure request made or served, or secure
 * output not yet handed to the kernel (the last reply, its stream's end)? */
static int node_busy(const shoal_node *node)
{
    const shoal_link *l;

    if (node->conns.next != &node->conns || node->msg_inflight != 0)
        return 1;
    if (node->secure == NULL)
        return 0;
    for (l = node->secure->sessions.next; l != &node->secure->sessions;
         l = l->next) {
        const shoal_session *s = SHOAL_CONTAINER(l, shoal_session, link);
        if (s->inflight != 0 ||
            (s->mux != NULL && shoal_yamux_output_pending(s->mux) != 0))
            return 1;
    }
    return 0;
}

static void on_drain_timer(uv_timer_t *t)
{
    shoal_node *node = t->data;

    shoal_node_close(node, node->drain_cb, node->drain_user);
}

void shoal_node_drain_check(shoal_node *node)
{
    /* The close runs from the timer, on a clean stack: this is called
     * from deep inside connection and stream teardown. */
    if (node->draining && !node->closing && !node_busy(node))
        uv_timer_start(&node->drain_timer, on_drain_timer, 0, 0);
}

int shoal_node_drain(shoal_node *node, uint32_t timeout_ms, shoal_close_cb cb,
                     void *user)
{
    SHOAL_LOOP_ONLY(node, SHOAL_EBUSY);
    int rc;

    if ((rc = shoal_node_ending(node)) < 0)
        return rc;
    if (node->draining)
        return SHOAL_EBUSY;
    node->draining = 1;
    node->drain_cb = cb;
    node->drain_user = user;
    /* no new connections: the listeners go now */
    while (node->nlisteners > 0)
        uv_close((uv_handle_t *)&node->listeners[--node->nlisteners]->tcp,
                 on_listener_closed);
    node->listening = 0;
    uv_timer_init(node->loop, &node->drain_timer);
    node->drain_timer.data = node;
    node->handles++;
    uv_timer_start(&node->drain_timer, on_drain_timer, timeout_ms, 0);
    SHOAL_LOG(&node->log, SHOAL_LOG_DEBUG, "drain id=%s timeout_ms=%u",
              node->id, (unsigned)timeout_ms);
    shoal_node_drain_check(node);
    return 0;
}

void shoal_node_free(shoal_node *node)
{
    if (node == NULL)
        return;
    SHOAL_LOOP_ONLY(node);
    if (node->loop == NULL) { /* setup failed before there was a loop */
        free(node);
        return;
    }
    if (!node->owns_loop) {
        shoal_node_close(node, NULL, NULL);
        return;
    }
    if (!node->closing)
        shoal_node_close(node, NULL, NULL);
    /* Everything is closing now, so this returns once the last close
     * callback (connections, timers, lookups) has run. */
    uv_run(&node->own_loop, UV_RUN_DEFAULT);
    uv_loop_close(&node->own_loop);
    free(node);
}

void shoal_log(shoal_node *node, int level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    if (node->log.level < level)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    shoal_logf(&node->log, level, "%s", line);
}

void shoal_log_limited(shoal_node *node, int level, const char *key,
                       const char *fmt, ...)
{
    va_list ap;

    if (node->log.level < level)
        return;
    /* The limits are the loop thread's; elsewhere, the line as it is. */
    if (!shoal_node_in_loop_thread(node))
        key = NULL;
    va_start(ap, fmt);
    shoal_vlogf_limited(&node->log, level, key, shoal_log_now(&node->log),
                        fmt, ap);
    va_end(ap);
}

/* --------------------------------------------------------------- queries */

const char *shoal_node_id(const shoal_node *node) { return node->id; }
const char *shoal_node_host(const shoal_node *node) { return node->host; }
int shoal_node_port(const shoal_node *node) { return node->port; }
uv_loop_t *shoal_node_loop(shoal_node *node) { return node->loop; }

int shoal_node_addr(const shoal_node *node, char *out, size_t size)
{
    /* Any thread: the host and port are set once, in shoal_node_new. */
    if (node->port == 0)
        return SHOAL_ENOENT;
    return format_own_addr(node, node->host, node->port, out, size);
}

void shoal_node_stats(const shoal_node *node, shoal_stats *out)
{
    memset(out, 0, sizeof(*out)); /* what a wrong thread gets */
    SHOAL_LOOP_ONLY(node);
    *out = node->stats;
}

int shoal_post(shoal_node *node, shoal_post_cb fn, void *user)
{
    shoal_posted *p;

    if (fn == NULL)
        return SHOAL_EINVAL;
    p = malloc(sizeof(*p));
    if (p == NULL)
        return SHOAL_ENOMEM;
    p->fn = fn;
    p->user = user;
    uv_mutex_lock(&node->post_lock);
    if (node->posts_closed) {
        uv_mutex_unlock(&node->post_lock);
        free(p);
        return SHOAL_ECANCELED;
    }
    p->next = node->posted;
    node->posted = p;
    uv_mutex_unlock(&node->post_lock);
    uv_async_send(&node->async);
    return 0;
}

/* -------------------------------------------------------------- handlers */

const shoal_handler *shoal_node_handler(const shoal_node *node,
                                        const char *type)
{
    size_t i;

    for (i = 0; i < node->handler_count; i++)
        if (memcmp(node->handlers[i].type, type, 5) == 0)
            return &node->handlers[i];
    return NULL;
}

int shoal_handle(shoal_node *node, const char *type, shoal_handler_cb cb,
                 void *user)
{
    SHOAL_LOOP_ONLY(node, SHOAL_EBUSY);
    shoal_handler *h, *grown;
    char norm[5] = {0};
    int rc;

    /* nothing new on a node that ends; removing stays fine (teardown) */
    if (cb != NULL && (rc = shoal_node_ending(node)) < 0)
        return rc;
    if (shoal_type_normalize(type, norm) < 0)
        return SHOAL_EINVAL;
    h = (shoal_handler *)shoal_node_handler(node, norm);
    if (h != NULL && cb == NULL) {
        *h = node->handlers[--node->handler_count];
        return 0;
    }
    if (cb == NULL)
        return SHOAL_ENOENT;
    if (h == NULL) {
        grown = realloc(node->handlers,
                        (node->handler_count + 1) * sizeof(*grown));
        if (grown == NULL)
            return SHOAL_ENOMEM;
        node->handlers = grown;
        h = &node->handlers[node->handler_count++];
        memcpy(h->type, norm, sizeof(h->type));
    }
    h->cb = cb;
    h->user = user;
    return 0;
}

/* ----------------------------------------------------------------- peers */

int shoal_peer_add(shoal_node *node, const char *id, const char *host,
                   uint16_t port)
{
    SHOAL_LOOP_ONLY(node, SHOAL_EBUSY);
    int rc = shoal_peertable_add(&node->peers, id, host, port);
    char addr[SHOAL_HOST_MAX + SHOAL_ID_MAX + 32];
    const shoal_peer *p;

    if (rc == 0 && node->npeer_obs > 0 &&
        (p = shoal_peertable_get(&node->peers, id)) != NULL &&
        shoal_node_peer_addr(node, p, addr, sizeof(addr)) == 0)
        shoal_node_peer_event(node, SHOAL_PEER_ADDED, id, addr, 0, 0);
    return rc;
}

int shoal_peer_remove(shoal_node *node, const char *id)
{
    SHOAL_LOOP_ONLY(node, SHOAL_EBUSY);
    char copy[SHOAL_ID_MAX];
    int rc;

    /* id may point into the table, which the removal moves */
    snprintf(copy, sizeof(copy), "%s", id != NULL ? id : "");
    rc = shoal_peertable_remove(&node->peers, id);
    if (rc == 0)
        shoal_node_peer_event(node, SHOAL_PEER_REMOVED, copy, "", 0, 0);
    return rc;
}

int shoal_peer_events_add(shoal_node *node, shoal_peer_event_cb cb,
                          void *user)
{
    SHOAL_LOOP_ONLY(node, SHOAL_EBUSY);
    if (cb == NULL)
        return SHOAL_EINVAL;
    if (node->npeer_obs == sizeof(node->peer_obs) / sizeof(node->peer_obs[0]))
        return SHOAL_EFULL;
    node->peer_obs[node->npeer_obs].cb = cb;
    node->peer_obs[node->npeer_obs++].user = user;
    return 0;
}

int shoal_peer_events_remove(shoal_node *node, shoal_peer_event_cb cb,
                             void *user)
{
    SHOAL_LOOP_ONLY(node, SHOAL_EBUSY);
    for (size_t i = 0; i < node->npeer_obs; i++)
        if (node->peer_obs[i].cb == cb && node->peer_obs[i].user == user) {
            memmove(&node->peer_obs[i], &node->peer_obs[i + 1],
                    (--node->npeer_obs - i) * sizeof(node->peer_obs[0]));
            return 0;
        }
    return SHOAL_ENOENT;
}

void shoal_node_peer_event(shoal_node *node, int kind, const char *id,
                           const char *addr, int outbound, int status)
{
    shoal_peer_event ev = {kind, id, addr, outbound, status};

    for (size_t i = 0; i < node->npeer_obs; i++)
        node->peer_obs[i].cb(node, &ev, node->peer_obs[i].user);
}

const shoal_peer *shoal_peer_get(const shoal_node *node, const char *id)
{
    SHOAL_LOOP_ONLY(node, NULL);
    return shoal_peertable_get(&node->peers, id);
}

const shoal_peer *shoal_peer_at(const shoal_node *node, size_t index)
{
    SHOAL_LOOP_ONLY(node, NULL);
    return shoal_peertable_at(&node->peers, index);
}

size_t shoal_peer_count(const shoal_node *node)
{
    SHOAL_LOOP_ONLY(node, 0);
    return node->peers.count;
}

int shoal_peers_full(const shoal_node *node)
{
    SHOAL_LOOP_ONLY(node, 0);
    return shoal_peertable_full(&node->peers);
}

void shoal_set_router(shoal_node *node, shoal_router_cb cb, void *user)
{
    SHOAL_LOOP_ONLY(node);
    node->router = cb;
    node->router_user = user;
}

int shoal_node_peer_addr(const shoal_node *node, const shoal_peer *p,
                         char *out, size_t size)
{
    int n;

    if (node->secure == NULL)
        return shoal_addr_format(p->host, p->port, out, size);
    n = snprintf(out, size, "/%s/%s/tcp/%u/p2p/%s",
                 strchr(p->host, ':') != NULL ? "ip6" : "ip4", p->host,
                 (unsigned)p->port, p->id);
    return n < 0 || (size_t)n >= size ? SHOAL_EINVAL : 0;
}

/* ---------------------------------------------------------------- timers */

static void on_tick(uv_timer_t *h)
{
    shoal_timer *t = h->data;

    t->cb(t->node, t->user);
}

int shoal_timer_start(shoal_node *node, uint32_t interval_ms,
                      shoal_timer_cb cb, void *user, shoal_timer **out)
{
    SHOAL_LOOP_ONLY(node, SHOAL_EBUSY);
    shoal_timer *t;

    if (out != NULL)
        *out = NULL;
    if (shoal_node_ending(node) < 0)
        return SHOAL_ECANCELED;
    if (cb == NULL || interval_ms == 0)
        return SHOAL_EINVAL;
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return SHOAL_ENOMEM;
    uv_timer_init(node->loop, &t->handle);
    t->handle.data = t;
    t->node = node;
    t->cb = cb;
    t->user = user;
    node->handles++;
    shoal_link_add(&node->timers, &t->link);
    uv_timer_start(&t->handle, on_tick, interval_ms, interval_ms);
    if (out != NULL)
        *out = t;
    return 0;
}

void shoal_timer_stop(shoal_timer *t)
{
    if (t == NULL || uv_is_closing((uv_handle_t *)&t->handle))
        return;
    SHOAL_LOOP_ONLY(t->node);
    shoal_link_del(&t->link);
    uv_close((uv_handle_t *)&t->handle, on_timer_closed);
}
