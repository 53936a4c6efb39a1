/*
 * server.c — the libmicrohttpd daemon, the routing table and the JSON error
 * envelope.
 *
 * A pool of threads, each with its own epoll loop, runs every request to
 * completion (handlers are short: one SQLite query on the thread's own read
 * connection). This file is the only place where an error code becomes an
 * HTTP status. Shutdown quiesces the listener, waits for requests in flight
 * and then stops the daemon.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "colibri/error.h"
#include "colibri/log.h"
#include "http/http_int.h"

#define QUERY_STRING_MAX 16384
#define CONN_MEMORY_LIMIT (160 * 1024)   /* lets a too-long URI reach us for a JSON 414 */

struct http_server {
    struct MHD_Daemon *d;
    struct route_ctx ctx;
    struct access *access;
    atomic_int inflight;
};

enum { M_GET = 1, M_POST = 2 };

static const struct route {
    const char *path;
    bool prefix;            /* path is a prefix ("/data/" + id) */
    unsigned methods;
    const char *allow;      /* the Allow header for 405 */
    route_fn fn;
    enum metric_route label;
} routes[] = {
    { "/data",         false, M_GET, "GET, HEAD", route_data,    ROUTE_DATA },
    { "/data/",        true,  M_GET, "GET, HEAD", route_data_id, ROUTE_DATA_ID },
    { "/healthz",      false, M_GET, "GET, HEAD", route_healthz, ROUTE_HEALTHZ },
    { "/readyz",       false, M_GET, "GET, HEAD", route_readyz,  ROUTE_READYZ },
    { "/metrics",      false, M_GET, "GET, HEAD", route_metrics, ROUTE_METRICS },
    { "/openapi.json", false, M_GET, "GET, HEAD", route_openapi, ROUTE_OPENAPI },
    { "/pubsub/push",  false, M_POST, "POST",     route_pubsub_push, ROUTE_PUSH },
};

static const struct {
    int code;
    unsigned status;
    const char *err_code;
} statuses[] = {
    { COLIBRI_EINVAL, 400, "invalid_parameter" },
    { COLIBRI_EAUTH, 401, "unauthorized" },
    { COLIBRI_ENOTFOUND, 404, "not_found" },
    { COLIBRI_EMETHOD, 405, "method_not_allowed" },
    { COLIBRI_ETOOLONG, 414, "uri_too_long" },
    { COLIBRI_ETOOBIG, 413, "too_large" },
    { COLIBRI_ELIMIT, 429, "rate_limited" },
    { COLIBRI_EUNAVAIL, 503, "unavailable" },
    { COLIBRI_ETIMEOUT, 503, "timeout" },
};

int reply_fail(struct reply *rep, int code, const char *err_code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rep->err_msg, sizeof rep->err_msg, fmt, ap);
    va_end(ap);
    rep->err_code = err_code;
    return code;
}

/* Render the error envelope for code into rep. */
static void render_error(struct reply *rep, int code)
{
    unsigned status = 500;
    const char *err_code = "internal";
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        if (statuses[i].code == code) {
            status = statuses[i].status;
            err_code = statuses[i].err_code;
        }
    }
    if (rep->err_code)
        err_code = rep->err_code;
    if (!rep->err_msg[0] || status == 500)
        snprintf(rep->err_msg, sizeof rep->err_msg, "%s", status == 500 ? "internal error" : colibri_strerror(code));
    strbuf_reset(&rep->body);
    strbuf_addf(&rep->body, "{\"error\":{\"status\":%u,\"code\":\"", status);
    strbuf_add_json_str(&rep->body, err_code, strlen(err_code));
    strbuf_adds(&rep->body, "\",\"message\":\"");
    strbuf_add_json_str(&rep->body, rep->err_msg, strlen(rep->err_msg));
    strbuf_adds(&rep->body, "\"}}\n");
    rep->status = status;
    rep->content_type = "application/json";
}

/* The route for req's path; *method_ok says whether it takes req's method. */
static const struct route *find_route(const struct request *req, bool *method_ok)
{
    unsigned m = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0 ? M_GET
               : strcmp(req->method, "POST") == 0 ? M_POST : 0;
    const struct route *wrong_method = NULL;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const struct route *r = &routes[i];
        size_t rl = strlen(r->path);
        bool match = r->prefix ? req->path_len > rl : req->path_len == rl;
        if (!match || strncmp(req->uri, r->path, rl) != 0)
            continue;
        if (r->methods & m) {
            *method_ok = true;
            return r;
        }
        wrong_method = r;
    }
    *method_ok = false;
    return wrong_method;
}

/* Fill req->request_id from X-Request-Id, traceparent, or random. */
static void set_request_id(struct request *req)
{
    const char *id = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "X-Request-Id");
    const char *tp = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "traceparent");
    size_t n = id ? strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:") : 0;
    if (id && n == strlen(id) && n > 0 && n < sizeof req->request_id) {
        memcpy(req->request_id, id, n + 1);
    } else if (tp && strlen(tp) >= 55 && tp[2] == '-' && tp[35] == '-') {
        memcpy(req->request_id, tp + 3, 32);   /* the trace id */
        req->request_id[32] = '\0';
    } else {
        unsigned char r[16];
        if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
            memset(r, 0, sizeof r);
        for (size_t i = 0; i < sizeof r; i++)
            snprintf(req->request_id + 2 * i, 3, "%02x", r[i]);
    }
}

static enum MHD_Result queue(const struct http_server *srv, struct request *req, struct reply *rep,
                             const struct route *r)
{
    size_t len;
    char *body = strbuf_detach(&rep->body, &len);
    if (!body)
        return MHD_NO;
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", rep->content_type ? rep->content_type : "application/json");
    MHD_add_response_header(resp, "X-Request-Id", req->request_id);
    static const char *const security[][2] = {
        { "X-Content-Type-Options", "nosniff" },
        { "Cache-Control", "no-store" },
        { "X-Frame-Options", "DENY" },
        { "Referrer-Policy", "no-referrer" },
        { "Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'" },
    };
    for (size_t i = 0; i < sizeof security / sizeof security[0]; i++)
        MHD_add_response_header(resp, security[i][0], security[i][1]);
    if (rep->link)
        MHD_add_response_header(resp, "Link", rep->link);
    if (rep->status == 405 && r)
        MHD_add_response_header(resp, "Allow", r->allow);
    if (rep->status == 503 || rep->status == 429) {
        char secs[16];
        snprintf(secs, sizeof secs, "%d", rep->retry_after > 0 ? rep->retry_after : 1);
        MHD_add_response_header(resp, "Retry-After", secs);
    }
    const char *origin = access_cors_origin(srv->access, req->conn);
    if (origin) {
        MHD_add_response_header(resp, "Access-Control-Allow-Origin", origin);
        MHD_add_response_header(resp, "Vary", "Origin");
        MHD_add_response_header(resp, "Access-Control-Expose-Headers", "Link, X-Request-Id, Retry-After");
        if (strcmp(req->method, "OPTIONS") == 0) {
            MHD_add_response_header(resp, "Access-Control-Allow-Methods", r ? r->allow : "GET, HEAD");
            MHD_add_response_header(resp, "Access-Control-Allow-Headers", "Authorization, X-API-Key, X-Request-Id");
            MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
        }
    }
    req->status = rep->status;
    enum MHD_Result ok = MHD_queue_response(req->conn, rep->status, resp);
    MHD_destroy_response(resp);
    return ok;
}

static void dispatch(const struct http_server *srv, struct request *req, struct reply *rep,
                     const struct route **route_out)
{
    const struct route_ctx *ctx = &srv->ctx;
    bool method_ok;
    const struct route *r = find_route(req, &method_ok);
    int rc;
    *route_out = r;
    req->route = r ? r->label : ROUTE_OTHER;
    if (r && strcmp(req->method, "OPTIONS") == 0 && access_cors_origin(srv->access, req->conn)) {
        rep->status = 204;      /* a CORS preflight */
        return;
    }
    if (strlen(req->query) > QUERY_STRING_MAX)
        rc = reply_fail(rep, COLIBRI_ETOOLONG, NULL, "query string longer than %d bytes", QUERY_STRING_MAX);
    else if (!r)
        rc = reply_fail(rep, COLIBRI_ENOTFOUND, NULL, "no such route; see /openapi.json");
    else if (!method_ok)
        rc = reply_fail(rep, COLIBRI_EMETHOD, NULL, "method %s not allowed; allowed: %s", req->method, r->allow);
    else if (req->body_too_big)
        rc = reply_fail(rep, COLIBRI_ETOOBIG, NULL, "request body larger than %ld bytes",
                        ctx->env->cfg->http_body_max);
    /* probes are never limited, nor is Pub/Sub push: OIDC guards it and Pub/Sub paces itself */
    else if ((rc = access_authorize(srv->access, req, r->label, rep)) == 0 &&
             (r->label == ROUTE_HEALTHZ || r->label == ROUTE_READYZ || r->label == ROUTE_PUSH ||
              (rc = access_limit(srv->access, req, rep)) == 0))
        rc = r->fn(ctx, req, rep);
    if (rc)
        render_error(rep, rc);
    else if (!rep->status)
        rep->status = 200;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    struct http_server *srv = cls;
    struct request *req = *con_cls;
    if (!req)
        return MHD_NO;
    if (!req->method) {     /* headers are in: first call */
        req->method = method;
        req->conn = conn;
        set_request_id(req);
        if (strcmp(method, "POST") == 0)
            return MHD_YES;     /* collect the body first */
    }
    if (*upload_size) {
        if (req->body.len + *upload_size > (size_t)srv->ctx.env->cfg->http_body_max)
            req->body_too_big = true;
        else
            strbuf_add(&req->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    struct reply rep = { .body = STRBUF_INIT };
    const struct route *r;
    dispatch(srv, req, &rep, &r);
    enum MHD_Result ok = queue(srv, req, &rep, r);
    strbuf_release(&rep.body);
    free(rep.link);
    return ok;
}

/* Called by MHD with the raw request target before anything else. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct http_server *srv = cls;
    struct request *req = calloc(1, sizeof *req);
    if (!req || !(req->uri = strdup(uri))) {
        free(req);
        return NULL;
    }
    clock_gettime(CLOCK_MONOTONIC, &req->start);
    char *q = strchr(req->uri, '?');
    req->path_len = q ? (size_t)(q - req->uri) : strlen(req->uri);
    req->query = q ? q + 1 : "";
    atomic_fetch_add(&srv->inflight, 1);
    return req;
}

static void access_log(const struct request *req, double secs)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const char *ua = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "User-Agent");
    char ip[INET6_ADDRSTRLEN] = "";
    if (ci && ci->client_addr)
        getnameinfo(ci->client_addr, ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                    : sizeof(struct sockaddr_in), ip, sizeof ip, NULL, 0, NI_NUMERICHOST);
    struct strbuf sb = STRBUF_INIT;
    strbuf_adds(&sb, "{\"requestMethod\":\"");
    strbuf_add_json_str(&sb, req->method, strlen(req->method));
    strbuf_adds(&sb, "\",\"requestUrl\":\"");
    strbuf_add_json_str(&sb, req->uri, strnlen(req->uri, 512));
    strbuf_addf(&sb, "\",\"status\":%u,\"latency\":\"%.6fs\",\"remoteIp\":\"%s\",\"userAgent\":\"",
                req->status, secs, ip);
    if (ua)
        strbuf_add_json_str(&sb, ua, strnlen(ua, 256));
    strbuf_adds(&sb, "\"}");
    /* with a W3C traceparent and a known project, Cloud Logging links the line to its trace */
    char trace[160] = "";
    const char *tp = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "traceparent");
    const char *project = getenv("GOOGLE_CLOUD_PROJECT");
    if (tp && project && *project && strlen(tp) >= 55 &&
        strncmp(tp + 3, req->request_id, 32) == 0)
        snprintf(trace, sizeof trace, "projects/%.64s/traces/%s", project, req->request_id);
    if (!sb.failed)
        log_fields(LOG_INFO, "http", "request", "#httpRequest", sb.buf, "requestId", req->request_id,
                   *trace ? "logging.googleapis.com/trace" : NULL, trace, NULL);
    strbuf_release(&sb);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_server *srv = cls;
    struct request *req = *con_cls;
    if (!req)
        return;
    if (req->method) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        double secs = (double)(now.tv_sec - req->start.tv_sec) + (double)(now.tv_nsec - req->start.tv_nsec) / 1e9;
        metrics_http(req->route, req->method, req->status, secs);
        if (log_min_level <= LOG_INFO)
            access_log(req, secs);
    }
    strbuf_release(&req->body);
    free(req->uri);
    free(req);
    *con_cls = NULL;
    atomic_fetch_sub(&srv->inflight, 1);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    log_msg(LOG_WARN, "libmicrohttpd", "%s", msg);
}

int http_start(const struct http_env *env, struct http_server **out)
{
    const struct config *cfg = env->cfg;
    struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_PASSIVE, .ai_socktype = SOCK_STREAM }, *ai;
    char port[8];
    *out = NULL;
    snprintf(port, sizeof port, "%d", cfg->listen_port);
    if (getaddrinfo(cfg->listen_host, port, &hints, &ai) != 0) {
        log_error("COLIBRI_LISTEN: '%s' is not a numeric IPv4 or IPv6 address", cfg->listen_host);
        return COLIBRI_ECONFIG;
    }
    struct http_server *srv = calloc(1, sizeof *srv);
    if (!srv) {
        freeaddrinfo(ai);
        return COLIBRI_ENOMEM;
    }
    srv->ctx.env = env;
    char err[256];
    if (access_init(cfg, &srv->access, err, sizeof err)) {
        log_error("%s", err);
        freeaddrinfo(ai);
        free(srv);
        return COLIBRI_ECONFIG;
    }
    srv->ctx.openapi = openapi_build(env->schema);
    srv->ctx.openapi_len = srv->ctx.openapi ? strlen(srv->ctx.openapi) : 0;
    long threads = cfg->http_threads ? cfg->http_threads : sysconf(_SC_NPROCESSORS_ONLN);
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG
                   | (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    srv->d = MHD_start_daemon(flags, (uint16_t)cfg->listen_port, NULL, NULL, on_request, srv,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
        MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(threads > 0 ? threads : 1),
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->http_max_conns,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->http_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY_LIMIT,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!srv->d || !srv->ctx.openapi) {
        log_error("cannot listen on %s:%d (in use, or not an address of this machine?)",
                  cfg->listen_host, cfg->listen_port);
        http_stop(srv, 0);
        return COLIBRI_EUNAVAIL;
    }
    log_info("listening on %s:%d with %ld threads", cfg->listen_host, cfg->listen_port, threads);
    *out = srv;
    return 0;
}

void http_stop(struct http_server *srv, int grace_ms)
{
    if (!srv)
        return;
    if (srv->d) {
        MHD_socket s = MHD_quiesce_daemon(srv->d);
        if (s != MHD_INVALID_SOCKET)
            close(s);
        /* a request whose bytes are in but not yet parsed is not counted: let those land */
        usleep(100 * 1000);
        for (int waited = 100; atomic_load(&srv->inflight) > 0 && waited < grace_ms; waited += 10)
            usleep(10 * 1000);
        MHD_stop_daemon(srv->d);
    }
    free(srv->ctx.openapi);
    access_free(srv->access);
    free(srv);
}
