/*
 * bigquery_insert.c — writing a batch to BigQuery with tabledata.insertAll:
 * at most 500 rows and 9 MB per request, insertId = _id so that a resent
 * batch is deduplicated; rows BigQuery marks "stopped" are resent, rows
 * marked "invalid" become dead letters and are never resent.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colibri/clock.h"
#include "colibri/error.h"
#include "colibri/log.h"
#include "colibri/metrics.h"
#include "colibri/strbuf.h"
#include "store/bigquery_int.h"

#define INSERT_MAX_ROWS 500
#define INSERT_MAX_BYTES (9u * 1024 * 1024)
#define INSERT_ROUNDS 6             /* resends of stopped / transiently failed rows */

/* ---- JSON text helpers ---------------------------------------------------- */

static void add_quoted(struct strbuf *sb, const char *p, size_t n)
{
    strbuf_addc(sb, '"');
    strbuf_add_json_str(sb, p, n);
    strbuf_addc(sb, '"');
}

/* A JSON string of arbitrary bytes: invalid UTF-8 becomes U+FFFD (BigQuery STRING is UTF-8). */
static void add_quoted_bytes(struct strbuf *sb, const char *p, size_t n)
{
    struct value v = { .u.s = { p, n } };
    value_format(COL_STRING, &v, sb, VALUE_BQ_ROW);
}

/* {"insertId":"…","json":{…}} for row r. */
static void add_row(struct strbuf *sb, const struct schema *sc, const struct row *r)
{
    const struct value *id = &r->vals[schema_meta(sc, META_ID)];
    strbuf_adds(sb, "{\"insertId\":");
    add_quoted_bytes(sb, id->u.s.p, id->u.s.n);
    strbuf_adds(sb, ",\"json\":{");
    bool first = true;
    for (size_t c = 0; c < sc->ncols; c++) {
        if (r->vals[c].is_null)
            continue;
        if (!first)
            strbuf_addc(sb, ',');
        first = false;
        add_quoted(sb, sc->cols[c].name, strlen(sc->cols[c].name));
        strbuf_addc(sb, ':');
        bq_row_value(&sc->cols[c], &r->vals[c], sb);
    }
    strbuf_adds(sb, "}}");
}

static void add_dead(struct strbuf *sb, const char *id, const char *source, const char *reason,
                     const char *payload, size_t payload_len, int64_t at_us)
{
    char ts[40];
    strbuf_adds(sb, "{\"insertId\":");
    add_quoted_bytes(sb, id ? id : "", id ? strlen(id) : 0);
    strbuf_adds(sb, ",\"json\":{\"id\":");
    add_quoted_bytes(sb, id ? id : "", id ? strlen(id) : 0);
    strbuf_adds(sb, ",\"source\":");
    add_quoted_bytes(sb, source ? source : "", source ? strlen(source) : 0);
    strbuf_adds(sb, ",\"reason\":");
    add_quoted_bytes(sb, reason ? reason : "", reason ? strlen(reason) : 0);
    strbuf_adds(sb, ",\"payload\":");
    add_quoted_bytes(sb, payload ? payload : "", payload ? payload_len : 0);
    strbuf_adds(sb, ",\"at\":");
    add_quoted(sb, ts, timestamp_format(at_us, ts));
    strbuf_adds(sb, "}}");
}

/* ---- insert ------------------------------------------------------------------------- */

struct pending_row {
    size_t idx;                 /* in the batch */
    size_t off, len;            /* its JSON in the text buffer */
};

static bool reason_is(json_t *errors, const char *reason)
{
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e) {
        const char *r = json_string_value(json_object_get(e, "reason"));
        if (r && strcmp(r, reason) == 0)
            return true;
    }
    return false;
}

/* "reason: message" of the first error that is not "stopped", for the dead letter. */
static void first_error(json_t *errors, char *buf, size_t len)
{
    size_t i;
    json_t *e;
    snprintf(buf, len, "rejected by BigQuery");
    json_array_foreach(errors, i, e) {
        const char *r = json_string_value(json_object_get(e, "reason"));
        const char *m = json_string_value(json_object_get(e, "message"));
        const char *loc = json_string_value(json_object_get(e, "location"));
        if (r && strcmp(r, "stopped") == 0)
            continue;
        snprintf(buf, len, "BigQuery %s%s%s: %s", r ? r : "error", loc && *loc ? " at " : "",
                 loc && *loc ? loc : "", m ? m : "");
        return;
    }
}

/*
 * Send rows[0..n) (their JSON in text) to url with insertAll, resending what
 * BigQuery stopped. Rows of b it calls invalid become dead letters in rej
 * (payload: the row as sent); with b NULL (dead letters themselves) they are
 * logged and dropped. *accepted counts rows stored.
 */
static int insert_rows(struct bq_store *s, const char *url, const struct batch *b,
                       const char *text, struct pending_row *rows, size_t n,
                       struct batch *rej, size_t *accepted)
{
    struct strbuf body = STRBUF_INIT;
    int rc = 0;
    for (int round = 0; n > 0; round++) {
        if (round >= INSERT_ROUNDS) {
            log_error("bigquery insertAll %s: %zu row(s) still not accepted after %d rounds",
                      url, n, INSERT_ROUNDS);
            rc = COLIBRI_EUNAVAIL;
            break;
        }
        strbuf_reset(&body);
        strbuf_adds(&body, "{\"kind\":\"bigquery#tableDataInsertAllRequest\","
                           "\"skipInvalidRows\":false,\"ignoreUnknownValues\":false,\"rows\":[");
        for (size_t i = 0; i < n; i++) {
            if (i)
                strbuf_addc(&body, ',');
            strbuf_add(&body, text + rows[i].off, rows[i].len);
        }
        strbuf_adds(&body, "]}");
        if (body.failed) {
            rc = COLIBRI_ENOMEM;
            break;
        }
        json_t *resp;
        long st;
        char err[512];
        if ((rc = bq_call(s, "POST", url, NULL, body.buf, &resp, &st, err, sizeof err)) != 0) {
            log_error("bigquery insertAll %s: %s (%s)", url, err, colibri_strerror(rc));
            break;
        }
        json_t *errs = json_object_get(resp, "insertErrors");
        size_t nerr = json_array_size(errs);
        /* keep[i]: 0 accepted, 1 resend, 2 rejected */
        unsigned char *keep = calloc(n ? n : 1, 1);
        if (!keep) {
            json_decref(resp);
            rc = COLIBRI_ENOMEM;
            break;
        }
        size_t k;
        json_t *e;
        bool transient = false;
        json_array_foreach(errs, k, e) {
            json_int_t idx = json_integer_value(json_object_get(e, "index"));
            json_t *why = json_object_get(e, "errors");
            if (idx < 0 || (size_t)idx >= n)
                continue;
            if (reason_is(why, "invalid")) {
                keep[idx] = 2;
            } else {
                keep[idx] = 1;     /* stopped, or a transient per-row failure (backendError, timeout) */
                if (!reason_is(why, "stopped"))
                    transient = true;
            }
        }
        size_t m = 0, dead = 0;
        for (size_t i = 0; i < n; i++) {
            if (keep[i] == 0) {
                (*accepted)++;
            } else if (keep[i] == 2) {
                char reason[512];
                json_array_foreach(errs, k, e)
                    if (json_integer_value(json_object_get(e, "index")) == (json_int_t)i)
                        first_error(json_object_get(e, "errors"), reason, sizeof reason);
                if (b) {
                    const struct row *r = &b->rows[rows[i].idx];
                    const struct value *id = &r->vals[schema_meta(s->schema, META_ID)];
                    const struct value *src = &r->vals[schema_meta(s->schema, META_SOURCE)];
                    char *idz = strndup(id->u.s.p, id->u.s.n);
                    char *srcz = src->is_null ? strdup("") : strndup(src->u.s.p, src->u.s.n);
                    int added = !idz || !srcz ? COLIBRI_ENOMEM
                              : batch_add_dead(rej, idz, srcz, reason, text + rows[i].off, rows[i].len, clock_real_us());
                    free(idz);
                    free(srcz);
                    if (added) {
                        free(keep);
                        json_decref(resp);
                        rc = COLIBRI_ENOMEM;
                        goto out;
                    }
                } else {
                    log_error("bigquery: a dead letter was refused (%s); it is dropped", reason);
                }
                dead++;
            } else {
                rows[m++] = rows[i];
            }
        }
        free(keep);
        json_decref(resp);
        if (nerr)
            log_warn("bigquery insertAll: %zu accepted, %zu invalid (dead-lettered), %zu to resend",
                     n - m - dead, dead, m);
        n = m;
        if (n && transient)
            clock_sleep_ms(gcp_backoff_ms(round));
    }
out:
    strbuf_release(&body);
    return rc;
}

static void add_batch_row(struct strbuf *sb, const struct bq_store *s, const struct batch *b, size_t i)
{
    add_row(sb, s->schema, &b->rows[i]);
}

static void add_batch_dead(struct strbuf *sb, const struct bq_store *s, const struct batch *b, size_t i)
{
    (void)s;
    const struct dead_letter *d = &b->dead[i];
    add_dead(sb, d->id, d->source, d->reason, d->payload, d->payload_len, d->at_us);
}

/*
 * Serialise items first..count with add(i) into text, then send them in
 * requests of at most INSERT_MAX_ROWS rows and INSERT_MAX_BYTES bytes.
 */
static int insert_all(struct bq_store *s, const char *url, const struct batch *b, size_t count,
                      void (*add)(struct strbuf *, const struct bq_store *, const struct batch *, size_t),
                      struct batch *rej, size_t *accepted)
{
    struct strbuf text = STRBUF_INIT;
    struct pending_row *rows = calloc(count ? count : 1, sizeof *rows);
    int rc = rows ? 0 : COLIBRI_ENOMEM;
    for (size_t i = 0; !rc && i < count; i++) {
        rows[i].idx = i;
        rows[i].off = text.len;
        add(&text, s, b, i);
        rows[i].len = text.len - rows[i].off;
    }
    if (!rc && text.failed)
        rc = COLIBRI_ENOMEM;
    size_t start = 0;
    while (!rc && start < count) {
        size_t end = start, bytes = 128;
        while (end < count && end - start < INSERT_MAX_ROWS &&
               (end == start || bytes + rows[end].len + 1 <= INSERT_MAX_BYTES)) {
            bytes += rows[end].len + 1;
            end++;
        }
        if (bytes > INSERT_MAX_BYTES) {
            log_error("bigquery insertAll: one row is %zu bytes, over the %u-byte request limit",
                      rows[start].len, INSERT_MAX_BYTES);
            rc = COLIBRI_ETOOBIG;
            break;
        }
        rc = insert_rows(s, url, add == add_batch_row ? b : NULL, text.buf, rows + start, end - start,
                         rej, accepted);
        start = end;
    }
    free(rows);
    strbuf_release(&text);
    return rc;
}

int bq_insert(void *ctx, const struct batch *b, struct insert_result *out)
{
    struct bq_store *s = ctx;
    struct strbuf url = STRBUF_INIT, durl = STRBUF_INIT;
    struct batch rej;           /* rows BigQuery called invalid, as dead letters */
    size_t stored = 0, dead = 0;
    int rc = 0;
    batch_init(&rej);
    strbuf_addf(&url, "%s/insertAll", s->table_url);
    strbuf_addf(&durl, "%s/datasets/%s/tables/" DEAD_TABLE "/insertAll", s->base, s->dataset);
    if (url.failed || durl.failed) {
        rc = COLIBRI_ENOMEM;
        goto out;
    }
    if (b->nrows)
        rc = insert_all(s, url.buf, b, b->nrows, add_batch_row, &rej, &stored);
    /* the batch's dead letters, then rows BigQuery refused: both before anything is acknowledged */
    if (!rc && b->ndead)
        rc = insert_all(s, durl.buf, b, b->ndead, add_batch_dead, NULL, &dead);
    if (!rc && rej.ndead)
        rc = insert_all(s, durl.buf, &rej, rej.ndead, add_batch_dead, NULL, &dead);
    if (!rc) {
        /* BigQuery does not say which insertIds it deduplicated: every accepted row counts as stored */
        out->stored = stored;
        out->duplicates = 0;
        out->dead = dead;
        bq_cache_wrote(&s->cache);
    }
out:
    strbuf_release(&url);
    strbuf_release(&durl);
    batch_release(&rej);
    return rc;
}

