/*
 * pubsub_msg.c — the Pub/Sub PubsubMessage codec, shared by the pull source
 * (subscriber/pubsub.c) and the push route (http/push.c).
 */
#include "colibri/pubsub_msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colibri/base64.h"
#include "colibri/error.h"
#include "colibri/value.h"

static const char *str_field(const json_t *o, const char *camel, const char *snake)
{
    const char *s = json_string_value(json_object_get(o, camel));
    return s ? s : json_string_value(json_object_get(o, snake));
}

int pubsub_msg_parse(const json_t *msg, struct pubsub_msg *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(msg)) {
        snprintf(err, errlen, "message is not a JSON object");
        return COLIBRI_EINVAL;
    }
    const char *id = str_field(msg, "messageId", "message_id");
    if (!id || !*id) {
        snprintf(err, errlen, "message has no messageId");
        return COLIBRI_EINVAL;
    }
    const char *pt = str_field(msg, "publishTime", "publish_time");
    if (pt)
        timestamp_parse(pt, strlen(pt), &out->published_at);   /* 0 when unreadable */
    if (!(out->id = strdup(id)))
        return COLIBRI_ENOMEM;
    const json_t *d = json_object_get(msg, "data");
    const char *data = json_string_value(d);
    size_t dlen = json_string_length(d);
    int rc = base64_decode(data ? data : "", data ? dlen : 0, &out->data, &out->len);
    if (rc == COLIBRI_EINVAL || (d && !data)) {
        free(out->data);
        out->data = NULL;
        if (data) {
            out->data = strndup(data, dlen);
            out->len = dlen;
        } else {
            char *t = json_dumps(d, JSON_COMPACT | JSON_ENCODE_ANY);
            out->data = t;
            out->len = t ? strlen(t) : 0;
        }
        snprintf(err, errlen, "message data is not base64");
        if (!out->data) {
            pubsub_msg_release(out);
            return COLIBRI_ENOMEM;
        }
        return 0;
    }
    if (rc) {
        pubsub_msg_release(out);
        return rc;
    }
    out->data_ok = true;
    return 0;
}

void pubsub_msg_release(struct pubsub_msg *m)
{
    free(m->id);
    free(m->data);
    memset(m, 0, sizeof *m);
}
