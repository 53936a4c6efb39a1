/*
 * test_rest.c — the Google REST client and the token sources against a tiny
 * HTTP/1.1 server running in-process on 127.0.0.1 (keep-alive, scripted
 * answers): retry classes, backoff within a deadline, per-attempt timeouts,
 * connection reuse, 401 → token refresh, metadata tokens and their expiry,
 * the service-account JWT exchange (signature checked with the public key),
 * gcloud's authorized_user application-default file (refresh-token
 * grant, a 503 retried, a refused refresh that keeps the current token), and
 * key files that are refused.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit.h"
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "colibri/config.h"
#include "colibri/error.h"
#include "colibri/gcp.h"
#include "colibri/log.h"

static struct config auth_cfg;      /* the Google settings gcp_auth_new reads */

/* ---- the fake server ---------------------------------------------------- */

struct req {
    char method[16];
    char path[512];
    char authz[1024];
    char flavor[64];
    char body[8192];
};

struct resp {
    int status;
    const char *body;
    const char *extra;      /* extra header lines, each ending in \r\n */
    int delay_ms;
};

typedef void (*handler_fn)(const struct req *rq, int n, struct resp *out);

static struct {
    int lfd, port;
    pthread_t thr;
    pthread_mutex_t lock;
    handler_fn handler;
    int nreq;               /* requests served */
    int nconn;              /* connections accepted */
    struct req last[32];    /* the first 32 requests */
    volatile int stop;
} srv = { .lock = PTHREAD_MUTEX_INITIALIZER };

static const char *reason_phrase(int st)
{
    return st == 200 ? "OK" : st == 401 ? "Unauthorized" : st == 429 ? "Too Many Requests" : "X";
}

static void header_value(const char *hdrs, const char *name, char *out, size_t outlen)
{
    out[0] = '\0';
    size_t nl = strlen(name);
    for (const char *p = hdrs; p && *p; p = strstr(p, "\r\n") ? strstr(p, "\r\n") + 2 : NULL) {
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            size_t n = strcspn(v, "\r\n");
            snprintf(out, outlen, "%.*s", (int)n, v);
            return;
        }
    }
}

static void serve_conn(int fd)
{
    char *buf = malloc(65536);
    size_t have = 0;
    if (!buf)
        return;
    for (;;) {
        char *end;
        while (!(end = memmem(buf, have, "\r\n\r\n", 4))) {
            ssize_t k = read(fd, buf + have, 65535 - have);
            if (k <= 0)
                goto out;
            have += (size_t)k;
        }
        buf[have] = '\0';
        struct req rq;
        memset(&rq, 0, sizeof rq);
        sscanf(buf, "%15s %511s", rq.method, rq.path);
        *end = '\0';
        char cl[32];
        header_value(strstr(buf, "\r\n") + 2, "Content-Length", cl, sizeof cl);
        header_value(strstr(buf, "\r\n") + 2, "Authorization", rq.authz, sizeof rq.authz);
        header_value(strstr(buf, "\r\n") + 2, "Metadata-Flavor", rq.flavor, sizeof rq.flavor);
        size_t hlen = (size_t)(end + 4 - buf), blen = (size_t)atol(cl);
        while (have < hlen + blen) {
            ssize_t k = read(fd, buf + have, 65535 - have);
            if (k <= 0)
                goto out;
            have += (size_t)k;
        }
        snprintf(rq.body, sizeof rq.body, "%.*s", (int)blen, buf + hlen);
        memmove(buf, buf + hlen + blen, have - hlen - blen);
        have -= hlen + blen;

        pthread_mutex_lock(&srv.lock);
        int n = srv.nreq++;
        if (n < 32)
            srv.last[n] = rq;
        handler_fn h = srv.handler;
        pthread_mutex_unlock(&srv.lock);
        struct resp rs = { .status = 200, .body = "{}" };
        h(&rq, n, &rs);
        if (rs.delay_ms)
            usleep((useconds_t)rs.delay_ms * 1000);
        char out[16384];
        int len = snprintf(out, sizeof out,
                           "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n%s"
                           "Content-Length: %zu\r\n\r\n%s",
                           rs.status, reason_phrase(rs.status), rs.extra ? rs.extra : "",
                           strlen(rs.body), rs.body);
        if (write(fd, out, (size_t)len) != len)
            goto out;
    }
out:
    free(buf);
}

static void *conn_main(void *arg)
{
    int fd = (int)(intptr_t)arg;
    serve_conn(fd);
    close(fd);
    return NULL;
}

static void *server_main(void *arg)
{
    (void)arg;
    while (!srv.stop) {
        int fd = accept(srv.lfd, NULL, NULL);
        if (fd < 0)
            continue;
        if (srv.stop) {
            close(fd);
            break;
        }
        pthread_mutex_lock(&srv.lock);
        srv.nconn++;
        pthread_mutex_unlock(&srv.lock);
        pthread_t t;    /* a thread per connection: keep-alive clients hold theirs open */
        if (pthread_create(&t, NULL, conn_main, (void *)(intptr_t)fd) == 0)
            pthread_detach(t);
        else
            close(fd);
    }
    return NULL;
}

static void server_reset(handler_fn h)
{
    pthread_mutex_lock(&srv.lock);
    srv.handler = h;
    srv.nreq = srv.nconn = 0;
    memset(srv.last, 0, sizeof srv.last);
    pthread_mutex_unlock(&srv.lock);
}

static int server_start(void **state)
{
    (void)state;
    log_setup(LOG_ERROR, false);
    srv.lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(srv.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t alen = sizeof a;
    if (bind(srv.lfd, (struct sockaddr *)&a, sizeof a) || listen(srv.lfd, 16) ||
        getsockname(srv.lfd, (struct sockaddr *)&a, &alen))
        return -1;
    srv.port = ntohs(a.sin_port);
    return pthread_create(&srv.thr, NULL, server_main, NULL);
}

static int server_stop(void **state)
{
    (void)state;
    srv.stop = 1;
    /* wake accept() */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)srv.port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    connect(fd, (struct sockaddr *)&a, sizeof a);
    close(fd);
    pthread_join(srv.thr, NULL);
    close(srv.lfd);
    return 0;
}

static void url(char *buf, size_t n, const char *path)
{
    snprintf(buf, n, "http://127.0.0.1:%d%s", srv.port, path);
}

static struct rest_client *client(struct gcp_auth *auth, long timeout, long deadline, int attempts)
{
    struct rest_opts o = { .timeout_ms = timeout, .deadline_ms = deadline, .max_attempts = attempts };
    struct rest_client *c;
    assert_int_equal(rest_client_new("bigquery", auth, &o, &c), 0);
    return c;
}

static int64_t ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- handlers ------------------------------------------------------------ */

static void h_ok(const struct req *rq, int n, struct resp *out)
{
    (void)rq; (void)n;
    out->body = "{\"kind\":\"ok\",\"n\":1}";
}

static void h_burst(const struct req *rq, int n, struct resp *out)
{
    (void)rq;
    static const int codes[] = { 503, 429, 500 };
    if (n < 3) {
        out->status = codes[n];
        out->body = "{\"error\":{\"code\":503,\"message\":\"try later\",\"errors\":[{\"reason\":\"backendError\"}]}}";
    } else {
        out->body = "{\"done\":true}";
    }
}

static void h_invalid(const struct req *rq, int n, struct resp *out)
{
    (void)rq; (void)n;
    out->status = 400;
    out->body = "{\"error\":{\"code\":400,\"message\":\"No such field: x.\","
                "\"errors\":[{\"reason\":\"invalid\",\"message\":\"No such field: x.\"}],"
                "\"status\":\"INVALID_ARGUMENT\"}}";
}

static void h_notfound(const struct req *rq, int n, struct resp *out)
{
    (void)rq; (void)n;
    out->status = 404;
    out->body = "{\"error\":{\"code\":404,\"message\":\"Not found: Table p:d.t\","
                "\"errors\":[{\"reason\":\"notFound\"}],\"status\":\"NOT_FOUND\"}}";
}

static void h_denied(const struct req *rq, int n, struct resp *out)
{
    (void)rq; (void)n;
    out->status = 403;
    out->body = "{\"error\":{\"code\":403,\"message\":\"Access Denied\","
                "\"errors\":[{\"reason\":\"accessDenied\"}],\"status\":\"PERMISSION_DENIED\"}}";
}

static void h_ratelimit403(const struct req *rq, int n, struct resp *out)
{
    (void)rq;
    if (n == 0) {
        out->status = 403;
        out->body = "{\"error\":{\"code\":403,\"message\":\"Exceeded rate limits\","
                    "\"errors\":[{\"reason\":\"rateLimitExceeded\"}]}}";
    }
}

static void h_always503(const struct req *rq, int n, struct resp *out)
{
    (void)rq; (void)n;
    out->status = 503;
    out->body = "{\"error\":{\"code\":503,\"message\":\"unavailable\"}}";
}

static void h_slow_first(const struct req *rq, int n, struct resp *out)
{
    (void)rq;
    if (n == 0)
        out->delay_ms = 600;
    out->body = "{\"fast\":true}";
}

static void h_empty(const struct req *rq, int n, struct resp *out)
{
    (void)rq; (void)n;
    out->status = 200;
    out->body = "";
}

static void h_retry_after(const struct req *rq, int n, struct resp *out)
{
    (void)rq;
    if (n == 0) {
        out->status = 429;
        out->extra = "Retry-After: 1\r\n";
        out->body = "{\"error\":{\"code\":429,\"message\":\"slow down\"}}";
    }
}

/* metadata server + API: the API rejects token "t1" as expired */
static int tokens_issued;
static void h_meta(const struct req *rq, int n, struct resp *out)
{
    (void)n;
    static char tok[128];
    if (strncmp(rq->path, "/computeMetadata/v1/instance/service-accounts/default/token", 57) == 0) {
        if (strcmp(rq->flavor, "Google") != 0) {
            out->status = 403;
            out->body = "{}";
            return;
        }
        tokens_issued++;
        snprintf(tok, sizeof tok, "{\"access_token\":\"t%d\",\"expires_in\":%d,\"token_type\":\"Bearer\"}",
                 tokens_issued, tokens_issued == 1 ? 3599 : 61);
        out->body = tok;
        return;
    }
    if (strcmp(rq->authz, "Bearer t1") == 0) {
        out->status = 401;
        out->body = "{\"error\":{\"code\":401,\"message\":\"Request had invalid authentication credentials.\","
                    "\"status\":\"UNAUTHENTICATED\"}}";
        return;
    }
    out->body = "{\"ok\":true}";
}

static void h_always401(const struct req *rq, int n, struct resp *out)
{
    (void)n;
    if (strstr(rq->path, "/computeMetadata/")) {
        out->body = "{\"access_token\":\"tx\",\"expires_in\":3599}";
        return;
    }
    out->status = 401;
    out->body = "{\"error\":{\"code\":401,\"message\":\"bad token\"}}";
}

/* service-account token endpoint: checks the assertion */
static char pubkey_pem[4096];
static void h_token(const struct req *rq, int n, struct resp *out)
{
    (void)n;
    if (strcmp(rq->path, "/token") == 0) {
        const char *gt = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=";
        if (strncmp(rq->body, gt, strlen(gt)) != 0) {
            out->status = 400;
            out->body = "{\"error\":\"invalid_grant\"}";
            return;
        }
        jwt_t *jwt = NULL;
        if (jwt_decode(&jwt, rq->body + strlen(gt), (const unsigned char *)pubkey_pem,
                       (int)strlen(pubkey_pem)) || jwt_get_alg(jwt) != JWT_ALG_RS256) {
            jwt_free(jwt);
            out->status = 400;
            out->body = "{\"error\":\"invalid_grant\",\"error_description\":\"bad signature\"}";
            return;
        }
        char aud[128];
        snprintf(aud, sizeof aud, "http://127.0.0.1:%d/token", srv.port);
        long iat = jwt_get_grant_int(jwt, "iat"), exp = jwt_get_grant_int(jwt, "exp");
        bool ok = strcmp(jwt_get_grant(jwt, "iss"), "sa@p.iam.gserviceaccount.com") == 0 &&
                  strcmp(jwt_get_grant(jwt, "aud"), aud) == 0 &&
                  strcmp(jwt_get_grant(jwt, "scope"), "https://www.googleapis.com/auth/bigquery") == 0 &&
                  exp - iat == 3600 && labs(iat - (long)time(NULL)) < 5 &&
                  strcmp(jwt_get_header(jwt, "kid"), "kid1") == 0;
        jwt_free(jwt);
        out->status = ok ? 200 : 400;
        out->body = ok ? "{\"access_token\":\"sa-token\",\"expires_in\":3599,\"token_type\":\"Bearer\"}"
                       : "{\"error\":\"invalid_grant\"}";
        return;
    }
    out->body = strcmp(rq->authz, "Bearer sa-token") == 0 ? "{\"ok\":true}" : "{\"ok\":false}";
}

/* ---- tests ---------------------------------------------------------------- */

static void test_ok_and_reuse(void **state)
{
    (void)state;
    server_reset(h_ok);
    struct rest_client *c = client(NULL, 2000, 5000, 3);
    char u[256], msg[128];
    url(u, sizeof u, "/bigquery/v2/projects/p/datasets/d");
    for (int i = 0; i < 5; i++) {
        json_t *resp = NULL;
        long st = 0;
        json_t *body = json_pack("{s:i}", "i", i);
        assert_int_equal(rest_call(c, "POST", u, body, &resp, &st, msg, sizeof msg), 0);
        json_decref(body);
        assert_int_equal(st, 200);
        assert_string_equal(json_string_value(json_object_get(resp, "kind")), "ok");
        json_decref(resp);
    }
    assert_int_equal(srv.nreq, 5);
    assert_int_equal(srv.nconn, 1);           /* one keep-alive connection for all five */
    assert_string_equal(srv.last[4].method, "POST");
    assert_string_equal(srv.last[4].body, "{\"i\":4}");
    assert_string_equal(srv.last[0].authz, "");   /* no auth source: no header */
    rest_client_free(c);
}

/*
 * One call against the fake server per row: the handler's answers, the
 * client's limits, and what the call must end with. The arrange and act
 * are the same for every row; the row says what differs.
 */
struct call_case {
    const char *name;
    handler_fn handler;
    const char *method;
    long timeout_ms, deadline_ms;
    int attempts;
    int rc, rc_or;              /* the call returns rc (or rc_or, when timing decides) */
    long status;                /* the last HTTP status */
    int nreq, nreq_min;         /* requests served: exactly nreq, or at least nreq_min */
    const char *truthy;         /* a key the JSON answer holds true, or NULL */
    bool null_body;             /* the answer is JSON null (an empty body) */
    const char *msg;            /* Google's error.message, or "" for any non-empty text */
    long min_ms, max_ms;        /* how long the call took, when not 0 */
};

static const struct call_case call_cases[] = {
    { "503, 429, 500 are retried", h_burst, "GET", 2000, 20000, 8,
      .status = 200, .nreq = 4, .truthy = "done" },
    { "invalid is not retried", h_invalid, "POST", 2000, 20000, 8,
      .rc = COLIBRI_EINVAL, .status = 400, .nreq = 1, .msg = "No such field: x." },
    { "notFound is not retried", h_notfound, "POST", 2000, 20000, 8,
      .rc = COLIBRI_EINVAL, .status = 404, .nreq = 1, .msg = "" },
    { "accessDenied is not retried", h_denied, "POST", 2000, 20000, 8,
      .rc = COLIBRI_EAUTH, .status = 403, .nreq = 1, .msg = "" },
    { "403 rateLimitExceeded is retried", h_ratelimit403, "GET", 2000, 20000, 8,
      .nreq = 2 },
    { "the deadline holds, backoff included", h_always503, "GET", 2000, 700, 100,
      .rc = COLIBRI_ETIMEOUT, .rc_or = COLIBRI_EUNAVAIL, .status = 503, .nreq_min = 2, .max_ms = 1500 },
    { "max_attempts holds", h_always503, "GET", 2000, 60000, 3,
      .rc = COLIBRI_EUNAVAIL, .status = 503, .nreq = 3 },
    { "a slow attempt times out and is retried", h_slow_first, "GET", 300, 5000, 4,
      .nreq = 2, .truthy = "fast" },
    { "an empty 200 body is JSON null", h_empty, "DELETE", 2000, 5000, 3,
      .status = 200, .nreq = 1, .null_body = true },
    { "Retry-After is honoured", h_retry_after, "GET", 2000, 10000, 4,
      .nreq = 2, .min_ms = 1000 },
};

static void test_call_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof call_cases / sizeof call_cases[0]; i++) {
        const struct call_case *k = &call_cases[i];
        char u[256], msg[128] = "";
        json_t *resp = (json_t *)1;
        long st = -1;

        print_message("case: %s\n", k->name);
        server_reset(k->handler);
        struct rest_client *c = client(NULL, k->timeout_ms, k->deadline_ms, k->attempts);
        url(u, sizeof u, "/x");
        int64_t t0 = ms_now();
        int rc = rest_call(c, k->method, u, NULL, &resp, &st, msg, sizeof msg);
        int64_t took = ms_now() - t0;

        assert_rc_either(rc, k->rc, k->rc_or ? k->rc_or : k->rc);
        if (k->status)
            assert_int_equal(st, k->status);
        if (rc != 0)
            assert_null(resp);
        if (k->nreq)
            assert_int_equal(srv.nreq, k->nreq);
        assert_true(srv.nreq >= k->nreq_min);
        assert_string_equal(srv.last[0].method, k->method);
        if (k->truthy)
            assert_true(json_is_true(json_object_get(resp, k->truthy)));
        if (k->null_body)
            assert_true(json_is_null(resp));
        if (k->msg && *k->msg)
            assert_string_equal(msg, k->msg);
        else if (k->msg)
            assert_true(strlen(msg) > 0);
        if (k->min_ms)
            assert_true(took >= k->min_ms);
        if (k->max_ms)
            assert_true(took < k->max_ms);
        if (rc == 0)
            json_decref(resp);
        rest_client_free(c);
    }
}

static void test_network_error(void **state)
{
    (void)state;
    struct rest_client *c = client(NULL, 500, 600, 10);
    json_t *resp = NULL;
    long st = -1;
    char msg[128];
    /* port 1 on loopback: connection refused, a network error, retried until the deadline */
    int rc = rest_call(c, "GET", "http://127.0.0.1:1/x", NULL, &resp, &st, msg, sizeof msg);
    assert_true(rc == COLIBRI_ETIMEOUT || rc == COLIBRI_EUNAVAIL);
    assert_int_equal(st, 0);
    assert_null(resp);
    rest_client_free(c);
}

static void test_metadata_token_refresh(void **state)
{
    (void)state;
    char host[64];
    snprintf(host, sizeof host, "127.0.0.1:%d", srv.port);
    auth_cfg.gce_metadata_host = host;
    auth_cfg.google_application_credentials = NULL;
    tokens_issued = 0;
    server_reset(h_meta);
    struct gcp_auth *a;
    assert_int_equal(gcp_auth_new(&auth_cfg, "https://www.googleapis.com/auth/bigquery", false, &a), 0);
    struct rest_client *c = client(a, 2000, 5000, 4);
    char u[256];
    url(u, sizeof u, "/api");
    json_t *resp = NULL;
    long st = 0;
    /* t1 is refused (expired early, revoked): one forced refresh, then t2 works */
    assert_int_equal(rest_call(c, "GET", u, NULL, &resp, &st, NULL, 0), 0);
    json_decref(resp);
    assert_int_equal(tokens_issued, 2);
    assert_string_equal(srv.last[0].flavor, "Google");
    assert_non_null(strstr(srv.last[0].path, "?scopes=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fbigquery"));
    assert_string_equal(srv.last[1].authz, "Bearer t1");
    assert_string_equal(srv.last[3].authz, "Bearer t2");
    /* t2 expires in 61 s: within the 60 s margin after a second, so it is refreshed */
    assert_int_equal(rest_call(c, "GET", u, NULL, &resp, &st, NULL, 0), 0);
    json_decref(resp);
    assert_int_equal(tokens_issued, 2);
    sleep(1);
    usleep(200000);
    char hdr[256];
    assert_int_equal(gcp_auth_header(a, false, hdr, sizeof hdr), 0);
    assert_string_equal(hdr, "Bearer t3");
    assert_int_equal(tokens_issued, 3);
    rest_client_free(c);
    gcp_auth_free(a);
    auth_cfg.gce_metadata_host = NULL;
}

static void test_401_twice_is_auth_error(void **state)
{
    (void)state;
    char host[64];
    snprintf(host, sizeof host, "127.0.0.1:%d", srv.port);
    auth_cfg.gce_metadata_host = host;
    server_reset(h_always401);
    struct gcp_auth *a;
    assert_int_equal(gcp_auth_new(&auth_cfg, NULL, false, &a), 0);
    struct rest_client *c = client(a, 2000, 5000, 8);
    char u[256];
    url(u, sizeof u, "/api");
    json_t *resp = NULL;
    long st = 0;
    assert_int_equal(rest_call(c, "GET", u, NULL, &resp, &st, NULL, 0), COLIBRI_EAUTH);
    assert_int_equal(st, 401);
    assert_int_equal(srv.nreq, 4);  /* token, call, forced token, call: no more */
    rest_client_free(c);
    gcp_auth_free(a);
    auth_cfg.gce_metadata_host = NULL;
}

static void test_emulator_no_auth(void **state)
{
    (void)state;
    struct gcp_auth *a;
    assert_int_equal(gcp_auth_new(&auth_cfg, NULL, true, &a), 0);
    char hdr[64] = "x";
    assert_int_equal(gcp_auth_header(a, true, hdr, sizeof hdr), 0);
    assert_string_equal(hdr, "");
    gcp_auth_free(a);
}

/* A fresh RSA key; writes a service-account key file and keeps the public key for the server. */
static void write_key_file(const char *path)
{
    EVP_PKEY *pk = EVP_RSA_gen(2048);
    assert_non_null(pk);
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL);
    char *priv;
    long n = BIO_get_mem_data(b, &priv);
    json_t *key = json_pack("{s:s, s:s, s:s, s:s#, s:s}", "type", "service_account",
                            "client_email", "sa@p.iam.gserviceaccount.com", "private_key_id", "kid1",
                            "private_key", priv, (size_t)n, "token_uri", "");
    char tok[128];
    snprintf(tok, sizeof tok, "http://127.0.0.1:%d/token", srv.port);
    json_object_set_new(key, "token_uri", json_string(tok));
    assert_int_equal(json_dump_file(key, path, 0), 0);
    json_decref(key);
    BIO_free(b);
    b = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(b, pk);
    char *pub;
    n = BIO_get_mem_data(b, &pub);
    snprintf(pubkey_pem, sizeof pubkey_pem, "%.*s", (int)n, pub);
    BIO_free(b);
    EVP_PKEY_free(pk);
}

static void test_service_account(void **state)
{
    (void)state;
    char path[] = "/tmp/colibri-sa-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    write_key_file(path);
    auth_cfg.google_application_credentials = path;
    server_reset(h_token);
    struct gcp_auth *a;
    assert_int_equal(gcp_auth_new(&auth_cfg, "https://www.googleapis.com/auth/bigquery", false, &a), 0);
    struct rest_client *c = client(a, 2000, 5000, 3);
    char u[256];
    url(u, sizeof u, "/api");
    json_t *resp = NULL;
    long st = 0;
    assert_int_equal(rest_call(c, "GET", u, NULL, &resp, &st, NULL, 0), 0);
    assert_true(json_is_true(json_object_get(resp, "ok")));   /* the token endpoint verified the JWT */
    json_decref(resp);
    assert_string_equal(srv.last[0].method, "POST");
    /* cached: a second call does not ask for another token */
    assert_int_equal(rest_call(c, "GET", u, NULL, &resp, &st, NULL, 0), 0);
    json_decref(resp);
    assert_int_equal(srv.nreq, 3);
    rest_client_free(c);
    gcp_auth_free(a);
    auth_cfg.google_application_credentials = NULL;
    unlink(path);
}

static void test_bad_key_file(void **state)
{
    (void)state;
    char path[] = "/tmp/colibri-sa-XXXXXX";
    int fd = mkstemp(path);
    assert_true(write(fd, "{\"type\":\"external_account\"}", 27) == 27);
    close(fd);
    auth_cfg.google_application_credentials = path;
    struct gcp_auth *a = (struct gcp_auth *)1;
    assert_int_equal(gcp_auth_new(&auth_cfg, NULL, false, &a), COLIBRI_ECONFIG);
    assert_null(a);
    auth_cfg.google_application_credentials = NULL;
    unlink(path);
}

/* authorized_user token endpoint: 503 once, then u1 (30 s: always within the refresh margin), then refusals */
static void h_refresh(const struct req *rq, int n, struct resp *out)
{
    if (strcmp(rq->path, "/token") != 0 || strcmp(rq->method, "POST") != 0 ||
        strcmp(rq->body, "grant_type=refresh_token&client_id=cid.apps&client_secret=s%26x"
                         "&refresh_token=1%2F%2Fr") != 0) {
        out->status = 400;
        out->body = "{\"error\":\"invalid_request\"}";
    } else if (n == 0) {
        out->status = 503;
        out->body = "{}";
    } else if (n == 1) {
        out->body = "{\"access_token\":\"u1\",\"expires_in\":30,\"token_type\":\"Bearer\"}";
    } else {
        out->status = 400;
        out->body = "{\"error\":\"invalid_grant\",\"error_description\":\"Token has been expired or revoked.\"}";
    }
}

/* gcloud auth application-default login's file (in CLOUDSDK_CONFIG), used without GOOGLE_APPLICATION_CREDENTIALS */
static void test_authorized_user_from_gcloud_config(void **state)
{
    (void)state;
    char dir[] = "/tmp/colibri-gcloud-XXXXXX", path[128], hdr[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/application_default_credentials.json", dir);
    char tok[128];
    snprintf(tok, sizeof tok, "http://127.0.0.1:%d/token", srv.port);
    json_t *key = json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", "authorized_user", "client_id", "cid.apps",
                            "client_secret", "s&x", "refresh_token", "1//r", "token_uri", tok);
    assert_int_equal(json_dump_file(key, path, 0), 0);
    json_decref(key);
    auth_cfg.adc_file = path;       /* what config derives from CLOUDSDK_CONFIG=dir */
    auth_cfg.google_application_credentials = NULL;
    server_reset(h_refresh);
    struct gcp_auth *a;
    assert_int_equal(gcp_auth_new(&auth_cfg, NULL, false, &a), 0);
    /* the 503 is retried after a backoff; the grant is the refresh-token form, escaped */
    assert_int_equal(gcp_auth_header(a, false, hdr, sizeof hdr), 0);
    assert_string_equal(hdr, "Bearer u1");
    assert_int_equal(srv.nreq, 2);
    /* u1 expires within the margin: each call asks again; a refused refresh keeps u1 while it lasts */
    assert_int_equal(gcp_auth_header(a, false, hdr, sizeof hdr), 0);
    assert_string_equal(hdr, "Bearer u1");
    assert_int_equal(srv.nreq, 3);
    /* a forced refresh (the API said 401) that is refused is an auth error, not retried */
    assert_int_equal(gcp_auth_header(a, true, hdr, sizeof hdr), COLIBRI_EAUTH);
    assert_string_equal(hdr, "");
    assert_int_equal(srv.nreq, 4);
    /* a header that does not fit is refused, never cut */
    char small[8] = "x";
    assert_int_equal(gcp_auth_header(a, false, small, sizeof small), COLIBRI_ETOOBIG);
    assert_string_equal(small, "");
    gcp_auth_free(a);
    auth_cfg.adc_file = NULL;
    unlink(path);
    rmdir(dir);
}

/* Write text to a fresh key file; path receives its name. */
static void key_file(char *path, const char *text)
{
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_true(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
}

/* Key files that cannot give a token: refused at start (ECONFIG), or at the first token (EAUTH, no request sent). */
static void test_key_files_that_are_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{\"type\":\"service_account\",",                                             /* not JSON */
        "{\"type\":\"service_account\",\"client_email\":\"sa@p\"}",                  /* no private_key */
        "{\"type\":\"authorized_user\",\"client_id\":\"c\",\"client_secret\":\"s\"}", /* no refresh_token */
        "{\"type\":\"authorized_user\",\"client_id\":\"c\",\"client_secret\":\"s\",\"refresh_token\":\"\"}",
    };
    struct gcp_auth *a;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char path[] = "/tmp/colibri-sa-XXXXXX";
        key_file(path, bad[i]);
        auth_cfg.google_application_credentials = path;
        a = (struct gcp_auth *)1;
        assert_int_equal(gcp_auth_new(&auth_cfg, NULL, false, &a), COLIBRI_ECONFIG);
        assert_null(a);
        unlink(path);
    }
    /* a private_key that is not an RSA key: no assertion can be signed, nothing is sent */
    char path[] = "/tmp/colibri-sa-XXXXXX", text[512], hdr[64];
    snprintf(text, sizeof text, "{\"type\":\"service_account\",\"client_email\":\"sa@p\",\"private_key\":"
             "\"-----BEGIN PRIVATE KEY-----\\nbm90IGEga2V5\\n-----END PRIVATE KEY-----\\n\","
             "\"token_uri\":\"http://127.0.0.1:%d/token\"}", srv.port);
    key_file(path, text);
    auth_cfg.google_application_credentials = path;
    server_reset(h_token);
    assert_int_equal(gcp_auth_new(&auth_cfg, NULL, false, &a), 0);
    assert_int_equal(gcp_auth_header(a, false, hdr, sizeof hdr), COLIBRI_EAUTH);
    assert_int_equal(srv.nreq, 0);
    gcp_auth_free(a);
    auth_cfg.google_application_credentials = NULL;
    unlink(path);
}

int main(int argc, char **argv)
{
    unit_filter(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ok_and_reuse),
        cmocka_unit_test(test_call_cases),
        cmocka_unit_test(test_network_error),
        cmocka_unit_test(test_metadata_token_refresh),
        cmocka_unit_test(test_401_twice_is_auth_error),
        cmocka_unit_test(test_emulator_no_auth),
        cmocka_unit_test(test_service_account),
        cmocka_unit_test(test_bad_key_file),
        cmocka_unit_test(test_authorized_user_from_gcloud_config),
        cmocka_unit_test(test_key_files_that_are_refused),
    };
    return cmocka_run_group_tests(tests, server_start, server_stop);
}
