/* The one tree walker. Every step goes through directory fds: a directory
 * is opened with openat(parent, name, O_NOFOLLOW | O_DIRECTORY), each entry
 * is lstat'ed with fstatat(AT_SYMLINK_NOFOLLOW), so a symlink the agent
 * planted ("src -> /home/u/.ssh") is reported as a symlink and never
 * crossed, and a name swapped for a link between the lstat and the open
 * fails the open instead of leaving the tree.
 *
 * The trees walked are often the agent's: what the walk holds is bounded.
 * The stack is explicit (no recursion: the agent picks the depth), a
 * directory deeper than `max_depth` is reported but never entered, and the
 * names held (the listing batches of every open level) are counted in bytes
 * against `max_bytes`; past it the walk stops with WALK_FULL. One fd a level
 * (two with a twin), whatever the width of a directory.
 *
 * Order: the entries of a directory come in readdir order, or sorted by
 * strcmp (`sorted`: the whole listing is read first and held). A directory is
 * visited before its entries (WALK_DIR_PRE) and, with `post_order`, after
 * them (WALK_DIR_POST: what removing a tree needs). The root itself is not
 * visited. */
#ifndef REINS_UTIL_WALK_H
#define REINS_UTIL_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "util/error.h"

enum walk_visit {
        WALK_LEAF,     /* anything but a directory */
        WALK_DIR_PRE,  /* a directory, before its entries */
        WALK_DIR_POST, /* a directory, after its entries (post_order only) */
};

/* What a visit returns: WALK_NEXT goes on; WALK_SKIP (DIR_PRE) does not
 * enter the directory; WALK_STOP, or any larger value the caller picks,
 * ends the walk and walk_tree returns it; < 0 is an error (-errno, the
 * visit fills err) and walk_tree returns it. */
enum {
        WALK_NEXT = 0,
        WALK_SKIP = 1,
        WALK_STOP = 2,
        WALK_FULL = 3, /* the walk's own: the names held reached max_bytes */
};

struct walk_entry {
        enum walk_visit visit;
        int dirfd;        /* the directory holding the entry */
        int parent_twin;  /* the twin of that directory (-1: none) */
        const char *name; /* the entry's name in dirfd */
        /* relative to the root (after options.prefix): "a/b/name"; when it
         * would be longer than max_path it stops at the last component that
         * fits and path_cut is set (on this entry and all below it) */
        const char *path;
        size_t path_length;
        bool path_cut;
        const struct stat *st; /* fstatat(dirfd, name, AT_SYMLINK_NOFOLLOW) */
        unsigned depth;        /* 1 for the root's entries */
        /* DIR_PRE: the directory is deeper than max_depth and will not be
         * entered, whatever the visit returns */
        bool too_deep;
        /* DIR_PRE: the visit may open the directory itself (say, making it
         * readable first) and hand the fd over in *open_fd (the walk owns it
         * from then on); else the walk opens it, and fails when it cannot.
         * *open_twin: an fd of the directory's counterpart in another tree
         * (a copy's destination, an upper dir's lower twin), given to the
         * visits of its entries as parent_twin and closed by the walk. */
        int *open_fd;
        int *open_twin;
        /* DIR_POST: the directory itself and its twin, still open */
        int fd;
        int twin;
        /* DIR_POST: the walk is being abandoned (an error or a stop below):
         * release what the directory holds, the return value is ignored */
        bool unwinding;
};

typedef int (*walk_visit_fn)(const struct walk_entry *entry, void *context,
                             struct reins_error *err);

#define WALK_DEFAULT_MAX_DEPTH 256u
#define WALK_DEFAULT_MAX_PATH  4095u
#define WALK_DEFAULT_MAX_BYTES (16u << 20)

struct walk_options {
        walk_visit_fn visit;
        void *context;
        bool sorted;
        bool post_order;
        unsigned max_depth; /* 0: WALK_DEFAULT_MAX_DEPTH */
        size_t max_path;    /* 0: WALK_DEFAULT_MAX_PATH */
        size_t max_bytes;   /* names held; 0: WALK_DEFAULT_MAX_BYTES */
        /* a counter the names held are added to (and taken back from) and
         * checked with, against max_bytes: a caller whose own data shares the
         * budget passes its own; NULL: the walk's */
        size_t *bytes;
        const int *root_twin; /* borrowed: parent_twin of the root's entries; NULL: none */
        const char *prefix;   /* the root's own path: entries' paths start below it */
        const char *label;    /* what the walk's own errors name ("upper a/b: ...") */
};

/* Walk the tree below the directory `root` (any fd of it, O_PATH too: it is
 * reopened, so the caller's file offset is left alone). Returns 0 when the
 * walk is over, WALK_FULL, what a visit returned to stop it, or -errno (err
 * filled: by the walk for an open or a read that failed, else by the visit).
 * An entry that vanishes between the listing and its lstat is passed over. */
int walk_tree(int root, const struct walk_options *options, struct reins_error *err);

#endif
