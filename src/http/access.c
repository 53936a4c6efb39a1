/*
 * access.c — who may call the API and how often: API keys, a per-caller
 * token bucket, and CORS.
 *
 * Keys are kept only as SHA-256 digests and compared in constant time, all
 * of them every time, so neither the content nor the position of a key
 * leaks through timing; no key is ever logged. The rate limiter is a fixed
 * table of buckets behind striped locks, keyed by the caller's key or, with
 * no keys configured, by the client address; idle callers are evicted first.
 */
#include <arpa/inet.h>
#include <math.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "colibri/clock.h"
#include "colibri/error.h"
#include "colibri/log.h"
#include "http/http_int.h"

#define BUCKETS 4096
#define STRIPES 64
#define PROBE 8
#define KEYS_MAX 1024

struct bucket {
    uint64_t who;           /* 0 = free */
    double tokens;
    int64_t last_us;
};

struct access {
    unsigned char (*keys)[SHA256_DIGEST_LENGTH];
    size_t nkeys;
    unsigned char metrics_key[SHA256_DIGEST_LENGTH];
    bool has_metrics_key;
    double rate, burst;
    struct bucket buckets[BUCKETS];
    pthread_mutex_t stripes[STRIPES];
    char *cors;             /* "" = off */
};

/* Split a comma or newline separated list of keys into digests. */
static int add_keys(struct access *a, const char *list, char *err, size_t errlen)
{
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",\r\n");
        const char *k = p;
        size_t kn = n;
        while (kn && (*k == ' ' || *k == '\t'))
            k++, kn--;
        while (kn && (k[kn - 1] == ' ' || k[kn - 1] == '\t'))
            kn--;
        if (kn) {
            if (a->nkeys == KEYS_MAX) {
                snprintf(err, errlen, "COLIBRI_API_KEYS: more than %d keys", KEYS_MAX);
                return COLIBRI_ECONFIG;
            }
            SHA256((const unsigned char *)k, kn, a->keys[a->nkeys++]);
        }
        p += n + (p[n] != '\0');
    }
    return 0;
}

/* "k1,k2" or "@file" with one key per line (or commas). */
static int load_keys(struct access *a, const char *spec, char *err, size_t errlen)
{
    if (spec[0] != '@')
        return add_keys(a, spec, err, errlen);
    FILE *f = fopen(spec + 1, "r");
    if (!f) {
        snprintf(err, errlen, "COLIBRI_API_KEYS: cannot read key file %s", spec + 1);
        return COLIBRI_ECONFIG;
    }
    char *text = NULL;
    size_t cap = 0;
    ssize_t n = getdelim(&text, &cap, '\0', f);
    fclose(f);
    int rc = n < 0 ? 0 : add_keys(a, text, err, errlen);
    OPENSSL_cleanse(text, cap);
    free(text);
    if (!rc && a->nkeys == 0) {
        snprintf(err, errlen, "COLIBRI_API_KEYS: key file %s holds no key", spec + 1);
        rc = COLIBRI_ECONFIG;
    }
    return rc;
}

int access_init(const struct config *cfg, struct access **out, char *err, size_t errlen)
{
    struct access *a = calloc(1, sizeof *a);
    *out = NULL;
    if (!a || !(a->keys = calloc(KEYS_MAX, sizeof *a->keys)) || !(a->cors = strdup(cfg->cors_origins))) {
        access_free(a);
        return COLIBRI_ENOMEM;
    }
    int rc = load_keys(a, cfg->api_keys, err, errlen);
    if (rc) {
        access_free(a);
        return rc;
    }
    if (*cfg->metrics_key) {
        SHA256((const unsigned char *)cfg->metrics_key, strlen(cfg->metrics_key), a->metrics_key);
        a->has_metrics_key = true;
    }
    a->rate = (double)cfg->rate_limit;
    a->burst = (double)cfg->rate_burst;
    for (size_t i = 0; i < STRIPES; i++)
        pthread_mutex_init(&a->stripes[i], NULL);
    if (a->nkeys)
        log_info("API keys required on /data: %zu configured", a->nkeys);
    *out = a;
    return 0;
}

void access_free(struct access *a)
{
    if (!a)
        return;
    if (a->keys)
        OPENSSL_cleanse(a->keys, KEYS_MAX * sizeof *a->keys);
    free(a->keys);
    free(a->cors);
    free(a);
}

/* The key the request presents, from "Authorization: Bearer K" or "X-API-Key: K". */
static const char *presented_key(struct MHD_Connection *c)
{
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0)
        return auth + 7;
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-API-Key");
}

/* Constant-time: every configured key is compared, whatever matches. */
static bool key_matches(const unsigned char (*keys)[SHA256_DIGEST_LENGTH], size_t n, const char *given,
                        unsigned char digest[SHA256_DIGEST_LENGTH])
{
    int match = 0;
    SHA256((const unsigned char *)given, strlen(given), digest);
    for (size_t i = 0; i < n; i++)
        match |= CRYPTO_memcmp(keys[i], digest, SHA256_DIGEST_LENGTH) == 0;
    return match;
}

int access_authorize(struct access *a, struct request *req, enum metric_route route, struct reply *rep)
{
    const unsigned char (*keys)[SHA256_DIGEST_LENGTH];
    size_t nkeys;
    if (route == ROUTE_METRICS && a->has_metrics_key) {
        keys = (const unsigned char (*)[SHA256_DIGEST_LENGTH])&a->metrics_key;
        nkeys = 1;
    } else if ((route == ROUTE_DATA || route == ROUTE_DATA_ID) && a->nkeys) {
        keys = (const unsigned char (*)[SHA256_DIGEST_LENGTH])a->keys;
        nkeys = a->nkeys;
    } else {
        return 0;
    }
    const char *given = presented_key(req->conn);
    bool metrics = route == ROUTE_METRICS;
    /* RFC 6750: no error attribute when no credentials came; invalid_token when they are wrong */
    if (!given || !*given) {
        rep->challenge = metrics ? "Bearer realm=\"colibri-metrics\"" : "Bearer realm=\"colibri\"";
        return reply_fail(rep, COLIBRI_EAUTH, NULL, metrics ? "a key is required: Authorization: Bearer KEY"
                          : "an API key is required: Authorization: Bearer KEY or X-API-Key: KEY");
    }
    if (!key_matches(keys, nkeys, given, req->caller)) {
        rep->challenge = metrics ? "Bearer realm=\"colibri-metrics\", error=\"invalid_token\""
                                 : "Bearer realm=\"colibri\", error=\"invalid_token\"";
        return reply_fail(rep, COLIBRI_EAUTH, NULL, "the API key is not valid");
    }
    req->has_caller = true;
    return 0;
}

/* A 64-bit identity for the caller: its key digest, or its address. */
static uint64_t caller_id(const struct request *req)
{
    uint64_t id = 0;
    if (req->has_caller) {
        memcpy(&id, req->caller, sizeof id);
    } else {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        const struct sockaddr *sa = ci ? ci->client_addr : NULL;
        unsigned char d[SHA256_DIGEST_LENGTH];
        if (sa && sa->sa_family == AF_INET)
            SHA256((const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr, 4, d);
        else if (sa && sa->sa_family == AF_INET6)
            SHA256((const unsigned char *)&((const struct sockaddr_in6 *)sa)->sin6_addr, 16, d);
        else
            memset(d, 0, sizeof d);
        memcpy(&id, d, sizeof id);
    }
    return id ? id : 1;
}

int access_limit(struct access *a, struct request *req, struct reply *rep)
{
    if (a->rate <= 0)
        return 0;
    uint64_t who = caller_id(req);
    int64_t now = clock_mono_us();
    size_t home = (size_t)(who % BUCKETS) & ~(size_t)(PROBE - 1);   /* a probe run stays in one stripe */
    pthread_mutex_t *lock = &a->stripes[home / PROBE % STRIPES];
    pthread_mutex_lock(lock);
    struct bucket *b = NULL, *oldest = &a->buckets[home];
    for (size_t i = home; i < home + PROBE && !b; i++) {
        if (a->buckets[i].who == who)
            b = &a->buckets[i];
        else if (a->buckets[i].last_us < oldest->last_us)
            oldest = &a->buckets[i];
    }
    if (!b) {       /* new caller: take a free or the idlest slot, with a full bucket */
        b = oldest;
        *b = (struct bucket){ .who = who, .tokens = a->burst, .last_us = now };
    }
    b->tokens += (double)(now - b->last_us) / 1e6 * a->rate;
    if (b->tokens > a->burst)
        b->tokens = a->burst;
    b->last_us = now;
    bool allowed = b->tokens >= 1;
    double wait_s = allowed ? 0 : (1 - b->tokens) / a->rate;
    if (allowed)
        b->tokens -= 1;
    pthread_mutex_unlock(lock);
    if (allowed)
        return 0;
    rep->retry_after = (int)ceil(wait_s);
    if (rep->retry_after < 1)
        rep->retry_after = 1;
    return reply_fail(rep, COLIBRI_ELIMIT, NULL, "rate limit of %.0f requests per second exceeded", a->rate);
}

const char *access_cors_origin(const struct access *a, struct MHD_Connection *c)
{
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    if (!*a->cors || !origin)
        return NULL;
    if (strcmp(a->cors, "*") == 0)
        return "*";
    size_t n = strlen(origin);
    for (const char *p = a->cors; *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && strncmp(p, origin, n) == 0)
            return origin;
        p += len + (p[len] == ',');
    }
    return NULL;
}
