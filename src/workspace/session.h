/* Copy-on-write workspace sessions (issue 5). A session keeps the overlay's
 * upper and work directories in reins' private state directory:
 *   $XDG_STATE_HOME/reins/workspaces/ID/{upper,work,meta.json}
 * (else ~/.local/state/reins/...; directories 0700, owner-checked). The
 * sandbox mounts overlayfs with lower = the host workspace (never written),
 * upper = the session's copy. diff/apply/discard work on the upper dir. */
#ifndef REINS_WORKSPACE_SESSION_H
#define REINS_WORKSPACE_SESSION_H

#include <jansson.h>
#include <stdbool.h>

#include "util/error.h"
#include "util/strv.h"

struct workspace_session {
        char id[25];
        char *dir;    /* the session's state directory */
        char *upper;  /* dir/upper */
        char *work;   /* dir/work */
        char *lower;  /* the host workspace (real path) */
        json_t *meta; /* meta.json as last read or written (owned) */
};

/* Create a new session for `lower` (id chosen by the caller, 24 hex digits).
 * `meta` (agent, policy, command, protect patterns...) is stored in
 * meta.json together with lower, created time and state "running". */
int workspace_session_create(const char *id, const char *lower, const json_t *meta,
                             struct workspace_session *out, struct reins_error *err);

/* Open an existing session (for --resume, diff, apply...): checks ownership
 * and modes; `id` may be a unique prefix. */
int workspace_session_open(const char *id, struct workspace_session *out, struct reins_error *err);

/* Record the state: "running" (with the supervisor pid) or "finished"
 * (with the exit status). */
int workspace_session_mark(const struct workspace_session *session, const char *state, int value,
                           struct reins_error *err);

void workspace_session_free(struct workspace_session *session);

/* Take the session's lock (flock on its directory; serializes rewrites of
 * its files): an fd to close, or -errno with err. */
int workspace_session_lock(const struct workspace_session *session, struct reins_error *err);

/* --- additions for diff / apply / discard / ls ------------------------------ */

/* The directory holding every session: $XDG_STATE_HOME/reins/workspaces, else
 * ~/.local/state/reins/workspaces. Created 0700 when missing; refused when it
 * (or reins/) is owned by another user or writable by group or others.
 * Caller frees *out. */
int workspace_state_dir(char **out, struct reins_error *err);

/* Ids (24 hex digits) of every session in the state directory, sorted. */
int workspace_session_list(struct reins_strv *ids, struct reins_error *err);

/* Set `key` in meta.json to `value` (reference taken), under the session's
 * lock, with an atomic rewrite (temp file + rename). */
int workspace_session_set(struct workspace_session *session, const char *key, json_t *value,
                          struct reins_error *err);

/* When the session started (CLOCK_REALTIME, ns): a host file changed
 * afterwards has ctime >= this (up to one clock tick on filesystems with
 * coarse timestamps). */
long long workspace_session_started_ns(const struct workspace_session *session);

/* The base time of paths without a base record (workspace/base.h): the
 * latest run's start ("resumed_ns" once a --resume recorded every earlier
 * change), else the session's start. */
long long workspace_session_base_ns(const struct workspace_session *session);

/* Like workspace_session_open, but a missing or damaged meta.json is no
 * error (meta empty, lower ""): for `reins discard` only. */
int workspace_session_open_damaged(const char *id, struct workspace_session *out,
                                   struct reins_error *err);

/* Delete the session's state directory (never follows a symlink; copes with
 * read-only directories in the copy). The struct stays valid to free. */
int workspace_session_remove(struct workspace_session *session, struct reins_error *err);

/* Is the session's supervisor (meta "pid" while "running") still alive? */
bool workspace_session_is_live(const struct workspace_session *session);

#endif
