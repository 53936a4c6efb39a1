/*
 * log.c — JSON-lines (or text) logger on stderr.
 *
 * Each line is formatted into a stack buffer and written with one write(2),
 * so lines from different threads never interleave and no lock is needed.
 * Field names follow Cloud Logging's structured-logging conventions.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "colibri/error.h"
#include "colibri/log.h"
#include "colibri/strbuf.h"

enum log_level log_min_level = LOG_INFO;
static bool log_json = true;

static const char *const level_names[] = { "DEBUG", "INFO", "WARNING", "ERROR" };

int log_level_parse(const char *s, enum log_level *out)
{
    static const struct { const char *name; enum log_level level; } names[] = {
        { "debug", LOG_DEBUG }, { "info", LOG_INFO }, { "warn", LOG_WARN },
        { "warning", LOG_WARN }, { "error", LOG_ERROR },
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcasecmp(s, names[i].name) == 0) {
            *out = names[i].level;
            return 0;
        }
    }
    return COLIBRI_EINVAL;
}

void log_setup(enum log_level min, bool json)
{
    log_min_level = min;
    log_json = json;
}

/* room kept free while a field is written, for the rest of the line */
#define FIELD_RESERVE 256

struct line {
    char buf[8192];
    size_t n;
};

static void put(struct line *l, const char *s, size_t n)
{
    size_t room = sizeof l->buf - 2 - l->n;   /* keep room for "}\n" */
    if (n > room)
        n = room;
    memcpy(l->buf + l->n, s, n);
    l->n += n;
}

static void puts_(struct line *l, const char *s) { put(l, s, strlen(s)); }

/*
 * Append s escaped as the inside of a JSON string, leaving keep bytes of the
 * line free for what must follow. It stops before a piece that would not fit
 * whole, so the line stays valid JSON; bytes that are not UTF-8 become U+FFFD.
 */
static void put_escaped(struct line *l, const char *s, size_t keep)
{
    if (!log_json) {
        puts_(l, s);
        return;
    }
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        char esc[8];
        const char *piece = esc;
        size_t len, used;
        if (p[i] == '"' || p[i] == '\\') {
            esc[0] = '\\', esc[1] = (char)p[i], len = 2, used = 1;
        } else if (p[i] < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", p[i]);
            len = 6, used = 1;
        } else if ((used = utf8_seq(p + i, n - i)) != 0) {
            piece = s + i, len = used;
        } else {
            piece = "\\ufffd", len = 6, used = 1;
        }
        if (l->n + len + keep > sizeof l->buf)
            return;
        put(l, piece, len);
        i += used;
    }
}

static void emit(enum log_level level, const char *func, const char *msg, va_list *fields)
{
    struct line l = { .n = 0 };
    struct timespec ts;
    struct tm tm;
    char stamp[48];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t sl = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(stamp + sl, sizeof stamp - sl, ".%06ldZ", ts.tv_nsec / 1000);

    if (log_json) {
        puts_(&l, "{\"time\":\""); puts_(&l, stamp);
        puts_(&l, "\",\"severity\":\""); puts_(&l, level_names[level]);
        puts_(&l, "\",\"message\":\""); put_escaped(&l, msg, 2048);
        puts_(&l, "\",\"func\":\""); puts_(&l, func); puts_(&l, "\"");
    } else {
        puts_(&l, stamp); puts_(&l, " "); puts_(&l, level_names[level]);
        puts_(&l, " "); puts_(&l, msg);
    }
    for (const char *key; fields && (key = va_arg(*fields, const char *)) != NULL;) {
        const char *val = va_arg(*fields, const char *);
        bool raw = key[0] == '#';
        if (raw)
            key++;
        if (log_json) {
            if (l.n + strlen(key) + 8 + (raw ? strlen(val) : 0) > sizeof l.buf - FIELD_RESERVE)
                break;      /* no room for the whole field: the line ends valid without it */
            puts_(&l, ",\""); put_escaped(&l, key, FIELD_RESERVE); puts_(&l, "\":");
            if (raw) {
                puts_(&l, val);
            } else {
                puts_(&l, "\""); put_escaped(&l, val, FIELD_RESERVE); puts_(&l, "\"");
            }
        } else {
            puts_(&l, " "); puts_(&l, key); puts_(&l, "="); puts_(&l, val);
        }
    }
    if (log_json)
        l.buf[l.n++] = '}';
    l.buf[l.n++] = '\n';
    ssize_t w = write(STDERR_FILENO, l.buf, l.n);
    (void)w;
}

void log_fields(enum log_level level, const char *func, const char *msg, ...)
{
    if (level < log_min_level)
        return;
    va_list ap;
    va_start(ap, msg);
    emit(level, func, msg, &ap);
    va_end(ap);
}

void log_msg(enum log_level level, const char *func, const char *fmt, ...)
{
    if (level < log_min_level)
        return;
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    emit(level, func, msg, NULL);
}
