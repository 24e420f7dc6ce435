/* Reading a whole open file into memory, bounded: the one reader for
 * registry entries, session metadata, the git index, diff sides, base
 * records, trails and anchors; and the one loop that writes a buffer whole. */
#ifndef REINS_UTIL_FILEIO_H
#define REINS_UTIL_FILEIO_H

#include <stdbool.h>
#include <stddef.h>

/* Read at most `limit` bytes of an open file; *truncated when it had more.
 * A regular file is read into a buffer of its size at once. Caller frees
 * *data (NUL-terminated for convenience). -errno. */
int fileio_read_fd(int fd, size_t limit, char **data, size_t *length, bool *truncated);

/* Write all `length` bytes of `bytes` to `fd`, again after EINTR and short
 * writes. 0, or -errno (-EIO when write() wrote nothing). */
int fileio_write_all(int fd, const void *bytes, size_t length);

/* Read exactly `length` bytes into `buf`, again after EINTR and short reads.
 * 0, or -errno (-EIO when the file ends first). */
int fileio_read_exact(int fd, void *buf, size_t length);

#endif
