/*
 * test_linereader.c — splitting, CRLF, a last line without newline, lines
 * longer than the limit (skipped and numbered), timeouts on a quiet pipe.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit.h"

#include "colibri/error.h"
#include "colibri/linereader.h"

/* A pipe holding text, write end closed unless keep_open. */
static int pipe_with(const char *text, int *wfd)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(write(p[1], text, strlen(text)), (ssize_t)strlen(text));
    if (wfd)
        *wfd = p[1];
    else
        close(p[1]);
    return p[0];
}

static void expect_line(struct line_reader *lr, const char *want, unsigned long lineno)
{
    const char *line;
    size_t len;
    assert_int_equal(line_reader_next(lr, -1, &line, &len), 0);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(line, want, len);
    assert_int_equal(lr->lineno, lineno);
}

static void test_lines_crlf_empty_and_unterminated(void **state)
{
    struct line_reader lr;
    int fd = pipe_with("one\r\ntwo\n\nlast", NULL);
    const char *line;
    size_t len;
    assert_int_equal(line_reader_init(&lr, fd, 64), 0);
    expect_line(&lr, "one", 1);
    expect_line(&lr, "two", 2);
    expect_line(&lr, "", 3);
    expect_line(&lr, "last", 4);
    assert_int_equal(line_reader_next(&lr, -1, &line, &len), COLIBRI_ENOTFOUND);
    line_reader_release(&lr);
    close(fd);
}

static void test_overlong_lines_are_skipped_and_numbered(void **state)
{
    struct line_reader lr;
    char text[200];
    snprintf(text, sizeof text, "ok\n%s\nafter\n%s", "0123456789abcdefghij0123456789", "0123456789abcdef");
    int fd = pipe_with(text, NULL);
    const char *line;
    size_t len;
    assert_int_equal(line_reader_init(&lr, fd, 8), 0);
    expect_line(&lr, "ok", 1);
    assert_int_equal(line_reader_next(&lr, -1, &line, &len), COLIBRI_ETOOBIG);
    assert_int_equal(lr.lineno, 2);
    expect_line(&lr, "after", 3);
    assert_int_equal(line_reader_next(&lr, -1, &line, &len), COLIBRI_ETOOBIG);
    assert_int_equal(lr.lineno, 4);
    assert_int_equal(line_reader_next(&lr, -1, &line, &len), COLIBRI_ENOTFOUND);
    line_reader_release(&lr);
    close(fd);
}

static void test_exactly_max_fits(void **state)
{
    struct line_reader lr;
    int fd = pipe_with("12345678\n123456789\n", NULL);
    const char *line;
    size_t len;
    assert_int_equal(line_reader_init(&lr, fd, 8), 0);
    expect_line(&lr, "12345678", 1);
    assert_int_equal(line_reader_next(&lr, -1, &line, &len), COLIBRI_ETOOBIG);
    assert_int_equal(line_reader_next(&lr, -1, &line, &len), COLIBRI_ENOTFOUND);
    line_reader_release(&lr);
    close(fd);
}

static void test_timeout_on_a_quiet_pipe(void **state)
{
    struct line_reader lr;
    int w;
    int fd = pipe_with("first\npart", &w);
    const char *line;
    size_t len;
    assert_int_equal(line_reader_init(&lr, fd, 64), 0);
    expect_line(&lr, "first", 1);
    assert_int_equal(line_reader_next(&lr, 20, &line, &len), COLIBRI_ETIMEOUT);
    assert_int_equal(write(w, "ial\n", 4), 4);
    assert_int_equal(line_reader_next(&lr, 20, &line, &len), 0);
    assert_int_equal(len, 7);
    assert_memory_equal(line, "partial", 7);
    close(w);
    assert_int_equal(line_reader_next(&lr, 20, &line, &len), COLIBRI_ENOTFOUND);
    line_reader_release(&lr);
    close(fd);
}

int main(int argc, char **argv)
{
    unit_filter(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_crlf_empty_and_unterminated),
        cmocka_unit_test(test_overlong_lines_are_skipped_and_numbered),
        cmocka_unit_test(test_exactly_max_fits),
        cmocka_unit_test(test_timeout_on_a_quiet_pipe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
