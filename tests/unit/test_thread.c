/* test_thread.c — a helper thread wakes for work under its owner's lock, and release stops and joins it. */
#include "unit.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "colibri/thread.h"

struct owner {
    struct helper h;
    int due;                /* under h.lock */
    atomic_int done;
    atomic_bool returned;
};

static void *worker(void *arg)
{
    struct owner *o = arg;
    pthread_mutex_lock(&o->h.lock);
    for (;;) {
        while (!o->due && !o->h.stop)
            pthread_cond_wait(&o->h.cond, &o->h.lock);
        if (o->h.stop)
            break;
        o->due--;
        atomic_fetch_add(&o->done, 1);
    }
    pthread_mutex_unlock(&o->h.lock);
    atomic_store(&o->returned, true);
    return NULL;
}

static void test_works_when_woken_and_stops_on_release(void **state)
{
    (void)state;
    struct owner o = { .due = 0 };
    helper_init(&o.h);
    assert_int_equal(helper_start(&o.h, worker, &o), 0);
    for (int i = 0; i < 3; i++) {
        pthread_mutex_lock(&o.h.lock);
        o.due++;
        pthread_cond_signal(&o.h.cond);
        pthread_mutex_unlock(&o.h.lock);
        for (int spin = 0; atomic_load(&o.done) <= i && spin < 5000; spin++)
            nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
    }
    assert_int_equal(atomic_load(&o.done), 3);
    assert_false(atomic_load(&o.returned));
    helper_release(&o.h);                       /* returns only once worker has returned */
    assert_true(atomic_load(&o.returned));
}

static void test_release_of_a_helper_never_started(void **state)
{
    (void)state;
    struct helper h;
    helper_init(&h);
    assert_false(h.started);
    helper_release(&h);                         /* no thread to join: just the lock and cond */
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_works_when_woken_and_stops_on_release),
        cmocka_unit_test(test_release_of_a_helper_never_started),
    };
    unit_filter(argc, argv);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
