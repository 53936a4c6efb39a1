/*
 * test_types.c — the types of issue 18 (docs/types.md): exact decimals and
 * their order keys, WKT, every type's text parse and format in each style,
 * coercion of every type (valid, boundary, invalid), records and arrays at
 * depth, reading BigQuery cells back, and the SQLite store's filters on them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"

#include "colibri/arena.h"
#include "colibri/decimal.h"
#include "colibri/error.h"
#include "colibri/ingest.h"
#include "colibri/nested.h"
#include "colibri/query.h"
#include "colibri/schema.h"
#include "colibri/store.h"
#include "colibri/strbuf.h"
#include "colibri/wkt.h"
#include "store/bigquery_int.h"

/* ---- decimals ------------------------------------------------------------------ */

static const char *canon(const char *in, int imax, int scale, char *why, size_t whylen)
{
    static char out[DEC_TEXT_MAX];
    size_t n;
    if (decimal_canon(in, strlen(in), imax, scale, out, &n, why, whylen))
        return NULL;
    assert_int_equal(n, strlen(out));
    return out;
}

static void test_decimal_canonical_text(void **state)
{
    (void)state;
    static const struct { const char *in, *want; } ok[] = {
        {"12.5", "12.5"}, {"12.50", "12.5"}, {"012.500", "12.5"}, {"+7", "7"}, {"-0", "0"},
        {"-0.000", "0"}, {"0e5", "0"}, {"100", "100"}, {"1e2", "100"}, {"1.5e1", "15"},
        {"-1E-9", "-0.000000001"}, {".5", "0.5"}, {"5.", "5"}, {"-.25", "-0.25"},
        {"1.10", "1.1"}, {"123456789e-9", "0.123456789"}, {"0.000000001", "0.000000001"},
        {"99999999999999999999999999999.999999999", "99999999999999999999999999999.999999999"},
        {"-99999999999999999999999999999.999999999", "-99999999999999999999999999999.999999999"},
        {"1.0000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
         "1"},
        {"0000000000000000000000000000000000000000000000000000000000000000000000000000000000001",
         "1"},
        {"1e28", "10000000000000000000000000000"},
    };
    char why[64];
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        const char *got = canon(ok[i].in, 29, 9, why, sizeof why);
        if (!got || strcmp(got, ok[i].want))
            fail_msg("%s: got %s (%s), want %s", ok[i].in, got ? got : "error", why, ok[i].want);
    }
    /* too many digits either side is refused with the rule, never rounded */
    assert_null(canon("123456789012345678901234567890", 29, 9, why, sizeof why));
    assert_string_equal(why, "at most 29 integer digits");
    assert_null(canon("1e29", 29, 9, why, sizeof why));
    assert_string_equal(why, "at most 29 integer digits");
    assert_null(canon("0.0000000001", 29, 9, why, sizeof why));
    assert_string_equal(why, "at most 9 fractional digits");
    assert_null(canon("1.1234567891", 29, 9, why, sizeof why));
    assert_string_equal(why, "at most 9 fractional digits");
    assert_null(canon("1e-10", 29, 9, why, sizeof why));
    assert_null(canon("1e99999999999", 38, 38, why, sizeof why));
    assert_string_equal(why, "at most 38 integer digits");
    /* BIGNUMERIC: 38 and 38 */
    assert_string_equal(canon("-12345678901234567890123456789012345678.12345678901234567890123456789012345678",
                              38, 38, why, sizeof why),
                        "-12345678901234567890123456789012345678.12345678901234567890123456789012345678");
    static const char *const bad[] = { "", "-", "+", ".", "e5", "1e", "1e+", "1.2.3", "1,5", " 1",
                                       "1 ", "0x10", "inf", "NaN", "1..2", "--1", "1-" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (canon(bad[i], 38, 38, why, sizeof why))
            fail_msg("'%s' accepted", bad[i]);
        assert_string_equal(why, "not a number");
    }
}

static void test_decimal_keys_order_exactly(void **state)
{
    (void)state;
    /* ascending; 1.1 and 1.10 are one value */
    static const char *const asc[] = {
        "-99999999999999999999999999999.999999999", "-10", "-9.9", "-1.1", "-1", "-0.000000001",
        "0", "0.000000001", "0.1", "1", "1.1", "9.9", "10", "10.000000001", "100",
        "99999999999999999999999999999.999999999",
    };
    char prev[DEC_KEY_LEN], key[DEC_KEY_LEN], why[64];
    for (size_t i = 0; i < sizeof asc / sizeof asc[0]; i++) {
        const char *c = canon(asc[i], 38, 38, why, sizeof why);
        assert_non_null(c);
        decimal_key(c, strlen(c), key);
        if (i && memcmp(prev, key, DEC_KEY_LEN) >= 0)
            fail_msg("key of %s is not above the key of %s", asc[i], asc[i - 1]);
        memcpy(prev, key, DEC_KEY_LEN);
    }
    char k1[DEC_KEY_LEN];
    decimal_key("1.1", 3, k1);
    const char *c = canon("1.10", 38, 38, why, sizeof why);
    decimal_key(c, strlen(c), key);
    assert_memory_equal(k1, key, DEC_KEY_LEN);
    int id, fd;
    decimal_digits("-123.45", 7, &id, &fd);
    assert_int_equal(id, 3);
    assert_int_equal(fd, 2);
    decimal_digits("0.5", 3, &id, &fd);
    assert_int_equal(id, 0);
    assert_int_equal(fd, 1);
}

/* ---- WKT ----------------------------------------------------------------------- */

static void test_wkt_canonical_and_refused(void **state)
{
    (void)state;
    static const struct { const char *in, *want; } ok[] = {
        {"POINT(1 2)", "POINT(1 2)"},
        {"  point ( -70.60  -33.45 )  ", "POINT(-70.6 -33.45)"},
        {"POINT EMPTY", "POINT EMPTY"}, {"linestring empty", "LINESTRING EMPTY"},
        {"POINT(180 90)", "POINT(180 90)"}, {"POINT(-180 -90)", "POINT(-180 -90)"},
        {"POINT(1e1 -0)", "POINT(10 0)"},
        {"LINESTRING(1 2,3 4)", "LINESTRING(1 2, 3 4)"},
        {"POLYGON((0 0,1 0,1 1,0 0))", "POLYGON((0 0, 1 0, 1 1, 0 0))"},
        {"POLYGON((0 0, 4 0, 4 4, 0 0), (1 1, 2 1, 2 2, 1 1))",
         "POLYGON((0 0, 4 0, 4 4, 0 0), (1 1, 2 1, 2 2, 1 1))"},
        {"MULTIPOINT((1 2),(3 4))", "MULTIPOINT(1 2, 3 4)"},
        {"MULTIPOINT(1 2, 3 4)", "MULTIPOINT(1 2, 3 4)"},
        {"MULTILINESTRING((1 2,3 4),(5 6,7 8))", "MULTILINESTRING((1 2, 3 4), (5 6, 7 8))"},
        {"MULTIPOLYGON(((0 0,1 0,1 1,0 0)))", "MULTIPOLYGON(((0 0, 1 0, 1 1, 0 0)))"},
        {"GEOMETRYCOLLECTION(POINT(1 2),LINESTRING(1 2,3 4))",
         "GEOMETRYCOLLECTION(POINT(1 2), LINESTRING(1 2, 3 4))"},
        {"GEOMETRYCOLLECTION EMPTY", "GEOMETRYCOLLECTION EMPTY"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        struct strbuf sb = STRBUF_INIT;
        char why[96] = "";
        if (wkt_canon(ok[i].in, strlen(ok[i].in), &sb, why, sizeof why) || strcmp(sb.buf, ok[i].want))
            fail_msg("%s: got %s (%s), want %s", ok[i].in, sb.buf ? sb.buf : "", why, ok[i].want);
        strbuf_release(&sb);
    }
    static const struct { const char *in, *why; } bad[] = {
        {"", "expected POINT"}, {"POINT", "expected '(' or EMPTY"}, {"POINT(1)", "expected a number"},
        {"POINT(1 2", "expected ')'"}, {"POINT(1 2))", "unexpected text"},
        {"POINT(181 0)", "longitude out of range"}, {"POINT(0 90.5)", "latitude out of range"},
        {"POINT(nan 0)", "expected a number"}, {"POINT(1 2 3)", "expected ')'"},
        {"LINESTRING(1 2)", "at least 2 points"},
        {"POLYGON((0 0,1 0,0 0))", "at least 4 points"},
        {"POLYGON((0 0,1 0,1 1,0 1))", "must end at its first point"},
        {"CIRCLE(1 2)", "expected POINT"}, {"POINTX(1 2)", "expected POINT"},
        {"GEOMETRYCOLLECTION(GEOMETRYCOLLECTION(GEOMETRYCOLLECTION(GEOMETRYCOLLECTION("
         "GEOMETRYCOLLECTION(GEOMETRYCOLLECTION(GEOMETRYCOLLECTION(GEOMETRYCOLLECTION("
         "GEOMETRYCOLLECTION(POINT(1 2))))))))))", "nested too deeply"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct strbuf sb = STRBUF_INIT;
        char why[96] = "";
        strbuf_adds(&sb, "kept");
        if (wkt_canon(bad[i].in, strlen(bad[i].in), &sb, why, sizeof why) != COLIBRI_EINVAL ||
            !strstr(why, bad[i].why) || strcmp(sb.buf, "kept"))
            fail_msg("%s: why '%s', want '%s', out '%s'", bad[i].in, why, bad[i].why, sb.buf);
        strbuf_release(&sb);
    }
}

/* ---- text values and formats ---------------------------------------------------- */

/* value_parse of text as t, then value_format in style, into a static buffer ("ERR: why"). */
static const char *roundtrip(enum col_type t, const char *text, enum value_style style)
{
    static char out[256];
    struct arena a = ARENA_INIT;
    struct strbuf sb = STRBUF_INIT;
    struct value v;
    char why[160];
    if (value_parse(t, text, strlen(text), &v, &a, why, sizeof why)) {
        snprintf(out, sizeof out, "ERR: %s", why);
    } else {
        value_format(t, &v, &sb, style);
        snprintf(out, sizeof out, "%s", sb.buf ? sb.buf : "");
    }
    strbuf_release(&sb);
    arena_release(&a);
    return out;
}

static void test_text_values_in_every_style(void **state)
{
    (void)state;
    assert_string_equal(roundtrip(COL_NUMERIC, "012.50", VALUE_JSON), "\"12.5\"");
    assert_string_equal(roundtrip(COL_NUMERIC, "-1e-9", VALUE_CSV), "-0.000000001");
    assert_string_equal(roundtrip(COL_NUMERIC, "1e2", VALUE_BQ_ROW), "\"100\"");
    assert_string_equal(roundtrip(COL_NUMERIC, "1.50", VALUE_BQ_PARAM), "1.5");
    assert_string_equal(roundtrip(COL_NUMERIC, "0.0000000001", VALUE_JSON),
                        "ERR: NUMERIC takes at most 9 fractional digits, got \"0.0000000001\"");
    assert_string_equal(roundtrip(COL_NUMERIC, "abc", VALUE_JSON),
                        "ERR: expected NUMERIC (a decimal number), got \"abc\"");
    assert_string_equal(roundtrip(COL_BIGNUMERIC, "0.00000000000000000000000000000000000001",
                                  VALUE_JSON), "\"0.00000000000000000000000000000000000001\"");
    assert_string_equal(roundtrip(COL_BYTES, "aGk=", VALUE_JSON), "\"aGk=\"");
    assert_string_equal(roundtrip(COL_BYTES, "+/8=", VALUE_CSV), "\"'+/8=\"");   /* defused as STRING is */
    assert_string_equal(roundtrip(COL_BYTES, "aGk=", VALUE_BQ_PARAM), "aGk=");
    assert_string_equal(roundtrip(COL_BYTES, "", VALUE_JSON), "\"\"");
    assert_string_equal(roundtrip(COL_BYTES, "aGk", VALUE_JSON), "ERR: expected BYTES (base64), got \"aGk\"");
    assert_string_equal(roundtrip(COL_BYTES, "aGl=", VALUE_JSON), "ERR: expected BYTES (base64), got \"aGl=\"");
    assert_string_equal(roundtrip(COL_BYTES, "a-k=", VALUE_JSON), "ERR: expected BYTES (base64), got \"a-k=\"");
    assert_string_equal(roundtrip(COL_BYTES, "a=k=", VALUE_JSON), "ERR: expected BYTES (base64), got \"a=k=\"");
    assert_string_equal(roundtrip(COL_DATETIME, "2024-02-29 10:11:12", VALUE_JSON),
                        "\"2024-02-29T10:11:12.000000\"");
    assert_string_equal(roundtrip(COL_DATETIME, "2024-02-29T10:11:12.5", VALUE_BQ_PARAM),
                        "2024-02-29 10:11:12.500000");
    assert_string_equal(roundtrip(COL_DATETIME, "9999-12-31T23:59:59.999999", VALUE_CSV),
                        "9999-12-31T23:59:59.999999");
    assert_string_equal(roundtrip(COL_DATETIME, "0001-01-01T00:00:00", VALUE_BQ_ROW),
                        "\"0001-01-01T00:00:00.000000\"");
    assert_true(!strncmp(roundtrip(COL_DATETIME, "2023-02-29T00:00:00", VALUE_JSON), "ERR: expected DATETIME", 22));
    assert_true(!strncmp(roundtrip(COL_DATETIME, "2024-01-01T00:00:00Z", VALUE_JSON), "ERR:", 4));
    assert_true(!strncmp(roundtrip(COL_DATETIME, "2024-01-01T00:00:00.1234567", VALUE_JSON), "ERR:", 4));
    assert_true(!strncmp(roundtrip(COL_DATETIME, "2024-01-01T24:00:00", VALUE_JSON), "ERR:", 4));
    assert_string_equal(roundtrip(COL_TIME, "23:59:59.999999", VALUE_JSON), "\"23:59:59.999999\"");
    assert_string_equal(roundtrip(COL_TIME, "00:00:00", VALUE_BQ_PARAM), "00:00:00.000000");
    assert_string_equal(roundtrip(COL_TIME, "07:08:09.1", VALUE_CSV), "07:08:09.100000");
    assert_true(!strncmp(roundtrip(COL_TIME, "24:00:00", VALUE_JSON), "ERR: expected TIME", 18));
    assert_true(!strncmp(roundtrip(COL_TIME, "7:08:09", VALUE_JSON), "ERR:", 4));
    assert_true(!strncmp(roundtrip(COL_TIME, "07:08:09.", VALUE_JSON), "ERR:", 4));
    assert_string_equal(roundtrip(COL_GEOGRAPHY, "point(1 2)", VALUE_JSON), "\"POINT(1 2)\"");
    assert_string_equal(roundtrip(COL_GEOGRAPHY, "LINESTRING(1 2,3 4)", VALUE_CSV),
                        "\"LINESTRING(1 2, 3 4)\"");
    assert_string_equal(roundtrip(COL_GEOGRAPHY, "POINT(200 0)", VALUE_JSON),
                        "ERR: expected GEOGRAPHY (WKT): longitude out of range [-180, 180], got \"POINT(200 0)\"");
    assert_string_equal(roundtrip(COL_JSON, " {\"a\" : [1, \"x y\"]} ", VALUE_JSON),
                        "\"{\\\"a\\\":[1,\\\"x y\\\"]}\"");
    assert_string_equal(roundtrip(COL_JSON, "{\"a\":1}", VALUE_CSV), "\"{\"\"a\"\":1}\"");
    assert_true(!strncmp(roundtrip(COL_JSON, "{", VALUE_JSON), "ERR:", 4));
    /* text types need an arena to keep their canonical text */
    struct value v;
    assert_int_equal(value_parse(COL_NUMERIC, "1", 1, &v, NULL, NULL, 0), COLIBRI_EINVAL);
    assert_int_equal(value_parse(COL_RECORD, "{}", 2, &v, NULL, NULL, 0), COLIBRI_EINVAL);
    /* NULL in every style */
    struct strbuf sb = STRBUF_INIT;
    struct value null = { .is_null = true };
    value_format(COL_NUMERIC, &null, &sb, VALUE_JSON);
    value_format(COL_RECORD, &null, &sb, VALUE_CSV);
    assert_string_equal(sb.buf, "null");
    strbuf_release(&sb);
    /* records and arrays: their text in JSON, quoted in CSV */
    struct value rec = { .u.s = { "{\"a\":\"x,y\"}", 11 } };
    value_format(COL_RECORD, &rec, &sb, VALUE_JSON);
    strbuf_addc(&sb, '|');
    value_format(COL_ARRAY, &rec, &sb, VALUE_CSV);
    assert_string_equal(sb.buf, "{\"a\":\"x,y\"}|\"{\"\"a\"\":\"\"x,y\"\"}\"");
    strbuf_release(&sb);
}

static void test_bigquery_cells_read_back(void **state)
{
    (void)state;
    struct arena a = ARENA_INIT;
    struct strbuf sb = STRBUF_INIT;
    struct value v;
    static const struct { enum col_type t; const char *in, *want; } cells[] = {
        {COL_NUMERIC, "12.500000000", "\"12.5\""}, {COL_BIGNUMERIC, "-0", "\"0\""},
        {COL_DATETIME, "2024-01-02T03:04:05", "\"2024-01-02T03:04:05.000000\""},
        {COL_DATETIME, "2024-01-02T03:04:05.120000", "\"2024-01-02T03:04:05.120000\""},
        {COL_TIME, "03:04:05.5", "\"03:04:05.500000\""},
        {COL_BYTES, "aGk=", "\"aGk=\""},
        {COL_JSON, "{\"a\": 1}", "\"{\\\"a\\\":1}\""},
        {COL_GEOGRAPHY, "POINT(1 2)", "\"POINT(1 2)\""},
    };
    for (size_t i = 0; i < sizeof cells / sizeof cells[0]; i++) {
        strbuf_reset(&sb);
        assert_int_equal(value_parse_bq(cells[i].t, cells[i].in, strlen(cells[i].in), &v, &a), 0);
        value_format(cells[i].t, &v, &sb, VALUE_JSON);
        assert_string_equal(sb.buf, cells[i].want);
    }
    assert_int_equal(value_parse_bq(COL_TIME, "25:00:00", 8, &v, &a), COLIBRI_EIO);
    assert_int_equal(value_parse_bq(COL_NUMERIC, "x", 1, &v, &a), COLIBRI_EIO);
    strbuf_release(&sb);
    arena_release(&a);
}

/* ---- coercion ------------------------------------------------------------------ */

#define ET "{\"name\":\"event_time\",\"type\":\"TIMESTAMP\",\"mode\":\"REQUIRED\"}"
static const char types_schema[] = "[" ET ","
    "{\"name\":\"n\",\"type\":\"NUMERIC\"},"
    "{\"name\":\"n2\",\"type\":\"DECIMAL\",\"precision\":\"5\",\"scale\":\"2\"},"
    "{\"name\":\"bn\",\"type\":\"BIGNUMERIC\"},"
    "{\"name\":\"b\",\"type\":\"BYTES\"},"
    "{\"name\":\"j\",\"type\":\"JSON\"},"
    "{\"name\":\"dt\",\"type\":\"DATETIME\"},"
    "{\"name\":\"tm\",\"type\":\"TIME\"},"
    "{\"name\":\"g\",\"type\":\"GEOGRAPHY\"},"
    "{\"name\":\"tags\",\"type\":\"STRING\",\"mode\":\"REPEATED\"},"
    "{\"name\":\"card\",\"type\":\"RECORD\",\"fields\":["
        "{\"name\":\"brand\",\"type\":\"STRING\",\"mode\":\"REQUIRED\"},"
        "{\"name\":\"last4\",\"type\":\"STRING\"},"
        "{\"name\":\"expiry\",\"type\":\"DATE\"}]},"
    "{\"name\":\"items\",\"type\":\"STRUCT\",\"mode\":\"REPEATED\",\"fields\":["
        "{\"name\":\"sku\",\"type\":\"STRING\"},"
        "{\"name\":\"qty\",\"type\":\"INT64\"},"
        "{\"name\":\"price\",\"type\":\"NUMERIC\"},"
        "{\"name\":\"at\",\"type\":\"TIMESTAMP\"},"
        "{\"name\":\"codes\",\"type\":\"INT64\",\"mode\":\"REPEATED\"}]}"
    "]";

struct tcase {
    const char *col, *json;
    const char *want;       /* the value as the API writes it (JSON), or "!" + a part of the reason */
};

static const struct tcase type_cases[] = {
    /* NUMERIC: numbers and strings, exact, boundaries, refusals */
    {"n", "12.50", "\"12.5\""}, {"n", "\"12.50\"", "\"12.5\""}, {"n", "-0", "\"0\""},
    {"n", "1e2", "\"100\""}, {"n", "0.1", "\"0.1\""}, {"n", "123456789012345678", "\"123456789012345678\""},
    {"n", "99999999999999999999999999999.999999999", "\"99999999999999999999999999999.999999999\""},
    {"n", "\"-99999999999999999999999999999.999999999\"", "\"-99999999999999999999999999999.999999999\""},
    {"n", "\"100000000000000000000000000000\"", "!field 'n': NUMERIC takes at most 29 integer digits"},
    {"n", "1e29", "!field 'n': NUMERIC takes at most 29 integer digits, got 1e29"},
    /* integers beyond int64 as JSON numbers are refused by the reader, as jansson does: send a string */
    {"n", "12345678901234567890", "!not valid JSON: too big integer"},
    {"n", "12345678901234567890.5", "\"12345678901234567890.5\""},
    {"n", "0.0000000001", "!field 'n': NUMERIC takes at most 9 fractional digits, got 0.0000000001"},
    {"n", "\"1.0000000001\"", "!at most 9 fractional digits, got \"1.0000000001\""},
    {"n", "\"12x\"", "!field 'n': expected NUMERIC (a decimal number), got \"12x\""},
    {"n", "true", "!expected NUMERIC (a decimal number), got true"},
    {"n", "null", "null"},
    {"n2", "999.99", "\"999.99\""}, {"n2", "1000", "!NUMERIC(5, 2) takes at most 3 integer digits"},
    {"n2", "1.234", "!NUMERIC(5, 2) takes at most 2 fractional digits"},
    {"bn", "\"0.00000000000000000000000000000000000001\"", "\"0.00000000000000000000000000000000000001\""},
    {"bn", "1e38", "!BIGNUMERIC takes at most 38 integer digits"},
    /* BYTES */
    {"b", "\"aGVsbG8=\"", "\"aGVsbG8=\""}, {"b", "\"\"", "\"\""},
    {"b", "\"aGVsbG8\"", "!field 'b': expected BYTES (base64)"}, {"b", "5", "!expected BYTES"},
    /* JSON: any value, minified */
    {"j", " { \"a\" : [ 1 , 2 ] } ", "\"{\\\"a\\\":[1,2]}\""}, {"j", "\"x y\"", "\"\\\"x y\\\"\""},
    {"j", "12.5", "\"12.5\""}, {"j", "false", "\"false\""}, {"j", "[]", "\"[]\""}, {"j", "null", "null"},
    /* DATETIME, TIME */
    {"dt", "\"2024-01-02 03:04:05\"", "\"2024-01-02T03:04:05.000000\""},
    {"dt", "\"2024-01-02T03:04:05.123456\"", "\"2024-01-02T03:04:05.123456\""},
    {"dt", "\"2024-01-02T03:04:05Z\"", "!field 'dt': expected DATETIME"},
    {"dt", "1704164645", "!expected DATETIME"},
    {"tm", "\"03:04:05.5\"", "\"03:04:05.500000\""}, {"tm", "\"3:04:05\"", "!expected TIME"},
    /* GEOGRAPHY */
    {"g", "\"POINT(-70.6 -33.45)\"", "\"POINT(-70.6 -33.45)\""},
    {"g", "\"POINT(-70.6 -133.45)\"", "!field 'g': expected GEOGRAPHY (WKT): latitude out of range"},
    /* REPEATED scalars */
    {"tags", "[\"a\",\"b\"]", "[\"a\",\"b\"]"}, {"tags", "[]", "[]"}, {"tags", "null", "[]"},
    {"tags", "[\"a\",null]", "!field 'tags[1]': null element in an array"},
    {"tags", "[\"a\",1]", "!field 'tags[1]': expected STRING, got 1"},
    {"tags", "\"a\"", "!field 'tags': expected an array (REPEATED), got \"a\""},
    /* RECORD */
    {"card", "{\"brand\":\"VISA\"}", "{\"brand\":\"VISA\",\"last4\":null,\"expiry\":null}"},
    {"card", "{\"expiry\":\"2027-01-31\",\"brand\":\"VISA\",\"x\":{\"deep\":[1]}}",
     "{\"brand\":\"VISA\",\"last4\":null,\"expiry\":\"2027-01-31\"}"},
    {"card", "{\"last4\":\"1234\"}", "!missing required field 'card.brand'"},
    {"card", "{\"brand\":null}", "!required field 'card.brand' is null"},
    {"card", "{\"brand\":\"V\",\"expiry\":\"2027-02-30\"}", "!field 'card.expiry': expected DATE"},
    {"card", "{\"brand\":\"V\",\"brand\":\"W\"}", "!not valid JSON: duplicate object key"},
    {"card", "{\"brand\":\"V\",\"x\":1,\"x\":2}", "!not valid JSON: duplicate object key"},
    {"card", "[1]", "!field 'card': expected RECORD (an object), got an array"},
    {"card", "null", "null"},
    /* REPEATED RECORD */
    {"items", "[{\"sku\":\"A\",\"qty\":2,\"price\":\"9.90\",\"at\":0,\"codes\":[1,2]},{}]",
     "[{\"sku\":\"A\",\"qty\":2,\"price\":\"9.9\",\"at\":\"1970-01-01T00:00:00.000000Z\",\"codes\":[1,2]},"
     "{\"sku\":null,\"qty\":null,\"price\":null,\"at\":null,\"codes\":[]}]"},
    {"items", "[{\"qty\":\"x\"}]", "!field 'items[0].qty': expected INT64, got \"x\""},
    {"items", "[{\"codes\":[1,null]}]", "!field 'items[0].codes[1]': null element"},
    {"items", "[{\"qty\":1},null]", "!field 'items[1]': null element"},
};

static void test_coerce_every_type(void **state)
{
    (void)state;
    struct schema *s;
    char err[256], msg[512], reason[256];
    assert_int_equal(schema_parse(types_schema, strlen(types_schema), "t", NULL, &s, err, sizeof err), 0);
    for (size_t i = 0; i < sizeof type_cases / sizeof type_cases[0]; i++) {
        const struct tcase *c = &type_cases[i];
        struct row r;
        snprintf(msg, sizeof msg, "{\"event_time\":\"2024-01-01T00:00:00Z\",\"%s\":%s}", c->col, c->json);
        int rc = schema_coerce(s, msg, strlen(msg), &r, reason, sizeof reason);
        if (c->want[0] == '!') {
            if (rc != COLIBRI_EINVAL || !strstr(reason, c->want + 1))
                fail_msg("case %zu %s: rc %d, reason \"%s\", want \"%s\"", i, msg, rc, reason, c->want + 1);
            continue;
        }
        if (rc)
            fail_msg("case %zu %s: refused: %s", i, msg, reason);
        int col = schema_find(s, c->col);
        struct strbuf sb = STRBUF_INIT;
        value_format(s->cols[col].type, &r.vals[col], &sb, VALUE_JSON);
        if (strcmp(sb.buf, c->want))
            fail_msg("case %zu %s: got %s, want %s", i, msg, sb.buf, c->want);
        strbuf_release(&sb);
        row_release(&r);
    }
    /* absent REPEATED columns are [], absent records null */
    struct row r;
    const char *min = "{\"event_time\":\"2024-01-01T00:00:00Z\"}";
    assert_int_equal(schema_coerce(s, min, strlen(min), &r, reason, sizeof reason), 0);
    int tags = schema_find(s, "tags"), items = schema_find(s, "items"), card = schema_find(s, "card");
    assert_false(r.vals[tags].is_null);
    assert_memory_equal(r.vals[tags].u.s.p, "[]", 2);
    assert_memory_equal(r.vals[items].u.s.p, "[]", 2);
    assert_true(r.vals[card].is_null);
    row_release(&r);
    /* the first refused column in schema order is the reason, nested or not */
    const char *two = "{\"event_time\":\"2024-01-01T00:00:00Z\",\"items\":[{\"qty\":\"x\"}],\"n\":\"y\"}";
    assert_int_equal(schema_coerce(s, two, strlen(two), &r, reason, sizeof reason), COLIBRI_EINVAL);
    assert_non_null(strstr(reason, "field 'n'"));
    /* a syntax error anywhere wins over a refused value */
    const char *broken = "{\"event_time\":\"2024-01-01T00:00:00Z\",\"items\":[{\"qty\":\"x\"}],\"n\":}";
    assert_int_equal(schema_coerce(s, broken, strlen(broken), &r, reason, sizeof reason), COLIBRI_EINVAL);
    assert_non_null(strstr(reason, "not valid JSON"));
    schema_free(s);
}

/* A record of records, depth levels deep: {"name":"r","type":"RECORD","fields":[...{"name":"v"}]}. */
static void nested_schema(char *buf, size_t len, int depth)
{
    size_t o = (size_t)snprintf(buf, len, "[" ET ",");
    for (int i = 0; i < depth; i++)
        o += (size_t)snprintf(buf + o, len - o, "{\"name\":\"r\",\"type\":\"RECORD\",\"fields\":[");
    o += (size_t)snprintf(buf + o, len - o, "{\"name\":\"v\",\"type\":\"INT64\",\"mode\":\"REQUIRED\"}");
    for (int i = 0; i < depth; i++)
        o += (size_t)snprintf(buf + o, len - o, "]}");
    snprintf(buf + o, len - o, "]");
}

static void test_records_nest_fifteen_levels(void **state)
{
    (void)state;
    char js[4096], msg[1024], reason[256], err[256];
    struct schema *s;
    nested_schema(js, sizeof js, 16);
    assert_int_equal(schema_parse(js, strlen(js), "t", NULL, &s, err, sizeof err), COLIBRI_ECONFIG);
    assert_non_null(strstr(err, "records nest at most 15 levels deep"));
    nested_schema(js, sizeof js, 15);
    assert_int_equal(schema_parse(js, strlen(js), "t", NULL, &s, err, sizeof err), 0);
    size_t o = (size_t)snprintf(msg, sizeof msg, "{\"event_time\":0,");
    for (int i = 0; i < 15; i++)
        o += (size_t)snprintf(msg + o, sizeof msg - o, "\"r\":{");
    o += (size_t)snprintf(msg + o, sizeof msg - o, "\"v\":7");
    for (int i = 0; i < 16; i++)
        o += (size_t)snprintf(msg + o, sizeof msg - o, "}");
    struct row r;
    assert_int_equal(schema_coerce(s, msg, strlen(msg), &r, reason, sizeof reason), 0);
    struct strbuf sb = STRBUF_INIT;
    value_format(COL_RECORD, &r.vals[1], &sb, VALUE_JSON);
    char want[512];
    o = 0;
    for (int i = 0; i < 14; i++)
        o += (size_t)snprintf(want + o, sizeof want - o, "{\"r\":");
    o += (size_t)snprintf(want + o, sizeof want - o, "{\"v\":7}");
    for (int i = 0; i < 14; i++)
        o += (size_t)snprintf(want + o, sizeof want - o, "}");
    assert_string_equal(sb.buf, want);
    strbuf_release(&sb);
    row_release(&r);
    /* the REQUIRED leaf at the bottom is checked */
    char *v = strstr(msg, "\"v\":7");
    memcpy(v, "\"w\":7", 5);
    assert_int_equal(schema_coerce(s, msg, strlen(msg), &r, reason, sizeof reason), COLIBRI_EINVAL);
    assert_non_null(strstr(reason, "missing required field 'r.r.r.r.r.r.r.r.r.r.r.r.r.r.r.v'"));
    schema_free(s);
}

/* ---- the SQLite store ----------------------------------------------------------- */

struct fixture {
    struct schema *s;
    struct store *st;
    struct cursor_key key;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    char err[256];
    if (!f || schema_parse(types_schema, strlen(types_schema), "t", NULL, &f->s, err, sizeof err) ||
        store_open(NULL, "sqlite::memory:", f->s, &f->st) || cursor_key_init(&f->key, "k"))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(f->st);
    schema_free(f->s);
    free(f);
    return 0;
}

static const char *const rows[] = {
    "{\"event_time\":1,\"n\":\"9.9\",\"tags\":[\"priority\",\"eu\"],\"card\":{\"brand\":\"VISA\",\"last4\":\"1234\","
    "\"expiry\":\"2027-01-31\"},\"dt\":\"2024-01-01 10:00:00\",\"b\":\"aGk=\",\"g\":\"POINT(1 2)\","
    "\"items\":[{\"sku\":\"A\",\"qty\":1,\"codes\":[7]}],\"j\":{\"k\":[1]}}",
    "{\"event_time\":2,\"n\":10,\"tags\":[\"eu\"],\"card\":{\"brand\":\"AMEX\",\"last4\":\"9999\"},"
    "\"dt\":\"2024-01-02 10:00:00\",\"tm\":\"12:00:00\"}",
    "{\"event_time\":3,\"n\":\"1.10\",\"card\":{\"brand\":\"VISA\",\"last4\":\"0001\",\"expiry\":\"2026-05-31\"},"
    "\"bn\":\"-0.5\"}",
    "{\"event_time\":4,\"n\":\"-100.000000001\",\"tags\":[\"priority\"]}",
};

static void load(struct fixture *f)
{
    struct ingest ing;
    char id[8];
    ingest_init(&ing, "load", f->s, f->st);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        snprintf(id, sizeof id, "r%zu", i);
        struct message m = { .id = id, .source = "test", .payload = rows[i], .len = strlen(rows[i]) };
        assert_int_equal(ingest_message(&ing, &m, NULL, 0), 0);
    }
    struct insert_result r;
    assert_int_equal(ingest_flush(&ing, &r), 0);
    ingest_release(&ing);
}

struct page { struct strbuf sb; const struct schema *s; };

/* Each row as "id:<fields in JSON>" separated by spaces. */
static int collect(void *ud, const size_t *cols, size_t ncols, const struct value *vals)
{
    struct page *p = ud;
    if (p->sb.len)
        strbuf_addc(&p->sb, ' ');
    strbuf_add(&p->sb, vals[ncols - 1].u.s.p, vals[ncols - 1].u.s.n);
    for (size_t i = 0; i + 2 < ncols; i++) {
        if (p->s->cols[cols[i]].metadata)
            continue;
        strbuf_addc(&p->sb, ':');
        value_format(p->s->cols[cols[i]].type, &vals[i], &p->sb, VALUE_JSON);
    }
    return 0;
}

static const char *run(struct fixture *f, const char *qs)
{
    static char out[2048];
    struct query q;
    struct page p = { .sb = STRBUF_INIT, .s = f->s };
    char err[256];
    if (query_parse(f->s, &f->key, qs, &q, err, sizeof err)) {
        snprintf(out, sizeof out, "ERR: %s", err);
        return out;
    }
    struct row_sink sink = { .row = collect, .ud = &p };
    assert_int_equal(store_query(f->st, &q, &sink), 0);
    query_release(&q);
    snprintf(out, sizeof out, "%s", p.sb.buf ? p.sb.buf : "");
    strbuf_release(&p.sb);
    return out;
}

static void test_sqlite_stores_and_filters_every_type(void **state)
{
    struct fixture *f = *state;
    load(f);
    /* values come back as they went in, canonical */
    assert_string_equal(run(f, "order=asc&fields=n,card,tags,dt,b,g,j&_id=r0"),
        "r0:\"9.9\":{\"brand\":\"VISA\",\"last4\":\"1234\",\"expiry\":\"2027-01-31\"}:[\"priority\",\"eu\"]"
        ":\"2024-01-01T10:00:00.000000\":\"aGk=\":\"POINT(1 2)\":\"{\\\"k\\\":[1]}\"");
    assert_string_equal(run(f, "order=asc&fields=tags,items,card&_id=r3"), "r3:[\"priority\"]:[]:null");
    /* NUMERIC compares exactly: 9.9 < 10, 1.10 = 1.1 */
    assert_string_equal(run(f, "order=asc&fields=_id&n__lt=10"), "r0 r2 r3");
    assert_string_equal(run(f, "order=asc&fields=_id&n__gte=10"), "r1");
    assert_string_equal(run(f, "order=asc&fields=_id&n__gt=9.89999999"), "r0 r1");
    assert_string_equal(run(f, "order=asc&fields=_id&n=1.1"), "r2");
    assert_string_equal(run(f, "order=asc&fields=_id&n=1.100"), "r2");
    assert_string_equal(run(f, "order=asc&fields=_id&n__in=10,-100.000000001"), "r1 r3");
    assert_string_equal(run(f, "order=asc&fields=_id&n__lt=-100"), "r3");
    assert_string_equal(run(f, "order=asc&fields=_id&n__ne=10"), "r0 r2 r3");
    assert_string_equal(run(f, "order=asc&fields=_id&bn__lt=0"), "r2");
    /* dotted names reach into records */
    assert_string_equal(run(f, "order=asc&fields=_id&card.brand=VISA"), "r0 r2");
    assert_string_equal(run(f, "order=asc&fields=_id&card.last4__in=1234,9999"), "r0 r1");
    assert_string_equal(run(f, "order=asc&fields=_id&card.expiry__gte=2027-01-01"), "r0");
    assert_string_equal(run(f, "order=asc&fields=_id&card.expiry__isnull=true"), "r1 r3");
    assert_string_equal(run(f, "order=asc&fields=_id&card.brand__prefix=AM"), "r1");
    assert_string_equal(run(f, "order=asc&fields=_id&card__isnull=true"), "r3");
    /* contains on arrays */
    assert_string_equal(run(f, "order=asc&fields=_id&tags__contains=priority"), "r0 r3");
    assert_string_equal(run(f, "order=asc&fields=_id&tags__contains=eu&card.brand=AMEX"), "r1");
    /* the other new types */
    assert_string_equal(run(f, "order=asc&fields=_id&dt__gte=2024-01-01T12:00:00"), "r1");
    assert_string_equal(run(f, "order=asc&fields=_id&tm=12:00:00"), "r1");
    assert_string_equal(run(f, "order=asc&fields=_id&b=aGk%3D"), "r0");
    assert_string_equal(run(f, "order=asc&fields=_id&g__isnull=false"), "r0");
    assert_string_equal(run(f, "order=asc&fields=_id&j__isnull=false"), "r0");
    /* what does not apply says so */
    assert_string_equal(run(f, "tags=eu"),
                        "ERR: tags: 'tags' is REPEATED: use tags__contains (or a field inside its records)");
    assert_string_equal(run(f, "card=x"),
                        "ERR: card: 'card' is a RECORD: use isnull, or filter a field of it (card.field)");
    assert_string_equal(run(f, "n__contains=1"),
                        "ERR: n__contains: contains applies to REPEATED columns of a scalar type only");
    assert_string_equal(run(f, "items__contains=1"),
                        "ERR: items__contains: contains applies to REPEATED columns of a scalar type only");
    assert_string_equal(run(f, "g=POINT(1 2)"), "ERR: g: GEOGRAPHY columns take isnull only");
    assert_string_equal(run(f, "b__gt=aGk%3D"), "ERR: b__gt: gt does not apply to BYTES columns");
    assert_string_equal(run(f, "card.nope=1"), "ERR: unknown parameter or column 'card.nope'");
    assert_string_equal(run(f, "items.sku=A"), "ERR: unknown parameter or column 'items.sku'");
    assert_string_equal(run(f, "n=abc"), "ERR: n: expected a plain decimal like -12.5 (NUMERIC), got 'abc'");
    assert_true(!strncmp(run(f, "n=0.0000000001"), "ERR: n: expected a plain decimal", 32));
    assert_true(!strncmp(run(f, "n=1e3"), "ERR: n: expected a plain decimal", 32));
}

/* Cursors are bound to dotted filters as to any other. */
static void test_dotted_filters_bind_cursors(void **state)
{
    struct fixture *f = *state;
    struct query a, b;
    char err[256];
    assert_int_equal(query_parse(f->s, &f->key, "card.brand=VISA", &a, err, sizeof err), 0);
    assert_int_equal(query_parse(f->s, &f->key, "card.last4=VISA", &b, err, sizeof err), 0);
    assert_memory_not_equal(a.digest, b.digest, sizeof a.digest);
    query_release(&b);
    assert_int_equal(query_parse(f->s, &f->key, "n=1.10", &b, err, sizeof err), 0);
    query_release(&a);
    assert_int_equal(query_parse(f->s, &f->key, "n=1.1", &a, err, sizeof err), 0);
    assert_memory_equal(a.digest, b.digest, sizeof a.digest);      /* one value, one digest */
    query_release(&a);
    query_release(&b);
}

/* The BigQuery side: table fields, insertAll values and query cells of records and arrays. */
static void test_bigquery_nested_json(void **state)
{
    (void)state;
    struct schema *s;
    char err[256], reason[256];
    assert_int_equal(schema_parse(types_schema, strlen(types_schema), "t", NULL, &s, err, sizeof err), 0);
    const struct column *items = &s->cols[schema_find(s, "items")], *n2 = &s->cols[schema_find(s, "n2")];
    json_t *f = bq_field_json(items);
    char *text = json_dumps(f, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_string_equal(text, "{\"name\":\"items\",\"type\":\"RECORD\",\"mode\":\"REPEATED\",\"fields\":["
        "{\"name\":\"sku\",\"type\":\"STRING\",\"mode\":\"NULLABLE\"},"
        "{\"name\":\"qty\",\"type\":\"INT64\",\"mode\":\"NULLABLE\"},"
        "{\"name\":\"price\",\"type\":\"NUMERIC\",\"mode\":\"NULLABLE\"},"
        "{\"name\":\"at\",\"type\":\"TIMESTAMP\",\"mode\":\"NULLABLE\"},"
        "{\"name\":\"codes\",\"type\":\"INT64\",\"mode\":\"REPEATED\"}]}");
    free(text);
    json_decref(f);
    f = bq_field_json(n2);
    text = json_dumps(f, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_string_equal(text, "{\"name\":\"n2\",\"type\":\"NUMERIC\",\"mode\":\"NULLABLE\","
                              "\"precision\":\"5\",\"scale\":\"2\"}");
    free(text);
    json_decref(f);

    /* insertAll: INT64 as strings at every depth, nulls left out */
    const char *msg = "{\"event_time\":0,\"items\":[{\"sku\":\"A\",\"qty\":9007199254740993,"
                      "\"price\":\"1.50\",\"codes\":[1,-2]},{}]}";
    struct row r;
    assert_int_equal(schema_coerce(s, msg, strlen(msg), &r, reason, sizeof reason), 0);
    struct strbuf sb = STRBUF_INIT;
    bq_row_value(items, &r.vals[schema_find(s, "items")], &sb);
    assert_string_equal(sb.buf, "[{\"sku\":\"A\",\"qty\":\"9007199254740993\",\"price\":\"1.5\","
                                "\"codes\":[\"1\",\"-2\"]},{\"codes\":[]}]");
    strbuf_release(&sb);
    row_release(&r);

    /* a query cell (f/v) back to the canonical text, as SQLite stores it */
    const char *cell = "{\"v\":[{\"v\":{\"f\":[{\"v\":\"A\"},{\"v\":\"9007199254740993\"},"
        "{\"v\":\"1.500000000\"},{\"v\":\"1700000000000000\"},{\"v\":[{\"v\":\"1\"},{\"v\":\"-2\"}]}]}},"
        "{\"v\":{\"f\":[{\"v\":null},{\"v\":null},{\"v\":null},{\"v\":null},{\"v\":[]}]}}]}";
    json_t *j = json_loads(cell, 0, NULL);
    struct arena a = ARENA_INIT;
    struct value v;
    assert_int_equal(bq_cell_value(items, j, &v, &a), 0);
    assert_int_equal(v.u.s.n, strlen("[{\"sku\":\"A\",\"qty\":9007199254740993,\"price\":\"1.5\","
        "\"at\":\"2023-11-14T22:13:20.000000Z\",\"codes\":[1,-2]},"
        "{\"sku\":null,\"qty\":null,\"price\":null,\"at\":null,\"codes\":[]}]"));
    assert_memory_equal(v.u.s.p, "[{\"sku\":\"A\",\"qty\":9007199254740993,\"price\":\"1.5\","
        "\"at\":\"2023-11-14T22:13:20.000000Z\",\"codes\":[1,-2]},"
        "{\"sku\":null,\"qty\":null,\"price\":null,\"at\":null,\"codes\":[]}]", v.u.s.n);
    json_decref(j);
    j = json_loads("{\"v\":null}", 0, NULL);          /* a NULL repeated column is [] */
    assert_int_equal(bq_cell_value(items, j, &v, &a), 0);
    assert_false(v.is_null);
    assert_memory_equal(v.u.s.p, "[]", 2);
    json_decref(j);
    j = json_loads("{\"v\":{\"f\":[]}}", 0, NULL);   /* a record of the wrong shape */
    assert_int_equal(bq_cell_value(&s->cols[schema_find(s, "card")], j, &v, &a), COLIBRI_EIO);
    json_decref(j);
    arena_release(&a);
    schema_free(s);
}

/* fields=card.brand: the query keeps the parts, nested_project cuts the cell down. */
static void test_fields_with_dotted_names(void **state)
{
    struct fixture *f = *state;
    struct query q;
    char err[256];
    assert_int_equal(query_parse(f->s, &f->key, "fields=n,card.brand,items.sku,card.last4,items.codes",
                                 &q, err, sizeof err), 0);
    assert_int_equal(q.nfields, 3);
    assert_int_equal(q.fields[1], (size_t)schema_find(f->s, "card"));
    assert_int_equal(q.parts[0].npaths, 0);
    assert_int_equal(q.parts[1].npaths, 2);
    assert_string_equal(q.parts[1].paths[1], "last4");
    assert_int_equal(q.parts[2].npaths, 2);
    const struct column *card = &f->s->cols[q.fields[1]], *items = &f->s->cols[q.fields[2]];
    struct strbuf sb = STRBUF_INIT;
    const char *c = "{\"brand\":\"VISA\",\"last4\":\"12,}\\\"4\",\"expiry\":null}";
    nested_project(card, c, strlen(c), q.parts[1].paths, 2, &sb);
    assert_string_equal(sb.buf, "{\"brand\":\"VISA\",\"last4\":\"12,}\\\"4\"}");
    strbuf_reset(&sb);
    const char *it = "[{\"sku\":\"A\",\"qty\":1,\"price\":\"2.5\",\"at\":null,\"codes\":[1,2]},"
                     "{\"sku\":null,\"qty\":null,\"price\":null,\"at\":null,\"codes\":[]}]";
    nested_project(items, it, strlen(it), q.parts[2].paths, 2, &sb);
    assert_string_equal(sb.buf, "[{\"sku\":\"A\",\"codes\":[1,2]},{\"sku\":null,\"codes\":[]}]");
    strbuf_reset(&sb);
    nested_project(items, "[]", 2, q.parts[2].paths, 2, &sb);
    assert_string_equal(sb.buf, "[]");
    strbuf_release(&sb);
    query_release(&q);
    /* a whole column wins over its parts; what is not there says so */
    assert_int_equal(query_parse(f->s, &f->key, "fields=card.brand,card", &q, err, sizeof err), 0);
    assert_int_equal(q.nfields, 1);
    assert_int_equal(q.parts[0].npaths, 0);
    query_release(&q);
    assert_int_equal(query_parse(f->s, &f->key, "fields=card,card.brand", &q, err, sizeof err), 0);
    assert_int_equal(q.parts[0].npaths, 0);
    query_release(&q);
    assert_int_equal(query_parse(f->s, &f->key, "fields=card.nope", &q, err, sizeof err), COLIBRI_EINVAL);
    assert_string_equal(err, "fields: unknown column 'card.nope'");
    assert_int_equal(query_parse(f->s, &f->key, "fields=n.x", &q, err, sizeof err), COLIBRI_EINVAL);
    assert_int_equal(query_parse(f->s, &f->key, "fields=card.brand,card.brand", &q, err, sizeof err),
                     COLIBRI_EINVAL);
    assert_string_equal(err, "fields: 'card.brand' listed twice");
    assert_int_equal(query_parse(f->s, &f->key, "fields=card,card", &q, err, sizeof err), COLIBRI_EINVAL);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decimal_canonical_text),
        cmocka_unit_test(test_decimal_keys_order_exactly),
        cmocka_unit_test(test_wkt_canonical_and_refused),
        cmocka_unit_test(test_text_values_in_every_style),
        cmocka_unit_test(test_bigquery_cells_read_back),
        cmocka_unit_test(test_coerce_every_type),
        cmocka_unit_test(test_records_nest_fifteen_levels),
        cmocka_unit_test(test_bigquery_nested_json),
        cmocka_unit_test_setup_teardown(test_sqlite_stores_and_filters_every_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dotted_filters_bind_cursors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fields_with_dotted_names, setup, teardown),
    };
    unit_filter(argc, argv);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
