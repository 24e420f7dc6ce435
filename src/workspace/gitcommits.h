/* Commits made inside a copy-on-write session. In overlay mode the agent's
 * `git commit` writes git's own data (objects, refs, logs, index) into the
 * copy of the workspace's .git. A review does not show those files: it lists
 * the commits the host repository lacks, and `reins apply SESSION --git`
 * lands them on a new branch of the host repository (reins/SESSION), never
 * touching the host's working tree, HEAD, index or config: review works
 * like a worktree.
 *
 * How: the copy's object files (loose objects and packs; never its
 * objects/info, whose alternates could point git anywhere) are copied, up
 * to WORKSPACE_GIT_OBJECTS_MAX bytes, into a private temporary repository
 * whose alternates name the host's object store. The host's own git reads
 * from it (`git log TIPS --not --all`) and fetches from it into the host
 * repository, with fsck of every object fetched. git runs with no system or
 * global configuration, no hooks, no fsmonitor, and never with any
 * configuration from the agent's copy; as root on a repository another user
 * owns, it runs as that user (so the objects it writes stay theirs).
 *
 * Refs and hashes read from the copy are the agent's bytes: a hash must be
 * hex of the right length, a ref name is checked before it is looked up, and
 * anything shown (author, subject, ref name) is escaped by the caller. */
#ifndef REINS_WORKSPACE_GITCOMMITS_H
#define REINS_WORKSPACE_GITCOMMITS_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"
#include "workspace/session.h"

#define WORKSPACE_GIT_MAX_COMMITS 1000u        /* listed; more are counted as "more" */
#define WORKSPACE_GIT_OBJECTS_MAX (512u << 20) /* bytes of object files taken from the copy */
#define WORKSPACE_GIT_MAX_REFS    10000u       /* refs read from the copy */
#define WORKSPACE_GIT_TEXT_MAX    (1u << 20)   /* bytes of git's output kept */

struct workspace_git_commit {
        char hash[65];
        char *author;  /* "Name <email>", the agent's bytes */
        char *subject; /* the agent's bytes */
};

struct workspace_git_commits {
        bool repository; /* the copy changed the host repository's git data */
        char head[65];   /* the session's HEAD commit, "" when none */
        char *head_ref;  /* the branch HEAD names ("refs/heads/main"), NULL when detached */
        struct workspace_git_commit *items;
        size_t count;
        bool more; /* past WORKSPACE_GIT_MAX_COMMITS (or the output cap) */
};

/* The commits reachable from the session's HEAD and changed refs that the
 * host repository lacks, newest first. No .git changes in the copy (or no
 * host repository): repository false, no error. */
int workspace_git_commits(const struct workspace_session *session,
                          struct workspace_git_commits *out, struct reins_error *err);
void workspace_git_commits_free(struct workspace_git_commits *commits);

/* The branch `apply --git` creates: "reins/<session id>". */
void workspace_git_branch(const struct workspace_session *session, char out[64]);

/* Land the session's HEAD on the new branch refs/heads/`branch` of the host
 * repository (refused if it exists); `head` receives the commit. */
int workspace_git_land(const struct workspace_session *session, const char *branch, char head[65],
                       struct reins_error *err);

#endif
