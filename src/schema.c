/*
 * schema.c — the BigQuery JSON table schema, and coercion of messages into rows.
 *
 * A schema file is read once at start; every column is checked so that a bad
 * file fails with a message naming the entry to fix. Coercion is on the hot
 * path (every ingested message): one jansson parse, one lookup per column, and
 * two allocations per row (the values and one buffer holding every string).
 * The calendar arithmetic is proleptic Gregorian, years 0001..9999 (BigQuery's
 * TIMESTAMP and DATE range).
 */
#include "colibri/schema.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0. */
static size_t utf8_seq(const unsigned char *p, size_t n)
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

/* ---- values from JSON ---------------------------------------------------- */

/* How a JSON value reads in a reason: "12abc" quoted, numbers as written. */
static void describe(const json_t *j, char *buf, size_t len)
{
    char num[32];

    switch (json_typeof(j)) {
    case JSON_STRING:
        echo(buf, len, json_string_value(j), json_string_length(j));
        break;
    case JSON_INTEGER:
        snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
        break;
    case JSON_REAL:
        float_format(json_real_value(j), num);
        snprintf(buf, len, "%s", num);
        break;
    case JSON_TRUE:   snprintf(buf, len, "true"); break;
    case JSON_FALSE:  snprintf(buf, len, "false"); break;
    case JSON_NULL:   snprintf(buf, len, "null"); break;
    case JSON_OBJECT: snprintf(buf, len, "an object"); break;
    case JSON_ARRAY:  snprintf(buf, len, "an array"); break;
    }
}

/* Epoch seconds (integer or real) → µs within years 0001..9999. */
static int epoch_value(const json_t *j, int64_t *us)
{
    if (json_is_integer(j)) {
        json_int_t s = json_integer_value(j);
        if (s < TS_MIN_US / US_PER_SEC || s > TS_MAX_US / US_PER_SEC)
            return COLIBRI_EINVAL;
        *us = (int64_t)s * US_PER_SEC;
        return 0;
    }
    double f = json_real_value(j) * 1e6;
    if (!(f >= (double)TS_MIN_US && f <= (double)TS_MAX_US))
        return COLIBRI_EINVAL;
    *us = llround(f);           /* nearest µs: a double cannot hold more anyway */
    return *us <= TS_MAX_US ? 0 : COLIBRI_EINVAL;
}

/*
 * Coerce one non-null JSON value. Strings of a STRING column are left
 * pointing into j; the caller copies them into the row's buffer.
 */
static int json_value(enum col_type t, const json_t *j, struct value *v, char *why, size_t whylen)
{
    char shown[ECHO_MAX + 16];

    memset(v, 0, sizeof *v);
    if (json_is_string(j) && t != COL_STRING)
        return text_value(t, json_string_value(j), json_string_length(j), v, why, whylen);
    switch (t) {
    case COL_STRING:
        if (!json_is_string(j))
            break;
        v->u.s.p = json_string_value(j);
        v->u.s.n = json_string_length(j);
        return 0;
    case COL_INT64:
        /* Reals are refused even when integral (1.0, 1e3): a producer sending
         * them has a float in hand, and silently truncating hides that. */
        if (!json_is_integer(j))
            break;
        v->u.i = json_integer_value(j);
        return 0;
    case COL_FLOAT64:
        if (!json_is_number(j))
            break;
        v->u.f = json_number_value(j);
        return 0;
    case COL_BOOL:
        if (!json_is_boolean(j))
            break;
        v->u.b = json_is_true(j);
        return 0;
    case COL_TIMESTAMP:
        if (!json_is_number(j))
            break;
        if (epoch_value(j, &v->u.i) == 0)
            return 0;
        describe(j, shown, sizeof shown);
        setmsg(why, whylen, "TIMESTAMP out of range (years 0001-9999), got %s", shown);
        return COLIBRI_EINVAL;
    case COL_DATE:
        break;
    }
    describe(j, shown, sizeof shown);
    setmsg(why, whylen, "expected %s%s, got %s", expected(t),
           t == COL_TIMESTAMP ? " or epoch seconds" : "", shown);
    return COLIBRI_EINVAL;
}

int schema_coerce(const struct schema *s, const char *msg, size_t len, struct row *out,
                  char *reason, size_t reasonlen)
{
    json_error_t jerr;
    json_t *root;
    struct value *vals = NULL;
    char why[192], *p;
    size_t total = 1;
    int rc = COLIBRI_EINVAL;

    memset(out, 0, sizeof *out);
    root = json_loadb(msg, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!root) {
        sanitize(why, sizeof why, jerr.text, strlen(jerr.text), 120);
        setmsg(reason, reasonlen, "message is not valid JSON: %s", why);
        return COLIBRI_EINVAL;
    }
    if (!json_is_object(root)) {
        describe(root, why, sizeof why);
        setmsg(reason, reasonlen, "message is not a JSON object, got %s", why);
        goto out;
    }
    vals = malloc(s->ncols * sizeof *vals);
    if (!vals) {
        rc = COLIBRI_ENOMEM;
        setmsg(reason, reasonlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < s->nuser; i++) {
        const struct column *c = &s->cols[i];
        const json_t *j = json_object_get(root, c->name);

        if (!j || json_is_null(j)) {
            if (c->required) {
                setmsg(reason, reasonlen, j ? "required field '%s' is null"
                                            : "missing required field '%s'", c->name);
                goto out;
            }
            memset(&vals[i], 0, sizeof vals[i]);
            vals[i].is_null = true;
            continue;
        }
        if (json_value(c->type, j, &vals[i], why, sizeof why) != 0) {
            setmsg(reason, reasonlen, "field '%s': %s", c->name, why);
            goto out;
        }
        if (c->type == COL_STRING)
            total += vals[i].u.s.n + 1;
    }
    for (size_t i = s->nuser; i < s->ncols; i++) {
        memset(&vals[i], 0, sizeof vals[i]);
        vals[i].is_null = true;
    }
    out->buf = p = malloc(total);
    if (!p) {
        rc = COLIBRI_ENOMEM;
        setmsg(reason, reasonlen, "out of memory");
        goto out;
    }
    /* Strings are NUL-terminated in buf too, for consumers that want C strings. */
    for (size_t i = 0; i < s->nuser; i++) {
        struct value *v = &vals[i];
        if (s->cols[i].type != COL_STRING || v->is_null)
            continue;
        memcpy(p, v->u.s.p, v->u.s.n);
        v->u.s.p = p;
        p += v->u.s.n;
        *p++ = '\0';
    }
    *p = '\0';
    out->vals = vals;
    vals = NULL;
    rc = 0;
out:
    free(vals);
    json_decref(root);
    return rc;
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
    free(s);
}

int schema_find(const struct schema *s, const char *name)
{
    for (size_t i = 0; i < s->ncols; i++)
        if (!strcmp(s->cols[i].name, name))
            return (int)i;
    return -1;
}
