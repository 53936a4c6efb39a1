/*
 * subscriber.h — the ingest thread: consume a source, validate, batch,
 * store, then acknowledge.
 *
 * A source is found by the scheme of COLIBRI_SUBSCRIBE (kafka://, pubsub://).
 * Nothing is acknowledged to the source before the batch that holds it is in
 * the store; a store that fails pauses consumption until it answers again.
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

/* Start the ingest thread. */
int subscriber_start(struct subscriber *sub);

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
