/* classic_requests: classic request/reply rate with 32 concurrent clients.
 *
 * Each request is a whole classic exchange: connect, send one framed ECHO
 * message (8-byte header + payload), read the REPL until the server closes,
 * close. Figure: requests per second of a shoal client node (shoal_request,
 * 32 in flight) against a shoal server node, beside a baseline of a minimal
 * epoll server and a minimal epoll client speaking the same bytes, measured
 * in the same run. Each measurement runs for 2.5 s or 40,000 requests,
 * whichever ends first; the rate is completed requests over the time they
 * took. Two rounds (raw, shoal, raw, shoal); the best of each side counts.
 *
 * Usage: classic_requests [seconds] [max_requests] [rounds]
 *
 * Loopback and TIME_WAIT: the server closes first, so its side keeps the
 * TIME_WAIT entries and the client's ephemeral ports are free again at
 * once; every server listens on a new port, so rounds never collide. The
 * request cap keeps the number of entries well below the kernel's table. */
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "bench.h"

#define CLIENTS 32
#define PAYLOAD 64
#define MSG (8 + PAYLOAD)
#define REQ_TIMEOUT_MS 10000

static double duration = 2.5;
static long max_requests = 40000;

static uint8_t payload[PAYLOAD];

typedef struct result {
    long done;
    long errors;
    double seconds;
} result;

static double rate(const result *r)
{
    return r->seconds > 0 ? (double)r->done / r->seconds : 0;
}

/* ------------------------------------------------------- raw epoll server */

typedef struct raw_conn {
    uint32_t got;
    uint8_t buf[MSG];
} raw_conn;

typedef struct raw_server {
    int lfd, stopfd, ep, port;
    raw_conn *conns; /* indexed by fd */
    int max_fd;
    uv_thread_t thread;
} raw_server;

static void raw_server_loop(void *arg)
{
    raw_server *s = arg;
    struct epoll_event evs[256];

    for (;;) {
        int n = epoll_wait(s->ep, evs, 256, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            bench_die("epoll_wait", errno);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == s->stopfd)
                return;
            if (fd == s->lfd) {
                for (;;) {
                    int c = accept4(s->lfd, NULL, NULL,
                                    SOCK_NONBLOCK | SOCK_CLOEXEC);
                    struct epoll_event ev = {.events = EPOLLIN};
                    if (c < 0)
                        break;
                    if (c >= s->max_fd) {
                        close(c);
                        continue;
                    }
                    s->conns[c].got = 0;
                    ev.data.fd = c;
                    epoll_ctl(s->ep, EPOLL_CTL_ADD, c, &ev);
                }
                continue;
            }
            raw_conn *c = &s->conns[fd];
            for (;;) {
                ssize_t r = read(fd, c->buf + c->got, sizeof(c->buf) - c->got);
                if (r < 0 && errno == EAGAIN)
                    break;
                if (r <= 0) {
                    close(fd);
                    break;
                }
                c->got += (uint32_t)r;
                if (c->got < 8)
                    continue;
                uint32_t len = bench_get_be32(c->buf + 4);
                if (len > PAYLOAD) {
                    close(fd);
                    break;
                }
                if (c->got < 8 + len)
                    continue;
                memcpy(c->buf, "REPL", 4);
                if (write(fd, c->buf, 8 + len) < 0) {
                    /* the client left; nothing to do */
                }
                close(fd);
                break;
            }
        }
    }
}

static void raw_server_start(raw_server *s)
{
    struct epoll_event ev = {.events = EPOLLIN};

    s->lfd = bench_listen(4096, &s->port);
    fcntl(s->lfd, F_SETFL, O_NONBLOCK);
    s->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    s->ep = epoll_create1(EPOLL_CLOEXEC);
    s->max_fd = 20000;
    s->conns = calloc((size_t)s->max_fd, sizeof(*s->conns));
    if (s->stopfd < 0 || s->ep < 0 || s->conns == NULL)
        bench_die("raw server setup", errno);
    ev.data.fd = s->lfd;
    epoll_ctl(s->ep, EPOLL_CTL_ADD, s->lfd, &ev);
    ev.data.fd = s->stopfd;
    epoll_ctl(s->ep, EPOLL_CTL_ADD, s->stopfd, &ev);
    if (uv_thread_create(&s->thread, raw_server_loop, s) < 0)
        bench_die("raw server thread", EAGAIN);
}

static void raw_server_stop(raw_server *s)
{
    uint64_t one = 1;

    if (write(s->stopfd, &one, sizeof(one)) < 0)
        bench_die("eventfd write", errno);
    uv_thread_join(&s->thread);
    close(s->lfd);
    close(s->stopfd);
    close(s->ep);
    free(s->conns);
}

/* ------------------------------------------------------- raw epoll client */

typedef struct raw_slot {
    int fd;
    int connecting;
    uint32_t got;
    uint8_t buf[MSG + 16];
} raw_slot;

typedef struct raw_client {
    int ep, port;
    struct sockaddr_in sa;
    uint8_t request[MSG];
    raw_slot slots[CLIENTS];
    long issued;
    int inflight;
    double t0, deadline;
    result res;
} raw_client;

static void raw_issue(raw_client *rc, int i)
{
    raw_slot *s = &rc->slots[i];
    struct epoll_event ev = {.events = EPOLLOUT};

    if (bench_now() >= rc->deadline || rc->issued >= max_requests)
        return;
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0)
        bench_die("socket", errno);
    rc->issued++;
    rc->inflight++;
    s->got = 0;
    s->connecting = 1;
    ev.data.u32 = (uint32_t)i;
    if (connect(s->fd, (struct sockaddr *)&rc->sa, sizeof(rc->sa)) < 0 &&
        errno != EINPROGRESS)
        ev.events |= EPOLLERR; /* reported through the event below */
    epoll_ctl(rc->ep, EPOLL_CTL_ADD, s->fd, &ev);
}

static void raw_finish(raw_client *rc, int i, int ok)
{
    raw_slot *s = &rc->slots[i];

    close(s->fd);
    s->fd = -1;
    rc->inflight--;
    if (ok)
        rc->res.done++;
    else
        rc->res.errors++;
    rc->res.seconds = bench_now() - rc->t0;
    raw_issue(rc, i);
}

static result raw_run(int port)
{
    raw_client *rc = calloc(1, sizeof(*rc));
    struct epoll_event evs[CLIENTS];
    result res;

    if (rc == NULL)
        bench_die("calloc", ENOMEM);
    rc->ep = epoll_create1(EPOLL_CLOEXEC);
    rc->sa = bench_loopback(port);
    memcpy(rc->request, "ECHO", 4);
    bench_put_be32(rc->request + 4, PAYLOAD);
    memcpy(rc->request + 8, payload, PAYLOAD);
    rc->t0 = bench_now();
    rc->deadline = rc->t0 + duration;
    for (int i = 0; i < CLIENTS; i++)
        raw_issue(rc, i);
    while (rc->inflight > 0) {
        int n = epoll_wait(rc->ep, evs, CLIENTS, REQ_TIMEOUT_MS);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            bench_die("raw client stalled", n < 0 ? errno : ETIMEDOUT);
        for (int k = 0; k < n; k++) {
            int i = (int)evs[k].data.u32;
            raw_slot *s = &rc->slots[i];
            if (s->connecting) {
                int err = 0;
                socklen_t len = sizeof(err);
                struct epoll_event ev = {.events = EPOLLIN};
                getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err != 0 ||
                    write(s->fd, rc->request, MSG) != (ssize_t)MSG) {
                    raw_finish(rc, i, 0);
                    continue;
                }
                s->connecting = 0;
                ev.data.u32 = (uint32_t)i;
                epoll_ctl(rc->ep, EPOLL_CTL_MOD, s->fd, &ev);
                continue;
            }
            for (;;) {
                ssize_t r = read(s->fd, s->buf + s->got,
                                 sizeof(s->buf) - s->got);
                if (r < 0 && errno == EAGAIN)
                    break;
                if (r > 0) {
                    s->got += (uint32_t)r;
                    if (s->got < sizeof(s->buf))
                        continue;
                }
                raw_finish(rc, i,
                           r == 0 && s->got == MSG &&
                               memcmp(s->buf, "REPL", 4) == 0 &&
                               bench_get_be32(s->buf + 4) == PAYLOAD &&
                               memcmp(s->buf + 8, payload, PAYLOAD) == 0);
                break;
            }
        }
    }
    close(rc->ep);
    res = rc->res;
    free(rc);
    return res;
}

/* ------------------------------------------------------------ shoal side */

static void on_echo(shoal_req *req, const shoal_msg *msg, void *user)
{
    (void)user;
    shoal_reply(req, "REPL", msg->data, msg->len);
}

typedef struct shoal_client shoal_client;

typedef struct shoal_slot {
    shoal_client *owner;
    int replies;
    int good;
} shoal_slot;

struct shoal_client {
    shoal_node *node;
    const char *addr;
    shoal_slot slots[CLIENTS];
    long issued;
    int inflight;
    int first_error;
    double t0, deadline;
    result res;
};

static void shoal_on_reply(const shoal_msg *reply, void *user)
{
    shoal_slot *s = user;

    s->replies++;
    s->good = strcmp(reply->type, "REPL") == 0 && reply->len == PAYLOAD &&
              memcmp(reply->data, payload, PAYLOAD) == 0;
}

static void shoal_on_end(int status, void *user);

static void shoal_issue(shoal_client *sc, shoal_slot *s)
{
    int rc;

    if (bench_now() >= sc->deadline || sc->issued >= max_requests)
        return;
    s->replies = 0;
    s->good = 0;
    sc->issued++;
    rc = shoal_request(sc->node, sc->addr, "ECHO", payload, PAYLOAD,
                       REQ_TIMEOUT_MS, shoal_on_reply, shoal_on_end, s);
    if (rc < 0) {
        sc->res.errors++;
        if (sc->first_error == 0)
            sc->first_error = rc;
        return;
    }
    sc->inflight++;
}

static void shoal_on_end(int status, void *user)
{
    shoal_slot *s = user;
    shoal_client *sc = s->owner;

    sc->inflight--;
    if (status == 0 && s->replies == 1 && s->good) {
        sc->res.done++;
    } else {
        sc->res.errors++;
        if (sc->first_error == 0)
            sc->first_error = status < 0 ? status : SHOAL_EPROTO;
    }
    sc->res.seconds = bench_now() - sc->t0;
    shoal_issue(sc, s);
    if (sc->inflight == 0)
        shoal_node_stop(sc->node);
}

static result shoal_run(const char *addr)
{
    shoal_client sc;
    shoal_config cfg;
    int rc;

    memset(&sc, 0, sizeof(sc));
    shoal_config_init(&cfg);
    cfg.classic = 1; /* the classic wire is what this measures */
    cfg.handle_signals = 0;
    cfg.log_level = SHOAL_LOG_WARN;
    if ((rc = shoal_node_new(&sc.node, NULL, &cfg)) < 0)
        bench_die("client node", rc);
    sc.addr = addr;
    sc.t0 = bench_now();
    sc.deadline = sc.t0 + duration;
    for (int i = 0; i < CLIENTS; i++) {
        sc.slots[i].owner = &sc;
        shoal_issue(&sc, &sc.slots[i]);
    }
    if (sc.inflight == 0)
        shoal_node_stop(sc.node);
    if ((rc = shoal_node_run(sc.node)) < 0)
        bench_die("client run", rc);
    shoal_node_free(sc.node);
    if (sc.first_error != 0)
        fprintf(stderr, "classic_requests: shoal: first error: %s\n",
                shoal_strerror(sc.first_error));
    return sc.res;
}

/* ------------------------------------------------------------------ main */

int main(int argc, char **argv)
{
    int rounds = 2;
    result best_raw = {0}, best_shoal = {0};

    if (argc > 1)
        duration = atof(argv[1]);
    if (argc > 2)
        max_requests = atol(argv[2]);
    if (argc > 3)
        rounds = atoi(argv[3]);
    if (duration <= 0 || duration > 30 || max_requests <= 0 ||
        max_requests > 200000 || rounds < 1 || rounds > 5) {
        fprintf(stderr, "usage: classic_requests [seconds<=30] "
                        "[max_requests<=200000] [rounds<=5]\n");
        return 2;
    }
    for (int i = 0; i < PAYLOAD; i++)
        payload[i] = (uint8_t)('a' + i % 26);

    fprintf(stderr,
            "classic_requests: %d clients, %d-byte payload, %.1f s or %ld "
            "requests per measurement, %d round(s), best kept\n",
            CLIENTS, PAYLOAD, duration, max_requests, rounds);
    for (int r = 0; r < rounds; r++) {
        raw_server rs;
        bench_server ss;
        shoal_config cfg;
        result a, b;

        raw_server_start(&rs);
        a = raw_run(rs.port);
        raw_server_stop(&rs);
        fprintf(stderr,
                "classic_requests: raw   round %d: %ld ok, %ld errors, "
                "%.2f s, %.0f req/s\n",
                r + 1, a.done, a.errors, a.seconds, rate(&a));
        if (rate(&a) > rate(&best_raw))
            best_raw = a;

        shoal_config_init(&cfg);

        cfg.classic = 1; /* the classic wire is what this measures */
        cfg.log_level = SHOAL_LOG_WARN;
        bench_server_start(&ss, &cfg, "ECHO", on_echo, NULL);
        b = shoal_run(ss.addr);
        bench_server_stop(&ss);
        fprintf(stderr,
                "classic_requests: shoal round %d: %ld ok, %ld errors, "
                "%.2f s, %.0f req/s\n",
                r + 1, b.done, b.errors, b.seconds, rate(&b));
        if (rate(&b) > rate(&best_shoal))
            best_shoal = b;
    }
    bench_print("classic_requests", rate(&best_shoal), "req/s",
                rate(&best_raw), 1);
    return 0;
}
