/*
 * schema.c — the BigQuery JSON table schema, and coercion of messages into rows.
 *
 * A schema file is read once at start; every column is checked so that a bad
 * file fails with a message naming the entry to fix. Coercion is on the hot
 * path (every ingested message): one pass over the message with a reader made
 * for it (jansson only reads schema files), a hash lookup per key, and two
 * allocations per row (the values and one buffer holding every string).
 * The calendar arithmetic is proleptic Gregorian, years 0001..9999 (BigQuery's
 * TIMESTAMP and DATE range).
 */
#include "colibri/schema.h"
#include "colibri/strbuf.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "colibri/error.h"

#define NAME_MAX_LEN 128
#define ECHO_MAX 40                     /* bytes of a bad value quoted in a reason */
#define SCHEMA_FILE_MAX (16u << 20)
#define US_PER_SEC 1000000LL
#define US_PER_DAY 86400000000LL
#define DAYS_0001_TO_1970 (-719162LL)   /* 0001-01-01 */
#define DAYS_10000_TO_1970 2932897LL    /* 10000-01-01 */
#define TS_MIN_US (DAYS_0001_TO_1970 * US_PER_DAY)
#define TS_MAX_US (DAYS_10000_TO_1970 * US_PER_DAY - 1)

static void setmsg(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void setmsg(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;

    if (!buf || len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

static bool utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, k;

    while (i < n) {
        if (p[i] == 0 || (k = utf8_seq(p + i, n - i)) == 0)
            return false;
        i += k;
    }
    return true;
}

/*
 * Copy at most max bytes of s into dst (dstlen > max + 4) as printable text:
 * control bytes and invalid UTF-8 become '?', a cut adds "...". Reasons end up
 * in logs, JSON errors and the dead-letter table, so they must be clean text.
 */
static void sanitize(char *dst, size_t dstlen, const char *s, size_t n, size_t max)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, o = 0, k;

    while (i < n && o < max && o + 5 < dstlen) {
        k = p[i] < 0x20 || p[i] == 0x7f ? 0 : utf8_seq(p + i, n - i);
        if (k == 0) {
            dst[o++] = '?';
            i++;
            continue;
        }
        if (o + k > max)
            break;
        memcpy(dst + o, p + i, k);
        o += k;
        i += k;
    }
    if (i < n) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o] = '\0';
}

/* "\"text\"" shortened for a reason. */
static void echo(char *dst, size_t dstlen, const char *s, size_t n)
{
    char tmp[ECHO_MAX + 8];

    sanitize(tmp, sizeof tmp, s, n, ECHO_MAX);
    snprintf(dst, dstlen, "\"%s\"", tmp);
}

/* ---- calendar ------------------------------------------------------------ */

static bool is_leap(long y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(long y, int m)
{
    static const unsigned char dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    return m == 2 && is_leap(y) ? 29 : dm[m - 1];
}

/*
 * Days from 1970-01-01 to y-m-d, y >= 1. Years are counted from March, so the
 * leap day is the last day of its year and month lengths follow the 153/5
 * pattern (31,30,31,30,31 repeating from March).
 */
static int64_t days_from_civil(long y, int m, int d)
{
    int64_t yy = y - (m <= 2);
    int mp = (m + 9) % 12;                      /* March = 0 .. February = 11 */
    int64_t doy = (153 * mp + 2) / 5 + d - 1;

    return yy * 365 + yy / 4 - yy / 100 + yy / 400 + doy - 719468;
}

/* The inverse, for any day count: whole 400-year cycles, then the year inside. */
static void civil_from_days(int64_t days, long *y, int *m, int *d)
{
    int64_t z = days + 719468;                  /* days since 0000-03-01 */
    int64_t cyc = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doc = z - cyc * 146097;             /* [0, 146096] */
    int64_t yoc = (doc - doc / 1460 + doc / 36524 - doc / 146096) / 365;
    int64_t doy = doc - (365 * yoc + yoc / 4 - yoc / 100);
    int mp = (int)((5 * doy + 2) / 153);

    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (long)(yoc + cyc * 400 + (*m <= 2));
}

/* n decimal digits at p; -1 if any is not a digit. */
static long digits(const char *p, int n)
{
    long v = 0;

    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

/* "YYYY-MM-DD" at p (10 bytes available) → days; -1 year on error. */
static int parse_ymd(const char *p, int64_t *days)
{
    long y = digits(p, 4), m = digits(p + 5, 2), d = digits(p + 8, 2);

    if (y < 1 || m < 1 || m > 12 || d < 1 || p[4] != '-' || p[7] != '-' ||
        d > days_in_month(y, (int)m))
        return COLIBRI_EINVAL;
    *days = days_from_civil(y, (int)m, (int)d);
    return 0;
}

int date_parse(const char *text, size_t len, int64_t *out_days)
{
    *out_days = 0;
    if (len != 10)
        return COLIBRI_EINVAL;
    return parse_ymd(text, out_days);
}

int timestamp_parse(const char *text, size_t len, int64_t *out_us)
{
    const char *p = text, *end = text + len;
    int64_t days, us, frac = 0;
    long hh, mi, ss, oh, om;
    int nfrac = 0, sign;

    *out_us = 0;
    if (len < 20 || parse_ymd(p, &days) != 0)
        return COLIBRI_EINVAL;
    if (p[10] != 'T' && p[10] != 't' && p[10] != ' ')
        return COLIBRI_EINVAL;
    hh = digits(p + 11, 2), mi = digits(p + 14, 2), ss = digits(p + 17, 2);
    /* No leap second: neither BigQuery nor the epoch arithmetic has one. */
    if (hh < 0 || hh > 23 || mi < 0 || mi > 59 || ss < 0 || ss > 59 ||
        p[13] != ':' || p[16] != ':')
        return COLIBRI_EINVAL;
    p += 19;
    if (p < end && *p == '.') {
        for (p++; p < end && *p >= '0' && *p <= '9'; p++, nfrac++)
            if (nfrac < 6)
                frac = frac * 10 + (*p - '0');  /* digits past µs are truncated */
        if (nfrac == 0 || nfrac > 9)
            return COLIBRI_EINVAL;
        for (int i = nfrac; i < 6; i++)
            frac *= 10;
    }
    us = ((days * 86400 + hh * 3600 + mi * 60 + ss) * US_PER_SEC) + frac;
    if (end - p == 1 && (*p == 'Z' || *p == 'z')) {
        /* UTC */
    } else if (end - p == 6 && (*p == '+' || *p == '-') && p[3] == ':') {
        sign = *p == '+' ? 1 : -1;
        oh = digits(p + 1, 2), om = digits(p + 4, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59)
            return COLIBRI_EINVAL;
        us -= sign * (oh * 3600 + om * 60) * US_PER_SEC;
    } else {
        return COLIBRI_EINVAL;
    }
    if (us < TS_MIN_US || us > TS_MAX_US)
        return COLIBRI_EINVAL;
    *out_us = us;
    return 0;
}

static char *put_digits(char *p, long v, int n)
{
    for (int i = n - 1; i >= 0; i--, v /= 10)
        p[i] = (char)('0' + v % 10);
    return p + n;
}

size_t timestamp_format(int64_t us, char *buf)
{
    int64_t days = us / US_PER_DAY, rem = us % US_PER_DAY;
    long y, sod;
    int m, d;
    char *p = buf;

    if (rem < 0) {
        rem += US_PER_DAY;
        days--;
    }
    civil_from_days(days, &y, &m, &d);
    sod = (long)(rem / US_PER_SEC);
    if (y < 0 || y > 9999)      /* outside BigQuery's range: only from bad data */
        return (size_t)snprintf(buf, 32, "%ld-%02d-%02dT%02ld:%02ld:%02ld.%06ldZ", y, m, d,
                                sod / 3600, sod / 60 % 60, sod % 60, (long)(rem % US_PER_SEC));
    p = put_digits(p, y, 4);
    *p++ = '-';
    p = put_digits(p, m, 2);
    *p++ = '-';
    p = put_digits(p, d, 2);
    *p++ = 'T';
    p = put_digits(p, sod / 3600, 2);
    *p++ = ':';
    p = put_digits(p, sod / 60 % 60, 2);
    *p++ = ':';
    p = put_digits(p, sod % 60, 2);
    *p++ = '.';
    p = put_digits(p, (long)(rem % US_PER_SEC), 6);
    *p++ = 'Z';
    *p = '\0';
    return (size_t)(p - buf);
}

size_t date_format(int64_t days, char *buf)
{
    long y;
    int m, d;
    char *p = buf;

    civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999)
        return (size_t)snprintf(buf, 16, "%ld-%02d-%02d", y, m, d);
    p = put_digits(p, y, 4);
    *p++ = '-';
    p = put_digits(p, m, 2);
    *p++ = '-';
    p = put_digits(p, d, 2);
    *p = '\0';
    return (size_t)(p - buf);
}

size_t float_format(double f, char *buf)
{
    int n = 0;

    if (!isfinite(f)) {         /* coercion never lets these in; keep JSON valid anyway */
        memcpy(buf, "null", 5);
        return 4;
    }
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(buf, 32, "%.*g", prec, f);
        if (strtod(buf, NULL) == f)
            break;
    }
    return (size_t)n;
}

/* ---- values from text ---------------------------------------------------- */

static int parse_int64(const char *p, size_t n, int64_t *out, bool *range)
{
    uint64_t v = 0, lim = (uint64_t)INT64_MAX;
    bool neg = false, over = false;
    size_t i = 0;

    *range = false;
    if (n > 0 && (p[0] == '-' || p[0] == '+')) {
        neg = p[0] == '-';
        lim += neg;
        i++;
    }
    if (i == n)
        return COLIBRI_EINVAL;
    for (; i < n; i++) {
        unsigned dgt = (unsigned)(p[i] - '0');
        if (dgt > 9)
            return COLIBRI_EINVAL;      /* "99999999999999999999x" is not a number at all */
        over |= v > (lim - dgt) / 10;
        v = over ? lim : v * 10 + dgt;
    }
    if (over) {
        *range = true;
        return COLIBRI_EINVAL;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

/*
 * A decimal number as JSON writes one, plus an optional '+' and a bare
 * leading or trailing '.'. strtod alone would also take hex, "inf", "nan" and
 * leading blanks, none of which a JSON reader could get back out.
 */
static int parse_float(const char *p, size_t n, double *out, bool *range)
{
    /* Longer numeric strings are refused rather than copied to the heap. */
    char tmp[128];
    size_t i = 0, mant = 0;
    double f;

    *range = false;
    if (n >= sizeof tmp)
        return COLIBRI_EINVAL;
    if (i < n && (p[i] == '-' || p[i] == '+'))
        i++;
    for (; i < n && p[i] >= '0' && p[i] <= '9'; i++)
        mant++;
    if (i < n && p[i] == '.')
        for (i++; i < n && p[i] >= '0' && p[i] <= '9'; i++)
            mant++;
    if (mant == 0)
        return COLIBRI_EINVAL;
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        size_t e0;
        i++;
        if (i < n && (p[i] == '-' || p[i] == '+'))
            i++;
        for (e0 = i; i < n && p[i] >= '0' && p[i] <= '9'; i++)
            ;
        if (i == e0)
            return COLIBRI_EINVAL;
    }
    if (i != n)
        return COLIBRI_EINVAL;
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    f = strtod(tmp, NULL);
    if (!isfinite(f)) {
        *range = true;
        return COLIBRI_EINVAL;
    }
    *out = f;
    return 0;
}

static const char *expected(enum col_type t)
{
    switch (t) {
    case COL_TIMESTAMP: return "TIMESTAMP (RFC 3339)";
    case COL_DATE:      return "DATE (YYYY-MM-DD)";
    default:            return col_type_name(t);
    }
}

/* Type a text value; on failure why says so without naming a field. */
static int text_value(enum col_type t, const char *p, size_t n, struct value *v,
                      char *why, size_t whylen)
{
    char shown[ECHO_MAX + 16];
    bool range = false;
    int rc = 0;

    memset(v, 0, sizeof *v);
    switch (t) {
    case COL_STRING:
        if (!utf8_valid(p, n)) {
            setmsg(why, whylen, "expected STRING, got text that is not valid UTF-8");
            return COLIBRI_EINVAL;
        }
        v->u.s.p = p;
        v->u.s.n = n;
        return 0;
    case COL_INT64:
        rc = parse_int64(p, n, &v->u.i, &range);
        break;
    case COL_FLOAT64:
        rc = parse_float(p, n, &v->u.f, &range);
        break;
    case COL_BOOL:
        if (n == 4 && strncasecmp(p, "true", 4) == 0)
            v->u.b = true;
        else if (n == 5 && strncasecmp(p, "false", 5) == 0)
            v->u.b = false;
        else
            rc = COLIBRI_EINVAL;
        break;
    case COL_TIMESTAMP:
        rc = timestamp_parse(p, n, &v->u.i);
        break;
    case COL_DATE:
        rc = date_parse(p, n, &v->u.i);
        break;
    }
    if (rc == 0)
        return 0;
    memset(v, 0, sizeof *v);
    echo(shown, sizeof shown, p, n);
    if (range)
        setmsg(why, whylen, "%s out of range, got %s", col_type_name(t), shown);
    else
        setmsg(why, whylen, "expected %s, got %s", expected(t), shown);
    return COLIBRI_EINVAL;
}

int value_parse(enum col_type t, const char *text, size_t len, struct value *out,
                char *reason, size_t reasonlen)
{
    char why[160];
    int rc = text_value(t, text, len, out, why, sizeof why);

    if (rc != 0)
        setmsg(reason, reasonlen, "%s", why);
    return rc;
}

/* ---- reading a message ---------------------------------------------------- */

/*
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

#define JSON_MAX_DEPTH 2048
#define KEYS_INLINE 64          /* keyset slots before it needs the heap */

struct jstr {                   /* a validated string token: the bytes between its quotes */
    const char *raw;
    size_t n;
    bool esc;                   /* has escapes: decode before use */
};

enum jtype { J_STRING, J_INT, J_REAL, J_TRUE, J_FALSE, J_NULL, J_OBJECT, J_ARRAY };

struct token {
    enum jtype type;
    struct jstr s;
    int64_t i;
    double f;
};

struct key {                    /* an object key seen, for duplicate detection */
    const char *p;              /* NULL: free slot */
    size_t n;
    uint64_t h;
    size_t obj;                 /* which object: 0 the message, then in order of appearance */
};

struct keyset {
    struct key *slots;          /* NULL until the first key that is not a column */
    size_t mask, count;
    struct key *inline_slots;   /* KEYS_INLINE slots on the caller's stack */
};

struct reader {
    const unsigned char *start, *p, *end;
    const char *err;            /* the first syntax error, if any */
    size_t errpos;
    bool oom;
    char *buf;                  /* the row's buffer */
    size_t used, back;          /* front bytes committed; start of the keys at the back */
    uint64_t seed;
    size_t objects;             /* objects opened so far */
    struct keyset keys;
};

/* Column lookup: open addressing over the user columns, built by schema_parse. */
struct schema_index {
    uint64_t seed;
    size_t mask;
    struct col_slot {
        const char *name;       /* NULL: free */
        size_t len, col;
        uint64_t h;
    } slots[];
};

static int syntax(struct reader *r, const unsigned char *at, const char *what)
{
    if (!r->err) {
        r->err = what;
        r->errpos = (size_t)(at - r->start);
    }
    return COLIBRI_EINVAL;
}

static int no_memory(struct reader *r)
{
    r->oom = true;
    return COLIBRI_ENOMEM;
}

static uint64_t mix64(uint64_t h)
{
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93u;
    h ^= h >> 32;
    return h;
}

/* Keys are short: a word at a time, then a final mix. */
static uint64_t key_hash(const char *k, size_t n, uint64_t seed)
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
    return mix64(h);
}

static long find_column(const struct schema *s, const char *k, size_t n, uint64_t h)
{
    const struct schema_index *ix = s->index;

    if (!ix) {                  /* a schema not made by schema_parse */
        for (size_t i = 0; i < s->nuser; i++)
            if (strlen(s->cols[i].name) == n && memcmp(s->cols[i].name, k, n) == 0)
                return (long)i;
        return -1;
    }
    for (size_t i = h & ix->mask; ix->slots[i].name; i = (i + 1) & ix->mask) {
        const struct col_slot *sl = &ix->slots[i];
        if (sl->h == h && sl->len == n && memcmp(sl->name, k, n) == 0)
            return (long)sl->col;
    }
    return -1;
}

static int schema_index_build(struct schema *s)
{
    size_t cap = 8;
    struct timespec ts;

    while (cap < 2 * s->nuser)
        cap *= 2;
    s->index = calloc(1, sizeof *s->index + cap * sizeof s->index->slots[0]);
    if (!s->index)
        return COLIBRI_ENOMEM;
    /* A seed per schema, so that nobody can pick keys that all collide. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    s->index->seed = mix64((uint64_t)(uintptr_t)s ^ (uint64_t)ts.tv_nsec ^
                           ((uint64_t)ts.tv_sec << 32)) | 1;
    s->index->mask = cap - 1;
    for (size_t c = 0; c < s->nuser; c++) {
        size_t n = strlen(s->cols[c].name);
        uint64_t h = key_hash(s->cols[c].name, n, s->index->seed);
        size_t i = h & s->index->mask;
        while (s->index->slots[i].name)
            i = (i + 1) & s->index->mask;
        s->index->slots[i] = (struct col_slot){ .name = s->cols[c].name, .len = n, .col = c, .h = h };
    }
    return 0;
}

/* Remember key k of object obj; 1 if that object has it already. */
static int keyset_add(struct reader *r, size_t obj, const char *k, size_t n, uint64_t h)
{
    struct keyset *ks = &r->keys;
    size_t i;

    h ^= mix64(obj + 1u);   /* equal keys of different objects land apart */
    if (!ks->slots) {
        memset(ks->inline_slots, 0, KEYS_INLINE * sizeof *ks->inline_slots);
        ks->slots = ks->inline_slots;
        ks->mask = KEYS_INLINE - 1;
    }
    if (2 * (ks->count + 1) > ks->mask + 1) {
        size_t cap = 2 * (ks->mask + 1);
        struct key *t = calloc(cap, sizeof *t);
        if (!t)
            return no_memory(r);
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

static inline void skip_ws(struct reader *r)
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
static int scan_string(struct reader *r, struct jstr *s)
{
    const unsigned char *p = r->p, *end = r->end;
    bool esc = false;
    size_t k;
    long u, u2;

    for (;;) {
        while (p < end && str_class[*p] == 0)
            p++;
        if (p == end)
            return syntax(r, p, "premature end of input in a string");
        switch (str_class[*p]) {
        case 1:
            s->raw = (const char *)r->p;
            s->n = (size_t)(p - r->p);
            s->esc = esc;
            r->p = p + 1;
            return 0;
        case 3:
            return syntax(r, p, "control character in a string");
        case 4:
            if ((k = utf8_seq(p, (size_t)(end - p))) == 0)
                return syntax(r, p, "invalid UTF-8");
            p += k;
            break;
        default:
            esc = true;
            if (end - p < 2)
                return syntax(r, p, "premature end of input in a string");
            switch (p[1]) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                p += 2;
                break;
            case 'u':
                if ((u = hex4(p + 2, end)) < 0)
                    return syntax(r, p, "invalid escape");
                if (u == 0)
                    return syntax(r, p, "\\u0000 is not allowed");
                if (u >= 0xdc00 && u <= 0xdfff)
                    return syntax(r, p, "invalid Unicode escape (lone low surrogate)");
                p += 6;
                if (u >= 0xd800 && u <= 0xdbff) {
                    if (end - p < 2 || p[0] != '\\' || p[1] != 'u')
                        return syntax(r, p, "invalid Unicode escape (lone high surrogate)");
                    if ((u2 = hex4(p + 2, end)) < 0)
                        return syntax(r, p, "invalid escape");
                    if (u2 < 0xdc00 || u2 > 0xdfff)
                        return syntax(r, p, "invalid Unicode escape (lone high surrogate)");
                    p += 6;
                }
                break;
            default:
                return syntax(r, p, "invalid escape");
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
static size_t decode(const struct jstr *s, char *dst)
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
static int scan_number(struct reader *r, struct token *t)
{
    const unsigned char *p = r->p, *end = r->end, *start = p;
    uint64_t m = 0;
    long e10 = 0, ev = 0;
    int nd = 0;
    bool neg = false, lost = false, eneg = false;

    if (*p == '-') {
        neg = true;
        p++;
    }
    if (p == end || !is_digit(*p))
        return syntax(r, p, "invalid number");
    if (*p == '0') {
        if (++p < end && is_digit(*p))
            return syntax(r, p, "invalid number (leading zero)");
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
            return syntax(r, start, neg ? "too big negative integer" : "too big integer");
        t->type = J_INT;
        t->i = neg ? (int64_t)(0 - m) : (int64_t)m;
        r->p = p;
        return 0;
    }
    if (*p == '.') {
        if (++p == end || !is_digit(*p))
            return syntax(r, p, "invalid number");
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
        if (++p < end && (*p == '+' || *p == '-'))
            eneg = *p++ == '-';
        if (p == end || !is_digit(*p))
            return syntax(r, p, "invalid number");
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
        char tmp[128], *text = tmp;
        size_t n = (size_t)(p - start);
        if (n >= sizeof tmp && !(text = malloc(n + 1)))
            return no_memory(r);
        memcpy(text, start, n);
        text[n] = '\0';
        t->f = strtod(text, NULL);
        if (text != tmp)
            free(text);
        if (isinf(t->f))
            return syntax(r, start, "real number overflow");
    }
    r->p = p;
    return 0;
}

static int scan_literal(struct reader *r, const char *lit, size_t n)
{
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, lit, n) != 0)
        return syntax(r, r->p, "invalid token");
    r->p += n;
    return 0;
}

static int skip_value(struct reader *r, size_t depth);

/*
 * The key of an object, r->p at its opening quote: checked, decoded when it
 * has escapes (into the free middle of the row buffer), hashed. *kp stays
 * valid until the next string is decoded.
 */
static int read_key(struct reader *r, struct jstr *k, const char **kp, size_t *kn, uint64_t *h)
{
    int rc;

    if (r->p == r->end || *r->p != '"')
        return syntax(r, r->p, "string or '}' expected");
    r->p++;
    if ((rc = scan_string(r, k)) != 0)
        return rc;
    *kp = k->raw;
    *kn = k->n;
    if (k->esc) {
        *kp = r->buf + r->used;
        *kn = decode(k, r->buf + r->used);
    }
    *h = key_hash(*kp, *kn, r->seed);
    skip_ws(r);
    if (r->p == r->end || *r->p != ':')
        return syntax(r, r->p, "':' expected");
    r->p++;
    skip_ws(r);
    return 0;
}

/* A key that is not a column, of object obj: keep it (moved to the back if decoded). */
static int remember_key(struct reader *r, size_t obj, const struct jstr *k, const char *kp,
                        size_t kn, uint64_t h, const unsigned char *at)
{
    int rc;

    if (k->esc) {
        r->back -= kn;
        memmove(r->buf + r->back, kp, kn);
        kp = r->buf + r->back;
    }
    rc = keyset_add(r, obj, kp, kn, h);
    return rc == 1 ? syntax(r, at, "duplicate object key") : rc;
}

/*
 * One value at r->p (whitespace skipped) of the given depth. Containers are
 * checked and skipped: the caller only learns their type.
 */
static int read_token(struct reader *r, struct token *t, size_t depth)
{
    if (r->p == r->end)
        return syntax(r, r->p, "premature end of input");
    switch (*r->p) {
    case '"':
        t->type = J_STRING;
        r->p++;
        return scan_string(r, &t->s);
    case '{':
    case '[':
        t->type = *r->p == '{' ? J_OBJECT : J_ARRAY;
        return skip_value(r, depth);
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
        return syntax(r, r->p, "invalid token");
    }
}

/* Check and skip one value of the given depth (1: the message itself). */
static int skip_value(struct reader *r, size_t depth)
{
    size_t open[JSON_MAX_DEPTH];        /* per open container: object id, 0 for an array */
    size_t top = 0, kn;
    struct token t;
    struct jstr k;
    const char *kp;
    uint64_t h;
    int rc;

value:
    if (depth + top > JSON_MAX_DEPTH)
        return syntax(r, r->p, "maximum parsing depth reached");
    if (r->p < r->end && (*r->p == '{' || *r->p == '[')) {
        bool obj = *r->p == '{';
        open[top++] = obj ? ++r->objects : 0;
        r->p++;
        skip_ws(r);
        if (r->p < r->end && *r->p == (obj ? '}' : ']')) {
            r->p++;
            top--;
            goto next;
        }
        if (obj)
            goto key;
        goto value;
    }
    if (r->p < r->end && *r->p == '"') {     /* a string needs no token, nor decoding */
        r->p++;
        if ((rc = scan_string(r, &k)) != 0)
            return rc;
    } else if ((rc = read_token(r, &t, depth + top)) != 0) {
        return rc;
    }
next:
    if (top == 0)
        return 0;
    skip_ws(r);
    if (r->p < r->end && *r->p == ',') {
        r->p++;
        skip_ws(r);
        if (open[top - 1] == 0)
            goto value;
        goto key;
    }
    if (r->p < r->end && *r->p == (open[top - 1] ? '}' : ']')) {
        r->p++;
        top--;
        goto next;
    }
    return syntax(r, r->p, open[top - 1] ? "',' or '}' expected" : "',' or ']' expected");
key:
    {
        const unsigned char *at = r->p;
        if ((rc = read_key(r, &k, &kp, &kn, &h)) != 0 ||
            (rc = remember_key(r, open[top - 1], &k, kp, kn, h, at)) != 0)
            return rc;
    }
    goto value;
}

/* How a value reads in a reason: "12abc" quoted, numbers as written. */
static void describe(const struct token *t, const char *text, size_t n, char *buf, size_t len)
{
    char num[32];

    switch (t->type) {
    case J_STRING:  echo(buf, len, text, n); break;
    case J_INT:     snprintf(buf, len, "%lld", (long long)t->i); break;
    case J_REAL:
        float_format(t->f, num);
        snprintf(buf, len, "%s", num);
        break;
    case J_TRUE:    snprintf(buf, len, "true"); break;
    case J_FALSE:   snprintf(buf, len, "false"); break;
    case J_NULL:    snprintf(buf, len, "null"); break;
    case J_OBJECT:  snprintf(buf, len, "an object"); break;
    case J_ARRAY:   snprintf(buf, len, "an array"); break;
    }
}

/* Epoch seconds (integer or real) → µs within years 0001..9999. */
static int epoch_value(const struct token *t, int64_t *us)
{
    if (t->type == J_INT) {
        if (t->i < TS_MIN_US / US_PER_SEC || t->i > TS_MAX_US / US_PER_SEC)
            return COLIBRI_EINVAL;
        *us = t->i * US_PER_SEC;
        return 0;
    }
    double f = t->f * 1e6;
    if (!(f >= (double)TS_MIN_US && f <= (double)TS_MAX_US))
        return COLIBRI_EINVAL;
    *us = llround(f);           /* nearest µs: a double cannot hold more anyway */
    return *us <= TS_MAX_US ? 0 : COLIBRI_EINVAL;
}

struct coerce {
    const struct schema *s;
    struct value *vals;
    unsigned char *seen;        /* per user column: its key was in the message */
    size_t bad;                 /* the first column (in schema order) refused, or SIZE_MAX */
    char why[192];              /* ... and why */
};

/* Coerce one non-null value that is not a string; a refusal is kept if it comes first. */
static void typed_value(struct coerce *c, size_t col, const struct token *t)
{
    enum col_type type = c->s->cols[col].type;
    struct value *v = &c->vals[col];
    char shown[ECHO_MAX + 16];
    bool range = false;

    switch (type) {
    case COL_STRING:
    case COL_DATE:
        break;
    case COL_INT64:
        /* Reals are refused even when integral (1.0, 1e3): a producer sending
         * them has a float in hand, and silently truncating hides that. */
        if (t->type != J_INT)
            break;
        v->u.i = t->i;
        return;
    case COL_FLOAT64:
        if (t->type != J_INT && t->type != J_REAL)
            break;
        v->u.f = t->type == J_INT ? (double)t->i : t->f;
        return;
    case COL_BOOL:
        if (t->type != J_TRUE && t->type != J_FALSE)
            break;
        v->u.b = t->type == J_TRUE;
        return;
    case COL_TIMESTAMP:
        if (t->type != J_INT && t->type != J_REAL)
            break;
        if (epoch_value(t, &v->u.i) == 0)
            return;
        range = true;
        break;
    }
    if (col >= c->bad)
        return;         /* an earlier column is reported already */
    c->bad = col;
    describe(t, NULL, 0, shown, sizeof shown);
    if (range)
        setmsg(c->why, sizeof c->why, "TIMESTAMP out of range (years 0001-9999), got %s", shown);
    else
        setmsg(c->why, sizeof c->why, "expected %s%s, got %s", expected(type),
               type == COL_TIMESTAMP ? " or epoch seconds" : "", shown);
}

/* The value of user column col, r->p at it. */
static int read_field(struct reader *r, struct coerce *c, size_t col)
{
    enum col_type type = c->s->cols[col].type;
    struct value *v = &c->vals[col];
    struct token t;
    const char *text;
    char *dst;
    size_t n;
    int rc;

    if ((rc = read_token(r, &t, 2)) != 0)
        return rc;
    if (t.type == J_NULL) {
        v->is_null = true;
        return 0;
    }
    if (t.type != J_STRING) {
        typed_value(c, col, &t);
        return 0;
    }
    dst = r->buf + r->used;
    if (type == COL_STRING) {
        n = decode(&t.s, dst);
        dst[n] = '\0';          /* strings are C strings too, for consumers that want them */
        v->u.s.p = dst;
        v->u.s.n = n;
        r->used += n + 1;
        return 0;
    }
    if (t.s.esc) {
        text = dst;
        n = decode(&t.s, dst);
    } else {
        text = t.s.raw;
        n = t.s.n;
    }
    if (text_value(type, text, n, v, col < c->bad ? c->why : NULL, sizeof c->why) != 0 &&
        col < c->bad)
        c->bad = col;
    return 0;
}

/* The message is an object, r->p at its '{'. */
static int read_object(struct reader *r, struct coerce *c)
{
    struct jstr k;
    const char *kp;
    size_t kn;
    uint64_t h;
    long col;
    int rc;

    r->p++;
    skip_ws(r);
    if (r->p < r->end && *r->p == '}') {
        r->p++;
        return 0;
    }
    for (;;) {
        const unsigned char *at = r->p;
        if ((rc = read_key(r, &k, &kp, &kn, &h)) != 0)
            return rc;
        col = find_column(c->s, kp, kn, h);
        if (col < 0) {
            if ((rc = remember_key(r, 0, &k, kp, kn, h, at)) != 0 || (rc = skip_value(r, 2)) != 0)
                return rc;
        } else {
            if (c->seen[col])
                return syntax(r, at, "duplicate object key");
            c->seen[col] = 1;
            if ((rc = read_field(r, c, (size_t)col)) != 0)
                return rc;
        }
        skip_ws(r);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            skip_ws(r);
            continue;
        }
        if (r->p < r->end && *r->p == '}') {
            r->p++;
            return 0;
        }
        return syntax(r, r->p, "',' or '}' expected");
    }
}

/* The message is not an object: check it all the same, and say what it is in shown. */
static int read_other(struct reader *r, char *shown, size_t len)
{
    struct token t;
    size_t n = 0;
    int rc;

    if ((rc = read_token(r, &t, 1)) != 0)
        return rc;
    if (t.type == J_STRING)
        n = decode(&t.s, r->buf);
    describe(&t, r->buf, n, shown, len);
    return 0;
}

/* Every user column in schema order: the first missing, null or refused one fails the row. */
static int check_row(struct coerce *c, char *reason, size_t reasonlen)
{
    const struct schema *s = c->s;

    for (size_t i = 0; i < s->nuser; i++) {
        const struct column *col = &s->cols[i];
        if (!c->seen[i] || c->vals[i].is_null) {
            if (col->required) {
                setmsg(reason, reasonlen, c->seen[i] ? "required field '%s' is null"
                                                     : "missing required field '%s'", col->name);
                return COLIBRI_EINVAL;
            }
            c->vals[i].is_null = true;
        } else if (i == c->bad) {
            setmsg(reason, reasonlen, "field '%s': %s", col->name, c->why);
            return COLIBRI_EINVAL;
        }
    }
    for (size_t i = s->nuser; i < s->ncols; i++)
        c->vals[i].is_null = true;
    return 0;
}

int schema_coerce(const struct schema *s, const char *msg, size_t len, struct row *out,
                  char *reason, size_t reasonlen)
{
    struct reader r = {
        .start = (const unsigned char *)msg, .p = (const unsigned char *)msg,
        .end = (const unsigned char *)msg + len, .back = len + 1,
        .seed = s->index ? s->index->seed : 0,
    };
    struct coerce c = { .s = s, .bad = SIZE_MAX };
    struct key keys[KEYS_INLINE];       /* left uninitialised: most messages need none */
    char shown[ECHO_MAX + 16], why[160];
    bool object;
    int rc;

    memset(out, 0, sizeof *out);
    r.keys.inline_slots = keys;
    /* The values, then one "seen" byte per user column; and the string buffer. */
    c.vals = malloc(s->ncols * sizeof *c.vals + s->nuser);
    r.buf = malloc(len + 1);
    if (!c.vals || !r.buf) {
        rc = COLIBRI_ENOMEM;
        setmsg(reason, reasonlen, "out of memory");
        goto out;
    }
    memset(c.vals, 0, s->ncols * sizeof *c.vals + s->nuser);
    c.seen = (unsigned char *)(c.vals + s->ncols);

    skip_ws(&r);
    object = r.p < r.end && *r.p == '{';
    rc = object ? read_object(&r, &c) : read_other(&r, shown, sizeof shown);
    if (rc == 0) {
        skip_ws(&r);
        if (r.p != r.end)
            rc = syntax(&r, r.p, "end of file expected");
    }
    if (r.oom) {
        rc = COLIBRI_ENOMEM;
        setmsg(reason, reasonlen, "out of memory");
        goto out;
    }
    if (rc != 0) {
        snprintf(why, sizeof why, "%s at byte %zu", r.err, r.errpos);
        setmsg(reason, reasonlen, "message is not valid JSON: %s", why);
        goto out;
    }
    if (!object) {
        rc = COLIBRI_EINVAL;
        setmsg(reason, reasonlen, "message is not a JSON object, got %s", shown);
        goto out;
    }
    if ((rc = check_row(&c, reason, reasonlen)) != 0)
        goto out;
    r.buf[r.used] = '\0';
    if (len + 1 - r.used > 4096) {
        /* A large message with little to keep (rows wait in batches): give back the rest. */
        char *small = malloc(r.used + 1);
        if (small) {
            memcpy(small, r.buf, r.used + 1);
            for (size_t i = 0; i < s->nuser; i++)
                if (s->cols[i].type == COL_STRING && !c.vals[i].is_null)
                    c.vals[i].u.s.p = small + (c.vals[i].u.s.p - r.buf);
            free(r.buf);
            r.buf = small;
        }
    }
    out->vals = c.vals;
    out->buf = r.buf;
    c.vals = NULL;
    r.buf = NULL;
out:
    if (r.keys.slots != r.keys.inline_slots)
        free(r.keys.slots);
    free(c.vals);
    free(r.buf);
    return rc;
}

bool value_equal(enum col_type t, const struct value *a, const struct value *b)
{
    if (a->is_null || b->is_null)
        return a->is_null == b->is_null;
    switch (t) {
    case COL_STRING:
        return a->u.s.n == b->u.s.n && !memcmp(a->u.s.p, b->u.s.p, a->u.s.n);
    case COL_FLOAT64:
        return a->u.f == b->u.f;
    case COL_BOOL:
        return a->u.b == b->u.b;
    default:
        return a->u.i == b->u.i;
    }
}

void row_release(struct row *r)
{
    if (!r)
        return;
    free(r->vals);
    free(r->buf);
    free(r->meta);
    r->vals = NULL;
    r->buf = NULL;
    r->meta = NULL;
}

/* ---- loading the schema -------------------------------------------------- */

const char *col_type_name(enum col_type t)
{
    switch (t) {
    case COL_STRING:    return "STRING";
    case COL_INT64:     return "INT64";
    case COL_FLOAT64:   return "FLOAT64";
    case COL_BOOL:      return "BOOL";
    case COL_TIMESTAMP: return "TIMESTAMP";
    case COL_DATE:      return "DATE";
    }
    return "?";
}

static bool valid_name(const char *s)
{
    size_t i;

    if (!((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return false;
    for (i = 1; s[i]; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_') || i >= NAME_MAX_LEN)
            return false;
    return true;
}

static const struct { const char *name; enum col_type t; } type_names[] = {
    {"STRING", COL_STRING}, {"INT64", COL_INT64}, {"INTEGER", COL_INT64},
    {"FLOAT64", COL_FLOAT64}, {"FLOAT", COL_FLOAT64}, {"BOOL", COL_BOOL},
    {"BOOLEAN", COL_BOOL}, {"TIMESTAMP", COL_TIMESTAMP}, {"DATE", COL_DATE},
};

/* BigQuery types this service cannot store or filter (yet). */
static const char *const unsupported_types[] = {
    "NUMERIC", "BIGNUMERIC", "DECIMAL", "BIGDECIMAL", "BYTES", "DATETIME", "TIME",
    "GEOGRAPHY", "JSON", "INTERVAL", "RANGE",
};

static int parse_column(const json_t *j, size_t idx, struct column *c, char *err, size_t errlen)
{
    const json_t *name = json_object_get(j, "name"), *type, *mode, *desc, *clu;
    const char *tn;
    char shown[ECHO_MAX + 16];
    size_t k;

    if (!json_is_object(j)) {
        setmsg(err, errlen, "fields[%zu]: expected an object {\"name\",\"type\",...}", idx);
        return COLIBRI_ECONFIG;
    }
    if (!json_is_string(name)) {
        setmsg(err, errlen, "fields[%zu]: \"name\" is missing or not a string", idx);
        return COLIBRI_ECONFIG;
    }
    echo(shown, sizeof shown, json_string_value(name), json_string_length(name));
    if (json_string_length(name) != strlen(json_string_value(name)) ||
        !valid_name(json_string_value(name))) {
        setmsg(err, errlen, "fields[%zu]: name %s must match [A-Za-z_][A-Za-z0-9_]{0,127}",
               idx, shown);
        return COLIBRI_ECONFIG;
    }
    if (json_string_value(name)[0] == '_') {
        setmsg(err, errlen, "fields[%zu]: name %s starts with '_', which is reserved for "
               "colibri's metadata columns", idx, shown);
        return COLIBRI_ECONFIG;
    }

    type = json_object_get(j, "type");
    if (!json_is_string(type)) {
        setmsg(err, errlen, "fields[%zu] %s: \"type\" is missing or not a string", idx, shown);
        return COLIBRI_ECONFIG;
    }
    tn = json_string_value(type);
    if (json_object_get(j, "fields") || !strcasecmp(tn, "RECORD") || !strcasecmp(tn, "STRUCT")) {
        setmsg(err, errlen, "fields[%zu] %s: RECORD/STRUCT columns are not supported", idx, shown);
        return COLIBRI_ECONFIG;
    }
    for (k = 0; k < sizeof type_names / sizeof type_names[0]; k++)
        if (!strcasecmp(tn, type_names[k].name))
            break;
    if (k == sizeof type_names / sizeof type_names[0]) {
        bool known = false;
        for (size_t u = 0; u < sizeof unsupported_types / sizeof unsupported_types[0]; u++)
            known |= !strcasecmp(tn, unsupported_types[u]);
        char tshown[ECHO_MAX + 16];
        echo(tshown, sizeof tshown, tn, json_string_length(type));
        setmsg(err, errlen, "fields[%zu] %s: %s type %s; use STRING, INT64, FLOAT64, BOOL, "
               "TIMESTAMP or DATE", idx, shown, known ? "unsupported" : "unknown", tshown);
        return COLIBRI_ECONFIG;
    }
    c->type = type_names[k].t;

    mode = json_object_get(j, "mode");
    if (mode && !json_is_string(mode)) {
        setmsg(err, errlen, "fields[%zu] %s: \"mode\" must be a string", idx, shown);
        return COLIBRI_ECONFIG;
    }
    if (mode && !strcasecmp(json_string_value(mode), "REPEATED")) {
        setmsg(err, errlen, "fields[%zu] %s: REPEATED columns are not supported", idx, shown);
        return COLIBRI_ECONFIG;
    }
    if (mode && strcasecmp(json_string_value(mode), "REQUIRED") &&
        strcasecmp(json_string_value(mode), "NULLABLE")) {
        setmsg(err, errlen, "fields[%zu] %s: mode must be NULLABLE or REQUIRED", idx, shown);
        return COLIBRI_ECONFIG;
    }
    c->required = mode && !strcasecmp(json_string_value(mode), "REQUIRED");

    desc = json_object_get(j, "description");
    if (desc && !json_is_string(desc)) {
        setmsg(err, errlen, "fields[%zu] %s: \"description\" must be a string", idx, shown);
        return COLIBRI_ECONFIG;
    }
    clu = json_object_get(j, "x-cluster");
    if (clu && !json_is_boolean(clu)) {
        setmsg(err, errlen, "fields[%zu] %s: \"x-cluster\" must be true or false", idx, shown);
        return COLIBRI_ECONFIG;
    }
    c->cluster = json_is_true(clu);
    c->name = strdup(json_string_value(name));
    c->description = strdup(desc ? json_string_value(desc) : "");
    if (!c->name || !c->description) {
        setmsg(err, errlen, "out of memory");
        return COLIBRI_ENOMEM;
    }
    return 0;
}

static const struct { const char *name; enum col_type t; bool required; const char *desc; }
meta_cols[META_COUNT] = {
    [META_ID] = {"_id", COL_STRING, true,
                 "Source id: kafka:<topic>/<partition>/<offset> or the Pub/Sub messageId."},
    [META_SOURCE] = {"_source", COL_STRING, false,
                     "Where the row came from: the Kafka topic or Pub/Sub subscription."},
    [META_PUBLISHED_AT] = {"_published_at", COL_TIMESTAMP, false,
                           "When the source accepted the message."},
    [META_INGESTED_AT] = {"_ingested_at", COL_TIMESTAMP, false,
                          "When colibri stored the row."},
};

int schema_parse(const char *json, size_t len, const char *table, const char *event_time,
                 struct schema **out, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = NULL, *fields;
    struct schema *s = NULL;
    char shown[ECHO_MAX + 16];
    size_t n;
    int rc = COLIBRI_ECONFIG, et;

    *out = NULL;
    if (!event_time || !*event_time)
        event_time = "event_time";
    if (!table || !valid_name(table)) {
        echo(shown, sizeof shown, table ? table : "", table ? strlen(table) : 0);
        setmsg(err, errlen, "table name %s must match [A-Za-z_][A-Za-z0-9_]{0,127} "
               "(it is the schema file's base name)", shown);
        goto out;
    }
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        setmsg(err, errlen, "schema is not valid JSON: %s (line %d, column %d)",
               jerr.text, jerr.line, jerr.column);
        goto out;
    }
    /* A bare array (bq show --schema, Terraform) or a tables API {"fields": [...]}. */
    fields = json_is_object(root) ? json_object_get(root, "fields") : root;
    if (!json_is_array(fields) || json_array_size(fields) == 0) {
        setmsg(err, errlen, "schema must be a non-empty JSON array of columns");
        goto out;
    }
    n = json_array_size(fields);
    s = calloc(1, sizeof *s);
    if (!s || !(s->table = strdup(table)) || !(s->cols = calloc(n + META_COUNT, sizeof *s->cols))) {
        rc = COLIBRI_ENOMEM;
        setmsg(err, errlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        rc = parse_column(json_array_get(fields, i), i, &s->cols[i], err, errlen);
        s->ncols = i + 1;       /* so schema_free releases what parse_column set */
        if (rc != 0)
            goto out;
        for (size_t k = 0; k < i; k++) {
            /* BigQuery and SQLite both fold the case of column names. */
            if (!strcasecmp(s->cols[k].name, s->cols[i].name)) {
                setmsg(err, errlen, "fields[%zu]: duplicate column name '%s' (see fields[%zu])",
                       i, s->cols[i].name, k);
                rc = COLIBRI_ECONFIG;
                goto out;
            }
        }
    }
    s->nuser = n;
    for (int m = 0; m < META_COUNT; m++) {
        struct column *c = &s->cols[n + (size_t)m];
        c->name = strdup(meta_cols[m].name);
        c->description = strdup(meta_cols[m].desc);
        c->type = meta_cols[m].t;
        c->required = meta_cols[m].required;
        c->metadata = true;
        s->ncols++;
        if (!c->name || !c->description) {
            rc = COLIBRI_ENOMEM;
            setmsg(err, errlen, "out of memory");
            goto out;
        }
    }
    if (schema_index_build(s) != 0) {
        rc = COLIBRI_ENOMEM;
        setmsg(err, errlen, "out of memory");
        goto out;
    }
    et = schema_find(s, event_time);
    rc = COLIBRI_ECONFIG;
    if (et < 0 || s->cols[et].metadata) {
        echo(shown, sizeof shown, event_time, strlen(event_time));
        setmsg(err, errlen, "event-time column %s is not a column of the schema file", shown);
        goto out;
    }
    if (s->cols[et].type != COL_TIMESTAMP || !s->cols[et].required) {
        /* Rows are ordered and paged by it: a NULL would have no place. */
        setmsg(err, errlen, "event-time column '%s' must be TIMESTAMP and REQUIRED, "
               "not %s %s", event_time, col_type_name(s->cols[et].type),
               s->cols[et].required ? "REQUIRED" : "NULLABLE");
        goto out;
    }
    s->event_time = (size_t)et;
    *out = s;
    s = NULL;
    rc = 0;
out:
    schema_free(s);
    json_decref(root);
    return rc;
}

int schema_load(const char *path, const char *event_time, struct schema **out,
                char *err, size_t errlen)
{
    char *text = NULL, *table = NULL, *dot;
    const char *base;
    size_t len = 0, cap = 0, got;
    FILE *f;
    int rc;

    *out = NULL;
    f = fopen(path, "rb");
    if (!f) {
        rc = errno == ENOENT ? COLIBRI_ENOTFOUND : COLIBRI_EIO;
        setmsg(err, errlen, "cannot open schema file %s: %s", path, strerror(errno));
        return rc;
    }
    for (;;) {
        if (len == cap) {
            char *t = cap < SCHEMA_FILE_MAX ? realloc(text, cap + 65536) : NULL;
            if (!t) {
                rc = cap < SCHEMA_FILE_MAX ? COLIBRI_ENOMEM : COLIBRI_ECONFIG;
                setmsg(err, errlen, "cannot read schema file %s: %s", path,
                       rc == COLIBRI_ENOMEM ? "out of memory" : "larger than 16 MiB");
                goto out;
            }
            text = t;
            cap += 65536;
        }
        got = fread(text + len, 1, cap - len, f);
        if (got == 0)
            break;
        len += got;
    }
    if (ferror(f)) {
        rc = COLIBRI_EIO;
        setmsg(err, errlen, "cannot read schema file %s", path);
        goto out;
    }
    base = strrchr(path, '/');
    table = strdup(base ? base + 1 : path);
    if (!table) {
        rc = COLIBRI_ENOMEM;
        setmsg(err, errlen, "out of memory");
        goto out;
    }
    if ((dot = strrchr(table, '.')) && dot != table)
        *dot = '\0';
    rc = schema_parse(text, len, table, event_time, out, err, errlen);
    if (rc != 0 && err && errlen > 0) {
        char *msg = strdup(err);        /* say which file: the message alone does not */
        if (msg)
            snprintf(err, errlen, "%s: %s", path, msg);
        free(msg);
    }
out:
    free(table);
    free(text);
    fclose(f);
    return rc;
}

void schema_free(struct schema *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->ncols; i++) {
        free(s->cols[i].name);
        free(s->cols[i].description);
    }
    free(s->cols);
    free(s->table);
    free(s->index);
    free(s);
}

int schema_find(const struct schema *s, const char *name)
{
    for (size_t i = 0; i < s->ncols; i++)
        if (!strcmp(s->cols[i].name, name))
            return (int)i;
    return -1;
}
