/* A directory of cache files in reins' private state (the deny-match cache,
 * the change record's cache): one file per tree, each written beside the
 * old one as NAME.PID.new and renamed over it. */
#ifndef REINS_UTIL_CACHE_DIR_H
#define REINS_UTIL_CACHE_DIR_H

#include <stddef.h>

/* Past `max_files` caches the least recently written goes (it costs that
 * tree one walk), and so does a half-written .new file a killed run left
 * (older than an hour). Names starting with '.' are not looked at. */
void cache_dir_sweep(int dirfd, size_t max_files);

#endif
