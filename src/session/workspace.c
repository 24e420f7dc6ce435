#include "session/workspace.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "session/events.h"
#include "util/bytes_json.h"
#include "util/notice.h"
#include "workspace/store.h"

static json_t *session_workspace_meta(const struct reins_plan *plan,
                                      const struct reins_policy *policy)
{
        /* the policy's own patterns: the built-in list (workspace/protect.c)
         * is always added when the session is read */
        json_t *protect = json_array();
        for (size_t i = 0; i < policy->filesystem.protect.count; i++)
                json_array_append_new(protect, bytes_json_z(policy->filesystem.protect.items[i]));
        return json_pack("{s:s, s:s, s:s, s:o, s:o, s:I}", "agent", plan->agent ? plan->agent : "",
                         "policy", plan->policy_name, "policy_sha256", plan->policy_sha256,
                         "command", bytes_json_array(plan->argv), "protect", protect,
                         "workspace_size", (json_int_t)plan->limits.workspace_size_bytes);
}

int session_workspace_start(struct reins_plan *plan, const struct reins_policy *policy,
                            const char *id, const char *resume, struct workspace_session *session,
                            struct event_bus *events, struct reins_error *err)
{
        int r;
        if (resume) {
                r = workspace_session_open(resume, session, err);
                if (r == 0 && strcmp(session->lower, plan->workspace) != 0)
                        r = reins_error_set(err, EINVAL,
                                            "--resume %s: that session is a copy of %s, not of "
                                            "the workspace %s",
                                            resume, session->lower, plan->workspace);
                /* a write-back killed with -9 left a partial copy: capped or
                 * not, this run never reads it */
                if (r == 0)
                        r = workspace_store_sweep(session, err);
        } else {
                json_t *meta = session_workspace_meta(plan, policy);
                r = workspace_session_create(id, plan->workspace, meta, session, err);
                json_decref(meta);
        }
        if (r == 0 && plan_set_overlay(plan, session->upper, session->work) < 0)
                r = reins_error_set(err, ENOMEM, "out of memory");
        if (r == 0)
                event_emit(events, "workspace.session",
                           json_pack("{s:s, s:s, s:o, s:b}", "action", "start", "id", session->id,
                                     "lower", bytes_json_z(session->lower), "resumed",
                                     resume != NULL));
        return r;
}

void session_workspace_running(struct workspace_session *session, uint64_t workspace_size)
{
        struct reins_error err = {0};
        json_int_t recorded = json_integer_value(json_object_get(session->meta, "workspace_size"));
        int r = workspace_session_mark(session, "running", (int)getpid(), &err);
        /* a resumed run with another cap: where the copy is now (reins diff) */
        if (r == 0 && recorded != (json_int_t)workspace_size)
                r = workspace_session_set(session, "workspace_size",
                                          json_integer((json_int_t)workspace_size), &err);
        if (r < 0)
                notice("workspace session %s: %s", session->id, err.message);
}

void session_workspace_finish(struct workspace_session *session, int status, bool reins_failed,
                              struct event_bus *events)
{
        struct reins_error err = {0};
        if (workspace_session_mark(session, "finished", status, &err) < 0)
                notice("workspace session %s: %s", session->id, err.message);
        event_emit(
            events, "workspace.session",
            json_pack("{s:s, s:s, s:i}", "action", "finish", "id", session->id, "status", status));
        if (!reins_failed)
                notice("changes kept in session %s (reins diff %s; reins apply %s)", session->id,
                       session->id, session->id);
        workspace_session_free(session);
}

void session_workspace_store(struct workspace_session *session, int memory,
                             struct event_bus *events)
{
        struct reins_error err = {0};
        int r = workspace_store_copy(session, memory, &err);
        if (r < 0)
                notice("%s", err.message);
        event_emit(events, "workspace.session",
                   json_pack("{s:s, s:s, s:b, s:s?}", "action", "store", "id", session->id, "ok",
                             r == 0, "error", r < 0 ? err.message : NULL));
}
