/*
 * source.h — a message source (Kafka, Pub/Sub pull, colibri load's file or
 * pipe) behind thin wrappers, the way store.h wraps storage backends: the
 * subscriber calls these, never a source's ops, and optional methods get
 * their defaults here.
 */
#ifndef COLIBRI_SOURCE_H
#define COLIBRI_SOURCE_H

#include <stdbool.h>
#include <stddef.h>

#include "colibri/batch.h"
#include "colibri/ingest.h"
#include "subscriber/source_int.h"

struct source;

/*
 * Find the source for url ("kafka://...", "pubsub://...") and open it with
 * env (borrowed; must outlive the source). On failure *out is NULL and the
 * reason has been logged (COLIBRI_ECONFIG for an unknown scheme).
 */
int source_open(const char *url, const struct source_env *env, struct source **out);

/*
 * Open path ("-": standard input) as colibri load's one-shot source, NDJSON
 * one message a line (src/subscriber/file.c). As source_open otherwise.
 */
int source_open_file(const char *path, const struct source_env *env, struct source **out);

/* The scheme: "kafka", "pubsub", "file" (the metrics label). */
const char *source_name(const struct source *src);

/* The source has an end, and a store failure ends its run (see source_int.h). */
bool source_one_shot(const struct source *src);

/*
 * The next message, waiting up to timeout_ms: 0 with *m filled, COLIBRI_ETIMEOUT
 * if none came; a one-shot source's run ends with any other code (COLIBRI_ENOTFOUND:
 * the input is all read).
 */
int source_next(struct source *src, int timeout_ms, struct message *m);

/* Also publish a rejected message where the source keeps dead letters; 0 where it keeps none. */
int source_dead_letter(struct source *src, const struct message *m, const char *reason);

/* Make the dead letters published so far durable; 0 where there are none. */
int source_dead_letter_flush(struct source *src);

/* The messages of batch b are stored: acknowledge them. */
int source_commit(struct source *src, const struct batch *b);

/* What was not stored is dropped: deliver every message not acknowledged again. */
void source_rewind(struct source *src);

/* Pause or resume fetching while the store is down; nothing where the source cannot. */
void source_pause(struct source *src, bool paused);

/* The source has given us our share of it; otherwise why says what is missing. */
bool source_ready(struct source *src, char *why, size_t whylen);

/* Whether the source is reachable (check-config); 0 if so, else detail says why. */
int source_check(struct source *src, char *detail, size_t detaillen);

/* A one-shot run has ended with total stored, and store_rc (0 or the store's error): report it. */
void source_end(struct source *src, const struct insert_result *total, int store_rc);

/* Leave the source and free it; NULL is fine. */
void source_close(struct source *src);

#endif
