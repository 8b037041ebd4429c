/* The shoal program's API input checks (apps/shoal/api_input.h): every
 * refusal, and what each endpoint's request parses to. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api_input.h"

#define TOKEN                                                              \
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static const api_input_self self4 = {"127.0.0.1:7601", 7601, TOKEN};
static const api_input_self self6 = {"[::1]:7601", 7601, TOKEN};

/* The headers a good client sends, to be spoilt one at a time. */
static api_input_headers good_headers(void)
{
    api_input_headers h = {"127.0.0.1:7601", NULL, TOKEN, NULL};

    return h;
}

static unsigned headers(const api_input_self *self, const char *path,
                        const api_input_headers *h)
{
    api_decision d;
    unsigned status = api_input_check_headers(self, path, h, &d);

    assert_int_equal(status, d.status);
    if (status != 0)
        assert_true(d.why[0] != '\0');
    else
        assert_string_equal(d.why, "");
    return status;
}

/* api_input_parse on a string body ("" for none). */
static unsigned parse(const char *method, const char *path,
                      const char *body, api_decision *d)
{
    unsigned status = api_input_parse(method, path, body, strlen(body), d);

    assert_int_equal(status, d->status);
    /* only a 405 names an Allow header */
    assert_int_equal(status == 405, d->allow[0] != '\0');
    if (status != 0) {
        assert_true(d->why[0] != '\0');
        assert_int_equal(d->req.endpoint, 0);
        assert_string_equal(d->req.arg, "");
    }
    return status;
}

/* ---------------------------------------------------------- the headers */

static void test_headers_accepted(void **state)
{
    api_input_headers h = good_headers();

    (void)state;
    assert_int_equal(headers(&self4, "/api/status", &h), 0);
    h.host = "localhost:7601";
    assert_int_equal(headers(&self4, "/api/status", &h), 0);
    h.host = "LocalHost:7601"; /* names are not case-sensitive */
    assert_int_equal(headers(&self4, "/api/status", &h), 0);
    h.origin = "http://localhost:7601";
    assert_int_equal(headers(&self4, "/api/status", &h), 0);
    h.origin = "HTTP://127.0.0.1:7601";
    assert_int_equal(headers(&self4, "/api/status", &h), 0);
    h.host = "[::1]:7601";
    h.origin = "http://[::1]:7601";
    assert_int_equal(headers(&self6, "/api/status", &h), 0);
    h.content_length = "65536";
    assert_int_equal(headers(&self6, "/api/search", &h), 0);
    /* the UI's pages need no token */
    h.token = NULL;
    assert_int_equal(headers(&self6, "/", &h), 0);
    assert_int_equal(headers(&self6, "/app.js", &h), 0);
}

static void test_headers_host(void **state)
{
    api_input_headers h = good_headers();

    (void)state;
    h.host = NULL;
    assert_int_equal(headers(&self4, "/api/status", &h), 403);
    h.host = "evil.example:7601"; /* DNS rebinding */
    assert_int_equal(headers(&self4, "/api/status", &h), 403);
    assert_int_equal(headers(&self4, "/", &h), 403);
    h.host = "127.0.0.1:7602";
    assert_int_equal(headers(&self4, "/api/status", &h), 403);
    h.host = "127.0.0.1";
    assert_int_equal(headers(&self4, "/api/status", &h), 403);
    h.host = "localhost";
    assert_int_equal(headers(&self4, "/api/status", &h), 403);
    h.host = "::1:7601"; /* not how an IPv6 host is named */
    assert_int_equal(headers(&self6, "/api/status", &h), 403);
    h.host = "127.0.0.1:7601"; /* not this API's address */
    assert_int_equal(headers(&self6, "/api/status", &h), 403);
}

static void test_headers_origin(void **state)
{
    api_input_headers h = good_headers();

    (void)state;
    h.origin = "http://evil.example";
    assert_int_equal(headers(&self4, "/api/files", &h), 403);
    assert_int_equal(headers(&self4, "/", &h), 403);
    h.origin = "https://127.0.0.1:7601";
    assert_int_equal(headers(&self4, "/api/files", &h), 403);
    h.origin = "null"; /* a sandboxed page */
    assert_int_equal(headers(&self4, "/api/files", &h), 403);
    h.origin = "http://127.0.0.1:7601/";
    assert_int_equal(headers(&self4, "/api/files", &h), 403);
    h.origin = "";
    assert_int_equal(headers(&self4, "/api/files", &h), 403);
}

static void test_headers_token(void **state)
{
    api_input_headers h = good_headers();
    char longer[API_TOKEN_HEX + 2], upper[API_TOKEN_HEX + 1];
    size_t i;

    (void)state;
    h.token = NULL;
    assert_int_equal(headers(&self4, "/api/status", &h), 403);
    assert_int_equal(headers(&self4, "/api/", &h), 403);
    h.token = "";
    assert_int_equal(headers(&self4, "/api/status", &h), 403);
    h.token = "00112233445566778899aabbccddeeff"
              "00112233445566778899aabbccddeef0";
    assert_int_equal(headers(&self4, "/api/status", &h), 403);
    snprintf(longer, sizeof(longer), "%s0", TOKEN);
    h.token = longer;
    assert_int_equal(headers(&self4, "/api/status", &h), 403);
    h.token = "00112233445566778899aabbccddeeff"
              "00112233445566778899aabbccddeef";
    assert_int_equal(headers(&self4, "/api/status", &h), 403);
    for (i = 0; i < API_TOKEN_HEX; i++)
        upper[i] = (char)(TOKEN[i] >= 'a' ? TOKEN[i] - 32 : TOKEN[i]);
    upper[API_TOKEN_HEX] = '\0';
    h.token = upper;
    assert_int_equal(headers(&self4, "/api/status", &h), 403);
}

static void test_headers_length(void **state)
{
    api_input_headers h = good_headers();
    api_decision d;

    (void)state;
    h.content_length = "65537";
    assert_int_equal(headers(&self4, "/api/search", &h), 413);
    h.content_length = "99999999999999999999999";
    assert_int_equal(headers(&self4, "/api/search", &h), 413);
    h.content_length = "0";
    assert_int_equal(headers(&self4, "/api/search", &h), 0);
    /* Host is checked first */
    h.host = "evil.example";
    h.content_length = "65537";
    assert_int_equal(api_input_check_headers(&self4, "/api/search", &h, &d),
                     403);
    assert_non_null(strstr(d.why, "Host"));
}

/* ------------------------------------------------------------ the routes */

static void test_routes(void **state)
{
    api_decision d;

    (void)state;
    assert_int_equal(parse("GET", "/api/nothing", "", &d), 404);
    assert_non_null(strstr(d.why, "/api/nothing"));
    assert_int_equal(parse("GET", "/api/", "", &d), 404);
    assert_int_equal(parse("GET", "/api/status/", "", &d), 404);
    assert_int_equal(parse("PUT", "/api/files", "", &d), 405);
    assert_string_equal(d.allow, "GET");
    assert_int_equal(parse("PUT", "/api/peers", "", &d), 405);
    assert_string_equal(d.allow, "GET, POST");
    assert_int_equal(parse("GET", "/api/search", "", &d), 405);
    assert_string_equal(d.allow, "POST");
    assert_int_equal(parse("GET", "/api/peers/abc", "", &d), 405);
    assert_string_equal(d.allow, "DELETE");
    assert_int_equal(parse("get", "/api/status", "", &d), 405);
    /* the UI's pages: GET and HEAD; which exist is the server's to say */
    assert_int_equal(parse("GET", "/", "", &d), 0);
    assert_int_equal(d.req.endpoint, API_PAGE);
    assert_int_equal(parse("HEAD", "/nothing.html", "", &d), 0);
    assert_int_equal(d.req.endpoint, API_PAGE);
    assert_int_equal(parse("POST", "/index.html", "{}", &d), 405);
    assert_string_equal(d.allow, "GET, HEAD");
    /* refusals other than 405 name no Allow header */
    assert_int_equal(parse("GET", "/api/nothing", "", &d), 404);
    assert_string_equal(d.allow, "");
}

static void test_endpoints_without_arguments(void **state)
{
    static const struct {
        const char *path;
        api_endpoint endpoint;
    } cases[] = {
        {"/api/status", API_STATUS},
        {"/api/peers", API_PEERS},
        {"/api/files", API_FILES},
        {"/api/transfers", API_TRANSFERS},
    };
    api_decision d;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        /* a body is not read where none is taken */
        assert_int_equal(parse("GET", cases[i].path, "not json", &d), 0);
        assert_int_equal(d.req.endpoint, cases[i].endpoint);
        assert_string_equal(d.req.arg, "");
        assert_int_equal(d.req.num, 0);
        assert_string_equal(d.why, "");
        assert_string_equal(d.allow, "");
    }
}

/* ------------------------------------------------------------- the body */

static void test_body_size(void **state)
{
    char *big = malloc(API_MAX_BODY + 1);
    static const char json[] = "{\"key\": \"blue\"}";
    api_decision d;

    (void)state;
    assert_non_null(big);
    /* a JSON object padded with spaces to the limit is fine */
    memset(big, ' ', API_MAX_BODY + 1);
    memcpy(big, json, sizeof(json) - 1);
    assert_int_equal(api_input_parse("POST", "/api/search", big,
                                     API_MAX_BODY, &d), 0);
    assert_string_equal(d.req.arg, "blue");
    /* one byte more is not, whatever the endpoint */
    assert_int_equal(api_input_parse("POST", "/api/search", big,
                                     API_MAX_BODY + 1, &d), 413);
    assert_int_equal(api_input_parse("GET", "/api/status", big,
                                     API_MAX_BODY + 1, &d), 413);
    assert_int_equal(api_input_parse("GET", "/", big, API_MAX_BODY + 1, &d),
                     413);
    free(big);
}

static void test_body_json(void **state)
{
    api_decision d;

    (void)state;
    assert_int_equal(parse("POST", "/api/get", "", &d), 400); /* no body */
    assert_non_null(strstr(d.why, "expected"));
    assert_int_equal(parse("POST", "/api/search", "{\"key\": ", &d), 400);
    assert_int_equal(parse("POST", "/api/search", "\"key\"", &d), 400);
    assert_int_equal(parse("POST", "/api/search", "[\"key\"]", &d), 400);
    assert_int_equal(parse("POST", "/api/search", "null", &d), 400);
    assert_int_equal(parse("POST", "/api/search", "{\"key\": 5}", &d), 400);
    assert_int_equal(parse("POST", "/api/search", "{\"key\": \"\"}", &d),
                     400);
    assert_int_equal(parse("POST", "/api/search", "{\"Key\": \"a\"}", &d),
                     400);
    assert_int_equal(parse("POST", "/api/search", "{\"key\": [\"a\"]}", &d),
                     400);
    assert_int_equal(parse("POST", "/api/search", "{}", &d), 400);
    /* one object, nothing after it but white space */
    assert_int_equal(parse("POST", "/api/search", "{\"key\": \"a\"} junk",
                           &d),
                     400);
    assert_int_equal(parse("POST", "/api/search", "{\"key\": \"a\"}{}", &d),
                     400);
    assert_int_equal(parse("POST", "/api/search", "{\"key\": \"a\"} \r\n",
                           &d),
                     0);
}

/* A search key loses the white space around it; one that is nothing else
 * is refused; "wait" is a boolean; GET /api/search/<id> takes an id. */
static void test_search_args(void **state)
{
    static const char *bad_ids[] = {
        "/api/search/", "/api/search/0", "/api/search/01", "/api/search/x",
        "/api/search/1/", "/api/search/4294967296", "/api/search/-1",
    };
    api_decision d;

    (void)state;
    assert_int_equal(parse("POST", "/api/search",
                           "{\"key\": \" \\tsong  \\n\"}", &d), 0);
    assert_string_equal(d.req.arg, "song");
    assert_int_equal(d.req.nowait, 0);
    assert_int_equal(parse("POST", "/api/search",
                           "{\"key\": \"a b \"}", &d), 0);
    assert_string_equal(d.req.arg, "a b");
    assert_int_equal(parse("POST", "/api/search", "{\"key\": \" \\t \"}",
                           &d), 400);
    assert_non_null(strstr(d.why, "white space"));
    assert_int_equal(parse("POST", "/api/search",
                           "{\"key\": \"a\", \"wait\": false}", &d), 0);
    assert_int_equal(d.req.nowait, 1);
    assert_int_equal(parse("POST", "/api/search",
                           "{\"key\": \"a\", \"wait\": true}", &d), 0);
    assert_int_equal(d.req.nowait, 0);
    assert_int_equal(parse("POST", "/api/search",
                           "{\"key\": \"a\", \"wait\": null}", &d), 0);
    assert_int_equal(d.req.nowait, 0);
    assert_int_equal(parse("POST", "/api/search",
                           "{\"key\": \"a\", \"wait\": 0}", &d), 400);
    assert_non_null(strstr(d.why, "wait"));
    assert_int_equal(parse("POST", "/api/search",
                           "{\"key\": \"a\", \"wait\": \"no\"}", &d), 400);
    assert_int_equal(parse("GET", "/api/search/12", "", &d), 0);
    assert_int_equal(d.req.endpoint, API_SEARCH_GET);
    assert_int_equal(d.req.num, 12);
    for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
        assert_int_equal(parse("GET", bad_ids[i], "", &d), 404);
        assert_non_null(strstr(d.why, "/api/search/<number>"));
    }
    assert_int_equal(parse("DELETE", "/api/search/1", "", &d), 405);
}

static void test_body_nul(void **state)
{
    static const char raw[] = "{\"key\": \"a\0b\"}";
    api_decision d;

    (void)state;
    assert_int_equal(api_input_parse("POST", "/api/search", raw,
                                     sizeof(raw) - 1, &d), 400);
    assert_non_null(strstr(d.why, "NUL"));
    /* \u0000 would cut the string short: "ok" of "ok\u0000/../x" */
    assert_int_equal(parse("POST", "/api/get",
                           "{\"what\": \"ok\\u0000/../x\"}", &d), 400);
    assert_non_null(strstr(d.why, "NUL"));
    assert_int_equal(parse("POST", "/api/search",
                           "{\"key\": \"a\", \"x\": \"\\u0000\"}", &d), 400);
    /* an escaped backslash followed by "u0000" is no NUL */
    assert_int_equal(parse("POST", "/api/search",
                           "{\"key\": \"a\\\\u0000\"}", &d), 0);
    assert_string_equal(d.req.arg, "a\\u0000");
    /* nor is another escape */
    assert_int_equal(parse("POST", "/api/search",
                           "{\"key\": \"\\u00e9\\u0001\"}", &d), 0);
    assert_string_equal(d.req.arg, "\xc3\xa9\x01");
}

/* ------------------------------------------------------- each endpoint */

static void test_join(void **state)
{
    char body[API_ADDR_MAX + 32], addr[API_ADDR_MAX + 2];
    api_decision d;

    (void)state;
    assert_int_equal(parse("POST", "/api/peers",
                           "{\"addr\": \"/ip4/127.0.0.1/tcp/7600\"}", &d), 0);
    assert_int_equal(d.req.endpoint, API_JOIN);
    assert_string_equal(d.req.arg, "/ip4/127.0.0.1/tcp/7600");
    assert_int_equal(d.req.num, 0);
    assert_int_equal(parse("POST", "/api/peers", "{\"addr\": 7600}", &d), 400);
    assert_int_equal(parse("POST", "/api/peers", "{\"addr\": \"\"}", &d), 400);
    assert_int_equal(parse("POST", "/api/peers", "{\"key\": \"a\"}", &d), 400);
    /* at most API_ADDR_MAX bytes */
    memset(addr, 'a', API_ADDR_MAX);
    addr[API_ADDR_MAX] = '\0';
    snprintf(body, sizeof(body), "{\"addr\": \"%s\"}", addr);
    assert_int_equal(parse("POST", "/api/peers", body, &d), 0);
    assert_int_equal(strlen(d.req.arg), API_ADDR_MAX);
    snprintf(body, sizeof(body), "{\"addr\": \"%sa\"}", addr);
    assert_int_equal(parse("POST", "/api/peers", body, &d), 400);
    assert_non_null(strstr(d.why, "too long"));
}

static void test_peer_remove(void **state)
{
    char path[SHOAL_ID_MAX + 32], id[SHOAL_ID_MAX + 1];
    api_decision d;

    (void)state;
    assert_int_equal(parse("DELETE",
                           "/api/peers/12D3KooWBtg3aaRMjxwedh83aGiUkwSxDw",
                           "", &d), 0);
    assert_int_equal(d.req.endpoint, API_PEER_REMOVE);
    assert_string_equal(d.req.arg, "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDw");
    assert_int_equal(parse("DELETE", "/api/peers/127.0.0.1:7700", "", &d), 0);
    assert_string_equal(d.req.arg, "127.0.0.1:7700");
    assert_int_equal(parse("DELETE", "/api/peers/", "", &d), 404);
    assert_int_equal(parse("DELETE", "/api/peers/a/b", "", &d), 404);
    assert_int_equal(parse("DELETE", "/api/peers", "", &d), 405);
    assert_string_equal(d.allow, "GET, POST");
    /* shorter than SHOAL_ID_MAX */
    memset(id, 'a', SHOAL_ID_MAX - 1);
    id[SHOAL_ID_MAX - 1] = '\0';
    snprintf(path, sizeof(path), "/api/peers/%s", id);
    assert_int_equal(parse("DELETE", path, "", &d), 0);
    snprintf(path, sizeof(path), "/api/peers/%sa", id);
    assert_int_equal(parse("DELETE", path, "", &d), 404);
}

static void test_search(void **state)
{
    char body[API_KEY_MAX + 32], key[API_KEY_MAX + 1];
    api_decision d;

    (void)state;
    assert_int_equal(parse("POST", "/api/search", "{\"key\": \"blue\"}", &d),
                     0);
    assert_int_equal(d.req.endpoint, API_SEARCH);
    assert_string_equal(d.req.arg, "blue");
    assert_int_equal(d.req.num, 0); /* the node's default */
    assert_int_equal(parse("POST", "/api/search",
                           "{\"key\": \"my song\", \"timeout_ms\": 1500}",
                           &d), 0);
    assert_string_equal(d.req.arg, "my song");
    assert_int_equal(d.req.num, 1500);
    assert_int_equal(parse("POST", "/api/search",
                           "{\"key\": \"a\", \"timeout_ms\": null}", &d), 0);
    assert_int_equal(d.req.num, 0);
    assert_int_equal(parse("POST", "/api/search",
                           "{\"key\": \"a\", \"timeout_ms\": 600000}", &d), 0);
    assert_int_equal(d.req.num, API_SEARCH_MS_MAX);
    assert_int_equal(parse("POST", "/api/search",
                           "{\"key\": \"a\", \"timeout_ms\": 600001}", &d),
                     400);
    assert_non_null(strstr(d.why, "timeout_ms"));
    assert_int_equal(parse("POST", "/api/search",
                           "{\"key\": \"a\", \"timeout_ms\": -1}", &d), 400);
    assert_int_equal(parse("POST", "/api/search",
                           "{\"key\": \"a\", \"timeout_ms\": 1e999}", &d),
                     400);
    assert_int_equal(parse("POST", "/api/search",
                           "{\"key\": \"a\", \"timeout_ms\": \"5\"}", &d),
                     400);
    assert_int_equal(parse("POST", "/api/search",
                           "{\"key\": \"a\", \"timeout_ms\": true}", &d), 400);
    /* at most API_KEY_MAX bytes */
    memset(key, 'k', API_KEY_MAX);
    key[API_KEY_MAX] = '\0';
    snprintf(body, sizeof(body), "{\"key\": \"%s\"}", key);
    assert_int_equal(parse("POST", "/api/search", body, &d), 0);
    snprintf(body, sizeof(body), "{\"key\": \"%sk\"}", key);
    assert_int_equal(parse("POST", "/api/search", body, &d), 400);
}

static void test_get(void **state)
{
    static const char *bad[] = {
        "../x", "/etc/passwd", "a/../../etc/passwd", "a//b", "./a", "a/.",
        "a\\\\b", "a/",
    };
    char body[SHOAL_FILES_NAME_MAX + 64], name[SHOAL_FILES_NAME_MAX + 1];
    api_decision d;
    size_t i;

    (void)state;
    assert_int_equal(parse("POST", "/api/get",
                           "{\"what\": \"albums/blue.flac\"}", &d), 0);
    assert_int_equal(d.req.endpoint, API_GET);
    assert_string_equal(d.req.arg, "albums/blue.flac");
    assert_int_equal(parse("POST", "/api/get",
                           "{\"what\": \"0123456789abcdef0123456789abcdef"
                           "0123456789abcdef0123456789abcdef\"}", &d), 0);
    assert_int_equal(strlen(d.req.arg), 64);
    assert_int_equal(parse("POST", "/api/get", "{\"what\": \"\\u00e9t\\u00e9"
                                               ".ogg\"}", &d), 0);
    assert_string_equal(d.req.arg, "\xc3\xa9t\xc3\xa9.ogg");
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(body, sizeof(body), "{\"what\": \"%s\"}", bad[i]);
        assert_int_equal(parse("POST", "/api/get", body, &d), 400);
        assert_non_null(strstr(d.why, "neither a hash nor a file name"));
    }
    assert_int_equal(parse("POST", "/api/get", "{\"what\": 1}", &d), 400);
    /* at most SHOAL_FILES_NAME_MAX bytes */
    memset(name, 'n', SHOAL_FILES_NAME_MAX);
    name[SHOAL_FILES_NAME_MAX] = '\0';
    snprintf(body, sizeof(body), "{\"what\": \"%s\"}", name);
    assert_int_equal(parse("POST", "/api/get", body, &d), 0);
    snprintf(body, sizeof(body), "{\"what\": \"%sn\"}", name);
    assert_int_equal(parse("POST", "/api/get", body, &d), 400);
    assert_non_null(strstr(d.why, "too long"));
}

static void test_transfer(void **state)
{
    static const char *bad[] = {
        "/api/transfers/",   "/api/transfers/0",    "/api/transfers/01",
        "/api/transfers/x",  "/api/transfers/1x",   "/api/transfers/-1",
        "/api/transfers/+1", "/api/transfers/ 1",   "/api/transfers/1/",
        "/api/transfers/4294967296", "/api/transfers/99999999999999999999",
    };
    api_decision d;
    size_t i;

    (void)state;
    assert_int_equal(parse("GET", "/api/transfers/7", "", &d), 0);
    assert_int_equal(d.req.endpoint, API_TRANSFER);
    assert_int_equal(d.req.num, 7);
    assert_string_equal(d.req.arg, "");
    assert_int_equal(parse("GET", "/api/transfers/4294967295", "", &d), 0);
    assert_int_equal(d.req.num, 4294967295u);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(parse("GET", bad[i], "", &d), 404);
        assert_non_null(strstr(d.why, "/api/transfers/<number>"));
    }
    assert_int_equal(parse("DELETE", "/api/transfers/7", "", &d), 405);
    assert_string_equal(d.allow, "GET");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_headers_accepted),
        cmocka_unit_test(test_headers_host),
        cmocka_unit_test(test_headers_origin),
        cmocka_unit_test(test_headers_token),
        cmocka_unit_test(test_headers_length),
        cmocka_unit_test(test_routes),
        cmocka_unit_test(test_endpoints_without_arguments),
        cmocka_unit_test(test_body_size),
        cmocka_unit_test(test_body_json),
        cmocka_unit_test(test_search_args),
        cmocka_unit_test(test_body_nul),
        cmocka_unit_test(test_join),
        cmocka_unit_test(test_peer_remove),
        cmocka_unit_test(test_search),
        cmocka_unit_test(test_get),
        cmocka_unit_test(test_transfer),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
