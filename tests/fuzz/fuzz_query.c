/*
 * fuzz_query.c — query_parse and url_decode on arbitrary query strings.
 *
 * The input is a raw query string (what follows '?', still %-encoded), parsed
 * against schema/flights.json. Invariants checked on every input:
 *   url_decode: the result is no longer than its input and NUL-terminated;
 *     no NUL comes out of an input without one (%00 is refused).
 *   failure: EINVAL or ETOOBIG, a non-empty printable-ASCII message, and the
 *     output struct left zeroed (nothing to release).
 *   success: limit 1..1000; fields non-empty, in range, no duplicates; at most
 *     32 filters, each column < ncols, an operator that suits the column type,
 *     1 value (1..100 for in), every value typed as its column says (strings
 *     NUL-terminated inside q->buf, valid UTF-8; TIMESTAMP/DATE in 0001..9999;
 *     FLOAT64 finite); since <= until.
 *   determinism and order: parsing again, and parsing the '&'-pieces in
 *     reverse order, gives the same result and the same digest.
 *   cursors: a cursor_encode'd token for this query, appended as cursor=,
 *     parses back to the same (event time, _id) and the same digest.
 */
#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colibri/error.h"
#include "colibri/query.h"
#include "colibri/schema.h"
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define QS_MAX 16384        /* QUERY_MAX_LEN in src/query.c */

static struct schema *S;
static struct cursor_key K;
static int64_t ts_min, ts_max, day_min, day_max;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[256];
    (void)argc, (void)argv;
    if (schema_parse(flights_json, strlen(flights_json), "flights", "event_time", &S, err,
                     sizeof err) || cursor_key_init(&K, "colibri-fuzz")) {
        fprintf(stderr, "fuzz_query: setup: %s\n", err);
        abort();
    }
    assert(timestamp_parse("0001-01-01T00:00:00Z", 20, &ts_min) == 0);
    assert(timestamp_parse("9999-12-31T23:59:59.999999Z", 27, &ts_max) == 0);
    assert(date_parse("0001-01-01", 10, &day_min) == 0);
    assert(date_parse("9999-12-31", 10, &day_max) == 0);
    return 0;
}

static void check_error(int rc, const char *err, const struct query *q)
{
    static const struct query zero;
    assert(rc == COLIBRI_EINVAL || rc == COLIBRI_ETOOBIG);
    assert(err[0] != '\0');
    for (const char *c = err; *c; c++)
        assert(*c >= 0x20 && *c < 0x7f);
    assert(memcmp(q, &zero, sizeof zero) == 0);
}

/* A pointer into q->buf, whose size is 2 * qslen + 2 (see query_parse). */
static void check_in_buf(const struct query *q, size_t qslen, const char *p, size_t n)
{
    assert(p >= q->buf && p + n < q->buf + 2 * qslen + 2);
    assert(p[n] == '\0');
}

static void check_query(const struct query *q, size_t qslen)
{
    const struct schema *s = S;

    assert(q->limit >= 1 && q->limit <= QUERY_LIMIT_MAX);
    assert(q->format == FMT_JSON || q->format == FMT_NDJSON || q->format == FMT_CSV);
    assert(q->nfields >= 1 && q->nfields <= s->ncols && q->fields);
    for (size_t i = 0; i < q->nfields; i++) {
        assert(q->fields[i] < s->ncols);
        for (size_t j = 0; j < i; j++)
            assert(q->fields[i] != q->fields[j]);
    }
    if (q->has_since)
        assert(q->since >= ts_min && q->since <= ts_max);
    if (q->has_until)
        assert(q->until >= ts_min && q->until <= ts_max);
    if (q->has_since && q->has_until)
        assert(q->since <= q->until);
    if (q->has_cursor) {
        assert(q->cur_id);
        check_in_buf(q, qslen, q->cur_id, strlen(q->cur_id));
    } else {
        assert(!q->cur_id);
    }
    assert(q->nfilters <= QUERY_MAX_FILTERS);
    for (size_t i = 0; i < q->nfilters; i++) {
        const struct filter *f = &q->filters[i];
        assert(f->col < s->ncols);
        enum col_type t = s->cols[f->col].type;
        assert(f->op <= OP_ISNULL && f->vals);
        if (f->op == OP_IN)
            assert(f->nvals >= 1 && f->nvals <= QUERY_MAX_IN);
        else
            assert(f->nvals == 1);
        if (f->op == OP_PREFIX)
            assert(t == COL_STRING);
        if (f->op == OP_GT || f->op == OP_GTE || f->op == OP_LT || f->op == OP_LTE)
            assert(t != COL_BOOL);
        if (f->op == OP_ISNULL)
            continue;
        for (size_t j = 0; j < f->nvals; j++) {
            const struct value *v = &f->vals[j];
            assert(!v->is_null);
            switch (t) {
            case COL_STRING:
                check_in_buf(q, qslen, v->u.s.p, v->u.s.n);
                assert(!memchr(v->u.s.p, '\0', v->u.s.n));
                assert(utf8_ok((const unsigned char *)v->u.s.p, v->u.s.n));
                if (f->op == OP_IN)
                    assert(!memchr(v->u.s.p, ',', v->u.s.n));
                break;
            case COL_TIMESTAMP:
                assert(v->u.i >= ts_min && v->u.i <= ts_max);
                break;
            case COL_DATE:
                assert(v->u.i >= day_min && v->u.i <= day_max);
                break;
            case COL_FLOAT64:
                assert(isfinite(v->u.f));
                break;
            case COL_INT64:
            case COL_BOOL:
                break;
            }
        }
    }
}

/* The same pieces joined in reverse order. */
static char *reversed(const char *qs, size_t len)
{
    char *out = malloc(len + 1), *w = out;
    size_t end = len;
    assert(out);
    for (size_t i = len + 1; i-- > 0;) {
        if (i == 0 || qs[i - 1] == '&') {
            memcpy(w, qs + i, end - i);
            w += end - i;
            if (i > 0)
                *w++ = '&';
            end = i ? i - 1 : 0;
        }
    }
    *w = '\0';
    assert((size_t)(w - out) == len);
    return out;
}

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static void check_cursor_round_trip(const struct query *q, const char *qs, size_t len,
                                    uint64_t h)
{
    char tok[CURSOR_MAX], id[48], err[256];
    struct query q2;
    int64_t t = (int64_t)h;
    size_t idlen = (size_t)snprintf(id, sizeof id, "kafka:flights/%u/%llu", (unsigned)(h % 7),
                                    (unsigned long long)(h >> 20));

    if (len + sizeof "&cursor=" + CURSOR_MAX > QS_MAX)
        return;
    assert(cursor_encode(&K, q, t, id, idlen, tok, sizeof tok) == 0);
    char *qs2 = malloc(len + sizeof "&cursor=" + strlen(tok));
    assert(qs2);
    sprintf(qs2, "%s%scursor=%s", qs, len ? "&" : "", tok);
    int rc = query_parse(S, &K, qs2, &q2, err, sizeof err);
    if (rc)
        fprintf(stderr, "cursor round trip refused: %s\n  qs: %s\n", err, qs2);
    assert(rc == 0);
    check_query(&q2, strlen(qs2));
    assert(q2.has_cursor && q2.cur_time == t && !strcmp(q2.cur_id, id));
    assert(!memcmp(q2.digest, q->digest, sizeof q->digest));
    assert(q2.limit == q->limit && q2.nfields == q->nfields && q2.nfilters == q->nfilters);
    query_release(&q2);
    free(qs2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    struct query q, q2;

    if (size > QS_MAX + 64)
        return 0;

    /* url_decode over the raw bytes, NULs included */
    char *dec = malloc(size + 1);
    assert(dec);
    long n = url_decode((const char *)data, size, dec);
    if (n >= 0) {
        assert((size_t)n <= size && dec[n] == '\0');
        if (!memchr(data, '\0', size))
            assert(!memchr(dec, '\0', (size_t)n));
    }
    free(dec);

    /* query_parse sees a C string: the input up to its first NUL */
    char *qs = malloc(size + 1);
    assert(qs);
    memcpy(qs, data, size);
    qs[size] = '\0';
    size_t len = strlen(qs);

    err[0] = 'x', err[1] = '\0';
    int rc = query_parse(S, &K, qs, &q, err, sizeof err);
    if (rc) {
        check_error(rc, err, &q);
    } else {
        check_query(&q, len);
    }

    /* determinism */
    int rc2 = query_parse(S, &K, qs, &q2, err, sizeof err);
    assert(rc2 == rc);
    if (!rc2) {
        assert(!memcmp(q2.digest, q.digest, sizeof q.digest));
        query_release(&q2);
    }

    /* parameter order changes nothing */
    if (len <= QS_MAX) {
        char *rev = reversed(qs, len);
        rc2 = query_parse(S, &K, rev, &q2, err, sizeof err);
        if ((rc2 == 0) != (rc == 0))
            fprintf(stderr, "order matters: rc %d, reversed rc %d (%s)\n", rc, rc2, err);
        assert((rc2 == 0) == (rc == 0));
        if (!rc2) {
            assert(!memcmp(q2.digest, q.digest, sizeof q.digest));
            assert(q2.has_cursor == q.has_cursor && q2.cur_time == q.cur_time);
            query_release(&q2);
        }
        free(rev);
    }

    if (!rc && !q.has_cursor)
        check_cursor_round_trip(&q, qs, len, fnv1a(data, size));

    query_release(&q);
    free(qs);
    return 0;
}
