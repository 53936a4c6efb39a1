/* strbuf.c — growable byte buffer with a sticky failure flag. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colibri/strbuf.h"

bool strbuf_grow(struct strbuf *sb, size_t extra)
{
    if (sb->failed)
        return false;
    if (extra >= SIZE_MAX / 4 - sb->len) {     /* the doubling below would wrap */
        sb->failed = true;
        return false;
    }
    if (sb->len + extra + 1 <= sb->cap)
        return true;
    size_t cap = sb->cap ? sb->cap : 256;
    while (cap < sb->len + extra + 1)
        cap *= 2;
    char *p = realloc(sb->buf, cap);
    if (!p) {
        sb->failed = true;
        return false;
    }
    sb->buf = p;
    sb->cap = cap;
    return true;
}

void strbuf_add_int(struct strbuf *sb, int64_t v)
{
    char tmp[24], *p = tmp + sizeof tmp;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    strbuf_add(sb, p, (size_t)(tmp + sizeof tmp - p));
}

void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    char small[128];
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        strbuf_add(sb, small, (size_t)n);
        return;
    }
    if (!strbuf_grow(sb, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
}

size_t utf8_seq(const unsigned char *p, size_t n)
{
    size_t len, i;
    unsigned cp;

    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        len = 2, cp = p[0] & 0x1fu;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        len = 3, cp = p[0] & 0x0fu;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        len = 4, cp = p[0] & 0x07u;
    else
        return 0;
    if (len > n)
        return 0;
    for (i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3fu);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

/* Bytes a JSON string may hold as they are: printable ASCII but '"' and '\\'. */
static const unsigned char json_plain[256] = {
    [0x20 ... '"' - 1] = 1, ['"' + 1 ... '\\' - 1] = 1, ['\\' + 1 ... 0x7f] = 1,
};

/* Whether the 8 bytes at u are all json_plain (the has-zero-byte trick on x, x ^ '"', x ^ '\\'). */
static inline bool plain8(const unsigned char *u)
{
    uint64_t x, ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    memcpy(&x, u, 8);
    uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
    return !(((x - ones * 0x20) | (q - ones) | (b - ones) | x) & highs);
}

void strbuf_add_json_str(struct strbuf *sb, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    if (!strbuf_grow(sb, n + 2))
        return;
    /* the common case: nothing to escape, one copy */
    size_t i = 0;
    while (n - i >= 8 && plain8(u + i))
        i += 8;
    while (i < n && json_plain[u[i]])
        i++;
    if (i == n) {
        memcpy(sb->buf + sb->len, s, n);
        sb->len += n;
        sb->buf[sb->len] = '\0';
        return;
    }
    size_t start = 0;
    for (; i < n; i++) {
        while (n - i >= 8 && plain8(u + i))
            i += 8;
        if (i >= n)
            break;
        unsigned char c = u[i];
        if (json_plain[c])
            continue;
        if (c >= 0x80) {
            size_t k = utf8_seq(u + i, n - i);
            if (k) {
                i += k - 1;
                continue;
            }
        }
        strbuf_add(sb, s + start, i - start);
        start = i + 1;
        switch (c) {
        case '"':  strbuf_add(sb, "\\\"", 2); break;
        case '\\': strbuf_add(sb, "\\\\", 2); break;
        case '\n': strbuf_add(sb, "\\n", 2); break;
        case '\r': strbuf_add(sb, "\\r", 2); break;
        case '\t': strbuf_add(sb, "\\t", 2); break;
        default:
            if (c >= 0x80) {
                strbuf_add(sb, "\\ufffd", 6);     /* not UTF-8: never copied out as it is */
            } else {
                char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
                strbuf_add(sb, esc, 6);
            }
            break;
        }
    }
    strbuf_add(sb, s + start, n - start);
}

void strbuf_reset(struct strbuf *sb)
{
    sb->len = 0;
    if (sb->buf)
        sb->buf[0] = '\0';
}

char *strbuf_detach(struct strbuf *sb, size_t *len)
{
    char *p = NULL;
    if (sb->failed)
        free(sb->buf);
    else
        p = sb->buf ? sb->buf : calloc(1, 1);
    if (len)
        *len = p ? sb->len : 0;
    *sb = (struct strbuf)STRBUF_INIT;
    return p;
}

void strbuf_release(struct strbuf *sb)
{
    free(sb->buf);
    *sb = (struct strbuf)STRBUF_INIT;
}

void strbuf_add_json_min(struct strbuf *sb, const char *p, size_t n)
{
    size_t start = 0;
    bool str = false;

    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                str = false;
        } else if (c == '"') {
            str = true;
        } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            strbuf_add(sb, p + start, i - start);
            start = i + 1;
        }
    }
    if (start < n)
        strbuf_add(sb, p + start, n - start);
}
