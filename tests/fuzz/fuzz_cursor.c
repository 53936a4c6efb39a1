/*
 * fuzz_cursor.c — the cursor decoder inside query_parse, and cursor_encode.
 *
 * Input: byte 0 picks one of a few real queries, byte 1 a mode, bytes 2..9 an
 * event time (int64), the rest is the payload.
 *   mode 0, round trip: cursor_encode(query, time, _id = payload) succeeds iff
 *     the _id has no NUL and fits (<= 341 bytes); the token is base64url and
 *     < CURSOR_MAX; query&cursor=token parses back to the same time and _id;
 *     a query that differs only in limit/format/fields/parameter order takes
 *     it too. The token is refused: under another key, by the same query with
 *     another filter or the other order, truncated by one character, and with
 *     any one character changed (position and byte from the payload).
 *   mode 1, raw token: query&cursor=payload. Forging a MAC is out of reach,
 *     so when it is accepted the payload must be the token cursor_encode
 *     writes for the decoded (time, _id): the encoding is canonical.
 *   mode 2, spliced token: a valid token whose tail from some position is
 *     replaced by the payload: refused unless the result is the token itself.
 */
#include <assert.h>
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

#define ID_MAX 341          /* (CURSOR_MAX - 1) * 3 / 4 - 26-byte head - 16-byte MAC */

/* A query; one with the same digest; ones a cursor of the first must not fit. */
static const struct {
    const char *q, *same, *other, *flipped;
} queries[] = {
    {"", "limit=3&format=csv", "carrier=LA", "order=asc"},
    {"carrier=LA", "fields=carrier&carrier=LA", "carrier=LA&origin=SCL", "carrier=LA&order=asc"},
    {"carrier__in=LA,AA&since=2024-01-01T00:00:00Z",
     "since=2024-01-01T00:00:00Z&carrier__in=AA,LA&limit=7",
     "carrier__in=LA,AA&since=2024-01-01T00:00:01Z",
     "carrier__in=LA,AA&since=2024-01-01T00:00:00Z&order=asc"},
    {"order=asc&delay_minutes__gt=15", "delay_minutes__gt=15&order=asc&format=ndjson",
     "order=asc&delay_minutes__gte=15", "order=desc&delay_minutes__gt=15"},
    {"origin=SCL&destination=LIM&until=2026-01-01T00:00:00Z&limit=5",
     "until=2026-01-01T00:00:00%2B00:00&destination=LIM&origin=SCL",
     "origin=SCL&destination=LIM&until=2026-01-01T00:00:00Z&status=landed",
     "origin=SCL&destination=LIM&until=2026-01-01T00:00:00Z&order=asc"},
    {"on_time__isnull=true&format=csv&fields=event_id", "on_time__isnull=true",
     "on_time__isnull=false", "on_time__isnull=true&order=asc"},
    {"flight_date=2026-11-29&distance_km__lte=2500.5",
     "distance_km__lte=2500.50&flight_date=2026-11-29",
     "flight_date=2026-11-30&distance_km__lte=2500.5",
     "flight_date=2026-11-29&distance_km__lte=2500.5&order=asc"},
    {"event_id__prefix=ev-&order=desc", "order=desc&event_id__prefix=ev%2D",
     "event_id__prefix=ev", "event_id__prefix=ev-&order=asc"},
};
#define NQUERIES (sizeof queries / sizeof queries[0])

static struct schema *S;
static struct cursor_key K, K2;
static struct query base[NQUERIES];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[256];
    (void)argc, (void)argv;
    if (schema_parse(flights_json, strlen(flights_json), "flights", "event_time", &S, err,
                     sizeof err) || cursor_key_init(&K, "colibri-fuzz")
        || cursor_key_init(&K2, "colibri-fuzz-2")) {
        fprintf(stderr, "fuzz_cursor: setup: %s\n", err);
        abort();
    }
    for (size_t i = 0; i < NQUERIES; i++) {
        if (query_parse(S, &K, queries[i].q, &base[i], err, sizeof err)) {
            fprintf(stderr, "fuzz_cursor: query %zu: %s\n", i, err);
            abort();
        }
    }
    return 0;
}

/* Parse q&cursor=tok under key k: 0 or the error. */
static int parse_with(const struct cursor_key *k, const char *q, const char *tok, size_t toklen,
                      struct query *out)
{
    char err[256];
    size_t qlen = strlen(q);
    char *qs = malloc(qlen + 8 + toklen + 1);
    assert(qs);
    memcpy(qs, q, qlen);
    memcpy(qs + qlen, qlen ? "&cursor=" : "cursor=", qlen ? 8 : 7);
    size_t at = qlen + (qlen ? 8 : 7);
    memcpy(qs + at, tok, toklen);
    qs[at + toklen] = '\0';
    int rc = query_parse(S, k, qs, out, err, sizeof err);
    if (rc)
        assert(rc == COLIBRI_EINVAL || rc == COLIBRI_ETOOBIG);
    free(qs);
    return rc;
}

static void expect_refused(const struct cursor_key *k, const char *q, const char *tok,
                           size_t toklen, const char *why)
{
    struct query q2;
    if (parse_with(k, q, tok, toklen, &q2) == 0) {
        fprintf(stderr, "cursor accepted (%s): %s&cursor=%.*s\n", why, q, (int)toklen, tok);
        abort();
    }
}

static void expect_accepted(const char *q, const char *tok, int64_t t, const char *id,
                            size_t idlen)
{
    struct query q2;
    int rc = parse_with(&K, q, tok, strlen(tok), &q2);
    if (rc) {
        fprintf(stderr, "cursor refused: %s&cursor=%s\n", q, tok);
        abort();
    }
    assert(q2.has_cursor && q2.cur_time == t);
    assert(strlen(q2.cur_id) == idlen && !memcmp(q2.cur_id, id, idlen));
    query_release(&q2);
}

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static void round_trip(size_t qi, int64_t t, const uint8_t *id, size_t idlen, uint64_t h)
{
    char tok[CURSOR_MAX];
    int rc = cursor_encode(&K, &base[qi], t, (const char *)id, idlen, tok, sizeof tok);

    if (idlen > ID_MAX) {
        assert(rc == COLIBRI_ETOOBIG && tok[0] == '\0');
        return;
    }
    if (memchr(id, '\0', idlen)) {
        assert(rc == COLIBRI_EINVAL && tok[0] == '\0');
        return;
    }
    assert(rc == 0);
    size_t n = strlen(tok);
    assert(n > 0 && n < CURSOR_MAX);
    assert(strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == n);

    expect_accepted(queries[qi].q, tok, t, (const char *)id, idlen);
    expect_accepted(queries[qi].same, tok, t, (const char *)id, idlen);
    expect_refused(&K2, queries[qi].q, tok, n, "other key");
    expect_refused(&K, queries[qi].other, tok, n, "other filters");
    expect_refused(&K, queries[qi].flipped, tok, n, "other order");
    expect_refused(&K, queries[qi].q, tok, n - 1, "truncated");

    char mutated[CURSOR_MAX];
    memcpy(mutated, tok, n + 1);
    size_t pos = (size_t)(h % n);
    mutated[pos] = (char)(h >> 32);
    if (mutated[pos] != tok[pos])
        expect_refused(&K, queries[qi].q, mutated, n, "one byte changed");
}

/* An accepted raw token must be exactly what cursor_encode writes. */
static void raw_token(size_t qi, const uint8_t *p, size_t n)
{
    struct query q2;
    char tok[CURSOR_MAX];
    size_t len = strnlen((const char *)p, n);
    const uint8_t *amp = memchr(p, '&', len);      /* the cursor's value ends there */
    if (amp)
        len = (size_t)(amp - p);
    if (len > 2 * CURSOR_MAX)
        return;
    if (parse_with(&K, queries[qi].q, (const char *)p, len, &q2))
        return;
    /* accepted: only possible for a token cursor_encode made (seeds hold some) */
    assert(q2.has_cursor);
    assert(cursor_encode(&K, &q2, q2.cur_time, q2.cur_id, strlen(q2.cur_id), tok, sizeof tok) == 0);
    char *dec = malloc(len + 1);
    assert(dec);
    long dn = url_decode((const char *)p, len, dec);
    if (dn < 0 || (size_t)dn != strlen(tok) || memcmp(dec, tok, (size_t)dn)) {
        fprintf(stderr, "non-canonical cursor accepted: %.*s (canonical %s)\n", (int)len, p, tok);
        abort();
    }
    free(dec);
    query_release(&q2);
}

static void spliced(size_t qi, int64_t t, const uint8_t *p, size_t n, uint64_t h)
{
    char tok[CURSOR_MAX];
    static const char id[] = "kafka:flights/3/1234567";
    assert(cursor_encode(&K, &base[qi], t, id, sizeof id - 1, tok, sizeof tok) == 0);
    size_t toklen = strlen(tok), pos = (size_t)(h % (toklen + 1));
    size_t tail = strnlen((const char *)p, n);
    const uint8_t *amp = memchr(p, '&', tail);     /* the cursor's value ends there */
    if (amp)
        tail = (size_t)(amp - p);
    if (tail > CURSOR_MAX)
        tail = CURSOR_MAX;
    char *s = malloc(pos + tail + 1), *dec = malloc(pos + tail + 1);
    assert(s && dec);
    memcpy(s, tok, pos);
    memcpy(s + pos, p, tail);
    s[pos + tail] = '\0';
    /* compare what query_parse compares: the %-decoded value */
    long dn = url_decode(s, pos + tail, dec);
    if (dn < 0 || strcmp(dec, tok))
        expect_refused(&K, queries[qi].q, s, pos + tail, "spliced");
    else
        expect_accepted(queries[qi].q, s, t, id, sizeof id - 1);
    free(dec);
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 10 || size > 4096)
        return 0;
    size_t qi = data[0] % NQUERIES;
    unsigned mode = data[1] % 3;
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = u << 8 | data[2 + i];
    const uint8_t *p = data + 10;
    size_t n = size - 10;
    uint64_t h = fnv1a(data, size);

    switch (mode) {
    case 0: round_trip(qi, (int64_t)u, p, n, h); break;
    case 1: raw_token(qi, p, n); break;
    case 2: spliced(qi, (int64_t)u, p, n, h); break;
    }
    return 0;
}
