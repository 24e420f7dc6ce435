#include "util/weaken.h"

#ifdef REINS_WEAKEN_BUILD
#include <stdlib.h>
#include <string.h>

bool weaken(const char *protection)
{
        const char *list = getenv("REINS_WEAKEN");
        size_t len = strlen(protection);
        while (list && *list) {
                const char *end = strchr(list, ',');
                size_t item = end ? (size_t)(end - list) : strlen(list);
                if (item == len && strncmp(list, protection, len) == 0)
                        return true;
                list = end ? end + 1 : NULL;
        }
        return false;
}
#else
/* ISO C forbids an empty translation unit. */
typedef int weaken_unused;
#endif
