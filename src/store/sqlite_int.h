/*
 * sqlite_int.h — what the SQLite store's files share (store/sqlite*.c only).
 */
#ifndef COLIBRI_SQLITE_INT_H
#define COLIBRI_SQLITE_INT_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>

#include "colibri/schema.h"
#include "colibri/strbuf.h"
#include "sql.h"

/* Map a SQLite result code to ours (logged with what): a store that cannot write is "unavailable". */
int sqlite_map_err(sqlite3 *db, int rc, const char *what);

/* Run sql (one or more statements) on db; failures are logged. */
int sqlite_exec(sqlite3 *db, const char *sql);

/*
 * "a, b, c" for columns cols[0..n) of sc (every column when cols is NULL);
 * declare adds each column's type and NOT NULL, for CREATE TABLE.
 */
void sqlite_add_columns(struct strbuf *sb, const struct schema *sc, const size_t *cols, size_t n,
                        bool declare);

/* verb, the table's name and " (" with every column (declared, for CREATE TABLE): the head of a statement. */
void sqlite_add_table(struct strbuf *sb, const char *verb, const struct schema *sc, bool declare);

/*
 * Bind v (of type t) to parameter i of st as kind says (sql.h): as stored
 * (SQL_PARAM_ONE, SQL_PARAM_ARRAY), as json_extract returns it from a
 * record's JSON text (SQL_PARAM_JSON), or as a decimal's order key
 * (SQL_PARAM_DECKEY). A sqlite3_bind_* result code (sqlite_types.c).
 */
int sqlite_bind_param(sqlite3_stmt *st, int i, enum col_type t, const struct value *v,
                      enum sql_param_kind kind);

/* colibri_deckey(text) on db: the order key of a decimal (decimal_key), NULL if not one. */
int sqlite_register_types(sqlite3 *db);

/* Create the tables and indexes of sc that are missing (path names the file in messages). */
int sqlite_create_tables(sqlite3 *db, const struct schema *sc, const char *path);

#endif
