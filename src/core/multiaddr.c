#include "core/multiaddr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base58.h"
#include "core/varint.h"
#include "shoal.h"

/* What a protocol's value is. */
enum value_kind {
    V_NONE,     /* no value: /p2p-circuit, /ws */
    V_IP4,      /* 4 bytes */
    V_IP6,      /* 16 bytes */
    V_PORT,     /* 2 bytes, big-endian */
    V_TEXT,     /* length-prefixed UTF-8: dns names */
    V_MULTIHASH /* length-prefixed bytes, base58 in text: peer ids */
};

typedef struct proto {
    uint64_t code;
    const char *name;
    enum value_kind kind;
} proto;

static const proto PROTOS[] = {
    {SHOAL_MA_IP4, "ip4", V_IP4},
    {SHOAL_MA_TCP, "tcp", V_PORT},
    {SHOAL_MA_DNS, "dns", V_TEXT},
    {SHOAL_MA_DNS4, "dns4", V_TEXT},
    {SHOAL_MA_DNS6, "dns6", V_TEXT},
    {SHOAL_MA_DNSADDR, "dnsaddr", V_TEXT},
    {SHOAL_MA_IP6, "ip6", V_IP6},
    {SHOAL_MA_UDP, "udp", V_PORT},
    {SHOAL_MA_P2P_CIRCUIT, "p2p-circuit", V_NONE},
    {SHOAL_MA_P2P, "p2p", V_MULTIHASH},
    {SHOAL_MA_WS, "ws", V_NONE},
    {SHOAL_MA_WSS, "wss", V_NONE},
};
#define NPROTOS (sizeof(PROTOS) / sizeof(PROTOS[0]))

static const proto *by_name(const char *name, size_t n)
{
    size_t i;

    if (n == 4 && memcmp(name, "ipfs", 4) == 0) /* old name of p2p */
        return by_name("p2p", 3);
    for (i = 0; i < NPROTOS; i++)
        if (strlen(PROTOS[i].name) == n && memcmp(PROTOS[i].name, name, n) == 0)
            return &PROTOS[i];
    return NULL;
}

static const proto *by_code(uint64_t code)
{
    size_t i;

    for (i = 0; i < NPROTOS; i++)
        if (PROTOS[i].code == code)
            return &PROTOS[i];
    return NULL;
}

#define TEXT_VALUE_MAX 255 /* dns names */

/* A dns name that text can carry and give back: printable ASCII, no '/'.
 * (Parse and format hold values to the same rules, so that whatever one
 * produces the other reads back.) */
static int text_value_ok(const uint8_t *v, size_t len)
{
    size_t i;

    if (len == 0 || len > TEXT_VALUE_MAX)
        return 0;
    for (i = 0; i < len; i++)
        if (v[i] == '/' || v[i] < 0x21 || v[i] > 0x7e)
            return 0;
    return 1;
}

/* Whether v[0..len) is one whole multihash: varint code, varint digest
 * length, exactly that many digest bytes. */
static int multihash_ok(const uint8_t *v, size_t len)
{
    uint64_t code, dlen;
    int u1, u2;

    u1 = shoal_varint_decode(v, len, &code);
    if (u1 <= 0)
        return 0;
    u2 = shoal_varint_decode(v + u1, len - (size_t)u1, &dlen);
    return u2 > 0 && dlen == len - (size_t)u1 - (size_t)u2;
}

/* Appends bytes to out[*n], checking room. */
static int put(uint8_t *out, size_t size, size_t *n, const void *p, size_t len)
{
    if (len > size - *n)
        return SHOAL_EBADADDR;
    memcpy(out + *n, p, len);
    *n += len;
    return 0;
}

static int put_varint(uint8_t *out, size_t size, size_t *n, uint64_t v)
{
    uint8_t buf[SHOAL_VARINT_MAX];

    return put(out, size, n, buf, shoal_varint_encode(v, buf));
}

static int parse_value(const proto *p, const char *text, uint8_t *out,
                       size_t size, size_t *n)
{
    uint8_t buf[256];
    unsigned long port;
    char *end;
    int len, rc;

    switch (p->kind) {
    case V_IP4:
        if (inet_pton(AF_INET, text, buf) != 1)
            return SHOAL_EBADADDR;
        return put(out, size, n, buf, 4);
    case V_IP6:
        if (inet_pton(AF_INET6, text, buf) != 1)
            return SHOAL_EBADADDR;
        return put(out, size, n, buf, 16);
    case V_PORT:
        port = strtoul(text, &end, 10);
        if (text[0] < '0' || text[0] > '9' || *end != '\0' || port > 65535 ||
            strlen(text) > 5)
            return SHOAL_EBADADDR;
        buf[0] = (uint8_t)(port >> 8);
        buf[1] = (uint8_t)port;
        return put(out, size, n, buf, 2);
    case V_TEXT:
        len = (int)strlen(text);
        if (!text_value_ok((const uint8_t *)text, (size_t)len))
            return SHOAL_EBADADDR;
        if ((rc = put_varint(out, size, n, (uint64_t)len)) < 0)
            return rc;
        return put(out, size, n, text, (size_t)len);
    case V_MULTIHASH:
        len = shoal_base58_decode(text, buf, sizeof(buf));
        if (len <= 0 || !multihash_ok(buf, (size_t)len))
            return SHOAL_EBADADDR;
        if ((rc = put_varint(out, size, n, (uint64_t)len)) < 0)
            return rc;
        return put(out, size, n, buf, (size_t)len);
    case V_NONE:
        return 0;
    }
    return SHOAL_EBADADDR;
}

int shoal_multiaddr_parse(const char *text, uint8_t *out, size_t size)
{
    char value[SHOAL_MULTIADDR_MAX + 1];
    /* Built here first, so that an address over the cap is SHOAL_EBADADDR
     * and only a valid one that does not fit in out is SHOAL_EINVAL. (The
     * binary can be longer than the text: "/ip6/::" is 17 bytes.) */
    uint8_t bin[SHOAL_MULTIADDR_MAX];
    const char *s = text;
    size_t n = 0;

    if (text == NULL || text[0] != '/' ||
        strnlen(text, SHOAL_MULTIADDR_MAX + 1) > SHOAL_MULTIADDR_MAX)
        return SHOAL_EBADADDR;
    while (*s == '/' && s[1] != '\0') {
        const char *name = s + 1, *slash = strchr(name, '/');
        size_t name_len = slash ? (size_t)(slash - name) : strlen(name);
        const proto *p = by_name(name, name_len);

        if (p == NULL || put_varint(bin, sizeof(bin), &n, p->code) < 0)
            return SHOAL_EBADADDR;
        s = name + name_len;
        if (p->kind == V_NONE)
            continue;
        if (*s != '/')
            return SHOAL_EBADADDR; /* a value is missing */
        {
            const char *v = s + 1, *vend = strchr(v, '/');
            size_t vlen = vend ? (size_t)(vend - v) : strlen(v);
            memcpy(value, v, vlen);
            value[vlen] = '\0';
            if (parse_value(p, value, bin, sizeof(bin), &n) < 0)
                return SHOAL_EBADADDR;
            s = v + vlen;
        }
    }
    if (*s != '\0' || n == 0)
        return SHOAL_EBADADDR; /* a trailing or doubled slash */
    if (out == NULL || n > size)
        return SHOAL_EINVAL;
    memcpy(out, bin, n);
    return (int)n;
}

int shoal_multiaddr_next(const uint8_t *bin, size_t len, size_t *pos,
                         uint64_t *code, const uint8_t **value, size_t *vlen)
{
    const proto *p;
    uint64_t vl = 0;
    int used;

    if (*pos == len)
        return 0;
    used = shoal_varint_decode(bin + *pos, len - *pos, code);
    if (used <= 0 || (p = by_code(*code)) == NULL)
        return SHOAL_EBADADDR;
    *pos += (size_t)used;
    switch (p->kind) {
    case V_NONE: vl = 0; break;
    case V_IP4: vl = 4; break;
    case V_IP6: vl = 16; break;
    case V_PORT: vl = 2; break;
    case V_TEXT:
    case V_MULTIHASH:
        used = shoal_varint_decode(bin + *pos, len - *pos, &vl);
        if (used <= 0 || vl == 0)
            return SHOAL_EBADADDR;
        *pos += (size_t)used;
        break;
    }
    if (vl > len - *pos)
        return SHOAL_EBADADDR;
    if ((p->kind == V_TEXT && !text_value_ok(bin + *pos, (size_t)vl)) ||
        (p->kind == V_MULTIHASH && !multihash_ok(bin + *pos, (size_t)vl)))
        return SHOAL_EBADADDR;
    *value = bin + *pos;
    *vlen = (size_t)vl;
    *pos += (size_t)vl;
    return 1;
}

/* Appends text, checking room (one byte kept for the NUL). */
static int put_text(char *out, size_t size, size_t *n, const char *s,
                    size_t len)
{
    if (len + 1 > size - *n)
        return SHOAL_EINVAL;
    memcpy(out + *n, s, len);
    *n += len;
    out[*n] = '\0';
    return 0;
}

static int format_value(const proto *p, const uint8_t *v, size_t vlen,
                        char *text, size_t size)
{
    switch (p->kind) {
    case V_IP4:
        return inet_ntop(AF_INET, v, text, (socklen_t)size) ? 0 : SHOAL_EINVAL;
    case V_IP6:
        return inet_ntop(AF_INET6, v, text, (socklen_t)size) ? 0
                                                              : SHOAL_EINVAL;
    case V_PORT:
        snprintf(text, size, "%u", ((unsigned)v[0] << 8) | v[1]);
        return 0;
    case V_TEXT: /* checked by shoal_multiaddr_next() */
        if (vlen >= size)
            return SHOAL_EBADADDR;
        memcpy(text, v, vlen);
        text[vlen] = '\0';
        return 0;
    case V_MULTIHASH:
        return shoal_base58_encode(v, vlen, text, size) < 0 ? SHOAL_EBADADDR
                                                            : 0;
    case V_NONE:
        text[0] = '\0';
        return 0;
    }
    return SHOAL_EBADADDR;
}

int shoal_multiaddr_format(const uint8_t *bin, size_t len, char *out,
                           size_t size)
{
    char value[SHOAL_MULTIADDR_MAX];
    /* Built here first, as in parse: text over the cap (which parse would
     * refuse) is SHOAL_EBADADDR, a valid address too long for out is
     * SHOAL_EINVAL. */
    char text[SHOAL_MULTIADDR_MAX + 1];
    const uint8_t *v;
    size_t pos = 0, vlen, n = 0;
    uint64_t code;
    int rc;

    if (out == NULL || size == 0)
        return SHOAL_EINVAL;
    out[0] = '\0';
    if (len == 0 || len > SHOAL_MULTIADDR_MAX)
        return SHOAL_EBADADDR;
    text[0] = '\0';
    while ((rc = shoal_multiaddr_next(bin, len, &pos, &code, &v, &vlen)) > 0) {
        const proto *p = by_code(code);
        if ((rc = format_value(p, v, vlen, value, sizeof(value))) < 0)
            return rc;
        if (put_text(text, sizeof(text), &n, "/", 1) < 0 ||
            put_text(text, sizeof(text), &n, p->name, strlen(p->name)) < 0)
            return SHOAL_EBADADDR;
        if (p->kind != V_NONE &&
            (put_text(text, sizeof(text), &n, "/", 1) < 0 ||
             put_text(text, sizeof(text), &n, value, strlen(value)) < 0))
            return SHOAL_EBADADDR;
    }
    if (rc < 0)
        return rc;
    if (n + 1 > size)
        return SHOAL_EINVAL;
    memcpy(out, text, n + 1);
    return (int)n;
}

/* ------------------------------------------------------------ public API */

int shoal_multiaddr_to_bytes(const char *text, uint8_t *out, size_t size)
{
    return shoal_multiaddr_parse(text, out, size);
}

int shoal_multiaddr_to_text(const uint8_t *bytes, size_t len, char *out,
                            size_t size)
{
    return shoal_multiaddr_format(bytes, len, out, size);
}
