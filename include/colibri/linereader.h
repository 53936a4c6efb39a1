/*
 * linereader.h — newline-delimited records from a file descriptor.
 *
 * Reads in large blocks and hands out one line at a time without copying,
 * with a bound on line length (a longer line is skipped and reported, so
 * memory stays bounded whatever the input) and an optional timeout, which
 * lets a caller flush a partial batch while a pipe is quiet.
 */
#ifndef COLIBRI_LINEREADER_H
#define COLIBRI_LINEREADER_H

#include <stdbool.h>
#include <stddef.h>

struct line_reader {
    int fd;                 /* borrowed */
    char *buf;
    size_t cap;             /* max line length + 1 */
    size_t start, end;      /* unread bytes are buf[start .. end) */
    bool eof;
    bool skipping;          /* inside an over-long line */
    unsigned long lineno;   /* number of the line last returned */
};

/* max_line: the longest line accepted, in bytes (newline excluded). */
int line_reader_init(struct line_reader *lr, int fd, size_t max_line);

/*
 * The next line, without its "\n" or "\r\n". *line points into the reader's
 * buffer and stays valid until the next call.
 *   0                   a line (possibly empty)
 *   COLIBRI_ETIMEOUT    nothing complete within timeout_ms (-1: wait forever)
 *   COLIBRI_ENOTFOUND   end of input
 *   COLIBRI_ETOOBIG     line number lr->lineno was longer than max_line; skipped
 *   COLIBRI_EIO         read error (errno is set)
 */
int line_reader_next(struct line_reader *lr, int timeout_ms, const char **line, size_t *len);

void line_reader_release(struct line_reader *lr);

#endif
