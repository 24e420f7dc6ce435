/* The private layer of the workspace's .git in direct mode (the sandbox
 * mounts it as MOUNT_OP_GITDIR, see sandbox/plan_protect.c).
 *
 * Inside, .git is an overlay: lower = the host's .git (never written), upper
 * = a directory in reins' state directory, hidden from the sandbox. objects/
 * is the host's own, bound through. When the session ends the supervisor
 * copies back git's own data only (workspace_protect_git_allowed: HEAD,
 * index, packed-refs, refs/, logs/ …), each file atomically, and reports the
 * rest (config, hooks, commondir, config.worktree …) without writing it.
 *
 * If the supervisor dies first, nothing is copied: the host's .git stays as
 * it was when the session started (plus unreferenced objects), which git
 * reads as a consistent repository; the private layer stays in the state
 * directory as <session>.git. */
#ifndef REINS_WORKSPACE_GITDIR_H
#define REINS_WORKSPACE_GITDIR_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"
#include "util/strv.h"

struct workspace_gitdir {
        char id[25];
        char *dir;   /* the private layer: STATE/workspaces/<session>.git */
        char *upper; /* dir/upper */
        char *work;  /* dir/work */
        char *lower; /* the host's .git */
        long long started_ns;
};

/* Create the private layer for the host's .git `lower` of session `id`. */
int workspace_gitdir_create(const char *id, const char *lower, struct workspace_gitdir *out,
                            struct reins_error *err);

struct workspace_gitdir_result {
        size_t copied;               /* git's own entries written back */
        size_t failed;               /* ... that could not be */
        struct reins_strv protected; /* .git-relative paths kept out (at most a few hundred) */
        size_t protected_count;      /* all of them */
};

/* Write git's own data back to the host's .git; list what was kept out.
 * keep_index: the index too is kept out. */
int workspace_gitdir_sync(const struct workspace_gitdir *gitdir, bool keep_index,
                          struct workspace_gitdir_result *result, struct reins_error *err);

/* Remove the private layer (never follows a symlink). */
int workspace_gitdir_remove(const struct workspace_gitdir *gitdir, struct reins_error *err);
void workspace_gitdir_free(struct workspace_gitdir *gitdir);

#endif
