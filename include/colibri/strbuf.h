/*
 * strbuf.h — a growable byte buffer (git's strbuf shape).
 *
 * Appends never fail visibly: on allocation failure the buffer sets
 * `failed` and ignores further appends; check it once at the end.
 * The buffer is always NUL-terminated when len > 0 and not failed.
 */
#ifndef COLIBRI_STRBUF_H
#define COLIBRI_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf {
    char *buf;
    size_t len, cap;
    bool failed;
};

#define STRBUF_INIT { NULL, 0, 0, false }

#include <stdint.h>
#include <string.h>

/* Make room for extra more bytes (and the NUL); false if that failed. */
bool strbuf_grow(struct strbuf *sb, size_t extra);

/* Inline: the response writer calls these a few dozen times per row. */
static inline void strbuf_add(struct strbuf *sb, const void *p, size_t n)
{
    /* cap - len, not len + n + 1: the sum could wrap for a huge n (cap > len whenever cap > 0) */
    if (n >= sb->cap - sb->len && !strbuf_grow(sb, n))
        return;
    memcpy(sb->buf + sb->len, p, n);
    sb->len += n;
    sb->buf[sb->len] = '\0';
}

static inline void strbuf_adds(struct strbuf *sb, const char *s)
{
    strbuf_add(sb, s, strlen(s));
}

static inline void strbuf_addc(struct strbuf *sb, char c)
{
    strbuf_add(sb, &c, 1);
}

/* Append v in decimal. */
void strbuf_add_int(struct strbuf *sb, int64_t v);
void strbuf_addf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0. */
size_t utf8_seq(const unsigned char *p, size_t n);

/*
 * Append s as the inside of a JSON string (no quotes), escaping as needed.
 * Bytes that are not valid UTF-8 become U+FFFD, so the output always is.
 */
void strbuf_add_json_str(struct strbuf *sb, const char *s, size_t n);

/* Append valid JSON text p[0..n) without the blanks outside its strings (minified). */
void strbuf_add_json_min(struct strbuf *sb, const char *p, size_t n);

/* Empty it, keep the memory. */
void strbuf_reset(struct strbuf *sb);

/* Hand the buffer to the caller (free() it); sb becomes empty. NULL if failed. */
char *strbuf_detach(struct strbuf *sb, size_t *len);

void strbuf_release(struct strbuf *sb);

#endif
