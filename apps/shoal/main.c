/* shoal: the command-line program. Subcommands:
 *   shoal node   run a node
 *   shoal ping   check that a node answers
 *   shoal peers  list a node's known peers */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shoal.h"

#define DEFAULT_LISTEN "127.0.0.1:7600"

static int parse_log_level(const char *s)
{
    int i;

    for (i = SHOAL_LOG_ERROR; i <= SHOAL_LOG_DEBUG; i++)
        if (strcmp(s, shoal_log_level_name(i)) == 0)
            return i;
    return -1;
}

static long parse_number(const char *s, long min, long max, const char *what)
{
    char *end;
    long v = strtol(s, &end, 10);

    if (*s == '\0' || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "shoal: %s must be a number from %ld to %ld\n", what,
                min, max);
        exit(2);
    }
    return v;
}

/* ------------------------------------------------------------ shoal node */

static void node_usage(FILE *out)
{
    fprintf(out,
            "usage: shoal node [options]\n"
            "Runs a node until Ctrl-C.\n\n"
            "  --classic             speak the classic wire (the only mode "
            "for now)\n"
            "  --listen HOST:PORT    where to listen (default %s)\n"
            "  --advertise HOST      host other peers should use\n"
            "  --id ID               node id (default HOST:PORT)\n"
            "  --max-peers N         size of the peer table (default 128)\n"
            "  --bootstrap HOST:PORT join the network through this peer\n"
            "  --hops N              hop budget of the join walk (default 2)\n"
            "  --check-interval MS   liveness check period, 0 = off "
            "(default 10000)\n"
            "  --log-level LEVEL     error, warn, info or debug (default "
            "info)\n"
            "  --help                this text\n",
            DEFAULT_LISTEN);
}

static void on_joined(shoal_node *node, size_t added, void *user)
{
    (void)user;
    printf("joined: %zu peers added, %zu known\n", added,
           shoal_peer_count(node));
    fflush(stdout);
}

static void on_check_tick(shoal_node *node, void *user)
{
    (void)user;
    shoal_peers_check(node, NULL, NULL);
}

static int cmd_node(int argc, char **argv)
{
    static const struct option opts[] = {
        {"classic", no_argument, NULL, 'c'},
        {"listen", required_argument, NULL, 'l'},
        {"advertise", required_argument, NULL, 'a'},
        {"id", required_argument, NULL, 'i'},
        {"max-peers", required_argument, NULL, 'm'},
        {"bootstrap", required_argument, NULL, 'b'},
        {"hops", required_argument, NULL, 'H'},
        {"check-interval", required_argument, NULL, 'C'},
        {"log-level", required_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *bootstrap = NULL;
    long hops = 2, check_ms = 10000;
    shoal_config cfg;
    shoal_node *node;
    int c, rc;

    shoal_config_init(&cfg);
    cfg.listen = DEFAULT_LISTEN;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': break;
        case 'l': cfg.listen = optarg; break;
        case 'a': cfg.advertise_host = optarg; break;
        case 'i': cfg.id = optarg; break;
        case 'm':
            cfg.max_peers = (size_t)parse_number(optarg, 0, 1000000,
                                                 "--max-peers");
            break;
        case 'b': bootstrap = optarg; break;
        case 'H': hops = parse_number(optarg, 1, 100, "--hops"); break;
        case 'C':
            check_ms = parse_number(optarg, 0, 86400000, "--check-interval");
            break;
        case 'L':
            if ((cfg.log_level = parse_log_level(optarg)) < 0) {
                fprintf(stderr, "shoal: unknown log level '%s'\n", optarg);
                return 2;
            }
            break;
        case 'h': node_usage(stdout); return 0;
        default: node_usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        node_usage(stderr);
        return 2;
    }
    if ((rc = shoal_node_new(&node, NULL, &cfg)) < 0) {
        fprintf(stderr, "shoal: cannot start a node on %s: %s\n", cfg.listen,
                shoal_strerror(rc));
        return 1;
    }
    shoal_membership_enable(node);
    if (check_ms > 0)
        shoal_timer_start(node, (uint32_t)check_ms, on_check_tick, NULL,
                          NULL);
    printf("listening on %s\n", shoal_node_id(node));
    fflush(stdout);
    if (bootstrap != NULL &&
        (rc = shoal_join(node, bootstrap, (int)hops, on_joined, NULL)) < 0)
        fprintf(stderr, "shoal: cannot join %s: %s\n", bootstrap,
                shoal_strerror(rc));
    rc = shoal_node_run(node);
    shoal_node_free(node);
    return rc < 0 ? 1 : 0;
}

/* ------------------------------------------------ one request, then exit */

typedef struct exchange {
    shoal_node *node;
    shoal_msg *replies;
    size_t count;
    int status;
    uint64_t started;
    uint64_t rtt_us;     /* to the first reply, or to the end */
} exchange;

static void ex_on_reply(const shoal_msg *reply, void *user)
{
    exchange *ex = user;
    shoal_msg *grown = realloc(ex->replies, (ex->count + 1) * sizeof(*grown));
    uint8_t *copy = malloc(reply->len + 1);

    if (ex->count == 0)
        ex->rtt_us = (uv_hrtime() - ex->started) / 1000;
    if (grown == NULL || copy == NULL) {
        free(copy);
        if (grown != NULL)
            ex->replies = grown;
        return;
    }
    memcpy(copy, reply->data, reply->len);
    copy[reply->len] = '\0';
    ex->replies = grown;
    ex->replies[ex->count] = *reply;
    ex->replies[ex->count].data = copy;
    ex->count++;
}

static void ex_on_end(int status, void *user)
{
    exchange *ex = user;

    if (ex->count == 0)
        ex->rtt_us = (uv_hrtime() - ex->started) / 1000;
    ex->status = status;
    shoal_node_stop(ex->node);
}

static void ex_free(exchange *ex)
{
    size_t i;

    for (i = 0; i < ex->count; i++)
        free((void *)(uintptr_t)ex->replies[i].data);
    free(ex->replies);
    memset(ex, 0, sizeof(*ex));
}

/* Sends one message and waits for every reply. Returns the end status. */
static int exchange_run(const char *addr, const char *type, uint32_t timeout,
                        exchange *ex)
{
    shoal_config cfg;
    int rc;

    memset(ex, 0, sizeof(*ex));
    shoal_config_init(&cfg);
    cfg.log_level = SHOAL_LOG_ERROR;
    if ((rc = shoal_node_new(&ex->node, NULL, &cfg)) < 0)
        return rc;
    ex->started = uv_hrtime();
    rc = shoal_request(ex->node, addr, type, NULL, 0, timeout, ex_on_reply,
                       ex_on_end, ex);
    if (rc == 0) {
        shoal_node_run(ex->node);
        rc = ex->status;
    }
    shoal_node_free(ex->node);
    ex->node = NULL;
    return rc;
}

static int parse_client_args(int argc, char **argv, const char *usage,
                             long *count, long *timeout, const char **addr)
{
    static const struct option opts[] = {
        {"count", required_argument, NULL, 'n'},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    while ((c = getopt_long(argc, argv, "hn:t:", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (count == NULL)
                goto bad;
            *count = parse_number(optarg, 1, 1000000, "--count");
            break;
        case 't': *timeout = parse_number(optarg, 1, 3600000, "--timeout"); break;
        case 'h': fputs(usage, stdout); exit(0);
        default: goto bad;
        }
    }
    if (optind + 1 != argc)
        goto bad;
    *addr = argv[optind];
    return 0;
bad:
    fputs(usage, stderr);
    return 2;
}

static int cmd_ping(int argc, char **argv)
{
    static const char usage[] =
        "usage: shoal ping [--count N] [--timeout MS] HOST:PORT\n"
        "Sends PING and prints the round-trip time. Exits 0 when every\n"
        "ping was answered.\n";
    long count = 1, timeout = 5000, i, failed = 0;
    const char *addr;
    exchange ex;

    if (parse_client_args(argc, argv, usage, &count, &timeout, &addr) != 0)
        return 2;
    for (i = 0; i < count; i++) {
        int rc = exchange_run(addr, "PING", (uint32_t)timeout, &ex);
        if (rc < 0) {
            printf("ping %s: %s\n", addr, shoal_strerror(rc));
            failed++;
        } else {
            printf("ping %s: %s time=%.3f ms\n", addr,
                   ex.count ? ex.replies[0].type : "closed",
                   (double)ex.rtt_us / 1000.0);
        }
        ex_free(&ex);
    }
    return failed ? 1 : 0;
}

static int cmd_peers(int argc, char **argv)
{
    static const char usage[] =
        "usage: shoal peers [--timeout MS] HOST:PORT\n"
        "Asks a node for its known peers (LIST) and prints them.\n";
    long timeout = 5000;
    const char *addr;
    exchange ex;
    size_t i;
    int rc;

    if (parse_client_args(argc, argv, usage, NULL, &timeout, &addr) != 0)
        return 2;
    rc = exchange_run(addr, "LIST", (uint32_t)timeout, &ex);
    if (rc < 0 || ex.count == 0 || strcmp(ex.replies[0].type, "REPL") != 0) {
        fprintf(stderr, "shoal: LIST %s failed: %s\n", addr,
                rc < 0 ? shoal_strerror(rc) : "no answer");
        ex_free(&ex);
        return 1;
    }
    printf("%-32s %-24s %s\n", "ID", "HOST", "PORT");
    for (i = 1; i < ex.count; i++) {
        char id[SHOAL_ID_MAX], host[SHOAL_HOST_MAX];
        unsigned port;
        if (sscanf((const char *)ex.replies[i].data, "%255s %255s %u", id,
                   host, &port) == 3)
            printf("%-32s %-24s %u\n", id, host, port);
    }
    printf("(%zu peers)\n", ex.count - 1);
    ex_free(&ex);
    return 0;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: shoal COMMAND [options]\n\n"
                 "commands:\n"
                 "  node    run a node (shoal node --help)\n"
                 "  ping    check that a node answers\n"
                 "  peers   list a node's known peers\n"
                 "  help    this text\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "node") == 0)
        return cmd_node(argc - 1, argv + 1);
    if (strcmp(argv[1], "ping") == 0)
        return cmd_ping(argc - 1, argv + 1);
    if (strcmp(argv[1], "peers") == 0)
        return cmd_peers(argc - 1, argv + 1);
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "shoal: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
