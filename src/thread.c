/* thread.c — stopping a helper thread that waits on a condition variable. */
#include "colibri/thread.h"

void thread_stop(pthread_t t, pthread_mutex_t *lock, pthread_cond_t *cond, bool *stop)
{
    pthread_mutex_lock(lock);
    *stop = true;
    pthread_cond_signal(cond);
    pthread_mutex_unlock(lock);
    pthread_join(t, NULL);
}
