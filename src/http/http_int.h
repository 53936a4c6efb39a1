/*
 * http_int.h — what route handlers see: a request, a reply to fill, and
 * reply_fail for errors. Only server.c turns error codes into statuses.
 */
#ifndef COLIBRI_HTTP_INT_H
#define COLIBRI_HTTP_INT_H

#include <microhttpd.h>
#include <stdbool.h>
#include <time.h>

#include "colibri/http.h"
#include "colibri/metrics.h"
#include "colibri/strbuf.h"

struct request {
    const char *method;     /* "GET", "POST", ... (HEAD routed as GET) */
    char *uri;              /* raw target as received, %-encoded */
    size_t path_len;        /* uri[0 .. path_len) is the path */
    const char *query;      /* raw query string after '?', or "" */
    struct MHD_Connection *conn;
    struct strbuf body;     /* request body (POST) */
    bool body_too_big;
    char request_id[72];
    struct timespec start;
    unsigned status;        /* set when the reply is queued, for the access log */
    enum metric_route route;
};

struct reply {
    unsigned status;        /* 200 unless set */
    const char *content_type;
    struct strbuf body;
    char *link;             /* Link header value, owned, or NULL */
    const char *err_code;   /* set by reply_fail */
    char err_msg[512];
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

/* Route groups. */
int route_data(const struct route_ctx *ctx, struct request *req, struct reply *rep);
int route_data_id(const struct route_ctx *ctx, struct request *req, struct reply *rep);
int route_healthz(const struct route_ctx *ctx, struct request *req, struct reply *rep);
int route_readyz(const struct route_ctx *ctx, struct request *req, struct reply *rep);
int route_openapi(const struct route_ctx *ctx, struct request *req, struct reply *rep);
int route_metrics(const struct route_ctx *ctx, struct request *req, struct reply *rep);

/* Build the OpenAPI document for schema s once at start; NULL on failure. Caller frees. */
char *openapi_build(const struct schema *s);

#endif
