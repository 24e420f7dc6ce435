/* `reins run` in overlay mode: the copy-on-write session, --resume and
 * --parallel. */
#ifndef REINS_SESSION_WORKSPACE_H
#define REINS_SESSION_WORKSPACE_H

#include "audit/event.h"
#include "policy/policy.h"
#include "sandbox/plan.h"
#include "workspace/session.h"

/* Create (or, with `resume`, reopen) the session for this run and point the
 * plan's overlay at it. `id` is the new session's id. */
int session_workspace_start(struct reins_plan *plan, const struct reins_policy *policy,
                            const char *id, const char *resume, struct workspace_session *session,
                            struct event_bus *events, struct reins_error *err);
/* The command is starting: the session's state says "running" with our pid
 * (a fresh session already does; a resumed one is rewritten). */
void session_workspace_running(struct workspace_session *session, uint64_t workspace_size);
/* status: the command's; reins_failed: reins itself failed (nothing to review) */
void session_workspace_finish(struct workspace_session *session, int status, bool reins_failed,
                              struct event_bus *events);

/* limits.workspace_size: write the copy held in the tmpfs `memory` (a
 * directory fd holding upper/) back to the session directory; say so on
 * stderr and in the trail when that fails. */
void session_workspace_store(struct workspace_session *session, int memory,
                             struct event_bus *events);

#endif
