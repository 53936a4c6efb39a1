/*
 * data.c — GET /data (a page of rows, keyset-paginated, as JSON, NDJSON or
 * CSV) and GET /data/{id}.
 *
 * Rows stream from the store into the response buffer through a row_sink;
 * the store returns one row past the limit, which tells us there is a next
 * page without a second query.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "colibri/error.h"
#include "colibri/log.h"
#include "colibri/nested.h"
#include "http/http_int.h"

/* Cell v of column c, or only the parts of it that fields= named (parts may be NULL). */
static void cell(struct strbuf *sb, const struct column *c, const struct value *v,
                 const struct field_part *part, enum value_style style)
{
    if (!part || !part->npaths || v->is_null) {
        value_format(c->type, v, sb, style);
        return;
    }
    struct strbuf cut = STRBUF_INIT;
    struct value x = { .u.s = { NULL, 0 } };
    nested_project(c, v->u.s.p, v->u.s.n, part->paths, part->npaths, &cut);
    x.u.s.p = cut.buf ? cut.buf : "";
    x.u.s.n = cut.len;
    sb->failed |= cut.failed;
    value_format(c->type, &x, sb, style);
    strbuf_release(&cut);
}

/* Append one row as a JSON object of the first n columns (parts: as in struct query, or NULL). */
static void json_row(struct strbuf *sb, const struct schema *s, const size_t *cols, size_t n,
                     const struct value *vals, const struct field_part *parts)
{

    for (size_t i = 0; i < n; i++) {
        const struct column *c = &s->cols[cols[i]];
        json_key_add(sb, c, i == 0);
        if (!parts)
            value_format(c->type, &vals[i], sb, VALUE_JSON);
        else
            cell(sb, c, &vals[i], &parts[i], VALUE_JSON);
    }
    strbuf_adds(sb, n ? "}" : "{}");
}

struct page {
    const struct schema *s;
    const struct query *q;
    struct strbuf *out;
    size_t n;               /* rows written */
    bool more;              /* the store had a row past the limit */
    int64_t last_time;
    struct strbuf last_id;
};

static int page_row(void *ud, const size_t *cols, size_t ncols, const struct value *vals)
{
    struct page *pg = ud;
    const struct query *q = pg->q;
    if (pg->n == q->limit) {
        pg->more = true;
        return 0;
    }
    switch (q->format) {
    case FMT_JSON:
        if (pg->n)
            strbuf_addc(pg->out, ',');
        json_row(pg->out, pg->s, cols, q->nfields, vals, q->parts);
        break;
    case FMT_NDJSON:
        json_row(pg->out, pg->s, cols, q->nfields, vals, q->parts);
        strbuf_addc(pg->out, '\n');
        break;
    case FMT_CSV:
        for (size_t i = 0; i < q->nfields; i++) {
            if (i)
                strbuf_addc(pg->out, ',');
            cell(pg->out, &pg->s->cols[cols[i]], &vals[i], q->parts ? &q->parts[i] : NULL,
                 VALUE_CSV);
        }
        strbuf_add(pg->out, "\r\n", 2);
        break;
    }
    /* the store appends the event time and _id after the fields */
    pg->last_time = vals[q->nfields].u.i;
    strbuf_reset(&pg->last_id);
    strbuf_add(&pg->last_id, vals[q->nfields + 1].u.s.p, vals[q->nfields + 1].u.s.n);
    pg->n++;
    return pg->out->failed || pg->last_id.failed ? COLIBRI_ENOMEM : 0;
}

/* "</data?<query without cursor>&cursor=TOKEN>; rel=\"next\"" */
static char *next_link(const char *qs, const char *token)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_adds(&sb, "</data?");
    for (const char *p = qs; *p;) {
        size_t n = strcspn(p, "&");
        bool is_cursor = (n >= 7 && strncmp(p, "cursor=", 7) == 0) || (n == 6 && strncmp(p, "cursor", 6) == 0);
        if (n && !is_cursor) {
            strbuf_add(&sb, p, n);
            strbuf_addc(&sb, '&');
        }
        p += n + (p[n] == '&');
    }
    strbuf_addf(&sb, "cursor=%s>; rel=\"next\"", token);
    return strbuf_detach(&sb, NULL);
}

static const char *const content_types[] = {
    [FMT_JSON] = "application/json",
    [FMT_NDJSON] = "application/x-ndjson",
    [FMT_CSV] = "text/csv; charset=utf-8",
};

int route_data(const struct route_ctx *ctx, struct request *req, struct reply *rep)
{
    const struct http_env *env = ctx->env;
    const struct schema *s = env->schema;
    struct query q;
    char err[256];
    int rc = query_parse(s, env->cursor_key, req->query, &q, err, sizeof err);
    if (rc)
        return reply_fail(rep, rc, NULL, "%s", err);

    q.timeout_ms = env->cfg->query_timeout_ms;
    struct page pg = { .s = s, .q = &q, .out = &rep->body, .last_id = STRBUF_INIT };
    strbuf_grow(&rep->body, q.limit * 32 * q.nfields);   /* one allocation for most pages */
    struct row_sink sink = { .row = page_row, .ud = &pg };
    if (q.format == FMT_JSON) {
        strbuf_adds(&rep->body, "{\"data\":[");
    } else if (q.format == FMT_CSV) {
        for (size_t i = 0; i < q.nfields; i++) {
            strbuf_adds(&rep->body, i ? "," : "");
            strbuf_adds(&rep->body, s->cols[q.fields[i]].name);
        }
        strbuf_add(&rep->body, "\r\n", 2);
    }
    rc = store_query(env->store, &q, &sink);
    if (rc == COLIBRI_ETIMEOUT) {
        rc = reply_fail(rep, rc, "query_timeout", "the query ran longer than %ld ms; narrow it with "
                        "since/until or an indexed filter", q.timeout_ms);
        goto out;
    }
    if (rc) {
        rc = reply_fail(rep, rc, NULL, "the store could not answer: %s", colibri_strerror(rc));
        goto out;
    }
    char token[CURSOR_MAX] = "";
    if (pg.more && (rc = cursor_encode(env->cursor_key, &q, pg.last_time, pg.last_id.buf,
                                       pg.last_id.len, token, sizeof token)) != 0)
        goto out;
    if (q.format == FMT_JSON) {
        strbuf_adds(&rep->body, "],\"next_cursor\":");
        strbuf_adds(&rep->body, pg.more ? "\"" : "null");
        if (pg.more) {
            strbuf_adds(&rep->body, token);
            strbuf_addc(&rep->body, '"');
        }
        strbuf_adds(&rep->body, "}\n");
    }
    if (pg.more && !(rep->link = next_link(req->query, token))) {
        rc = COLIBRI_ENOMEM;
        goto out;
    }
    rep->content_type = content_types[q.format];
    rc = rep->body.failed ? COLIBRI_ENOMEM : 0;
out:
    strbuf_release(&pg.last_id);
    query_release(&q);
    return rc;
}

static int one_row(void *ud, const size_t *cols, size_t ncols, const struct value *vals)
{
    struct page *pg = ud;
    json_row(pg->out, pg->s, cols, ncols, vals, NULL);
    strbuf_addc(pg->out, '\n');
    return 0;
}

int route_data_id(const struct route_ctx *ctx, struct request *req, struct reply *rep)
{
    const char *raw = req->uri + strlen("/data/");
    size_t rawlen = req->path_len - strlen("/data/");
    char *id = malloc(rawlen + 1);
    if (!id)
        return COLIBRI_ENOMEM;
    int rc;
    long n = url_decode(raw, rawlen, id);
    if (n < 0) {
        rc = reply_fail(rep, COLIBRI_EINVAL, NULL, "id: broken %%-encoding");
        goto out;
    }
    id[n] = '\0';
    if (strlen(id) != (size_t)n) {
        rc = reply_fail(rep, COLIBRI_EINVAL, NULL, "id: must not contain NUL");
        goto out;
    }
    struct page pg = { .s = ctx->env->schema, .out = &rep->body };
    struct row_sink sink = { .row = one_row, .ud = &pg };
    rc = store_get(ctx->env->store, id, &sink);
    if (rc == COLIBRI_ENOTFOUND)
        rc = reply_fail(rep, rc, NULL, "no row with _id '%.200s'", id);
    else if (rc)
        rc = reply_fail(rep, rc, NULL, "the store could not answer: %s", colibri_strerror(rc));
    rep->content_type = "application/json";
out:
    free(id);
    return rc;
}
