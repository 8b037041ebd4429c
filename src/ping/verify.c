/* Known peers taken only on proof (include/shoal.h,
 * shoal_peer_add_verified): a ping to the named address, over a connection
 * whose Noise handshake proves the id, before the table hears of it. */
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"
#include "shoal.h"

typedef struct verify {
    shoal_addr addr;
    char id[SHOAL_ID_MAX];
    shoal_verified_cb cb;
    void *user;
} verify;

static void on_ping(shoal_node *node, int status, uint64_t rtt_us,
                    void *user)
{
    verify *v = user;

    (void)rtt_us;
    if (status == 0)
        status = shoal_peer_add(node, v->id, v->addr.host, v->addr.port);
    v->cb(node, status, v->id, v->user);
    free(v);
}

int shoal_peer_add_verified(shoal_node *node, const char *addr,
                            uint32_t timeout_ms, shoal_verified_cb cb,
                            void *user)
{
    verify *v;
    int rc;

    if (cb == NULL)
        return SHOAL_EINVAL;
    if ((v = calloc(1, sizeof(*v))) == NULL)
        return SHOAL_ENOMEM;
    v->cb = cb;
    v->user = user;
    if ((rc = shoal_addr_parse_named(addr, &v->addr, v->id,
                                     sizeof(v->id))) < 0 ||
        (rc = shoal_ping(node, addr, timeout_ms, on_ping, v)) < 0) {
        free(v);
        return rc;
    }
    return 0;
}
