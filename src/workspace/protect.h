/* Protected paths: files the host runs or trusts without asking (git's
 * config, hooks and redirections, agent and editor settings that launch
 * commands or grant permissions, shell rc files). In direct mode they are
 * read-only inside the sandbox (sandbox/plan_protect.c); in overlay mode the
 * agent may change them in its copy, every diff flags them and apply skips
 * them unless --include-protected. */
#ifndef REINS_WORKSPACE_PROTECT_H
#define REINS_WORKSPACE_PROTECT_H

#include <jansson.h>
#include <stdbool.h>

#include "util/strv.h"
#include "workspace/scan.h"

/* The built-in defaults, always in force (a session's meta can add to them,
 * never remove them). NULL-terminated. */
extern const char *const workspace_protect_defaults[];
/* The defaults in force: workspace_protect_defaults, or in the weakened
 * build with REINS_WEAKEN=protect the short list from before issue 12. */
const char *const *workspace_protect_default_list(void);

/* Inside a git directory, `rel` (relative to it) is git's own data that a
 * commit, branch or rebase writes and no host git runs code from: HEAD,
 * index, packed-refs, the *_HEAD and *_MSG files, objects/, refs/, logs/.
 * Everything else in a git directory is protected. */
bool workspace_protect_git_allowed(const char *rel);

/* core.hooksPath from the repository's own .git/config at `workspace`, as
 * a workspace-relative path when it points into the work tree (husky and
 * friends), else NULL. A plain reading of git's syntax: the config is the
 * user's. Caller frees. */
char *workspace_protect_hooks_path(const char *workspace);

/* Defaults plus the session meta's "protect" array (workspace-relative
 * globs). Patterns glob_validate refuses are skipped. */
int workspace_protect_patterns(const json_t *meta, struct reins_strv *out);

/* Does `path` or one of its ancestors match one of the patterns, or is it a
 * `.git` entry (at any depth) or something in a git directory that
 * workspace_protect_git_allowed does not allow? */
bool workspace_protect_matches(const struct reins_strv *patterns, const char *path);

/* Set `protected` on every change that matches, and on every directory
 * removal that would take a protected change with it. */
void workspace_protect_mark(const struct reins_strv *patterns, struct workspace_changes *changes);

/* A session's changes, protect marks set: scan its upper dir against its
 * lower, keep those at or below `paths` (workspace-relative; none = all). */
struct workspace_session;
int workspace_session_changes(const struct workspace_session *session, char *const *paths,
                              size_t path_count, struct workspace_changes *out,
                              struct reins_error *err);

#endif
