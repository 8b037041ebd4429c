/* A retry schedule, without the network or a clock (the tracker client's
 * for each tracker): a failing peer's delay doubles from a minimum up to a
 * maximum and drops back to nothing on success; every wait is jittered by
 * up to a quarter either way, so that many nodes started together do not
 * beat in step (peer exchange jitters its interval the same way). The
 * random source is a parameter, so tests pick the jitter. */
#ifndef SHOAL_CORE_BACKOFF_H
#define SHOAL_CORE_BACKOFF_H

#include <stdint.h>

/* A uniform random number in [0, upper) (upper >= 1). */
typedef uint32_t (*shoal_rand_fn)(uint32_t upper, void *user);

/* libsodium's randombytes_uniform; user is ignored. */
uint32_t shoal_rand_sodium(uint32_t upper, void *user);

typedef struct shoal_backoff {
    uint32_t min_ms, max_ms;
    uint32_t cur_ms;          /* the delay now, before jitter; 0: not failing */
    uint32_t failures;        /* in a row, since the last success */
    shoal_rand_fn rand;
    void *rand_user;
} shoal_backoff;

/* 0 when min_ms .. max_ms is a usable schedule, -1 when it is not: a
 * minimum of 0 would retry a dead tracker at once, every tick, and a
 * minimum above the maximum has no meaning. */
int shoal_backoff_check(uint32_t min_ms, uint32_t max_ms);

/* Not failing. rand NULL: shoal_rand_sodium. The schedule must have passed
 * shoal_backoff_check(). */
void shoal_backoff_init(shoal_backoff *b, uint32_t min_ms, uint32_t max_ms,
                      shoal_rand_fn rand, void *rand_user);

/* The delay after prev: min when prev is 0, else doubled, at most max.
 * Never overflows, whatever the values. */
uint32_t shoal_backoff_step(uint32_t prev, uint32_t min_ms, uint32_t max_ms);

/* d give or take a quarter (d - d/4 .. d + d/4, uniform), never 0 and never
 * past UINT32_MAX. */
uint32_t shoal_jitter(uint32_t d, shoal_rand_fn rand, void *rand_user);

/* A failure: the delay steps up; returns the wait before the next try
 * (the new delay, jittered). */
uint32_t shoal_backoff_fail(shoal_backoff *b);

/* A success: back to not failing (the next failure waits min again). */
void shoal_backoff_reset(shoal_backoff *b);

#endif
