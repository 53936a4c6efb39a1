/*
 * edge.h — connection phases, deadlines, eviction and the probe reserve
 * (see edge.c). server.c reports each connection's life here.
 */
#ifndef COLIBRI_EDGE_H
#define COLIBRI_EDGE_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "colibri/metrics.h"

enum edge_phase { EDGE_IDLE, EDGE_HEAD, EDGE_BODY, EDGE_BUSY };

struct edge_limits {
    size_t limit;           /* general connection limit */
    size_t reserve;         /* more connections, for probes only */
    int64_t idle_ms;        /* longest wait for a request line (keep-alive idle) */
    int64_t head_ms;        /* longest time from request line to the end of the headers */
    int64_t body_ms;        /* longest time to receive a body */
};

struct edge;
struct edge_conn;

/* Start the table and its reaper thread. Free with edge_free (joins it). */
int edge_new(const struct edge_limits *lim, struct edge **out);
void edge_free(struct edge *g);

/* A connection was accepted; returns its entry (NULL if none could be had: it is cut). */
struct edge_conn *edge_opened(struct edge *g, struct MHD_Connection *c, int fd);
/* It is closed; e is not used again. */
void edge_closed(struct edge *g, struct edge_conn *e);
/* It entered phase now. */
void edge_phase(struct edge *g, struct edge_conn *e, enum edge_phase phase);
/* Whether it was admitted above the general limit (only probes are served). */
bool edge_reserved(struct edge *g, const struct edge_conn *e);
/* Shutdown: cut every connection that has no request in progress; how many. */
size_t edge_cut_waiting(struct edge *g);
/* Requests in progress (body arriving, handled or being answered). */
size_t edge_active(struct edge *g);

#endif
