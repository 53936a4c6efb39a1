/* batch.c — growable arrays of rows, dead letters and source positions. */
#include <stdlib.h>
#include <string.h>

#include "colibri/array.h"
#include "colibri/batch.h"
#include "colibri/error.h"

void batch_init(struct batch *b)
{
    memset(b, 0, sizeof *b);
}

int batch_add_row(struct batch *b, struct row *r, size_t payload_bytes)
{
    if (array_grow((void **)&b->rows, b->nrows, &b->caprows, sizeof *b->rows, 64))
        return COLIBRI_ENOMEM;
    b->rows[b->nrows++] = *r;
    memset(r, 0, sizeof *r);
    b->bytes += payload_bytes;
    return 0;
}

int batch_add_dead(struct batch *b, const char *id, const char *source, const char *reason,
                   const char *payload, size_t payload_len, int64_t at_us)
{
    if (array_grow((void **)&b->dead, b->ndead, &b->capdead, sizeof *b->dead, 64))
        return COLIBRI_ENOMEM;
    struct dead_letter d = {
        .id = strdup(id ? id : ""),
        .source = strdup(source ? source : ""),
        .reason = strdup(reason ? reason : ""),
        .payload = malloc(payload_len + 1),
        .payload_len = payload_len,
        .at_us = at_us,
    };
    if (!d.id || !d.source || !d.reason || !d.payload) {
        free(d.id); free(d.source); free(d.reason); free(d.payload);
        return COLIBRI_ENOMEM;
    }
    if (payload_len)
        memcpy(d.payload, payload, payload_len);
    d.payload[payload_len] = '\0';
    b->dead[b->ndead++] = d;
    b->bytes += payload_len;
    return 0;
}

int batch_set_position(struct batch *b, const char *key, int64_t next, int64_t witness)
{
    for (size_t i = 0; i < b->npos; i++) {
        if (strcmp(b->pos[i].key, key) == 0) {
            if (next > b->pos[i].next) {
                b->pos[i].next = next;
                b->pos[i].witness = witness;
            }
            return 0;
        }
    }
    if (array_grow((void **)&b->pos, b->npos, &b->cappos, sizeof *b->pos, 64))
        return COLIBRI_ENOMEM;
    char *k = strdup(key);
    if (!k)
        return COLIBRI_ENOMEM;
    b->pos[b->npos++] = (struct position){ .key = k, .next = next, .witness = witness };
    return 0;
}

void batch_clear(struct batch *b)
{
    for (size_t i = 0; i < b->nrows; i++)
        row_release(&b->rows[i]);
    for (size_t i = 0; i < b->ndead; i++) {
        free(b->dead[i].id);
        free(b->dead[i].source);
        free(b->dead[i].reason);
        free(b->dead[i].payload);
    }
    for (size_t i = 0; i < b->npos; i++)
        free(b->pos[i].key);
    b->nrows = b->ndead = b->npos = 0;
    b->bytes = 0;
}

void batch_release(struct batch *b)
{
    batch_clear(b);
    free(b->rows);
    free(b->dead);
    free(b->pos);
    batch_init(b);
}
