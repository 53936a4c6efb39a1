/* arena.c — chunks of stable memory, freed together (arena.h). */
#include "colibri/arena.h"

#include <stdlib.h>
#include <string.h>

#define CHUNK_MIN 512

struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap;
    char data[];
};

char *arena_dup(struct arena *a, const char *p, size_t n)
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
    if (n)
        memcpy(dst, p, n);
    dst[n] = '\0';
    c->used += n + 1;
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
