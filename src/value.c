/*
 * value.c — column types and typed values: calendar, parse and format.
 *
 * Parsing is strict (a value must read back as it was written); formatting
 * has one switch over the column types, value_format, with a style per wire
 * format. The calendar arithmetic is proleptic Gregorian, years 0001..9999.
 */
#include "colibri/value.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


#include "colibri/arena.h"
#include "colibri/base64.h"
#include "colibri/decimal.h"
#include "colibri/error.h"
#include "colibri/strbuf.h"
#include "colibri/wkt.h"

bool utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < n) {
        size_t k;
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
    size_t i = 0, o = 0;

    while (i < n && o < max && o + 5 < dstlen) {
        size_t k = p[i] < 0x20 || p[i] == 0x7f ? 0 : utf8_seq(p + i, n - i);
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

void value_echo(char *dst, size_t dstlen, const char *s, size_t n)
{
    char tmp[VALUE_ECHO_MAX + 8];

    sanitize(tmp, sizeof tmp, s, n, VALUE_ECHO_MAX);
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
    int sign;

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
        int nfrac = 0;
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

/* "00".."99": two digits per table read instead of a division per digit. */
static const char two_digits[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

static char *put2(char *p, unsigned v)
{
    memcpy(p, two_digits + 2 * v, 2);
    return p + 2;
}

/* "HH:MM:SS.ffffff" of the second of the day sod and its µs frac. */
static inline char *put_hms(char *p, unsigned sod, unsigned frac)
{
    p = put2(p, sod / 3600);
    *p++ = ':';
    p = put2(p, sod / 60 % 60);
    *p++ = ':';
    p = put2(p, sod % 60);
    *p++ = '.';
    p = put2(p, frac / 10000);
    p = put2(p, frac / 100 % 100);
    return put2(p, frac % 100);
}

/*
 * The "YYYY-MM-DD" of the last days formatted on this thread, four slots by
 * the day's low bits: a page's timestamps (event, scheduled, ingested) fall on
 * a few days, and civil_from_days is the dear part of formatting one.
 */
struct day_slot { int64_t days; char ymd[10]; bool set; };
static _Thread_local struct day_slot tl_days[4];

size_t timestamp_format(int64_t us, char *buf)
{
    int64_t days = us / US_PER_DAY, rem = us % US_PER_DAY;
    long y;
    int m, d;
    char *p;

    if (rem < 0) {
        rem += US_PER_DAY;
        days--;
    }
    unsigned sod = (unsigned)(rem / US_PER_SEC), frac = (unsigned)(rem % US_PER_SEC);
    struct day_slot *slot = &tl_days[days & 3];
    if (!slot->set || slot->days != days) {
        civil_from_days(days, &y, &m, &d);
        if (y < 0 || y > 9999)      /* outside BigQuery's range: only from bad data */
            return (size_t)snprintf(buf, 32, "%ld-%02d-%02dT%02u:%02u:%02u.%06uZ", y, m, d,
                                    sod / 3600, sod / 60 % 60, sod % 60, frac);
        p = put_digits(slot->ymd, y, 4);
        *p++ = '-';
        p = put2(p, (unsigned)m);
        *p++ = '-';
        put2(p, (unsigned)d);
        slot->days = days;
        slot->set = true;
    }
    memcpy(buf, slot->ymd, 10);
    p = buf + 10;
    *p++ = 'T';
    p = put_hms(p, sod, frac);
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

/* "HH:MM:SS[.f{1,6}]" at p, exactly n bytes → µs since midnight. */
static int parse_hms(const char *p, size_t n, int64_t *us)
{
    long hh, mi, ss, frac = 0;

    if (n < 8 || p[2] != ':' || p[5] != ':')
        return COLIBRI_EINVAL;
    hh = digits(p, 2), mi = digits(p + 3, 2), ss = digits(p + 6, 2);
    if (hh < 0 || hh > 23 || mi < 0 || mi > 59 || ss < 0 || ss > 59)
        return COLIBRI_EINVAL;
    if (n > 8) {
        size_t nfrac = n - 9;
        if (p[8] != '.' || nfrac < 1 || nfrac > 6 || (frac = digits(p + 9, (int)nfrac)) < 0)
            return COLIBRI_EINVAL;
        for (size_t i = nfrac; i < 6; i++)
            frac *= 10;
    }
    *us = (hh * 3600 + mi * 60 + ss) * US_PER_SEC + frac;
    return 0;
}

int datetime_parse(const char *text, size_t len, int64_t *out_us)
{
    int64_t days, us;

    *out_us = 0;
    if (len < 19 || parse_ymd(text, &days) != 0 ||
        (text[10] != 'T' && text[10] != 't' && text[10] != ' ') ||
        parse_hms(text + 11, len - 11, &us) != 0)
        return COLIBRI_EINVAL;
    *out_us = days * US_PER_DAY + us;
    return 0;
}

size_t datetime_format(int64_t us, char *buf)
{
    size_t n = timestamp_format(us, buf);   /* the same text, less the zone */
    buf[--n] = '\0';
    return n;
}

int time_parse(const char *text, size_t len, int64_t *out_us)
{
    *out_us = 0;
    return parse_hms(text, len, out_us);
}

size_t time_format(int64_t us, char *buf)
{
    unsigned sod = (unsigned)(us / US_PER_SEC), frac = (unsigned)(us % US_PER_SEC);
    char *p = buf;

    if (us < 0 || us >= US_PER_DAY)     /* only from bad data */
        return (size_t)snprintf(buf, 16, "%s", "00:00:00.000000");
    p = put_hms(p, sod, frac);
    *p = '\0';
    return (size_t)(p - buf);
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

const char *col_type_expected(enum col_type t)
{
    switch (t) {
    case COL_TIMESTAMP: return "TIMESTAMP (RFC 3339)";
    case COL_DATE:      return "DATE (YYYY-MM-DD)";
    case COL_NUMERIC:   return "NUMERIC (a decimal number)";
    case COL_BIGNUMERIC: return "BIGNUMERIC (a decimal number)";
    case COL_BYTES:     return "BYTES (base64)";
    case COL_DATETIME:  return "DATETIME (YYYY-MM-DD HH:MM:SS[.ffffff])";
    case COL_TIME:      return "TIME (HH:MM:SS[.ffffff])";
    case COL_GEOGRAPHY: return "GEOGRAPHY (WKT)";
    case COL_RECORD:    return "RECORD (an object)";
    case COL_ARRAY:     return "an array";
    default:            return col_type_name(t);
    }
}

/* ---- the types of issue 18 (docs/types.md) ---------------------------------- */

/* v's text becomes sb's (copied into a; sb is released): 0 or ENOMEM. */
static int value_keep_text(struct arena *a, struct strbuf *sb, struct value *v)
{
    char *p = sb->failed ? NULL : arena_dup(a, sb->buf ? sb->buf : "", sb->len);
    strbuf_release(sb);
    if (!p)
        return COLIBRI_ENOMEM;
    v->u.s.p = p;
    v->u.s.n = strlen(p);
    return 0;
}

int value_decimal(const char *p, size_t n, int int_max, int scale, struct value *v, struct arena *a,
                  char *detail, size_t detaillen)
{
    char canon[DEC_TEXT_MAX];
    size_t len;
    int rc = decimal_canon(p, n, int_max, scale, canon, &len, detail, detaillen);
    if (rc)
        return rc;
    if (!(v->u.s.p = arena_dup(a, canon, len)))
        return COLIBRI_ENOMEM;
    v->u.s.n = len;
    return 0;
}

/*
 * Text → value for NUMERIC, BIGNUMERIC, BYTES, JSON, DATETIME, TIME and
 * GEOGRAPHY: 0, EINVAL (detail, may be NULL, says why when it can) or ENOMEM.
 */
static int value_text_ext(enum col_type t, const char *p, size_t n, struct value *v,
                          struct arena *a, char *detail, size_t detaillen)
{
    struct strbuf sb = STRBUF_INIT;
    json_t *j;

    switch (t) {
    case COL_NUMERIC:   /* at the type's default precision */
        return a ? value_decimal(p, n, NUMERIC_INT_DIGITS, NUMERIC_SCALE, v, a, detail, detaillen)
                 : COLIBRI_EINVAL;
    case COL_BIGNUMERIC:
        return a ? value_decimal(p, n, BIGNUMERIC_INT_DIGITS, BIGNUMERIC_SCALE, v, a, detail, detaillen)
                 : COLIBRI_EINVAL;
    case COL_BYTES:
        if (!base64_std_canonical(p, n))
            return COLIBRI_EINVAL;
        v->u.s.p = p;
        v->u.s.n = n;
        return 0;
    case COL_DATETIME:
        return datetime_parse(p, n, &v->u.i);
    case COL_TIME:
        return time_parse(p, n, &v->u.i);
    case COL_GEOGRAPHY:
        if (!a || wkt_canon(p, n, &sb, detail, detaillen) != 0) {
            strbuf_release(&sb);
            return COLIBRI_EINVAL;
        }
        return value_keep_text(a, &sb, v);
    case COL_JSON:
        if (!a || !(j = json_loadb(p, n, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL)))
            return COLIBRI_EINVAL;
        json_decref(j);
        strbuf_add_json_min(&sb, p, n);
        return value_keep_text(a, &sb, v);
    default:
        return COLIBRI_EINVAL;      /* RECORD and ARRAY are never text */
    }
}

/* Type a text value; on failure why says so without naming a field. */
static int text_value(enum col_type t, const char *p, size_t n, struct value *v,
                      struct arena *a, char *why, size_t whylen)
{
    char shown[VALUE_ECHO_MAX + 16], detail[64] = "";
    bool range = false;
    int rc = 0;

    memset(v, 0, sizeof *v);
    switch (t) {
    case COL_STRING:
        if (!utf8_valid(p, n)) {
            colibri_errmsg(why, whylen, "expected STRING, got text that is not valid UTF-8");
            return COLIBRI_EINVAL;
        }
        v->u.s.p = p;
        v->u.s.n = n;
        return 0;
    case COL_INT64:
        rc = parse_int64(p, n, &v->u.i, &range);
        break;
    case COL_FLOAT64:
        rc = float_parse(p, n, &v->u.f, &range);
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
    default:
        rc = value_text_ext(t, p, n, v, a, detail, sizeof detail);
        break;
    }
    if (rc == 0)
        return 0;
    memset(v, 0, sizeof *v);
    if (rc == COLIBRI_ENOMEM) {
        colibri_errmsg(why, whylen, "out of memory");
        return rc;
    }
    value_echo(shown, sizeof shown, p, n);
    if ((t == COL_NUMERIC || t == COL_BIGNUMERIC) && strncmp(detail, "at most", 7) == 0)
        colibri_errmsg(why, whylen, "%s takes %s, got %s", col_type_name(t), detail, shown);
    else if (t == COL_GEOGRAPHY && detail[0])
        colibri_errmsg(why, whylen, "expected %s: %s, got %s", col_type_expected(t), detail, shown);
    else if (range)
        colibri_errmsg(why, whylen, "%s out of range, got %s", col_type_name(t), shown);
    else
        colibri_errmsg(why, whylen, "expected %s, got %s", col_type_expected(t), shown);
    return COLIBRI_EINVAL;
}

int value_parse(enum col_type t, const char *text, size_t len, struct value *out,
                struct arena *a, char *reason, size_t reasonlen)
{
    return text_value(t, text, len, out, a, reason, reasonlen);
}

bool value_equal(enum col_type t, const struct value *a, const struct value *b)
{
    if (a->is_null || b->is_null)
        return a->is_null == b->is_null;
    if (col_type_is_text(t))
        return a->u.s.n == b->u.s.n && !memcmp(a->u.s.p, b->u.s.p, a->u.s.n);
    switch (t) {
    case COL_FLOAT64:
        return a->u.f == b->u.f;
    case COL_BOOL:
        return a->u.b == b->u.b;
    default:
        return a->u.i == b->u.i;
    }
}

const char *col_type_name(enum col_type t)
{
    switch (t) {
    case COL_STRING:    return "STRING";
    case COL_INT64:     return "INT64";
    case COL_FLOAT64:   return "FLOAT64";
    case COL_BOOL:      return "BOOL";
    case COL_TIMESTAMP: return "TIMESTAMP";
    case COL_DATE:      return "DATE";
    case COL_NUMERIC:   return "NUMERIC";
    case COL_BIGNUMERIC: return "BIGNUMERIC";
    case COL_BYTES:     return "BYTES";
    case COL_JSON:      return "JSON";
    case COL_DATETIME:  return "DATETIME";
    case COL_TIME:      return "TIME";
    case COL_GEOGRAPHY: return "GEOGRAPHY";
    case COL_RECORD:    return "RECORD";
    case COL_ARRAY:     return "ARRAY";
    }
    return "?";
}

/* ---- values to text ------------------------------------------------------ */

/* A JSON string of arbitrary bytes: invalid UTF-8 becomes U+FFFD (BigQuery STRING is UTF-8). */
static void add_quoted_bytes(struct strbuf *sb, const char *p, size_t n)
{
    size_t start = 0, i = 0;

    strbuf_addc(sb, '"');
    while (i < n) {
        size_t k = utf8_seq((const unsigned char *)p + i, n - i);
        if (k != 0) {
            i += k;
            continue;
        }
        strbuf_add_json_str(sb, p + start, i - start);
        strbuf_adds(sb, "\xef\xbf\xbd");
        start = ++i;
    }
    strbuf_add_json_str(sb, p + start, n - start);
    strbuf_addc(sb, '"');
}

/* RFC 4180: quoted (with quotes doubled) when it holds a quote, comma or line break. */
/*
 * A CSV field of text. NULL is an empty field (value_format) and the empty
 * string is "", so the two stay apart. A value a spreadsheet would run as a
 * formula (first character = + - @, tab or carriage return: OWASP's CSV
 * injection advice) gets a leading ' and quotes; JSON and NDJSON keep the
 * value as it is.
 */
static void add_csv_text(struct strbuf *sb, const char *p, size_t n)
{
    bool formula = n && memchr("=+-@\t\r", p[0], 6);
    if (n && !formula && !memchr(p, '"', n) && !memchr(p, ',', n) && !memchr(p, '\n', n) &&
        !memchr(p, '\r', n)) {
        strbuf_add(sb, p, n);
        return;
    }
    strbuf_addc(sb, '"');
    if (formula)
        strbuf_addc(sb, '\'');
    for (const char *q; (q = memchr(p, '"', n)) != NULL; n -= (size_t)(q + 1 - p), p = q + 1) {
        strbuf_add(sb, p, (size_t)(q + 1 - p));
        strbuf_addc(sb, '"');
    }
    strbuf_add(sb, p, n);
    strbuf_addc(sb, '"');
}

/* Text in quotes when the style wants them (JSON and insertAll), bare otherwise. */
static void add_text(struct strbuf *sb, const char *p, size_t n, bool quoted)
{
    if (quoted)
        strbuf_addc(sb, '"');
    strbuf_add(sb, p, n);
    if (quoted)
        strbuf_addc(sb, '"');
}

/* Text that may need escaping: a JSON string when quoted, a CSV field, or as it is. */
static inline void add_escaped(struct strbuf *sb, const char *p, size_t n, bool quoted, enum value_style style)
{
    if (quoted) {
        strbuf_addc(sb, '"');
        strbuf_add_json_str(sb, p, n);
        strbuf_addc(sb, '"');
    } else if (style == VALUE_CSV) {
        add_csv_text(sb, p, n);
    } else {
        strbuf_add(sb, p, n);
    }
}

/* value_format of the types added for issue 18 (docs/types.md). */
static void format_ext(enum col_type t, const struct value *v, struct strbuf *sb,
                       enum value_style style)
{
    bool quoted = style == VALUE_JSON || style == VALUE_BQ_ROW;
    char buf[40];
    size_t n;

    switch (t) {
    case COL_NUMERIC: case COL_BIGNUMERIC:     /* canonical decimals need no escaping */
        add_text(sb, v->u.s.p, v->u.s.n, quoted);
        break;
    case COL_DATETIME:
        n = datetime_format(v->u.i, buf);
        if (style == VALUE_BQ_PARAM)
            buf[10] = ' ';
        add_text(sb, buf, n, quoted);
        break;
    case COL_TIME:
        add_text(sb, buf, time_format(v->u.i, buf), quoted);
        break;
    case COL_BYTES: case COL_JSON: case COL_GEOGRAPHY:
        add_escaped(sb, v->u.s.p, v->u.s.n, quoted, style);
        break;
    default:        /* RECORD, ARRAY: JSON text (insertAll rows: nested_bq_row) */
        add_escaped(sb, v->u.s.p, v->u.s.n, false, style);
        break;
    }
}

void value_format(enum col_type t, const struct value *v, struct strbuf *sb, enum value_style style)
{
    bool quoted = style == VALUE_JSON || style == VALUE_BQ_ROW;
    char buf[40];
    size_t n;

    if (v->is_null) {
        if (t == COL_ARRAY && style != VALUE_BQ_ROW)
            strbuf_add(sb, "[]", 2);    /* REPEATED is never NULL (BigQuery): a column added later */
        else if (style == VALUE_JSON)
            strbuf_add(sb, "null", 4);
        return;         /* CSV: an empty field; BigQuery rows leave NULL cells out */
    }
    switch (t) {
    case COL_STRING:
        if (style == VALUE_BQ_ROW)
            add_quoted_bytes(sb, v->u.s.p, v->u.s.n);
        else
            add_escaped(sb, v->u.s.p, v->u.s.n, style == VALUE_JSON, style);
        break;
    case COL_INT64:     /* insertAll: a string, since JSON numbers lose precision beyond 2^53 */
        if (style == VALUE_BQ_ROW)
            strbuf_addf(sb, "\"%" PRId64 "\"", v->u.i);
        else
            strbuf_add_int(sb, v->u.i);
        break;
    case COL_FLOAT64:
        if ((style == VALUE_BQ_ROW || style == VALUE_BQ_PARAM) && !isfinite(v->u.f)) {
            const char *name = isnan(v->u.f) ? "NaN" : v->u.f > 0 ? "Infinity" : "-Infinity";
            add_text(sb, name, strlen(name), style == VALUE_BQ_ROW);
        } else {
            strbuf_add(sb, buf, float_format(v->u.f, buf));
        }
        break;
    case COL_BOOL:
        strbuf_adds(sb, v->u.b ? "true" : "false");
        break;
    case COL_TIMESTAMP:     /* RFC 3339: a JSON number would be read as seconds */
        n = timestamp_format(v->u.i, buf);
        if (style == VALUE_BQ_PARAM) {
            /* BigQuery's canonical form: "YYYY-MM-DD HH:MM:SS.ffffff+00:00" */
            buf[10] = ' ';
            strbuf_add(sb, buf, n - 1);
            strbuf_adds(sb, "+00:00");
        } else {
            add_text(sb, buf, n, quoted);
        }
        break;
    case COL_DATE:
        add_text(sb, buf, date_format(v->u.i, buf), quoted);
        break;
    default:
        format_ext(t, v, sb, style);
        break;
    }
}

/* ---- BigQuery query cells -------------------------------------------------- */

int value_parse_bq(enum col_type t, const char *text, size_t n, struct value *v,
                   struct arena *a)
{
    char *end;

    memset(v, 0, sizeof *v);
    switch (t) {
    case COL_STRING:
        v->u.s.p = text;
        v->u.s.n = n;
        return 0;
    case COL_INT64:
    case COL_TIMESTAMP:         /* µs with formatOptions.useInt64Timestamp */
        v->u.i = strtoll(text, &end, 10);
        if (end != text && !*end)
            return 0;
        if (t == COL_TIMESTAMP) {   /* a float of seconds: an endpoint that ignored useInt64Timestamp */
            double sec = strtod(text, &end);
            if (end != text && !*end) {
                v->u.i = (int64_t)llround(sec * 1e6);
                return 0;
            }
        }
        return COLIBRI_EIO;
    case COL_FLOAT64:
        if (strcmp(text, "Infinity") == 0 || strcmp(text, "-Infinity") == 0 || strcmp(text, "NaN") == 0) {
            v->u.f = text[0] == 'N' ? NAN : text[0] == '-' ? -INFINITY : INFINITY;
            return 0;
        }
        v->u.f = strtod(text, &end);
        return end != text && !*end ? 0 : COLIBRI_EIO;
    case COL_BOOL:
        if (strcmp(text, "true") == 0 || strcmp(text, "false") == 0) {
            v->u.b = text[0] == 't';
            return 0;
        }
        return COLIBRI_EIO;
    case COL_DATE:
        return date_parse(text, n, &v->u.i) ? COLIBRI_EIO : 0;
    case COL_DATETIME:      /* BigQuery leaves out a zero fraction */
        return datetime_parse(text, n, &v->u.i) ? COLIBRI_EIO : 0;
    case COL_TIME:
        return time_parse(text, n, &v->u.i) ? COLIBRI_EIO : 0;
    case COL_JSON: {        /* whatever spacing the server chose: minified, as colibri stores it */
        struct strbuf sb = STRBUF_INIT;
        strbuf_add_json_min(&sb, text, n);
        return value_keep_text(a, &sb, v) ? COLIBRI_EIO : 0;
    }
    case COL_BYTES:
        v->u.s.p = text;
        v->u.s.n = n;
        return 0;
    case COL_NUMERIC: case COL_BIGNUMERIC: case COL_GEOGRAPHY:
        return text_value(t, text, n, v, a, NULL, 0) ? COLIBRI_EIO : 0;
    case COL_RECORD: case COL_ARRAY:
        break;
    }
    return COLIBRI_EIO;
}
