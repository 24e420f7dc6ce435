/* Copy-on-write workspace sessions (issue 5). A session keeps the overlay's
 * upper and work directories in reins' private state directory:
 *   $XDG_STATE_HOME/reins/workspaces/ID/{upper,work,meta.json}
 * (else ~/.local/state/reins/...; directories 0700, owner-checked). The
 * sandbox mounts overlayfs with lower = the host workspace (never written),
 * upper = the session's copy. diff/apply/discard work on the upper dir. */
#ifndef REINS_WORKSPACE_SESSION_H
#define REINS_WORKSPACE_SESSION_H

#include <jansson.h>

#include "util/error.h"
#include "util/strv.h"

struct workspace_session {
        char id[25];
        char *dir;   /* the session's state directory */
        char *upper; /* dir/upper */
        char *work;  /* dir/work */
        char *lower; /* the host workspace (real path) */
};

/* Create a new session for `lower` (id chosen by the caller, 24 hex digits).
 * `meta` (agent, policy, command, protect patterns...) is stored in
 * meta.json together with lower, created time and state "running". */
int workspace_session_create(const char *id, const char *lower, const json_t *meta,
                             struct workspace_session *out, struct reins_error *err);

/* Open an existing session (for --resume, diff, apply...): checks ownership
 * and modes; `id` may be a unique prefix. */
int workspace_session_open(const char *id, struct workspace_session *out,
                           struct reins_error *err);

/* Record the state: "running" (with the supervisor pid) or "finished"
 * (with the exit status). */
int workspace_session_mark(const struct workspace_session *session, const char *state,
                           int value, struct reins_error *err);

void workspace_session_free(struct workspace_session *session);

#endif
