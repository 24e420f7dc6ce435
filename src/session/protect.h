/* `reins run` in direct mode: the private layer of the workspace's .git
 * (workspace/gitdir.h), the placeholders of missing protected directories,
 * and the report of protected paths the session wrote or created. */
#ifndef REINS_SESSION_PROTECT_H
#define REINS_SESSION_PROTECT_H

#include <jansson.h>
#include <stdbool.h>

#include "audit/event.h"
#include "sandbox/plan.h"
#include "workspace/gitdir.h"
#include "workspace/session.h"

struct session_protect {
        bool has_gitdir;
        struct workspace_gitdir gitdir;
        unsigned absent;      /* bit i: session_protect_absent[i] did not exist at the start */
        bool overlay_pending; /* overlay mode: the copy's protected changes not yet recorded */
};

/* Before the sandbox starts: the .git overlay's private layer (the plan's
 * MOUNT_OP_GITDIR points at it) and which protected root files are absent. */
int session_protect_start(struct session_protect *p, struct reins_plan *plan, const char *session,
                          struct reins_error *err);

/* The sandbox is gone: write git's own data back, record (file.protected_write,
 * which the persistence-write rule reads) and say on stderr what was kept out
 * or created, remove the private layer. (The empty placeholders go with
 * plan_remove_placeholders, after the change scan has looked.) In
 * overlay mode, record the protected paths changed in the copy (`session`,
 * or NULL when the run never started). `changes` (direct mode): the
 * files.changed comparison; a git repository created or changed below the
 * workspace root keeps .git/index out of the write-back (an entry for it in
 * the index would make the host's next `git status` run its configuration). */
void session_protect_finish(struct session_protect *p, struct reins_plan *plan,
                            const struct workspace_session *session, const json_t *changes,
                            struct event_bus *events, bool quiet);

#endif
