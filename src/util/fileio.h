/* Reading a whole open file into memory, bounded: the one reader for
 * registry entries, session metadata, the git index, diff sides, base
 * records, trails and anchors. */
#ifndef REINS_UTIL_FILEIO_H
#define REINS_UTIL_FILEIO_H

#include <stdbool.h>
#include <stddef.h>

/* Read at most `limit` bytes of an open file; *truncated when it had more.
 * A regular file is read into a buffer of its size at once. Caller frees
 * *data (NUL-terminated for convenience). -errno. */
int fileio_read_fd(int fd, size_t limit, char **data, size_t *length, bool *truncated);

#endif
