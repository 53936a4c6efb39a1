/*
 * edge.c — what happens to a connection before its request is ours.
 *
 * libmicrohttpd resets its idle timeout on every byte, so a client that
 * trickles a request head keeps its slot forever, and at the connection limit
 * nobody else is served. This table follows every connection from accept to
 * close and knows which phase it is in:
 *
 *   IDLE  accepted, or between two requests of a keep-alive connection
 *   HEAD  the request line is in, the headers are not
 *   BODY  the headers are in, the body is arriving
 *   BUSY  the request is complete: it is handled, or its answer is sent
 *
 * A reaper thread cuts (shutdown(2); libmicrohttpd then closes and cleans up
 * as for any peer that went away) every connection whose head or body takes
 * longer than its deadline, counted from the start of the phase, whatever
 * trickles in. When the general limit is reached, a new connection evicts the
 * oldest IDLE or HEAD one; if there is none (every connection is busy with
 * real work), it may still use the small reserve above the limit, which
 * serves only the probes (/healthz, /readyz), so that an orchestrator can
 * tell "busy" from "dead".
 *
 * Lock order: the table's lock is taken alone; shutdown(2) is called under it
 * so that a descriptor is never cut after libmicrohttpd has closed it (the
 * close notification removes the entry under the same lock, and libmicrohttpd
 * closes the descriptor only after that notification).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "colibri/clock.h"
#include "colibri/error.h"
#include "colibri/log.h"
#include "colibri/metrics.h"
#include "colibri/thread.h"
#include "http/edge.h"

#define REAP_EVERY_MS 100

struct edge_conn {
    struct MHD_Connection *conn;    /* NULL: the slot is free */
    int fd;
    enum edge_phase phase;
    int64_t since_us;               /* when the phase began */
    bool reserve;                   /* admitted above the general limit: probes only */
    bool cut;                       /* shut down by us, closing */
};

struct edge {
    pthread_mutex_t lock;
    struct edge_conn *slots;
    size_t nslots, open;            /* open: connections that hold a general slot */
    size_t limit;                   /* the general limit */
    int64_t idle_us, head_us, body_us;
    struct helper reaper;
};

/* Cut one connection (lock held). */
static void cut(struct edge_conn *e, enum edge_cut why)
{
    if (e->cut)
        return;
    e->cut = true;
    shutdown(e->fd, SHUT_RDWR);
    metrics_http_cut(why);
}

static int64_t deadline_of(const struct edge *g, const struct edge_conn *e)
{
    switch (e->phase) {
    case EDGE_IDLE: return e->since_us + g->idle_us;
    case EDGE_HEAD: return e->since_us + g->head_us;
    case EDGE_BODY: return e->since_us + g->body_us;
    case EDGE_BUSY: break;
    }
    return INT64_MAX;
}

static void reap(struct edge *g)
{
    int64_t now = clock_mono_us();
    pthread_mutex_lock(&g->lock);
    for (size_t i = 0; i < g->nslots; i++) {
        struct edge_conn *e = &g->slots[i];
        if (e->conn && !e->cut && now >= deadline_of(g, e))
            cut(e, e->phase == EDGE_BODY ? EDGE_CUT_BODY_TIMEOUT
                   : e->phase == EDGE_HEAD ? EDGE_CUT_HEAD_TIMEOUT : EDGE_CUT_IDLE_TIMEOUT);
    }
    pthread_mutex_unlock(&g->lock);
}

static void *reaper_main(void *arg)
{
    struct edge *g = arg;
    pthread_setname_np(pthread_self(), "http-reaper");
    struct helper *h = &g->reaper;
    pthread_mutex_lock(&h->lock);
    while (!h->stop) {
        struct timespec ts = clock_after_ms(CLOCK_REALTIME, REAP_EVERY_MS);
        pthread_cond_timedwait(&h->cond, &h->lock, &ts);
        if (h->stop)
            break;
        pthread_mutex_unlock(&h->lock);
        reap(g);
        pthread_mutex_lock(&h->lock);
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

int edge_new(const struct edge_limits *lim, struct edge **out)
{
    *out = NULL;
    struct edge *g = calloc(1, sizeof *g);
    if (!g)
        return COLIBRI_ENOMEM;
    g->limit = lim->limit;
    g->nslots = lim->limit + lim->reserve;
    g->idle_us = lim->idle_ms * 1000;
    g->head_us = lim->head_ms * 1000;
    g->body_us = lim->body_ms * 1000;
    g->slots = calloc(g->nslots, sizeof *g->slots);
    pthread_mutex_init(&g->lock, NULL);
    helper_init(&g->reaper);
    if (!g->slots || helper_start(&g->reaper, reaper_main, g)) {
        edge_free(g);
        return COLIBRI_ENOMEM;
    }
    *out = g;
    return 0;
}

void edge_free(struct edge *g)
{
    if (!g)
        return;
    helper_release(&g->reaper);
    pthread_mutex_destroy(&g->lock);
    free(g->slots);
    free(g);
}

/* The oldest connection but self that has not sent a whole request head (lock held). */
static struct edge_conn *oldest_waiting(struct edge *g, const struct edge_conn *self)
{
    struct edge_conn *best = NULL;
    for (size_t i = 0; i < g->nslots; i++) {
        struct edge_conn *e = &g->slots[i];
        if (e->conn && e != self && !e->cut && !e->reserve && (e->phase == EDGE_IDLE || e->phase == EDGE_HEAD) &&
            (!best || e->since_us < best->since_us))
            best = e;
    }
    return best;
}

struct edge_conn *edge_opened(struct edge *g, struct MHD_Connection *c, int fd)
{
    pthread_mutex_lock(&g->lock);
    struct edge_conn *slot = NULL;
    for (size_t i = 0; i < g->nslots && !slot; i++)
        if (!g->slots[i].conn)
            slot = &g->slots[i];
    if (slot) {
        *slot = (struct edge_conn){ .conn = c, .fd = fd, .phase = EDGE_IDLE, .since_us = clock_mono_us() };
        if (g->open >= g->limit) {
            struct edge_conn *victim = oldest_waiting(g, slot);
            if (victim) {           /* it gives its general slot to the newcomer */
                cut(victim, EDGE_CUT_EVICTED);
                victim->reserve = true;
            } else {
                slot->reserve = true;
            }
        }
        if (!slot->reserve)
            g->open++;
    }
    pthread_mutex_unlock(&g->lock);
    if (!slot)      /* more than libmicrohttpd's own limit allows: cannot happen */
        shutdown(fd, SHUT_RDWR);
    return slot;
}

void edge_closed(struct edge *g, struct edge_conn *e)
{
    if (!e)
        return;
    pthread_mutex_lock(&g->lock);
    if (!e->reserve)
        g->open--;
    e->conn = NULL;
    pthread_mutex_unlock(&g->lock);
}

void edge_phase(struct edge *g, struct edge_conn *e, enum edge_phase phase)
{
    if (!e)
        return;
    pthread_mutex_lock(&g->lock);
    e->phase = phase;
    e->since_us = clock_mono_us();
    pthread_mutex_unlock(&g->lock);
}

bool edge_reserved(struct edge *g, const struct edge_conn *e)
{
    if (!e)
        return false;
    pthread_mutex_lock(&g->lock);
    bool r = e->reserve && !e->cut;
    pthread_mutex_unlock(&g->lock);
    return r;
}

size_t edge_cut_waiting(struct edge *g)
{
    size_t n = 0;
    pthread_mutex_lock(&g->lock);
    for (size_t i = 0; i < g->nslots; i++) {
        struct edge_conn *e = &g->slots[i];
        if (e->conn && e->phase != EDGE_BUSY && e->phase != EDGE_BODY && !e->cut) {
            cut(e, EDGE_CUT_SHUTDOWN);
            n++;
        }
    }
    pthread_mutex_unlock(&g->lock);
    return n;
}

size_t edge_active(struct edge *g)
{
    size_t n = 0;
    pthread_mutex_lock(&g->lock);
    for (size_t i = 0; i < g->nslots; i++)
        n += g->slots[i].conn && !g->slots[i].cut &&
             (g->slots[i].phase == EDGE_BUSY || g->slots[i].phase == EDGE_BODY);
    pthread_mutex_unlock(&g->lock);
    return n;
}
