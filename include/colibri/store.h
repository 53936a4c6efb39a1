/*
 * store.h — the one storage interface; backends are found by name.
 *
 * Callers see only these wrappers. A backend is an ops table (see
 * src/store/store_int.h); "sqlite:PATH" and "bigquery:PROJECT.DATASET.TABLE"
 * pick one. The wrappers give optional methods their defaults and check
 * post-conditions; nobody else calls a backend's ops.
 */
#ifndef COLIBRI_STORE_H
#define COLIBRI_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "colibri/batch.h"
#include "colibri/query.h"
#include "colibri/schema.h"

struct config;
struct store;

/*
 * Receives query results one row at a time. vals has one value per column
 * in cols (ncols); strings are valid only during the call. A non-zero
 * return stops the query and is returned by store_query.
 */
struct row_sink {
    int (*row)(void *ud, const size_t *cols, size_t ncols, const struct value *vals);
    void *ud;
};

/*
 * Open the store named by url ("sqlite:PATH", "sqlite::memory:", ...) for
 * schema s (borrowed; must outlive the store), with the backend's settings
 * from cfg (read during the call only; the BigQuery store needs it, SQLite
 * takes NULL). Creates tables as needed. On failure *out is NULL and the
 * reason has been logged.
 */
int store_open(const struct config *cfg, const char *url, const struct schema *s, struct store **out);

/* Write b atomically: rows (idempotent on _id), dead letters, positions. */
int store_insert(struct store *st, const struct batch *b, struct insert_result *out);

/*
 * Run q: emit up to q->limit + 1 rows (the extra one tells the caller there
 * is a next page) with columns q->fields followed by the event-time column
 * and _id, in (event time, _id) order, asc or desc.
 */
int store_query(struct store *st, const struct query *q, struct row_sink *sink);

/* Emit the row whose _id is id (all columns), or COLIBRI_ENOTFOUND. */
int store_get(struct store *st, const char *id, struct row_sink *sink);

/* Stored next position for key and its witness (0 if none), or COLIBRI_ENOTFOUND. */
int store_position(struct store *st, const char *key, int64_t *out_next, int64_t *out_witness);

/* 0 when the store answers; COLIBRI_EUNAVAIL otherwise. */
int store_ping(struct store *st);

/* Backend name ("sqlite", "bigquery"). */
const char *store_name(const struct store *st);

void store_close(struct store *st);

#endif
