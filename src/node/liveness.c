/* The liveness check: PING every known peer; a peer that cannot be
 * connected to, or does not finish the exchange by its deadline, is
 * removed. A peer that answers anything, or just closes, is alive. On a
 * secure node an entry whose id is not a peer id can never be pinged
 * (its address cannot name it): it is removed at once. */
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"
#include "node/node_internal.h"

typedef struct check_run {
    shoal_node *node;
    shoal_check_cb cb;
    void *user;
    size_t pending;
    size_t removed;
} check_run;

typedef struct check_probe {
    check_run *run;
    char id[SHOAL_ID_MAX];
} check_probe;

static void check_finish(check_run *run)
{
    if (run->cb != NULL)
        run->cb(run->node, run->removed, run->user);
    free(run);
}

static void probe_pong(shoal_node *node, int status, uint64_t rtt_us,
                       void *user);

static void probe_ended(int status, void *user)
{
    check_probe *probe = user;
    check_run *run = probe->run;

    if (status < 0 && status != SHOAL_ECANCELED &&
        shoal_peer_remove(run->node, probe->id) == 0) {
        run->removed++;
        SHOAL_LOG(&run->node->log, SHOAL_LOG_INFO,
                  "peer_dead id=%s error=\"%s\"", probe->id,
                  shoal_strerror(status));
    }
    free(probe);
    if (--run->pending == 0)
        check_finish(run);
}

static void probe_pong(shoal_node *node, int status, uint64_t rtt_us,
                       void *user)
{
    (void)node;
    (void)rtt_us;
    probe_ended(status, user);
}

int shoal_peers_check(shoal_node *node, shoal_check_cb cb, void *user)
{
    SHOAL_LOOP_ONLY(node, SHOAL_EBUSY);
    check_run *run;
    size_t i, n = shoal_peer_count(node);

    if (node->stopped)
        return SHOAL_ECANCELED;
    run = calloc(1, sizeof(*run));
    if (run == NULL)
        return SHOAL_ENOMEM;
    run->node = node;
    run->cb = cb;
    run->user = user;
    run->pending = 1; /* held until every probe is started */
    /* secure: entries that are not peer ids go first, walking down so
     * that removal does not skip the next entry */
    for (i = n; node->secure != NULL && i-- > 0;) {
        const shoal_peer *p = shoal_peer_at(node, i);
        uint8_t bytes[64];
        char id[SHOAL_ID_MAX];
        if (p == NULL ||
            shoal_peer_id_to_bytes(p->id, bytes, sizeof(bytes)) >= 0)
            continue;
        strcpy(id, p->id);
        if (shoal_peer_remove(node, id) == 0) {
            run->removed++;
            SHOAL_LOG(&node->log, SHOAL_LOG_INFO,
                      "peer_removed id_len=%zu why=\"not a peer id\"",
                      strlen(id));
        }
    }
    n = shoal_peer_count(node);
    for (i = 0; i < n; i++) {
        const shoal_peer *p = shoal_peer_at(node, i);
        char addr[SHOAL_HOST_MAX + SHOAL_ID_MAX + 32];
        uint32_t timeout = node->cfg.connect_timeout_ms + node->cfg.io_timeout_ms;
        int rc;
        check_probe *probe = calloc(1, sizeof(*probe));
        if (probe == NULL)
            break;
        probe->run = run;
        strcpy(probe->id, p->id);
        shoal_node_peer_addr(node, p, addr, sizeof(addr));
        run->pending++;
        /* classic: a PING exchange; secure: libp2p's ping */
        rc = node->secure == NULL
                 ? shoal_request(node, addr, "PING", NULL, 0, timeout, NULL,
                                 probe_ended, probe)
                 : shoal_ping(node, addr, timeout, probe_pong, probe);
        if (rc < 0) {
            run->pending--;
            free(probe);
        }
    }
    if (--run->pending == 0)
        check_finish(run);
    return 0;
}
