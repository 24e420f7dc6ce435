/* What a session changed, found by walking ONLY its upper directory (so the
 * cost follows the number of changes, not the size of the repository), with
 * each entry's lower counterpart lstat'ed to tell a creation from an edit.
 *
 * Overlayfs encodes in the upper dir:
 *   - a deletion as a whiteout: a character device 0:0 (or an empty file
 *     with the overlay.whiteout xattr);
 *   - a directory replaced wholesale (rm -rf d; mkdir d) as an opaque
 *     directory (overlay.opaque = "y"): nothing of the lower d shows through,
 *     so every lower entry not in the upper one is deleted;
 * both in the trusted.overlay.* (privileged mount) and user.overlay.*
 * (unprivileged mount, option userxattr) forms. */
#ifndef REINS_WORKSPACE_SCAN_H
#define REINS_WORKSPACE_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "util/error.h"

enum workspace_change_kind {
        WORKSPACE_CREATED,
        WORKSPACE_MODIFIED,     /* same type, other content (mode may differ too) */
        WORKSPACE_DELETED,      /* whiteout, or under an opaque/removed directory */
        WORKSPACE_TYPE_CHANGED, /* file <-> directory <-> symlink ... */
        WORKSPACE_MODE_CHANGED, /* same type and content, other permissions */
        WORKSPACE_REPLACED,     /* a directory replaced wholesale (opaque): informational,
                                   its contents are listed as their own changes */
};

/* Where one side of a change is read from. */
enum workspace_source {
        WORKSPACE_FROM_NONE, /* the side does not exist */
        WORKSPACE_FROM_LOWER,
        WORKSPACE_FROM_UPPER,
        WORKSPACE_FROM_OTHER, /* the second session's upper (diff --against) */
};

struct workspace_entry {
        enum workspace_source from;
        mode_t mode; /* st_mode (type and permissions); 0 when absent */
        off_t size;
        char *target; /* symlink target */
        dev_t dev;
        ino_t ino;
        nlink_t nlink;
        struct timespec ctime;
};

struct workspace_change {
        enum workspace_change_kind kind;
        char *path; /* workspace-relative, as the bytes on disk (any byte but NUL and '/') */
        struct workspace_entry old; /* the lower side */
        struct workspace_entry new; /* the upper side */
        char *hardlink;             /* another changed path sharing the new side's inode, or NULL */
        bool origin;    /* the upper entry was copied up from a lower one (overlay.origin) */
        bool protected; /* matched a protect pattern (set by workspace_protect_mark) */
        /* three-way (workspace/base.h): the host entry also changed since
         * this change's base; host_why (static text) says how. A conflict:
         * apply refuses it without --force. */
        bool host_changed;
        const char *host_why;
        char base_kept[65]; /* the kept copy of the base's content (hex SHA-256), "" if none */
};

/* Caps of one scan. The upper dir is the agent's: what the scan holds is
 * bounded by bytes, not only by a count. Past WORKSPACE_SCAN_MAX_CHANGES or
 * WORKSPACE_SCAN_MAX_BYTES the scan stops; a directory deeper than
 * WORKSPACE_SCAN_MAX_DEPTH or an entry whose path would be longer than
 * WORKSPACE_SCAN_MAX_PATH (no host tool can open it) is not looked into.
 * Either way the list is marked truncated and says which cap cut it. */
#define WORKSPACE_SCAN_MAX_CHANGES 100000u
#define WORKSPACE_SCAN_MAX_BYTES   (24u << 20) /* changes, paths, targets, listings held */
#define WORKSPACE_SCAN_MAX_DEPTH   128u
#define WORKSPACE_SCAN_MAX_PATH    4095u

struct workspace_changes {
        struct workspace_change *items;
        size_t count;
        size_t capacity;
        size_t bytes;        /* held now, against WORKSPACE_SCAN_MAX_BYTES */
        bool truncated;      /* a cap cut the scan: the list is incomplete */
        const char *cap;     /* the first cap hit (static text), when truncated */
        size_t not_listed;   /* entries seen and left out (more may follow a stop) */
        size_t git_internal; /* changes to git's own data in the workspace's .git, left
                                out of the list (shown as commits: workspace/gitcommits.h) */
};

/* Scan `upper` against `lower` (both directory paths). Changes come out in
 * path_compare_components order (a directory before what is below it). A
 * regular file copied up but left identical (same bytes, same mode) is not a
 * change. Refuses an upper dir using redirect_dir or metacopy. */
int workspace_scan(const char *upper, const char *lower, struct workspace_changes *out,
                   struct reins_error *err);
/* The same, looking only at `paths` (workspace-relative; none = all), their
 * ancestors and what is below them: what lies elsewhere never counts
 * against the caps, so a huge session can be reviewed and applied in parts.
 * Changes outside `paths` may remain (workspace_changes_filter drops them). */
int workspace_scan_paths(const char *upper, const char *lower, char *const *paths, size_t count,
                         struct workspace_changes *out, struct reins_error *err);
/* Like workspace_scan, with the regular files copied up but left identical
 * listed too: every regular file of the copy with a lower twin is listed as
 * "modified" without its content being compared (what the base record,
 * workspace/base.h, needs; never shown as changes). */
int workspace_scan_copied(const char *upper, const char *lower, struct workspace_changes *out,
                          struct reins_error *err);
/* One line saying how the list was cut ("" when it is whole). */
const char *workspace_changes_truncation(const struct workspace_changes *changes, char *buf,
                                         size_t size);

void workspace_changes_free(struct workspace_changes *changes);

/* Keep only changes at or below one of `paths` (workspace-relative). */
void workspace_changes_filter(struct workspace_changes *changes, char *const *paths, size_t count);

/* Find a change by path (changes sorted as workspace_scan leaves them). */
struct workspace_change *workspace_changes_find(const struct workspace_changes *changes,
                                                const char *path);

/* "created", "modified", ... */
const char *workspace_change_kind_name(enum workspace_change_kind kind);

/* Normalize a user-given path argument into workspace-relative form: strips
 * "./", trailing and doubled slashes, and the lower prefix of an absolute
 * path. NULL (errno EINVAL) for a path outside the workspace or with "..". */
char *workspace_relative_path(const char *arg, const char *lower);

#endif
