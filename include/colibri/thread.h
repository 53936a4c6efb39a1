/*
 * thread.h — stopping a helper thread that sleeps on a condition variable
 * until it has work or is told to stop (the SQLite checkpointer, the HTTP
 * reaper): raise its stop flag under its lock, wake it, join it.
 */
#ifndef COLIBRI_THREAD_H
#define COLIBRI_THREAD_H

#include <pthread.h>
#include <stdbool.h>

/* Set *stop under lock, signal cond, and join t (which must see *stop and return). */
void thread_stop(pthread_t t, pthread_mutex_t *lock, pthread_cond_t *cond, bool *stop);

#endif
