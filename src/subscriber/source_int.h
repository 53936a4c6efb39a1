/*
 * source_int.h — what a message source implements (Kafka, Pub/Sub pull, and
 * the file or pipe of colibri load). Only source.c calls these; everyone
 * else goes through source.h.
 */
#ifndef COLIBRI_SOURCE_INT_H
#define COLIBRI_SOURCE_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "colibri/config.h"
#include "colibri/ingest.h"
#include "colibri/store.h"

/* What the subscriber lends a source. */
struct source_env {
    const struct config *cfg;
    struct store *store;
    /* write the pending batch now (a Kafka rebalance needs it); 0 if stored */
    int (*flush)(void *sub);
    void *sub;
};

struct source_ops {
    const char *scheme;     /* "kafka" for kafka://... */
    /*
     * A one-shot source has an end, and nobody would deliver its messages
     * again: the run ends when next() says so, and a store failure ends it
     * too (reported, not retried). Long-running sources (false) never end by
     * themselves and wait out a failed store, paused, retrying.
     */
    bool one_shot;
    /* Parse url (after "scheme://") and connect; consumption starts with next(). */
    int  (*open)(const char *url, const struct source_env *env, void **ctx);
    /*
     * The next message, waiting up to timeout_ms: 0 with *m filled (valid
     * until the next call), COLIBRI_ETIMEOUT if none came. A one-shot source
     * ends the run with COLIBRI_ENOTFOUND at the end of its input, or with
     * another error, which it has reported, when it cannot go on.
     */
    int  (*next)(void *ctx, int timeout_ms, struct message *m);
    /* Also publish a rejected message where the source keeps dead letters (optional). */
    int  (*dead_letter)(void *ctx, const struct message *m, const char *reason);
    /* Make dead letters published so far durable; called before the batch is stored (optional). */
    int  (*dead_letter_flush)(void *ctx);
    /*
     * The messages of batch b are stored: acknowledge them. They are the
     * oldest that next() returned and were not acknowledged yet; later ones
     * (the next batch, filling) may exist. Optional: nothing to acknowledge.
     */
    int  (*commit)(void *ctx, const struct batch *b);
    /* What was not stored is dropped: deliver every message not acknowledged again (optional). */
    void (*rewind)(void *ctx);
    /* Wait while the store is down without losing our place (pause fetching; optional). */
    void (*pause)(void *ctx, bool paused);
    /* Optional: always ready, always reachable. */
    bool (*ready)(void *ctx, char *why, size_t whylen);
    int  (*check)(void *ctx, char *detail, size_t detaillen);
    /*
     * A one-shot run has ended: total is what was stored, store_rc the
     * store's error that ended it early, or 0 (optional: colibri load's summary).
     */
    void (*end)(void *ctx, const struct insert_result *total, int store_rc);
    void (*close)(void *ctx);
};

/*
 * The ops of a long-running source that has every role, each named
 * NAME_ROLE (kafka_open, kafka_next, ...): a missing one fails to compile.
 */
#define LONG_RUNNING_SOURCE_OPS(name) {                                          \
        .scheme = #name, .open = name##_open, .ready = name##_ready,             \
        .check = name##_check, .close = name##_close, .next = name##_next,       \
        .commit = name##_commit, .rewind = name##_rewind, .pause = name##_pause, \
        .dead_letter = name##_dead_letter,                                       \
        .dead_letter_flush = name##_dead_letter_flush,                           \
    }

extern const struct source_ops kafka_source_ops;  /* COLIBRI_SUBSCRIBE=kafka://... */
extern const struct source_ops pubsub_source_ops; /* COLIBRI_SUBSCRIBE=pubsub://... */
extern const struct source_ops file_source_ops;   /* colibri load FILE|- (one-shot) */

#endif
