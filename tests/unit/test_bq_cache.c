/*
 * test_bq_cache.c — the BigQuery response cache: an answer is reused until
 * its TTL, identical queries in flight share one fetch, failures and answers
 * that overlapped a write are not kept, a write drops what it may change,
 * and the least recently used answer makes room.
 */
#include "unit.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "colibri/error.h"
#include "store/bigquery_cache.h"

struct fake {
    atomic_int calls;
    int rc;                         /* what fetch returns */
    long sleep_ms;                  /* how long a fetch takes */
    struct bq_cache *write_during;  /* a write lands while this fetch runs */
};

static void sleep_ms(long ms)
{
    nanosleep(&(struct timespec){ .tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000 }, NULL);
}

static int fetch(void *arg, json_t **rows)
{
    struct fake *f = arg;
    int n = atomic_fetch_add(&f->calls, 1) + 1;
    sleep_ms(f->sleep_ms);
    if (f->write_during)
        bq_cache_wrote(f->write_during);
    if (f->rc)
        return f->rc;
    *rows = json_pack("[i]", n);    /* which fetch answered */
    return 0;
}

/* The answer to key: the number of the fetch that produced it. */
static int answer(struct bq_cache *c, const char *key, struct fake *f)
{
    json_t *rows = NULL;
    int rc = bq_cache_rows(c, key, fetch, f, &rows);
    int n = rc ? -rc : (int)json_integer_value(json_array_get(rows, 0));
    json_decref(rows);
    return n;
}

static void test_reused_within_ttl_then_fetched_again(void **state)
{
    (void)state;
    struct bq_cache c;
    struct fake f = { 0 };
    bq_cache_init(&c, 1000);                        /* room for a slow machine between the calls */
    assert_int_equal(answer(&c, "a", &f), 1);
    assert_int_equal(answer(&c, "a", &f), 1);
    assert_int_equal(answer(&c, "b", &f), 2);       /* another key, another job */
    sleep_ms(1100);
    assert_int_equal(answer(&c, "a", &f), 3);       /* expired */
    bq_cache_release(&c);
}

static void test_off_when_ttl_is_zero(void **state)
{
    (void)state;
    struct bq_cache c;
    struct fake f = { 0 };
    bq_cache_init(&c, 0);
    assert_int_equal(answer(&c, "a", &f), 1);
    assert_int_equal(answer(&c, "a", &f), 2);
    bq_cache_release(&c);
}

static void test_failures_and_overlapped_answers_are_not_kept(void **state)
{
    (void)state;
    struct bq_cache c;
    struct fake f = { .rc = COLIBRI_EIO };
    bq_cache_init(&c, 60000);
    assert_int_equal(answer(&c, "a", &f), -COLIBRI_EIO);
    f.rc = 0;
    assert_int_equal(answer(&c, "a", &f), 2);       /* the failure was not kept */
    f.write_during = &c;
    assert_int_equal(answer(&c, "b", &f), 3);
    f.write_during = NULL;
    assert_int_equal(answer(&c, "b", &f), 4);       /* a write overlapped 3: not kept */
    assert_int_equal(answer(&c, "b", &f), 4);
    bq_cache_wrote(&c);
    assert_int_equal(answer(&c, "b", &f), 5);       /* readers see their own writes */
    bq_cache_release(&c);
}

struct caller {
    struct bq_cache *c;
    struct fake *f;
    int got;
};

static void *call(void *arg)
{
    struct caller *k = arg;
    k->got = answer(k->c, "same", k->f);
    return NULL;
}

static void test_identical_queries_in_flight_share_one_fetch(void **state)
{
    (void)state;
    struct bq_cache c;
    struct fake f = { .sleep_ms = 300 };
    bq_cache_init(&c, 60000);
    struct caller k[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        k[i] = (struct caller){ &c, &f, 0 };
        assert_int_equal(pthread_create(&t[i], NULL, call, &k[i]), 0);
        sleep_ms(20);                               /* all four arrive while the first runs */
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(k[i].got, 1);
    }
    assert_int_equal(atomic_load(&f.calls), 1);
    bq_cache_release(&c);
}

static void test_least_recently_used_makes_room(void **state)
{
    (void)state;
    struct bq_cache c;
    struct fake f = { 0 };
    char key[16];
    bq_cache_init(&c, 60000);
    for (int i = 0; i < BQ_CACHE_SLOTS; i++) {
        snprintf(key, sizeof key, "k%d", i);
        assert_int_equal(answer(&c, key, &f), i + 1);
        sleep_ms(1);
    }
    assert_int_equal(answer(&c, "k0", &f), 1);      /* k0 used again: k1 is now the oldest */
    assert_int_equal(answer(&c, "new", &f), BQ_CACHE_SLOTS + 1);
    assert_int_equal(answer(&c, "k0", &f), 1);
    assert_int_equal(answer(&c, "k1", &f), BQ_CACHE_SLOTS + 2);
    bq_cache_release(&c);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reused_within_ttl_then_fetched_again),
        cmocka_unit_test(test_off_when_ttl_is_zero),
        cmocka_unit_test(test_failures_and_overlapped_answers_are_not_kept),
        cmocka_unit_test(test_identical_queries_in_flight_share_one_fetch),
        cmocka_unit_test(test_least_recently_used_makes_room),
    };
    unit_filter(argc, argv);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
