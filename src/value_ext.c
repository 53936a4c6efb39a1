/*
 * value_ext.c — text → value for the types added by issue 18 (NUMERIC,
 * BIGNUMERIC, BYTES, JSON, DATETIME, TIME, GEOGRAPHY); value.c dispatches here.
 */
#include <jansson.h>
#include <string.h>

#include "colibri/arena.h"
#include "colibri/decimal.h"
#include "colibri/error.h"
#include "colibri/strbuf.h"
#include "colibri/value.h"
#include "colibri/wkt.h"
#include "value_int.h"

/* Padded standard base64 whose unused bits are zero: the one text of its bytes. */
static bool base64_canonical(const char *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t pad = 0;
    const char *last;

    if (n % 4)
        return false;
    while (pad < 2 && pad < n && p[n - 1 - pad] == '=')
        pad++;
    for (size_t i = 0; i < n - pad; i++)
        if (!p[i] || !strchr(tab, p[i]))
            return false;
    if (!pad)
        return true;
    last = strchr(tab, p[n - pad - 1]);
    return ((last - tab) & (pad == 1 ? 3 : 15)) == 0;
}

int value_keep_text(struct arena *a, struct strbuf *sb, struct value *v)
{
    char *p = sb->failed ? NULL : arena_dup(a, sb->buf ? sb->buf : "", sb->len);
    strbuf_release(sb);
    if (!p)
        return COLIBRI_ENOMEM;
    v->u.s.p = p;
    v->u.s.n = strlen(p);
    return 0;
}

/* NUMERIC / BIGNUMERIC at their default precision; detail says which rule broke. */
static int decimal_value(enum col_type t, const char *p, size_t n, struct value *v,
                         struct arena *a, char *detail, size_t detaillen)
{
    char canon[DEC_TEXT_MAX];
    size_t len;
    int rc = t == COL_NUMERIC
        ? decimal_canon(p, n, NUMERIC_INT_DIGITS, NUMERIC_SCALE, canon, &len, detail, detaillen)
        : decimal_canon(p, n, BIGNUMERIC_INT_DIGITS, BIGNUMERIC_SCALE, canon, &len, detail,
                        detaillen);
    if (rc)
        return rc;
    if (!(v->u.s.p = arena_dup(a, canon, len)))
        return COLIBRI_ENOMEM;
    v->u.s.n = len;
    return 0;
}

int value_text_ext(enum col_type t, const char *p, size_t n, struct value *v,
                          struct arena *a, char *detail, size_t detaillen)
{
    struct strbuf sb = STRBUF_INIT;
    json_t *j;

    switch (t) {
    case COL_NUMERIC: case COL_BIGNUMERIC:
        return a ? decimal_value(t, p, n, v, a, detail, detaillen) : COLIBRI_EINVAL;
    case COL_BYTES:
        if (!base64_canonical(p, n))
            return COLIBRI_EINVAL;
        v->u.s.p = p;
        v->u.s.n = n;
        return 0;
    case COL_DATETIME:
        return datetime_parse(p, n, &v->u.i);
    case COL_TIME:
        return time_parse(p, n, &v->u.i);
    case COL_GEOGRAPHY:
        if (!a || wkt_canon(p, n, &sb, detail, detaillen) != 0) {
            strbuf_release(&sb);
            return COLIBRI_EINVAL;
        }
        return value_keep_text(a, &sb, v);
    case COL_JSON:
        if (!a || !(j = json_loadb(p, n, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL)))
            return COLIBRI_EINVAL;
        json_decref(j);
        strbuf_add_json_min(&sb, p, n);
        return value_keep_text(a, &sb, v);
    default:
        return COLIBRI_EINVAL;      /* RECORD and ARRAY are never text */
    }
}

