/* idle_connection_memory: heap bytes per idle inbound connection.
 *
 * A shoal node runs in a child process (its own descriptor table), set to
 * allow CONNS+ connections and long deadlines. The parent opens CONNS plain
 * TCP connections to it and sends nothing. The child watches
 * shoal_node_stats() from a shoal_timer and, once CONNS connections are
 * open, reports the heap in use (glibc mallinfo2: arena bytes in use plus
 * mmapped bytes) before the first connection and now. Figure: (after -
 * before) / CONNS, in bytes; no baseline. Kernel socket memory is not heap
 * and is not counted (the child's RSS growth is printed to stderr for
 * reference).
 *
 * Usage: idle_connection_memory [connections] */
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "bench.h"

#define TICK_MS 10
#define CHILD_LIFETIME_S 120.0 /* the child leaves by then, whatever */
#define PORT_DEADLINE_S 10.0
#define CONNECT_DEADLINE_S 60.0
#define REPORT_DEADLINE_S 30.0

static long conns = 10000;

static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();

    return mi.uordblks + mi.hblkhd;
}

/* ----------------------------------------------------------------- child */

typedef struct child {
    shoal_node *node;
    int ctl;          /* parent -> child: EOF or a byte means "stop" */
    int out;          /* child -> parent: report lines */
    int started;
    int reported;
    size_t before;
    double t_end;
} child;

static void child_say(child *ch, const char *line)
{
    size_t len = strlen(line), off = 0;

    while (off < len) {
        ssize_t n = write(ch->out, line + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
}

static void child_tick(shoal_node *node, void *user)
{
    child *ch = user;
    struct pollfd p = {.fd = ch->ctl, .events = POLLIN};
    shoal_stats st;
    char line[256];

    if (!ch->started) {
        /* The node is up and its loop has turned once: this is the heap
         * of a listening node with no connections. */
        ch->started = 1;
        ch->before = heap_in_use();
        snprintf(line, sizeof(line), "port %d\n", shoal_node_port(node));
        child_say(ch, line);
        return;
    }
    if (poll(&p, 1, 0) > 0 || bench_now() > ch->t_end) {
        shoal_node_stop(node);
        return;
    }
    shoal_node_stats(node, &st);
    if (!ch->reported && st.inbound >= (size_t)conns) {
        size_t after = heap_in_use();
        ch->reported = 1;
        snprintf(line, sizeof(line),
                 "heap before=%zu after=%zu inbound=%zu rejected=%llu "
                 "dropped=%llu\n",
                 ch->before, after, st.inbound,
                 (unsigned long long)st.rejected,
                 (unsigned long long)st.dropped);
        child_say(ch, line);
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
    cfg.classic = 1; /* the classic wire is what this measures */
    cfg.listen = "127.0.0.1:0";
    cfg.handle_signals = 0;
    cfg.log_level = SHOAL_LOG_WARN;
    cfg.max_connections = (size_t)conns + 1000;
    cfg.connect_timeout_ms = 600000;
    cfg.io_timeout_ms = 600000;
    cfg.request_timeout_ms = 600000;
    if ((rc = shoal_node_new(&ch.node, NULL, &cfg)) < 0) {
        fprintf(stderr, "idle_connection_memory: node: %s\n",
                shoal_strerror(rc));
        return 1;
    }
    if ((rc = shoal_timer_start(ch.node, TICK_MS, child_tick, &ch, NULL)) <
        0) {
        fprintf(stderr, "idle_connection_memory: timer: %s\n",
                shoal_strerror(rc));
        return 1;
    }
    rc = shoal_node_run(ch.node);
    shoal_node_free(ch.node);
    return rc < 0;
}

/* ---------------------------------------------------------------- parent */

/* Reads one line from fd into buf by the deadline; 0 or -1. */
static int read_line(int fd, char *buf, size_t size, double deadline)
{
    size_t got = 0;

    while (got + 1 < size) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int ms = (int)((deadline - bench_now()) * 1000);
        ssize_t n;

        if (ms <= 0)
            return -1;
        if (poll(&p, 1, ms) <= 0)
            continue; /* timeout or EINTR: the deadline decides */
        n = read(fd, buf + got, 1);
        if (n <= 0)
            return -1;
        if (buf[got] == '\n') {
            buf[got] = '\0';
            return 0;
        }
        got++;
    }
    return -1;
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

static void reap(pid_t pid)
{
    double deadline = bench_now() + 10.0;
    int status;

    while (bench_now() < deadline) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR))
            return;
        poll(NULL, 0, 10);
    }
    fprintf(stderr, "idle_connection_memory: child did not stop; killed\n");
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
}

int main(int argc, char **argv)
{
    int ctl[2], out[2], port, fail = 0;
    int *fds;
    long opened = 0;
    size_t before = 0, after = 0;
    long rss0, rss1;
    char line[256];
    struct sockaddr_in sa;
    struct rlimit rl;
    pid_t pid;
    double t0, deadline;

    if (argc > 1)
        conns = atol(argv[1]);
    if (conns < 1 || conns > 15000) {
        fprintf(stderr, "usage: idle_connection_memory [connections<=15000]\n");
        return 2;
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)conns + 64) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < (rlim_t)conns + 64) {
            fprintf(stderr, "idle_connection_memory: fd limit %llu < %ld\n",
                    (unsigned long long)rl.rlim_cur, conns + 64);
            return 1;
        }
    }
    fds = calloc((size_t)conns, sizeof(*fds));
    if (fds == NULL || pipe2(ctl, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
        bench_die("setup", errno);
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0)
        bench_die("fork", errno);
    if (pid == 0) {
        close(ctl[1]);
        close(out[0]);
        _exit(child_main(ctl[0], out[1]));
    }
    close(ctl[0]);
    close(out[1]);

    if (read_line(out[0], line, sizeof(line),
                  bench_now() + PORT_DEADLINE_S) < 0 ||
        sscanf(line, "port %d", &port) != 1) {
        fprintf(stderr, "idle_connection_memory: no port from the node\n");
        fail = 1;
        goto done;
    }
    rss0 = rss_kib(pid);
    sa = bench_loopback(port);
    t0 = bench_now();
    deadline = t0 + CONNECT_DEADLINE_S;
    for (opened = 0; opened < conns && bench_now() < deadline; opened++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            bench_die("socket", errno);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
            fprintf(stderr, "idle_connection_memory: connect %ld: %s\n",
                    opened, strerror(errno));
            close(fd);
            break;
        }
        fds[opened] = fd;
    }
    fprintf(stderr, "idle_connection_memory: %ld connections opened in %.2f s\n",
            opened, bench_now() - t0);
    if (opened < conns) {
        fail = 1;
        goto done;
    }
    if (read_line(out[0], line, sizeof(line),
                  bench_now() + REPORT_DEADLINE_S) < 0 ||
        sscanf(line, "heap before=%zu after=%zu", &before, &after) != 2) {
        fprintf(stderr, "idle_connection_memory: the node did not report "
                        "%ld connections\n", conns);
        fail = 1;
        goto done;
    }
    rss1 = rss_kib(pid);
    fprintf(stderr, "idle_connection_memory: node: %s\n", line);
    fprintf(stderr,
            "idle_connection_memory: node RSS %ld KiB -> %ld KiB "
            "(%.0f bytes per connection, heap and libuv's fd table "
            "included; kernel socket buffers not)\n",
            rss0, rss1, (double)(rss1 - rss0) * 1024.0 / (double)conns);

done:
    close(ctl[1]); /* the child stops at EOF */
    reap(pid);
    close(out[0]);
    for (long i = 0; i < opened; i++)
        close(fds[i]);
    free(fds);
    if (fail)
        return 1;
    bench_print("idle_connection_memory",
                ((double)after - (double)before) / (double)conns, "bytes", 0,
                0);
    return 0;
}
