/* The client commands: `shoal search`, `get`, `files` and `peers` talk to
 * a running node through its control API (api.h), over HTTP with libcurl. */
#ifndef SHOAL_APP_CLIENT_H
#define SHOAL_APP_CLIENT_H

typedef struct client_opts {
    const char *api;          /* HOST:PORT of the API (API_DEFAULT_ADDR) */
    const char *home;         /* the node's home; NULL: home_dir's default */
    const char *token_file;   /* NULL: HOME/api-HOST-PORT.token */
    int json;                 /* print the API's JSON instead of tables */
    long timeout_ms;          /* 0: the command's own default */
} client_opts;

/* Parses the options every client command takes (--api, --home,
 * --token-file, --json, --timeout, --help) and checks that from min_pos to max_pos
 * positional arguments follow. Returns the index of the first one, or -1
 * after printing usage to stderr (exit 2). --help prints usage to stdout
 * and exits 0. */
int client_parse(int argc, char **argv, const char *usage, client_opts *o,
                 int min_pos, int max_pos);

/* The commands; each returns the program's exit code. */
int client_search(int argc, char **argv);
int client_get(int argc, char **argv);
int client_files(int argc, char **argv);
/* `shoal peers` without an address: the API's peer table (main.c keeps
 * `shoal peers HOST:PORT`, the classic LIST, and calls this otherwise). */
int client_peers(const client_opts *o);

#endif
