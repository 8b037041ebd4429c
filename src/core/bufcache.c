/* Buffers of one size kept for reuse (core/bufcache.h). */
#include "core/bufcache.h"

#include <stdlib.h>

#include "shoal.h"

int shoal_bufcache_init(shoal_bufcache *c, size_t size, size_t max)
{
    c->size = size;
    c->max = max;
    c->n = 0;
    c->used_ns = uv_hrtime();
    if (size == 0 || max > SHOAL_BUFCACHE_MAX)
        return SHOAL_EINVAL;
    return uv_mutex_init(&c->mu) < 0 ? SHOAL_ENOMEM : 0;
}

void shoal_bufcache_destroy(shoal_bufcache *c)
{
    shoal_bufcache_trim(c);
    uv_mutex_destroy(&c->mu);
}

void *shoal_bufcache_get(shoal_bufcache *c)
{
    void *p = NULL;

    uv_mutex_lock(&c->mu);
    c->used_ns = uv_hrtime();
    if (c->n > 0)
        p = c->kept[--c->n];
    uv_mutex_unlock(&c->mu);
    return p != NULL ? p : malloc(c->size);
}

void shoal_bufcache_put(shoal_bufcache *c, void *p)
{
    if (p == NULL)
        return;
    uv_mutex_lock(&c->mu);
    c->used_ns = uv_hrtime();
    if (c->n < c->max) {
        c->kept[c->n++] = p;
        p = NULL;
    }
    uv_mutex_unlock(&c->mu);
    free(p);
}

static void trim(shoal_bufcache *c, uint64_t idle_ns)
{
    void *all[SHOAL_BUFCACHE_MAX];
    size_t n = 0;

    uv_mutex_lock(&c->mu);
    if (uv_hrtime() - c->used_ns >= idle_ns)
        n = c->n;
    for (size_t i = 0; i < n; i++)
        all[i] = c->kept[i];
    c->n -= n;
    uv_mutex_unlock(&c->mu);
    for (size_t i = 0; i < n; i++)
        free(all[i]);
}

void shoal_bufcache_trim(shoal_bufcache *c)
{
    trim(c, 0);
}

void shoal_bufcache_trim_idle(shoal_bufcache *c, uint32_t idle_ms)
{
    trim(c, (uint64_t)idle_ms * 1000000);
}

size_t shoal_bufcache_kept(shoal_bufcache *c)
{
    size_t n;

    uv_mutex_lock(&c->mu);
    n = c->n;
    uv_mutex_unlock(&c->mu);
    return n;
}
