/*
 * wkt.h — GEOGRAPHY values: well-known text, checked for shape and written
 * canonically.
 */
#ifndef COLIBRI_WKT_H
#define COLIBRI_WKT_H

#include <stddef.h>

struct strbuf;

#define WKT_MAX_NEST 8      /* GEOMETRYCOLLECTIONs inside each other */

/*
 * Read WKT (POINT, LINESTRING, POLYGON, MULTIPOINT, MULTILINESTRING,
 * MULTIPOLYGON, GEOMETRYCOLLECTION, each also "<KIND> EMPTY"; keywords in any
 * case) and append its canonical text to out, as BigQuery's ST_ASTEXT writes
 * it: "POINT(1 2)", "LINESTRING(1 2, 3 4)", "POLYGON((0 0, 1 0, 1 1, 0 0))",
 * "POINT EMPTY", numbers as FLOAT64 prints them. Checked: balanced
 * parentheses, two numbers per point, longitude in [-180, 180] and latitude
 * in [-90, 90], at least 2 points per linestring, rings closed and of at
 * least 4 points. On failure COLIBRI_EINVAL, out is left as it was, and why
 * (may be NULL) says what is wrong.
 */
int wkt_canon(const char *p, size_t n, struct strbuf *out, char *why, size_t whylen);

#endif
