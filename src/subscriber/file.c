/*
 * file.c — colibri load's source: NDJSON from a file or a pipe, one message
 * a line, read in bounded memory (one line of LINE_MAX at most, and the
 * subscriber's batches).
 *
 * A one-shot source (source_int.h): its input has an end, and nothing it
 * gave can be delivered again, so
 *   - the run ends at the end of the input, and a read error ends it too;
 *   - a store failure ends the run at once (colibri load exits non-zero),
 *     where Kafka and Pub/Sub would pause and retry until the store answers;
 *   - there is nothing to acknowledge, rewind or pause.
 *
 * A message's _id is "load:" + the first 128 bits of the line's SHA-256 in
 * hex: the same line loaded twice, from a file or a pipe, is stored once.
 * Empty lines are skipped. A line longer than LINE_MAX is not kept; it
 * becomes a dead letter without payload. Every rejected line is reported on
 * standard error by its number (and kept in _dead_letters by the store), and
 * the run ends with a summary: this source talks to the user of colibri load,
 * not to the log.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "colibri/clock.h"
#include "colibri/error.h"
#include "colibri/linereader.h"
#include "subscriber/source_int.h"

#define LINE_MAX_BYTES (16 * 1024 * 1024)

struct file_source {
    char *path;
    int fd; /* owned unless it is standard input */
    struct line_reader lr;
    unsigned long rejected; /* lines reported as rejected */
    char id[48];            /* of the message last returned */
    char overlong[96];      /* the reason an over-long line is not kept */
};

static void file_close(void *ctx)
{
    struct file_source *f = ctx;
    if (!f)
        return;
    line_reader_release(&f->lr);
    if (f->fd > STDIN_FILENO)
        close(f->fd);
    free(f->path);
    free(f);
}

static int file_open(const char *path, const struct source_env *env, void **ctx)
{
    struct file_source *f = calloc(1, sizeof *f);
    (void)env;
    if (!f || !(f->path = strdup(path))) {
        free(f);
        return COLIBRI_ENOMEM;
    }
    f->fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (f->fd < 0) {
        fprintf(stderr, "colibri load: cannot open %s: %s\n", path, strerror(errno));
        file_close(f);
        return COLIBRI_ENOTFOUND;
    }
    snprintf(f->overlong, sizeof f->overlong, "line longer than %d bytes; not kept",
             LINE_MAX_BYTES);
    int rc = line_reader_init(&f->lr, f->fd, LINE_MAX_BYTES);
    if (rc) {
        file_close(f);
        return rc;
    }
    *ctx = f;
    return 0;
}

/* "load:" + the first 128 bits of the line's SHA-256, in hex. */
static void line_id(char *buf, const char *line, size_t len)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)line, len, md);
    memcpy(buf, "load:", 5);
    for (int i = 0; i < 16; i++)
        snprintf(buf + 5 + 2 * i, 3, "%02x", md[i]);
}

static int file_next(void *ctx, int timeout_ms, struct message *m)
{
    struct file_source *f = ctx;
    const char *line;
    size_t len;
    int rc;

    do
        rc = line_reader_next(&f->lr, timeout_ms, &line, &len);
    while (rc == 0 && len == 0);
    if (rc == 0) {
        line_id(f->id, line, len);
        *m = (struct message){ .id = f->id, .source = "load", .payload = line, .len = len };
    } else if (rc == COLIBRI_ETOOBIG) {
        snprintf(f->id, sizeof f->id, "load:overlong:%" PRId64 ":%lu", clock_real_us(),
                 f->lr.lineno);
        *m = (struct message){
            .id = f->id, .source = "load", .payload = "", .len = 0, .unread = f->overlong
        };
        rc = 0;
    } else if (rc == COLIBRI_EIO) {
        fprintf(stderr, "colibri load: reading %s: %s\n", f->path, strerror(errno));
    }
    return rc;
}

/* The message last returned was rejected: say so by its line number. */
static int file_dead_letter(void *ctx, const struct message *m, const char *reason)
{
    struct file_source *f = ctx;
    (void)m;
    f->rejected++;
    fprintf(stderr, "line %lu: %s\n", f->lr.lineno, reason);
    return 0;
}

static void file_end(void *ctx, const struct insert_result *total, int store_rc)
{
    struct file_source *f = ctx;
    if (store_rc)
        fprintf(stderr, "colibri load: the store failed: %s\n", colibri_strerror(store_rc));
    fprintf(stderr,
            "colibri load: %lu lines: %zu rows stored, %zu already present, %lu rejected "
            "(kept in _dead_letters)\n",
            f->lr.lineno, total->stored, total->duplicates, f->rejected);
}

/* laid out by hand, one role a line */
/* clang-format off */
const struct source_ops file_source_ops = {
    .scheme = "file", .one_shot = true,
    .open = file_open, .end = file_end, .close = file_close,
    .next = file_next, .dead_letter = file_dead_letter,
};
/* clang-format on */
