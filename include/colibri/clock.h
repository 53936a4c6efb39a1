/*
 * clock.h — the time helpers every module needs: monotonic and wall-clock
 * readings, sleeping, and absolute deadlines for the pthread timed waits.
 */
#ifndef COLIBRI_CLOCK_H
#define COLIBRI_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Monotonic time (CLOCK_MONOTONIC) in ms / µs: for durations and deadlines. */
int64_t clock_mono_ms(void);
int64_t clock_mono_us(void);

/* Wall-clock time (CLOCK_REALTIME) in µs since the Unix epoch: for timestamps. */
int64_t clock_real_us(void);

/* Sleep ms milliseconds (nothing when ms <= 0), resuming after signals. */
void clock_sleep_ms(long ms);

/*
 * The absolute time ms milliseconds from now on clock id: the argument of
 * pthread_cond_timedwait (id is the condition's clock) or pthread_timedjoin_np
 * (CLOCK_REALTIME).
 */
struct timespec clock_after_ms(clockid_t id, long ms);

#endif
