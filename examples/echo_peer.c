/* An echo peer: answers every ECHO message with a REPL carrying the same
 * bytes, over secure connections (add cfg.classic = 1 for the classic wire).
 * Run: echo_peer [LISTEN]   (default /ip4/127.0.0.1/tcp/9000) */
#include <stdio.h>

#include "shoal.h"

static void on_echo(shoal_req *req, const shoal_msg *msg, void *user)
{
    (void)user;
    shoal_reply(req, "REPL", msg->data, msg->len); /* zero or more replies */
}

int main(int argc, char **argv)
{
    shoal_config cfg;
    shoal_node *node;
    char addr[512];
    int rc;

    shoal_config_init(&cfg);
    cfg.listen = argc > 1 ? argv[1] : "/ip4/127.0.0.1/tcp/9000";
    rc = shoal_node_new(&node, NULL /* own loop */, &cfg);
    if (rc < 0)
        return fprintf(stderr, "echo_peer: %s\n", shoal_strerror(rc)), 1;
    shoal_handle(node, "ECHO", on_echo, NULL);
    shoal_node_addr(node, addr, sizeof(addr));
    printf("listening on %s\n", addr); /* .../p2p/<peer id> */
    fflush(stdout);
    rc = shoal_node_run(node); /* until shoal_node_stop() or Ctrl-C */
    shoal_node_free(node);
    return rc < 0;
}
