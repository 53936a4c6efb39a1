/* test_array.c — array_grow doubles from its first capacity, keeps what was there, and refuses sizes that would wrap. */
#include "unit.h"

#include <stdint.h>
#include <stdlib.h>

#include "colibri/array.h"
#include "colibri/error.h"

static void test_doubles_and_keeps_elements(void **state)
{
    (void)state;
    int *a = NULL;
    size_t n = 0, cap = 0;
    size_t caps[8], ncaps = 0;
    for (int i = 0; i < 100; i++) {
        size_t before = cap;
        assert_int_equal(array_grow((void **)&a, n, &cap, sizeof *a, 16), 0);
        if (cap != before)
            caps[ncaps++] = cap;
        a[n++] = i * 7;
    }
    assert_int_equal(ncaps, 4);         /* 16, 32, 64, 128 */
    assert_int_equal(caps[0], 16);
    assert_int_equal(caps[3], 128);
    for (int i = 0; i < 100; i++)
        assert_int_equal(a[i], i * 7);
    free(a);
}

static void test_no_growth_below_capacity(void **state)
{
    (void)state;
    char *a = malloc(8);
    size_t cap = 8;
    char *before = a;
    assert_int_equal(array_grow((void **)&a, 7, &cap, 1, 64), 0);
    assert_ptr_equal(a, before);
    assert_int_equal(cap, 8);
    free(a);
}

/* A capacity whose doubled size in bytes would wrap size_t: ENOMEM before any realloc, array untouched. */
static void test_impossible_size_is_refused(void **state)
{
    (void)state;
    long double *a = malloc(4 * sizeof *a);
    size_t cap = SIZE_MAX / 16;
    assert_int_equal(array_grow((void **)&a, cap, &cap, sizeof *a, 16), COLIBRI_ENOMEM);
    assert_int_equal(cap, SIZE_MAX / 16);
    a[3] = 1.0L;                        /* still the caller's block */
    free(a);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doubles_and_keeps_elements),
        cmocka_unit_test(test_no_growth_below_capacity),
        cmocka_unit_test(test_impossible_size_is_refused),
    };
    unit_filter(argc, argv);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
