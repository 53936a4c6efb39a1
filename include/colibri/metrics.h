/*
 * metrics.h — counters, gauges and histograms, rendered in the Prometheus
 * text format for GET /metrics.
 *
 * Recording is a handful of relaxed atomic additions into fixed tables: no
 * lock and no allocation on the request or message path. The label sets are
 * fixed (routes, methods, statuses, sources, results), so cardinality is
 * bounded by construction; only consumer lag has one series per partition.
 */
#ifndef COLIBRI_METRICS_H
#define COLIBRI_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "colibri/batch.h"
#include "colibri/strbuf.h"

/* Route labels of colibri_http_*; ROUTE_OTHER for anything unmatched. */
enum metric_route {
    ROUTE_DATA, ROUTE_DATA_ID, ROUTE_HEALTHZ, ROUTE_READYZ, ROUTE_METRICS,
    ROUTE_OPENAPI, ROUTE_PUSH, ROUTE_OTHER, ROUTE_COUNT
};

/* false turns every recording function into a no-op (COLIBRI_METRICS=off). */
void metrics_enable(bool on);

/* One HTTP request finished. */
void metrics_http(enum metric_route route, const char *method, unsigned status, double seconds);

/*
 * One batch written by source ("kafka", "pubsub", "push", "load"): what the
 * store did, how many messages it held, how long the store took, and the
 * newest event time in it (µs, 0 if none).
 */
void metrics_batch(const char *source, const struct insert_result *r, size_t messages,
                   double seconds, int64_t newest_event_us);

/* The store answered an operation with error code (COLIBRI_E*). */
void metrics_store_error(const char *backend, int code);

/* An upstream API (kafka, bigquery, pubsub, metadata) failed with kind. */
void metrics_upstream_error(const char *api, const char *kind);

/* Why the HTTP edge cut a connection (colibri_http_connections_cut_total{reason}). */
enum edge_cut {
    EDGE_CUT_IDLE_TIMEOUT, EDGE_CUT_HEAD_TIMEOUT, EDGE_CUT_BODY_TIMEOUT, EDGE_CUT_EVICTED,
    EDGE_CUT_SHUTDOWN, EDGE_CUT_COUNT
};
void metrics_http_cut(enum edge_cut why);

/*
 * A source's positions went backwards or its log was replaced (a topic
 * recreated, a broker reset): reason is "truncated", "replaced" or "expired".
 */
void metrics_source_reset(const char *source, const char *reason);

/* Messages behind the head of one partition of source. */
void metrics_lag(const char *source, int32_t partition, int64_t lag);

/* Values read at scrape time. */
struct metrics_probe {
    bool ready;
    bool subscribed;
    bool assigned;
};

/* Append every series in the Prometheus text format (version 0.0.4). */
void metrics_render(struct strbuf *out, const struct metrics_probe *probe);

#endif
