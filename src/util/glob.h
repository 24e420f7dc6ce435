/* Path globs for filesystem rules: '*' and '?' and [set] match within one path
 * component, '**' matches any number of whole components (including none).
 * A pattern without '/' matches the last component anywhere ("*.pem"). */
#ifndef REINS_UTIL_GLOB_H
#define REINS_UTIL_GLOB_H

#include <stdbool.h>

/* 0 when valid, else -EINVAL with a reason in *why (static string). */
int glob_validate(const char *pattern, const char **why);
/* Does `path` (no trailing slash; absolute or relative, as the pattern) match? */
bool glob_match(const char *pattern, const char *path);
/* True when the pattern has no wildcard at all (a literal path). */
bool glob_is_literal(const char *pattern);

#endif
