/*
 * subscriber.c — the ingest loop shared by every source:
 *
 *     next message → validate (row or dead letter) → batch
 *     batch full or old → dead letters durable at the source → store → commit
 *
 * A batch that the store refuses is retried with capped exponential backoff
 * and full jitter while the source is paused, so memory does not grow and
 * nothing is acknowledged before it is stored.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "colibri/error.h"
#include "colibri/log.h"
#include "colibri/subscriber.h"
#include "subscriber/source_int.h"

#define POLL_MS 100
#define RETRY_MIN_MS 100
#define RETRY_MAX_MS 5000
#define SHUTDOWN_FLUSH_MS 5000
/* While behind, a due batch takes in what is already waiting, up to this many BATCH_MAX or bytes. */
#define CATCHUP_BATCHES 32
#define CATCHUP_BYTES (16u << 20)

struct subscriber {
    const struct config *cfg;
    const struct source_ops *ops;
    void *ctx;
    struct source_env env;
    struct ingest ing;
    int64_t batch_start;    /* µs, when the pending batch got its first message */
    pthread_t thread;
    bool started;
    atomic_bool stop;
    atomic_int store_failure;   /* the last write's error code, 0 when it succeeded */
};

static const struct source_ops *const sources[] = { &kafka_source_ops, &pubsub_source_ops };

/* Dead letters durable at the source, then the batch in the store, then acknowledge. */
static int store_batch(struct subscriber *sub)
{
    struct insert_result res;
    if (ingest_pending(&sub->ing) == 0 && sub->ing.batch.npos == 0)
        return 0;
    int rc = sub->ops->dead_letter_flush ? sub->ops->dead_letter_flush(sub->ctx) : 0;
    if (!rc)
        rc = ingest_flush(&sub->ing, &res);
    atomic_store(&sub->store_failure, rc);
    if (rc)
        return rc;
    log_debug("stored %zu rows (%zu duplicates), %zu dead letters", res.stored, res.duplicates, res.dead);
    return sub->ops->commit(sub->ctx);
}

/* For a source that must settle now (Kafka revoking partitions): store or drop. */
static int settle(void *ud)
{
    struct subscriber *sub = ud;
    int rc = store_batch(sub);
    if (rc) {
        log_warn("dropping a batch of %zu messages that could not be stored; they will be read again",
                 ingest_pending(&sub->ing));
        batch_clear(&sub->ing.batch);
    }
    return rc;
}

static void sleep_ms(long ms)
{
    usleep((useconds_t)ms * 1000);
}

/*
 * Store the batch, retrying while the store is down. Gives up only when
 * stopping and the shutdown budget is spent: the batch is then dropped and
 * the source rewound, so it is delivered again on the next start.
 */
static void store_with_retry(struct subscriber *sub)
{
    long backoff = RETRY_MIN_MS;
    int64_t stopping_since = 0;     /* µs; the budget counts store attempts and sleeps alike */
    bool paused = false;
    int rc;
    while ((rc = store_batch(sub)) != 0) {
        if (atomic_load(&sub->stop) && !stopping_since)
            stopping_since = now_us();
        if (stopping_since && now_us() - stopping_since >= SHUTDOWN_FLUSH_MS * 1000) {
            log_error("stopping with %zu messages not stored; they were not acknowledged",
                      ingest_pending(&sub->ing));
            batch_clear(&sub->ing.batch);
            sub->ops->rewind(sub->ctx);
            break;
        }
        if (!paused && sub->ops->pause) {
            sub->ops->pause(sub->ctx, true);
            paused = true;
        }
        unsigned r = 0;
        if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
            r = 0;
        long delay = 1 + (long)(r % (unsigned)backoff);     /* full jitter */
        log_warn("store failed (%s): consumption paused, retrying in %ld ms", colibri_strerror(rc), delay);
        sleep_ms(delay);
        backoff = backoff * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : backoff * 2;
    }
    if (paused)
        sub->ops->pause(sub->ctx, false);
}

/*
 * A batch is due at BATCH_MAX rows or BATCH_MS age. A due batch still takes
 * in the messages that are already waiting (the source answers at once), up
 * to the catch-up bound: while ingestion is behind, transactions grow and
 * there are fewer of them, which is what lets it catch up; at a steady pace
 * nothing is waiting and a batch is stored as soon as it is due.
 */
static bool batch_due(const struct subscriber *sub)
{
    size_t pending = ingest_pending(&sub->ing);
    return pending && (pending >= (size_t)sub->cfg->batch_max ||
                       now_us() - sub->batch_start >= sub->cfg->batch_ms * 1000);
}

static bool catchup_full(const struct subscriber *sub)
{
    return ingest_pending(&sub->ing) >= (size_t)sub->cfg->batch_max * CATCHUP_BATCHES ||
           sub->ing.batch.bytes >= CATCHUP_BYTES;
}

static void *run(void *arg)
{
    struct subscriber *sub = arg;
    char reason[256];
    pthread_setname_np(pthread_self(), "subscriber");     /* for top -H and perf */
    while (!atomic_load(&sub->stop)) {
        struct message m;
        size_t pending = ingest_pending(&sub->ing);
        bool due = batch_due(sub);
        int wait = POLL_MS;
        if (due) {
            wait = 0;
        } else if (pending) {
            int64_t left = sub->cfg->batch_ms * 1000 - (now_us() - sub->batch_start);
            wait = left > 0 ? (int)(left / 1000) : 0;
        }
        int rc = sub->ops->next(sub->ctx, wait, &m);
        if (rc == 0) {
            if (pending == 0)
                sub->batch_start = now_us();
            rc = ingest_message(&sub->ing, &m, reason, sizeof reason);
            if (rc == COLIBRI_EINVAL) {
                log_debug("dead letter %s: %s", m.id, reason);
                if (sub->ops->dead_letter)
                    sub->ops->dead_letter(sub->ctx, &m, reason);
                rc = 0;
            } else if (rc) {
                /* the message is not in the batch: drop the batch and read it all again */
                log_error("cannot batch message %s: %s; reading the batch again", m.id, colibri_strerror(rc));
                batch_clear(&sub->ing.batch);
                sub->ops->rewind(sub->ctx);
            }
        }
        if (due && (rc != 0 || catchup_full(sub)))
            store_with_retry(sub);
    }
    store_with_retry(sub);
    return NULL;
}

int subscriber_open(const struct config *cfg, const struct schema *s, struct store *st,
                    struct subscriber **out)
{
    *out = NULL;
    const char *url = cfg->subscribe;
    const char *sep = strstr(url, "://");
    for (size_t i = 0; sep && i < sizeof sources / sizeof sources[0]; i++) {
        const struct source_ops *ops = sources[i];
        if (strlen(ops->scheme) != (size_t)(sep - url) || strncmp(ops->scheme, url, (size_t)(sep - url)))
            continue;
        struct subscriber *sub = calloc(1, sizeof *sub);
        if (!sub)
            return COLIBRI_ENOMEM;
        sub->cfg = cfg;
        sub->ops = ops;
        sub->env = (struct source_env){ .cfg = cfg, .store = st, .flush = settle, .sub = sub };
        ingest_init(&sub->ing, ops->scheme, s, st);
        int rc = ops->open(sep + 3, &sub->env, &sub->ctx);
        if (rc) {
            ingest_release(&sub->ing);
            free(sub);
            return rc;
        }
        *out = sub;
        return 0;
    }
    log_error("COLIBRI_SUBSCRIBE: unknown source '%s'; expected kafka://HOST:PORT/TOPIC?group=G "
              "or pubsub://projects/P/subscriptions/S", url);
    return COLIBRI_ECONFIG;
}

int subscriber_start(struct subscriber *sub)
{
    if (pthread_create(&sub->thread, NULL, run, sub) != 0)
        return COLIBRI_ENOMEM;
    sub->started = true;
    return 0;
}

bool subscriber_ready(struct subscriber *sub, char *why, size_t whylen)
{
    int failure = atomic_load(&sub->store_failure);
    if (failure) {     /* a full disk or a read-only file: what a probe of the store cannot see */
        snprintf(why, whylen, "the last write to the store failed: %s; ingestion is paused",
                 colibri_strerror(failure));
        return false;
    }
    return sub->ops->ready(sub->ctx, why, whylen);
}

int subscriber_check(struct subscriber *sub, char *detail, size_t detaillen)
{
    return sub->ops->check(sub->ctx, detail, detaillen);
}

void subscriber_stop(struct subscriber *sub)
{
    if (!sub)
        return;
    atomic_store(&sub->stop, true);
    if (sub->started)
        pthread_join(sub->thread, NULL);
    sub->ops->close(sub->ctx);
    log_info("subscriber stopped: %zu rows stored, %zu duplicates skipped, %zu dead letters",
             sub->ing.total.stored, sub->ing.total.duplicates, sub->ing.total.dead);
    ingest_release(&sub->ing);
    free(sub);
}
