/* A snapshot of a copy-on-write session's changes (the risk engine's T3
 * freezes the sandbox, then keeps what the agent had written at that moment
 * as evidence): the upper directory copied to
 *   $XDG_STATE_HOME/reins/workspaces/ID/snapshots/NAME/
 * Regular files are copied (contents and mode), directories and symlinks
 * recreated (a symlink is never followed); overlayfs whiteouts (deletions)
 * are listed in NAME/.reins-whiteouts rather than recreated as devices. */
#ifndef REINS_WORKSPACE_SNAPSHOT_H
#define REINS_WORKSPACE_SNAPSHOT_H

#include "util/error.h"
#include "workspace/session.h"

/* The snapshot's path in *out (malloc'd) on success. `upper` is the copy
 * to snapshot (a directory fd, borrowed), or -1 for the session's upper
 * directory on disk. */
int workspace_snapshot(const struct workspace_session *session, int upper, const char *name,
                       char **out, struct reins_error *err);

#endif
