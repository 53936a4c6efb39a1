/*
 * fuzz_coerce_diff.c — schema_coerce against the jansson implementation it
 * replaced, on arbitrary messages.
 *
 * schema_coerce reads messages with its own JSON reader. The function it
 * replaced (json_loadb with JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, then
 * one lookup per column) is kept below as old_coerce, verbatim but for names;
 * the text → value rules it shared (text_value) are reached via value_parse,
 * which is the same code. Every input is coerced by both against two schemas
 * (schema/flights.json, and one with every column type under short names so
 * the fuzzer finds them). They must agree on:
 *   the return code; on failure the row is zeroed and the reason is the same
 *     text, except that two "message is not valid JSON: ..." reasons may word
 *     the syntax error differently;
 *   on success every column: NULL or not, and the value (strings byte for
 *     byte, with a NUL after them inside the row's buffer; doubles bit for
 *     bit).
 * A difference prints both sides and aborts.
 *
 * One difference is meant: jansson drops a NUL byte that directly follows a
 * number or true/false/null (its one-byte pushback buffer is NUL-terminated,
 * so a pushed-back 0 reads as "empty"), and so took {"a":1<NUL>}. RFC 8259
 * allows a raw NUL byte nowhere in a JSON text, and the reader refuses every
 * message with one; here the old side is held to that too (old_coerce_strict).
 *
 * libFuzzer (scripts/fuzz coerce_diff, or by hand from the repository root):
 *   clang -std=c11 -D_GNU_SOURCE -Iinclude -g -O1 -fsanitize=fuzzer,address,undefined \
 *     tests/fuzz/fuzz_coerce_diff.c src/schema.c src/error.c -ljansson -lm -o fuzz_coerce_diff
 * Lines instead (-DCOERCE_DIFF_MAIN: every line of stdin is one message; the
 * exit status says whether all agreed):
 *   build/flightgen --rows 200000 --seed 1 --malformed-pct 5 | ./coerce_diff
 */
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colibri/error.h"
#include "colibri/schema.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- the old implementation (src/schema.c before the reader) ------------- */

#define ECHO_MAX 40
#define US_PER_SEC 1000000LL
#define US_PER_DAY 86400000000LL
#define DAYS_0001_TO_1970 (-719162LL)
#define DAYS_10000_TO_1970 2932897LL
#define TS_MIN_US (DAYS_0001_TO_1970 * US_PER_DAY)
#define TS_MAX_US (DAYS_10000_TO_1970 * US_PER_DAY - 1)

static void setmsg(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void setmsg(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;

    if (!buf || len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

static size_t ref_utf8_seq(const unsigned char *p, size_t n)
{
    size_t len, i;
    unsigned cp;

    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        len = 2, cp = p[0] & 0x1fu;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        len = 3, cp = p[0] & 0x0fu;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        len = 4, cp = p[0] & 0x07u;
    else
        return 0;
    if (len > n)
        return 0;
    for (i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3fu);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

static void sanitize(char *dst, size_t dstlen, const char *s, size_t n, size_t max)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, o = 0, k;

    while (i < n && o < max && o + 5 < dstlen) {
        k = p[i] < 0x20 || p[i] == 0x7f ? 0 : ref_utf8_seq(p + i, n - i);
        if (k == 0) {
            dst[o++] = '?';
            i++;
            continue;
        }
        if (o + k > max)
            break;
        memcpy(dst + o, p + i, k);
        o += k;
        i += k;
    }
    if (i < n) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o] = '\0';
}

static void echo(char *dst, size_t dstlen, const char *s, size_t n)
{
    char tmp[ECHO_MAX + 8];

    sanitize(tmp, sizeof tmp, s, n, ECHO_MAX);
    snprintf(dst, dstlen, "\"%s\"", tmp);
}

static const char *expected(enum col_type t)
{
    switch (t) {
    case COL_TIMESTAMP: return "TIMESTAMP (RFC 3339)";
    case COL_DATE:      return "DATE (YYYY-MM-DD)";
    default:            return col_type_name(t);
    }
}

static void describe(const json_t *j, char *buf, size_t len)
{
    char num[32];

    switch (json_typeof(j)) {
    case JSON_STRING:
        echo(buf, len, json_string_value(j), json_string_length(j));
        break;
    case JSON_INTEGER:
        snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
        break;
    case JSON_REAL:
        float_format(json_real_value(j), num);
        snprintf(buf, len, "%s", num);
        break;
    case JSON_TRUE:   snprintf(buf, len, "true"); break;
    case JSON_FALSE:  snprintf(buf, len, "false"); break;
    case JSON_NULL:   snprintf(buf, len, "null"); break;
    case JSON_OBJECT: snprintf(buf, len, "an object"); break;
    case JSON_ARRAY:  snprintf(buf, len, "an array"); break;
    }
}

static int epoch_value(const json_t *j, int64_t *us)
{
    if (json_is_integer(j)) {
        json_int_t s = json_integer_value(j);
        if (s < TS_MIN_US / US_PER_SEC || s > TS_MAX_US / US_PER_SEC)
            return COLIBRI_EINVAL;
        *us = (int64_t)s * US_PER_SEC;
        return 0;
    }
    double f = json_real_value(j) * 1e6;
    if (!(f >= (double)TS_MIN_US && f <= (double)TS_MAX_US))
        return COLIBRI_EINVAL;
    *us = llround(f);
    return *us <= TS_MAX_US ? 0 : COLIBRI_EINVAL;
}

static int json_value(enum col_type t, const json_t *j, struct value *v, char *why, size_t whylen)
{
    char shown[ECHO_MAX + 16];

    memset(v, 0, sizeof *v);
    if (json_is_string(j) && t != COL_STRING)   /* text_value, which value_parse wraps */
        return value_parse(t, json_string_value(j), json_string_length(j), v, NULL, why, whylen);
    switch (t) {
    case COL_STRING:
        if (!json_is_string(j))
            break;
        v->u.s.p = json_string_value(j);
        v->u.s.n = json_string_length(j);
        return 0;
    case COL_INT64:
        if (!json_is_integer(j))
            break;
        v->u.i = json_integer_value(j);
        return 0;
    case COL_FLOAT64:
        if (!json_is_number(j))
            break;
        v->u.f = json_number_value(j);
        return 0;
    case COL_BOOL:
        if (!json_is_boolean(j))
            break;
        v->u.b = json_is_true(j);
        return 0;
    case COL_TIMESTAMP:
        if (!json_is_number(j))
            break;
        if (epoch_value(j, &v->u.i) == 0)
            return 0;
        describe(j, shown, sizeof shown);
        setmsg(why, whylen, "TIMESTAMP out of range (years 0001-9999), got %s", shown);
        return COLIBRI_EINVAL;
    case COL_DATE:
    default:            /* the flat schemas here have none of docs/types.md's types */
        break;
    }
    describe(j, shown, sizeof shown);
    setmsg(why, whylen, "expected %s%s, got %s", expected(t),
           t == COL_TIMESTAMP ? " or epoch seconds" : "", shown);
    return COLIBRI_EINVAL;
}

static int old_coerce(const struct schema *s, const char *msg, size_t len, struct row *out,
                      char *reason, size_t reasonlen)
{
    json_error_t jerr;
    json_t *root;
    struct value *vals = NULL;
    char why[192], *p;
    size_t total = 1;
    int rc = COLIBRI_EINVAL;

    memset(out, 0, sizeof *out);
    root = json_loadb(msg, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!root) {
        sanitize(why, sizeof why, jerr.text, strlen(jerr.text), 120);
        setmsg(reason, reasonlen, "message is not valid JSON: %s", why);
        return COLIBRI_EINVAL;
    }
    if (!json_is_object(root)) {
        describe(root, why, sizeof why);
        setmsg(reason, reasonlen, "message is not a JSON object, got %s", why);
        goto out;
    }
    vals = malloc(s->ncols * sizeof *vals);
    if (!vals) {
        rc = COLIBRI_ENOMEM;
        setmsg(reason, reasonlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < s->nuser; i++) {
        const struct column *c = &s->cols[i];
        const json_t *j = json_object_get(root, c->name);

        if (!j || json_is_null(j)) {
            if (c->required) {
                setmsg(reason, reasonlen, j ? "required field '%s' is null"
                                            : "missing required field '%s'", c->name);
                goto out;
            }
            memset(&vals[i], 0, sizeof vals[i]);
            vals[i].is_null = true;
            continue;
        }
        if (json_value(c->type, j, &vals[i], why, sizeof why) != 0) {
            setmsg(reason, reasonlen, "field '%s': %s", c->name, why);
            goto out;
        }
        if (c->type == COL_STRING)
            total += vals[i].u.s.n + 1;
    }
    for (size_t i = s->nuser; i < s->ncols; i++) {
        memset(&vals[i], 0, sizeof vals[i]);
        vals[i].is_null = true;
    }
    out->buf = p = malloc(total);
    if (!p) {
        rc = COLIBRI_ENOMEM;
        setmsg(reason, reasonlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < s->nuser; i++) {
        struct value *v = &vals[i];
        if (s->cols[i].type != COL_STRING || v->is_null)
            continue;
        memcpy(p, v->u.s.p, v->u.s.n);
        v->u.s.p = p;
        p += v->u.s.n;
        *p++ = '\0';
    }
    *p = '\0';
    out->vals = vals;
    vals = NULL;
    rc = 0;
out:
    free(vals);
    json_decref(root);
    return rc;
}

/* old_coerce, but a message with a NUL byte is not JSON (see the top of the file). */
static int old_coerce_strict(const struct schema *s, const char *msg, size_t len,
                             struct row *out, char *reason, size_t reasonlen)
{
    if (memchr(msg, '\0', len)) {
        memset(out, 0, sizeof *out);
        setmsg(reason, reasonlen, "message is not valid JSON: NUL byte");
        return COLIBRI_EINVAL;
    }
    return old_coerce(s, msg, len, out, reason, reasonlen);
}

/* ---- the comparison -------------------------------------------------------- */

static const char all_types[] =
    "[{\"name\":\"ts\",\"type\":\"TIMESTAMP\",\"mode\":\"REQUIRED\"},"
    " {\"name\":\"req\",\"type\":\"STRING\",\"mode\":\"REQUIRED\"},"
    " {\"name\":\"s\",\"type\":\"STRING\"}, {\"name\":\"i\",\"type\":\"INT64\"},"
    " {\"name\":\"f\",\"type\":\"FLOAT64\"}, {\"name\":\"b\",\"type\":\"BOOL\"},"
    " {\"name\":\"t\",\"type\":\"TIMESTAMP\"}, {\"name\":\"d\",\"type\":\"DATE\"},"
    " {\"name\":\"s2\",\"type\":\"STRING\",\"mode\":\"REQUIRED\"},"
    " {\"name\":\"long_column_name_past_eight\",\"type\":\"STRING\"}]";

static struct schema *schemas[2];
static const char invalid_json[] = "message is not valid JSON: ";

static void load_schemas(void)
{
    const char *path = getenv("COLIBRI_SCHEMA");
    char err[512];

    if (schemas[0])
        return;
    if (schema_load(path ? path : "schema/flights.json", "event_time", &schemas[0], err, sizeof err) ||
        schema_parse(all_types, sizeof all_types - 1, "all", "ts", &schemas[1], err, sizeof err)) {
        fprintf(stderr, "fuzz_coerce_diff: %s (run from the repository root)\n", err);
        abort();
    }
}

static void dump(const char *what, const char *msg, size_t len)
{
    fprintf(stderr, "coerce_diff: %s\n  message (%zu bytes): ", what, len);
    for (size_t i = 0; i < len && i < 2000; i++) {
        unsigned char ch = (unsigned char)msg[i];
        fprintf(stderr, ch >= 0x20 && ch < 0x7f && ch != '\\' ? "%c" : "\\x%02x", ch);
    }
    fputc('\n', stderr);
}

/* Coerce msg both ways; false (having said why on stderr) if they differ. */
static bool same(const struct schema *s, const char *msg, size_t len)
{
    struct row a, b;
    char ra[256], rb[256], what[1200];
    int rca, rcb;
    bool ok = true;

    memset(ra, 0, sizeof ra);
    memset(rb, 0, sizeof rb);
    memset(&a, 0x5a, sizeof a);
    rca = schema_coerce(s, msg, len, &a, ra, sizeof ra);
    rcb = old_coerce_strict(s, msg, len, &b, rb, sizeof rb);
    if (rca != rcb) {
        snprintf(what, sizeof what, "[%s] rc new %d \"%s\", old %d \"%s\"", s->table, rca, ra, rcb, rb);
        ok = false;
    } else if (rca != 0) {
        bool both_syntax = !strncmp(ra, invalid_json, sizeof invalid_json - 1) &&
                           !strncmp(rb, invalid_json, sizeof invalid_json - 1);
        if (a.vals || a.buf || a.meta) {
            snprintf(what, sizeof what, "[%s] failed but the row is not zeroed", s->table);
            ok = false;
        } else if (!both_syntax && strcmp(ra, rb) != 0) {
            snprintf(what, sizeof what, "[%s] reason new \"%s\", old \"%s\"", s->table, ra, rb);
            ok = false;
        }
    } else {
        for (size_t i = 0; i < s->ncols && ok; i++) {
            const struct value *x = &a.vals[i], *y = &b.vals[i];
            bool eq = x->is_null == y->is_null;
            if (eq && !x->is_null) {
                switch (s->cols[i].type) {
                case COL_STRING:
                    eq = x->u.s.n == y->u.s.n && !memcmp(x->u.s.p, y->u.s.p, x->u.s.n) &&
                         x->u.s.p >= a.buf && x->u.s.p[x->u.s.n] == '\0';
                    break;
                case COL_INT64:
                case COL_TIMESTAMP:
                case COL_DATE:
                    eq = x->u.i == y->u.i;
                    break;
                case COL_FLOAT64:
                    eq = !memcmp(&x->u.f, &y->u.f, sizeof x->u.f);
                    break;
                case COL_BOOL:
                    eq = x->u.b == y->u.b;
                    break;
                default:    /* the flat schemas here have none of docs/types.md's types */
                    break;
                }
            }
            if (!eq) {
                snprintf(what, sizeof what, "[%s] column '%s' differs (null new %d, old %d)",
                         s->table, s->cols[i].name, x->is_null, y->is_null);
                ok = false;
            }
        }
        row_release(&a);
        row_release(&b);
    }
    if (!ok)
        dump(what, msg, len);
    return ok;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    load_schemas();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact-size copy: ASan sees any read past the message */
    char *msg = malloc(size ? size : 1);

    if (!msg)
        return 0;
    memcpy(msg, data, size);
    for (size_t k = 0; k < 2; k++)
        if (!same(schemas[k], msg, size))
            abort();
    free(msg);
    return 0;
}

#ifdef COERCE_DIFF_MAIN
int main(void)
{
    char *line = NULL;
    size_t cap = 0, lines = 0, kept = 0, diffs = 0;
    ssize_t n;
    char reason[256];

    load_schemas();
    while ((n = getline(&line, &cap, stdin)) > 0) {
        struct row r;
        size_t len = (size_t)n - (line[n - 1] == '\n');
        char *msg = malloc(len ? len : 1);
        if (!msg)
            return 2;
        memcpy(msg, line, len);
        lines++;
        for (size_t k = 0; k < 2; k++)
            diffs += !same(schemas[k], msg, len);
        if (schema_coerce(schemas[0], msg, len, &r, reason, sizeof reason) == 0) {
            kept++;
            row_release(&r);
        }
        free(msg);
    }
    free(line);
    printf("coerce_diff: %zu lines, %zu kept and %zu refused under %s, %zu differences\n",
           lines, kept, lines - kept, schemas[0]->table, diffs);
    schema_free(schemas[0]);
    schema_free(schemas[1]);
    return diffs ? 1 : 0;
}
#endif
