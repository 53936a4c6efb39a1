/*
 * subscriber.c — the ingest loop shared by every source:
 *
 *     next message → validate (row or dead letter) → batch
 *     batch due → dead letters durable at the source → hand it to the writer
 *     writer: store the batch, while the next one fills → acknowledge it
 *
 * Two threads: this loop decodes and validates, the writer stores, so one
 * batch is written while the next one fills. A batch is acknowledged at the
 * source only once it is stored, and batches are stored in order. A batch
 * that the store refuses is retried here, with capped exponential backoff and
 * full jitter while the source is paused, so memory does not grow and
 * nothing is acknowledged before it is stored.
 *
 * A one-shot source (colibri load's file or pipe; source_int.h) runs the same
 * loop on the caller's thread (subscriber_run) until its input ends; since
 * nothing it gave can be delivered again, a store failure ends its run
 * instead of being retried.
 */
#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "colibri/backoff.h"
#include "colibri/clock.h"
#include "colibri/error.h"
#include "colibri/log.h"
#include "colibri/subscriber.h"
#include "subscriber/source.h"

#define POLL_MS 100
#define RETRY_MIN_MS 100
#define RETRY_MAX_MS 5000
#define SHUTDOWN_FLUSH_MS 4000   /* then the source closes (Kafka 3 s, Pub/Sub 4 s at most) within the 8 s budget */
/* While behind, a due batch takes in what is already waiting, up to this many BATCH_MAX or bytes. */
#define CATCHUP_BATCHES 32
#define CATCHUP_BYTES (16u << 20)

struct subscriber {
    const struct config *cfg;
    struct source *src;
    struct source_env env;
    struct ingest ing;      /* the batch filling, and when it is due */
    bool one_shot;          /* the source's: see the top of this file */
    unsigned long rejected; /* messages that became dead letters (loop only) */
    int ended_rc;           /* one-shot: the error that ended the run early, or 0 (loop only) */
    bool store_ended;       /* ... and it was the store's */
    pthread_t thread;
    bool started;
    atomic_bool stop;
    atomic_int_least64_t stop_at;   /* µs, when stopping was asked for; 0 while running */
    atomic_int store_failure;   /* the last write's error code, 0 when it succeeded */

    /* The writer: stores `written` while the next batch fills. */
    struct batch written;
    bool writing;           /* `written` was handed over and is not acknowledged yet (loop only) */
    pthread_t writer;
    bool writer_started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool handed, writer_stop;           /* under lock */
    atomic_bool done;       /* set under lock; read without it to skip the lock per message */
    int written_rc;                     /* under lock, with done */
    bool abandoned;         /* stopping, the writer is still in the store past the budget (loop only) */
};

static void *write_batches(void *arg)
{
    struct subscriber *sub = arg;
    pthread_setname_np(pthread_self(), "writer");      /* for top -H and perf */
    pthread_mutex_lock(&sub->lock);
    for (;;) {
        while (!sub->handed && !sub->writer_stop)
            pthread_cond_wait(&sub->cond, &sub->lock);
        if (!sub->handed)
            break;
        sub->handed = false;
        pthread_mutex_unlock(&sub->lock);
        int rc = ingest_store(&sub->ing, &sub->written, NULL);
        atomic_store(&sub->store_failure, rc);
        pthread_mutex_lock(&sub->lock);
        sub->written_rc = rc;
        sub->done = true;
        pthread_cond_broadcast(&sub->cond);
    }
    pthread_mutex_unlock(&sub->lock);
    return NULL;
}

/* Dead letters durable at the source, then batch b in the store, then acknowledge it. */
static int store_batch(struct subscriber *sub, struct batch *b)
{
    struct insert_result res;
    if (b->nrows + b->ndead == 0 && b->npos == 0)
        return 0;
    int rc = source_dead_letter_flush(sub->src);
    if (!rc)
        rc = ingest_store(&sub->ing, b, &res);
    atomic_store(&sub->store_failure, rc);
    if (rc)
        return rc;
    log_debug("stored %zu rows (%zu duplicates), %zu dead letters", res.stored, res.duplicates, res.dead);
    rc = source_commit(sub->src, b);
    batch_clear(b);
    return rc;
}

/* A one-shot run ends early with rc: the filling batch is dropped and the loop stops. */
static void end_run(struct subscriber *sub, int rc, bool store)
{
    if (!sub->ended_rc) {
        sub->ended_rc = rc;
        sub->store_ended = store;
    }
    ingest_drop(&sub->ing);
    atomic_store(&sub->stop, true);
}

/* Drop every batch not stored and have the source deliver their messages again. */
static void drop_and_rewind(struct subscriber *sub)
{
    batch_clear(&sub->written);
    ingest_drop(&sub->ing);
    source_rewind(sub->src);
}

/* Stopping, and the shutdown budget (counted from the stop request) is spent. */
static bool budget_spent(const struct subscriber *sub)
{
    int64_t stop_at = atomic_load(&sub->stop_at);
    return stop_at && clock_real_us() - stop_at >= SHUTDOWN_FLUSH_MS * 1000;
}

/*
 * Store batch b, retrying while the store is down. Gives up only when
 * stopping and the shutdown budget is spent: every batch not stored is then
 * dropped and the source rewound, so they are delivered again on the next start.
 */
static void store_with_retry(struct subscriber *sub, struct batch *b)
{
    long backoff = RETRY_MIN_MS;
    bool paused = false;
    for (;;) {
        /* the budget counts from the stop request: the writer's attempt, ours and sleeps alike */
        if (budget_spent(sub)) {
            log_error("stopping with %zu messages not stored; they were not acknowledged",
                      sub->written.nrows + sub->written.ndead + ingest_pending(&sub->ing));
            drop_and_rewind(sub);
            break;
        }
        int rc = store_batch(sub, b);
        if (rc == 0)
            break;
        if (sub->one_shot) {
            batch_clear(b);
            end_run(sub, rc, true);
            break;
        }
        if (!paused) {
            source_pause(sub->src, true);
            paused = true;
        }
        long delay = 1 + (long)(backoff_random() % (unsigned)backoff);     /* full jitter */
        log_warn("store failed (%s): consumption paused, retrying in %ld ms", colibri_strerror(rc), delay);
        clock_sleep_ms(delay);
        backoff = backoff * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : backoff * 2;
    }
    if (paused)
        source_pause(sub->src, false);
}

/* What finish_written does with the writer's batch. */
enum finish {
    FINISH_IF_DONE,         /* only if the writer is done; a failed write is retried here */
    FINISH_WAIT,            /* wait for the writer; a failed write is retried here */
    FINISH_WAIT_OR_DROP,    /* wait for the writer; a failed write is dropped (its error returned) */
};

/*
 * The writer's batch, once written, is acknowledged here (see enum finish;
 * a one-shot run ends at a failed write instead).
 * COLIBRI_ETIMEOUT: stopping, and the store did not answer within the budget.
 */
static int finish_written(struct subscriber *sub, enum finish how)
{
    bool wait = how != FINISH_IF_DONE, retry = how != FINISH_WAIT_OR_DROP;

    if (!sub->writing || sub->abandoned || (!wait && !atomic_load(&sub->done)))
        return sub->abandoned ? COLIBRI_ETIMEOUT : 0;
    pthread_mutex_lock(&sub->lock);
    while (wait && !sub->done && !budget_spent(sub)) {
        /* a store that hangs must not hold up a stop */
        struct timespec ts = clock_after_ms(CLOCK_REALTIME, 50);
        pthread_cond_timedwait(&sub->cond, &sub->lock, &ts);
    }
    bool done = sub->done;
    int rc = sub->written_rc;
    sub->done = false;
    pthread_mutex_unlock(&sub->lock);
    if (!done && wait) {
        log_error("stopping: the store has not answered within %d ms; %zu messages were not acknowledged "
                  "and will be delivered again", SHUTDOWN_FLUSH_MS, sub->written.nrows + sub->written.ndead);
        sub->abandoned = true;      /* the writer keeps its batch and the store until the process ends */
        return COLIBRI_ETIMEOUT;
    }
    if (!done)
        return 0;
    sub->writing = false;
    if (rc == 0) {
        rc = source_commit(sub->src, &sub->written);
        batch_clear(&sub->written);
    } else if (retry && !sub->one_shot) {
        store_with_retry(sub, &sub->written);
        rc = 0;
    } else {
        batch_clear(&sub->written);
        if (sub->one_shot)
            end_run(sub, rc, true);
    }
    return rc;
}

/* Hand the filling batch to the writer (once the previous one is acknowledged). */
static void hand_off(struct subscriber *sub)
{
    if (finish_written(sub, FINISH_WAIT) == COLIBRI_ETIMEOUT)
        return;
    if (ingest_empty(&sub->ing))
        return;
    source_dead_letter_flush(sub->src);
    ingest_take(&sub->ing, &sub->written);
    sub->writing = true;
    pthread_mutex_lock(&sub->lock);
    sub->handed = true;
    pthread_cond_signal(&sub->cond);
    pthread_mutex_unlock(&sub->lock);
}

/* For a source that must settle now (Kafka revoking partitions): store or drop everything. */
static int settle(void *ud)
{
    struct subscriber *sub = ud;
    int rc = finish_written(sub, FINISH_WAIT_OR_DROP);
    size_t pending = ingest_pending(&sub->ing);
    if (!rc) {      /* not after ETIMEOUT: the writer holds the store */
        ingest_take(&sub->ing, &sub->written);
        rc = store_batch(sub, &sub->written);
    }
    if (rc) {
        log_warn("dropping a batch of %zu messages that could not be stored; they will be read again",
                 pending);
        ingest_drop(&sub->ing);
        if (!sub->writing && !sub->abandoned)
            batch_clear(&sub->written);
    }
    return rc;
}

/*
 * A batch is due at BATCH_MAX rows or BATCH_MS age (ingest_due). A due batch
 * still takes in the messages that are already waiting (the source answers
 * at once), up to the catch-up bound: while ingestion is behind, transactions
 * grow and there are fewer of them, which is what lets it catch up; at a
 * steady pace nothing is waiting and a batch is stored as soon as it is due.
 * A one-shot source has its whole input waiting: no catch-up, its batches
 * stay at BATCH_MAX, so memory stays at two batches however long the input.
 */
static bool catchup_full(const struct subscriber *sub)
{
    return sub->one_shot ||
           ingest_pending(&sub->ing) >= (size_t)sub->cfg->batch_max * CATCHUP_BATCHES ||
           ingest_bytes(&sub->ing) >= CATCHUP_BYTES;
}

/*
 * Batch m as a row or a dead letter. Otherwise (ENOMEM) it is not in the
 * batch: the batch is read again, or a one-shot run ends.
 */
static int batch_message(struct subscriber *sub, const struct message *m)
{
    char reason[256];
    int rc = ingest_message(&sub->ing, m, reason, sizeof reason);
    if (rc == COLIBRI_EINVAL) {
        log_debug("dead letter %s: %s", m->id, reason);
        sub->rejected++;
        source_dead_letter(sub->src, m, reason);
        return 0;
    }
    if (rc == 0)
        return 0;
    log_error("cannot batch message %s: %s; %s", m->id, colibri_strerror(rc),
              sub->one_shot ? "stopping" : "reading the batch again");
    if (sub->one_shot) {
        end_run(sub, rc, false);
        return rc;
    }
    finish_written(sub, FINISH_WAIT);
    ingest_drop(&sub->ing);
    source_rewind(sub->src);
    return rc;
}

static void *run(void *arg)
{
    struct subscriber *sub = arg;
    /* for top -H and perf (not colibri load: its main thread keeps the process name) */
    if (!sub->one_shot)
        pthread_setname_np(pthread_self(), "subscriber");
    while (!atomic_load(&sub->stop)) {
        struct message m;
        int64_t now = clock_real_us();
        bool due = ingest_due(&sub->ing, now);
        int rc = source_next(sub->src, ingest_wait_ms(&sub->ing, now, POLL_MS), &m);
        if (rc == 0) {
            rc = batch_message(sub, &m);
        } else if (rc != COLIBRI_ETIMEOUT && sub->one_shot) {
            /* the input ended, or the source could not go on (it said why): store what it gave */
            if (rc != COLIBRI_ENOTFOUND)
                sub->ended_rc = rc;
            break;
        }
        if (due && (rc != 0 || catchup_full(sub)))
            hand_off(sub);
        else
            finish_written(sub, FINISH_IF_DONE);   /* acknowledge a written batch without waiting for the next */
    }
    if (finish_written(sub, FINISH_WAIT) != COLIBRI_ETIMEOUT) {
        ingest_take(&sub->ing, &sub->written);
        store_with_retry(sub, &sub->written);
    }
    return NULL;
}

static void subscriber_free(struct subscriber *sub)
{
    ingest_release(&sub->ing);
    batch_release(&sub->written);
    pthread_mutex_destroy(&sub->lock);
    pthread_cond_destroy(&sub->cond);
    free(sub);
}

/* Open the source at where: a COLIBRI_SUBSCRIBE url, or colibri load's path (file set). */
static int open_source(const struct config *cfg, const char *where, bool file,
                       const struct schema *s, struct store *st, struct subscriber **out)
{
    struct subscriber *sub = calloc(1, sizeof *sub);
    int rc;

    *out = NULL;
    if (!sub)
        return COLIBRI_ENOMEM;
    sub->cfg = cfg;
    sub->env = (struct source_env){ .cfg = cfg, .store = st, .flush = settle, .sub = sub };
    ingest_init(&sub->ing, NULL, s, st);
    ingest_batching(&sub->ing, cfg->batch_max, cfg->batch_ms);
    batch_init(&sub->written);
    pthread_mutex_init(&sub->lock, NULL);
    pthread_cond_init(&sub->cond, NULL);
    rc = file ? source_open_file(where, &sub->env, &sub->src)
              : source_open(where, &sub->env, &sub->src);
    if (rc) {
        subscriber_free(sub);
        return rc;
    }
    sub->ing.source = source_name(sub->src);     /* the metrics label */
    sub->one_shot = source_one_shot(sub->src);
    *out = sub;
    return 0;
}

int subscriber_open(const struct config *cfg, const struct schema *s, struct store *st,
                    struct subscriber **out)
{
    return open_source(cfg, cfg->subscribe, false, s, st, out);
}

int subscriber_open_file(const struct config *cfg, const char *path, const struct schema *s,
                         struct store *st, struct subscriber **out)
{
    return open_source(cfg, path, true, s, st, out);
}

static int start_writer(struct subscriber *sub)
{
    if (pthread_create(&sub->writer, NULL, write_batches, sub) != 0)
        return COLIBRI_ENOMEM;
    sub->writer_started = true;
    return 0;
}

int subscriber_start(struct subscriber *sub)
{
    if (start_writer(sub))
        return COLIBRI_ENOMEM;
    if (pthread_create(&sub->thread, NULL, run, sub) != 0)
        return COLIBRI_ENOMEM;
    sub->started = true;
    return 0;
}

int subscriber_run(struct subscriber *sub)
{
    assert(sub->one_shot);
    if (start_writer(sub))
        return COLIBRI_ENOMEM;
    run(sub);
    source_end(sub->src, &sub->ing.total, sub->store_ended ? sub->ended_rc : 0);
    return sub->ended_rc ? sub->ended_rc : sub->rejected ? COLIBRI_EINVAL : 0;
}

bool subscriber_ready(struct subscriber *sub, char *why, size_t whylen)
{
    int failure = atomic_load(&sub->store_failure);
    if (failure) {     /* a full disk or a read-only file: what a probe of the store cannot see */
        snprintf(why, whylen, "the last write to the store failed: %s; ingestion is paused",
                 colibri_strerror(failure));
        return false;
    }
    return source_ready(sub->src, why, whylen);
}

int subscriber_check(struct subscriber *sub, char *detail, size_t detaillen)
{
    return source_check(sub->src, detail, detaillen);
}

int subscriber_stop(struct subscriber *sub)
{
    if (!sub)
        return 0;
    atomic_store(&sub->stop_at, clock_real_us());
    atomic_store(&sub->stop, true);
    if (sub->started)
        pthread_join(sub->thread, NULL);
    source_close(sub->src);        /* Kafka: leaving the group settles through the writer's batch too */
    sub->src = NULL;
    if (sub->writer_started) {
        pthread_mutex_lock(&sub->lock);
        sub->writer_stop = true;
        pthread_cond_signal(&sub->cond);
        pthread_mutex_unlock(&sub->lock);
        if (sub->abandoned) {
            /* still inside the store: it ends with the process; the store must not be closed under it */
            pthread_detach(sub->writer);
            log_info("subscriber stopped with a write still in progress: %zu rows stored",
                     sub->ing.total.stored);
            return COLIBRI_ETIMEOUT;
        }
        pthread_join(sub->writer, NULL);
    }
    if (!sub->one_shot) /* a one-shot source has reported its run (source_end) */
        log_info("subscriber stopped: %zu rows stored, %zu duplicates skipped, %zu dead letters",
                 sub->ing.total.stored, sub->ing.total.duplicates, sub->ing.total.dead);
    subscriber_free(sub);
    return 0;
}
