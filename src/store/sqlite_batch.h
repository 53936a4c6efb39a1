/*
 * sqlite_batch.h — a batch's rows as the table-valued function
 * colibri_batch(?) on one SQLite connection (see sqlite_batch.c).
 */
#ifndef COLIBRI_SQLITE_BATCH_H
#define COLIBRI_SQLITE_BATCH_H
#include <sqlite3.h>
#include "colibri/batch.h"

#define SQLITE_BATCH_TABLE "colibri_batch"

/* Make colibri_batch(?) exist on db, with sc's columns; sc is borrowed for db's lifetime. */
int sqlite_batch_register(sqlite3 *db, const struct schema *sc);

/* Bind parameter param of st to the rows of b (borrowed until st is reset). */
int sqlite_batch_bind(sqlite3_stmt *st, int param, const struct batch *b);

#endif
