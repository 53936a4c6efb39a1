/*
 * push.c — POST /pubsub/push: a Pub/Sub push subscription delivers one
 * message per request as {"message":{"data","attributes","messageId",
 * "publishTime"},"subscription":"…"}.
 *
 * The message goes through the same ingest path as pulled ones (a row, or a
 * dead letter when the payload does not fit the schema) and is written
 * before we answer; Pub/Sub takes any 2xx as the acknowledgement:
 *   204  stored, already stored (a redelivery), or dead-lettered: a payload
 *        that will never fit is kept in _dead_letters, not retried forever;
 *   400  the envelope itself is unreadable (not JSON, no message object, no
 *        messageId): Pub/Sub never sends that, so it is the caller's bug;
 *   401  COLIBRI_PUSH_AUDIENCE is set and the OIDC token is missing or does
 *        not verify (decided from the head, before the body is read);
 *   404  COLIBRI_PUSH is off (the default): the route does not exist;
 *   503  the store (or the token keys) cannot be reached: Pub/Sub retries
 *        with backoff until the message's retention runs out.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "colibri/error.h"
#include "colibri/ingest.h"
#include "colibri/log.h"
#include "colibri/pubsub_msg.h"
#include "http/http_int.h"
#include "http/oidc.h"

static pthread_mutex_t verifier_lock = PTHREAD_MUTEX_INITIALIZER;
static struct oidc *verifier;   /* made on first use; lives as long as the process */

static int get_verifier(const struct config *cfg, struct oidc **out)
{
    int rc = 0;
    pthread_mutex_lock(&verifier_lock);
    if (!verifier)
        rc = oidc_new(cfg->push_jwks_url, cfg->push_audience, cfg->push_service_account, &verifier);
    *out = verifier;
    pthread_mutex_unlock(&verifier_lock);
    return rc;
}

static int authenticate(const struct config *cfg, struct request *req, struct reply *rep)
{
    const char *authz = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Authorization");
    char why[160];
    struct oidc *v;
    rep->challenge = "Bearer realm=\"pubsub-push\"";
    if (!authz || strncasecmp(authz, "Bearer ", 7) != 0 || !authz[7])
        return reply_fail(rep, COLIBRI_EAUTH, NULL, "push requests must carry an OIDC token (Authorization: Bearer)");
    int rc = get_verifier(cfg, &v);
    if (rc)
        return reply_fail(rep, rc, NULL, "cannot set up token verification");
    rc = oidc_verify(v, authz + 7, why, sizeof why);
    if (rc == COLIBRI_EAUTH) {
        log_warn("push: token rejected: %s", why);
        rep->challenge = "Bearer realm=\"pubsub-push\", error=\"invalid_token\"";
        return reply_fail(rep, rc, NULL, "push token rejected: %s", why);
    }
    if (rc)
        return reply_fail(rep, rc, NULL, "cannot verify the push token now: %s", why);
    return 0;
}

int admit_pubsub_push(const struct route_ctx *ctx, struct request *req, struct reply *rep)
{
    const struct config *cfg = ctx->env->cfg;
    if (strcmp(cfg->push, "on") != 0)
        return reply_fail(rep, COLIBRI_ENOTFOUND, NULL, "no such route; see /openapi.json");
    return *cfg->push_audience ? authenticate(cfg, req, rep) : 0;
}

/*
 * The envelope's members have the types Pub/Sub gives them (as /openapi.json
 * documents): anything else is a caller's bug, a 400. Unknown members are
 * ignored (Pub/Sub adds some, e.g. deliveryAttempt).
 */
static int envelope_check(const json_t *root, char *err, size_t errlen)
{
    const json_t *msg = json_object_get(root, "message"), *v, *a;
    if (!json_is_object(root))
        return snprintf(err, errlen, "the body is not a JSON object"), COLIBRI_EINVAL;
    if ((v = json_object_get(root, "subscription")) && !json_is_string(v))
        return snprintf(err, errlen, "subscription is not a string"), COLIBRI_EINVAL;
    if (!json_is_object(msg))
        return 0;       /* pubsub_msg_parse says so */
    static const char *const strings[] = { "data", "messageId", "message_id", "publishTime",
                                           "publish_time", "orderingKey", "ordering_key" };
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        if ((v = json_object_get(msg, strings[i])) && !json_is_string(v))
            return snprintf(err, errlen, "message.%s is not a string", strings[i]), COLIBRI_EINVAL;
    if ((a = json_object_get(msg, "attributes"))) {
        const char *key;
        if (!json_is_object(a))
            return snprintf(err, errlen, "message.attributes is not an object"), COLIBRI_EINVAL;
        json_object_foreach((json_t *)a, key, v)
            if (!json_is_string(v))
                return snprintf(err, errlen, "message.attributes.%.60s is not a string", key), COLIBRI_EINVAL;
    }
    return 0;       /* a publishTime that is not RFC 3339 leaves _published_at NULL */
}

/*
 * jansson cannot hold U+0000 in an object key, though JSON may: every \u0000
 * escape in the body becomes \ufffd before parsing (in place, same length).
 * No member colibri reads can carry it meaningfully (data is base64).
 */
static void replace_nul_escapes(char *b, size_t n)
{
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        if (!in_str) {
            in_str = b[i] == '"';
        } else if (b[i] == '"') {
            in_str = false;
        } else if (b[i] == '\\' && i + 1 < n) {
            if (n - i >= 6 && memcmp(b + i + 1, "u0000", 5) == 0)
                memcpy(b + i + 1, "ufffd", 5);
            i++;        /* the escaped character, or the 'u' of \uXXXX */
        }
    }
}

int route_pubsub_push(const struct route_ctx *ctx, struct request *req, struct reply *rep)
{
    const struct http_env *env = ctx->env;
    char err[256];
    json_error_t je;
    struct pubsub_msg pm;
    struct ingest ing;
    struct insert_result res;
    int rc;

    if (req->body.buf)
        replace_nul_escapes(req->body.buf, req->body.len);
    /* members we ignore may hold any number: beyond int64 is no reason to refuse the envelope */
    json_t *root = json_loadb(req->body.buf ? req->body.buf : "", req->body.len, JSON_DECODE_INT_AS_REAL, &je);
    if (!root)
        return reply_fail(rep, COLIBRI_EINVAL, "invalid_envelope", "body is not JSON: %s", je.text);
    if ((rc = envelope_check(root, err, sizeof err)) != 0) {
        json_decref(root);
        return reply_fail(rep, rc, "invalid_envelope", "not a Pub/Sub push envelope: %s", err);
    }
    rc = pubsub_msg_parse(json_object_get(root, "message"), &pm, err, sizeof err);
    json_decref(root);
    if (rc == COLIBRI_EINVAL)
        return reply_fail(rep, rc, "invalid_envelope", "not a Pub/Sub push envelope: %s", err);
    if (rc)
        return rc;

    struct message m = { .id = pm.id,
                         .source = "push",
                         .published_at = pm.published_at,
                         .payload = pm.data,
                         .len = pm.len,
                         .unread = pm.data_ok ? NULL : err };
    ingest_init(&ing, "push", env->schema, env->store);
    if ((rc = ingest_message(&ing, &m, NULL, 0)) == COLIBRI_EINVAL)
        rc = 0;     /* a dead letter: stored all the same */
    if (rc == 0)
        rc = ingest_flush(&ing, &res);
    ingest_release(&ing);
    if (rc) {
        log_warn("push: message %s not stored: %s", pm.id, colibri_strerror(rc));
        pubsub_msg_release(&pm);
        return reply_fail(rep, rc == COLIBRI_EIO ? COLIBRI_EUNAVAIL : rc, NULL,
                          "the message could not be stored; retry later");
    }
    log_debug("push: message %s: %s", pm.id, res.stored ? "stored" : res.dead ? "dead-lettered" : "already stored");
    pubsub_msg_release(&pm);
    rep->status = 204;
    return 0;
}
