/*
 * batch.h — what one store transaction writes.
 *
 * A batch collects coerced rows, dead letters and the source positions
 * (e.g. Kafka partition offsets) they came from. store_insert writes all
 * three atomically, which is what makes ingestion exactly-once.
 */
#ifndef COLIBRI_BATCH_H
#define COLIBRI_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "colibri/schema.h"

struct dead_letter {
    char *id;               /* source id, as _id would have been */
    char *source;
    char *reason;
    char *payload;          /* the raw message, as received */
    size_t payload_len;
    int64_t at_us;          /* when it was rejected */
};

/*
 * The next position to consume from one source partition, and a witness of
 * the message just before it (a hash of what the source delivered there; 0 =
 * none), by which a source can tell on restart that its log was replaced.
 */
struct position {
    char *key;              /* e.g. "kafka:topic/3" */
    int64_t next;           /* next offset to read */
    int64_t witness;
};

struct batch {
    struct row *rows;
    size_t nrows, caprows;
    struct dead_letter *dead;
    size_t ndead, capdead;
    struct position *pos;
    size_t npos, cappos;
    size_t bytes;           /* payload bytes added, for size-based flushing */
};

void batch_init(struct batch *b);

/* Takes ownership of *r (r is zeroed). */
int batch_add_row(struct batch *b, struct row *r, size_t payload_bytes);

/* Copies every string. */
int batch_add_dead(struct batch *b, const char *id, const char *source, const char *reason,
                   const char *payload, size_t payload_len, int64_t at_us);

/* Sets (or raises) the next position for key, with its witness; copies key. */
int batch_set_position(struct batch *b, const char *key, int64_t next, int64_t witness);

/* Empty the batch for reuse, keeping its arrays. */
void batch_clear(struct batch *b);

/* Free everything. */
void batch_release(struct batch *b);

/* What storing a batch did (store_insert, metrics_batch). */
struct insert_result {
    size_t stored;          /* new rows */
    size_t duplicates;      /* rows whose _id was already there */
    size_t dead;            /* dead letters written */
};

#endif
