/*
 * query.h — GET /data parameters → a validated query; keyset cursors.
 *
 * query_parse reads the raw (still %-encoded) query string, decodes it
 * strictly, checks every name against the schema and types every value by
 * its column. Nothing here builds SQL: a backend turns struct query into its
 * own parameterised statement.
 *
 * A cursor is the keyset position (event time, _id) of the last row served,
 * bound to the order and to a digest of the filters, and signed with
 * HMAC-SHA256 so that a forged or truncated one is refused.
 */
#ifndef COLIBRI_QUERY_H
#define COLIBRI_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "colibri/schema.h"

#define QUERY_LIMIT_DEFAULT 100
#define QUERY_LIMIT_MAX 1000
#define QUERY_MAX_FILTERS 256    /* more than /openapi.json lists for a schema of 28 columns */
#define QUERY_MAX_IN 100

enum filter_op { OP_EQ, OP_NE, OP_GT, OP_GTE, OP_LT, OP_LTE, OP_IN, OP_PREFIX, OP_ISNULL,
                 OP_CONTAINS };
enum out_format { FMT_JSON, FMT_NDJSON, FMT_CSV };

struct filter {
    size_t col;             /* schema column index */
    enum filter_op op;
    struct value *vals;     /* 1 value; n for OP_IN; for OP_ISNULL vals[0].u.b */
    size_t nvals;
    const struct column *leaf;  /* what is tested: the column, or a field inside its records */
    const char *path;       /* NULL, or the dotted path below the column ("brand", "a.b") */
};

/* The type of f's values: its leaf's (each element's, for OP_CONTAINS). */
static inline enum col_type filter_type(const struct filter *f) { return f->leaf->elem; }

struct query {
    size_t limit;
    bool desc;
    bool has_since, has_until;
    int64_t since, until;   /* µs, half-open [since, until) on the event-time column */
    size_t *fields;         /* columns to output, in order (all when not given) */
    size_t nfields;
    struct field_part {     /* NULL, or per field: the parts of a RECORD that fields= named */
        const char **paths; /* dotted, below the column ("brand"); NULL: all of it */
        size_t npaths;
    } *parts;
    struct filter *filters;
    size_t nfilters;
    enum out_format format;
    bool has_cursor;        /* start strictly after (cur_time, cur_id) in the order */
    int64_t cur_time;
    char *cur_id;
    long timeout_ms;        /* stop the query after this long (0 = never); set by the caller */
    unsigned char digest[16]; /* of order, since/until and filters: binds cursors */
    char *buf;              /* owns decoded strings the values point into */
    struct arena ext;       /* owns canonical texts (NUMERIC, ...) and filter paths */
};

/* Key for signing cursors. */
struct cursor_key {
    unsigned char bytes[32];
};

/* Derive a key from a configured secret, or random bytes if secret is NULL/"". */
int cursor_key_init(struct cursor_key *k, const char *secret);

/*
 * Parse a raw query string (without '?', may be NULL or "") into out.
 * On COLIBRI_EINVAL, err names the parameter and what is wrong with it and
 * out needs no release. Caller releases a parsed query with query_release.
 */
int query_parse(const struct schema *s, const struct cursor_key *key, const char *qs,
                struct query *out, char *err, size_t errlen);

void query_release(struct query *q);

/* Operator op applies to filters on leaf (a column or a field in its records). */
bool query_op_applies(const struct column *leaf, enum filter_op op);

/*
 * The filter syntax of a NUMERIC / BIGNUMERIC value: a plain decimal with at
 * most the type's digits each side, no exponent (/openapi.json's pattern).
 */
#define NUMERIC_FILTER_PATTERN "^[+-]?[0-9]{1,29}(\\.[0-9]{1,9})?$"
#define BIGNUMERIC_FILTER_PATTERN "^[+-]?[0-9]{1,38}(\\.[0-9]{1,38})?$"

/*
 * The cursor that continues q after a row whose event time is t and _id is id.
 * Writes a NUL-terminated base64url token into buf (at least CURSOR_MAX bytes).
 */
#define CURSOR_MAX 512
int cursor_encode(const struct cursor_key *k, const struct query *q, int64_t t,
                  const char *id, size_t idlen, char *buf, size_t buflen);

/*
 * Strict %-decoding of src[0..len) into dst (len+1 bytes suffice), '+' → ' '.
 * Returns the decoded length, or -1 on a broken escape or an encoded NUL.
 */
long url_decode(const char *src, size_t len, char *dst);

#endif
