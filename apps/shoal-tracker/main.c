/* shoal-tracker: a tracker (include/shoal/tracker.h) on a secure shoal
 * node, its state kept in SQLite, its figures on a web page if asked
 * (--http, http.c); and "shoal-tracker stat ADDR", which asks a running
 * tracker for its figures. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shoal.h"
#include "shoal/tracker.h"

#include "home.h"
#include "http.h"

#define DEFAULT_LISTEN "/ip4/127.0.0.1/tcp/7800"
#define PROG "shoal-tracker"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: shoal-tracker [options]\n"
            "       shoal-tracker stat MULTIADDR\n"
            "Runs a tracker until Ctrl-C: peers announce themselves and get "
            "live peers\nback. 'stat' prints a running tracker's figures.\n"
            "Its key and database live in its home folder, HOME below: "
            "--home DIR,\nelse $SHOAL_HOME, else ~/.shoal (a node may share "
            "it: their files differ).\nOne tracker per home and one per key "
            "file: a second one is refused, the\nfirst one's pid named.\n\n"
            "  --home DIR          the tracker's home (default $SHOAL_HOME "
            "or ~/.shoal)\n"
            "  --listen MULTIADDR  where to listen (default %s;\n"
            "                      repeatable)\n"
            "  --key FILE          identity key, created if missing "
            "(default\n"
            "                      HOME/tracker.key)\n"
            "  --db FILE           state, SQLite (default "
            "HOME/tracker.db;\n"
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
        {"home", required_argument, NULL, 'O'},
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
    char key_path[PATH_MAX], db_path[PATH_MAX], home[PATH_MAX], addr[1024];
    char err[256];
    const char *listen[8], *db = NULL, *http_addr = NULL, *home_opt = NULL;
    /* held until the process ends: one tracker per home and per key */
    int home_fd = -1, key_fd = -1;
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
        case 'O': home_opt = optarg; break;
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
    if (home_open(PROG, home_opt, home, sizeof(home)) < 0 ||
        home_lock(PROG, home, "tracker.lock", "tracker", &home_fd) < 0)
        return 1;
    if ((cfg.key_file == NULL &&
         (cfg.key_file = home_path(home, "tracker.key", key_path,
                                   sizeof(key_path))) == NULL) ||
        (db == NULL &&
         (db = home_path(home, "tracker.db", db_path, sizeof(db_path))) ==
             NULL)) {
        fprintf(stderr, PROG ": home %s: path too long\n", home);
        return 1;
    }
    tc.db_path = strcmp(db, "off") != 0 ? db : NULL;
    if (key_lock(PROG, cfg.key_file, &key_fd) < 0)
        return 1;
    if ((rc = shoal_node_new(&node, NULL, &cfg)) < 0) {
        if (shoal_key_file_check(cfg.key_file, err, sizeof(err)) < 0)
            fprintf(stderr, PROG ": key file %s: %s\n", cfg.key_file, err);
        else
            fprintf(stderr, PROG ": cannot listen on %s: %s\n", cfg.listen,
                    shoal_strerror(rc));
        return 1;
    }
    /* a key made just now is locked now: another tracker may have made it
     * first, and holds it */
    if (key_fd < 0 && key_lock(PROG, cfg.key_file, &key_fd) < 0) {
        shoal_node_free(node);
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
        if (tc.db_path != NULL &&
            shoal_tracker_db_check(tc.db_path, err, sizeof(err)) < 0)
            fprintf(stderr, PROG ": tracker db %s: %s\n", tc.db_path, err);
        else
            fprintf(stderr, PROG ": cannot start the tracker (db %s): %s\n",
                    tc.db_path ? tc.db_path : "off", shoal_strerror(rc));
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
    if (key_fd >= 0)
        close(key_fd);
    close(home_fd); /* last: the home's files are all written */
    return rc < 0 ? 1 : 0;
}
