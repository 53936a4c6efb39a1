/*
 * sqlite_types.c — colibri's types in SQLite (docs/types.md, "Storage"):
 * how a parameter is bound, and colibri_deckey, which orders decimals
 * exactly.
 */
#include "colibri/decimal.h"
#include "colibri/error.h"
#include "store/sql.h"
#include "store/sqlite_int.h"

/* As stored: text types as text, times as integers, DATE as its text. */
static int bind_stored(sqlite3_stmt *st, int i, enum col_type t, const struct value *v)
{
    char buf[16];
    if (v->is_null)
        return sqlite3_bind_null(st, i);
    if (col_type_is_text(t))
        return sqlite3_bind_text(st, i, v->u.s.p, (int)v->u.s.n, SQLITE_STATIC);
    switch (t) {
    case COL_INT64: case COL_TIMESTAMP: case COL_DATETIME: case COL_TIME:
        return sqlite3_bind_int64(st, i, v->u.i);
    case COL_BOOL:
        return sqlite3_bind_int(st, i, v->u.b ? 1 : 0);
    case COL_FLOAT64:
        return sqlite3_bind_double(st, i, v->u.f);
    case COL_DATE:
        return sqlite3_bind_text(st, i, buf, (int)date_format(v->u.i, buf), SQLITE_TRANSIENT);
    default:
        return SQLITE_MISUSE;
    }
}

int sqlite_bind_param(sqlite3_stmt *st, int i, enum col_type t, const struct value *v,
                      enum sql_param_kind kind)
{
    char buf[DEC_KEY_LEN + 1];
    size_t n;

    if (v->is_null)
        return sqlite3_bind_null(st, i);
    if (kind == SQL_PARAM_DECKEY) {
        decimal_key(v->u.s.p, v->u.s.n, buf);
        return sqlite3_bind_text(st, i, buf, DEC_KEY_LEN, SQLITE_TRANSIENT);
    }
    if (kind != SQL_PARAM_JSON)
        return bind_stored(st, i, t, v);
    /* json_extract gives the times of a record's JSON text as the text colibri wrote */
    switch (t) {
    case COL_TIMESTAMP: n = timestamp_format(v->u.i, buf); break;
    case COL_DATE:      n = date_format(v->u.i, buf); break;
    case COL_DATETIME:  n = datetime_format(v->u.i, buf); break;
    case COL_TIME:      n = time_format(v->u.i, buf); break;
    default:            return bind_stored(st, i, t, v);
    }
    return sqlite3_bind_text(st, i, buf, (int)n, SQLITE_TRANSIENT);
}

/* colibri_deckey(x): x's decimal order key, or NULL when x is not a decimal. */
static void deckey(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    const char *text = (const char *)sqlite3_value_text(argv[0]);
    char canon[DEC_TEXT_MAX], key[DEC_KEY_LEN];
    size_t n;

    (void)argc;
    if (!text || decimal_canon(text, (size_t)sqlite3_value_bytes(argv[0]), DEC_DIGITS_MAX,
                               DEC_DIGITS_MAX, canon, &n, NULL, 0)) {
        sqlite3_result_null(ctx);
        return;
    }
    decimal_key(canon, n, key);
    sqlite3_result_text(ctx, key, DEC_KEY_LEN, SQLITE_TRANSIENT);
}

int sqlite_register_types(sqlite3 *db)
{
    int rc = sqlite3_create_function(db, "colibri_deckey", 1,
                                     SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS,
                                     NULL, deckey, NULL, NULL);
    return rc == SQLITE_OK ? 0 : sqlite_map_err(db, rc, "colibri_deckey");
}
