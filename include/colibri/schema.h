/*
 * schema.h — the table schema, the single source of truth.
 *
 * Loads a BigQuery JSON table schema ([{"name","type","mode","description"}])
 * and appends colibri's metadata columns (_id, _source, _published_at,
 * _ingested_at). The same struct creates the store's table, validates and
 * coerces every incoming message, types every filter value and documents
 * /openapi.json.
 */
#ifndef COLIBRI_SCHEMA_H
#define COLIBRI_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "colibri/arena.h"
#include "colibri/strbuf.h"
#include "colibri/value.h"

struct schema_index;

/* A column, or a field of a RECORD column (then metadata and cluster are false). */
struct column {
    char *name;
    char *description;      /* may be "" */
    enum col_type type;     /* what a cell holds: COL_ARRAY for a REPEATED column */
    enum col_type elem;     /* the BigQuery type: type, or each element's of a REPEATED column */
    bool required;          /* mode REQUIRED */
    bool repeated;          /* mode REPEATED */
    bool metadata;          /* added by colibri, not in the schema file */
    bool cluster;           /* "x-cluster": true in the schema file: index it */
    bool parameterized;     /* NUMERIC/BIGNUMERIC: "precision"/"scale" given in the schema */
    int int_digits, scale;  /* NUMERIC/BIGNUMERIC: digits before and after the point */
    struct column *fields;  /* RECORD: its fields, in order */
    size_t nfields;
    char *json_key;         /* ,"name": — what a JSON row writes before the value */
    size_t json_key_len;
};

/* Records nest at most this deep (BigQuery's limit). */
#define SCHEMA_MAX_NEST 15

/* Indexes of the metadata columns, always the last four, in this order. */
enum { META_ID, META_SOURCE, META_PUBLISHED_AT, META_INGESTED_AT, META_COUNT };

struct schema {
    char *table;            /* table name: the schema file's base name */
    struct column *cols;    /* user columns, then the META_COUNT metadata columns */
    size_t ncols;           /* all columns */
    size_t nuser;           /* user columns: cols[0 .. nuser) */
    size_t event_time;      /* index of the TIMESTAMP column used for order */
    struct schema_index *index;     /* private to schema.c: key → column for schema_coerce */
};

/* Append c's ,"name": to a JSON object being written; the first key opens the object instead. */
static inline void json_key_add(struct strbuf *sb, const struct column *c, bool first)
{
    if (first)
        strbuf_addc(sb, '{');
    strbuf_add(sb, c->json_key + first, c->json_key_len - first);
}

/* Index of metadata column m (META_ID, ...). */
static inline size_t schema_meta(const struct schema *s, int m) { return s->nuser + (size_t)m; }

/*
 * Load the schema file at path; event_time names a TIMESTAMP column of it.
 * On failure *out is NULL and err (errlen bytes) says what to fix.
 * Caller frees with schema_free.
 */
int schema_load(const char *path, const char *event_time, struct schema **out,
                char *err, size_t errlen);

/* Same as schema_load but from a JSON text already in memory. */
int schema_parse(const char *json, size_t len, const char *table, const char *event_time,
                 struct schema **out, char *err, size_t errlen);

void schema_free(struct schema *s);

/* schema/flights.json as it was at build time (the Makefile generates it), NUL-terminated. */
extern const char schema_builtin[];

/* Column index of name, or -1. */
int schema_find(const struct schema *s, const char *name);

/*
 * A coerced row: one value per schema column. Strings point into buf, which
 * the row owns. row_release frees buf, meta and the values array.
 */
struct row {
    struct value *vals;     /* ncols values */
    char *buf;
    char *meta;             /* metadata strings the ingest path sets (_id, _source); freed with the row */
    struct arena ext;       /* canonical texts (NUMERIC, records, arrays, WKT, ...) */
};

/*
 * Validate and coerce one message (a JSON object, len bytes, not necessarily
 * NUL-terminated) into out. Required fields must be present and non-null;
 * values are coerced to the column type (INT64 from an integer or integer
 * string, FLOAT64 from a number or numeric string, BOOL from true/false or
 * "true"/"false", TIMESTAMP from RFC 3339 or epoch seconds, DATE from
 * YYYY-MM-DD, STRING from a string, and the types of docs/types.md);
 * records and arrays become their canonical JSON text, a missing or null
 * REPEATED column is []; unknown fields (at any depth) and metadata names are
 * ignored. Metadata columns are left NULL for the caller to fill.
 * On failure returns COLIBRI_EINVAL, out is zeroed, and reason holds a short
 * English sentence naming the field.
 */
int schema_coerce(const struct schema *s, const char *msg, size_t len, struct row *out,
                  char *reason, size_t reasonlen);

void row_release(struct row *r);

#endif
