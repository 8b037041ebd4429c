#include "dns/dnsaddr.h"

#include <arpa/nameser.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "shoal.h"

static const char *const SKIP_NAMES[DNSADDR_NSKIP] = {
    [DNSADDR_OK] = "ok",
    [DNSADDR_NOT_DNSADDR] = "not_dnsaddr",
    [DNSADDR_TOO_LONG] = "too_long",
    [DNSADDR_BAD_TXT] = "bad_txt",
    [DNSADDR_BAD_MULTIADDR] = "bad_multiaddr",
    [DNSADDR_WRONG_SUFFIX] = "wrong_peer",
    [DNSADDR_LOOP] = "loop",
    [DNSADDR_TOO_DEEP] = "too_deep",
    [DNSADDR_TOO_MANY_RECORDS] = "too_many_records",
    [DNSADDR_TOO_MANY_ADDRS] = "too_many_addrs",
    [DNSADDR_QUERY_BUDGET] = "query_budget",
    [DNSADDR_BAD_ANSWER] = "bad_answer",
    [DNSADDR_QUERY_FAILED] = "query_failed",
};

const char *dnsaddr_skip_name(int reason)
{
    return reason >= 0 && reason < DNSADDR_NSKIP ? SKIP_NAMES[reason]
                                                 : "unknown";
}

int dnsaddr_txt_join(const uint8_t *rdata, size_t len, uint8_t *out,
                     size_t size)
{
    size_t i = 0, n = 0, l;

    while (i < len) {
        l = rdata[i];
        if (l > len - i - 1)
            return -DNSADDR_BAD_TXT;
        if (l > size - n)
            return -DNSADDR_TOO_LONG;
        memcpy(out + n, rdata + i + 1, l);
        n += l;
        i += 1 + l;
    }
    return (int)n;
}

int dnsaddr_has_suffix(const uint8_t *bin, size_t len, const uint8_t *suffix,
                       size_t slen)
{
    const uint8_t *v;
    size_t pos = 0, vlen;
    uint64_t code;

    if (slen == 0)
        return 1;
    if (slen > len || memcmp(bin + len - slen, suffix, slen) != 0)
        return 0;
    /* the same bytes, but do they start a component? */
    while (pos < len - slen)
        if (shoal_multiaddr_next(bin, len, &pos, &code, &v, &vlen) <= 0)
            return 0;
    return pos == len - slen;
}

int dnsaddr_record(const uint8_t *txt, size_t len, const uint8_t *suffix,
                   size_t slen, uint8_t *out, size_t size)
{
    char text[SHOAL_MULTIADDR_MAX + 1];
    size_t tlen;
    int n;

    if (len < DNSADDR_PREFIX_LEN ||
        memcmp(txt, DNSADDR_PREFIX, DNSADDR_PREFIX_LEN) != 0)
        return -DNSADDR_NOT_DNSADDR;
    if (len > DNSADDR_TXT_MAX)
        return -DNSADDR_TOO_LONG;
    tlen = len - DNSADDR_PREFIX_LEN;
    if (memchr(txt + DNSADDR_PREFIX_LEN, '\0', tlen) != NULL)
        return -DNSADDR_BAD_MULTIADDR;
    memcpy(text, txt + DNSADDR_PREFIX_LEN, tlen);
    text[tlen] = '\0';
    if ((n = shoal_multiaddr_parse(text, out, size)) <= 0)
        return -DNSADDR_BAD_MULTIADDR;
    if (!dnsaddr_has_suffix(out, (size_t)n, suffix, slen))
        return -DNSADDR_WRONG_SUFFIX;
    return n;
}

void dnsaddr_limits_init(dnsaddr_limits *lim)
{
    lim->max_records = 32;
    lim->max_addrs = 32;
    lim->max_queries = 32;
    lim->max_depth = 4;
    lim->resolve_hosts = 0;
}

int dnsaddr_wants(const char *addr, int resolve_hosts)
{
    if (addr == NULL)
        return 0;
    if (strncmp(addr, "/dnsaddr/", 9) == 0)
        return 1;
    return resolve_hosts && (strncmp(addr, "/dns4/", 6) == 0 ||
                             strncmp(addr, "/dns6/", 6) == 0 ||
                             strncmp(addr, "/dns/", 5) == 0);
}

/* ------------------------------------------------------------- the walk */

typedef struct walk {
    const dnsaddr_limits *lim;
    dnsaddr_query_fn query;
    void *ctx;
    dnsaddr_result *res;
    uint8_t *answer;           /* DNSADDR_ANSWER_MAX bytes, reused */
    /* the /dnsaddr names being resolved, outermost first: a record naming
     * one of them again is a loop */
    char path[DNSADDR_DEPTH_MAX][DNSADDR_NAME_MAX + 3];
    int depth;
    int stop;                  /* out of memory, canceled or full */
    int oom;
} walk;

/* One binary multiaddr kept from an answer, resolved after the answer is
 * read (the answer buffer is reused by the nested queries). */
typedef struct kept {
    size_t len;
    uint8_t bin[];
} kept;

static void skip(walk *w, int reason, const char *name)
{
    dnsaddr_result *r = w->res;

    if (r->nskipped++ == 0) {
        r->first_skip = reason;
        snprintf(r->first_skip_name, sizeof(r->first_skip_name), "%s",
                 name);
    }
    r->skipped[reason]++;
}

/* Adds bin to the result unless it is there already. */
static void add(walk *w, const uint8_t *bin, size_t len, const char *name)
{
    dnsaddr_result *r = w->res;
    char text[SHOAL_MULTIADDR_MAX + 1], *copy, **grown;
    size_t i;

    if (shoal_multiaddr_format(bin, len, text, sizeof(text)) < 0) {
        skip(w, DNSADDR_BAD_MULTIADDR, name); /* e.g. text over the cap */
        return;
    }
    for (i = 0; i < r->naddrs; i++)
        if (strcmp(r->addrs[i], text) == 0)
            return;
    if (r->naddrs >= w->lim->max_addrs) {
        skip(w, DNSADDR_TOO_MANY_ADDRS, name);
        w->stop = 1; /* no query could add anything now */
        return;
    }
    if ((copy = strdup(text)) == NULL ||
        (grown = realloc(r->addrs, (r->naddrs + 1) * sizeof(*grown))) ==
            NULL) {
        free(copy);
        w->oom = w->stop = 1;
        return;
    }
    r->addrs = grown;
    r->addrs[r->naddrs++] = copy;
}

/* Sends one query within the budget. Returns the answer's length, 0 for
 * none (nothing to read), -1 when skipped or failed. */
static int ask(walk *w, const char *name, int type)
{
    int n;

    if (w->res->queries >= w->lim->max_queries) {
        skip(w, DNSADDR_QUERY_BUDGET, name);
        return -1;
    }
    w->res->queries++;
    n = w->query(w->ctx, name, type, w->answer, DNSADDR_ANSWER_MAX);
    if (n == SHOAL_ECANCELED) {
        w->stop = 1;
        return -1;
    }
    if (n < 0) {
        w->res->query_error = n;
        skip(w, DNSADDR_QUERY_FAILED, name);
        return -1;
    }
    return n > DNSADDR_ANSWER_MAX ? DNSADDR_ANSWER_MAX : n;
}

static void expand_bin(walk *w, const uint8_t *bin, size_t len,
                       const char *from);

/* /dnsaddr/NAME followed by suffix[0..slen). */
static void expand_dnsaddr(walk *w, const char *name, const uint8_t *suffix,
                           size_t slen)
{
    char qname[DNSADDR_QNAME_MAX];
    uint8_t txt[DNSADDR_TXT_MAX], bin[SHOAL_MULTIADDR_MAX];
    kept **list = NULL;
    size_t nlist = 0, taken = 0, cap, i;
    ns_msg msg;
    ns_rr rr;
    int n, count, k, rc;

    snprintf(qname, sizeof(qname), "_dnsaddr.%s", name);
    if (w->depth >= w->lim->max_depth || w->depth >= DNSADDR_DEPTH_MAX) {
        skip(w, DNSADDR_TOO_DEEP, qname);
        return;
    }
    for (k = 0; k < w->depth; k++)
        if (strcasecmp(w->path[k], name) == 0) {
            skip(w, DNSADDR_LOOP, qname);
            return;
        }
    if ((n = ask(w, qname, DNSADDR_T_TXT)) <= 0)
        return;
    if (ns_initparse(w->answer, n, &msg) < 0) {
        skip(w, DNSADDR_BAD_ANSWER, qname);
        return;
    }
    count = ns_msg_count(msg, ns_s_an);
    cap = (size_t)count < w->lim->max_records ? (size_t)count
                                               : w->lim->max_records;
    if (cap > 0 && (list = calloc(cap, sizeof(*list))) == NULL)
        w->oom = w->stop = 1;
    for (k = 0; k < count && !w->stop; k++) {
        if (ns_parserr(&msg, ns_s_an, k, &rr) < 0) {
            skip(w, DNSADDR_BAD_ANSWER, qname);
            break;
        }
        /* CNAMEs before the TXT records, other classes: not ours */
        if (ns_rr_type(rr) != ns_t_txt || ns_rr_class(rr) != ns_c_in)
            continue;
        if (taken++ >= cap) {
            skip(w, DNSADDR_TOO_MANY_RECORDS, qname);
            break;
        }
        if ((rc = dnsaddr_txt_join(ns_rr_rdata(rr), ns_rr_rdlen(rr), txt,
                                   sizeof(txt))) < 0 ||
            (rc = dnsaddr_record(txt, (size_t)rc, suffix, slen, bin,
                                 sizeof(bin))) < 0) {
            skip(w, -rc, qname);
            continue;
        }
        if ((list[nlist] = malloc(sizeof(kept) + (size_t)rc)) == NULL) {
            w->oom = w->stop = 1;
            break;
        }
        list[nlist]->len = (size_t)rc;
        memcpy(list[nlist]->bin, bin, (size_t)rc);
        nlist++;
    }
    snprintf(w->path[w->depth++], sizeof(w->path[0]), "%s", name);
    for (i = 0; i < nlist; i++) {
        if (!w->stop)
            expand_bin(w, list[i]->bin, list[i]->len, qname);
        free(list[i]);
    }
    w->depth--;
    free(list);
}

/* /dns4/NAME, /dns6/NAME or /dns/NAME (code) followed by rest[0..rlen):
 * one address per A or AAAA record, the name replaced by the IP. */
static void expand_host(walk *w, uint64_t code, const char *name,
                        const uint8_t *rest, size_t rlen)
{
    static const int both[] = {DNSADDR_T_A, DNSADDR_T_AAAA};
    uint8_t bin[SHOAL_MULTIADDR_MAX];
    const int *types = both;
    size_t ntypes = 2, t, taken;
    ns_msg msg;
    ns_rr rr;
    int n, count, k;

    if (code == SHOAL_MA_DNS4)
        ntypes = 1;
    else if (code == SHOAL_MA_DNS6)
        types = both + 1, ntypes = 1;
    for (t = 0; t < ntypes && !w->stop; t++) {
        int want = types[t];
        size_t iplen = want == DNSADDR_T_A ? 4 : 16;

        if ((n = ask(w, name, want)) <= 0)
            continue;
        if (ns_initparse(w->answer, n, &msg) < 0) {
            skip(w, DNSADDR_BAD_ANSWER, name);
            continue;
        }
        count = ns_msg_count(msg, ns_s_an);
        for (k = 0, taken = 0; k < count && !w->stop; k++) {
            if (ns_parserr(&msg, ns_s_an, k, &rr) < 0) {
                skip(w, DNSADDR_BAD_ANSWER, name);
                break;
            }
            if ((int)ns_rr_type(rr) != want || ns_rr_class(rr) != ns_c_in)
                continue;
            if (taken++ >= w->lim->max_records) {
                skip(w, DNSADDR_TOO_MANY_RECORDS, name);
                break;
            }
            if (ns_rr_rdlen(rr) != iplen || 1 + iplen + rlen > sizeof(bin)) {
                skip(w, DNSADDR_BAD_ANSWER, name);
                continue;
            }
            /* both codes (4, 41) are one-byte varints */
            bin[0] = want == DNSADDR_T_A ? SHOAL_MA_IP4 : SHOAL_MA_IP6;
            memcpy(bin + 1, ns_rr_rdata(rr), iplen);
            memcpy(bin + 1 + iplen, rest, rlen);
            add(w, bin, 1 + iplen + rlen, name);
        }
    }
}

static void expand_bin(walk *w, const uint8_t *bin, size_t len,
                       const char *from)
{
    char name[DNSADDR_NAME_MAX + 3];
    const uint8_t *v;
    size_t pos = 0, vlen;
    uint64_t code;

    if (shoal_multiaddr_next(bin, len, &pos, &code, &v, &vlen) <= 0) {
        skip(w, DNSADDR_BAD_MULTIADDR, from);
        return;
    }
    if (code != SHOAL_MA_DNSADDR &&
        !(w->lim->resolve_hosts &&
          (code == SHOAL_MA_DNS4 || code == SHOAL_MA_DNS6 ||
           code == SHOAL_MA_DNS))) {
        add(w, bin, len, from);
        return;
    }
    if (vlen > DNSADDR_NAME_MAX + 1) { /* 255 with a last dot at most */
        skip(w, DNSADDR_BAD_MULTIADDR, from);
        return;
    }
    memcpy(name, v, vlen);
    name[vlen] = '\0';
    if (code == SHOAL_MA_DNSADDR)
        expand_dnsaddr(w, name, bin + pos, len - pos);
    else
        expand_host(w, code, name, bin + pos, len - pos);
}

int dnsaddr_expand(const dnsaddr_limits *lim, dnsaddr_query_fn query,
                   void *ctx, const char *addr, dnsaddr_result *res)
{
    uint8_t bin[SHOAL_MULTIADDR_MAX];
    walk *w;
    int n, rc;

    memset(res, 0, sizeof(*res));
    if (addr == NULL ||
        (n = shoal_multiaddr_parse(addr, bin, sizeof(bin))) <= 0)
        return SHOAL_EBADADDR;
    if ((w = calloc(1, sizeof(*w))) == NULL ||
        (w->answer = malloc(DNSADDR_ANSWER_MAX)) == NULL) {
        free(w);
        return SHOAL_ENOMEM;
    }
    w->lim = lim;
    w->query = query;
    w->ctx = ctx;
    w->res = res;
    expand_bin(w, bin, (size_t)n, "");
    if (w->oom)
        rc = SHOAL_ENOMEM;
    else if (res->naddrs > 0)
        rc = 0;
    else
        rc = res->query_error < 0 ? res->query_error : SHOAL_ENOENT;
    free(w->answer);
    free(w);
    return rc;
}

void dnsaddr_result_free(dnsaddr_result *res)
{
    size_t i;

    for (i = 0; i < res->naddrs; i++)
        free(res->addrs[i]);
    free(res->addrs);
    res->addrs = NULL;
    res->naddrs = 0;
}
