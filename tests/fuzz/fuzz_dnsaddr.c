/* libFuzzer target: the resolver's network-free half (src/dns/dnsaddr.h),
 * DNS answers as a server might send them, read by libresolv's
 * ns_initparse and turned into multiaddrs by our code.
 *
 * Input: one byte of settings, then DNS answer messages, each a 2-byte
 * big-endian length and that many bytes. The n-th query made gets the
 * n-th message (none left: "no such name").
 *   settings bits 0-1: what is resolved: /dnsaddr/fuzz.test,
 *                      /dnsaddr/fuzz.test/p2p/ID, /dns/fuzz.test/tcp/1,
 *                      /dnsaddr/fuzz.test/tcp/4001
 *            bit 2:    resolve_hosts
 *            bits 3-5: max_depth - 1
 *            bits 6-7: max_addrs 1, 3, 8, 32
 * Checks: the status agrees with the count; at most max_addrs addresses,
 * max_queries queries; every address is a valid multiaddr, none twice,
 * each ends as the query does (its /p2p/ID, its /tcp/4001), none starts
 * with /dnsaddr (nor /dns* when hosts are resolved); the skip counts add
 * up. Each message is also read as one TXT record's rdata and text: a
 * record accepted parses back to the bytes given.
 * Seeds: tests/fuzz/corpus/dnsaddr/ (make_corpus_dnsaddr.py). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dnsaddr.h"
#include "shoal.h"

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "fuzz_dnsaddr: %s:%d: check failed: %s\n",     \
                    __FILE__, __LINE__, #cond);                            \
            abort();                                                       \
        }                                                                  \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct feed {
    const uint8_t *data;
    size_t size, pos;
    size_t queries;
} feed;

static int feed_query(void *ctx, const char *name, int type, uint8_t *answer,
                      size_t cap)
{
    feed *f = ctx;
    size_t len;

    (void)type;
    CHECK(name != NULL && strlen(name) < DNSADDR_QNAME_MAX);
    f->queries++;
    if (f->size - f->pos < 2)
        return 0;
    len = (size_t)f->data[f->pos] << 8 | f->data[f->pos + 1];
    f->pos += 2;
    if (len > f->size - f->pos)
        len = f->size - f->pos;
    CHECK(len <= cap);
    memcpy(answer, f->data + f->pos, len);
    f->pos += len;
    return (int)len;
}

/* A record accepted as text reads back to the same bytes. */
static void check_record(const uint8_t *data, size_t size)
{
    static uint8_t txt[DNSADDR_TXT_MAX];
    uint8_t bin[SHOAL_MULTIADDR_MAX], again[SHOAL_MULTIADDR_MAX];
    char text[SHOAL_MULTIADDR_MAX + 1];
    int n, m, t;

    n = dnsaddr_txt_join(data, size, txt, sizeof(txt));
    CHECK(n == -DNSADDR_BAD_TXT || n == -DNSADDR_TOO_LONG ||
          (n >= 0 && (size_t)n <= size));
    n = dnsaddr_record(data, size, NULL, 0, bin, sizeof(bin));
    if (n < 0) {
        CHECK(-n > 0 && -n < DNSADDR_NSKIP);
        return;
    }
    CHECK(size > DNSADDR_PREFIX_LEN && size <= DNSADDR_TXT_MAX);
    CHECK(memcmp(data, DNSADDR_PREFIX, DNSADDR_PREFIX_LEN) == 0);
    t = shoal_multiaddr_format(bin, (size_t)n, text, sizeof(text));
    CHECK(t > 0);
    m = shoal_multiaddr_parse(text, again, sizeof(again));
    CHECK(m == n && memcmp(again, bin, (size_t)n) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char query[256], p2p[128];
    static uint8_t want[SHOAL_MULTIADDR_MAX];
    static const size_t addrs_cap[4] = {1, 3, 8, 32};
    uint8_t bin[SHOAL_MULTIADDR_MAX];
    dnsaddr_limits lim;
    dnsaddr_result r;
    size_t pos, i, j, sum, wlen = 0;
    feed f;
    int rc, n, k;

    if (p2p[0] == '\0') {
        uint8_t id[38] = {0x00, 0x24, 0x08, 0x01, 0x12, 0x20};
        memset(id + 6, 0x42, 32);
        CHECK(shoal_peer_id_to_text(id, sizeof(id), p2p, sizeof(p2p)) > 0);
    }
    if (size < 1)
        return 0;
    dnsaddr_limits_init(&lim);
    lim.resolve_hosts = (data[0] >> 2) & 1;
    lim.max_depth = ((data[0] >> 3) & 7) + 1;
    lim.max_addrs = addrs_cap[data[0] >> 6];
    switch (data[0] & 3) {
    case 0: snprintf(query, sizeof(query), "/dnsaddr/fuzz.test"); break;
    case 1:
        snprintf(query, sizeof(query), "/dnsaddr/fuzz.test/p2p/%s", p2p);
        wlen = (size_t)shoal_multiaddr_parse(query + 18, want, sizeof(want));
        break;
    case 2: snprintf(query, sizeof(query), "/dns/fuzz.test/tcp/1"); break;
    default:
        snprintf(query, sizeof(query), "/dnsaddr/fuzz.test/tcp/4001");
        wlen = (size_t)shoal_multiaddr_parse("/tcp/4001", want, sizeof(want));
        break;
    }

    memset(&f, 0, sizeof(f));
    f.data = data;
    f.size = size;
    f.pos = 1;
    rc = dnsaddr_expand(&lim, feed_query, &f, query, &r);
    CHECK(rc == 0 || rc == SHOAL_ENOENT || rc == SHOAL_ENOMEM);
    CHECK((rc == 0) == (r.naddrs > 0) || rc == SHOAL_ENOMEM);
    CHECK(r.naddrs <= lim.max_addrs);
    CHECK(r.queries <= lim.max_queries && r.queries == f.queries);
    for (k = 0, sum = 0; k < DNSADDR_NSKIP; k++)
        sum += r.skipped[k];
    CHECK(sum == r.nskipped && r.skipped[DNSADDR_OK] == 0);
    for (i = 0; i < r.naddrs; i++) {
        n = shoal_multiaddr_parse(r.addrs[i], bin, sizeof(bin));
        CHECK(n > 0);
        CHECK(dnsaddr_has_suffix(bin, (size_t)n, want, wlen));
        CHECK(!dnsaddr_wants(r.addrs[i], lim.resolve_hosts));
        for (j = 0; j < i; j++)
            CHECK(strcmp(r.addrs[i], r.addrs[j]) != 0);
    }
    dnsaddr_result_free(&r);

    /* every message again, as a TXT record's rdata and text */
    for (pos = 1; size - pos >= 2;) {
        size_t len = (size_t)data[pos] << 8 | data[pos + 1];
        pos += 2;
        if (len > size - pos)
            len = size - pos;
        check_record(data + pos, len);
        pos += len;
    }
    return 0;
}
