/*
 * health.c — /healthz (the process answers), /readyz (the store answers)
 * and /openapi.json (built once from the schema at start).
 */
#include <string.h>

#include "colibri/error.h"
#include "http/http_int.h"

int route_healthz(const struct route_ctx *ctx, struct request *req, struct reply *rep)
{
    strbuf_adds(&rep->body, "{\"status\":\"ok\"}\n");
    return 0;
}

int route_readyz(const struct route_ctx *ctx, struct request *req, struct reply *rep)
{
    int rc = store_ping(ctx->env->store);
    if (rc)
        return reply_fail(rep, COLIBRI_EUNAVAIL, "not_ready", "store %s: %s",
                          store_name(ctx->env->store), colibri_strerror(rc));
    strbuf_adds(&rep->body, "{\"status\":\"ready\",\"store\":\"");
    strbuf_adds(&rep->body, store_name(ctx->env->store));
    strbuf_adds(&rep->body, "\"}\n");
    return 0;
}

int route_openapi(const struct route_ctx *ctx, struct request *req, struct reply *rep)
{
    strbuf_add(&rep->body, ctx->openapi, ctx->openapi_len);
    return 0;
}
