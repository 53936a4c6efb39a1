/*
 * thread.h — a helper thread that sleeps on a condition variable until it
 * has work or is told to stop (the SQLite checkpointer, the HTTP reaper).
 * Its owner may guard more state with the same lock and wake it with the
 * same condition; stopping raises the flag under the lock, wakes it and
 * joins it.
 */
#ifndef COLIBRI_THREAD_H
#define COLIBRI_THREAD_H

#include <pthread.h>
#include <stdbool.h>

struct helper {
    pthread_mutex_t lock;   /* stop, and what the owner guards with it */
    pthread_cond_t cond;    /* stop or new work */
    bool stop;              /* read under lock: the thread must return once it is set */
    bool started;
    pthread_t thread;
};

/* Ready lock and cond; the thread does not run yet (a helper may never start). */
void helper_init(struct helper *h);

/* Run run(arg) on a new thread; 0 or COLIBRI_ENOMEM. */
int helper_start(struct helper *h, void *(*run)(void *), void *arg);

/* Stop and join the thread if it started, then destroy lock and cond. */
void helper_release(struct helper *h);

#endif
