/* libFuzzer target: the control API's input checks (apps/shoal/api_input.h),
 * all that the shoal program decides from what an HTTP client sends.
 *
 * An input is a request:
 *   byte 0  the method: GET POST DELETE PUT HEAD PATCH OPTIONS, or a line
 *   byte 1  the path: each endpoint's ("/api/peers/" and "/api/transfers/"
 *           followed by a line), "/", "/index.html", "/api/", or a line
 *   byte 2  Host: the API's own, localhost:PORT, LOCALHOST:PORT, none,
 *           another port, another name, or a line; bit 7: the API is on
 *           [::1] rather than 127.0.0.1
 *   byte 3  Origin: none, http:// and the API's, http://localhost:PORT,
 *           https://, "null", or a line
 *   byte 4  the token: right, none, its last digit changed, one digit
 *           more, in upper case, or a line
 *   byte 5  Content-Length: none, 0, 65536, 65537, -1, or a line; bit 7:
 *           the body is padded with spaces to 64 KiB, one byte more if bit
 *           6 is set too
 * then the lines that those choices take, in that order, each ending at a
 * '\n', and then the body: the rest.
 *
 * Both checks run on every input, and what they decide must hold:
 *   - a refusal is a status the stage may give (headers: 403, 413; the
 *     rest: 400, 404, 405, 413), with a text and no request; only a 405
 *     names an Allow header;
 *   - the headers are accepted exactly when a plain reading of the rules
 *     says so (README, "Only the local user may drive a node");
 *   - an accepted request is the endpoint its method and path name, with
 *     the arguments it takes and no others: NUL-terminated, within their
 *     limits, peer ids and transfer ids the path's own, names that pass
 *     shoal_files_name_ok; a body over 64 KiB is never accepted;
 *   - the same request is decided the same way twice.
 * Seeds: tests/fuzz/corpus/api/ (made by make_corpus_api.sh). */
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api_input.h"

/* Not assert(): release builds define NDEBUG. */
#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "fuzz_api: %s:%d: check failed: %s\n",         \
                    __FILE__, __LINE__, #cond);                            \
            abort();                                                       \
        }                                                                  \
    } while (0)

#define PORT 7601
#define TOKEN                                                              \
    "3f9c0d5e8a7b61f2c4e9d0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5"
#define HEADER_BYTES 6

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input, read front to back. */
typedef struct reader {
    const uint8_t *p;
    size_t left;
} reader;

/* The next line (up to a '\n' or the end), as a string of its own: its
 * bytes up to the first NUL, as MHD would hand them. */
static char *next_line(reader *r)
{
    const uint8_t *nl = memchr(r->p, '\n', r->left);
    size_t n = nl != NULL ? (size_t)(nl - r->p) : r->left;
    char *s = malloc(n + 1);

    CHECK(s != NULL);
    memcpy(s, r->p, n);
    s[n] = '\0';
    r->p += n;
    r->left -= n;
    if (nl != NULL) {
        r->p++;
        r->left--;
    }
    return s;
}

static char *concat(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *s = malloc(na + nb + 1);

    CHECK(s != NULL);
    memcpy(s, a, na);
    memcpy(s + na, b, nb + 1);
    return s;
}

/* A table entry: fixed text, or (line set) that text followed by a line
 * of the input. */
typedef struct choice {
    const char *text;
    int line;
} choice;

static char *choose(const choice *table, size_t n, uint8_t byte, reader *r)
{
    const choice *c = &table[byte % n];
    char *line, *s;

    if (c->text == NULL)
        return NULL; /* the header is absent */
    if (!c->line)
        return concat(c->text, "");
    line = next_line(r);
    s = concat(c->text, line);
    free(line);
    return s;
}

static const choice methods[] = {
    {"GET", 0}, {"POST", 0}, {"DELETE", 0},  {"PUT", 0},
    {"HEAD", 0}, {"PATCH", 0}, {"OPTIONS", 0}, {"", 1},
};

static const choice paths[] = {
    {"/api/status", 0}, {"/api/peers", 0},      {"/api/peers/", 1},
    {"/api/files", 0},  {"/api/search", 0},     {"/api/get", 0},
    {"/api/transfers", 0}, {"/api/transfers/", 1}, {"/", 0},
    {"/index.html", 0}, {"/api/", 0},           {"", 1},
};

/* Those that name the API itself are filled in per input (IPv4 or 6). */
enum { HOST_SELF, HOST_LOCAL, HOST_LOCAL_UPPER, HOST_NONE, HOST_PORT,
       HOST_NAME, HOST_LINE, HOSTS };
enum { ORIGIN_NONE, ORIGIN_SELF, ORIGIN_LOCAL, ORIGIN_HTTPS, ORIGIN_NULL,
       ORIGIN_LINE, ORIGINS };

static const choice tokens[] = {
    {TOKEN, 0},
    {NULL, 0},
    {"3f9c0d5e8a7b61f2c4e9d0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e0", 0},
    {TOKEN "0", 0},
    {"3F9C0D5E8A7B61F2C4E9D0A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5", 0},
    {"", 1},
};

static const choice lengths[] = {
    {NULL, 0}, {"0", 0}, {"65536", 0}, {"65537", 0}, {"-1", 0}, {"", 1},
};

/* The request an input stands for. */
typedef struct input {
    api_input_self self;
    char hostport[32];
    api_input_headers h;
    char *method, *path, *host, *origin, *token, *length;
    char *body;
    size_t len;
} input;

static void read_hosts(input *in, uint8_t hbyte, uint8_t obyte, reader *r)
{
    char local[32], buf[64];
    choice hosts[HOSTS] = {{in->hostport, 0}, {local, 0},
                           {"LOCALHOST:7601", 0}, {NULL, 0},
                           {buf, 0}, {"evil.example:7601", 0}, {"", 1}};
    choice origins[ORIGINS] = {{NULL, 0}, {NULL, 0}, {NULL, 0},
                               {NULL, 0}, {"null", 0}, {"", 1}};
    char oself[64], olocal[64], ohttps[64];

    snprintf(local, sizeof(local), "localhost:%u", PORT);
    snprintf(buf, sizeof(buf), "%.*s:%u",
             (int)(strrchr(in->hostport, ':') - in->hostport), in->hostport,
             PORT + 1);
    snprintf(oself, sizeof(oself), "http://%s", in->hostport);
    snprintf(olocal, sizeof(olocal), "http://%s", local);
    snprintf(ohttps, sizeof(ohttps), "https://%s", in->hostport);
    origins[ORIGIN_SELF].text = oself;
    origins[ORIGIN_LOCAL].text = olocal;
    origins[ORIGIN_HTTPS].text = ohttps;
    in->host = choose(hosts, HOSTS, hbyte & 0x7f, r);
    in->origin = choose(origins, ORIGINS, obyte, r);
}

/* The body: the rest of the input, or that padded with spaces to the
 * size limit, or one past it. Always a buffer of exactly its size, so
 * that ASan sees a read past its end. */
static void read_body(input *in, uint8_t lbyte, reader *r)
{
    size_t len = r->left;

    if (lbyte & 0x80) {
        size_t pad = API_MAX_BODY + ((lbyte & 0x40) ? 1 : 0);
        if (len < pad)
            len = pad;
    }
    in->body = malloc(len ? len : 1);
    CHECK(in->body != NULL);
    if (r->left)
        memcpy(in->body, r->p, r->left);
    memset(in->body + r->left, ' ', len - r->left);
    in->len = len;
}

static int read_input(input *in, const uint8_t *data, size_t size)
{
    reader r;

    if (size < HEADER_BYTES)
        return -1;
    r.p = data + HEADER_BYTES;
    r.left = size - HEADER_BYTES;
    memset(in, 0, sizeof(*in));
    snprintf(in->hostport, sizeof(in->hostport), "%s:%u",
             (data[2] & 0x80) ? "[::1]" : "127.0.0.1", PORT);
    in->self.hostport = in->hostport;
    in->self.port = PORT;
    in->self.token = TOKEN;
    in->method = choose(methods, sizeof(methods) / sizeof(methods[0]),
                        data[0], &r);
    in->path = choose(paths, sizeof(paths) / sizeof(paths[0]), data[1], &r);
    read_hosts(in, data[2], data[3], &r);
    in->token = choose(tokens, sizeof(tokens) / sizeof(tokens[0]), data[4],
                       &r);
    in->length = choose(lengths, sizeof(lengths) / sizeof(lengths[0]),
                        data[5] & 0x3f, &r);
    read_body(in, data[5], &r);
    in->h.host = in->host;
    in->h.origin = in->origin;
    in->h.token = in->token;
    in->h.content_length = in->length;
    return 0;
}

static void free_input(input *in)
{
    free(in->method);
    free(in->path);
    free(in->host);
    free(in->origin);
    free(in->token);
    free(in->length);
    free(in->body);
}

/* ------------------------------------------------------------ the checks */

static int terminated(const char *s, size_t size)
{
    return memchr(s, '\0', size) != NULL;
}

static int all_zero(const void *p, size_t n)
{
    const uint8_t *q = p;

    for (size_t i = 0; i < n; i++)
        if (q[i] != 0)
            return 0;
    return 1;
}

/* What any decision holds, refused or not. */
static void check_decision(const api_decision *d)
{
    CHECK(terminated(d->why, sizeof(d->why)));
    CHECK(terminated(d->allow, sizeof(d->allow)));
    CHECK(terminated(d->req.arg, sizeof(d->req.arg)));
    if (d->status != 0) {
        CHECK(d->status >= 400 && d->status <= 599);
        CHECK(d->why[0] != '\0');
        CHECK(all_zero(&d->req, sizeof(d->req)));
        CHECK((d->status == 405) == (d->allow[0] != '\0'));
    } else {
        CHECK(d->why[0] == '\0' && d->allow[0] == '\0');
        CHECK(d->req.endpoint >= API_PAGE && d->req.endpoint < API_ENDPOINTS);
    }
}

/* The rules, read plainly: the Host names the API (its HOST:PORT or
 * localhost:PORT, in any case), so does an Origin if there is one (over
 * http), /api/ carries the exact token, a Content-Length says at most
 * 64 KiB. */
static int names_api(const input *in, const char *host)
{
    char local[32];

    snprintf(local, sizeof(local), "localhost:%u", PORT);
    return host != NULL && (strcasecmp(host, in->hostport) == 0 ||
                            strcasecmp(host, local) == 0);
}

static int headers_should_pass(const input *in)
{
    int api = strncmp(in->path, "/api/", 5) == 0;

    if (!names_api(in, in->host))
        return 0;
    if (in->origin != NULL && (strncasecmp(in->origin, "http://", 7) != 0 ||
                               !names_api(in, in->origin + 7)))
        return 0;
    if (api && (in->token == NULL || strcmp(in->token, TOKEN) != 0))
        return 0;
    return in->length == NULL ||
           strtoull(in->length, NULL, 10) <= API_MAX_BODY;
}

static void check_headers(const input *in)
{
    api_decision d, again;
    unsigned status = api_input_check_headers(&in->self, in->path, &in->h,
                                              &d);

    CHECK(status == d.status);
    CHECK(status == 0 || status == 403 || status == 413);
    check_decision(&d);
    CHECK(d.allow[0] == '\0');
    CHECK(all_zero(&d.req, sizeof(d.req)));
    CHECK((status == 0) == headers_should_pass(in));
    api_input_check_headers(&in->self, in->path, &in->h, &again);
    CHECK(memcmp(&d, &again, sizeof(d)) == 0);
}

/* path is prefix followed by exactly rest. */
static int path_is(const char *path, const char *prefix, const char *rest)
{
    size_t n = strlen(prefix);

    return strncmp(path, prefix, n) == 0 && strcmp(path + n, rest) == 0;
}

/* An accepted request is what its method and path name, with its own
 * arguments only. */
static void check_request(const input *in, const api_request *req)
{
    const char *m = in->method, *p = in->path, *arg = req->arg;
    size_t n = strlen(arg);
    char id[16];

    CHECK(in->len <= API_MAX_BODY);
    switch (req->endpoint) {
    case API_PAGE:
        CHECK(strncmp(p, "/api/", 5) != 0);
        CHECK(strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0);
        break;
    case API_STATUS: CHECK(!strcmp(m, "GET") && !strcmp(p, "/api/status"));
        break;
    case API_PEERS: CHECK(!strcmp(m, "GET") && !strcmp(p, "/api/peers"));
        break;
    case API_FILES: CHECK(!strcmp(m, "GET") && !strcmp(p, "/api/files"));
        break;
    case API_TRANSFERS:
        CHECK(!strcmp(m, "GET") && !strcmp(p, "/api/transfers"));
        break;
    case API_JOIN:
        CHECK(!strcmp(m, "POST") && !strcmp(p, "/api/peers"));
        CHECK(n >= 1 && n <= API_ADDR_MAX);
        break;
    case API_PEER_REMOVE:
        CHECK(!strcmp(m, "DELETE") && path_is(p, "/api/peers/", arg));
        CHECK(n >= 1 && n < SHOAL_ID_MAX && strchr(arg, '/') == NULL);
        break;
    case API_SEARCH:
        CHECK(!strcmp(m, "POST") && !strcmp(p, "/api/search"));
        CHECK(n >= 1 && n <= API_KEY_MAX);
        CHECK(req->num <= API_SEARCH_MS_MAX);
        break;
    case API_GET:
        CHECK(!strcmp(m, "POST") && !strcmp(p, "/api/get"));
        CHECK(n >= 1 && n <= SHOAL_FILES_NAME_MAX);
        CHECK(shoal_files_name_ok(arg, n) == 0);
        break;
    case API_TRANSFER:
        snprintf(id, sizeof(id), "%" PRIu32, req->num);
        CHECK(!strcmp(m, "GET") && path_is(p, "/api/transfers/", id));
        CHECK(req->num >= 1);
        break;
    default: CHECK(!"an endpoint out of range");
    }
    /* the arguments that an endpoint does not take are empty */
    if (req->endpoint != API_JOIN && req->endpoint != API_PEER_REMOVE &&
        req->endpoint != API_SEARCH && req->endpoint != API_GET)
        CHECK(n == 0);
    if (req->endpoint != API_SEARCH && req->endpoint != API_TRANSFER)
        CHECK(req->num == 0);
    /* a JSON body was read whole, and held no NUL */
    if (req->endpoint == API_JOIN || req->endpoint == API_SEARCH ||
        req->endpoint == API_GET)
        CHECK(in->len > 0 && memchr(in->body, '\0', in->len) == NULL);
}

static void check_parse(const input *in)
{
    api_decision d, again;
    unsigned status = api_input_parse(in->method, in->path, in->body,
                                      in->len, &d);

    CHECK(status == d.status);
    CHECK(status == 0 || status == 400 || status == 404 || status == 405 ||
          status == 413);
    check_decision(&d);
    if (in->len > API_MAX_BODY)
        CHECK(status == 413);
    if (status == 0)
        check_request(in, &d.req);
    api_input_parse(in->method, in->path, in->body, in->len, &again);
    CHECK(memcmp(&d, &again, sizeof(d)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    input in;

    if (read_input(&in, data, size) < 0)
        return 0;
    check_headers(&in);
    check_parse(&in);
    free_input(&in);
    return 0;
}
