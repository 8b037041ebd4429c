/* The tracker's payloads (protocol.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shoal.h"
#include "tracker/protocol.h"

static void say(char *why, size_t size, const char *what)
{
    if (why != NULL && size > 0)
        snprintf(why, size, "%s", what);
}

/* Copies a run of len bytes into a NUL-terminated buffer; -1 if it does
 * not fit or holds anything but printable ASCII (no space). */
static int word_copy(const uint8_t *p, size_t len, char *out, size_t size)
{
    if (len == 0 || len >= size)
        return -1;
    for (size_t i = 0; i < len; i++)
        if (p[i] <= 0x20 || p[i] >= 0x7f)
            return -1;
    memcpy(out, p, len);
    out[len] = '\0';
    return 0;
}

static int starts(const uint8_t *p, size_t len, const char *word)
{
    size_t n = strlen(word);
    return len >= n && memcmp(p, word, n) == 0;
}

/* "addr <multiaddr>": the text without /p2p/ and its bytes. */
static int parse_addr(trk_annc_msg *m, const uint8_t *p, size_t len,
                      char *why, size_t whysize)
{
    char text[TRK_ADDRTEXT_MAX + TRK_IDTEXT_MAX + 8];
    char *suffix;
    size_t k = m->naddrs;
    int n;

    if (k == TRK_ADDRS_MAX)
        return say(why, whysize, "too many addrs"), -1;
    if (word_copy(p, len, text, sizeof(text)) < 0)
        return say(why, whysize, "bad addr"), -1;
    if ((suffix = strstr(text, "/p2p/")) != NULL) {
        uint8_t id[TRK_ID_MAX];
        int idlen = shoal_peer_id_to_bytes(suffix + 5, id, sizeof(id));
        if (idlen <= 0 || (size_t)idlen != m->idlen ||
            memcmp(id, m->id, m->idlen) != 0)
            return say(why, whysize, "addr of another peer id"), -1;
        *suffix = '\0';
    }
    /* one /p2p/, at the end: no relays or other ids inside */
    if (strstr(text, "/ipfs/") != NULL || strstr(text, "/p2p") != NULL ||
        strlen(text) >= TRK_ADDRTEXT_MAX)
        return say(why, whysize, "bad addr"), -1;
    n = shoal_multiaddr_to_bytes(text, m->addr[k], TRK_ADDR_MAX);
    if (n <= 0)
        return say(why, whysize, "bad addr"), -1;
    for (size_t i = 0; i < k; i++)
        if (m->addrlen[i] == (size_t)n &&
            memcmp(m->addr[i], m->addr[k], (size_t)n) == 0)
            return say(why, whysize, "repeated addr"), -1;
    m->addrlen[k] = (size_t)n;
    memcpy(m->addrtext[k], text, strlen(text) + 1);
    m->naddrs++;
    return 0;
}

static int parse_topic(trk_annc_msg *m, const uint8_t *p, size_t len,
                       char *why, size_t whysize)
{
    if (m->ntopics == TRK_TOPICS_MAX)
        return say(why, whysize, "too many topics"), -1;
    if (len == 0 || len > TRK_TOPIC_MAX)
        return say(why, whysize, "bad topic length"), -1;
    for (size_t i = 0; i < len; i++)
        if (p[i] < 0x20 || p[i] >= 0x7f)
            return say(why, whysize, "bad topic byte"), -1;
    for (size_t i = 0; i < m->ntopics; i++)
        if (m->topiclen[i] == len && memcmp(m->topic[i], p, len) == 0)
            return say(why, whysize, "repeated topic"), -1;
    m->topic[m->ntopics] = (const char *)p;
    m->topiclen[m->ntopics++] = len;
    return 0;
}

static int parse_want(trk_annc_msg *m, const uint8_t *p, size_t len,
                      char *why, size_t whysize)
{
    unsigned v = 0;

    if (m->has_want || len == 0 || len > 4)
        return say(why, whysize, "bad want"), -1;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return say(why, whysize, "bad want"), -1;
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    if (v > TRK_WANT_MAX)
        return say(why, whysize, "bad want"), -1;
    m->has_want = 1;
    m->want = v;
    return 0;
}

int trk_annc_parse(const uint8_t *p, size_t len, trk_annc_msg *m,
                   char *why, size_t whysize)
{
    size_t pos = 0, line = 0;
    int n;

    memset(m, 0, sizeof(*m));
    say(why, whysize, "");
    if (len == 0 || len > TRK_ANNC_MAX)
        return say(why, whysize, "bad length"), -1;
    if (p[len - 1] == '\n')
        len--;                   /* one last newline allowed */
    while (pos <= len) {
        const uint8_t *nl = memchr(p + pos, '\n', len - pos);
        size_t end = nl != NULL ? (size_t)(nl - p) : len;
        const uint8_t *l = p + pos;
        size_t ll = end - pos;
        if (line == 0) {
            if (word_copy(l, ll, m->idtext, sizeof(m->idtext)) < 0 ||
                (n = shoal_peer_id_to_bytes(m->idtext, m->id,
                                            sizeof(m->id))) <= 0)
                return say(why, whysize, "bad peer id"), -1;
            m->idlen = (size_t)n;
        } else if (starts(l, ll, "addr ")) {
            if (parse_addr(m, l + 5, ll - 5, why, whysize) < 0)
                return -1;
        } else if (starts(l, ll, "topic ")) {
            if (parse_topic(m, l + 6, ll - 6, why, whysize) < 0)
                return -1;
        } else if (starts(l, ll, "want ")) {
            if (parse_want(m, l + 5, ll - 5, why, whysize) < 0)
                return -1;
        } else {
            return say(why, whysize, "unknown line"), -1;
        }
        line++;
        pos = end + 1;
    }
    return 0;
}

void trk_annc_announce(const trk_annc_msg *m, trk_announce *a)
{
    memset(a, 0, sizeof(*a));
    a->id = m->id;
    a->idlen = m->idlen;
    a->naddrs = m->naddrs;
    for (size_t i = 0; i < m->naddrs; i++) {
        a->addr[i] = m->addr[i];
        a->addrlen[i] = m->addrlen[i];
    }
    a->ntopics = m->ntopics;
    for (size_t i = 0; i < m->ntopics; i++) {
        a->topic[i] = m->topic[i];
        a->topiclen[i] = m->topiclen[i];
    }
}

/* Appends text to out at *pos; -1 if it does not fit. */
static int put(char *out, size_t size, size_t *pos, const char *a,
               const char *b)
{
    int n = snprintf(out + *pos, size - *pos, "%s%s", a, b);

    if (n < 0 || (size_t)n >= size - *pos)
        return -1;
    *pos += (size_t)n;
    return 0;
}

int trk_annc_format(char *out, size_t size, const char *idtext,
                    const char *const *addrs, size_t naddrs,
                    const char *const *topics, size_t ntopics, int want)
{
    size_t pos = 0;
    char num[16];

    if (size == 0 || naddrs > TRK_ADDRS_MAX || ntopics > TRK_TOPICS_MAX ||
        put(out, size, &pos, idtext, ""))
        return -1;
    for (size_t i = 0; i < naddrs; i++)
        if (put(out, size, &pos, "\naddr ", addrs[i]) < 0)
            return -1;
    for (size_t i = 0; i < ntopics; i++)
        if (put(out, size, &pos, "\ntopic ", topics[i]) < 0)
            return -1;
    if (want >= 0) {
        snprintf(num, sizeof(num), "%d",
                 want > TRK_WANT_MAX ? TRK_WANT_MAX : want);
        if (put(out, size, &pos, "\nwant ", num) < 0)
            return -1;
    }
    return pos <= TRK_ANNC_MAX ? (int)pos : -1;
}

int trk_peer_parse(const uint8_t *p, size_t len, trk_peer_msg *m)
{
    size_t pos = 0, word = 0;

    memset(m, 0, sizeof(*m));
    if (len == 0 || len > TRK_PEER_LINE_MAX)
        return -1;
    while (pos <= len) {
        const uint8_t *sp = memchr(p + pos, ' ', len - pos);
        size_t end = sp != NULL ? (size_t)(sp - p) : len;
        if (word == 0) {
            uint8_t id[TRK_ID_MAX];
            if (word_copy(p + pos, end - pos, m->idtext,
                          sizeof(m->idtext)) < 0 ||
                shoal_peer_id_to_bytes(m->idtext, id, sizeof(id)) <= 0)
                return -1;
        } else {
            char *a = m->addr[m->naddrs];
            size_t al, il = strlen(m->idtext);
            if (m->naddrs == TRK_ADDRS_MAX ||
                word_copy(p + pos, end - pos, a, sizeof(m->addr[0])) < 0)
                return -1;
            al = strlen(a);
            /* something dialable before the /p2p/ */
            if (al <= il + 5 || a[0] != '/' || memcmp(a + al - il - 5, "/p2p/", 5) != 0 ||
                memcmp(a + al - il, m->idtext, il) != 0)
                return -1;
            m->naddrs++;
        }
        word++;
        pos = end + 1;
    }
    return m->naddrs > 0 ? 0 : -1;
}

int trk_peer_format(char *out, size_t size, const trk_peer *peer)
{
    char id[TRK_IDTEXT_MAX], addr[TRK_ADDRTEXT_MAX];
    size_t pos = 0;

    if (size == 0 ||
        shoal_peer_id_to_text(peer->id, peer->idlen, id, sizeof(id)) <= 0 ||
        put(out, size, &pos, id, "") < 0)
        return -1;
    for (size_t i = 0; i < peer->naddrs; i++) {
        if (shoal_multiaddr_to_text(peer->addr[i], peer->addrlen[i], addr,
                                    sizeof(addr)) <= 0)
            continue;
        if (put(out, size, &pos, " ", addr) < 0 ||
            put(out, size, &pos, "/p2p/", id) < 0)
            return -1;
    }
    return (int)pos;
}

int trk_plst_parse(const uint8_t *p, size_t len, trk_peer_msg *m,
                   trk_plst_fn fn, void *user)
{
    size_t pos = 0;
    int n = 0;

    if (len == 0)
        return 0;
    while (pos <= len) {
        const uint8_t *nl = memchr(p + pos, '\n', len - pos);
        size_t end = nl != NULL ? (size_t)(nl - p) : len;
        if (n == TRK_PLST_PEERS_MAX ||
            trk_peer_parse(p + pos, end - pos, m) < 0)
            return -1;
        if (fn != NULL)
            fn(m, user);
        n++;
        pos = end + 1;
    }
    return n;
}

int trk_addr_host_port(const char *maddr, char *host, size_t size,
                       uint16_t *port)
{
    const char *h, *slash;
    char *end;
    unsigned long v;

    if (strncmp(maddr, "/ip4/", 5) != 0 && strncmp(maddr, "/ip6/", 5) != 0)
        return -1;
    h = maddr + 5;
    if ((slash = strchr(h, '/')) == NULL || slash == h ||
        (size_t)(slash - h) >= size || strncmp(slash, "/tcp/", 5) != 0)
        return -1;
    v = strtoul(slash + 5, &end, 10);
    if (end == slash + 5 || v == 0 || v > 65535 ||
        (*end != '\0' && *end != '/'))
        return -1;
    memcpy(host, h, (size_t)(slash - h));
    host[slash - h] = '\0';
    *port = (uint16_t)v;
    return 0;
}

int trk_addr_host(const char *addr, char *host, size_t size)
{
    const char *h, *end;

    if (addr[0] == '/') {
        if ((h = strchr(addr + 1, '/')) == NULL)
            return -1;
        h++;
        end = strchr(h, '/');
        if (end == NULL)
            end = h + strlen(h);
    } else if (addr[0] == '[') {
        h = addr + 1;
        if ((end = strchr(h, ']')) == NULL)
            return -1;
    } else {
        h = addr;
        if ((end = strrchr(h, ':')) == NULL)
            end = h + strlen(h);
    }
    if (end == h || (size_t)(end - h) >= size)
        return -1;
    memcpy(host, h, (size_t)(end - h));
    host[end - h] = '\0';
    return 0;
}
