/* arena.c — chunks of stable memory, freed together (arena.h). */
#include "colibri/arena.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_MIN 512

struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap;
    char data[];
};

/* Room for n bytes and a NUL, never moved; NULL on ENOMEM. */
static char *arena_alloc(struct arena *a, size_t n)
{
    struct arena_chunk *c = a->head;

    if (!c || c->cap - c->used < n + 1) {
        size_t cap = n + 1 > CHUNK_MIN ? n + 1 : CHUNK_MIN;
        if (!(c = malloc(sizeof *c + cap)))
            return NULL;
        c->used = 0;
        c->cap = cap;
        c->next = a->head;
        a->head = c;
    }
    char *dst = c->data + c->used;
    c->used += n + 1;
    return dst;
}

char *arena_dup(struct arena *a, const char *p, size_t n)
{
    char *dst = arena_alloc(a, n);
    if (!dst)
        return NULL;
    if (n)
        memcpy(dst, p, n);
    dst[n] = '\0';
    return dst;
}

char *arena_strdup(struct arena *a, const char *s)
{
    return arena_dup(a, s, strlen(s));
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *dst = n < 0 ? NULL : arena_alloc(a, (size_t)n);
    if (dst) {
        va_start(ap, fmt);
        vsnprintf(dst, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    return dst;
}

void arena_release(struct arena *a)
{
    while (a->head) {
        struct arena_chunk *next = a->head->next;
        free(a->head);
        a->head = next;
    }
}
