/* bigquery_cache.c — single-flight, TTL-bound cache of query answers (bigquery_cache.h). */
#include "store/bigquery_cache.h"

#include <stdlib.h>
#include <string.h>

#include "colibri/clock.h"

void bq_cache_init(struct bq_cache *c, long ttl_ms)
{
    memset(c, 0, sizeof *c);
    c->ttl_ms = ttl_ms;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->done, NULL);
}

/* Drop answers: all, or those not being fetched; the caller holds c->lock. */
static void drop(struct bq_cache *c, bool all)
{
    for (size_t i = 0; i < BQ_CACHE_SLOTS; i++) {
        struct bq_cache_slot *e = &c->slot[i];
        if (!e->key || (e->pending && !all))
            continue;
        free(e->key);
        json_decref(e->rows);
        memset(e, 0, sizeof *e);
    }
}

/*
 * With the lock held: a fresh answer for key into *rows (true), or the
 * slot to fetch key into, marked pending (*slot NULL: no room, or ENOMEM).
 */
static bool lookup(struct bq_cache *c, const char *key, json_t **rows, struct bq_cache_slot **slot)
{
    struct bq_cache_slot *e;
    for (;;) {
        e = NULL;
        for (size_t i = 0; i < BQ_CACHE_SLOTS; i++)
            if (c->slot[i].key && strcmp(c->slot[i].key, key) == 0)
                e = &c->slot[i];
        if (!e || !e->pending)
            break;
        pthread_cond_wait(&c->done, &c->lock);
    }
    int64_t now = clock_mono_ms();
    if (e && e->rows && e->expires_ms > now) {
        *rows = json_incref(e->rows);
        e->used_ms = now;
        return true;
    }
    if (!e) {   /* a free slot, else the least recently used one that is not running */
        for (size_t i = 0; i < BQ_CACHE_SLOTS; i++) {
            struct bq_cache_slot *s = &c->slot[i];
            if (s->pending)
                continue;
            if (!s->key) {
                e = s;
                break;
            }
            if (!e || s->used_ms < e->used_ms)
                e = s;
        }
    }
    if (e) {
        json_decref(e->rows);
        e->rows = NULL;
        if (e->key && strcmp(e->key, key) != 0) {
            free(e->key);
            e->key = NULL;
        }
        if (!e->key && !(e->key = strdup(key)))
            e = NULL;
        else
            e->pending = true;
    }
    *slot = e;
    return false;
}

int bq_cache_rows(struct bq_cache *c, const char *key, int (*fetch)(void *arg, json_t **rows), void *arg,
                  json_t **rows)
{
    *rows = NULL;
    if (c->ttl_ms <= 0)
        return fetch(arg, rows);
    struct bq_cache_slot *e;
    pthread_mutex_lock(&c->lock);
    uint64_t writes = c->writes;
    bool hit = lookup(c, key, rows, &e);
    pthread_mutex_unlock(&c->lock);
    if (hit)
        return 0;

    int rc = fetch(arg, rows);

    if (e) {
        pthread_mutex_lock(&c->lock);
        e->pending = false;
        e->used_ms = clock_mono_ms();
        e->expires_ms = e->used_ms + c->ttl_ms;
        bool keep = !rc && c->writes == writes;
        e->rows = keep ? json_incref(*rows) : NULL;
        if (!keep) {   /* failures are not kept, nor what a concurrent write may have changed */
            free(e->key);
            e->key = NULL;
        }
        pthread_cond_broadcast(&c->done);
        pthread_mutex_unlock(&c->lock);
    }
    return rc;
}

void bq_cache_wrote(struct bq_cache *c)
{
    pthread_mutex_lock(&c->lock);
    c->writes++;
    drop(c, false);
    pthread_mutex_unlock(&c->lock);
}

void bq_cache_release(struct bq_cache *c)
{
    drop(c, true);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->done);
}
