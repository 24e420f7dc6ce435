/* Writing a size-capped session's copy back to disk. While such a session
 * runs, its upper directory lives in a tmpfs (limits.workspace_size); when
 * it ends, the supervisor replaces ID/upper with that tmpfs's upper. The
 * swap is one rename (RENAME_EXCHANGE): a crash at any point leaves either
 * the old copy or the new one whole, never a mix. */
#ifndef REINS_WORKSPACE_STORE_H
#define REINS_WORKSPACE_STORE_H

#include "util/error.h"
#include "workspace/session.h"

/* `memory` is a directory fd holding upper/ (the tmpfs). */
int workspace_store_copy(const struct workspace_session *session, int memory,
                         struct reins_error *err);

/* Remove the upper.new a write-back killed with -9 left behind (it may hold
 * as much as the cap), unless a live supervisor of the session is storing
 * into it right now. -errno with err; 0 when there was none. */
int workspace_store_sweep(const struct workspace_session *session, struct reins_error *err);

#endif
