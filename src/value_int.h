/*
 * value_int.h — what value.c and value_ext.c share (private to src/).
 */
#ifndef COLIBRI_VALUE_INT_H
#define COLIBRI_VALUE_INT_H

#include <stddef.h>

#include "colibri/value.h"

struct arena;
struct strbuf;

/* v's text becomes sb's (copied into a; sb is released): 0 or ENOMEM. */
int value_keep_text(struct arena *a, struct strbuf *sb, struct value *v);

/*
 * Text → value for NUMERIC, BIGNUMERIC, BYTES, JSON, DATETIME, TIME and
 * GEOGRAPHY: 0, EINVAL (detail, may be NULL, says why when it can) or ENOMEM.
 */
int value_text_ext(enum col_type t, const char *p, size_t n, struct value *v,
                   struct arena *a, char *detail, size_t detaillen);

#endif
