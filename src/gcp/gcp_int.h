/*
 * gcp_int.h — helpers shared by rest.c and auth.c only.
 */
#ifndef COLIBRI_GCP_INT_H
#define COLIBRI_GCP_INT_H

#include <stddef.h>
#include <stdint.h>

/* curl_global_init, once per process. */
int gcp_curl_init(void);

/* Monotonic milliseconds. */
int64_t gcp_now_ms(void);

/* Full-jitter backoff for retry number attempt (0-based): uniform in [0, min(cap, base·2^attempt)]. */
long gcp_backoff_ms(int attempt);

void gcp_sleep_ms(long ms);

/* CURLOPT_WRITEFUNCTION appending to a struct strbuf (ud). */
size_t gcp_write_cb(char *p, size_t size, size_t n, void *ud);

#endif
