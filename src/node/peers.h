/* The known-peer table: insertion-ordered, bounded, network-free.
 * Lookups are linear, which is the right trade for tables of a few hundred
 * entries; the limit is a configuration field. */
#ifndef SHOAL_NODE_PEERS_H
#define SHOAL_NODE_PEERS_H

#include <stddef.h>

#include "shoal.h"

typedef struct shoal_peertable {
    shoal_peer *peers;   /* owned */
    size_t count;
    size_t cap;
    size_t max;          /* 0 = unlimited */
} shoal_peertable;

void shoal_peertable_init(shoal_peertable *t, size_t max);
void shoal_peertable_free(shoal_peertable *t);
/* SHOAL_EFULL, SHOAL_EEXIST, SHOAL_EINVAL or SHOAL_ENOMEM; 0 on success. */
int shoal_peertable_add(shoal_peertable *t, const char *id, const char *host,
                        uint16_t port);
int shoal_peertable_remove(shoal_peertable *t, const char *id);
const shoal_peer *shoal_peertable_get(const shoal_peertable *t,
                                      const char *id);
const shoal_peer *shoal_peertable_at(const shoal_peertable *t, size_t i);
int shoal_peertable_full(const shoal_peertable *t);

#endif
