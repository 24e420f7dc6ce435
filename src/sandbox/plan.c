/* Policy + command line -> plan. Runs in the supervisor, before clone: every
 * host path is resolved here (realpath, lstat) and the child re-checks each
 * one without following symlinks when it mounts, so a swap in between fails
 * closed instead of binding something else. */
#include "sandbox/plan.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/parse_units.h"
#include "sandbox/plan_internal.h"
#include "util/cleanup.h"
#include "util/path.h"

int plan_add_mount(struct reins_plan *plan, enum mount_op_kind kind, const char *source,
                   const char *target, uint64_t size_bytes)
{
        struct mount_op *ops = realloc(plan->mounts, (plan->mount_count + 1) * sizeof(*ops));
        if (!ops)
                return -ENOMEM;
        plan->mounts = ops;
        struct mount_op *op = &ops[plan->mount_count];
        memset(op, 0, sizeof(*op));
        op->kind = kind;
        op->size_bytes = size_bytes;
        op->source = source ? strdup(source) : NULL;
        op->target = strdup(target);
        if ((source && !op->source) || !op->target) {
                free(op->source);
                free(op->target);
                return -ENOMEM;
        }
        plan->mount_count++;
        return 0;
}

int plan_add_landlock(struct reins_plan *plan, const char *path, enum landlock_access access)
{
        struct landlock_rule *rules =
            realloc(plan->landlock, (plan->landlock_count + 1) * sizeof(*rules));
        if (!rules)
                return -ENOMEM;
        plan->landlock = rules;
        rules[plan->landlock_count].path = strdup(path);
        rules[plan->landlock_count].access = access;
        if (!rules[plan->landlock_count].path)
                return -ENOMEM;
        plan->landlock_count++;
        return 0;
}

static int plan_resolve_workspace(struct reins_plan *plan, const struct plan_options *options,
                                  struct reins_error *err)
{
        char cwd[PATH_MAX];
        const char *wanted = options->workspace;
        if (!wanted) {
                if (!getcwd(cwd, sizeof(cwd)))
                        return reins_error_errno(err, errno, "cannot read the current directory");
                wanted = cwd;
        }
        char *real = realpath(wanted, NULL);
        if (!real)
                return reins_error_errno(err, errno, "workspace %s", wanted);
        struct stat st;
        if (stat(real, &st) < 0 || !S_ISDIR(st.st_mode)) {
                free(real);
                return reins_error_set(err, ENOTDIR, "workspace %s is not a directory", wanted);
        }
        /* Binding / (or a pseudo filesystem) read-write would hand over the host. */
        if (strcmp(real, "/") == 0 || path_is_under(real, "/proc") || path_is_under(real, "/dev") ||
            path_is_under(real, "/sys")) {
                free(real);
                return reins_error_set(
                    err, EINVAL, "workspace %s is not allowed: choose a project directory", wanted);
        }
        plan->workspace = real;
        plan->cwd = strdup(real);
        return plan->cwd ? 0 : -ENOMEM;
}

static int plan_resolve_mode(const struct reins_policy *policy, const struct plan_options *options,
                             bool *readonly, bool *overlay, struct reins_error *err)
{
        *readonly = policy->filesystem.workspace_mode == POLICY_WORKSPACE_READONLY;
        *overlay = policy->filesystem.workspace_mode == POLICY_WORKSPACE_OVERLAY;
        if (!options->workspace_mode)
                return 0;
        *readonly = *overlay = false;
        if (strcmp(options->workspace_mode, "readonly") == 0)
                *readonly = true;
        else if (strcmp(options->workspace_mode, "overlay") == 0)
                *overlay = true;
        else if (strcmp(options->workspace_mode, "direct") != 0)
                return reins_error_set(err, EINVAL,
                                       "--workspace-mode '%s': expected direct, readonly or "
                                       "overlay",
                                       options->workspace_mode);
        return 0;
}

static int plan_limit_override(const char *text, const char *flag,
                               int (*parse)(const char *, uint64_t *), uint64_t *value,
                               struct reins_error *err)
{
        if (!text)
                return 0;
        if (parse(text, value) < 0)
                return reins_error_set(err, EINVAL, "%s '%s': not a valid value", flag, text);
        return 0;
}

static int plan_resolve_limits(struct reins_plan *plan, const struct reins_policy *policy,
                               const struct plan_options *options, struct reins_error *err)
{
        plan->limits = policy->limits;
        int r = plan_limit_override(options->memory, "--memory", parse_size,
                                    &plan->limits.memory_bytes, err);
        if (r == 0)
                r = plan_limit_override(options->pids, "--pids", parse_count, &plan->limits.pids,
                                        err);
        if (r == 0)
                r = plan_limit_override(options->cpus, "--cpus", parse_cpus_milli,
                                        &plan->limits.cpus_milli, err);
        if (r == 0)
                r = plan_limit_override(options->timeout, "--timeout", parse_duration_ms,
                                        &plan->limits.wall_time_ms, err);
        if (r < 0)
                return r;
        if (options->memory && plan->limits.memory_bytes != 0 &&
            plan->limits.memory_bytes < POLICY_MEMORY_MINIMUM)
                return reins_error_set(err, EINVAL,
                                       "--memory '%s': below the %llu MiB a sandbox needs (0 "
                                       "means no limit; sizes without a unit are bytes)",
                                       options->memory,
                                       (unsigned long long)(POLICY_MEMORY_MINIMUM >> 20));
        plan->cgroup.memory_bytes = plan->limits.memory_bytes;
        plan->cgroup.pids = plan->limits.pids;
        plan->cgroup.cpus_milli = plan->limits.cpus_milli;
        /* the risk engine's top tier freezes the sandbox; with the engine
         * off nothing does, and no freezer cgroup is made */
        plan->cgroup.freezer = policy->risk.engine == POLICY_RISK_ENGINE_ON;
        /* a cpu limit at or above what the machine has limits nothing: no
         * cpu cgroup (one hierarchy less to create per sandbox) */
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        if (online > 0 && plan->cgroup.cpus_milli >= (uint64_t)online * 1000)
                plan->cgroup.cpus_milli = 0;
        return 0;
}

/* limits.workspace_size caps an overlay session's copy, which lives in a
 * tmpfs of that size while the session runs (the agent gets ENOSPC, the
 * host's disk never fills). A direct workspace is the host's own directory
 * and cannot be capped: refuse rather than pretend. The tmpfs's pages count
 * against the memory limit, so a cap at or above it would end in the OOM
 * killer instead of ENOSPC. */
static int plan_check_workspace_size(const struct reins_plan *plan, struct reins_error *err)
{
        uint64_t size = plan->limits.workspace_size_bytes, memory = plan->limits.memory_bytes;
        if (size == 0)
                return 0;
        if (!plan->overlay)
                return reins_error_set(
                    err, EINVAL,
                    "limits.workspace_size: only the copy of an overlay "
                    "session can be capped, and this workspace is used "
                    "directly (use --workspace-mode overlay, or drop the limit)");
        if (memory > 0 && size >= memory)
                return reins_error_set(err, EINVAL,
                                       "limits.workspace_size (%llu MiB) must be below "
                                       "limits.memory (%llu MiB): the session's copy is held in "
                                       "memory while it runs",
                                       (unsigned long long)(size >> 20),
                                       (unsigned long long)(memory >> 20));
        return 0;
}

static int plan_compare_mounts(const void *a, const void *b)
{
        const struct mount_op *x = a, *y = b;
        return path_compare_components(x->target, y->target);
}

/* Binds, tmpfs, proc and dev are sorted so that a directory is mounted before
 * anything below it (a workspace under /tmp lands on top of the private /tmp).
 * Hides and protects are appended after, in plan_add_deny/protect. */
static void plan_sort_mounts(struct reins_plan *plan)
{
        qsort(plan->mounts, plan->mount_count, sizeof(*plan->mounts), plan_compare_mounts);
}

int plan_build(const struct reins_policy *policy, const struct plan_options *options,
               struct reins_plan **out, struct reins_error *err)
{
        struct reins_plan *plan = calloc(1, sizeof(*plan));
        if (!plan)
                return reins_error_set(err, ENOMEM, "out of memory");
        bool readonly = false;
        int r;

        plan->argv = options->argv;
        plan->home = options->home;
        plan->deny_cache_dir = options->deny_cache_dir;
        plan->spare_dir = options->spare_dir;
        plan->use_pty = options->stdin_is_tty;
        plan->strict = options->strict;
        plan->allow_degraded = options->allow_degraded;
        plan->verbosity = options->verbosity;
        plan->hostname = strdup("reins");
        plan->policy_name = strdup(policy->name ? policy->name : "unnamed");
        plan->agent = policy->agent ? strdup(policy->agent) : NULL;
        if (!plan->hostname || !plan->policy_name) {
                r = reins_error_set(err, ENOMEM, "out of memory");
                goto fail;
        }
        if ((r = policy_sha256_hex(policy, plan->policy_sha256)) < 0) {
                reins_error_errno(err, r, "hashing the policy");
                goto fail;
        }
        if (options->root) {
                /* a container's own root (reins oci): no host binds */
                if ((r = plan_resolve_limits(plan, policy, options, err)) < 0 ||
                    (r = plan_build_root(plan, policy, options, err)) < 0)
                        goto fail;
                *out = plan;
                return 0;
        }
        if ((r = plan_resolve_workspace(plan, options, err)) < 0 ||
            (r = plan_resolve_mode(policy, options, &readonly, &plan->overlay, err)) < 0 ||
            (r = plan_resolve_limits(plan, policy, options, err)) < 0 ||
            (r = plan_check_workspace_size(plan, err)) < 0 ||
            (r = plan_deny_prepare(plan, policy, options->home, err)) < 0 ||
            (r = plan_deny_hide(plan, &options->hide, err)) < 0 ||
            (r = plan_add_system_mounts(plan, policy, options, readonly, err)) < 0 ||
            (options->environment &&
             (r = plan_add_environment(plan, options->environment, err)) < 0))
                goto fail;
        plan->workspace_readonly = readonly;
        if ((r = plan_limit_writes(plan, &options->write_limit, err)) < 0 ||
            (r = plan_add_canaries(plan, &options->canaries, err)) < 0 ||
            (r = plan_add_caches(plan, policy, err)) < 0 ||
            (!readonly && !plan->overlay && (r = plan_add_gitdir(plan, err)) < 0))
                goto fail;
        plan_sort_mounts(plan);
        if ((options->environment && (r = plan_environment_deny(plan, policy, err)) < 0) ||
            (r = plan_add_deny(plan, err)) < 0 ||
            (r = plan_add_protect(plan, policy, readonly || plan->overlay, err)) < 0 ||
            (r = plan_add_landlock_rules(plan, err)) < 0 ||
            (r = plan_build_env(plan, policy, options, err)) < 0 ||
            (!plan->deny_job && (r = plan_add_git_settings(plan)) < 0) ||
            (r = plan_add_network(plan, policy, options, err)) < 0 ||
            (r = plan_add_credentials(plan, &options->credentials, err)) < 0 ||
            (r = strv_copy(&plan->syscall_allow, &policy->syscalls.allow)) < 0 ||
            (r = strv_copy(&plan->syscall_deny, &policy->syscalls.deny)) < 0)
                goto fail;
        *out = plan;
        return 0;
fail:
        if (err && err->code == 0)
                reins_error_set(err, -r, "building the sandbox plan: %s", strerror(-r));
        plan_remove_placeholders(plan);
        plan_free(plan);
        return r;
}

int plan_set_layers(struct reins_plan *plan, enum mount_op_kind kind, const char *upper,
                    const char *work)
{
        for (size_t i = 0; i < plan->mount_count; i++) {
                struct mount_op *op = &plan->mounts[i];
                /* an environment's overlays have their own layers */
                if (op->kind != kind || op->environment)
                        continue;
                free(op->upper);
                free(op->work);
                op->upper = strdup(upper);
                op->work = strdup(work);
                return op->upper && op->work ? 0 : -ENOMEM;
        }
        return -ENOENT;
}

int plan_set_overlay(struct reins_plan *plan, const char *upper, const char *work)
{
        return plan_set_layers(plan, MOUNT_OP_OVERLAY, upper, work);
}

void plan_free(struct reins_plan *plan)
{
        if (!plan)
                return;
        plan_deny_abandon(plan);
        for (size_t i = 0; i < plan->mount_count; i++) {
                free(plan->mounts[i].source);
                free(plan->mounts[i].target);
                free(plan->mounts[i].upper);
                free(plan->mounts[i].work);
        }
        free(plan->mounts);
        for (size_t i = 0; i < plan->landlock_count; i++)
                free(plan->landlock[i].path);
        free(plan->landlock);
        strv_free(&plan->env);
        strv_free(&plan->argv_owned);
        strv_free(&plan->env_owned);
        strv_free(&plan->syscall_allow);
        strv_free(&plan->syscall_deny);
        strv_free(&plan->deny_patterns);
        strv_free(&plan->missing_paths);
        strv_free(&plan->deny_relative);
        strv_free(&plan->net_allow);
        strv_free(&plan->net_deny);
        strv_free(&plan->net_ask);
        strv_free(&plan->net_hosts);
        strv_free(&plan->placeholders);
        free(plan->gitdir);
        free(plan->workspace);
        free(plan->cwd);
        free(plan->hostname);
        free(plan->policy_name);
        free(plan->agent);
        free(plan);
}
