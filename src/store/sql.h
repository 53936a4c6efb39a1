/*
 * sql.h — one plan for a page of GET /data written as SQL in two dialects
 * (store backends only).
 *
 * A page is: the selected columns (the fields, then the event time and _id),
 * the filters, the keyset bound on (event time, _id), the order and limit + 1.
 * sqlite.c and bigquery.c each describe their dialect (identifier quotes,
 * how a parameter is written and kept, what the language lacks) and get the
 * same predicates from here, so the two stores cannot drift apart.
 */
#ifndef COLIBRI_STORE_SQL_H
#define COLIBRI_STORE_SQL_H

#include <stdbool.h>
#include <stddef.h>

#include "colibri/query.h"
#include "colibri/schema.h"
#include "colibri/strbuf.h"

enum sql_param_kind {
    SQL_PARAM_ONE,          /* vals[0] */
    SQL_PARAM_ARRAY,        /* vals[0..n) as one ARRAY parameter */
    SQL_PARAM_PREFIX_END,   /* the smallest string above every string with prefix vals[0] */
    SQL_PARAM_JSON,         /* vals[0] as a JSON text holds it (json_extract's SQL value) */
    SQL_PARAM_DECKEY,       /* vals[0], a decimal, as its order key (decimal_key) */
};

struct sql_dialect {
    char quote;                 /* identifier quote: '"' or '`' */
    const char *true_lit;       /* "1" or "TRUE" */
    bool row_values;            /* keyset bound as (t, id) < (x, y); else spelled out */
    bool array_in;              /* IN UNNEST(@array); else IN (?, ?, ...) */
    bool starts_with;           /* STARTS_WITH(c, @p); else the range c >= p AND c < end */
    bool limit_param;           /* LIMIT as a parameter; else a literal */
    bool json_paths;            /* records and arrays are JSON text: json_extract, json_each;
                                   else dotted paths and UNNEST */
    const char *dec_key;        /* NUMERIC ranges compare dec_key(column) with a
                                   SQL_PARAM_DECKEY; NULL: the column itself */
    /* Whether f may choose the index; when not, its column is written with a
     * unary + so that no index serves it. NULL: every filter may. */
    bool (*may_choose_index)(const struct schema *sc, const struct filter *f);
};

struct sql_writer {
    const struct sql_dialect *d;
    const struct schema *sc;
    struct strbuf *sb;          /* the statement */
    /* Keep a parameter (t, vals[0..n)) and write its placeholder to out; 0 or ENOMEM. */
    int (*param)(void *ud, struct strbuf *out, enum col_type t, const struct value *vals, size_t n,
                 enum sql_param_kind kind);
    void *ud;
    int rc;                     /* the first failure of param */
};

/* One walk per value of column col (SQLite's plan for `in` on an x-cluster column). */
struct sql_split {
    size_t col;
    const struct value *const *vals;
    size_t nvals;
};

/* The columns a page selects: q's fields, then the event time and _id. Caller frees *cols. */
int sql_page_columns(const struct schema *sc, const struct query *q, size_t **cols, size_t *ncols);

/* name in the dialect's quotes (names are schema-validated; quoted anyway). */
void sql_ident(struct strbuf *sb, char quote, const char *name);

/* "a, b, c" for columns cols[0..n) of w->sc. */
void sql_columns(struct sql_writer *w, const size_t *cols, size_t n);

/* " AND <f>"; hide: with a unary + on the column, so that no index serves it. */
void sql_filter(struct sql_writer *w, const struct filter *f, bool hide);

/* Bytes of prefix p that its range's upper bound keeps: all but trailing 0xff; 0 = unbounded. */
size_t sql_prefix_bound_len(const struct value *p);

/*
 * The SELECT of q's page from table `from` (already quoted), selecting
 * cols[0..ncols) (sql_page_columns), one arm per split value merged with
 * UNION ALL when split is not NULL. Parameters go through w->param in the
 * order their placeholders appear. 0 or ENOMEM.
 */
int sql_select_page(struct sql_writer *w, const char *from, const struct query *q,
                    const size_t *cols, size_t ncols, const struct sql_split *split);

#endif
