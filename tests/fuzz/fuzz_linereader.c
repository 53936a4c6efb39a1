/*
 * fuzz_linereader.c — the NDJSON line reader over a pipe, fed in chunks.
 *
 * Input: byte 0 sets max_line (0..63, or 64..4159 when bit 7 is set: short
 * limits make long lines common), byte 1 seeds the chunk sizes, the rest is
 * the stream. The harness writes one chunk into a pipe, drains the reader
 * with timeout 0 until it reports ETIMEOUT, writes the next chunk, and closes
 * the pipe after the last; so every way a line can straddle reads, buffer
 * compaction and the skip state is reachable, deterministically.
 * Invariants: the events (line or ETOOBIG) are exactly those of a reference
 * split of the whole stream: on '\n', plus a last line without one; a line
 * whose bytes before '\n' (a trailing '\r' included) exceed max_line is one
 * ETOOBIG; other lines come back without their "\r\n"/"\n", byte-exact, never
 * longer than max_line. lineno counts every event; after the end, ENOTFOUND.
 */
#include <assert.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "colibri/error.h"
#include "colibri/linereader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define STREAM_MAX 60000    /* below the 64 KiB pipe buffer: writes never block */

struct expect {
    const uint8_t *p;       /* the reference: the stream */
    size_t n, at;           /* and how far it has been consumed */
    size_t max_line;
    unsigned long events;
};

/* The next reference event: 0 with the line, or COLIBRI_ETOOBIG; ENOTFOUND at the end. */
static int expect_next(struct expect *e, const uint8_t **line, size_t *len)
{
    if (e->at >= e->n)
        return COLIBRI_ENOTFOUND;
    const uint8_t *s = e->p + e->at, *nl = memchr(s, '\n', e->n - e->at);
    size_t raw = nl ? (size_t)(nl - s) : e->n - e->at;
    e->at += raw + (nl != NULL);
    e->events++;
    if (raw > e->max_line)
        return COLIBRI_ETOOBIG;
    *line = s;
    *len = raw > 0 && s[raw - 1] == '\r' ? raw - 1 : raw;
    return 0;
}

/* Drain everything the reader can give now; 1 once it reported the end. */
static int drain(struct line_reader *lr, struct expect *e, int timeout_ms)
{
    for (;;) {
        const char *line;
        size_t len;
        int rc = line_reader_next(lr, timeout_ms, &line, &len);
        if (rc == COLIBRI_ETIMEOUT)
            return 0;
        const uint8_t *want;
        size_t wantlen = 0;
        int wrc = expect_next(e, &want, &wantlen);
        if (rc != wrc) {
            fprintf(stderr, "event %lu: reader %d, reference %d (max_line %zu)\n", e->events, rc,
                    wrc, e->max_line);
            abort();
        }
        if (rc == COLIBRI_ENOTFOUND) {
            assert(!line && len == 0);
            return 1;
        }
        assert(lr->lineno == e->events);
        if (rc == COLIBRI_ETOOBIG) {
            assert(!line && len == 0);
            continue;
        }
        assert(rc == 0);
        assert(len <= e->max_line);
        if (len != wantlen || (len && memcmp(line, want, len))) {
            fprintf(stderr, "line %lu: got %zu bytes, want %zu\n", e->events, len, wantlen);
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct line_reader lr;
    int fds[2];

    if (size < 2)
        return 0;
    size_t max_line = data[0] & 0x80 ? 64 + (size_t)(data[0] & 0x7f) * 32 : data[0];
    uint32_t rnd = data[1] * 2654435761u + 1;
    const uint8_t *stream = data + 2;
    size_t n = size - 2;
    if (n > STREAM_MAX)
        n = STREAM_MAX;

    assert(pipe(fds) == 0);
    assert(line_reader_init(&lr, fds[0], max_line) == 0);
    struct expect e = { .p = stream, .n = n, .max_line = max_line };

    size_t off = 0;
    while (off < n) {
        rnd = rnd * 1103515245u + 12345u;
        size_t chunk = 1 + (rnd >> 16) % (2 * max_line + 8);
        if (chunk > n - off)
            chunk = n - off;
        assert(write(fds[1], stream + off, chunk) == (ssize_t)chunk);
        off += chunk;
        assert(drain(&lr, &e, 0) == 0);
    }
    close(fds[1]);
    assert(drain(&lr, &e, (rnd >> 8) & 1 ? -1 : 0) == 1);
    assert(e.at >= e.n);
    /* the end stays the end */
    const char *line;
    size_t len;
    assert(line_reader_next(&lr, 0, &line, &len) == COLIBRI_ENOTFOUND);
    line_reader_release(&lr);
    close(fds[0]);
    return 0;
}
