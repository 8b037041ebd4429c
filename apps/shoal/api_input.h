/* The control API's request input, checked and parsed: everything the API
 * decides from what libmicrohttpd hands it (method, path, the Host,
 * Origin, token and Content-Length headers, the body's bytes) before any
 * of it reaches the node.
 *
 * Pure functions: no network, no threads, nothing kept between calls, so
 * that the unit test (tests/unit/test_api_input.c) and the fuzz target
 * (tests/fuzz/fuzz_api.c) run them alone, and api.c only carries out what
 * they decide. Any thread. */
#ifndef SHOAL_APP_API_INPUT_H
#define SHOAL_APP_API_INPUT_H

#include <stddef.h>
#include <stdint.h>

#include "shoal.h"
#include "shoal/files.h"

#define API_TOKEN_HEADER "X-Shoal-Token"
#define API_TOKEN_HEX 64              /* 32 random bytes, hex */
#define API_MAX_BODY (64 * 1024)      /* larger request bodies get 413 */

#define API_ADDR_MAX 1024             /* longest "addr" to join, bytes */
#define API_KEY_MAX 1024              /* longest search key, bytes */
#define API_SEARCH_MS_MAX 600000      /* longest "timeout_ms" of a search */
#define API_ARG_MAX 1024              /* the longest of any argument */
#define API_WHY_MAX 512               /* a refusal's text, with its NUL */
#define API_ALLOW_MAX 64              /* a 405's Allow header, with its NUL */

/* What a request is for. */
typedef enum api_endpoint {
    API_PAGE,           /* not under /api/: a file of the web UI */
    API_STATUS,         /* GET /api/status */
    API_PEERS,          /* GET /api/peers */
    API_JOIN,           /* POST /api/peers {"addr": ...} */
    API_PEER_REMOVE,    /* DELETE /api/peers/<id> */
    API_FILES,          /* GET /api/files */
    API_SEARCH,         /* POST /api/search {"key": ..., "timeout_ms": ...,
                         * "wait": false} */
    API_SEARCH_GET,     /* GET /api/search/<id>: a search started with
                         * "wait": false, its results so far */
    API_GET,            /* POST /api/get {"what": ...} */
    API_TRANSFERS,      /* GET /api/transfers */
    API_TRANSFER,       /* GET /api/transfers/<id> */
    API_ENDPOINTS       /* how many there are */
} api_endpoint;

/* A request that passed every check, and its arguments. */
typedef struct api_request {
    api_endpoint endpoint;
    /* API_JOIN: the address (at most API_ADDR_MAX bytes); API_PEER_REMOVE:
     * the peer id (shorter than SHOAL_ID_MAX, no '/'); API_SEARCH: the key
     * (at most API_KEY_MAX, white space around it removed); API_GET: a hash or a name that passes
     * shoal_files_name_ok. Never empty for those, "" for the others. */
    char arg[API_ARG_MAX + 1];
    /* API_SEARCH: timeout_ms, 0 (the node's default) to API_SEARCH_MS_MAX;
     * API_TRANSFER, API_SEARCH_GET: the id, 1 or more. 0 for the others. */
    uint32_t num;
    /* API_SEARCH: 1 when "wait" is false: answered at once with the
     * search's id, its results read with API_SEARCH_GET as they come.
     * 0 for the others. */
    int nowait;
} api_request;

/* What to do with a request: refuse it with status (400..599) and why
 * (req is then all zero), or carry out req. */
typedef struct api_decision {
    unsigned status;            /* 0: accepted */
    char why[API_WHY_MAX];      /* the refusal's text; "" when accepted */
    char allow[API_ALLOW_MAX];  /* a 405's Allow header; "" otherwise */
    api_request req;            /* when accepted, and once the body is in */
} api_decision;

/* Who the API is, which the headers must name. Borrowed. */
typedef struct api_input_self {
    const char *hostport;       /* its own "HOST:PORT" or "[V6]:PORT" */
    unsigned port;              /* "localhost:PORT" is accepted as well */
    const char *token;          /* its API_TOKEN_HEX hex characters */
} api_input_self;

/* A request's headers, as MHD gives them: NULL where it has none. */
typedef struct api_input_headers {
    const char *host;
    const char *origin;
    const char *token;          /* API_TOKEN_HEADER */
    const char *content_length;
} api_input_headers;

/* The checks made on the headers alone, so that a refused request is
 * answered before its body is read: Host (DNS rebinding), Origin (other
 * sites), the token (under /api/ only: the UI's pages are public) and
 * Content-Length. Writes the decision (d->req stays zero: the request is
 * known once its body is in) and returns d->status: 0, 403 or 413. */
unsigned api_input_check_headers(const api_input_self *self,
                                 const char *path,
                                 const api_input_headers *h,
                                 api_decision *d);

/* Once the whole body is in (len bytes at body, which need not end with a
 * NUL; body may be NULL when len is 0): the endpoint for method and path
 * and its checked arguments, in d->req. A body over API_MAX_BODY is
 * refused, so a caller may stop keeping bytes one past it. Writes the
 * decision and returns d->status: 0, 400, 404, 405 or 413. */
unsigned api_input_parse(const char *method, const char *path,
                         const char *body, size_t len, api_decision *d);

#endif
