/*
 * kafka.c — the Kafka source on librdkafka.
 *
 * A consumer in a group (cooperative-sticky) whose offsets live in the
 * store: the subscriber writes each partition's next offset in the same
 * transaction as the rows, and on assignment we seek to those stored
 * offsets. That, with inserts idempotent on _id ("kafka:topic/partition/
 * offset"), is what makes ingestion exactly-once across crashes and
 * rebalances. Offsets are also committed to Kafka afterwards, only so that
 * lag tools see them. Rejected messages are copied to a dead-letter topic
 * with the reason in a header.
 *
 * A log that goes backwards is never deduplicated away. With each stored
 * offset goes a witness of the message before it (a hash of its timestamp,
 * key and payload). On assignment, a stored offset past the broker's high
 * watermark means the log is shorter than what was stored ("truncated": the
 * topic was recreated, or the broker reset); otherwise the message before it
 * is read again and compared with its witness ("replaced": a recreated topic
 * that already holds more messages). Either way the partition starts a new
 * epoch at its beginning, whose ids ("kafka:topic@E/partition/offset") and
 * positions cannot collide with the old log's, with a WARNING and
 * colibri_source_resets_total. (librdkafka 2.0 cannot read topic ids.)
 *
 * Static group membership (group.instance.id) lets a restarted process take
 * its partitions back at once instead of waiting for its old session to
 * expire; see COLIBRI_GROUP_INSTANCE_ID. Subscribing waits for the first
 * fetch, so that check-config never joins the group under the same id.
 *
 * Readiness asks a broker (see brokers_answer): librdkafka reconnects on its
 * own and reports no reliable "the brokers are back" (or even "all down").
 */
#include <ctype.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "colibri/array.h"
#include "colibri/clock.h"
#include "colibri/error.h"
#include "colibri/log.h"
#include "colibri/metrics.h"
#include "subscriber/source_int.h"

#define DLQ_WAIT_MS 5000
#define PROBE_TIMEOUT_MS 200    /* longest a readiness probe holds the HTTP thread that makes it */
#define PROBE_TTL_MS 1000       /* how long one probe's answer stands for every caller */
#define WATERMARK_WAIT_MS 5000  /* asking the broker for a partition's first and next offsets */
#define CLOSE_WAIT_MS 2000      /* leaving the group at shutdown; the store holds the positions */
#define CLOSE_FLUSH_MS 1000     /* dead-letter copies still queued at shutdown */
#define MAX_EPOCHS 1000

/* Per partition: where the uncommitted messages start and where we are. */
struct part {
    int32_t partition;
    int epoch;              /* how many times this partition's log was found replaced */
    int64_t first;          /* offset of the first message not stored yet, -1 if none */
    int64_t next;           /* offset after the last message delivered, < 0 if unknown */
    int64_t verify_at;      /* offset of the message to compare with its witness, -1 if none */
    int64_t witness;        /* the stored witness of that message */
};

struct kafka {
    const struct source_env *env;
    char *url;                           /* a copy of the URL, cut at '/' and '?' ... */
    const char *brokers, *topic, *group; /* ... so these point into it (group maybe "colibri") */
    char *dlq;
    char instance[160];     /* group.instance.id, "" = dynamic membership */
    rd_kafka_t *consumer, *producer;
    rd_kafka_message_t *current;    /* the message next() returned last */
    bool subscribed;
    struct part *parts;
    size_t nparts, capparts;
    char id[320], position[288];    /* strings of the current message */
    atomic_bool joined;
    /* the last broker probe: when (CLOCK_MONOTONIC ms, 0 = never), its answer, one at a time */
    _Atomic int64_t probe_at;
    atomic_int probe_err;
    atomic_bool probing;
    atomic_long dlq_failed;
    bool dlq_lagging;       /* copies to the dead-letter topic are behind */
};

/*
 * librdkafka warns of states it retries by itself and that need no action,
 * e.g. GETPID "Coordinator load in progress" on every start against a fresh
 * broker (the transaction coordinator is still loading): debug, not warning.
 */
static bool transient(const char *buf)
{
    static const char *const retried[] = { "oordinator load in progress", "COORDINATOR_LOAD_IN_PROGRESS",
                                           "Not coordinator", "NOT_COORDINATOR" };
    for (size_t i = 0; i < sizeof retried / sizeof retried[0]; i++)
        if (strstr(buf, retried[i]))
            return true;
    return false;
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    enum log_level l = level <= 3 ? LOG_ERROR : level <= 4 ? LOG_WARN : level <= 6 ? LOG_INFO : LOG_DEBUG;
    if (l >= LOG_WARN && level > 3 && transient(buf))
        l = LOG_DEBUG;
    log_msg(l, "librdkafka", "%s: %s", fac, buf);
}

/* What identifies a message at its offset (FNV-1a over timestamp, key, payload); never 0. */
static int64_t witness_of(const rd_kafka_message_t *msg)
{
    uint64_t h = 14695981039346656037u;
    int64_t ts = rd_kafka_message_timestamp(msg, NULL);
    const unsigned char *parts[] = { (const unsigned char *)&ts, msg->key, msg->payload };
    const size_t lens[] = { sizeof ts, msg->key ? msg->key_len : 0, msg->payload ? msg->len : 0 };
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < lens[i]; j++)
            h = (h ^ parts[i][j]) * 1099511628211u;
    h &= (uint64_t)INT64_MAX;
    return h ? (int64_t)h : 1;
}

static struct part *part_get(struct kafka *k, int32_t partition)
{
    for (size_t i = 0; i < k->nparts; i++)
        if (k->parts[i].partition == partition)
            return &k->parts[i];
    if (array_grow((void **)&k->parts, k->nparts, &k->capparts, sizeof *k->parts, 16))
        return NULL;
    k->parts[k->nparts] = (struct part){ .partition = partition, .first = -1, .next = -1, .verify_at = -1 };
    return &k->parts[k->nparts++];
}

/* "kafka:topic/3", or "kafka:topic@2/3" from the partition's second reset on. */
static void position_key(const struct kafka *k, int32_t partition, int epoch, char *buf, size_t n)
{
    if (epoch)
        snprintf(buf, n, "kafka:%s@%d/%" PRId32, k->topic, epoch, partition);
    else
        snprintf(buf, n, "kafka:%s/%" PRId32, k->topic, partition);
}

/* The partition's log was replaced: a new epoch, read from its beginning. */
static void start_epoch(struct kafka *k, struct part *p, const char *reason, const char *detail)
{
    p->epoch++;
    p->first = -1;
    p->next = -1;
    p->verify_at = -1;
    log_warn("kafka %s/%" PRId32 ": %s (%s); reading it from its beginning as epoch %d, with ids "
             "kafka:%s@%d/%" PRId32 "/<offset> that cannot collide with the rows stored before",
             k->topic, p->partition, detail, reason, p->epoch, k->topic, p->epoch, p->partition);
    metrics_source_reset("kafka", reason);
}

/* Seek each partition with uncommitted messages back to the first of them. */
static void kafka_rewind(void *ctx)
{
    struct kafka *k = ctx;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)k->nparts);
    for (size_t i = 0; i < k->nparts; i++) {
        if (k->parts[i].first < 0)
            continue;
        rd_kafka_topic_partition_list_add(l, k->topic, k->parts[i].partition)->offset = k->parts[i].first;
        k->parts[i].next = k->parts[i].first;
        k->parts[i].first = -1;
    }
    if (l->cnt > 0) {
        rd_kafka_error_t *err = rd_kafka_seek_partitions(k->consumer, l, 5000);
        if (err) {
            log_error("cannot seek back: %s", rd_kafka_error_string(err));
            rd_kafka_error_destroy(err);
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/*
 * Where partition p starts: its current epoch's stored offset, checked
 * against the broker (see the top of this file). Returns the offset to
 * assign, or RD_KAFKA_OFFSET_INVALID for "the group's committed, or earliest".
 */
static int64_t resume_at(struct kafka *k, struct part *pp)
{
    char key[288];
    int64_t next = 0, witness = 0, low, high;
    bool found = false;
    for (int e = 0; e < MAX_EPOCHS; e++) {
        int64_t n, w;
        position_key(k, pp->partition, e, key, sizeof key);
        if (store_position(k->env->store, key, &n, &w) != 0)
            break;
        pp->epoch = e, next = n, witness = w, found = true;
    }
    if (!found)
        return RD_KAFKA_OFFSET_INVALID;
    rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(k->consumer, k->topic, pp->partition, &low, &high,
                                                             WATERMARK_WAIT_MS);
    if (e) {
        log_warn("kafka %s/%" PRId32 ": cannot read its offsets (%s); resuming at %" PRId64 " unchecked",
                 k->topic, pp->partition, rd_kafka_err2str(e), next);
        return next;
    }
    if (next > high) {
        char why[160];
        snprintf(why, sizeof why, "the log ends at offset %" PRId64 " but %" PRId64 " were stored", high, next);
        start_epoch(k, pp, "truncated", why);
        return RD_KAFKA_OFFSET_BEGINNING;
    }
    if (next < low) {
        log_error("kafka %s/%" PRId32 ": offsets %" PRId64 " to %" PRId64 " were deleted by the broker "
                  "(retention) before they were stored; resuming at %" PRId64, k->topic, pp->partition,
                  next, low - 1, low);
        metrics_source_reset("kafka", "expired");
        return low;
    }
    if (witness && next - 1 >= low) {      /* read the last stored message again, to compare */
        pp->verify_at = next - 1;
        pp->witness = witness;
        return next - 1;
    }
    return next;
}

/* Start each newly assigned partition at the offset stored with the rows. */
static void on_assign(struct kafka *k, rd_kafka_topic_partition_list_t *parts)
{
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *p = &parts->elems[i];
        struct part *pp = part_get(k, p->partition);
        if (!pp)
            continue;
        *pp = (struct part){ .partition = p->partition, .first = -1, .verify_at = -1 };
        p->offset = resume_at(k, pp);
        pp->next = pp->verify_at >= 0 ? p->offset + 1 : p->offset;
        log_info("assigned %s/%" PRId32 " from offset %" PRId64 "%s", k->topic, p->partition, p->offset,
                 pp->verify_at >= 0 ? " (stored; checking the message there)"
                 : p->offset >= 0 ? " (stored)" : " (no stored offset: group's committed or earliest)");
    }
    rd_kafka_error_t *err = rd_kafka_incremental_assign(k->consumer, parts);
    if (err) {
        log_error("incremental assign: %s", rd_kafka_error_string(err));
        rd_kafka_error_destroy(err);
    }
}

/* Store (or drop and rewind) what we hold before the partitions go. */
static void on_revoke(struct kafka *k, rd_kafka_topic_partition_list_t *parts)
{
    if (k->env->flush(k->env->sub) != 0)
        kafka_rewind(k);
    for (int i = 0; i < parts->cnt; i++) {
        struct part *pp = part_get(k, parts->elems[i].partition);
        if (pp)
            pp->first = pp->next = -1;
        log_info("revoked %s/%" PRId32, k->topic, parts->elems[i].partition);
    }
    rd_kafka_error_t *err = rd_kafka_incremental_unassign(k->consumer, parts);
    if (err) {
        log_error("incremental unassign: %s", rd_kafka_error_string(err));
        rd_kafka_error_destroy(err);
    }
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
                         void *opaque)
{
    struct kafka *k = opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
        on_assign(k, parts);
    else
        on_revoke(k, parts);
    atomic_store(&k->joined, true);
}

/* Client-level errors (librdkafka retries them itself): log and count. */
static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    log_warn("kafka %s: %s", rd_kafka_name(rk), reason);
    metrics_upstream_error("kafka", "transient");
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct kafka *k = opaque;
    if (m->err) {
        atomic_fetch_add(&k->dlq_failed, 1);
        log_error("dead-letter topic %s: %s (the message stays in _dead_letters)",
                  rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
    }
}

/* A conf with our settings, then every COLIBRI_KAFKA_<PROP> on top. */
static int make_conf(struct kafka *k, bool consumer, rd_kafka_conf_t **out)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *const common[][2] = {
        { "bootstrap.servers", k->brokers },
        { "client.id", "colibri" },
    };
    const char *const consumer_defaults[][2] = {
        { "group.id", k->group },
        { "group.instance.id", *k->instance ? k->instance : NULL },
        { "enable.auto.commit", "false" },
        { "enable.auto.offset.store", "false" },
        { "auto.offset.reset", "earliest" },
        { "partition.assignment.strategy", "cooperative-sticky" },
        /* backpressure: bounded prefetch; about a second of messages at full speed, because
         * librdkafka 2.0 stops fetching for a whole second whenever this queue is full */
        { "queued.max.messages.kbytes", "65536" },
        { "fetch.wait.max.ms", "50" },
    };
    const char *const producer_defaults[][2] = {
        { "enable.idempotence", "true" },
        { "linger.ms", "5" },
        /* this handle also probes the brokers for readiness (brokers_answer): once they are
         * back it should be connected again within a second, not librdkafka's 10 s */
        { "reconnect.backoff.max.ms", "1000" },
    };
    *out = NULL;
    for (size_t i = 0; i < sizeof common / sizeof common[0]; i++)
        rd_kafka_conf_set(conf, common[i][0], common[i][1], err, sizeof err);
    const char *const (*defs)[2] = consumer ? consumer_defaults : producer_defaults;
    size_t ndefs = consumer ? sizeof consumer_defaults / sizeof consumer_defaults[0]
                            : sizeof producer_defaults / sizeof producer_defaults[0];
    for (size_t i = 0; i < ndefs; i++)
        if (defs[i][1])
            rd_kafka_conf_set(conf, defs[i][0], defs[i][1], err, sizeof err);
    const struct config *cfg = k->env->cfg;
    for (size_t i = 0; i < cfg->nkafka_props; i++) {
        const struct kafka_prop *p = &cfg->kafka_props[i];
        rd_kafka_conf_res_t r = rd_kafka_conf_set(conf, p->name, p->value, err, sizeof err);
        /* a consumer-only property is not an error for the producer, and the reverse */
        if (r == RD_KAFKA_CONF_INVALID || (r == RD_KAFKA_CONF_UNKNOWN && consumer)) {
            log_error("%s: %s", p->env, err);
            rd_kafka_conf_destroy(conf);
            return COLIBRI_ECONFIG;
        }
    }
    rd_kafka_conf_set_log_cb(conf, on_log);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_opaque(conf, k);
    if (consumer)
        rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    else
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    *out = conf;
    return 0;
}

/*
 * The static member id (COLIBRI_GROUP_INSTANCE_ID): "auto" is
 * colibri-<hostname>-<port>, which is stable across restarts of one
 * deployment and unique per process on a host, except on Cloud Run (K_SERVICE
 * is set), whose instances never come back under the same name: there it is
 * off, so that a stopped instance's partitions move at once.
 */
static void instance_id(const struct config *cfg, char *buf, size_t n)
{
    const char *id = cfg->group_instance_id;
    buf[0] = '\0';
    if (strcmp(id, "off") == 0 || (strcmp(id, "auto") == 0 && *cfg->k_service))
        return;
    if (strcmp(id, "auto") != 0) {
        snprintf(buf, n, "%s", id);
        return;
    }
    char host[64] = "localhost";
    gethostname(host, sizeof host);
    host[sizeof host - 1] = '\0';
    snprintf(buf, n, "colibri-%s-%d", host, cfg->listen_port);
}

/* "HOST:PORT[,HOST:PORT]/TOPIC?group=G" */
static int parse_url(struct kafka *k, const char *url)
{
    if (!(k->url = strdup(url)))
        return COLIBRI_ENOMEM;
    char *slash = strchr(k->url, '/');
    char *q = slash ? strchr(slash, '?') : NULL;
    if (!slash || slash == k->url || slash[1] == '\0' || slash[1] == '?')
        goto bad;
    k->group = "colibri";
    if (q) {
        if (strncmp(q + 1, "group=", 6) != 0 || q[7] == '\0' || strchr(q + 7, '&'))
            goto bad;
        k->group = q + 7;
        *q = '\0';
    }
    *slash = '\0';
    k->brokers = k->url;
    k->topic = slash + 1;
    for (const char *c = k->topic; *c; c++)
        if (!isalnum((unsigned char)*c) && !strchr("._-", *c))
            goto bad;
    return 0;
bad:
    log_error("COLIBRI_SUBSCRIBE: expected kafka://HOST:PORT[,HOST:PORT]/TOPIC[?group=G], got kafka://%s", url);
    return COLIBRI_ECONFIG;
}

static void kafka_close(void *ctx);

static int kafka_open(const char *url, const struct source_env *env, void **ctx)
{
    char err[512];
    rd_kafka_conf_t *cconf = NULL, *pconf = NULL;
    struct kafka *k = calloc(1, sizeof *k);
    int rc;
    *ctx = NULL;
    if (!k)
        return COLIBRI_ENOMEM;
    k->env = env;
    if ((rc = parse_url(k, url)))
        goto fail;
    if (*env->cfg->dlq_topic)
        k->dlq = strdup(env->cfg->dlq_topic);
    else if (asprintf(&k->dlq, "%s.dlq", k->topic) < 0)
        k->dlq = NULL;
    if (!k->dlq) {
        rc = COLIBRI_ENOMEM;
        goto fail;
    }
    instance_id(env->cfg, k->instance, sizeof k->instance);
    if ((rc = make_conf(k, true, &cconf)) || (rc = make_conf(k, false, &pconf)))
        goto fail;
    k->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cconf, err, sizeof err);
    if (!k->consumer) {
        log_error("kafka consumer: %s", err);
        rc = COLIBRI_ECONFIG;
        goto fail;
    }
    cconf = NULL;       /* rd_kafka_new took it */
    k->producer = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, err, sizeof err);
    if (!k->producer) {
        log_error("kafka dead-letter producer: %s", err);
        rc = COLIBRI_ECONFIG;
        goto fail;
    }
    pconf = NULL;
    rd_kafka_poll_set_consumer(k->consumer);
    log_info("consuming kafka topic %s from %s as group %s%s%s; dead letters to %s", k->topic, k->brokers,
             k->group, *k->instance ? ", static member " : "", k->instance, k->dlq);
    *ctx = k;
    return 0;
fail:
    if (cconf)
        rd_kafka_conf_destroy(cconf);
    if (pconf)
        rd_kafka_conf_destroy(pconf);
    kafka_close(k);
    return rc;
}

/* Subscribe on the first fetch: opening alone (check-config) must not join the group. */
static int subscribe(struct kafka *k)
{
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, k->topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(k->consumer, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (e) {
        log_error("subscribe to %s: %s", k->topic, rd_kafka_err2str(e));
        return COLIBRI_EUNAVAIL;
    }
    k->subscribed = true;
    return 0;
}

static void seek_to_beginning(struct kafka *k, int32_t partition)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, k->topic, partition)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_error_t *err = rd_kafka_seek_partitions(k->consumer, l, 5000);
    if (err) {
        log_error("kafka %s/%" PRId32 ": cannot seek to the beginning: %s", k->topic, partition,
                  rd_kafka_error_string(err));
        rd_kafka_error_destroy(err);
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/*
 * Whether msg continues partition p's log as we know it. A message that is
 * the one to check against its witness is consumed here (false); so is the
 * first one of a log found replaced, which is then read again from its start.
 */
static bool continues_log(struct kafka *k, struct part *p, const rd_kafka_message_t *msg)
{
    if (p->verify_at >= 0) {
        bool at = msg->offset == p->verify_at;
        p->verify_at = -1;
        if (at && witness_of(msg) == p->witness)
            return false;       /* the same log: that message is stored already */
        if (at) {
            char why[128];
            snprintf(why, sizeof why, "the message at offset %" PRId64 " is not the one stored there", msg->offset);
            start_epoch(k, p, "replaced", why);
            seek_to_beginning(k, p->partition);
            return false;
        }
    } else if (p->next >= 0 && msg->offset < p->next) {
        /* librdkafka started the partition again at its beginning (offset out of range) */
        char why[128];
        snprintf(why, sizeof why, "offset %" PRId64 " came after %" PRId64, msg->offset, p->next - 1);
        start_epoch(k, p, "truncated", why);
    }
    return true;
}

static int kafka_next(void *ctx, int timeout_ms, struct message *m)
{
    struct kafka *k = ctx;
    if (k->current) {
        rd_kafka_message_destroy(k->current);
        k->current = NULL;
    }
    if (!k->subscribed && subscribe(k))
        return COLIBRI_ETIMEOUT;
    rd_kafka_message_t *msg = rd_kafka_consumer_poll(k->consumer, timeout_ms);
    if (!msg)
        return COLIBRI_ETIMEOUT;
    if (msg->err) {
        if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            log_warn("kafka: %s", rd_kafka_message_errstr(msg));
            metrics_upstream_error("kafka", "transient");
        }
        rd_kafka_message_destroy(msg);
        return COLIBRI_ETIMEOUT;
    }
    struct part *p = part_get(k, msg->partition);
    if (!p) {
        rd_kafka_message_destroy(msg);
        return COLIBRI_ENOMEM;
    }
    if (!continues_log(k, p, msg)) {
        rd_kafka_message_destroy(msg);
        return COLIBRI_ETIMEOUT;
    }
    k->current = msg;
    if (p->first < 0)
        p->first = msg->offset;
    p->next = msg->offset + 1;
    position_key(k, msg->partition, p->epoch, k->position, sizeof k->position);
    if (p->epoch)
        snprintf(k->id, sizeof k->id, "kafka:%s@%d/%" PRId32 "/%" PRId64, k->topic, p->epoch, msg->partition,
                 msg->offset);
    else
        snprintf(k->id, sizeof k->id, "kafka:%s/%" PRId32 "/%" PRId64, k->topic, msg->partition, msg->offset);
    rd_kafka_timestamp_type_t tstype;
    int64_t ts = rd_kafka_message_timestamp(msg, &tstype);
    *m = (struct message){
        .id = k->id,
        .source = "kafka",
        .published_at = ts > 0 && ts < INT64_MAX / 1000 ? ts * 1000 : 0,
        .payload = msg->payload ? msg->payload : "",
        .len = msg->len,
        .position = k->position,
        .next_position = msg->offset + 1,
        .witness = witness_of(msg),
    };
    return 0;
}

static int kafka_dead_letter(void *ctx, const struct message *m, const char *reason)
{
    struct kafka *k = ctx;
    const rd_kafka_message_t *src = k->current;
    rd_kafka_resp_err_t e = rd_kafka_producev(k->producer,
        RD_KAFKA_V_TOPIC(k->dlq),
        RD_KAFKA_V_KEY(src ? src->key : NULL, src ? src->key_len : 0),
        RD_KAFKA_V_VALUE((void *)m->payload, m->len),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_HEADER("colibri-reason", reason, -1),
        RD_KAFKA_V_HEADER("colibri-id", m->id, -1),
        RD_KAFKA_V_END);
    if (e) {
        atomic_fetch_add(&k->dlq_failed, 1);
        log_error("dead-letter topic %s: %s (the message stays in _dead_letters)", k->dlq, rd_kafka_err2str(e));
        return COLIBRI_EUNAVAIL;
    }
    rd_kafka_poll(k->producer, 0);
    return 0;
}

/*
 * Wait for the dead-letter copies to be delivered before the batch is stored,
 * so that the topic gets every one at least once, even across a crash. But
 * rows are never held back by a topic that is down: after one wait of
 * DLQ_WAIT_MS runs out, batches stop waiting until the backlog is delivered
 * (librdkafka keeps retrying; _dead_letters is the record in any case).
 */
static int kafka_dead_letter_flush(void *ctx)
{
    struct kafka *k = ctx;
    if (rd_kafka_outq_len(k->producer) == 0) {
        if (k->dlq_lagging)
            log_info("dead-letter topic %s: caught up", k->dlq);
        k->dlq_lagging = false;
        return 0;
    }
    if (rd_kafka_flush(k->producer, k->dlq_lagging ? 0 : DLQ_WAIT_MS) != RD_KAFKA_RESP_ERR_NO_ERROR &&
        !k->dlq_lagging) {
        k->dlq_lagging = true;
        log_warn("dead-letter topic %s: %d messages not delivered in %d ms; storing batches without "
                 "waiting until it catches up (they are in _dead_letters)", k->dlq,
                 rd_kafka_outq_len(k->producer), DLQ_WAIT_MS);
    }
    return 0;
}

/* The stored batch is done: tell Kafka too (for lag tools; the store is the truth). */
static int kafka_commit(void *ctx, const struct batch *b)
{
    struct kafka *k = ctx;
    char key[288];
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)k->nparts);
    for (size_t i = 0; i < k->nparts; i++) {
        struct part *p = &k->parts[i];
        position_key(k, p->partition, p->epoch, key, sizeof key);
        for (size_t j = 0; j < b->npos; j++) {
            if (strcmp(b->pos[j].key, key) != 0)
                continue;
            /* the first message not stored yet: in the batch that fills, if any */
            p->first = b->pos[j].next < p->next ? b->pos[j].next : -1;
            rd_kafka_topic_partition_list_add(l, k->topic, p->partition)->offset = b->pos[j].next;
        }
    }
    if (l->cnt > 0)
        rd_kafka_commit(k->consumer, l, 1);
    for (int i = 0; i < l->cnt; i++) {
        int64_t low, high;      /* the cached high watermark: no request to the broker */
        if (rd_kafka_get_watermark_offsets(k->consumer, k->topic, l->elems[i].partition, &low, &high) == 0)
            metrics_lag("kafka", l->elems[i].partition, high - l->elems[i].offset);
    }
    rd_kafka_topic_partition_list_destroy(l);
    return 0;
}

static void kafka_pause(void *ctx, bool paused)
{
    struct kafka *k = ctx;
    rd_kafka_topic_partition_list_t *l = NULL;
    if (rd_kafka_assignment(k->consumer, &l) || !l)
        return;
    if (paused)
        rd_kafka_pause_partitions(k->consumer, l);
    else
        rd_kafka_resume_partitions(k->consumer, l);
    rd_kafka_topic_partition_list_destroy(l);
}

/*
 * Whether a broker answers: 0, or why not. A metadata request (no topics) on
 * the dead-letter producer, waiting at most PROBE_TIMEOUT_MS for a connected
 * broker and its answer. One probe at a time, at most one per PROBE_TTL_MS:
 * concurrent or frequent callers get the last answer without waiting.
 * librdkafka's own signals are not enough: the consumer's error callback gets
 * __ALL_BROKERS_DOWN only when every broker it knows was connected and then
 * lost (bootstrap entries it never used do not count), and nothing says when a
 * broker is back while the topic is idle. The producer handle is used because
 * it is otherwise idle and reconnects within a second (make_conf).
 */
static int brokers_answer(struct kafka *k)
{
    int64_t now = clock_mono_ms();
    if (now - atomic_load(&k->probe_at) >= PROBE_TTL_MS && !atomic_exchange(&k->probing, true)) {
        if (clock_mono_ms() - atomic_load(&k->probe_at) >= PROBE_TTL_MS) {   /* not just done by another */
            const struct rd_kafka_metadata *md;
            rd_kafka_resp_err_t e = rd_kafka_metadata(k->producer, 0, NULL, &md, PROBE_TIMEOUT_MS);
            if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
                rd_kafka_metadata_destroy(md);
            if (e && !atomic_load(&k->probe_err))
                log_warn("no broker of %s answers: %s", k->brokers, rd_kafka_err2str(e));
            else if (!e && atomic_load(&k->probe_err))
                log_info("brokers %s answer again", k->brokers);
            atomic_store(&k->probe_err, (int)e);
            atomic_store(&k->probe_at, clock_mono_ms());
        }
        atomic_store(&k->probing, false);
    }
    return atomic_load(&k->probe_err);
}

static bool kafka_ready(void *ctx, char *why, size_t whylen)
{
    struct kafka *k = ctx;
    int e = brokers_answer(k);
    if (e) {
        snprintf(why, whylen, "kafka: no broker of %s answers (%s)", k->brokers,
                 rd_kafka_err2str((rd_kafka_resp_err_t)e));
        return false;
    }
    if (atomic_load(&k->joined))
        return true;
    snprintf(why, whylen, "kafka: not yet a member of group %s", k->group);
    return false;
}

static int kafka_check(void *ctx, char *detail, size_t detaillen)
{
    struct kafka *k = ctx;
    const struct rd_kafka_metadata *md;
    rd_kafka_topic_t *t = rd_kafka_topic_new(k->producer, k->topic, NULL);
    rd_kafka_resp_err_t e = rd_kafka_metadata(k->producer, 0, t, &md, 5000);
    rd_kafka_topic_destroy(t);
    if (e) {
        snprintf(detail, detaillen, "kafka %s: %s", k->brokers, rd_kafka_err2str(e));
        return COLIBRI_EUNAVAIL;
    }
    int parts = md->topic_cnt == 1 && !md->topics[0].err ? md->topics[0].partition_cnt : -1;
    if (parts < 0)
        snprintf(detail, detaillen, "kafka %s: topic %s: %s", k->brokers, k->topic,
                 md->topic_cnt ? rd_kafka_err2str(md->topics[0].err) : "no metadata");
    else
        snprintf(detail, detaillen, "kafka %s: topic %s has %d partitions; %d brokers", k->brokers,
                 k->topic, parts, md->broker_cnt);
    rd_kafka_metadata_destroy(md);
    return parts < 0 ? COLIBRI_ENOTFOUND : 0;
}

/*
 * Leave the group within CLOSE_WAIT_MS: librdkafka's own close can wait for
 * a broker that is gone for as long as it likes. Partitions still held are
 * revoked through on_rebalance (which stores the filling batch). Whether it
 * finished: a commit skipped loses nothing, the store holds every position.
 */
static bool close_consumer(struct kafka *k)
{
    rd_kafka_queue_t *q = rd_kafka_queue_new(k->consumer);
    rd_kafka_error_t *err = q ? rd_kafka_consumer_close_queue(k->consumer, q) : NULL;
    int64_t until = clock_mono_ms() + CLOSE_WAIT_MS;
    if (err) {
        log_warn("kafka: closing the consumer: %s", rd_kafka_error_string(err));
        rd_kafka_error_destroy(err);
    } else if (q) {
        while (!rd_kafka_consumer_closed(k->consumer) && clock_mono_ms() < until) {
            /* events, not callbacks: this queue also gets fetched messages, which have none */
            rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 50);
            if (ev && rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE)
                on_rebalance(k->consumer, rd_kafka_event_error(ev), rd_kafka_event_topic_partition_list(ev), k);
            if (ev)
                rd_kafka_event_destroy(ev);
        }
    }
    bool closed = q && !err && rd_kafka_consumer_closed(k->consumer);
    if (q)
        rd_kafka_queue_destroy(q);
    return closed;
}

/*
 * Within CLOSE_WAIT_MS + CLOSE_FLUSH_MS. When a broker is gone, librdkafka's
 * destroy can wait for it without end, so the handles are then left to the
 * process's exit (this runs only at shutdown): nothing is lost, the store
 * holds every position and _dead_letters every dead letter.
 */
static void kafka_close(void *ctx)
{
    struct kafka *k = ctx;
    if (!k)
        return;
    if (k->current)
        rd_kafka_message_destroy(k->current);
    bool reachable = true;
    if (k->consumer) {
        reachable = !k->subscribed || close_consumer(k);
        if (reachable)
            rd_kafka_destroy_flags(k->consumer, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
        else
            log_warn("kafka: leaving group %s did not finish within %d ms (is the broker gone?); "
                     "stopping without it (the store holds the positions)", k->group, CLOSE_WAIT_MS);
    }
    if (k->producer) {
        if (rd_kafka_flush(k->producer, CLOSE_FLUSH_MS) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            log_warn("dead-letter topic %s: %d copies not delivered at shutdown (they are in _dead_letters)",
                     k->dlq, rd_kafka_outq_len(k->producer));
            reachable = false;
        }
        if (reachable)
            rd_kafka_destroy(k->producer);
    }
    free(k->parts);
    free(k->url);
    free(k->dlq);
    free(k);
}

const struct source_ops kafka_source_ops = LONG_RUNNING_SOURCE_OPS(kafka);
