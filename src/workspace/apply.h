/* Merging a session's changes into the host workspace.
 *
 * Safety:
 *  - every host-side operation goes through a directory fd opened with
 *    openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS): a symlink in the host
 *    workspace (or one this apply just reproduced, "x -> ~/.ssh") is never
 *    crossed, so nothing lands outside the workspace;
 *  - each file lands atomically: written to an unnamed O_TMPFILE in the
 *    target's directory (a named ".reins-apply-*" temp file where O_TMPFILE
 *    is not offered), linked under a temporary name, renamed over the target.
 *    A SIGKILL at any moment leaves each file old or new, never torn;
 *  - setuid/setgid bits are dropped (a root apply must not plant a setuid
 *    binary the agent built);
 *  - conflicts: each change has a base (workspace/base.h): the host entry as
 *    it was when the session started, or what reins applied there last. A
 *    host entry the change would touch that differs from its base (a ctime
 *    at or after the session's start, or another identity than the one
 *    recorded at the last apply) was changed on the host; an entry the change
 *    expects that is gone was deleted on the host; a file copied up from the
 *    lower layer (overlay.origin) that is no longer at its path, in a host
 *    directory the host changed, was probably deleted on the host. Any of
 *    these is a conflict (set by workspace_base_classify): nothing at all is
 *    written unless --force. What was written becomes the base of its path.
 *  - protected paths are skipped unless include_protected. */
#ifndef REINS_WORKSPACE_APPLY_H
#define REINS_WORKSPACE_APPLY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "util/error.h"
#include "workspace/scan.h"
#include "workspace/session.h"

struct workspace_apply_options {
        bool dry_run;
        bool force;             /* overwrite conflicting host files */
        bool include_protected; /* apply protected paths too */
        FILE *report;           /* one line per change */
        /* one object per change appended ({"path", "kind", "result", "why"?}),
         * the first WORKSPACE_APPLY_REPORT_MAX only (the rest are counted in
         * result->unreported): `reins apply --json`, the daemon's apply */
        json_t *report_json;
};

#define WORKSPACE_APPLY_REPORT_MAX 1000u

struct workspace_apply_result {
        size_t applied;
        size_t protected_skipped;
        size_t conflicts;
        size_t failed;
        size_t unsupported;   /* sockets, devices: not reproduced */
        size_t unreported;    /* changes left out of report_json (its cap) */
        char base_error[256]; /* the base record could not be updated ("" when it was) */
};

/* Apply `changes` (from workspace_scan, protect marks set) to session->lower. */
int workspace_apply(const struct workspace_session *session,
                    const struct workspace_changes *changes,
                    const struct workspace_apply_options *options,
                    struct workspace_apply_result *result, struct reins_error *err);

#endif
