/* The configuration structs' ABI rule (shoal.h, "configuration";
 * src/core/config.c): a program built against an older header, whose
 * struct is a prefix of today's, is accepted and gets the defaults for the
 * fields it does not have; init never writes past the program's struct and
 * *_new never reads past it; a size of 0 (a struct that never went through
 * *_config_init) is refused with SHOAL_EINVAL and a WARN line; a program
 * from a newer header is accepted while it leaves the fields this library
 * lacks alone. Every "older" struct here is filled with 0xA5 past its end,
 * so a library that read past it would see garbage and refuse or crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "node/node_internal.h"
#include "shoal.h"
#include "shoal/dns.h"
#include "shoal/files.h"
#include "shoal/mdns.h"
#include "shoal/peerstore.h"
#include "shoal/pex.h"
#include "shoal/tracker.h"

#define GARBAGE 0xA5

/* shoal_config as an older header could have had it: everything up to
 * classic, nothing of the secure mode's limits. */
typedef struct older_config {
    size_t size;
    const char *listen;
    const char *advertise_host;
    const char *id;
    size_t max_peers;
    size_t max_message;
    size_t max_connections;
    size_t max_pending_output;
    size_t max_input_total;
    uint32_t connect_timeout_ms;
    uint32_t io_timeout_ms;
    uint32_t request_timeout_ms;
    int log_level;
    shoal_log_cb log_cb;
    void *log_user;
    int handle_signals;
    int classic;
} older_config;

/* A prefix, or the rule is broken: fields only ever go at the end. */
_Static_assert(offsetof(older_config, classic) ==
                   offsetof(shoal_config, classic),
               "shoal_config's fields moved: that breaks the ABI");
_Static_assert(sizeof(older_config) < sizeof(shoal_config),
               "older_config must be a strict prefix");

/* The older struct, with bytes of today's struct past its end. */
typedef struct older_buf {
    older_config c;
    unsigned char after[sizeof(shoal_config)];
} older_buf;

static int untouched(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != GARBAGE)
            return 0;
    return 1;
}

/* ---------------------------------------------------------------- node */

static void test_node_older_header(void **state)
{
    older_buf b;
    shoal_node *node = NULL;

    (void)state;
    memset(&b, GARBAGE, sizeof(b));
    /* what shoal_config_init(&cfg) compiled against the older header is */
    shoal_config_init_size((shoal_config *)&b.c, sizeof(b.c));
    assert_true(untouched(b.after, sizeof(b.after)));
    assert_int_equal(b.c.size, sizeof(older_config));
    assert_int_equal(b.c.max_peers, 128);
    assert_int_equal(b.c.handle_signals, 1);

    b.c.listen = "/ip4/127.0.0.1/tcp/0";
    b.c.classic = 1;
    b.c.handle_signals = 0;
    b.c.log_level = SHOAL_LOG_ERROR;
    b.c.max_peers = 7;
    assert_int_equal(shoal_node_new(&node, NULL, (shoal_config *)&b.c), 0);
    assert_non_null(node);
    /* what the program set */
    assert_int_equal(node->cfg.max_peers, 7);
    assert_int_equal(node->cfg.classic, 1);
    assert_int_equal(node->cfg.handle_signals, 0);
    assert_int_equal(node->cfg.log_level, SHOAL_LOG_ERROR);
    /* what its header did not have: the defaults, not the bytes after */
    assert_int_equal(node->cfg.size, sizeof(shoal_config));
    assert_int_equal(node->cfg.handshake_timeout_ms, 10000);
    assert_int_equal(node->cfg.idle_timeout_ms, 120000);
    assert_int_equal(node->cfg.max_streams, 256);
    assert_int_equal(node->cfg.max_stream_buffer, 1024 * 1024);
    assert_int_equal(node->cfg.conn_high_water, 768);
    assert_int_equal(node->cfg.conn_low_water, 512);
    shoal_node_free(node);

    /* the oldest header possible: a size and nothing else */
    memset(&b, GARBAGE, sizeof(b));
    shoal_config_init_size((shoal_config *)&b.c, sizeof(size_t));
    assert_int_equal(b.c.size, sizeof(size_t));
    assert_true(untouched((unsigned char *)&b + sizeof(size_t),
                          sizeof(b) - sizeof(size_t)));
}

static void test_node_size_refused(void **state)
{
    shoal_config cfg;
    shoal_node *node = (shoal_node *)(uintptr_t)1;

    (void)state;
    /* never through init: a zeroed struct with fields set */
    memset(&cfg, 0, sizeof(cfg));
    cfg.classic = 1;
    cfg.max_connections = 16;
    cfg.max_message = 1024;
    assert_int_equal(shoal_node_new(&node, NULL, &cfg), SHOAL_EINVAL);
    assert_null(node);

    shoal_config_init(&cfg);
    cfg.classic = 1;
    cfg.handle_signals = 0;
    cfg.size = 0;
    assert_int_equal(shoal_node_new(&node, NULL, &cfg), SHOAL_EINVAL);
    /* sizes no init sets: too small to hold the size, or garbage */
    cfg.size = 3;
    assert_int_equal(shoal_node_new(&node, NULL, &cfg), SHOAL_EINVAL);
    cfg.size = (size_t)GARBAGE * 0x01010101u;
    assert_int_equal(shoal_node_new(&node, NULL, &cfg), SHOAL_EINVAL);
    assert_null(node);
}

static void test_node_newer_header(void **state)
{
    /* today's struct and two fields of a newer header after it */
    struct {
        shoal_config c;
        uint64_t newer[2];
    } n;
    shoal_node *node = NULL;

    (void)state;
    memset(&n, GARBAGE, sizeof(n));
    shoal_config_init_size(&n.c, sizeof(n));
    assert_int_equal(n.c.size, sizeof(n));
    assert_int_equal(n.newer[0], 0); /* zeroed: "not set" */
    assert_int_equal(n.newer[1], 0);
    n.c.classic = 1;
    n.c.handle_signals = 0;
    n.c.log_level = SHOAL_LOG_ERROR;
    assert_int_equal(shoal_node_new(&node, NULL, &n.c), 0);
    assert_int_equal(node->cfg.size, sizeof(shoal_config));
    shoal_node_free(node);

    /* a field this library does not have, set: refused, not ignored */
    n.newer[1] = 1;
    node = NULL;
    assert_int_equal(shoal_node_new(&node, NULL, &n.c), SHOAL_EINVAL);
    assert_null(node);
}

/* ------------------------------------------------------------ services */

static char warned[4096];

static void log_sink(int level, const char *line, void *user)
{
    (void)user;
    if (level <= SHOAL_LOG_WARN && strlen(warned) + strlen(line) + 2 <
                                       sizeof(warned)) {
        strcat(warned, line);
        strcat(warned, "\n");
    }
}

static shoal_node *secure_node(void)
{
    shoal_config cfg;
    shoal_node *node = NULL;

    shoal_config_init(&cfg);
    cfg.handle_signals = 0;
    cfg.log_level = SHOAL_LOG_WARN;
    cfg.log_cb = log_sink;
    assert_int_equal(shoal_node_new(&node, NULL, &cfg), 0);
    return node;
}

/* A struct of the oldest header possible (only its size, through the
 * library's init), with garbage after: what *_new gets from it must be
 * the defaults. */
typedef union oldest {
    size_t size;
    unsigned char bytes[512];
} oldest;

#define OLDEST(o, init_size)                                              \
    do {                                                                  \
        memset(&(o), GARBAGE, sizeof(o));                                 \
        init_size((void *)&(o), sizeof(size_t));                          \
        assert_int_equal((o).size, sizeof(size_t));                       \
        assert_true(untouched((o).bytes + sizeof(size_t),                 \
                              sizeof(o) - sizeof(size_t)));               \
    } while (0)

/* Refused with SHOAL_EINVAL, *out left NULL, and a WARN line naming it. */
#define REFUSED(call, out, name)                                          \
    do {                                                                  \
        warned[0] = '\0';                                                 \
        (out) = NULL;                                                     \
        assert_int_equal((call), SHOAL_EINVAL);                           \
        assert_null(out);                                                 \
        assert_non_null(strstr(warned, "config_refused struct=" name)); \
    } while (0)

static void test_services(void **state)
{
    shoal_node *node = secure_node();
    oldest o;
    shoal_files *f;
    shoal_tracker *t;
    shoal_peerstore *ps;
    shoal_pex *p;
    shoal_dns *d;

    (void)state;
    _Static_assert(sizeof(oldest) > sizeof(shoal_files_config) &&
                       sizeof(oldest) > sizeof(shoal_tracker_config) &&
                       sizeof(oldest) > sizeof(shoal_peerstore_config) &&
                       sizeof(oldest) > sizeof(shoal_pex_config) &&
                       sizeof(oldest) > sizeof(shoal_dns_config),
                   "oldest must hold every config");

    /* garbage read as a config would be a bad ttl, a NULL-less path, a
     * negative rate or depth: refused or worse, never accepted */
    OLDEST(o, shoal_files_config_init_size);
    assert_int_equal(shoal_files_new(&f, node, (void *)&o), 0);
    shoal_files_free(f);
    OLDEST(o, shoal_tracker_config_init_size);
    assert_int_equal(shoal_tracker_new(&t, node, (void *)&o), 0);
    shoal_tracker_free(t);
    OLDEST(o, shoal_peerstore_config_init_size);
    assert_int_equal(shoal_peerstore_new(&ps, node, (void *)&o, NULL, 0), 0);
    shoal_peerstore_free(ps);
    OLDEST(o, shoal_pex_config_init_size);
    assert_int_equal(shoal_pex_new(&p, node, (void *)&o), 0);
    shoal_pex_free(p);
    OLDEST(o, shoal_dns_config_init_size);
    assert_int_equal(shoal_dns_new(&d, node, (void *)&o), 0);
    shoal_dns_free(d);

    /* size 0: never through init */
    memset(&o, 0, sizeof(o));
    REFUSED(shoal_files_new(&f, node, (void *)&o), f, "shoal_files_config");
    REFUSED(shoal_tracker_new(&t, node, (void *)&o), t,
            "shoal_tracker_config");
    REFUSED(shoal_peerstore_new(&ps, node, (void *)&o, NULL, 0), ps,
            "shoal_peerstore_config");
    REFUSED(shoal_pex_new(&p, node, (void *)&o), p, "shoal_pex_config");
    REFUSED(shoal_dns_new(&d, node, (void *)&o), d, "shoal_dns_config");
    shoal_node_free(node);
}

/* The two that cannot run on defaults alone get an older header that
 * has the fields they need. */
typedef struct older_client_config {
    size_t size;
    const char *const *trackers;
    size_t ntrackers;
} older_client_config;
_Static_assert(offsetof(older_client_config, ntrackers) ==
                   offsetof(shoal_tracker_client_config, ntrackers),
               "shoal_tracker_client_config's fields moved");

typedef struct older_mdns_config {
    size_t size;
    uint32_t interval_ms;
    const char *service;
    uint16_t port;
    const char *interface_addr;
} older_mdns_config;
_Static_assert(offsetof(older_mdns_config, interface_addr) ==
                   offsetof(shoal_mdns_config, interface_addr),
               "shoal_mdns_config's fields moved");

static void test_client_and_mdns(void **state)
{
    shoal_node *node = secure_node(), *other = secure_node();
    char addr[256];
    const char *trackers[1] = {addr};
    struct {
        older_client_config c;
        unsigned char after[sizeof(shoal_tracker_client_config)];
    } cb;
    struct {
        older_mdns_config c;
        unsigned char after[sizeof(shoal_mdns_config)];
    } mb;
    shoal_tracker_client *c;
    shoal_tracker_client_stats st;
    shoal_mdns *m;

    (void)state;
    snprintf(addr, sizeof(addr), "/ip4/127.0.0.1/tcp/9/p2p/%s",
             shoal_node_peer_id(other));
    memset(&cb, GARBAGE, sizeof(cb));
    shoal_tracker_client_config_init_size((void *)&cb.c, sizeof(cb.c));
    assert_true(untouched(cb.after, sizeof(cb.after)));
    cb.c.trackers = trackers;
    cb.c.ntrackers = 1;
    assert_int_equal(shoal_tracker_client_new(&c, node, (void *)&cb.c), 0);
    shoal_tracker_client_stats_get(c, &st);
    assert_int_equal(st.peers_added, 0);
    shoal_tracker_client_free(c);
    memset(&cb, 0, sizeof(cb));
    REFUSED(shoal_tracker_client_new(&c, node, (void *)&cb.c), c,
            "shoal_tracker_client_config");

    memset(&mb, GARBAGE, sizeof(mb));
    shoal_mdns_config_init_size((void *)&mb.c, sizeof(mb.c));
    assert_true(untouched(mb.after, sizeof(mb.after)));
    assert_int_equal(mb.c.interval_ms, 10000);
    /* a service and port of its own, on loopback: meets no one */
    mb.c.service = "_shoal-abi-test._udp.local";
    mb.c.port = 45353;
    mb.c.interface_addr = "127.0.0.1";
    assert_int_equal(shoal_mdns_new(&m, node, (void *)&mb.c), 0);
    shoal_mdns_free(m);
    memset(&mb, 0, sizeof(mb));
    REFUSED(shoal_mdns_new(&m, node, (void *)&mb.c), m, "shoal_mdns_config");

    shoal_node_free(other);
    shoal_node_free(node);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_older_header),
        cmocka_unit_test(test_node_size_refused),
        cmocka_unit_test(test_node_newer_header),
        cmocka_unit_test(test_services),
        cmocka_unit_test(test_client_and_mdns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
