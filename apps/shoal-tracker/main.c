/* shoal-tracker: a tracker (include/shoal/tracker.h) on a secure shoal
 * node, its state kept in SQLite, its figures on a web page if asked
 * (--http, http.c); and "shoal-tracker stat ADDR", which asks a running
 * tracker for its figures. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "shoal.h"
#include "shoal/tracker.h"

#include "http.h"

#define DEFAULT_LISTEN "/ip4/127.0.0.1/tcp/7800"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: shoal-tracker [options]\n"
            "       shoal-tracker stat MULTIADDR\n"
            "Runs a tracker until Ctrl-C: peers announce themselves and get "
            "live peers\nback. 'stat' prints a running tracker's figures.\n\n"
            "  --listen MULTIADDR  where to listen (default %s;\n"
            "                      repeatable)\n"
            "  --key FILE          identity key, created if missing "
            "(default\n"
            "                      ~/.shoal/tracker.key)\n"
            "  --db FILE           state, SQLite (default "
            "~/.shoal/tracker.db;\n"
            "                      'off': memory only)\n"
            "  --max-entries N     peers held (default 1000000)\n"
            "  --ttl SECONDS       an unrefreshed entry lives this long "
            "(default 120)\n"
            "  --rate N            announces per second per source host "
            "(default 20)\n"
            "  --burst N           and the burst allowed (default 40)\n"
            "  --http HOST:PORT    serve the figures: GET /stats (JSON) and "
            "GET / (a\n"
            "                      page); HOST bound as given, numeric or "
            "localhost;\n"
            "                      a bare PORT is 127.0.0.1 (default: "
            "none)\n"
            "  --log-level LEVEL   error, warn, info or debug (default info)\n"
            "  --help              this text\n",
            DEFAULT_LISTEN);
}

static long number(const char *s, long min, long max, const char *what)
{
    char *end;
    long v = strtol(s, &end, 10);

    if (*s == '\0' || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "shoal-tracker: %s must be a number from %ld to "
                        "%ld\n", what, min, max);
        exit(2);
    }
    return v;
}

/* ~/.shoal/NAME, with ~/.shoal made if missing. */
static const char *home_file(const char *name, char *buf, size_t size)
{
    const char *home = getenv("HOME");

    if (home == NULL || home[0] == '\0')
        return NULL;
    snprintf(buf, size, "%s/.shoal", home);
    mkdir(buf, 0700);
    snprintf(buf, size, "%s/.shoal/%s", home, name);
    return buf;
}

/* ---------------------------------------------------------------- stat */

typedef struct stat_call {
    shoal_node *node;
    int status, printed;
} stat_call;

static void on_stat_reply(const shoal_msg *reply, void *user)
{
    stat_call *s = user;

    printf("%.*s\n", (int)reply->len, (const char *)reply->data);
    s->printed = 1;
}

static void on_stat_end(int status, void *user)
{
    stat_call *s = user;

    s->status = status;
    shoal_node_stop(s->node);
}

static int cmd_stat(int argc, char **argv)
{
    shoal_config cfg;
    stat_call s;
    int rc;

    if (argc != 2 || strcmp(argv[1], "--help") == 0) {
        usage(argc == 2 ? stdout : stderr);
        return argc == 2 ? 0 : 2;
    }
    shoal_config_init(&cfg);
    cfg.log_level = SHOAL_LOG_ERROR;
    memset(&s, 0, sizeof(s));
    if ((rc = shoal_node_new(&s.node, NULL, &cfg)) < 0) {
        fprintf(stderr, "shoal-tracker: %s\n", shoal_strerror(rc));
        return 1;
    }
    if ((rc = shoal_request(s.node, argv[1], "STAT", NULL, 0, 5000,
                            on_stat_reply, on_stat_end, &s)) < 0) {
        fprintf(stderr, "shoal-tracker: %s: %s\n", argv[1],
                shoal_strerror(rc));
        shoal_node_free(s.node);
        return 1;
    }
    shoal_node_run(s.node);
    shoal_node_free(s.node);
    if (s.status < 0 || !s.printed) {
        fprintf(stderr, "shoal-tracker: %s: %s\n", argv[1],
                s.status < 0 ? shoal_strerror(s.status) : "no answer");
        return 1;
    }
    return 0;
}

/* ----------------------------------------------------------------- run */

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"key", required_argument, NULL, 'k'},
        {"db", required_argument, NULL, 'd'},
        {"max-entries", required_argument, NULL, 'm'},
        {"ttl", required_argument, NULL, 't'},
        {"rate", required_argument, NULL, 'r'},
        {"burst", required_argument, NULL, 'b'},
        {"http", required_argument, NULL, 'H'},
        {"log-level", required_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char key_path[4096], db_path[4096], addr[1024];
    char err[256];
    const char *listen[8], *db = NULL, *http_addr = NULL;
    stats_http *http = NULL;
    shoal_tracker_config tc;
    shoal_tracker *tracker;
    shoal_config cfg;
    shoal_node *node;
    int nlisten = 0, c, rc, i;

    if (argc > 1 && strcmp(argv[1], "stat") == 0)
        return cmd_stat(argc - 1, argv + 1);
    shoal_config_init(&cfg);
    shoal_tracker_config_init(&tc);
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            if (nlisten == 8) {
                fprintf(stderr, "shoal-tracker: at most 8 --listen\n");
                return 2;
            }
            listen[nlisten++] = optarg;
            break;
        case 'k': cfg.key_file = optarg; break;
        case 'd': db = optarg; break;
        case 'm':
            tc.max_entries = (size_t)number(optarg, 1, 100000000,
                                            "--max-entries");
            break;
        case 't':
            tc.ttl_ms = (uint32_t)number(optarg, 1, 86400, "--ttl") * 1000;
            break;
        case 'r': tc.rate = (double)number(optarg, 1, 10000000, "--rate"); break;
        case 'b':
            tc.burst = (double)number(optarg, 1, 10000000, "--burst");
            break;
        case 'H': http_addr = optarg; break;
        case 'L':
            for (cfg.log_level = SHOAL_LOG_DEBUG; cfg.log_level >= 0;
                 cfg.log_level--)
                if (strcmp(optarg, shoal_log_level_name(cfg.log_level)) == 0)
                    break;
            if (cfg.log_level < 0) {
                fprintf(stderr, "shoal-tracker: unknown log level '%s'\n",
                        optarg);
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    cfg.listen = nlisten > 0 ? listen[0] : DEFAULT_LISTEN;
    if (cfg.key_file == NULL)
        cfg.key_file = home_file("tracker.key", key_path, sizeof(key_path));
    if (db == NULL)
        db = home_file("tracker.db", db_path, sizeof(db_path));
    tc.db_path = db != NULL && strcmp(db, "off") != 0 ? db : NULL;
    if ((rc = shoal_node_new(&node, NULL, &cfg)) < 0) {
        if (rc == UV_EPERM)
            fprintf(stderr, "shoal-tracker: key file %s can be read by "
                            "others: refusing it (chmod 600 it)\n",
                    cfg.key_file);
        else
            fprintf(stderr, "shoal-tracker: cannot listen on %s: %s\n",
                    cfg.listen, shoal_strerror(rc));
        return 1;
    }
    for (i = 1; i < nlisten; i++) {
        if ((rc = shoal_node_listen(node, listen[i])) < 0) {
            fprintf(stderr, "shoal-tracker: cannot listen on %s: %s\n",
                    listen[i], shoal_strerror(rc));
            shoal_node_free(node);
            return 1;
        }
    }
    if ((rc = shoal_tracker_new(&tracker, node, &tc)) < 0) {
        fprintf(stderr, "shoal-tracker: cannot start the tracker (db %s): "
                        "%s\n", tc.db_path ? tc.db_path : "off",
                shoal_strerror(rc));
        shoal_node_free(node);
        return 1;
    }
    if (http_addr != NULL &&
        stats_http_start(&http, node, tracker, http_addr, err,
                         sizeof(err)) < 0) {
        fprintf(stderr, "shoal-tracker: %s\n", err);
        shoal_tracker_free(tracker);
        shoal_node_free(node);
        return 1;
    }
    for (i = 0; shoal_node_listen_addr(node, (size_t)i, addr, sizeof(addr)) == 0;
         i++)
        printf("listening on %s\n", addr);
    if (http != NULL)
        printf("stats on %s\n", stats_http_url(http));
    fflush(stdout);
    rc = shoal_node_run(node);
    stats_http_stop(http);         /* before the tracker it reads */
    shoal_tracker_free(tracker);   /* the last changes written */
    shoal_node_free(node);
    return rc < 0 ? 1 : 0;
}
