/* The requester's identity and the safe ends of the API: shoal_req_peer
 * and shoal_req_remote in both modes. Nodes on loopback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "itest.h"

/* ---------------------------------------------------------------- pairs
 * Two nodes on one loop of the test's: a serves, b requests. */

typedef struct pair {
    uv_loop_t loop;
    shoal_node *a, *b;
    char a_addr[512];
    int a_closed, b_closed;
} pair;

static void pair_config(shoal_config *cfg, int classic)
{
    itest_secure_config(cfg, classic ? "127.0.0.1:0" : "/ip4/127.0.0.1/tcp/0",
                        0);
    cfg->classic = classic;
}

/* The serving node a gives a request request_timeout_ms (0: the default). */
static void pair_up_timeout(pair *p, int classic, uint32_t request_timeout_ms)
{
    shoal_config cfg;
    uint32_t dflt;

    memset(p, 0, sizeof(*p));
    assert_int_equal(uv_loop_init(&p->loop), 0);
    pair_config(&cfg, classic);
    dflt = cfg.request_timeout_ms;
    if (request_timeout_ms != 0)
        cfg.request_timeout_ms = request_timeout_ms;
    p->a = itest_node_new(&p->loop, &cfg);
    cfg.request_timeout_ms = dflt;
    cfg.listen = NULL;
    p->b = itest_node_new(&p->loop, &cfg);
    assert_int_equal(shoal_node_addr(p->a, p->a_addr, sizeof(p->a_addr)), 0);
}

static void pair_up(pair *p, int classic)
{
    pair_up_timeout(p, classic, 0);
}

static void on_closed_flag(shoal_node *n, void *user)
{
    (void)n;
    (*(int *)user)++;
}

/* Closes whichever nodes are still open and the loop. */
static void pair_down(pair *p)
{
    if (p->a != NULL)
        shoal_node_close(p->a, on_closed_flag, &p->a_closed);
    if (p->b != NULL)
        shoal_node_close(p->b, on_closed_flag, &p->b_closed);
    p->a = p->b = NULL;
    assert_true(itest_run_until(&p->loop, itest_int_nonzero, &p->a_closed,
                                5000));
    assert_true(itest_run_until(&p->loop, itest_int_nonzero, &p->b_closed,
                                5000));
    uv_run(&p->loop, UV_RUN_NOWAIT);
    assert_int_equal(uv_loop_close(&p->loop), 0);
}

static void request(pair *p, const char *type, const char *text,
                    uint32_t timeout_ms, itest_call *call)
{
    itest_call_init(call);
    assert_int_equal(shoal_request(p->b, p->a_addr, type, text, strlen(text),
                                   timeout_ms, itest_on_reply, itest_on_end,
                                   call),
                     0);
}

static void wait_end(pair *p, itest_call *call)
{
    if (!itest_run_until(&p->loop, itest_call_ended, call, 10000))
        fail_msg("expected the request to end within 10 s; it did not");
}

/* --------------------------------------------- who is asking, and where */

typedef struct seen {
    int calls;
    int peer_null;
    char peer[SHOAL_ID_MAX];
    char remote[SHOAL_HOST_MAX + 32];
} seen;

static void on_who(shoal_req *req, const shoal_msg *msg, void *user)
{
    seen *s = user;
    const char *peer = shoal_req_peer(req);

    (void)msg;
    s->calls++;
    s->peer_null = peer == NULL;
    snprintf(s->peer, sizeof(s->peer), "%s", peer != NULL ? peer : "");
    snprintf(s->remote, sizeof(s->remote), "%s", shoal_req_remote(req));
    shoal_reply(req, "WHO", s->peer, strlen(s->peer));
}

static void test_req_peer_secure(void **state)
{
    pair p;
    seen s = {0};
    itest_call call;

    (void)state;
    pair_up(&p, 0);
    assert_int_equal(shoal_handle(p.a, "WHO", on_who, &s), 0);
    request(&p, "WHO", "", 0, &call);
    wait_end(&p, &call);
    assert_int_equal(call.status, 0);
    assert_int_equal(s.calls, 1);
    if (s.peer_null || strcmp(s.peer, shoal_node_peer_id(p.b)) != 0)
        fail_msg("expected shoal_req_peer to be the requester's id %s; "
                 "got %s", shoal_node_peer_id(p.b),
                 s.peer_null ? "NULL" : s.peer);
    /* the socket's remote end, as a multiaddr */
    if (strncmp(s.remote, "/ip4/127.0.0.1/tcp/", 19) != 0)
        fail_msg("expected shoal_req_remote to be /ip4/127.0.0.1/tcp/PORT; "
                 "got \"%s\"", s.remote);
    itest_call_free(&call);
    pair_down(&p);
}

static void test_req_peer_classic(void **state)
{
    pair p;
    seen s = {0};
    itest_call call;

    (void)state;
    pair_up(&p, 1);
    assert_int_equal(shoal_handle(p.a, "WHO", on_who, &s), 0);
    request(&p, "WHO", "", 0, &call);
    wait_end(&p, &call);
    assert_int_equal(call.status, 0);
    assert_int_equal(s.calls, 1);
    if (!s.peer_null)
        fail_msg("expected shoal_req_peer NULL on a classic node; got %s",
                 s.peer);
    if (strncmp(s.remote, "127.0.0.1:", 10) != 0)
        fail_msg("expected shoal_req_remote to be 127.0.0.1:PORT; got "
                 "\"%s\"", s.remote);
    itest_call_free(&call);
    pair_down(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_req_peer_secure),
        cmocka_unit_test(test_req_peer_classic),
    };

    if (getenv("SHOAL_TEST") != NULL) /* one test by name, or a pattern */
        cmocka_set_test_filter(getenv("SHOAL_TEST"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
