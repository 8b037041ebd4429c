/* Large message buffers: a hint to the kernel.
 *
 * A large message is copied once, front to back, into memory that is fresh
 * every time (glibc serves big allocations with a mapping of their own and
 * unmaps it on free). Faulting that in 4 KiB at a time costs more than the
 * copy itself: on the benchmark machine, copying 256 MiB into fresh memory
 * took ~150 ms with 4 KiB pages and ~45 ms with transparent huge pages, and
 * bench/classic_throughput went from ~0.23 to ~0.6-0.7 of raw TCP, since
 * both the client's copy and the server's buffer are such memory. Linux
 * gives huge pages to a mapping only when asked
 * (THP mode "madvise", the common default), so we ask, for buffers large
 * enough to have their own mapping. The advice covers exactly that mapping,
 * so it never splits it and realloc's mremap() keeps working. Elsewhere this
 * is a no-op. */
#ifndef SHOAL_CORE_BIGBUF_H
#define SHOAL_CORE_BIGBUF_H

#include <stddef.h>
#include <stdint.h>

#if defined(__linux__) && defined(__GLIBC__)
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>
#endif

/* From this size on, glibc always maps an allocation of its own (its mmap
 * threshold never grows past 32 MiB on 64-bit systems). */
#define SHOAL_BIGBUF_MIN (32u * 1024 * 1024)

/* p: what malloc()/realloc() returned for len bytes. */
static inline void shoal_bigbuf_advise(void *p, size_t len)
{
#if defined(__linux__) && defined(__GLIBC__) && defined(MADV_HUGEPAGE)
    if (p != NULL && len >= SHOAL_BIGBUF_MIN) {
        uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
        uintptr_t start = (uintptr_t)p & ~(page - 1);
        uintptr_t end = ((uintptr_t)p + malloc_usable_size(p) + page - 1) &
                        ~(page - 1);
        (void)madvise((void *)start, end - start, MADV_HUGEPAGE);
    }
#else
    (void)p;
    (void)len;
#endif
}

#endif
