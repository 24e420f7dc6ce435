/* `reins run` in overlay mode: the copy-on-write session, --resume and
 * --parallel. */
#ifndef REINS_CLI_RUN_WORKSPACE_H
#define REINS_CLI_RUN_WORKSPACE_H

#include "audit/event.h"
#include "policy/policy.h"
#include "sandbox/plan.h"
#include "workspace/session.h"

/* Create (or, with `resume`, reopen) the session for this run and point the
 * plan's overlay at it. `id` is the new session's id. */
int run_workspace_start(struct reins_plan *plan, const struct reins_policy *policy, const char *id,
                        const char *resume, struct workspace_session *session,
                        struct event_bus *events, struct reins_error *err);
/* The command is starting: the session's state says "running" with our pid
 * (a fresh session already does; a resumed one is rewritten). */
void run_workspace_running(struct workspace_session *session, uint64_t workspace_size);
void run_workspace_finish(struct workspace_session *session, int status, struct event_bus *events);

/* limits.workspace_size: write the copy held in the tmpfs `memory` (a
 * directory fd holding upper/) back to the session directory; say so on
 * stderr and in the trail when that fails. */
void run_workspace_store(struct workspace_session *session, int memory, struct event_bus *events);

#endif
