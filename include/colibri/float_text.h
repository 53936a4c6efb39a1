/*
 * float_text.h — FLOAT64 as text, both ways (float_text.c).
 */
#ifndef COLIBRI_FLOAT_TEXT_H
#define COLIBRI_FLOAT_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Shortest text that reads back as the same double ("%.17g" at worst); buf at least 32. */
size_t float_format(double f, char *buf);

/*
 * A decimal number as JSON writes one (plus an optional '+' and a bare leading
 * or trailing '.'), n bytes: 0, or COLIBRI_EINVAL with *range set when it is a
 * number beyond FLOAT64's range.
 */
int float_parse(const char *p, size_t n, double *out, bool *range);

#endif
