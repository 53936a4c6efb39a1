/*
 * sql.c — a page of GET /data as SQL, for any dialect sql.h can describe.
 */
#include "store/sql.h"

#include <stdlib.h>
#include <string.h>

#include "colibri/error.h"

static const char *const op_sql[] = {
    [OP_EQ] = " = ", [OP_NE] = " <> ", [OP_GT] = " > ", [OP_GTE] = " >= ",
    [OP_LT] = " < ", [OP_LTE] = " <= ",
};

int sql_page_columns(const struct schema *sc, const struct query *q, size_t **cols, size_t *ncols)
{
    *ncols = q->nfields + 2;
    if (!(*cols = malloc(*ncols * sizeof **cols)))
        return COLIBRI_ENOMEM;
    memcpy(*cols, q->fields, q->nfields * sizeof *q->fields);
    (*cols)[q->nfields] = sc->event_time;
    (*cols)[q->nfields + 1] = schema_meta(sc, META_ID);
    return 0;
}

void sql_ident(struct strbuf *sb, char quote, const char *name)
{
    strbuf_addc(sb, quote);
    strbuf_adds(sb, name);
    strbuf_addc(sb, quote);
}

void sql_columns(struct sql_writer *w, const size_t *cols, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i)
            strbuf_adds(w->sb, ", ");
        sql_ident(w->sb, w->d->quote, w->sc->cols[cols[i]].name);
    }
}

/* A parameter's placeholder, into the statement. */
static void param(struct sql_writer *w, enum col_type t, const struct value *vals, size_t n,
                  enum sql_param_kind kind)
{
    int rc = w->param(w->ud, w->sb, t, vals, n, kind);
    if (rc && !w->rc)
        w->rc = rc;
}

size_t sql_prefix_bound_len(const struct value *p)
{
    size_t len = p->u.s.n;
    while (len > 0 && (unsigned char)p->u.s.p[len - 1] == 0xff)
        len--;
    return len;
}

/* What f tests: its column, or a field inside the column's records. */
static void filter_ref(struct sql_writer *w, const struct filter *f)
{
    const char *name = w->sc->cols[f->col].name;
    struct strbuf *sb = w->sb;

    if (!f->path) {
        sql_ident(sb, w->d->quote, name);
    } else if (w->d->json_paths) {      /* path segments are schema names: nothing to escape */
        strbuf_adds(sb, "json_extract(");
        sql_ident(sb, w->d->quote, name);
        strbuf_addf(sb, ", '$.%s')", f->path);
    } else {
        sql_ident(sb, w->d->quote, name);
        for (const char *seg = f->path, *dot; seg; seg = dot ? dot + 1 : NULL) {
            dot = strchr(seg, '.');
            strbuf_addc(sb, '.');
            strbuf_addc(sb, w->d->quote);
            strbuf_add(sb, seg, dot ? (size_t)(dot - seg) : strlen(seg));
            strbuf_addc(sb, w->d->quote);
        }
    }
}

/* " AND x contains v": an element of the array equals v. */
static void contains(struct sql_writer *w, const struct filter *f, const char *and)
{
    const char *name = w->sc->cols[f->col].name;
    struct strbuf *sb = w->sb;

    strbuf_adds(sb, and);
    if (w->d->json_paths) {
        strbuf_adds(sb, "EXISTS (SELECT 1 FROM json_each(");
        sql_ident(sb, w->d->quote, name);
        if (f->path)
            strbuf_addf(sb, ", '$.%s'", f->path);
        strbuf_adds(sb, ") WHERE value = ");
        param(w, filter_type(f), f->vals, 1, SQL_PARAM_JSON);
        strbuf_addc(sb, ')');
        return;
    }
    param(w, filter_type(f), f->vals, 1, SQL_PARAM_ONE);
    strbuf_adds(sb, " IN UNNEST(");
    filter_ref(w, f);
    strbuf_addc(sb, ')');
}

void sql_filter(struct sql_writer *w, const struct filter *f, bool hide)
{
    enum col_type t = filter_type(f);
    const char *and = hide ? " AND +" : " AND ";
    struct strbuf *sb = w->sb;
    /* values of a field inside a JSON text compare as json_extract returns them */
    enum sql_param_kind one = f->path && w->d->json_paths ? SQL_PARAM_JSON : SQL_PARAM_ONE;
    bool range = f->op == OP_GT || f->op == OP_GTE || f->op == OP_LT || f->op == OP_LTE;

    if (f->op == OP_CONTAINS) {
        contains(w, f, and);
        return;
    }
    strbuf_adds(sb, and);
    if (f->op == OP_PREFIX && w->d->starts_with) {
        strbuf_adds(sb, "STARTS_WITH(");
        filter_ref(w, f);
        strbuf_adds(sb, ", ");
        param(w, t, f->vals, 1, one);
        strbuf_addc(sb, ')');
        return;
    }
    if (range && (t == COL_NUMERIC || t == COL_BIGNUMERIC) && w->d->dec_key) {
        /* exact: the order keys of the two decimals, never their doubles */
        strbuf_addf(sb, "%s(", w->d->dec_key);
        filter_ref(w, f);
        strbuf_addf(sb, ")%s", op_sql[f->op]);
        param(w, t, f->vals, 1, SQL_PARAM_DECKEY);
        return;
    }
    filter_ref(w, f);
    switch (f->op) {
    case OP_IN:
        if (w->d->array_in) {
            strbuf_adds(sb, " IN UNNEST(");
            param(w, t, f->vals, f->nvals, SQL_PARAM_ARRAY);
        } else {
            strbuf_adds(sb, " IN (");
            for (size_t k = 0; k < f->nvals; k++) {
                if (k)
                    strbuf_adds(sb, ", ");
                param(w, t, &f->vals[k], 1, one);
            }
        }
        strbuf_addc(sb, ')');
        break;
    case OP_PREFIX:     /* a range, so that the index can serve it */
        strbuf_adds(sb, " >= ");
        param(w, t, f->vals, 1, one);
        if (sql_prefix_bound_len(&f->vals[0])) {
            strbuf_adds(sb, and);
            filter_ref(w, f);
            strbuf_adds(sb, " < ");
            param(w, t, f->vals, 1, SQL_PARAM_PREFIX_END);
        }
        break;
    case OP_ISNULL:
        strbuf_adds(sb, f->vals[0].u.b ? " IS NULL" : " IS NOT NULL");
        break;
    default:
        strbuf_adds(sb, op_sql[f->op]);
        param(w, t, f->vals, 1, one);
        break;
    }
}

/* " AND (t, id) < (x, y)", or spelled out where the dialect has no row values. */
static void keyset_bound(struct sql_writer *w, const struct query *q)
{
    const struct schema *sc = w->sc;
    const char *cmp = q->desc ? " < " : " > ";
    char qt = w->d->quote;
    struct value tv = { .u.i = q->cur_time };
    struct value idv = { .u.s = { q->cur_id, strlen(q->cur_id) } };
    struct strbuf t = STRBUF_INIT, id = STRBUF_INIT;

    if (w->d->row_values) {
        strbuf_adds(w->sb, " AND (");
        sql_ident(w->sb, qt, sc->cols[sc->event_time].name);
        strbuf_adds(w->sb, ", ");
        sql_ident(w->sb, qt, "_id");
        strbuf_addf(w->sb, ")%s(", cmp);
        param(w, COL_TIMESTAMP, &tv, 1, SQL_PARAM_ONE);
        strbuf_adds(w->sb, ", ");
        param(w, COL_STRING, &idv, 1, SQL_PARAM_ONE);
        strbuf_addc(w->sb, ')');
        return;
    }
    /* t < @x OR (t = @x AND id < @y): the time parameter is written twice */
    if (w->param(w->ud, &t, COL_TIMESTAMP, &tv, 1, SQL_PARAM_ONE) ||
        w->param(w->ud, &id, COL_STRING, &idv, 1, SQL_PARAM_ONE) || t.failed || id.failed) {
        w->rc = w->rc ? w->rc : COLIBRI_ENOMEM;
    } else {
        const char *et = sc->cols[sc->event_time].name;
        strbuf_addf(w->sb, " AND (%c%s%c%s%s OR (%c%s%c = %s AND %c_id%c%s%s))",
                    qt, et, qt, cmp, t.buf, qt, et, qt, t.buf, qt, qt, cmp, id.buf);
    }
    strbuf_release(&t);
    strbuf_release(&id);
}

/* " AND <event time> <cmp> <us>" */
static void time_bound(struct sql_writer *w, const char *cmp, int64_t us)
{
    struct value tv = { .u.i = us };
    strbuf_adds(w->sb, " AND ");
    sql_ident(w->sb, w->d->quote, w->sc->cols[w->sc->event_time].name);
    strbuf_adds(w->sb, cmp);
    param(w, COL_TIMESTAMP, &tv, 1, SQL_PARAM_ONE);
}

/* " WHERE ..." of one walk (arm: which split value). */
static void where(struct sql_writer *w, const struct query *q, const struct sql_split *split,
                  size_t arm)
{
    const struct schema *sc = w->sc;

    strbuf_addf(w->sb, " WHERE %s", w->d->true_lit);
    if (q->has_since)
        time_bound(w, " >= ", q->since);
    if (q->has_until)
        time_bound(w, " < ", q->until);
    for (size_t k = 0; k < q->nfilters; k++) {
        const struct filter *f = &q->filters[k];
        sql_filter(w, f, w->d->may_choose_index && !w->d->may_choose_index(sc, f));
    }
    if (split) {
        strbuf_adds(w->sb, " AND ");
        sql_ident(w->sb, w->d->quote, sc->cols[split->col].name);
        strbuf_adds(w->sb, " = ");
        param(w, sc->cols[split->col].type, split->vals[arm], 1, SQL_PARAM_ONE);
    }
    if (q->has_cursor)
        keyset_bound(w, q);
}

/* " LIMIT n" */
static void limit(struct sql_writer *w, size_t n)
{
    struct value v = { .u.i = (int64_t)n };
    if (!w->d->limit_param) {
        strbuf_addf(w->sb, " LIMIT %zu", n);
        return;
    }
    strbuf_adds(w->sb, " LIMIT ");
    param(w, COL_INT64, &v, 1, SQL_PARAM_ONE);
}

int sql_select_page(struct sql_writer *w, const char *from, const struct query *q,
                    const size_t *cols, size_t ncols, const struct sql_split *split)
{
    const struct schema *sc = w->sc;
    const char *dir = q->desc ? "DESC" : "ASC";
    size_t arms = split ? split->nvals : 1;
    char qt = w->d->quote;

    for (size_t k = 0; k < arms; k++) {
        if (split)
            strbuf_adds(w->sb, k ? " UNION ALL SELECT * FROM (" : "SELECT * FROM (");
        strbuf_adds(w->sb, "SELECT ");
        sql_columns(w, cols, ncols);
        strbuf_adds(w->sb, " FROM ");
        strbuf_adds(w->sb, from);
        where(w, q, split, k);
        strbuf_addf(w->sb, " ORDER BY %c%s%c %s, %c_id%c %s", qt, sc->cols[sc->event_time].name, qt,
                    dir, qt, qt, dir);
        limit(w, q->limit + 1);
        if (split)
            strbuf_addc(w->sb, ')');
    }
    if (split) {    /* the merge, by position: event time and _id are the last two columns */
        strbuf_addf(w->sb, " ORDER BY %zu %s, %zu %s", ncols - 1, dir, ncols, dir);
        limit(w, q->limit + 1);
    }
    return w->rc ? w->rc : w->sb->failed ? COLIBRI_ENOMEM : 0;
}
