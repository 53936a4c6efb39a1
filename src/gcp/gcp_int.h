/*
 * gcp_int.h — libcurl plumbing private to src/gcp/ (curl.c), used by
 * auth.c and rest.c.
 */
#ifndef COLIBRI_GCP_INT_H
#define COLIBRI_GCP_INT_H

#include <stddef.h>

/* curl_global_init, once per process. */
int gcp_curl_init(void);

/* CURLOPT_WRITEFUNCTION appending to a struct strbuf (ud); refuses a body over 64 MiB. */
size_t gcp_write_cb(char *p, size_t size, size_t n, void *ud);

#endif
