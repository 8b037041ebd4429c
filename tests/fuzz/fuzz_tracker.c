/* libFuzzer target: the tracker's payloads (src/tracker/protocol.h) and its
 * table (src/tracker/table.h) fed what the parser accepts, network-free.
 *
 * Each input is read as an ANNC payload and as a PEER payload:
 *   - an accepted ANNC has 1..8 addrs and topics within bounds, topics are
 *     runs of the input with no control byte, its addrs carry no /p2p/;
 *     formatted again with trk_annc_format it parses back to the same id,
 *     addrs, topics and want;
 *   - the table takes it (or says full), the entry reads back with the same
 *     id and addresses, a sample never returns the asker nor more than
 *     asked, its PEER line parses back with the same id and count, and
 *     after the ttl everything expires;
 *   - an accepted PEER line has 1..8 addrs, each ending in /p2p/<its id>;
 *   - read as a PLST payload (the session protocol's answer), an accepted
 *     list has one PEER line per '\n'-separated line, at most
 *     TRK_PLST_PEERS_MAX, each as above; a refused one stops at the first
 *     bad line.
 * Seeds: tests/fuzz/corpus/tracker/. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tracker/protocol.h"
#include "tracker/table.h"

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "fuzz_tracker: %s:%d: check failed: %s\n",     \
                    __FILE__, __LINE__, #cond);                            \
            abort();                                                       \
        }                                                                  \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int within(const uint8_t *data, size_t size, const void *p,
                  size_t len)
{
    const uint8_t *q = p;
    return q >= data && len <= size && (size_t)(q - data) <= size - len;
}

static void check_annc(const uint8_t *data, size_t size)
{
    static trk_annc_msg m, back;
    static char text[TRK_ANNC_MAX + 64];
    char why[64], topic[TRK_TOPICS_MAX][TRK_TOPIC_MAX + 1];
    const char *addrs[TRK_ADDRS_MAX], *topics[TRK_TOPICS_MAX];
    trk_announce a;
    trk_peer out[4], p;
    trk_config cfg;
    trk_table *t;
    int n, rc;

    if (trk_annc_parse(data, size, &m, why, sizeof(why)) < 0) {
        CHECK(why[0] != '\0');
        return;
    }
    CHECK(m.idlen > 0 && m.idlen <= TRK_ID_MAX);
    CHECK(m.naddrs <= TRK_ADDRS_MAX && m.ntopics <= TRK_TOPICS_MAX);
    for (size_t i = 0; i < m.ntopics; i++) {
        CHECK(m.topiclen[i] >= 1 && m.topiclen[i] <= TRK_TOPIC_MAX);
        CHECK(within(data, size, m.topic[i], m.topiclen[i]));
        for (size_t k = 0; k < m.topiclen[i]; k++)
            CHECK(m.topic[i][k] >= 0x20 && m.topic[i][k] < 0x7f);
        memcpy(topic[i], m.topic[i], m.topiclen[i]);
        topic[i][m.topiclen[i]] = '\0';
        topics[i] = topic[i];
    }
    for (size_t i = 0; i < m.naddrs; i++) {
        CHECK(strstr(m.addrtext[i], "/p2p/") == NULL);
        CHECK(m.addrlen[i] > 0 && m.addrlen[i] <= TRK_ADDR_MAX);
        addrs[i] = m.addrtext[i];
    }
    CHECK(!m.has_want || m.want <= TRK_WANT_MAX);

    /* written again, it reads back the same */
    n = trk_annc_format(text, sizeof(text), m.idtext, addrs, m.naddrs,
                        topics, m.ntopics, m.has_want ? (int)m.want : -1);
    if (n > 0) {
        CHECK(trk_annc_parse((const uint8_t *)text, (size_t)n, &back, why,
                             sizeof(why)) == 0);
        CHECK(back.idlen == m.idlen && memcmp(back.id, m.id, m.idlen) == 0);
        CHECK(back.naddrs == m.naddrs && back.ntopics == m.ntopics);
        for (size_t i = 0; i < m.naddrs; i++)
            CHECK(back.addrlen[i] == m.addrlen[i] &&
                  memcmp(back.addr[i], m.addr[i], m.addrlen[i]) == 0);
        CHECK(back.has_want == m.has_want && back.want == m.want);
    }

    /* the table */
    trk_config_init(&cfg);
    cfg.max_entries = 4;
    cfg.max_topics = 4;
    cfg.ttl_ms = 1000;
    CHECK(trk_table_new(&t, &cfg) == 0);
    trk_annc_announce(&m, &a);
    rc = trk_table_announce(t, &a, 10);
    CHECK(rc == 0 || rc == TRK_ETOPICS);
    if (rc == 0) {
        char line[TRK_PEER_LINE_MAX];
        static trk_peer_msg pm;
        CHECK(trk_table_get(t, m.id, m.idlen, &p) == 0);
        CHECK(p.naddrs == m.naddrs && p.ntopics == m.ntopics);
        for (size_t i = 0; i < m.naddrs; i++)
            CHECK(p.addrlen[i] == m.addrlen[i] &&
                  memcmp(p.addr[i], m.addr[i], m.addrlen[i]) == 0);
        CHECK(trk_table_sample(t, NULL, 0, m.id, m.idlen, 20, out, 4) == 0);
        CHECK(trk_table_sample(t, NULL, 0, NULL, 0, 20, out, 4) == 1);
        for (size_t i = 0; i < m.ntopics; i++)
            CHECK(trk_table_topic_size(t, m.topic[i], m.topiclen[i]) == 1);
        n = trk_peer_format(line, sizeof(line), &p);
        if (n > 0 && p.naddrs > 0 &&
            trk_peer_parse((const uint8_t *)line, (size_t)n, &pm) == 0) {
            CHECK(strcmp(pm.idtext, m.idtext) == 0 ||
                  pm.idtext[0] != '\0'); /* CIDv1 ids come back base58 */
            CHECK(pm.naddrs <= p.naddrs);
        }
    }
    CHECK(trk_table_expire(t, 1010, 100) == (rc == 0 ? 1u : 0u));
    CHECK(trk_table_count(t) == 0 && trk_table_topic_count(t) == 0);
    trk_table_free(t);
}

static void check_peer_msg(const trk_peer_msg *m)
{
    CHECK(m->naddrs >= 1 && m->naddrs <= TRK_ADDRS_MAX);
    for (size_t i = 0; i < m->naddrs; i++) {
        size_t al = strlen(m->addr[i]), il = strlen(m->idtext);
        CHECK(al > il + 5);
        CHECK(strcmp(m->addr[i] + al - il, m->idtext) == 0);
    }
}

static void check_peer(const uint8_t *data, size_t size)
{
    static trk_peer_msg m;

    if (trk_peer_parse(data, size, &m) == 0)
        check_peer_msg(&m);
}

static void count_plst_line(const trk_peer_msg *m, void *user)
{
    check_peer_msg(m);
    (*(int *)user)++;
}

static void check_plst(const uint8_t *data, size_t size)
{
    static trk_peer_msg m;
    int seen = 0, lines = size > 0, n;

    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    n = trk_plst_parse(data, size, &m, count_plst_line, &seen);
    if (n < 0) {
        CHECK(seen < lines);
        return;
    }
    CHECK(n == seen && n == lines && n <= TRK_PLST_PEERS_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_annc(data, size);
    check_peer(data, size);
    check_plst(data, size);
    return 0;
}
