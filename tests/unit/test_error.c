/* Error names and log level names (src/core/error.c, src/core/log.c). */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "shoal.h"

static const struct {
    int code;
    const char *name;
} codes[] = {
#define CODE(c) {c, #c}
    CODE(SHOAL_EINVAL),   CODE(SHOAL_ENOMEM),       CODE(SHOAL_ETIMEDOUT),
    CODE(SHOAL_ECANCELED), CODE(SHOAL_ECONNREFUSED), CODE(SHOAL_EEXIST),
    CODE(SHOAL_ENOENT),   CODE(SHOAL_EMSGSIZE),     CODE(SHOAL_EPROTO),
    CODE(SHOAL_ENOBUFS),  CODE(SHOAL_EFULL),        CODE(SHOAL_ENOROUTE),
    CODE(SHOAL_EBADADDR), CODE(SHOAL_ECLOSED),      CODE(SHOAL_EBUSY),
    CODE(SHOAL_EPEERID),  CODE(SHOAL_EWRONGWIRE),   CODE(SHOAL_ESELF),
#undef CODE
};
#define NCODES (sizeof(codes) / sizeof(codes[0]))

static void test_every_code_named(void **state)
{
    size_t i, j;

    (void)state;
    for (i = 0; i < NCODES; i++) {
        const char *s = shoal_strerror(codes[i].code);
        if (s == NULL || s[0] == '\0')
            fail_msg("%s has no text", codes[i].name);
        if (strcmp(s, "unknown error") == 0 || strcmp(s, "success") == 0 ||
            strncmp(s, "Unknown system error", 20) == 0)
            fail_msg("%s is named \"%s\"", codes[i].name, s);
        assert_true(codes[i].code < 0);
    }
    /* codes differ, and so do their texts */
    for (i = 0; i < NCODES; i++) {
        for (j = i + 1; j < NCODES; j++) {
            if (codes[i].code == codes[j].code)
                fail_msg("%s == %s", codes[i].name, codes[j].name);
            if (strcmp(shoal_strerror(codes[i].code),
                       shoal_strerror(codes[j].code)) == 0)
                fail_msg("%s and %s share the text \"%s\"", codes[i].name,
                         codes[j].name, shoal_strerror(codes[i].code));
        }
    }
}

static void test_shoal_own_codes_range(void **state)
{
    (void)state;
    /* shoal's own codes live at -30000 and below, clear of libuv's */
    assert_true(SHOAL_EFULL <= -30000);
    assert_true(SHOAL_ENOROUTE <= -30000);
    assert_true(SHOAL_EBADADDR <= -30000);
    assert_true(SHOAL_ECLOSED <= -30000);
    assert_true(SHOAL_EBUSY <= -30000);
    assert_true(SHOAL_EPEERID <= -30000);
    assert_true(SHOAL_EWRONGWIRE <= -30000);
    assert_true(SHOAL_ESELF <= -30000);
}

static void test_success(void **state)
{
    (void)state;
    assert_string_equal(shoal_strerror(0), "success");
}

static void test_libuv_passthrough(void **state)
{
    static const int uv_codes[] = {
        UV_EADDRINUSE, UV_ECONNRESET, UV_EPIPE, UV_EOF,    UV_EAI_NONAME,
        UV_EINVAL,     UV_ENOMEM,     UV_EAGAIN, UV_ENOTCONN, UV_EHOSTUNREACH,
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(uv_codes) / sizeof(uv_codes[0]); i++)
        assert_string_equal(shoal_strerror(uv_codes[i]),
                            uv_strerror(uv_codes[i]));
}

static void test_unknown(void **state)
{
    static const int unknown[] = {
        1, 42, INT_MAX, INT_MIN, -30000, -30009, -29999, -31000, -12345,
        -4096,
        /* inside libuv's range, but no libuv error (libuv would name these
         * "Unknown system error N", with a string it never frees) */
        -4000, -3999,
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        const char *s = shoal_strerror(unknown[i]);
        assert_non_null(s);
        if (strcmp(s, "unknown error") != 0)
            fail_msg("code %d is named \"%s\"", unknown[i], s);
    }
}

/* shoal_err_name: every SHOAL_E* code is named by its macro, aliases of
 * libuv's codes included; other libuv codes by libuv's macro; anything else
 * "UNKNOWN", never NULL. */
static void test_err_name(void **state)
{
    static const struct {
        int code;
        const char *name;
    } uv_only[] = {
        {UV_ECONNRESET, "UV_ECONNRESET"}, {UV_EOF, "UV_EOF"},
        {UV_EPIPE, "UV_EPIPE"},           {UV_EAI_NONAME, "UV_EAI_NONAME"},
        {UV_EADDRINUSE, "UV_EADDRINUSE"}, {UV_EHOSTUNREACH, "UV_EHOSTUNREACH"},
    };
    static const int unknown[] = {1,      42,     INT_MAX, INT_MIN, -30000,
                                  -30009, -29999, -31000,  -4000,   -3999};
    size_t i;

    (void)state;
    for (i = 0; i < NCODES; i++) {
        const char *n = shoal_err_name(codes[i].code);
        if (n == NULL || strcmp(n, codes[i].name) != 0)
            fail_msg("code %d: expected the name \"%s\", came \"%s\"",
                     codes[i].code, codes[i].name, n ? n : "(null)");
    }
    /* the alias is the name a shoal program writes */
    assert_string_equal(shoal_err_name(UV_ECONNREFUSED), "SHOAL_ECONNREFUSED");
    for (i = 0; i < sizeof(uv_only) / sizeof(uv_only[0]); i++)
        assert_string_equal(shoal_err_name(uv_only[i].code), uv_only[i].name);
    assert_string_equal(shoal_err_name(0), "0");
    for (i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        const char *n = shoal_err_name(unknown[i]);
        if (n == NULL || strcmp(n, "UNKNOWN") != 0)
            fail_msg("code %d: expected \"UNKNOWN\", came \"%s\"", unknown[i],
                     n ? n : "(null)");
    }
    /* never NULL, anywhere in the range codes live in */
    for (i = 0; i <= 40000; i++)
        assert_non_null(shoal_err_name(-(int)i));
}

static void test_log_level_name(void **state)
{
    (void)state;
    assert_string_equal(shoal_log_level_name(SHOAL_LOG_ERROR), "error");
    assert_string_equal(shoal_log_level_name(SHOAL_LOG_WARN), "warn");
    assert_string_equal(shoal_log_level_name(SHOAL_LOG_INFO), "info");
    assert_string_equal(shoal_log_level_name(SHOAL_LOG_DEBUG), "debug");
    assert_string_equal(shoal_log_level_name(-1), "unknown");
    assert_string_equal(shoal_log_level_name(4), "unknown");
    assert_string_equal(shoal_log_level_name(INT_MAX), "unknown");
    assert_string_equal(shoal_log_level_name(INT_MIN), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_code_named),
        cmocka_unit_test(test_shoal_own_codes_range),
        cmocka_unit_test(test_success),
        cmocka_unit_test(test_libuv_passthrough),
        cmocka_unit_test(test_unknown),
        cmocka_unit_test(test_err_name),
        cmocka_unit_test(test_log_level_name),
    };
    return cmocka_run_group_tests_name("error", tests, NULL, NULL);
}
