/*
 * http_int.h — what route handlers see: a request, a reply to fill, and
 * reply_fail (reply.c) for errors. Only server.c turns error codes into statuses.
 */
#ifndef COLIBRI_HTTP_INT_H
#define COLIBRI_HTTP_INT_H

#include <microhttpd.h>
#include <stdbool.h>
#include <time.h>

#include "colibri/http.h"
#include "colibri/metrics.h"
#include "colibri/strbuf.h"

struct reply {
    unsigned status;        /* 200 unless set */
    const char *content_type;
    struct strbuf body;
    char *link;             /* Link header value, owned, or NULL */
    int retry_after;        /* seconds, for 429 and 503; 0 = the default */
    bool close;             /* close the connection after this answer */
    const char *challenge;  /* WWW-Authenticate of a 401 (RFC 6750); NULL = Bearer realm="colibri" */
    const char *err_code;   /* set by reply_fail */
    char err_msg[512];
};

struct request {
    const char *method;     /* "GET", "POST", ... (HEAD routed as GET) */
    char *uri;              /* raw target as received, %-encoded */
    size_t path_len;        /* uri[0 .. path_len) is the path */
    const char *query;      /* raw query string after '?', or "" */
    struct MHD_Connection *conn;
    struct strbuf body;     /* request body (POST), once admitted */
    const struct route *r;  /* its route (server.c), NULL if none */
    int refused;            /* 0, or the code it was refused with, decided from the head */
    struct reply rep;
    struct edge_conn *edge; /* the connection's entry in edge.c */
    char request_id[72];
    struct timespec start;
    unsigned status;        /* set when the reply is queued, for the access log */
    enum metric_route route;
    unsigned char caller[32];   /* SHA-256 of the API key presented, when it matched */
    bool has_caller;
};

/* What every route may use; built once at start. */
struct route_ctx {
    const struct http_env *env;
    char *openapi;          /* the OpenAPI document */
    size_t openapi_len;
};

/* A route: returns 0 with rep filled, or a COLIBRI_E* code after reply_fail. */
typedef int (*route_fn)(const struct route_ctx *ctx, struct request *req, struct reply *rep);

/* Record an error for server.c to render; returns code. */
int reply_fail(struct reply *rep, int code, const char *err_code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* access.c: API keys, rate limits, CORS. */
struct access;
int access_init(const struct config *cfg, struct access **out, char *err, size_t errlen);
void access_free(struct access *a);
/* 0 if route needs no key or the right one was presented; else COLIBRI_EAUTH via reply_fail. */
int access_authorize(struct access *a, struct request *req, enum metric_route route, struct reply *rep);
/* 0 if the caller has a token left; else COLIBRI_ELIMIT with rep->retry_after. */
int access_limit(struct access *a, struct request *req, struct reply *rep);
/* The value for Access-Control-Allow-Origin, or NULL when CORS does not apply. */
const char *access_cors_origin(const struct access *a, struct MHD_Connection *c);

/* Route groups. */
int route_data(const struct route_ctx *ctx, struct request *req, struct reply *rep);
int route_data_id(const struct route_ctx *ctx, struct request *req, struct reply *rep);
int route_healthz(const struct route_ctx *ctx, struct request *req, struct reply *rep);
int route_readyz(const struct route_ctx *ctx, struct request *req, struct reply *rep);
int route_openapi(const struct route_ctx *ctx, struct request *req, struct reply *rep);
int route_metrics(const struct route_ctx *ctx, struct request *req, struct reply *rep);
int route_pubsub_push(const struct route_ctx *ctx, struct request *req, struct reply *rep);
/* The head of a push request: the route is on (COLIBRI_PUSH) and its token verifies. */
int admit_pubsub_push(const struct route_ctx *ctx, struct request *req, struct reply *rep);

/*
 * Build the OpenAPI document once at start, for schema s and what cfg serves
 * (push on or off, keys or not); NULL on failure. Caller frees.
 */
char *openapi_build(const struct schema *s, const struct config *cfg);

/* gzip.c: response compression. */
#define GZIP_MIN_BYTES 1024     /* smaller bodies go as they are: gzip would barely pay */
#ifndef GZIP_LEVEL
#define GZIP_LEVEL 1            /* zlib's fastest: most of level 6's saving on JSON pages */
#endif

/* Whether an Accept-Encoding value (NULL = absent) accepts gzip (q > 0, or by "*"). */
bool gzip_accepted(const char *accept_encoding);

/* Compress in[0..n) as one gzip member; *out is malloc'd (caller frees) or NULL on error. */
int gzip_body(const char *in, size_t n, char **out, size_t *outlen);

#endif
