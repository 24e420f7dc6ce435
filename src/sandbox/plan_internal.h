/* Steps of plan_build, one file each (plan_mounts.c, plan_deny.c, plan_env.c). */
#ifndef REINS_SANDBOX_PLAN_INTERNAL_H
#define REINS_SANDBOX_PLAN_INTERNAL_H

#include <stdbool.h>

#include "sandbox/plan.h"

/* Point the overlay op of `kind` (the workspace's, .git's) at its upper and
 * work directories; -ENOENT when the plan has none. */
int plan_set_layers(struct reins_plan *plan, enum mount_op_kind kind, const char *upper,
                    const char *work);
int plan_add_landlock(struct reins_plan *plan, const char *path, enum landlock_access access);
/* Canary files at their home paths (plan_canary.c); before the sort. */
int plan_add_credentials(struct reins_plan *plan, const struct plan_credentials *credentials,
                         struct reins_error *err);
int plan_add_canaries(struct reins_plan *plan, const struct plan_canaries *canaries,
                      struct reins_error *err);
/* The token's writable paths (plan_writable.c); before the mounts are sorted. */
int plan_limit_writes(struct reins_plan *plan, const struct plan_write_limit *limit,
                      struct reins_error *err);

/* plan_deny.c */
/* options->hide: hidden like reins' own directories. */
int plan_deny_hide(struct reins_plan *plan, const struct reins_strv *paths,
                   struct reins_error *err);
int plan_deny_prepare(struct reins_plan *plan, const struct reins_policy *policy, const char *home,
                      struct reins_error *err);
/* Apply the relative deny patterns below `tree` too (a user-granted bind). */
int plan_deny_anchor_tree(struct reins_plan *plan, const char *tree);
/* The deny pattern that covers `path` or one of its ancestors, or NULL. */
const char *plan_path_denied(const struct reins_plan *plan, const char *path);
/* With plan->deny_cache_dir, the matches are collected in the background
 * (plan_finish_deny puts them in). */
int plan_add_deny(struct reins_plan *plan, struct reins_error *err);
/* Wait for a background collection that will not be used (plan_free). */
void plan_deny_abandon(struct reins_plan *plan);
/* The workspace-relative `pattern` anchored ("a/b" -> WS/a/b); any_depth: a
 * bare name matches at any depth. */
char *plan_anchor_pattern(const char *pattern, const char *workspace, const char *home,
                          bool any_depth);
/* Paths below the bound tree `root` matching one of `patterns` (walks only
 * where a pattern needs it). */
int plan_collect_matches(char *const *patterns, size_t count, const char *root,
                         struct reins_strv *matches);
/* `kind` ops for each match (a symlink's in-view target instead). */
int plan_add_matches(struct reins_plan *plan, const struct reins_strv *matches,
                     enum mount_op_kind kind);

/* plan_protect.c */
/* Before the mounts are sorted: the .git overlay (direct mode). */
int plan_add_gitdir(struct reins_plan *plan, struct reins_error *err);
/* After plan_add_deny: protected paths read-only, their ancestors pinned. */
int plan_add_protect(struct reins_plan *plan, const struct reins_policy *policy, bool readonly,
                     struct reins_error *err);

/* plan_root.c: the plan of a container's own root (options->root) */
int plan_build_root(struct reins_plan *plan, const struct reins_policy *policy,
                    const struct plan_options *options, struct reins_error *err);

/* plan_environment.c */
/* Is this policy read of a system path left to the environment? */
bool plan_environment_covers(const struct plan_environment *env, const char *path);
/* Before the sort: the environment's binds or overlays, symlinks, accounts. */
int plan_add_environment(struct reins_plan *plan, const struct plan_environment *env,
                         struct reins_error *err);
/* After the sort: the policy's absolute deny paths, hidden inside it. */
int plan_environment_deny(struct reins_plan *plan, const struct reins_policy *policy,
                          struct reins_error *err);

/* plan_mounts.c */
int plan_add_system_mounts(struct reins_plan *plan, const struct reins_policy *policy,
                           const struct plan_options *options, bool readonly,
                           struct reins_error *err);
int plan_add_landlock_rules(struct reins_plan *plan, struct reins_error *err);

/* plan_network.c (after plan_build_env: it adds the proxy variables) */
int plan_add_network(struct reins_plan *plan, const struct reins_policy *policy,
                     const struct plan_options *options, struct reins_error *err);

/* plan_env.c */
int plan_env_put(struct reins_plan *plan, const char *entry); /* NAME=VALUE, replacing */
/* NAME=VALUE of `name` in a NULL-terminated list, or NULL */
const char *plan_env_lookup(char **environ_list, const char *name);
/* plan_cache.c: filesystem.cache, per-project directories bound read-write */
int plan_add_caches(struct reins_plan *plan, const struct reins_policy *policy,
                    struct reins_error *err);
/* plan_git.c: git inside the sandbox, given the files hidden in the workspace */
int plan_add_git_settings(struct reins_plan *plan);
int plan_build_env(struct reins_plan *plan, const struct reins_policy *policy,
                   const struct plan_options *options, struct reins_error *err);

#endif
