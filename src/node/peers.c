#include "node/peers.h"

#include <stdlib.h>
#include <string.h>

void shoal_peertable_init(shoal_peertable *t, size_t max)
{
    memset(t, 0, sizeof(*t));
    t->max = max;
}

void shoal_peertable_free(shoal_peertable *t)
{
    free(t->peers);
    memset(t, 0, sizeof(*t));
}

static ptrdiff_t find(const shoal_peertable *t, const char *id)
{
    size_t i;

    for (i = 0; i < t->count; i++)
        if (strcmp(t->peers[i].id, id) == 0)
            return (ptrdiff_t)i;
    return -1;
}

static int valid_text(const char *s, size_t max)
{
    return s != NULL && s[0] != '\0' && strlen(s) < max;
}

int shoal_peertable_full(const shoal_peertable *t)
{
    return t->max != 0 && t->count >= t->max;
}

int shoal_peertable_add(shoal_peertable *t, const char *id, const char *host,
                        uint16_t port)
{
    shoal_peer *p;

    if (!valid_text(id, SHOAL_ID_MAX) || !valid_text(host, SHOAL_HOST_MAX))
        return SHOAL_EINVAL;
    if (find(t, id) >= 0)
        return SHOAL_EEXIST;
    if (shoal_peertable_full(t))
        return SHOAL_EFULL;
    if (t->count == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        shoal_peer *grown = realloc(t->peers, cap * sizeof(*grown));
        if (grown == NULL)
            return SHOAL_ENOMEM;
        t->peers = grown;
        t->cap = cap;
    }
    p = &t->peers[t->count++];
    strcpy(p->id, id);
    strcpy(p->host, host);
    p->port = port;
    return 0;
}

int shoal_peertable_remove(shoal_peertable *t, const char *id)
{
    ptrdiff_t i = id != NULL ? find(t, id) : -1;

    if (i < 0)
        return SHOAL_ENOENT;
    memmove(&t->peers[i], &t->peers[i + 1],
            (t->count - (size_t)i - 1) * sizeof(t->peers[0]));
    t->count--;
    return 0;
}

const shoal_peer *shoal_peertable_get(const shoal_peertable *t,
                                      const char *id)
{
    ptrdiff_t i = id != NULL ? find(t, id) : -1;

    return i < 0 ? NULL : &t->peers[i];
}

const shoal_peer *shoal_peertable_at(const shoal_peertable *t, size_t i)
{
    return i < t->count ? &t->peers[i] : NULL;
}
