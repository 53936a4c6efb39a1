/* thread.c — a helper thread that waits on a condition variable (thread.h). */
#include "colibri/thread.h"

#include "colibri/error.h"

void helper_init(struct helper *h)
{
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->cond, NULL);
    h->stop = h->started = false;
}

int helper_start(struct helper *h, void *(*run)(void *), void *arg)
{
    h->started = pthread_create(&h->thread, NULL, run, arg) == 0;
    return h->started ? 0 : COLIBRI_ENOMEM;
}

void helper_release(struct helper *h)
{
    if (h->started) {
        pthread_mutex_lock(&h->lock);
        h->stop = true;
        pthread_cond_signal(&h->cond);
        pthread_mutex_unlock(&h->lock);
        pthread_join(h->thread, NULL);
        h->started = false;
    }
    pthread_mutex_destroy(&h->lock);
    pthread_cond_destroy(&h->cond);
}
