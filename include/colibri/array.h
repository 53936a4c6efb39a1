/*
 * array.h — growing a malloc'd array one element at a time, doubling its
 * capacity (git's ALLOC_GROW), so that appends cost amortised O(1).
 */
#ifndef COLIBRI_ARRAY_H
#define COLIBRI_ARRAY_H

#include <stddef.h>

/*
 * Make room for element n of *arr (elements of size elem, capacity *cap):
 * nothing while n < *cap, else *cap becomes twice itself (first when 0).
 * 0, or COLIBRI_ENOMEM (also when the size would wrap) with *arr and *cap
 * unchanged. Call as
 * array_grow((void **)&a, n, &cap, sizeof *a, 64).
 */
int array_grow(void **arr, size_t n, size_t *cap, size_t elem, size_t first);

#endif
