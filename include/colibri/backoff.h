/*
 * backoff.h — capped exponential backoff with full jitter (the AWS
 * architecture blog's "full jitter"; Google's API guides ask for the same):
 * retry n waits a uniform time in [0, min(cap, base·2^n)], so clients that
 * failed together do not retry together.
 */
#ifndef COLIBRI_BACKOFF_H
#define COLIBRI_BACKOFF_H

/* A uniformly random number (getrandom; the monotonic clock when no entropy is ready yet). */
unsigned backoff_random(void);

/* Milliseconds to wait before retry number attempt (0-based): uniform in [0, min(cap_ms, base_ms·2^attempt)]. */
long backoff_ms(long base_ms, long cap_ms, int attempt);

#endif
