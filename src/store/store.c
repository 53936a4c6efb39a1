/*
 * store.c — finds a backend by the URL's scheme and wraps its ops: the one
 * place that calls ->ops->, fills optional methods' defaults and checks
 * post-conditions.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "colibri/error.h"
#include "colibri/log.h"
#include "colibri/metrics.h"
#include "store/store_int.h"

struct store {
    const struct store_ops *ops;
    void *ctx;
};

static const struct store_ops *const backends[] = { &sqlite_store_ops, &bigquery_store_ops };

int store_open(const struct config *cfg, const char *url, const struct schema *s, struct store **out)
{
    *out = NULL;
    const char *colon = strchr(url, ':');
    for (size_t i = 0; colon && i < sizeof backends / sizeof backends[0]; i++) {
        const struct store_ops *ops = backends[i];
        if (strlen(ops->name) != (size_t)(colon - url) || strncmp(ops->name, url, strlen(ops->name)))
            continue;
        struct store *st = calloc(1, sizeof *st);
        if (!st)
            return COLIBRI_ENOMEM;
        st->ops = ops;
        int rc = ops->open(cfg, colon + 1, s, &st->ctx);
        if (rc) {
            free(st);
            return rc;
        }
        *out = st;
        return 0;
    }
    log_error("unknown store '%s': expected sqlite:PATH or bigquery:PROJECT.DATASET.TABLE", url);
    return COLIBRI_ECONFIG;
}

/* Count a failure in colibri_store_errors_total; "not found" is an answer, not a failure. */
static int counted(const struct store *st, int rc)
{
    if (rc && rc != COLIBRI_ENOTFOUND)
        metrics_store_error(st->ops->name, rc);
    return rc;
}

int store_insert(struct store *st, const struct batch *b, struct insert_result *out)
{
    memset(out, 0, sizeof *out);
    if (b->nrows == 0 && b->ndead == 0 && b->npos == 0)
        return 0;
    int rc = st->ops->insert(st->ctx, b, out);
    /* every row is stored, a duplicate, or (when the backend refused it) a dead letter */
    if (rc == 0)
        assert(out->stored + out->duplicates <= b->nrows &&
               out->stored + out->duplicates + out->dead >= b->nrows);
    return counted(st, rc);
}

int store_query(struct store *st, const struct query *q, struct row_sink *sink)
{
    return counted(st, st->ops->query(st->ctx, q, sink));
}

int store_get(struct store *st, const char *id, struct row_sink *sink)
{
    return counted(st, st->ops->get(st->ctx, id, sink));
}

int store_position(struct store *st, const char *key, int64_t *out_next, int64_t *out_witness)
{
    *out_next = *out_witness = 0;
    if (!st->ops->position)
        return COLIBRI_ENOTFOUND;
    return st->ops->position(st->ctx, key, out_next, out_witness);
}

int store_ping(struct store *st)
{
    return counted(st, st->ops->ping ? st->ops->ping(st->ctx) : 0);
}

const char *store_name(const struct store *st)
{
    return st->ops->name;
}

void store_close(struct store *st)
{
    if (!st)
        return;
    st->ops->close(st->ctx);
    free(st);
}
