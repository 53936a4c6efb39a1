/*
 * fuzz_nested.c — schema_coerce (src/coerce.c) on a schema with every type,
 * records of records, repeated scalars and repeated records; and the
 * insertAll form of the result (bq_row_value, src/store/bigquery_types.c).
 *
 * Asserted: a message jansson refuses (JSON_REJECT_DUPLICATES) is refused as
 * "not valid JSON"; a refusal is EINVAL with clean UTF-8 text and a zeroed
 * row; a success gives, for every RECORD and REPEATED column, JSON text that
 * jansson reads: an object with exactly the schema's keys in schema order at
 * every depth, or an array (never null for REPEATED) without null elements;
 * REQUIRED nested fields are non-null; NUMERIC leaves are canonical strings;
 * and bq_row_value of it is JSON too, with every INT64 a string.
 */
#include <assert.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "colibri/error.h"
#include "colibri/schema.h"
#include "colibri/strbuf.h"
#include "fuzz_common.h"
#include "store/bigquery_int.h"

static const char nested_json[] =
    "[{\"name\":\"event_time\",\"type\":\"TIMESTAMP\",\"mode\":\"REQUIRED\"},"
    "{\"name\":\"n\",\"type\":\"NUMERIC\"},{\"name\":\"b\",\"type\":\"BYTES\"},"
    "{\"name\":\"j\",\"type\":\"JSON\"},{\"name\":\"dt\",\"type\":\"DATETIME\"},"
    "{\"name\":\"tm\",\"type\":\"TIME\"},{\"name\":\"g\",\"type\":\"GEOGRAPHY\"},"
    "{\"name\":\"tags\",\"type\":\"STRING\",\"mode\":\"REPEATED\"},"
    "{\"name\":\"card\",\"type\":\"RECORD\",\"fields\":["
      "{\"name\":\"brand\",\"type\":\"STRING\",\"mode\":\"REQUIRED\"},"
      "{\"name\":\"exp\",\"type\":\"DATE\"},"
      "{\"name\":\"in\",\"type\":\"RECORD\",\"fields\":["
        "{\"name\":\"x\",\"type\":\"INT64\",\"mode\":\"REQUIRED\"},"
        "{\"name\":\"ys\",\"type\":\"FLOAT64\",\"mode\":\"REPEATED\"}]}]},"
    "{\"name\":\"items\",\"type\":\"RECORD\",\"mode\":\"REPEATED\",\"fields\":["
      "{\"name\":\"sku\",\"type\":\"STRING\"},{\"name\":\"qty\",\"type\":\"INT64\"},"
      "{\"name\":\"price\",\"type\":\"BIGNUMERIC\"},{\"name\":\"ok\",\"type\":\"BOOL\"},"
      "{\"name\":\"codes\",\"type\":\"INT64\",\"mode\":\"REPEATED\"}]}]";

static struct schema *schema;

static void check_field(const struct column *c, json_t *j, bool element);

static void check_record(const struct column *c, json_t *j)
{
    assert(json_is_object(j) && json_object_size(j) == c->nfields);
    void *it = json_object_iter(j);
    for (size_t i = 0; i < c->nfields; i++, it = json_object_iter_next(j, it)) {
        assert(it && !strcmp(json_object_iter_key(it), c->fields[i].name));
        check_field(&c->fields[i], json_object_iter_value(it), false);
    }
}

static void check_field(const struct column *c, json_t *j, bool element)
{
    if (c->repeated && !element) {
        size_t i;
        json_t *e;
        assert(json_is_array(j));
        json_array_foreach(j, i, e)
            check_field(c, e, true);
        return;
    }
    if (json_is_null(j)) {
        assert(!element && !c->required);
        return;
    }
    switch (c->elem) {
    case COL_RECORD:    check_record(c, j); break;
    case COL_INT64:     assert(json_is_integer(j)); break;
    case COL_FLOAT64:   assert(json_is_number(j)); break;
    case COL_BOOL:      assert(json_is_boolean(j)); break;
    case COL_NUMERIC: case COL_BIGNUMERIC: {
        const char *s = json_string_value(j);
        assert(s && strcmp(s, "-0") && s[strlen(s) - 1] != '.');
        break;
    }
    default:            assert(json_is_string(j)); break;
    }
}

/* Every INT64 of c in the insertAll JSON j is a string. */
static void check_bq(const struct column *c, json_t *j, bool element)
{
    if (c->repeated && !element) {
        size_t i;
        json_t *e;
        assert(json_is_array(j));
        json_array_foreach(j, i, e)
            check_bq(c, e, true);
    } else if (c->elem == COL_RECORD) {
        assert(json_is_object(j));
        for (size_t i = 0; i < c->nfields; i++) {
            json_t *m = json_object_get(j, c->fields[i].name);
            if (m)
                check_bq(&c->fields[i], m, false);
        }
    } else if (c->elem == COL_INT64) {
        assert(json_is_string(j));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256], reason[256];
    struct row r;

    if (!schema && schema_parse(nested_json, strlen(nested_json), "t", NULL, &schema, err,
                                sizeof err))
        abort();
    json_t *ref = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    int rc = schema_coerce(schema, (const char *)data, size, &r, reason, sizeof reason);
    if (rc) {
        assert(rc == COLIBRI_EINVAL || rc == COLIBRI_ENOMEM);
        assert(!r.vals && !r.buf && !r.ext.head);
        assert(utf8_ok((const unsigned char *)reason, strlen(reason)));
        json_decref(ref);
        return 0;
    }
    assert(ref && json_is_object(ref));
    for (size_t i = 0; i < schema->nuser; i++) {
        const struct column *c = &schema->cols[i];
        if (c->type != COL_RECORD && c->type != COL_ARRAY)
            continue;
        assert(!(c->repeated && r.vals[i].is_null));
        if (r.vals[i].is_null)
            continue;
        json_t *j = json_loadb(r.vals[i].u.s.p, r.vals[i].u.s.n, 0, NULL);
        assert(j);
        check_field(c, j, false);
        json_decref(j);
        struct strbuf sb = STRBUF_INIT;
        bq_row_value(c, &r.vals[i], &sb);
        json_t *bq = json_loadb(sb.buf, sb.len, 0, NULL);
        assert(bq);
        check_bq(c, bq, false);
        json_decref(bq);
        strbuf_release(&sb);
    }
    row_release(&r);
    json_decref(ref);
    return 0;
}
