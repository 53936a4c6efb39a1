/*
 * server.c — the libmicrohttpd daemon, the routing table and the JSON error
 * envelope.
 *
 * A pool of threads, each with its own epoll loop, runs every request to
 * completion (handlers are short: one store query). This file is the only
 * place where an error code becomes an HTTP status.
 *
 * A request is decided from its head alone (route, method, size, auth, rate)
 * before any body byte is kept: a refused request that announces a body is
 * answered at once (no 100 Continue; the body is never read), one without a
 * body is answered on the usual last call, which keeps the connection alive.
 * edge.c bounds how long a head or body may take and who gets a connection
 * when the server is full. Shutdown quiesces the listener, cuts connections
 * with no request in progress, waits for those in progress and then stops
 * the daemon.
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

#include "colibri/clock.h"
#include "colibri/error.h"
#include "colibri/log.h"
#include "http/edge.h"
#include "http/http_int.h"

#define QUERY_STRING_MAX 16384
/*
 * Each connection's buffer for the request head (libmicrohttpd's pool). A
 * query string up to QUERY_STRING_MAX is served, one up to about this size
 * gets our JSON 414, a longer head libmicrohttpd's own 414/431. 32 KiB, not
 * more: libmicrohttpd zeroes the whole pool after every request and every
 * open connection keeps it resident (256 connections × 160 KiB were 40 MiB).
 */
#define CONN_MEMORY_LIMIT (32 * 1024)
#define PROBE_RESERVE 32                 /* connections above the limit, for /healthz and /readyz */

struct http_server {
    struct MHD_Daemon *d;
    struct route_ctx ctx;
    struct access *access;
    struct edge *edge;
};

enum { M_GET = 1, M_POST = 2 };

static const struct route {
    const char *path;
    bool prefix;            /* path is a prefix ("/data/" + id) */
    unsigned methods;
    const char *allow;      /* the Allow header for 405 */
    route_fn fn;
    enum metric_route label;
    route_fn admit;         /* optional: more checks on the head alone, before any body byte */
    bool probe;             /* served on reserve connections; never rate-limited */
} routes[] = {
    { "/data",         false, M_GET, "GET, HEAD", route_data,    ROUTE_DATA,    NULL, false },
    { "/data/",        true,  M_GET, "GET, HEAD", route_data_id, ROUTE_DATA_ID, NULL, false },
    { "/healthz",      false, M_GET, "GET, HEAD", route_healthz, ROUTE_HEALTHZ, NULL, true },
    { "/readyz",       false, M_GET, "GET, HEAD", route_readyz,  ROUTE_READYZ,  NULL, true },
    { "/metrics",      false, M_GET, "GET, HEAD", route_metrics, ROUTE_METRICS, NULL, false },
    { "/openapi.json", false, M_GET, "GET, HEAD", route_openapi, ROUTE_OPENAPI, NULL, false },
    { "/pubsub/push",  false, M_POST, "POST",     route_pubsub_push, ROUTE_PUSH, admit_pubsub_push, false },
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
    /* A body this large may go gzip'd: whether it did depends on Accept-Encoding (Vary). */
    bool varies = len >= GZIP_MIN_BYTES, gzipped = false;
    if (varies && gzip_accepted(MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                                            "Accept-Encoding"))) {
        char *z;
        size_t zlen;
        if (gzip_body(body, len, &z, &zlen) == 0) {
            free(body);
            body = z;
            len = zlen;
            gzipped = true;
        }   /* else: send it as it is, still a correct answer */
    }
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
    if (gzipped)
        MHD_add_response_header(resp, "Content-Encoding", "gzip");
    if (rep->link)
        MHD_add_response_header(resp, "Link", rep->link);
    if (rep->close)
        MHD_add_response_header(resp, "Connection", "close");
    if (rep->status == 401)
        MHD_add_response_header(resp, "WWW-Authenticate", rep->challenge ? rep->challenge : "Bearer realm=\"colibri\"");
    if (rep->status == 405 && r)
        MHD_add_response_header(resp, "Allow", r->allow);
    if (rep->status == 503 || rep->status == 429) {
        char secs[16];
        snprintf(secs, sizeof secs, "%d", rep->retry_after > 0 ? rep->retry_after : 1);
        MHD_add_response_header(resp, "Retry-After", secs);
    }
    const char *origin = access_cors_origin(srv->access, req->conn);
    if (varies && !origin)
        MHD_add_response_header(resp, "Vary", "Accept-Encoding");
    if (origin) {
        MHD_add_response_header(resp, "Access-Control-Allow-Origin", origin);
        MHD_add_response_header(resp, "Vary", varies ? "Origin, Accept-Encoding" : "Origin");
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

/* Whether the head announces a body (a length above 0, or chunks). */
static bool announces_body(struct MHD_Connection *c)
{
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding") ||
           (cl && strspn(cl, "0") != strlen(cl));
}

/*
 * Decide from the head alone: route, method, connection reserve, size, auth,
 * rate. 0 lets the request in; otherwise a COLIBRI_E* code after reply_fail.
 */
static int admit(const struct http_server *srv, struct request *req)
{
    const struct route_ctx *ctx = &srv->ctx;
    struct reply *rep = &req->rep;
    bool method_ok;
    const struct route *r = find_route(req, &method_ok);
    int rc;
    req->r = r;
    req->route = r ? r->label : ROUTE_OTHER;
    if (r && strcmp(req->method, "OPTIONS") == 0 && access_cors_origin(srv->access, req->conn)) {
        rep->status = 204;      /* a CORS preflight */
        return 0;
    }
    if (strlen(req->query) > QUERY_STRING_MAX)
        return reply_fail(rep, COLIBRI_ETOOLONG, NULL, "query string longer than %d bytes", QUERY_STRING_MAX);
    if (!r)
        return reply_fail(rep, COLIBRI_ENOTFOUND, NULL, "no such route; see /openapi.json");
    if (!method_ok)
        return reply_fail(rep, COLIBRI_EMETHOD, NULL, "method %s not allowed; allowed: %s", req->method, r->allow);
    if (!r->probe && edge_reserved(srv->edge, req->edge)) {
        rep->close = true;
        return reply_fail(rep, COLIBRI_EUNAVAIL, "busy", "the server is at its connection limit; retry shortly");
    }
    if (r->admit && (rc = r->admit(ctx, req, rep)))
        return rc;
    const char *cl = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Content-Length");
    long long len = cl ? strtoll(cl, NULL, 10) : 0;
    if (r->methods == M_GET && announces_body(req->conn))
        return reply_fail(rep, COLIBRI_ETOOBIG, NULL, "%s %.*s takes no request body", req->method,
                          (int)req->path_len, req->uri);
    if (len < 0 || len > ctx->env->cfg->http_body_max)
        return reply_fail(rep, COLIBRI_ETOOBIG, NULL, "request body larger than %ld bytes",
                          ctx->env->cfg->http_body_max);
    if ((rc = access_authorize(srv->access, req, r->label, rep)))
        return rc;
    /* probes are never limited, nor is Pub/Sub push: OIDC guards it and Pub/Sub paces itself */
    if (!r->probe && r->label != ROUTE_PUSH)
        return access_limit(srv->access, req, rep);
    return 0;
}

/* Answer req: its early refusal, or what its route makes of it. */
static enum MHD_Result respond(const struct http_server *srv, struct request *req)
{
    struct reply *rep = &req->rep;
    int rc = req->refused;
    if (!rc && !rep->status)
        rc = req->r->fn(&srv->ctx, req, rep);
    if (rc)
        render_error(rep, rc);
    else if (!rep->status)
        rep->status = 200;
    return queue(srv, req, rep, req->r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    struct http_server *srv = cls;
    struct request *req = *con_cls;
    if (!req)
        return MHD_NO;
    if (!req->method) {     /* the head is in: first call */
        req->method = method;
        req->conn = conn;
        set_request_id(req);
        edge_phase(srv->edge, req->edge, EDGE_BODY);
        req->refused = admit(srv, req);
        /* refused with a body on its way: answer now, so that not a byte of it is read */
        if (req->refused && announces_body(conn))
            return respond(srv, req);
        return MHD_YES;
    }
    if (*upload_size) {
        if (!req->refused && req->body.len + *upload_size > (size_t)srv->ctx.env->cfg->http_body_max)
            req->refused = reply_fail(&req->rep, COLIBRI_ETOOBIG, NULL, "request body larger than %ld bytes",
                                      srv->ctx.env->cfg->http_body_max);
        if (!req->refused)
            strbuf_add(&req->body, upload, *upload_size);
        *upload_size = 0;   /* what a refused request still sends is dropped as it comes */
        return MHD_YES;
    }
    edge_phase(srv->edge, req->edge, EDGE_BUSY);
    return respond(srv, req);
}

/* The edge entry of conn, given at accept (on_connection). */
static struct edge_conn *edge_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct http_server *srv = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = edge_opened(srv->edge, conn, ci ? ci->connect_fd : -1);
    } else {
        edge_closed(srv->edge, *socket_context);
        *socket_context = NULL;
    }
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
    req->rep.body = (struct strbuf)STRBUF_INIT;
    req->edge = edge_of(conn);
    edge_phase(srv->edge, req->edge, EDGE_HEAD);
    return req;
}

static void access_log(enum log_level level, const struct request *req, double secs, const char *project)
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
    if (tp && project && *project && strlen(tp) >= 55 &&
        strncmp(tp + 3, req->request_id, 32) == 0)
        snprintf(trace, sizeof trace, "projects/%.64s/traces/%s", project, req->request_id);
    if (!sb.failed)
        log_fields(level, "http", "request", "#httpRequest", sb.buf, "requestId", req->request_id,
                   *trace ? "logging.googleapis.com/trace" : (const char *)NULL, trace, (const char *)NULL);
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
        /*
         * Probes and scrapes come every few seconds and say nothing new: debug. A 503 of /readyz
         * is routine too (while starting; the store and subscriber log their own faults), a
         * refused scrape is not.
         */
        bool routine = req->route == ROUTE_HEALTHZ || req->route == ROUTE_READYZ ||
                       (req->route == ROUTE_METRICS && req->status < 400);
        enum log_level level = routine ? LOG_DEBUG : LOG_INFO;
        if (log_min_level <= level)
            access_log(level, req, secs, srv->ctx.env->cfg->google_cloud_project);
    }
    edge_phase(srv->edge, req->edge, EDGE_IDLE);    /* keep-alive: waiting for the next request */
    strbuf_release(&req->body);
    strbuf_release(&req->rep.body);
    free(req->rep.link);
    free(req->uri);
    free(req);
    *con_cls = NULL;
}

static atomic_bool serving;     /* libmicrohttpd's start is over */

/*
 * While starting, what libmicrohttpd says (a port in use) is a warning. Once
 * serving it speaks of single connections ("closed by remote side with
 * incomplete request"), which any client can cause at will: debug, so that
 * nobody can flood the log; colibri_http_connections_cut_total counts them.
 */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    log_msg(atomic_load(&serving) ? LOG_DEBUG : LOG_WARN, "libmicrohttpd", "%s", msg);
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
    srv->ctx.openapi = openapi_build(env->schema, cfg);
    srv->ctx.openapi_len = srv->ctx.openapi ? strlen(srv->ctx.openapi) : 0;
    long threads = cfg->http_threads ? cfg->http_threads : sysconf(_SC_NPROCESSORS_ONLN);
    struct edge_limits lim = {
        .limit = (size_t)cfg->http_max_conns, .reserve = PROBE_RESERVE,
        .idle_ms = cfg->http_timeout_s * 1000, .head_ms = cfg->http_head_timeout_ms,
        .body_ms = cfg->http_body_timeout_ms,
    };
    if (edge_new(&lim, &srv->edge)) {
        freeaddrinfo(ai);
        http_stop(srv, 0);
        return COLIBRI_ENOMEM;
    }
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG
                   | (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    srv->d = MHD_start_daemon(flags, (uint16_t)cfg->listen_port, NULL, NULL, on_request, srv,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
        MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(threads > 0 ? threads : 1),
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)(cfg->http_max_conns + PROBE_RESERVE),
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->http_max_conns_per_client,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->http_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY_LIMIT,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
        MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!srv->d || !srv->ctx.openapi) {
        log_error("cannot listen on %s:%d (in use, or not an address of this machine?)",
                  cfg->listen_host, cfg->listen_port);
        http_stop(srv, 0);
        return COLIBRI_EUNAVAIL;
    }
    atomic_store(&serving, true);
    log_info("listening on %s:%d with %ld threads", cfg->listen_host, cfg->listen_port, threads);
    *out = srv;
    return 0;
}

int http_stop(struct http_server *srv, int grace_ms)
{
    if (!srv)
        return 0;
    if (srv->d) {
        MHD_socket s = MHD_quiesce_daemon(srv->d);
        if (s != MHD_INVALID_SOCKET)
            close(s);
        /* bytes already in are parsed within a loop turn; then only requests in progress count */
        clock_sleep_ms(50);
        size_t cut = edge_cut_waiting(srv->edge);
        int waited = 50;
        for (; edge_active(srv->edge) > 0 && waited < grace_ms; waited += 10)
            clock_sleep_ms(10);
        log_debug("HTTP stopping: %zu idle or half-sent connections cut", cut);
        size_t left = edge_active(srv->edge);
        if (left > 0) {
            /* stopping the daemon would wait for them as long as they take */
            log_warn("stopping with %zu requests still in progress after %d ms; they are abandoned", left, waited);
            return COLIBRI_ETIMEOUT;
        }
        MHD_stop_daemon(srv->d);
    }
    edge_free(srv->edge);
    free(srv->ctx.openapi);
    access_free(srv->access);
    free(srv);
    return 0;
}
