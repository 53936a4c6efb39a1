/*
 * bigquery_cache.h — the BigQuery store's response cache (store/bigquery*.c
 * only). A BigQuery job takes a second or more and is billed, so identical
 * queries within a short TTL share one: an answer is reused until it
 * expires, and a query that arrives while an identical one runs waits for
 * it (single flight) instead of starting its own job. A write in this
 * process drops what it may have changed, so readers see their own writes.
 */
#ifndef COLIBRI_BIGQUERY_CACHE_H
#define COLIBRI_BIGQUERY_CACHE_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define BQ_CACHE_SLOTS 64

struct bq_cache_slot {
    char *key;                  /* NULL: free */
    json_t *rows;               /* the "rows" array (owned), NULL while pending or after failure */
    int64_t expires_ms;
    bool pending;               /* a query for key is running */
    int64_t used_ms;
};

struct bq_cache {
    long ttl_ms;                /* 0: no cache */
    pthread_mutex_t lock;
    pthread_cond_t done;        /* a pending slot finished */
    uint64_t writes;            /* writes so far: an answer that overlapped one is not kept */
    struct bq_cache_slot slot[BQ_CACHE_SLOTS];
};

void bq_cache_init(struct bq_cache *c, long ttl_ms);

/*
 * The rows for key: from the cache, or from fetch(arg, rows), whose answer
 * is kept for ttl_ms unless it failed or a write overlapped it. *rows is
 * owned by the caller (json_decref). Returns what fetch returned, or 0.
 */
int bq_cache_rows(struct bq_cache *c, const char *key, int (*fetch)(void *arg, json_t **rows), void *arg,
                  json_t **rows);

/* The table was written: drop every answer not being fetched. */
void bq_cache_wrote(struct bq_cache *c);

void bq_cache_release(struct bq_cache *c);

#endif
