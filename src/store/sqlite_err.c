/*
 * sqlite_err.c — SQLite result codes in colibri's vocabulary, and running
 * plain SQL with the failure logged: what every file of the SQLite store uses.
 */
#include "colibri/error.h"
#include "colibri/log.h"
#include "store/sqlite_int.h"

int sqlite_map_err(sqlite3 *db, int rc, const char *what)
{
    log_error("sqlite %s: %s (%d)", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc), rc);
    switch (rc & 0xff) {
    case SQLITE_BUSY: case SQLITE_LOCKED: case SQLITE_READONLY: case SQLITE_FULL:
    case SQLITE_IOERR: case SQLITE_CANTOPEN: case SQLITE_PROTOCOL:
        return COLIBRI_EUNAVAIL;
    case SQLITE_NOMEM:
        return COLIBRI_ENOMEM;
    case SQLITE_INTERRUPT:
        return COLIBRI_ETIMEOUT;
    default:
        return COLIBRI_EIO;
    }
}

int sqlite_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        log_error("sqlite: %s: %s", sql, msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return sqlite_map_err(NULL, rc, "exec");
    }
    return 0;
}
