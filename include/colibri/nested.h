/*
 * nested.h — parts of RECORD and REPEATED cells, which hold the canonical
 * JSON text colibri writes (docs/types.md): what `fields=card.brand` serves.
 */
#ifndef COLIBRI_NESTED_H
#define COLIBRI_NESTED_H

#include <stddef.h>

#include "colibri/schema.h"

struct strbuf;

/*
 * The field of RECORD column (or field) c at dotted path ("brand",
 * "in.x"): through records only, or also through REPEATED records when
 * through_repeated. NULL when there is none.
 */
const struct column *nested_field(const struct column *c, const char *path, bool through_repeated);

/*
 * Append to out the cell text[0..n) of column c (a RECORD or REPEATED
 * RECORD, as colibri wrote it) with only the fields at paths[0..npaths)
 * (dotted, relative to c; each valid by nested_field), in schema order:
 * {"card":{"brand":..,"last4":..}} with paths "brand" gives {"brand":..};
 * arrays of records keep every element, each cut down alike.
 */
void nested_project(const struct column *c, const char *text, size_t n,
                    const char *const *paths, size_t npaths, struct strbuf *out);

#endif
