/* Growable arrays (array.h). */
#include "util/array.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int array_reserve_impl(void *items_pointer, size_t *capacity, size_t needed, size_t item_size,
                       size_t initial)
{
        if (needed <= *capacity)
                return 0;
        size_t grown = *capacity ? *capacity : (initial ? initial : 1);
        while (grown < needed) {
                if (grown > SIZE_MAX / 2)
                        return -ENOMEM;
                grown *= 2;
        }
        if (grown > SIZE_MAX / item_size)
                return -ENOMEM;
        /* the pointer is read and written as bytes: items_pointer is a T **
         * for any T, never accessed as a void ** */
        void *items;
        memcpy(&items, items_pointer, sizeof(items));
        void *bigger = realloc(items, grown * item_size);
        if (!bigger)
                return -ENOMEM;
        memcpy(items_pointer, &bigger, sizeof(bigger));
        *capacity = grown;
        return 0;
}
