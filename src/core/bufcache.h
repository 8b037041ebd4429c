/* Buffers of one size kept for reuse, from any thread.
 *
 * Fresh memory costs a page fault and a zeroed page per 4 KiB the first
 * time it is written: for a 1 MiB buffer filled once and freed, more than
 * the copy that fills it (bench/file_transfer counted ~1.2 faults per 4 KiB
 * moved when every chunk had a buffer of its own). A cache hands the same
 * few buffers round instead. It keeps at most max; shoal_bufcache_trim_idle()
 * gives the kept ones back once a burst is over. */
#ifndef SHOAL_CORE_BUFCACHE_H
#define SHOAL_CORE_BUFCACHE_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#define SHOAL_BUFCACHE_MAX 64

typedef struct shoal_bufcache {
    uv_mutex_t mu;
    size_t size;              /* bytes per buffer */
    size_t max;               /* kept at most (<= SHOAL_BUFCACHE_MAX) */
    size_t n;                 /* kept now */
    uint64_t used_ns;         /* uv_hrtime() of the last get or put */
    void *kept[SHOAL_BUFCACHE_MAX];
} shoal_bufcache;

/* 0, or SHOAL_EINVAL (size 0, max over SHOAL_BUFCACHE_MAX), SHOAL_ENOMEM. */
int shoal_bufcache_init(shoal_bufcache *c, size_t size, size_t max);
/* Frees what is kept. No get or put may run at the same time. */
void shoal_bufcache_destroy(shoal_bufcache *c);

/* A buffer of c->size bytes (a kept one, or a new one), or NULL. Its
 * contents are whatever the last user left. */
void *shoal_bufcache_get(shoal_bufcache *c);
/* Takes p (from shoal_bufcache_get on c; NULL: nothing) back: kept, or
 * freed when max are kept. */
void shoal_bufcache_put(shoal_bufcache *c, void *p);
/* Frees every kept buffer; _idle only when there was no get or put for
 * idle_ms (for a timer: the burst is over). */
void shoal_bufcache_trim(shoal_bufcache *c);
void shoal_bufcache_trim_idle(shoal_bufcache *c, uint32_t idle_ms);
/* How many are kept now. */
size_t shoal_bufcache_kept(shoal_bufcache *c);

#endif
