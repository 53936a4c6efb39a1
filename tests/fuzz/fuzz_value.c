/*
 * fuzz_value.c — value_parse, timestamp_parse/format, date_parse/format,
 * float_format: the text ↔ value conversions behind filters and coercion.
 *
 * The first byte picks the function, the rest is its text (or 8 raw bytes of
 * an int64/double for the formatters). Invariants:
 *   value_parse success: STRING borrows the text, valid UTF-8 without NUL;
 *     INT64 formats with %lld and parses back equal; FLOAT64 is finite and
 *     float_format reads back bit-equal (but for -0); BOOL is true/false in
 *     any case; TIMESTAMP and DATE are inside 0001..9999 and format + parse
 *     gives the same value. Failure: value zeroed, reason non-empty, clean text
 *     (valid UTF-8, no control bytes).
 *   timestamp_format(any int64) writes < 32 bytes, returns strlen; inside the
 *     range the text is 27 bytes and parses back to the same µs.
 *   date_format(|days| < 2^31) writes < 16 bytes; inside the range 10 bytes
 *     that parse back. float_format(any double) < 32 bytes; finite ones read
 *     back equal, others are "null".
 *   timestamp_parse: an accepted text with an offset equals the same text in
 *     UTC shifted by the offset; fraction digits past µs change nothing.
 */
#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "colibri/error.h"
#include "colibri/schema.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define US_PER_SEC 1000000LL
#define US_PER_DAY 86400000000LL
static const int64_t ts_min = -719162LL * US_PER_DAY;           /* 0001-01-01 */
static const int64_t ts_max = 2932897LL * US_PER_DAY - 1;       /* 9999-12-31T23:59:59.999999 */
static const int64_t day_min = -719162, day_max = 2932896;

static void ts_round_trip(int64_t us)
{
    char *buf = malloc(32);     /* exactly the documented size, so ASan sees overruns */
    int64_t back;
    assert(buf);
    size_t n = timestamp_format(us, buf);
    assert(n < 32 && n == strlen(buf));
    if (us >= ts_min && us <= ts_max) {
        assert(n == 27);
        assert(timestamp_parse(buf, n, &back) == 0 && back == us);
    }
    free(buf);
}

static void date_round_trip(int64_t days)
{
    char *buf = malloc(16);
    int64_t back;
    assert(buf);
    size_t n = date_format(days, buf);
    assert(n < 16 && n == strlen(buf));
    if (days >= day_min && days <= day_max) {
        assert(n == 10);
        assert(date_parse(buf, n, &back) == 0 && back == days);
    }
    free(buf);
}

static void float_round_trip(double f)
{
    char *buf = malloc(32);
    struct value v;
    char reason[160];
    assert(buf);
    size_t n = float_format(f, buf);
    assert(n < 32 && n == strlen(buf));
    if (isfinite(f)) {
        assert(value_parse(COL_FLOAT64, buf, n, &v, NULL, reason, sizeof reason) == 0);
        assert(v.u.f == f);
    } else {
        assert(!strcmp(buf, "null"));
    }
    free(buf);
}

static void check_value(enum col_type t, const char *text, size_t len)
{
    static const struct value zero;
    struct value v;
    char reason[160], num[32];
    int64_t back;

    reason[0] = '\0';
    int rc = value_parse(t, text, len, &v, NULL, reason, sizeof reason);
    if (rc) {
        assert(rc == COLIBRI_EINVAL);
        assert(!memcmp(&v, &zero, sizeof v));
        check_clean(reason);
        return;
    }
    assert(!v.is_null);
    switch (t) {
    case COL_STRING:
        assert(v.u.s.p == text && v.u.s.n == len);
        assert(!memchr(text, '\0', len));
        assert(utf8_ok((const unsigned char *)text, len));
        break;
    case COL_INT64: {
        int n = snprintf(num, sizeof num, "%" PRId64, v.u.i);
        struct value w;
        assert(value_parse(COL_INT64, num, (size_t)n, &w, NULL, NULL, 0) == 0 && w.u.i == v.u.i);
        break;
    }
    case COL_FLOAT64:
        assert(isfinite(v.u.f));
        float_round_trip(v.u.f);
        break;
    case COL_BOOL:
        assert(len == (v.u.b ? 4u : 5u));
        assert(!strncasecmp(text, v.u.b ? "true" : "false", len));
        break;
    case COL_TIMESTAMP:
        assert(v.u.i >= ts_min && v.u.i <= ts_max);
        ts_round_trip(v.u.i);
        assert(timestamp_parse(text, len, &back) == 0 && back == v.u.i);
        break;
    case COL_DATE:
        assert(v.u.i >= day_min && v.u.i <= day_max);
        date_round_trip(v.u.i);
        break;
    }
}

/* An accepted timestamp with an offset: the same instant as its UTC reading minus the offset. */
static void check_offset(const char *text, size_t len, int64_t us)
{
    if (len < 26)
        return;
    const char *o = text + len - 6;
    if ((o[0] != '+' && o[0] != '-') || o[3] != ':')
        return;
    char *utc = malloc(len - 5 + 1);
    int64_t base;
    assert(utc);
    memcpy(utc, text, len - 6);
    utc[len - 6] = 'Z';
    long off = ((o[1] - '0') * 10 + (o[2] - '0')) * 3600L + ((o[4] - '0') * 10 + (o[5] - '0')) * 60L;
    int64_t want_shift = (o[0] == '+' ? -1 : 1) * off * US_PER_SEC;
    int rc = timestamp_parse(utc, len - 5, &base);
    /* the UTC reading may itself be out of range (e.g. 0001-01-01T00:30-01:00) */
    if (rc == 0)
        assert(base + want_shift == us);
    free(utc);
}

/* Digits past the sixth fraction digit are truncated, not rounded. */
static void check_fraction(const char *text, size_t len, int64_t us)
{
    const char *dot = len > 20 ? memchr(text + 19, '.', 1) : NULL;
    if (!dot)
        return;
    size_t nd = 0;
    while (dot + 1 + nd < text + len && dot[1 + nd] >= '0' && dot[1 + nd] <= '9')
        nd++;
    if (nd <= 6)
        return;
    char *cut = malloc(len);
    int64_t back;
    assert(cut);
    size_t keep = (size_t)(dot - text) + 1 + 6;
    memcpy(cut, text, keep);
    memcpy(cut + keep, dot + 1 + nd, (size_t)(text + len - (dot + 1 + nd)));
    size_t cutlen = keep + (size_t)(text + len - (dot + 1 + nd));
    assert(timestamp_parse(cut, cutlen, &back) == 0 && back == us);
    free(cut);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    unsigned sel = data[0] % 11;
    size_t len = size - 1;
    /* an exact-size copy, not NUL-terminated: reading past len is a bug ASan sees */
    char *text = malloc(len ? len : 1);
    int64_t i64 = 0;
    double f = 0;
    assert(text);
    memcpy(text, data + 1, len);
    memcpy(&i64, data + 1, len < 8 ? len : 8);
    memcpy(&f, data + 1, len < 8 ? len : 8);

    switch (sel) {
    case 0: case 1: case 2: case 3: case 4: case 5:
        check_value((enum col_type)sel, text, len);
        break;
    case 6: {
        int64_t us;
        if (timestamp_parse(text, len, &us) == 0) {
            assert(us >= ts_min && us <= ts_max);
            ts_round_trip(us);
            check_offset(text, len, us);
            check_fraction(text, len, us);
        } else {
            assert(us == 0);
        }
        break;
    }
    case 7: {
        int64_t days;
        if (date_parse(text, len, &days) == 0) {
            assert(len == 10 && days >= day_min && days <= day_max);
            date_round_trip(days);
        }
        break;
    }
    case 8:
        ts_round_trip(i64);
        break;
    case 9:
        /* days beyond ±2^31 would need more than date_format's 16 bytes: not a value any parser makes */
        date_round_trip((int64_t)(int32_t)i64);
        break;
    case 10:
        float_round_trip(f);
        break;
    }
    free(text);
    return 0;
}
