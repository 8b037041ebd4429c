/* Buffers of one size kept for reuse (src/core/bufcache.c): reuse, the
 * bound, trimming, bad settings, and gets and puts from several threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/bufcache.h"
#include "shoal.h"

static void test_reuse_and_bound(void **state)
{
    shoal_bufcache c;
    void *a, *b, *v[5];

    (void)state;
    assert_int_equal(shoal_bufcache_init(&c, 4096, 3), 0);
    a = shoal_bufcache_get(&c);
    assert_non_null(a);
    memset(a, 7, 4096);          /* the whole size is ours */
    shoal_bufcache_put(&c, a);
    assert_int_equal(shoal_bufcache_kept(&c), 1);
    b = shoal_bufcache_get(&c);
    assert_ptr_equal(a, b);      /* the kept one comes back */
    assert_int_equal(shoal_bufcache_kept(&c), 0);
    shoal_bufcache_put(&c, b);
    shoal_bufcache_put(&c, NULL);
    assert_int_equal(shoal_bufcache_kept(&c), 1);

    for (int i = 0; i < 5; i++)
        assert_non_null(v[i] = shoal_bufcache_get(&c));
    for (int i = 0; i < 5; i++)
        shoal_bufcache_put(&c, v[i]);
    assert_int_equal(shoal_bufcache_kept(&c), 3); /* two were freed */
    shoal_bufcache_trim_idle(&c, 3600 * 1000); /* just used: kept */
    assert_int_equal(shoal_bufcache_kept(&c), 3);
    shoal_bufcache_trim_idle(&c, 0);
    assert_int_equal(shoal_bufcache_kept(&c), 0);
    shoal_bufcache_put(&c, shoal_bufcache_get(&c));
    shoal_bufcache_destroy(&c);  /* frees the one kept (valgrind checks) */
}

static void test_bad_settings(void **state)
{
    shoal_bufcache c;

    (void)state;
    assert_int_equal(shoal_bufcache_init(&c, 0, 1), SHOAL_EINVAL);
    assert_int_equal(shoal_bufcache_init(&c, 1, SHOAL_BUFCACHE_MAX + 1),
                     SHOAL_EINVAL);
    assert_int_equal(shoal_bufcache_init(&c, 1, 0), 0); /* keeps nothing */
    shoal_bufcache_put(&c, shoal_bufcache_get(&c));
    assert_int_equal(shoal_bufcache_kept(&c), 0);
    shoal_bufcache_destroy(&c);
}

static shoal_bufcache shared;

static void churn(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20000; i++) {
        uint8_t *a = shoal_bufcache_get(&shared);
        uint8_t *b = shoal_bufcache_get(&shared);
        a[0] = b[63] = (uint8_t)i;
        shoal_bufcache_put(&shared, b);
        shoal_bufcache_put(&shared, a);
    }
}

static void test_threads(void **state)
{
    uv_thread_t t[4];

    (void)state;
    assert_int_equal(shoal_bufcache_init(&shared, 64, 4), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(uv_thread_create(&t[i], churn, NULL), 0);
    for (int i = 0; i < 4; i++)
        uv_thread_join(&t[i]);
    assert_true(shoal_bufcache_kept(&shared) <= 4);
    shoal_bufcache_destroy(&shared);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reuse_and_bound),
        cmocka_unit_test(test_bad_settings),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests_name("bufcache", tests, NULL, NULL);
}
