/* What changes.c and changes_cache.c share: the snapshot itself. Not for
 * other modules (changes.h is the interface). */
#ifndef REINS_AUDIT_CHANGES_INTERNAL_H
#define REINS_AUDIT_CHANGES_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "audit/changes.h"

#define CHANGES_NONE UINT32_MAX
#define CHANGES_KEY  16

/* flags of an entry */
enum {
        CHANGES_UNLISTED = 1,  /* a directory whose entries were not read (unreadable, depth) */
        CHANGES_OTHER_DEV = 2, /* a directory on another filesystem than the root */
        CHANGES_DROPPED = 4,   /* (a cached tree) not there when the session started */
        CHANGES_CLAIMED = 8,   /* (a cached tree) found again in a directory listed at start */
        CHANGES_FRESH = 16,    /* metadata read by this process at or after the start */
        CHANGES_LINKED = 32,   /* a file with more than one name */
};

/* 64 bytes: the cache file holds these as they are. */
struct changes_entry {
        unsigned char key[CHANGES_KEY]; /* SHA-256(parent key || name), truncated */
        uint32_t parent;                /* index of its directory; CHANGES_NONE at the top */
        uint32_t name;                  /* offset in names; CHANGES_NONE when not kept */
        uint16_t name_length;
        uint16_t flags;
        uint32_t mode;
        uint64_t inode;
        uint64_t size;
        int64_t mtime_ns;
        int64_t ctime_ns;
};

/* The root directory's own record (its entries have parent CHANGES_NONE). */
struct changes_root {
        uint64_t dev, inode;
        uint32_t mode, flags;
        int64_t mtime_ns, ctime_ns;
};

struct changes_snapshot {
        struct changes_entry *entries;
        size_t count, capacity, max;
        char *names; /* the names kept, back to back (not NUL-terminated) */
        size_t names_used;
        size_t not_scanned; /* directories below CHANGES_MAX_DEPTH */
        uint32_t *order;    /* entry indices sorted by key (changes_take) */
        size_t order_count; /* entries in `order` (the dropped ones are not) */
        struct changes_root root;
        int64_t walked_ns;  /* CLOCK_REALTIME_COARSE when the walk began */
        int64_t started_ns; /* a "before": when the session's start was looked at */
        size_t listed;      /* names read from directories to make it (not from a cache) */
        bool walked;        /* made by a walk of the whole tree (changes_take) */
        void *map;          /* a cache read with mmap: `entries` points into it until it grows */
        size_t map_length;
        bool over_cap; /* (a cache) the tree's directories only, each with its count
                        * of entries in `size`: the tree held more than the cap */
};

int64_t changes_now_ns(void);
int64_t changes_ns(struct timespec ts);
void changes_key(const unsigned char parent[CHANGES_KEY], const char *name, size_t length,
                 unsigned char out[CHANGES_KEY]);
struct changes_snapshot *changes_snapshot_new(size_t max_entries);
int changes_snapshot_add(struct changes_snapshot *s, uint32_t parent, const char *name,
                         const struct stat *st, uint16_t flags);
/* The entries below the open directory `fd` (consumed), as children of
 * entry `top` (CHANGES_NONE: the root), at most `depth_left` levels. */
int changes_snapshot_walk(struct changes_snapshot *s, int fd, uint32_t top, size_t depth_left,
                          uint64_t root_dev);
/* A walk of the whole tree; *result < 0 on a failure, -E2BIG past
 * max_entries, when what was walked is still returned (or NULL on ENOMEM):
 * the directories the walk was inside then are marked CHANGES_UNLISTED. */
struct changes_snapshot *changes_walk_tree(const char *root, size_t max_entries, int *result);
/* The path of entry i (relative to the root) into buf, NUL-terminated:
 * its length, or 0 when it does not fit or a name was not kept. */
size_t changes_path_of(const struct changes_snapshot *s, uint32_t i, char *buf, size_t cap);
/* s->order: every entry not dropped, sorted by key. */
int changes_snapshot_sort(struct changes_snapshot *s);

void changes_sort_indices(uint32_t *indices, size_t count, const struct changes_entry *entries);
/* The tree at the end from `before` (the start's) and the events of the
 * session: the directories `dirty[i]` (by index in before, and the root)
 * listed again and compared name by name, the rest taken as it was. NULL
 * when the tree disagrees with that (a full walk is then needed). */
struct changes_snapshot *changes_cache_apply(const char *root,
                                             const struct changes_snapshot *before,
                                             const unsigned char *dirty, bool root_dirty,
                                             size_t *relisted);
/* changes_watch.c: the tree at the end from the events, or NULL (then
 * *unchanged when no event named anything in the tree: it is as it was). */
struct changes_snapshot *changes_watch_end(struct changes_watch *w, const char *root,
                                           const struct changes_snapshot *before, size_t *relisted,
                                           bool *unchanged);

#endif
