/*
 * sqlite_batch.c — a batch's rows as a SQLite table-valued function, so
 * that one statement writes a whole batch:
 *
 *     INSERT INTO t (cols) SELECT cols FROM colibri_batch(?1) WHERE true ON CONFLICT …
 *
 * with ?1 bound by sqlite_batch_bind(). SQLite then opens the table's and
 * every index's cursors once per batch instead of once per row, and no value
 * is bound one by one: the rows are read where they lie. Eponymous only:
 * there is no CREATE VIRTUAL TABLE, the name exists on the connection that
 * registered it.
 */
#include <stdlib.h>
#include <string.h>

#include "colibri/strbuf.h"
#include "store/sqlite_batch.h"

#define POINTER_TYPE "colibri_batch"
#define HIDDEN_COLUMN "\"colibri batch\""   /* a space: no schema column can be called that */

struct batch_vtab {
    sqlite3_vtab base;
    const struct schema *schema;
};

struct batch_cursor {
    sqlite3_vtab_cursor base;
    const struct batch *batch;
    size_t row;
};

static int batch_connect(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out,
                         char **err)
{
    const struct schema *sc = aux;
    struct strbuf sb = STRBUF_INIT;
    (void)argc, (void)argv, (void)err;
    strbuf_adds(&sb, "CREATE TABLE x(");
    for (size_t i = 0; i < sc->ncols; i++)
        strbuf_addf(&sb, "\"%s\", ", sc->cols[i].name);
    strbuf_adds(&sb, HIDDEN_COLUMN " HIDDEN)");
    int rc = sb.failed ? SQLITE_NOMEM : sqlite3_declare_vtab(db, sb.buf);
    strbuf_release(&sb);
    if (rc != SQLITE_OK)
        return rc;
    struct batch_vtab *vt = sqlite3_malloc(sizeof *vt);
    if (!vt)
        return SQLITE_NOMEM;
    memset(vt, 0, sizeof *vt);
    vt->schema = sc;
    *out = &vt->base;
    return SQLITE_OK;
}

static int batch_disconnect(sqlite3_vtab *vt)
{
    sqlite3_free(vt);
    return SQLITE_OK;
}

/* The only plan: the batch pointer given as the hidden column's value. */
static int batch_best_index(sqlite3_vtab *vt, sqlite3_index_info *info)
{
    int hidden = (int)((struct batch_vtab *)vt)->schema->ncols;
    for (int i = 0; i < info->nConstraint; i++) {
        const struct sqlite3_index_constraint *c = &info->aConstraint[i];
        if (c->iColumn == hidden && c->op == SQLITE_INDEX_CONSTRAINT_EQ && c->usable) {
            info->aConstraintUsage[i].argvIndex = 1;
            info->aConstraintUsage[i].omit = 1;
            info->estimatedCost = 1;
            return SQLITE_OK;
        }
    }
    return SQLITE_CONSTRAINT;
}

static int batch_open(sqlite3_vtab *vt, sqlite3_vtab_cursor **out)
{
    struct batch_cursor *c = sqlite3_malloc(sizeof *c);
    (void)vt;
    if (!c)
        return SQLITE_NOMEM;
    memset(c, 0, sizeof *c);
    *out = &c->base;
    return SQLITE_OK;
}

static int batch_close(sqlite3_vtab_cursor *c)
{
    sqlite3_free(c);
    return SQLITE_OK;
}

static int batch_filter(sqlite3_vtab_cursor *base, int idx, const char *idxstr, int argc, sqlite3_value **argv)
{
    struct batch_cursor *c = (struct batch_cursor *)base;
    (void)idx, (void)idxstr;
    c->batch = argc == 1 ? sqlite3_value_pointer(argv[0], POINTER_TYPE) : NULL;
    c->row = 0;
    return SQLITE_OK;
}

static int batch_next(sqlite3_vtab_cursor *base)
{
    ((struct batch_cursor *)base)->row++;
    return SQLITE_OK;
}

static int batch_eof(sqlite3_vtab_cursor *base)
{
    struct batch_cursor *c = (struct batch_cursor *)base;
    return !c->batch || c->row >= c->batch->nrows;
}

/* Column n of the current row, in the store's types (see sqlite.c). */
static int batch_column(sqlite3_vtab_cursor *base, sqlite3_context *ctx, int n)
{
    struct batch_cursor *c = (struct batch_cursor *)base;
    const struct schema *sc = ((struct batch_vtab *)base->pVtab)->schema;
    if ((size_t)n >= sc->ncols) {
        sqlite3_result_null(ctx);
        return SQLITE_OK;
    }
    const struct value *v = &c->batch->rows[c->row].vals[n];
    char buf[16];
    if (v->is_null) {
        sqlite3_result_null(ctx);
        return SQLITE_OK;
    }
    switch (sc->cols[n].type) {
    case COL_STRING: case COL_NUMERIC: case COL_BIGNUMERIC: case COL_BYTES: case COL_JSON:
    case COL_GEOGRAPHY: case COL_RECORD: case COL_ARRAY:
        sqlite3_result_text(ctx, v->u.s.p, (int)v->u.s.n, SQLITE_STATIC);
        break;
    case COL_INT64: case COL_TIMESTAMP: case COL_DATETIME: case COL_TIME:
        sqlite3_result_int64(ctx, v->u.i);
        break;
    case COL_BOOL:
        sqlite3_result_int(ctx, v->u.b ? 1 : 0);
        break;
    case COL_FLOAT64:
        sqlite3_result_double(ctx, v->u.f);
        break;
    case COL_DATE:
        sqlite3_result_text(ctx, buf, (int)date_format(v->u.i, buf), SQLITE_TRANSIENT);
        break;
    }
    return SQLITE_OK;
}

static int batch_rowid(sqlite3_vtab_cursor *base, sqlite3_int64 *rowid)
{
    *rowid = (sqlite3_int64)((struct batch_cursor *)base)->row;
    return SQLITE_OK;
}

static const sqlite3_module batch_module = {
    .xConnect = batch_connect,
    .xBestIndex = batch_best_index,
    .xDisconnect = batch_disconnect,
    .xDestroy = batch_disconnect,
    .xOpen = batch_open,
    .xClose = batch_close,
    .xFilter = batch_filter,
    .xNext = batch_next,
    .xEof = batch_eof,
    .xColumn = batch_column,
    .xRowid = batch_rowid,
};

int sqlite_batch_register(sqlite3 *db, const struct schema *sc)
{
    return sqlite3_create_module_v2(db, SQLITE_BATCH_TABLE, &batch_module, (void *)sc, NULL);
}

int sqlite_batch_bind(sqlite3_stmt *st, int param, const struct batch *b)
{
    return sqlite3_bind_pointer(st, param, (void *)b, POINTER_TYPE, NULL);
}
