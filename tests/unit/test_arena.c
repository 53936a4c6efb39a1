/* test_arena.c — texts copied into an arena stay put and intact until it is released, however many. */
#include "unit.h"

#include <stdio.h>
#include <string.h>

#include "colibri/arena.h"

static void test_copies_are_stable_across_chunks(void **state)
{
    (void)state;
    struct arena a = ARENA_INIT;
    char *copies[300];
    char want[32];
    for (int i = 0; i < 300; i++) {     /* ~3 KiB: several 512-byte chunks */
        snprintf(want, sizeof want, "text number %d", i);
        assert_non_null(copies[i] = arena_strdup(&a, want));
    }
    for (int i = 0; i < 300; i++) {
        snprintf(want, sizeof want, "text number %d", i);
        assert_string_equal(copies[i], want);
    }
    arena_release(&a);
    assert_null(a.head);
}

static void test_dup_printf_and_long_texts(void **state)
{
    (void)state;
    struct arena a = ARENA_INIT;
    assert_string_equal(arena_dup(&a, "projects/p/subscriptions/s", 10), "projects/p");
    assert_string_equal(arena_dup(&a, "", 0), "");
    assert_string_equal(arena_printf(&a, "%s/v1/%s:%s", "http://h:1", "projects/p", "pull"),
                        "http://h:1/v1/projects/p:pull");
    assert_string_equal(arena_printf(&a, "%ld", 10737418240L), "10737418240");
    char big[2000];                     /* longer than a chunk: a chunk of its own */
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char *copy = arena_printf(&a, "<%s>", big);
    assert_int_equal(strlen(copy), sizeof big + 1);
    assert_int_equal(copy[0], '<');
    assert_int_equal(copy[sizeof big], '>');
    assert_string_equal(arena_strdup(&a, "after"), "after");
    arena_release(&a);
    arena_release(&a);                  /* an empty arena releases nothing */
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copies_are_stable_across_chunks),
        cmocka_unit_test(test_dup_printf_and_long_texts),
    };
    unit_filter(argc, argv);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
