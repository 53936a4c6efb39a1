/* test_strbuf.c — the growable buffer: NUL-terminated growth, the sticky failure flag, and sizes
 * that would wrap size_t refused instead of corrupting memory. */
#include "unit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "colibri/strbuf.h"

static void test_grows_and_stays_terminated(void **state)
{
    (void)state;
    struct strbuf sb = STRBUF_INIT;
    char chunk[100];
    memset(chunk, 'x', sizeof chunk);
    for (int i = 0; i < 50; i++)
        strbuf_add(&sb, chunk, sizeof chunk);
    assert_false(sb.failed);
    assert_int_equal(sb.len, 5000);
    assert_true(sb.cap > sb.len);
    assert_int_equal(sb.buf[sb.len], '\0');
    assert_int_equal(strspn(sb.buf, "x"), 5000);
    strbuf_addf(&sb, "%d-%s", 42, "ok");
    strbuf_add_int(&sb, INT64_MIN);
    assert_string_equal(sb.buf + 5000, "42-ok-9223372036854775808");
    strbuf_release(&sb);
}

/* A size whose arithmetic would wrap (len + n + 1, or the doubling) fails the buffer instead. */
static void test_wrapping_sizes_fail_the_buffer(void **state)
{
    (void)state;
    struct strbuf sb = STRBUF_INIT;
    strbuf_adds(&sb, "head");
    assert_false(strbuf_grow(&sb, SIZE_MAX));
    assert_true(sb.failed);
    assert_string_equal(sb.buf, "head");        /* what was there is intact */
    strbuf_release(&sb);

    struct strbuf sb2 = STRBUF_INIT;
    strbuf_adds(&sb2, "abc");
    volatile size_t huge = SIZE_MAX - 1;            /* volatile: a size only known at run time */
    strbuf_add(&sb2, "never read", huge);           /* n past any buffer: must not be copied */
    assert_true(sb2.failed);
    assert_int_equal(sb2.len, 3);
    strbuf_release(&sb2);
}

/* After a failure the flag stays set through later adds and growth is refused, so a caller that
 * checks sb.failed once at the end never sends a response with a hole in it. */
static void test_failure_is_sticky(void **state)
{
    (void)state;
    struct strbuf sb = STRBUF_INIT;
    strbuf_adds(&sb, "a");
    assert_false(strbuf_grow(&sb, SIZE_MAX / 2));
    strbuf_adds(&sb, "b");
    strbuf_addc(&sb, 'c');
    strbuf_addf(&sb, "%s", "d");
    assert_true(sb.failed);
    assert_false(strbuf_grow(&sb, 1));
    char big[1024] = { 0 };
    size_t len = sb.len;
    strbuf_add(&sb, big, sizeof big);           /* needs growth: refused, nothing copied */
    assert_int_equal(sb.len, len);
    assert_true(sb.failed);
    strbuf_release(&sb);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grows_and_stays_terminated),
        cmocka_unit_test(test_wrapping_sizes_fail_the_buffer),
        cmocka_unit_test(test_failure_is_sticky),
    };
    unit_filter(argc, argv);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
