/*
 * test_push.c — Pub/Sub message parsing (base64, both spellings of the
 * fields) and the OIDC verifier of POST /pubsub/push: a key pair made here,
 * tokens signed with libjwt, and every way a token must fail (audience,
 * issuer, expiry, email, foreign key, unknown kid, alg none, HS256 signed
 * with the public key as secret, tampered claims).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "unit.h"
#include <jwt.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "colibri/error.h"
#include "colibri/base64.h"
#include "colibri/pubsub_msg.h"
#include "http/oidc.h"

#define AUD "https://colibri.example/pubsub/push"
#define EMAIL "pusher@p.iam.gserviceaccount.com"

struct keypair {
    char *priv_pem, *pub_pem;
    json_t *jwk;
};

static char *b64url(const unsigned char *p, size_t n)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char *out = malloc(4 * (n + 2) / 3 + 1), *o = out;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        *o++ = t[v >> 18 & 63];
        *o++ = t[v >> 12 & 63];
        if (i + 1 < n)
            *o++ = t[v >> 6 & 63];
        if (i + 2 < n)
            *o++ = t[v & 63];
    }
    *o = '\0';
    return out;
}

static char *bn_b64url(const EVP_PKEY *k, const char *name)
{
    BIGNUM *bn = NULL;
    assert_true(EVP_PKEY_get_bn_param(k, name, &bn));
    int n = BN_num_bytes(bn);
    unsigned char *buf = malloc((size_t)n);
    BN_bn2bin(bn, buf);
    char *s = b64url(buf, (size_t)n);
    free(buf);
    BN_free(bn);
    return s;
}

static char *pem_of(EVP_PKEY *k, bool priv)
{
    BIO *bio = BIO_new(BIO_s_mem());
    assert_true(priv ? PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL) : PEM_write_bio_PUBKEY(bio, k));
    char *data;
    long len = BIO_get_mem_data(bio, &data);
    char *s = strndup(data, (size_t)len);
    BIO_free(bio);
    return s;
}

static void keypair_make(struct keypair *kp, const char *kid)
{
    EVP_PKEY *k = EVP_RSA_gen(2048);
    assert_non_null(k);
    kp->priv_pem = pem_of(k, true);
    kp->pub_pem = pem_of(k, false);
    char *n = bn_b64url(k, OSSL_PKEY_PARAM_RSA_N), *e = bn_b64url(k, OSSL_PKEY_PARAM_RSA_E);
    kp->jwk = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "kty", "RSA", "alg", "RS256", "use", "sig", "kid", kid,
                        "n", n, "e", e);
    free(n);
    free(e);
    EVP_PKEY_free(k);
}

static void keypair_free(struct keypair *kp)
{
    free(kp->priv_pem);
    free(kp->pub_pem);
    json_decref(kp->jwk);
}

static struct keypair good, foreign;

static int setup(void **state)
{
    keypair_make(&good, "kid-good");
    keypair_make(&foreign, "kid-foreign");
    return 0;
}

static int teardown(void **state)
{
    keypair_free(&good);
    keypair_free(&foreign);
    return 0;
}

/* A token with Google's push claims; override with a JSON object of claims (null removes one). */
static char *sign(const char *priv_pem, jwt_alg_t alg, const char *kid, const char *overrides)
{
    jwt_t *jwt;
    long now = (long)time(NULL);
    assert_int_equal(jwt_new(&jwt), 0);
    json_t *claims = json_pack("{s:s,s:s,s:s,s:b,s:I,s:I,s:s}", "iss", "https://accounts.google.com", "aud", AUD,
                               "email", EMAIL, "email_verified", 1, "exp", (json_int_t)(now + 3600),
                               "iat", (json_int_t)now, "sub", "1234567890");
    if (overrides) {
        json_t *o = json_loads(overrides, 0, NULL);
        assert_non_null(o);
        const char *k;
        json_t *v;
        json_object_foreach(o, k, v) {
            if (json_is_null(v))
                json_object_del(claims, k);
            else
                json_object_set(claims, k, v);
        }
        json_decref(o);
    }
    char *cj = json_dumps(claims, JSON_COMPACT);
    assert_int_equal(jwt_add_grants_json(jwt, cj), 0);
    free(cj);
    json_decref(claims);
    if (kid)
        assert_int_equal(jwt_add_header(jwt, "kid", kid), 0);
    const char *key = priv_pem;
    assert_int_equal(jwt_set_alg(jwt, alg, (const unsigned char *)key, key ? (int)strlen(key) : 0), 0);
    char *tok = jwt_encode_str(jwt);
    assert_non_null(tok);
    jwt_free(jwt);
    return tok;
}

static struct oidc *verifier(const char *email)
{
    struct oidc *o;
    assert_int_equal(oidc_new(NULL, AUD, email, &o), 0);
    json_t *jwks = json_pack("{s:[O]}", "keys", good.jwk);
    assert_int_equal(oidc_set_jwks(o, jwks), 0);
    json_decref(jwks);
    return o;
}

static void expect(struct oidc *o, char *tok, int want, const char *why_part)
{
    char why[160] = "";
    int rc = oidc_verify(o, tok, why, sizeof why);
    if (rc != want)
        fail_msg("token %.60s…: got %d (%s), want %d", tok, rc, why, want);
    if (why_part && !strstr(why, why_part))
        fail_msg("reason '%s' lacks '%s'", why, why_part);
    free(tok);
}

static void test_valid_tokens(void **state)
{
    struct oidc *o = verifier(EMAIL);
    expect(o, sign(good.priv_pem, JWT_ALG_RS256, "kid-good", NULL), 0, NULL);
    expect(o, sign(good.priv_pem, JWT_ALG_RS256, "kid-good", "{\"iss\":\"accounts.google.com\"}"), 0, NULL);
    expect(o, sign(good.priv_pem, JWT_ALG_RS256, "kid-good", "{\"aud\":[\"x\",\"" AUD "\"]}"), 0, NULL);
    oidc_free(o);
    o = verifier("");       /* no email configured: any signer */
    expect(o, sign(good.priv_pem, JWT_ALG_RS256, "kid-good", "{\"email\":null,\"email_verified\":null}"), 0, NULL);
    oidc_free(o);
}

static void test_claims_that_fail(void **state)
{
    struct oidc *o = verifier(EMAIL);
    long now = (long)time(NULL);
    char buf[128];
    expect(o, sign(good.priv_pem, JWT_ALG_RS256, "kid-good", "{\"aud\":\"https://other.example\"}"), COLIBRI_EAUTH, "audience");
    expect(o, sign(good.priv_pem, JWT_ALG_RS256, "kid-good", "{\"aud\":null}"), COLIBRI_EAUTH, "audience");
    expect(o, sign(good.priv_pem, JWT_ALG_RS256, "kid-good", "{\"iss\":\"https://evil.example\"}"), COLIBRI_EAUTH, "issuer");
    snprintf(buf, sizeof buf, "{\"exp\":%ld,\"iat\":%ld}", now - 120, now - 3720);
    expect(o, sign(good.priv_pem, JWT_ALG_RS256, "kid-good", buf), COLIBRI_EAUTH, "expired");
    expect(o, sign(good.priv_pem, JWT_ALG_RS256, "kid-good", "{\"exp\":null}"), COLIBRI_EAUTH, "expired");
    snprintf(buf, sizeof buf, "{\"iat\":%ld}", now + 600);
    expect(o, sign(good.priv_pem, JWT_ALG_RS256, "kid-good", buf), COLIBRI_EAUTH, "future");
    expect(o, sign(good.priv_pem, JWT_ALG_RS256, "kid-good", "{\"email\":\"x@y.z\"}"), COLIBRI_EAUTH, "email");
    expect(o, sign(good.priv_pem, JWT_ALG_RS256, "kid-good", "{\"email_verified\":false}"), COLIBRI_EAUTH, "email");
    oidc_free(o);
}

static void test_signatures_that_fail(void **state)
{
    struct oidc *o = verifier(EMAIL);
    /* signed by a key that is not in the JWKS, under a kid that is */
    expect(o, sign(foreign.priv_pem, JWT_ALG_RS256, "kid-good", NULL), COLIBRI_EAUTH, "signature");
    expect(o, sign(good.priv_pem, JWT_ALG_RS256, "kid-unknown", NULL), COLIBRI_EAUTH, "unknown key");
    expect(o, sign(good.priv_pem, JWT_ALG_RS256, NULL, NULL), COLIBRI_EAUTH, "kid");
    expect(o, sign(NULL, JWT_ALG_NONE, "kid-good", NULL), COLIBRI_EAUTH, "RS256");
    /* the classic confusion: HS256 with the public key as the HMAC secret */
    expect(o, sign(good.pub_pem, JWT_ALG_HS256, "kid-good", NULL), COLIBRI_EAUTH, "RS256");

    /* tamper with the claims of a good token: swap in another payload */
    char *a = sign(good.priv_pem, JWT_ALG_RS256, "kid-good", NULL);
    char *b = sign(good.priv_pem, JWT_ALG_RS256, "kid-good", "{\"sub\":\"someone-else\"}");
    char *a1 = strchr(a, '.'), *a2 = strchr(a1 + 1, '.');
    char *b1 = strchr(b, '.'), *b2 = strchr(b1 + 1, '.');
    char mixed[8192];
    snprintf(mixed, sizeof mixed, "%.*s%.*s%s", (int)(a1 - a), a, (int)(b2 - b1), b1, a2);
    expect(o, strdup(mixed), COLIBRI_EAUTH, "signature");
    free(a);
    free(b);
    expect(o, strdup("not-a-jwt"), COLIBRI_EAUTH, "JWT");
    expect(o, strdup("a.b.c.d"), COLIBRI_EAUTH, "JWT");
    expect(o, strdup("!!.b.c"), COLIBRI_EAUTH, "base64");
    oidc_free(o);
}

/* A message whose data cannot be decoded: parsed all the same, data_ok false, the data as text. */
static void expect_kept_as_received(const char *json, const char *kept)
{
    char err[128] = "";
    struct pubsub_msg m;
    json_t *j = json_loads(json, 0, NULL);
    assert_non_null(j);
    assert_int_equal(pubsub_msg_parse(j, &m, err, sizeof err), 0);
    assert_false(m.data_ok);
    assert_non_null(m.id);
    assert_string_equal(m.data, kept);
    assert_int_equal(m.len, strlen(kept));
    assert_non_null(strstr(err, "base64"));
    pubsub_msg_release(&m);
    json_decref(j);
}

static void test_message_parse(void **state)
{
    char err[128];
    struct pubsub_msg m;
    json_t *j = json_loads("{\"data\":\"eyJhIjoxfQ==\",\"messageId\":\"42\",\"publishTime\":"
                           "\"2026-03-01T12:00:00.123456789Z\"}", 0, NULL);
    assert_int_equal(pubsub_msg_parse(j, &m, err, sizeof err), 0);
    assert_true(m.data_ok);
    assert_string_equal(m.id, "42");
    assert_int_equal(m.len, 7);
    assert_string_equal(m.data, "{\"a\":1}");
    assert_int_equal(m.published_at, 1772366400123456LL);
    pubsub_msg_release(&m);
    json_decref(j);

    /* push's snake_case spelling, URL-safe base64 without padding, no data */
    j = json_loads("{\"data\":\"-_8\",\"message_id\":\"7\",\"publish_time\":\"bad\"}", 0, NULL);
    assert_int_equal(pubsub_msg_parse(j, &m, err, sizeof err), 0);
    assert_true(m.data_ok);
    assert_int_equal(m.len, 2);
    assert_memory_equal(m.data, "\xfb\xff", 2);
    assert_int_equal(m.published_at, 0);
    pubsub_msg_release(&m);
    json_decref(j);

    j = json_loads("{\"messageId\":\"8\",\"attributes\":{\"a\":\"b\"}}", 0, NULL);
    assert_int_equal(pubsub_msg_parse(j, &m, err, sizeof err), 0);
    assert_true(m.data_ok);
    assert_int_equal(m.len, 0);
    pubsub_msg_release(&m);
    json_decref(j);

    /* data that is not base64, or not even a string (a pull answer from a broken server): kept
     * as received, as text, for the dead letters */
    expect_kept_as_received("{\"data\":\"no base64!\",\"messageId\":\"9\"}", "no base64!");
    expect_kept_as_received("{\"data\":{\"a\":[1,null]},\"messageId\":\"10\"}", "{\"a\":[1,null]}");
    expect_kept_as_received("{\"data\":null,\"messageId\":\"11\"}", "null");

    j = json_loads("{\"data\":\"eyJhIjoxfQ==\"}", 0, NULL);
    assert_int_equal(pubsub_msg_parse(j, &m, err, sizeof err), COLIBRI_EINVAL);
    assert_non_null(strstr(err, "messageId"));
    json_decref(j);
    assert_int_equal(pubsub_msg_parse(NULL, &m, err, sizeof err), COLIBRI_EINVAL);
}

static void test_base64(void **state)
{
    char *out;
    size_t n;
    assert_int_equal(base64_decode("", 0, &out, &n), 0);
    assert_int_equal(n, 0);
    free(out);
    assert_int_equal(base64_decode("TWFu", 4, &out, &n), 0);
    assert_string_equal(out, "Man");
    free(out);
    assert_int_equal(base64_decode("TWE=", 4, &out, &n), 0);
    assert_string_equal(out, "Ma");
    free(out);
    assert_int_equal(base64_decode("TQ", 2, &out, &n), 0);
    assert_string_equal(out, "M");
    free(out);
    assert_int_equal(base64_decode("T", 1, &out, &n), COLIBRI_EINVAL);
    assert_int_equal(base64_decode("TW u", 4, &out, &n), COLIBRI_EINVAL);
    assert_int_equal(base64_decode("T=Wu", 4, &out, &n), COLIBRI_EINVAL);
}

int main(int argc, char **argv)
{
    unit_filter(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_tokens),
        cmocka_unit_test(test_claims_that_fail),
        cmocka_unit_test(test_signatures_that_fail),
        cmocka_unit_test(test_message_parse),
        cmocka_unit_test(test_base64),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
