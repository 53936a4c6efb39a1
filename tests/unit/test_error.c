/* test_error.c — the error vocabulary: every code has its own name, reason buffers are bounded. */
#include "unit.h"

#include <string.h>

#include "colibri/error.h"

static const int codes[] = {
    COLIBRI_OK,       COLIBRI_EINVAL,  COLIBRI_ENOMEM, COLIBRI_EIO,     COLIBRI_ENOTFOUND,
    COLIBRI_EUNAVAIL, COLIBRI_ETOOBIG, COLIBRI_ETIMEOUT, COLIBRI_EAUTH, COLIBRI_ELIMIT,
    COLIBRI_ECONFIG,  COLIBRI_EMETHOD, COLIBRI_ETOOLONG,
};
#define NCODES (sizeof codes / sizeof codes[0])

/* A log line or an error envelope names the failure: no two codes may read the same. */
static void test_every_code_has_its_own_name(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCODES; i++) {
        const char *a = colibri_strerror(codes[i]);
        assert_non_null(a);
        assert_true(strlen(a) > 0);
        assert_string_not_equal(a, "unknown error");
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(a, colibri_strerror(codes[j]));
    }
    assert_string_equal(colibri_strerror(COLIBRI_OK), "ok");
    assert_string_equal(colibri_strerror(COLIBRI_ENOTFOUND), "not found");
    assert_string_equal(colibri_strerror(COLIBRI_ETOOLONG), "request target too long");
}

/* A code from outside the vocabulary (an errno, a library's own code) is never NULL. */
static void test_unknown_codes_are_named_not_null(void **state)
{
    (void)state;
    const int others[] = { 1, -13, -1000, 2147483647, -2147483647 - 1 };
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        assert_string_equal(colibri_strerror(others[i]), "unknown error");
}

static void test_errmsg_formats_and_truncates(void **state)
{
    (void)state;
    char buf[16];
    colibri_errmsg(buf, sizeof buf, "column '%s' at %d", "x", 7);
    assert_string_equal(buf, "column 'x' at 7");

    memset(buf, 'z', sizeof buf);
    colibri_errmsg(buf, 8, "%s", "a reason longer than the buffer");
    assert_string_equal(buf, "a reaso");       /* 7 bytes and the NUL, never more */
    assert_int_equal(buf[8], 'z');             /* nothing written past len */
}

static void test_errmsg_without_a_buffer_does_nothing(void **state)
{
    (void)state;
    char buf[4] = "abc";
    colibri_errmsg(NULL, 10, "%s", "ignored");
    colibri_errmsg(buf, 0, "%s", "ignored");
    assert_string_equal(buf, "abc");
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_code_has_its_own_name),
        cmocka_unit_test(test_unknown_codes_are_named_not_null),
        cmocka_unit_test(test_errmsg_formats_and_truncates),
        cmocka_unit_test(test_errmsg_without_a_buffer_does_nothing),
    };
    unit_filter(argc, argv);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
