/*
 * linereader.c — bounded, zero-copy line splitting over read(2) and poll(2).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "colibri/error.h"
#include "colibri/linereader.h"

int line_reader_init(struct line_reader *lr, int fd, size_t max_line)
{
    memset(lr, 0, sizeof *lr);
    lr->fd = fd;
    lr->cap = max_line + 1;
    lr->buf = malloc(lr->cap);
    return lr->buf ? 0 : COLIBRI_ENOMEM;
}

/* Read more input after compacting the buffer; ETIMEOUT if none in time. */
static int fill(struct line_reader *lr, int timeout_ms)
{
    if (lr->start > 0) {
        memmove(lr->buf, lr->buf + lr->start, lr->end - lr->start);
        lr->end -= lr->start;
        lr->start = 0;
    }
    if (timeout_ms >= 0) {
        struct pollfd p = { .fd = lr->fd, .events = POLLIN };
        int n;
        while ((n = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR)
            ;
        if (n == 0)
            return COLIBRI_ETIMEOUT;
    }
    ssize_t n;
    while ((n = read(lr->fd, lr->buf + lr->end, lr->cap - lr->end)) < 0 && errno == EINTR)
        ;
    if (n < 0)
        return COLIBRI_EIO;
    if (n == 0)
        lr->eof = true;
    lr->end += (size_t)n;
    return 0;
}

int line_reader_next(struct line_reader *lr, int timeout_ms, const char **line, size_t *len)
{
    *line = NULL;
    *len = 0;
    for (;;) {
        char *nl = memchr(lr->buf + lr->start, '\n', lr->end - lr->start);
        if (nl || (lr->eof && lr->end > lr->start)) {
            char *s = lr->buf + lr->start;
            size_t n = nl ? (size_t)(nl - s) : lr->end - lr->start;
            lr->start += n + (nl != NULL);
            lr->lineno++;
            if (lr->skipping) {         /* the tail of an over-long line */
                lr->skipping = false;
                return COLIBRI_ETOOBIG;
            }
            if (n > 0 && s[n - 1] == '\r')
                n--;
            *line = s;
            *len = n;
            return 0;
        }
        if (lr->eof) {
            if (lr->skipping) {
                lr->skipping = false;
                lr->lineno++;
                return COLIBRI_ETOOBIG;
            }
            return COLIBRI_ENOTFOUND;
        }
        if (lr->start == 0 && lr->end == lr->cap) {   /* full, no newline: drop it */
            lr->skipping = true;
            lr->end = 0;
        }
        int rc = fill(lr, timeout_ms);
        if (rc)
            return rc;
    }
}

void line_reader_release(struct line_reader *lr)
{
    free(lr->buf);
    lr->buf = NULL;
}
