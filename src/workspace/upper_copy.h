/* Copying an overlayfs upper directory whole, markers included: regular
 * files (contents, mode, times), directories, symlinks (never followed),
 * whiteouts (character devices 0:0), fifos, hard links within the tree, and
 * every user.* xattr (userxattr overlayfs keeps opaque/origin/redirect
 * markers there). It moves a size-capped session's copy between its tmpfs
 * (while the session runs) and the session directory on disk (before and
 * after), so the copy must read back exactly as overlayfs wrote it.
 *
 * The source is the agent's own copy: an entry it made unreadable is given
 * u+r (or u+rx for a directory) for the moment of the copy, and the
 * setuid/setgid bits are not carried. Sockets and other devices are
 * skipped (overlayfs never needs them back). */
#ifndef REINS_WORKSPACE_UPPER_COPY_H
#define REINS_WORKSPACE_UPPER_COPY_H

/* Copy everything below directory `from` into the empty directory `to`.
 * Returns 0 or -errno (ELOOP past 256 levels). Usable in the sandbox's
 * child before it drops privileges (no /proc lookups). */
int upper_copy_tree(int from, int to);

#endif
