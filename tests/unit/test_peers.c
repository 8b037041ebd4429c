/* The known-peer table (src/node/peers.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "node/peers.h"
#include "shoal.h"

static void test_add_get_remove(void **state)
{
    shoal_peertable t;
    const shoal_peer *p;

    (void)state;
    shoal_peertable_init(&t, 10);
    assert_int_equal(t.count, 0);
    assert_null(shoal_peertable_get(&t, "a"));
    assert_null(shoal_peertable_at(&t, 0));

    assert_int_equal(shoal_peertable_add(&t, "a", "10.0.0.1", 1000), 0);
    assert_int_equal(shoal_peertable_add(&t, "b", "10.0.0.2", 2000), 0);
    assert_int_equal(t.count, 2);

    p = shoal_peertable_get(&t, "b");
    assert_non_null(p);
    assert_string_equal(p->id, "b");
    assert_string_equal(p->host, "10.0.0.2");
    assert_int_equal(p->port, 2000);
    assert_ptr_equal(shoal_peertable_at(&t, 1), p);
    assert_string_equal(shoal_peertable_at(&t, 0)->id, "a");
    assert_null(shoal_peertable_at(&t, 2));
    assert_null(shoal_peertable_get(&t, "c"));
    assert_null(shoal_peertable_get(&t, NULL));
    /* ids are compared exactly */
    assert_null(shoal_peertable_get(&t, "A"));
    assert_null(shoal_peertable_get(&t, "a "));

    assert_int_equal(shoal_peertable_remove(&t, "a"), 0);
    assert_int_equal(t.count, 1);
    assert_null(shoal_peertable_get(&t, "a"));
    assert_string_equal(shoal_peertable_at(&t, 0)->id, "b");
    assert_int_equal(shoal_peertable_remove(&t, "b"), 0);
    assert_int_equal(t.count, 0);
    assert_null(shoal_peertable_at(&t, 0));

    /* a removed id can come back */
    assert_int_equal(shoal_peertable_add(&t, "a", "10.0.0.9", 9), 0);
    assert_int_equal(shoal_peertable_get(&t, "a")->port, 9);
    shoal_peertable_free(&t);
    assert_int_equal(t.count, 0);
    assert_null(t.peers);
}

static void test_full(void **state)
{
    shoal_peertable t;

    (void)state;
    shoal_peertable_init(&t, 3);
    assert_false(shoal_peertable_full(&t));
    assert_int_equal(shoal_peertable_add(&t, "a", "h", 1), 0);
    assert_int_equal(shoal_peertable_add(&t, "b", "h", 2), 0);
    assert_false(shoal_peertable_full(&t));
    assert_int_equal(shoal_peertable_add(&t, "c", "h", 3), 0);
    assert_true(shoal_peertable_full(&t));
    assert_int_equal(shoal_peertable_add(&t, "d", "h", 4), SHOAL_EFULL);
    assert_int_equal(t.count, 3);
    assert_null(shoal_peertable_get(&t, "d"));
    /* room again after a removal */
    assert_int_equal(shoal_peertable_remove(&t, "b"), 0);
    assert_false(shoal_peertable_full(&t));
    assert_int_equal(shoal_peertable_add(&t, "d", "h", 4), 0);
    assert_true(shoal_peertable_full(&t));
    shoal_peertable_free(&t);
}

static void test_duplicate(void **state)
{
    shoal_peertable t;

    (void)state;
    shoal_peertable_init(&t, 0);
    assert_int_equal(shoal_peertable_add(&t, "a", "10.0.0.1", 1), 0);
    assert_int_equal(shoal_peertable_add(&t, "a", "10.0.0.2", 2),
                     SHOAL_EEXIST);
    assert_int_equal(t.count, 1);
    /* the first entry is untouched */
    assert_string_equal(shoal_peertable_get(&t, "a")->host, "10.0.0.1");
    assert_int_equal(shoal_peertable_get(&t, "a")->port, 1);
    shoal_peertable_free(&t);
}

static void test_invalid(void **state)
{
    char longest[SHOAL_ID_MAX];
    char overlong[SHOAL_ID_MAX + 1];
    char host_longest[SHOAL_HOST_MAX];
    char host_overlong[SHOAL_HOST_MAX + 1];
    shoal_peertable t;

    (void)state;
    memset(longest, 'i', sizeof(longest) - 1);
    longest[sizeof(longest) - 1] = '\0';       /* SHOAL_ID_MAX - 1 chars */
    memset(overlong, 'i', sizeof(overlong) - 1);
    overlong[sizeof(overlong) - 1] = '\0';     /* SHOAL_ID_MAX chars */
    memset(host_longest, 'h', sizeof(host_longest) - 1);
    host_longest[sizeof(host_longest) - 1] = '\0';
    memset(host_overlong, 'h', sizeof(host_overlong) - 1);
    host_overlong[sizeof(host_overlong) - 1] = '\0';

    shoal_peertable_init(&t, 0);
    assert_int_equal(shoal_peertable_add(&t, NULL, "h", 1), SHOAL_EINVAL);
    assert_int_equal(shoal_peertable_add(&t, "", "h", 1), SHOAL_EINVAL);
    assert_int_equal(shoal_peertable_add(&t, overlong, "h", 1), SHOAL_EINVAL);
    assert_int_equal(shoal_peertable_add(&t, "a", NULL, 1), SHOAL_EINVAL);
    assert_int_equal(shoal_peertable_add(&t, "a", "", 1), SHOAL_EINVAL);
    assert_int_equal(shoal_peertable_add(&t, "a", host_overlong, 1),
                     SHOAL_EINVAL);
    assert_int_equal(t.count, 0);

    /* one below the limit fits, and is stored whole */
    assert_int_equal(shoal_peertable_add(&t, longest, host_longest, 1), 0);
    assert_string_equal(shoal_peertable_at(&t, 0)->id, longest);
    assert_string_equal(shoal_peertable_at(&t, 0)->host, host_longest);
    shoal_peertable_free(&t);
}

static void test_remove_unknown(void **state)
{
    shoal_peertable t;

    (void)state;
    shoal_peertable_init(&t, 0);
    assert_int_equal(shoal_peertable_remove(&t, "nobody"), SHOAL_ENOENT);
    assert_int_equal(shoal_peertable_remove(&t, NULL), SHOAL_ENOENT);
    assert_int_equal(shoal_peertable_add(&t, "a", "h", 1), 0);
    assert_int_equal(shoal_peertable_remove(&t, "b"), SHOAL_ENOENT);
    assert_int_equal(shoal_peertable_remove(&t, "a"), 0);
    assert_int_equal(shoal_peertable_remove(&t, "a"), SHOAL_ENOENT);
    shoal_peertable_free(&t);
}

static void test_order_after_middle_removal(void **state)
{
    static const char *const ids[] = {"p0", "p1", "p2", "p3", "p4"};
    static const char *const left[] = {"p0", "p1", "p3", "p4"};
    shoal_peertable t;
    size_t i;

    (void)state;
    shoal_peertable_init(&t, 0);
    for (i = 0; i < 5; i++)
        assert_int_equal(shoal_peertable_add(&t, ids[i], "h", (uint16_t)i), 0);
    assert_int_equal(shoal_peertable_remove(&t, "p2"), 0);
    assert_int_equal(t.count, 4);
    for (i = 0; i < 4; i++) {
        const shoal_peer *p = shoal_peertable_at(&t, i);
        assert_non_null(p);
        assert_string_equal(p->id, left[i]);
        assert_int_equal(p->port, left[i][1] - '0');
    }
    /* a new peer goes to the end */
    assert_int_equal(shoal_peertable_add(&t, "p5", "h", 5), 0);
    assert_string_equal(shoal_peertable_at(&t, 4)->id, "p5");
    /* remove first and last */
    assert_int_equal(shoal_peertable_remove(&t, "p0"), 0);
    assert_int_equal(shoal_peertable_remove(&t, "p5"), 0);
    assert_int_equal(t.count, 3);
    assert_string_equal(shoal_peertable_at(&t, 0)->id, "p1");
    assert_string_equal(shoal_peertable_at(&t, 1)->id, "p3");
    assert_string_equal(shoal_peertable_at(&t, 2)->id, "p4");
    shoal_peertable_free(&t);
}

static void test_unlimited(void **state)
{
    shoal_peertable t;
    char id[32];
    size_t i;

    (void)state;
    shoal_peertable_init(&t, 0);
    for (i = 0; i < 1000; i++) {
        snprintf(id, sizeof(id), "peer-%zu", i);
        assert_int_equal(shoal_peertable_add(&t, id, "127.0.0.1",
                                             (uint16_t)(i + 1)),
                         0);
        assert_false(shoal_peertable_full(&t));
    }
    assert_int_equal(t.count, 1000);
    for (i = 0; i < 1000; i += 97) {
        snprintf(id, sizeof(id), "peer-%zu", i);
        assert_non_null(shoal_peertable_get(&t, id));
        assert_int_equal(shoal_peertable_get(&t, id)->port, i + 1);
    }
    shoal_peertable_free(&t);
}

static void test_iterate_by_position(void **state)
{
    shoal_peertable t;
    char id[32];
    size_t i, n = 0;
    const shoal_peer *p;

    (void)state;
    shoal_peertable_init(&t, 50);
    for (i = 0; i < 20; i++) {
        snprintf(id, sizeof(id), "n%zu", i);
        assert_int_equal(shoal_peertable_add(&t, id, "h", (uint16_t)i), 0);
    }
    for (i = 0; (p = shoal_peertable_at(&t, i)) != NULL; i++) {
        snprintf(id, sizeof(id), "n%zu", i);
        assert_string_equal(p->id, id);
        assert_int_equal(p->port, i);
        n++;
    }
    assert_int_equal(n, 20);
    assert_int_equal(n, t.count);
    shoal_peertable_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_get_remove),
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_duplicate),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_remove_unknown),
        cmocka_unit_test(test_order_after_middle_removal),
        cmocka_unit_test(test_unlimited),
        cmocka_unit_test(test_iterate_by_position),
    };
    return cmocka_run_group_tests_name("peers", tests, NULL, NULL);
}
