/*
 * schema.c — the BigQuery JSON table schema, and coercion of messages into rows.
 *
 * A schema file is read once at start; every column is checked so that a bad
 * file fails with a message naming the entry to fix. Coercion is on the hot
 * path (every ingested message): one pass over the message with the reader of
 * jsonread.c (jansson only reads schema files), a hash lookup per key, and two
 * allocations per row (the values and one buffer holding every string).
 * Values are typed by value.c.
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

#define NAME_MAX_LEN 128
#define SCHEMA_FILE_MAX (16u << 20)

/* Column lookup: open addressing over the user columns, built by schema_parse. */
struct schema_index {
    uint64_t seed;
    size_t mask;
    struct col_slot {
        const char *name;       /* NULL: free */
        size_t len, col;
        uint64_t h;
    } slots[];
};

static long find_column(const struct schema *s, const char *k, size_t n, uint64_t h)
{
    const struct schema_index *ix = s->index;

    if (!ix) {                  /* a schema not made by schema_parse */
        for (size_t i = 0; i < s->nuser; i++)
            if (strlen(s->cols[i].name) == n && memcmp(s->cols[i].name, k, n) == 0)
                return (long)i;
        return -1;
    }
    for (size_t i = h & ix->mask; ix->slots[i].name; i = (i + 1) & ix->mask) {
        const struct col_slot *sl = &ix->slots[i];
        if (sl->h == h && sl->len == n && memcmp(sl->name, k, n) == 0)
            return (long)sl->col;
    }
    return -1;
}

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

/* How a value reads in a reason: "12abc" quoted, numbers as written. */
static void describe(const struct jtoken *t, const char *text, size_t n, char *buf, size_t len)
{
    char num[32];

    switch (t->type) {
    case J_STRING:  value_echo(buf, len, text, n); break;
    case J_INT:     snprintf(buf, len, "%lld", (long long)t->i); break;
    case J_REAL:
        float_format(t->f, num);
        snprintf(buf, len, "%s", num);
        break;
    case J_TRUE:    snprintf(buf, len, "true"); break;
    case J_FALSE:   snprintf(buf, len, "false"); break;
    case J_NULL:    snprintf(buf, len, "null"); break;
    case J_OBJECT:  snprintf(buf, len, "an object"); break;
    case J_ARRAY:   snprintf(buf, len, "an array"); break;
    }
}

/* Epoch seconds (integer or real) → µs within years 0001..9999. */
static int epoch_value(const struct jtoken *t, int64_t *us)
{
    if (t->type == J_INT) {
        if (t->i < TS_MIN_US / US_PER_SEC || t->i > TS_MAX_US / US_PER_SEC)
            return COLIBRI_EINVAL;
        *us = t->i * US_PER_SEC;
        return 0;
    }
    double f = t->f * 1e6;
    if (!(f >= (double)TS_MIN_US && f <= (double)TS_MAX_US))
        return COLIBRI_EINVAL;
    *us = llround(f);           /* nearest µs: a double cannot hold more anyway */
    return *us <= TS_MAX_US ? 0 : COLIBRI_EINVAL;
}

struct coerce {
    const struct schema *s;
    struct value *vals;
    unsigned char *seen;        /* per user column: its key was in the message */
    size_t bad;                 /* the first column (in schema order) refused, or SIZE_MAX */
    char why[192];              /* ... and why */
};

/* Coerce one non-null value that is not a string; a refusal is kept if it comes first. */
static void typed_value(struct coerce *c, size_t col, const struct jtoken *t)
{
    enum col_type type = c->s->cols[col].type;
    struct value *v = &c->vals[col];
    char shown[VALUE_ECHO_MAX + 16];
    bool range = false;

    switch (type) {
    case COL_STRING:
    case COL_DATE:
        break;
    case COL_INT64:
        /* Reals are refused even when integral (1.0, 1e3): a producer sending
         * them has a float in hand, and silently truncating hides that. */
        if (t->type != J_INT)
            break;
        v->u.i = t->i;
        return;
    case COL_FLOAT64:
        if (t->type != J_INT && t->type != J_REAL)
            break;
        v->u.f = t->type == J_INT ? (double)t->i : t->f;
        return;
    case COL_BOOL:
        if (t->type != J_TRUE && t->type != J_FALSE)
            break;
        v->u.b = t->type == J_TRUE;
        return;
    case COL_TIMESTAMP:
        if (t->type != J_INT && t->type != J_REAL)
            break;
        if (epoch_value(t, &v->u.i) == 0)
            return;
        range = true;
        break;
    }
    if (col >= c->bad)
        return;         /* an earlier column is reported already */
    c->bad = col;
    describe(t, NULL, 0, shown, sizeof shown);
    if (range)
        colibri_errmsg(c->why, sizeof c->why, "TIMESTAMP out of range (years 0001-9999), got %s", shown);
    else
        colibri_errmsg(c->why, sizeof c->why, "expected %s%s, got %s", col_type_expected(type),
               type == COL_TIMESTAMP ? " or epoch seconds" : "", shown);
}

/* The value of user column col, r->p at it. */
static int read_field(struct jreader *r, struct coerce *c, size_t col)
{
    enum col_type type = c->s->cols[col].type;
    struct value *v = &c->vals[col];
    struct jtoken t;
    const char *text;
    char *dst;
    size_t n;
    int rc;

    if ((rc = jr_token(r, &t, 2)) != 0)
        return rc;
    if (t.type == J_NULL) {
        v->is_null = true;
        return 0;
    }
    if (t.type != J_STRING) {
        typed_value(c, col, &t);
        return 0;
    }
    dst = r->buf + r->used;
    if (type == COL_STRING) {
        n = jr_decode(&t.s, dst);
        dst[n] = '\0';          /* strings are C strings too, for consumers that want them */
        v->u.s.p = dst;
        v->u.s.n = n;
        r->used += n + 1;
        return 0;
    }
    if (t.s.esc) {
        text = dst;
        n = jr_decode(&t.s, dst);
    } else {
        text = t.s.raw;
        n = t.s.n;
    }
    if (value_parse(type, text, n, v, col < c->bad ? c->why : NULL, sizeof c->why) != 0 &&
        col < c->bad)
        c->bad = col;
    return 0;
}

/* The message is an object, r->p at its '{'. */
static int read_object(struct jreader *r, struct coerce *c)
{
    struct jstr k;
    const char *kp;
    size_t kn;
    uint64_t h;

    r->p++;
    jr_skip_ws(r);
    if (r->p < r->end && *r->p == '}') {
        r->p++;
        return 0;
    }
    for (;;) {
        const unsigned char *at = r->p;
        int rc;
        if ((rc = jr_key(r, &k, &kp, &kn, &h)) != 0)
            return rc;
        long col = find_column(c->s, kp, kn, h);
        if (col < 0) {
            if ((rc = jr_remember_key(r, 0, &k, kp, kn, h, at)) != 0 || (rc = jr_skip(r, 2)) != 0)
                return rc;
        } else {
            if (c->seen[col])
                return jr_syntax(r, at, "duplicate object key");
            c->seen[col] = 1;
            if ((rc = read_field(r, c, (size_t)col)) != 0)
                return rc;
        }
        jr_skip_ws(r);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            jr_skip_ws(r);
            continue;
        }
        if (r->p < r->end && *r->p == '}') {
            r->p++;
            return 0;
        }
        return jr_syntax(r, r->p, "',' or '}' expected");
    }
}

/* The message is not an object: check it all the same, and say what it is in shown. */
static int read_other(struct jreader *r, char *shown, size_t len)
{
    struct jtoken t;
    size_t n = 0;
    int rc;

    if ((rc = jr_token(r, &t, 1)) != 0)
        return rc;
    if (t.type == J_STRING)
        n = jr_decode(&t.s, r->buf);
    describe(&t, r->buf, n, shown, len);
    return 0;
}

/* Every user column in schema order: the first missing, null or refused one fails the row. */
static int check_row(struct coerce *c, char *reason, size_t reasonlen)
{
    const struct schema *s = c->s;

    for (size_t i = 0; i < s->nuser; i++) {
        const struct column *col = &s->cols[i];
        if (!c->seen[i] || c->vals[i].is_null) {
            if (col->required) {
                colibri_errmsg(reason, reasonlen, c->seen[i] ? "required field '%s' is null"
                                                     : "missing required field '%s'", col->name);
                return COLIBRI_EINVAL;
            }
            c->vals[i].is_null = true;
        } else if (i == c->bad) {
            colibri_errmsg(reason, reasonlen, "field '%s': %s", col->name, c->why);
            return COLIBRI_EINVAL;
        }
    }
    for (size_t i = s->nuser; i < s->ncols; i++)
        c->vals[i].is_null = true;
    return 0;
}

int schema_coerce(const struct schema *s, const char *msg, size_t len, struct row *out,
                  char *reason, size_t reasonlen)
{
    struct jreader r = {
        .start = (const unsigned char *)msg, .p = (const unsigned char *)msg,
        .end = (const unsigned char *)msg + len, .back = len + 1,
        .seed = s->index ? s->index->seed : 0,
    };
    struct coerce c = { .s = s, .bad = SIZE_MAX };
    struct key keys[KEYS_INLINE];       /* left uninitialised: most messages need none */
    char shown[VALUE_ECHO_MAX + 16], why[160];
    bool object;
    int rc;

    memset(out, 0, sizeof *out);
    r.keys.inline_slots = keys;
    /* The values, then one "seen" byte per user column; and the string buffer. */
    c.vals = malloc(s->ncols * sizeof *c.vals + s->nuser);
    r.buf = malloc(len + 1);
    if (!c.vals || !r.buf) {
        rc = COLIBRI_ENOMEM;
        colibri_errmsg(reason, reasonlen, "out of memory");
        goto out;
    }
    memset(c.vals, 0, s->ncols * sizeof *c.vals + s->nuser);
    c.seen = (unsigned char *)(c.vals + s->ncols);

    jr_skip_ws(&r);
    object = r.p < r.end && *r.p == '{';
    rc = object ? read_object(&r, &c) : read_other(&r, shown, sizeof shown);
    if (rc == 0) {
        jr_skip_ws(&r);
        if (r.p != r.end)
            rc = jr_syntax(&r, r.p, "end of file expected");
    }
    if (r.oom) {
        rc = COLIBRI_ENOMEM;
        colibri_errmsg(reason, reasonlen, "out of memory");
        goto out;
    }
    if (rc != 0) {
        snprintf(why, sizeof why, "%s at byte %zu", r.err, r.errpos);
        colibri_errmsg(reason, reasonlen, "message is not valid JSON: %s", why);
        goto out;
    }
    if (!object) {
        rc = COLIBRI_EINVAL;
        colibri_errmsg(reason, reasonlen, "message is not a JSON object, got %s", shown);
        goto out;
    }
    if ((rc = check_row(&c, reason, reasonlen)) != 0)
        goto out;
    r.buf[r.used] = '\0';
    if (len + 1 - r.used > 4096) {
        /* A large message with little to keep (rows wait in batches): give back the rest. */
        char *small = malloc(r.used + 1);
        if (small) {
            memcpy(small, r.buf, r.used + 1);
            for (size_t i = 0; i < s->nuser; i++)
                if (s->cols[i].type == COL_STRING && !c.vals[i].is_null)
                    c.vals[i].u.s.p = small + (c.vals[i].u.s.p - r.buf);
            free(r.buf);
            r.buf = small;
        }
    }
    out->vals = c.vals;
    out->buf = r.buf;
    c.vals = NULL;
    r.buf = NULL;
out:
    if (r.keys.slots != r.keys.inline_slots)
        free(r.keys.slots);
    free(c.vals);
    free(r.buf);
    return rc;
}

void row_release(struct row *r)
{
    if (!r)
        return;
    free(r->vals);
    free(r->buf);
    free(r->meta);
    r->vals = NULL;
    r->buf = NULL;
    r->meta = NULL;
}

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
    {"STRING", COL_STRING}, {"INT64", COL_INT64}, {"INTEGER", COL_INT64},
    {"FLOAT64", COL_FLOAT64}, {"FLOAT", COL_FLOAT64}, {"BOOL", COL_BOOL},
    {"BOOLEAN", COL_BOOL}, {"TIMESTAMP", COL_TIMESTAMP}, {"DATE", COL_DATE},
};

/* BigQuery types this service cannot store or filter (yet). */
static const char *const unsupported_types[] = {
    "NUMERIC", "BIGNUMERIC", "DECIMAL", "BIGDECIMAL", "BYTES", "DATETIME", "TIME",
    "GEOGRAPHY", "JSON", "INTERVAL", "RANGE",
};


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

static int parse_column(const json_t *j, size_t idx, struct column *c, char *err, size_t errlen)
{
    const json_t *name = json_object_get(j, "name"), *type, *mode, *desc, *clu;
    const char *tn;
    char shown[VALUE_ECHO_MAX + 16];
    size_t k;

    if (!json_is_object(j)) {
        colibri_errmsg(err, errlen, "fields[%zu]: expected an object {\"name\",\"type\",...}", idx);
        return COLIBRI_ECONFIG;
    }
    if (!json_is_string(name)) {
        colibri_errmsg(err, errlen, "fields[%zu]: \"name\" is missing or not a string", idx);
        return COLIBRI_ECONFIG;
    }
    value_echo(shown, sizeof shown, json_string_value(name), json_string_length(name));
    if (json_string_length(name) != strlen(json_string_value(name)) ||
        !valid_name(json_string_value(name))) {
        colibri_errmsg(err, errlen, "fields[%zu]: name %s must match [A-Za-z_][A-Za-z0-9_]{0,127}",
               idx, shown);
        return COLIBRI_ECONFIG;
    }
    if (json_string_value(name)[0] == '_') {
        colibri_errmsg(err, errlen, "fields[%zu]: name %s starts with '_', which is reserved for "
               "colibri's metadata columns", idx, shown);
        return COLIBRI_ECONFIG;
    }

    type = json_object_get(j, "type");
    if (!json_is_string(type)) {
        colibri_errmsg(err, errlen, "fields[%zu] %s: \"type\" is missing or not a string", idx, shown);
        return COLIBRI_ECONFIG;
    }
    tn = json_string_value(type);
    if (json_object_get(j, "fields") || !strcasecmp(tn, "RECORD") || !strcasecmp(tn, "STRUCT")) {
        colibri_errmsg(err, errlen, "fields[%zu] %s: RECORD/STRUCT columns are not supported", idx, shown);
        return COLIBRI_ECONFIG;
    }
    for (k = 0; k < sizeof type_names / sizeof type_names[0]; k++)
        if (!strcasecmp(tn, type_names[k].name))
            break;
    if (k == sizeof type_names / sizeof type_names[0]) {
        bool known = false;
        for (size_t u = 0; u < sizeof unsupported_types / sizeof unsupported_types[0]; u++)
            known |= !strcasecmp(tn, unsupported_types[u]);
        char tshown[VALUE_ECHO_MAX + 16];
        value_echo(tshown, sizeof tshown, tn, json_string_length(type));
        colibri_errmsg(err, errlen, "fields[%zu] %s: %s type %s; use STRING, INT64, FLOAT64, BOOL, "
               "TIMESTAMP or DATE", idx, shown, known ? "unsupported" : "unknown", tshown);
        return COLIBRI_ECONFIG;
    }
    c->type = type_names[k].t;

    mode = json_object_get(j, "mode");
    if (mode && !json_is_string(mode)) {
        colibri_errmsg(err, errlen, "fields[%zu] %s: \"mode\" must be a string", idx, shown);
        return COLIBRI_ECONFIG;
    }
    if (mode && !strcasecmp(json_string_value(mode), "REPEATED")) {
        colibri_errmsg(err, errlen, "fields[%zu] %s: REPEATED columns are not supported", idx, shown);
        return COLIBRI_ECONFIG;
    }
    if (mode && strcasecmp(json_string_value(mode), "REQUIRED") &&
        strcasecmp(json_string_value(mode), "NULLABLE")) {
        colibri_errmsg(err, errlen, "fields[%zu] %s: mode must be NULLABLE or REQUIRED", idx, shown);
        return COLIBRI_ECONFIG;
    }
    c->required = mode && !strcasecmp(json_string_value(mode), "REQUIRED");

    desc = json_object_get(j, "description");
    if (desc && !json_is_string(desc)) {
        colibri_errmsg(err, errlen, "fields[%zu] %s: \"description\" must be a string", idx, shown);
        return COLIBRI_ECONFIG;
    }
    clu = json_object_get(j, "x-cluster");
    if (clu && !json_is_boolean(clu)) {
        colibri_errmsg(err, errlen, "fields[%zu] %s: \"x-cluster\" must be true or false", idx, shown);
        return COLIBRI_ECONFIG;
    }
    c->cluster = json_is_true(clu);
    c->name = strdup(json_string_value(name));
    c->description = strdup(desc ? json_string_value(desc) : "");
    if (!c->name || !c->description || column_json_key(c)) {
        colibri_errmsg(err, errlen, "out of memory");
        return COLIBRI_ENOMEM;
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
        rc = parse_column(json_array_get(fields, i), i, &s->cols[i], err, errlen);
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
        c->type = meta_cols[m].t;
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
    for (size_t i = 0; i < s->ncols; i++) {
        free(s->cols[i].name);
        free(s->cols[i].json_key);
        free(s->cols[i].description);
    }
    free(s->cols);
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
