/*
 * openapi.c — the OpenAPI 3 document, generated at start from the schema and
 * the configuration, so that it describes this very server: every column is
 * a typed property of a row and a typed filter parameter of GET /data; the
 * routes, statuses and security schemes are those this configuration serves
 * (no /pubsub/push when COLIBRI_PUSH is off, keys only when keys are set).
 *
 * Every constraint a parameter has here is one query.c enforces, and every
 * value query.c accepts is valid here: tests/integration/test_contract.py
 * runs schemathesis (all checks, positive and negative data) against it.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colibri/config.h"
#include "colibri/query.h"
#include "colibri/version.h"
#include "http/http_int.h"

/* RFC 3339 with at most 6 fractional digits (query.c refuses finer bounds). */
#define TS_PATTERN "^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,6})?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
#define DATE_PATTERN "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
#define NO_NUL "^[^\\u0000]*$"          /* %00 is refused in a query string */
#define DATETIME_PATTERN "^(000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,6})?$"
#define TIME_PATTERN "^([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,6})?$"
#define DECIMAL_PATTERN "^-?(0|[1-9][0-9]*)(\\.[0-9]*[1-9])?$"   /* as rows write them */
#define BASE64_PATTERN "^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
#define ITEM "^[^,\\u0000]+$"           /* an `in` list is split on every comma */

/* The schema of one value of type t, as a filter takes it or a row shows it. */
static json_t *type_schema(enum col_type t, bool in_query)
{
    switch (t) {
    case COL_INT64:
        return json_pack("{s:s,s:s,s:I,s:I}", "type", "integer", "format", "int64",
                         "minimum", (json_int_t)INT64_MIN, "maximum", (json_int_t)INT64_MAX);
    case COL_FLOAT64:
        return json_pack("{s:s,s:s,s:f,s:f}", "type", "number", "format", "double",
                         "minimum", -1.7976931348623157e308, "maximum", 1.7976931348623157e308);
    case COL_BOOL:
        return json_pack("{s:s}", "type", "boolean");
    case COL_TIMESTAMP:
        return in_query ? json_pack("{s:s,s:s,s:s}", "type", "string", "format", "date-time", "pattern", TS_PATTERN)
                        : json_pack("{s:s,s:s}", "type", "string", "format", "date-time");
    case COL_DATE:
        return in_query ? json_pack("{s:s,s:s,s:s}", "type", "string", "format", "date", "pattern", DATE_PATTERN)
                        : json_pack("{s:s,s:s}", "type", "string", "format", "date");
    case COL_NUMERIC:
    case COL_BIGNUMERIC:    /* a string: JSON numbers would lose digits */
        return json_pack("{s:s,s:s,s:s}", "type", "string", "format", "decimal", "pattern",
                         !in_query ? DECIMAL_PATTERN : t == COL_NUMERIC ? NUMERIC_FILTER_PATTERN
                                                                       : BIGNUMERIC_FILTER_PATTERN);
    case COL_BYTES:
        return json_pack("{s:s,s:s,s:s}", "type", "string", "format", "byte", "pattern",
                         BASE64_PATTERN);
    case COL_DATETIME:
        return json_pack("{s:s,s:s}", "type", "string", "pattern", DATETIME_PATTERN);
    case COL_TIME:
        return json_pack("{s:s,s:s}", "type", "string", "pattern", TIME_PATTERN);
    case COL_JSON:
        return json_pack("{s:s,s:s}", "type", "string", "description", "a JSON text");
    case COL_GEOGRAPHY:
        return json_pack("{s:s,s:s}", "type", "string", "description", "WKT, e.g. POINT(-70.6 -33.4)");
    case COL_STRING:
    default:
        return in_query ? json_pack("{s:s,s:s}", "type", "string", "pattern", NO_NUL)
                        : json_pack("{s:s}", "type", "string");
    }
}

/* A cell of c as a row shows it: records as objects, REPEATED as arrays, at any depth. */
static json_t *column_schema(const struct column *c, bool element)
{
    json_t *t;
    if (c->repeated && !element)
        return json_pack("{s:s,s:o}", "type", "array", "items", column_schema(c, true));
    if (c->elem != COL_RECORD)
        t = type_schema(c->elem, false);
    else {
        json_t *props = json_object(), *all = json_array();
        for (size_t i = 0; i < c->nfields; i++) {
            json_t *f = column_schema(&c->fields[i], false);
            if (c->fields[i].description && *c->fields[i].description)
                json_object_set_new(f, "description", json_string(c->fields[i].description));
            if (!c->fields[i].required && !c->fields[i].repeated)
                json_object_set_new(f, "nullable", json_true());
            json_object_set_new(props, c->fields[i].name, f);
            json_array_append_new(all, json_string(c->fields[i].name));
        }
        t = json_pack("{s:s,s:o,s:o,s:b}", "type", "object", "properties", props, "required", all,
                      "additionalProperties", 0);
    }
    return t;
}

static json_t *param(const char *name, const char *desc, json_t *schema)
{
    return json_pack("{s:s,s:s,s:b,s:s,s:o}", "name", name, "in", "query", "required", 0,
                     "description", desc, "schema", schema);
}

/* A comma list (style form, explode false): fields=a,b and col__in=x,y. */
static json_t *list_param(const char *name, const char *desc, json_t *items, size_t max)
{
    json_t *p = param(name, desc, json_pack("{s:s,s:o,s:i,s:I}", "type", "array", "items", items,
                                            "minItems", 1, "maxItems", (json_int_t)max));
    json_object_set_new(p, "style", json_string("form"));
    json_object_set_new(p, "explode", json_false());
    return p;
}

static json_t *ref(const char *what)
{
    char path[128];
    snprintf(path, sizeof path, "#/components/%s", what);
    return json_pack("{s:s}", "$ref", path);
}

/* The filters on leaf (a column, or a field named dotted inside the column's records). */
static void add_leaf_filters(json_t *params, const struct column *leaf, const char *dotted)
{
    static const struct { enum filter_op op; const char *suffix, *what; } ops[] = {
        { OP_EQ, "", "equals" }, { OP_NE, "__ne", "differs from (NULL matches neither = nor ne)" },
        { OP_GT, "__gt", "greater than" }, { OP_GTE, "__gte", "at least" },
        { OP_LT, "__lt", "less than" }, { OP_LTE, "__lte", "at most" },
        { OP_IN, "__in", "is one of (comma-separated; a STRING item cannot hold a comma)" },
        { OP_PREFIX, "__prefix", "starts with" },
        { OP_ISNULL, "__isnull", "is null (true) or not (false)" },
        { OP_CONTAINS, "__contains", "(an array) has an element equal to" },
    };
    char name[400], desc[700];
    enum col_type t = leaf->elem;

    for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
        if (!query_op_applies(leaf, ops[o].op))
            continue;
        snprintf(name, sizeof name, "%s%s", dotted, ops[o].suffix);
        snprintf(desc, sizeof desc, "%s %s the value (%s)", dotted, ops[o].what, col_type_name(t));
        if (ops[o].op == OP_IN) {
            json_t *item = type_schema(t, true);
            if (t == COL_STRING)
                json_object_set_new(item, "pattern", json_string(ITEM));
            json_object_set_new(item, "minLength", json_integer(1));    /* an empty item is no value */
            json_array_append_new(params, list_param(name, desc, item, QUERY_MAX_IN));
        } else if (ops[o].op == OP_ISNULL) {
            json_array_append_new(params, param(name, desc, json_pack("{s:s,s:[s,s]}", "type", "string",
                                                                      "enum", "true", "false")));
        } else {
            json_array_append_new(params, param(name, desc, type_schema(t, true)));
        }
    }
    for (size_t i = 0; leaf->elem == COL_RECORD && !leaf->repeated && i < leaf->nfields; i++) {
        snprintf(name, sizeof name, "%s.%s", dotted, leaf->fields[i].name);
        add_leaf_filters(params, &leaf->fields[i], name);
    }
}

static void add_filters(json_t *params, const struct schema *s)
{
    for (size_t c = 0; c < s->ncols; c++)
        add_leaf_filters(params, &s->cols[c], s->cols[c].name);
}

/* fields= names: every column, and every field inside records (dotted). */
static void add_field_names(json_t *names, const struct column *c, const char *dotted)
{
    char name[400];
    json_array_append_new(names, json_string(dotted));
    for (size_t i = 0; c->elem == COL_RECORD && i < c->nfields; i++) {
        snprintf(name, sizeof name, "%s.%s", dotted, c->fields[i].name);
        add_field_names(names, &c->fields[i], name);
    }
}

/* Row: every column, as GET /data/{id} answers. PartialRow: those fields= keeps. */
static void add_rows(json_t *schemas, const struct schema *s)
{
    json_t *props = json_object(), *all = json_array();
    for (size_t c = 0; c < s->ncols; c++) {
        const struct column *col = &s->cols[c];
        json_t *t = column_schema(col, false);
        json_object_set_new(t, "description", json_string(col->description ? col->description : ""));
        if (!col->required && !col->repeated)
            json_object_set_new(t, "nullable", json_true());
        json_object_set_new(props, col->name, t);
        json_array_append_new(all, json_string(col->name));
    }
    json_object_set_new(schemas, "Row", json_pack("{s:s,s:s,s:O,s:o,s:b}", "type", "object",
        "description", "A row: every column, null where a NULLABLE column has no value",
        "properties", props, "required", all, "additionalProperties", 0));
    json_object_set_new(schemas, "PartialRow", json_pack("{s:s,s:s,s:o,s:b}", "type", "object",
        "description", "A row of GET /data: the columns fields= names (all when not given), in that order",
        "properties", props, "additionalProperties", 0));
}

/* components.responses: the error envelope under each status it comes with. */
static json_t *error_responses(void)
{
    static const struct { const char *name, *desc, *header; } errs[] = {
        { "BadRequest", "A parameter or the body is not valid; the message names it", NULL },
        { "Unauthorized", "No key, or not a valid one", "WWW-Authenticate" },
        { "NotFound", "No such row or route", NULL },
        { "PayloadTooLarge", "A GET with a body, or a body over COLIBRI_HTTP_BODY_MAX", NULL },
        { "UriTooLong", "A query string over 16 KiB", NULL },
        { "TooManyRequests", "Over COLIBRI_RATE_LIMIT for this key or address", "Retry-After" },
        { "Internal", "A fault of the server", NULL },
        { "Unavailable", "The store cannot answer, a query ran over COLIBRI_QUERY_TIMEOUT_MS, or the server is at its connection limit", "Retry-After" },
    };
    json_t *out = json_object();
    for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
        json_t *r = json_pack("{s:s,s:{s:{s:o}}}", "description", errs[i].desc, "content",
                              "application/json", "schema", ref("schemas/Error"));
        if (errs[i].header)
            json_object_set_new(r, "headers", json_pack("{s:{s:b,s:{s:s}}}", errs[i].header, "required", 1,
                "schema", "type", strcmp(errs[i].header, "Retry-After") ? "string" : "integer"));
        json_object_set_new(out, errs[i].name, r);
    }
    /* libmicrohttpd answers these itself, in HTML, before colibri sees the request */
    json_object_set_new(out, "HeaderTooLarge", json_pack("{s:s,s:{s:{s:{s:s}}}}",
        "description", "A request head over 160 KiB (answered by libmicrohttpd, as HTML)",
        "content", "text/html", "schema", "type", "string"));
    return out;
}

/* responses for one operation: ok (owned) plus the named errors, NULL-terminated. */
static json_t *responses(const char *ok_status, json_t *ok, ...)
{
    static const struct { const char *status, *name; } map[] = {
        { "400", "BadRequest" }, { "401", "Unauthorized" }, { "404", "NotFound" },
        { "413", "PayloadTooLarge" }, { "414", "UriTooLong" }, { "429", "TooManyRequests" },
        { "431", "HeaderTooLarge" }, { "500", "Internal" }, { "503", "Unavailable" },
    };
    json_t *r = json_object();
    json_object_set_new(r, ok_status, ok);
    va_list ap;
    va_start(ap, ok);
    for (const char *st; (st = va_arg(ap, const char *)) != NULL;) {
        for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
            if (strcmp(map[i].status, st) == 0) {
                char what[64];
                snprintf(what, sizeof what, "responses/%s", map[i].name);
                json_object_set_new(r, st, ref(what));
            }
        }
    }
    va_end(ap);
    return r;
}

static json_t *json_ok(const char *desc, json_t *schema)
{
    return json_pack("{s:s,s:{s:{s:o}}}", "description", desc, "content", "application/json", "schema", schema);
}

static json_t *get_op(const char *summary, json_t *resp)
{
    return json_pack("{s:{s:s,s:o}}", "get", "summary", summary, "responses", resp);
}

static json_t *data_params(const struct schema *s)
{
    json_t *names = json_array();
    bool records = false;
    for (size_t c = 0; c < s->ncols; c++) {
        add_field_names(names, &s->cols[c], s->cols[c].name);
        records |= s->cols[c].elem == COL_RECORD;
    }
    json_t *fields = list_param("fields", records ? "the columns to return, in this order (all "
                                "when not given); a dotted name (record.field) returns only that "
                                "part of a RECORD column" : "the columns to return, in this order "
                                "(all when not given)",
                                json_pack("{s:s,s:o}", "type", "string", "enum", names),
                                json_array_size(names));
    json_object_set_new(json_object_get(fields, "schema"), "uniqueItems", json_true());
    json_t *params = json_pack("[o,o,o,o,o,o,o]",
        param("limit", "rows per page", json_pack("{s:s,s:i,s:i,s:i}", "type", "integer",
              "minimum", 1, "maximum", QUERY_LIMIT_MAX, "default", QUERY_LIMIT_DEFAULT)),
        param("cursor", "next_cursor of the previous page: opaque and signed, valid only with the "
              "same order, since, until and filters (anything else is a 400)",
              json_pack("{s:s,s:s,s:i,s:i}", "type", "string", "pattern", "^[A-Za-z0-9_-]+$",
                        "minLength", 1, "maxLength", CURSOR_MAX - 1)),
        param("order", "by event time, then _id", json_pack("{s:s,s:[s,s],s:s}", "type", "string",
              "enum", "desc", "asc", "default", "desc")),
        param("since", "event time at or after (RFC 3339, at most 6 fractional digits)", type_schema(COL_TIMESTAMP, true)),
        param("until", "event time before (RFC 3339, at most 6 fractional digits); until before since "
              "is an empty window", type_schema(COL_TIMESTAMP, true)),
        fields,
        param("format", "json: a page object; ndjson: one row a line; csv: a header line, then one "
              "row a line (NULL is an empty field, the empty string is \"\"; a value starting with "
              "= + - @ or a tab or carriage return gets a leading ')",
              json_pack("{s:s,s:[s,s,s],s:s}", "type", "string", "enum", "json", "ndjson", "csv",
                        "default", "json")));
    add_filters(params, s);
    return params;
}

static json_t *push_path(const struct config *cfg)
{
    json_t *msg = json_pack(
        "{s:s,s:[s],s:{s:{s:s,s:s},s:{s:s,s:{s:s}},s:{s:s,s:i},s:{s:s,s:s},s:{s:s}}}",
        "type", "object", "required", "messageId", "properties",
        "data", "type", "string", "description", "the payload, base64; one that is not base64 or "
                "not a row of the schema is kept as a dead letter (204)",
        "attributes", "type", "object", "additionalProperties", "type", "string",
        "messageId", "type", "string", "minLength", 1,
        "publishTime", "type", "string", "description", "RFC 3339 (Pub/Sub writes nanoseconds); "
                       "_published_at is NULL when it is not",
        "orderingKey", "type", "string");
    json_t *env = json_pack("{s:s,s:s,s:[s],s:{s:o,s:{s:s}}}", "type", "object",
        "description", "Pub/Sub's push envelope; other members are ignored", "required", "message",
        "properties", "message", msg, "subscription", "type", "string");
    json_t *op = json_pack("{s:s,s:s,s:{s:b,s:{s:{s:o}}},s:o}",
        "summary", "Pub/Sub push endpoint: one envelope, stored or dead-lettered",
        "description", "Answered once the message is stored: Pub/Sub takes the 204 as its "
        "acknowledgement and redelivers on 503.",
        "requestBody", "required", 1, "content", "application/json", "schema", env,
        "responses", responses("204", json_pack("{s:s}", "description", "Stored, already stored, or dead-lettered"),
                               "400", *cfg->push_audience ? "401" : "", "413", "414", "431", "500", "503", (const char *)NULL));
    if (*cfg->push_audience)
        json_object_set_new(op, "security", json_pack("[{s:[]}]", "pushToken"));
    return json_pack("{s:o}", "post", op);
}

char *openapi_build(const struct schema *s, const struct config *cfg)
{
    bool keys = *cfg->api_keys != '\0';
    bool metrics_on = strcmp(cfg->metrics, "off") != 0;
    json_t *paths = json_object(), *schemas = json_object(), *schemes = json_object();

    add_rows(schemas, s);
    json_object_set_new(schemas, "Page", json_pack("{s:s,s:[s,s],s:{s:{s:s,s:o},s:{s:s,s:b,s:s}}}",
        "type", "object", "required", "data", "next_cursor", "properties",
        "data", "type", "array", "items", ref("schemas/PartialRow"),
        "next_cursor", "type", "string", "nullable", 1, "description", "null on the last page"));
    json_object_set_new(schemas, "Error", json_pack(
        "{s:s,s:[s],s:{s:{s:s,s:[s,s,s],s:{s:{s:s},s:{s:s},s:{s:s}}}}}",
        "type", "object", "required", "error", "properties", "error", "type", "object",
        "required", "status", "code", "message", "properties", "status", "type", "integer",
        "code", "type", "string", "message", "type", "string"));

    json_t *page = json_pack("{s:s,s:{s:{s:s,s:{s:s}}},s:{s:{s:o},s:{s:{s:s}},s:{s:{s:s}}}}",
        "description", "A page of rows",
        "headers", "Link", "description", "<…&cursor=…>; rel=\"next\" when there is a next page",
        "schema", "type", "string",
        "content", "application/json", "schema", ref("schemas/Page"),
        "application/x-ndjson", "schema", "type", "string",
        "text/csv", "schema", "type", "string");
    json_t *data = json_pack("{s:{s:s,s:o,s:o}}", "get", "summary", "A page of rows, newest first by default",
        "parameters", data_params(s),
        "responses", responses("200", page, "400", keys ? "401" : "", "413", "414", "429", "431", "500", "503", (const char *)NULL));
    json_t *by_id = json_pack("{s:[{s:s,s:s,s:b,s:{s:s,s:i,s:s}}],s:{s:s,s:o}}",
        "parameters", "name", "id", "in", "path", "required", 1, "schema", "type", "string",
        "minLength", 1, "pattern", "^[^\\u0000]+$",
        "get", "summary", "One row by _id",
        "responses", responses("200", json_ok("The row", ref("schemas/Row")),
                               "400", keys ? "401" : "", "404", "413", "414", "429", "431", "500", "503", (const char *)NULL));
    if (keys) {
        json_t *sec = json_pack("[{s:[]},{s:[]}]", "bearerKey", "apiKey");
        json_object_set(json_object_get(data, "get"), "security", sec);
        json_object_set_new(json_object_get(by_id, "get"), "security", sec);
    }
    json_object_set_new(paths, "/data", data);
    json_object_set_new(paths, "/data/{id}", by_id);
    json_object_set_new(paths, "/healthz", get_op("The process answers", responses("200",
        json_ok("alive", json_pack("{s:s,s:[s],s:{s:{s:s,s:[s]}}}", "type", "object", "required", "status",
                                   "properties", "status", "type", "string", "enum", "ok")),
        "413", "414", "431", (const char *)NULL)));
    json_object_set_new(paths, "/readyz", get_op("The store takes writes and the subscriber has its share",
        responses("200", json_ok("ready", json_pack("{s:s,s:[s,s],s:{s:{s:s,s:[s]},s:{s:s},s:{s:s}}}",
            "type", "object", "required", "status", "store", "properties", "status", "type", "string",
            "enum", "ready", "store", "type", "string", "subscriber", "type", "string")),
        "413", "414", "431", "503", (const char *)NULL)));
    json_t *metrics = metrics_on
        ? get_op("Prometheus metrics", responses("200", json_pack("{s:s,s:{s:{s:{s:s}}}}",
              "description", "Prometheus text format 0.0.4", "content", "text/plain", "schema", "type", "string"),
              *cfg->metrics_key ? "401" : "", "413", "414", "429", "431", "500", "503", (const char *)NULL))
        : get_op("Metrics are off (COLIBRI_METRICS=off)", responses("404", ref("responses/NotFound"),
              "413", "414", "429", "431", "503", (const char *)NULL));
    if (metrics_on && *cfg->metrics_key)
        json_object_set_new(json_object_get(metrics, "get"), "security", json_pack("[{s:[]}]", "metricsKey"));
    json_object_set_new(paths, "/metrics", metrics);
    json_object_set_new(paths, "/openapi.json", get_op("This document", responses("200",
        json_ok("OpenAPI 3.0", json_pack("{s:s}", "type", "object")), "413", "414", "429", "431", "500", "503", (const char *)NULL)));
    if (strcmp(cfg->push, "on") == 0)
        json_object_set_new(paths, "/pubsub/push", push_path(cfg));

    if (keys) {
        json_object_set_new(schemes, "bearerKey", json_pack("{s:s,s:s,s:s}", "type", "http", "scheme", "bearer",
            "description", "Authorization: Bearer KEY, a key of COLIBRI_API_KEYS"));
        json_object_set_new(schemes, "apiKey", json_pack("{s:s,s:s,s:s,s:s}", "type", "apiKey", "in", "header",
            "name", "X-API-Key", "description", "X-API-Key: KEY, a key of COLIBRI_API_KEYS"));
    }
    if (metrics_on && *cfg->metrics_key)
        json_object_set_new(schemes, "metricsKey", json_pack("{s:s,s:s,s:s}", "type", "http", "scheme", "bearer",
            "description", "Authorization: Bearer COLIBRI_METRICS_KEY"));
    if (strcmp(cfg->push, "on") == 0 && *cfg->push_audience)
        json_object_set_new(schemes, "pushToken", json_pack("{s:s,s:s,s:s,s:s}", "type", "http", "scheme", "bearer",
            "bearerFormat", "JWT", "description", "Google-signed OIDC token for COLIBRI_PUSH_AUDIENCE"));

    json_t *doc = json_pack("{s:s,s:{s:s,s:s,s:s},s:o,s:{s:o,s:o,s:o}}",
        "openapi", "3.0.3",
        "info", "title", "colibri", "version", COLIBRI_VERSION,
        "description", "Rows of the table, as ingested from Kafka or Pub/Sub; schema-typed filters and "
        "keyset pagination. Every error is {\"error\":{\"status\",\"code\",\"message\"}}. Any route "
        "answers 405 with Allow to a method it does not take.",
        "paths", paths,
        "components", "schemas", schemas, "responses", error_responses(), "securitySchemes", schemes);
    if (!doc)
        return NULL;
    char *text = json_dumps(doc, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    json_decref(doc);
    return text;
}
