/*
 * schema_int.h — what schema.c (loading) and coerce.c (coercion) share
 * (private to src/).
 */
#ifndef COLIBRI_SCHEMA_INT_H
#define COLIBRI_SCHEMA_INT_H

#include <stddef.h>
#include <stdint.h>

/* Column lookup: open addressing over the user columns, built by schema.c, read by coerce.c. */
struct schema_index {
    uint64_t seed;
    size_t mask;
    struct col_slot {
        const char *name;       /* NULL: free */
        size_t len, col;
        uint64_t h;
    } slots[];
};

#endif
