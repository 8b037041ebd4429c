/* A client that just wants an answer: sends one ECHO and prints every reply.
 * The node's loop runs in a thread; this thread makes a blocking request.
 * Run: echo_client ADDR TEXT   (ADDR: what echo_peer printed, or HOST:PORT
 * for a classic peer) */
#include <stdio.h>
#include <string.h>

#include "shoal.h"

static void run_loop(void *node)
{
    shoal_node_run(node);
}

int main(int argc, char **argv)
{
    shoal_config cfg;
    shoal_node *node;
    shoal_replies replies;
    int answered;
    uv_thread_t loop_thread;
    size_t i;
    int rc;

    if (argc != 3)
        return fprintf(stderr, "usage: echo_client ADDR TEXT\n"), 2;
    shoal_config_init(&cfg);     /* no listen address: a client only */
    cfg.handle_signals = 0;
    if ((rc = shoal_node_new(&node, NULL, &cfg)) < 0)
        return fprintf(stderr, "echo_client: %s\n", shoal_strerror(rc)), 1;
    uv_thread_create(&loop_thread, run_loop, node);

    rc = shoal_request_sync(node, argv[1], "ECHO", argv[2], strlen(argv[2]),
                            5000 /* ms */, &replies);
    for (i = 0; i < replies.count; i++)
        printf("%s %.*s\n", replies.msgs[i].type, (int)replies.msgs[i].len,
               (const char *)replies.msgs[i].data);
    if (rc < 0)
        fprintf(stderr, "echo_client: %s\n", shoal_strerror(rc));
    answered = replies.count > 0;
    shoal_replies_free(&replies);

    shoal_node_stop(node);
    uv_thread_join(&loop_thread);
    shoal_node_free(node);
    return rc < 0 || !answered;
}
