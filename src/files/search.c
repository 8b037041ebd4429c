/* Finding files: FIND (secure mode) floods a search with a ttl, each node
 * answering from its index and relaying what its neighbours answer, once
 * per search id; QUER and RESP do the same on the classic wire, with the
 * reference's bytes. shoal_files_search() starts one from here. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "files/files_internal.h"
#include "node/thread.h"

/* Time a hop keeps for itself when it forwards a FIND: the rest goes on. */
#define FIND_HOP_MS 250
#define FIND_MIN_MS 100
/* A classic QUER seen this recently (same requester and key) is not
 * forwarded again: the reference echoes queries around cycles. */
#define QUER_SEEN_MS 3000
#define REMOTE_MAX 10000
#define HOLDERS_MAX 64

typedef struct result {
    char *name;
    uint64_t size;
    char hash[SHOAL_FILES_HASH_TEXT];
    shoal_file_holder *holders;  /* strings owned */
    size_t nholders;
} result;

struct files_search {
    files_search *next;
    shoal_files *f;
    char *key;
    size_t keylen;
    int by_hash;
    uint64_t deadline;
    result *results;
    size_t n, cap;
    unsigned outstanding;        /* FIND requests in flight */
    int done;                    /* cb has run */
    shoal_search_found_cb found; /* may be NULL */
    shoal_search_cb cb;
    void *user;
};

struct files_forward {
    files_forward *next;
    shoal_files *f;
    shoal_req *req;              /* NULL once ended */
    uint64_t deadline;
    size_t relayed;
    unsigned outstanding;
};

/* ---------------------------------------------------------- results */

static result *result_for(files_search *s, const char *hash,
                          const char *name, size_t namelen)
{
    for (size_t i = 0; i < s->n; i++) {
        result *r = &s->results[i];
        if (hash[0] ? strcmp(r->hash, hash) == 0
                    : r->hash[0] == '\0' && strlen(r->name) == namelen &&
                          memcmp(r->name, name, namelen) == 0)
            return r;
    }
    if (s->n == s->f->cfg.max_results)
        return NULL;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        result *v = realloc(s->results, cap * sizeof(*v));
        if (v == NULL)
            return NULL;
        s->results = v;
        s->cap = cap;
    }
    result *r = &s->results[s->n];
    memset(r, 0, sizeof(*r));
    if ((r->name = malloc(namelen + 1)) == NULL)
        return NULL;
    memcpy(r->name, name, namelen);
    r->name[namelen] = '\0';
    snprintf(r->hash, sizeof(r->hash), "%s", hash);
    s->n++;
    return r;
}

/* Tells the searcher that r is new or has a new holder. */
static void result_found(files_search *s, const result *r)
{
    shoal_search_result out;

    if (s->found == NULL || s->done)
        return;
    out.name = r->name;
    out.size = r->size;
    out.hash = r->hash;
    out.nholders = r->nholders;
    out.holders = r->holders;
    s->found(s->f, &out, s->user);
}

static void result_add(files_search *s, const char *hash, uint64_t size,
                       const char *name, size_t namelen, const char *peer,
                       const char *addr)
{
    result *r = result_for(s, hash, name, namelen);
    shoal_file_holder *h;

    if (r == NULL)
        return;
    r->size = size;
    for (size_t i = 0; i < r->nholders; i++)
        if (strcmp(r->holders[i].peer, peer) == 0)
            return;
    if (r->nholders == HOLDERS_MAX ||
        (h = realloc(r->holders, (r->nholders + 1) * sizeof(*h))) == NULL)
        return;
    r->holders = h;
    h[r->nholders].peer = strdup(peer);
    h[r->nholders].addr = strdup(addr);
    if (h[r->nholders].peer == NULL || h[r->nholders].addr == NULL) {
        free((char *)h[r->nholders].peer);
        free((char *)h[r->nholders].addr);
        return;
    }
    r->nholders++;
    result_found(s, r);
}

static void search_free(files_search *s)
{
    for (size_t i = 0; i < s->n; i++) {
        for (size_t k = 0; k < s->results[i].nholders; k++) {
            free((char *)s->results[i].holders[k].peer);
            free((char *)s->results[i].holders[k].addr);
        }
        free(s->results[i].holders);
        free(s->results[i].name);
    }
    free(s->results);
    free(s->key);
    free(s);
}

static void search_unlink(files_search *s)
{
    files_search **p = &s->f->searches;

    while (*p != NULL && *p != s)
        p = &(*p)->next;
    if (*p == s)
        *p = s->next;
}

/* Reports the results (once) and frees s when nothing refers to it. */
static void search_finish(files_search *s, int status)
{
    if (!s->done) {
        shoal_search_result *out = calloc(s->n ? s->n : 1, sizeof(*out));
        s->done = 1;
        search_unlink(s);
        if (out != NULL) {
            for (size_t i = 0; i < s->n; i++) {
                out[i].name = s->results[i].name;
                out[i].size = s->results[i].size;
                out[i].hash = s->results[i].hash;
                out[i].nholders = s->results[i].nholders;
                out[i].holders = s->results[i].holders;
            }
        }
        if (s->cb != NULL)
            s->cb(s->f, out != NULL ? status : SHOAL_ENOMEM, out,
                  out != NULL ? s->n : 0, s->user);
        free(out);
    }
    if (s->outstanding == 0)
        search_free(s);
}

/* Local files matching s. */
static void search_local(files_search *s)
{
    shoal_files *f = s->f;
    char self[FILES_ADDR_MAX];
    const char *me = shoal_node_id(f->node);

    files_self_addr(f, self, sizeof(self));
    for (size_t i = 0; i < f->index.n; i++) {
        const file_entry *e = &f->index.v[i];
        if (s->by_hash ? strcmp(e->hash, s->key) == 0
                       : files_name_matches(f, e->name, s->key, s->keylen))
            result_add(s, f->classic ? "" : e->hash, f->classic ? 0 : e->size,
                       e->name, strlen(e->name), me, self);
    }
}

/* ------------------------------------------------------------- FIND */

static void hits_reply(shoal_files *f, shoal_req *req, const char *key,
                       size_t keylen)
{
    char self[FILES_ADDR_MAX], line[SHOAL_FILES_NAME_MAX + 512];
    int by_hash = keylen == 64;
    size_t sent = 0;

    files_self_addr(f, self, sizeof(self));
    for (size_t i = 0; i < f->index.n && sent < f->cfg.max_results; i++) {
        const file_entry *e = &f->index.v[i];
        int n;
        if (!(by_hash && memcmp(e->hash, key, 64) == 0) &&
            !files_name_matches(f, e->name, key, keylen))
            continue;
        n = files_hit_format(line, sizeof(line), e->hash, e->size,
                             shoal_node_peer_id(f->node), self, e->name);
        if (n > 0 && (size_t)n < sizeof(line) &&
            shoal_reply(req, "HITS", line, (size_t)n) == 0)
            sent++;
    }
}

static void forward_free_maybe(files_forward *fw)
{
    if (fw->req == NULL && fw->outstanding == 0)
        free(fw);
}

static void forward_end(files_forward *fw)
{
    files_forward **p = &fw->f->forwards;

    if (fw->req == NULL)
        return;
    while (*p != NULL && *p != fw)
        p = &(*p)->next;
    if (*p == fw)
        *p = fw->next;
    shoal_req_done(fw->req);
    fw->req = NULL;
}

static void forward_on_reply(const shoal_msg *reply, void *user)
{
    files_forward *fw = user;
    files_hit_msg hit;

    /* relay only what parses: a broken peer's bytes stop here */
    if (fw->req != NULL && strcmp(reply->type, "HITS") == 0 &&
        fw->relayed < fw->f->cfg.max_results &&
        files_hit_parse(reply->data, reply->len, &hit) == 0 &&
        shoal_reply(fw->req, "HITS", reply->data, reply->len) == 0)
        fw->relayed++;
}

static void forward_on_end(int status, void *user)
{
    files_forward *fw = user;
    shoal_files *f = fw->f;

    (void)status;
    fw->outstanding--;
    if (fw->outstanding == 0)
        forward_end(fw);
    forward_free_maybe(fw);
    files_release(f);
}

/* Sends FIND to every neighbour; on_reply/on_end with user for each.
 * Returns the number of requests started. */
static unsigned find_send(shoal_files *f, const char *payload, size_t len,
                          uint32_t ms, shoal_reply_cb on_reply,
                          shoal_end_cb on_end, void *user)
{
    unsigned started = 0;

    for (size_t i = 0; i < shoal_peer_count(f->node); i++) {
        char addr[FILES_ADDR_MAX];
        files_peer_addr(f, shoal_peer_at(f->node, i), addr, sizeof(addr));
        if (shoal_request(f->node, addr, "FIND", payload, len, ms, on_reply,
                          on_end, user) == 0) {
            files_hold(f);
            started++;
        }
    }
    return started;
}

static void on_find(shoal_req *req, const shoal_msg *msg, void *user)
{
    shoal_files *f = user;
    files_find_msg m;
    files_forward *fw;
    char key[FILES_KEY_MAX + 1], payload[FILES_KEY_MAX + 64];
    uint32_t ms;
    int n;

    if (files_find_parse(msg->data, msg->len, &m) == 0)
        files_trim(&m.key, &m.keylen); /* from a node that did not */
    else
        m.keylen = 0;
    if (m.keylen == 0) {
        shoal_replyf(req, "ERRO", "Find: incorrect arguments");
        return;
    }
    if (!files_seen_add(f, m.qid))
        return; /* this search came by another path already */
    memcpy(key, m.key, m.keylen);
    key[m.keylen] = '\0';
    hits_reply(f, req, key, m.keylen);
    ms = m.ms > FIND_HOP_MS ? m.ms - FIND_HOP_MS : 0;
    if (m.ttl == 0 || ms < FIND_MIN_MS)
        return;
    n = files_find_format(payload, sizeof(payload), m.qid, m.ttl - 1, ms, key);
    if (n < 0 || (size_t)n >= sizeof(payload) ||
        (fw = calloc(1, sizeof(*fw))) == NULL)
        return;
    fw->f = f;
    fw->req = req;
    fw->deadline = files_now(f) + m.ms - FIND_HOP_MS / 2;
    fw->outstanding = find_send(f, payload, (size_t)n, ms, forward_on_reply,
                                forward_on_end, fw);
    if (fw->outstanding == 0) {
        free(fw);
        return;
    }
    shoal_req_hold(req);
    fw->next = f->forwards;
    f->forwards = fw;
}

static void search_on_hit(const shoal_msg *reply, void *user)
{
    files_search *s = user;
    files_hit_msg hit;

    if (s->done || strcmp(reply->type, "HITS") != 0 ||
        files_hit_parse(reply->data, reply->len, &hit) < 0 ||
        shoal_files_name_ok(hit.name, hit.namelen) < 0)
        return;
    if (s->by_hash ? strcmp(hit.hash, s->key) != 0
                   : !files_name_matches_n(s->f, hit.name, hit.namelen,
                                           s->key, s->keylen))
        return; /* not what we asked for */
    result_add(s, hit.hash, hit.size, hit.name, hit.namelen, hit.peer,
               hit.addr);
}

static void search_on_end(int status, void *user)
{
    files_search *s = user;
    shoal_files *f = s->f;

    (void)status;
    s->outstanding--;
    if (s->done) {
        if (s->outstanding == 0)
            search_free(s);
    } else if (s->outstanding == 0 && !f->classic) {
        search_finish(s, 0); /* everyone answered */
    }
    files_release(f);
}

/* ------------------------------------------------------ QUER and RESP */

static void quer_end(int status, void *user)
{
    (void)status;
    files_release(user);
}

/* Fire and forget, as the reference does. */
static void classic_send(shoal_files *f, const char *addr, const char *type,
                         const char *payload)
{
    if (shoal_request(f->node, addr, type, payload, strlen(payload), 0, NULL,
                      quer_end, f) == 0)
        files_hold(f);
}

/* A QUER's (requester, key) as a search id, for duplicate suppression. */
static uint64_t quer_id(const files_quer_msg *q)
{
    uint8_t h[crypto_generichash_BYTES_MIN];
    crypto_generichash_state st;
    uint64_t id = 0;

    crypto_generichash_init(&st, NULL, 0, sizeof(h));
    crypto_generichash_update(&st, (const uint8_t *)q->pid, strlen(q->pid));
    crypto_generichash_update(&st, (const uint8_t *)"\n", 1);
    crypto_generichash_update(&st, (const uint8_t *)q->key, q->keylen);
    crypto_generichash_final(&st, h, sizeof(h));
    memcpy(&id, h, sizeof(id));
    return id;
}

static void on_quer(shoal_req *req, const shoal_msg *msg, void *user)
{
    shoal_files *f = user;
    files_quer_msg q;
    char key[FILES_KEY_MAX + 1], line[SHOAL_FILES_NAME_MAX + 600];
    const char *me = shoal_node_id(f->node);
    int hits = 0;
    uint64_t id;

    if (files_quer_parse(msg->data, msg->len, &q) == 0)
        files_trim(&q.key, &q.keylen); /* "PID key  4": the key is "key" */
    else
        q.keylen = 0;
    if (q.keylen == 0) { /* "PID    4" has no key, as the reference says */
        shoal_replyf(req, "ERRO", "Query: incorrect arguments");
        return;
    }
    memcpy(key, q.key, q.keylen);
    key[q.keylen] = '\0';
    shoal_replyf(req, "REPL", "Query ACK: %s", key);
    id = quer_id(&q);
    for (size_t i = 0; i < FILES_SEEN; i++)
        if (f->seen[i].qid == id && f->seen[i].until > files_now(f))
            return;
    f->seen[f->seen_next].qid = id;
    f->seen[f->seen_next].until = files_now(f) + QUER_SEEN_MS;
    f->seen_next = (f->seen_next + 1) % FILES_SEEN;
    if (strcmp(q.pid, me) == 0)
        return; /* our own query, come back around */
    /* every match, not only the first; by the name a classic peer can
     * fetch and save (files_classic_name) */
    for (size_t i = 0; i < f->index.n; i++) {
        const char *name = files_classic_name(&f->index.v[i]);
        if (name != NULL && files_name_matches(f, name, key, q.keylen)) {
            snprintf(line, sizeof(line), "%s %s", name, me);
            classic_send(f, q.pid, "RESP", line);
            hits++;
        }
    }
    for (size_t i = 0; i < f->nremote; i++)
        if (files_name_matches(f, f->remote[i].name, key, q.keylen) &&
            strcmp(f->remote[i].owner, q.pid) != 0) {
            snprintf(line, sizeof(line), "%s %s", f->remote[i].name,
                     f->remote[i].owner);
            classic_send(f, q.pid, "RESP", line);
            hits++;
        }
    if (hits > 0 || q.ttl <= 0)
        return;
    snprintf(line, sizeof(line), "%s %s %d", q.pid, key, q.ttl - 1);
    for (size_t i = 0; i < shoal_peer_count(f->node); i++) {
        char addr[FILES_ADDR_MAX];
        const shoal_peer *p = shoal_peer_at(f->node, i);
        if (strcmp(p->id, q.pid) == 0)
            continue;
        files_peer_addr(f, p, addr, sizeof(addr));
        classic_send(f, addr, "QUER", line);
    }
}

static void remote_add(shoal_files *f, const char *name, size_t namelen,
                       const char *owner)
{
    files_remote *v;

    for (size_t i = 0; i < f->nremote; i++)
        if (strlen(f->remote[i].name) == namelen &&
            memcmp(f->remote[i].name, name, namelen) == 0 &&
            strcmp(f->remote[i].owner, owner) == 0)
            return;
    if (f->nremote == REMOTE_MAX ||
        (v = realloc(f->remote, (f->nremote + 1) * sizeof(*v))) == NULL)
        return;
    f->remote = v;
    if ((v[f->nremote].name = malloc(namelen + 1)) == NULL)
        return;
    memcpy(v[f->nremote].name, name, namelen);
    v[f->nremote].name[namelen] = '\0';
    snprintf(v[f->nremote].owner, sizeof(v[f->nremote].owner), "%s", owner);
    f->nremote++;
}

static void on_resp(shoal_req *req, const shoal_msg *msg, void *user)
{
    shoal_files *f = user;
    char owner[SHOAL_ID_MAX];
    const char *name;
    size_t namelen;

    (void)req; /* the reference expects no reply */
    if (files_resp_parse(msg->data, msg->len, &name, &namelen, owner,
                         sizeof(owner)) < 0 ||
        namelen > SHOAL_FILES_NAME_MAX ||
        shoal_files_name_ok(name, namelen) < 0)
        return;
    remote_add(f, name, namelen, owner);
    for (files_search *s = f->searches; s != NULL; s = s->next)
        if (files_name_matches_n(f, name, namelen, s->key, s->keylen))
            result_add(s, "", 0, name, namelen, owner, owner);
}

/* ------------------------------------------------------------ the API */

int shoal_files_search_stream(shoal_files *f, const char *key,
                              uint32_t timeout_ms,
                              shoal_search_found_cb found,
                              shoal_search_cb cb, void *user)
{
    SHOAL_LOOP_ONLY(f->node, SHOAL_EBUSY);
    char payload[FILES_KEY_MAX + 64];
    size_t keylen = key != NULL ? strlen(key) : 0;
    files_search *s;
    uint64_t qid;
    int n;

    if (key != NULL)
        files_trim(&key, &keylen);
    if (keylen == 0 || keylen > FILES_KEY_MAX)
        return SHOAL_EINVAL;
    for (size_t i = 0; i < keylen; i++)
        if ((unsigned char)key[i] < 0x20 || key[i] == 0x7f)
            return SHOAL_EINVAL;
    if (f->classic && memchr(key, ' ', keylen) != NULL)
        return SHOAL_EINVAL; /* QUER keys are one word */
    if (timeout_ms == 0 || timeout_ms > FILES_FIND_MS_MAX)
        timeout_ms = f->cfg.search_timeout_ms;
    if ((s = calloc(1, sizeof(*s))) == NULL ||
        (s->key = malloc(keylen + 1)) == NULL) {
        free(s);
        return SHOAL_ENOMEM;
    }
    memcpy(s->key, key, keylen);
    s->key[keylen] = '\0';
    key = s->key;
    s->f = f;
    s->keylen = keylen;
    s->by_hash = !f->classic && keylen == 64 &&
                 files_unhex(key, 64, (uint8_t[32]){0}, 32) == 0;
    s->deadline = files_now(f) + timeout_ms;
    s->found = found;
    s->cb = cb;
    s->user = user;
    s->next = f->searches;
    f->searches = s;
    search_local(s);
    if (f->classic) {
        snprintf(payload, sizeof(payload), "%s %s %d", shoal_node_id(f->node),
                 key, f->cfg.search_ttl);
        for (size_t i = 0; i < f->nremote; i++) /* learned earlier */
            if (files_name_matches(f, f->remote[i].name, key, keylen))
                result_add(s, "", 0, f->remote[i].name,
                           strlen(f->remote[i].name), f->remote[i].owner,
                           f->remote[i].owner);
        for (size_t i = 0; i < shoal_peer_count(f->node); i++) {
            char addr[FILES_ADDR_MAX];
            files_peer_addr(f, shoal_peer_at(f->node, i), addr, sizeof(addr));
            classic_send(f, addr, "QUER", payload);
        }
        return 0; /* RESPs come as requests of their own, until the end */
    }
    randombytes_buf(&qid, sizeof(qid));
    files_seen_add(f, qid);
    n = files_find_format(payload, sizeof(payload), qid, f->cfg.search_ttl,
                          timeout_ms > FIND_HOP_MS ? timeout_ms - FIND_HOP_MS
                                                   : timeout_ms,
                          key);
    if (n > 0 && (size_t)n < sizeof(payload))
        s->outstanding = find_send(f, payload, (size_t)n, timeout_ms,
                                   search_on_hit, search_on_end, s);
    if (s->outstanding == 0)
        s->deadline = 0; /* nobody to ask: done at the next tick */
    return 0;
}

int shoal_files_search(shoal_files *f, const char *key, uint32_t timeout_ms,
                       shoal_search_cb cb, void *user)
{
    return shoal_files_search_stream(f, key, timeout_ms, NULL, cb, user);
}

void files_search_tick(shoal_files *f, uint64_t now)
{
    files_search *s = f->searches, *next;
    files_forward *fw, *fnext;

    for (; s != NULL; s = next) {
        next = s->next;
        if (now >= s->deadline)
            search_finish(s, 0);
    }
    for (fw = f->forwards; fw != NULL; fw = fnext) {
        fnext = fw->next;
        if (now >= fw->deadline) {
            forward_end(fw); /* what came in time was relayed */
            forward_free_maybe(fw);
        }
    }
}

void files_search_register(shoal_files *f)
{
    if (f->classic) {
        shoal_handle(f->node, "QUER", on_quer, f);
        shoal_handle(f->node, "RESP", on_resp, f);
    } else {
        shoal_handle(f->node, "FIND", on_find, f);
    }
}

void files_search_stop(shoal_files *f)
{
    shoal_handle(f->node, "QUER", NULL, NULL);
    shoal_handle(f->node, "RESP", NULL, NULL);
    shoal_handle(f->node, "FIND", NULL, NULL);
    while (f->searches != NULL)
        search_finish(f->searches, SHOAL_ECANCELED);
    while (f->forwards != NULL) {
        files_forward *fw = f->forwards;
        forward_end(fw);
        forward_free_maybe(fw);
    }
}
