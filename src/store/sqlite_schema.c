/*
 * sqlite_schema.c — the SQLite store's tables: the data table with its
 * indexes (event time, and each x-cluster column), _dead_letters and
 * _positions, created when missing; nullable columns the schema gained are
 * added to an existing table.
 */
#include <stdbool.h>
#include <stdlib.h>

#include "colibri/error.h"
#include "colibri/log.h"
#include "colibri/strbuf.h"
#include "store/sql.h"
#include "store/sqlite_int.h"

static const char *sql_type(enum col_type t)
{
    switch (t) {
    case COL_INT64: case COL_BOOL: case COL_TIMESTAMP: case COL_DATETIME: case COL_TIME:
        return "INTEGER";
    case COL_FLOAT64: return "REAL";
    case COL_STRING: case COL_DATE: default: return "TEXT";
    }
}

/*
 * "a, b, c" for columns cols[0..n) of sc (every column when cols is NULL);
 * declare adds each column's type and NOT NULL, for CREATE TABLE.
 */
void sqlite_add_columns(struct strbuf *sb, const struct schema *sc, const size_t *cols, size_t n,
                        bool declare)
{
    for (size_t i = 0; i < n; i++) {
        const struct column *c = &sc->cols[cols ? cols[i] : i];
        if (i)
            strbuf_adds(sb, ", ");
        sql_ident(sb, '"', c->name);
        if (declare)
            strbuf_addf(sb, " %s%s", sql_type(c->type), c->required ? " NOT NULL" : "");
    }
}

/* Add nullable schema columns missing from an existing table; fail on required ones. */
void sqlite_add_table(struct strbuf *sb, const char *verb, const struct schema *sc, bool declare)
{
    strbuf_adds(sb, verb);
    sql_ident(sb, '"', sc->table);
    strbuf_adds(sb, " (");
    sqlite_add_columns(sb, sc, NULL, sc->ncols, declare);
}

static int evolve_table(sqlite3 *db, const struct schema *sc, const char *path)
{
    struct strbuf sb = STRBUF_INIT;
    sqlite3_stmt *st = NULL;
    int rc = 0;
    bool *present = calloc(sc->ncols, sizeof *present);
    if (!present)
        return COLIBRI_ENOMEM;
    strbuf_addf(&sb, "PRAGMA table_info(\"%s\")", sc->table);
    if (sqlite3_prepare_v2(db, sb.buf, -1, &st, NULL) != SQLITE_OK) {
        rc = sqlite_map_err(db, sqlite3_errcode(db), "table_info");
        goto out;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        int c = schema_find(sc, (const char *)sqlite3_column_text(st, 1));
        if (c >= 0 && (size_t)c < sc->ncols)
            present[c] = true;
    }
    for (size_t i = 0; i < sc->ncols; i++) {
        if (present[i])
            continue;
        if (sc->cols[i].required || sc->cols[i].metadata) {
            log_error("table %s in %s has no column %s, which the schema requires; "
                      "migrate the table or use a new database file",
                      sc->table, path, sc->cols[i].name);
            rc = COLIBRI_ECONFIG;
            goto out;
        }
        strbuf_reset(&sb);
        strbuf_addf(&sb, "ALTER TABLE \"%s\" ADD COLUMN \"%s\" %s", sc->table,
                    sc->cols[i].name, sql_type(sc->cols[i].type));
        if ((rc = sqlite_exec(db, sb.buf)))
            goto out;
        log_info("added column %s to table %s", sc->cols[i].name, sc->table);
    }
out:
    sqlite3_finalize(st);
    strbuf_release(&sb);
    free(present);
    return rc;
}

int sqlite_create_tables(sqlite3 *db, const struct schema *sc, const char *path)
{
    struct strbuf sb = STRBUF_INIT;
    int rc;

    sqlite_add_table(&sb, "CREATE TABLE IF NOT EXISTS ", sc, true);
    strbuf_adds(&sb, ", UNIQUE(\"_id\"));\n");
    strbuf_addf(&sb, "CREATE INDEX IF NOT EXISTS \"%s_by_time\" ON \"%s\"(\"%s\", \"_id\");\n",
                sc->table, sc->table, sc->cols[sc->event_time].name);
    for (size_t i = 0; i < sc->ncols; i++)
        if (sc->cols[i].cluster)
            strbuf_addf(&sb, "CREATE INDEX IF NOT EXISTS \"%s_by_%s\" ON \"%s\"(\"%s\", \"%s\");\n",
                        sc->table, sc->cols[i].name, sc->table, sc->cols[i].name,
                        sc->cols[sc->event_time].name);
    strbuf_adds(&sb,
        "CREATE TABLE IF NOT EXISTS _dead_letters (id TEXT PRIMARY KEY, source TEXT, reason TEXT,"
        " payload TEXT, at INTEGER);\n"
        "CREATE TABLE IF NOT EXISTS _positions (key TEXT PRIMARY KEY, next INTEGER NOT NULL,"
        " witness INTEGER);\n");
    if (sb.failed) {
        rc = COLIBRI_ENOMEM;
        goto out;
    }
    if ((rc = sqlite_exec(db, sb.buf)))
        goto out;
    rc = evolve_table(db, sc, path);
    /* files from before the witness column (see batch.h) get it; their positions have none */
    if (!rc && sqlite3_exec(db, "SELECT witness FROM _positions LIMIT 0", NULL, NULL, NULL) != SQLITE_OK)
        rc = sqlite_exec(db, "ALTER TABLE _positions ADD COLUMN witness INTEGER");
out:
    strbuf_release(&sb);
    return rc;
}
