/*
 * test_schema.c — schema loading, message coercion, filter values and the
 * timestamp/date/float text forms. Run from the repository root (it reads
 * schema/flights.json); the flightgen check looks for the generator next to
 * this binary's build directory or in $FLIGHTGEN and is skipped without it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "unit.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "colibri/error.h"
#include "colibri/schema.h"
#include "colibri/strbuf.h"

#define TS_MIN (-62135596800000000LL)      /* 0001-01-01T00:00:00Z */
#define TS_MAX 253402300799999999LL        /* 9999-12-31T23:59:59.999999Z */
#define T2026 1767225600000000LL           /* 2026-01-01T00:00:00Z */

static const char test_schema[] =
    "[{\"name\":\"ts\",\"type\":\"TIMESTAMP\",\"mode\":\"REQUIRED\"},"
    " {\"name\":\"req\",\"type\":\"STRING\",\"mode\":\"REQUIRED\",\"description\":\"r\"},"
    " {\"name\":\"s\",\"type\":\"STRING\"},"
    " {\"name\":\"i\",\"type\":\"INTEGER\",\"mode\":\"NULLABLE\"},"
    " {\"name\":\"f\",\"type\":\"FLOAT\"},"
    " {\"name\":\"b\",\"type\":\"BOOLEAN\"},"
    " {\"name\":\"t\",\"type\":\"TIMESTAMP\"},"
    " {\"name\":\"d\",\"type\":\"DATE\"}]";

static int setup_schema(void **state)
{
    struct schema *s = NULL;
    char err[256] = "";

    if (schema_parse(test_schema, strlen(test_schema), "t", "ts", &s, err, sizeof err) != 0) {
        fprintf(stderr, "test schema: %s\n", err);
        return -1;
    }
    *state = s;
    return 0;
}

static int teardown_schema(void **state)
{
    schema_free(*state);
    return 0;
}

/* ---- loading ------------------------------------------------------------- */

static void test_load_flights(void **state)
{
    struct schema *s = NULL;
    char err[256] = "";
    static const char *const cluster[] = {"carrier", "origin", "destination", "status"};

    assert_int_equal(schema_load("schema/flights.json", "event_time", &s, err, sizeof err), 0);
    assert_non_null(s);
    assert_string_equal(s->table, "flights");
    assert_true(s->nuser >= 15 && s->nuser <= 18);
    assert_int_equal(s->ncols, s->nuser + META_COUNT);
    assert_string_equal(s->cols[s->event_time].name, "event_time");
    assert_int_equal(s->cols[s->event_time].type, COL_TIMESTAMP);
    for (size_t i = 0; i < s->nuser; i++) {
        assert_false(s->cols[i].metadata);
        assert_true(strlen(s->cols[i].description) > 10);
    }
    for (size_t i = 0; i < sizeof cluster / sizeof cluster[0]; i++) {
        int k = schema_find(s, cluster[i]);
        assert_true(k >= 0);
        assert_true(s->cols[k].cluster);
        assert_true(s->cols[k].required);
    }
    assert_false(s->cols[schema_find(s, "passengers")].cluster);
    assert_int_equal(s->cols[schema_find(s, "flight_number")].type, COL_INT64);
    assert_int_equal(s->cols[schema_find(s, "distance_km")].type, COL_FLOAT64);
    assert_int_equal(s->cols[schema_find(s, "on_time")].type, COL_BOOL);
    assert_int_equal(s->cols[schema_find(s, "flight_date")].type, COL_DATE);
    assert_false(s->cols[schema_find(s, "actual_departure")].required);

    static const struct { const char *name; enum col_type t; bool req; } meta[META_COUNT] = {
        {"_id", COL_STRING, true}, {"_source", COL_STRING, false},
        {"_published_at", COL_TIMESTAMP, false}, {"_ingested_at", COL_TIMESTAMP, false},
    };
    for (int m = 0; m < META_COUNT; m++) {
        const struct column *c = &s->cols[schema_meta(s, m)];
        assert_string_equal(c->name, meta[m].name);
        assert_int_equal(c->type, meta[m].t);
        assert_int_equal(c->required, meta[m].req);
        assert_true(c->metadata);
        assert_int_equal(schema_find(s, meta[m].name), (int)schema_meta(s, m));
    }
    assert_int_equal(schema_find(s, "nope"), -1);
    assert_int_equal(schema_find(s, "Carrier"), -1);
    schema_free(s);
}

static void test_load_aliases(void **state)
{
    static const char js[] =
        "{\"fields\":[{\"name\":\"a\",\"type\":\"integer\",\"mode\":\"required\"},"
        "{\"name\":\"B_2\",\"type\":\"Float64\"},{\"name\":\"c\",\"type\":\"BOOL\",\"x-cluster\":false},"
        "{\"name\":\"e\",\"type\":\"timestamp\",\"mode\":\"REQUIRED\",\"policyTags\":{}},"
        "{\"name\":\"dt\",\"type\":\"DATE\",\"x-cluster\":true},{\"name\":\"s\",\"type\":\"STRING\"}]}";
    struct schema *s = NULL;
    char err[256] = "";

    assert_int_equal(schema_parse(js, strlen(js), "tbl", "e", &s, err, sizeof err), 0);
    assert_int_equal(s->nuser, 6);
    assert_int_equal(s->cols[0].type, COL_INT64);
    assert_true(s->cols[0].required);
    assert_int_equal(s->cols[1].type, COL_FLOAT64);
    assert_false(s->cols[1].required);
    assert_int_equal(s->cols[2].type, COL_BOOL);
    assert_false(s->cols[2].cluster);
    assert_true(s->cols[4].cluster);
    assert_string_equal(s->cols[5].description, "");
    assert_int_equal(s->event_time, 3);
    schema_free(s);

    /* event_time NULL or "" means "event_time" */
    static const char js2[] = "[{\"name\":\"event_time\",\"type\":\"TIMESTAMP\",\"mode\":\"REQUIRED\"}]";
    assert_int_equal(schema_parse(js2, strlen(js2), "x", NULL, &s, err, sizeof err), 0);
    assert_int_equal(s->event_time, 0);
    schema_free(s);
    assert_int_equal(schema_parse(js2, strlen(js2), "x", "", &s, err, sizeof err), 0);
    schema_free(s);

    static const char *const names[] = {"STRING", "INT64", "FLOAT64", "BOOL", "TIMESTAMP", "DATE"};
    for (int t = COL_STRING; t <= COL_DATE; t++)
        assert_string_equal(col_type_name((enum col_type)t), names[t]);
}

static void test_load_errors(void **state)
{
#define ET "{\"name\":\"event_time\",\"type\":\"TIMESTAMP\",\"mode\":\"REQUIRED\"}"
    static const struct { const char *json, *table, *event_time, *want; } cases[] = {
        {"", "t", NULL, "not valid JSON"},
        {"[" ET ",]", "t", NULL, "not valid JSON"},
        {"{\"name\":\"a\"}", "t", NULL, "non-empty JSON array"},
        {"[]", "t", NULL, "non-empty JSON array"},
        {"42", "t", NULL, "not valid JSON"},
        {"[" ET ",\"a\"]", "t", NULL, "fields[1]: expected an object"},
        {"[" ET ",{\"type\":\"STRING\"}]", "t", NULL, "fields[1]: \"name\" is missing"},
        {"[" ET ",{\"name\":5,\"type\":\"STRING\"}]", "t", NULL, "\"name\" is missing or not a string"},
        {"[" ET ",{\"name\":\"1abc\",\"type\":\"STRING\"}]", "t", NULL, "name \"1abc\" must match"},
        {"[" ET ",{\"name\":\"a-b\",\"type\":\"STRING\"}]", "t", NULL, "name \"a-b\" must match"},
        {"[" ET ",{\"name\":\"\",\"type\":\"STRING\"}]", "t", NULL, "name \"\" must match"},
        {"[" ET ",{\"name\":\"a\\u0000b\",\"type\":\"STRING\"}]", "t", NULL, "not valid JSON"},
        {"[" ET ",{\"name\":\"\xc3\xa9t\xc3\xa9\",\"type\":\"STRING\"}]", "t", NULL, "must match"},
        {"[" ET ",{\"name\":\"_x\",\"type\":\"STRING\"}]", "t", NULL, "reserved for colibri's metadata"},
        {"[" ET ",{\"name\":\"_id\",\"type\":\"STRING\"}]", "t", NULL, "fields[1]: name \"_id\" starts with '_'"},
        {"[" ET ",{\"name\":\"a\",\"type\":\"STRING\"},{\"name\":\"A\",\"type\":\"INT64\"}]", "t", NULL,
         "fields[2]: duplicate column name 'A' (see fields[1])"},
        {"[" ET ",{\"name\":\"event_time\",\"type\":\"STRING\"}]", "t", NULL, "duplicate column name"},
        {"[" ET ",{\"name\":\"a\",\"type\":\"STRING\",\"name\":\"b\"}]", "t", NULL, "duplicate object key"},
        {"[" ET ",{\"name\":\"a\"}]", "t", NULL, "fields[1] \"a\": \"type\" is missing"},
        {"[" ET ",{\"name\":\"a\",\"type\":\"INTEGR\"}]", "t", NULL, "fields[1] \"a\": unknown type \"INTEGR\""},
        {"[" ET ",{\"name\":\"a\",\"type\":\"INTERVAL\"}]", "t", NULL, "unsupported type \"INTERVAL\""},
        {"[" ET ",{\"name\":\"a\",\"type\":\"RANGE\"}]", "t", NULL, "unsupported type \"RANGE\""},
        {"[" ET ",{\"name\":\"a\",\"type\":\"RECORD\",\"fields\":[]}]", "t", NULL, "field a: a RECORD needs a non-empty \"fields\" array"},
        {"[" ET ",{\"name\":\"a\",\"type\":\"STRUCT\"}]", "t", NULL, "a RECORD needs a non-empty"},
        {"[" ET ",{\"name\":\"a\",\"type\":\"STRING\",\"fields\":[]}]", "t", NULL, "\"fields\" is only for RECORD columns"},
        {"[" ET ",{\"name\":\"r\",\"type\":\"RECORD\",\"fields\":[{\"name\":\"x\",\"type\":\"NOPE\"}]}]", "t", NULL,
         "field r.x: unknown type \"NOPE\""},
        {"[" ET ",{\"name\":\"r\",\"type\":\"RECORD\",\"fields\":[{\"name\":\"x\",\"type\":\"INT64\"},{\"name\":\"X\",\"type\":\"INT64\"}]}]", "t", NULL,
         "duplicate field name 'X'"},
        {"[" ET ",{\"name\":\"a\",\"type\":\"STRING\",\"mode\":\"REPEATED\",\"x-cluster\":true}]", "t", NULL, "\"x-cluster\" applies to top-level scalar columns only"},
        {"[" ET ",{\"name\":\"a\",\"type\":\"NUMERIC\",\"precision\":30,\"scale\":0}]", "t", NULL, "NUMERIC(30, 0) is out of range"},
        {"[" ET ",{\"name\":\"a\",\"type\":\"NUMERIC\",\"precision\":10,\"scale\":10}]", "t", NULL, "NUMERIC(10, 10) is out of range"},
        {"[" ET ",{\"name\":\"a\",\"type\":\"NUMERIC\",\"scale\":10}]", "t", NULL, "is out of range"},
        {"[" ET ",{\"name\":\"a\",\"type\":\"BIGNUMERIC\",\"precision\":40,\"scale\":1}]", "t", NULL, "BIGNUMERIC(40, 1) is out of range"},
        {"[" ET ",{\"name\":\"a\",\"type\":\"NUMERIC\",\"precision\":\"x\"}]", "t", NULL, "must be whole numbers"},
        {"[" ET ",{\"name\":\"a\",\"type\":\"STRING\",\"mode\":\"OPTIONAL\"}]", "t", NULL, "mode must be NULLABLE, REQUIRED or REPEATED"},
        {"[" ET ",{\"name\":\"a\",\"type\":\"STRING\",\"mode\":1}]", "t", NULL, "\"mode\" must be a string"},
        {"[" ET ",{\"name\":\"a\",\"type\":\"STRING\",\"description\":1}]", "t", NULL, "\"description\" must be a string"},
        {"[" ET ",{\"name\":\"a\",\"type\":\"STRING\",\"x-cluster\":\"yes\"}]", "t", NULL, "\"x-cluster\" must be true or false"},
        {"[{\"name\":\"a\",\"type\":\"STRING\"}]", "t", NULL, "event-time column \"event_time\" is not a column"},
        {"[" ET "]", "t", "when", "event-time column \"when\" is not a column"},
        {"[" ET "]", "t", "_ingested_at", "is not a column"},
        {"[{\"name\":\"event_time\",\"type\":\"STRING\",\"mode\":\"REQUIRED\"}]", "t", NULL,
         "event-time column 'event_time' must be TIMESTAMP and REQUIRED, not STRING REQUIRED"},
        {"[{\"name\":\"event_time\",\"type\":\"TIMESTAMP\"}]", "t", NULL, "not TIMESTAMP NULLABLE"},
        {"[" ET "]", "bad-name", NULL, "table name \"bad-name\" must match"},
        {"[" ET "]", "", NULL, "table name \"\" must match"},
    };
    char err[256];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct schema *s = (struct schema *)&err;      /* must come back NULL */
        memset(err, 0, sizeof err);
        int rc = schema_parse(cases[i].json, strlen(cases[i].json), cases[i].table,
                              cases[i].event_time, &s, err, sizeof err);
        if (rc != COLIBRI_ECONFIG || s != NULL || !strstr(err, cases[i].want))
            fail_msg("case %zu: rc %d, err \"%s\", want \"%s\"", i, rc, err, cases[i].want);
    }

    /* 128 characters is the longest name */
    char js[512], name[130];
    struct schema *s = NULL;
    memset(name, 'a', 128);
    name[128] = '\0';
    snprintf(js, sizeof js, "[" ET ",{\"name\":\"%s\",\"type\":\"STRING\"}]", name);
    assert_int_equal(schema_parse(js, strlen(js), "t", NULL, &s, err, sizeof err), 0);
    schema_free(s);
    snprintf(js, sizeof js, "[" ET ",{\"name\":\"%sb\",\"type\":\"STRING\"}]", name);
    assert_int_equal(schema_parse(js, strlen(js), "t", NULL, &s, err, sizeof err), COLIBRI_ECONFIG);
    assert_non_null(strstr(err, "must match"));
    assert_non_null(strstr(err, "..."));            /* the echoed name is shortened */
    assert_true(strlen(err) < 150);

    /* err may be NULL */
    assert_int_equal(schema_parse("[]", 2, "t", NULL, &s, NULL, 0), COLIBRI_ECONFIG);
    assert_null(s);
#undef ET
}

static void test_load_file(void **state)
{
    char dir[] = "/tmp/colibri-schema-XXXXXX", path[128], err[512];
    struct schema *s = (struct schema *)&err;
    FILE *f;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/events.v1.json", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("[{\"name\":\"at\",\"type\":\"TIMESTAMP\",\"mode\":\"REQUIRED\"}]\n", f);
    fclose(f);
    /* base name without the extension: "events.v1" is not a valid table name */
    assert_int_equal(schema_load(path, "at", &s, err, sizeof err), COLIBRI_ECONFIG);
    assert_null(s);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "table name \"events.v1\""));
    unlink(path);

    snprintf(path, sizeof path, "%s/events.json", dir);
    f = fopen(path, "w");
    fputs("[{\"name\":\"at\",\"type\":\"TIMESTAMP\",\"mode\":\"REQUIRED\"}]\n", f);
    fclose(f);
    assert_int_equal(schema_load(path, "at", &s, err, sizeof err), 0);
    assert_string_equal(s->table, "events");
    schema_free(s);
    assert_int_equal(schema_load(path, "missing", &s, err, sizeof err), COLIBRI_ECONFIG);
    assert_null(s);
    assert_non_null(strstr(err, path));
    unlink(path);

    assert_int_equal(schema_load(path, "at", &s, err, sizeof err), COLIBRI_ENOTFOUND);
    assert_null(s);
    assert_non_null(strstr(err, path));
    assert_int_equal(schema_load(dir, "at", &s, err, sizeof err), COLIBRI_EIO);  /* a directory */
    assert_null(s);
    rmdir(dir);
}

/* ---- coercion ------------------------------------------------------------ */

struct ccase {
    const char *col, *json;
    bool ok;
    const char *want;       /* ok: expected text of the value (see check_value); else a reason part */
};

/* The value as text, to compare against a table: ints in decimal, floats %.17g. */
static void value_text(enum col_type t, const struct value *v, char *buf, size_t len)
{
    if (v->is_null) {
        snprintf(buf, len, "NULL");
        return;
    }
    switch (t) {
    case COL_STRING:    snprintf(buf, len, "%.*s", (int)v->u.s.n, v->u.s.p); break;
    case COL_INT64:
    case COL_TIMESTAMP:
    case COL_DATE:      snprintf(buf, len, "%lld", (long long)v->u.i); break;
    case COL_FLOAT64:   snprintf(buf, len, "%.17g", v->u.f); break;
    case COL_BOOL:      snprintf(buf, len, "%s", v->u.b ? "true" : "false"); break;
    case COL_DATETIME:
    case COL_TIME:      snprintf(buf, len, "%lld", (long long)v->u.i); break;
    default:            snprintf(buf, len, "%.*s", (int)v->u.s.n, v->u.s.p); break;
    }
}

static const struct ccase coerce_cases[] = {
    /* INT64 */
    {"i", "42", true, "42"}, {"i", "-7", true, "-7"}, {"i", "\"42\"", true, "42"},
    {"i", "-0", true, "0"}, {"i", "\"+5\"", true, "5"}, {"i", "\"007\"", true, "7"},
    {"i", "9223372036854775807", true, "9223372036854775807"},
    {"i", "-9223372036854775808", true, "-9223372036854775808"},
    {"i", "\"-9223372036854775808\"", true, "-9223372036854775808"},
    {"i", "\"9223372036854775807\"", true, "9223372036854775807"},
    {"i", "null", true, "NULL"},
    {"i", "1.5", false, "field 'i': expected INT64, got 1.5"},
    {"i", "1.0", false, "expected INT64, got 1"},
    {"i", "1e3", false, "expected INT64, got 1000"},
    {"i", "\"1.5\"", false, "field 'i': expected INT64, got \"1.5\""},
    {"i", "\"12abc\"", false, "field 'i': expected INT64, got \"12abc\""},
    {"i", "\"\"", false, "expected INT64, got \"\""},
    {"i", "\" 1\"", false, "expected INT64"}, {"i", "\"1 \"", false, "expected INT64"},
    {"i", "\"-\"", false, "expected INT64"}, {"i", "\"+\"", false, "expected INT64"},
    {"i", "\"0x10\"", false, "expected INT64"}, {"i", "\"1e3\"", false, "expected INT64"},
    {"i", "\"9223372036854775808\"", false, "field 'i': INT64 out of range, got \"9223372036854775808\""},
    {"i", "\"-9223372036854775809\"", false, "INT64 out of range"},
    {"i", "\"99999999999999999999x\"", false, "expected INT64"},
    {"i", "9223372036854775808", false, "not valid JSON"},
    {"i", "true", false, "field 'i': expected INT64, got true"},
    {"i", "false", false, "got false"},
    {"i", "{}", false, "expected INT64, got an object"},
    {"i", "[1]", false, "expected INT64, got an array"},
    /* FLOAT64 */
    {"f", "1.5", true, "1.5"}, {"f", "2", true, "2"}, {"f", "-0.0", true, "-0"},
    {"f", "\"3.25\"", true, "3.25"}, {"f", "\"-1e-3\"", true, "-0.001"},
    {"f", "\"1E10\"", true, "10000000000"}, {"f", "\".5\"", true, "0.5"},
    {"f", "\"5.\"", true, "5"}, {"f", "\"+2\"", true, "2"}, {"f", "1e308", true, "1e+308"},
    {"f", "\"4.9e-324\"", true, "4.9406564584124654e-324"},
    {"f", "\"1e-400\"", true, "0"},
    {"f", "9007199254740993", true, "9007199254740992"},
    {"f", "null", true, "NULL"},
    {"f", "\"NaN\"", false, "field 'f': expected FLOAT64, got \"NaN\""},
    {"f", "\"nan\"", false, "expected FLOAT64"},
    {"f", "\"Infinity\"", false, "expected FLOAT64, got \"Infinity\""},
    {"f", "\"inf\"", false, "expected FLOAT64"}, {"f", "\"-inf\"", false, "expected FLOAT64"},
    {"f", "\"1e999\"", false, "field 'f': FLOAT64 out of range, got \"1e999\""},
    {"f", "1e999", false, "not valid JSON"},
    {"f", "\"abc\"", false, "expected FLOAT64"}, {"f", "\"\"", false, "expected FLOAT64"},
    {"f", "\"0x1p3\"", false, "expected FLOAT64"}, {"f", "\" 1\"", false, "expected FLOAT64"},
    {"f", "\"1e\"", false, "expected FLOAT64"}, {"f", "\".\"", false, "expected FLOAT64"},
    {"f", "\"1.2.3\"", false, "expected FLOAT64"}, {"f", "\"1,5\"", false, "expected FLOAT64"},
    {"f", "\"-\"", false, "expected FLOAT64"}, {"f", "\"e5\"", false, "expected FLOAT64"},
    {"f", "true", false, "expected FLOAT64, got true"},
    {"f", "{\"x\":1}", false, "expected FLOAT64, got an object"},
    /* BOOL */
    {"b", "true", true, "true"}, {"b", "false", true, "false"},
    {"b", "\"true\"", true, "true"}, {"b", "\"FALSE\"", true, "false"},
    {"b", "\"True\"", true, "true"}, {"b", "null", true, "NULL"},
    {"b", "1", false, "field 'b': expected BOOL, got 1"}, {"b", "0", false, "expected BOOL, got 0"},
    {"b", "1.0", false, "expected BOOL"}, {"b", "\"yes\"", false, "expected BOOL, got \"yes\""},
    {"b", "\"t\"", false, "expected BOOL"}, {"b", "\"\"", false, "expected BOOL"},
    {"b", "\"truex\"", false, "expected BOOL"}, {"b", "\"1\"", false, "expected BOOL"},
    {"b", "[]", false, "expected BOOL, got an array"},
    /* TIMESTAMP */
    {"t", "\"2026-01-01T00:00:00Z\"", true, "1767225600000000"},
    {"t", "\"2026-01-01 00:00:00Z\"", true, "1767225600000000"},
    {"t", "\"2026-01-01t00:00:00z\"", true, "1767225600000000"},
    {"t", "\"2026-01-01T00:00:00.5Z\"", true, "1767225600500000"},
    {"t", "\"2026-01-01T00:00:00.000001Z\"", true, "1767225600000001"},
    {"t", "\"2026-01-01T00:00:00.123456789Z\"", true, "1767225600123456"},
    {"t", "\"2026-01-01T00:00:00.999999999Z\"", true, "1767225600999999"},
    {"t", "\"2026-01-01T01:00:00+01:00\"", true, "1767225600000000"},
    {"t", "\"2026-01-01T05:30:00.25+05:30\"", true, "1767225600250000"},
    {"t", "\"2025-12-31T19:00:00-05:00\"", true, "1767225600000000"},
    {"t", "\"2026-01-01T00:00:00-00:00\"", true, "1767225600000000"},
    {"t", "\"1969-12-31T23:59:59.999999Z\"", true, "-1"},
    {"t", "\"1970-01-01T00:00:00Z\"", true, "0"},
    {"t", "\"2024-02-29T12:00:00Z\"", true, "1709208000000000"},
    {"t", "\"2000-02-29T00:00:00Z\"", true, "951782400000000"},
    {"t", "\"0001-01-01T00:00:00Z\"", true, "-62135596800000000"},
    {"t", "\"9999-12-31T23:59:59.999999Z\"", true, "253402300799999999"},
    {"t", "\"9999-12-31T23:59:59.999999999Z\"", true, "253402300799999999"},
    {"t", "0", true, "0"}, {"t", "1767225600", true, "1767225600000000"},
    {"t", "1.5", true, "1500000"}, {"t", "-1", true, "-1000000"},
    {"t", "-0.000001", true, "-1"}, {"t", "1767225600.123456", true, "1767225600123456"},
    {"t", "-62135596800", true, "-62135596800000000"},
    {"t", "253402300799", true, "253402300799000000"},
    {"t", "null", true, "NULL"},
    {"t", "\"2026-02-30T00:00:00Z\"", false, "field 't': expected TIMESTAMP (RFC 3339), got \"2026-02-30T00:00:00Z\""},
    {"t", "\"2023-02-29T00:00:00Z\"", false, "expected TIMESTAMP"},
    {"t", "\"1900-02-29T00:00:00Z\"", false, "expected TIMESTAMP"},
    {"t", "\"2026-04-31T00:00:00Z\"", false, "expected TIMESTAMP"},
    {"t", "\"2026-01-01T24:00:00Z\"", false, "expected TIMESTAMP"},
    {"t", "\"2026-13-01T00:00:00Z\"", false, "expected TIMESTAMP"},
    {"t", "\"2026-00-01T00:00:00Z\"", false, "expected TIMESTAMP"},
    {"t", "\"2026-01-00T00:00:00Z\"", false, "expected TIMESTAMP"},
    {"t", "\"2026-01-01T00:60:00Z\"", false, "expected TIMESTAMP"},
    {"t", "\"2026-01-01T00:00:60Z\"", false, "expected TIMESTAMP"},
    {"t", "\"2026-01-01T00:00:00\"", false, "expected TIMESTAMP"},
    {"t", "\"2026-01-01T00:00:00.Z\"", false, "expected TIMESTAMP"},
    {"t", "\"2026-01-01T00:00:00.1234567890Z\"", false, "expected TIMESTAMP"},
    {"t", "\"2026-01-01T00:00:00+24:00\"", false, "expected TIMESTAMP"},
    {"t", "\"2026-01-01T00:00:00+01:60\"", false, "expected TIMESTAMP"},
    {"t", "\"2026-01-01T00:00:00+0100\"", false, "expected TIMESTAMP"},
    {"t", "\"2026-01-01T00:00:00+01\"", false, "expected TIMESTAMP"},
    {"t", "\"2026-01-01T00:00:00ZZ\"", false, "expected TIMESTAMP"},
    {"t", "\"2026-01-01T00:00:00 Z\"", false, "expected TIMESTAMP"},
    {"t", "\"2026-01-01X00:00:00Z\"", false, "expected TIMESTAMP"},
    {"t", "\"2026-1-01T00:00:00Z\"", false, "expected TIMESTAMP"},
    {"t", "\"2026-01-01T0:00:00Z\"", false, "expected TIMESTAMP"},
    {"t", "\"+2026-01-01T00:00:00Z\"", false, "expected TIMESTAMP"},
    {"t", "\"0000-01-01T00:00:00Z\"", false, "expected TIMESTAMP"},
    {"t", "\"10000-01-01T00:00:00Z\"", false, "expected TIMESTAMP"},
    {"t", "\"0001-01-01T00:00:00+00:01\"", false, "expected TIMESTAMP"},
    {"t", "\"9999-12-31T23:59:59-00:01\"", false, "expected TIMESTAMP"},
    {"t", "\"2026-01-01\"", false, "expected TIMESTAMP"},
    {"t", "\"yesterday\"", false, "expected TIMESTAMP (RFC 3339), got \"yesterday\""},
    {"t", "\"\"", false, "expected TIMESTAMP"},
    {"t", "\"1767225600\"", false, "expected TIMESTAMP"},
    {"t", "1e12", false, "field 't': TIMESTAMP out of range (years 0001-9999), got 1000000000000"},
    {"t", "-62135596801", false, "TIMESTAMP out of range"},
    {"t", "253402300800", false, "TIMESTAMP out of range"},
    {"t", "253402300799.9999999", false, "TIMESTAMP out of range"},
    {"t", "-1e300", false, "TIMESTAMP out of range"},
    {"t", "true", false, "field 't': expected TIMESTAMP (RFC 3339) or epoch seconds, got true"},
    {"t", "{}", false, "got an object"},
    /* DATE */
    {"d", "\"2024-02-29\"", true, "19782"}, {"d", "\"2000-02-29\"", true, "11016"},
    {"d", "\"1970-01-01\"", true, "0"}, {"d", "\"1969-12-31\"", true, "-1"},
    {"d", "\"0001-01-01\"", true, "-719162"}, {"d", "\"9999-12-31\"", true, "2932896"},
    {"d", "\"2026-12-31\"", true, "20818"}, {"d", "null", true, "NULL"},
    {"d", "\"2023-02-29\"", false, "field 'd': expected DATE (YYYY-MM-DD), got \"2023-02-29\""},
    {"d", "\"1900-02-29\"", false, "expected DATE"}, {"d", "\"2100-02-29\"", false, "expected DATE"},
    {"d", "\"2026-01-01T00:00:00Z\"", false, "expected DATE"},
    {"d", "\"0000-01-01\"", false, "expected DATE"}, {"d", "\"2026-1-1\"", false, "expected DATE"},
    {"d", "\"2026/01/01\"", false, "expected DATE"}, {"d", "\"2026-01-32\"", false, "expected DATE"},
    {"d", "\"2026-06-31\"", false, "expected DATE"}, {"d", "\"2026-00-10\"", false, "expected DATE"},
    {"d", "\" 2026-01-01\"", false, "expected DATE"}, {"d", "\"2026-01-01 \"", false, "expected DATE"},
    {"d", "20260101", false, "field 'd': expected DATE (YYYY-MM-DD), got 20260101"},
    {"d", "true", false, "expected DATE"},
    /* STRING */
    {"s", "\"abc\"", true, "abc"}, {"s", "\"\"", true, ""},
    {"s", "\"\\u00e9t\\u00e9 \\ud83d\\ude00\"", true, "\xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80"},
    {"s", "\"a\\nb\\\"c\"", true, "a\nb\"c"}, {"s", "null", true, "NULL"},
    {"s", "42", false, "field 's': expected STRING, got 42"},
    {"s", "1.5", false, "expected STRING, got 1.5"}, {"s", "true", false, "expected STRING, got true"},
    {"s", "{}", false, "expected STRING, got an object"}, {"s", "[\"a\"]", false, "expected STRING, got an array"},
    {"s", "\"a\\u0000b\"", false, "not valid JSON"},
    {"s", "\"\xff\"", false, "not valid JSON"},
};

static void test_coerce_table(void **state)
{
    const struct schema *s = *state;
    char msg[512], reason[256], got[128];

    for (size_t i = 0; i < sizeof coerce_cases / sizeof coerce_cases[0]; i++) {
        const struct ccase *c = &coerce_cases[i];
        struct row r;
        int k = schema_find(s, c->col);

        assert_true(k >= 0);
        snprintf(msg, sizeof msg, "{\"ts\":\"2026-01-01T00:00:00Z\",\"%s\":%s,\"req\":\"x\"}",
                 c->col, c->json);
        memset(&r, 0xa5, sizeof r);
        reason[0] = '\0';
        int rc = schema_coerce(s, msg, strlen(msg), &r, reason, sizeof reason);
        if (c->ok) {
            if (rc != 0)
                fail_msg("case %zu %s: %s", i, msg, reason);
            value_text(s->cols[k].type, &r.vals[k], got, sizeof got);
            if (strcmp(got, c->want) != 0)
                fail_msg("case %zu %s: got %s, want %s", i, msg, got, c->want);
            row_release(&r);
        } else if (rc != COLIBRI_EINVAL || r.vals || r.buf || !strstr(reason, c->want)) {
            fail_msg("case %zu %s: rc %d, reason \"%s\", want \"%s\"", i, msg, rc, reason, c->want);
        }
    }
}

static void test_coerce_full_row(void **state)
{
    const struct schema *s = *state;
    static const char src[] =
        "{\"zzz\":{\"deep\":[1,2,{}]},\"d\":\"2026-11-29\",\"b\":\"true\",\"f\":\"2.5\","
        "\"i\":\"12\",\"req\":\"r\\u00e9q\",\"s\":\"hello\",\"t\":1767225600.5,"
        "\"ts\":\"2026-01-01T00:00:00.000001Z\",\"_id\":\"fake\",\"_ingested_at\":5}"
        "TRAILING GARBAGE THAT IS NOT PART OF THE MESSAGE";
    size_t len = (size_t)(strstr(src, "TRAILING") - src);     /* just the object */
    char reason[256];
    struct row r;

    /* an exact-size copy with no NUL after it: ASan catches any overread */
    char *msg = malloc(len);
    assert_non_null(msg);
    memcpy(msg, src, len);
    assert_int_equal(schema_coerce(s, msg, len, &r, reason, sizeof reason), 0);
    free(msg);              /* the row must not point into the message */

    assert_int_equal(r.vals[s->event_time].u.i, T2026 + 1);
    assert_int_equal(r.vals[schema_find(s, "i")].u.i, 12);
    assert_true(r.vals[schema_find(s, "f")].u.f == 2.5);
    assert_true(r.vals[schema_find(s, "b")].u.b);
    assert_int_equal(r.vals[schema_find(s, "t")].u.i, T2026 + 500000);
    assert_int_equal(r.vals[schema_find(s, "d")].u.i, 20786);
    const struct value *req = &r.vals[schema_find(s, "req")], *str = &r.vals[schema_find(s, "s")];
    assert_int_equal(req->u.s.n, 4);
    assert_memory_equal(req->u.s.p, "r\xc3\xa9q", 5);       /* NUL-terminated too */
    assert_int_equal(str->u.s.n, 5);
    assert_string_equal(str->u.s.p, "hello");
    assert_true(req->u.s.p >= r.buf && str->u.s.p >= r.buf);
    for (size_t i = 0; i < s->nuser; i++)
        assert_false(r.vals[i].is_null);
    for (int m = 0; m < META_COUNT; m++)        /* metadata names in a message are ignored */
        assert_true(r.vals[schema_meta(s, m)].is_null);
    row_release(&r);
    assert_null(r.vals);
    assert_null(r.buf);
    row_release(&r);            /* twice is harmless */

    /* only the required fields; the rest are NULL, including missing strings */
    static const char min[] = "{\"ts\":0,\"req\":\"\"}";
    assert_int_equal(schema_coerce(s, min, strlen(min), &r, reason, sizeof reason), 0);
    assert_int_equal(r.vals[0].u.i, 0);
    assert_false(r.vals[1].is_null);
    assert_int_equal(r.vals[1].u.s.n, 0);
    assert_non_null(r.vals[1].u.s.p);
    for (size_t i = 2; i < s->ncols; i++)
        assert_true(r.vals[i].is_null);
    row_release(&r);
}

static void test_coerce_rejects_message(void **state)
{
    const struct schema *s = *state;
    static const struct { const char *msg, *want; } cases[] = {
        {"{\"req\":\"x\"}", "missing required field 'ts'"},
        {"{\"ts\":0}", "missing required field 'req'"},
        {"{\"ts\":0,\"req\":null}", "required field 'req' is null"},
        {"{\"ts\":null,\"req\":\"x\"}", "required field 'ts' is null"},
        {"{\"TS\":0,\"req\":\"x\"}", "missing required field 'ts'"},
        {"{\"ts\":0,\"req\":\"x\",\"i\":\"x\",\"ts\":1}", "not valid JSON: duplicate object key"},
        {"[1,2]", "message is not a JSON object, got an array"},
        {"42", "not a JSON object, got 42"},
        {"\"str\"", "not a JSON object, got \"str\""},
        {"null", "not a JSON object, got null"},
        {"true", "not a JSON object, got true"},
        {"", "not valid JSON"},
        {"   ", "not valid JSON"},
        {"{", "not valid JSON"},
        {"{\"ts\":0,\"req\":\"x\"", "not valid JSON"},
        {"{\"ts\":0,\"req\":\"x\"}x", "not valid JSON"},
        {"{\"ts\":0,\"req\":\"x\"}{}", "not valid JSON"},
        {"not json", "not valid JSON"},
        {"{'ts':0}", "not valid JSON"},
        {"{\"ts\":0,\"req\":\"\xc3\x28\"}", "not valid JSON"},
        {"{\"ts\":0,\"req\":\"\x01\"}", "not valid JSON"},
    };
    char reason[256];
    struct row r;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(&r, 0xa5, sizeof r);
        int rc = schema_coerce(s, cases[i].msg, strlen(cases[i].msg), &r, reason, sizeof reason);
        if (rc != COLIBRI_EINVAL || r.vals || r.buf || !strstr(reason, cases[i].want))
            fail_msg("case %zu %s: rc %d, reason \"%s\"", i, cases[i].msg, rc, reason);
        /* reasons are clean text: no control bytes */
        for (const char *p = reason; *p; p++)
            assert_true((unsigned char)*p >= 0x20);
    }

    /* an embedded NUL byte ends nothing: the length is what counts */
    static const char nul[] = "{\"ts\":0,\"req\":\"x\"}\0{}";
    assert_int_equal(schema_coerce(s, nul, sizeof nul - 1, &r, reason, sizeof reason), COLIBRI_EINVAL);
    assert_int_equal(schema_coerce(s, nul, strlen(nul), &r, reason, sizeof reason), 0);
    row_release(&r);
}

static void test_coerce_reason_bounds(void **state)
{
    const struct schema *s = *state;
    char msg[4200], reason[256], tiny[8];
    struct row r;

    /* a long bad value is echoed in part */
    int n = snprintf(msg, sizeof msg, "{\"ts\":0,\"req\":\"x\",\"i\":\"");
    memset(msg + n, '7', 2000);
    memcpy(msg + n + 2000, "x\"}", 4);
    assert_int_equal(schema_coerce(s, msg, strlen(msg), &r, reason, sizeof reason), COLIBRI_EINVAL);
    assert_non_null(strstr(reason, "field 'i': expected INT64, got \"7777"));
    assert_non_null(strstr(reason, "...\""));
    assert_true(strlen(reason) < 100);

    /* multi-byte characters are not cut in half, control characters not echoed */
    n = snprintf(msg, sizeof msg, "{\"ts\":0,\"req\":\"x\",\"d\":\"\\t");
    for (int i = 0; i < 30; i++)
        n += snprintf(msg + n, sizeof msg - (size_t)n, "\xc3\xa9");
    snprintf(msg + n, sizeof msg - (size_t)n, "\"}");
    assert_int_equal(schema_coerce(s, msg, strlen(msg), &r, reason, sizeof reason), COLIBRI_EINVAL);
    assert_non_null(strstr(reason, "got \"?\xc3\xa9"));
    assert_non_null(strstr(reason, "\xc3\xa9...\""));

    /* a short or absent reason buffer is fine */
    memset(tiny, 'z', sizeof tiny);
    assert_int_equal(schema_coerce(s, "{}", 2, &r, tiny, sizeof tiny), COLIBRI_EINVAL);
    assert_int_equal(strlen(tiny), sizeof tiny - 1);
    assert_int_equal(schema_coerce(s, "{}", 2, &r, NULL, 0), COLIBRI_EINVAL);
    assert_int_equal(schema_coerce(s, "[", 1, &r, NULL, 0), COLIBRI_EINVAL);
}

/* The JSON grammar, checked everywhere in the message: unknown fields too. */
static void test_coerce_json_syntax(void **state)
{
    const struct schema *s = *state;
#define M(rest) "{\"ts\":0,\"req\":\"x\"" rest "}"
    static const struct { const char *msg; size_t len; bool ok; } cases[] = {
        /* accepted */
        {" \t\r\n{ \"ts\" : 0 ,\n\"req\" :\t\"x\" } \r\n", 0, true},
        {M(",\"zz\":{\"a\":[1,-0,0.5,1E+2,-1e-400,true,false,null,\"\",{},[]],\"b\":{\"a\":1}}"), 0, true},
        {M(",\"zz\":[{\"a\":1},{\"a\":1}],\"yy\":{\"a\":{\"a\":{}}}"), 0, true},   /* same key, other objects */
        {M(",\"zz\":\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\uD83D\\uDE00 \x7f\""), 0, true},
        {M(",\"\":1,\"\\u00e9\":2,\"\xc3\xa8\":3"), 0, true},
        {M(",\"zz\":99999999999999999999.5,\"yy\":123456789012345678901234567890e-30"), 0, true},
        {M(",\"_id\":{\"nested\":true}"), 0, true},
        /* refused anywhere in the message */
        {M(",\"zz\":[1,2,]"), 0, false}, {M(",\"zz\":{\"a\":1,}"), 0, false},
        {M(",\"zz\":{\"a\" 1}"), 0, false}, {M(",\"zz\":{1:1}"), 0, false},
        {M(",\"zz\":[1 2]"), 0, false}, {M(",\"zz\":[1}"), 0, false}, {M(",\"zz\":{\"a\":1]"), 0, false},
        {M(",\"zz\":{\"a\":1,\"a\":2}"), 0, false},                 /* duplicates at any depth */
        {M(",\"zz\":[{\"a\":1,\"b\":{},\"a\":2}]"), 0, false},
        {M(",\"zz\":1,\"zz\":1"), 0, false}, {M(",\"zz\":1,\"z\\u007a\":1"), 0, false},
        {M(",\"t\\u0073\":1"), 0, false},                         /* "ts" spelt with an escape */
        {M(",\"zz\":01"), 0, false}, {M(",\"zz\":-"), 0, false}, {M(",\"zz\":1."), 0, false},
        {M(",\"zz\":.5"), 0, false}, {M(",\"zz\":1e"), 0, false}, {M(",\"zz\":1e+"), 0, false},
        {M(",\"zz\":+1"), 0, false}, {M(",\"zz\":-01"), 0, false}, {M(",\"zz\":0x10"), 0, false},
        {M(",\"zz\":1e400"), 0, false}, {M(",\"zz\":-1e400"), 0, false},
        {M(",\"zz\":9223372036854775808"), 0, false}, {M(",\"zz\":-9223372036854775809"), 0, false},
        {M(",\"zz\":NaN"), 0, false}, {M(",\"zz\":Infinity"), 0, false},
        {M(",\"zz\":tru"), 0, false}, {M(",\"zz\":True"), 0, false}, {M(",\"zz\":nulll"), 0, false},
        {M(",\"zz\":\"\\x\""), 0, false}, {M(",\"zz\":\"\\u12\""), 0, false},
        {M(",\"zz\":\"\\u12G4\""), 0, false}, {M(",\"zz\":\"\\ud800\""), 0, false},
        {M(",\"zz\":\"\\ud800\\u0041\""), 0, false}, {M(",\"zz\":\"\\udc00\""), 0, false},
        {M(",\"zz\":\"\\ud800\\ud800\""), 0, false}, {M(",\"zz\":\"\\u0000\""), 0, false},
        {M(",\"\\u0000\":1"), 0, false}, {M(",\"zz\":\"a\tb\""), 0, false},
        {M(",\"zz\":\"\xc0\xaf\""), 0, false}, {M(",\"zz\":\"\xed\xa0\x80\""), 0, false},
        {M(",\"zz\":\"\xf4\x90\x80\x80\""), 0, false}, {M(",\"zz\":\"\xe2\x82\""), 0, false},
        {M(",\"zz\":\"\x80\""), 0, false}, {M(",\"zz\":'a'"), 0, false},
        {M(",\"zz\":[\"\xff\"]"), 0, false}, {M(",\"zz\":{\"\xff\":1}"), 0, false},
        {"\xef\xbb\xbf{\"ts\":0,\"req\":\"x\"}", 0, false},                  /* BOM */
        {"{\"ts\":0,\"req\":\"x\"}\n}", 0, false}, {"{\"ts\":0,\"req\":\"x\",}", 0, false},
        {"{\"ts\":0 \"req\":\"x\"}", 0, false}, {"{\"ts\":0,\"req\":\"x\"", 0, false},
        {"{\"ts\":0,\"req\":\"x", 0, false}, {"{\"ts\":0,\"req\":", 0, false},
        {"{\"ts\":0,\"req\"", 0, false}, {"{\"ts\":0,\"re", 0, false}, {"{\"ts\":0,", 0, false},
        {"[1,2", 0, false}, {"\"abc", 0, false}, {"{\"ts\":0,\"req\":\"x\\", 0, false},
        /* RFC 8259 has no NUL byte outside a string either (jansson skipped one after a number) */
        {"{\"ts\":0\0,\"req\":\"x\"}", 20, false}, {"{\"ts\":0,\"req\":\"x\",\"b\":true\0}", 28, false},
    };
#undef M
    char reason[256];
    struct row r;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].msg);
        char *msg = malloc(len);         /* exact size: ASan sees any overread */
        assert_non_null(msg);
        memcpy(msg, cases[i].msg, len);
        memset(&r, 0xa5, sizeof r);
        int rc = schema_coerce(s, msg, len, &r, reason, sizeof reason);
        free(msg);
        if (cases[i].ok) {
            if (rc != 0)
                fail_msg("case %zu %s: %s", i, cases[i].msg, reason);
            assert_int_equal(r.vals[0].u.i, 0);
            assert_string_equal(r.vals[1].u.s.p, "x");
            row_release(&r);
        } else if (rc != COLIBRI_EINVAL || r.vals || r.buf ||
                   !strstr(reason, "message is not valid JSON: ")) {
            fail_msg("case %zu %s: rc %d, reason \"%s\"", i, cases[i].msg, rc, reason);
        }
    }

    /* an invalid document is reported as such even when a field is also wrong */
    static const char both[] = "{\"ts\":\"x\",\"req\":1,\"zz\":[}";
    assert_int_equal(schema_coerce(s, both, strlen(both), &r, reason, sizeof reason), COLIBRI_EINVAL);
    assert_non_null(strstr(reason, "not valid JSON"));
    /* ... and the first wrong column in schema order wins, not the first in the message */
    static const char order[] = "{\"d\":1,\"i\":\"x\",\"ts\":0,\"req\":\"x\"}";
    assert_int_equal(schema_coerce(s, order, strlen(order), &r, reason, sizeof reason), COLIBRI_EINVAL);
    assert_string_equal(reason, "field 'i': expected INT64, got \"x\"");
    static const char order2[] = "{\"i\":\"x\",\"ts\":0}";
    assert_int_equal(schema_coerce(s, order2, strlen(order2), &r, reason, sizeof reason), COLIBRI_EINVAL);
    assert_string_equal(reason, "missing required field 'req'");
}

/* Nesting: jansson refused values more than 2048 deep; so does the reader, without recursing. */
static void test_coerce_depth(void **state)
{
    const struct schema *s = *state;
    char reason[256];
    struct row r;

    static const struct { int arrays; bool scalar, ok; } cases[] = {
        {2047, false, true}, {2048, false, false}, {2046, true, true}, {2047, true, false},
        {100000, false, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int n = cases[i].arrays;
        char *msg = malloc((size_t)n * 2 + 64), *p = msg;
        assert_non_null(msg);
        p += sprintf(p, "{\"ts\":0,\"req\":\"x\",\"zz\":");      /* zz is 2 deep */
        memset(p, '[', (size_t)n);
        p += n;
        if (cases[i].scalar)
            *p++ = '1';
        memset(p, ']', (size_t)n);
        p += n;
        *p++ = '}';
        int rc = schema_coerce(s, msg, (size_t)(p - msg), &r, reason, sizeof reason);
        if (cases[i].ok != (rc == 0))
            fail_msg("case %zu: %d arrays: rc %d, %s", i, n, rc, reason);
        if (rc == 0)
            row_release(&r);
        else
            assert_non_null(strstr(reason, "not valid JSON"));
        free(msg);
    }
    /* objects count the same: 2046 nested in the message put "b" 2048 deep */
    for (int objects = 2046; objects <= 2047; objects++) {
        char msg[40000], *p = msg;
        p += sprintf(p, "{\"ts\":0,\"req\":\"x\"");
        for (int d = 0; d < objects; d++)
            p += sprintf(p, ",\"a\":{\"b\":0");
        memset(p, '}', (size_t)objects + 1);
        p += objects + 1;
        int rc = schema_coerce(s, msg, (size_t)(p - msg), &r, reason, sizeof reason);
        assert_int_equal(rc, objects == 2046 ? 0 : COLIBRI_EINVAL);
        if (rc == 0)
            row_release(&r);
    }
}

/* FLOAT64 from a number token reads exactly as strtod reads it, fast path or not. */
static void test_coerce_float_exact(void **state)
{
    const struct schema *s = *state;
    static const char *const texts[] = {
        "0.1", "0.3", "1.7976931348623157e308", "2.2250738585072014e-308",
        "2.2250738585072011e-308", "4.9406564584124654e-324", "5e-324", "2e-324", "1e-400",
        "9007199254740993", "9007199254740993.0", "9007199254740992.5", "123456789012345678901.5",
        "0.000000000000000000000000000001", "1e22", "1e23", "8.5e22", "9007199254740991e22",
        "9007199254740993e-22", "1.00000000000000011102230246251565404236316680908203125",
        "1.00000000000000011102230246251565404236316680908203124", "0.0", "-0.0", "-0e5",
        "0e999999999999", "1e-999999999999", "100000000000000000000000000000000000000000000.0",
        "3.14159265358979323846264338327950288419716939937510582097494459",
    };
    char msg[512], reason[256];
    struct row r;
    int k = schema_find(s, "f");

    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        double want = strtod(texts[i], NULL);
        snprintf(msg, sizeof msg, "{\"ts\":0,\"req\":\"x\",\"f\":%s}", texts[i]);
        assert_int_equal(schema_coerce(s, msg, strlen(msg), &r, reason, sizeof reason), 0);
        if (memcmp(&r.vals[k].u.f, &want, sizeof want) != 0)
            fail_msg("%s: got %.17g, want %.17g", texts[i], r.vals[k].u.f, want);
        row_release(&r);
    }
    /* random doubles written every way a producer might: %.17g, %.15g, %.6f, %e */
    uint64_t x = 0x2545f4914f6cdd1du;
    for (int i = 0; i < 20000; i++) {
        double f;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        memcpy(&f, &x, sizeof f);
        if (i % 2)
            f = (double)(x % 100000000) / 1000.0;      /* the common short decimals */
        if (!isfinite(f))
            continue;
        char num[400];
        switch (i % 6) {
        case 0:  snprintf(num, sizeof num, "%.17g", f); break;
        case 1:  snprintf(num, sizeof num, "%.15g", f); break;
        case 2:  snprintf(num, sizeof num, "%.6f", f); break;
        case 3:  snprintf(num, sizeof num, "%.3e", f); break;
        case 4:  snprintf(num, sizeof num, "%.0f", f); break;
        default: snprintf(num, sizeof num, "%.1f", f); break;
        }
        if (strlen(num) > 300 || strchr(num, 'n') || strchr(num, 'i'))
            continue;
        double want = strtod(num, NULL);
        if (!strpbrk(num, ".eE") && fabs(want) < 0x1p63)
            want = (double)strtoll(num, NULL, 10);      /* an integer token: "-0" is 0 */
        snprintf(msg, sizeof msg, "{\"ts\":0,\"req\":\"x\",\"f\":%s}", num);
        int rc = schema_coerce(s, msg, strlen(msg), &r, reason, sizeof reason);
        if (!strpbrk(num, ".eE") && fabs(want) >= 0x1p63) {
            assert_int_equal(rc, COLIBRI_EINVAL);       /* an integer token, too big for int64 */
            continue;
        }
        if (rc != 0 || memcmp(&r.vals[k].u.f, &want, sizeof want) != 0)
            fail_msg("%s: rc %d got %.17g, want %.17g", num, rc, rc ? 0 : r.vals[k].u.f, want);
        row_release(&r);
    }
}

/* Keys: escapes, many unknown ones, a large message with little to keep. */
static void test_coerce_keys_and_buffer(void **state)
{
    const struct schema *s = *state;
    char reason[256];
    struct row r;

    /* a column's name written with escapes is that column */
    static const char esc[] = "{\"t\\u0073\":0,\"\\u0072eq\":\"\\u00e9\",\"\\u0073\":\"a\\\"b\"}";
    assert_int_equal(schema_coerce(s, esc, strlen(esc), &r, reason, sizeof reason), 0);
    assert_string_equal(r.vals[1].u.s.p, "\xc3\xa9");
    assert_string_equal(r.vals[schema_find(s, "s")].u.s.p, "a\"b");
    row_release(&r);

    /* 3000 unknown keys (escaped and not, flat and nested), then a duplicate of the first */
    size_t cap = 200000, n = 0;
    char *msg = malloc(cap);
    assert_non_null(msg);
    n += (size_t)sprintf(msg + n, "{\"ts\":0,\"req\":\"x\",\"s\":\"kept\"");
    for (int i = 0; i < 3000; i++)
        n += (size_t)sprintf(msg + n, i % 2 ? ",\"k%d\":{\"k%d\":%d}" : ",\"\\u006b%d\":[{\"k\\u0025%d\":1}]",
                             i, i, i);
    memcpy(msg + n, "}", 2);
    assert_int_equal(schema_coerce(s, msg, n + 1, &r, reason, sizeof reason), 0);
    assert_string_equal(r.vals[schema_find(s, "s")].u.s.p, "kept");
    row_release(&r);
    n += (size_t)sprintf(msg + n, ",\"k0\":1}");
    assert_int_equal(schema_coerce(s, msg, n, &r, reason, sizeof reason), COLIBRI_EINVAL);
    assert_non_null(strstr(reason, "duplicate object key"));

    /* a large unknown value: the row keeps its strings, and they stay valid */
    n = (size_t)sprintf(msg, "{\"req\":\"\\u00e9t\\u00e9\",\"blob\":\"");
    memset(msg + n, 'z', 150000);
    n += 150000;
    n += (size_t)sprintf(msg + n, "\",\"s\":\"end\",\"ts\":\"2026-01-01T00:00:00Z\"}");
    char *exact = malloc(n);
    assert_non_null(exact);
    memcpy(exact, msg, n);
    free(msg);
    assert_int_equal(schema_coerce(s, exact, n, &r, reason, sizeof reason), 0);
    free(exact);
    assert_string_equal(r.vals[1].u.s.p, "\xc3\xa9t\xc3\xa9");
    assert_string_equal(r.vals[schema_find(s, "s")].u.s.p, "end");
    assert_true(r.vals[1].u.s.p >= r.buf && r.vals[1].u.s.p < r.buf + 32);
    assert_int_equal(r.vals[0].u.i, T2026);
    row_release(&r);
}

/* ---- filter values ------------------------------------------------------- */

static void test_value_parse(void **state)
{
    struct value v;
    char reason[128];
    static const char text[] = "12abc";
#define VP(t, lit) value_parse(t, lit, sizeof lit - 1, &v, NULL, reason, sizeof reason)

    assert_int_equal(value_parse(COL_INT64, text, 2, &v, NULL, reason, sizeof reason), 0);
    assert_int_equal(v.u.i, 12);
    assert_false(v.is_null);
    assert_int_equal(value_parse(COL_INT64, text, 5, &v, NULL, reason, sizeof reason), COLIBRI_EINVAL);
    assert_string_equal(reason, "expected INT64, got \"12abc\"");
    assert_int_equal(value_parse(COL_STRING, text, 3, &v, NULL, reason, sizeof reason), 0);
    assert_ptr_equal(v.u.s.p, text);        /* borrowed */
    assert_int_equal(v.u.s.n, 3);
    assert_int_equal(VP(COL_STRING, ""), 0);
    assert_int_equal(v.u.s.n, 0);
    assert_int_equal(VP(COL_STRING, "a\xff"), COLIBRI_EINVAL);
    assert_non_null(strstr(reason, "not valid UTF-8"));
    assert_int_equal(VP(COL_STRING, "a\0b"), COLIBRI_EINVAL);
    assert_int_equal(VP(COL_STRING, "\xed\xa0\x80"), COLIBRI_EINVAL);
    assert_int_equal(VP(COL_STRING, "\xc0\xaf"), COLIBRI_EINVAL);
    assert_int_equal(VP(COL_STRING, "\xe2\x82"), COLIBRI_EINVAL);
    assert_int_equal(VP(COL_STRING, "\xf4\x90\x80\x80"), COLIBRI_EINVAL);
    assert_int_equal(VP(COL_STRING, "\xe2\x82\xac\xf0\x9f\x98\x80"), 0);
    assert_int_equal(VP(COL_FLOAT64, "-2.5e1"), 0);
    assert_true(v.u.f == -25.0);
    assert_int_equal(VP(COL_FLOAT64, "Infinity"), COLIBRI_EINVAL);
    assert_int_equal(VP(COL_BOOL, "TRUE"), 0);
    assert_true(v.u.b);
    assert_int_equal(VP(COL_BOOL, "false"), 0);
    assert_false(v.u.b);
    assert_int_equal(VP(COL_BOOL, "1"), COLIBRI_EINVAL);
    assert_string_equal(reason, "expected BOOL, got \"1\"");
    assert_int_equal(VP(COL_TIMESTAMP, "2026-01-01T00:00:00Z"), 0);
    assert_int_equal(v.u.i, T2026);
    assert_int_equal(VP(COL_TIMESTAMP, "1767225600"), COLIBRI_EINVAL);
    assert_string_equal(reason, "expected TIMESTAMP (RFC 3339), got \"1767225600\"");
    assert_int_equal(VP(COL_DATE, "2026-01-01"), 0);
    assert_int_equal(v.u.i, 20454);
    assert_int_equal(value_parse(COL_DATE, "2026-01-01", 9, &v, NULL, reason, sizeof reason),
                     COLIBRI_EINVAL);
    assert_string_equal(reason, "expected DATE (YYYY-MM-DD), got \"2026-01-0\"");
    assert_int_equal(value_parse(COL_INT64, "x", 1, &v, NULL, NULL, 0), COLIBRI_EINVAL);
#undef VP
}

/* ---- timestamps, dates, floats ------------------------------------------- */

static void test_timestamp_text(void **state)
{
    static const struct { const char *in; int64_t us; const char *out; } cases[] = {
        {"1970-01-01T00:00:00Z", 0, "1970-01-01T00:00:00.000000Z"},
        {"1969-12-31T23:59:59.999999Z", -1, "1969-12-31T23:59:59.999999Z"},
        {"1969-12-31T23:59:59.5Z", -500000, "1969-12-31T23:59:59.500000Z"},
        {"1900-01-01T00:00:00Z", -2208988800000000LL, "1900-01-01T00:00:00.000000Z"},
        {"2026-01-01T00:00:00.1234569Z", T2026 + 123456, "2026-01-01T00:00:00.123456Z"},
        {"2026-11-29 13:45:10.5-03:00", 1795970710500000LL, "2026-11-29T16:45:10.500000Z"},
        {"2024-02-29T23:59:59+23:59", 1709164859000000LL, "2024-02-29T00:00:59.000000Z"},
        {"2024-03-01T00:00:00Z", 1709251200000000LL, "2024-03-01T00:00:00.000000Z"},
        {"2000-02-29T00:00:00Z", 951782400000000LL, "2000-02-29T00:00:00.000000Z"},
        {"2038-01-19T03:14:08Z", 2147483648000000LL, "2038-01-19T03:14:08.000000Z"},
        {"0001-01-01T00:00:00Z", TS_MIN, "0001-01-01T00:00:00.000000Z"},
        {"9999-12-31T23:59:59.999999Z", TS_MAX, "9999-12-31T23:59:59.999999Z"},
        {"1582-10-04T00:00:00Z", -12220243200000000LL, "1582-10-04T00:00:00.000000Z"},
    };
    char buf[32];
    int64_t us;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (timestamp_parse(cases[i].in, strlen(cases[i].in), &us) != 0 || us != cases[i].us)
            fail_msg("case %zu %s: got %lld", i, cases[i].in, (long long)us);
        size_t n = timestamp_format(us, buf);
        assert_int_equal(n, strlen(buf));
        assert_string_equal(buf, cases[i].out);
    }
    us = 99;
    assert_int_equal(timestamp_parse("2026-01-01T00:00:00Z", 19, &us), COLIBRI_EINVAL);
    assert_int_equal(us, 0);            /* zeroed on failure */
    assert_int_equal(timestamp_parse("", 0, &us), COLIBRI_EINVAL);

    /* every representable value formats into 32 bytes, even outside 0001..9999 */
    static const int64_t odd[] = {INT64_MIN, INT64_MAX, TS_MIN - 1, TS_MAX + 1, -86400000000LL * 719528};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        memset(buf, 'x', sizeof buf);
        size_t n = timestamp_format(odd[i], buf);
        assert_true(n < 32);
        assert_int_equal(strlen(buf), n);
        assert_int_equal(timestamp_parse(buf, n, &us), COLIBRI_EINVAL);
    }
    assert_int_equal(timestamp_format(TS_MIN - 1, buf), 27);
    assert_string_equal(buf, "0000-12-31T23:59:59.999999Z");

    /* round trips over the whole range: a fixed PRNG, so a failure reproduces */
    uint64_t x = 88172645463325252u;
    for (int i = 0; i < 50000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int64_t v = TS_MIN + (int64_t)(x % (uint64_t)(TS_MAX - TS_MIN + 1));
        size_t n = timestamp_format(v, buf);
        assert_int_equal(n, 27);
        if (timestamp_parse(buf, n, &us) != 0 || us != v)
            fail_msg("round trip %lld -> %s -> %lld", (long long)v, buf, (long long)us);
    }
}

static void test_date_text(void **state)
{
    char buf[16], ref[16];
    int64_t d, prev = INT64_MIN;

    /* days round-trip: all of 1600..2400 (two 400-year cycles), and a sample
     * of 0001..9999 including both ends */
    for (int64_t day = -135140; day <= 157419; day++) {
        size_t n = date_format(day, buf);
        if (n != 10 || date_parse(buf, n, &d) != 0 || d != day)
            fail_msg("day %lld -> %s -> %lld", (long long)day, buf, (long long)d);
        if (prev != INT64_MIN && strcmp(buf, ref) <= 0)
            fail_msg("%s does not follow %s", buf, ref);
        memcpy(ref, buf, sizeof buf);
        prev = d;
    }
    for (int64_t day = -719162; day <= 2932896; day += day < 2932800 ? 97 : 1) {
        size_t n = date_format(day, buf);
        if (n != 10 || date_parse(buf, n, &d) != 0 || d != day)
            fail_msg("day %lld -> %s -> %lld", (long long)day, buf, (long long)d);
    }
    assert_string_equal((date_format(-719162, buf), buf), "0001-01-01");
    assert_string_equal((date_format(2932896, buf), buf), "9999-12-31");
    /* agrees with the C library where it is defined */
    for (int64_t day = -25567; day <= 47482; day++) {
        time_t t = (time_t)(day * 86400);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(ref, sizeof ref, "%Y-%m-%d", &tm);
        date_format(day, buf);
        if (strcmp(buf, ref) != 0)
            fail_msg("day %lld: %s, libc %s", (long long)day, buf, ref);
    }
    /* leap rules: 4 yes, 100 no, 400 yes */
    assert_int_equal(date_parse("2024-02-29", 10, &d), 0);
    assert_int_equal(date_parse("2000-02-29", 10, &d), 0);
    assert_int_equal(date_parse("1600-02-29", 10, &d), 0);
    assert_int_equal(date_parse("1900-02-29", 10, &d), COLIBRI_EINVAL);
    assert_int_equal(date_parse("2100-02-29", 10, &d), COLIBRI_EINVAL);
    assert_int_equal(date_parse("2023-02-29", 10, &d), COLIBRI_EINVAL);
    assert_int_equal(d, 0);
    assert_int_equal(date_parse("2026-01-01x", 11, &d), COLIBRI_EINVAL);
    assert_int_equal(date_parse("2026-01-1", 9, &d), COLIBRI_EINVAL);
    assert_int_equal(date_parse("2026-0a-01", 10, &d), COLIBRI_EINVAL);
    assert_int_equal(date_parse("-026-01-01", 10, &d), COLIBRI_EINVAL);
    assert_int_equal(date_format(2932897, buf), 11);
    assert_string_equal(buf, "10000-01-01");
}

static void test_float_format(void **state)
{
    static const struct { double f; const char *s; } cases[] = {
        {0.1, "0.1"}, {2, "2"}, {-0.0, "-0"}, {0, "0"}, {1.5, "1.5"}, {1e20, "1e+20"},
        {1.0 / 3, "0.3333333333333333"}, {0.1 + 0.2, "0.30000000000000004"},
        {123456789012345678.0, "1.2345678901234568e+17"}, {5e-324, "4.9406564584124654e-324"},
        {DBL_MAX, "1.7976931348623157e+308"}, {2453.2, "2453.2"}, {-1e-7, "-9.9999999999999995e-08"},
    };
    char buf[32];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = float_format(cases[i].f, buf);
        assert_int_equal(n, strlen(buf));
        if (strcmp(buf, cases[i].s) != 0 && strtod(buf, NULL) != cases[i].f)
            fail_msg("case %zu: %s", i, buf);
        assert_true(strtod(buf, NULL) == cases[i].f);
    }
    assert_string_equal((float_format(0.1, buf), buf), "0.1");
    assert_string_equal((float_format(-1e-7, buf), buf), "-1e-07");
    assert_string_equal((float_format(0.1 + 0.2, buf), buf), "0.30000000000000004");
    assert_int_equal(float_format(NAN, buf), 4);
    assert_string_equal(buf, "null");
    assert_string_equal((float_format(-INFINITY, buf), buf), "null");

    /* random bit patterns: shortest form reads back exactly and is a JSON number */
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (int i = 0; i < 30000; i++) {
        double f;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        memcpy(&f, &x, sizeof f);
        if (!isfinite(f))
            continue;
        size_t n = float_format(f, buf);
        assert_true(n > 0 && n < 32);
        if (strtod(buf, NULL) != f || strspn(buf, "0123456789+-.e") != n)
            fail_msg("%.17g -> %s", f, buf);
    }
}

/* ---- flightgen output against the real schema ---------------------------- */

static bool find_flightgen(char *path, size_t len)
{
    const char *env = getenv("FLIGHTGEN");
    char self[1024];
    ssize_t n;

    if (env && *env) {
        snprintf(path, len, "%s", env);
        return access(path, X_OK) == 0;
    }
    n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return false;
    self[n] = '\0';
    *strrchr(self, '/') = '\0';         /* build[/san]/tests */
    snprintf(path, len, "%s/../flightgen", self);
    return access(path, X_OK) == 0;
}

#define FG_ROWS 6000
static char fg_manifest[64];

/* Run flightgen; hash its output and, given s, coerce every line into ok[i]. */
static uint64_t run_flightgen(const char *gen, const struct schema *s, bool *ok, size_t *nlines,
                              size_t *ties)
{
    char cmd[1400], reason[256], prev[32] = "", t[32];
    char *line = NULL;
    size_t cap = 0;
    uint64_t hash = 1469598103934665603u;
    int ti = s ? schema_find(s, "event_time") : -1;
    ssize_t n;
    FILE *out;

    snprintf(cmd, sizeof cmd, "'%s' --rows %d --seed 77 --malformed-pct 10 --manifest %s",
             gen, FG_ROWS, fg_manifest);
    out = popen(cmd, "r");
    assert_non_null(out);
    *nlines = 0;
    while ((n = getline(&line, &cap, out)) > 0) {
        struct row r;
        assert_true(*nlines < FG_ROWS);
        assert_int_equal(line[n - 1], '\n');
        for (ssize_t k = 0; k < n; k++)
            hash = (hash ^ (unsigned char)line[k]) * 1099511628211u;
        (*nlines)++;
        if (!s)
            continue;
        ok[*nlines - 1] = schema_coerce(s, line, (size_t)n - 1, &r, reason, sizeof reason) == 0;
        if (ok[*nlines - 1]) {
            timestamp_format(r.vals[ti].u.i, t);
            assert_true(strcmp(prev, t) <= 0);          /* event time never goes back */
            *ties += strcmp(prev, t) == 0;
            memcpy(prev, t, sizeof t);
            row_release(&r);
        }
    }
    free(line);
    assert_int_equal(pclose(out), 0);
    return hash;
}

static void test_flightgen_lines(void **state)
{
    static bool ok[FG_ROWS];
    char gen[1100], err[256], *line = NULL;
    size_t cap = 0, nlines, nlines2, i = 0, nbad = 0, kinds = 0, ties = 0;
    char seen[16][16] = {{0}};
    struct schema *s = NULL;
    FILE *manifest;

    if (!find_flightgen(gen, sizeof gen)) {
        fprintf(stderr, "flightgen not built (make all), or set FLIGHTGEN\n");
        skip();
    }
    assert_int_equal(schema_load("schema/flights.json", "event_time", &s, err, sizeof err), 0);
    snprintf(fg_manifest, sizeof fg_manifest, "/tmp/colibri-test-flightgen-%d", (int)getpid());
    uint64_t h1 = run_flightgen(gen, s, ok, &nlines, &ties);
    assert_int_equal(nlines, FG_ROWS);
    /* about 1% of rows repeat the previous event time, for keyset tests */
    assert_true(ties > FG_ROWS / 400 && ties < FG_ROWS / 40);

    /* the manifest says which lines are malformed; exactly those are rejected */
    manifest = fopen(fg_manifest, "r");
    assert_non_null(manifest);
    while (getline(&line, &cap, manifest) > 0) {
        bool good = strcmp(line, "ok\n") == 0;
        assert_true(i < nlines);
        if (!good) {
            assert_memory_equal(line, "bad:", 4);
            nbad++;
            size_t k;
            for (k = 0; k < kinds && strcmp(seen[k], line + 4); k++)
                ;
            if (k == kinds && kinds < 16)
                snprintf(seen[kinds++], sizeof seen[0], "%s", line + 4);
        }
        if (good != ok[i])
            fail_msg("line %zu: manifest %s but coercion %s", i + 1, line, ok[i] ? "accepted" : "rejected");
        i++;
    }
    fclose(manifest);
    free(line);
    assert_int_equal(i, nlines);
    assert_true(nbad > FG_ROWS * 8 / 100 && nbad < FG_ROWS * 12 / 100);
    assert_int_equal(kinds, 10);

    /* deterministic: the same arguments give the same bytes */
    uint64_t h2 = run_flightgen(gen, NULL, NULL, &nlines2, &ties);
    assert_int_equal(nlines2, nlines);
    assert_int_equal(h1, h2);
    unlink(fg_manifest);
    schema_free(s);
}

/* One value, four wire formats: what value_format writes for each. */
static void test_value_format_styles(void **state)
{
    (void)state;
    static const struct {
        enum col_type t;
        struct value v;
        const char *json, *csv, *bq_row, *bq_param;
    } cases[] = {
        { COL_STRING, { .u.s = { "a\"b,c", 5 } }, "\"a\\\"b,c\"", "\"a\"\"b,c\"", "\"a\\\"b,c\"", "a\"b,c" },
        { COL_STRING, { .u.s = { "plain", 5 } }, "\"plain\"", "plain", "\"plain\"", "plain" },
        { COL_STRING, { .u.s = { "x\xf5\x80\x80y", 5 } }, "\"x\\ufffd\\ufffd\\ufffdy\"", "x\xf5\x80\x80y",
          "\"x\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdy\"", "x\xf5\x80\x80y" },
        { COL_INT64, { .u.i = -9007199254740993LL }, "-9007199254740993", "-9007199254740993",
          "\"-9007199254740993\"", "-9007199254740993" },
        { COL_FLOAT64, { .u.f = 0.1 }, "0.1", "0.1", "0.1", "0.1" },
        { COL_FLOAT64, { .u.f = NAN }, "null", "null", "\"NaN\"", "NaN" },
        { COL_FLOAT64, { .u.f = -INFINITY }, "null", "null", "\"-Infinity\"", "-Infinity" },
        { COL_BOOL, { .u.b = true }, "true", "true", "true", "true" },
        { COL_TIMESTAMP, { .u.i = 1767225600000001LL }, "\"2026-01-01T00:00:00.000001Z\"",
          "2026-01-01T00:00:00.000001Z", "\"2026-01-01T00:00:00.000001Z\"", "2026-01-01 00:00:00.000001+00:00" },
        { COL_DATE, { .u.i = 20454 }, "\"2026-01-01\"", "2026-01-01", "\"2026-01-01\"", "2026-01-01" },
        { COL_INT64, { .is_null = true }, "null", "", "", "" },
    };
    static const enum value_style styles[] = { VALUE_JSON, VALUE_CSV, VALUE_BQ_ROW, VALUE_BQ_PARAM };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *want[] = { cases[i].json, cases[i].csv, cases[i].bq_row, cases[i].bq_param };
        for (size_t k = 0; k < 4; k++) {
            struct strbuf sb = STRBUF_INIT;
            value_format(cases[i].t, &cases[i].v, &sb, styles[k]);
            print_message("case %zu style %zu\n", i, k);
            assert_string_equal(sb.buf ? sb.buf : "", want[k]);
            strbuf_release(&sb);
        }
    }
}

int main(int argc, char **argv)
{
    unit_filter(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_flights),
        cmocka_unit_test(test_load_aliases),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test_setup_teardown(test_coerce_table, setup_schema, teardown_schema),
        cmocka_unit_test_setup_teardown(test_coerce_full_row, setup_schema, teardown_schema),
        cmocka_unit_test_setup_teardown(test_coerce_rejects_message, setup_schema, teardown_schema),
        cmocka_unit_test_setup_teardown(test_coerce_reason_bounds, setup_schema, teardown_schema),
        cmocka_unit_test_setup_teardown(test_coerce_json_syntax, setup_schema, teardown_schema),
        cmocka_unit_test_setup_teardown(test_coerce_depth, setup_schema, teardown_schema),
        cmocka_unit_test_setup_teardown(test_coerce_float_exact, setup_schema, teardown_schema),
        cmocka_unit_test_setup_teardown(test_coerce_keys_and_buffer, setup_schema, teardown_schema),
        cmocka_unit_test(test_value_parse),
        cmocka_unit_test(test_timestamp_text),
        cmocka_unit_test(test_date_text),
        cmocka_unit_test(test_float_format),
        cmocka_unit_test(test_flightgen_lines),
        cmocka_unit_test(test_value_format_styles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
