/* A retry schedule with jitter (core/backoff.h). */
#include <sodium.h>

#include "core/backoff.h"

uint32_t shoal_rand_sodium(uint32_t upper, void *user)
{
    (void)user;
    return randombytes_uniform(upper);
}

int shoal_backoff_check(uint32_t min_ms, uint32_t max_ms)
{
    return min_ms == 0 || min_ms > max_ms ? -1 : 0;
}

void shoal_backoff_init(shoal_backoff *b, uint32_t min_ms, uint32_t max_ms,
                      shoal_rand_fn rand, void *rand_user)
{
    b->min_ms = min_ms;
    b->max_ms = max_ms;
    b->cur_ms = 0;
    b->failures = 0;
    b->rand = rand != NULL ? rand : shoal_rand_sodium;
    b->rand_user = rand_user;
}

uint32_t shoal_backoff_step(uint32_t prev, uint32_t min_ms, uint32_t max_ms)
{
    uint32_t d;

    if (prev == 0)
        d = min_ms;
    else
        d = prev > max_ms / 2 ? max_ms : 2 * prev; /* 2 * prev fits */
    return d > max_ms ? max_ms : d;
}

uint32_t shoal_jitter(uint32_t d, shoal_rand_fn rand, void *rand_user)
{
    uint32_t q = d / 4;       /* 2q + 1 <= 2^31 + 1: fits */
    uint64_t w;

    if (d == 0)
        return 1;             /* a wait of 0 would spin */
    if (q == 0)
        return d;
    /* d - q >= 1 for d >= 1; in 64 bits, d + q cannot wrap */
    w = (uint64_t)(d - q) + rand(2 * q + 1, rand_user) % (2 * q + 1);
    return w > UINT32_MAX ? UINT32_MAX : (uint32_t)w;
}

uint32_t shoal_backoff_fail(shoal_backoff *b)
{
    b->cur_ms = shoal_backoff_step(b->cur_ms, b->min_ms, b->max_ms);
    if (b->failures < UINT32_MAX)
        b->failures++;
    return shoal_jitter(b->cur_ms, b->rand, b->rand_user);
}

void shoal_backoff_reset(shoal_backoff *b)
{
    b->cur_ms = 0;
    b->failures = 0;
}
