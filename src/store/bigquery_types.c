/*
 * bigquery_types.c — colibri's columns in BigQuery's JSON: table schema
 * fields (nested), insertAll values (nested rows) and query-response cells
 * (f/v rows, nested records and arrays) back into canonical values.
 */
#include <stdlib.h>
#include <string.h>

#include "colibri/arena.h"
#include "colibri/error.h"
#include "colibri/strbuf.h"
#include "store/bigquery_int.h"

json_t *bq_field_json(const struct column *c)
{
    json_t *f = json_pack("{s:s, s:s, s:s}", "name", c->name, "type", col_type_name(c->elem),
                          "mode", c->repeated ? "REPEATED" : c->required ? "REQUIRED" : "NULLABLE");
    if (!f)
        return NULL;
    if (c->description && *c->description)
        json_object_set_new(f, "description", json_string(c->description));
    if (c->parameterized) {     /* the tables API writes them as strings */
        char num[16];
        snprintf(num, sizeof num, "%d", c->int_digits + c->scale);
        json_object_set_new(f, "precision", json_string(num));
        snprintf(num, sizeof num, "%d", c->scale);
        json_object_set_new(f, "scale", json_string(num));
    }
    if (c->elem == COL_RECORD) {
        json_t *fields = json_array();
        for (size_t i = 0; i < c->nfields; i++)
            json_array_append_new(fields, bq_field_json(&c->fields[i]));
        json_object_set_new(f, "fields", fields);
    }
    return f;
}

/* ---- insertAll ------------------------------------------------------------------ */

/*
 * One value of field c from colibri's canonical JSON (j) as insertAll takes
 * it: the same JSON but INT64 as strings at every depth (insertAll reads JSON
 * numbers as doubles) and NULL members left out.
 */
static void row_json(const struct column *c, json_t *j, bool element, struct strbuf *sb)
{
    if (c->repeated && !element) {
        size_t i;
        json_t *e;
        strbuf_addc(sb, '[');
        json_array_foreach(j, i, e) {
            if (i)
                strbuf_addc(sb, ',');
            row_json(c, e, true, sb);
        }
        strbuf_addc(sb, ']');
    } else if (c->elem == COL_RECORD) {
        bool first = true;
        strbuf_addc(sb, '{');
        for (size_t i = 0; i < c->nfields; i++) {
            json_t *m = json_object_get(j, c->fields[i].name);
            if (!m || json_is_null(m))
                continue;
            strbuf_add(sb, c->fields[i].json_key + first, c->fields[i].json_key_len - first);
            first = false;
            row_json(&c->fields[i], m, false, sb);
        }
        strbuf_addc(sb, '}');
    } else if (c->elem == COL_INT64 && json_is_integer(j)) {
        strbuf_addf(sb, "\"%lld\"", (long long)json_integer_value(j));
    } else {
        char *text = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(17));
        if (text)
            strbuf_adds(sb, text);
        else
            sb->failed = true;
        free(text);
    }
}

void bq_row_value(const struct column *c, const struct value *v, struct strbuf *sb)
{
    if (c->type != COL_RECORD && c->type != COL_ARRAY) {
        value_format(c->type, v, sb, VALUE_BQ_ROW);
        return;
    }
    json_t *j = json_loadb(v->u.s.p, v->u.s.n, JSON_DECODE_ANY, NULL);
    if (!j) {           /* only colibri writes these texts: never happens */
        strbuf_adds(sb, c->type == COL_ARRAY ? "[]" : "null");
        return;
    }
    row_json(c, j, false, sb);
    json_decref(j);
}

/* ---- query responses ------------------------------------------------------------ */

/* The "v" of a cell of field c (an element when element) as canonical JSON into sb. */
static int cell_json(const struct column *c, json_t *v, bool element, struct strbuf *sb,
                     struct arena *a)
{
    if (!v || json_is_null(v)) {
        strbuf_adds(sb, c->repeated && !element ? "[]" : "null");
        return 0;
    }
    if (c->repeated && !element) {
        size_t i;
        json_t *e;
        if (!json_is_array(v))
            return COLIBRI_EIO;
        strbuf_addc(sb, '[');
        json_array_foreach(v, i, e) {
            if (i)
                strbuf_addc(sb, ',');
            if (cell_json(c, json_object_get(e, "v"), true, sb, a))
                return COLIBRI_EIO;
        }
        strbuf_addc(sb, ']');
        return 0;
    }
    if (c->elem == COL_RECORD) {
        json_t *f = json_object_get(v, "f");
        if (json_array_size(f) != c->nfields)
            return COLIBRI_EIO;
        for (size_t i = 0; i < c->nfields; i++) {
            const struct column *g = &c->fields[i];
            json_key_add(sb, g, i == 0);
            if (cell_json(g, json_object_get(json_array_get(f, i), "v"), false, sb, a))
                return COLIBRI_EIO;
        }
        strbuf_addc(sb, '}');
        return 0;
    }
    struct value x;
    if (!json_is_string(v) ||
        value_parse_bq(c->elem, json_string_value(v), json_string_length(v), &x, a))
        return COLIBRI_EIO;
    value_format(c->elem, &x, sb, VALUE_JSON);
    return 0;
}

int bq_cell_value(const struct column *c, json_t *cell, struct value *v, struct arena *a)
{
    json_t *j = json_object_get(cell, "v");
    const char *text = json_string_value(j);

    memset(v, 0, sizeof *v);
    if (c->type == COL_RECORD || c->type == COL_ARRAY) {
        struct strbuf sb = STRBUF_INIT;
        if (c->type == COL_RECORD && (!j || json_is_null(j))) {
            v->is_null = true;
            return 0;
        }
        int rc = cell_json(c, j, false, &sb, a);
        if (!rc && sb.failed)
            rc = COLIBRI_ENOMEM;
        if (!rc && !(v->u.s.p = arena_dup(a, sb.buf, sb.len)))
            rc = COLIBRI_ENOMEM;
        v->u.s.n = sb.len;
        strbuf_release(&sb);
        return rc;
    }
    if (!j || json_is_null(j)) {
        v->is_null = true;
        return 0;
    }
    return text ? value_parse_bq(c->type, text, json_string_length(j), v, a) : COLIBRI_EIO;
}
