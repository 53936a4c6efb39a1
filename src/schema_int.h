/*
 * schema_int.h — what schema.c (loading) and coerce.c (coercion) share
 * (private to src/).
 */
#ifndef COLIBRI_SCHEMA_INT_H
#define COLIBRI_SCHEMA_INT_H

#include "colibri/schema.h"

/* s->index from the user columns: 0 or ENOMEM. */
int schema_index_build(struct schema *s);

#endif
