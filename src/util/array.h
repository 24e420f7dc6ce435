/* Growable arrays: the one realloc-by-doubling, with its overflow checks,
 * instead of a copy in every module that appends to a list. */
#ifndef REINS_UTIL_ARRAY_H
#define REINS_UTIL_ARRAY_H

#include <stddef.h>

/* Make room for `needed` items of `item_size` bytes in the array whose
 * pointer is at `items_pointer` (a `T **`) and whose allocated length is
 * *capacity: doubles from `initial` until it fits. 0, or -ENOMEM with the
 * array and *capacity untouched. */
int array_reserve_impl(void *items_pointer, size_t *capacity, size_t needed, size_t item_size,
                       size_t initial);

/* array_reserve(items, capacity, needed, initial): `items` is the array
 * (an lvalue of pointer type, updated in place), `capacity` its length. */
#define array_reserve(items, capacity, needed, initial)                                            \
        array_reserve_impl(&(items), &(capacity), (needed), sizeof(*(items)), (initial))

#endif
