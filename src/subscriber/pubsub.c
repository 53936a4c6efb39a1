/*
 * pubsub.c — the Google Pub/Sub pull source, over the REST API (v1).
 *
 * Three threads share one subscription:
 *   - the puller long-polls projects.subscriptions.pull (returnImmediately
 *     false) into a bounded queue, and stops pulling while the queue is full
 *     or the subscriber has paused us (the store is down): backpressure;
 *   - the leaser extends the ack deadline (modifyAckDeadline) of every
 *     message we hold, queued or handed out, before it runs out, so that a
 *     slow batch is not redelivered behind our back;
 *   - the subscriber thread takes messages with next(), and after the batch
 *     that holds them is stored acknowledges exactly those (commit), or
 *     gives them back at once (rewind: modifyAckDeadline 0).
 * Nothing is acknowledged before it is stored. A message redelivered anyway
 * (an ack lost, a crash) carries the same messageId, which is its _id, so
 * the store absorbs it as a duplicate.
 *
 * Each thread has its own REST client (they are not thread-safe). A pull
 * cannot be interrupted, so close() waits briefly for the puller and
 * otherwise leaves it to finish on its own: the context is reference
 * counted and the last thread out frees it; what such a late pull returns
 * is given back (nacked).
 *
 * PUBSUB_EMULATOR_HOST (host:port) selects http://host:port without
 * credentials; otherwise COLIBRI_PUBSUB_ENDPOINT or
 * https://pubsub.googleapis.com with access tokens from gcp_auth.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "colibri/arena.h"
#include "colibri/array.h"
#include "colibri/base64.h"
#include "colibri/clock.h"
#include "colibri/error.h"
#include "colibri/gcp.h"
#include "colibri/log.h"
#include "colibri/metrics.h"
#include "colibri/pubsub_msg.h"
#include "colibri/schema.h"
#include "subscriber/source_int.h"

#define SCOPE "https://www.googleapis.com/auth/pubsub"
#define DEFAULT_ENDPOINT "https://pubsub.googleapis.com"
#define PULL_MAX 1000               /* maxMessages of one pull (the API's limit) */
#define ACK_CHUNK 1000              /* ackIds per acknowledge/modifyAckDeadline request */
#define PULL_TIMEOUT_MS 90000       /* a long poll: the server answers when it has messages */
#define LEASE_TICK_MS 500
#define LEASE_MAX_MS (60L * 60 * 1000)   /* stop extending a message held this long */
#define CLOSE_WAIT_MS 1500          /* for an in-flight pull at close */
#define GIVE_BACK_MS 1000           /* giving back (nack) what was not stored, at close */
#define DLQ_CHUNK 100               /* messages per publish request */
#define DLQ_CHUNK_BYTES (8L * 1024 * 1024)

/* A message pulled and not yet handed out. */
struct pmsg {
    char *ack_id;
    struct pubsub_msg m;
    char *reason;           /* why m.data is unreadable, or NULL */
    int64_t received_ms;
    int64_t expires_ms;     /* our view of its ack deadline */
};

/* A message handed out by next() and not yet acknowledged. */
struct lease {
    char *ack_id;
    int64_t received_ms;
    int64_t expires_ms;
};

enum { URL_SUB, URL_PULL, URL_ACK, URL_MODACK, URL_PUBLISH, URL_COUNT };

struct pubsub {
    atomic_int refs;        /* close() and each running thread */
    const char *sub;        /* projects/P/subscriptions/S */
    const char *project;
    char *base;             /* https://pubsub.googleapis.com or http://HOST:PORT */
    const char *url[URL_COUNT]; /* the REST addresses called; URL_PUBLISH only with a dead-letter topic */
    struct arena texts;     /* owns sub, project, base and url[] */
    bool emulator;
    struct gcp_auth *auth;
    struct rest_client *pull_rc, *lease_rc, *rc;    /* puller, leaser, subscriber thread */
    long ack_deadline_s;    /* the subscription's */
    long extend_s;          /* what the leaser asks for */
    size_t queue_max;

    pthread_mutex_t lock;
    pthread_cond_t cond;    /* queue gained a message or room; stop; pause lifted */
    pthread_cond_t stopped; /* stop: wakes the leaser, which otherwise ticks */
    struct pmsg *q;         /* q[qhead .. qhead + qlen) */
    size_t qhead, qlen, qcap;
    struct lease *out;      /* handed out, not acknowledged: out[0..nretry) acks failed, then in order */
    size_t nout, capout, nretry;
    bool paused, stop;
    char why[512];          /* not ready: why */
    bool ready;

    struct pmsg cur;        /* the message next() returned last (its ack_id moved to out) */
    json_t *dlq;            /* dead letters to publish, or NULL when no topic */

    pthread_t puller, leaser;
    bool started, has_puller, has_leaser;
};

/* ---- messages ---------------------------------------------------------- */

static void pmsg_release(struct pmsg *p)
{
    free(p->ack_id);
    free(p->reason);
    pubsub_msg_release(&p->m);
    memset(p, 0, sizeof *p);
}

/* ---- REST helpers --------------------------------------------------------- */

/*
 * Send ids[0..n) to url (acknowledge or modifyAckDeadline with deadline_s
 * >= 0) in chunks. Returns 0 or the first error; every chunk is attempted.
 */
static int send_ack_ids(struct rest_client *client, const char *url, char *const *ids, size_t n, long deadline_s)
{
    int first_err = 0;
    char errmsg[256];
    for (size_t i = 0; i < n; i += ACK_CHUNK) {
        json_t *arr = json_array(), *body = json_object(), *resp = NULL;
        long status;
        for (size_t k = i; k < n && k < i + ACK_CHUNK; k++)
            json_array_append_new(arr, json_string(ids[k]));
        json_object_set_new(body, "ackIds", arr);
        if (deadline_s >= 0)
            json_object_set_new(body, "ackDeadlineSeconds", json_integer(deadline_s));
        int rc = rest_call(client, "POST", url, body, &resp, &status, errmsg, sizeof errmsg);
        json_decref(body);
        json_decref(resp);
        if (rc && !first_err)
            first_err = rc;
    }
    return first_err;
}

static void free_ids(char **ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

/* ---- lifetime ------------------------------------------------------------- */

static void pubsub_free(struct pubsub *p)
{
    for (size_t i = 0; i < p->qlen; i++)
        pmsg_release(&p->q[p->qhead + i]);
    free(p->q);
    for (size_t i = 0; i < p->nout; i++)
        free(p->out[i].ack_id);
    free(p->out);
    pmsg_release(&p->cur);
    json_decref(p->dlq);
    rest_client_free(p->pull_rc);
    rest_client_free(p->lease_rc);
    rest_client_free(p->rc);
    gcp_auth_free(p->auth);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    pthread_cond_destroy(&p->stopped);
    arena_release(&p->texts);
    free(p);
}

static void unref(struct pubsub *p)
{
    if (atomic_fetch_sub(&p->refs, 1) == 1)
        pubsub_free(p);
}

/* Wait on c for up to ms; the caller holds the lock. */
static void cond_wait_ms(struct pubsub *p, pthread_cond_t *c, long ms)
{
    struct timespec ts = clock_after_ms(CLOCK_MONOTONIC, ms);
    pthread_cond_timedwait(c, &p->lock, &ts);
}

static void set_ready(struct pubsub *p, bool ready, const char *why)
{
    pthread_mutex_lock(&p->lock);
    if (ready && !p->ready)
        log_info("pubsub: subscription %s is there", p->sub);
    p->ready = ready;
    snprintf(p->why, sizeof p->why, "%s", why ? why : "");
    pthread_mutex_unlock(&p->lock);
}

/* ---- the puller ----------------------------------------------------------- */

static int queue_push(struct pubsub *p, struct pmsg *m)
{
    if (p->qhead + p->qlen == p->qcap) {
        if (p->qhead > 0) {
            memmove(p->q, p->q + p->qhead, p->qlen * sizeof *p->q);
            p->qhead = 0;
        } else if (array_grow((void **)&p->q, p->qlen, &p->qcap, sizeof *p->q, 1024)) {
            return COLIBRI_ENOMEM;
        }
    }
    p->q[p->qhead + p->qlen++] = *m;
    memset(m, 0, sizeof *m);
    return 0;
}

/* Turn one pull response into queued messages; give them back instead when stopping. */
static void take_pulled(struct pubsub *p, json_t *resp)
{
    json_t *arr = json_object_get(resp, "receivedMessages");
    size_t n = json_array_size(arr), bad = 0, nb = 0, i;
    int64_t now = clock_mono_ms();
    json_t *it;
    if (n == 0)
        return;
    struct pmsg *batch = calloc(n, sizeof *batch);
    if (!batch)
        return;     /* the messages come back after their deadline */
    json_array_foreach(arr, i, it) {
        const char *ack = json_string_value(json_object_get(it, "ackId"));
        struct pmsg *m = &batch[nb];
        char err[128];
        if (!ack || pubsub_msg_parse(json_object_get(it, "message"), &m->m, err, sizeof err)) {
            bad++;
            continue;
        }
        if (!m->m.data_ok)
            m->reason = strdup(err);
        m->received_ms = now;
        m->expires_ms = now + p->ack_deadline_s * 1000;
        if (!(m->ack_id = strdup(ack))) {
            pmsg_release(m);
            continue;
        }
        nb++;
    }
    if (bad) {
        log_warn("pubsub: %zu pulled messages without ackId or messageId were skipped", bad);
        metrics_upstream_error("pubsub", "other");
    }
    pthread_mutex_lock(&p->lock);
    bool stopping = p->stop;
    for (i = 0; i < nb && !stopping; i++)
        if (queue_push(p, &batch[i]))
            pmsg_release(&batch[i]);    /* comes back after its deadline */
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    if (stopping) {
        char **ids = malloc(nb * sizeof *ids);
        for (i = 0; ids && i < nb; i++)
            ids[i] = batch[i].ack_id;
        if (ids)
            send_ack_ids(p->pull_rc, p->url[URL_MODACK], ids, nb, 0);
        free(ids);
        for (i = 0; i < nb; i++)
            pmsg_release(&batch[i]);
    }
    free(batch);
}

static void *puller(void *arg)
{
    struct pubsub *p = arg;
    int64_t retry_at = 0;   /* after an error, no pull before this */
    char errmsg[256];
    pthread_mutex_lock(&p->lock);
    while (!p->stop) {
        int64_t wait = retry_at - clock_mono_ms();
        if (wait > 0) {
            cond_wait_ms(p, &p->stopped, (long)wait);
            continue;
        }
        if (p->paused || p->qlen >= p->queue_max) {
            cond_wait_ms(p, &p->cond, 1000);
            continue;
        }
        size_t room = p->queue_max - p->qlen;
        pthread_mutex_unlock(&p->lock);

        errmsg[0] = '\0';         /* no body (out of memory): no stale reason from the last pull */
        json_t *body = json_pack("{s:I,s:b}", "maxMessages", (json_int_t)(room < PULL_MAX ? room : PULL_MAX),
                                 "returnImmediately", 0);
        json_t *resp = NULL;
        long status = 0;
        int rc = body ? rest_call(p->pull_rc, "POST", p->url[URL_PULL], body, &resp, &status, errmsg, sizeof errmsg)
                      : COLIBRI_ENOMEM;
        json_decref(body);
        if (rc == 0) {
            set_ready(p, true, NULL);
            take_pulled(p, resp);
        } else if (rc == COLIBRI_ETIMEOUT && status == 0) {
            /* the long poll ran out without messages */
        } else {
            char why[512];
            if (rc == COLIBRI_EINVAL && status == 404) {
                snprintf(why, sizeof why, "pubsub: subscription %s not found", p->sub);
                set_ready(p, false, why);
            } else if (rc == COLIBRI_EAUTH) {
                snprintf(why, sizeof why, "pubsub: not allowed to pull %s: %s", p->sub, errmsg);
                set_ready(p, false, why);
            }
            log_warn("pubsub: pull %s: %s%s%s", p->sub, colibri_strerror(rc), *errmsg ? ": " : "", errmsg);
            retry_at = clock_mono_ms() + (rc == COLIBRI_EINVAL || rc == COLIBRI_EAUTH ? 5000 : 1000);
        }
        json_decref(resp);
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    unref(p);
    return NULL;
}

/* ---- the leaser ----------------------------------------------------------- */

/* Ack ids whose deadline ends within margin_ms; their expiry is moved on optimistically. */
static size_t due_leases(struct pubsub *p, int64_t now, int64_t margin_ms, char ***out)
{
    size_t n = 0, cap = 0;
    char **ids = NULL;
    for (size_t pass = 0; pass < 2; pass++) {
        size_t count = pass == 0 ? p->qlen : p->nout;
        for (size_t i = 0; i < count; i++) {
            int64_t *expires = pass == 0 ? &p->q[p->qhead + i].expires_ms : &p->out[i].expires_ms;
            int64_t received = pass == 0 ? p->q[p->qhead + i].received_ms : p->out[i].received_ms;
            const char *ack = pass == 0 ? p->q[p->qhead + i].ack_id : p->out[i].ack_id;
            if (*expires - now > margin_ms || now - received > LEASE_MAX_MS)
                continue;
            if (array_grow((void **)&ids, n, &cap, sizeof *ids, 256) || !(ids[n] = strdup(ack)))
                goto out;
            n++;
            *expires = now + p->extend_s * 1000;
        }
    }
out:
    *out = ids;
    return n;
}

static void *leaser(void *arg)
{
    struct pubsub *p = arg;
    /* extend when a third of the subscription's deadline is left, at least 2 s before it ends */
    int64_t margin = p->ack_deadline_s * 1000 / 3 > 2000 ? p->ack_deadline_s * 1000 / 3 : 2000;
    pthread_mutex_lock(&p->lock);
    while (!p->stop) {
        cond_wait_ms(p, &p->stopped, LEASE_TICK_MS);
        if (p->stop)
            break;
        char **ids;
        size_t n = due_leases(p, clock_mono_ms(), margin, &ids);
        pthread_mutex_unlock(&p->lock);
        if (n) {
            log_debug("pubsub: extending %zu ack deadlines by %ld s", n, p->extend_s);
            if (send_ack_ids(p->lease_rc, p->url[URL_MODACK], ids, n, p->extend_s))
                log_warn("pubsub: could not extend %zu ack deadlines; those messages may be redelivered "
                         "(and skipped as duplicates)", n);
        }
        free_ids(ids, n);
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    unref(p);
    return NULL;
}

/* ---- source_ops ----------------------------------------------------------- */

/* "projects/P/subscriptions/S" */
static int parse_url(struct pubsub *p, const char *url)
{
    static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~+%:";
    const char *proj = strncmp(url, "projects/", 9) == 0 ? url + 9 : NULL;
    const char *slash = proj ? strchr(proj, '/') : NULL;
    const char *name = slash && strncmp(slash, "/subscriptions/", 15) == 0 ? slash + 15 : NULL;
    if (!name || slash == proj || !*name || strspn(proj, ok) != (size_t)(slash - proj) ||
        strspn(name, ok) != strlen(name)) {
        log_error("COLIBRI_SUBSCRIBE: expected pubsub://projects/PROJECT/subscriptions/NAME, got pubsub://%s", url);
        return COLIBRI_ECONFIG;
    }
    p->sub = arena_strdup(&p->texts, url);
    p->project = arena_dup(&p->texts, proj, (size_t)(slash - proj));
    return p->sub && p->project ? 0 : COLIBRI_ENOMEM;
}

static int set_endpoint(struct pubsub *p, const struct config *cfg)
{
    const char *emu = cfg->pubsub_emulator_host;
    struct arena *a = &p->texts;
    if (emu && *emu) {
        p->emulator = true;
        p->base = arena_printf(a, "%s%s", strncmp(emu, "http://", 7) == 0 ? "" : "http://", emu);
    } else {
        p->base = arena_strdup(a, *cfg->pubsub_endpoint ? cfg->pubsub_endpoint : DEFAULT_ENDPOINT);
    }
    if (!p->base)
        return COLIBRI_ENOMEM;
    size_t len = strlen(p->base);
    while (len > 0 && p->base[len - 1] == '/')
        p->base[--len] = '\0';
    static const char *const method[] = { [URL_PULL] = ":pull", [URL_ACK] = ":acknowledge",
                                          [URL_MODACK] = ":modifyAckDeadline" };
    if (!(p->url[URL_SUB] = arena_printf(a, "%s/v1/%s", p->base, p->sub)))
        return COLIBRI_ENOMEM;
    for (int i = URL_PULL; i <= URL_MODACK; i++)
        if (!(p->url[i] = arena_printf(a, "%s%s", p->url[URL_SUB], method[i])))
            return COLIBRI_ENOMEM;
    if (*cfg->dlq_topic) {
        const char *t = cfg->dlq_topic;
        p->url[URL_PUBLISH] = strncmp(t, "projects/", 9) == 0
            ? arena_printf(a, "%s/v1/%s:publish", p->base, t)
            : arena_printf(a, "%s/v1/projects/%s/topics/%s:publish", p->base, p->project, t);
        if (!p->url[URL_PUBLISH] || !(p->dlq = json_array()))
            return COLIBRI_ENOMEM;
    }
    return 0;
}

/*
 * Read the subscription: 0 if it is there (and its ack deadline is known),
 * COLIBRI_ENOTFOUND, or another error with detail set.
 */
static int get_subscription(struct pubsub *p, struct rest_client *rc, char *detail, size_t detaillen)
{
    char errmsg[256];
    json_t *resp = NULL;
    long status = 0;
    int err = rest_call(rc, "GET", p->url[URL_SUB], NULL, &resp, &status, errmsg, sizeof errmsg);
    if (err) {
        if (err == COLIBRI_EINVAL && status == 404) {
            snprintf(detail, detaillen, "pubsub %s: subscription %s not found", p->base, p->sub);
            err = COLIBRI_ENOTFOUND;
        } else {
            snprintf(detail, detaillen, "pubsub %s: subscription %s: %s%s%s", p->base, p->sub,
                     colibri_strerror(err), *errmsg ? ": " : "", errmsg);
        }
        return err;
    }
    json_int_t d = json_integer_value(json_object_get(resp, "ackDeadlineSeconds"));
    p->ack_deadline_s = d >= 10 && d <= 600 ? (long)d : 10;
    const char *topic = json_string_value(json_object_get(resp, "topic"));
    const char *push = json_string_value(json_object_get(json_object_get(resp, "pushConfig"), "pushEndpoint"));
    snprintf(detail, detaillen, "pubsub %s: subscription %s of topic %s, ack deadline %ld s%s%s",
             p->base, p->sub, topic ? topic : "?", p->ack_deadline_s,
             push && *push ? ", push endpoint " : "", push && *push ? push : "");
    json_decref(resp);
    return 0;
}

static void pubsub_close(void *ctx);

static int pubsub_open(const char *url, const struct source_env *env, void **ctx)
{
    const struct config *cfg = env->cfg;
    struct pubsub *p = calloc(1, sizeof *p);
    char detail[512];
    int rc;
    *ctx = NULL;
    if (!p)
        return COLIBRI_ENOMEM;
    atomic_init(&p->refs, 1);
    pthread_mutex_init(&p->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cond, &ca);
    pthread_cond_init(&p->stopped, &ca);
    pthread_condattr_destroy(&ca);
    p->ack_deadline_s = 10;
    p->queue_max = (size_t)cfg->batch_max + PULL_MAX;
    if ((rc = parse_url(p, url)) || (rc = set_endpoint(p, cfg)))
        goto fail;
    if ((rc = gcp_auth_new(cfg, SCOPE, p->emulator, &p->auth))) {
        log_error("pubsub: no credentials for %s (%s)", p->base, colibri_strerror(rc));
        goto fail;
    }
    struct rest_opts pull_opts = { .timeout_ms = PULL_TIMEOUT_MS, .deadline_ms = PULL_TIMEOUT_MS + 5000 };
    struct rest_opts lease_opts = { .timeout_ms = 5000, .deadline_ms = 10000 };
    struct rest_opts opts = { .timeout_ms = 10000, .deadline_ms = 20000 };   /* a failed ack is retried next commit */
    if ((rc = rest_client_new("pubsub", p->auth, &pull_opts, &p->pull_rc)) ||
        (rc = rest_client_new("pubsub", p->auth, &lease_opts, &p->lease_rc)) ||
        (rc = rest_client_new("pubsub", p->auth, &opts, &p->rc)))
        goto fail;
    rc = get_subscription(p, p->lease_rc, detail, sizeof detail);
    if (rc == COLIBRI_ENOTFOUND || rc == COLIBRI_EAUTH) {
        log_error("%s", detail);
        rc = COLIBRI_ECONFIG;
        goto fail;
    }
    if (rc)
        log_warn("%s; will keep trying", detail);
    else
        log_info("%s", detail);
    p->ready = rc == 0;
    snprintf(p->why, sizeof p->why, "%s", rc ? detail : "");
    /* ask for what the subscription grants, at least 30 s so a slow store has room */
    p->extend_s = p->ack_deadline_s > 30 ? p->ack_deadline_s : 30;
    log_info("consuming pubsub subscription %s from %s%s%s", p->sub, p->base,
             p->emulator ? " (emulator, no credentials)" : "",
             p->url[URL_PUBLISH] ? "; dead letters also published" : "");
    *ctx = p;
    return 0;
fail:
    pubsub_close(p);
    return rc;
}

/* Each thread holds a reference, dropped when it ends. */
static void start_threads(struct pubsub *p)
{
    p->started = true;
    atomic_fetch_add(&p->refs, 2);
    if (!(p->has_puller = pthread_create(&p->puller, NULL, puller, p) == 0)) {
        log_error("pubsub: cannot start the puller thread");
        atomic_fetch_sub(&p->refs, 1);
    }
    if (!(p->has_leaser = pthread_create(&p->leaser, NULL, leaser, p) == 0)) {
        log_error("pubsub: cannot start the lease thread; slow batches may be redelivered");
        atomic_fetch_sub(&p->refs, 1);
    }
}

static int pubsub_next(void *ctx, int timeout_ms, struct message *m)
{
    struct pubsub *p = ctx;
    pmsg_release(&p->cur);
    if (!p->started)
        start_threads(p);
    pthread_mutex_lock(&p->lock);
    int64_t until = clock_mono_ms() + timeout_ms;
    while (p->qlen == 0 && !p->stop) {
        int64_t left = until - clock_mono_ms();
        if (left <= 0)
            break;
        cond_wait_ms(p, &p->cond, (long)left);
    }
    if (p->qlen == 0) {
        pthread_mutex_unlock(&p->lock);
        return COLIBRI_ETIMEOUT;
    }
    if (array_grow((void **)&p->out, p->nout, &p->capout, sizeof *p->out, 1024)) {
        pthread_mutex_unlock(&p->lock);
        return COLIBRI_ETIMEOUT;    /* the message stays queued */
    }
    p->cur = p->q[p->qhead];
    p->qhead++;
    if (--p->qlen == 0)
        p->qhead = 0;
    p->out[p->nout++] = (struct lease){ .ack_id = p->cur.ack_id, .received_ms = p->cur.received_ms,
                                        .expires_ms = p->cur.expires_ms };
    p->cur.ack_id = NULL;
    pthread_cond_broadcast(&p->cond);      /* room for the puller */
    pthread_mutex_unlock(&p->lock);
    if (p->cur.reason)
        log_debug("pubsub: message %s: %s", p->cur.m.id, p->cur.reason);
    *m = (struct message){
        .id = p->cur.m.id,
        .source = "pubsub",
        .published_at = p->cur.m.published_at,
        .payload = p->cur.m.data,
        .len = p->cur.m.len,
    };
    return 0;
}

/*
 * Take the leases whose acks failed before (they lead the list) and then the
 * first count handed out; *n says how many. The caller frees the array and
 * its ids.
 */
static struct lease *take_out(struct pubsub *p, size_t count, size_t *n)
{
    pthread_mutex_lock(&p->lock);
    size_t fresh = p->nout - p->nretry;
    size_t k = p->nretry + (count < fresh ? count : fresh);
    struct lease *l = k ? malloc(k * sizeof *l) : NULL;
    if (l) {
        memcpy(l, p->out, k * sizeof *l);
        memmove(p->out, p->out + k, (p->nout - k) * sizeof *l);
        p->nout -= k;
        p->nretry = 0;
    } else {
        k = 0;      /* out of memory: acknowledged with a later batch, or redelivered and skipped */
    }
    pthread_mutex_unlock(&p->lock);
    *n = k;
    return l;
}

/* Hand leases back (their ack failed) in front: the leaser keeps them alive, the next commit retries. */
static void put_back(struct pubsub *p, struct lease *l, size_t n)
{
    pthread_mutex_lock(&p->lock);
    if (p->nout + n > p->capout) {
        size_t cap = p->capout ? p->capout : 1024;
        while (cap < p->nout + n)
            cap *= 2;
        struct lease *o = realloc(p->out, cap * sizeof *o);
        if (!o) {
            pthread_mutex_unlock(&p->lock);
            return;     /* they come back after their deadline */
        }
        p->out = o;
        p->capout = cap;
    }
    memmove(p->out + n, p->out, p->nout * sizeof *l);
    for (size_t i = 0; i < n; i++) {
        p->out[i] = l[i];
        l[i].ack_id = NULL;
    }
    p->nout += n;
    p->nretry += n;
    pthread_mutex_unlock(&p->lock);
}

/*
 * Acknowledge (deadline_s < 0) or modify the deadline of leases l[0..n) in
 * chunks; the leases of chunks that failed are handed back when keep is set.
 * Frees l. Returns how many were not done.
 */
static size_t settle_leases(struct pubsub *p, const char *url, struct lease *l, size_t n, long deadline_s,
                            bool keep)
{
    size_t failed = 0;
    char **ids = n ? malloc(n * sizeof *ids) : NULL;
    for (size_t i = 0; i < n; i++)
        if (ids)
            ids[i] = l[i].ack_id;
    for (size_t i = 0; ids && i < n; i += ACK_CHUNK) {
        size_t k = n - i < ACK_CHUNK ? n - i : ACK_CHUNK;
        if (send_ack_ids(p->rc, url, ids + i, k, deadline_s) == 0)
            continue;
        failed += k;
        if (keep)
            put_back(p, l + i, k);
    }
    if (!ids && n)
        failed = n;
    for (size_t i = 0; i < n; i++)
        free(l[i].ack_id);
    free(ids);
    free(l);
    return failed;
}

/*
 * The batch's messages are stored: acknowledge exactly those (one message,
 * one row or dead letter; they are the oldest handed out). Acks that fail are
 * kept for the next commit (a stored message acked late, or redelivered and
 * skipped as a duplicate, is never lost).
 */
static int pubsub_commit(void *ctx, const struct batch *b)
{
    struct pubsub *p = ctx;
    size_t n, failed;
    struct lease *l = take_out(p, b->nrows + b->ndead, &n);
    if (n && (failed = settle_leases(p, p->url[URL_ACK], l, n, -1, true)))
        log_warn("pubsub: could not acknowledge %zu stored messages yet; will try again with the next batch",
                 failed);
    else if (!n)
        free(l);
    return 0;
}

/* What was not stored is dropped: give those messages back now rather than at their deadline. */
static void pubsub_rewind(void *ctx)
{
    struct pubsub *p = ctx;
    size_t n;
    struct lease *l = take_out(p, SIZE_MAX, &n);
    if (n && settle_leases(p, p->url[URL_MODACK], l, n, 0, false))
        log_warn("pubsub: could not nack some of %zu messages; they come back after their ack deadline", n);
    else if (!n)
        free(l);
}

static void pubsub_pause(void *ctx, bool paused)
{
    struct pubsub *p = ctx;
    pthread_mutex_lock(&p->lock);
    p->paused = paused;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

static bool pubsub_ready(void *ctx, char *why, size_t whylen)
{
    struct pubsub *p = ctx;
    pthread_mutex_lock(&p->lock);
    bool ready = p->ready;
    if (!ready)
        snprintf(why, whylen, "%s", *p->why ? p->why : "pubsub: subscription not yet reached");
    pthread_mutex_unlock(&p->lock);
    return ready;
}

static int pubsub_check(void *ctx, char *detail, size_t detaillen)
{
    struct pubsub *p = ctx;
    return get_subscription(p, p->rc, detail, detaillen);
}

/* Keep a copy of a rejected message for the dead-letter topic (COLIBRI_DLQ_TOPIC). */
static int pubsub_dead_letter(void *ctx, const struct message *m, const char *reason)
{
    struct pubsub *p = ctx;
    if (!p->dlq)
        return 0;
    char *b64 = malloc(base64_encoded_len(m->len, false) + 1);
    if (!b64)
        return COLIBRI_ENOMEM;
    base64_encode((const unsigned char *)m->payload, m->len, b64, false);
    json_t *msg = json_pack("{s:s,s:{s:s,s:s}}", "data", b64, "attributes",
                            "colibri-reason", reason, "colibri-id", m->id);
    free(b64);
    if (!msg || json_array_append_new(p->dlq, msg))
        return COLIBRI_ENOMEM;
    return 0;
}

/* Publish the kept dead letters before their batch is stored (and so acknowledged). */
static int pubsub_dead_letter_flush(void *ctx)
{
    struct pubsub *p = ctx;
    size_t n = json_array_size(p->dlq);
    char errmsg[256];
    while (n > 0) {
        json_t *chunk = json_array();
        size_t bytes = 0, k = 0;
        for (; k < n && k < DLQ_CHUNK && bytes < DLQ_CHUNK_BYTES; k++) {
            json_t *it = json_array_get(p->dlq, k);
            bytes += json_string_length(json_object_get(it, "data")) + 256;
            json_array_append(chunk, it);
        }
        json_t *body = json_pack("{s:o}", "messages", chunk), *resp = NULL;
        long status;
        int rc = rest_call(p->rc, "POST", p->url[URL_PUBLISH], body, &resp, &status, errmsg, sizeof errmsg);
        json_decref(body);
        json_decref(resp);
        if (rc) {
            log_warn("pubsub: dead-letter topic: %s%s%s", colibri_strerror(rc), *errmsg ? ": " : "", errmsg);
            return COLIBRI_EUNAVAIL;
        }
        for (size_t i = 0; i < k; i++)
            json_array_remove(p->dlq, 0);
        n -= k;
    }
    return 0;
}

/* Join t for up to ms, else let it finish alone (it holds its own reference). */
static void join_or_detach(pthread_t t, const char *what, long ms)
{
    struct timespec ts = clock_after_ms(CLOCK_REALTIME, ms);
    if (pthread_timedjoin_np(t, NULL, &ts) != 0) {
        log_info("pubsub: %s still in flight; leaving it to finish on its own", what);
        pthread_detach(t);
    }
}

/* Stop the threads, give back what was pulled and not handed out, drop our reference. */
static void pubsub_close(void *ctx)
{
    struct pubsub *p = ctx;
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->cond);
    pthread_cond_broadcast(&p->stopped);
    pthread_mutex_unlock(&p->lock);
    if (p->has_leaser)
        join_or_detach(p->leaser, "a deadline extension", CLOSE_WAIT_MS);
    if (p->has_puller)
        join_or_detach(p->puller, "a pull", CLOSE_WAIT_MS);
    pthread_mutex_lock(&p->lock);
    size_t n = p->qlen + p->nout, k = 0;
    char **ids = n ? calloc(n, sizeof *ids) : NULL;
    for (size_t i = 0; ids && i < p->qlen; i++) {
        ids[k++] = p->q[p->qhead + i].ack_id;
        p->q[p->qhead + i].ack_id = NULL;
        pmsg_release(&p->q[p->qhead + i]);
    }
    for (size_t i = 0; ids && i < p->nout; i++)
        ids[k++] = p->out[i].ack_id;
    if (ids)
        p->qlen = p->qhead = p->nout = p->nretry = 0;
    pthread_mutex_unlock(&p->lock);
    /* never acked here: what is still out was not known to be stored. Giving it back only
     * spares waiting for its ack deadline, so it gets a short budget: the stop is bounded */
    struct rest_opts give_back_opts = { .timeout_ms = GIVE_BACK_MS, .deadline_ms = GIVE_BACK_MS };
    struct rest_client *give_back = NULL;
    if (k && p->auth && rest_client_new("pubsub", p->auth, &give_back_opts, &give_back) == 0) {
        log_info("pubsub: giving back %zu messages pulled and not stored", k);
        if (send_ack_ids(give_back, p->url[URL_MODACK], ids, k, 0))
            log_info("pubsub: not all were given back; they come back after their ack deadline");
    }
    rest_client_free(give_back);
    free_ids(ids, k);
    unref(p);
}

const struct source_ops pubsub_source_ops = LONG_RUNNING_SOURCE_OPS(pubsub);
