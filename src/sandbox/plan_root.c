/* The plan of a container's own root (reins oci): the sandbox's root is
 * the bundle's rootfs instead of a tmpfs of host binds, the container's
 * mounts come in the order its config.json lists them, and the policy is
 * laid over them, the stricter side winning:
 *
 *   - a bind of a host path the policy denies (or reins' own state, /,
 *     /proc, /dev, a writable /sys) is refused: the image author writes
 *     config.json and must not reach what `reins run` would hide;
 *   - what the policy denies below a bound host tree is hidden in it, as
 *     `reins run` hides it below its binds;
 *   - the policy's absolute deny paths name paths inside the container too
 *     (a rootfs holds its own /etc/shadow and secrets): hidden there;
 *   - network.mode host is refused: a container never shares the host's
 *     network through reins (proxy and none get a namespace of their own).
 *
 * Like plan.c this runs in the supervisor before clone; the child re-opens
 * every path without following symlinks when it mounts. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sandbox/plan_internal.h"
#include "util/cleanup.h"
#include "util/path.h"
#include "util/weaken.h"

static bool plan_root_has_glob(const char *pattern)
{
        return strpbrk(pattern, "*?[") != NULL;
}

/* A host path config.json asks to bind: refused where `reins run` refuses
 * it, and where the policy denies it. */
static int plan_root_check_source(const struct reins_plan *plan, size_t index, const char *source,
                                  bool writable, char **real_out, struct reins_error *err)
{
        char *real = realpath(source, NULL);
        if (!real)
                return reins_error_errno(err, errno, "config.json: mounts[%zu].source %s", index,
                                         source);
        *real_out = real;
        if (weaken("mounts"))
                return 0;
        if (strcmp(real, "/") == 0 || path_is_under(real, "/proc") || path_is_under(real, "/dev"))
                return reins_error_set(err, EINVAL,
                                       "config.json: mounts[%zu].source %s: binding / or a path "
                                       "under /proc or /dev is not allowed",
                                       index, source);
        /* a writable cgroupfs or /sys would let the container leave its
         * limits and the risk engine's freezer (see plan_mounts.c) */
        if (writable && path_is_under(real, "/sys"))
                return reins_error_set(err, EINVAL,
                                       "config.json: mounts[%zu].source %s: /sys cannot be bound "
                                       "writable",
                                       index, source);
        const char *rule = plan_path_denied(plan, real);
        if (rule)
                return reins_error_set(err, EACCES,
                                       "config.json: mounts[%zu].source %s: denied by the policy's "
                                       "filesystem.deny '%s'",
                                       index, source, rule);
        return 0;
}

/* What the policy denies below a bound host tree is hidden at its place
 * in the container. */
static int plan_root_hide_below(struct reins_plan *plan, const char *source, const char *target)
{
        if (weaken("mounts"))
                return 0;
        struct reins_strv matches = {0};
        int r = plan_collect_matches(plan->deny_patterns.items, plan->deny_patterns.count, source,
                                     &matches);
        size_t source_len = strlen(source);
        for (size_t i = 0; r == 0 && i < matches.count; i++) {
                const char *below = matches.items[i] + source_len;
                cleanup_free char *inside =
                    *below ? path_join(target, below[0] == '/' ? below + 1 : below) : NULL;
                if (*below && !inside)
                        r = -ENOMEM;
                else
                        r = plan_add_mount(plan, MOUNT_OP_HIDE, NULL, *below ? inside : target, 0);
        }
        strv_free(&matches);
        return r;
}

static int plan_root_add_mounts(struct reins_plan *plan, const struct plan_root *root,
                                struct reins_error *err)
{
        for (size_t i = 0; i < root->mount_count; i++) {
                const struct plan_root_mount *m = &root->mounts[i];
                int r;
                if (m->kind == MOUNT_OP_BIND_RO || m->kind == MOUNT_OP_BIND_RW) {
                        cleanup_free char *real = NULL;
                        if ((r = plan_root_check_source(plan, m->index, m->source,
                                                        m->kind == MOUNT_OP_BIND_RW, &real, err)) <
                            0)
                                return r;
                        if ((r = plan_add_mount(plan, m->kind, real, m->target, 0)) < 0)
                                return reins_error_set(err, -r, "out of memory");
                        plan->mounts[plan->mount_count - 1].noexec = m->noexec;
                        if ((r = plan_root_hide_below(plan, real, m->target)) < 0)
                                return reins_error_errno(err, -r, "config.json: mounts[%zu]",
                                                         m->index);
                        continue;
                }
                if (m->kind != MOUNT_OP_TMPFS && m->kind != MOUNT_OP_PROC &&
                    m->kind != MOUNT_OP_DEV)
                        return reins_error_set(err, EINVAL, "config.json: mounts[%zu]: unsupported",
                                               m->index);
                uint64_t size = m->size_bytes;
                /* the policy's tmp_size caps every tmpfs: its pages are memory */
                if (m->kind == MOUNT_OP_TMPFS && !weaken("limits") &&
                    plan->limits.tmp_size_bytes > 0 &&
                    (size == 0 || size > plan->limits.tmp_size_bytes))
                        size = plan->limits.tmp_size_bytes;
                if ((r = plan_add_mount(plan, m->kind, m->source, m->target, size)) < 0)
                        return reins_error_set(err, -r, "out of memory");
                plan->mounts[plan->mount_count - 1].noexec = m->noexec;
        }
        return 0;
}

/* The policy's absolute deny paths, taken as paths inside the container:
 * literal ones hidden where they are, globs matched in the rootfs. */
static int plan_root_deny_inside(struct reins_plan *plan, const struct reins_policy *policy)
{
        if (weaken("mounts"))
                return 0;
        const char *dir = plan->root->dir;
        size_t dir_len = strlen(dir);
        int r = 0;
        for (size_t i = 0; r == 0 && i < policy->filesystem.deny.count; i++) {
                const char *pattern = policy->filesystem.deny.items[i];
                if (pattern[0] != '/')
                        continue; /* ~ and workspace-relative ones: no such place here */
                if (!plan_root_has_glob(pattern)) {
                        r = plan_add_mount(plan, MOUNT_OP_HIDE, NULL, pattern, 0);
                        continue;
                }
                cleanup_free char *anchored = path_join(dir, pattern + 1);
                if (!anchored)
                        return -ENOMEM;
                struct reins_strv matches = {0};
                char *patterns[] = {anchored};
                r = plan_collect_matches(patterns, 1, dir, &matches);
                for (size_t j = 0; r == 0 && j < matches.count; j++)
                        if (strlen(matches.items[j]) > dir_len)
                                r = plan_add_mount(plan, MOUNT_OP_HIDE, NULL,
                                                   matches.items[j] + dir_len, 0);
                strv_free(&matches);
        }
        return r;
}

int plan_build_root(struct reins_plan *plan, const struct reins_policy *policy,
                    const struct plan_options *options, struct reins_error *err)
{
        const struct plan_root *root = options->root;
        struct stat st;
        if (!root->dir || root->dir[0] != '/' || strcmp(root->dir, "/") == 0 ||
            stat(root->dir, &st) < 0 || !S_ISDIR(st.st_mode))
                return reins_error_set(err, EINVAL, "config.json: root.path %s: not a directory",
                                       root->dir ? root->dir : "(none)");
        plan->root = root;
        /* the rootfs stands where the workspace would: listed by reins ps,
         * never bound, never scanned for changes (read-only from reins'
         * side: the container writes its own root) */
        plan->workspace = strdup(root->dir);
        plan->cwd = strdup(root->cwd && root->cwd[0] == '/' ? root->cwd : "/");
        plan->workspace_readonly = true;
        if (root->hostname) {
                free(plan->hostname);
                plan->hostname = strdup(root->hostname);
        }
        if (!plan->workspace || !plan->cwd || !plan->hostname)
                return reins_error_set(err, ENOMEM, "out of memory");
        /* config.json's resources narrow the policy's limits, never widen them */
        if (root->memory_bytes &&
            (plan->limits.memory_bytes == 0 || root->memory_bytes < plan->limits.memory_bytes))
                plan->limits.memory_bytes = plan->cgroup.memory_bytes = root->memory_bytes;
        if (root->pids && (plan->limits.pids == 0 || root->pids < plan->limits.pids))
                plan->limits.pids = plan->cgroup.pids = root->pids;
        if (root->cpus_milli &&
            (plan->limits.cpus_milli == 0 || root->cpus_milli <= plan->limits.cpus_milli)) {
                plan->limits.cpus_milli = plan->cgroup.cpus_milli = root->cpus_milli;
                plan->cgroup.cpu_quota_us = root->cpu_quota_us;
                plan->cgroup.cpu_period_us = root->cpu_period_us;
        }
        plan->cgroup.cpu_shares = root->cpu_shares;
        plan->cgroup.cpuset_cpus = root->cpuset_cpus;
        plan->cgroup.cpuset_mems = root->cpuset_mems;
        plan->cgroup.path = root->cgroups_path;
        int r;
        /* host-side deny patterns, for the binds: the policy's, anchored as
         * `reins run` anchors them, and reins' own state */
        if ((r = plan_deny_prepare(plan, policy, options->home, err)) < 0 ||
            (r = plan_deny_hide(plan, &options->hide, err)) < 0 ||
            (r = plan_root_add_mounts(plan, root, err)) < 0)
                return r;
        for (size_t i = 0; r == 0 && i < root->masked_count; i++)
                r = plan_add_mount(plan, MOUNT_OP_HIDE, NULL, root->masked[i], 0);
        for (size_t i = 0; r == 0 && i < root->readonly_count; i++)
                r = plan_add_mount(plan, MOUNT_OP_PROTECT, NULL, root->readonly_paths[i], 0);
        if (r == 0)
                r = plan_root_deny_inside(plan, policy);
        if (r < 0)
                return reins_error_errno(err, -r, "planning the container's root");
        /* Landlock: the root as writable as config.json made it, then each
         * mount as plan_add_landlock_rules gives it */
        r = plan_add_landlock(plan, "/",
                              root->readonly ? LANDLOCK_RULE_READ_EXEC : LANDLOCK_RULE_READ_WRITE);
        if (r < 0)
                return reins_error_set(err, -r, "out of memory");
        if ((r = plan_add_landlock_rules(plan, err)) < 0 ||
            (r = plan_build_env(plan, policy, options, err)) < 0)
                return r;
        if (policy->network.mode == POLICY_NETWORK_HOST ||
            (options->net && strcmp(options->net, "host") == 0))
                return reins_error_set(err, EINVAL,
                                       "network.mode host: a container never shares the host's "
                                       "network through reins (use none, or proxy: the "
                                       "container's egress then goes through reins' proxy only)");
        if ((r = plan_add_network(plan, policy, options, err)) < 0)
                return r;
        if ((r = strv_copy(&plan->syscall_allow, &policy->syscalls.allow)) < 0 ||
            (r = strv_copy(&plan->syscall_deny, &policy->syscalls.deny)) < 0)
                return reins_error_set(err, -r, "out of memory");
        return 0;
}
