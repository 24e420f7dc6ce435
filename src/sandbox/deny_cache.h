/* The matches of whole-tree deny globs (a bare `.env` or `*.pem` matches at
 * any depth) below a bound tree, without walking the tree at every start.
 *
 * A cache file per (tree, pattern set) in reins' private state keeps each
 * directory's identity and change times (device, inode, mtime, ctime), the
 * names of its subdirectories and its matches. Creating, removing or
 * renaming an entry changes its directory's mtime and ctime, and nothing
 * without the capability to set the clock can put a ctime back, so a
 * directory whose identity and times are unchanged has the same entries:
 * its cached matches and subdirectories stand, and only the directories
 * that changed are read again. Start-up costs one fstatat per directory,
 * not one per file.
 *
 * Fail closed: a cache that is missing, of another format, truncated, or
 * whose checksum does not match is ignored (a full walk); a directory
 * changed within the last 2 s when it was read ("racy": a second change in
 * the same timestamp tick would leave its times equal), one on a
 * filesystem whose times are not known to follow these rules (network and
 * FUSE filesystems), and one that could not be read are read again at
 * every start. */
#ifndef REINS_SANDBOX_DENY_CACHE_H
#define REINS_SANDBOX_DENY_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "util/strv.h"

struct deny_cache_stats {
        size_t dirs;      /* directories looked at */
        size_t reread;    /* of which read again (changed, racy, untrusted, new) */
        uint64_t entries; /* entries below the tree, as of this start */
        int cache;        /* 1 used, 0 none yet, -1 ignored (damaged or another format) */
};

/* Every path below `root` (an absolute directory path, `root` itself
 * excluded) that matches one of `patterns`; a matching directory is not
 * looked into. `cache_dir`: the private directory holding the caches, or
 * NULL for a plain walk. -E2BIG past `max_entries` entries, -ENOMEM. */
int deny_cache_collect(char *const *patterns, size_t count, const char *root, const char *cache_dir,
                       uint64_t max_entries, struct reins_strv *matches,
                       struct deny_cache_stats *stats);

#endif
