/*
 * nested.c — walking the canonical JSON of RECORD and REPEATED cells
 * (nested.h). The text is colibri's own (coerce.c or a store wrote it), so it
 * is well-formed and a record holds every field in schema order: a member is
 * found by position, and values are skipped without a full parse.
 */
#include "colibri/nested.h"

#include <string.h>

#include "colibri/strbuf.h"

const struct column *nested_field(const struct column *c, const char *path, bool through_repeated)
{
    for (const char *seg = path; c; ) {
        const char *end = strchr(seg, '.');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);
        const struct column *next = NULL;
        if (c->elem == COL_RECORD && (through_repeated || !c->repeated))
            for (size_t i = 0; i < c->nfields && !next; i++)
                if (strlen(c->fields[i].name) == len && !memcmp(c->fields[i].name, seg, len))
                    next = &c->fields[i];
        c = next;
        if (!end)
            break;
        seg = end + 1;
    }
    return c;
}

/* The end of the JSON value at p (well-formed, before end). */
static const char *skip_value(const char *p, const char *end)
{
    int depth = 0;
    bool str = false;

    for (; p < end; p++) {
        char ch = *p;
        if (str) {
            if (ch == '\\')
                p++;
            else if (ch == '"' && (str = false, depth == 0))
                return p + 1;
        } else if (ch == '"') {
            str = true;
        } else if (ch == '{' || ch == '[') {
            depth++;
        } else if (ch == '}' || ch == ']') {
            if (depth == 0)
                return p;           /* a scalar that ended with its container */
            if (--depth == 0)
                return p + 1;
        } else if (ch == ',' && depth == 0) {
            return p;
        }
    }
    return end;
}

/* paths[k] selects field f: 2 all of it, 1 a part (*rest past "f."), 0 not. */
static int selects(const char *path, const char *name, const char **rest)
{
    size_t n = strlen(name);
    if (strncmp(path, name, n))
        return 0;
    if (path[n] == '\0')
        return 2;
    if (path[n] != '.')
        return 0;
    *rest = path + n + 1;
    return 1;
}

static void project(const struct column *c, const char *p, const char *end, bool element,
                    const char *const *paths, size_t npaths, struct strbuf *out);

/* One record's object at p: the selected fields, in schema order. */
static void project_record(const struct column *c, const char *p, const char *end,
                           const char *const *paths, size_t npaths, struct strbuf *out)
{
    const char *rest[64];
    bool first = true;

    p++;                                            /* '{' */
    for (size_t i = 0; i < c->nfields && p < end && *p != '}'; i++) {
        const struct column *f = &c->fields[i];
        p = (const char *)memchr(p, ':', (size_t)(end - p)) + 1;    /* names need no escapes */
        const char *v = p, *vend = skip_value(p, end);
        p = vend < end && *vend == ',' ? vend + 1 : vend;
        size_t nrest = 0;
        int whole = 0;
        for (size_t k = 0; k < npaths && !whole; k++) {
            const char *r = NULL;
            int s = selects(paths[k], f->name, &r);
            if (s == 2)
                whole = 1;
            else if (s == 1 && nrest < sizeof rest / sizeof rest[0])
                rest[nrest++] = r;
        }
        if (!whole && !nrest)
            continue;
        json_key_add(out, f, first);
        first = false;
        if (whole)
            strbuf_add(out, v, (size_t)(vend - v));
        else
            project(f, v, vend, false, rest, nrest, out);
    }
    strbuf_adds(out, first ? "{}" : "}");
}

static void project(const struct column *c, const char *p, const char *end, bool element,
                    const char *const *paths, size_t npaths, struct strbuf *out)
{
    if (end - p == 4 && !memcmp(p, "null", 4)) {
        strbuf_add(out, "null", 4);
        return;
    }
    if (c->repeated && !element) {
        strbuf_addc(out, '[');
        for (p++; p < end && *p != ']'; ) {
            const char *e = skip_value(p, end);
            if (p[-1] == ',')
                strbuf_addc(out, ',');
            project(c, p, e, true, paths, npaths, out);
            p = e < end && *e == ',' ? e + 1 : e;
        }
        strbuf_addc(out, ']');
        return;
    }
    project_record(c, p, end, paths, npaths, out);
}

void nested_project(const struct column *c, const char *text, size_t n,
                    const char *const *paths, size_t npaths, struct strbuf *out)
{
    project(c, text, text + n, false, paths, npaths, out);
}
