/*
 * coerce.c — a message (JSON) into a row of the schema.
 *
 * Coercion is on the hot path (every ingested message): one pass over the
 * message with the reader of jsonread.c, a hash lookup per key, and two
 * allocations per row for flat schemas (the values and one buffer holding
 * every string). Canonical texts that can be longer than what the message
 * held (NUMERIC digits, records and arrays as JSON, WKT) go into the row's
 * arena. Values are typed by value.c; records and arrays are written as the
 * canonical JSON the API serves (docs/types.md).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "colibri/arena.h"
#include "colibri/error.h"
#include "colibri/schema.h"
#include "colibri/strbuf.h"
#include "jsonread.h"
#include "schema_int.h"

static long find_column(const struct schema *s, const char *k, size_t n, uint64_t h)
{
    const struct schema_index *ix = s->index;

    if (!ix) {                  /* a schema not made by schema_parse */
        for (size_t i = 0; i < s->nuser; i++)
            if (strlen(s->cols[i].name) == n && memcmp(s->cols[i].name, k, n) == 0)
                return (long)i;
        return -1;
    }
    for (size_t i = h & ix->mask; ix->slots[i].name; i = (i + 1) & ix->mask) {
        const struct col_slot *sl = &ix->slots[i];
        if (sl->h == h && sl->len == n && memcmp(sl->name, k, n) == 0)
            return (long)sl->col;
    }
    return -1;
}

/* How a value reads in a reason: "12abc" quoted, numbers as written. */
static void describe(const struct jtoken *t, const char *text, size_t n, char *buf, size_t len)
{
    char num[32];

    switch (t->type) {
    case J_STRING:  value_echo(buf, len, text, n); break;
    case J_INT:     snprintf(buf, len, "%lld", (long long)t->i); break;
    case J_REAL:
        float_format(t->f, num);
        snprintf(buf, len, "%s", num);
        break;
    case J_TRUE:    snprintf(buf, len, "true"); break;
    case J_FALSE:   snprintf(buf, len, "false"); break;
    case J_NULL:    snprintf(buf, len, "null"); break;
    case J_OBJECT:  snprintf(buf, len, "an object"); break;
    case J_ARRAY:   snprintf(buf, len, "an array"); break;
    }
}

/* Epoch seconds (integer or real) → µs within years 0001..9999. */
static int epoch_value(const struct jtoken *t, int64_t *us)
{
    if (t->type == J_INT) {
        if (t->i < TS_MIN_US / US_PER_SEC || t->i > TS_MAX_US / US_PER_SEC)
            return COLIBRI_EINVAL;
        *us = t->i * US_PER_SEC;
        return 0;
    }
    double f = t->f * 1e6;
    if (!(f >= (double)TS_MIN_US && f <= (double)TS_MAX_US))
        return COLIBRI_EINVAL;
    *us = llround(f);           /* nearest µs: a double cannot hold more anyway */
    return *us <= TS_MAX_US ? 0 : COLIBRI_EINVAL;
}

struct coerce {
    const struct schema *s;
    struct value *vals;
    unsigned char *seen;        /* per user column: its key was in the message */
    size_t bad;                 /* the first column (in schema order) refused, or SIZE_MAX */
    char why[192];              /* ... and why */
    bool why_whole;             /* why names the field itself (a nested one) */
    struct arena ext;           /* canonical texts: NUMERIC digits, records, WKT, ... */
    struct strbuf tmp;          /* a record or array being written */
};

/* The column's NUMERIC/BIGNUMERIC digits (a JSON number when number): 0 or EINVAL with why. */
static int decimal_value(const struct column *col, const char *p, size_t n, bool number,
                         struct value *v, struct arena *a, char *why, size_t whylen)
{
    char detail[64];
    int rc = value_decimal(p, n, col->int_digits, col->scale, v, a, detail, sizeof detail);

    if (rc == COLIBRI_EINVAL) {
        char shown[VALUE_ECHO_MAX + 16];
        value_echo(shown, sizeof shown, p, n);
        if (number) {       /* as written, without the quotes of a string */
            memmove(shown, shown + 1, strlen(shown));
            shown[strlen(shown) - 1] = '\0';
        }
        if (!strcmp(detail, "not a number"))
            colibri_errmsg(why, whylen, "expected %s, got %s", col_type_expected(col->elem), shown);
        else if (col->parameterized)
            colibri_errmsg(why, whylen, "%s(%d, %d) takes %s, got %s", col_type_name(col->elem),
                           col->int_digits + col->scale, col->scale, detail, shown);
        else
            colibri_errmsg(why, whylen, "%s takes %s, got %s", col_type_name(col->elem), detail,
                           shown);
        return COLIBRI_EINVAL;
    }
    return rc;
}

/*
 * Type token t, not a string nor null, as col->elem (not JSON): the number
 * text is [start, r->p) of the message. 0, EINVAL with why, or ENOMEM.
 */
static int token_value(struct jreader *r, const struct column *col, const struct jtoken *t,
                       const unsigned char *start, struct value *v, struct arena *a,
                       char *why, size_t whylen)
{
    enum col_type type = col->elem;
    char shown[VALUE_ECHO_MAX + 16];
    bool range = false;

    switch (type) {
    case COL_INT64:
        /* Reals are refused even when integral (1.0, 1e3): a producer sending
         * them has a float in hand, and silently truncating hides that. */
        if (t->type != J_INT)
            break;
        v->u.i = t->i;
        return 0;
    case COL_FLOAT64:
        if (t->type != J_INT && t->type != J_REAL)
            break;
        v->u.f = t->type == J_INT ? (double)t->i : t->f;
        return 0;
    case COL_BOOL:
        if (t->type != J_TRUE && t->type != J_FALSE)
            break;
        v->u.b = t->type == J_TRUE;
        return 0;
    case COL_TIMESTAMP:
        if (t->type != J_INT && t->type != J_REAL)
            break;
        if (epoch_value(t, &v->u.i) == 0)
            return 0;
        range = true;
        break;
    case COL_NUMERIC: case COL_BIGNUMERIC:     /* the number as written, never a double */
        if (t->type != J_INT && t->type != J_REAL)
            break;
        return decimal_value(col, (const char *)start, (size_t)(r->p - start), true, v, a, why,
                             whylen);
    default:
        break;
    }
    describe(t, NULL, 0, shown, sizeof shown);
    if (range)
        colibri_errmsg(why, whylen, "TIMESTAMP out of range (years 0001-9999), got %s", shown);
    else
        colibri_errmsg(why, whylen, "expected %s%s, got %s", col_type_expected(type),
                       type == COL_TIMESTAMP ? " or epoch seconds" : "", shown);
    return COLIBRI_EINVAL;
}

/*
 * Type token t, a scalar (not null) of element type col->elem that spans
 * [start, r->p) of the message, into v (zeroed). Texts are kept in a. 0,
 * EINVAL with why (not naming the field), or ENOMEM.
 */
static inline __attribute__((always_inline))
int scalar(struct jreader *r, const struct column *col, const struct jtoken *t,
           const unsigned char *start, struct value *v, struct arena *a, char *why, size_t whylen)
{
    enum col_type type = col->elem;
    const char *text;
    size_t n;
    int rc;

    if (type == COL_JSON) {     /* any JSON value, as its minified text */
        struct strbuf sb = STRBUF_INIT;
        strbuf_add_json_min(&sb, (const char *)start, (size_t)(r->p - start));
        v->u.s.p = sb.failed ? NULL : arena_dup(a, sb.buf, sb.len);
        v->u.s.n = sb.len;
        strbuf_release(&sb);
        return v->u.s.p ? 0 : COLIBRI_ENOMEM;
    }
    if (t->type != J_STRING)
        return token_value(r, col, t, start, v, a, why, whylen);
    text = t->s.raw;
    n = t->s.n;
    if (t->s.esc) {             /* decoded into the free middle of the row buffer, not kept */
        text = r->buf + r->used;
        n = jr_decode(&t->s, r->buf + r->used);
    }
    if (type == COL_NUMERIC || type == COL_BIGNUMERIC)
        return decimal_value(col, text, n, false, v, a, why, whylen);
    if ((rc = value_parse(type, text, n, v, a, why, whylen)) != 0)
        return rc;
    if ((type == COL_STRING || type == COL_BYTES) && !(v->u.s.p = arena_dup(a, text, n)))
        return COLIBRI_ENOMEM;  /* borrowed: keep a copy */
    return 0;
}

/* ---- records and arrays ---------------------------------------------------- */

/* One record or repeated column being read: where we are, and the first refusal. */
struct nest {
    struct coerce *c;
    struct jreader *r;
    char path[200];             /* "items[2].qty" */
    size_t plen;
    bool failed;
    char why[192];
};

/* ".name" (or "name" first), or "[idx]" when name is NULL. */
static void path_push(struct nest *n, const char *name, size_t idx)
{
    size_t room = sizeof n->path - n->plen;
    int k = name ? snprintf(n->path + n->plen, room, "%s%s", n->plen ? "." : "", name)
                 : snprintf(n->path + n->plen, room, "[%zu]", idx);
    if (k > 0)
        n->plen = n->plen + (size_t)k < sizeof n->path ? n->plen + (size_t)k : sizeof n->path - 1;
}

/* The first refusal inside the column: "field 'items[2].qty': detail". */
static void refuse(struct nest *n, const char *detail)
{
    if (n->failed)
        return;
    n->failed = true;
    colibri_errmsg(n->why, sizeof n->why, "field '%s': %s", n->path, detail);
}

static int nested(struct nest *n, const struct column *f, bool element, size_t depth,
                  struct strbuf *out);

/* After a member or an element: 1 when another follows (r->p past the ','), 0 when the
 * container closes here (past close), else the syntax error. */
static inline __attribute__((always_inline)) int next_or_close(struct jreader *r, char close)
{
    jr_skip_ws(r);
    if (r->p < r->end && *r->p == ',') {
        r->p++;
        jr_skip_ws(r);
        return 1;
    }
    if (r->p < r->end && *r->p == close) {
        r->p++;
        return 0;
    }
    return jr_syntax(r, r->p, close == '}' ? "',' or '}' expected" : "',' or ']' expected");
}

/* A record's object, r->p at '{': every field in schema order into out. */
static int record(struct nest *n, const struct column *f, size_t depth, struct strbuf *out)
{
    struct jreader *r = n->r;
    struct strbuf vals = STRBUF_INIT;       /* the fields' values, in the message's order */
    size_t obj = ++r->objects, base = n->plen;
    struct span { size_t off, len; bool set, null; } *sp = calloc(f->nfields, sizeof *sp);
    int rc = 0;

    if (!sp)
        return COLIBRI_ENOMEM;
    r->p++;
    jr_skip_ws(r);
    if (r->p < r->end && *r->p == '}') {
        r->p++;
    } else {
        for (;;) {
            const unsigned char *at = r->p;
            struct jstr k;
            const char *kp;
            size_t kn, i;
            uint64_t h;
            if ((rc = jr_key(r, &k, &kp, &kn, &h)) != 0)
                goto out;
            for (i = 0; i < f->nfields; i++)
                if (strlen(f->fields[i].name) == kn && !memcmp(f->fields[i].name, kp, kn))
                    break;
            if (i == f->nfields) {          /* unknown: ignored, as at the top level */
                if ((rc = jr_remember_key(r, obj, &k, kp, kn, h, at)) != 0 ||
                    (rc = jr_skip(r, depth + 1)) != 0)
                    goto out;
            } else if (sp[i].set) {
                rc = jr_syntax(r, at, "duplicate object key");
                goto out;
            } else {
                path_push(n, f->fields[i].name, 0);
                sp[i].set = true;
                sp[i].off = vals.len;
                sp[i].null = r->p < r->end && *r->p == 'n';
                rc = nested(n, &f->fields[i], false, depth + 1, &vals);
                sp[i].len = vals.len - sp[i].off;
                n->plen = base;
                n->path[base] = '\0';
                if (rc)
                    goto out;
            }
            if ((rc = next_or_close(r, '}')) <= 0)
                break;
        }
        if (rc < 0)
            goto out;
    }
    for (size_t i = 0; i < f->nfields; i++) {
        const struct column *g = &f->fields[i];
        json_key_add(out, g, i == 0);
        if (sp[i].set && !(sp[i].null && !g->repeated)) {
            strbuf_add(out, vals.buf + sp[i].off, sp[i].len);
            continue;
        }
        if (g->required) {
            path_push(n, g->name, 0);
            if (!n->failed) {
                n->failed = true;
                colibri_errmsg(n->why, sizeof n->why, sp[i].set ? "required field '%s' is null"
                               : "missing required field '%s'", n->path);
            }
            n->plen = base;
            n->path[base] = '\0';
        }
        strbuf_adds(out, g->repeated ? "[]" : "null");
    }
    strbuf_addc(out, '}');
out:
    free(sp);
    strbuf_release(&vals);
    return rc;
}

/*
 * The value at r->p for field f: its array when f is REPEATED (element:
 * false), else one record or scalar. Canonical JSON into out; a refusal is
 * kept in n and reading goes on, so that a syntax error later still wins.
 */
static int nested(struct nest *n, const struct column *f, bool element, size_t depth,
                  struct strbuf *out)
{
    struct jreader *r = n->r;
    const unsigned char *start;
    struct jtoken t = { .type = J_NULL };   /* t.s is read by describe only for strings */
    struct value v = { .is_null = false };
    char why[160];
    int rc;

    if (depth > JSON_MAX_DEPTH)
        return jr_syntax(r, r->p, "maximum parsing depth reached");
    if (f->repeated && !element && r->p < r->end && *r->p == '[') {
        size_t base = n->plen;
        r->p++;
        jr_skip_ws(r);
        strbuf_addc(out, '[');
        if (r->p < r->end && *r->p == ']') {
            r->p++;
        } else {
            for (size_t k = 0;; k++) {
                if (k)
                    strbuf_addc(out, ',');
                path_push(n, NULL, k);
                rc = nested(n, f, true, depth + 1, out);
                n->plen = base;
                n->path[base] = '\0';
                if (rc)
                    return rc;
                if ((rc = next_or_close(r, ']')) < 0)
                    return rc;
                if (rc == 0)
                    break;
            }
        }
        strbuf_addc(out, ']');
        return 0;
    }
    if (f->elem == COL_RECORD && (element || !f->repeated) && r->p < r->end && *r->p == '{')
        return record(n, f, depth, out);    /* a REPEATED RECORD's own value must be an array */
    start = r->p;
    if ((rc = jr_token(r, &t, depth)) != 0)
        return rc;
    if (t.type == J_NULL) {
        if (element)
            refuse(n, "null element in an array (BigQuery refuses them)");
        strbuf_adds(out, f->repeated && !element ? "[]" : "null");
        return 0;
    }
    if ((f->repeated && !element) || f->elem == COL_RECORD) {    /* not the container it needs */
        bool array = f->repeated && !element;
        char msg[200];
        describe(&t, t.s.raw, t.s.n, why, sizeof why);
        colibri_errmsg(msg, sizeof msg, "expected %s, got %s",
                       array ? "an array (REPEATED)" : "RECORD (an object)", why);
        refuse(n, msg);
        strbuf_adds(out, array ? "[]" : "null");
        return 0;
    }
    rc = scalar(r, f, &t, start, &v, &n->c->ext, why, sizeof why);
    if (rc == COLIBRI_ENOMEM)
        return rc;
    if (rc) {
        refuse(n, why);
        strbuf_adds(out, "null");
        return 0;
    }
    value_format(f->elem, &v, out, VALUE_JSON);
    return 0;
}

/* The value of a RECORD or REPEATED user column col, r->p at it. */
static int read_nested(struct jreader *r, struct coerce *c, size_t col)
{
    const struct column *f = &c->s->cols[col];
    struct nest n = { .c = c, .r = r };
    struct value *v = &c->vals[col];
    int rc;

    snprintf(n.path, sizeof n.path, "%s", f->name);
    n.plen = strlen(n.path);
    strbuf_reset(&c->tmp);
    if ((rc = nested(&n, f, false, 2, &c->tmp)) != 0)
        return rc;
    if (c->tmp.failed)
        return COLIBRI_ENOMEM;
    if (n.failed) {
        if (col < c->bad) {
            c->bad = col;
            c->why_whole = true;
            memcpy(c->why, n.why, sizeof c->why);
        }
        return 0;
    }
    if (!f->repeated && c->tmp.len == 4 && !memcmp(c->tmp.buf, "null", 4)) {
        v->is_null = true;
        return 0;
    }
    if (!(v->u.s.p = arena_dup(&c->ext, c->tmp.buf, c->tmp.len)))
        return COLIBRI_ENOMEM;
    v->u.s.n = c->tmp.len;
    return 0;
}

/* ---- the message ------------------------------------------------------------- */

/* The value of user column col, r->p at it. */
static int read_field(struct jreader *r, struct coerce *c, size_t col)
{
    const struct column *f = &c->s->cols[col];
    struct value *v = &c->vals[col];
    const unsigned char *start = r->p;
    struct jtoken t;
    char *dst;
    int rc;

    if (f->repeated || f->elem == COL_RECORD) {
        if ((rc = read_nested(r, c, col)) == COLIBRI_ENOMEM)
            r->oom = true;
        return rc;
    }
    if ((rc = jr_token(r, &t, 2)) != 0)
        return rc;
    if (t.type == J_NULL) {
        v->is_null = true;
        return 0;
    }
    if (t.type == J_STRING && f->type == COL_STRING) {
        dst = r->buf + r->used;
        size_t n = jr_decode(&t.s, dst);
        dst[n] = '\0';          /* strings are C strings too, for consumers that want them */
        v->u.s.p = dst;
        v->u.s.n = n;
        r->used += n + 1;
        return 0;
    }
    rc = t.type != J_STRING && f->elem != COL_JSON   /* numbers, true, false: the short way */
        ? token_value(r, f, &t, start, v, &c->ext, col < c->bad ? c->why : NULL, sizeof c->why)
        : scalar(r, f, &t, start, v, &c->ext, col < c->bad ? c->why : NULL, sizeof c->why);
    if (rc == COLIBRI_ENOMEM) {
        r->oom = true;
        return rc;
    }
    if (rc && col < c->bad) {
        c->bad = col;
        c->why_whole = false;
    }
    return 0;
}
/* The message is an object, r->p at its '{'. */
static int read_object(struct jreader *r, struct coerce *c)
{
    struct jstr k;
    const char *kp;
    size_t kn;
    uint64_t h;

    r->p++;
    jr_skip_ws(r);
    if (r->p < r->end && *r->p == '}') {
        r->p++;
        return 0;
    }
    for (;;) {
        const unsigned char *at = r->p;
        int rc;
        if ((rc = jr_key(r, &k, &kp, &kn, &h)) != 0)
            return rc;
        long col = find_column(c->s, kp, kn, h);
        if (col < 0) {
            if ((rc = jr_remember_key(r, 0, &k, kp, kn, h, at)) != 0 || (rc = jr_skip(r, 2)) != 0)
                return rc;
        } else {
            if (c->seen[col])
                return jr_syntax(r, at, "duplicate object key");
            c->seen[col] = 1;
            if ((rc = read_field(r, c, (size_t)col)) != 0)
                return rc;
        }
        if ((rc = next_or_close(r, '}')) <= 0)
            return rc;
    }
}

/* The message is not an object: check it all the same, and say what it is in shown. */
static int read_other(struct jreader *r, char *shown, size_t len)
{
    struct jtoken t;
    size_t n = 0;
    int rc;

    if ((rc = jr_token(r, &t, 1)) != 0)
        return rc;
    if (t.type == J_STRING)
        n = jr_decode(&t.s, r->buf);
    describe(&t, r->buf, n, shown, len);
    return 0;
}

/* Every user column in schema order: the first missing, null or refused one fails the row. */
static int check_row(struct coerce *c, char *reason, size_t reasonlen)
{
    const struct schema *s = c->s;

    for (size_t i = 0; i < s->nuser; i++) {
        const struct column *col = &s->cols[i];
        if (!c->seen[i] && col->repeated) {      /* absent: the empty array, as in BigQuery */
            c->vals[i].u.s.p = "[]";
            c->vals[i].u.s.n = 2;
        } else if (i == c->bad && c->why_whole) {
            colibri_errmsg(reason, reasonlen, "%s", c->why);
            return COLIBRI_EINVAL;
        } else if (!c->seen[i] || c->vals[i].is_null) {
            if (col->required) {
                colibri_errmsg(reason, reasonlen, c->seen[i] ? "required field '%s' is null"
                                                     : "missing required field '%s'", col->name);
                return COLIBRI_EINVAL;
            }
            c->vals[i].is_null = true;
        } else if (i == c->bad) {
            colibri_errmsg(reason, reasonlen, "field '%s': %s", col->name, c->why);
            return COLIBRI_EINVAL;
        }
    }
    for (size_t i = s->nuser; i < s->ncols; i++)
        c->vals[i].is_null = true;
    return 0;
}

int schema_coerce(const struct schema *s, const char *msg, size_t len, struct row *out,
                  char *reason, size_t reasonlen)
{
    struct jreader r = {
        .start = (const unsigned char *)msg, .p = (const unsigned char *)msg,
        .end = (const unsigned char *)msg + len, .back = len + 1,
        .seed = s->index ? s->index->seed : 0,
    };
    struct coerce c = { .s = s, .bad = SIZE_MAX };
    struct key keys[KEYS_INLINE];       /* left uninitialised: most messages need none */
    char shown[VALUE_ECHO_MAX + 16], why[160];
    bool object;
    int rc;

    memset(out, 0, sizeof *out);
    r.keys.inline_slots = keys;
    /* The values, then one "seen" byte per user column; and the string buffer. */
    c.vals = malloc(s->ncols * sizeof *c.vals + s->nuser);
    r.buf = malloc(len + 1);
    if (!c.vals || !r.buf) {
        rc = COLIBRI_ENOMEM;
        colibri_errmsg(reason, reasonlen, "out of memory");
        goto out;
    }
    memset(c.vals, 0, s->ncols * sizeof *c.vals + s->nuser);
    c.seen = (unsigned char *)(c.vals + s->ncols);

    jr_skip_ws(&r);
    object = r.p < r.end && *r.p == '{';
    rc = object ? read_object(&r, &c) : read_other(&r, shown, sizeof shown);
    if (rc == 0) {
        jr_skip_ws(&r);
        if (r.p != r.end)
            rc = jr_syntax(&r, r.p, "end of file expected");
    }
    if (r.oom) {
        rc = COLIBRI_ENOMEM;
        colibri_errmsg(reason, reasonlen, "out of memory");
        goto out;
    }
    if (rc != 0) {
        snprintf(why, sizeof why, "%s at byte %zu", r.err, r.errpos);
        colibri_errmsg(reason, reasonlen, "message is not valid JSON: %s", why);
        goto out;
    }
    if (!object) {
        rc = COLIBRI_EINVAL;
        colibri_errmsg(reason, reasonlen, "message is not a JSON object, got %s", shown);
        goto out;
    }
    if ((rc = check_row(&c, reason, reasonlen)) != 0)
        goto out;
    r.buf[r.used] = '\0';
    if (len + 1 - r.used > 4096) {
        /* A large message with little to keep (rows wait in batches): give back the rest. */
        char *small = malloc(r.used + 1);
        if (small) {
            memcpy(small, r.buf, r.used + 1);
            for (size_t i = 0; i < s->nuser; i++)
                if (s->cols[i].type == COL_STRING && !c.vals[i].is_null)
                    c.vals[i].u.s.p = small + (c.vals[i].u.s.p - r.buf);
            free(r.buf);
            r.buf = small;
        }
    }
    out->vals = c.vals;
    out->buf = r.buf;
    c.vals = NULL;
    r.buf = NULL;
    out->ext = c.ext;
    c.ext.head = NULL;
out:
    if (r.keys.slots != r.keys.inline_slots)
        free(r.keys.slots);
    free(c.vals);
    free(r.buf);
    arena_release(&c.ext);
    strbuf_release(&c.tmp);
    return rc;
}

void row_release(struct row *r)
{
    if (!r)
        return;
    free(r->vals);
    free(r->buf);
    free(r->meta);
    arena_release(&r->ext);
    r->vals = NULL;
    r->buf = NULL;
    r->meta = NULL;
}

