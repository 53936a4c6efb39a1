/*
 * unit.h — what every unit test file shares.
 *
 * Each tests/unit/test_<module>.c is one program (make unit T=<module>); run
 * it with a glob to run only the tests whose names match:
 *     build/tests/test_store 'test_get*'
 */
#ifndef COLIBRI_TEST_UNIT_H
#define COLIBRI_TEST_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* Keep only the tests argv[1] names (a glob), when it is given. */
static inline void unit_filter(int argc, char **argv)
{
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
}

/* Assert that rc is one of a or b (an outcome that may come either way, e.g. by timing). */
#define assert_rc_either(rc, a, b) assert_true((rc) == (a) || (rc) == (b))

#endif
