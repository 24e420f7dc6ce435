/* Deliberate weakening, for proving escape probes can fail (ESCAPES.md).
 * Only a build made with -DREINS_WEAKEN_BUILD (`make weak`) reads
 * REINS_WEAKEN=name[,name...]; in every other build weaken() is constant
 * false and the switch does not exist in the binary. */
#ifndef REINS_UTIL_WEAKEN_H
#define REINS_UTIL_WEAKEN_H

#include <stdbool.h>

#ifdef REINS_WEAKEN_BUILD
bool weaken(const char *protection);
#else
static inline bool weaken(const char *protection)
{
        (void)protection;
        return false;
}
#endif

#endif
