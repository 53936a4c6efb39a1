/*
 * ingest.c — decode → validate → batch → store, for every source.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "colibri/clock.h"
#include "colibri/error.h"
#include "colibri/ingest.h"
#include "colibri/metrics.h"

void ingest_init(struct ingest *ing, const char *source, const struct schema *s, struct store *st)
{
    memset(ing, 0, sizeof *ing);
    ing->source = source;
    ing->schema = s;
    ing->store = st;
    batch_init(&ing->batch);
}

/* Fill the metadata columns of r; _id and _source are copied into r->meta. */
static int set_metadata(const struct schema *s, struct row *r, const struct message *m, int64_t now)
{
    size_t idn = strlen(m->id), srcn = strlen(m->source);
    if (!(r->meta = malloc(idn + srcn + 2)))
        return COLIBRI_ENOMEM;
    memcpy(r->meta, m->id, idn + 1);
    memcpy(r->meta + idn + 1, m->source, srcn + 1);
    struct value *meta = &r->vals[s->nuser];
    meta[META_ID] = (struct value){ .u.s = { r->meta, idn } };
    meta[META_SOURCE] = (struct value){ .u.s = { r->meta + idn + 1, srcn } };
    meta[META_PUBLISHED_AT] = (struct value){ .is_null = m->published_at == 0, .u.i = m->published_at };
    meta[META_INGESTED_AT] = (struct value){ .u.i = now };
    return 0;
}

int ingest_message(struct ingest *ing, const struct message *m, char *reason, size_t reasonlen)
{
    char why[256];
    struct row r;
    int64_t now = clock_real_us();
    int rc;

    if (ingest_pending(ing) == 0)
        ing->first_at = now;
    if (m->position && (rc = batch_set_position(&ing->batch, m->position, m->next_position, m->witness)))
        return rc;

    if (m->unread) {
        snprintf(why, sizeof why, "%s", m->unread);
    } else if (m->len > INGEST_MESSAGE_MAX) {
        snprintf(why, sizeof why, "message of %zu bytes exceeds the %d-byte limit", m->len, INGEST_MESSAGE_MAX);
    } else if (schema_coerce(ing->schema, m->payload, m->len, &r, why, sizeof why) == 0) {
        if ((rc = set_metadata(ing->schema, &r, m, now)) == 0 &&
            (rc = batch_add_row(&ing->batch, &r, m->len)) == 0)
            return 0;
        row_release(&r);
        return rc;
    }
    if (reason)
        snprintf(reason, reasonlen, "%s", why);
    rc = batch_add_dead(&ing->batch, m->id, m->source, why, m->payload, m->len, now);
    return rc ? rc : COLIBRI_EINVAL;
}

size_t ingest_pending(const struct ingest *ing)
{
    return ing->batch.nrows + ing->batch.ndead;
}

void ingest_batching(struct ingest *ing, long batch_max, long batch_ms)
{
    ing->batch_max = batch_max > 0 ? (size_t)batch_max : 0;
    ing->batch_us = (int64_t)batch_ms * 1000;
}

bool ingest_due(const struct ingest *ing, int64_t now)
{
    size_t pending = ingest_pending(ing);
    return pending && ((ing->batch_max && pending >= ing->batch_max) || now - ing->first_at >= ing->batch_us);
}

int ingest_wait_ms(const struct ingest *ing, int64_t now, int idle_ms)
{
    if (ingest_due(ing, now))
        return 0;
    if (!ingest_pending(ing))
        return idle_ms;
    int64_t left = ing->batch_us - (now - ing->first_at);
    return left > 0 ? (int)(left / 1000) : 0;
}

bool ingest_empty(const struct ingest *ing)
{
    return ingest_pending(ing) == 0 && ing->batch.npos == 0;
}

size_t ingest_bytes(const struct ingest *ing)
{
    return ing->batch.bytes;
}

void ingest_take(struct ingest *ing, struct batch *out)
{
    struct batch empty = *out;

    *out = ing->batch;
    ing->batch = empty;
    batch_clear(&ing->batch);
}

void ingest_drop(struct ingest *ing)
{
    batch_clear(&ing->batch);
}

/* The newest event time among the batch's rows, for the freshness gauge. */
static int64_t newest_event(const struct schema *s, const struct batch *b)
{
    int64_t newest = 0;
    for (size_t i = 0; i < b->nrows; i++)
        if (!b->rows[i].vals[s->event_time].is_null && b->rows[i].vals[s->event_time].u.i > newest)
            newest = b->rows[i].vals[s->event_time].u.i;
    return newest;
}

int ingest_store(struct ingest *ing, const struct batch *b, struct insert_result *out)
{
    struct insert_result res;
    int64_t t0 = clock_real_us();
    int rc = store_insert(ing->store, b, &res);
    if (rc)
        return rc;
    /* freshness from rows actually stored: with duplicates in the batch we cannot tell which
     * rows were new, so it waits for a batch without any */
    metrics_batch(ing->source, &res, b->nrows + b->ndead, (double)(clock_real_us() - t0) / 1e6,
                  res.duplicates == 0 ? newest_event(ing->schema, b) : 0);
    ing->total.stored += res.stored;
    ing->total.duplicates += res.duplicates;
    ing->total.dead += res.dead;
    if (out)
        *out = res;
    return 0;
}

int ingest_flush(struct ingest *ing, struct insert_result *out)
{
    int rc = ingest_store(ing, &ing->batch, out);
    if (!rc)
        batch_clear(&ing->batch);
    return rc;
}

void ingest_release(struct ingest *ing)
{
    batch_release(&ing->batch);
}
