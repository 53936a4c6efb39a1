/*
 * source.c — finds a source by the URL's scheme and wraps its ops: the one
 * place that calls ->ops->, and where optional methods get their defaults.
 */
#include "subscriber/source.h"

#include <stdlib.h>
#include <string.h>

#include "colibri/error.h"
#include "colibri/log.h"

struct source {
    const struct source_ops *ops;
    void *ctx;
};

/* What COLIBRI_SUBSCRIBE may name; the file source is colibri load's alone (source_open_file). */
static const struct source_ops *const sources[] = { &kafka_source_ops, &pubsub_source_ops };

static int open_with(const struct source_ops *ops, const char *where, const struct source_env *env,
                     struct source **out)
{
    struct source *src = calloc(1, sizeof *src);
    if (!src)
        return COLIBRI_ENOMEM;
    src->ops = ops;
    int rc = ops->open(where, env, &src->ctx);
    if (rc) {
        free(src);
        return rc;
    }
    *out = src;
    return 0;
}

int source_open(const char *url, const struct source_env *env, struct source **out)
{
    const char *sep = strstr(url, "://");

    *out = NULL;
    for (size_t i = 0; sep && i < sizeof sources / sizeof sources[0]; i++) {
        const struct source_ops *ops = sources[i];
        if (strlen(ops->scheme) == (size_t)(sep - url) &&
            strncmp(ops->scheme, url, (size_t)(sep - url)) == 0)
            return open_with(ops, sep + 3, env, out);
    }
    log_error("COLIBRI_SUBSCRIBE: unknown source '%s'; expected kafka://HOST:PORT/TOPIC?group=G "
              "or pubsub://projects/P/subscriptions/S", url);
    return COLIBRI_ECONFIG;
}

int source_open_file(const char *path, const struct source_env *env, struct source **out)
{
    *out = NULL;
    return open_with(&file_source_ops, path, env, out);
}

const char *source_name(const struct source *src)
{
    return src->ops->scheme;
}

bool source_one_shot(const struct source *src)
{
    return src->ops->one_shot;
}

int source_next(struct source *src, int timeout_ms, struct message *m)
{
    return src->ops->next(src->ctx, timeout_ms, m);
}

int source_dead_letter(struct source *src, const struct message *m, const char *reason)
{
    return src->ops->dead_letter ? src->ops->dead_letter(src->ctx, m, reason) : 0;
}

int source_dead_letter_flush(struct source *src)
{
    return src->ops->dead_letter_flush ? src->ops->dead_letter_flush(src->ctx) : 0;
}

int source_commit(struct source *src, const struct batch *b)
{
    return src->ops->commit ? src->ops->commit(src->ctx, b) : 0;
}

void source_rewind(struct source *src)
{
    if (src->ops->rewind)
        src->ops->rewind(src->ctx);
}

void source_pause(struct source *src, bool paused)
{
    if (src->ops->pause)
        src->ops->pause(src->ctx, paused);
}

bool source_ready(struct source *src, char *why, size_t whylen)
{
    return src->ops->ready ? src->ops->ready(src->ctx, why, whylen) : true;
}

int source_check(struct source *src, char *detail, size_t detaillen)
{
    return src->ops->check ? src->ops->check(src->ctx, detail, detaillen) : 0;
}

void source_end(struct source *src, const struct insert_result *total, int store_rc)
{
    if (src->ops->end)
        src->ops->end(src->ctx, total, store_rc);
}

void source_close(struct source *src)
{
    if (!src)
        return;
    src->ops->close(src->ctx);
    free(src);
}
