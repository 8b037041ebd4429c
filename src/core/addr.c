#include "core/addr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/multiaddr.h"

static int parse_port(const char *s, size_t n, uint16_t *out)
{
    unsigned long v = 0;
    size_t i;

    if (n == 0 || n > 5)
        return SHOAL_EBADADDR;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return SHOAL_EBADADDR;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v > 65535)
        return SHOAL_EBADADDR;
    *out = (uint16_t)v;
    return 0;
}

static int set_host(shoal_addr *out, const char *s, size_t n)
{
    size_t i;

    if (n == 0 || n >= sizeof(out->host))
        return SHOAL_EBADADDR;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c > '~' || c == '/')
            return SHOAL_EBADADDR;
    }
    memcpy(out->host, s, n);
    out->host[n] = '\0';
    return 0;
}

/* "/ip4/HOST/tcp/PORT" and friends. */
static int parse_multiaddr(const char *text, shoal_addr *out)
{
    static const char *const protos[] = {"/ip4/", "/ip6/", "/dns4/", "/dns6/",
                                         "/dns/"};
    const char *host = NULL, *slash, *port;
    size_t i;

    for (i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
        size_t n = strlen(protos[i]);
        if (strncmp(text, protos[i], n) == 0) {
            host = text + n;
            break;
        }
    }
    if (host == NULL)
        return SHOAL_EBADADDR;
    slash = strchr(host, '/');
    if (slash == NULL || strncmp(slash, "/tcp/", 5) != 0)
        return SHOAL_EBADADDR;
    port = slash + 5;
    if (set_host(out, host, (size_t)(slash - host)) < 0)
        return SHOAL_EBADADDR;
    return parse_port(port, strlen(port), &out->port);
}

int shoal_addr_parse(const char *text, shoal_addr *out)
{
    const char *colon;

    if (text == NULL)
        return SHOAL_EBADADDR;
    if (text[0] == '/')
        return parse_multiaddr(text, out);
    if (text[0] == '[') {
        const char *end = strchr(text, ']');
        if (end == NULL || end[1] != ':')
            return SHOAL_EBADADDR;
        if (set_host(out, text + 1, (size_t)(end - text - 1)) < 0)
            return SHOAL_EBADADDR;
        return parse_port(end + 2, strlen(end + 2), &out->port);
    }
    colon = strrchr(text, ':');
    if (colon == NULL || strchr(text, ':') != colon)
        return SHOAL_EBADADDR;
    if (set_host(out, text, (size_t)(colon - text)) < 0)
        return SHOAL_EBADADDR;
    return parse_port(colon + 1, strlen(colon + 1), &out->port);
}

int shoal_addr_parse_named(const char *text, shoal_addr *out, char *id,
                           size_t idsize)
{
    uint8_t bin[SHOAL_MULTIADDR_MAX], idbin[SHOAL_ID_MAX];
    const char *host, *tcp, *p2p, *idtext;

    if (text == NULL ||
        (strncmp(text, "/ip4/", 5) != 0 && strncmp(text, "/ip6/", 5) != 0))
        return SHOAL_EBADADDR;
    host = text + 5;
    if ((tcp = strchr(host, '/')) == NULL || strncmp(tcp, "/tcp/", 5) != 0 ||
        (p2p = strchr(tcp + 5, '/')) == NULL ||
        strncmp(p2p, "/p2p/", 5) != 0)
        return SHOAL_EBADADDR;
    idtext = p2p + 5;
    if (strchr(idtext, '/') != NULL || strlen(idtext) >= idsize ||
        set_host(out, host, (size_t)(tcp - host)) < 0 ||
        parse_port(tcp + 5, (size_t)(p2p - tcp - 5), &out->port) < 0 ||
        out->port == 0 ||
        shoal_peer_id_to_bytes(idtext, idbin, sizeof(idbin)) < 0 ||
        shoal_multiaddr_to_bytes(text, bin, sizeof(bin)) < 0)
        return SHOAL_EBADADDR;
    strcpy(id, idtext);
    return 0;
}

int shoal_addr_format(const char *host, uint16_t port, char *out, size_t size)
{
    int n;

    if (strchr(host, ':') != NULL)
        n = snprintf(out, size, "[%s]:%u", host, (unsigned)port);
    else
        n = snprintf(out, size, "%s:%u", host, (unsigned)port);
    return (n < 0 || (size_t)n >= size) ? SHOAL_EINVAL : 0;
}
