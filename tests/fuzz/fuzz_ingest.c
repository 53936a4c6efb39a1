/*
 * fuzz_ingest.c — the message path every source shares: a Kafka message as
 * kafka_next hands it over → ingest_message → ingest_flush into a SQLite
 * ":memory:" store (schema/flights.json), then read back.
 *
 * Input: byte 0 picks the partition, bytes 1..8 the broker timestamp
 * (published_at; 0 when byte 1 is even, as for a message without one), the
 * rest is the payload. The store is shared by the inputs of a run (opening
 * one per input cost 9 in 10 of the time) and reopened every STORE_RUNS
 * inputs to bound memory; every input gets an _id and a position key of its
 * own, so what it sees does not depend on the inputs before it.
 * Invariants:
 *   the message becomes a row exactly when schema_coerce accepts it, else a
 *     dead letter (COLIBRI_EINVAL, a reason) holding the payload byte for byte;
 *   the flush stores 1 row or 1 dead letter and the partition's next position
 *     (offset + 1);
 *   store_get(_id) returns the row with every value equal to the coerced one
 *     and the metadata filled in (a dead letter is not a row: ENOTFOUND);
 *   delivering the same message again stores nothing new (a duplicate row, or
 *     no second dead letter): exactly once.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colibri/error.h"
#include "colibri/ingest.h"
#include "colibri/log.h"
#include "colibri/schema.h"
#include "colibri/store.h"
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define STORE_RUNS 4096

static struct schema *S;
static struct store *st;
static uint64_t runs;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[256];
    (void)argc, (void)argv;
    log_setup(LOG_ERROR, true);
    if (schema_parse(flights_json, strlen(flights_json), "flights", "event_time", &S, err,
                     sizeof err)) {
        fprintf(stderr, "fuzz_ingest: setup: %s\n", err);
        abort();
    }
    return 0;
}

struct readback {
    const struct row *want;
    const struct message *m;
    size_t rows;
};

static int on_row(void *ud, const size_t *cols, size_t ncols, const struct value *vals)
{
    struct readback *rb = ud;
    rb->rows++;
    assert(ncols == S->ncols);
    for (size_t k = 0; k < ncols; k++) {
        size_t c = cols[k];
        const struct value *v = &vals[k];
        assert(c < S->ncols);
        if (c < S->nuser) {
            if (!value_equal(S->cols[c].type, v, &rb->want->vals[c])) {
                fprintf(stderr, "column %s differs after the store\n", S->cols[c].name);
                abort();
            }
            continue;
        }
        switch (c - S->nuser) {
        case META_ID:
            assert(!v->is_null && v->u.s.n == strlen(rb->m->id));
            assert(!memcmp(v->u.s.p, rb->m->id, v->u.s.n));
            break;
        case META_SOURCE:
            assert(!v->is_null && v->u.s.n == 5 && !memcmp(v->u.s.p, "kafka", 5));
            break;
        case META_PUBLISHED_AT:
            assert(v->is_null == (rb->m->published_at == 0));
            assert(v->is_null || v->u.i == rb->m->published_at);
            break;
        case META_INGESTED_AT:
            assert(!v->is_null && v->u.i > 0);
            break;
        }
    }
    return 0;
}

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ingest ing;
    struct insert_result res;
    struct row want;
    char reason[256], why[256], id[96], pos[64];

    if (size < 9 || size > INGEST_MESSAGE_MAX)
        return 0;
    unsigned part = data[0] % 4;
    uint64_t ts = 0;
    for (int i = 1; i < 9; i++)
        ts = ts << 8 | data[i];
    const char *payload = (const char *)data + 9;
    size_t len = size - 9;
    char *copy = malloc(len ? len : 1);     /* exact size: not NUL-terminated */
    assert(copy);
    memcpy(copy, payload, len);
    uint64_t offset = fnv1a(data, size) >> 20;
    snprintf(id, sizeof id, "kafka:flights/%u/%" PRIu64 ":%" PRIu64, part, offset, runs);
    snprintf(pos, sizeof pos, "kafka:flights-%" PRIu64 "/%u", runs, part);
    struct message m = {
        .id = id, .source = "kafka", .published_at = data[1] & 1 ? (int64_t)ts : 0,
        .payload = copy, .len = len, .position = pos, .next_position = (int64_t)offset + 1,
    };

    int want_rc = schema_coerce(S, copy, len, &want, why, sizeof why);
    if (runs++ % STORE_RUNS == 0) {
        if (st)
            store_close(st);
        assert(store_open(NULL, "sqlite::memory:", S, &st) == 0);
    }
    ingest_init(&ing, "kafka", S, st);

    reason[0] = '\0';
    int rc = ingest_message(&ing, &m, reason, sizeof reason);
    assert(ingest_pending(&ing) == 1);
    if (want_rc == 0) {
        assert(rc == 0 && ing.batch.nrows == 1);
    } else {
        assert(rc == COLIBRI_EINVAL && ing.batch.ndead == 1 && reason[0]);
        const struct dead_letter *dl = &ing.batch.dead[0];
        assert(!strcmp(dl->id, id) && !strcmp(dl->source, "kafka") && !strcmp(dl->reason, why));
        assert(dl->payload_len == len && !memcmp(dl->payload, copy, len));
    }

    assert(ingest_flush(&ing, &res) == 0);
    assert(ingest_pending(&ing) == 0);
    assert(res.stored + res.dead == 1 && res.duplicates == 0);
    assert((res.stored == 1) == (want_rc == 0));
    int64_t next;
    int64_t witness;
    assert(store_position(st, pos, &next, &witness) == 0 && next == (int64_t)offset + 1);

    struct readback rb = { .want = &want, .m = &m };
    struct row_sink sink = { .row = on_row, .ud = &rb };
    int grc = store_get(st, id, &sink);
    if (want_rc == 0)
        assert(grc == 0 && rb.rows == 1);
    else
        assert(grc == COLIBRI_ENOTFOUND && rb.rows == 0);

    /* redelivery after a crash between store and commit: nothing new */
    ingest_message(&ing, &m, NULL, 0);
    assert(ingest_flush(&ing, &res) == 0);
    assert(res.stored == 0 && res.dead == 0 && res.duplicates == (want_rc == 0));

    ingest_release(&ing);
    if (want_rc == 0)
        row_release(&want);
    free(copy);
    return 0;
}
