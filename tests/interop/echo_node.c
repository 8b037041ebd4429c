/* A shoal node for interop tests: secure mode, serving /shoal/echo/1.0.0
 * (every byte back, then close when the remote closes) and /perf/1.0.0.
 * Prints "listening on <multiaddr>" and runs until SIGINT/SIGTERM.
 * Usage: echo_node [LISTEN-MULTIADDR] */
#include <stdio.h>

#include "shoal.h"

static void echo_data(shoal_stream *s, const uint8_t *data, size_t len,
                      void *user)
{
    (void)user;
    if (shoal_stream_write(s, data, len) < 0)
        shoal_stream_reset(s); /* the peer does not read what it asks for */
}

static void echo_eof(shoal_stream *s, void *user)
{
    (void)user;
    shoal_stream_close(s);
}

static void on_echo(shoal_stream *s, void *user)
{
    static const shoal_stream_cbs cbs = {.data = echo_data, .eof = echo_eof};

    (void)user;
    shoal_stream_set_cbs(s, &cbs, NULL);
}

int main(int argc, char **argv)
{
    shoal_config cfg;
    shoal_node *node;
    char addr[512];
    int rc;

    shoal_config_init(&cfg);
    cfg.listen = argc > 1 ? argv[1] : "/ip4/127.0.0.1/tcp/0";
    cfg.max_stream_buffer = 4u << 20; /* an echo holds what the window let in */
    if ((rc = shoal_node_new(&node, NULL, &cfg)) < 0)
        return fprintf(stderr, "echo_node: %s\n", shoal_strerror(rc)), 1;
    shoal_protocol_handle(node, "/shoal/echo/1.0.0", on_echo, NULL);
    shoal_perf_serve(node);
    shoal_node_addr(node, addr, sizeof(addr));
    printf("listening on %s\n", addr);
    fflush(stdout);
    rc = shoal_node_run(node);
    shoal_node_free(node);
    return rc < 0;
}
