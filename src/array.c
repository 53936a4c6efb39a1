/* array.c — doubling growth of malloc'd arrays (array.h). */
#include "colibri/array.h"

#include <stdint.h>
#include <stdlib.h>

#include "colibri/error.h"

int array_grow(void **arr, size_t n, size_t *cap, size_t elem, size_t first)
{
    if (n < *cap)
        return 0;
    if (*cap > SIZE_MAX / 2 / elem)     /* the doubled size would wrap */
        return COLIBRI_ENOMEM;
    size_t ncap = *cap ? *cap * 2 : first;
    void *p = realloc(*arr, ncap * elem);
    if (!p)
        return COLIBRI_ENOMEM;
    *arr = p;
    *cap = ncap;
    return 0;
}
