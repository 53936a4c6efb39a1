/*
 * test_kafka_mock.c — the Kafka source and the ingest loop against
 * librdkafka's mock cluster (rdkafka_mock.h): three in-process brokers on
 * 127.0.0.1, faults injected per request type. Each test produces MSGS
 * messages (every 50th malformed) to a 4-partition topic, runs the real
 * subscriber (subscriber_open/start/stop) into a SQLite file, and checks
 * that every valid message is a row exactly once, every malformed one a
 * dead letter exactly once, and the stored positions cover every offset.
 * The readiness tests take the brokers down (or make them answer late) and
 * check that subscriber_ready follows within bounds, each call kept short.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit.h"
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <sqlite3.h>

#include "colibri/config.h"
#include "colibri/error.h"
#include "colibri/log.h"
#include "colibri/metrics.h"
#include "colibri/strbuf.h"
#include "colibri/store.h"
#include "colibri/subscriber.h"

#define TOPIC "t"
#define PARTS 4
#define MSGS 2000
#define BAD_EVERY 50
#define NBAD (MSGS / BAD_EVERY)
#define NGOOD (MSGS - NBAD)

/* RD_KAFKAP_* request types (ApiKey) */
enum { API_PRODUCE = 0, API_FETCH = 1, API_OFFSET_COMMIT = 8, API_HEARTBEAT = 12 };

static const char schema_json[] =
    "[{\"name\":\"event_id\",\"type\":\"STRING\",\"mode\":\"REQUIRED\"},"
    " {\"name\":\"event_time\",\"type\":\"TIMESTAMP\",\"mode\":\"REQUIRED\"},"
    " {\"name\":\"n\",\"type\":\"INT64\"}]";

struct fx {
    rd_kafka_t *owner;              /* handle that owns the mock cluster */
    rd_kafka_mock_cluster_t *mc;
    char bootstraps[256];
    char db[64];
    struct schema *schema;
    struct store *store;
    struct config cfg;
    bool cfg_loaded;
    struct subscriber *running[2];  /* stopped by teardown if a test fails half-way */
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static rd_kafka_t *new_client(rd_kafka_type_t type, const char *bootstraps, const char *const *kv)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (bootstraps)
        assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, err, sizeof err), RD_KAFKA_CONF_OK);
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
    for (; kv && kv[0]; kv += 2)
        assert_int_equal(rd_kafka_conf_set(conf, kv[0], kv[1], err, sizeof err), RD_KAFKA_CONF_OK);
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof err);
    assert_non_null(rk);
    return rk;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    char err[256];
    assert_non_null(f);
    log_setup(getenv("TEST_KAFKA_LOG") ? LOG_INFO : LOG_ERROR, false);
    f->owner = new_client(RD_KAFKA_PRODUCER, NULL, NULL);
    f->mc = rd_kafka_mock_cluster_new(f->owner, 3);
    assert_non_null(f->mc);
    snprintf(f->bootstraps, sizeof f->bootstraps, "%s", rd_kafka_mock_cluster_bootstraps(f->mc));
    assert_int_equal(rd_kafka_mock_topic_create(f->mc, TOPIC, PARTS, 3), 0);
    assert_int_equal(rd_kafka_mock_topic_create(f->mc, TOPIC ".dlq", 1, 3), 0);
    snprintf(f->db, sizeof f->db, "/tmp/colibri-kmock-XXXXXX");
    int fd = mkstemp(f->db);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(schema_parse(schema_json, strlen(schema_json), "t", "event_time", &f->schema, err,
                                  sizeof err), 0);
    char url[96];
    snprintf(url, sizeof url, "sqlite:%s", f->db);
    assert_int_equal(store_open(NULL, url, f->schema, &f->store), 0);
    *state = f;
    return 0;
}

static void unlink_db(const char *db)
{
    char p[96];
    unlink(db);
    snprintf(p, sizeof p, "%s-wal", db);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", db);
    unlink(p);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    for (int i = 0; i < 2; i++)
        subscriber_stop(f->running[i]);
    if (f->cfg_loaded)
        config_free(&f->cfg);
    store_close(f->store);
    schema_free(f->schema);
    rd_kafka_mock_cluster_destroy(f->mc);
    rd_kafka_destroy(f->owner);
    unlink_db(f->db);
    free(f);
    return 0;
}

/* The configuration colibri would load from its environment, subscribed to the mock. */
static struct config *load_config(struct fx *f, const char *group)
{
    char url[400], err[256], *rest[1];
    int nrest;
    snprintf(url, sizeof url, "kafka://%s/" TOPIC "?group=%s", f->bootstraps, group);
    setenv("COLIBRI_SUBSCRIBE", url, 1);
    setenv("COLIBRI_BATCH_MAX", "100", 1);
    setenv("COLIBRI_BATCH_MS", "50", 1);
    /* a lost member is noticed quickly; the mock takes any session timeout */
    setenv("COLIBRI_KAFKA_SESSION_TIMEOUT_MS", "3000", 1);
    setenv("COLIBRI_KAFKA_HEARTBEAT_INTERVAL_MS", "300", 1);
    if (f->cfg_loaded)
        config_free(&f->cfg);
    assert_int_equal(config_load(&f->cfg, 0, NULL, rest, &nrest, err, sizeof err), 0);
    f->cfg_loaded = true;
    return &f->cfg;
}

/* MSGS messages keyed "k<i>"; every BAD_EVERY-th is not JSON. */
static void produce(struct fx *f, int from, int to)
{
    const char *kv[] = { "enable.idempotence", "true", "linger.ms", "5", NULL };
    rd_kafka_t *p = new_client(RD_KAFKA_PRODUCER, f->bootstraps, kv);
    char key[16], val[160];
    for (int i = from; i < to; i++) {
        snprintf(key, sizeof key, "k%d", i);
        int n = i % BAD_EVERY == BAD_EVERY - 1
            ? snprintf(val, sizeof val, "not json %d {", i)
            : snprintf(val, sizeof val, "{\"event_id\":\"e%d\",\"event_time\":\"2026-01-01T00:00:%02d.%06dZ\",\"n\":%d}",
                       i, i % 60, i, i);
        rd_kafka_resp_err_t e;
        while ((e = rd_kafka_producev(p, RD_KAFKA_V_TOPIC(TOPIC), RD_KAFKA_V_KEY(key, strlen(key)),
                                      RD_KAFKA_V_VALUE(val, (size_t)n), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                      RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(p, 10);
        assert_int_equal(e, 0);
    }
    assert_int_equal(rd_kafka_flush(p, 30000), 0);
    rd_kafka_destroy(p);
}

static int64_t scalar(const char *db, const char *sql)
{
    sqlite3 *c;
    sqlite3_stmt *st;
    int64_t v = -1;
    assert_int_equal(sqlite3_open_v2(db, &c, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(c, 5000);
    if (sqlite3_prepare_v2(c, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(c);
    return v;
}

/* Rows + dead letters reach want within timeout_ms: the count reached, or -1 - the count it stopped at. */
static int64_t stored_within(struct fx *f, int64_t want, int timeout_ms)
{
    int64_t t0 = now_ms(), got = 0;
    while (now_ms() - t0 < timeout_ms) {
        got = scalar(f->db, "SELECT (SELECT count(*) FROM t) + (SELECT count(*) FROM _dead_letters)");
        if (got >= want)
            return got;
        usleep(50 * 1000);
    }
    return -1 - got;
}

static void wait_stored(struct fx *f, int64_t want, int timeout_ms)
{
    int64_t got = stored_within(f, want, timeout_ms);
    if (got < 0)
        fail_msg("stored %" PRId64 " of %" PRId64 " within %d ms", -1 - got, want, timeout_ms);
}

/* Exactly once: the valid ones as rows, the malformed ones as dead letters, positions cover all. */
static void check_exactly_once(struct fx *f, int msgs)
{
    int bad = msgs / BAD_EVERY;
    assert_int_equal(scalar(f->db, "SELECT count(*) FROM t"), msgs - bad);
    assert_int_equal(scalar(f->db, "SELECT count(DISTINCT event_id) FROM t"), msgs - bad);
    assert_int_equal(scalar(f->db, "SELECT count(*) FROM _dead_letters"), bad);
    assert_int_equal(scalar(f->db, "SELECT count(*) FROM _dead_letters WHERE payload NOT LIKE 'not json %'"), 0);
    assert_int_equal(scalar(f->db, "SELECT sum(next) FROM _positions"), msgs);
    assert_int_equal(scalar(f->db, "SELECT count(*) FROM t WHERE _id NOT LIKE 'kafka:" TOPIC "/%/%'"), 0);
}

/* Messages on the dead-letter topic with both colibri headers; -1 if one lacks them. */
static int count_dlq(struct fx *f)
{
    const char *kv[] = { "group.id", "dlq-reader", "enable.partition.eof", "true",
                         "auto.offset.reset", "earliest", NULL };
    rd_kafka_t *c = new_client(RD_KAFKA_CONSUMER, f->bootstraps, kv);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, TOPIC ".dlq", 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    assert_int_equal(rd_kafka_assign(c, l), 0);
    rd_kafka_topic_partition_list_destroy(l);
    int n = 0;
    int64_t t0 = now_ms();
    for (;;) {
        assert_true(now_ms() - t0 < 20000);
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 200);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            rd_kafka_message_destroy(m);
            break;
        }
        assert_int_equal(m->err, 0);
        rd_kafka_headers_t *h = NULL;
        const void *v;
        size_t vn;
        if (rd_kafka_message_headers(m, &h) || rd_kafka_header_get_last(h, "colibri-reason", &v, &vn) ||
            rd_kafka_header_get_last(h, "colibri-id", &v, &vn) || vn < 8 || memcmp(v, "kafka:" TOPIC "/", 8))
            n = -1000000;
        n++;
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    return n;
}

static struct subscriber *start(struct fx *f, const char *group)
{
    struct subscriber *sub;
    assert_int_equal(subscriber_open(load_config(f, group), f->schema, f->store, &sub), 0);
    assert_int_equal(subscriber_start(sub), 0);
    f->running[f->running[0] ? 1 : 0] = sub;
    return sub;
}

static void stop(struct fx *f, struct subscriber *sub)
{
    for (int i = 0; i < 2; i++)
        if (f->running[i] == sub)
            f->running[i] = NULL;
    subscriber_stop(sub);
}

/* ---------------------------------------------------------------- tests */

static void test_all_messages_once_and_dead_letters_published(void **state)
{
    struct fx *f = *state;
    produce(f, 0, MSGS);
    struct subscriber *sub = start(f, "g-plain");
    wait_stored(f, MSGS, 30000);
    stop(f, sub);
    check_exactly_once(f, MSGS);
    assert_int_equal(count_dlq(f), NBAD);
}

/* The value of one series in colibri's Prometheus text; 0 if it is not there (yet). */
static double metric(const char *series)
{
    struct strbuf sb = STRBUF_INIT;
    metrics_render(&sb, &(struct metrics_probe){ 0 });
    const char *p = sb.buf ? strstr(sb.buf, series) : NULL;
    double v = p ? strtod(p + strlen(series), NULL) : 0;
    strbuf_release(&sb);
    return v;
}

/* A backlog is stored in fewer transactions than BATCH_MAX (100) rows each would take. */
static void test_backlog_is_stored_in_larger_transactions(void **state)
{
    struct fx *f = *state;
    const char *count = "colibri_batch_rows_count{source=\"kafka\"} ";
    const char *small = "colibri_batch_rows_bucket{source=\"kafka\",le=\"100\"} ";
    double batches0 = metric(count), small0 = metric(small);
    produce(f, 0, MSGS);
    struct subscriber *sub = start(f, "g-backlog");
    wait_stored(f, MSGS, 30000);
    stop(f, sub);
    check_exactly_once(f, MSGS);
    double batches = metric(count) - batches0, large = batches - (metric(small) - small0);
    print_message("%.0f transactions for %d messages, %.0f of them over BATCH_MAX\n", batches, MSGS, large);
    assert_true(batches >= 1 && batches < MSGS / 100);
    assert_true(large >= 1);
}

/* Fetch answers with retriable errors (leadership moving, timeouts) now and then. */
static void test_fetch_errors(void **state)
{
    struct fx *f = *state;
    produce(f, 0, MSGS);
    rd_kafka_mock_push_request_errors(f->mc, API_FETCH, 6,
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
        RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
    struct subscriber *sub = start(f, "g-fetch");
    wait_stored(f, MSGS, 60000);
    stop(f, sub);
    check_exactly_once(f, MSGS);
}

/* Every partition changes leader, and a broker goes down for 2 s, during consumption. */
static void test_leader_change_and_broker_down(void **state)
{
    struct fx *f = *state;
    produce(f, 0, MSGS / 2);
    struct subscriber *sub = start(f, "g-leader");
    wait_stored(f, MSGS / 4, 30000);
    for (int p = 0; p < PARTS; p++)
        rd_kafka_mock_partition_set_leader(f->mc, TOPIC, p, 1 + (p + 1) % 3);
    rd_kafka_mock_broker_set_down(f->mc, 2);
    usleep(2000 * 1000);
    rd_kafka_mock_broker_set_up(f->mc, 2);
    produce(f, MSGS / 2, MSGS);
    wait_stored(f, MSGS, 60000);
    stop(f, sub);
    check_exactly_once(f, MSGS);
}

/* Kafka refuses the offset commits: they only serve lag tools; the rows are exact anyway. */
static void test_offset_commit_errors(void **state)
{
    struct fx *f = *state;
    produce(f, 0, MSGS);
    rd_kafka_mock_push_request_errors(f->mc, API_OFFSET_COMMIT, 20,
        RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS,
        RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS,
        RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS,
        RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS,
        RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS);
    struct subscriber *sub = start(f, "g-commit");
    wait_stored(f, MSGS, 60000);
    stop(f, sub);
    check_exactly_once(f, MSGS);
    /* and a second consumer of the group resumes from the stored offsets: nothing twice */
    sub = start(f, "g-commit");
    usleep(1500 * 1000);
    stop(f, sub);
    check_exactly_once(f, MSGS);
}

/* The dead-letter producer meets retriable errors: each dead letter is still published once. */
static void test_dlq_produce_retriable_errors(void **state)
{
    struct fx *f = *state;
    produce(f, 0, MSGS);
    rd_kafka_mock_push_request_errors(f->mc, API_PRODUCE, 4,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
    struct subscriber *sub = start(f, "g-dlq");
    wait_stored(f, MSGS, 60000);
    stop(f, sub);
    check_exactly_once(f, MSGS);
    assert_int_equal(count_dlq(f), NBAD);
}

/*
 * The dead-letter topic is unavailable (its metadata answers with an error, as
 * while its leader is being elected): the dead letters are in _dead_letters
 * anyway, so the valid rows must keep flowing ("invalid messages never stop
 * ingestion").
 *
 * KNOWN BUG (reported to the lead): dead_letter_flush() waits up to 10 s for
 * the DLQ producer, fails the whole batch, and the store retry loop repeats
 * that until librdkafka gives the dead letters up after message.timeout.ms
 * (300 s): nothing at all is stored meanwhile, and stopping takes 70-80 s
 * (each retry blocks 10 s in rd_kafka_flush). Like pytest's
 * xfail(strict=True): passes while the bug is there, fails once it is fixed
 * so that this block is turned back into a plain assertion.
 */
static void test_dlq_topic_unavailable_does_not_stop_rows(void **state)
{
    struct fx *f = *state;
    produce(f, 0, MSGS);
    rd_kafka_mock_topic_set_error(f->mc, TOPIC ".dlq", RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
    struct subscriber *sub = start(f, "g-dlq-down");
    /* rows keep arriving while the dead-letter topic is down */
    int64_t got = stored_within(f, MSGS, 15000);
    if (got < 0)
        fail_msg("%" PRId64 " of %d messages stored in 15 s with the dead-letter topic unavailable", -1 - got, MSGS);
    rd_kafka_mock_topic_set_error(f->mc, TOPIC ".dlq", RD_KAFKA_RESP_ERR_NO_ERROR);
    stop(f, sub);
    /* the record is the table: every row and dead letter exactly once; the topic copy is best effort */
    check_exactly_once(f, MSGS);
    assert_true(count_dlq(f) <= NBAD);
}

/*
 * Two subscribers in one group on one SQLite file; one stops (leaves the group)
 * half-way, the other takes its partitions from the stored offsets.
 */
static void test_rebalance_two_members(void **state)
{
    struct fx *f = *state;
    struct subscriber *a, *b;
    produce(f, 0, MSGS / 2);
    a = start(f, "g-two");
    b = start(f, "g-two");
    wait_stored(f, MSGS / 4, 30000);
    stop(f, a);
    produce(f, MSGS / 2, MSGS);
    wait_stored(f, MSGS, 60000);
    a = start(f, "g-two");
    usleep(1000 * 1000);
    stop(f, a);
    stop(f, b);
    check_exactly_once(f, MSGS);
}

/* Heartbeats fail for a while (coordinator trouble): the member rejoins, nothing twice. */
static void test_heartbeat_errors_force_rejoin(void **state)
{
    struct fx *f = *state;
    produce(f, 0, MSGS / 2);
    struct subscriber *sub = start(f, "g-hb");
    wait_stored(f, MSGS / 4, 30000);
    rd_kafka_mock_push_request_errors(f->mc, API_HEARTBEAT, 3, RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS,
                                      RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID, RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION);
    produce(f, MSGS / 2, MSGS);
    wait_stored(f, MSGS, 60000);
    stop(f, sub);
    check_exactly_once(f, MSGS);
}

/* ---------------------------------------------------------------- readiness */

#define READY_BOUND_MS 10000    /* readiness must follow the brokers within this */
#define PROBE_BOUND_MS 400      /* one readiness call: the 200 ms probe plus scheduling slack */

/* Calls subscriber_ready until it answers want; the ms that took, or -1 after bound_ms. */
static int64_t ready_becomes(struct subscriber *sub, bool want, int bound_ms, char *why, size_t whylen)
{
    int64_t t0 = now_ms();
    while (now_ms() - t0 < bound_ms) {
        int64_t c0 = now_ms();
        why[0] = '\0';
        bool ready = subscriber_ready(sub, why, whylen);
        int64_t took = now_ms() - c0;
        if (took > PROBE_BOUND_MS)
            fail_msg("one readiness call took %" PRId64 " ms (bound %d ms)", took, PROBE_BOUND_MS);
        if (ready == want)
            return now_ms() - t0;
        usleep(50 * 1000);
    }
    return -1;
}

/* Ready for the whole of ms, sampled every 100 ms. */
static void stays_ready(struct subscriber *sub, int ms, const char *what)
{
    char why[256];
    int64_t t0 = now_ms();
    while (now_ms() - t0 < ms) {
        if (!subscriber_ready(sub, why, sizeof why))
            fail_msg("%s: not ready after %" PRId64 " ms: %s", what, now_ms() - t0, why);
        usleep(100 * 1000);
    }
}

/*
 * Every broker goes down while the subscriber has nothing left to fetch:
 * readiness must turn false (naming the brokers) within READY_BOUND_MS, stay
 * false while they are down, and come back within READY_BOUND_MS once they
 * are up. librdkafka's "all brokers down" error alone does not do it: brokers
 * it never connected to (bootstrap entries, under sparse connections) are
 * never counted as down.
 */
static void test_readiness_follows_brokers_down_and_up(void **state)
{
    struct fx *f = *state;
    char why[256];
    produce(f, 0, MSGS / 4);
    struct subscriber *sub = start(f, "g-ready");
    wait_stored(f, MSGS / 4, 30000);
    int64_t joined = ready_becomes(sub, true, 30000, why, sizeof why);
    if (joined < 0)
        fail_msg("not ready 30 s after start: %s", why);
    stays_ready(sub, 3000, "idle topic, brokers up");

    for (int b = 1; b <= 3; b++)
        rd_kafka_mock_broker_set_down(f->mc, b);
    int64_t to_down = ready_becomes(sub, false, READY_BOUND_MS, why, sizeof why);
    if (to_down < 0)
        fail_msg("still ready %d ms after every broker went down", READY_BOUND_MS);
    if (!strstr(why, f->bootstraps))
        fail_msg("the reason does not name the brokers (%s): %s", f->bootstraps, why);
    /* and it stays so: no stale answer while they are down */
    int64_t t0 = now_ms();
    while (now_ms() - t0 < 3000) {
        if (subscriber_ready(sub, why, sizeof why))
            fail_msg("ready again %" PRId64 " ms into the outage", now_ms() - t0);
        usleep(100 * 1000);
    }
    /* a burst of probes while down is answered from the last probe, not one broker wait each */
    t0 = now_ms();
    for (int i = 0; i < 20; i++)
        assert_false(subscriber_ready(sub, why, sizeof why));
    int64_t burst = now_ms() - t0;
    if (burst > 1000)
        fail_msg("20 readiness calls while the brokers are down took %" PRId64 " ms", burst);

    for (int b = 1; b <= 3; b++)
        rd_kafka_mock_broker_set_up(f->mc, b);
    int64_t to_up = ready_becomes(sub, true, READY_BOUND_MS, why, sizeof why);
    if (to_up < 0)
        fail_msg("not ready %d ms after the brokers came back: %s", READY_BOUND_MS, why);
    fprintf(stderr, "     readiness: false %" PRId64 " ms after the brokers went down, true %" PRId64
            " ms after they came back; 20 calls while down: %" PRId64 " ms\n", to_down, to_up, burst);
    /* ingestion resumes too */
    produce(f, MSGS / 4, MSGS / 2);
    wait_stored(f, MSGS / 2, 60000);
    stop(f, sub);
    check_exactly_once(f, MSGS / 2);
}

/*
 * The brokers accept connections but answer late (a hung broker, a long GC
 * pause): each readiness call still returns within PROBE_BOUND_MS, says not
 * ready within READY_BOUND_MS, and ready again once they answer promptly.
 */
static void test_readiness_when_brokers_stall(void **state)
{
    struct fx *f = *state;
    char why[256];
    struct subscriber *sub = start(f, "g-stall");
    if (ready_becomes(sub, true, 30000, why, sizeof why) < 0)
        fail_msg("not ready 30 s after start: %s", why);
    for (int b = 1; b <= 3; b++)
        rd_kafka_mock_broker_set_rtt(f->mc, b, 2000);
    int64_t to_down = ready_becomes(sub, false, READY_BOUND_MS, why, sizeof why);
    if (to_down < 0)
        fail_msg("still ready %d ms after every broker started answering 2 s late", READY_BOUND_MS);
    if (!strstr(why, f->bootstraps))
        fail_msg("the reason does not name the brokers (%s): %s", f->bootstraps, why);
    for (int b = 1; b <= 3; b++)
        rd_kafka_mock_broker_set_rtt(f->mc, b, 0);
    int64_t to_up = ready_becomes(sub, true, READY_BOUND_MS, why, sizeof why);
    if (to_up < 0)
        fail_msg("not ready %d ms after the brokers answer promptly again: %s", READY_BOUND_MS, why);
    fprintf(stderr, "     readiness: false %" PRId64 " ms after the brokers stalled, true %" PRId64
            " ms after they answer again\n", to_down, to_up);
    stop(f, sub);
}

/* A topic nobody writes to, brokers healthy: ready, and it stays so (no message is needed). */
static void test_idle_topic_stays_ready(void **state)
{
    struct fx *f = *state;
    char why[256];
    struct subscriber *sub = start(f, "g-idle");
    if (ready_becomes(sub, true, 30000, why, sizeof why) < 0)
        fail_msg("not ready 30 s after start: %s", why);
    stays_ready(sub, 6000, "idle topic");
    stop(f, sub);
}

int main(int argc, char **argv)
{
    unit_filter(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_all_messages_once_and_dead_letters_published, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backlog_is_stored_in_larger_transactions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fetch_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leader_change_and_broker_down, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offset_commit_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dlq_produce_retriable_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dlq_topic_unavailable_does_not_stop_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rebalance_two_members, setup, teardown),
        cmocka_unit_test_setup_teardown(test_heartbeat_errors_force_rejoin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readiness_follows_brokers_down_and_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readiness_when_brokers_stall, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_topic_stays_ready, setup, teardown),
    };
    if (getenv("TEST_FILTER"))      /* e.g. TEST_FILTER='*dlq*' */
        cmocka_set_test_filter(getenv("TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
