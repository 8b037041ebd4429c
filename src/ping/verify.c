/* Known peers taken only on proof (include/shoal.h,
 * shoal_peer_add_verified): a ping to the named address, over a connection
 * whose Noise handshake proves the id, before the table hears of it. */
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"
#include "core/multiaddr.h"
#include "shoal.h"
#include "node/thread.h"

#define PING_RETRY_MS 5000 /* the second ping, over a connection that is up */

typedef struct verify {
    shoal_addr addr;
    char id[SHOAL_ID_MAX];
    char addr_text[SHOAL_MULTIADDR_MAX]; /* addr, for the second ping */
    int retried;
    shoal_verified_cb cb;
    void *user;
} verify;

static void on_ping(shoal_node *node, int status, uint64_t rtt_us,
                    void *user)
{
    verify *v = user;

    (void)rtt_us;
    /* Two nodes checking each other at once dial each other at once; one
     * of the two connections is then closed as a duplicate, and a ping on
     * it fails. The other connection proved the id: ping over it. */
    if (status != 0 && !v->retried && shoal_peer_connected(node, v->id) &&
        shoal_ping(node, v->addr_text, PING_RETRY_MS, on_ping, v) == 0) {
        v->retried = 1;
        return;
    }
    if (status == 0)
        status = shoal_peer_add(node, v->id, v->addr.host, v->addr.port);
    v->cb(node, status, v->id, v->user);
    free(v);
}

int shoal_peer_add_verified(shoal_node *node, const char *addr,
                            uint32_t timeout_ms, shoal_verified_cb cb,
                            void *user)
{
    SHOAL_LOOP_ONLY(node, SHOAL_EBUSY);
    verify *v;
    int rc;

    if (cb == NULL)
        return SHOAL_EINVAL;
    if ((v = calloc(1, sizeof(*v))) == NULL)
        return SHOAL_ENOMEM;
    v->cb = cb;
    v->user = user;
    if (addr == NULL || strlen(addr) >= sizeof(v->addr_text))
        rc = SHOAL_EBADADDR;
    else
        rc = shoal_addr_parse_named(addr, &v->addr, v->id, sizeof(v->id));
    if (rc == 0)
        snprintf(v->addr_text, sizeof(v->addr_text), "%s", addr);
    if (rc < 0 ||
        (rc = shoal_ping(node, addr, timeout_ms, on_ping, v)) < 0) {
        free(v);
        return rc;
    }
    return 0;
}
