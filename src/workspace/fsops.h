/* File operations the workspace code shares. Everything goes through
 * directory fds and never follows a symlink: the upper dir is written by the
 * agent and the host workspace may hold symlinks it planted earlier. */
#ifndef REINS_WORKSPACE_FSOPS_H
#define REINS_WORKSPACE_FSOPS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* openat2(root, path, flags, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
 * RESOLVE_NO_MAGICLINKS): `path` (relative) may not leave `root` nor cross a
 * symlink anywhere, including its last component. Returns an fd or -errno. */
int ws_open_beneath(int root, const char *path, int flags, mode_t mode);

/* The directory holding `path` (O_PATH | O_DIRECTORY, opened beneath root as
 * above) and a pointer to the last component inside `path`. -errno. */
int ws_open_parent(int root, const char *path, const char **name);

/* lstat of `path` beneath root without following any symlink: 0, -ENOENT
 * when absent (or a parent is missing / not a directory), other -errno. */
int ws_lstat_beneath(int root, const char *path, struct stat *st);

/* Open `path` beneath root for reading. With `may_chmod` (our own copy,
 * never the host's files) a file the agent made unreadable is given u+r
 * for the moment of the open and its mode restored. -errno. */
int ws_open_read(int root, const char *path, bool may_chmod);

/* Copy the whole of `in` to `out` (copy_file_range, else read/write). */
int ws_copy_fd(int in, int out);

/* Recreate the symlink `name` of directory `from` in `to`, with the same
 * target (never followed). 0 or -errno. */
int ws_copy_symlink(int from, int to, const char *name);

/* Remove `name` in `dirfd` and, if it is a directory, everything below it.
 * Never follows a symlink; makes read-only directories writable first. */
int ws_remove_tree_at(int dirfd, const char *name);

/* Overlayfs markers, in both the trusted.* (privileged mount) and user.*
 * (unprivileged mount with userxattr) namespaces. A whiteout is a character
 * device 0:0, or an empty regular file marked overlay.whiteout. */
enum {
        WS_XATTR_WHITEOUT = 1,
        WS_XATTR_ORIGIN = 2,
        WS_XATTR_REDIRECT = 4,
        WS_XATTR_METACOPY = 8,
        WS_XATTR_OPAQUE = 16,
        WS_XATTR_UNKNOWN = 32, /* the list could not be read whole */
};
/* Which overlay.* xattrs (trusted. or user.) an entry carries, in one call. */
unsigned ws_overlay_xattrs(int dirfd, const char *name);
/* Is this upper directory opaque (overlay.opaque = "y")? */
bool ws_is_opaque_dir(int fd);

#endif
