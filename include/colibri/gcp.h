/*
 * gcp.h — talking to Google APIs: one JSON-over-HTTPS client with retries
 * (src/gcp/rest.c) and access tokens (src/gcp/auth.c).
 *
 * rest: one libcurl easy handle per client (connection reuse), timeouts,
 * error classification (retry 429, 5xx, backendError, rateLimitExceeded and
 * network errors; never invalid, notFound, accessDenied), capped exponential
 * backoff with full jitter, and an overall deadline.
 *
 * auth: tokens cached and refreshed before expiry, from the metadata server
 * (Cloud Run; GCE_METADATA_HOST), a service-account key file
 * (GOOGLE_APPLICATION_CREDENTIALS; RS256 JWT exchanged at the key's
 * token_uri), or none when an emulator host is set.
 */
#ifndef COLIBRI_GCP_H
#define COLIBRI_GCP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "colibri/backoff.h"

struct config;
struct gcp_auth;
struct rest_client;

/* Google's retry backoff: full jitter over 100 ms doubling up to 8 s. */
#define GCP_BACKOFF_BASE_MS 100
#define GCP_BACKOFF_CAP_MS 8000
static inline long gcp_backoff_ms(int attempt)
{
    return backoff_ms(GCP_BACKOFF_BASE_MS, GCP_BACKOFF_CAP_MS, attempt);
}

/*
 * Choose the token source: none if emulator (e.g. BIGQUERY_EMULATOR_HOST
 * is set), else the key file cfg->google_application_credentials, else the
 * metadata server (cfg->gce_metadata_host or metadata.google.internal).
 * cfg is read during the call only; NULL or empty strings mean unset. scope
 * is an OAuth scope URL, borrowed (a constant; NULL: cloud-platform). Caller
 * frees with gcp_auth_free.
 */
int gcp_auth_new(const struct config *cfg, const char *scope, bool emulator, struct gcp_auth **out);

/*
 * A valid "Bearer …" header value (or "" for no auth) into buf. Refreshes
 * when the cached token expires within 60 s, or when force is set (after
 * a 401). Thread-safe.
 */
int gcp_auth_header(struct gcp_auth *a, bool force, char *buf, size_t buflen);

void gcp_auth_free(struct gcp_auth *a);

struct rest_opts {
    long timeout_ms;        /* per attempt */
    long deadline_ms;       /* all attempts */
    int max_attempts;
};

/* auth is borrowed (may be NULL); api names the upstream for metrics ("bigquery", "pubsub"). */
int rest_client_new(const char *api, struct gcp_auth *auth, const struct rest_opts *opts,
                    struct rest_client **out);

/*
 * method url with body (may be NULL). On 2xx: 0 and *resp (owned by the
 * caller; json_null() for an empty body). Retries what is retryable within
 * the deadline; a 401 refreshes the token once. Otherwise COLIBRI_EINVAL
 * (4xx: invalid, notFound, ...), COLIBRI_EAUTH (401/403), COLIBRI_EUNAVAIL
 * (retries exhausted) or COLIBRI_ETIMEOUT, with *status the last HTTP status
 * (0 = network) and errmsg Google's error.message when there is one;
 * COLIBRI_EIO when a 2xx body is not JSON. 429 and 503 honour Retry-After.
 * Not thread-safe: one client per thread.
 */
int rest_call(struct rest_client *c, const char *method, const char *url, json_t *body,
              json_t **resp, long *status, char *errmsg, size_t errlen);

/*
 * rest_call with a body that is already JSON text (payload, may be NULL;
 * borrowed): for callers that build large bodies once, e.g. insertAll.
 */
int rest_call_raw(struct rest_client *c, const char *method, const char *url, const char *payload,
                  json_t **resp, long *status, char *errmsg, size_t errlen);

void rest_client_free(struct rest_client *c);

#endif
