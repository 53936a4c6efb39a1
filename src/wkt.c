/*
 * wkt.c — GEOGRAPHY as well-known text (wkt.h): a recursive-descent reader
 * that writes the canonical form as it goes.
 */
#include "colibri/wkt.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "colibri/error.h"
#include "colibri/strbuf.h"
#include "colibri/float_text.h"

enum kind { K_POINT, K_LINESTRING, K_POLYGON, K_MULTIPOINT, K_MULTILINESTRING,
            K_MULTIPOLYGON, K_COLLECTION, K_COUNT };

static const char *const kind_names[K_COUNT] = {
    "POINT", "LINESTRING", "POLYGON", "MULTIPOINT", "MULTILINESTRING", "MULTIPOLYGON",
    "GEOMETRYCOLLECTION",
};

struct wkt {
    const char *p, *end;
    struct strbuf *out;
    char *why;
    size_t whylen;
    bool failed;
    int nest;                   /* collections we are inside */
};

static bool fail(struct wkt *w, const char *what)
{
    if (!w->failed)
        colibri_errmsg(w->why, w->whylen, "%s", what);
    w->failed = true;
    return false;
}

static void ws(struct wkt *w)
{
    while (w->p < w->end && (*w->p == ' ' || *w->p == '\t' || *w->p == '\n' || *w->p == '\r'))
        w->p++;
}

static bool eat(struct wkt *w, char c)
{
    ws(w);
    if (w->p < w->end && *w->p == c) {
        w->p++;
        return true;
    }
    return false;
}

static bool word(struct wkt *w, const char *kw)
{
    size_t n = strlen(kw);
    ws(w);
    if ((size_t)(w->end - w->p) >= n && !strncasecmp(w->p, kw, n) &&
        ((size_t)(w->end - w->p) == n || !((w->p[n] | 0x20) >= 'a' && (w->p[n] | 0x20) <= 'z'))) {
        w->p += n;
        return true;
    }
    return false;
}

/* One coordinate: a decimal number as FLOAT64 reads it. */
static bool number(struct wkt *w, double *out)
{
    char tmp[64];
    size_t n = 0;
    ws(w);
    while (w->p + n < w->end && n < sizeof tmp - 1 &&
           strchr("0123456789+-.eE", w->p[n]) && w->p[n])
        n++;
    bool range;
    if (n == 0 || float_parse(w->p, n, out, &range) != 0)
        return fail(w, "expected a number");
    w->p += n;
    return true;
}

/* "x y", written as "x y": x a longitude, y a latitude (for the ring check). */
static bool point(struct wkt *w, double xy[2])
{
    char buf[32];
    if (!number(w, &xy[0]) || !number(w, &xy[1]))
        return false;
    if (xy[0] < -180 || xy[0] > 180)
        return fail(w, "longitude out of range [-180, 180]");
    if (xy[1] < -90 || xy[1] > 90)
        return fail(w, "latitude out of range [-90, 90]");
    strbuf_add(w->out, buf, float_format(xy[0] == 0 ? 0.0 : xy[0], buf));
    strbuf_addc(w->out, ' ');
    strbuf_add(w->out, buf, float_format(xy[1] == 0 ? 0.0 : xy[1], buf));
    return true;
}

/* "(x y, x y, ...)" with at least min points; ring: closed. */
static bool points(struct wkt *w, size_t min, bool ring)
{
    double first[2] = { 0, 0 }, xy[2] = { 0, 0 };
    size_t n = 0;
    if (!eat(w, '('))
        return fail(w, "expected '('");
    strbuf_addc(w->out, '(');
    do {
        if (n)
            strbuf_adds(w->out, ", ");
        if (!point(w, n ? xy : first))
            return false;
        n++;
    } while (eat(w, ','));
    if (!eat(w, ')'))
        return fail(w, "expected ',' or ')'");
    strbuf_addc(w->out, ')');
    if (n < min)
        return fail(w, ring ? "a ring needs at least 4 points" : "a linestring needs at least 2 points");
    if (ring && (xy[0] != first[0] || xy[1] != first[1]))
        return fail(w, "a ring must end at its first point");
    return true;
}

/* "(item, item, ...)" where each item is read by one(w). */
static bool list(struct wkt *w, bool (*one)(struct wkt *))
{
    bool first = true;
    if (!eat(w, '('))
        return fail(w, "expected '(' or EMPTY");
    strbuf_addc(w->out, '(');
    do {
        if (!first)
            strbuf_adds(w->out, ", ");
        first = false;
        if (!one(w))
            return false;
    } while (eat(w, ','));
    if (!eat(w, ')'))
        return fail(w, "expected ',' or ')'");
    strbuf_addc(w->out, ')');
    return true;
}

static bool linestring(struct wkt *w) { return points(w, 2, false); }
static bool ring(struct wkt *w) { return points(w, 4, true); }
static bool polygon(struct wkt *w) { return list(w, ring); }

/* MULTIPOINT items: "x y" or "(x y)", written bare as BigQuery does. */
static bool multi_point_item(struct wkt *w)
{
    double xy[2];
    bool paren = eat(w, '(');
    if (!point(w, xy))
        return false;
    if (paren && !eat(w, ')'))
        return fail(w, "expected ')'");
    return true;
}

static bool geometry(struct wkt *w);

/* A member of a GEOMETRYCOLLECTION: any geometry, one level deeper. */
static bool collection_item(struct wkt *w)
{
    w->nest++;
    bool ok = geometry(w);
    w->nest--;
    return ok;
}

static bool geometry(struct wkt *w)
{
    int k;
    for (k = 0; k < K_COUNT; k++)
        if (word(w, kind_names[k]))
            break;
    if (k == K_COUNT)
        return fail(w, "expected POINT, LINESTRING, POLYGON, MULTIPOINT, MULTILINESTRING, "
                       "MULTIPOLYGON or GEOMETRYCOLLECTION");
    strbuf_adds(w->out, kind_names[k]);
    if (word(w, "EMPTY")) {
        strbuf_adds(w->out, " EMPTY");
        return true;
    }
    double xy[2];
    switch ((enum kind)k) {
    case K_POINT:
        if (!eat(w, '('))
            return fail(w, "expected '(' or EMPTY");
        strbuf_addc(w->out, '(');
        if (!point(w, xy))
            return false;
        if (!eat(w, ')'))
            return fail(w, "expected ')'");
        strbuf_addc(w->out, ')');
        return true;
    case K_LINESTRING:      return linestring(w);
    case K_POLYGON:         return polygon(w);
    case K_MULTIPOINT:      return list(w, multi_point_item);
    case K_MULTILINESTRING: return list(w, linestring);
    case K_MULTIPOLYGON:    return list(w, polygon);
    case K_COLLECTION:
        if (w->nest >= WKT_MAX_NEST)
            return fail(w, "geometry collections nested too deeply");
        return list(w, collection_item);
    case K_COUNT:
        break;
    }
    return false;
}

int wkt_canon(const char *p, size_t n, struct strbuf *out, char *why, size_t whylen)
{
    size_t len0 = out->len;
    struct wkt w = { .p = p, .end = p + n, .out = out, .why = why, .whylen = whylen };

    if (geometry(&w)) {
        ws(&w);
        if (w.p == w.end)
            return out->failed ? COLIBRI_ENOMEM : 0;
        fail(&w, "unexpected text after the geometry");
    }
    out->len = len0;
    if (out->buf)
        out->buf[len0] = '\0';
    return COLIBRI_EINVAL;
}
