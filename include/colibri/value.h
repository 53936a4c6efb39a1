/*
 * value.h — column types and typed values: parse and format of every type.
 *
 * Whoever reads or writes a cell uses these: schema coercion and URL filter
 * values parse with them, and the JSON, NDJSON and CSV responses and the
 * BigQuery encoders (insertAll rows, query parameters) all format through
 * value_format, so a type is written one way per wire format, in one place.
 * The calendar arithmetic is proleptic Gregorian, years 0001..9999
 * (BigQuery's TIMESTAMP and DATE range).
 */
#ifndef COLIBRI_VALUE_H
#define COLIBRI_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "colibri/float_text.h"

struct arena;
struct strbuf;

/* A cell's type. Text types hold their canonical text in u.s (see docs/types.md). */
enum col_type {
    COL_STRING,     /* UTF-8 text */
    COL_INT64,      /* BigQuery INTEGER / INT64 */
    COL_FLOAT64,    /* BigQuery FLOAT / FLOAT64 */
    COL_BOOL,       /* BigQuery BOOLEAN / BOOL */
    COL_TIMESTAMP,  /* microseconds since the Unix epoch, UTC */
    COL_DATE,       /* days since 1970-01-01 */
    COL_NUMERIC,    /* NUMERIC / DECIMAL: canonical decimal text (decimal.h) */
    COL_BIGNUMERIC, /* BIGNUMERIC / BIGDECIMAL: canonical decimal text */
    COL_BYTES,      /* standard base64 text, padded */
    COL_JSON,       /* minified JSON text */
    COL_DATETIME,   /* civil date and time: microseconds since 1970-01-01T00:00:00 */
    COL_TIME,       /* civil time of day: microseconds since midnight */
    COL_GEOGRAPHY,  /* canonical WKT text (wkt.h) */
    COL_RECORD,     /* RECORD / STRUCT: canonical JSON object text */
    COL_ARRAY,      /* the cell of a REPEATED column: canonical JSON array text */
};

/* One typed cell. Strings are borrowed from whoever owns the row. */
struct value {
    bool is_null;
    union {
        int64_t i;          /* INT64, TIMESTAMP (µs), DATE (days), DATETIME and TIME (µs) */
        double f;           /* FLOAT64 */
        bool b;             /* BOOL */
        struct { const char *p; size_t n; } s;   /* STRING and the text types */
    } u;
};

/* t holds text in u.s. */
static inline bool col_type_is_text(enum col_type t)
{
    return t == COL_STRING || t == COL_NUMERIC || t == COL_BIGNUMERIC || t == COL_BYTES ||
           t == COL_JSON || t == COL_GEOGRAPHY || t == COL_RECORD || t == COL_ARRAY;
}

/* Integer digits and fraction digits a NUMERIC (29, 9) or BIGNUMERIC (38, 38) takes by default. */
#define NUMERIC_INT_DIGITS 29
#define NUMERIC_SCALE 9
#define BIGNUMERIC_INT_DIGITS 38
#define BIGNUMERIC_SCALE 38

#define US_PER_SEC 1000000LL
#define US_PER_DAY 86400000000LL
#define DAYS_0001_TO_1970 (-719162LL)   /* 0001-01-01 */
#define DAYS_10000_TO_1970 2932897LL    /* 10000-01-01 */
#define TS_MIN_US (DAYS_0001_TO_1970 * US_PER_DAY)
#define TS_MAX_US (DAYS_10000_TO_1970 * US_PER_DAY - 1)

/* "STRING", "INT64", ... (BigQuery standard SQL names). */
const char *col_type_name(enum col_type t);

/* What a reason says a value of type t should have been: "TIMESTAMP (RFC 3339)", ... */
const char *col_type_expected(enum col_type t);

/*
 * Parse one value of column type t from text (a filter value from a URL, or a
 * string field of a message): INT64 from an integer string, FLOAT64 from a
 * decimal number, BOOL from true/false (any case), TIMESTAMP from RFC 3339,
 * DATE from YYYY-MM-DD, STRING from valid UTF-8 without NUL, NUMERIC and
 * BIGNUMERIC from a decimal (type's default precision), BYTES from padded
 * standard base64, DATETIME from YYYY-MM-DD[T ]HH:MM:SS[.f{1,6}], TIME from
 * HH:MM:SS[.f{1,6}], GEOGRAPHY from WKT, JSON from a JSON text. STRING and
 * BYTES borrow text; canonical texts (NUMERIC, BIGNUMERIC, GEOGRAPHY, JSON)
 * are copied into a (which those types need; NULL refuses them).
 * COLIBRI_EINVAL with a reason (not naming a field) on failure; reason may be
 * NULL. RECORD and ARRAY are never text.
 */
int value_parse(enum col_type t, const char *text, size_t len, struct value *out,
                struct arena *a, char *reason, size_t reasonlen);

/*
 * A NUMERIC or BIGNUMERIC value: p[0..n) with at most int_max integer and
 * scale fraction digits (decimal_canon), its canonical text kept in a. 0,
 * COLIBRI_EINVAL with detail (which rule broke; may be NULL), or ENOMEM.
 */
int value_decimal(const char *p, size_t n, int int_max, int scale, struct value *v, struct arena *a,
                  char *detail, size_t detaillen);

/* a and b, both of column type t, are the same value (two NULLs are the same). */
bool value_equal(enum col_type t, const struct value *a, const struct value *b);

/* How value_format writes a value: one style per wire format. */
enum value_style {
    VALUE_JSON,         /* API JSON: numbers bare, TIMESTAMP/DATE quoted, NULL as null */
    VALUE_CSV,          /* RFC 4180 field: NULL empty, "" for the empty string, formulas defused with ' */
    VALUE_BQ_ROW,       /* insertAll row: INT64 quoted, FLOAT64 non-finite as "NaN"..., bad UTF-8 → U+FFFD */
    VALUE_BQ_PARAM,     /* a query parameterValue.value: raw text, TIMESTAMP "YYYY-MM-DD HH:MM:SS.ffffff+00:00" */
};

/* Append v (of column type t) to sb in the given style. */
void value_format(enum col_type t, const struct value *v, struct strbuf *sb, enum value_style style);

/*
 * A cell of a BigQuery query response (the f/v row format, len bytes of text)
 * into v: INT64 and TIMESTAMP as integers (useInt64Timestamp; a TIMESTAMP may
 * also be float seconds), FLOAT64 with NaN/Infinity, BOOL true/false, DATE,
 * DATETIME, TIME, and the text types brought to their canonical form (into
 * a) as value_parse does. Strings borrow text. COLIBRI_EIO when the text is not of that type.
 */
int value_parse_bq(enum col_type t, const char *text, size_t len, struct value *v,
                   struct arena *a);

/* RFC 3339 text → µs since epoch; accepts 'Z' or ±hh:mm, up to 9 fraction digits. */
int timestamp_parse(const char *text, size_t len, int64_t *out_us);

/* µs since epoch → "YYYY-MM-DDTHH:MM:SS.ffffffZ" into buf (at least 32 bytes); returns length. */
size_t timestamp_format(int64_t us, char *buf);

/* "YYYY-MM-DD" ↔ days since epoch. */
int date_parse(const char *text, size_t len, int64_t *out_days);
size_t date_format(int64_t days, char *buf);   /* buf at least 16 bytes */

/* "YYYY-MM-DD[T ]HH:MM:SS[.f{1,6}]" ↔ µs since 1970-01-01T00:00:00 (civil, no zone). */
int datetime_parse(const char *text, size_t len, int64_t *out_us);
size_t datetime_format(int64_t us, char *buf);  /* "YYYY-MM-DDTHH:MM:SS.ffffff"; buf at least 32 */

/* "HH:MM:SS[.f{1,6}]" ↔ µs since midnight. */
int time_parse(const char *text, size_t len, int64_t *out_us);
size_t time_format(int64_t us, char *buf);      /* "HH:MM:SS.ffffff"; buf at least 16 */


/* s (n bytes) is valid UTF-8 (utf8_seq, strbuf.h) with no NUL byte. */
bool utf8_valid(const char *s, size_t n);

/* How a bad value reads in a reason: "\"text\"", shortened, control bytes and bad UTF-8 as '?'. */
#define VALUE_ECHO_MAX 40
void value_echo(char *dst, size_t dstlen, const char *s, size_t n);

#endif
