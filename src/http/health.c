/*
 * health.c — the operator's routes: /healthz (the process answers), /readyz
 * (the store answers and the subscriber has its share), /metrics, and
 * /openapi.json (built once from the schema at start).
 */
#include <stdio.h>
#include <string.h>

#include "colibri/error.h"
#include "colibri/subscriber.h"
#include "http/http_int.h"

int route_healthz(const struct route_ctx *ctx, struct request *req, struct reply *rep)
{
    strbuf_adds(&rep->body, "{\"status\":\"ok\"}\n");
    return 0;
}

/* Empty when ready; otherwise why not. */
static bool ready(const struct http_env *env, char *why, size_t whylen)
{
    int rc = store_ping(env->store);
    if (rc) {
        snprintf(why, whylen, "store %s: %s", store_name(env->store), colibri_strerror(rc));
        return false;
    }
    return !env->subscriber || subscriber_ready(env->subscriber, why, whylen);
}

int route_readyz(const struct route_ctx *ctx, struct request *req, struct reply *rep)
{
    const struct http_env *env = ctx->env;
    char why[256] = "";
    if (!ready(env, why, sizeof why))
        return reply_fail(rep, COLIBRI_EUNAVAIL, "not_ready", "%s", why);
    strbuf_adds(&rep->body, "{\"status\":\"ready\",\"store\":\"");
    strbuf_adds(&rep->body, store_name(env->store));
    strbuf_adds(&rep->body, env->subscriber ? "\",\"subscriber\":\"assigned\"}\n" : "\"}\n");
    return 0;
}

int route_metrics(const struct route_ctx *ctx, struct request *req, struct reply *rep)
{
    const struct http_env *env = ctx->env;
    char why[256];
    if (strcmp(env->cfg->metrics, "off") == 0)
        return reply_fail(rep, COLIBRI_ENOTFOUND, NULL, "metrics are off (COLIBRI_METRICS)");
    struct metrics_probe probe = {
        .ready = ready(env, why, sizeof why),
        .subscribed = env->subscriber != NULL,
        .assigned = env->subscriber && subscriber_ready(env->subscriber, why, sizeof why),
    };
    metrics_render(&rep->body, &probe);
    rep->content_type = "text/plain; version=0.0.4; charset=utf-8";
    return 0;
}

int route_openapi(const struct route_ctx *ctx, struct request *req, struct reply *rep)
{
    strbuf_add(&rep->body, ctx->openapi, ctx->openapi_len);
    return 0;
}
