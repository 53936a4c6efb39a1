/*
 * openapi.c — the OpenAPI 3 document, generated from the schema: every
 * column becomes a typed property of Row and a typed filter parameter of
 * GET /data.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "colibri/query.h"
#include "colibri/version.h"
#include "http/http_int.h"

static json_t *type_schema(enum col_type t)
{
    switch (t) {
    case COL_INT64:     return json_pack("{s:s,s:s}", "type", "integer", "format", "int64");
    case COL_FLOAT64:   return json_pack("{s:s,s:s}", "type", "number", "format", "double");
    case COL_BOOL:      return json_pack("{s:s}", "type", "boolean");
    case COL_TIMESTAMP: return json_pack("{s:s,s:s}", "type", "string", "format", "date-time");
    case COL_DATE:      return json_pack("{s:s,s:s}", "type", "string", "format", "date");
    case COL_STRING: default: return json_pack("{s:s}", "type", "string");
    }
}

static json_t *param(const char *name, const char *desc, json_t *schema)
{
    return json_pack("{s:s,s:s,s:b,s:s,s:o}", "name", name, "in", "query", "required", 0,
                     "description", desc, "schema", schema);
}

static json_t *error_response(const char *desc)
{
    return json_pack("{s:s,s:{s:{s:{s:s}}}}", "description", desc, "content", "application/json",
                     "schema", "$ref", "#/components/schemas/Error");
}

static void add_filters(json_t *params, const struct schema *s)
{
    static const struct { const char *suffix, *what; } ops[] = {
        { "", "equals" }, { "__ne", "differs from" }, { "__gt", "greater than" },
        { "__gte", "at least" }, { "__lt", "less than" }, { "__lte", "at most" },
        { "__in", "one of (comma-separated)" }, { "__prefix", "starts with" },
        { "__isnull", "is null (true) or not (false)" },
    };
    char name[200], desc[600];
    for (size_t c = 0; c < s->ncols; c++) {
        const struct column *col = &s->cols[c];
        for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
            bool ordered = col->type != COL_BOOL;
            if ((o >= 2 && o <= 5 && !ordered) || (o == 7 && col->type != COL_STRING))
                continue;
            snprintf(name, sizeof name, "%s%s", col->name, ops[o].suffix);
            snprintf(desc, sizeof desc, "%s %s the value (%s)", col->name, ops[o].what,
                     col_type_name(col->type));
            json_t *sch = o == 8 ? json_pack("{s:s}", "type", "boolean")
                        : o == 6 ? json_pack("{s:s}", "type", "string") : type_schema(col->type);
            json_array_append_new(params, param(name, desc, sch));
        }
    }
}

char *openapi_build(const struct schema *s)
{
    json_t *props = json_object(), *required = json_array();
    for (size_t c = 0; c < s->ncols; c++) {
        const struct column *col = &s->cols[c];
        json_t *t = type_schema(col->type);
        json_object_set_new(t, "description", json_string(col->description ? col->description : ""));
        if (!col->required)
            json_object_set_new(t, "nullable", json_true());
        else
            json_array_append_new(required, json_string(col->name));
        json_object_set_new(props, col->name, t);
    }
    json_t *params = json_pack("[o,o,o,o,o,o,o]",
        param("limit", "rows per page", json_pack("{s:s,s:i,s:i,s:i}", "type", "integer",
              "minimum", 1, "maximum", QUERY_LIMIT_MAX, "default", QUERY_LIMIT_DEFAULT)),
        param("cursor", "next_cursor of the previous page (opaque, signed)", json_pack("{s:s}", "type", "string")),
        param("order", "by event time, then _id", json_pack("{s:s,s:[s,s],s:s}", "type", "string",
              "enum", "desc", "asc", "default", "desc")),
        param("since", "event time at or after (RFC 3339)", json_pack("{s:s,s:s}", "type", "string", "format", "date-time")),
        param("until", "event time before (RFC 3339)", json_pack("{s:s,s:s}", "type", "string", "format", "date-time")),
        param("fields", "comma-separated columns to return", json_pack("{s:s}", "type", "string")),
        param("format", "response format", json_pack("{s:s,s:[s,s,s],s:s}", "type", "string",
              "enum", "json", "ndjson", "csv", "default", "json")));
    add_filters(params, s);

    json_t *doc = json_pack(
        "{s:s,s:{s:s,s:s,s:s},"
        " s:{s:{s:{s:s,s:o,s:{s:{s:s,s:{s:{s:{s:s}},s:{s:{s:s}},s:{s:{s:s}}}},s:o,s:o,s:o}}},"
        "    s:{s:{s:s,s:[{s:s,s:s,s:b,s:{s:s}}],s:{s:{s:s,s:{s:{s:{s:s}}}},s:o}}},"
        "    s:{s:{s:s,s:{s:{s:s}}}},"
        "    s:{s:{s:s,s:{s:{s:s},s:o}}}},"
        " s:{s:{s:{s:s,s:o,s:o},"
        "       s:{s:s,s:{s:{s:s,s:{s:s}},s:{s:s,s:b}}},"
        "       s:{s:s,s:{s:{s:s,s:{s:{s:s},s:{s:s},s:{s:s}}}}}}}}",
        "openapi", "3.0.3",
        "info", "title", "colibri", "version", COLIBRI_VERSION,
        "description", "Rows of the table, as ingested from Kafka or Pub/Sub; schema-typed filters and keyset pagination.",
        "paths",
        "/data", "get", "summary", "A page of rows, newest first by default", "parameters", params,
        "responses", "200", "description", "A page; the Link header carries rel=\"next\"", "content",
        "application/json", "schema", "$ref", "#/components/schemas/Page",
        "application/x-ndjson", "schema", "type", "string",
        "text/csv", "schema", "type", "string",
        "400", error_response("Bad parameter"), "414", error_response("Query string too long"),
        "503", error_response("Store unavailable"),
        "/data/{id}", "get", "summary", "One row by _id",
        "parameters", "name", "id", "in", "path", "required", 1, "schema", "type", "string",
        "responses", "200", "description", "The row", "content", "application/json", "schema", "$ref",
        "#/components/schemas/Row", "404", error_response("No such row"),
        "/healthz", "get", "summary", "The process is alive", "responses", "200", "description", "ok",
        "/readyz", "get", "summary", "The store answers", "responses", "200", "description", "ready",
        "503", error_response("Not ready, with reasons"),
        "components", "schemas",
        "Row", "type", "object", "properties", props, "required", required,
        "Page", "type", "object", "properties", "data", "type", "array", "items", "$ref",
        "#/components/schemas/Row", "next_cursor", "type", "string", "nullable", 1,
        "Error", "type", "object", "properties", "error", "type", "object", "properties",
        "status", "type", "integer", "code", "type", "string", "message", "type", "string");
    if (!doc)
        return NULL;
    json_object_set_new(json_object_get(doc, "paths"), "/pubsub/push", json_pack(
        "{s:{s:s,s:s,s:{s:b,s:{s:{s:{s:s}}}},s:{s:{s:s},s:o,s:o,s:o}}}",
        "post", "summary", "Pub/Sub push endpoint: one envelope, stored or dead-lettered",
        "description", "The documented push envelope {message:{data,attributes,messageId,publishTime},"
        " subscription}. With COLIBRI_PUSH_AUDIENCE set, an OIDC token from Google is required.",
        "requestBody", "required", 1, "content", "application/json", "schema", "type", "object",
        "responses", "204", "description", "Stored, already stored, or dead-lettered",
        "400", error_response("Not a push envelope"), "401", error_response("Token missing or invalid"),
        "503", error_response("Store unavailable: Pub/Sub will redeliver")));
    char *text = json_dumps(doc, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    json_decref(doc);
    return text;
}
