/*
 * ingest.h — the one path from a raw message to the store, shared by every
 * source (colibri load, Kafka, Pub/Sub pull and push).
 *
 * ingest_message decodes and validates a message against the schema and adds
 * it to the current batch as a row or, if invalid, as a dead letter; nothing
 * is lost either way. ingest_flush writes the batch with one store_insert:
 * rows, dead letters and source positions in one transaction on SQLite; on
 * BigQuery rows and dead letters by insertAll, positions not kept (see
 * store/bigquery.c).
 */
#ifndef COLIBRI_INGEST_H
#define COLIBRI_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "colibri/batch.h"
#include "colibri/schema.h"
#include "colibri/store.h"

#define INGEST_MESSAGE_MAX (1024 * 1024)   /* larger messages are dead-lettered */

struct ingest {
    const char *source;            /* metrics label: "kafka", "pubsub", "push", "load" */
    const struct schema *schema;   /* borrowed */
    struct store *store;           /* borrowed */
    struct batch batch;            /* the one filling */
    struct insert_result total;    /* since ingest_init */
    size_t batch_max;              /* a batch is due at this many messages (0: never by count) */
    int64_t batch_us;              /* ... or this long after its first message (0: at once) */
    int64_t first_at;              /* µs (wall clock), when the filling batch got its first message */
};

/* One message as a source delivers it. */
struct message {
    const char *id;         /* becomes _id: "kafka:t/p/o", a Pub/Sub messageId, "load:f:n" */
    const char *source;     /* becomes _source: "kafka", "pubsub", "load", ... */
    int64_t published_at;   /* µs, or 0 if unknown */
    const char *payload;
    size_t len;
    const char *position;   /* source partition this message advances ("kafka:t/3"), or NULL */
    int64_t next_position;  /* the position after this message (offset + 1) */
    int64_t witness;        /* what identifies this message at its position (see batch.h), or 0 */
    const char *unread;     /* not NULL: the source could not read it whole, and says why here;
                               it becomes a dead letter with this reason, its payload kept unparsed */
};

void ingest_init(struct ingest *ing, const char *source, const struct schema *s, struct store *st);

/*
 * Add m to the batch. Returns 0 when it became a row, COLIBRI_EINVAL when it
 * became a dead letter (reason, if not NULL, says why; m->unread always does), or ENOMEM.
 */
int ingest_message(struct ingest *ing, const struct message *m, char *reason, size_t reasonlen);

/* Rows + dead letters in the current batch. */
size_t ingest_pending(const struct ingest *ing);

/* When a batch is due: at batch_max messages or batch_ms after its first (COLIBRI_BATCH_MAX/_MS). */
void ingest_batching(struct ingest *ing, long batch_max, long batch_ms);

/* The filling batch is due at time now (µs, clock_real_us). */
bool ingest_due(const struct ingest *ing, int64_t now);

/*
 * How long a source may wait for the next message at time now: 0 when the
 * batch is due, what is left of its age limit while one fills, idle_ms when
 * there is none.
 */
int ingest_wait_ms(const struct ingest *ing, int64_t now, int idle_ms);

/* Nothing to store: no row, no dead letter, no source position. */
bool ingest_empty(const struct ingest *ing);

/* Bytes of message the filling batch holds. */
size_t ingest_bytes(const struct ingest *ing);

/*
 * Take the filling batch: it moves to *out (which must be empty; its memory
 * is reused for the next batch) and a new one starts. The caller stores it
 * with ingest_store and acknowledges it at the source.
 */
void ingest_take(struct ingest *ing, struct batch *out);

/* Drop the filling batch (its messages will be delivered again). */
void ingest_drop(struct ingest *ing);

/* Write the batch; on success it is cleared and out (may be NULL) says what happened. */
int ingest_flush(struct ingest *ing, struct insert_result *out);

/*
 * Write batch b, taken with ingest_take (the subscriber's writer stores it
 * while the next one fills): metrics and totals as ingest_flush, b unchanged.
 */
int ingest_store(struct ingest *ing, const struct batch *b, struct insert_result *out);

void ingest_release(struct ingest *ing);

#endif
