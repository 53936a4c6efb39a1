/* backoff.c — capped exponential backoff with full jitter. */
#include "colibri/backoff.h"

#include <stdint.h>
#include <sys/random.h>

#include "colibri/clock.h"

unsigned backoff_random(void)
{
    uint32_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
        r = (uint32_t)clock_mono_ms() * 2654435761u;   /* no entropy yet: jitter still spreads */
    return r;
}

long backoff_ms(long base_ms, long cap_ms, int attempt)
{
    long cap = base_ms;
    for (int i = 0; i < attempt && cap < cap_ms; i++)
        cap *= 2;
    if (cap > cap_ms)
        cap = cap_ms;
    return (long)(backoff_random() % (uint32_t)(cap + 1));
}
