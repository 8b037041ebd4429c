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

/* ------------------------------------------------------------ explain */

/* Why a port text is no port to dial, or NULL. */
static const char *port_problem(const char *s, size_t n)
{
    size_t i;

    if (n == 0)
        return "no port";
    for (i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return "port is not a number";
    if (n > 5 || strtoul(s, NULL, 10) > 65535)
        return "port out of range";
    if (strtoul(s, NULL, 10) == 0)
        return "port 0 cannot be dialed";
    return NULL;
}

/* Why a host text is no host, or NULL. */
static const char *host_problem(const char *s, size_t n)
{
    shoal_addr a;

    if (n == 0)
        return "no host";
    if (n >= sizeof(a.host))
        return "host longer than 255 bytes";
    if (set_host(&a, s, n) < 0)
        return "host has a space, a control character or a slash";
    return NULL;
}

static void explain_hostport(const char *text, char *out, size_t size)
{
    const char *colon = strrchr(text, ':'), *why = NULL;

    if (text[0] == '[') {
        const char *end = strchr(text, ']');
        if (end == NULL)
            why = "IPv6 host without its closing ]";
        else if (end[1] != ':')
            why = "no port after [HOST] ([HOST]:PORT expected)";
        else if ((why = host_problem(text + 1, (size_t)(end - text - 1))) ==
                 NULL)
            why = port_problem(end + 2, strlen(end + 2));
    } else if (colon == NULL) {
        why = "no port (HOST:PORT expected)";
    } else if (strchr(text, ':') != colon) {
        why = "an IPv6 host needs [brackets]: [HOST]:PORT";
    } else if ((why = host_problem(text, (size_t)(colon - text))) == NULL) {
        why = port_problem(colon + 1, strlen(colon + 1));
    }
    snprintf(out, size, "%s", why != NULL ? why : "");
}

/* The protocols a multiaddr may name, and whether we dial them. */
static const struct {
    const char *name;
    int value;      /* takes a value */
    int dialed;     /* 1 host, 2 port, 3 peer id, 0 not over TCP */
} ma_protos[] = {
    {"ip4", 1, 1},     {"ip6", 1, 1},  {"dns", 1, 1},
    {"dns4", 1, 1},    {"dns6", 1, 1}, {"tcp", 1, 2},
    {"p2p", 1, 3},     {"ipfs", 1, 3}, {"dnsaddr", 1, 0},
    {"udp", 1, 0},     {"ws", 0, 0},   {"wss", 0, 0},
    {"p2p-circuit", 0, 0},
};

/* Why one component "/NAME/VALUE" is bad (value NULL: none given). */
static void explain_value(const char *name, const char *value, char *out,
                          size_t size)
{
    if (strcmp(name, "tcp") == 0 || strcmp(name, "udp") == 0) {
        const char *why = port_problem(value, strlen(value));
        snprintf(out, size, "%s %s", name,
                 why != NULL && strcmp(why, "port 0 cannot be dialed") != 0
                     ? why
                     : "port is bad");
    } else if (strcmp(name, "p2p") == 0 || strcmp(name, "ipfs") == 0) {
        snprintf(out, size, "\"%.64s\" is not a peer id", value);
    } else if (strncmp(name, "dns", 3) == 0) {
        snprintf(out, size, "\"%.64s\" is not a %s name", value, name);
    } else {
        snprintf(out, size, "\"%.64s\" is not an %s address", value, name);
    }
}

static void explain_multiaddr(const char *text, int secure, char *out,
                              size_t size)
{
    uint8_t bin[SHOAL_MULTIADDR_MAX];
    char comp[SHOAL_MULTIADDR_MAX + 2], name[32];
    const char *s = text;
    int host = 0, port = 0, peer = 0, n = 0;

    out[0] = '\0';
    if (strlen(text) > SHOAL_MULTIADDR_MAX) {
        snprintf(out, size, "longer than %d bytes", SHOAL_MULTIADDR_MAX);
        return;
    }
    while (*s != '\0') {
        const char *nm = s + 1, *slash = strchr(nm, '/'), *value = NULL;
        size_t nlen = slash ? (size_t)(slash - nm) : strlen(nm), i, vlen = 0;
        int known = -1;

        if (*s != '/' || nlen == 0) {
            snprintf(out, size, "%s slash", *s == '/' && nm[0] == '\0'
                                                ? "trailing"
                                                : "doubled or missing");
            return;
        }
        for (i = 0; i < sizeof(ma_protos) / sizeof(ma_protos[0]); i++)
            if (strlen(ma_protos[i].name) == nlen &&
                memcmp(ma_protos[i].name, nm, nlen) == 0)
                known = (int)i;
        snprintf(name, sizeof(name), "%.*s", (int)(nlen < 24 ? nlen : 24),
                 nm);
        if (known < 0) {
            snprintf(out, size, "unknown protocol \"/%s\"", name);
            return;
        }
        s = nm + nlen;
        if (ma_protos[known].value) {
            if (*s != '/' || s[1] == '\0' || s[1] == '/') {
                snprintf(out, size, "\"/%s\" has no value", name);
                return;
            }
            value = s + 1;
            vlen = strchr(value, '/') ? (size_t)(strchr(value, '/') - value)
                                      : strlen(value);
            s = value + vlen;
        }
        /* the component alone, by the real parser */
        snprintf(comp, sizeof(comp), "/%s%s%.*s", name, value ? "/" : "",
                 (int)vlen, value ? value : "");
        if (shoal_multiaddr_parse(comp, bin, sizeof(bin)) < 0) {
            char v[SHOAL_MULTIADDR_MAX + 1];
            snprintf(v, sizeof(v), "%.*s", (int)vlen, value ? value : "");
            explain_value(name, v, out, size);
            return;
        }
        switch (ma_protos[known].dialed) {
        case 0:
            snprintf(out, size, "\"/%s\" is not dialed over TCP%s", name,
                     strcmp(name, "dnsaddr") == 0
                         ? " (resolve it first: shoal_dns)"
                         : "");
            return;
        case 1:
            host++;
            break;
        case 2:
            port++;
            break;
        default:
            peer++;
        }
        n++;
    }
    if (n == 0)
        snprintf(out, size, "empty multiaddr");
    else if (host == 0)
        snprintf(out, size, "no host (/ip4, /ip6 or /dns)");
    else if (port == 0)
        snprintf(out, size, "no /tcp/PORT");
    else if (host > 1 || port > 1 || peer > 1)
        snprintf(out, size, "a host, a port or a peer id given twice");
    else if (!secure && peer)
        snprintf(out, size, "a /p2p/ id needs a secure node (classic "
                            "nodes dial HOST:PORT or /ip4/HOST/tcp/PORT)");
}

void shoal_addr_explain(const char *text, int multiaddr, char *out,
                        size_t size)
{
    if (size == 0)
        return;
    out[0] = '\0';
    if (text == NULL)
        snprintf(out, size, "no address (NULL)");
    else if (text[0] == '\0')
        snprintf(out, size, "empty address");
    else if (text[0] == '/')
        explain_multiaddr(text, multiaddr, out, size);
    else if (multiaddr)
        snprintf(out, size, "not a multiaddr (/ip4/HOST/tcp/PORT/p2p/ID)");
    else
        explain_hostport(text, out, size);
}
