/*
 * schema.c — the BigQuery JSON table schema (coercion of messages into rows
 * is coerce.c).
 *
 * A schema file is read once at start; every column, and every field of a
 * RECORD at any depth, is checked so that a bad file fails with a message
 * naming the entry to fix.
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
#include <time.h>

#include "colibri/error.h"
#include "jsonread.h"
#include "schema_int.h"

#define NAME_MAX_LEN 128
#define SCHEMA_FILE_MAX (16u << 20)

/* ---- loading the schema -------------------------------------------------- */

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
    {"STRING", COL_STRING}, {"INT64", COL_INT64}, {"INTEGER", COL_INT64}, {"INT", COL_INT64},
    {"SMALLINT", COL_INT64}, {"BIGINT", COL_INT64}, {"TINYINT", COL_INT64},
    {"BYTEINT", COL_INT64}, {"FLOAT64", COL_FLOAT64}, {"FLOAT", COL_FLOAT64},
    {"BOOL", COL_BOOL}, {"BOOLEAN", COL_BOOL}, {"TIMESTAMP", COL_TIMESTAMP}, {"DATE", COL_DATE},
    {"NUMERIC", COL_NUMERIC}, {"DECIMAL", COL_NUMERIC}, {"BIGNUMERIC", COL_BIGNUMERIC},
    {"BIGDECIMAL", COL_BIGNUMERIC}, {"BYTES", COL_BYTES}, {"JSON", COL_JSON},
    {"DATETIME", COL_DATETIME}, {"TIME", COL_TIME}, {"GEOGRAPHY", COL_GEOGRAPHY},
    {"RECORD", COL_RECORD}, {"STRUCT", COL_RECORD},
};

/* BigQuery types this service cannot store or filter (yet). */
static const char *const unsupported_types[] = { "INTERVAL", "RANGE" };

/* c->json_key from c->name (names are identifiers: nothing to escape). 0 or ENOMEM. */
static int column_json_key(struct column *c)
{
    size_t n = c->name ? strlen(c->name) : 0;
    if (!c->name || !(c->json_key = malloc(n + 5)))
        return COLIBRI_ENOMEM;
    c->json_key[0] = ',';
    c->json_key[1] = '"';
    memcpy(c->json_key + 2, c->name, n);
    memcpy(c->json_key + 2 + n, "\":", 3);
    c->json_key_len = n + 4;
    return 0;
}

/* A "precision"/"scale" member: absent (-1), or a whole number (the tables API writes strings). */
static int param_number(const json_t *j, long *out)
{
    char *end;

    *out = -1;
    if (!j)
        return 0;
    if (json_is_integer(j))
        *out = (long)json_integer_value(j);
    else if (json_is_string(j) && json_string_length(j) > 0 && json_string_length(j) < 6)
        *out = strtol(json_string_value(j), &end, 10), *out = *end ? -2 : *out;
    else
        *out = -2;
    return *out >= 0 ? 0 : COLIBRI_ECONFIG;
}

/* NUMERIC/BIGNUMERIC digits, with "precision"/"scale" checked as BigQuery does. */
static int parse_decimal(const json_t *j, const char *where, struct column *c, char *err,
                         size_t errlen)
{
    bool big = c->elem == COL_BIGNUMERIC;
    long imax = big ? BIGNUMERIC_INT_DIGITS : NUMERIC_INT_DIGITS;
    long smax = big ? BIGNUMERIC_SCALE : NUMERIC_SCALE, p, sc;
    const json_t *jp = json_object_get(j, "precision"), *js = json_object_get(j, "scale");

    c->int_digits = (int)imax;
    c->scale = (int)smax;
    if (!jp && !js)
        return 0;
    if (param_number(jp, &p) || param_number(js, &sc)) {
        colibri_errmsg(err, errlen, "%s: \"precision\" and \"scale\" must be whole numbers", where);
        return COLIBRI_ECONFIG;
    }
    if (sc < 0)
        sc = 0;
    if (p < 0)
        p = sc + imax;
    if (sc > smax || p - sc < 1 || p - sc > imax) {
        colibri_errmsg(err, errlen, "%s: %s(%ld, %ld) is out of range: scale 0-%ld and "
                       "1-%ld digits before the point", where, col_type_name(c->elem), p, sc,
                       smax, imax);
        return COLIBRI_ECONFIG;
    }
    c->int_digits = (int)(p - sc);
    c->scale = (int)sc;
    c->parameterized = true;
    return 0;
}

static int parse_fields(const json_t *fields, const char *parent, int depth, struct column **out,
                        size_t *nout, char *err, size_t errlen);

/*
 * Column j into c: fields[idx] of the schema (parent NULL), or field idx of
 * the record named parent (dotted), records depth deep.
 */
static int parse_column(const json_t *j, const char *parent, size_t idx, int depth,
                        struct column *c, char *err, size_t errlen)
{
    char where[300];

    if (parent)
        snprintf(where, sizeof where, "field %s.fields", parent);
    else
        snprintf(where, sizeof where, "fields");
    const json_t *name = json_object_get(j, "name"), *type, *mode, *desc, *clu, *sub;
    const char *tn;
    char shown[VALUE_ECHO_MAX + 16], here[400];
    size_t k;

    if (!json_is_object(j)) {
        colibri_errmsg(err, errlen, "%s[%zu]: expected an object {\"name\",\"type\",...}", where, idx);
        return COLIBRI_ECONFIG;
    }
    if (!json_is_string(name)) {
        colibri_errmsg(err, errlen, "%s[%zu]: \"name\" is missing or not a string", where, idx);
        return COLIBRI_ECONFIG;
    }
    value_echo(shown, sizeof shown, json_string_value(name), json_string_length(name));
    if (json_string_length(name) != strlen(json_string_value(name)) ||
        !valid_name(json_string_value(name))) {
        colibri_errmsg(err, errlen, "%s[%zu]: name %s must match [A-Za-z_][A-Za-z0-9_]{0,127}",
               where, idx, shown);
        return COLIBRI_ECONFIG;
    }
    if (depth == 0 && json_string_value(name)[0] == '_') {
        colibri_errmsg(err, errlen, "%s[%zu]: name %s starts with '_', which is reserved for "
               "colibri's metadata columns", where, idx, shown);
        return COLIBRI_ECONFIG;
    }
    if (parent)         /* "field card.brand": BigQuery's dotted name of a nested field */
        snprintf(here, sizeof here, "field %s.%s", parent, json_string_value(name));
    else
        snprintf(here, sizeof here, "fields[%zu] %s", idx, shown);

    type = json_object_get(j, "type");
    if (!json_is_string(type)) {
        colibri_errmsg(err, errlen, "%s: \"type\" is missing or not a string", here);
        return COLIBRI_ECONFIG;
    }
    tn = json_string_value(type);
    for (k = 0; k < sizeof type_names / sizeof type_names[0]; k++)
        if (!strcasecmp(tn, type_names[k].name))
            break;
    if (k == sizeof type_names / sizeof type_names[0]) {
        bool known = false;
        for (size_t u = 0; u < sizeof unsupported_types / sizeof unsupported_types[0]; u++)
            known |= !strcasecmp(tn, unsupported_types[u]);
        char tshown[VALUE_ECHO_MAX + 16];
        value_echo(tshown, sizeof tshown, tn, json_string_length(type));
        colibri_errmsg(err, errlen, "%s: %s type %s; use STRING, BYTES, INT64, FLOAT64, NUMERIC, "
               "BIGNUMERIC, BOOL, TIMESTAMP, DATE, DATETIME, TIME, GEOGRAPHY, JSON or RECORD",
               here, known ? "unsupported" : "unknown", tshown);
        return COLIBRI_ECONFIG;
    }
    c->type = c->elem = type_names[k].t;
    sub = json_object_get(j, "fields");
    if (c->elem == COL_RECORD) {
        char dotted[300];
        if (depth + 1 > SCHEMA_MAX_NEST) {
            colibri_errmsg(err, errlen, "%s: records nest at most %d levels deep", here,
                           SCHEMA_MAX_NEST);
            return COLIBRI_ECONFIG;
        }
        snprintf(dotted, sizeof dotted, "%s%s%s", parent ? parent : "", parent ? "." : "",
                 json_string_value(name));
        int rc = parse_fields(sub, dotted, depth + 1, &c->fields, &c->nfields, err, errlen);
        if (rc)
            return rc;
    } else if (sub) {
        colibri_errmsg(err, errlen, "%s: \"fields\" is only for RECORD columns", here);
        return COLIBRI_ECONFIG;
    }
    if ((c->elem == COL_NUMERIC || c->elem == COL_BIGNUMERIC) &&
        parse_decimal(j, here, c, err, errlen))
        return COLIBRI_ECONFIG;

    mode = json_object_get(j, "mode");
    if (mode && !json_is_string(mode)) {
        colibri_errmsg(err, errlen, "%s: \"mode\" must be a string", here);
        return COLIBRI_ECONFIG;
    }
    if (mode && strcasecmp(json_string_value(mode), "REQUIRED") &&
        strcasecmp(json_string_value(mode), "NULLABLE") &&
        strcasecmp(json_string_value(mode), "REPEATED")) {
        colibri_errmsg(err, errlen, "%s: mode must be NULLABLE, REQUIRED or REPEATED", here);
        return COLIBRI_ECONFIG;
    }
    c->required = mode && !strcasecmp(json_string_value(mode), "REQUIRED");
    c->repeated = mode && !strcasecmp(json_string_value(mode), "REPEATED");
    if (c->repeated)
        c->type = COL_ARRAY;

    desc = json_object_get(j, "description");
    if (desc && !json_is_string(desc)) {
        colibri_errmsg(err, errlen, "%s: \"description\" must be a string", here);
        return COLIBRI_ECONFIG;
    }
    clu = json_object_get(j, "x-cluster");
    if (clu && !json_is_boolean(clu)) {
        colibri_errmsg(err, errlen, "%s: \"x-cluster\" must be true or false", here);
        return COLIBRI_ECONFIG;
    }
    c->cluster = json_is_true(clu);
    if (c->cluster && (depth > 0 || c->repeated || c->elem == COL_RECORD || c->elem == COL_JSON ||
                       c->elem == COL_GEOGRAPHY)) {
        colibri_errmsg(err, errlen, "%s: \"x-cluster\" applies to top-level scalar columns only "
                       "(not RECORD, REPEATED, JSON or GEOGRAPHY)", here);
        return COLIBRI_ECONFIG;
    }
    c->name = strdup(json_string_value(name));
    c->description = strdup(desc ? json_string_value(desc) : "");
    if (!c->name || !c->description || column_json_key(c)) {
        colibri_errmsg(err, errlen, "out of memory");
        return COLIBRI_ENOMEM;
    }
    return 0;
}

static void columns_free(struct column *cols, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(cols[i].name);
        free(cols[i].json_key);
        free(cols[i].description);
        columns_free(cols[i].fields, cols[i].nfields);
    }
    free(cols);
}

/* The "fields" of the RECORD parent (dotted) into *out; names unique within it, case folded. */
static int parse_fields(const json_t *fields, const char *parent, int depth, struct column **out,
                        size_t *nout, char *err, size_t errlen)
{
    size_t n = json_array_size(fields);

    *out = NULL;
    *nout = 0;
    if (!json_is_array(fields) || n == 0) {
        colibri_errmsg(err, errlen, "field %s: a RECORD needs a non-empty \"fields\" array", parent);
        return COLIBRI_ECONFIG;
    }
    if (!(*out = calloc(n, sizeof **out))) {
        colibri_errmsg(err, errlen, "out of memory");
        return COLIBRI_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        int rc = parse_column(json_array_get(fields, i), parent, i, depth, &(*out)[i], err, errlen);
        *nout = i + 1;          /* so that columns_free releases what parse_column set */
        if (rc)
            return rc;
        for (size_t k = 0; k < i; k++) {
            if (!strcasecmp((*out)[k].name, (*out)[i].name)) {
                colibri_errmsg(err, errlen, "field %s: duplicate field name '%s'", parent,
                               (*out)[i].name);
                return COLIBRI_ECONFIG;
            }
        }
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

/* s->index from the user columns: 0 or ENOMEM. */
static int schema_index_build(struct schema *s)
{
    size_t cap = 8;
    struct timespec ts;

    while (cap < 2 * s->nuser)
        cap *= 2;
    s->index = calloc(1, sizeof *s->index + cap * sizeof s->index->slots[0]);
    if (!s->index)
        return COLIBRI_ENOMEM;
    /* A seed per schema, so that nobody can pick keys that all collide. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    s->index->seed = jr_mix64((uint64_t)(uintptr_t)s ^ (uint64_t)ts.tv_nsec ^
                           ((uint64_t)ts.tv_sec << 32)) | 1;
    s->index->mask = cap - 1;
    for (size_t c = 0; c < s->nuser; c++) {
        size_t n = strlen(s->cols[c].name);
        uint64_t h = jr_hash(s->cols[c].name, n, s->index->seed);
        size_t i = h & s->index->mask;
        while (s->index->slots[i].name)
            i = (i + 1) & s->index->mask;
        s->index->slots[i] = (struct col_slot){ .name = s->cols[c].name, .len = n, .col = c, .h = h };
    }
    return 0;
}

int schema_parse(const char *json, size_t len, const char *table, const char *event_time,
                 struct schema **out, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = NULL, *fields;
    struct schema *s = NULL;
    char shown[VALUE_ECHO_MAX + 16];
    size_t n;
    int rc = COLIBRI_ECONFIG, et;

    *out = NULL;
    if (!event_time || !*event_time)
        event_time = "event_time";
    if (!table || !valid_name(table)) {
        value_echo(shown, sizeof shown, table ? table : "", table ? strlen(table) : 0);
        colibri_errmsg(err, errlen, "table name %s must match [A-Za-z_][A-Za-z0-9_]{0,127} "
               "(it is the schema file's base name)", shown);
        goto out;
    }
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        colibri_errmsg(err, errlen, "schema is not valid JSON: %s (line %d, column %d)",
               jerr.text, jerr.line, jerr.column);
        goto out;
    }
    /* A bare array (bq show --schema, Terraform) or a tables API {"fields": [...]}. */
    fields = json_is_object(root) ? json_object_get(root, "fields") : root;
    if (!json_is_array(fields) || json_array_size(fields) == 0) {
        colibri_errmsg(err, errlen, "schema must be a non-empty JSON array of columns");
        goto out;
    }
    n = json_array_size(fields);
    s = calloc(1, sizeof *s);
    if (!s || !(s->table = strdup(table)) || !(s->cols = calloc(n + META_COUNT, sizeof *s->cols))) {
        rc = COLIBRI_ENOMEM;
        colibri_errmsg(err, errlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        rc = parse_column(json_array_get(fields, i), NULL, i, 0, &s->cols[i], err, errlen);
        s->ncols = i + 1;       /* so schema_free releases what parse_column set */
        if (rc != 0)
            goto out;
        for (size_t k = 0; k < i; k++) {
            /* BigQuery and SQLite both fold the case of column names. */
            if (!strcasecmp(s->cols[k].name, s->cols[i].name)) {
                colibri_errmsg(err, errlen, "fields[%zu]: duplicate column name '%s' (see fields[%zu])",
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
        c->type = c->elem = meta_cols[m].t;
        c->required = meta_cols[m].required;
        c->metadata = true;
        s->ncols++;
        if (!c->name || !c->description || column_json_key(c)) {
            rc = COLIBRI_ENOMEM;
            colibri_errmsg(err, errlen, "out of memory");
            goto out;
        }
    }
    if (schema_index_build(s) != 0) {
        rc = COLIBRI_ENOMEM;
        colibri_errmsg(err, errlen, "out of memory");
        goto out;
    }
    et = schema_find(s, event_time);
    rc = COLIBRI_ECONFIG;
    if (et < 0 || s->cols[et].metadata) {
        value_echo(shown, sizeof shown, event_time, strlen(event_time));
        colibri_errmsg(err, errlen, "event-time column %s is not a column of the schema file", shown);
        goto out;
    }
    if (s->cols[et].type != COL_TIMESTAMP || !s->cols[et].required) {
        /* Rows are ordered and paged by it: a NULL would have no place. */
        colibri_errmsg(err, errlen, "event-time column '%s' must be TIMESTAMP and REQUIRED, "
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
        colibri_errmsg(err, errlen, "cannot open schema file %s: %s", path, strerror(errno));
        return rc;
    }
    for (;;) {
        if (len == cap) {
            char *t = cap < SCHEMA_FILE_MAX ? realloc(text, cap + 65536) : NULL;
            if (!t) {
                rc = cap < SCHEMA_FILE_MAX ? COLIBRI_ENOMEM : COLIBRI_ECONFIG;
                colibri_errmsg(err, errlen, "cannot read schema file %s: %s", path,
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
        colibri_errmsg(err, errlen, "cannot read schema file %s", path);
        goto out;
    }
    base = strrchr(path, '/');
    table = strdup(base ? base + 1 : path);
    if (!table) {
        rc = COLIBRI_ENOMEM;
        colibri_errmsg(err, errlen, "out of memory");
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
    columns_free(s->cols, s->ncols);
    free(s->table);
    free(s->index);
    free(s);
}

int schema_find(const struct schema *s, const char *name)
{
    for (size_t i = 0; i < s->ncols; i++)
        if (!strcmp(s->cols[i].name, name))
            return (int)i;
    return -1;
}
