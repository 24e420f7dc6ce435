/* Pure path string helpers (no filesystem access). */
#ifndef REINS_UTIL_PATH_H
#define REINS_UTIL_PATH_H

#include <stdbool.h>

/* "a" + "/" + "b" with duplicate slashes folded. Caller frees; NULL on ENOMEM. */
char *path_join(const char *a, const char *b);
/* Is `path` equal to `dir` or below it, component-wise ("/a/bc" is not under "/a/b")? */
bool path_is_under(const char *path, const char *dir);
/* Order paths so a directory sorts before everything below it. */
int path_compare_components(const char *a, const char *b);
/* Expand a leading "~" or "~/" with `home`; other strings are copied. NULL when
 * the string needs a home and home is NULL or empty. Caller frees. */
char *path_expand_home(const char *path, const char *home);
/* Number of '/'-separated components of an absolute path ("/" has 0). */
int path_depth(const char *path);

#endif
