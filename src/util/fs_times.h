/* Which filesystems keep the rules that let reins trust a directory's
 * change times between two looks (the deny cache, the change record's
 * cache): creating, removing or renaming an entry moves the directory's
 * mtime and ctime, any change to an inode moves its ctime, and no caller
 * can set a ctime. Local filesystems do; network filesystems (another
 * host's clock and caching) and FUSE (whatever the daemon says) are not
 * trusted. */
#ifndef REINS_UTIL_FS_TIMES_H
#define REINS_UTIL_FS_TIMES_H

#include <stdbool.h>

/* Is the filesystem holding the open `fd` one of them? False when unknown. */
bool fs_times_trusted(int fd);

#endif
