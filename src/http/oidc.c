/*
 * oidc.c — Pub/Sub push token verification: JWKS cache, JWK → PEM, libjwt
 * for the RS256 signature, and the claim checks Google documents for push
 * authentication (issuer, audience, expiry, optionally the email).
 */
#include <jwt.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "colibri/arena.h"
#include "colibri/base64.h"
#include "colibri/error.h"
#include "colibri/gcp.h"
#include "colibri/log.h"
#include "http/oidc.h"

#define JWKS_TTL_S 3600
#define JWKS_REFETCH_MIN_S 5    /* an unknown kid refetches at most this often */
#define LEEWAY_S 30
#define TOKEN_MAX 8192

struct jwk {
    char *kid;
    char *pem;
};

struct oidc {
    const char *jwks_url, *audience, *email;    /* copies, in texts */
    struct arena texts;
    pthread_mutex_t lock;   /* keys, fetched_at and rc */
    struct jwk *keys;
    size_t nkeys;
    time_t fetched_at;      /* last success, 0 = never */
    time_t tried_at;        /* last attempt */
    struct rest_client *rc;
};

static void keys_free(struct jwk *k, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(k[i].kid);
        free(k[i].pem);
    }
    free(k);
}

static BIGNUM *b64_bn(const char *s)
{
    char *raw;
    size_t len;
    if (!s || base64_decode(s, strlen(s), &raw, &len) || len == 0)
        return NULL;
    BIGNUM *bn = BN_bin2bn((const unsigned char *)raw, (int)len, NULL);
    free(raw);
    return bn;
}

/* PEM (SubjectPublicKeyInfo) of the RSA key with modulus n and exponent e (base64url). */
static char *jwk_pem(const char *n64, const char *e64)
{
    BIGNUM *n = b64_bn(n64), *e = b64_bn(e64);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;
    BIO *bio = NULL;
    char *pem = NULL;
    if (!n || !e || !bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) || !(params = OSSL_PARAM_BLD_to_param(bld)))
        goto out;
    if (!(ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        goto out;
    if (!(bio = BIO_new(BIO_s_mem())) || !PEM_write_bio_PUBKEY(bio, pkey))
        goto out;
    char *data;
    long len = BIO_get_mem_data(bio, &data);
    if (len > 0)
        pem = strndup(data, (size_t)len);
out:
    BIO_free(bio);
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return pem;
}

int oidc_new(const char *jwks_url, const char *audience, const char *email, struct oidc **out)
{
    *out = NULL;
    struct oidc *o = calloc(1, sizeof *o);
    if (!o)
        return COLIBRI_ENOMEM;
    pthread_mutex_init(&o->lock, NULL);
    o->audience = arena_strdup(&o->texts, audience);
    o->email = arena_strdup(&o->texts, email ? email : "");
    o->jwks_url = jwks_url ? arena_strdup(&o->texts, jwks_url) : NULL;
    struct rest_opts opts = { .timeout_ms = 5000, .deadline_ms = 10000, .max_attempts = 3 };
    if (!o->audience || !o->email || (jwks_url && !o->jwks_url) ||
        (jwks_url && rest_client_new("pubsub", NULL, &opts, &o->rc))) {
        oidc_free(o);
        return COLIBRI_ENOMEM;
    }
    *out = o;
    return 0;
}

/* Replace the keys; the caller holds the lock. */
static int set_keys(struct oidc *o, const json_t *jwks)
{
    const json_t *arr = json_object_get(jwks, "keys");
    size_t n = json_array_size(arr), k = 0, i;
    json_t *it;
    if (!json_is_array(arr))
        return COLIBRI_EINVAL;
    struct jwk *keys = calloc(n ? n : 1, sizeof *keys);
    if (!keys)
        return COLIBRI_ENOMEM;
    json_array_foreach(arr, i, it) {
        const char *kty = json_string_value(json_object_get(it, "kty"));
        const char *kid = json_string_value(json_object_get(it, "kid"));
        const char *alg = json_string_value(json_object_get(it, "alg"));
        if (!kty || strcmp(kty, "RSA") != 0 || !kid || (alg && strcmp(alg, "RS256") != 0))
            continue;
        char *pem = jwk_pem(json_string_value(json_object_get(it, "n")), json_string_value(json_object_get(it, "e")));
        if (!pem) {
            log_warn("push: JWKS key %s is not a usable RSA key", kid);
            continue;
        }
        keys[k].kid = strdup(kid);
        keys[k].pem = pem;
        if (!keys[k].kid) {
            keys_free(keys, k + 1);
            return COLIBRI_ENOMEM;
        }
        k++;
    }
    keys_free(o->keys, o->nkeys);
    o->keys = keys;
    o->nkeys = k;
    o->fetched_at = time(NULL);
    return 0;
}

int oidc_set_jwks(struct oidc *o, const json_t *jwks)
{
    pthread_mutex_lock(&o->lock);
    int rc = set_keys(o, jwks);
    pthread_mutex_unlock(&o->lock);
    return rc;
}

/* Fetch the JWKS; the caller holds the lock. */
static int fetch_keys(struct oidc *o)
{
    char errmsg[256];
    json_t *resp = NULL;
    long status;
    int rc = rest_call(o->rc, "GET", o->jwks_url, NULL, &resp, &status, errmsg, sizeof errmsg);
    if (rc == 0)
        rc = set_keys(o, resp);
    json_decref(resp);
    if (rc) {
        log_error("push: cannot fetch the token keys from %s: %s%s%s", o->jwks_url, colibri_strerror(rc),
                  *errmsg ? ": " : "", errmsg);
        return COLIBRI_EUNAVAIL;
    }
    log_info("push: %zu token keys from %s", o->nkeys, o->jwks_url);
    return 0;
}

static const char *find_key(const struct oidc *o, const char *kid)
{
    for (size_t i = 0; i < o->nkeys; i++)
        if (strcmp(o->keys[i].kid, kid) == 0)
            return o->keys[i].pem;
    return NULL;
}

/* Fetch unless we tried within JWKS_REFETCH_MIN_S; the caller holds the lock. */
static int refetch(struct oidc *o, time_t now)
{
    if (!o->rc)
        return 0;
    if (o->tried_at && now - o->tried_at < JWKS_REFETCH_MIN_S)
        return o->fetched_at ? 0 : COLIBRI_EUNAVAIL;
    o->tried_at = now;
    return fetch_keys(o);
}

/*
 * A copy of the PEM for kid: from the cache, fetched when the cache is old
 * (the old keys still serve if that fails) or when kid is new to us.
 */
static int key_for(struct oidc *o, const char *kid, char **pem)
{
    int rc = 0;
    *pem = NULL;
    pthread_mutex_lock(&o->lock);
    time_t now = time(NULL);
    if (o->fetched_at == 0 || now - o->fetched_at >= JWKS_TTL_S)
        rc = refetch(o, now);
    const char *found = find_key(o, kid);
    if (!found && rc == 0) {
        rc = refetch(o, now);
        found = find_key(o, kid);
    }
    if (found)
        rc = (*pem = strdup(found)) ? 0 : COLIBRI_ENOMEM;
    else if (rc == 0)
        rc = COLIBRI_ENOTFOUND;
    pthread_mutex_unlock(&o->lock);
    return rc;
}

static int fail(char *why, size_t whylen, const char *msg)
{
    snprintf(why, whylen, "%s", msg);
    return COLIBRI_EAUTH;
}

static bool audience_ok(jwt_t *jwt, const char *want)
{
    const char *aud = jwt_get_grant(jwt, "aud");
    if (aud)
        return strcmp(aud, want) == 0;
    char *arr = jwt_get_grants_json(jwt, "aud");     /* the JWT spec also allows a list */
    bool ok = false;
    json_t *j = arr ? json_loads(arr, JSON_DECODE_ANY, NULL) : NULL;
    size_t i;
    json_t *it;
    json_array_foreach(j, i, it)
        ok |= json_is_string(it) && strcmp(json_string_value(it), want) == 0;
    json_decref(j);
    free(arr);
    return ok;
}

int oidc_verify(struct oidc *o, const char *token, char *why, size_t whylen)
{
    size_t len = strlen(token);
    const char *dot1 = strchr(token, '.');
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (len > TOKEN_MAX || !dot1 || !dot2 || strchr(dot2 + 1, '.'))
        return fail(why, whylen, "not a JWT");

    /* the header first: libjwt 1.10 would take the key as an HMAC secret for an HS256 token */
    char *head = NULL;
    size_t hlen;
    if (base64_decode(token, (size_t)(dot1 - token), &head, &hlen))
        return fail(why, whylen, "JWT header is not base64url");
    json_t *h = json_loadb(head, hlen, 0, NULL);
    free(head);
    const char *alg = json_string_value(json_object_get(h, "alg"));
    const char *kid_s = json_string_value(json_object_get(h, "kid"));
    char kid[128];
    bool rs256 = alg && strcmp(alg, "RS256") == 0;
    snprintf(kid, sizeof kid, "%s", kid_s ? kid_s : "");
    json_decref(h);
    if (!rs256)
        return fail(why, whylen, "JWT is not signed with RS256");
    if (!*kid)
        return fail(why, whylen, "JWT header has no kid");

    char *pem;
    int rc = key_for(o, kid, &pem);
    if (rc == COLIBRI_ENOTFOUND) {
        snprintf(why, whylen, "JWT signed by unknown key %s", kid);
        return COLIBRI_EAUTH;
    }
    if (rc) {
        snprintf(why, whylen, "cannot fetch the token keys");
        return rc;
    }
    jwt_t *jwt = NULL;
    rc = jwt_decode(&jwt, token, (const unsigned char *)pem, (int)strlen(pem));
    free(pem);
    if (rc || !jwt || jwt_get_alg(jwt) != JWT_ALG_RS256) {
        jwt_free(jwt);
        return fail(why, whylen, "JWT signature does not verify");
    }
    time_t now = time(NULL);
    const char *iss = jwt_get_grant(jwt, "iss");
    long exp = jwt_get_grant_int(jwt, "exp"), iat = jwt_get_grant_int(jwt, "iat");
    const char *email = jwt_get_grant(jwt, "email");
    rc = COLIBRI_EAUTH;
    if (!iss || (strcmp(iss, "https://accounts.google.com") != 0 && strcmp(iss, "accounts.google.com") != 0))
        fail(why, whylen, "JWT issuer is not accounts.google.com");
    else if (!audience_ok(jwt, o->audience))
        fail(why, whylen, "JWT audience does not match COLIBRI_PUSH_AUDIENCE");
    else if (exp <= 0 || exp + LEEWAY_S < now)
        fail(why, whylen, "JWT has expired");
    else if (iat > now + LEEWAY_S)
        fail(why, whylen, "JWT is issued in the future");
    else if (*o->email && (!email || strcmp(email, o->email) != 0 || jwt_get_grant_bool(jwt, "email_verified") != 1))
        fail(why, whylen, "JWT email does not match COLIBRI_PUSH_SERVICE_ACCOUNT");
    else
        rc = 0;
    jwt_free(jwt);
    return rc;
}

void oidc_free(struct oidc *o)
{
    if (!o)
        return;
    keys_free(o->keys, o->nkeys);
    rest_client_free(o->rc);
    pthread_mutex_destroy(&o->lock);
    arena_release(&o->texts);
    free(o);
}
