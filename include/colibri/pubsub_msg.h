/*
 * pubsub_msg.h — Google Pub/Sub PubsubMessage objects, shared by the pull source
 * (src/subscriber/pubsub.c) and the push route (src/http/push.c); the codec
 * is src/pubsub_msg.c.
 *
 * A PubsubMessage in the REST API is {"data": base64, "attributes": {…},
 * "messageId": "…", "publishTime": RFC 3339}; push envelopes also carry the
 * snake_case spellings (message_id, publish_time), accepted here too.
 */
#ifndef COLIBRI_PUBSUB_MSG_H
#define COLIBRI_PUBSUB_MSG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pubsub_msg {
    char *id;               /* messageId; owned */
    int64_t published_at;   /* µs since the epoch, 0 if absent or unreadable */
    char *data;             /* decoded data, NUL-terminated; owned */
    size_t len;
    bool data_ok;           /* false: data was not base64 and holds the field as received */
};

/*
 * Read one PubsubMessage object (borrowed). 0 with *out filled (release it
 * with pubsub_msg_release), COLIBRI_EINVAL when msg is not an object or has
 * no messageId (err says which), COLIBRI_ENOMEM. A data field that is not
 * base64 is not an error here: out->data_ok is false and err says why, so
 * that the caller can dead-letter the message.
 */
int pubsub_msg_parse(const json_t *msg, struct pubsub_msg *out, char *err, size_t errlen);

void pubsub_msg_release(struct pubsub_msg *m);

#endif
