/*
 * bigquery_int.h — what the BigQuery store's files share (store/bigquery*.c
 * only): the store's state and its pooled API call.
 */
#ifndef COLIBRI_BIGQUERY_INT_H
#define COLIBRI_BIGQUERY_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "colibri/arena.h"
#include "colibri/batch.h"
#include "colibri/gcp.h"
#include "colibri/schema.h"
#include "colibri/store.h"
#include "store/bigquery_cache.h"

#define DEAD_TABLE "_dead_letters"

struct client_node {
    struct rest_client *c;
    struct client_node *next;
};

struct bq_store {
    const struct schema *schema;
    const char *project, *dataset, *table;
    const char *base;           /* ".../bigquery/v2/projects/PROJECT" */
    const char *table_url;      /* base + "/datasets/D/tables/T" */
    const char *location;       /* may be NULL */
    const char *max_bytes;      /* decimal string, or NULL for no guard */
    struct arena texts;         /* owns the strings above */
    int64_t window_us;      /* GET /data without since: the last this long; 0 = unbounded */
    struct gcp_auth *auth;
    pthread_mutex_t plock;      /* the client pool */
    struct client_node *pool;
    struct bq_cache cache;      /* query answers */
};

/*
 * One API call with a pooled client: method url with a JSON body, or raw
 * JSON text when raw is not NULL. As rest_call.
 */
int bq_call(struct bq_store *s, const char *method, const char *url, json_t *body,
            const char *raw, json_t **resp, long *status, char *err, size_t errlen);

/* Column c as a field of a table schema, nested fields and all (bigquery_types.c). */
json_t *bq_field_json(const struct column *c);

/* v (a cell of column c) as insertAll takes it: records and arrays nested, INT64 quoted. */
void bq_row_value(const struct column *c, const struct value *v, struct strbuf *sb);

/*
 * A cell of the f/v row format into v for column c: scalars by value_parse_bq,
 * records and arrays as their canonical JSON (kept in a). 0 or EIO / ENOMEM.
 */
int bq_cell_value(const struct column *c, json_t *cell, struct value *v, struct arena *a);

/* store_ops.insert (bigquery_insert.c). */
int bq_insert(void *ctx, const struct batch *b, struct insert_result *out);

#endif
