/* The daemon's view of sessions: the runtime registry (audit/runtime.h:
 * what `reins ps --json` lists, live and dead) joined with the daemon's own
 * records (serve/record.h) of the sessions it started, including those
 * running as other users (their registries) and those already ended. */
#ifndef REINS_SERVE_SESSIONS_H
#define REINS_SERVE_SESSIONS_H

#include <jansson.h>

#include "serve/serve_internal.h"

/* Every session, oldest first: registry fields ("session", "pid", "alive",
 * "policy", "command", "workspace", "started", "uid", and from a live
 * session's control socket "risk", "risk_tier", "frozen", "pending"), plus
 * "serve": {"by_uid", "policy", "exit_status", "state_dir"} for the
 * sessions this daemon started. */
int serve_sessions_collect(struct serve *serve, json_t **sessions, struct reins_error *err);
/* One session by its exact id; -ENOENT when unknown. */
int serve_sessions_find(struct serve *serve, const char *id, json_t **entry,
                        struct reins_error *err);
/* The policy a role check judges the session by: as its starter wrote it
 * (daemon-started), else the policy's name from the registry. */
const char *serve_session_policy(const json_t *entry);
/* Its agent: as the daemon found it in the policy at the start
 * (daemon-started), else the registry's; NULL when none is named. */
const char *serve_session_agent(const json_t *entry);
/* The agent `policy` (as a start names it: a preset, or a file the session
 * reads from "/") names, malloc'd in *agent ("" when none): the daemon
 * reads it as the supervisor will, which then checks that it read the same
 * (reins run --expect-agent). */
int serve_policy_agent(const char *policy, char **agent, struct reins_error *err);

/* Where the session's registry (and control socket) lives. */
int serve_session_registry(struct serve *serve, const json_t *entry, char **dir,
                           struct reins_error *err);
/* The registry directory a session of `uid` uses when `uid` is not the
 * daemon's: /run/user/UID/reins, else /tmp/reins-UID (runtime_dir's
 * choices for that user), each only when it is that user's. */
int serve_user_registry(uid_t uid, char **dir);

#endif
