/*
 * rest.c — one JSON-over-HTTP(S) client for Google APIs.
 *
 * A client owns one libcurl easy handle, so consecutive calls reuse the
 * connection (keep-alive, TLS session). Every call has a per-attempt timeout
 * and an overall deadline; failures are classified the way Google's API
 * guides ask: 429, 5xx, errors[].reason backendError / rateLimitExceeded /
 * internalError and network errors are retried with capped exponential
 * backoff and full jitter; invalid, notFound, accessDenied and every other
 * 4xx are not. A 401 refreshes the access token once.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "colibri/clock.h"
#include "colibri/error.h"
#include "colibri/gcp.h"
#include "colibri/log.h"
#include "colibri/metrics.h"
#include "colibri/strbuf.h"
#include "gcp/gcp_int.h"

#define DEFAULT_TIMEOUT_MS 30000
#define DEFAULT_DEADLINE_MS 60000
#define DEFAULT_ATTEMPTS 8
#define CONNECT_TIMEOUT_MS 5000
#define RETRY_AFTER_CAP_MS 30000

struct rest_client {
    char api[16];
    struct gcp_auth *auth;          /* borrowed, may be NULL */
    struct rest_opts opts;
    CURL *curl;
    struct strbuf body;             /* response body of the current attempt */
    long retry_after_ms;            /* from the current attempt's Retry-After, or -1 */
    char curl_err[CURL_ERROR_SIZE];
};

static size_t header_cb(char *p, size_t size, size_t n, void *ud)
{
    struct rest_client *c = ud;
    size_t len = size * n;
    static const char name[] = "retry-after:";
    if (len > sizeof name - 1 && strncasecmp(p, name, sizeof name - 1) == 0) {
        char tmp[32];
        size_t k = len - (sizeof name - 1);
        if (k >= sizeof tmp)
            k = sizeof tmp - 1;
        memcpy(tmp, p + sizeof name - 1, k);
        tmp[k] = '\0';
        char *end;
        long s = strtol(tmp, &end, 10);   /* delta-seconds; an HTTP-date is ignored */
        if (end != tmp && s >= 0)
            c->retry_after_ms = s > RETRY_AFTER_CAP_MS / 1000 ? RETRY_AFTER_CAP_MS : s * 1000;
    }
    return len;
}

int rest_client_new(const char *api, struct gcp_auth *auth, const struct rest_opts *opts,
                    struct rest_client **out)
{
    *out = NULL;
    if (gcp_curl_init())
        return COLIBRI_ENOMEM;
    struct rest_client *c = calloc(1, sizeof *c);
    if (!c)
        return COLIBRI_ENOMEM;
    snprintf(c->api, sizeof c->api, "%s", api ? api : "rest");
    c->auth = auth;
    if (opts)
        c->opts = *opts;
    if (c->opts.timeout_ms <= 0)
        c->opts.timeout_ms = DEFAULT_TIMEOUT_MS;
    if (c->opts.deadline_ms <= 0)
        c->opts.deadline_ms = DEFAULT_DEADLINE_MS;
    if (c->opts.max_attempts <= 0)
        c->opts.max_attempts = DEFAULT_ATTEMPTS;
    if (!(c->curl = curl_easy_init())) {
        free(c);
        return COLIBRI_ENOMEM;
    }
    *out = c;
    return 0;
}

void rest_client_free(struct rest_client *c)
{
    if (!c)
        return;
    curl_easy_cleanup(c->curl);
    strbuf_release(&c->body);
    free(c);
}

static bool reason_retryable(const char *r)
{
    return strcmp(r, "backendError") == 0 || strcmp(r, "rateLimitExceeded") == 0 ||
           strcmp(r, "internalError") == 0;
}

/*
 * Google's error body: {"error":{"code":N,"message":"…","errors":[{"reason":"…"}],
 * "status":"…"}}. Copies message into errmsg; says whether a reason asks for
 * a retry.
 */
static bool parse_google_error(const char *body, size_t len, char *errmsg, size_t errlen)
{
    bool retry = false;
    json_t *j = json_loadb(body, len, 0, NULL);
    json_t *e = json_object_get(j, "error");
    const char *msg = json_string_value(json_object_get(e, "message"));
    if (!msg)
        msg = json_string_value(e);     /* OAuth endpoints: {"error":"invalid_grant",…} */
    if (msg && errmsg && errlen)
        snprintf(errmsg, errlen, "%s", msg);
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(e, "errors"), i, it) {
        const char *r = json_string_value(json_object_get(it, "reason"));
        if (r && reason_retryable(r))
            retry = true;
    }
    json_decref(j);
    return retry;
}

enum outcome { OK, RETRY, FAIL_INVALID, FAIL_AUTH, UNAUTHENTICATED };

static enum outcome classify(long status, bool reason_retry)
{
    if (status >= 200 && status < 300)
        return OK;
    if (status == 429 || status >= 500 || reason_retry)
        return RETRY;
    if (status == 401)
        return UNAUTHENTICATED;
    if (status == 403)
        return FAIL_AUTH;
    return FAIL_INVALID;
}

/* One attempt; the body is in c->body. Returns the curl code, *status the HTTP status. */
static CURLcode attempt(struct rest_client *c, const char *method, const char *url,
                        const char *payload, const char *authz, long timeout_ms, long *status)
{
    CURL *h = c->curl;
    struct curl_slist *hdrs = NULL;

    curl_easy_reset(h);     /* keeps live connections, the DNS and TLS session caches */
    strbuf_reset(&c->body);
    c->retry_after_ms = -1;
    c->curl_err[0] = '\0';
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    if (payload)
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json; charset=utf-8");
    if (authz && *authz) {
        char authline[4200];                /* curl_slist_append copies it */
        snprintf(authline, sizeof authline, "Authorization: %s", authz);
        hdrs = curl_slist_append(hdrs, authline);
    }
    hdrs = curl_slist_append(hdrs, "Expect:");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (payload) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, payload);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(payload));
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     timeout_ms < CONNECT_TIMEOUT_MS ? timeout_ms : (long)CONNECT_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, gcp_write_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &c->body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->curl_err);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode cc = curl_easy_perform(h);
    *status = 0;
    if (cc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(hdrs);
    return cc;
}

int rest_call(struct rest_client *c, const char *method, const char *url, json_t *body,
              json_t **resp, long *status, char *errmsg, size_t errlen)
{
    char *payload = NULL;
    *resp = NULL;
    if (status)
        *status = 0;
    if (body && !(payload = json_dumps(body, JSON_COMPACT)))
        return COLIBRI_ENOMEM;
    int rc = rest_call_raw(c, method, url, payload, resp, status, errmsg, errlen);
    free(payload);
    return rc;
}

int rest_call_raw(struct rest_client *c, const char *method, const char *url, const char *payload,
                  json_t **resp, long *status, char *errmsg_out, size_t errlen_out)
{
    char errmsg[512];
    const size_t errlen = sizeof errmsg;
    char authz[4096];
    bool refreshed = false, force = false;
    int rc = COLIBRI_EUNAVAIL;
    const int64_t deadline = clock_mono_ms() + c->opts.deadline_ms;
    long st = 0;

    *resp = NULL;
    errmsg[0] = '\0';
    for (int n = 0; n < c->opts.max_attempts; n++) {
        int64_t left = deadline - clock_mono_ms();
        if (left <= 0) {
            rc = COLIBRI_ETIMEOUT;
            break;
        }
        authz[0] = '\0';
        if (c->auth && (rc = gcp_auth_header(c->auth, force, authz, sizeof authz)) != 0) {
            /* the token source is down: as transient as the API itself */
            if (rc != COLIBRI_EUNAVAIL && rc != COLIBRI_ETIMEOUT)
                goto out;
            snprintf(errmsg, errlen, "no access token: %s", colibri_strerror(rc));
            st = 0;
            goto backoff;
        }
        force = false;
        long tmo = c->opts.timeout_ms < left ? c->opts.timeout_ms : (long)left;
        CURLcode cc = attempt(c, method, url, payload, authz, tmo, &st);
        if (cc != CURLE_OK) {
            log_warn("%s %s %s: %s (attempt %d)", c->api, method, url,
                     c->curl_err[0] ? c->curl_err : curl_easy_strerror(cc), n + 1);
            snprintf(errmsg, errlen, "%s", c->curl_err[0] ? c->curl_err : curl_easy_strerror(cc));
            metrics_upstream_error(c->api, "transient");
            rc = cc == CURLE_OPERATION_TIMEDOUT ? COLIBRI_ETIMEOUT : COLIBRI_EUNAVAIL;
            if (cc == CURLE_WRITE_ERROR && c->body.failed) {
                rc = COLIBRI_ENOMEM;
                goto out;
            }
            goto backoff;
        }
        bool reason_retry = false;
        if (st < 200 || st >= 300)
            reason_retry = parse_google_error(c->body.buf ? c->body.buf : "", c->body.len,
                                              errmsg, errlen);
        switch (classify(st, reason_retry)) {
        case OK: {
            if (c->body.len == 0) {
                *resp = json_null();
            } else {
                json_error_t je;
                *resp = json_loadb(c->body.buf, c->body.len, JSON_ALLOW_NUL, &je);
                if (!*resp) {
                    log_error("%s %s %s: response is not JSON: %s", c->api, method, url, je.text);
                            snprintf(errmsg, errlen, "response is not JSON: %s", je.text);
                    metrics_upstream_error(c->api, "other");
                    rc = COLIBRI_EIO;
                    goto out;
                }
            }
            rc = 0;
            goto out;
        }
        case UNAUTHENTICATED:
            metrics_upstream_error(c->api, "auth");
            if (c->auth && !refreshed) {
                refreshed = force = true;   /* the token may have been revoked or expired early */
                log_info("%s %s %s: 401, refreshing the access token", c->api, method, url);
                continue;
            }
            log_error("%s %s %s: 401 %s", c->api, method, url, errmsg);
            rc = COLIBRI_EAUTH;
            goto out;
        case FAIL_AUTH:
            metrics_upstream_error(c->api, "auth");
            log_error("%s %s %s: %ld %s", c->api, method, url, st, errmsg);
            rc = COLIBRI_EAUTH;
            goto out;
        case FAIL_INVALID:
            metrics_upstream_error(c->api, "rejected");
            /* 404/409 are answers the caller acts on (create when missing, exists): not logged */
            if (st != 404 && st != 409)
                log_warn("%s %s %s: %ld %s", c->api, method, url, st, errmsg);
            rc = COLIBRI_EINVAL;
            goto out;
        case RETRY:
            metrics_upstream_error(c->api, "transient");
            log_warn("%s %s %s: %ld %s (attempt %d)", c->api, method, url, st,
                     errmsg, n + 1);
            rc = COLIBRI_EUNAVAIL;
            break;
        }
backoff:
        if (n + 1 >= c->opts.max_attempts)
            break;
        long wait = gcp_backoff_ms(n);
        if (c->retry_after_ms > wait)
            wait = c->retry_after_ms;
        c->retry_after_ms = -1;
        left = deadline - clock_mono_ms();
        if (wait >= left) {
            rc = COLIBRI_ETIMEOUT;
            break;
        }
        clock_sleep_ms(wait);
    }
    log_error("%s %s %s: giving up: %s", c->api, method, url, colibri_strerror(rc));
out:
    if (status)
        *status = st;
    if (errmsg_out && errlen_out)
        snprintf(errmsg_out, errlen_out, "%s", errmsg);
    return rc;
}
