/* idle_secure_connection_memory: heap bytes per idle secure connection.
 *
 * A secure shoal node runs in a child process (its own heap and descriptor
 * table), set to allow CONNS+ connections, never to close idle ones
 * (idle_timeout_ms 0, watermarks above CONNS) and to give handshakes ten
 * minutes. The parent runs CONNS client nodes on one loop (each its own
 * identity: the server keeps one connection per peer), at most WINDOW
 * dialing at once; each dials the server and pings it once (TCP,
 * multistream-select, Noise XX, yamux, a ping stream opened, answered and
 * closed), then stays connected with no stream open. Once every ping is
 * answered the parent tells the child, which waits until it counts that
 * many inbound connections, lets SETTLE_MS pass (the ping streams' last
 * frames), and reports the heap in use (glibc mallinfo2: arena bytes in
 * use plus mmapped bytes, the child being single-threaded) before the first
 * connection and now. Figure: (after - before) / connections, in bytes; no
 * baseline. Kernel socket memory is not heap and is not counted; the
 * child's RSS growth is printed to stderr for reference. Only the server's
 * memory is measured: the client nodes are the parent's.
 *
 * Usage: idle_secure_connection_memory [connections] */
#include <malloc.h>
#include <sys/resource.h>

#include "bench.h"

#define TICK_MS 10
#define WINDOW 64           /* client connections being set up at once */
#define SETTLE_MS 1500     /* past the sessions' 1 s trim (session.c) */
#define PING_TIMEOUT_MS 30000
#define CHILD_LIFETIME_S 120.0 /* the child leaves by then, whatever */
#define PORT_DEADLINE_S 10.0
#define CONNECT_DEADLINE_S 60.0
#define REPORT_DEADLINE_S 20.0

static long conns = 5000;

static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();

    return mi.uordblks + mi.hblkhd;
}

static long rss_kib(pid_t pid)
{
    char path[64], line[256];
    long kib = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    if ((f = fopen(path, "r")) == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "VmRSS: %ld", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

static void say(int fd, const char *line)
{
    size_t len = strlen(line), off = 0;

    while (off < len) {
        ssize_t n = write(fd, line + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
}

/* ----------------------------------------------------------------- child */

typedef struct child {
    shoal_node *node;
    int ctl;          /* parent -> child: "R <n>\n" = measure; EOF = stop */
    int out;          /* child -> parent: report lines */
    int started;
    int reported;
    long want;        /* connections the parent has up; 0 until told */
    char ctl_buf[64];
    size_t ctl_len;
    size_t before;
    double t_end, t_counted, t_want;
} child;

static void child_tick(shoal_node *node, void *user)
{
    child *ch = user;
    struct pollfd p = {.fd = ch->ctl, .events = POLLIN};
    shoal_stats st;
    char line[1024];

    if (!ch->started) {
        /* The node is up and its loop has turned once: this is the heap
         * of a listening node with no connections. */
        char addr[512];
        ch->started = 1;
        ch->before = heap_in_use();
        if (shoal_node_addr(node, addr, sizeof(addr)) < 0)
            addr[0] = '\0';
        snprintf(line, sizeof(line), "addr %s\n", addr);
        say(ch->out, line);
        return;
    }
    if (bench_now() > ch->t_end) {
        shoal_node_stop(node);
        return;
    }
    while (poll(&p, 1, 0) > 0) {
        ssize_t n = read(ch->ctl, ch->ctl_buf + ch->ctl_len, 1);
        if (n <= 0) { /* EOF: stop */
            shoal_node_stop(node);
            return;
        }
        if (ch->ctl_buf[ch->ctl_len] == '\n') {
            ch->ctl_buf[ch->ctl_len] = '\0';
            if (sscanf(ch->ctl_buf, "R %ld", &ch->want) == 1)
                ch->t_want = bench_now();
            ch->ctl_len = 0;
        } else if (ch->ctl_len + 1 < sizeof(ch->ctl_buf)) {
            ch->ctl_len++;
        }
    }
    if (ch->reported || ch->want == 0)
        return;
    shoal_node_stats(node, &st);
    if (ch->t_counted == 0 &&
        (st.inbound >= (size_t)ch->want || bench_now() > ch->t_want + 10))
        ch->t_counted = bench_now();
    if (ch->t_counted != 0 &&
        bench_now() >= ch->t_counted + SETTLE_MS / 1000.0) {
        size_t after = heap_in_use();
        ch->reported = 1;
        snprintf(line, sizeof(line),
                 "heap before=%zu after=%zu inbound=%zu accepted=%llu "
                 "rejected=%llu dropped=%llu\n",
                 ch->before, after, st.inbound,
                 (unsigned long long)st.accepted,
                 (unsigned long long)st.rejected,
                 (unsigned long long)st.dropped);
        say(ch->out, line);
    }
}

static int child_main(int ctl, int out)
{
    child ch;
    shoal_config cfg;
    int rc;

    memset(&ch, 0, sizeof(ch));
    ch.ctl = ctl;
    ch.out = out;
    ch.t_end = bench_now() + CHILD_LIFETIME_S;
    shoal_config_init(&cfg);
    cfg.listen = "127.0.0.1:0";
    cfg.handle_signals = 0;
    cfg.log_level = SHOAL_LOG_WARN;
    cfg.max_connections = (size_t)conns + 1000;
    cfg.conn_high_water = (size_t)conns + 1000;
    cfg.conn_low_water = (size_t)conns + 1000;
    cfg.idle_timeout_ms = 0;           /* idle connections stay */
    cfg.handshake_timeout_ms = 600000; /* a crowd of handshakes may queue */
    if ((rc = shoal_node_new(&ch.node, NULL, &cfg)) < 0) {
        fprintf(stderr, "idle_secure_connection_memory: node: %s\n",
                shoal_strerror(rc));
        return 1;
    }
    if ((rc = shoal_timer_start(ch.node, TICK_MS, child_tick, &ch, NULL)) <
        0) {
        fprintf(stderr, "idle_secure_connection_memory: timer: %s\n",
                shoal_strerror(rc));
        return 1;
    }
    rc = shoal_node_run(ch.node);
    shoal_node_free(ch.node);
    return rc < 0;
}

/* ---------------------------------------------------------------- parent */

typedef struct client {
    uv_loop_t loop;
    uv_timer_t tick;
    shoal_config cfg;
    const char *addr;
    shoal_node **nodes;
    long created, ok, failed, pending;
    int last_error;
    double t0, t_up, deadline;
} client;

static void client_fill(client *c);

static void on_ping(shoal_node *node, int status, uint64_t rtt_us,
                    void *user)
{
    client *c = user;

    (void)node;
    (void)rtt_us;
    c->pending--;
    if (status == 0) {
        c->ok++;
    } else {
        c->failed++;
        c->last_error = status;
    }
    if (c->pending == 0 && c->created == conns)
        c->t_up = bench_now();
    client_fill(c);
}

/* Keeps WINDOW connections being set up, until CONNS nodes exist. */
static void client_fill(client *c)
{
    int rc;

    while (c->pending < WINDOW && c->created < conns &&
           bench_now() < c->deadline) {
        shoal_node **n = &c->nodes[c->created];
        if ((rc = shoal_node_new(n, &c->loop, &c->cfg)) < 0)
            bench_die("client node", rc);
        c->created++;
        if ((rc = shoal_ping(*n, c->addr, PING_TIMEOUT_MS, on_ping, c)) < 0) {
            c->failed++;
            c->last_error = rc;
            continue;
        }
        c->pending++;
    }
}

static void client_tick(uv_timer_t *t)
{
    client *c = t->data;

    if ((c->pending == 0 &&
         (c->created == conns || bench_now() >= c->deadline)) ||
        bench_now() >= c->deadline + 5)
        uv_stop(&c->loop); /* every connection is up, or failed, or late */
}

/* Runs the loop for `seconds`, answering the server (keep-alive pings),
 * while fd gets a line; 0 when it did. */
typedef struct line_wait {
    int fd;
    char *buf;
    size_t size, got;
    int done;
    double deadline;
} line_wait;

static void line_tick(uv_timer_t *t)
{
    line_wait *w = t->data;
    struct pollfd p = {.fd = w->fd, .events = POLLIN};

    while (!w->done && poll(&p, 1, 0) > 0) {
        ssize_t n = read(w->fd, w->buf + w->got, 1);
        if (n <= 0) {
            w->done = -1;
            break;
        }
        if (w->buf[w->got] == '\n') {
            w->buf[w->got] = '\0';
            w->done = 1;
        } else if (w->got + 2 < w->size) {
            w->got++;
        }
    }
    if (w->done || bench_now() > w->deadline)
        uv_stop(t->loop);
}

static void close_all(client *c)
{
    for (long i = 0; i < c->created; i++)
        shoal_node_close(c->nodes[i], NULL, NULL);
    uv_close((uv_handle_t *)&c->tick, NULL);
    uv_run(&c->loop, UV_RUN_DEFAULT);
    uv_loop_close(&c->loop);
}

int main(int argc, char **argv)
{
    int ctl[2], out[2], fail = 0;
    size_t before = 0, after = 0, inbound = 0;
    long rss0, rss1;
    char line[1024], addr[512], msg[64];
    struct rlimit rl;
    client c;
    line_wait lw;
    pid_t pid;

    if (argc > 1)
        conns = atol(argv[1]);
    if (conns < 1 || conns > 9000) {
        fprintf(stderr,
                "usage: idle_secure_connection_memory [connections<=9000]\n");
        return 2;
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
        rl.rlim_cur < (rlim_t)conns + 64) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < (rlim_t)conns + 64) {
            fprintf(stderr,
                    "idle_secure_connection_memory: fd limit %llu < %ld\n",
                    (unsigned long long)rl.rlim_cur, conns + 64);
            return 1;
        }
    }
    if (pipe(ctl) < 0 || pipe(out) < 0)
        bench_die("pipe", errno);
    fflush(stdout);
    fflush(stderr);
    pid = fork(); /* before any thread or loop of ours */
    if (pid < 0)
        bench_die("fork", errno);
    if (pid == 0) {
        close(ctl[1]);
        close(out[0]);
        _exit(child_main(ctl[0], out[1]));
    }
    close(ctl[0]);
    close(out[1]);
    fcntl(ctl[1], F_SETFD, FD_CLOEXEC);
    fcntl(out[0], F_SETFD, FD_CLOEXEC);

    memset(&c, 0, sizeof(c));
    if (bench_read_line(out[0], line, sizeof(line),
                        bench_now() + PORT_DEADLINE_S) < 0 ||
        sscanf(line, "addr %511s", addr) != 1) {
        fprintf(stderr, "idle_secure_connection_memory: no address from the "
                        "node\n");
        close(ctl[1]);
        bench_reap(pid, 10);
        return 1;
    }
    rss0 = rss_kib(pid);

    c.addr = addr;
    if ((c.nodes = calloc((size_t)conns, sizeof(*c.nodes))) == NULL ||
        uv_loop_init(&c.loop) < 0)
        bench_die("setup", ENOMEM);
    shoal_config_init(&c.cfg);
    c.cfg.handle_signals = 0;
    c.cfg.log_level = SHOAL_LOG_ERROR;
    c.cfg.idle_timeout_ms = 0;
    c.cfg.handshake_timeout_ms = PING_TIMEOUT_MS;
    uv_timer_init(&c.loop, &c.tick);
    c.tick.data = &c;
    c.t0 = bench_now();
    c.deadline = c.t0 + CONNECT_DEADLINE_S;
    client_fill(&c);
    uv_timer_start(&c.tick, client_tick, TICK_MS, TICK_MS);
    uv_run(&c.loop, UV_RUN_DEFAULT);
    uv_timer_stop(&c.tick);
    fprintf(stderr,
            "idle_secure_connection_memory: %ld client nodes, %ld connected "
            "and pinged, %ld failed%s%s, in %.2f s\n",
            c.created, c.ok, c.failed, c.failed ? ": " : "",
            c.failed ? shoal_strerror(c.last_error) : "",
            bench_now() - c.t0);
    if (c.ok < conns) {
        fail = 1;
        goto done;
    }

    /* Tell the child, and keep this side's loop running (the server's
     * keep-alive pings are answered) until it reports. */
    snprintf(msg, sizeof(msg), "R %ld\n", c.ok);
    say(ctl[1], msg);
    memset(&lw, 0, sizeof(lw));
    lw.fd = out[0];
    lw.buf = line;
    lw.size = sizeof(line);
    lw.deadline = bench_now() + REPORT_DEADLINE_S;
    c.tick.data = &lw;
    uv_timer_start(&c.tick, line_tick, TICK_MS, TICK_MS);
    uv_run(&c.loop, UV_RUN_DEFAULT);
    uv_timer_stop(&c.tick);
    if (lw.done != 1 ||
        sscanf(line, "heap before=%zu after=%zu inbound=%zu", &before, &after,
               &inbound) != 3) {
        fprintf(stderr, "idle_secure_connection_memory: the node did not "
                        "report\n");
        fail = 1;
        goto done;
    }
    rss1 = rss_kib(pid);
    fprintf(stderr, "idle_secure_connection_memory: node: %s\n", line);
    if (after == 0) { /* a sanitizer's allocator: mallinfo2 says nothing */
        fprintf(stderr, "idle_secure_connection_memory: no heap figures "
                        "from mallinfo2 (sanitizer build?)\n");
        fail = 1;
        goto done;
    }
    if (inbound < (size_t)conns) {
        fprintf(stderr, "idle_secure_connection_memory: the node holds %zu "
                        "of %ld connections\n", inbound, conns);
        fail = 1;
        goto done;
    }
    fprintf(stderr,
            "idle_secure_connection_memory: node RSS %ld KiB -> %ld KiB "
            "(%.0f bytes per connection, heap and libuv's fd table "
            "included; kernel socket buffers not)\n",
            rss0, rss1, (double)(rss1 - rss0) * 1024.0 / (double)inbound);

done:
    close(ctl[1]); /* the child stops at EOF */
    bench_reap(pid, 10);
    close(out[0]);
    close_all(&c);
    free(c.nodes);
    if (fail)
        return 1;
    bench_print("idle_secure_connection_memory",
                ((double)after - (double)before) / (double)inbound, "bytes",
                0, 0);
    return 0;
}
