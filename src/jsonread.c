/*
 * jsonread.c — a strict, allocation-light JSON reader for one message.
 *
 * schema_coerce reads the message itself, in one pass, rather than building a
 * jansson tree first: the tree was most of the cost of a row. The reader takes
 * exactly what json_loadb(JSON_REJECT_DUPLICATES | JSON_DECODE_ANY) took, so
 * the same messages are kept and refused: RFC 8259 with UTF-8 checked, no
 * "\u0000", integers that fit int64, finite reals, unique keys in every object
 * at every depth, no value nested more than 2048 deep (jansson's limit; the
 * reader keeps its own stack, so depth costs no recursion). But for one thing:
 * jansson skipped a raw NUL byte right after a number or true/false/null (a
 * quirk of its pushback buffer); RFC 8259 allows a NUL byte nowhere, nor does
 * the reader. tests/fuzz/fuzz_coerce_diff.c compares the two implementations.
 *
 * Strings are decoded straight into the row's buffer, sized from the message:
 * every string token of n bytes decodes to at most n - 2 (its quotes), so
 * STRING values (plus their NULs) fill it from the front and the keys kept for
 * duplicate checks (those with escapes; the rest point into the message) from
 * the back, and the two never meet.
 */

#include "jsonread.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "colibri/error.h"
#include "colibri/strbuf.h"
#include "colibri/value.h"

static inline void skip_ws(struct jreader *r)
{
    const unsigned char *p = r->p;

    while (p < r->end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    r->p = p;
}

static inline bool is_digit(unsigned char c)
{
    return (unsigned)(c - '0') < 10;
}

void jr_skip_ws(struct jreader *r)
{
    skip_ws(r);
}

int jr_syntax(struct jreader *r, const unsigned char *at, const char *what)
{
    if (!r->err) {
        r->err = what;
        r->errpos = (size_t)(at - r->start);
    }
    return COLIBRI_EINVAL;
}

static int jr_no_memory(struct jreader *r)
{
    r->oom = true;
    return COLIBRI_ENOMEM;
}

uint64_t jr_mix64(uint64_t h)
{
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93u;
    h ^= h >> 32;
    return h;
}

/* Keys are short: a word at a time, then a final mix. */
uint64_t jr_hash(const char *k, size_t n, uint64_t seed)
{
    const unsigned char *p = (const unsigned char *)k;
    uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15u), w;

    for (; n >= 8; p += 8, n -= 8) {
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9u;
        h ^= h >> 29;
    }
    if (n > 0) {
        w = 0;
        for (size_t i = 0; i < n; i++)
            w |= (uint64_t)p[i] << (8 * i);
        h = (h ^ w) * 0xbf58476d1ce4e5b9u;
        h ^= h >> 29;
    }
    return jr_mix64(h);
}

/* Remember key k of object obj; 1 if that object has it already. */
static int keyset_add(struct jreader *r, size_t obj, const char *k, size_t n, uint64_t h)
{
    struct keyset *ks = &r->keys;
    size_t i;

    h ^= jr_mix64(obj + 1u);   /* equal keys of different objects land apart */
    if (!ks->slots) {
        memset(ks->inline_slots, 0, KEYS_INLINE * sizeof *ks->inline_slots);
        ks->slots = ks->inline_slots;
        ks->mask = KEYS_INLINE - 1;
    }
    if (2 * (ks->count + 1) > ks->mask + 1) {
        size_t cap = 2 * (ks->mask + 1);
        struct key *t = calloc(cap, sizeof *t);
        if (!t)
            return jr_no_memory(r);
        for (size_t j = 0; j <= ks->mask; j++) {
            if (!ks->slots[j].p)
                continue;
            for (i = ks->slots[j].h & (cap - 1); t[i].p; i = (i + 1) & (cap - 1))
                ;
            t[i] = ks->slots[j];
        }
        if (ks->slots != ks->inline_slots)
            free(ks->slots);
        ks->slots = t;
        ks->mask = cap - 1;
    }
    for (i = h & ks->mask; ks->slots[i].p; i = (i + 1) & ks->mask) {
        const struct key *e = &ks->slots[i];
        if (e->h == h && e->obj == obj && e->n == n && memcmp(e->p, k, n) == 0)
            return 1;
    }
    ks->slots[i] = (struct key){ .p = k, .n = n, .h = h, .obj = obj };
    ks->count++;
    return 0;
}

/* Value of 4 hex digits at p, or -1. */
static long hex4(const unsigned char *p, const unsigned char *end)
{
    long v = 0;

    if (end - p < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i], lc = c | 0x20;
        if (c - '0' < 10)
            v = v << 4 | (long)(c - '0');
        else if (lc - 'a' < 6)
            v = v << 4 | (long)(lc - 'a' + 10);
        else
            return -1;
    }
    return v;
}

/* Bytes inside a string: 0 plain, 1 quote, 2 backslash, 3 control, 4 not ASCII. */
#define X16(c) c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c
static const unsigned char str_class[256] = {
    X16(3), X16(3),
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    X16(0), X16(0),
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0,
    X16(0), X16(0),
    X16(4), X16(4), X16(4), X16(4), X16(4), X16(4), X16(4), X16(4),
};
#undef X16

/* r->p is past an opening quote: check the string, leave r->p past its closing quote. */
static int scan_string(struct jreader *r, struct jstr *s)
{
    const unsigned char *p = r->p, *end = r->end;
    bool esc = false;
    size_t k;
    long u, u2;

    *s = (struct jstr){ .raw = "" };   /* an error leaves an empty string, never stale bytes */
    for (;;) {
        while (p < end && str_class[*p] == 0)
            p++;
        if (p == end)
            return jr_syntax(r, p, "premature end of input in a string");
        switch (str_class[*p]) {
        case 1:
            s->raw = (const char *)r->p;
            s->n = (size_t)(p - r->p);
            s->esc = esc;
            r->p = p + 1;
            return 0;
        case 3:
            return jr_syntax(r, p, "control character in a string");
        case 4:
            if ((k = utf8_seq(p, (size_t)(end - p))) == 0)
                return jr_syntax(r, p, "invalid UTF-8");
            p += k;
            break;
        default:
            esc = true;
            if (end - p < 2)
                return jr_syntax(r, p, "premature end of input in a string");
            switch (p[1]) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                p += 2;
                break;
            case 'u':
                if ((u = hex4(p + 2, end)) < 0)
                    return jr_syntax(r, p, "invalid escape");
                if (u == 0)
                    return jr_syntax(r, p, "\\u0000 is not allowed");
                if (u >= 0xdc00 && u <= 0xdfff)
                    return jr_syntax(r, p, "invalid Unicode escape (lone low surrogate)");
                p += 6;
                if (u >= 0xd800 && u <= 0xdbff) {
                    if (end - p < 2 || p[0] != '\\' || p[1] != 'u')
                        return jr_syntax(r, p, "invalid Unicode escape (lone high surrogate)");
                    if ((u2 = hex4(p + 2, end)) < 0)
                        return jr_syntax(r, p, "invalid escape");
                    if (u2 < 0xdc00 || u2 > 0xdfff)
                        return jr_syntax(r, p, "invalid Unicode escape (lone high surrogate)");
                    p += 6;
                }
                break;
            default:
                return jr_syntax(r, p, "invalid escape");
            }
        }
    }
}

static size_t utf8_put(char *o, unsigned long cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Decode a string scan_string accepted into dst (room for s->n bytes); returns its length. */
size_t jr_decode(const struct jstr *s, char *dst)
{
    const unsigned char *p = (const unsigned char *)s->raw, *end = p + s->n, *q;
    char *o = dst;
    unsigned long cp;

    if (!s->esc) {
        memcpy(dst, s->raw, s->n);
        return s->n;
    }
    while (p < end) {
        q = memchr(p, '\\', (size_t)(end - p));
        if (!q)
            q = end;
        memcpy(o, p, (size_t)(q - p));
        o += q - p;
        p = q;
        if (p == end)
            break;
        switch (p[1]) {
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u':
            cp = (unsigned long)hex4(p + 2, end);
            if (cp >= 0xd800 && cp <= 0xdbff) {
                p += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + ((unsigned long)hex4(p + 2, end) - 0xdc00);
            }
            o += utf8_put(o, cp);
            p += 4;
            break;
        default:   *o++ = (char)p[1]; break;       /* " \ / */
        }
        p += 2;
    }
    return (size_t)(o - dst);
}

static const double exact_pow10[] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/*
 * A number token. Integers must fit int64 (jansson refused the rest). A real
 * with at most 19 significant digits, a mantissa up to 2^53 and a power of ten
 * within ±22 is one exact multiplication or division, so correctly rounded as
 * strtod would round it (Clinger's fast path); anything else goes to strtod.
 */
static int scan_number(struct jreader *r, struct jtoken *t)
{
    const unsigned char *p = r->p, *end = r->end, *start = p;
    uint64_t m = 0;
    long e10 = 0;
    int nd = 0;
    bool neg = false, lost = false;

    if (*p == '-') {
        neg = true;
        p++;
    }
    if (p == end || !is_digit(*p))
        return jr_syntax(r, p, "invalid number");
    if (*p == '0') {
        if (++p < end && is_digit(*p))
            return jr_syntax(r, p, "invalid number (leading zero)");
    } else {
        for (; p < end && is_digit(*p); p++) {
            if (nd < 19) {
                m = m * 10 + (unsigned)(*p - '0');
                nd++;
            } else {
                lost = true;        /* strtod will read it; as an integer it is too big */
                e10++;
            }
        }
    }
    if (p == end || (*p != '.' && *p != 'e' && *p != 'E')) {
        if (lost || m > (uint64_t)INT64_MAX + neg)
            return jr_syntax(r, start, neg ? "too big negative integer" : "too big integer");
        t->type = J_INT;
        t->i = neg ? (int64_t)(0 - m) : (int64_t)m;
        r->p = p;
        return 0;
    }
    if (*p == '.') {
        if (++p == end || !is_digit(*p))
            return jr_syntax(r, p, "invalid number");
        for (; p < end && is_digit(*p); p++) {
            if (m == 0 && *p == '0') {
                e10--;              /* 0.000x: leading zeros only scale */
            } else if (nd < 19) {
                m = m * 10 + (unsigned)(*p - '0');
                nd++;
                e10--;
            } else {
                lost = true;
            }
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        long ev = 0;
        bool eneg = false;
        if (++p < end && (*p == '+' || *p == '-'))
            eneg = *p++ == '-';
        if (p == end || !is_digit(*p))
            return jr_syntax(r, p, "invalid number");
        for (; p < end && is_digit(*p); p++)
            if (ev < 1000000)
                ev = ev * 10 + (*p - '0');
        e10 += eneg ? -ev : ev;
    }
    t->type = J_REAL;
    if (m == 0) {
        t->f = neg ? -0.0 : 0.0;
    } else if (!lost && m <= (1ull << 53) && e10 >= -22 && e10 <= 22) {
        t->f = e10 < 0 ? (double)m / exact_pow10[-e10] : (double)m * exact_pow10[e10];
        if (neg)
            t->f = -t->f;
    } else {
        char tmp[128];
        size_t n = (size_t)(p - start);
        char *text = n < sizeof tmp ? tmp : malloc(n + 1);
        if (!text)
            return jr_no_memory(r);
        memcpy(text, start, n);
        text[n] = '\0';
        t->f = strtod(text, NULL);
        if (text != tmp)
            free(text);
        if (isinf(t->f))
            return jr_syntax(r, start, "real number overflow");
    }
    r->p = p;
    return 0;
}

static int scan_literal(struct jreader *r, const char *lit, size_t n)
{
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, lit, n) != 0)
        return jr_syntax(r, r->p, "invalid token");
    r->p += n;
    return 0;
}

/*
 * The key of an object, r->p at its opening quote: checked, decoded when it
 * has escapes (into the free middle of the row buffer), hashed. *kp stays
 * valid until the next string is decoded.
 */
int jr_key(struct jreader *r, struct jstr *k, const char **kp, size_t *kn, uint64_t *h)
{
    int rc;

    if (r->p == r->end || *r->p != '"')
        return jr_syntax(r, r->p, "string or '}' expected");
    r->p++;
    if ((rc = scan_string(r, k)) != 0)
        return rc;
    *kp = k->raw;
    *kn = k->n;
    if (k->esc) {
        *kp = r->buf + r->used;
        *kn = jr_decode(k, r->buf + r->used);
    }
    *h = jr_hash(*kp, *kn, r->seed);
    skip_ws(r);
    if (r->p == r->end || *r->p != ':')
        return jr_syntax(r, r->p, "':' expected");
    r->p++;
    skip_ws(r);
    return 0;
}

/* A key that is not a column, of object obj: keep it (moved to the back if decoded). */
int jr_remember_key(struct jreader *r, size_t obj, const struct jstr *k, const char *kp,
                        size_t kn, uint64_t h, const unsigned char *at)
{
    int rc;

    if (k->esc) {
        r->back -= kn;
        memmove(r->buf + r->back, kp, kn);
        kp = r->buf + r->back;
    }
    rc = keyset_add(r, obj, kp, kn, h);
    return rc == 1 ? jr_syntax(r, at, "duplicate object key") : rc;
}

/*
 * One value at r->p (whitespace skipped) of the given depth. Containers are
 * checked and skipped: the caller only learns their type.
 */
int jr_token(struct jreader *r, struct jtoken *t, size_t depth)
{
    if (r->p == r->end)
        return jr_syntax(r, r->p, "premature end of input");
    switch (*r->p) {
    case '"':
        t->type = J_STRING;
        r->p++;
        return scan_string(r, &t->s);
    case '{':
    case '[':
        t->type = *r->p == '{' ? J_OBJECT : J_ARRAY;
        return jr_skip(r, depth);
    case 't':
        t->type = J_TRUE;
        return scan_literal(r, "true", 4);
    case 'f':
        t->type = J_FALSE;
        return scan_literal(r, "false", 5);
    case 'n':
        t->type = J_NULL;
        return scan_literal(r, "null", 4);
    default:
        if (*r->p == '-' || is_digit(*r->p))
            return scan_number(r, t);
        return jr_syntax(r, r->p, "invalid token");
    }
}

/*
 * After a value inside containers: close those that end here. 1 when another
 * element follows (r->p at it, past the ','), 0 when the outermost ended.
 */
static int close_or_next(struct jreader *r, const size_t *open, size_t *top)
{
    while (*top > 0) {
        size_t obj = open[*top - 1];            /* object id, 0 for an array */
        skip_ws(r);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            skip_ws(r);
            return 1;
        }
        if (r->p < r->end && *r->p == (obj ? '}' : ']')) {
            r->p++;
            (*top)--;
            continue;
        }
        return jr_syntax(r, r->p, obj ? "',' or '}' expected" : "',' or ']' expected");
    }
    return 0;
}

/* The key of the next member of object obj, remembered for the duplicate check. */
static int member_key(struct jreader *r, size_t obj)
{
    const unsigned char *at = r->p;
    struct jstr k;
    const char *kp;
    size_t kn;
    uint64_t h;
    int rc;

    if ((rc = jr_key(r, &k, &kp, &kn, &h)) != 0)
        return rc;
    return jr_remember_key(r, obj, &k, kp, kn, h, at);
}

/*
 * Containers are walked with a stack of their own (open[], one entry per
 * container entered), not by recursion, so depth costs no C stack.
 */
int jr_skip(struct jreader *r, size_t depth)
{
    size_t open[JSON_MAX_DEPTH];        /* per open container: object id, 0 for an array */
    size_t top = 0;
    struct jtoken t;
    struct jstr k;
    int rc;

    for (;;) {
        /* r->p is at a value */
        if (depth + top > JSON_MAX_DEPTH)
            return jr_syntax(r, r->p, "maximum parsing depth reached");
        if (r->p < r->end && (*r->p == '{' || *r->p == '[')) {
            bool obj = *r->p == '{';
            open[top++] = obj ? ++r->objects : 0;
            r->p++;
            skip_ws(r);
            if (r->p < r->end && *r->p == (obj ? '}' : ']')) {
                r->p++;
                top--;                  /* empty: a whole value, go on after it */
            } else {
                if (obj && (rc = member_key(r, open[top - 1])) != 0)
                    return rc;
                continue;               /* at its first element */
            }
        } else if (r->p < r->end && *r->p == '"') {     /* a string needs no token, nor decoding */
            r->p++;
            if ((rc = scan_string(r, &k)) != 0)
                return rc;
        } else if ((rc = jr_token(r, &t, depth + top)) != 0) {
            return rc;
        }
        if ((rc = close_or_next(r, open, &top)) <= 0)
            return rc;
        if (open[top - 1] && (rc = member_key(r, open[top - 1])) != 0)
            return rc;
    }
}
