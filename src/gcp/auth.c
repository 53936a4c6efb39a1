/*
 * auth.c — OAuth 2 access tokens for Google APIs.
 *
 * Three sources, chosen once: none (an emulator is configured), a key file
 * named by GOOGLE_APPLICATION_CREDENTIALS (a service account: an RS256 JWT
 * signed with libjwt and exchanged at the key's token_uri; or gcloud's
 * authorized_user refresh token), or the metadata server (Cloud Run, GCE;
 * GCE_METADATA_HOST overrides metadata.google.internal), tried in Google's
 * order: the environment, gcloud's application-default key file, the
 * metadata server. With none of them there (no metadata server answers the
 * first fetch within 1.5 s), colibri says what it tried and what to set, at
 * once, instead of retrying for seconds. The token is cached
 * and refreshed when it expires within 60 s or when a caller saw a 401. A
 * mutex makes it thread-safe; a refresh holds it, so concurrent callers wait
 * for that one refresh instead of each asking for a token.
 */
#include <curl/curl.h>
#include <jwt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <stdio.h>

#include "colibri/clock.h"
#include "colibri/config.h"
#include "colibri/error.h"
#include "colibri/gcp.h"
#include "colibri/log.h"
#include "colibri/metrics.h"
#include "colibri/strbuf.h"
#include "gcp/gcp_int.h"

#define REFRESH_MARGIN_MS 60000
#define FETCH_TIMEOUT_MS 10000
#define FETCH_ATTEMPTS 4
#define FIRST_CONNECT_MS 1000       /* the first metadata fetch: is there a metadata server at all? */
#define FIRST_TIMEOUT_MS 1500
#define JWT_LIFETIME_S 3600
#define DEFAULT_METADATA_HOST "metadata.google.internal"
#define METADATA_TOKEN_PATH "/computeMetadata/v1/instance/service-accounts/default/token"

enum auth_kind { AUTH_NONE, AUTH_METADATA, AUTH_SERVICE_ACCOUNT, AUTH_USER };

struct gcp_auth {
    enum auth_kind kind;
    const char *scope; /* borrowed */
    pthread_mutex_t lock;
    CURL *curl;
    char *token;                /* current access token, or NULL */
    int64_t expires_ms;         /* monotonic */
    char *url;                  /* metadata token URL or the key's token_uri */
    json_t *key;                /* the key file, which holds the strings below */
    const char *email, *key_pem, *key_id;            /* service account */
    const char *client_id, *client_secret, *refresh; /* authorized_user */
    bool had_token;             /* a token came at least once from this source */
    CURLcode last_cc;           /* of the last fetch */
};

static const char *kind_name(enum auth_kind k)
{
    switch (k) {
    case AUTH_NONE: return "none";
    case AUTH_METADATA: return "metadata server";
    case AUTH_SERVICE_ACCOUNT: return "service account key";
    case AUTH_USER: return "authorized user";
    }
    return "?";
}

/* A non-empty string field of the key file, or NULL. */
static const char *key_field(json_t *j, const char *name)
{
    const char *v = json_string_value(json_object_get(j, name));
    return v && *v ? v : NULL;
}

/* On success the key file is kept in a->key: its strings are a's. */
static int load_key_file(struct gcp_auth *a, const char *path)
{
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j) {
        log_error("GOOGLE_APPLICATION_CREDENTIALS=%s: %s (line %d)", path, je.text, je.line);
        return COLIBRI_ECONFIG;
    }
    a->key = j;
    const char *type = key_field(j, "type"), *uri = key_field(j, "token_uri");
    if (!(a->url = strdup(uri ? uri : "https://oauth2.googleapis.com/token")))
        return COLIBRI_ENOMEM;
    if (type && strcmp(type, "service_account") == 0) {
        a->kind = AUTH_SERVICE_ACCOUNT;
        a->email = key_field(j, "client_email");
        a->key_pem = key_field(j, "private_key");
        a->key_id = key_field(j, "private_key_id");
        if (!a->email || !a->key_pem) {
            log_error("GOOGLE_APPLICATION_CREDENTIALS=%s: a service account key needs "
                      "client_email, private_key and token_uri", path);
            return COLIBRI_ECONFIG;
        }
    } else if (type && strcmp(type, "authorized_user") == 0) {
        a->kind = AUTH_USER;
        a->client_id = key_field(j, "client_id");
        a->client_secret = key_field(j, "client_secret");
        a->refresh = key_field(j, "refresh_token");
        if (!a->client_id || !a->client_secret || !a->refresh) {
            log_error("GOOGLE_APPLICATION_CREDENTIALS=%s: an authorized_user file needs "
                      "client_id, client_secret and refresh_token", path);
            return COLIBRI_ECONFIG;
        }
    } else {
        log_error("GOOGLE_APPLICATION_CREDENTIALS=%s: type '%s' is not supported "
                  "(service_account or authorized_user)", path, type ? type : "");
        return COLIBRI_ECONFIG;
    }
    return 0;
}

int gcp_auth_new(const struct config *cfg, const char *scope, bool emulator, struct gcp_auth **out)
{
    *out = NULL;
    if (gcp_curl_init())
        return COLIBRI_ENOMEM;
    struct gcp_auth *a = calloc(1, sizeof *a);
    if (!a)
        return COLIBRI_ENOMEM;
    pthread_mutex_init(&a->lock, NULL);
    int rc = 0;
    a->scope = scope ? scope : "https://www.googleapis.com/auth/cloud-platform";
    const char *keyfile = cfg->google_application_credentials;
    bool adc = cfg->adc_file && *cfg->adc_file && access(cfg->adc_file, R_OK) == 0;
    if (!emulator && !(keyfile && *keyfile) && adc)
        keyfile = cfg->adc_file; /* gcloud auth application-default login */
    if (emulator) {
        a->kind = AUTH_NONE;
    } else if (keyfile && *keyfile) {
        if ((rc = load_key_file(a, keyfile)))
            goto out;
    } else {
        const char *host = cfg->gce_metadata_host;
        struct strbuf sb = STRBUF_INIT;
        char *esc = curl_easy_escape(NULL, a->scope, 0);
        strbuf_addf(&sb, "http://%s" METADATA_TOKEN_PATH "?scopes=%s",
                    host && *host ? host : DEFAULT_METADATA_HOST, esc ? esc : "");
        curl_free(esc);
        a->kind = AUTH_METADATA;
        if (!esc || !(a->url = strbuf_detach(&sb, NULL))) {
            strbuf_release(&sb);
            rc = COLIBRI_ENOMEM;
            goto out;
        }
    }
    if (a->kind != AUTH_NONE && !(a->curl = curl_easy_init()))
        rc = COLIBRI_ENOMEM;
out:
    if (rc) {
        gcp_auth_free(a);
        return rc;
    }
    log_debug("access tokens from: %s", kind_name(a->kind));
    *out = a;
    return 0;
}

void gcp_auth_free(struct gcp_auth *a)
{
    if (!a)
        return;
    if (a->curl)
        curl_easy_cleanup(a->curl);
    pthread_mutex_destroy(&a->lock);
    json_decref(a->key);
    free(a->token);
    free(a->url);
    free(a);
}

/* The signed assertion of RFC 7523 that Google's token endpoint takes; caller frees. */
static char *service_account_jwt(const struct gcp_auth *a)
{
    jwt_t *jwt = NULL;
    char *enc = NULL;
    long now = (long)time(NULL);
    if (jwt_new(&jwt))
        return NULL;
    if (jwt_set_alg(jwt, JWT_ALG_RS256, (const unsigned char *)a->key_pem, (int)strlen(a->key_pem))) {
        log_error("the service account's private_key is not a usable RSA key");
        goto out;
    }
    if ((a->key_id && jwt_add_header(jwt, "kid", a->key_id)) ||
        jwt_add_grant(jwt, "iss", a->email) || jwt_add_grant(jwt, "scope", a->scope) ||
        jwt_add_grant(jwt, "aud", a->url) || jwt_add_grant_int(jwt, "iat", now) ||
        jwt_add_grant_int(jwt, "exp", now + JWT_LIFETIME_S))
        goto out;
    enc = jwt_encode_str(jwt);
out:
    jwt_free(jwt);
    return enc;
}

/* The form body for a token request; caller frees. */
static char *token_form(struct gcp_auth *a)
{
    struct strbuf sb = STRBUF_INIT;
    char *e1 = NULL, *e2 = NULL, *e3 = NULL;
    if (a->kind == AUTH_SERVICE_ACCOUNT) {
        char *jwt = service_account_jwt(a);
        if (!jwt)
            return NULL;
        e1 = curl_easy_escape(a->curl, jwt, 0);
        free(jwt);
        strbuf_addf(&sb, "grant_type=%s&assertion=%s",
                    "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer", e1 ? e1 : "");
    } else {
        e1 = curl_easy_escape(a->curl, a->client_id, 0);
        e2 = curl_easy_escape(a->curl, a->client_secret, 0);
        e3 = curl_easy_escape(a->curl, a->refresh, 0);
        strbuf_addf(&sb, "grant_type=refresh_token&client_id=%s&client_secret=%s&refresh_token=%s",
                    e1 ? e1 : "", e2 ? e2 : "", e3 ? e3 : "");
    }
    curl_free(e1);
    curl_free(e2);
    curl_free(e3);
    return strbuf_detach(&sb, NULL);
}

/* One request to the token source. 0 and the new token, or EUNAVAIL (retry) / EAUTH (don't). */
static int fetch_once(struct gcp_auth *a, const char *form)
{
    struct strbuf body = STRBUF_INIT;
    struct curl_slist *hdrs = NULL;
    long status = 0;
    int rc;

    curl_easy_reset(a->curl);
    if (a->kind == AUTH_METADATA) {
        hdrs = curl_slist_append(hdrs, "Metadata-Flavor: Google");
    } else {
        hdrs = curl_slist_append(hdrs, "Content-Type: application/x-www-form-urlencoded");
        curl_easy_setopt(a->curl, CURLOPT_POSTFIELDS, form);
    }
    curl_easy_setopt(a->curl, CURLOPT_URL, a->url);
    curl_easy_setopt(a->curl, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(a->curl, CURLOPT_NOSIGNAL, 1L);
    bool first = a->kind == AUTH_METADATA && !a->had_token;
    curl_easy_setopt(a->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)(first ? FIRST_CONNECT_MS : FETCH_TIMEOUT_MS));
    curl_easy_setopt(a->curl, CURLOPT_TIMEOUT_MS, (long)(first ? FIRST_TIMEOUT_MS : FETCH_TIMEOUT_MS));
    curl_easy_setopt(a->curl, CURLOPT_WRITEFUNCTION, gcp_write_cb);
    curl_easy_setopt(a->curl, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(a->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode cc = curl_easy_perform(a->curl);
    a->last_cc = cc;
    if (cc == CURLE_OK)
        curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdrs);

    if (first && (cc == CURLE_COULDNT_RESOLVE_HOST || cc == CURLE_COULDNT_CONNECT ||
                  cc == CURLE_OPERATION_TIMEDOUT)) {
        rc = COLIBRI_EUNAVAIL;      /* refresh says what that means */
        goto out;
    }
    if (cc != CURLE_OK || status == 429 || status >= 500) {
        log_warn("access token from %s (%s): %s", kind_name(a->kind), a->url,
                 cc != CURLE_OK ? curl_easy_strerror(cc) : "server error");
        metrics_upstream_error("metadata", "transient");
        rc = COLIBRI_EUNAVAIL;
        goto out;
    }
    json_t *j = json_loadb(body.buf ? body.buf : "", body.len, 0, NULL);
    const char *tok = json_string_value(json_object_get(j, "access_token"));
    json_int_t ttl = json_integer_value(json_object_get(j, "expires_in"));
    if (status != 200 || !tok || !*tok) {
        log_error("access token from %s (%s): HTTP %ld: %.300s", kind_name(a->kind), a->url,
                  status, body.buf ? body.buf : "");
        metrics_upstream_error("metadata", status == 200 ? "other" : "auth");
        json_decref(j);
        rc = COLIBRI_EAUTH;
        goto out;
    }
    char *copy = strdup(tok);
    json_decref(j);
    if (!copy) {
        rc = COLIBRI_ENOMEM;
        goto out;
    }
    free(a->token);
    a->token = copy;
    a->expires_ms = clock_mono_ms() + (ttl > 0 ? (int64_t)ttl * 1000 : 0);
    a->had_token = true;
    log_debug("new access token from %s, expires in %lld s", kind_name(a->kind), (long long)ttl);
    rc = 0;
out:
    strbuf_release(&body);
    return rc;
}

static int refresh(struct gcp_auth *a)
{
    int rc = COLIBRI_EUNAVAIL;
    for (int n = 0; n < FETCH_ATTEMPTS; n++) {
        char *form = NULL;
        if (a->kind != AUTH_METADATA && !(form = token_form(a)))
            return COLIBRI_EAUTH;
        rc = fetch_once(a, form);
        free(form);
        if (rc == COLIBRI_EUNAVAIL && a->kind == AUTH_METADATA && !a->had_token &&
            (a->last_cc == CURLE_COULDNT_RESOLVE_HOST || a->last_cc == CURLE_COULDNT_CONNECT ||
             a->last_cc == CURLE_OPERATION_TIMEDOUT)) {
            log_error("no Google credentials. Tried: the environment (GOOGLE_APPLICATION_CREDENTIALS "
                      "is not set, nor an emulator host), gcloud's application-default key file "
                      "(none), and the metadata server at %s (%s). Set GOOGLE_APPLICATION_CREDENTIALS "
                      "to a service-account key file, run `gcloud auth application-default login`, "
                      "run on Google Cloud, or set BIGQUERY_EMULATOR_HOST / PUBSUB_EMULATOR_HOST "
                      "for an emulator", a->url, curl_easy_strerror(a->last_cc));
            metrics_upstream_error("metadata", "auth");
            return COLIBRI_EAUTH;
        }
        if (rc != COLIBRI_EUNAVAIL)
            break;
        if (n + 1 < FETCH_ATTEMPTS)
            clock_sleep_ms(gcp_backoff_ms(n));
    }
    return rc;
}

int gcp_auth_header(struct gcp_auth *a, bool force, char *buf, size_t buflen)
{
    if (buflen)
        buf[0] = '\0';
    if (!a || a->kind == AUTH_NONE)
        return 0;
    pthread_mutex_lock(&a->lock);
    int rc = 0;
    int64_t now = clock_mono_ms();
    if (force || !a->token || a->expires_ms - now <= REFRESH_MARGIN_MS) {
        rc = refresh(a);
        /* a token that has not expired yet still works while the source is down */
        if (rc && !force && a->token && a->expires_ms > now) {
            log_warn("keeping the current access token (%lld s left): the refresh failed",
                     (long long)(a->expires_ms - now) / 1000);
            rc = 0;
        }
    }
    if (!rc) {
        int n = snprintf(buf, buflen, "Bearer %s", a->token);
        if (n < 0 || (size_t)n >= buflen) {
            buf[0] = '\0';
            rc = COLIBRI_ETOOBIG;
        }
    }
    pthread_mutex_unlock(&a->lock);
    return rc;
}
