/* mDNS messages (src/mdns/codec.h): RFC 1035 wire format, network-free. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "shoal.h"
#include "core/multiaddr.h"
#include "mdns/codec.h"

#define T_PTR 12
#define T_TXT 16
#define T_ANY 255
#define C_IN 1
#define FLAG_QR 0x8000
#define FLAG_AA 0x0400
#define HOPS_MAX 16            /* compression pointers followed per name */

/* ---------------------------------------------------------------- writing */

typedef struct writer {
    uint8_t *p;
    size_t size, len;
    int full;
} writer;

static void put(writer *w, const void *data, size_t n)
{
    if (w->full || n > w->size - w->len) {
        w->full = 1;
        return;
    }
    memcpy(w->p + w->len, data, n);
    w->len += n;
}

static void put16(writer *w, unsigned v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    put(w, b, 2);
}

static void put32(writer *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8),
                    (uint8_t)v};
    put(w, b, 4);
}

/* A dotted name as labels, ending in the root label. */
static int name_ok(const char *name)
{
    size_t n = strlen(name), label = 0;

    if (n == 0 || n > MDNS_NAME_MAX || name[0] == '.' || name[n - 1] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (name[i] == '.') {
            if (label == 0)
                return 0;
            label = 0;
        } else if (++label > 63 || (unsigned char)name[i] < 0x21 ||
                   (unsigned char)name[i] == 0x7f) {
            return 0;
        }
    }
    return 1;
}

static void put_labels(writer *w, const char *name, int root)
{
    while (*name != '\0') {
        const char *dot = strchr(name, '.');
        size_t n = dot ? (size_t)(dot - name) : strlen(name);
        uint8_t len = (uint8_t)n;
        put(w, &len, 1);
        put(w, name, n);
        name += n + (dot ? 1 : 0);
    }
    if (root)
        put(w, "", 1);
}

static void put_header(writer *w, unsigned flags, unsigned qd, unsigned an,
                       unsigned ar)
{
    put16(w, 0); /* ID 0 in multicast messages (RFC 6762, 18.1) */
    put16(w, flags);
    put16(w, qd);
    put16(w, an);
    put16(w, 0);
    put16(w, ar);
}

int mdns_query_encode(uint8_t *out, size_t size, const char *service)
{
    writer w = {out, size, 0, 0};

    if (!name_ok(service))
        return SHOAL_EINVAL;
    put_header(&w, 0, 1, 0, 0);
    put_labels(&w, service, 1);
    put16(&w, T_PTR);
    put16(&w, C_IN);
    return w.full ? SHOAL_EMSGSIZE : (int)w.len;
}

int mdns_response_encode(uint8_t *out, size_t size, const char *service,
                         const char *peer_name, const char *const *addrs,
                         size_t naddrs, uint32_t ttl_s)
{
    writer w = {out, size, 0, 0};
    size_t rdlen_at, target_at, n = strlen(peer_name);

    if (!name_ok(service) || n == 0 || n > 63 || strchr(peer_name, '.') ||
        !name_ok(peer_name) || naddrs > 0xffff ||
        n + 1 + strlen(service) > MDNS_NAME_MAX)
        return SHOAL_EINVAL;
    for (size_t i = 0; i < naddrs; i++)
        if (strlen(addrs[i]) == 0 || strlen(addrs[i]) >= MDNS_ADDR_MAX)
            return SHOAL_EINVAL;
    put_header(&w, FLAG_QR | FLAG_AA, 0, 1, (unsigned)naddrs);
    /* answer: <service> PTR <peer-name>.<service>; the service name sits
     * at offset 12 and every later name points back to it */
    put_labels(&w, service, 1);
    put16(&w, T_PTR);
    put16(&w, C_IN);       /* shared record: no cache-flush bit */
    put32(&w, ttl_s);
    rdlen_at = w.len;
    put16(&w, 0);
    target_at = w.len;
    put_labels(&w, peer_name, 0);
    put16(&w, 0xc000 | 12);
    if (!w.full) {
        size_t rd = w.len - target_at;
        out[rdlen_at] = (uint8_t)(rd >> 8);
        out[rdlen_at + 1] = (uint8_t)rd;
    }
    /* additional: <peer-name>.<service> TXT "dnsaddr=<multiaddr>" each */
    for (size_t i = 0; i < naddrs; i++) {
        size_t a = strlen(addrs[i]);
        uint8_t slen = (uint8_t)(8 + a);
        put16(&w, 0xc000 | (unsigned)target_at);
        put16(&w, T_TXT);
        put16(&w, 0x8000 | C_IN); /* unique record: cache-flush */
        put32(&w, ttl_s);
        put16(&w, (unsigned)(1 + 8 + a));
        put(&w, &slen, 1);
        put(&w, "dnsaddr=", 8);
        put(&w, addrs[i], a);
    }
    return w.full ? SHOAL_EMSGSIZE : (int)w.len;
}

/* ---------------------------------------------------------------- reading */

/* Reads the name at *pos into out (dotted text, lower bytes as they are;
 * a '.', control or non-ASCII byte inside a label reads as '?', so such a
 * name never equals one we compare with) and moves *pos past it. A
 * pointer must point before the part of the name that holds it, so every
 * hop goes strictly backwards and no loop is possible. 0 or -1. */
static int read_name(const uint8_t *m, size_t len, size_t *pos, char *out,
                     size_t size)
{
    size_t p = *pos, limit = *pos, n = 0, end = 0;
    int hops = 0, jumped = 0;

    for (;;) {
        uint8_t l;
        if (p >= len)
            return -1;
        l = m[p];
        if ((l & 0xc0) == 0xc0) {
            size_t target;
            if (p + 1 >= len || ++hops > HOPS_MAX)
                return -1;
            target = ((size_t)(l & 0x3f) << 8) | m[p + 1];
            if (target >= limit)
                return -1;
            if (!jumped)
                end = p + 2;
            jumped = 1;
            limit = target;
            p = target;
            continue;
        }
        if ((l & 0xc0) != 0)
            return -1;          /* 0x40, 0x80: extended label types */
        if (l == 0) {
            if (!jumped)
                end = p + 1;
            break;
        }
        if (p + 1 + l > len || n + (n ? 1 : 0) + l > MDNS_NAME_MAX ||
            n + (n ? 1 : 0) + l >= size)
            return -1;
        if (n)
            out[n++] = '.';
        for (size_t i = 0; i < l; i++) {
            uint8_t c = m[p + 1 + i];
            out[n++] = c <= 0x20 || c >= 0x7f || c == '.' ? '?' : (char)c;
        }
        p += 1 + (size_t)l;
    }
    out[n] = '\0';
    *pos = end;
    return 0;
}

static unsigned get16(const uint8_t *p)
{
    return ((unsigned)p[0] << 8) | p[1];
}

typedef struct rr {
    char name[MDNS_NAME_MAX + 1];
    unsigned type;
    size_t rdata, rdlen;        /* offset and length in the message */
} rr;

/* Reads one resource record's head at *pos and moves past its data. */
static int read_rr(const uint8_t *m, size_t len, size_t *pos, rr *r)
{
    if (read_name(m, len, pos, r->name, sizeof(r->name)) < 0 ||
        len - *pos < 10)
        return -1;
    r->type = get16(m + *pos);
    r->rdlen = get16(m + *pos + 8);
    r->rdata = *pos + 10;
    if (r->rdlen > len - r->rdata)
        return -1;
    *pos = r->rdata + r->rdlen;
    return 0;
}

int mdns_addr_host_port(const char *addr, char *host, size_t size,
                        uint16_t *port)
{
    const char *h, *slash;
    char *end;
    unsigned long v;

    if (strncmp(addr, "/ip4/", 5) != 0 && strncmp(addr, "/ip6/", 5) != 0)
        return SHOAL_EBADADDR;
    h = addr + 5;
    if ((slash = strchr(h, '/')) == NULL || slash == h ||
        (size_t)(slash - h) >= size || strncmp(slash, "/tcp/", 5) != 0 ||
        slash[5] < '0' || slash[5] > '9')
        return SHOAL_EBADADDR;
    v = strtoul(slash + 5, &end, 10);
    if (v == 0 || v > 65535 || (*end != '\0' && *end != '/'))
        return SHOAL_EBADADDR;
    memcpy(host, h, (size_t)(slash - h));
    host[slash - h] = '\0';
    *port = (uint16_t)v;
    return 0;
}

/* A dnsaddr value: a multiaddr /ip4|ip6/HOST/tcp/PORT/.../p2p/ID, written
 * back in canonical form to out, its id to id. 0 or -1. */
static int read_dnsaddr(const uint8_t *v, size_t n, char *out, size_t size,
                        char *id, size_t idsize)
{
    char text[MDNS_ADDR_MAX], host[64];
    uint8_t bin[SHOAL_MULTIADDR_MAX];
    const char *p2p;
    uint16_t port;
    int blen;

    if (n == 0 || n >= sizeof(text) || memchr(v, '\0', n) != NULL)
        return -1;
    memcpy(text, v, n);
    text[n] = '\0';
    if ((blen = shoal_multiaddr_parse(text, bin, sizeof(bin))) < 0 ||
        shoal_multiaddr_format(bin, (size_t)blen, out, size) < 0 ||
        mdns_addr_host_port(out, host, sizeof(host), &port) < 0 ||
        (p2p = strstr(out, "/p2p/")) == NULL || strchr(p2p + 5, '/') ||
        strlen(p2p + 5) >= idsize)
        return -1;
    strcpy(id, p2p + 5);
    return 0;
}

/* TXT data: character-strings, each a length byte then that many bytes. */
static void read_txt(const uint8_t *m, const rr *r, mdns_peer *peer)
{
    size_t p = r->rdata, end = r->rdata + r->rdlen;

    while (p < end && peer->naddrs < MDNS_ADDRS_MAX) {
        size_t l = m[p];
        char id[MDNS_ID_MAX];
        if (l > end - p - 1)
            return;             /* runs past the record: the rest is junk */
        if (l > 8 && strncasecmp((const char *)m + p + 1, "dnsaddr=", 8) == 0 &&
            read_dnsaddr(m + p + 9, l - 8, peer->addrs[peer->naddrs],
                         MDNS_ADDR_MAX, id, sizeof(id)) == 0) {
            if (peer->naddrs == 0 && peer->id[0] == '\0')
                strcpy(peer->id, id);
            if (strcmp(peer->id, id) == 0)
                peer->naddrs++;
        }
        p += 1 + l;
    }
}

int mdns_parse(const uint8_t *data, size_t len, const char *service,
               mdns_msg *m)
{
    size_t pos = 12, nrr, start;
    unsigned flags, qd;
    char name[MDNS_NAME_MAX + 1];
    rr r;

    m->response = 0;
    m->asks_service = 0;
    m->npeers = 0;
    if (len < 12 || len > MDNS_PACKET_MAX)
        return SHOAL_EPROTO;
    flags = get16(data + 2);
    qd = get16(data + 4);
    nrr = (size_t)get16(data + 6) + get16(data + 8) + get16(data + 10);
    if (qd + nrr > MDNS_RECORDS_MAX)
        return SHOAL_EPROTO;
    if ((flags & 0x7800) != 0)
        return SHOAL_EPROTO;    /* OPCODE must be 0 (RFC 6762, 18.3) */
    m->response = (flags & FLAG_QR) != 0;
    for (unsigned i = 0; i < qd; i++) {
        unsigned type, cls;
        if (read_name(data, len, &pos, name, sizeof(name)) < 0 ||
            len - pos < 4)
            return SHOAL_EPROTO;
        type = get16(data + pos);
        cls = get16(data + pos + 2) & 0x7fff; /* top bit: unicast reply */
        pos += 4;
        if ((type == T_PTR || type == T_ANY) && (cls == C_IN || cls == T_ANY) &&
            strcasecmp(name, service) == 0)
            m->asks_service = 1;
    }
    /* first pass: PTR records under service name the peers; the second
     * reads TXT records of those names, in whatever section they are */
    start = pos;
    for (size_t i = 0; i < nrr; i++) {
        mdns_peer *peer;
        size_t p;
        int known = 0;
        if (read_rr(data, len, &pos, &r) < 0)
            return SHOAL_EPROTO;
        if (!m->response || r.type != T_PTR ||
            strcasecmp(r.name, service) != 0)
            continue;
        p = r.rdata;
        if (read_name(data, r.rdata + r.rdlen, &p, name, sizeof(name)) < 0 ||
            p != r.rdata + r.rdlen)
            continue;           /* a bad PTR target: skipped */
        for (size_t k = 0; k < m->npeers; k++)
            known |= strcasecmp(m->peers[k].name, name) == 0;
        if (known || m->npeers == MDNS_PEERS_MAX)
            continue;
        peer = &m->peers[m->npeers++];
        memcpy(peer->name, name, sizeof(peer->name));
        peer->id[0] = '\0';
        peer->naddrs = 0;
    }
    pos = start;
    for (size_t i = 0; m->npeers > 0 && i < nrr; i++) {
        if (read_rr(data, len, &pos, &r) < 0)
            return SHOAL_EPROTO;
        if (r.type != T_TXT)
            continue;
        for (size_t k = 0; k < m->npeers; k++)
            if (strcasecmp(m->peers[k].name, r.name) == 0)
                read_txt(data, &r, &m->peers[k]);
    }
    /* peers without an address say nothing we can use */
    {
        size_t kept = 0;
        for (size_t k = 0; k < m->npeers; k++)
            if (m->peers[k].naddrs > 0) {
                if (kept != k)
                    m->peers[kept] = m->peers[k];
                kept++;
            }
        m->npeers = kept;
    }
    return 0;
}
