/* The shoal program's control API: HTTP and JSON on loopback, for the web
 * UI and for the `shoal search/get/peers/files` commands.
 *
 * libmicrohttpd serves every connection on a thread of its own; the shoal
 * API is loop-thread only, so each request is posted to the node's loop
 * (shoal_post) and its thread waits for the loop to fill in the answer.
 * Only the local user may drive it: loopback by default, the Host and
 * Origin headers must name the API itself (DNS rebinding, cross-site
 * requests), and every /api/ request carries the token that api_start
 * writes to a file only its user can read. */
#ifndef SHOAL_APP_API_H
#define SHOAL_APP_API_H

#include <stddef.h>

#include "api_input.h" /* API_TOKEN_HEADER, API_TOKEN_HEX, API_MAX_BODY */
#include "shoal.h"
#include "shoal/files.h"
#include "shoal/peerstore.h"

#define API_DEFAULT_ADDR "127.0.0.1:7601"

typedef struct api api;

typedef struct api_config {
    const char *addr;         /* "HOST:PORT", "[V6]:PORT"; port 0 picks one */
    const char *home;         /* the node's home (home.h); NULL: default */
    const char *token_file;   /* NULL: HOME/api-HOST-PORT.token */
    const char *share_dir;    /* shown by /api/status; may be NULL */
    const char *download_dir;
    uint32_t search_timeout_ms; /* the files service's default */
    shoal_peerstore *peerstore; /* shown by /api/peers; may be NULL */
} api_config;

/* Binds cfg->addr, writes the token file (0600) and starts serving node,
 * files and the peer store (all must outlive the loop's run). Main thread, before the loop runs.
 * On failure returns a negative code and writes why to err. */
int api_start(api **out, shoal_node *node, shoal_files *files,
              const api_config *cfg, char *err, size_t errsize);

/* "http://HOST:PORT/#token=TOKEN": the web UI, ready to open. */
const char *api_url(const api *a);

/* Once the loop has stopped: answers every waiting request with 503, stops
 * the HTTP threads and removes the token file. */
void api_stop(api *a);

/* After shoal_node_free(): by then every posted job has run and every
 * callback has fired, so none can still reach the API. NULL: nothing. */
void api_free(api *a);

/* Shared with the client commands. */

/* Splits "HOST:PORT" or "[V6]:PORT" (brackets removed). 0 or -1. */
int api_split_addr(const char *addr, char *host, size_t hostsize,
                   unsigned *port);

/* HOME/api-HOST-PORT.token, home being the node's home folder, or NULL
 * for the default one (home_dir). 0, or -1 without a home. */
int api_default_token_file(const char *home, const char *host,
                           unsigned port, char *out, size_t size);

#endif
