/* The client commands (client.h): each one is a few HTTP requests to the
 * node's control API, with libcurl, and a table or the API's JSON out. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>
#include <curl/curl.h>

#include "api.h"
#include "client.h"

#define MAX_REPLY (64u << 20)   /* a larger answer is not the API's */
#define CALL_TIMEOUT_MS 60000   /* one request, unless a search */
#define POLL_MS 200             /* shoal get: how often it asks */

/* ------------------------------------------------------------ options */

int client_parse(int argc, char **argv, const char *usage, client_opts *o,
                 int min_pos, int max_pos)
{
    static const struct option opts[] = {
        {"api", required_argument, NULL, 'a'},
        {"home", required_argument, NULL, 'H'},
        {"token-file", required_argument, NULL, 'T'},
        {"json", no_argument, NULL, 'j'},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, npos;
    char *end;

    memset(o, 0, sizeof(*o));
    o->api = API_DEFAULT_ADDR;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'a': o->api = optarg; break;
        case 'H': o->home = optarg; break;
        case 'T': o->token_file = optarg; break;
        case 'j': o->json = 1; break;
        case 't':
            o->timeout_ms = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || o->timeout_ms < 1 ||
                o->timeout_ms > 86400000) {
                fprintf(stderr, "shoal: --timeout must be a number from 1 "
                                "to 86400000 (ms)\n");
                return -1;
            }
            break;
        case 'h': fputs(usage, stdout); exit(0);
        default: fputs(usage, stderr); return -1;
        }
    }
    npos = argc - optind;
    if (npos < min_pos || npos > max_pos) {
        fputs(usage, stderr);
        return -1;
    }
    return optind;
}

/* --------------------------------------------------------------- HTTP */

/* One API endpoint as the commands see it. */
typedef struct client {
    char base[SHOAL_HOST_MAX + 32];     /* http://HOST:PORT */
    char token[API_TOKEN_HEX + 1];      /* "" when it could not be read */
    char token_file[4096];
    char token_problem[4400];           /* why token is "", for 403s */
    int json;
} client;

typedef struct buffer {
    char *data;
    size_t len;
} buffer;

static size_t on_body(char *data, size_t size, size_t n, void *user)
{
    buffer *b = user;
    size_t len = size * n;
    char *grown;

    if (len > MAX_REPLY - b->len)
        return 0; /* curl stops with CURLE_WRITE_ERROR */
    if ((grown = realloc(b->data, b->len + len + 1)) == NULL)
        return 0;
    memcpy(grown + b->len, data, len);
    b->data = grown;
    b->len += len;
    b->data[b->len] = '\0';
    return len;
}

/* Reads the token the node wrote; on failure says why in token_problem,
 * for the message should the node then refuse us. */
static void read_token(client *cl)
{
    FILE *f = fopen(cl->token_file, "r");
    char buf[256];
    size_t n = 0;

    cl->token[0] = '\0';
    if (f == NULL) {
        snprintf(cl->token_problem, sizeof(cl->token_problem),
                 "cannot read the token file %s: %m", cl->token_file);
        return;
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
                     buf[n - 1] == ' '))
        n--;
    if (n != API_TOKEN_HEX) {
        snprintf(cl->token_problem, sizeof(cl->token_problem),
                 "the token file %s does not hold a token", cl->token_file);
        return;
    }
    memcpy(cl->token, buf, n);
    cl->token[n] = '\0';
}

/* The API named by o, its token read. 0, or 2 for a bad --api. */
static int client_init(client *cl, const client_opts *o)
{
    char host[SHOAL_HOST_MAX];
    unsigned port;

    memset(cl, 0, sizeof(*cl));
    cl->json = o->json;
    if (api_split_addr(o->api, host, sizeof(host), &port) < 0 || port == 0) {
        fprintf(stderr, "shoal: --api wants HOST:PORT, not '%s'\n", o->api);
        return 2;
    }
    snprintf(cl->base, sizeof(cl->base),
             strchr(host, ':') ? "http://[%s]:%u" : "http://%s:%u", host,
             port);
    if (o->token_file != NULL)
        snprintf(cl->token_file, sizeof(cl->token_file), "%s", o->token_file);
    else if (api_default_token_file(o->home, host, port, cl->token_file,
                                    sizeof(cl->token_file)) < 0)
        snprintf(cl->token_problem, sizeof(cl->token_problem),
                 "no home to find the token in: pass --home or "
                 "--token-file");
    if (cl->token_file[0] != '\0')
        read_token(cl);
    return 0;
}

/* The "error" member of an API answer, or a stand-in. */
static const char *error_text(const cJSON *json)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(json, "error");

    return cJSON_IsString(e) ? e->valuestring : "no reason given";
}

/* Says, for a person, why a request did not give a 2xx answer with JSON
 * (json: the answer's, or NULL). */
static void report_failure(const client *cl, CURLcode rc, long status,
                           const cJSON *json)
{
    if (rc == CURLE_COULDNT_CONNECT)
        fprintf(stderr, "shoal: cannot reach the node's API at %s (is "
                        "`shoal node` running? --api HOST:PORT names "
                        "another)\n", cl->base);
    else if (rc != CURLE_OK)
        fprintf(stderr, "shoal: the node's API at %s: %s\n", cl->base,
                curl_easy_strerror(rc));
    else if (json == NULL)
        fprintf(stderr, "shoal: %s answered HTTP %ld without JSON: is it a "
                        "shoal node's API?\n", cl->base, status);
    else if (status == 403 && cl->token[0] == '\0')
        fprintf(stderr, "shoal: the node's API refused us: %s\nshoal: %s\n",
                error_text(json), cl->token_problem);
    else if (status == 403)
        fprintf(stderr, "shoal: the node's API refused us: %s\nshoal: (the "
                        "token came from %s; --token-file FILE names "
                        "another)\n", error_text(json), cl->token_file);
    else
        fprintf(stderr, "shoal: %s\n", error_text(json));
}

/* One request: method on path with body (may be NULL). On a 2xx answer
 * returns 0 and *out gets its JSON (free with cJSON_Delete). Otherwise
 * prints why and returns 1. */
static int call(const client *cl, const char *method, const char *path,
                const cJSON *body, long timeout_ms, cJSON **out)
{
    char url[sizeof(cl->base) + 1024], header[64 + API_TOKEN_HEX];
    struct curl_slist *headers = NULL;
    char *text = body != NULL ? cJSON_PrintUnformatted(body) : NULL;
    buffer reply = {NULL, 0};
    long status = 0;
    CURL *curl = curl_easy_init();
    CURLcode rc;

    *out = NULL;
    if (curl == NULL || (body != NULL && text == NULL)) {
        fprintf(stderr, "shoal: out of memory\n");
        curl_easy_cleanup(curl);
        free(text);
        return 1;
    }
    snprintf(url, sizeof(url), "%s%s", cl->base, path);
    snprintf(header, sizeof(header), "%s: %s", API_TOKEN_HEADER, cl->token);
    headers = curl_slist_append(headers, header);
    headers = curl_slist_append(headers, "Content-Type: application/json");
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    /* The API is on this machine: never through a proxy from the env. */
    curl_easy_setopt(curl, CURLOPT_PROXY, "");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply);
    if (text != NULL)
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, text);
    rc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    free(text);
    if (rc == CURLE_OK)
        *out = cJSON_ParseWithLength(reply.data ? reply.data : "", reply.len);
    free(reply.data);
    if (rc == CURLE_OK && *out != NULL && status >= 200 && status <= 299)
        return 0;
    report_failure(cl, rc, status, *out);
    cJSON_Delete(*out);
    *out = NULL;
    return 1;
}

/* The API's JSON, indented, for --json. */
static void print_json(const cJSON *json)
{
    char *text = cJSON_Print(json);

    if (text != NULL)
        puts(text);
    free(text);
}

/* ------------------------------------------------------------- tables */

#define TABLE_COLS 5

/* Rows of text, printed with every column as wide as its widest cell. */
typedef struct table {
    int ncols;
    const char *align;          /* 'l' or 'r' per column */
    size_t nrows;
    char **cells;               /* nrows * ncols, owned */
} table;

static void table_row(table *t, ...)
{
    char **grown = realloc(t->cells, (t->nrows + 1) * (size_t)t->ncols *
                                         sizeof(*grown));
    va_list ap;
    int i;

    if (grown == NULL)
        return;
    t->cells = grown;
    va_start(ap, t);
    for (i = 0; i < t->ncols; i++) {
        const char *s = va_arg(ap, const char *);
        t->cells[t->nrows * (size_t)t->ncols + (size_t)i] = strdup(s ? s : "");
    }
    va_end(ap);
    t->nrows++;
}

/* Width on a terminal: UTF-8 continuation bytes take no column. */
static size_t text_width(const char *s)
{
    size_t w = 0;

    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            w++;
    return w;
}

static void table_print(table *t)
{
    size_t width[TABLE_COLS] = {0}, r;
    int i;

    for (r = 0; r < t->nrows; r++)
        for (i = 0; i < t->ncols; i++) {
            const char *s = t->cells[r * (size_t)t->ncols + (size_t)i];
            size_t w = text_width(s ? s : "");
            if (w > width[i])
                width[i] = w;
        }
    for (r = 0; r < t->nrows; r++) {
        for (i = 0; i < t->ncols; i++) {
            const char *s = t->cells[r * (size_t)t->ncols + (size_t)i];
            size_t pad = width[i] - text_width(s ? s : "");
            int last = i == t->ncols - 1;
            if (t->align[i] == 'r')
                printf("%*s%s", (int)pad, "", s ? s : "");
            else
                printf("%s%*s", s ? s : "", last ? 0 : (int)pad, "");
            fputs(last ? "\n" : "  ", stdout);
        }
    }
    for (r = 0; r < t->nrows * (size_t)t->ncols; r++)
        free(t->cells[r]);
    free(t->cells);
    t->cells = NULL;
    t->nrows = 0;
}

static void human_size(double bytes, char *out, size_t size)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;

    while (bytes >= 1024 && u < 4) {
        bytes /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(out, size, "%.0f B", bytes);
    else
        snprintf(out, size, "%.1f %s", bytes, units[u]);
}

static double number_of(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static const char *string_of(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

    return cJSON_IsString(v) ? v->valuestring : "";
}

/* The first 12 hex digits: enough to tell files apart by eye. */
static void short_hash(const char *hash, char *out, size_t size)
{
    snprintf(out, size, "%.12s", hash[0] ? hash : "-");
}

/* "12s ago", "5m ago", "3h ago", "2d ago"; "never" for 0. */
static void ago(double unix_ms, char *out, size_t size)
{
    struct timespec now;
    double s;

    if (unix_ms <= 0) {
        snprintf(out, size, "never");
        return;
    }
    clock_gettime(CLOCK_REALTIME, &now);
    s = ((double)now.tv_sec * 1000 + now.tv_nsec / 1e6 - unix_ms) / 1000;
    if (s < 0)
        s = 0;
    if (s < 120)
        snprintf(out, size, "%.0fs ago", s);
    else if (s < 7200)
        snprintf(out, size, "%.0fm ago", s / 60);
    else if (s < 172800)
        snprintf(out, size, "%.0fh ago", s / 3600);
    else
        snprintf(out, size, "%.0fd ago", s / 86400);
}

/* The peer store's entries (the API's "stored", null without a store):
 * the first address of each, the others counted. */
static void print_stored(const cJSON *arr)
{
    table t = {5, "lllrl", 0, NULL};
    const cJSON *p;

    if (!cJSON_IsArray(arr))
        return;
    printf("\n");
    table_row(&t, "STORED PEER", "ADDRESS", "LAST SEEN", "FAILURES",
              "CONNECTED");
    cJSON_ArrayForEach(p, arr) {
        const cJSON *addrs = cJSON_GetObjectItemCaseSensitive(p, "addrs");
        const cJSON *first = cJSON_GetArrayItem(addrs, 0);
        const cJSON *conn = cJSON_GetObjectItemCaseSensitive(p, "connected");
        char addr[512], seen[32], fails[16];
        int n = cJSON_GetArraySize(addrs);
        if (n > 1)
            snprintf(addr, sizeof(addr), "%s (+%d)",
                     cJSON_IsString(first) ? first->valuestring : "-", n - 1);
        else
            snprintf(addr, sizeof(addr), "%s",
                     cJSON_IsString(first) ? first->valuestring : "-");
        ago(number_of(p, "last_seen"), seen, sizeof(seen));
        snprintf(fails, sizeof(fails), "%.0f", number_of(p, "failures"));
        table_row(&t, string_of(p, "id"), addr, seen, fails,
                  cJSON_IsTrue(conn) ? "yes" : "no");
    }
    table_print(&t);
    printf("(%d stored)\n", cJSON_GetArraySize(arr));
}

/* ----------------------------------------------------------- commands */

int client_peers(const client_opts *o)
{
    table t = {3, "llr", 0, NULL};
    const cJSON *p, *arr;
    cJSON *json;
    client cl;
    int rc;

    if ((rc = client_init(&cl, o)) != 0)
        return rc;
    if (call(&cl, "GET", "/api/peers", NULL, CALL_TIMEOUT_MS, &json) != 0)
        return 1;
    if (o->json) {
        print_json(json);
        cJSON_Delete(json);
        return 0;
    }
    arr = cJSON_GetObjectItemCaseSensitive(json, "peers");
    table_row(&t, "ID", "HOST", "PORT");
    cJSON_ArrayForEach(p, arr) {
        char port[16];
        snprintf(port, sizeof(port), "%.0f", number_of(p, "port"));
        table_row(&t, string_of(p, "id"), string_of(p, "host"), port);
    }
    table_print(&t);
    printf("(%d peers)\n", cJSON_GetArraySize(arr));
    print_stored(cJSON_GetObjectItemCaseSensitive(json, "stored"));
    cJSON_Delete(json);
    return 0;
}

int client_files(int argc, char **argv)
{
    static const char usage[] =
        "usage: shoal files [--api HOST:PORT] [--token-file FILE] [--json]\n"
        "Lists the files a running node shares.\n\n"
        "  --api HOST:PORT     the node's API (default " API_DEFAULT_ADDR ")\n"
        "  --home DIR          the node's home (default $SHOAL_HOME or "
        "~/.shoal)\n"
        "  --token-file FILE   its token (default "
        "HOME/api-HOST-PORT.token)\n"
        "  --json              print the API's JSON\n";
    table t = {3, "lrl", 0, NULL};
    const cJSON *f, *arr;
    client_opts o;
    cJSON *json;
    client cl;
    int rc;

    if (client_parse(argc, argv, usage, &o, 0, 0) < 0)
        return 2;
    if ((rc = client_init(&cl, &o)) != 0)
        return rc;
    if (call(&cl, "GET", "/api/files", NULL, CALL_TIMEOUT_MS, &json) != 0)
        return 1;
    if (o.json) {
        print_json(json);
        cJSON_Delete(json);
        return 0;
    }
    arr = cJSON_GetObjectItemCaseSensitive(json, "files");
    table_row(&t, "NAME", "SIZE", "HASH");
    cJSON_ArrayForEach(f, arr) {
        char size[32], hash[16];
        human_size(number_of(f, "size"), size, sizeof(size));
        short_hash(string_of(f, "hash"), hash, sizeof(hash));
        table_row(&t, string_of(f, "name"), size, hash);
    }
    table_print(&t);
    printf("(%d files)\n", cJSON_GetArraySize(arr));
    cJSON_Delete(json);
    return 0;
}

/* The rows `shoal search` printed already: "hash\nname\npeer" each, so
 * that a holder is printed once, when it is first found. */
typedef struct seen_rows {
    char **v;
    size_t n;
} seen_rows;

/* 1 if the row is new (and now remembered), 0 if printed already. */
static int row_new(seen_rows *seen, const char *hash, const char *name,
                   const char *peer)
{
    size_t len = strlen(hash) + strlen(name) + strlen(peer) + 3;
    char *key = malloc(len), **grown;

    if (key == NULL)
        return 0;
    snprintf(key, len, "%s\n%s\n%s", hash, name, peer);
    for (size_t i = 0; i < seen->n; i++)
        if (strcmp(seen->v[i], key) == 0) {
            free(key);
            return 0;
        }
    if ((grown = realloc(seen->v, (seen->n + 1) * sizeof(*grown))) == NULL) {
        free(key);
        return 0;
    }
    seen->v = grown;
    seen->v[seen->n++] = key;
    return 1;
}

static void rows_free(seen_rows *seen)
{
    for (size_t i = 0; i < seen->n; i++)
        free(seen->v[i]);
    free(seen->v);
}

#define SEARCH_ROW "%-32s  %9s  %-12s  %s\n"

/* Prints a row for each holder of the results not printed yet. */
static void print_new_rows(const cJSON *results, seen_rows *seen)
{
    const cJSON *r, *h;

    cJSON_ArrayForEach(r, results) {
        char size[32], hash[16];
        human_size(number_of(r, "size"), size, sizeof(size));
        short_hash(string_of(r, "hash"), hash, sizeof(hash));
        cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(r, "holders")) {
            if (row_new(seen, string_of(r, "hash"), string_of(r, "name"),
                        string_of(h, "peer")))
                printf(SEARCH_ROW, string_of(r, "name"), size, hash,
                       string_of(h, "peer"));
        }
    }
    fflush(stdout);
}

static void sleep_ms(long ms);

/* The key without white space around it, in out (API_KEY_MAX + 1). */
static int trimmed_key(const char *key, char *out)
{
    size_t len;

    while (*key == ' ' || (*key >= '\t' && *key <= '\r'))
        key++;
    len = strlen(key);
    while (len > 0 && (key[len - 1] == ' ' ||
                       (key[len - 1] >= '\t' && key[len - 1] <= '\r')))
        len--;
    if (len == 0 || len > API_KEY_MAX)
        return -1;
    memcpy(out, key, len);
    out[len] = '\0';
    return 0;
}

int client_search(int argc, char **argv)
{
    static const char usage[] =
        "usage: shoal search [options] KEY\n"
        "Searches the network, through a running node, for files whose "
        "name\n"
        "contains KEY (or whose hash is KEY), and lists what is found as it "
        "comes:\n"
        "a row per file and holder.\n\n"
        "  --api HOST:PORT     the node's API (default " API_DEFAULT_ADDR ")\n"
        "  --home DIR          the node's home (default $SHOAL_HOME or "
        "~/.shoal)\n"
        "  --token-file FILE   its token (default "
        "HOME/api-HOST-PORT.token)\n"
        "  --timeout MS        how long the search runs (default: the "
        "node's)\n"
        "  --json              print the API's JSON, once the search is "
        "over\n";
    char key[API_KEY_MAX + 1], path[64];
    const cJSON *id, *results = NULL;
    cJSON *body, *json, *st = NULL;
    seen_rows seen = {NULL, 0};
    struct timespec now;
    double end;
    client_opts o;
    client cl;
    int i, rc;

    if ((i = client_parse(argc, argv, usage, &o, 1, 1)) < 0)
        return 2;
    if (trimmed_key(argv[i], key) < 0) {
        fprintf(stderr, "shoal: search: the key is empty (or only white "
                        "space) or longer than %d bytes\n", API_KEY_MAX);
        return 2;
    }
    if ((rc = client_init(&cl, &o)) != 0)
        return rc;
    body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "key", key);
    if (o.timeout_ms > 0)
        cJSON_AddNumberToObject(body, "timeout_ms", (double)o.timeout_ms);
    cJSON_AddFalseToObject(body, "wait"); /* results as they come */
    rc = call(&cl, "POST", "/api/search", body, CALL_TIMEOUT_MS, &json);
    cJSON_Delete(body);
    if (rc != 0)
        return 1;
    id = cJSON_GetObjectItemCaseSensitive(json, "id");
    if (!cJSON_IsNumber(id) || id->valuedouble < 1) {
        fprintf(stderr, "shoal: the node gave no search id\n");
        cJSON_Delete(json);
        return 1;
    }
    snprintf(path, sizeof(path), "/api/search/%u", (unsigned)id->valuedouble);
    cJSON_Delete(json);
    clock_gettime(CLOCK_MONOTONIC, &now);
    /* the node ends the search by its timeout; this only bounds a node
     * that stopped answering */
    end = now.tv_sec * 1000.0 + now.tv_nsec / 1e6 +
          (double)(o.timeout_ms > 0 ? o.timeout_ms : 600000) +
          CALL_TIMEOUT_MS;
    if (!o.json)
        printf(SEARCH_ROW, "NAME", "SIZE", "HASH", "HOLDER");
    for (;;) {
        cJSON_Delete(st);
        if (call(&cl, "GET", path, NULL, CALL_TIMEOUT_MS, &st) != 0) {
            rows_free(&seen);
            return 1;
        }
        results = cJSON_GetObjectItemCaseSensitive(st, "results");
        if (!o.json)
            print_new_rows(results, &seen);
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(st, "done")))
            break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec * 1000.0 + now.tv_nsec / 1e6 >= end) {
            fprintf(stderr, "shoal: search %s: the node did not end it in "
                            "time\n", key);
            cJSON_Delete(st);
            rows_free(&seen);
            return 1;
        }
        sleep_ms(POLL_MS);
    }
    rows_free(&seen);
    rc = 0;
    if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(st, "error"))) {
        fprintf(stderr, "shoal: search %s: %s\n", key, string_of(st, "error"));
        rc = 1;
    } else if (o.json) {
        print_json(st);
    } else {
        printf("(%d results)\n", cJSON_GetArraySize(results));
    }
    cJSON_Delete(st);
    return rc;
}

/* One line, redrawn in place on a terminal: name, bar, percent, then the
 * rate and time left while running, or how it ended. */
static void draw_progress(const cJSON *t)
{
    double size = number_of(t, "size"), got = number_of(t, "received");
    double secs = number_of(t, "elapsed_ms") / 1000;
    const cJSON *eta = cJSON_GetObjectItemCaseSensitive(t, "eta");
    const char *state = string_of(t, "state");
    char bar[31], rate[32], total[32], tail[96];
    int fill = size > 0 ? (int)(30 * got / size) : 0, i;

    if (strcmp(state, "done") == 0)
        fill = 30;
    for (i = 0; i < 30; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[30] = '\0';
    human_size(number_of(t, "rate"), rate, sizeof(rate));
    human_size(got, total, sizeof(total));
    if (strcmp(state, "done") == 0) {
        human_size(secs > 0 ? got / secs : 0, rate, sizeof(rate));
        snprintf(tail, sizeof(tail), "%s in %.1f s (%s/s)", total, secs,
                 rate);
    } else if (strcmp(state, "running") == 0 && cJSON_IsNumber(eta)) {
        long s = (long)(eta->valuedouble + 0.5);
        snprintf(tail, sizeof(tail), "%s/s  %ld:%02ld left", rate, s / 60,
                 s % 60);
    } else if (strcmp(state, "searching") == 0) {
        snprintf(tail, sizeof(tail), "looking for holders");
    } else {
        snprintf(tail, sizeof(tail), "%s", state);
    }
    fprintf(stderr, "\r\033[K%.40s [%s] %3.0f%%  %s", string_of(t, "name"),
            bar, fill == 30 ? 100 : size > 0 ? 100 * got / size : 0, tail);
    fflush(stderr);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* Polls transfer id until it is over (or the deadline, if any). Returns
 * its last state, as the API gave it (free with cJSON_Delete), or NULL. */
static cJSON *follow_transfer(const client *cl, unsigned id, long timeout_ms,
                              int tty)
{
    struct timespec now;
    char path[64];
    double end = 0;
    cJSON *t = NULL;

    clock_gettime(CLOCK_MONOTONIC, &now);
    if (timeout_ms > 0)
        end = now.tv_sec * 1000.0 + now.tv_nsec / 1e6 + (double)timeout_ms;
    snprintf(path, sizeof(path), "/api/transfers/%u", id);
    for (;;) {
        const char *state;
        cJSON_Delete(t);
        if (call(cl, "GET", path, NULL, CALL_TIMEOUT_MS, &t) != 0)
            return NULL;
        state = string_of(t, "state");
        if (tty)
            draw_progress(t);
        if (strcmp(state, "done") == 0 || strcmp(state, "failed") == 0)
            return t;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (end > 0 && now.tv_sec * 1000.0 + now.tv_nsec / 1e6 >= end) {
            cJSON_AddStringToObject(t, "client_error", "timed out");
            return t;
        }
        sleep_ms(POLL_MS);
    }
}

/* What a person can do about a failed transfer, when there is a clear
 * next step. */
static const char *failure_hint(const cJSON *t)
{
    switch ((int)number_of(t, "error_code")) {
    case SHOAL_ENOENT: return " (no peer has it: `shoal search` shows what "
                              "is there)";
    case SHOAL_EEXIST: return " (several files have that name: get one by "
                              "its hash, from `shoal search --json`)";
    default: return "";
    }
}

int client_get(int argc, char **argv)
{
    static const char usage[] =
        "usage: shoal get [options] NAME|HASH\n"
        "Downloads a file through a running node: by hash (64 hex digits)\n"
        "or by exact name. Shows progress on a terminal; prints the "
        "finished\n"
        "file's path. Exits 0 only once the file is complete and verified.\n"
        "\n"
        "  --api HOST:PORT     the node's API (default " API_DEFAULT_ADDR ")\n"
        "  --home DIR          the node's home (default $SHOAL_HOME or "
        "~/.shoal)\n"
        "  --token-file FILE   its token (default "
        "HOME/api-HOST-PORT.token)\n"
        "  --timeout MS        give up waiting after this long (the node\n"
        "                      goes on with the transfer)\n"
        "  --json              print the transfer's final JSON\n";
    int tty = isatty(2), i, rc;
    const cJSON *id;
    cJSON *body, *json, *t;
    client_opts o;
    client cl;

    if ((i = client_parse(argc, argv, usage, &o, 1, 1)) < 0)
        return 2;
    if ((rc = client_init(&cl, &o)) != 0)
        return rc;
    body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "what", argv[i]);
    rc = call(&cl, "POST", "/api/get", body, CALL_TIMEOUT_MS, &json);
    cJSON_Delete(body);
    if (rc != 0)
        return 1;
    id = cJSON_GetObjectItemCaseSensitive(json, "id");
    if (!cJSON_IsNumber(id) || id->valuedouble < 1) {
        fprintf(stderr, "shoal: the node gave no transfer id\n");
        cJSON_Delete(json);
        return 1;
    }
    t = follow_transfer(&cl, (unsigned)id->valuedouble, o.timeout_ms, tty);
    cJSON_Delete(json);
    if (tty)
        fputc('\n', stderr);
    if (t == NULL)
        return 1;
    if (o.json)
        print_json(t);
    rc = strcmp(string_of(t, "state"), "done") == 0 ? 0 : 1;
    if (rc == 0 && !o.json)
        printf("%s\n", string_of(t, "path"));
    else if (rc != 0 && cJSON_GetObjectItemCaseSensitive(t, "client_error"))
        fprintf(stderr, "shoal: get %s: not done after %ld ms (still %s)\n",
                argv[i], o.timeout_ms, string_of(t, "state"));
    else if (rc != 0)
        fprintf(stderr, "shoal: get %s: failed: %s%s\n", argv[i],
                string_of(t, "error"), failure_hint(t));
    cJSON_Delete(t);
    return rc;
}
