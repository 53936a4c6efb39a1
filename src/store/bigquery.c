/*
 * bigquery.c — the BigQuery store backend, over the REST API (v2).
 *
 * "bigquery:PROJECT.DATASET.TABLE". open creates the dataset, the table
 * (partitioned by day on the event-time column, clustered on the columns
 * the schema marks "x-cluster", at most four) and the _dead_letters table
 * when missing. insert streams rows with tabledata.insertAll
 * (bigquery_insert.c). query runs jobs.query with named parameters, polling
 * jobs.getQueryResults while the job is not complete, under a
 * maximumBytesBilled guard; the SQL is store/sql.c's page, the same plan
 * sqlite.c writes, so that GET /data answers byte for byte the same on both
 * backends, cursors included. Identical queries within a short TTL share one
 * BigQuery job (a single-flight response cache, bigquery_cache.c).
 *
 * Positions: BigQuery cannot write rows and offsets in one transaction
 * (insertAll is per table and has no transactions), so a _positions table
 * would not make anything atomic: it would be committed after the rows,
 * exactly like a Kafka offset commit, for the price of one more insertAll
 * per batch and a query per assignment. So this backend keeps no positions:
 * store_position says COLIBRI_ENOTFOUND and the Kafka consumer resumes from
 * the group's committed offsets, which it commits only after store_insert
 * succeeded. What makes a redelivery harmless is insertId = _id (BigQuery
 * deduplicates it on a best-effort basis, for at least a minute).
 *
 * Settings (config.c): BIGQUERY_EMULATOR_HOST (host:port or URL; no auth),
 * COLIBRI_BIGQUERY_ENDPOINT (another base URL with auth kept, e.g. a
 * private endpoint), COLIBRI_BQ_LOCATION, COLIBRI_BQ_MAX_BYTES_BILLED
 * (0 = no guard), COLIBRI_BQ_CACHE_MS (0 = no cache).
 */
#include <curl/curl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "colibri/clock.h"
#include "colibri/config.h"
#include "colibri/error.h"
#include "colibri/gcp.h"
#include "colibri/batch.h"
#include "colibri/log.h"
#include "colibri/metrics.h"
#include "colibri/strbuf.h"
#include "store/bigquery_int.h"
#include "store/sql.h"
#include "store/store_int.h"

#define BQ_SCOPE "https://www.googleapis.com/auth/bigquery"
#define BQ_DEFAULT_BASE "https://bigquery.googleapis.com"
#define MAX_CLUSTER 4
#define QUERY_TIMEOUT_MS 10000      /* jobs.query and getQueryResults wait this long per call */
#define QUERY_DEADLINE_MS 60000

/* ---- clients: rest clients are one per thread at a time, so pool them ---- */

static int client_get(struct bq_store *s, struct rest_client **out)
{
    pthread_mutex_lock(&s->plock);
    struct client_node *n = s->pool;
    if (n)
        s->pool = n->next;
    pthread_mutex_unlock(&s->plock);
    if (n) {
        *out = n->c;
        free(n);
        return 0;
    }
    struct rest_opts o = { .timeout_ms = 30000, .deadline_ms = QUERY_DEADLINE_MS, .max_attempts = 8 };
    return rest_client_new("bigquery", s->auth, &o, out);
}

static void client_put(struct bq_store *s, struct rest_client *c)
{
    struct client_node *n = malloc(sizeof *n);
    if (!n) {
        rest_client_free(c);
        return;
    }
    n->c = c;
    pthread_mutex_lock(&s->plock);
    n->next = s->pool;
    s->pool = n;
    pthread_mutex_unlock(&s->plock);
}

int bq_call(struct bq_store *s, const char *method, const char *url, json_t *body,
                const char *raw, json_t **resp, long *status, char *err, size_t errlen)
{
    struct rest_client *c;
    *resp = NULL;
    *status = 0;
    int rc = client_get(s, &c);
    if (rc)
        return rc;
    rc = raw ? rest_call_raw(c, method, url, raw, resp, status, err, errlen)
             : rest_call(c, method, url, body, resp, status, err, errlen);
    client_put(s, c);
    return rc;
}

/* ---- names and URLs ---------------------------------------------------------- */

static bool valid_name(const char *p, const char *extra)
{
    if (!*p)
        return false;
    for (; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || strchr(extra, *p)))
            return false;
    return true;
}

/* "PROJECT.DATASET.TABLE": the project may itself hold dots ("example.com:proj"). */
static int parse_target(struct bq_store *s, const char *target)
{
    const char *t = strrchr(target, '.');
    const char *d = NULL;
    for (const char *p = target; t && p < t; p++)
        if (*p == '.')
            d = p;
    if (!t || !d || d == target) {
        log_error("bigquery store needs bigquery:PROJECT.DATASET.TABLE, not '%s'", target);
        return COLIBRI_ECONFIG;
    }
    s->project = arena_dup(&s->texts, target, (size_t)(d - target));
    s->dataset = arena_dup(&s->texts, d + 1, (size_t)(t - d - 1));
    s->table = arena_strdup(&s->texts, t + 1);
    if (!s->project || !s->dataset || !s->table)
        return COLIBRI_ENOMEM;
    if (!valid_name(s->project, "-.:") || !valid_name(s->dataset, "") || !valid_name(s->table, "-")) {
        log_error("bigquery:%s: project, dataset or table name has characters BigQuery does not allow",
                  target);
        return COLIBRI_ECONFIG;
    }
    return 0;
}

/* The API root: emulator (no auth), explicit endpoint, or Google's. */
static int api_base(struct bq_store *s, const struct config *cfg, bool *emulator)
{
    const char *emu = cfg->bigquery_emulator_host;
    const char *ep = cfg->bigquery_endpoint;
    *emulator = emu && *emu;
    const char *root = *emulator ? emu : ep && *ep ? ep : BQ_DEFAULT_BASE;
    size_t len = strlen(root);
    while (len && root[len - 1] == '/')
        len--;
    s->base = arena_printf(&s->texts, "%s%.*s/bigquery/v2/projects/%s", strstr(root, "://") ? "" : "http://",
                           (int)len, root, s->project);
    return s->base ? 0 : COLIBRI_ENOMEM;
}

/* ---- tables --------------------------------------------------------------------- */

static json_t *table_body(struct bq_store *s)
{
    const struct schema *sc = s->schema;
    json_t *fields = json_array(), *cluster = json_array();
    for (size_t i = 0; i < sc->ncols; i++) {
        json_array_append_new(fields, bq_field_json(&sc->cols[i]));
        if (sc->cols[i].cluster && json_array_size(cluster) < MAX_CLUSTER)
            json_array_append_new(cluster, json_string(sc->cols[i].name));
    }
    json_t *t = json_pack("{s:{s:s, s:s, s:s}, s:{s:o}, s:{s:s, s:s}}",
        "tableReference", "projectId", s->project, "datasetId", s->dataset, "tableId", s->table,
        "schema", "fields", fields,
        "timePartitioning", "type", "DAY", "field", sc->cols[sc->event_time].name);
    if (t && json_array_size(cluster))
        json_object_set_new(t, "clustering", json_pack("{s:o}", "fields", cluster));
    else
        json_decref(cluster);
    return t;
}

static json_t *dead_table_body(struct bq_store *s)
{
    return json_pack("{s:{s:s, s:s, s:s}, s:{s:[{s:s,s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s,s:s}]},"
                     " s:{s:s, s:s}, s:s}",
        "tableReference", "projectId", s->project, "datasetId", s->dataset, "tableId", DEAD_TABLE,
        "schema", "fields",
            "name", "id", "type", "STRING", "mode", "REQUIRED",
            "name", "source", "type", "STRING",
            "name", "reason", "type", "STRING",
            "name", "payload", "type", "STRING",
            "name", "at", "type", "TIMESTAMP", "mode", "REQUIRED",
        "timePartitioning", "type", "DAY", "field", "at",
        "description", "Messages colibri could not store: why, and the raw payload.");
}

/* POST body to url; 409 (already exists) is fine. */
static int create(struct bq_store *s, const char *url, json_t *body, const char *what)
{
    json_t *resp;
    long st;
    char err[512];
    if (!body)
        return COLIBRI_ENOMEM;
    int rc = bq_call(s, "POST", url, body, NULL, &resp, &st, err, sizeof err);
    json_decref(body);
    json_decref(resp);
    if (rc && st == 409)
        return 0;
    if (rc)
        log_error("bigquery: cannot create %s: %s", what, err);
    else
        log_info("bigquery: created %s", what);
    return rc;
}

/* Add nullable schema columns the existing table lacks; a missing required one is a config error. */
static int evolve_table(struct bq_store *s, json_t *existing)
{
    const struct schema *sc = s->schema;
    json_t *fields = json_object_get(json_object_get(existing, "schema"), "fields");
    json_t *add = json_array();
    int rc = 0;
    for (size_t i = 0; i < sc->ncols; i++) {
        bool present = false;
        size_t k;
        json_t *f;
        json_array_foreach(fields, k, f) {
            const char *n = json_string_value(json_object_get(f, "name"));
            if (n && strcasecmp(n, sc->cols[i].name) == 0)
                present = true;
        }
        if (present)
            continue;
        if (sc->cols[i].required || sc->cols[i].metadata) {
            log_error("bigquery table %s.%s has no column %s, which the schema requires; "
                      "migrate the table or use a new one", s->dataset, s->table, sc->cols[i].name);
            rc = COLIBRI_ECONFIG;
            goto out;
        }
        json_array_append_new(add, bq_field_json(&sc->cols[i]));
    }
    if (json_array_size(add)) {
        json_t *all = json_deep_copy(fields), *resp;
        json_array_extend(all, add);
        json_t *body = json_pack("{s:{s:o}}", "schema", "fields", all);
        long st;
        char err[512];
        rc = bq_call(s, "PATCH", s->table_url, body, NULL, &resp, &st, err, sizeof err);
        json_decref(body);
        json_decref(resp);
        if (rc)
            log_error("bigquery: cannot add columns to %s.%s: %s", s->dataset, s->table, err);
        else
            log_info("bigquery: added %zu column(s) to %s.%s", json_array_size(add), s->dataset, s->table);
    }
out:
    json_decref(add);
    return rc;
}

static int ensure_tables(struct bq_store *s)
{
    struct strbuf url = STRBUF_INIT;
    json_t *resp = NULL;
    long st;
    char err[512];
    int rc = bq_call(s, "GET", s->table_url, NULL, NULL, &resp, &st, err, sizeof err);
    if (rc == 0) {
        rc = evolve_table(s, resp);
        goto dead;
    }
    if (st != 404) {
        log_error("bigquery: cannot read table %s.%s.%s: %s (%s)", s->project, s->dataset, s->table,
                  err, colibri_strerror(rc));
        goto out;
    }
    strbuf_addf(&url, "%s/datasets", s->base);
    json_t *ds = json_pack("{s:{s:s, s:s}}", "datasetReference", "projectId", s->project,
                           "datasetId", s->dataset);
    if (ds && s->location)
        json_object_set_new(ds, "location", json_string(s->location));
    if ((rc = create(s, url.buf, ds, "dataset")))
        goto out;
    strbuf_reset(&url);
    strbuf_addf(&url, "%s/datasets/%s/tables", s->base, s->dataset);
    if ((rc = create(s, url.buf, table_body(s), "table")))
        goto out;
dead:
    if (rc)
        goto out;
    json_decref(resp);
    resp = NULL;
    strbuf_reset(&url);
    strbuf_addf(&url, "%s/datasets/%s/tables/" DEAD_TABLE, s->base, s->dataset);
    rc = bq_call(s, "GET", url.buf, NULL, NULL, &resp, &st, err, sizeof err);
    if (rc && st == 404) {
        strbuf_reset(&url);
        strbuf_addf(&url, "%s/datasets/%s/tables", s->base, s->dataset);
        rc = create(s, url.buf, dead_table_body(s), DEAD_TABLE " table");
    }
out:
    json_decref(resp);
    strbuf_release(&url);
    return rc;
}

/* ---- open / close ------------------------------------------------------------------ */

static void bq_close(void *ctx);

static int bq_open(const struct config *cfg, const char *target, const struct schema *sc, void **ctx)
{
    *ctx = NULL;
    struct bq_store *s = calloc(1, sizeof *s);
    if (!s)
        return COLIBRI_ENOMEM;
    s->schema = sc;
    pthread_mutex_init(&s->plock, NULL);
    bq_cache_init(&s->cache, cfg->bq_cache_ms);
    bool emulator = false;
    int rc = parse_target(s, target);
    if (!rc)
        rc = api_base(s, cfg, &emulator);
    if (rc)
        goto out;
    s->table_url = arena_printf(&s->texts, "%s/datasets/%s/tables/%s", s->base, s->dataset, s->table);
    s->location = *cfg->bq_location ? arena_strdup(&s->texts, cfg->bq_location) : NULL;
    s->max_bytes = cfg->bq_max_bytes_billed > 0 ? arena_printf(&s->texts, "%ld", cfg->bq_max_bytes_billed) : NULL;
    if (!s->table_url || (*cfg->bq_location && !s->location) ||
        (cfg->bq_max_bytes_billed > 0 && !s->max_bytes)) {
        rc = COLIBRI_ENOMEM;
        goto out;
    }
    s->window_us = (int64_t)cfg->bq_default_window_h * 3600 * 1000000;
    if ((rc = gcp_auth_new(cfg, BQ_SCOPE, emulator, &s->auth)))
        goto out;
    rc = ensure_tables(s);
out:
    if (rc) {
        log_error("cannot open the BigQuery store %s", target);
        bq_close(s);
        return rc;
    }
    log_info("bigquery store %s.%s.%s at %s%s", s->project, s->dataset, s->table, s->base,
             emulator ? " (emulator, no auth)" : "");
    *ctx = s;
    return 0;
}

static void bq_close(void *ctx)
{
    struct bq_store *s = ctx;
    if (!s)
        return;
    for (struct client_node *n = s->pool, *next; n; n = next) {
        next = n->next;
        rest_client_free(n->c);
        free(n);
    }
    bq_cache_release(&s->cache);
    gcp_auth_free(s->auth);
    pthread_mutex_destroy(&s->plock);
    arena_release(&s->texts);
    free(s);
}

/* ---- query ------------------------------------------------------------------------- */

struct bq_query {
    struct strbuf sql;
    json_t *params;             /* QueryParameter list */
    size_t *cols;
    size_t ncols;
};

static json_t *param_value(enum col_type t, const struct value *v)
{
    struct strbuf sb = STRBUF_INIT;
    value_format(t, v, &sb, VALUE_BQ_PARAM);
    json_t *j = sb.failed ? NULL : json_pack("{s:s%}", "value", sb.buf ? sb.buf : "", sb.len);
    strbuf_release(&sb);
    return j;
}

/* Add parameter @p<N> of type t with value v (or an ARRAY of vals); returns its name in name. */
static int add_param(json_t *params, enum col_type t, const struct value *vals, size_t n, bool array,
                     char *name, size_t namelen)
{
    snprintf(name, namelen, "p%zu", json_array_size(params));
    json_t *p;
    if (array) {
        json_t *av = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(av, param_value(t, &vals[i]));
        p = json_pack("{s:s, s:{s:s, s:{s:s}}, s:{s:o}}", "name", name,
                      "parameterType", "type", "ARRAY", "arrayType", "type", col_type_name(t),
                      "parameterValue", "arrayValues", av);
    } else {
        p = json_pack("{s:s, s:{s:s}, s:o}", "name", name, "parameterType", "type", col_type_name(t),
                      "parameterValue", param_value(t, &vals[0]));
    }
    return p && json_array_append_new(params, p) == 0 ? 0 : COLIBRI_ENOMEM;
}

/* sql_writer.param: a named parameter @p<N> in params (ud). */
static int add_named_param(void *ud, struct strbuf *out, enum col_type t, const struct value *vals,
                           size_t n, enum sql_param_kind kind)
{
    char name[16];
    int rc = add_param(ud, t, vals, n, kind == SQL_PARAM_ARRAY, name, sizeof name);
    strbuf_addf(out, "@%s", name);
    return rc;
}

static const struct sql_dialect bigquery_sql = {
    .quote = '`', .true_lit = "TRUE", .array_in = true, .starts_with = true,
};

/* The SELECT for q: sql.c's page in BigQuery's dialect. */
static int build_select(const struct bq_store *s, const struct query *q, struct bq_query *out)
{
    struct sql_writer w = { .d = &bigquery_sql, .sc = s->schema, .sb = &out->sql,
                            .param = add_named_param };
    struct strbuf from = STRBUF_INIT;
    int rc;

    out->params = json_array();
    if (!out->params || sql_page_columns(s->schema, q, &out->cols, &out->ncols))
        return COLIBRI_ENOMEM;
    w.ud = out->params;
    strbuf_addf(&from, "`%s.%s.%s`", s->project, s->dataset, s->table);
    rc = from.failed ? COLIBRI_ENOMEM : sql_select_page(&w, from.buf, q, out->cols, out->ncols, NULL);
    strbuf_release(&from);
    return rc;
}

/* Hand each f/v row to sink. */
static int emit_rows(const struct schema *sc, json_t *rows, const size_t *cols, size_t ncols,
                     struct row_sink *sink, bool *any)
{
    struct value *vals = malloc((ncols ? ncols : 1) * sizeof *vals);
    struct arena texts = ARENA_INIT;    /* a row's canonical texts */
    if (!vals)
        return COLIBRI_ENOMEM;
    int rc = 0;
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) {
        json_t *f = json_object_get(r, "f");
        arena_release(&texts);
        if (json_array_size(f) != ncols) {
            log_error("bigquery: a result row has %zu cells, expected %zu", json_array_size(f), ncols);
            rc = COLIBRI_EIO;
            break;
        }
        for (size_t c = 0; !rc && c < ncols; c++)
            if ((rc = bq_cell_value(&sc->cols[cols[c]], json_array_get(f, c), &vals[c], &texts)))
                log_error("bigquery: column %s: cannot read the value %s", sc->cols[cols[c]].name,
                          json_string_value(json_object_get(json_array_get(f, c), "v")) ?
                          json_string_value(json_object_get(json_array_get(f, c), "v")) : "(not a string)");
        if (rc)
            break;
        *any = true;
        if ((rc = sink->row(sink->ud, cols, ncols, vals)))
            break;
    }
    arena_release(&texts);
    free(vals);
    return rc;
}

/* Map a failed job's errorResult: the cost guard is "too big", the rest the store's failure. */
static int job_error(json_t *err_result, const char *sql)
{
    const char *reason = json_string_value(json_object_get(err_result, "reason"));
    const char *msg = json_string_value(json_object_get(err_result, "message"));
    log_error("bigquery query failed: %s: %s [%s]", reason ? reason : "?", msg ? msg : "?", sql);
    if (reason && strcmp(reason, "bytesBilledLimitExceeded") == 0)
        return COLIBRI_ETOOBIG;
    if (reason && (strcmp(reason, "backendError") == 0 || strcmp(reason, "rateLimitExceeded") == 0 ||
                   strcmp(reason, "internalError") == 0 || strcmp(reason, "jobBackendError") == 0))
        return COLIBRI_EUNAVAIL;
    return COLIBRI_EIO;
}

static void request_id(char *buf, size_t len)
{
    unsigned char r[16] = { 0 };
    if (getrandom(r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        int64_t t = clock_real_us();
        memcpy(r, &t, sizeof t);
    }
    snprintf(buf, len, "colibri-%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x",
             r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13],
             r[14], r[15]);
}

/*
 * Run sql with params (borrowed) and return every result row ("rows", an
 * owned array): jobs.query, then jobs.getQueryResults while the job is not
 * complete or there are more pages.
 */
static int run_job(struct bq_store *s, const char *sql, json_t *params, size_t max_results,
                   json_t **out_rows)
{
    struct strbuf url = STRBUF_INIT;
    json_t *rows = json_array(), *resp = NULL;
    char err[512], rid[48];
    long st;
    int rc;
    const int64_t deadline = clock_mono_ms() + QUERY_DEADLINE_MS;

    *out_rows = NULL;
    request_id(rid, sizeof rid);
    json_t *body = json_pack("{s:s, s:b, s:s, s:O, s:I, s:I, s:{s:b}, s:s}",
                             "query", sql, "useLegacySql", 0, "parameterMode", "NAMED",
                             "queryParameters", params, "maxResults", (json_int_t)max_results,
                             "timeoutMs", (json_int_t)QUERY_TIMEOUT_MS,
                             "formatOptions", "useInt64Timestamp", 1, "requestId", rid);
    if (!body || !rows) {
        rc = COLIBRI_ENOMEM;
        goto out;
    }
    if (s->max_bytes)
        json_object_set_new(body, "maximumBytesBilled", json_string(s->max_bytes));
    if (s->location)
        json_object_set_new(body, "location", json_string(s->location));
    strbuf_addf(&url, "%s/queries", s->base);
    rc = bq_call(s, "POST", url.buf, body, NULL, &resp, &st, err, sizeof err);
    json_decref(body);
    if (rc) {
        log_error("bigquery jobs.query: %s (%s) [%s]", err, colibri_strerror(rc), sql);
        if (strstr(err, "bytes billed") || strstr(err, "maximumBytesBilled"))
            rc = COLIBRI_ETOOBIG;
        else if (rc == COLIBRI_EINVAL)
            rc = COLIBRI_EIO;   /* our SQL was refused: a server-side fault, not the client's */
        goto out;
    }
    json_t *ref = json_object_get(resp, "jobReference");
    const char *jid = json_string_value(json_object_get(ref, "jobId"));
    const char *jloc = json_string_value(json_object_get(ref, "location"));
    char *job = jid ? curl_easy_escape(NULL, jid, 0) : NULL;
    char *loc = jloc ? curl_easy_escape(NULL, jloc, 0) : NULL;
    for (int polls = 0;; polls++) {
        json_t *errors = json_object_get(resp, "errors");
        if (json_is_true(json_object_get(resp, "jobComplete"))) {
            json_t *fields = json_object_get(json_object_get(resp, "schema"), "fields");
            /* a failed job: Google answers with an HTTP error; some emulators with 200 + errors */
            if (json_array_size(errors) && !json_array_size(fields)) {
                rc = job_error(json_array_get(errors, 0), sql);
                break;
            }
            json_array_extend(rows, json_object_get(resp, "rows"));
            const char *tok = json_string_value(json_object_get(resp, "pageToken"));
            if (!tok || json_array_size(rows) >= max_results)
                break;
            char *etok = curl_easy_escape(NULL, tok, 0);
            strbuf_reset(&url);
            strbuf_addf(&url, "%s/queries/%s?maxResults=%zu&pageToken=%s", s->base, job ? job : "",
                        max_results - json_array_size(rows), etok ? etok : "");
            curl_free(etok);
        } else {
            strbuf_reset(&url);
            strbuf_addf(&url, "%s/queries/%s?maxResults=%zu", s->base, job ? job : "",
                        max_results - json_array_size(rows));
            log_debug("bigquery job %s not complete yet (poll %d)", jid ? jid : "?", polls);
        }
        if (!job) {
            log_error("bigquery jobs.query: no jobReference.jobId in the response");
            rc = COLIBRI_EIO;
            break;
        }
        int64_t left = deadline - clock_mono_ms();
        if (left <= 0) {
            log_error("bigquery job %s: not complete after %d ms [%s]", jid, QUERY_DEADLINE_MS, sql);
            rc = COLIBRI_ETIMEOUT;
            break;
        }
        strbuf_addf(&url, "&timeoutMs=%lld&formatOptions.useInt64Timestamp=true",
                    (long long)(left < QUERY_TIMEOUT_MS ? left : QUERY_TIMEOUT_MS));
        if (loc)
            strbuf_addf(&url, "&location=%s", loc);
        json_decref(resp);
        resp = NULL;
        if (url.failed) {
            rc = COLIBRI_ENOMEM;
            break;
        }
        if ((rc = bq_call(s, "GET", url.buf, NULL, NULL, &resp, &st, err, sizeof err))) {
            log_error("bigquery jobs.getQueryResults %s: %s (%s)", jid, err, colibri_strerror(rc));
            if (rc == COLIBRI_EINVAL)
                rc = strstr(err, "bytes billed") ? COLIBRI_ETOOBIG : COLIBRI_EIO;
            break;
        }
    }
    curl_free(job);
    curl_free(loc);
out:
    json_decref(resp);
    if (rc)
        json_decref(rows);
    else
        *out_rows = rows;
    strbuf_release(&url);
    return rc;
}

struct job {
    struct bq_store *s;
    const char *sql;
    json_t *params;
    size_t max_results;
};

static int fetch_job(void *arg, json_t **rows)
{
    const struct job *j = arg;
    return run_job(j->s, j->sql, j->params, j->max_results, rows);
}

/* Rows for (sql, params), through the response cache; *rows is the caller's (json_decref). */
static int cached_rows(struct bq_store *s, const char *sql, json_t *params, size_t max_results,
                       json_t **rows)
{
    struct job job = { s, sql, params, max_results };
    *rows = NULL;
    if (s->cache.ttl_ms <= 0)       /* no cache: no key to build for each request */
        return fetch_job(&job, rows);
    char *pj = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS);
    struct strbuf key = STRBUF_INIT;
    strbuf_addf(&key, "%zu\n%s\n%s", max_results, sql, pj ? pj : "");
    free(pj);
    int rc = key.failed || !pj ? COLIBRI_ENOMEM : bq_cache_rows(&s->cache, key.buf, fetch_job, &job, rows);
    strbuf_release(&key);
    return rc;
}

/*
 * Without since, only the last window_us (COLIBRI_BQ_DEFAULT_WINDOW_H): the
 * partition filter always applies, so what a page costs does not grow with
 * the table. The bound moves by whole minutes, so the response cache and
 * BigQuery's own keep working between pages.
 */
static const struct query *bounded(const struct bq_store *s, const struct query *q, struct query *copy)
{
    if (q->has_since || s->window_us <= 0)
        return q;
    const int64_t minute = 60 * 1000000LL;
    *copy = *q;
    copy->has_since = true;
    copy->since = (clock_real_us() - s->window_us) / minute * minute;
    return copy;
}

static int bq_query(void *ctx, const struct query *q, struct row_sink *sink)
{
    struct bq_store *s = ctx;
    struct bq_query bq = { .sql = STRBUF_INIT };
    struct query windowed;
    q = bounded(s, q, &windowed);
    json_t *rows = NULL;
    bool any = false;
    int rc = build_select(s, q, &bq);
    if (!rc)
        rc = cached_rows(s, bq.sql.buf, bq.params, q->limit + 1, &rows);
    if (!rc)
        rc = emit_rows(s->schema, rows, bq.cols, bq.ncols, sink, &any);
    json_decref(rows);
    json_decref(bq.params);
    strbuf_release(&bq.sql);
    free(bq.cols);
    return rc;
}

static int bq_get(void *ctx, const char *id, struct row_sink *sink)
{
    struct bq_store *s = ctx;
    const struct schema *sc = s->schema;
    struct strbuf sql = STRBUF_INIT;
    size_t *cols = malloc(sc->ncols * sizeof *cols);
    json_t *params = json_array(), *rows = NULL;
    struct value idv = { .u.s = { id, strlen(id) } };
    char p[16];
    bool any = false;
    int rc = cols && params ? 0 : COLIBRI_ENOMEM;
    strbuf_adds(&sql, "SELECT ");
    for (size_t i = 0; cols && i < sc->ncols; i++) {
        cols[i] = i;
        if (i)
            strbuf_adds(&sql, ", ");
        sql_ident(&sql, '`', sc->cols[i].name);
    }
    if (!rc)
        rc = add_param(params, COL_STRING, &idv, 1, false, p, sizeof p);
    /* _id is unique in SQLite; here a duplicate that slipped past insertId dedup shows once */
    strbuf_addf(&sql, " FROM `%s.%s.%s` WHERE `_id` = @%s LIMIT 1", s->project, s->dataset, s->table, p);
    if (!rc && sql.failed)
        rc = COLIBRI_ENOMEM;
    if (!rc)
        rc = cached_rows(s, sql.buf, params, 1, &rows);
    if (!rc)
        rc = emit_rows(sc, rows, cols, sc->ncols, sink, &any);
    if (!rc && !any)
        rc = COLIBRI_ENOTFOUND;
    json_decref(rows);
    json_decref(params);
    strbuf_release(&sql);
    free(cols);
    return rc;
}

/* Ready means the table answers: tables.get, the cheapest call that proves access to it. */
static int bq_ping(void *ctx)
{
    struct bq_store *s = ctx;
    struct strbuf url = STRBUF_INIT;
    json_t *resp = NULL;
    long st;
    char err[512];
    strbuf_addf(&url, "%s?fields=id", s->table_url);
    int rc = url.failed ? COLIBRI_ENOMEM : bq_call(s, "GET", url.buf, NULL, NULL, &resp, &st, err, sizeof err);
    json_decref(resp);
    strbuf_release(&url);
    if (rc) {
        log_warn("bigquery: table %s.%s.%s not reachable: %s", s->project, s->dataset, s->table, err);
        return COLIBRI_EUNAVAIL;
    }
    return 0;
}

/* laid out by hand, one role a line */
/* clang-format off */
const struct store_ops bigquery_store_ops = {
    .name = "bigquery",
    .open = bq_open, .ping = bq_ping, .close = bq_close,
    .insert = bq_insert, .position = NULL,      /* no positions: see the top of this file */
    .query = bq_query, .get = bq_get,
};
/* clang-format on */
