/* The tracker's network-free table and payloads (src/tracker/table.h,
 * protocol.h): caps, expiry, sampling bounds and randomness, rate limits,
 * topics, eviction of sources, the change list, bad announces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "shoal.h"
#include "tracker/protocol.h"
#include "tracker/table.h"

/* An Ed25519-style peer id (identity multihash of a protobuf key) made
 * from a number, so that tests can name many. */
static void make_id(uint32_t n, uint8_t id[38])
{
    static const uint8_t head[6] = {0x00, 0x24, 0x08, 0x01, 0x12, 0x20};

    memcpy(id, head, 6);
    memset(id + 6, 0x5a, 32);
    memcpy(id + 6, &n, sizeof(n));
}

static const uint8_t addr4[8] = {0x04, 127, 0, 0, 1, 0x06, 0x1f, 0x90};

static void announce_of(trk_announce *a, const uint8_t *id,
                        const char *topic)
{
    memset(a, 0, sizeof(*a));
    a->id = id;
    a->idlen = 38;
    a->naddrs = 1;
    a->addr[0] = addr4;
    a->addrlen[0] = sizeof(addr4);
    if (topic != NULL) {
        a->ntopics = 1;
        a->topic[0] = topic;
        a->topiclen[0] = strlen(topic);
    }
}

static trk_table *table_with(size_t max_entries, uint32_t ttl_ms)
{
    trk_config cfg;
    trk_table *t;

    trk_config_init(&cfg);
    cfg.max_entries = max_entries;
    cfg.ttl_ms = ttl_ms;
    cfg.seed = 42;
    assert_int_equal(trk_table_new(&t, &cfg), 0);
    return t;
}

static void test_announce_get_refresh(void **state)
{
    trk_table *t = table_with(10, 1000);
    uint8_t id[38];
    trk_announce a;
    trk_peer p;

    (void)state;
    make_id(1, id);
    announce_of(&a, id, "app");
    assert_int_equal(trk_table_announce(t, &a, 100), 0);
    assert_int_equal(trk_table_count(t), 1);
    assert_int_equal(trk_table_get(t, id, 38, &p), 0);
    assert_memory_equal(p.id, id, 38);
    assert_int_equal(p.naddrs, 1);
    assert_memory_equal(p.addr[0], addr4, sizeof(addr4));
    assert_int_equal(p.ntopics, 1);
    assert_string_equal(p.topic[0], "app");
    assert_int_equal(p.seen_ms, 100);
    /* a refresh moves the time; new topics replace the old ones */
    assert_int_equal(trk_table_announce(t, &a, 500), 0);
    assert_int_equal(trk_table_get(t, id, 38, &p), 0);
    assert_int_equal(p.seen_ms, 500);
    announce_of(&a, id, "other");
    assert_int_equal(trk_table_announce(t, &a, 600), 0);
    assert_int_equal(trk_table_count(t), 1);
    assert_int_equal(trk_table_topic_size(t, "app", 3), 0);
    assert_int_equal(trk_table_topic_size(t, "other", 5), 1);
    assert_int_equal(trk_table_topic_count(t), 1);
    assert_int_equal(trk_table_remove(t, id, 38), 0);
    assert_int_equal(trk_table_remove(t, id, 38), -1);
    assert_int_equal(trk_table_topic_count(t), 0);
    trk_table_free(t);
}

static void test_caps(void **state)
{
    trk_config cfg;
    trk_table *t = table_with(5, 1000);
    uint8_t id[38];
    trk_announce a;

    (void)state;
    for (uint32_t i = 0; i < 5; i++) {
        make_id(i, id);
        announce_of(&a, id, NULL);
        assert_int_equal(trk_table_announce(t, &a, 1), 0);
    }
    make_id(99, id);
    announce_of(&a, id, NULL);
    assert_int_equal(trk_table_announce(t, &a, 1), TRK_EFULL);
    assert_string_equal(trk_strerror(TRK_EFULL), "full");
    /* those already in may still refresh */
    make_id(3, id);
    announce_of(&a, id, "x");
    assert_int_equal(trk_table_announce(t, &a, 2), 0);
    trk_table_free(t);

    /* topics: a cap of its own; the failed announce leaves no trace */
    trk_config_init(&cfg);
    cfg.max_topics = 2;
    assert_int_equal(trk_table_new(&t, &cfg), 0);
    make_id(1, id);
    announce_of(&a, id, NULL);
    a.ntopics = 3;
    a.topic[0] = "a", a.topiclen[0] = 1;
    a.topic[1] = "b", a.topiclen[1] = 1;
    a.topic[2] = "c", a.topiclen[2] = 1;
    assert_int_equal(trk_table_announce(t, &a, 1), TRK_ETOPICS);
    assert_int_equal(trk_table_count(t), 0);
    assert_int_equal(trk_table_topic_count(t), 0);
    a.ntopics = 2;
    assert_int_equal(trk_table_announce(t, &a, 1), 0);
    assert_int_equal(trk_table_topic_count(t), 2);
    trk_table_free(t);
}

static void test_bad_announces(void **state)
{
    trk_table *t = table_with(5, 1000);
    uint8_t id[38], big[TRK_ADDR_MAX + 1] = {0};
    trk_announce a;

    (void)state;
    make_id(1, id);
    announce_of(&a, id, NULL);
    a.idlen = 0;
    assert_int_equal(trk_table_announce(t, &a, 1), TRK_EINVAL);
    announce_of(&a, id, NULL);
    a.naddrs = TRK_ADDRS_MAX + 1;
    assert_int_equal(trk_table_announce(t, &a, 1), TRK_EINVAL);
    announce_of(&a, id, NULL);
    a.addr[0] = big;
    a.addrlen[0] = sizeof(big);
    assert_int_equal(trk_table_announce(t, &a, 1), TRK_EINVAL);
    announce_of(&a, id, "dup");
    a.ntopics = 2;
    a.topic[1] = "dup", a.topiclen[1] = 3;
    assert_int_equal(trk_table_announce(t, &a, 1), TRK_EINVAL);
    announce_of(&a, id, "");
    assert_int_equal(trk_table_announce(t, &a, 1), TRK_EINVAL);
    assert_int_equal(trk_table_count(t), 0);
    trk_table_free(t);
}

static void test_expiry(void **state)
{
    trk_table *t = table_with(100, 1000);
    uint8_t id[38];
    trk_announce a;
    trk_peer out[10];

    (void)state;
    for (uint32_t i = 0; i < 50; i++) {
        make_id(i, id);
        announce_of(&a, id, i % 2 ? "odd" : NULL);
        assert_int_equal(trk_table_announce(t, &a, i < 25 ? 0 : 500), 0);
    }
    /* expired ones are never handed out, even before the sweep */
    for (int k = 0; k < 20; k++) {
        size_t n = trk_table_sample(t, NULL, 0, NULL, 0, 1200, out, 10);
        assert_int_equal(n, 10);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(out[i].seen_ms, 500);
    }
    /* the sweep in slices */
    size_t removed = 0;
    for (int k = 0; k < 10; k++)
        removed += trk_table_expire(t, 1200, 7);
    assert_int_equal(removed, 25);
    assert_int_equal(trk_table_count(t), 25);
    assert_int_equal(trk_table_topic_size(t, "odd", 3), 13); /* 25..49 */
    assert_int_equal(trk_table_expire(t, 1499, 1000), 0);
    assert_int_equal(trk_table_expire(t, 1500, 1000), 25);
    assert_int_equal(trk_table_count(t), 0);
    assert_int_equal(trk_table_topic_count(t), 0);
    trk_table_free(t);
}

static void test_sampling(void **state)
{
    trk_table *t = table_with(1000, 100000);
    uint8_t id[38], me[38];
    trk_announce a;
    trk_peer out[64];
    unsigned hits[300] = {0};

    (void)state;
    for (uint32_t i = 0; i < 300; i++) {
        make_id(i, id);
        announce_of(&a, id, i < 10 ? "few" : NULL);
        assert_int_equal(trk_table_announce(t, &a, 1), 0);
    }
    make_id(7, me);
    /* bounded, no repeats, never the asker; every entry comes up */
    for (int round = 0; round < 400; round++) {
        size_t n = trk_table_sample(t, NULL, 0, me, 38, 2, out, 20);
        assert_int_equal(n, 20);
        for (size_t i = 0; i < n; i++) {
            uint32_t k;
            assert_memory_not_equal(out[i].id, me, 38);
            memcpy(&k, out[i].id + 6, sizeof(k));
            assert_true(k < 300);
            hits[k]++;
            for (size_t j = 0; j < i; j++)
                assert_memory_not_equal(out[i].id, out[j].id, 38);
        }
    }
    for (uint32_t k = 0; k < 300; k++) {
        if (k == 7)
            assert_int_equal(hits[k], 0);
        else /* 400*20/299 ~ 27 expected: far from 0 and from all */
            assert_true(hits[k] > 5 && hits[k] < 80);
    }
    /* a topic: only its members, all of them when fewer than asked */
    size_t n = trk_table_sample(t, "few", 3, me, 38, 2, out, 64);
    assert_int_equal(n, 9);
    n = trk_table_sample(t, "few", 3, NULL, 0, 2, out, 5);
    assert_int_equal(n, 5);
    assert_int_equal(trk_table_sample(t, "none", 4, NULL, 0, 2, out, 5), 0);
    assert_int_equal(trk_table_sample(t, NULL, 0, NULL, 0, 2, out, 0), 0);
    trk_table_free(t);
}

/* Many adds and removes against a plain array: the index, the dense array
 * and topic membership stay consistent. */
static void test_churn(void **state)
{
    trk_table *t = table_with(100000, 100000);
    static uint8_t present[5000];
    uint8_t id[38];
    trk_announce a;
    trk_peer p;
    uint64_t x = 12345;
    size_t count = 0;
    char topic[8];

    (void)state;
    memset(present, 0, sizeof(present));
    for (int step = 0; step < 60000; step++) {
        uint32_t k;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        k = (uint32_t)(x % 5000);
        make_id(k, id);
        if (x & 0x10000) {
            snprintf(topic, sizeof(topic), "t%u", (unsigned)(k % 7));
            announce_of(&a, id, topic);
            assert_int_equal(trk_table_announce(t, &a, 1), 0);
            count += !present[k];
            present[k] = 1;
        } else {
            assert_int_equal(trk_table_remove(t, id, 38),
                             present[k] ? 0 : -1);
            count -= present[k];
            present[k] = 0;
        }
    }
    assert_int_equal(trk_table_count(t), count);
    size_t in_topics = 0;
    for (unsigned k = 0; k < 7; k++) {
        snprintf(topic, sizeof(topic), "t%u", k);
        in_topics += trk_table_topic_size(t, topic, strlen(topic));
    }
    assert_int_equal(in_topics, count);
    for (uint32_t k = 0; k < 5000; k++) {
        make_id(k, id);
        assert_int_equal(trk_table_get(t, id, 38, &p), present[k] ? 0 : -1);
    }
    trk_table_free(t);
}

static size_t changes_seen;
static void on_change(const uint8_t *id, size_t len, void *user)
{
    (void)id;
    (void)len;
    (void)user;
    changes_seen++;
}

static void test_changes(void **state)
{
    trk_table *t = table_with(100, 120000);
    uint8_t id[38];
    trk_announce a;

    (void)state;
    for (uint32_t i = 0; i < 10; i++) {
        make_id(i, id);
        announce_of(&a, id, NULL);
        assert_int_equal(trk_table_announce(t, &a, 1000), 0);
        assert_int_equal(trk_table_announce(t, &a, 1001), 0); /* once */
    }
    changes_seen = 0;
    assert_int_equal(trk_table_changes(t, on_change, NULL), 10);
    assert_int_equal(changes_seen, 10);
    assert_int_equal(trk_table_changes(t, on_change, NULL), 0);
    /* a plain refresh soon after is not a change; much later it is */
    make_id(1, id);
    announce_of(&a, id, NULL);
    assert_int_equal(trk_table_announce(t, &a, 2000), 0);
    assert_int_equal(trk_table_changes(t, on_change, NULL), 0);
    assert_int_equal(trk_table_announce(t, &a, 40000), 0);
    assert_int_equal(trk_table_changes(t, on_change, NULL), 1);
    /* a removal is */
    assert_int_equal(trk_table_remove(t, id, 38), 0);
    assert_int_equal(trk_table_changes(t, on_change, NULL), 1);
    trk_table_free(t);
}

static void test_rate_limits(void **state)
{
    trk_config cfg;
    trk_table *t;
    char name[32];

    (void)state;
    trk_config_init(&cfg);
    cfg.rate = 10;
    cfg.burst = 20;
    cfg.max_sources = 4;
    assert_int_equal(trk_table_new(&t, &cfg), 0);
    for (int i = 0; i < 20; i++)
        assert_int_equal(trk_rate_take(t, "10.0.0.1", 1000), 0);
    assert_int_equal(trk_rate_take(t, "10.0.0.1", 1000), TRK_ERATE);
    assert_string_equal(trk_strerror(TRK_ERATE), "rate_limited");
    /* another source is served */
    assert_int_equal(trk_rate_take(t, "10.0.0.2", 1000), 0);
    /* 100 ms refill one token at 10/s */
    assert_int_equal(trk_rate_take(t, "10.0.0.1", 1100), 0);
    assert_int_equal(trk_rate_take(t, "10.0.0.1", 1100), TRK_ERATE);
    /* the refill stops at the burst */
    for (int i = 0; i < 20; i++)
        assert_int_equal(trk_rate_take(t, "10.0.0.1", 100000), 0);
    assert_int_equal(trk_rate_take(t, "10.0.0.1", 100000), TRK_ERATE);
    /* a bounded table: the oldest source made goes first (and so comes
     * back with a full bucket) */
    for (int i = 3; i < 6; i++) {
        snprintf(name, sizeof(name), "10.0.0.%d", i);
        assert_int_equal(trk_rate_take(t, name, 100000), 0);
    }
    assert_int_equal(trk_rate_take(t, "10.0.0.1", 100000), 0);
    /* many sources cycling through the ring keep the index sound */
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof(name), "h%d", i % 9);
        assert_int_equal(trk_rate_take(t, name, 200000 + (uint64_t)i), 0);
    }
    trk_table_free(t);
}

/* ------------------------------------------------------------ payloads */

static void id_text(uint32_t n, char *out, size_t size)
{
    uint8_t id[38];

    make_id(n, id);
    assert_true(shoal_peer_id_to_text(id, 38, out, size) > 0);
}

static int parse(const char *text, trk_annc_msg *m, char *why)
{
    return trk_annc_parse((const uint8_t *)text, strlen(text), m, why, 64);
}

static void test_annc_parse(void **state)
{
    static trk_annc_msg m;
    char id[128], other[128], buf[4096], why[64];
    const char *addrs[2], *topics[2] = {"my app", "abc"};
    char a0[256], a1[256];
    trk_announce a;

    (void)state;
    id_text(1, id, sizeof(id));
    id_text(2, other, sizeof(other));
    snprintf(a0, sizeof(a0), "/ip4/127.0.0.1/tcp/4001/p2p/%s", id);
    snprintf(a1, sizeof(a1), "/ip6/::1/tcp/4002");
    addrs[0] = a0;
    addrs[1] = a1;
    assert_true(trk_annc_format(buf, sizeof(buf), id, addrs, 2, topics, 2,
                                7) > 0);
    assert_int_equal(parse(buf, &m, why), 0);
    assert_string_equal(m.idtext, id);
    assert_int_equal(m.idlen, 38);
    assert_int_equal(m.naddrs, 2);
    assert_string_equal(m.addrtext[0], "/ip4/127.0.0.1/tcp/4001");
    assert_string_equal(m.addrtext[1], "/ip6/::1/tcp/4002");
    assert_int_equal(m.ntopics, 2);
    assert_int_equal(m.topiclen[0], 6);
    assert_memory_equal(m.topic[0], "my app", 6);
    assert_true(m.has_want);
    assert_int_equal(m.want, 7);
    trk_annc_announce(&m, &a);
    assert_int_equal(a.naddrs, 2);
    assert_int_equal(a.addrlen[0], 8);
    /* a last newline is fine; nothing but the id is fine */
    strcat(buf, "\n");
    assert_int_equal(parse(buf, &m, why), 0);
    assert_int_equal(parse(id, &m, why), 0);
    assert_int_equal(m.naddrs, 0);
    assert_false(m.has_want);

    /* refusals, each with its reason */
    assert_int_equal(parse("", &m, why), -1);
    assert_int_equal(parse("not-an-id", &m, why), -1);
    assert_string_equal(why, "bad peer id");
    snprintf(buf, sizeof(buf), "%s\n\naddr /ip4/1.2.3.4/tcp/1", id);
    assert_int_equal(parse(buf, &m, why), -1);
    snprintf(buf, sizeof(buf), "%s\nbogus 1", id);
    assert_int_equal(parse(buf, &m, why), -1);
    assert_string_equal(why, "unknown line");
    snprintf(buf, sizeof(buf), "%s\naddr /ip4/1.2.3.4/tcp/1/p2p/%s", id,
             other);
    assert_int_equal(parse(buf, &m, why), -1);
    assert_string_equal(why, "addr of another peer id");
    snprintf(buf, sizeof(buf), "%s\naddr /ip4/1.2.3.4/tcp/1/p2p/%s/p2p/%s",
             id, other, id);
    assert_int_equal(parse(buf, &m, why), -1);
    snprintf(buf, sizeof(buf), "%s\naddr /ip4/1.2.3.400/tcp/1", id);
    assert_int_equal(parse(buf, &m, why), -1);
    assert_string_equal(why, "bad addr");
    snprintf(buf, sizeof(buf), "%s\ntopic ", id);
    assert_int_equal(parse(buf, &m, why), -1);
    snprintf(buf, sizeof(buf), "%s\ntopic a\x01", id);
    assert_int_equal(parse(buf, &m, why), -1);
    snprintf(buf, sizeof(buf), "%s\ntopic a\ntopic a", id);
    assert_int_equal(parse(buf, &m, why), -1);
    assert_string_equal(why, "repeated topic");
    snprintf(buf, sizeof(buf), "%s\ntopic %065d", id, 0);
    assert_int_equal(parse(buf, &m, why), -1);
    snprintf(buf, sizeof(buf), "%s\nwant 1001", id);
    assert_int_equal(parse(buf, &m, why), -1);
    snprintf(buf, sizeof(buf), "%s\nwant 1\nwant 2", id);
    assert_int_equal(parse(buf, &m, why), -1);
    snprintf(buf, sizeof(buf), "%s\nwant -1", id);
    assert_int_equal(parse(buf, &m, why), -1);

    /* too many addrs, too many topics */
    size_t pos = (size_t)snprintf(buf, sizeof(buf), "%s", id);
    for (int i = 0; i < 9; i++)
        pos += (size_t)snprintf(buf + pos, sizeof(buf) - pos,
                                "\naddr /ip4/10.0.0.%d/tcp/1", i);
    assert_int_equal(parse(buf, &m, why), -1);
    assert_string_equal(why, "too many addrs");
    pos = (size_t)snprintf(buf, sizeof(buf), "%s", id);
    for (int i = 0; i < 9; i++)
        pos += (size_t)snprintf(buf + pos, sizeof(buf) - pos, "\ntopic t%d",
                                i);
    assert_int_equal(parse(buf, &m, why), -1);
    assert_string_equal(why, "too many topics");
    /* a payload longer than TRK_ANNC_MAX */
    {
        static char huge[TRK_ANNC_MAX + 2];
        memset(huge, 'a', sizeof(huge) - 1);
        huge[sizeof(huge) - 1] = '\0';
        assert_int_equal(parse(huge, &m, why), -1);
        assert_string_equal(why, "bad length");
    }
    /* NUL inside */
    assert_int_equal(trk_annc_parse((const uint8_t *)"a\0b", 3, &m, why, 64),
                     -1);
}

static void test_peer_payload(void **state)
{
    trk_table *t = table_with(10, 1000);
    uint8_t id[38];
    trk_announce a;
    trk_peer p;
    static trk_peer_msg m;
    char line[TRK_PEER_LINE_MAX], idt[128], host[64], bad[512];
    uint16_t port;
    int n;

    (void)state;
    make_id(5, id);
    announce_of(&a, id, NULL);
    assert_int_equal(trk_table_announce(t, &a, 1), 0);
    assert_int_equal(trk_table_get(t, id, 38, &p), 0);
    n = trk_peer_format(line, sizeof(line), &p);
    assert_true(n > 0);
    id_text(5, idt, sizeof(idt));
    assert_int_equal(trk_peer_parse((const uint8_t *)line, (size_t)n, &m), 0);
    assert_string_equal(m.idtext, idt);
    assert_int_equal(m.naddrs, 1);
    assert_int_equal(trk_addr_host_port(m.addr[0], host, sizeof(host), &port),
                     0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 8080);
    /* an address of someone else, no address, a bad id */
    snprintf(bad, sizeof(bad), "%s /ip4/1.2.3.4/tcp/1/p2p/QmX", idt);
    assert_int_equal(trk_peer_parse((uint8_t *)bad, strlen(bad), &m), -1);
    assert_int_equal(trk_peer_parse((uint8_t *)idt, strlen(idt), &m), -1);
    assert_int_equal(trk_peer_parse((uint8_t *)"x /p2p/x", 8, &m), -1);
    /* hosts */
    assert_int_equal(trk_addr_host("/ip4/10.1.2.3/tcp/9", host, 64), 0);
    assert_string_equal(host, "10.1.2.3");
    assert_int_equal(trk_addr_host("10.1.2.3:9", host, 64), 0);
    assert_string_equal(host, "10.1.2.3");
    assert_int_equal(trk_addr_host("[::1]:9", host, 64), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(trk_addr_host_port("/ip4/1.2.3.4/udp/9", host, 64, &port),
                     -1);
    assert_int_equal(trk_addr_host_port("/ip4/1.2.3.4/tcp/0", host, 64, &port),
                     -1);
    trk_table_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_announce_get_refresh),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_bad_announces),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_sampling),
        cmocka_unit_test(test_churn),
        cmocka_unit_test(test_changes),
        cmocka_unit_test(test_rate_limits),
        cmocka_unit_test(test_annc_parse),
        cmocka_unit_test(test_peer_payload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
