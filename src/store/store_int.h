/*
 * store_int.h — what a storage backend implements. Backends only: everyone
 * else goes through the wrappers in include/colibri/store.h.
 */
#ifndef COLIBRI_STORE_INT_H
#define COLIBRI_STORE_INT_H

#include "colibri/store.h"

struct store_ops {
    const char *name;       /* the URL scheme: "sqlite" for "sqlite:PATH" */
    /* target is the URL after "name:"; cfg is read during the call only; *ctx is the backend's state */
    int  (*open)(const struct config *cfg, const char *target, const struct schema *s, void **ctx);
    int  (*insert)(void *ctx, const struct batch *b, struct insert_result *out);
    int  (*query)(void *ctx, const struct query *q, struct row_sink *sink);
    int  (*get)(void *ctx, const char *id, struct row_sink *sink);
    int  (*position)(void *ctx, const char *key, int64_t *out_next, int64_t *out_witness);   /* optional */
    int  (*ping)(void *ctx);                                           /* optional */
    void (*close)(void *ctx);
};

extern const struct store_ops sqlite_store_ops;
extern const struct store_ops bigquery_store_ops;

#endif
