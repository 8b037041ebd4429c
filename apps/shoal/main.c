/* shoal: the command-line program. Subcommands:
 *   shoal node      run a node: file sharing, its control API and web UI
 *   shoal ping      check that a node answers
 *   shoal identify  ask a libp2p node what it is
 *   shoal perf      measure throughput to a node
 *   shoal peers     list a node's known peers
 *   shoal search, get, files: drive a running node through its API */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "api.h"
#include "bootstrap.h"
#include "client.h"
#include "home.h"
#include "shoal.h"
#include "shoal/dns.h"
#include "shoal/files.h"
#include "shoal/mdns.h"
#include "shoal/pex.h"
#include "shoal/peerstore.h"
#include "shoal/tracker.h"

#define BOOTSTRAP_MAX 16
/* Largest file a classic node sends or takes by FGET (one message). */
#define CLASSIC_FILE_MAX (256u * 1024 * 1024)
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
            "Runs a node until Ctrl-C. Its state (key, peer store, API "
            "token,\n"
            "downloads) lives in its home folder, HOME below: --home DIR, "
            "else\n"
            "$SHOAL_HOME, else ~/.shoal. One node per home, and one per key "
            "file:\n"
            "a second one is refused, the first one's pid named.\n\n"
            "  --home DIR            the node's home (default $SHOAL_HOME "
            "or ~/.shoal)\n"
            "  --classic             speak the classic wire instead of "
            "libp2p's\n"
            "                        secure one (Noise, yamux)\n"
            "  --listen ADDR         where to listen: /ip4/HOST/tcp/PORT or "
            "HOST:PORT\n"
            "                        (default %s; repeatable)\n"
            "  --key FILE            identity key, created if missing "
            "(default\n"
            "                        HOME/key)\n"
            "  --advertise HOST      host other peers should use\n"
            "  --id ID               node id (default HOST:PORT)\n"
            "  --max-peers N         size of the peer table (default 128)\n"
            "  --bootstrap ADDR      join the network through this peer "
            "(classic:\n"
            "                        HOST:PORT; secure: a multiaddr with "
            "/p2p/, or a\n"
            "                        name, resolved first: "
            "/dnsaddr/NAME[/p2p/ID] (TXT\n"
            "                        records dnsaddr=ADDR of "
            "_dnsaddr.NAME) or\n"
            "                        /dns4/NAME/tcp/PORT/p2p/ID, each "
            "address found\n"
            "                        joined, at most %d a name; "
            "repeatable)\n"
            "  --dns-server ADDR     the DNS server --bootstrap names are "
            "asked of:\n"
            "                        IPv4 or IPv4:PORT (default: the "
            "system's resolver)\n"
            "  --hops N              hop budget of the join walk (default 2)\n"
            "  --tracker ADDR        announce to this tracker (a multiaddr "
            "with /p2p/)\n"
            "                        and connect to the peers it returns; "
            "repeatable\n"
            "  --tracker-interval MS re-announce period (default 30000)\n"
            "  --mdns                find peers on the local network "
            "(multicast DNS,\n"
            "                        libp2p's _p2p._udp.local on port "
            "5353)\n"
            "  --mdns-interval MS    between mDNS queries (default 10000)\n"
            "  --no-pex              do not exchange peers with neighbours "
            "(secure mode\n"
            "                        does by default: a network grown from "
            "one\n"
            "                        bootstrap peer keeps growing)\n"
            "  --pex-interval MS     one neighbour asked this often "
            "(default 30000)\n"
            "  --perf                serve /perf/1.0.0 (off by default)\n"
            "  --share DIR           share the files under DIR "
            "(recursively)\n"
            "  --downloads DIR       where downloads go (default\n"
            "                        HOME/downloads; created)\n"
            "  --api HOST:PORT       the control API and web UI (default "
            "%s;\n"
            "                        'off': none). Prints its URL, token "
            "included\n"
            "  --api-token-file FILE where the API token is written "
            "(default\n"
            "                        HOME/api-HOST-PORT.token)\n"
            "  --peer-store FILE     the peers this node has known, kept "
            "across\n"
            "                        restarts and dialed at start (SQLite; "
            "default\n"
            "                        HOME/peers.db with the default "
            "key, none\n"
            "                        with --key unless given)\n"
            "  --no-peer-store       keep no peer store\n"
            "  --check-interval MS   liveness check period, 0 = off "
            "(default 10000)\n"
            "  --search-timeout MS   how long a search runs (default 3000)\n"
            "  --log-level LEVEL     error, warn, info or debug (default "
            "info)\n"
            "  --help                this text\n",
            DEFAULT_LISTEN, BOOTSTRAP_RESOLVED_MAX, API_DEFAULT_ADDR);
}

static void on_check_tick(shoal_node *node, void *user)
{
    (void)user;
    shoal_peers_check(node, NULL, NULL);
}

/* Whether a file can be made in dir: by making one (and removing it),
 * which is the only test that holds for root and read-only mounts. 0, or
 * -1 with errno. */
static int can_write_in(const char *dir)
{
    char probe[PATH_MAX];
    int fd, n = snprintf(probe, sizeof(probe), "%s/.shoal-probe-XXXXXX", dir);

    if (n < 0 || (size_t)n >= sizeof(probe)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if ((fd = mkstemp(probe)) < 0)
        return -1;
    close(fd);
    unlink(probe);
    return 0;
}

/* The downloads folder (given, or HOME/downloads), made if missing and
 * checked writable, as an absolute path (it is shown by the API and
 * written in transfers' paths). */
static int downloads_dir(const char *given, const char *home, char *out)
{
    char buf[PATH_MAX];
    const char *dir = given;
    struct stat st;

    if (dir == NULL &&
        (dir = home_path(home, "downloads", buf, sizeof(buf))) == NULL) {
        fprintf(stderr, "shoal: home %s: path too long\n", home);
        return -1;
    }
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "shoal: downloads folder %s: cannot make it (%s)\n",
                dir, strerror(errno));
        return -1;
    }
    if (stat(dir, &st) < 0) {
        fprintf(stderr, "shoal: downloads folder %s: %s\n", dir,
                strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        fprintf(stderr, "shoal: downloads folder %s: not a folder\n", dir);
        return -1;
    }
    if (can_write_in(dir) < 0) {
        fprintf(stderr, "shoal: downloads folder %s: not writable (%s)\n",
                dir, strerror(errno));
        return -1;
    }
    if (realpath(dir, out) == NULL) {
        fprintf(stderr, "shoal: downloads folder %s: %s\n", dir,
                strerror(errno));
        return -1;
    }
    return 0;
}

/* Starts the files service; shares share (may be NULL). */
static int start_files(shoal_node *node, const char *share,
                       const char *downloads, uint32_t search_ms,
                       shoal_files_config *fcfg, char *share_abs,
                       shoal_files **out)
{
    int rc;

    shoal_files_config_init(fcfg);
    if (search_ms > 0)
        fcfg->search_timeout_ms = search_ms;
    fcfg->max_classic_file = CLASSIC_FILE_MAX;
    if (share != NULL && realpath(share, share_abs) == NULL) {
        fprintf(stderr, "shoal: --share %s: %s\n", share, strerror(errno));
        return -1;
    }
    fcfg->share_dir = share != NULL ? share_abs : NULL;
    fcfg->download_dir = downloads;
    if ((rc = shoal_files_new(out, node, fcfg)) < 0) {
        fprintf(stderr, "shoal: cannot share %s (downloads to %s): %s\n",
                share != NULL ? share : "nothing", downloads,
                shoal_strerror(rc));
        return -1;
    }
    return 0;
}

/* The control API and web UI; prints where, token included. addr NULL:
 * the default one, which a node already running here may hold: then this
 * node runs without an API, and says so, rather than not at all. */
static int start_api(shoal_node *node, shoal_files *files,
                     shoal_peerstore *store,
                     const shoal_files_config *fcfg, const char *addr,
                     const char *home, const char *token_file, api **out)
{
    int is_default = addr == NULL, rc;
    api_config acfg;
    char err[512];

    *out = NULL;
    if (is_default)
        addr = API_DEFAULT_ADDR;
    if (strcmp(addr, "off") == 0)
        return 0;
    memset(&acfg, 0, sizeof(acfg));
    acfg.addr = addr;
    acfg.home = home;
    acfg.token_file = token_file;
    acfg.share_dir = fcfg->share_dir;
    acfg.download_dir = fcfg->download_dir;
    acfg.search_timeout_ms = fcfg->search_timeout_ms;
    acfg.peerstore = store;
    if ((rc = api_start(out, node, files, &acfg, err, sizeof(err))) < 0 &&
        is_default && rc == -EADDRINUSE) {
        fprintf(stderr, "shoal: no API: %s is taken (another node?); "
                        "--api HOST:PORT picks another\n", addr);
        return 0;
    }
    if (rc < 0) {
        fprintf(stderr, "shoal: API: %s (--api off runs without one)\n",
                err);
        return -1;
    }
    printf("api on %s\n", api_url(*out));
    return 0;
}

/* The peer store: path, or HOME/peers.db when the node runs on the
 * home's key (a store belongs to one identity: a node started with a key
 * of its own must not take the home key's store). Dials stored peers up
 * to max_peers. *out stays NULL when there is none. */
static int start_peer_store(shoal_node *node, const char *path,
                            const char *home, int home_key, size_t max_peers,
                            shoal_peerstore **out)
{
    shoal_peerstore_config pc;
    char buf[4096], err[512];
    int rc;

    *out = NULL;
    if (shoal_node_peer_id(node) == NULL)
        return 0; /* classic: nothing to store */
    if (path == NULL && home_key)
        path = home_path(home, "peers.db", buf, sizeof(buf));
    if (path == NULL)
        return 0;
    shoal_peerstore_config_init(&pc);
    pc.path = path;
    pc.target_peers = max_peers ? max_peers : 1000000;
    if ((rc = shoal_peerstore_new(out, node, &pc, err, sizeof(err))) < 0) {
        fprintf(stderr, "shoal: peer store %s: %s (%s; --peer-store FILE "
                        "picks another, --no-peer-store runs without)\n",
                path, shoal_strerror(rc), err[0] ? err : "cannot use it");
        return -1;
    }
    printf("peer store %s: %zu peers\n", path, shoal_peerstore_count(*out));
    return 0;
}

/* Says why shoal_node_new failed with rc: the key file's reason when it
 * has one, else the listen address is the one to blame. */
static void node_new_failed(const shoal_config *cfg, int rc)
{
    char why[512];

    if (!cfg->classic && cfg->key_file != NULL &&
        shoal_key_file_check(cfg->key_file, why, sizeof(why)) < 0)
        fprintf(stderr, "shoal: key file %s: %s\n", cfg->key_file, why);
    else
        fprintf(stderr, "shoal: cannot start a node on %s: %s\n",
                cfg->listen, shoal_strerror(rc));
}

static int cmd_node(int argc, char **argv)
{
    static const struct option opts[] = {
        {"home", required_argument, NULL, 'O'},
        {"classic", no_argument, NULL, 'c'},
        {"key", required_argument, NULL, 'k'},
        {"perf", no_argument, NULL, 'p'},
        {"listen", required_argument, NULL, 'l'},
        {"advertise", required_argument, NULL, 'a'},
        {"id", required_argument, NULL, 'i'},
        {"max-peers", required_argument, NULL, 'm'},
        {"bootstrap", required_argument, NULL, 'b'},
        {"hops", required_argument, NULL, 'H'},
        {"dns-server", required_argument, NULL, 'D'},
        {"tracker", required_argument, NULL, 'T'},
        {"tracker-interval", required_argument, NULL, 'I'},
        {"mdns", no_argument, NULL, 'M'},
        {"mdns-interval", required_argument, NULL, 'N'},
        {"no-pex", no_argument, NULL, 'X'},
        {"pex-interval", required_argument, NULL, 'Y'},
        {"check-interval", required_argument, NULL, 'C'},
        {"search-timeout", required_argument, NULL, 'W'},
        {"log-level", required_argument, NULL, 'L'},
        {"share", required_argument, NULL, 's'},
        {"downloads", required_argument, NULL, 'd'},
        {"api", required_argument, NULL, 'A'},
        {"api-token-file", required_argument, NULL, 'K'},
        {"peer-store", required_argument, NULL, 'P'},
        {"no-peer-store", no_argument, NULL, 'Q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *bootstrap[BOOTSTRAP_MAX], *share = NULL, *downloads = NULL;
    int nbootstrap = 0;
    const char *dns_server = NULL;
    bootstrapper *boot = NULL;
    const char *api_addr = NULL, *token_file = NULL, *home_opt = NULL;
    char key_path[PATH_MAX], addr[1024], share_abs[PATH_MAX], dl_abs[PATH_MAX];
    char home[PATH_MAX];
    /* held until the process ends: one node per home and per key */
    int home_fd = -1, key_fd = -1;
    shoal_files_config fcfg;
    shoal_files *files = NULL;
    api *api = NULL;
    long hops = 2, check_ms = 10000, search_ms = 0;
    const char *listen[8], *trackers[8];
    int perf = 0, nlisten = 0, ntrackers = 0, i;
    long tracker_ms = 30000;
    shoal_tracker_client *tracker = NULL;
    int mdns_on = 0;
    long mdns_ms = 10000;
    shoal_mdns *mdns = NULL;
    int pex_off = 0;
    long pex_ms = 30000;
    shoal_pex *pex = NULL;
    const char *store_path = NULL;
    int store_off = 0;
    shoal_peerstore *store = NULL;
    shoal_config cfg;
    shoal_node *node;
    int c, rc;

    shoal_config_init(&cfg);
    cfg.listen = DEFAULT_LISTEN;
    cfg.classic = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'O': home_opt = optarg; break;
        case 'c': cfg.classic = 1; break;
        case 'k': cfg.key_file = optarg; break;
        case 'p': perf = 1; break;
        case 'l':
            if (nlisten == 8) {
                fprintf(stderr, "shoal: at most 8 --listen addresses\n");
                return 2;
            }
            listen[nlisten++] = optarg;
            break;
        case 'a': cfg.advertise_host = optarg; break;
        case 'i': cfg.id = optarg; break;
        case 'm':
            cfg.max_peers = (size_t)parse_number(optarg, 0, 1000000,
                                                 "--max-peers");
            break;
        case 'b':
            if (nbootstrap == BOOTSTRAP_MAX) {
                fprintf(stderr, "shoal: at most %d --bootstrap addresses\n",
                        BOOTSTRAP_MAX);
                return 2;
            }
            bootstrap[nbootstrap++] = optarg;
            break;
        case 'H': hops = parse_number(optarg, 1, 100, "--hops"); break;
        case 'D':
            if (shoal_dns_server_check(optarg) < 0) {
                fprintf(stderr, "shoal: --dns-server %s: not IPv4 or "
                                "IPv4:PORT\n", optarg);
                return 2;
            }
            dns_server = optarg;
            break;
        case 'T':
            if (ntrackers == 8) {
                fprintf(stderr, "shoal: at most 8 --tracker addresses\n");
                return 2;
            }
            trackers[ntrackers++] = optarg;
            break;
        case 'I':
            tracker_ms = parse_number(optarg, 100, 86400000,
                                      "--tracker-interval");
            break;
        case 'M': mdns_on = 1; break;
        case 'N':
            mdns_ms = parse_number(optarg, 100, 86400000, "--mdns-interval");
            break;
        case 'X': pex_off = 1; break;
        case 'Y':
            pex_ms = parse_number(optarg, 100, 86400000, "--pex-interval");
            break;
        case 'C':
            check_ms = parse_number(optarg, 0, 86400000, "--check-interval");
            break;
        case 'W':
            search_ms = parse_number(optarg, 1, 60000, "--search-timeout");
            break;
        case 'L':
            if ((cfg.log_level = parse_log_level(optarg)) < 0) {
                fprintf(stderr, "shoal: unknown log level '%s'\n", optarg);
                return 2;
            }
            break;
        case 's': share = optarg; break;
        case 'd': downloads = optarg; break;
        case 'A': api_addr = optarg; break;
        case 'K': token_file = optarg; break;
        case 'P': store_path = optarg; break;
        case 'Q': store_off = 1; break;
        case 'h': node_usage(stdout); return 0;
        default: node_usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        node_usage(stderr);
        return 2;
    }
    if (nlisten > 0)
        cfg.listen = listen[0];
    if (home_open("shoal", home_opt, home, sizeof(home)) < 0 ||
        home_lock("shoal", home, "node.lock", "node", &home_fd) < 0)
        return 1;
    if (!cfg.classic && cfg.key_file == NULL &&
        (cfg.key_file = home_path(home, "key", key_path,
                                  sizeof(key_path))) == NULL) {
        fprintf(stderr, "shoal: home %s: path too long\n", home);
        return 1;
    }
    if (!cfg.classic && key_lock("shoal", cfg.key_file, &key_fd) < 0)
        return 1;
    if (cfg.classic) {
        /* FGET answers with the whole file in one message: messages as
         * large as the files FGET serves */
        cfg.max_message = CLASSIC_FILE_MAX;
        if (cfg.max_pending_output < CLASSIC_FILE_MAX + 64)
            cfg.max_pending_output = CLASSIC_FILE_MAX + 64;
        if (cfg.max_input_total < 2 * cfg.max_message)
            cfg.max_input_total = 2 * cfg.max_message;
    }
    if (downloads_dir(downloads, home, dl_abs) < 0)
        return 1;
    if ((rc = shoal_node_new(&node, NULL, &cfg)) < 0) {
        node_new_failed(&cfg, rc);
        return 1;
    }
    /* a key made just now is locked now: another node may have made it
     * first, and holds it */
    if (!cfg.classic && key_fd < 0 &&
        key_lock("shoal", cfg.key_file, &key_fd) < 0) {
        shoal_node_free(node);
        return 1;
    }
    shoal_membership_enable(node);
    if (perf && shoal_perf_serve(node) < 0)
        fprintf(stderr, "shoal: --perf needs secure mode\n");
    if (check_ms > 0)
        shoal_timer_start(node, (uint32_t)check_ms, on_check_tick, NULL,
                          NULL);
    for (i = 1; i < nlisten; i++) {
        if ((rc = shoal_node_listen(node, listen[i])) < 0) {
            fprintf(stderr, "shoal: cannot listen on %s: %s\n", listen[i],
                    shoal_strerror(rc));
            shoal_node_free(node);
            return 1;
        }
    }
    if (start_files(node, share, dl_abs, (uint32_t)search_ms, &fcfg,
                    share_abs, &files) < 0) {
        shoal_node_free(node);
        return 1;
    }
    for (i = 0; shoal_node_listen_addr(node, (size_t)i, addr, sizeof(addr)) == 0;
         i++)
        printf("listening on %s\n", addr);
    if (!store_off &&
        start_peer_store(node, store_path, home, cfg.key_file == key_path,
                         cfg.max_peers, &store) < 0) {
        shoal_files_free(files);
        shoal_node_free(node);
        return 1;
    }
    if (start_api(node, files, store, &fcfg, api_addr, home, token_file,
                  &api) < 0) {
        shoal_peerstore_free(store);
        shoal_files_free(files);
        shoal_node_free(node);
        return 1;
    }
    fflush(stdout);
    /* Both modes walk the membership messages from the bootstrap peer,
     * classic from HOST:PORT, secure from a multiaddr (names resolved
     * first: bootstrap.c), and fill the peer table that searches travel. */
    if (nbootstrap > 0 &&
        (rc = bootstrap_new(&boot, node, dns_server, (int)hops)) < 0)
        fprintf(stderr, "shoal: --bootstrap: %s\n", shoal_strerror(rc));
    for (i = 0; boot != NULL && i < nbootstrap; i++)
        bootstrap_join(boot, bootstrap[i]);
    if (ntrackers > 0) {
        /* announces the node's listen addresses, fills the peer table up
         * to --max-peers with peers that answer a ping */
        shoal_tracker_client_config tcc;
        shoal_tracker_client_config_init(&tcc);
        tcc.trackers = trackers;
        tcc.ntrackers = (size_t)ntrackers;
        tcc.interval_ms = (uint32_t)tracker_ms;
        tcc.target_peers = cfg.max_peers ? cfg.max_peers : 1000000;
        if ((rc = shoal_tracker_client_new(&tracker, node, &tcc)) < 0)
            fprintf(stderr, "shoal: --tracker: %s\n", shoal_strerror(rc));
    }
    if (mdns_on) {
        /* answers with the listen addresses, adds the LAN's peers that
         * answer a ping, up to --max-peers */
        shoal_mdns_config mc;
        shoal_mdns_config_init(&mc);
        mc.interval_ms = (uint32_t)mdns_ms;
        if ((rc = shoal_mdns_new(&mdns, node, &mc)) < 0)
            fprintf(stderr, "shoal: --mdns: %s\n", shoal_strerror(rc));
    }
    if (!cfg.classic && !pex_off) {
        /* asks a neighbour for some of its peers now and then, adds those
         * that answer a ping, up to --max-peers */
        shoal_pex_config xc;
        shoal_pex_config_init(&xc);
        xc.interval_ms = (uint32_t)pex_ms;
        if ((rc = shoal_pex_new(&pex, node, &xc)) < 0)
            fprintf(stderr, "shoal: peer exchange: %s\n", shoal_strerror(rc));
    }
    rc = shoal_node_run(node);
    bootstrap_free(boot);
    shoal_pex_free(pex);
    shoal_mdns_free(mdns);
    shoal_tracker_client_free(tracker);
    /* The API first: its waiting requests are answered, its threads end;
     * then the service, whose callbacks may still finish API jobs; the
     * API's memory last, once nothing can reach it. */
    api_stop(api);
    shoal_files_free(files);
    shoal_peerstore_free(store); /* its last changes written */
    shoal_node_free(node);
    api_free(api);
    if (key_fd >= 0)
        close(key_fd);
    close(home_fd); /* last: the home's files are all written */
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
    cfg.classic = addr[0] != '/'; /* HOST:PORT is a classic node */
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

/* Secure ping: one connection, count pings on it, one after another. */
typedef struct ping_run {
    const char *addr;
    long count, done, failed;
    uint32_t timeout;
} ping_run;

static void on_secure_pong(shoal_node *node, int status, uint64_t rtt_us,
                           void *user)
{
    ping_run *pr = user;

    if (status < 0) {
        printf("ping %s: %s\n", pr->addr, shoal_strerror(status));
        pr->failed++;
    } else {
        printf("ping %s: time=%.3f ms\n", pr->addr, (double)rtt_us / 1000.0);
    }
    fflush(stdout);
    if (++pr->done < pr->count &&
        shoal_ping(node, pr->addr, pr->timeout, on_secure_pong, pr) == 0)
        return;
    pr->failed += pr->count - pr->done;
    shoal_node_stop(node);
}

static int secure_ping(const char *addr, long count, uint32_t timeout)
{
    ping_run pr = {addr, count, 0, 0, timeout};
    shoal_config cfg;
    shoal_node *node;
    int rc;

    shoal_config_init(&cfg);
    cfg.classic = 0;
    cfg.log_level = SHOAL_LOG_ERROR;
    if ((rc = shoal_node_new(&node, NULL, &cfg)) < 0 ||
        (rc = shoal_ping(node, addr, timeout, on_secure_pong, &pr)) < 0) {
        fprintf(stderr, "shoal: ping %s: %s\n", addr, shoal_strerror(rc));
        if (node != NULL)
            shoal_node_free(node);
        return rc == SHOAL_EBADADDR ? 2 : 1;
    }
    shoal_node_run(node);
    shoal_node_free(node);
    return pr.failed ? 1 : 0;
}

static int cmd_ping(int argc, char **argv)
{
    static const char usage[] =
        "usage: shoal ping [--count N] [--timeout MS] ADDR\n"
        "Pings a node and prints each round-trip time. ADDR is a multiaddr\n"
        "(/ip4/HOST/tcp/PORT/p2p/ID: libp2p's /ipfs/ping/1.0.0 over a secure\n"
        "connection) or HOST:PORT (a classic PING). Exits 0 when every ping\n"
        "was answered.\n";
    long count = 1, timeout = 5000, i, failed = 0;
    const char *addr;
    exchange ex;

    if (parse_client_args(argc, argv, usage, &count, &timeout, &addr) != 0)
        return 2;
    if (addr[0] == '/')
        return secure_ping(addr, count, (uint32_t)timeout);
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

static void on_identified(shoal_node *node, int status,
                          const shoal_identify_info *info, void *user)
{
    size_t i;

    *(int *)user = status;
    if (status == 0) {
        printf("protocol_version %s\nagent_version %s\nobserved_addr %s\n",
               info->protocol_version, info->agent_version,
               info->observed_addr);
        for (i = 0; i < info->naddrs; i++)
            printf("listen_addr %s\n", info->listen_addrs[i]);
        for (i = 0; i < info->nprotocols; i++)
            printf("protocol %s\n", info->protocols[i]);
    }
    shoal_node_stop(node);
}

static int cmd_identify(int argc, char **argv)
{
    static const char usage[] =
        "usage: shoal identify [--timeout MS] MULTIADDR\n"
        "Asks a libp2p node what it is (/ipfs/id/1.0.0): its agent, listen\n"
        "addresses, protocols, and the address it sees us at.\n";
    long timeout = 5000;
    const char *addr;
    shoal_config cfg;
    shoal_node *node;
    int rc, status = 1;

    if (parse_client_args(argc, argv, usage, NULL, &timeout, &addr) != 0)
        return 2;
    shoal_config_init(&cfg);
    cfg.log_level = SHOAL_LOG_ERROR;
    if ((rc = shoal_node_new(&node, NULL, &cfg)) < 0 ||
        (rc = shoal_identify(node, addr, (uint32_t)timeout, on_identified,
                             &status)) < 0) {
        fprintf(stderr, "shoal: identify %s: %s\n", addr, shoal_strerror(rc));
        shoal_node_free(node);
        return rc == SHOAL_EBADADDR ? 2 : 1;
    }
    shoal_node_run(node);
    shoal_node_free(node);
    if (status != 0)
        fprintf(stderr, "shoal: identify %s: %s\n", addr,
                shoal_strerror(status));
    return status == 0 ? 0 : 1;
}

static void on_perf_done(shoal_node *node, int status,
                         const shoal_perf_result *r, void *user)
{
    double up = r->upload_ns / 1e9, all = r->total_ns / 1e9;

    *(int *)user = status;
    if (status != 0)
        fprintf(stderr, "shoal: perf: %s (uploaded %llu, downloaded %llu "
                        "bytes)\n", shoal_strerror(status),
                (unsigned long long)r->uploaded,
                (unsigned long long)r->downloaded);
    if (status == 0)
        printf("uploaded %llu bytes in %.3f s (%.1f MiB/s), downloaded %llu "
               "bytes in %.3f s (%.1f MiB/s)\n",
               (unsigned long long)r->uploaded, up,
               up > 0 ? r->uploaded / up / 1048576.0 : 0,
               (unsigned long long)r->downloaded, all - up,
               all - up > 0 ? r->downloaded / (all - up) / 1048576.0 : 0);
    shoal_node_stop(node);
}

static int cmd_perf(int argc, char **argv)
{
    static const char usage[] =
        "usage: shoal perf [--upload BYTES] [--download BYTES] MULTIADDR\n"
        "Measures throughput against a node serving /perf/1.0.0 (shoal node\n"
        "--perf). Defaults: 64 MiB each way.\n";
    static const struct option opts[] = {
        {"upload", required_argument, NULL, 'u'},
        {"download", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    uint64_t upload = 64u << 20, download = 64u << 20;
    shoal_config cfg;
    shoal_node *node;
    int c, rc, status = 1;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'u': upload = strtoull(optarg, NULL, 10); break;
        case 'd': download = strtoull(optarg, NULL, 10); break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (optind + 1 != argc) {
        fputs(usage, stderr);
        return 2;
    }
    shoal_config_init(&cfg);
    cfg.log_level = SHOAL_LOG_ERROR;
    if ((rc = shoal_node_new(&node, NULL, &cfg)) < 0 ||
        (rc = shoal_perf(node, argv[optind], upload, download, on_perf_done,
                         &status)) < 0) {
        fprintf(stderr, "shoal: perf: %s\n", shoal_strerror(rc));
        shoal_node_free(node);
        return 1;
    }
    shoal_node_run(node);
    shoal_node_free(node);
    return status == 0 ? 0 : 1;
}

/* The classic LIST: one node's known peers, over its own wire. */
static int classic_peers(const char *addr, long timeout)
{
    exchange ex;
    size_t i;
    int rc;

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

static int cmd_peers(int argc, char **argv)
{
    static const char usage[] =
        "usage: shoal peers [--api HOST:PORT] [--home DIR] [--token-file "
        "FILE] [--json]\n"
        "       shoal peers [--timeout MS] HOST:PORT\n"
        "Lists a node's known peers: without an address, those of the node\n"
        "running here, through its API (default " API_DEFAULT_ADDR "); with\n"
        "HOST:PORT, asks that classic node over its wire (LIST). Through\n"
        "the API, the node's peer store follows: each stored peer's\n"
        "address, when it was last seen, its failed dials in a row, and\n"
        "whether it is connected now.\n";
    client_opts o;
    int i;

    if ((i = client_parse(argc, argv, usage, &o, 0, 1)) < 0)
        return 2;
    if (i < argc)
        return classic_peers(argv[i], o.timeout_ms > 0 ? o.timeout_ms : 5000);
    return client_peers(&o);
}

static void usage(FILE *out)
{
    fprintf(out, "usage: shoal COMMAND [options]\n\n"
                 "commands:\n"
                 "  node    run a node (shoal node --help)\n"
                 "  ping    check that a node answers\n"
                 "  identify  ask a libp2p node what it is\n"
                 "  perf    measure throughput to a node (/perf/1.0.0)\n"
                 "  peers   list a node's known peers\n"
                 "  search  search the network through the running node\n"
                 "  get     download a file through the running node\n"
                 "  files   list the files the running node shares\n"
                 "  help    this text\n"
                 "\n"
                 "`shoal node` serves a web UI: open the URL on its "
                 "'api on' line.\n");
}

/* Runs a command that may use libcurl, which wants its global state set
 * up before any other thread exists and torn down after. */
static int client_command(int (*cmd)(int, char **), int argc, char **argv)
{
    int rc;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        fprintf(stderr, "shoal: libcurl cannot start\n");
        return 1;
    }
    rc = cmd(argc, argv);
    curl_global_cleanup();
    return rc;
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
    if (strcmp(argv[1], "perf") == 0)
        return cmd_perf(argc - 1, argv + 1);
    if (strcmp(argv[1], "identify") == 0)
        return cmd_identify(argc - 1, argv + 1);
    if (strcmp(argv[1], "peers") == 0)
        return client_command(cmd_peers, argc - 1, argv + 1);
    if (strcmp(argv[1], "search") == 0)
        return client_command(client_search, argc - 1, argv + 1);
    if (strcmp(argv[1], "get") == 0)
        return client_command(client_get, argc - 1, argv + 1);
    if (strcmp(argv[1], "files") == 0)
        return client_command(client_files, argc - 1, argv + 1);
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "shoal: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
