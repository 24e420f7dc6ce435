/* filesystem.deny and filesystem.protect, expanded against the host before
 * the sandbox starts. A deny match outside every bound tree is simply never
 * bound (absent); one inside a bound tree is hidden by an empty, inaccessible
 * mount. Symlinks are never followed while walking; a matching symlink has
 * its target hidden too when the target is in view. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/dirs.h"
#include "audit/runtime.h"
#include "sandbox/deny_cache.h"
#include "util/glob.h"
#include "sandbox/plan_internal.h"
#include "util/cleanup.h"
#include "util/weaken.h"
#include "util/path.h"

/* A walk that needs more than this fails closed rather than starting a
 * sandbox whose deny rules were only partly applied. */
#define DENY_WALK_MAX_ENTRIES 2000000

/* Anchor a pattern: "~/x" -> HOME/x, "/x" stays, "a/b" -> WS/a/b, and a bare
 * name ("*.pem") matches at any depth of the workspace: WS/ ** /name. */
char *plan_anchor_pattern(const char *pattern, const char *workspace, const char *home,
                          bool any_depth)
{
        if (pattern[0] == '~')
                return path_expand_home(pattern, home);
        if (pattern[0] == '/')
                return strdup(pattern);
        if (any_depth && !strchr(pattern, '/')) {
                cleanup_free char *deep = path_join("**", pattern);
                return deep ? path_join(workspace, deep) : NULL;
        }
        return path_join(workspace, pattern);
}

/* reins' own state and keys (audit trails, the signing key, workspace
 * copies, running sessions) are never visible inside, whatever the policy
 * binds: an agent whose workspace holds the home directory must not read the
 * signing key or edit its own trail. The runtime directories too, wherever a
 * session of this user may have put its control socket (a policy that reads
 * /run or binds /tmp would otherwise show every session's socket, and a Unix
 * socket accepts connections through a read-only bind); the socket's peer
 * check (session/control.c) refuses sandboxed peers all the same. */
static int deny_reins_dirs(struct reins_plan *plan)
{
        if (!weaken("runtime-hide") && runtime_hidden_paths(&plan->deny_patterns) < 0)
                return -ENOMEM;
        /* resolved exactly as the audit trail and the key store resolve them */
        const char *vars[] = {"XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR"};
        const char *fallback[] = {".config", ".local/state", NULL};
        const char *home = audit_home();
        for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
                const char *base = audit_xdg_dir(vars[i]);
                cleanup_free char *from_home = NULL;
                if (!base && fallback[i] && home)
                        base = from_home = path_join(home, fallback[i]);
                if (!base)
                        continue;
                char *dir = path_join(base, "reins");
                if (!dir || strv_push_unique(&plan->deny_patterns, dir) < 0) {
                        free(dir);
                        return -ENOMEM;
                }
                free(dir);
        }
        return 0;
}

/* The state of the daemon that started the session (its signing key): an
 * agent that could read it would sign the answers to its own requests. */
int plan_deny_hide(struct reins_plan *plan, const struct reins_strv *paths, struct reins_error *err)
{
        for (size_t i = 0; i < paths->count; i++)
                if (paths->items[i][0] == '/' &&
                    strv_push_unique(&plan->deny_patterns, paths->items[i]) < 0)
                        return reins_error_set(err, ENOMEM, "out of memory");
        return 0;
}

int plan_deny_prepare(struct reins_plan *plan, const struct reins_policy *policy, const char *home,
                      struct reins_error *err)
{
        if (deny_reins_dirs(plan) < 0)
                return reins_error_set(err, ENOMEM, "out of memory");
        for (size_t i = 0; i < policy->filesystem.deny.count; i++) {
                const char *written = policy->filesystem.deny.items[i];
                if (written[0] != '/' && written[0] != '~' &&
                    strv_push(&plan->deny_relative, written) < 0)
                        return reins_error_set(err, ENOMEM, "out of memory");
                char *anchored = plan_anchor_pattern(policy->filesystem.deny.items[i],
                                                     plan->workspace, home, true);
                if (!anchored)
                        continue; /* ~ without HOME: nothing of HOME is bound either */
                if (strv_push_take(&plan->deny_patterns, anchored) < 0)
                        return reins_error_set(err, ENOMEM, "out of memory");
        }
        return 0;
}

int plan_deny_anchor_tree(struct reins_plan *plan, const char *tree)
{
        for (size_t i = 0; i < plan->deny_relative.count; i++) {
                char *anchored =
                    plan_anchor_pattern(plan->deny_relative.items[i], tree, NULL, true);
                if (!anchored || strv_push_unique(&plan->deny_patterns, anchored) < 0) {
                        free(anchored);
                        return -ENOMEM;
                }
                free(anchored);
        }
        return 0;
}

const char *plan_path_denied(const struct reins_plan *plan, const char *path)
{
        if (weaken("mounts"))
                return NULL;
        char prefix[PATH_MAX];
        size_t len = strlen(path);
        if (len >= sizeof(prefix))
                return NULL;
        for (size_t i = 0; i < plan->deny_patterns.count; i++) {
                const char *pattern = plan->deny_patterns.items[i];
                /* the path itself, then each ancestor: a denied directory
                 * denies everything below it */
                memcpy(prefix, path, len + 1);
                for (;;) {
                        if (glob_match(pattern, prefix))
                                return pattern;
                        char *slash = strrchr(prefix, '/');
                        if (!slash || slash == prefix)
                                break;
                        *slash = '\0';
                }
        }
        return NULL;
}

/* The leading components of `pattern` that hold no wildcard. */
static char *glob_literal_prefix(const char *pattern)
{
        char *out = strdup(pattern);
        if (!out)
                return NULL;
        char *wild = strpbrk(out, "*?[");
        if (!wild)
                return out;
        *wild = '\0';
        char *slash = strrchr(out, '/');
        if (slash == out)
                slash[1] = '\0';
        else if (slash)
                *slash = '\0';
        return out;
}

/* Every path below `dir` (or `dir` itself) matching one of `patterns`: one
 * pass for them all, through the deny cache when there is one. */
static int collect_below(char *const *patterns, size_t count, const char *dir,
                         const char *cache_dir, struct reins_strv *matches)
{
        struct stat st;
        if (lstat(dir, &st) < 0)
                return 0;
        for (size_t p = 0; p < count; p++)
                if (glob_match(patterns[p], dir))
                        return strv_push_unique(matches, dir); /* and not below it */
        if (!S_ISDIR(st.st_mode))
                return 0;
        return deny_cache_collect(patterns, count, dir, cache_dir, DENY_WALK_MAX_ENTRIES, matches,
                                  NULL);
}

/* Collect the paths under the bound tree `root` that match `pattern`. A
 * pattern whose literal part lies above `root` needs the whole tree walked:
 * it is added to `whole_tree` instead, so one walk serves them all. */
static int deny_collect(const char *pattern, const char *root, const char *cache_dir,
                        struct reins_strv *matches, struct reins_strv *whole_tree)
{
        cleanup_free char *literal = glob_literal_prefix(pattern);
        if (!literal)
                return -ENOMEM;
        struct stat st;
        if (glob_is_literal(pattern)) {
                if (path_is_under(pattern, root) && lstat(pattern, &st) == 0)
                        return strv_push_unique(matches, pattern);
                return 0;
        }
        if (path_is_under(root, literal)) /* the literal part covers the whole tree */
                return strv_push_unique(whole_tree, pattern);
        if (path_is_under(literal, root)) {
                char *one[] = {(char *)pattern};
                return collect_below(one, 1, literal, cache_dir, matches);
        }
        return 0;
}

/* Every pattern against one bound tree. The patterns that need the whole
 * tree are matched in one pass, through the deny cache when the plan has
 * one (deny_cache.h: one fstatat per directory instead of a walk). */
static int plan_collect_cached(char *const *patterns, size_t count, const char *root,
                               const char *cache_dir, struct reins_strv *matches)
{
        struct reins_strv whole_tree = {0};
        int r = 0;
        for (size_t p = 0; r == 0 && p < count; p++)
                r = deny_collect(patterns[p], root, cache_dir, matches, &whole_tree);
        if (r == 0 && whole_tree.count > 0)
                r = collect_below(whole_tree.items, whole_tree.count, root, cache_dir, matches);
        strv_free(&whole_tree);
        return r;
}

int plan_collect_matches(char *const *patterns, size_t count, const char *root,
                         struct reins_strv *matches)
{
        return plan_collect_cached(patterns, count, root, NULL, matches);
}

static bool plan_in_view(const struct reins_plan *plan, const char *path)
{
        for (size_t i = 0; i < plan->mount_count; i++) {
                enum mount_op_kind k = plan->mounts[i].kind;
                if ((k == MOUNT_OP_BIND_RO || k == MOUNT_OP_BIND_RW || k == MOUNT_OP_OVERLAY) &&
                    path_is_under(path, plan->mounts[i].target))
                        return true;
        }
        return false;
}

/* Add `kind` for each match: the match itself, or for a symlink the target it
 * resolves to when that target is visible inside. */
int plan_add_matches(struct reins_plan *plan, const struct reins_strv *matches,
                     enum mount_op_kind kind)
{
        struct reins_strv added = {0};
        int r = 0;
        for (size_t i = 0; r == 0 && i < matches->count; i++) {
                const char *path = matches->items[i];
                struct stat st;
                if (lstat(path, &st) < 0)
                        continue;
                cleanup_free char *real = S_ISLNK(st.st_mode) ? realpath(path, NULL) : NULL;
                const char *target = S_ISLNK(st.st_mode) ? real : path;
                if (!target || !plan_in_view(plan, target) || strv_contains(&added, target))
                        continue;
                /* A match below an already hidden directory needs nothing more. */
                bool covered = false;
                for (size_t j = 0; j < added.count; j++)
                        if (kind == MOUNT_OP_HIDE && path_is_under(target, added.items[j]))
                                covered = true;
                if (covered)
                        continue;
                r = strv_push(&added, target);
                if (r == 0)
                        r = plan_add_mount(plan, kind, NULL, target, 0);
        }
        strv_free(&added);
        return r;
}

static int compare_strings(const void *a, const void *b)
{
        return path_compare_components(*(char *const *)a, *(char *const *)b);
}

/* The matches of every bound tree, as plain data: what the background job
 * works on holds no pointer into the plan, which goes on being built. */
struct plan_deny_job {
        pthread_t thread;
        struct reins_strv patterns, roots, matches;
        char *cache_dir;
        int result;
};

static int deny_collect_roots(const struct reins_strv *patterns, const struct reins_strv *roots,
                              const char *cache_dir, struct reins_strv *matches)
{
        int r = 0;
        for (size_t i = 0; r == 0 && i < roots->count; i++)
                r = plan_collect_cached(patterns->items, patterns->count, roots->items[i],
                                        cache_dir, matches);
        return r;
}

static void *deny_job_run(void *arg)
{
        struct plan_deny_job *job = arg;
        job->result =
            deny_collect_roots(&job->patterns, &job->roots, job->cache_dir, &job->matches);
        return NULL;
}

static void deny_job_free(struct plan_deny_job *job)
{
        strv_free(&job->patterns);
        strv_free(&job->roots);
        strv_free(&job->matches);
        free(job->cache_dir);
        free(job);
}

/* The collected matches (r: how the collection ended) into HIDE ops. */
static int deny_apply(struct reins_plan *plan, struct reins_strv *matches, int r,
                      struct reins_error *err)
{
        if (r == -E2BIG)
                return reins_error_set(err, E2BIG,
                                       "filesystem.deny: more than %d entries to scan; narrow the "
                                       "workspace or the deny patterns",
                                       DENY_WALK_MAX_ENTRIES);
        if (r < 0)
                return reins_error_set(err, -r, "filesystem.deny: %s", strerror(-r));
        if (matches->count > 0) {
                /* parents first, so a hidden directory makes its children moot */
                qsort(matches->items, matches->count, sizeof(char *), compare_strings);
                r = plan_add_matches(plan, matches, MOUNT_OP_HIDE);
                if (r < 0)
                        return reins_error_set(err, -r, "out of memory");
        }
        return 0;
}

/* With a deny cache, the matches are collected by a thread of their own
 * while the rest of the start-up goes on (policy checks, keys, the trail,
 * the seccomp program), and plan_finish_deny puts them in before the
 * sandbox is spawned. Without one (unit tests), at once. */
int plan_add_deny(struct reins_plan *plan, struct reins_error *err)
{
        if (weaken("mounts"))
                return 0;
        struct reins_strv roots = {0};
        int r = 0;
        size_t bound = plan->mount_count;
        for (size_t i = 0; r == 0 && i < bound; i++) {
                const struct mount_op *op = &plan->mounts[i];
                if (!op->nested && !op->environment &&
                    (op->kind == MOUNT_OP_BIND_RO || op->kind == MOUNT_OP_BIND_RW ||
                     op->kind == MOUNT_OP_OVERLAY))
                        r = strv_push(&roots, op->target);
        }
        if (r < 0) {
                strv_free(&roots);
                return reins_error_set(err, ENOMEM, "out of memory");
        }
        plan->deny_insert_at = plan->mount_count;
        struct plan_deny_job *job = plan->deny_cache_dir ? calloc(1, sizeof(*job)) : NULL;
        if (job) {
                job->roots = roots;
                job->cache_dir = strdup(plan->deny_cache_dir);
                if (job->cache_dir && strv_copy(&job->patterns, &plan->deny_patterns) == 0 &&
                    pthread_create(&job->thread, NULL, deny_job_run, job) == 0) {
                        plan->deny_job = job;
                        return 0;
                }
                roots = job->roots; /* no thread: collected here after all */
                job->roots = (struct reins_strv){0};
                deny_job_free(job);
        }
        struct reins_strv matches = {0};
        r = deny_collect_roots(&plan->deny_patterns, &roots, plan->deny_cache_dir, &matches);
        r = deny_apply(plan, &matches, r, err);
        strv_free(&matches);
        strv_free(&roots);
        return r;
}

int plan_finish_deny(struct reins_plan *plan, struct reins_error *err)
{
        struct plan_deny_job *job = plan->deny_job;
        if (!job)
                return 0;
        pthread_join(job->thread, NULL);
        plan->deny_job = NULL;
        size_t before = plan->mount_count;
        int r = deny_apply(plan, &job->matches, job->result, err);
        deny_job_free(job);
        if (r < 0)
                return r;
        /* the HIDE ops go where a synchronous plan has them: right after
         * the binds, before the protects and pins planned since */
        size_t added = plan->mount_count - before, at = plan->deny_insert_at;
        if (added > 0 && at < before) {
                struct mount_op *moved = malloc(added * sizeof(*moved));
                if (!moved)
                        return reins_error_set(err, ENOMEM, "out of memory");
                memcpy(moved, plan->mounts + before, added * sizeof(*moved));
                memmove(plan->mounts + at + added, plan->mounts + at,
                        (before - at) * sizeof(*moved));
                memcpy(plan->mounts + at, moved, added * sizeof(*moved));
                free(moved);
        }
        r = plan_add_git_settings(plan);
        return r < 0 ? reins_error_set(err, -r, "out of memory") : 0;
}

void plan_deny_abandon(struct reins_plan *plan)
{
        if (!plan->deny_job)
                return;
        pthread_join(plan->deny_job->thread, NULL);
        deny_job_free(plan->deny_job);
        plan->deny_job = NULL;
}
