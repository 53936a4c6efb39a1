/*
 * fuzz_push.c — the Pub/Sub push envelope: pubsub_msg_parse, and the whole
 * POST /pubsub/push handler (route_pubsub_push) without HTTP, token checks
 * off (push_audience ""), into a SQLite ":memory:" store shared by the inputs
 * of a run and reopened every STORE_RUNS inputs (a store per input cost 9 in
 * 10 of the time). The messageId comes from the input, so the checks that
 * need a first delivery are made only when the id is not stored yet.
 *
 * The input is the request body. Invariants:
 *   pubsub_msg_parse on body.message: EINVAL exactly when message is not an
 *     object or has no non-empty messageId (camelCase or snake_case); else
 *     id equals that field; data_ok: data is the base64 decoding of "data"
 *     (checked against an independent decoder), NUL-terminated; !data_ok:
 *     data holds the field as received, byte for byte.
 *   route_pubsub_push: 204 or an "invalid_envelope" EINVAL; EINVAL exactly
 *     when the body is not JSON or pubsub_msg_parse refuses the message;
 *     after a 204 to a new id the message is stored: store_get(messageId) finds a row iff
 *     data_ok and the payload fits the schema (its _published_at from
 *     publishTime), else a dead letter; a second push of the same body stores
 *     nothing new and still answers 204.
 */
#include <assert.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colibri/config.h"
#include "colibri/error.h"
#include "colibri/http.h"
#include "colibri/ingest.h"
#include "colibri/log.h"
#include "colibri/pubsub_msg.h"
#include "colibri/schema.h"
#include "colibri/store.h"
#include "http/http_int.h"
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define STORE_RUNS 4096

static struct schema *S;
static struct config cfg;
static struct store *st;
static uint64_t runs;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[256];
    (void)argc, (void)argv;
    log_setup(LOG_ERROR, true);
    cfg.push_audience = cfg.push_jwks_url = cfg.push_service_account = "";
    cfg.store = "sqlite::memory:";
    cfg.event_time = "event_time";
    if (schema_parse(flights_json, strlen(flights_json), "flights", "event_time", &S, err,
                     sizeof err)) {
        fprintf(stderr, "fuzz_push: setup: %s\n", err);
        abort();
    }
    return 0;
}

/* An independent base64 reader: standard or URL-safe, '=' only at the end. */
static int b64(int c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

static bool ref_decode(const char *in, size_t n, char *out, size_t *outlen)
{
    unsigned acc = 0;
    int bits = 0;
    size_t o = 0;
    while (n > 0 && in[n - 1] == '=')
        n--;
    if (n % 4 == 1)
        return false;
    for (size_t i = 0; i < n; i++) {
        int v = b64((unsigned char)in[i]);
        if (v < 0)
            return false;
        acc = (acc << 6 | (unsigned)v) & 0xffffff;
        if ((bits += 6) >= 8) {
            bits -= 8;
            out[o++] = (char)(acc >> bits);
        }
    }
    *outlen = o;
    return true;
}

static const char *field(const json_t *o, const char *camel, const char *snake)
{
    const char *s = json_string_value(json_object_get(o, camel));
    return s ? s : json_string_value(json_object_get(o, snake));
}

/*
 * The envelope's members that push.c types: subscription, and message's data,
 * ids, publishTime and orderingKey strings, attributes an object of strings.
 */
static bool members_typed(const json_t *root)
{
    static const char *const strings[] = { "data", "messageId", "message_id", "publishTime",
                                           "publish_time", "orderingKey", "ordering_key" };
    const json_t *msg = json_object_get(root, "message"), *v, *a;
    const char *k;
    if (!json_is_object(root))
        return false;
    if ((v = json_object_get(root, "subscription")) && !json_is_string(v))
        return false;
    if (!json_is_object(msg))
        return true;
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        if ((v = json_object_get(msg, strings[i])) && !json_is_string(v))
            return false;
    if ((a = json_object_get(msg, "attributes"))) {
        if (!json_is_object(a))
            return false;
        json_object_foreach((json_t *)a, k, v)
            if (!json_is_string(v))
                return false;
    }
    return true;
}

/* The parse on its own; returns its rc and, through out, the message. */
static int check_parse(const json_t *root, struct pubsub_msg *pm)
{
    char err[256];
    const json_t *msg = json_object_get(root, "message");
    err[0] = '\0';
    int rc = pubsub_msg_parse(msg, pm, err, sizeof err);
    const char *id = json_is_object(msg) ? field(msg, "messageId", "message_id") : NULL;
    if (!id || !*id) {
        assert(rc == COLIBRI_EINVAL && err[0]);
        assert(!pm->id && !pm->data);
        return rc;
    }
    assert(rc == 0);
    assert(pm->id && !strcmp(pm->id, id));
    assert(pm->data);
    const json_t *d = json_object_get(msg, "data");
    if (pm->data_ok) {
        const char *s = d ? json_string_value(d) : "";
        size_t n = d ? json_string_length(d) : 0, reflen;
        char *ref = malloc(n / 4 * 3 + 3);
        assert(s && ref);
        assert(ref_decode(s, n, ref, &reflen));
        assert(pm->len == reflen && !memcmp(pm->data, ref, reflen) && pm->data[pm->len] == '\0');
        free(ref);
    } else {
        assert(d && err[0]);
        if (json_is_string(d)) {
            if (pm->len != json_string_length(d) || memcmp(pm->data, json_string_value(d), pm->len)) {
                fprintf(stderr, "data kept as received differs: %zu bytes kept, field has %zu\n",
                        pm->len, json_string_length(d));
                abort();
            }
        } else {
            assert(pm->len == strlen(pm->data));
        }
    }
    return 0;
}

struct seen {
    const struct pubsub_msg *pm;
    size_t rows;
    bool check;             /* the row is this input's, not an earlier one's */
};

static int on_row(void *ud, const size_t *cols, size_t ncols, const struct value *vals)
{
    struct seen *sn = ud;
    sn->rows++;
    for (size_t k = 0; sn->check && k < ncols; k++) {
        if (cols[k] == schema_meta(S, META_SOURCE))
            assert(vals[k].u.s.n == 4 && !memcmp(vals[k].u.s.p, "push", 4));
        if (cols[k] == schema_meta(S, META_PUBLISHED_AT))
            assert(vals[k].is_null ? sn->pm->published_at == 0
                                   : vals[k].u.i == sn->pm->published_at);
    }
    return 0;
}

static int push(char *body, size_t len, struct reply *rep)
{
    struct http_env env = { .cfg = &cfg, .schema = S, .store = st };
    struct route_ctx ctx = { .env = &env };
    struct request req = { .method = "POST", .uri = "/pubsub/push", .path_len = 12, .query = "" };
    req.body.buf = body;
    req.body.len = len;
    req.body.cap = len + 1;
    memset(rep, 0, sizeof *rep);
    int rc = route_pubsub_push(&ctx, &req, rep);
    strbuf_release(&rep->body);
    free(rep->link);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pubsub_msg pm = {0};
    struct reply rep;

    if (size > INGEST_MESSAGE_MAX)
        return 0;
    char *body = malloc(size + 1);
    assert(body);
    memcpy(body, data, size);
    body[size] = '\0';

    /* push takes any JSON number, and a U+0000 in a key (as U+FFFD), which jansson cannot */
    json_t *root = json_loadb(body, size, JSON_DECODE_INT_AS_REAL, NULL);
    bool unsure = !root && memmem(body, size, "\\u0000", 6);
    int prc = !root || !members_typed(root) ? COLIBRI_EINVAL : check_parse(root, &pm);

    if (runs++ % STORE_RUNS == 0) {
        if (st)
            store_close(st);
        assert(store_open(NULL, "sqlite::memory:", S, &st) == 0);
    }
    struct seen sn = { .pm = &pm };
    struct row_sink sink = { .row = on_row, .ud = &sn };
    bool fresh = prc == 0 && store_get(st, pm.id, &sink) == COLIBRI_ENOTFOUND;
    int rc = push(body, size, &rep);
    if (unsure) {
        assert(rc == 0 || rc == COLIBRI_EINVAL || rc == COLIBRI_EUNAVAIL);
    } else if (prc) {
        assert(rc == COLIBRI_EINVAL && rep.err_code && !strcmp(rep.err_code, "invalid_envelope"));
    } else {
        if (rc)
            fprintf(stderr, "push refused a valid envelope: %d %s\n", rc, rep.err_msg);
        assert(rc == 0 && rep.status == 204);
        struct row r;
        bool fits = pm.data_ok && schema_coerce(S, pm.data, pm.len, &r, NULL, 0) == 0;
        if (fits)
            row_release(&r);
        sn.rows = 0;
        sn.check = fresh;
        int grc = store_get(st, pm.id, &sink);
        if (fresh)
            assert(fits ? grc == 0 && sn.rows == 1 : grc == COLIBRI_ENOTFOUND);
        /* Pub/Sub redelivers: the same push again is a 204 that adds nothing */
        assert(push(body, size, &rep) == 0 && rep.status == 204);
        sn.rows = 0;
        assert(store_get(st, pm.id, &sink) == grc && sn.rows == (grc == 0 ? 1u : 0u));
    }
    pubsub_msg_release(&pm);
    json_decref(root);
    free(body);
    return 0;
}
