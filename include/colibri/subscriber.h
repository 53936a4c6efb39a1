/*
 * subscriber.h — the ingest loop: consume a source, validate, batch,
 * store, then acknowledge.
 *
 * A source is found by the scheme of COLIBRI_SUBSCRIBE (kafka://, pubsub://),
 * or is colibri load's file or pipe. Nothing is acknowledged to the source
 * before the batch that holds it is in the store; a store that fails pauses
 * consumption until it answers again, except for colibri load, whose run it
 * ends (nothing would deliver the lines again).
 */
#ifndef COLIBRI_SUBSCRIBER_H
#define COLIBRI_SUBSCRIBER_H

#include <stdbool.h>
#include <stddef.h>

#include "colibri/config.h"
#include "colibri/schema.h"
#include "colibri/store.h"

struct subscriber;

/*
 * Check cfg->subscribe and connect to the source, without consuming yet.
 * cfg, s and st are borrowed and must outlive the subscriber.
 * On failure *out is NULL and the reason has been logged.
 */
int subscriber_open(const struct config *cfg, const struct schema *s, struct store *st,
                    struct subscriber **out);

/*
 * colibri load: open path ("-": standard input) as a one-shot source of
 * NDJSON lines, the rest as subscriber_open. Run it with subscriber_run.
 */
int subscriber_open_file(const struct config *cfg, const char *path, const struct schema *s,
                         struct store *st, struct subscriber **out);

/* Start the ingest thread (COLIBRI_SUBSCRIBE sources). */
int subscriber_start(struct subscriber *sub);

/*
 * Run a one-shot subscriber (subscriber_open_file) on this thread until its
 * input ends, then have the source report the run. 0: every message stored;
 * COLIBRI_EINVAL: all stored, some as dead letters; another code: the store
 * or the input failed and the run ended early (both reported). Then
 * subscriber_stop.
 */
int subscriber_run(struct subscriber *sub);

/* True when the source has given us our share of it; otherwise why says what is missing. */
bool subscriber_ready(struct subscriber *sub, char *why, size_t whylen);

/* Ask the source whether it is reachable (for check-config); 0 if so. */
int subscriber_check(struct subscriber *sub, char *detail, size_t detaillen);

/*
 * Stop fetching, write and acknowledge what was fetched, leave the source,
 * join the threads and free everything, all within a bounded time (4 s for
 * the store, then the source's own bounded close). Safe on a subscriber never
 * started. COLIBRI_ETIMEOUT: the store did not answer in time; a write is
 * still in progress on a thread of its own, so the store must not be closed
 * (the process should just exit; what was not acknowledged comes again).
 */
int subscriber_stop(struct subscriber *sub);

#endif
