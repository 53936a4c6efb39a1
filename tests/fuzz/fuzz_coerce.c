/*
 * fuzz_coerce.c — schema_coerce: one message (JSON text) → one typed row.
 *
 * Every input is coerced against two schemas: schema/flights.json (mostly
 * REQUIRED columns, so mostly refusals) and a schema of one NULLABLE column
 * per type and a REQUIRED event time "e" (so most objects with an "e" get
 * through and every coercion is exercised).
 * Invariants:
 *   failure: EINVAL, out zeroed, reason non-empty clean text (valid UTF-8, no
 *     control bytes; it goes to logs, JSON errors and the dead-letter table).
 *   success: the input is a JSON object (jansson agrees); every REQUIRED
 *     column is non-null, metadata columns are null; a STRING equals the JSON
 *     string byte for byte and lives NUL-terminated in row.buf; INT64 equals
 *     the JSON integer (or its string); FLOAT64 is finite; a non-null TIMESTAMP
 *     lies in 0001..9999 and timestamp_format → timestamp_parse gives it back;
 *     DATE the same with date_format/date_parse.
 */
#include <assert.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colibri/error.h"
#include "colibri/schema.h"
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Short names so the fuzzer finds them; one NULLABLE column per type (and the
 * REQUIRED event time every schema needs). */
static const char loose_json[] =
    "[{\"name\":\"s\",\"type\":\"STRING\"},{\"name\":\"i\",\"type\":\"INTEGER\"},"
    "{\"name\":\"f\",\"type\":\"FLOAT\"},{\"name\":\"b\",\"type\":\"BOOLEAN\"},"
    "{\"name\":\"t\",\"type\":\"TIMESTAMP\"},{\"name\":\"d\",\"type\":\"DATE\"},"
    "{\"name\":\"e\",\"type\":\"TIMESTAMP\",\"mode\":\"REQUIRED\"}]";

#define US_PER_DAY 86400000000LL
static const int64_t ts_min = -719162LL * US_PER_DAY, ts_max = 2932897LL * US_PER_DAY - 1;
static const int64_t day_min = -719162, day_max = 2932896;

static struct schema *flights, *loose;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[256];
    (void)argc, (void)argv;
    if (schema_parse(flights_json, strlen(flights_json), "flights", "event_time", &flights, err,
                     sizeof err)
        || schema_parse(loose_json, strlen(loose_json), "loose", "e", &loose, err, sizeof err)) {
        fprintf(stderr, "fuzz_coerce: setup: %s\n", err);
        abort();
    }
    return 0;
}

static void check_row(const struct schema *s, const struct row *r, const json_t *root)
{
    char buf[32];
    int64_t back;

    assert(r->vals && r->buf && !r->meta);
    for (size_t i = s->nuser; i < s->ncols; i++)
        assert(r->vals[i].is_null);
    for (size_t i = 0; i < s->nuser; i++) {
        const struct column *c = &s->cols[i];
        const struct value *v = &r->vals[i];
        const json_t *j = json_object_get(root, c->name);
        if (v->is_null) {
            assert(!c->required);
            assert(!j || json_is_null(j));
            continue;
        }
        assert(j && !json_is_null(j));
        switch (c->type) {
        case COL_STRING:
            assert(json_is_string(j));
            assert(v->u.s.n == json_string_length(j));
            assert(!memcmp(v->u.s.p, json_string_value(j), v->u.s.n));
            assert(v->u.s.p >= r->buf && v->u.s.p[v->u.s.n] == '\0');
            assert(utf8_ok((const unsigned char *)v->u.s.p, v->u.s.n));
            break;
        case COL_INT64:
            if (json_is_integer(j)) {
                assert(v->u.i == json_integer_value(j));
            } else {
                struct value w;
                assert(json_is_string(j));
                assert(value_parse(COL_INT64, json_string_value(j), json_string_length(j), &w, NULL,
                                   NULL, 0) == 0 && w.u.i == v->u.i);
            }
            break;
        case COL_FLOAT64:
            assert(isfinite(v->u.f));
            if (json_is_number(j))
                assert(v->u.f == json_number_value(j));
            break;
        case COL_BOOL:
            if (json_is_boolean(j))
                assert(v->u.b == json_is_true(j));
            break;
        case COL_TIMESTAMP:
            assert(v->u.i >= ts_min && v->u.i <= ts_max);
            assert(timestamp_format(v->u.i, buf) == 27);
            assert(timestamp_parse(buf, 27, &back) == 0 && back == v->u.i);
            break;
        case COL_DATE:
            assert(json_is_string(j));
            assert(v->u.i >= day_min && v->u.i <= day_max);
            assert(date_format(v->u.i, buf) == 10);
            assert(date_parse(buf, 10, &back) == 0 && back == v->u.i);
            break;
        default:            /* the types of docs/types.md: fuzz_nested's */
            break;
        }
    }
}

static void coerce(const struct schema *s, const char *msg, size_t len)
{
    static const struct row zero;
    struct row r;
    char reason[256];

    reason[0] = '\0';
    int rc = schema_coerce(s, msg, len, &r, reason, sizeof reason);
    if (rc) {
        assert(rc == COLIBRI_EINVAL);
        assert(!memcmp(&r, &zero, sizeof r));
        check_clean(reason);
        return;
    }
    json_t *root = json_loadb(msg, len, JSON_DECODE_ANY, NULL);
    assert(root && json_is_object(root));
    check_row(s, &r, root);
    json_decref(root);
    row_release(&r);
    assert(!r.vals && !r.buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact-size copy: the message is not NUL-terminated */
    char *msg = malloc(size ? size : 1);
    assert(msg);
    memcpy(msg, data, size);
    coerce(flights, msg, size);
    coerce(loose, msg, size);
    free(msg);
    return 0;
}
