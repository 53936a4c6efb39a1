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

/* Create the tables and indexes of sc that are missing (path names the file in messages). */
int sqlite_create_tables(sqlite3 *db, const struct schema *sc, const char *path);

#endif
