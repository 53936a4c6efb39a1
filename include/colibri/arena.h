/*
 * arena.h — stable copies of short texts that a row or a query owns.
 *
 * Canonical forms (a NUMERIC's digits, a record's JSON, a WKT) are made while
 * a row is coerced and may be longer than what the message held, so they
 * cannot go into the row's buffer; an arena hands out memory that never
 * moves (values point into it) and is freed all at once. An object that
 * keeps several texts for its whole life (names, URLs) holds them the same
 * way, and frees them with one arena_release.
 */
#ifndef COLIBRI_ARENA_H
#define COLIBRI_ARENA_H

#include <stddef.h>

struct arena_chunk;

struct arena {
    struct arena_chunk *head;   /* NULL: empty */
};

#define ARENA_INIT { NULL }

/* A NUL-terminated copy of p[0..n) that lives until arena_release; NULL on ENOMEM. */
char *arena_dup(struct arena *a, const char *p, size_t n);

/* A copy of the string s; NULL on ENOMEM. */
char *arena_strdup(struct arena *a, const char *s);

/* A text formatted as printf would; NULL on ENOMEM. */
char *arena_printf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Free every copy; the arena is empty again. */
void arena_release(struct arena *a);

#endif
