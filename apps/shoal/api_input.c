/* The control API's input checks: see api_input.h. Every refusal the API
 * makes on what a client sent is made here, in the order the API meets
 * it: headers first (answered before the body is read), then the body's
 * size, the route, the JSON and each endpoint's arguments. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cJSON.h>
#include <sodium.h>

#include "api_input.h"

_Static_assert(API_ADDR_MAX <= API_ARG_MAX && API_KEY_MAX <= API_ARG_MAX &&
                   SHOAL_FILES_NAME_MAX <= API_ARG_MAX &&
                   SHOAL_ID_MAX <= API_ARG_MAX,
               "every argument fits in api_request.arg");

static unsigned refuse(api_decision *d, unsigned status, const char *fmt,
                       ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Sets the refusal: status and its text, and no request. Returns
 * status. */
static unsigned refuse(api_decision *d, unsigned status, const char *fmt,
                       ...)
{
    va_list ap;

    memset(&d->req, 0, sizeof(d->req));

    va_start(ap, fmt);
    vsnprintf(d->why, sizeof(d->why), fmt, ap);
    va_end(ap);
    d->status = status;
    return status;
}

/* ---------------------------------------------------------- the headers */

/* Whether a Host header names this API: its own HOST:PORT, or
 * localhost:PORT. Anything else is a page on another name that resolved
 * to us (DNS rebinding). */
static int host_ok(const api_input_self *self, const char *host)
{
    char local[32];

    if (host == NULL)
        return 0;
    snprintf(local, sizeof(local), "localhost:%u", self->port);
    return strcasecmp(host, self->hostport) == 0 ||
           strcasecmp(host, local) == 0;
}

/* A browser sends Origin on cross-site requests (and on same-site POSTs):
 * only pages served by this API itself may drive it. */
static int origin_ok(const api_input_self *self, const char *origin)
{
    if (origin == NULL)
        return 1;
    if (strncasecmp(origin, "http://", 7) != 0)
        return 0;
    return host_ok(self, origin + 7);
}

/* In constant time, so that timing tells nothing of the token. */
static int token_ok(const api_input_self *self, const char *token)
{
    return token != NULL && strlen(token) == API_TOKEN_HEX &&
           sodium_memcmp(token, self->token, API_TOKEN_HEX) == 0;
}

unsigned api_input_check_headers(const api_input_self *self,
                                 const char *path,
                                 const api_input_headers *h,
                                 api_decision *d)
{
    memset(d, 0, sizeof(*d));
    if (!host_ok(self, h->host))
        return refuse(d, 403, "this API answers only to its own address in "
                              "the Host header");
    if (!origin_ok(self, h->origin))
        return refuse(d, 403, "requests from other origins are refused");
    if (strncmp(path, "/api/", 5) == 0 && !token_ok(self, h->token))
        return refuse(d, 403, "missing or wrong " API_TOKEN_HEADER
                              " header (the token is in the node's api "
                              "line and token file)");
    /* A length that is no number reads as 0: the body's own size is
     * checked again once it is in. */
    if (h->content_length != NULL &&
        strtoull(h->content_length, NULL, 10) > API_MAX_BODY)
        return refuse(d, 413, "request body too large (at most 64 KiB)");
    return 0;
}

/* ------------------------------------------------------------- the body */

/* cJSON turns \u0000 into a NUL that silently ends the string, so that
 * "ok\u0000/../x" would read as "ok". No field of this API may hold a NUL:
 * refuse raw NUL bytes and that escape before parsing. Outside strings a
 * backslash is not JSON at all, so stepping over escapes pair by pair
 * finds every one. */
static int body_has_nul(const char *s, size_t len)
{
    size_t i;

    if (memchr(s, '\0', len) != NULL)
        return 1;
    for (i = 0; i + 1 < len; i++) {
        if (s[i] != '\\')
            continue;
        if (s[i + 1] == 'u' && i + 6 <= len &&
            memcmp(s + i + 2, "0000", 4) == 0)
            return 1;
        i++; /* the escaped character */
    }
    return 0;
}

/* The body as a JSON object, into *out (the caller's to delete). 0, or
 * 400. */
static unsigned body_json(const char *body, size_t len, cJSON **out,
                          api_decision *d)
{
    const char *end = body;

    *out = NULL;
    if (len == 0)
        return refuse(d, 400, "a JSON object body is expected");
    if (body_has_nul(body, len))
        return refuse(d, 400, "NUL characters are not allowed");
    *out = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    /* one object and nothing after it but white space */
    while (*out != NULL && end < body + len &&
           (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
        end++;
    if (!cJSON_IsObject(*out) || end != body + len) {
        cJSON_Delete(*out);
        *out = NULL;
        return refuse(d, 400, "the body is not a JSON object");
    }
    return 0;
}

/* The string member name of body, non-empty and at most max bytes; NULL
 * (and a 400) otherwise. */
static const char *string_member(const cJSON *body, const char *name,
                                 size_t max, api_decision *d)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, name);

    if (!cJSON_IsString(v) || v->valuestring[0] == '\0') {
        refuse(d, 400, "\"%s\" must be a non-empty string", name);
        return NULL;
    }
    if (strlen(v->valuestring) > max) {
        refuse(d, 400, "\"%s\" is too long (at most %zu bytes)", name, max);
        return NULL;
    }
    return v->valuestring;
}

/* s, checked by the caller to fit, as the request's argument. */
static void take_arg(api_decision *d, const char *s)
{
    snprintf(d->req.arg, sizeof(d->req.arg), "%s", s);
}

/* ------------------------------------------ each endpoint's arguments */

static unsigned prep_join(const cJSON *body, const char *rest,
                          api_decision *d)
{
    const char *addr = string_member(body, "addr", API_ADDR_MAX, d);

    (void)rest;
    if (addr == NULL)
        return d->status;
    take_arg(d, addr);
    return 0;
}

static unsigned prep_peer_remove(const cJSON *body, const char *rest,
                                 api_decision *d)
{
    (void)body;
    if (rest[0] == '\0' || strlen(rest) >= SHOAL_ID_MAX ||
        strchr(rest, '/') != NULL)
        return refuse(d, 404, "expected /api/peers/<id>");
    take_arg(d, rest);
    return 0;
}

static int is_space(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

static unsigned prep_search(const cJSON *body, const char *rest,
                            api_decision *d)
{
    const char *key = string_member(body, "key", API_KEY_MAX, d);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(body, "timeout_ms");
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(body, "wait");
    size_t len;

    (void)rest;
    if (key == NULL)
        return d->status;
    /* " song " names "song": a stray space must not find nothing */
    while (is_space(*key))
        key++;
    len = strlen(key);
    while (len > 0 && is_space(key[len - 1]))
        len--;
    if (len == 0)
        return refuse(d, 400, "\"key\" is only white space");
    /* Absent or null: wait for the end, as before "wait" was known. */
    if (w != NULL && !cJSON_IsNull(w)) {
        if (!cJSON_IsBool(w))
            return refuse(d, 400, "\"wait\" must be true or false");
        d->req.nowait = cJSON_IsFalse(w);
    }
    /* Absent or null: the node's own default, which 0 stands for. */
    if (t != NULL && !cJSON_IsNull(t)) {
        if (!cJSON_IsNumber(t) || !(t->valuedouble >= 0) ||
            t->valuedouble > API_SEARCH_MS_MAX)
            return refuse(d, 400, "\"timeout_ms\" must be a number of "
                                  "milliseconds, 0 to %d",
                          API_SEARCH_MS_MAX);
        d->req.num = (uint32_t)t->valuedouble;
    }
    snprintf(d->req.arg, sizeof(d->req.arg), "%.*s", (int)len, key);
    return 0;
}

/* A hash, or a name the files service would ever open: anything else
 * ("../x", "/etc/passwd", overlong) is refused here, before the loop. */
static unsigned prep_get(const cJSON *body, const char *rest,
                         api_decision *d)
{
    const char *what = string_member(body, "what", SHOAL_FILES_NAME_MAX, d);

    (void)rest;
    if (what == NULL)
        return d->status;
    if (shoal_files_name_ok(what, strlen(what)) < 0)
        return refuse(d, 400, "\"what\" is neither a hash nor a file name "
                              "(relative, '/' between parts, no '..', '.' "
                              "or empty parts, no backslash)");
    take_arg(d, what);
    return 0;
}

/* A transfer's id: decimal, no leading zero, 1 to 2^32 - 1. */
static int parse_id(const char *s, uint32_t *out)
{
    uint64_t v = 0;

    if (s[0] < '1' || s[0] > '9')
        return -1;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > UINT32_MAX)
            return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

static unsigned prep_transfer(const cJSON *body, const char *rest,
                              api_decision *d)
{
    (void)body;
    if (parse_id(rest, &d->req.num) < 0)
        return refuse(d, 404, "expected /api/transfers/<number>");
    return 0;
}

static unsigned prep_search_get(const cJSON *body, const char *rest,
                                api_decision *d)
{
    (void)body;
    if (parse_id(rest, &d->req.num) < 0)
        return refuse(d, 404, "expected /api/search/<number>");
    return 0;
}

/* ------------------------------------------------------------ the routes */

/* A route: what a request for method and path becomes. prepare checks its
 * arguments into the decision, or refuses. */
typedef struct route {
    const char *method;
    const char *path;           /* ends with '/': a prefix; the rest is arg */
    api_endpoint endpoint;
    int body;                   /* expects a JSON object */
    unsigned (*prepare)(const cJSON *body, const char *rest,
                        api_decision *d);
} route;

static const route routes[] = {
    {"GET", "/api/status", API_STATUS, 0, NULL},
    {"GET", "/api/peers", API_PEERS, 0, NULL},
    {"POST", "/api/peers", API_JOIN, 1, prep_join},
    {"DELETE", "/api/peers/", API_PEER_REMOVE, 0, prep_peer_remove},
    {"GET", "/api/files", API_FILES, 0, NULL},
    {"POST", "/api/search", API_SEARCH, 1, prep_search},
    {"GET", "/api/search/", API_SEARCH_GET, 0, prep_search_get},
    {"POST", "/api/get", API_GET, 1, prep_get},
    {"GET", "/api/transfers", API_TRANSFERS, 0, NULL},
    {"GET", "/api/transfers/", API_TRANSFER, 0, prep_transfer},
};

/* Whether path matches rt's; *rest gets what follows a prefix. */
static int route_match(const route *rt, const char *path, const char **rest)
{
    size_t n = strlen(rt->path);

    if (rt->path[n - 1] == '/') {
        if (strncmp(path, rt->path, n) != 0)
            return 0;
        *rest = path + n;
        return 1;
    }
    *rest = "";
    return strcmp(path, rt->path) == 0;
}

/* The route for method on path, and in *rest what follows a prefix path.
 * NULL if none; then d->allow lists the methods path does take, if any. */
static const route *route_find(const char *method, const char *path,
                               const char **rest, api_decision *d)
{
    size_t i, used;

    d->allow[0] = '\0';
    for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (!route_match(&routes[i], path, rest))
            continue;
        if (strcmp(routes[i].method, method) == 0) {
            d->allow[0] = '\0'; /* only a 405 names the others */
            return &routes[i];
        }
        used = strlen(d->allow);
        snprintf(d->allow + used, sizeof(d->allow) - used, "%s%s",
                 used ? ", " : "", routes[i].method);
    }
    return NULL;
}

/* An /api/ request: its route, its JSON body if it takes one, and its
 * arguments. */
static unsigned parse_api(const char *method, const char *path,
                          const char *body, size_t len, api_decision *d)
{
    const char *rest = "";
    const route *rt = route_find(method, path, &rest, d);
    cJSON *json = NULL;
    unsigned status;

    if (rt == NULL && d->allow[0] != '\0')
        return refuse(d, 405, "%s is not allowed on %s (allowed: %s)",
                      method, path, d->allow);
    if (rt == NULL)
        return refuse(d, 404, "no such endpoint: %s", path);
    if (rt->body && (status = body_json(body, len, &json, d)) != 0)
        return status;
    d->req.endpoint = rt->endpoint;
    status = rt->prepare != NULL ? rt->prepare(json, rest, d) : 0;
    cJSON_Delete(json);
    return status;
}

unsigned api_input_parse(const char *method, const char *path,
                         const char *body, size_t len, api_decision *d)
{
    memset(d, 0, sizeof(*d));
    if (len > API_MAX_BODY)
        return refuse(d, 413, "request body too large (at most 64 KiB)");
    if (strncmp(path, "/api/", 5) == 0)
        return parse_api(method, path, body, len, d);
    /* The web UI's pages: which ones there are is the server's to say. */
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        snprintf(d->allow, sizeof(d->allow), "GET, HEAD");
        return refuse(d, 405, "only GET here");
    }
    d->req.endpoint = API_PAGE;
    return 0;
}
