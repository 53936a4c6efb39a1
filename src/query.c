/*
 * query.c — GET /data query string → struct query; signed keyset cursors.
 *
 * One linear pass over at most QUERY_MAX_LEN bytes: split on '&', %-decode
 * each name and value into q->buf (so every string a value points at lives
 * as long as the query), handle the reserved names here and treat any other
 * name as "column" or "column__op", typing its value by the column with
 * value_parse. A parameter name always wins over a column of the same name.
 * The cursor is checked last because it is bound to the digest of the rest.
 *
 * Limits: a string inside an `in` list cannot contain ',' (the list is split
 * on every comma, encoded or not); decoded names and values must be UTF-8.
 *
 * Digest: SHA-256 (first 16 bytes) of order, since/until and the filters in
 * a canonical order, so that parameter order, limit, fields, format and the
 * cursor itself do not change it.
 * Cursor: base64url(payload || HMAC-SHA256(key, payload)[0..16]), no padding,
 * payload = version | desc | digest[16] | event time (int64 BE, µs) | _id.
 */
#include "colibri/query.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "colibri/base64.h"
#include "colibri/error.h"
#include "colibri/nested.h"
#include "colibri/strbuf.h"

#define QUERY_MAX_LEN 16384     /* raw query string bytes */
#define SHOW_MAX 60             /* user input echoed in an error */
#define SHOW_BUF (SHOW_MAX + 4)

#define CURSOR_VERSION 1
#define CURSOR_MAC 16
#define CURSOR_HEAD (1 + 1 + 16 + 8)
#define CURSOR_RAW_MAX ((CURSOR_MAX - 1) * 3 / 4)  /* bytes whose base64 fits */

static const char cursor_bad[] = "cursor: invalid or does not belong to this query";

enum param { P_LIMIT, P_CURSOR, P_ORDER, P_SINCE, P_UNTIL, P_FIELDS, P_FORMAT, P_COUNT };
static const char *const param_names[P_COUNT] = {
    "limit", "cursor", "order", "since", "until", "fields", "format",
};

static const char *const op_names[] = {
    [OP_EQ] = "eq", [OP_NE] = "ne", [OP_GT] = "gt", [OP_GTE] = "gte", [OP_LT] = "lt",
    [OP_LTE] = "lte", [OP_IN] = "in", [OP_PREFIX] = "prefix", [OP_ISNULL] = "isnull",
    [OP_CONTAINS] = "contains",
};

struct parser {
    const struct schema *s;
    struct query *q;
    char *err;
    size_t errlen;
    char *w;                /* next free byte of q->buf */
    unsigned seen;          /* bit per enum param already given */
    char *cursor;           /* decoded cursor value, checked last */
    size_t cursorlen;
};

__attribute__((format(printf, 2, 3)))
static int fail(struct parser *p, const char *fmt, ...)
{
    if (p->err && p->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err, p->errlen, fmt, ap);
        va_end(ap);
    }
    return COLIBRI_EINVAL;
}

/* At most SHOW_MAX bytes of user input, printable ASCII only, for messages. */
static const char *show(char buf[SHOW_BUF], const char *s, size_t n)
{
    size_t i, m = n < SHOW_MAX ? n : SHOW_MAX;
    /* cppcheck-suppress knownConditionTrueFalse ; true for a non-empty value: cppcheck follows only a caller's n = 0 */
    for (i = 0; i < m; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[i] = c >= 0x20 && c < 0x7f && c != '\'' ? (char)c : '?';
    }
    /* cppcheck-suppress knownConditionTrueFalse ; true past SHOW_MAX bytes (same caller as above) */
    if (m < n)
        memcpy(buf + i, "...", 3), i += 3;
    buf[i] = '\0';
    return buf;
}

static int hexval(char ch)
{
    unsigned char c = (unsigned char)ch;
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* url_decode that also says where the broken escape is. */
static long decode(const char *src, size_t len, char *dst, size_t *bad)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = src[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int hi = len - i > 2 ? hexval(src[i + 1]) : -1;
            int lo = len - i > 2 ? hexval(src[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi | lo) == 0) {
                *bad = i;
                return -1;
            }
            c = (char)(hi << 4 | lo);
            i += 2;
        }
        dst[o++] = c;
    }
    dst[o] = '\0';
    return (long)o;
}

long url_decode(const char *src, size_t len, char *dst)
{
    size_t bad;
    return decode(src, len, dst, &bad);
}

/* Strict UTF-8 (no overlongs, surrogates or code points above U+10FFFF); NUL allowed. */
static bool text_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t k;

    for (size_t i = 0; i < n; i += k)
        if ((k = utf8_seq(s + i, n - i)) == 0)
            return false;
    return true;
}

static const char *type_hint(enum col_type t)
{
    switch (t) {
    case COL_STRING: return "a string";
    case COL_INT64: return "an integer";
    case COL_FLOAT64: return "a number";
    case COL_BOOL: return "true or false";
    case COL_TIMESTAMP: return "an RFC 3339 timestamp";
    case COL_DATE: return "a date YYYY-MM-DD";
    case COL_NUMERIC: case COL_BIGNUMERIC: return "a plain decimal like -12.5";
    case COL_BYTES: return "base64";
    case COL_DATETIME: return "a datetime YYYY-MM-DDTHH:MM:SS[.ffffff]";
    case COL_TIME: return "a time HH:MM:SS[.ffffff]";
    default: break;
    }
    return "a value";
}

/* A '+' in a URL is a space: the usual reason an RFC 3339 offset fails. */
static const char *plus_hint(const char *v)
{
    return strchr(v, ' ') ? " (encode '+' as %2B)" : "";
}

/*
 * More than 6 fractional digits in an RFC 3339 timestamp: values are kept in
 * microseconds, so a finer bound could only be compared after truncation,
 * which would make "< ...00.6497051Z" miss the row at ".649705Z". A filter
 * says so instead (ingestion still truncates: that keeps every microsecond).
 */
static bool finer_than_us(const char *v, size_t n)
{
    if (n < 20 || v[19] != '.')
        return false;
    size_t d = 0;
    for (size_t i = 20; i < n && v[i] >= '0' && v[i] <= '9'; i++)
        d++;
    return d > 6;
}

static int too_precise(struct parser *p, const char *label, const char *v, size_t n)
{
    char a[SHOW_BUF];
    return fail(p, "%s: at most 6 fractional digits (microseconds), got '%s'", label, show(a, v, n));
}

/* A NUMERIC / BIGNUMERIC filter value is a plain decimal (the *_FILTER_PATTERN of query.h). */
static bool plain_decimal(enum col_type t, const char *v, size_t n)
{
    size_t imax = t == COL_NUMERIC ? NUMERIC_INT_DIGITS : BIGNUMERIC_INT_DIGITS;
    size_t fmax = t == COL_NUMERIC ? NUMERIC_SCALE : BIGNUMERIC_SCALE, i = 0, d;

    if (i < n && (v[i] == '+' || v[i] == '-'))
        i++;
    for (d = 0; i < n && v[i] >= '0' && v[i] <= '9'; i++)
        d++;
    if (d < 1 || d > imax)
        return false;
    if (i < n && v[i] == '.') {
        for (i++, d = 0; i < n && v[i] >= '0' && v[i] <= '9'; i++)
            d++;
        if (d < 1 || d > fmax)
            return false;
    }
    return i == n;
}

/* label: the parameter name, already through show(). */
static int parse_value(struct parser *p, const char *label, enum col_type t, const char *v,
                       size_t n, struct value *out)
{
    char reason[128], a[SHOW_BUF];
    bool decimal = t == COL_NUMERIC || t == COL_BIGNUMERIC;
    if (t == COL_TIMESTAMP && finer_than_us(v, n))
        return too_precise(p, label, v, n);
    if ((!decimal || plain_decimal(t, v, n)) &&
        value_parse(t, v, n, out, &p->q->ext, reason, sizeof reason) == 0)
        return 0;
    return fail(p, "%s: expected %s (%s), got '%s'%s", label, type_hint(t), col_type_name(t),
                show(a, v, n), t == COL_TIMESTAMP ? plus_hint(v) : "");
}

static int parse_limit(struct parser *p, const char *v, size_t n)
{
    size_t x = 0, i;
    for (i = 0; i < n && x <= QUERY_LIMIT_MAX; i++) {
        if (v[i] < '0' || v[i] > '9')
            break;
        x = x * 10 + (size_t)(v[i] - '0');
    }
    if (n == 0 || i < n || x < 1 || x > QUERY_LIMIT_MAX) {
        char a[SHOW_BUF];
        return fail(p, "limit: must be an integer from 1 to %d, got '%s'", QUERY_LIMIT_MAX,
                    show(a, v, n));
    }
    p->q->limit = x;
    return 0;
}

/* Field k of fields= gets part path (dotted, below its column) of its RECORD column. */
static int add_part(struct parser *p, size_t k, const char *path)
{
    struct query *q = p->q;
    struct field_part *fp = &q->parts[k];
    char a[SHOW_BUF];

    for (size_t i = 0; i < fp->npaths; i++)
        if (!strcmp(fp->paths[i], path))
            return fail(p, "fields: '%s.%s' listed twice", p->s->cols[q->fields[k]].name,
                        show(a, path, strlen(path)));
    const char **grown = realloc(fp->paths, (fp->npaths + 1) * sizeof *grown);
    if (!grown)
        return COLIBRI_ENOMEM;
    fp->paths = grown;
    if (!(fp->paths[fp->npaths] = arena_dup(&q->ext, path, strlen(path))))
        return COLIBRI_ENOMEM;
    fp->npaths++;
    return 0;
}

static int parse_fields(struct parser *p, char *v, size_t n)
{
    const struct schema *s = p->s;
    struct query *q = p->q;
    char a[SHOW_BUF];
    size_t count = 1;
    int rc = 0;
    for (size_t i = 0; i < n; i++)
        count += v[i] == ',';
    q->nfields = 0;             /* a second fields= is refused before this; the count starts here */
    bool *whole = calloc(count, sizeof *whole);
    if (!whole || !(q->fields = malloc(count * sizeof *q->fields)) ||
        !(q->parts = calloc(count, sizeof *q->parts))) {
        free(whole);
        return COLIBRI_ENOMEM;
    }
    for (char *name = v, *end = v + n; !rc && name <= end;) {
        char *comma = memchr(name, ',', (size_t)(end - name));
        size_t len = comma ? (size_t)(comma - name) : (size_t)(end - name);
        name[len] = '\0';
        char *dot = strchr(name, '.');
        if (dot)
            *dot = '\0';
        int col = len ? schema_find(s, name) : -1;
        if (dot)
            *dot = '.';
        size_t k = 0;
        while (col >= 0 && k < q->nfields && q->fields[k] != (size_t)col)
            k++;
        if (len == 0)
            rc = fail(p, "fields: empty column name (use fields=a,b)");
        else if (col < 0 || (dot && !nested_field(&s->cols[col], dot + 1, true)))
            rc = fail(p, "fields: unknown column '%s'", show(a, name, len));
        else if (!dot && k < q->nfields && whole[k])
            rc = fail(p, "fields: column '%s' listed twice", s->cols[col].name);
        if (rc)
            break;
        if (k == q->nfields)
            q->fields[q->nfields++] = (size_t)col;
        if (!dot) {                     /* the whole column: its parts are moot */
            whole[k] = true;
            free(q->parts[k].paths);
            q->parts[k] = (struct field_part){ NULL, 0 };
        } else if (!whole[k]) {
            rc = add_part(p, k, dot + 1);
        }
        name += len + 1;
    }
    free(whole);
    return rc;
}

static int parse_param(struct parser *p, enum param which, char *v, size_t n)
{
    struct query *q = p->q;
    char a[SHOW_BUF];
    int64_t t;

    if (p->seen & 1u << which)
        return fail(p, "%s: given more than once", param_names[which]);
    p->seen |= 1u << which;
    switch (which) {
    case P_LIMIT:
        return parse_limit(p, v, n);
    case P_CURSOR:
        p->cursor = v, p->cursorlen = n;
        return 0;
    case P_ORDER:
        if (strcmp(v, "asc") && strcmp(v, "desc"))
            return fail(p, "order: must be 'asc' or 'desc', got '%s'", show(a, v, n));
        q->desc = v[0] == 'd';
        return 0;
    case P_SINCE:
    case P_UNTIL:
        if (finer_than_us(v, n))
            return too_precise(p, param_names[which], v, n);
        if (timestamp_parse(v, n, &t) != 0)
            return fail(p, "%s: must be an RFC 3339 timestamp like 2024-01-31T12:00:00Z, "
                        "got '%s'%s", param_names[which], show(a, v, n), plus_hint(v));
        if (which == P_SINCE)
            q->has_since = true, q->since = t;
        else
            q->has_until = true, q->until = t;
        return 0;
    case P_FIELDS:
        return parse_fields(p, v, n);
    case P_FORMAT:
        if (!strcmp(v, "json"))
            q->format = FMT_JSON;
        else if (!strcmp(v, "ndjson"))
            q->format = FMT_NDJSON;
        else if (!strcmp(v, "csv"))
            q->format = FMT_CSV;
        else
            return fail(p, "format: must be 'json', 'ndjson' or 'csv', got '%s'", show(a, v, n));
        return 0;
    case P_COUNT:
        break;
    }
    return 0;
}

/*
 * name (NUL-terminated): a column, or a dotted path through RECORD fields
 * ("card.brand"). The column or field it names, with *col its column and
 * *path what follows the column's name; NULL when there is none.
 */
static const struct column *resolve(const struct schema *s, const char *name, int *col,
                                    const char **path)
{
    const char *dot = strchr(name, '.');
    char head[160];

    *path = NULL;
    if (!dot) {
        *col = schema_find(s, name);
        return *col < 0 ? NULL : &s->cols[*col];
    }
    if ((size_t)(dot - name) >= sizeof head)
        return NULL;
    memcpy(head, name, (size_t)(dot - name));
    head[dot - name] = '\0';
    if ((*col = schema_find(s, head)) < 0)
        return NULL;
    *path = dot + 1;
    return nested_field(&s->cols[*col], dot + 1, false);
}

/* R_OK would be unistd.h's access() mode, hence the longer prefix */
enum refusal {
    REFUSAL_NONE, REFUSAL_NOT_REPEATED, REFUSAL_REPEATED, REFUSAL_RECORD, REFUSAL_ISNULL_ONLY,
    REFUSAL_PREFIX, REFUSAL_RANGE
};

/* Why op does not apply to leaf (REFUSAL_NONE: it does). */
static enum refusal refusal_of(const struct column *leaf, enum filter_op op)
{
    enum col_type t = leaf->elem;
    bool range = op == OP_GT || op == OP_GTE || op == OP_LT || op == OP_LTE;

    if (op == OP_CONTAINS && (!leaf->repeated || t == COL_RECORD))
        return REFUSAL_NOT_REPEATED;
    if (leaf->repeated && op != OP_CONTAINS)
        return REFUSAL_REPEATED;
    if (t == COL_RECORD && op != OP_ISNULL)
        return REFUSAL_RECORD;
    if ((t == COL_JSON || t == COL_GEOGRAPHY) && op != OP_ISNULL)
        return REFUSAL_ISNULL_ONLY;
    if (op == OP_PREFIX && t != COL_STRING)
        return REFUSAL_PREFIX;
    if (range && (t == COL_BOOL || t == COL_BYTES))
        return REFUSAL_RANGE;
    return REFUSAL_NONE;
}

bool query_op_applies(const struct column *leaf, enum filter_op op)
{
    return refusal_of(leaf, op) == REFUSAL_NONE;
}

/* Whether op applies to leaf; if not, fails with why. */
static int op_applies(struct parser *p, const char *label, const struct column *leaf,
                      enum filter_op op)
{
    const char *n = leaf->name, *tn = col_type_name(leaf->elem);

    switch (refusal_of(leaf, op)) {
    case REFUSAL_NONE:
        return 0;
    case REFUSAL_NOT_REPEATED:
        return fail(p, "%s: contains applies to REPEATED columns of a scalar type only", label);
    case REFUSAL_REPEATED:
        return fail(p, "%s: '%s' is REPEATED: use %s__contains (or a field inside its records)",
                    label, n, n);
    case REFUSAL_RECORD:
        return fail(p, "%s: '%s' is a RECORD: use isnull, or filter a field of it (%s.field)",
                    label, n, n);
    case REFUSAL_ISNULL_ONLY:
        return fail(p, "%s: %s columns take isnull only", label, tn);
    case REFUSAL_PREFIX:
        return fail(p, "%s: prefix applies to STRING columns only, '%s' is %s", label, n, tn);
    case REFUSAL_RANGE:
        return fail(p, "%s: %s does not apply to %s columns", label, op_names[op], tn);
    }
    return 0;
}

/* name is "column" or "column__op"; v (n bytes, NUL-terminated) its value. */
static int parse_filter(struct parser *p, char *name, size_t namelen, char *v, size_t n)
{
    const struct schema *s = p->s;
    struct query *q = p->q;
    char a[SHOW_BUF], b[SHOW_BUF];
    enum filter_op op = OP_EQ;
    const char *path;
    int col;
    const struct column *leaf = resolve(s, name, &col, &path);

    if (!leaf) {
        char *sep = NULL;
        for (size_t i = namelen; i >= 2 && !sep; i--)
            if (name[i - 1] == '_' && name[i - 2] == '_')
                sep = name + i - 2;
        if (!sep)
            return fail(p, "unknown parameter or column '%s'", show(a, name, namelen));
        *sep = '\0';
        leaf = resolve(s, name, &col, &path);
        if (leaf && path && !(path = arena_dup(&q->ext, path, strlen(path))))
            return COLIBRI_ENOMEM;
        *sep = '_';
        if (!leaf)
            return fail(p, "unknown parameter or column '%s'", show(a, name, (size_t)(sep - name)));
        const char *opname = sep + 2;
        size_t k;
        for (k = OP_NE; k < sizeof op_names / sizeof *op_names; k++)
            if (!strcmp(opname, op_names[k]))
                break;
        if (k == sizeof op_names / sizeof *op_names)
            return fail(p, "unknown operator '%s' (use ne, gt, gte, lt, lte, in, prefix, isnull "
                        "or contains)", show(a, opname, strlen(opname)));
        op = (enum filter_op)k;
    }
    enum col_type t = leaf->elem;
    const char *label = show(b, name, namelen);
    if (q->nfilters == QUERY_MAX_FILTERS)
        return fail(p, "too many filters: at most %d", QUERY_MAX_FILTERS);
    int rc = op_applies(p, label, leaf, op);
    if (rc)
        return rc;

    size_t nvals = 1;
    if (op == OP_IN) {
        for (size_t i = 0; i < n; i++)
            nvals += v[i] == ',';
        if (n == 0 || nvals > QUERY_MAX_IN)
            return fail(p, "%s: needs 1 to %d comma-separated values", label, QUERY_MAX_IN);
    }
    struct filter *f = &q->filters[q->nfilters];
    if (!(f->vals = calloc(nvals, sizeof *f->vals)))
        return COLIBRI_ENOMEM;
    q->nfilters++;
    f->col = (size_t)col;
    f->op = op;
    f->nvals = nvals;
    f->leaf = leaf;
    f->path = path;

    if (op == OP_ISNULL) {
        if (strcmp(v, "true") && strcmp(v, "false"))
            return fail(p, "%s: must be 'true' or 'false', got '%s'", label, show(a, v, n));
        f->vals[0].u.b = v[0] == 't';
        return 0;
    }
    char *item = v;
    for (size_t i = 0; i < nvals; i++) {
        char *comma = op == OP_IN ? memchr(item, ',', n - (size_t)(item - v)) : NULL;
        size_t len = comma ? (size_t)(comma - item) : n - (size_t)(item - v);
        item[len] = '\0';
        rc = parse_value(p, label, t, item, len, &f->vals[i]);
        if (rc)
            return rc;
        item += len + 1;
    }
    return 0;
}

/* One "name=value" piece of n raw bytes. */
static int parse_piece(struct parser *p, const char *raw, size_t n)
{
    char a[SHOW_BUF], b[SHOW_BUF];
    const char *eq = memchr(raw, '=', n);
    size_t rawname = eq ? (size_t)(eq - raw) : n, bad;
    char *name = p->w, *v;
    long namelen, vlen;

    if ((namelen = decode(raw, rawname, name, &bad)) < 0)
        goto broken;
    v = name + namelen + 1;
    if (!eq)
        vlen = 0, v[0] = '\0';
    else if ((vlen = decode(eq + 1, n - rawname - 1, v, &bad)) < 0) {
        bad += rawname + 1;
        goto broken;
    }
    p->w = v + vlen + 1;
    if (!text_valid(name, (size_t)namelen) || !text_valid(v, (size_t)vlen))
        return fail(p, "parameter '%s' is not valid UTF-8", show(a, raw, n));
    for (int i = 0; i < P_COUNT; i++)
        if (!strcmp(name, param_names[i]))
            return parse_param(p, (enum param)i, v, (size_t)vlen);
    return parse_filter(p, name, (size_t)namelen, v, (size_t)vlen);

broken:
    return fail(p, "invalid %%-escape '%s' in '%s' (use %%XX with two hex digits, not %%00)",
                show(a, raw + bad, n - bad < 3 ? n - bad : 3), show(b, raw, n));
}

static unsigned char *put_u32(unsigned char *w, uint32_t v)
{
    for (int i = 3; i >= 0; i--)
        *w++ = (unsigned char)(v >> (8 * i));
    return w;
}

static unsigned char *put_u64(unsigned char *w, uint64_t v)
{
    for (int i = 7; i >= 0; i--)
        *w++ = (unsigned char)(v >> (8 * i));
    return w;
}

static uint64_t get_u64(const unsigned char *r)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | r[i];
    return v;
}

struct slice {
    const unsigned char *p;
    size_t n;
};

static int slice_cmp(const void *a, const void *b)
{
    const struct slice *x = a, *y = b;
    int c = memcmp(x->p, y->p, x->n < y->n ? x->n : y->n);
    return c ? c : (x->n > y->n) - (x->n < y->n);
}

static size_t value_size(enum col_type t, const struct value *v)
{
    return col_type_is_text(t) ? 4 + v->u.s.n : t == COL_BOOL ? 1 : 8;
}

/* Self-delimiting bytes of a value, equal for equal values. */
static unsigned char *put_value(unsigned char *w, enum col_type t, const struct value *v)
{
    uint64_t bits;
    double d;
    if (col_type_is_text(t)) {
        w = put_u32(w, (uint32_t)v->u.s.n);
        if (v->u.s.n)
            memcpy(w, v->u.s.p, v->u.s.n);
        return w + v->u.s.n;
    }
    switch (t) {
    case COL_BOOL:
        *w++ = v->u.b;
        return w;
    case COL_FLOAT64:
        d = v->u.f == 0 ? 0.0 : v->u.f;     /* -0 == 0 */
        memcpy(&bits, &d, sizeof bits);
        return put_u64(w, bits);
    default:
        return put_u64(w, (uint64_t)v->u.i);
    }
}

/*
 * Encode each filter as column name, op, values (an `in` list sorted), sort
 * those encodings and hash them after order and since/until.
 */
static int query_digest(const struct schema *s, struct query *q)
{
    size_t total = 0, maxv = 1;
    int rc = COLIBRI_ENOMEM;

    for (size_t i = 0; i < q->nfilters; i++) {
        const struct filter *f = &q->filters[i];
        enum col_type t = f->op == OP_ISNULL ? COL_BOOL : filter_type(f);
        total += 14 + strlen(s->cols[f->col].name) + (f->path ? strlen(f->path) : 0);
        for (size_t j = 0; j < f->nvals; j++)
            total += value_size(t, &f->vals[j]);
        if (f->nvals > maxv)
            maxv = f->nvals;
    }
    /* filter encodings | staging for one filter's values | the hashed message */
    size_t msgmax = 32 + total;
    unsigned char *buf = malloc(2 * total + msgmax);
    struct slice *fs = malloc((q->nfilters + 1) * sizeof *fs);
    struct slice *vs = malloc(maxv * sizeof *vs);
    if (!buf || !fs || !vs)
        goto out;

    unsigned char *w = buf, *stage = buf + total;
    for (size_t i = 0; i < q->nfilters; i++) {
        const struct filter *f = &q->filters[i];
        const char *name = s->cols[f->col].name;
        enum col_type t = f->op == OP_ISNULL ? COL_BOOL : filter_type(f);
        size_t namelen = strlen(name), pathlen = f->path ? strlen(f->path) + 1 : 0;
        unsigned char *start = w, *sw = stage;

        w = put_u32(w, (uint32_t)(namelen + pathlen));
        memcpy(w, name, namelen);
        w += namelen;
        if (pathlen) {          /* the dotted name: card.brand */
            *w++ = '.';
            memcpy(w, f->path, pathlen - 1);
            w += pathlen - 1;
        }
        *w++ = (unsigned char)f->op;
        w = put_u32(w, (uint32_t)f->nvals);
        for (size_t j = 0; j < f->nvals; j++) {
            vs[j].p = sw;
            sw = put_value(sw, t, &f->vals[j]);
            vs[j].n = (size_t)(sw - vs[j].p);
        }
        if (f->op == OP_IN)
            qsort(vs, f->nvals, sizeof *vs, slice_cmp);
        for (size_t j = 0; j < f->nvals; j++) {
            memcpy(w, vs[j].p, vs[j].n);
            w += vs[j].n;
        }
        fs[i].p = start;
        fs[i].n = (size_t)(w - start);
    }
    qsort(fs, q->nfilters, sizeof *fs, slice_cmp);

    unsigned char *msg = buf + 2 * total, *m = msg, md[SHA256_DIGEST_LENGTH];
    memcpy(m, "colibri.q1", 10);
    m += 10;
    *m++ = q->desc;
    *m++ = q->has_since;
    m = put_u64(m, q->has_since ? (uint64_t)q->since : 0);
    *m++ = q->has_until;
    m = put_u64(m, q->has_until ? (uint64_t)q->until : 0);
    for (size_t i = 0; i < q->nfilters; i++) {
        m = put_u32(m, (uint32_t)fs[i].n);
        memcpy(m, fs[i].p, fs[i].n);
        m += fs[i].n;
    }
    SHA256(msg, (size_t)(m - msg), md);
    memcpy(q->digest, md, sizeof q->digest);
    rc = 0;
out:
    free(vs);
    free(fs);
    free(buf);
    return rc;
}

static int cursor_mac(const struct cursor_key *k, const unsigned char *p, size_t n,
                      unsigned char mac[EVP_MAX_MD_SIZE])
{
    unsigned maclen = 0;
    if (!HMAC(EVP_sha256(), k->bytes, (int)sizeof k->bytes, p, n, mac, &maclen)
        || maclen < CURSOR_MAC)
        return COLIBRI_EIO;
    return 0;
}

int cursor_key_init(struct cursor_key *k, const char *secret)
{
    if (secret && *secret) {
        SHA256((const unsigned char *)secret, strlen(secret), k->bytes);
        return 0;
    }
    for (size_t got = 0; got < sizeof k->bytes;) {
        ssize_t r = getrandom(k->bytes + got, sizeof k->bytes - got, 0);
        if (r < 0 && errno != EINTR) {
            memset(k, 0, sizeof *k);
            return COLIBRI_EIO;
        }
        got += r > 0 ? (size_t)r : 0;
    }
    return 0;
}

int cursor_encode(const struct cursor_key *k, const struct query *q, int64_t t,
                  const char *id, size_t idlen, char *buf, size_t buflen)
{
    unsigned char raw[CURSOR_RAW_MAX], mac[EVP_MAX_MD_SIZE];
    size_t n = CURSOR_HEAD + idlen;

    if (buflen)
        buf[0] = '\0';
    if (idlen > CURSOR_RAW_MAX - CURSOR_HEAD - CURSOR_MAC
        || base64_encoded_len(n + CURSOR_MAC, true) >= buflen)
        return COLIBRI_ETOOBIG;
    if (idlen && memchr(id, '\0', idlen))
        return COLIBRI_EINVAL;
    raw[0] = CURSOR_VERSION;
    raw[1] = q->desc;
    memcpy(raw + 2, q->digest, sizeof q->digest);
    put_u64(raw + 18, (uint64_t)t);
    if (idlen)
        memcpy(raw + CURSOR_HEAD, id, idlen);
    int rc = cursor_mac(k, raw, n, mac);
    if (rc)
        return rc;
    memcpy(raw + n, mac, CURSOR_MAC);
    base64_encode(raw, n + CURSOR_MAC, buf, true);
    return 0;
}

/* tok (n bytes in q->buf) is overwritten with the NUL-terminated _id. */
static int cursor_decode(struct parser *p, const struct cursor_key *k, char *tok, size_t n)
{
    struct query *q = p->q;
    unsigned char raw[CURSOR_RAW_MAX + 3], mac[EVP_MAX_MD_SIZE];
    long len = n < CURSOR_MAX ? base64url_decode_strict(tok, n, raw) : -1;

    if (len < CURSOR_HEAD + CURSOR_MAC)
        return fail(p, "%s", cursor_bad);
    size_t plen = (size_t)len - CURSOR_MAC, idlen = plen - CURSOR_HEAD;
    int rc = cursor_mac(k, raw, plen, mac);
    if (rc)
        return rc;
    int bad = CRYPTO_memcmp(mac, raw + plen, CURSOR_MAC);
    bad |= raw[0] != CURSOR_VERSION;
    bad |= raw[1] != q->desc;
    bad |= CRYPTO_memcmp(raw + 2, q->digest, sizeof q->digest);
    if (bad || (idlen && memchr(raw + CURSOR_HEAD, '\0', idlen)))
        return fail(p, "%s", cursor_bad);
    q->has_cursor = true;
    q->cur_time = (int64_t)get_u64(raw + 18);
    memcpy(tok, raw + CURSOR_HEAD, idlen);      /* idlen < n: fits */
    tok[idlen] = '\0';
    q->cur_id = tok;
    return 0;
}

int query_parse(const struct schema *s, const struct cursor_key *key, const char *qs,
                struct query *out, char *err, size_t errlen)
{
    struct query q = {.limit = QUERY_LIMIT_DEFAULT, .desc = true, .format = FMT_JSON};
    struct parser p = {.s = s, .q = &q, .err = err, .errlen = errlen};
    size_t len;
    int rc = COLIBRI_ENOMEM;

    if (!qs)
        qs = "";
    len = strnlen(qs, QUERY_MAX_LEN + 1);
    memset(out, 0, sizeof *out);
    if (err && errlen)
        err[0] = '\0';
    if (len > QUERY_MAX_LEN) {
        fail(&p, "query string too long: at most %d bytes", QUERY_MAX_LEN);
        return COLIBRI_ETOOBIG;
    }
    /* each piece decodes to at most its own length plus two NULs */
    q.buf = malloc(2 * len + 2);
    /* a filter is one '&'-piece at least: room for as many as there are pieces */
    size_t pieces = 1;
    for (size_t i = 0; i < len; i++)
        pieces += qs[i] == '&';
    q.filters = calloc(pieces < QUERY_MAX_FILTERS ? pieces : QUERY_MAX_FILTERS, sizeof *q.filters);
    if (!q.buf || !q.filters)
        goto out;
    p.w = q.buf;
    for (const char *piece = qs, *end = qs + len;;) {
        const char *amp = memchr(piece, '&', (size_t)(end - piece));
        size_t n = amp ? (size_t)(amp - piece) : (size_t)(end - piece);
        if (n && (rc = parse_piece(&p, piece, n)))
            goto out;
        if (!amp)
            break;
        piece = amp + 1;
    }
    /* [since, until) with until before since is empty, as x__gte=B&x__lt=A is */
    if (q.has_since && q.has_until && q.since > q.until)
        q.until = q.since;
    if (!q.fields) {
        rc = COLIBRI_ENOMEM;
        if (!(q.fields = malloc(s->ncols * sizeof *q.fields)))
            goto out;
        for (q.nfields = 0; q.nfields < s->ncols; q.nfields++)
            q.fields[q.nfields] = q.nfields;
    }
    if ((rc = query_digest(s, &q)))
        goto out;
    if (p.cursor && (rc = cursor_decode(&p, key, p.cursor, p.cursorlen)))
        goto out;
    *out = q;
    return 0;
out:
    if (rc == COLIBRI_ENOMEM)
        fail(&p, "out of memory");
    query_release(&q);
    return rc;
}

void query_release(struct query *q)
{
    if (!q)
        return;
    for (size_t i = 0; q->filters && i < q->nfilters; i++)
        free(q->filters[i].vals);
    free(q->filters);
    for (size_t i = 0; q->parts && i < q->nfields; i++)
        free(q->parts[i].paths);
    free(q->parts);
    free(q->fields);
    free(q->buf);           /* cur_id points into buf */
    arena_release(&q->ext);
    memset(q, 0, sizeof *q);
}
