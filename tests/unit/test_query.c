/*
 * test_query.c — query_parse, url_decode, the query digest and cursors,
 * against a small in-memory schema with one column of every type.
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

#include "colibri/error.h"
#include "colibri/query.h"
#include "colibri/schema.h"

static const char schema_json[] =
    "[{\"name\":\"carrier\",\"type\":\"STRING\",\"mode\":\"REQUIRED\"},"
    " {\"name\":\"dep_delay\",\"type\":\"INT64\"},"
    " {\"name\":\"distance\",\"type\":\"FLOAT64\"},"
    " {\"name\":\"cancelled\",\"type\":\"BOOL\"},"
    " {\"name\":\"event_time\",\"type\":\"TIMESTAMP\",\"mode\":\"REQUIRED\"},"
    " {\"name\":\"flight_date\",\"type\":\"DATE\"}]";

enum { CARRIER, DELAY, DISTANCE, CANCELLED, EVENT_TIME, FLIGHT_DATE };

#define T_2024 INT64_C(1704067200000000)    /* 2024-01-01T00:00:00Z in µs */

static struct schema *S;
static struct cursor_key KEY, KEY2;
static char err[256];

static int setup(void **state)
{
    char e[256];
    if (schema_parse(schema_json, strlen(schema_json), "flights", "event_time", &S, e, sizeof e)) {
        fprintf(stderr, "schema_parse: %s\n", e);
        return -1;
    }
    if (cursor_key_init(&KEY, "s3cret") || cursor_key_init(&KEY2, "other"))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    schema_free(S);
    return 0;
}

static int parse(const char *qs, struct query *q)
{
    memset(q, 0xa5, sizeof *q);     /* prove that failures zero it */
    err[0] = '\0';
    return query_parse(S, &KEY, qs, q, err, sizeof err);
}

static void ok(const char *qs, struct query *q)
{
    int rc = parse(qs, q);
    if (rc)
        fail_msg("query_parse(\"%.80s\") = %d: %s", qs, rc, err);
}

/* Expects rc with a message containing want (and, if given, also2). */
static void bad2(const char *qs, int rc, const char *want, const char *also2)
{
    static const struct query zero;
    struct query q;
    int got = parse(qs, &q);
    if (got != rc)
        fail_msg("query_parse(\"%.80s\") = %d, want %d (%s)", qs, got, rc, err);
    if (!strstr(err, want) || (also2 && !strstr(err, also2)))
        fail_msg("query_parse(\"%.80s\"): message \"%s\" lacks \"%s\"", qs, err, want);
    assert_memory_equal(&q, &zero, sizeof q);
}

static void bad(const char *qs, const char *want)
{
    bad2(qs, COLIBRI_EINVAL, want, NULL);
}

static int col(const char *name)
{
    int c = schema_find(S, name);
    assert_true(c >= 0);
    return c;
}

static void digest_of(const char *qs, unsigned char d[16])
{
    struct query q;
    ok(qs, &q);
    memcpy(d, q.digest, 16);
    query_release(&q);
}

/* ---- url_decode ------------------------------------------------------ */

static void test_url_decode(void **state)
{
    char out[64];
    assert_int_equal(url_decode("a+b%20c", 7, out), 5);
    assert_string_equal(out, "a b c");
    assert_int_equal(url_decode("%41%7a%2B", 9, out), 3);
    assert_string_equal(out, "Az+");
    assert_int_equal(url_decode("%e2%82%ac", 9, out), 3);
    assert_string_equal(out, "\xe2\x82\xac");
    assert_int_equal(url_decode("", 0, out), 0);
    assert_string_equal(out, "");
    /* only len bytes are read */
    assert_int_equal(url_decode("ab%zz", 2, out), 2);
    assert_string_equal(out, "ab");

    const char *broken[] = {"%zz", "%4", "%", "a%", "%00", "%4g", "%g4", "x%0"};
    for (size_t i = 0; i < sizeof broken / sizeof *broken; i++)
        assert_int_equal(url_decode(broken[i], strlen(broken[i]), out), -1);
}

/* ---- plain parameters -------------------------------------------------- */

static void check_defaults(const char *qs)
{
    struct query q;
    ok(qs, &q);
    assert_int_equal(q.limit, 100);
    assert_true(q.desc);
    assert_false(q.has_since);
    assert_false(q.has_until);
    assert_int_equal(q.format, FMT_JSON);
    assert_int_equal(q.nfilters, 0);
    assert_false(q.has_cursor);
    assert_null(q.cur_id);
    assert_int_equal(q.nfields, S->ncols);
    for (size_t i = 0; i < S->ncols; i++)
        assert_int_equal(q.fields[i], i);
    query_release(&q);
    assert_null(q.buf);
}

static void test_defaults(void **state)
{
    unsigned char a[16], b[16];
    check_defaults(NULL);
    check_defaults("");
    check_defaults("&&&");
    digest_of(NULL, a);
    digest_of("&", b);
    assert_memory_equal(a, b, 16);
}

static void test_limit(void **state)
{
    struct query q;
    ok("limit=1", &q);
    assert_int_equal(q.limit, 1);
    query_release(&q);
    ok("limit=1000", &q);
    assert_int_equal(q.limit, 1000);
    query_release(&q);
    ok("limit=%34%32", &q);
    assert_int_equal(q.limit, 42);
    query_release(&q);

    bad("limit=0", "limit: must be an integer from 1 to 1000, got '0'");
    bad("limit=1001", "got '1001'");
    bad("limit=abc", "got 'abc'");
    bad("limit=", "got ''");
    bad("limit", "limit: must be");
    bad("limit=-1", "limit: must be");
    bad("limit=+5", "limit: must be");
    bad("limit=5x", "limit: must be");
    bad("limit=1.5", "limit: must be");
    bad("limit=99999999999999999999999999999", "limit: must be");
    bad("limit=18446744073709551617", "limit: must be");
    bad("limit=1&limit=2", "limit: given more than once");
}

static void test_order_format(void **state)
{
    struct query q;
    ok("order=asc", &q);
    assert_false(q.desc);
    query_release(&q);
    ok("order=desc", &q);
    assert_true(q.desc);
    query_release(&q);
    ok("format=ndjson", &q);
    assert_int_equal(q.format, FMT_NDJSON);
    query_release(&q);
    ok("format=csv", &q);
    assert_int_equal(q.format, FMT_CSV);
    query_release(&q);
    ok("format=json", &q);
    assert_int_equal(q.format, FMT_JSON);
    query_release(&q);

    bad("order=ASC", "order: must be 'asc' or 'desc', got 'ASC'");
    bad("order=", "order: must be");
    bad("order=asc&order=asc", "order: given more than once");
    bad("format=xml", "format: must be 'json', 'ndjson' or 'csv', got 'xml'");
    bad("format=csv&format=json", "format: given more than once");
}

static void test_since_until(void **state)
{
    struct query q;
    ok("since=2024-01-01T00:00:00Z&until=2024-01-01T00:00:01.5Z", &q);
    assert_true(q.has_since);
    assert_true(q.has_until);
    assert_int_equal(q.since, T_2024);
    assert_int_equal(q.until, T_2024 + 1500000);
    query_release(&q);

    ok("until=2024-01-01T02:00:00%2B02:00", &q);
    assert_false(q.has_since);
    assert_int_equal(q.until, T_2024);
    query_release(&q);

    ok("since=2024-01-01T00:00:00Z&until=2024-01-01T00:00:00Z", &q);   /* empty, not wrong */
    assert_int_equal(q.since, q.until);
    query_release(&q);

    ok("since=2024-01-01T00:00:01Z&until=2024-01-01T00:00:00Z", &q);   /* empty too */
    assert_int_equal(q.since, q.until);
    query_release(&q);
    /* past microseconds a bound could only be compared truncated: a 400, not a near miss */
    bad("since=2024-01-01T00:00:00.6497051Z", "since: at most 6 fractional digits");
    bad("until=2024-01-01T00:00:00.000000000Z", "until: at most 6 fractional digits");
    bad("event_time__lt=2024-01-01T00:00:00.6497051Z", "event_time__lt: at most 6 fractional digits");
    bad("event_time__in=2024-01-01T00:00:00Z,2024-01-01T00:00:00.1234567Z",
        "event_time__in: at most 6 fractional digits");
    ok("event_time__lt=2024-01-01T00:00:00.649705Z", &q);
    query_release(&q);
    bad("since=yesterday", "since: must be an RFC 3339 timestamp");
    bad("until=2024-13-01T00:00:00Z", "until: must be an RFC 3339 timestamp");
    bad2("since=2024-01-01T02:00:00+02:00", COLIBRI_EINVAL, "since:", "%2B");
    bad("since=2024-01-01T00:00:00Z&since=2024-01-01T00:00:00Z", "since: given more than once");
}

static void test_fields(void **state)
{
    struct query q;
    ok("fields=event_time,carrier,_id", &q);
    assert_int_equal(q.nfields, 3);
    assert_int_equal(q.fields[0], EVENT_TIME);
    assert_int_equal(q.fields[1], CARRIER);
    assert_int_equal(q.fields[2], col("_id"));
    query_release(&q);
    ok("fields=dep_delay", &q);
    assert_int_equal(q.nfields, 1);
    assert_int_equal(q.fields[0], DELAY);
    query_release(&q);

    bad("fields=carrier,nope", "fields: unknown column 'nope'");
    bad("fields=carrier,carrier", "fields: column 'carrier' listed twice");
    bad("fields=", "fields: empty column name");
    bad("fields=carrier,", "fields: empty column name");
    bad("fields=,carrier", "fields: empty column name");
    bad("fields=carrier&fields=_id", "fields: given more than once");
}

/* ---- filters ----------------------------------------------------------- */

static void one_filter(const char *qs, size_t c, enum filter_op op, size_t nvals, struct query *q)
{
    ok(qs, q);
    assert_int_equal(q->nfilters, 1);
    assert_int_equal(q->filters[0].col, c);
    assert_int_equal(q->filters[0].op, op);
    assert_int_equal(q->filters[0].nvals, nvals);
}

static void assert_str_value(const struct value *v, const char *want)
{
    assert_false(v->is_null);
    assert_int_equal(v->u.s.n, strlen(want));
    assert_memory_equal(v->u.s.p, want, strlen(want));
}

static void test_filter_eq_each_type(void **state)
{
    struct query q;
    one_filter("carrier=A%26B+C", CARRIER, OP_EQ, 1, &q);
    assert_str_value(&q.filters[0].vals[0], "A&B C");
    query_release(&q);
    one_filter("carrier=", CARRIER, OP_EQ, 1, &q);
    assert_str_value(&q.filters[0].vals[0], "");
    query_release(&q);
    one_filter("dep_delay=-15", DELAY, OP_EQ, 1, &q);
    assert_int_equal(q.filters[0].vals[0].u.i, -15);
    query_release(&q);
    one_filter("dep_delay=9223372036854775807", DELAY, OP_EQ, 1, &q);
    assert_int_equal(q.filters[0].vals[0].u.i, INT64_MAX);
    query_release(&q);
    one_filter("distance=1.5", DISTANCE, OP_EQ, 1, &q);
    assert_true(q.filters[0].vals[0].u.f == 1.5);
    query_release(&q);
    one_filter("cancelled=true", CANCELLED, OP_EQ, 1, &q);
    assert_true(q.filters[0].vals[0].u.b);
    query_release(&q);
    one_filter("cancelled=false", CANCELLED, OP_EQ, 1, &q);
    assert_false(q.filters[0].vals[0].u.b);
    query_release(&q);
    one_filter("event_time=2024-01-01T00:00:00.000001Z", EVENT_TIME, OP_EQ, 1, &q);
    assert_int_equal(q.filters[0].vals[0].u.i, T_2024 + 1);
    query_release(&q);
    one_filter("flight_date=2024-01-02", FLIGHT_DATE, OP_EQ, 1, &q);
    assert_int_equal(q.filters[0].vals[0].u.i, 19724);
    query_release(&q);
    one_filter("_id=kafka:flights/0/7", (size_t)col("_id"), OP_EQ, 1, &q);
    assert_str_value(&q.filters[0].vals[0], "kafka:flights/0/7");
    query_release(&q);
    one_filter("_ingested_at__gte=2024-01-01T00:00:00Z", (size_t)col("_ingested_at"), OP_GTE, 1,
               &q);
    assert_int_equal(q.filters[0].vals[0].u.i, T_2024);
    query_release(&q);
    one_filter("carri%65r=AA", CARRIER, OP_EQ, 1, &q);     /* names are decoded too */
    query_release(&q);
}

static void test_type_errors(void **state)
{
    bad2("dep_delay=abc", COLIBRI_EINVAL, "dep_delay", "'abc'");
    bad2("dep_delay=1.5", COLIBRI_EINVAL, "dep_delay", "'1.5'");
    bad2("dep_delay=99999999999999999999", COLIBRI_EINVAL, "dep_delay", "INT64");
    bad2("dep_delay__gt=", COLIBRI_EINVAL, "dep_delay__gt", "INT64");
    bad2("distance=far", COLIBRI_EINVAL, "distance", "'far'");
    bad2("cancelled=maybe", COLIBRI_EINVAL, "cancelled", "'maybe'");
    bad2("event_time__lt=noon", COLIBRI_EINVAL, "event_time__lt", "'noon'");
    bad2("flight_date=2024-13-01", COLIBRI_EINVAL, "flight_date", "'2024-13-01'");
    bad2("_published_at=x", COLIBRI_EINVAL, "_published_at", "TIMESTAMP");
}

static const struct {
    const char *qs;
    int col;
    enum filter_op op;
} op_cases[] = {
    {"carrier__ne=AA", CARRIER, OP_NE},           {"carrier__gt=AA", CARRIER, OP_GT},
    {"carrier__gte=AA", CARRIER, OP_GTE},         {"carrier__lt=AA", CARRIER, OP_LT},
    {"carrier__lte=AA", CARRIER, OP_LTE},         {"carrier__prefix=A", CARRIER, OP_PREFIX},
    {"dep_delay__ne=3", DELAY, OP_NE},            {"dep_delay__gt=3", DELAY, OP_GT},
    {"dep_delay__gte=3", DELAY, OP_GTE},          {"dep_delay__lt=3", DELAY, OP_LT},
    {"dep_delay__lte=3", DELAY, OP_LTE},          {"distance__ne=3", DISTANCE, OP_NE},
    {"distance__gt=3", DISTANCE, OP_GT},          {"distance__gte=3", DISTANCE, OP_GTE},
    {"distance__lt=3", DISTANCE, OP_LT},          {"distance__lte=3", DISTANCE, OP_LTE},
    {"cancelled__ne=true", CANCELLED, OP_NE},
    {"flight_date__gt=2024-01-02", FLIGHT_DATE, OP_GT},
    {"flight_date__lte=2024-01-02", FLIGHT_DATE, OP_LTE},
    {"event_time__ne=2024-01-01T00:00:00Z", EVENT_TIME, OP_NE},
    {"event_time__gt=2024-01-01T00:00:00Z", EVENT_TIME, OP_GT},
    {"event_time__lt=2024-01-01T00:00:00Z", EVENT_TIME, OP_LT},
};

static void test_operators(void **state)
{
    struct query q;
    for (size_t i = 0; i < sizeof op_cases / sizeof *op_cases; i++) {
        one_filter(op_cases[i].qs, (size_t)op_cases[i].col, op_cases[i].op, 1, &q);
        query_release(&q);
    }
    one_filter("dep_delay__gte=-3", DELAY, OP_GTE, 1, &q);
    assert_int_equal(q.filters[0].vals[0].u.i, -3);
    query_release(&q);
    one_filter("carrier__prefix=Del", CARRIER, OP_PREFIX, 1, &q);
    assert_str_value(&q.filters[0].vals[0], "Del");
    query_release(&q);

    bad("cancelled__gt=true", "cancelled__gt: gt does not apply to BOOL columns");
    bad("cancelled__lte=true", "does not apply to BOOL");
    bad("dep_delay__prefix=1", "dep_delay__prefix: prefix applies to STRING columns only");
    bad("event_time__prefix=2024", "prefix applies to STRING columns only");
    bad("cancelled__prefix=t", "prefix applies to STRING columns only");
    bad("carrier__like=A%25", "unknown operator 'like'");
    bad("carrier__eq=AA", "unknown operator 'eq'");
    bad("carrier__=AA", "unknown operator ''");
    bad("nope=1", "unknown parameter or column 'nope'");
    bad("nope__gt=1", "unknown parameter or column 'nope'");
    bad("=1", "unknown parameter or column ''");
    bad("Carrier=AA", "unknown parameter or column 'Carrier'");
}

static void test_in(void **state)
{
    struct query q;
    one_filter("dep_delay__in=3,-1,7", DELAY, OP_IN, 3, &q);
    assert_int_equal(q.filters[0].vals[0].u.i, 3);
    assert_int_equal(q.filters[0].vals[1].u.i, -1);
    assert_int_equal(q.filters[0].vals[2].u.i, 7);
    query_release(&q);
    one_filter("carrier__in=AA,D%20L", CARRIER, OP_IN, 2, &q);
    assert_str_value(&q.filters[0].vals[0], "AA");
    assert_str_value(&q.filters[0].vals[1], "D L");
    query_release(&q);
    /* an encoded comma still separates: documented limitation */
    one_filter("carrier__in=A%2CB", CARRIER, OP_IN, 2, &q);
    query_release(&q);
    one_filter("cancelled__in=true", CANCELLED, OP_IN, 1, &q);
    assert_true(q.filters[0].vals[0].u.b);
    query_release(&q);
    one_filter("flight_date__in=2024-01-01,2024-01-02", FLIGHT_DATE, OP_IN, 2, &q);
    assert_int_equal(q.filters[0].vals[1].u.i, 19724);
    query_release(&q);

    char qs[1024];
    strcpy(qs, "dep_delay__in=0");
    for (int i = 1; i < QUERY_MAX_IN; i++)
        sprintf(qs + strlen(qs), ",%d", i);
    one_filter(qs, DELAY, OP_IN, QUERY_MAX_IN, &q);
    assert_int_equal(q.filters[0].vals[QUERY_MAX_IN - 1].u.i, QUERY_MAX_IN - 1);
    query_release(&q);
    strcat(qs, ",100");
    bad(qs, "dep_delay__in: needs 1 to 100 comma-separated values");

    bad("dep_delay__in=", "dep_delay__in: needs 1 to 100");
    bad2("dep_delay__in=1,x,3", COLIBRI_EINVAL, "dep_delay__in", "'x'");
    bad2("dep_delay__in=1,,3", COLIBRI_EINVAL, "dep_delay__in", "''");
}

static void test_isnull(void **state)
{
    struct query q;
    for (int c = CARRIER; c <= FLIGHT_DATE; c++) {
        char qs[64];
        snprintf(qs, sizeof qs, "%s__isnull=%s", S->cols[c].name, c % 2 ? "true" : "false");
        one_filter(qs, (size_t)c, OP_ISNULL, 1, &q);
        assert_int_equal(q.filters[0].vals[0].u.b, c % 2 == 1);
        query_release(&q);
    }
    bad("carrier__isnull=yes", "carrier__isnull: must be 'true' or 'false', got 'yes'");
    bad("carrier__isnull=", "must be 'true' or 'false'");
}

static void test_many_filters(void **state)
{
    struct query q;
    ok("dep_delay__gt=1&dep_delay__lt=5&dep_delay__ne=3", &q);      /* ANDed, allowed */
    assert_int_equal(q.nfilters, 3);
    assert_int_equal(q.filters[0].op, OP_GT);
    assert_int_equal(q.filters[1].op, OP_LT);
    assert_int_equal(q.filters[1].vals[0].u.i, 5);
    assert_int_equal(q.filters[2].op, OP_NE);
    query_release(&q);

    char qs[8192] = "";
    for (int i = 0; i < QUERY_MAX_FILTERS; i++)
        sprintf(qs + strlen(qs), "%sdep_delay__ne=%d", i ? "&" : "", i);
    ok(qs, &q);
    assert_int_equal(q.nfilters, QUERY_MAX_FILTERS);
    assert_int_equal(q.filters[QUERY_MAX_FILTERS - 1].vals[0].u.i, QUERY_MAX_FILTERS - 1);
    query_release(&q);
    strcat(qs, "&carrier=AA");
    bad(qs, "too many filters: at most 256");
}

static void test_decoding_errors(void **state)
{
    bad("carrier=%zz", "invalid %-escape '%zz' in 'carrier=%zz'");
    bad("carrier=A%4", "invalid %-escape '%4'");
    bad("carrier=A%", "invalid %-escape '%'");
    bad("carrier=A%00B", "invalid %-escape '%00'");
    bad("car%zzrier=A", "invalid %-escape '%zz'");
    bad("limit=%3", "invalid %-escape '%3'");
    bad("carrier=%ff", "not valid UTF-8");
    bad("carrier=%c0%af", "not valid UTF-8");          /* overlong '/' */
    bad("carrier=%ed%a0%80", "not valid UTF-8");       /* surrogate */
    struct query q;
    one_filter("carrier=%e2%82%ac", CARRIER, OP_EQ, 1, &q);
    assert_str_value(&q.filters[0].vals[0], "\xe2\x82\xac");
    query_release(&q);
}

static void test_too_long(void **state)
{
    size_t max = 16384;
    char *qs = malloc(max + 2);
    struct query q;
    memcpy(qs, "carrier=", 8);
    memset(qs + 8, 'a', max - 8);
    qs[max] = '\0';
    ok(qs, &q);
    assert_int_equal(q.filters[0].vals[0].u.s.n, max - 8);
    query_release(&q);
    qs[max] = 'a';
    qs[max + 1] = '\0';
    bad2(qs, COLIBRI_ETOOBIG, "too long", NULL);
    free(qs);
}

static void test_error_echo_is_bounded(void **state)
{
    char qs[512];
    memset(qs, 'x', 300);
    strcpy(qs + 300, "=1");
    bad(qs, "unknown parameter or column 'xxxx");
    assert_true(strlen(err) < 120);
    assert_non_null(strstr(err, "...'"));
    bad("x%0a%27=1", "unknown parameter or column 'x?" "?'");  /* no control chars echoed */
    bad("dep_delay=%0a%27", "dep_delay");
    assert_null(strchr(err, '\n'));
}

/* ---- digest ------------------------------------------------------------ */

static void same_digest(const char *a, const char *b)
{
    unsigned char da[16], db[16];
    digest_of(a, da);
    digest_of(b, db);
    if (memcmp(da, db, 16))
        fail_msg("digest differs: \"%s\" vs \"%s\"", a, b);
}

static void other_digest(const char *a, const char *b)
{
    unsigned char da[16], db[16];
    digest_of(a, da);
    digest_of(b, db);
    if (!memcmp(da, db, 16))
        fail_msg("digest equal: \"%s\" vs \"%s\"", a, b);
}

static void test_digest(void **state)
{
    const char *base = "carrier=AA&dep_delay__gt=5&order=asc&since=2024-01-01T00:00:00Z";
    same_digest(base, "order=asc&dep_delay__gt=5&since=2024-01-01T00:00:00Z&carrier=AA");
    same_digest(base, "limit=3&fields=carrier&format=csv&carrier=AA&dep_delay__gt=5&order=asc"
                      "&since=2024-01-01T01:00:00%2B01:00");
    same_digest("dep_delay=5", "dep_delay=05");                        /* typed, not text */
    same_digest("carrier__in=AA,DL", "carrier__in=DL,AA");
    same_digest("", "order=desc");
    same_digest("", "limit=5&format=ndjson&fields=_id");

    other_digest("", "order=asc");
    other_digest("carrier=AA", "carrier=DL");
    other_digest("carrier=AA", "carrier__ne=AA");
    other_digest("carrier=AA", "carrier=AA&carrier=AA");
    other_digest("carrier=AA", "_source=AA");
    other_digest("carrier__in=AA,DL", "carrier=AA&carrier=DL");
    other_digest("carrier__in=AB", "carrier__in=A,B");
    other_digest("", "since=2024-01-01T00:00:00Z");
    other_digest("since=2024-01-01T00:00:00Z", "until=2024-01-01T00:00:00Z");
    other_digest("since=2024-01-01T00:00:00Z", "since=2024-01-01T00:00:01Z");
    other_digest("dep_delay__isnull=true", "dep_delay__isnull=false");
    other_digest("distance=1", "distance=1.0000001");
}

/* ---- cursors ----------------------------------------------------------- */

static void encode(const struct cursor_key *k, const char *qs, int64_t t, const char *id,
                   char tok[CURSOR_MAX])
{
    struct query q;
    ok(qs, &q);
    assert_int_equal(cursor_encode(k, &q, t, id, strlen(id), tok, CURSOR_MAX), 0);
    query_release(&q);
}

static void with_cursor(char *out, size_t outlen, const char *qs, const char *tok)
{
    snprintf(out, outlen, "%s%scursor=%s", qs, *qs ? "&" : "", tok);
}

static void cursor_rejected(const char *qs, const char *tok)
{
    char full[2048];
    with_cursor(full, sizeof full, qs, tok);
    bad(full, "cursor: invalid or does not belong to this query");
    assert_string_equal(err, "cursor: invalid or does not belong to this query");
}

static void test_cursor_round_trip(void **state)
{
    const char *qs = "carrier=AA&order=asc&dep_delay__in=1,2";
    const char *id = "kafka:flights/3/42";
    char tok[CURSOR_MAX], full[2048];
    struct query q;

    encode(&KEY, qs, T_2024 + 123456, id, tok);
    assert_int_equal(strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                 "abcdefghijklmnopqrstuvwxyz0123456789-_"), strlen(tok));
    /* other limit, fields, format and parameter order: same query */
    snprintf(full, sizeof full, "limit=7&cursor=%s&format=csv&dep_delay__in=2,1&fields=_id"
             "&order=asc&carrier=AA", tok);
    ok(full, &q);
    assert_true(q.has_cursor);
    assert_int_equal(q.cur_time, T_2024 + 123456);
    assert_string_equal(q.cur_id, id);
    assert_int_equal(q.limit, 7);
    query_release(&q);

    /* default (desc) order, negative time, no filters */
    encode(&KEY, "", -1, "m-1", tok);
    with_cursor(full, sizeof full, "", tok);
    ok(full, &q);
    assert_int_equal(q.cur_time, -1);
    assert_string_equal(q.cur_id, "m-1");
    query_release(&q);

    /* the longest id that fits, and one byte more */
    char longid[400];
    memset(longid, 'i', sizeof longid);
    size_t maxid = (CURSOR_MAX - 1) * 3 / 4 - 42;
    ok("", &q);
    assert_int_equal(cursor_encode(&KEY, &q, INT64_MIN, longid, maxid, tok, CURSOR_MAX), 0);
    assert_true(strlen(tok) < CURSOR_MAX);
    assert_int_equal(cursor_encode(&KEY, &q, 0, longid, maxid + 1, tok, CURSOR_MAX),
                     COLIBRI_ETOOBIG);
    assert_int_equal(cursor_encode(&KEY, &q, 0, "x", 1, tok, 8), COLIBRI_ETOOBIG);
    assert_int_equal(cursor_encode(&KEY, &q, 0, "a\0b", 3, tok, CURSOR_MAX), COLIBRI_EINVAL);
    assert_int_equal(cursor_encode(&KEY, &q, INT64_MIN, longid, maxid, tok, CURSOR_MAX), 0);
    query_release(&q);
    with_cursor(full, sizeof full, "", tok);
    ok(full, &q);
    assert_int_equal(q.cur_time, INT64_MIN);
    assert_int_equal(strlen(q.cur_id), maxid);
    query_release(&q);
}

static void test_cursor_forged(void **state)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const char *qs = "carrier=AA";
    char tok[CURSOR_MAX], t2[CURSOR_MAX];
    encode(&KEY, qs, T_2024, "kafka:flights/0/1", tok);
    size_t n = strlen(tok);

    /* every position, several replacement characters each */
    for (size_t i = 0; i < n; i++) {
        for (size_t r = 1; r < 64; r += 13) {
            strcpy(t2, tok);
            t2[i] = alphabet[(size_t)(strchr(alphabet, tok[i]) - alphabet + r) % 64];
            cursor_rejected(qs, t2);
        }
    }
    /* truncated to every length, and extended */
    for (size_t i = 0; i < n; i++) {
        memcpy(t2, tok, i);
        t2[i] = '\0';
        cursor_rejected(qs, t2);
    }
    char big[700];
    snprintf(big, sizeof big, "%sA", tok);
    cursor_rejected(qs, big);
    snprintf(big, sizeof big, "%sAA", tok);
    cursor_rejected(qs, big);
    snprintf(big, sizeof big, "%s%%3D", tok);
    cursor_rejected(qs, big);
    cursor_rejected(qs, "not+a+cursor");
    memset(big, 'A', 600);
    big[600] = '\0';
    cursor_rejected(qs, big);

    /* a validly signed cursor whose order flag disagrees with its query */
    struct query fq;
    ok(qs, &fq);
    fq.desc = !fq.desc;
    assert_int_equal(cursor_encode(&KEY, &fq, T_2024, "x", 1, t2, sizeof t2), 0);
    query_release(&fq);
    cursor_rejected(qs, t2);

    /* another key */
    encode(&KEY2, qs, T_2024, "kafka:flights/0/1", t2);
    cursor_rejected(qs, t2);

    /* the untouched token still works, and only for its own query */
    char full[1024];
    struct query q;
    with_cursor(full, sizeof full, qs, tok);
    ok(full, &q);
    query_release(&q);
    cursor_rejected("carrier=DL", tok);
    cursor_rejected("carrier=AA&order=asc", tok);
    cursor_rejected("carrier=AA&dep_delay=1", tok);
    cursor_rejected("carrier__ne=AA", tok);
    cursor_rejected("carrier=AA&since=2024-01-01T00:00:00Z", tok);
    cursor_rejected("", tok);
    with_cursor(full, sizeof full, "carrier=AA&cursor=x", tok);
    bad(full, "cursor: given more than once");
}

/* ---- keys, and anything-goes input --------------------------------------- */

static void test_cursor_key(void **state)
{
    struct cursor_key a, b, zero = {{0}};
    assert_int_equal(cursor_key_init(&a, "s3cret"), 0);
    assert_memory_equal(&a, &KEY, sizeof a);
    assert_memory_not_equal(&a, &KEY2, sizeof a);
    assert_int_equal(cursor_key_init(&a, NULL), 0);
    assert_int_equal(cursor_key_init(&b, ""), 0);
    assert_memory_not_equal(&a, &b, sizeof a);
    assert_memory_not_equal(&a, &zero, sizeof a);
}

static void test_garbage(void **state)
{
    static const char alphabet[] = "=&%_,+0159aAeflimt-:.Zcarierdepyn_isnulgt";
    char qs[96];
    unsigned seed = 12345;
    for (int i = 0; i < 20000; i++) {
        size_t n = (seed = seed * 1103515245 + 12345) >> 16 & 63;
        for (size_t j = 0; j < n; j++) {
            seed = seed * 1103515245 + 12345;
            qs[j] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
        }
        qs[n] = '\0';
        struct query q;
        int rc = parse(qs, &q);
        assert_true(rc == 0 || rc == COLIBRI_EINVAL);
        assert_true(rc == 0 || err[0] != '\0');
        query_release(&q);
    }
}

int main(int argc, char **argv)
{
    unit_filter(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_decode),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_limit),
        cmocka_unit_test(test_order_format),
        cmocka_unit_test(test_since_until),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_filter_eq_each_type),
        cmocka_unit_test(test_type_errors),
        cmocka_unit_test(test_operators),
        cmocka_unit_test(test_in),
        cmocka_unit_test(test_isnull),
        cmocka_unit_test(test_many_filters),
        cmocka_unit_test(test_decoding_errors),
        cmocka_unit_test(test_too_long),
        cmocka_unit_test(test_error_echo_is_bounded),
        cmocka_unit_test(test_digest),
        cmocka_unit_test(test_cursor_round_trip),
        cmocka_unit_test(test_cursor_forged),
        cmocka_unit_test(test_cursor_key),
        cmocka_unit_test(test_garbage),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
