/* A program as a user of the installed library writes it: only the
 * installed headers (<shoal.h>, <shoal/files.h>), built by
 * check_install.sh with pkg-config (shared and static) and with CMake's
 * find_package. It does real work: an echo node with the file-sharing
 * service on, a second node in its own thread that sends it a request with
 * shoal_request_sync, and the reply checked. Exits 0 only if all of it
 * worked; prints the library version the header says and the reply. */
#include <stdio.h>
#include <string.h>

#include <shoal.h>
#include <shoal/files.h>

static void on_echo(shoal_req *req, const shoal_msg *msg, void *user)
{
    (void)user;
    shoal_reply(req, "REPL", msg->data, msg->len);
}

static void run_loop(void *node)
{
    shoal_node_run(node);
}

typedef struct asker {
    shoal_node *client, *server;
    const char *addr;
    int ok;
} asker;

/* From a thread of its own, as a program that wants "send and wait" does;
 * then stops both nodes (any thread). */
static void ask(void *user)
{
    asker *a = user;
    shoal_replies replies;
    int rc;

    rc = shoal_request_sync(a->client, a->addr, "ECHO", "hello", 5, 10000,
                            &replies);
    a->ok = rc == 0 && replies.count == 1 &&
            strcmp(replies.msgs[0].type, "REPL") == 0 &&
            replies.msgs[0].len == 5 &&
            memcmp(replies.msgs[0].data, "hello", 5) == 0;
    if (!a->ok)
        fprintf(stderr, "app: request to %s: %s, %zu replies\n", a->addr,
                shoal_strerror(rc), replies.count);
    shoal_replies_free(&replies);
    shoal_node_stop(a->client);
    shoal_node_stop(a->server);
}

static int fail(const char *what, int rc)
{
    fprintf(stderr, "app: %s: %s\n", what, shoal_strerror(rc));
    return 1;
}

int main(int argc, char **argv)
{
    const char *share = argc > 1 ? argv[1] : NULL;
    shoal_config cfg;
    shoal_files_config fcfg;
    shoal_node *server, *client;
    shoal_files *files;
    uv_thread_t client_thread, ask_thread;
    char addr[512];
    asker a;
    int rc;

    shoal_config_init(&cfg);
    cfg.listen = "/ip4/127.0.0.1/tcp/0";
    cfg.handle_signals = 0;
    cfg.log_level = SHOAL_LOG_WARN;
    if ((rc = shoal_node_new(&server, NULL, &cfg)) < 0)
        return fail("server node", rc);
    shoal_handle(server, "ECHO", on_echo, NULL);
    /* a service from include/shoal/: its config grows by the same rule */
    shoal_files_config_init(&fcfg);
    fcfg.share_dir = share;
    if ((rc = shoal_files_new(&files, server, &fcfg)) < 0)
        return fail("files service", rc);
    if (shoal_files_name_ok("a/b.txt", 7) != 0 ||
        shoal_files_name_ok("../b.txt", 8) == 0)
        return fprintf(stderr, "app: shoal_files_name_ok is wrong\n"), 1;
    if ((rc = shoal_node_addr(server, addr, sizeof(addr))) < 0)
        return fail("server address", rc);

    cfg.listen = NULL; /* the client only dials */
    if ((rc = shoal_node_new(&client, NULL, &cfg)) < 0)
        return fail("client node", rc);
    uv_thread_create(&client_thread, run_loop, client);
    a.client = client;
    a.server = server;
    a.addr = addr;
    a.ok = 0;
    uv_thread_create(&ask_thread, ask, &a);
    rc = shoal_node_run(server); /* until the asker stops it */
    shoal_files_free(files);     /* on the server's loop thread */
    uv_thread_join(&ask_thread);
    uv_thread_join(&client_thread);
    shoal_node_free(client);
    shoal_node_free(server);
    if (rc < 0)
        return fail("server run", rc);
    if (a.ok)
        printf("shoal %d.%d.%d: %s answered REPL hello\n",
               SHOAL_VERSION_MAJOR, SHOAL_VERSION_MINOR, SHOAL_VERSION_PATCH,
               addr);
    return a.ok ? 0 : 1;
}
