/* The mount list of the plan: system and policy binds, the workspace, the
 * private /tmp, /proc and /dev; and the Landlock rules that mirror them. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/plan_internal.h"
#include "util/cleanup.h"
#include "util/weaken.h"
#include "util/path.h"

enum bind_origin {
        BIND_FROM_POLICY, /* missing paths are skipped: presets list /lib32 and friends */
        BIND_FROM_OPTION, /* --ro/--rw: the user asked, so a missing path is an error */
        BIND_FROM_WORKSPACE,
};

static struct mount_op *plan_find_target(struct reins_plan *plan, const char *target)
{
        for (size_t i = 0; i < plan->mount_count; i++)
                if (strcmp(plan->mounts[i].target, target) == 0)
                        return &plan->mounts[i];
        return NULL;
}

/* Is `path` already inside a bind of the same kind (no extra mount needed)? */
static bool plan_covered_by(const struct reins_plan *plan, const char *path,
                            enum mount_op_kind kind)
{
        for (size_t i = 0; i < plan->mount_count; i++)
                if (plan->mounts[i].kind == kind && path_is_under(path, plan->mounts[i].target))
                        return true;
        return false;
}

/* Where a symlink on the way to a bound path must be recreated inside
 * (merged-usr: /bin -> usr/bin), add it; it is created only on the tmpfs root. */
static int plan_add_symlink_if_any(struct reins_plan *plan, const char *path)
{
        struct stat st;
        if (lstat(path, &st) < 0 || !S_ISLNK(st.st_mode))
                return 0;
        char link[PATH_MAX];
        ssize_t n = readlink(path, link, sizeof(link) - 1);
        if (n < 0)
                return 0;
        link[n] = '\0';
        if (plan_find_target(plan, path))
                return 0;
        return plan_add_mount(plan, MOUNT_OP_SYMLINK, link, path, 0);
}

/* A merged-/usr host has /bin, /lib, /lib64 … as symlinks into /usr, and
 * every ELF names its interpreter as /lib64/ld-linux….so: a policy reading
 * only /usr would run nothing. Where such a link's target is bound, the
 * link is mirrored on the tmpfs root (it grants nothing by itself). */
static int plan_add_usr_merge_links(struct reins_plan *plan)
{
        static const char *const links[] = {"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"};
        for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
                if (plan_find_target(plan, links[i]))
                        continue;
                cleanup_free char *real = realpath(links[i], NULL);
                if (!real || strcmp(real, links[i]) == 0)
                        continue; /* absent, or a real directory */
                if (!plan_covered_by(plan, real, MOUNT_OP_BIND_RO) &&
                    !plan_covered_by(plan, real, MOUNT_OP_BIND_RW))
                        continue;
                if (plan_add_symlink_if_any(plan, links[i]) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int plan_add_bind(struct reins_plan *plan, const char *written, bool writable,
                         enum bind_origin origin, struct reins_error *err)
{
        const char *what = origin == BIND_FROM_OPTION
                               ? (writable ? "--rw" : "--ro")
                               : (writable ? "filesystem.write" : "filesystem.read");
        cleanup_free char *expanded = path_expand_home(written, plan->home);
        if (!expanded) {
                if (origin == BIND_FROM_POLICY)
                        return 0; /* ~ with no HOME: nothing to bind */
                return reins_error_set(err, EINVAL, "%s %s: cannot expand ~ (HOME unset)", what,
                                       written);
        }
        cleanup_free char *absolute =
            expanded[0] == '/' ? strdup(expanded) : path_join(plan->workspace, expanded);
        if (!absolute)
                return reins_error_set(err, ENOMEM, "out of memory");
        cleanup_free char *real = realpath(absolute, NULL);
        if (!real) {
                if (origin == BIND_FROM_POLICY && errno == ENOENT)
                        return strv_push_unique(&plan->missing_paths, written) < 0
                                   ? reins_error_set(err, ENOMEM, "out of memory")
                                   : 0;
                return reins_error_errno(err, errno, "%s %s", what, written);
        }
        if (!weaken("mounts") && (strcmp(real, "/") == 0 || path_is_under(real, "/proc") ||
                                  path_is_under(real, "/dev"))) {
                if (origin == BIND_FROM_POLICY)
                        return 0;
                return reins_error_set(err, EINVAL,
                                       "%s %s: binding / or a path under /proc or /dev is not "
                                       "allowed",
                                       what, written);
        }
        /* sysfs writable: the cgroup files (cgroup.procs, freezer.state,
         * memory.limit_in_bytes) are root's, and a sandbox that is root
         * needs no capability to write what its uid owns, so it could leave
         * its limits and the risk engine's freezer. Read-only is harmless. */
        if (!weaken("mounts") && writable &&
            (strcmp(real, "/sys") == 0 || path_is_under(real, "/sys")))
                return reins_error_set(err, EINVAL,
                                       "%s %s: /sys cannot be bound writable (a writable cgroupfs "
                                       "would let the sandbox leave its limits and the freezer); "
                                       "bind it read-only (--ro, filesystem.read)",
                                       what, written);
        const char *rule = weaken("mounts") ? NULL : plan_path_denied(plan, real);
        if (rule) {
                /* Deny beats allow: a denied tree is never bound. */
                if (origin == BIND_FROM_POLICY)
                        return 0;
                return reins_error_set(err, EACCES, "%s %s: denied by filesystem.deny '%s'", what,
                                       written, rule);
        }
        enum mount_op_kind kind = writable ? MOUNT_OP_BIND_RW : MOUNT_OP_BIND_RO;
        if (origin != BIND_FROM_WORKSPACE && plan_covered_by(plan, real, kind))
                return plan_add_symlink_if_any(plan, absolute) < 0
                           ? reins_error_set(err, ENOMEM, "out of memory")
                           : 0;
        struct mount_op *existing = plan_find_target(plan, real);
        if (existing && existing->kind != MOUNT_OP_SYMLINK) {
                existing->kind = kind; /* later sources are more specific: they win */
        } else {
                int r = plan_add_mount(plan, kind, real, real, 0);
                if (r < 0)
                        return reins_error_set(err, -r, "out of memory");
        }
        if (strcmp(real, absolute) != 0 && plan_add_symlink_if_any(plan, absolute) < 0)
                return reins_error_set(err, ENOMEM, "out of memory");
        /* relative deny patterns (such as .env or *.pem at any depth) cover
         * what the user granted, not the system's files: hiding the CA
         * certificates under /etc/ssl would break TLS */
        if ((origin == BIND_FROM_OPTION || (origin == BIND_FROM_POLICY && writable)) &&
            plan_deny_anchor_tree(plan, real) < 0)
                return reins_error_set(err, ENOMEM, "out of memory");
        return 0;
}

static bool plan_binds_host_tmp(const struct reins_plan *plan)
{
        for (size_t i = 0; i < plan->mount_count; i++)
                if (strcmp(plan->mounts[i].target, "/tmp") == 0)
                        return true;
        return false;
}

int plan_add_system_mounts(struct reins_plan *plan, const struct reins_policy *policy,
                           const struct plan_options *options, bool readonly,
                           struct reins_error *err)
{
        int r;
        for (size_t i = 0; i < policy->filesystem.read.count; i++)
                if (!plan_environment_covers(options->environment,
                                             policy->filesystem.read.items[i]) &&
                    (r = plan_add_bind(plan, policy->filesystem.read.items[i], false,
                                       BIND_FROM_POLICY, err)) < 0)
                        return r;
        for (size_t i = 0; i < policy->filesystem.write.count; i++)
                if ((r = plan_add_bind(plan, policy->filesystem.write.items[i], true,
                                       BIND_FROM_POLICY, err)) < 0)
                        return r;
        for (size_t i = 0; i < options->extra_ro.count; i++)
                if ((r = plan_add_bind(plan, options->extra_ro.items[i], false, BIND_FROM_OPTION,
                                       err)) < 0)
                        return r;
        for (size_t i = 0; i < options->extra_rw.count; i++)
                if ((r = plan_add_bind(plan, options->extra_rw.items[i], true, BIND_FROM_OPTION,
                                       err)) < 0)
                        return r;
        /* an environment brings its own /bin -> usr/bin */
        if (!options->environment && plan_add_usr_merge_links(plan) < 0)
                return reins_error_set(err, ENOMEM, "out of memory");
        const char *rule = plan_path_denied(plan, plan->workspace);
        if (rule)
                return reins_error_set(err, EACCES,
                                       "workspace %s is denied by filesystem.deny '%s'",
                                       plan->workspace, rule);
        if (plan->overlay)
                r = plan_add_mount(plan, MOUNT_OP_OVERLAY, plan->workspace, plan->workspace,
                                   weaken("limits") ? 0 : plan->limits.workspace_size_bytes);
        else
                r = plan_add_bind(plan, plan->workspace, !readonly, BIND_FROM_WORKSPACE, err);
        if (r < 0)
                return err && err->code ? r : reins_error_set(err, -r, "out of memory");
        /* /tmp is a private tmpfs unless the policy lists the host's /tmp;
         * then /tmp and /dev/shm share one tmpfs, and one size */
        uint64_t scratch = weaken("limits") ? 0 : plan_scratch_size(&plan->limits, plan->overlay);
        bool private_tmp = !plan_binds_host_tmp(plan);
        if (private_tmp) {
                if ((r = plan_add_mount(plan, MOUNT_OP_TMPFS, NULL, "/tmp", scratch)) < 0)
                        return reins_error_set(err, -r, "out of memory");
                plan->mounts[plan->mount_count - 1].shared_scratch = true;
        }
        if ((r = plan_add_mount(plan, MOUNT_OP_PROC, NULL, "/proc", 0)) < 0 ||
            (r = plan_add_mount(plan, MOUNT_OP_DEV, NULL, "/dev", scratch)) < 0)
                return reins_error_set(err, -r, "out of memory");
        plan->mounts[plan->mount_count - 1].shared_scratch = private_tmp;
        return 0;
}

/* tmpfs pages belong to nobody's process: without a memory cgroup nothing
 * counts them (an unprivileged sandbox wrote 2 GiB to a default-sized
 * /dev/shm under a 256 MiB limit), and with one, a tmpfs that can fill the
 * whole limit ends in the OOM killer rather than ENOSPC. So /tmp and /dev/shm
 * together get limits.tmp_size, and never more than half of what the memory
 * limit leaves beside the capped workspace copy (a tmpfs too): the other
 * half is the processes'. 0: no cap at all. */
uint64_t plan_scratch_size(const struct policy_limits *limits, bool overlay)
{
        uint64_t size = limits->tmp_size_bytes, memory = limits->memory_bytes;
        if (memory == 0)
                return size;
        uint64_t copy = overlay ? limits->workspace_size_bytes : 0;
        uint64_t room = memory > copy ? (memory - copy) / 2 : 0;
        if (room < 1024 * 1024)
                room = 1024 * 1024; /* plan_check_workspace_size keeps copy < memory */
        return size == 0 || size > room ? room : size;
}

static enum landlock_access plan_landlock_access(const struct mount_op *op)
{
        switch (op->kind) {
        case MOUNT_OP_BIND_RO:
                return LANDLOCK_RULE_READ_EXEC;
        case MOUNT_OP_DEV:
                return LANDLOCK_RULE_DEVICE;
        case MOUNT_OP_OVERLAY:
                return LANDLOCK_RULE_READ_WRITE;
        default:
                return LANDLOCK_RULE_READ_WRITE;
        }
}

int plan_add_landlock_rules(struct reins_plan *plan, struct reins_error *err)
{
        /* Listing the tmpfs root (and, inherited, every directory) is harmless:
         * the mount tree already holds only what the plan grants. */
        int r = plan_add_landlock(plan, "/", LANDLOCK_RULE_LIST_DIR);
        for (size_t i = 0; r == 0 && i < plan->mount_count; i++) {
                const struct mount_op *op = &plan->mounts[i];
                /* inside the workspace: its rule covers them (pins and the
                 * .git overlay are as writable as the workspace; protects
                 * are read-only mounts) */
                if (op->kind == MOUNT_OP_SYMLINK || op->kind == MOUNT_OP_FILE ||
                    op->kind == MOUNT_OP_HIDE || op->kind == MOUNT_OP_PROTECT ||
                    op->kind == MOUNT_OP_PIN || op->kind == MOUNT_OP_GITDIR || op->nested)
                        continue;
                r = plan_add_landlock(plan, op->target, plan_landlock_access(op));
                if (r == 0 && op->kind == MOUNT_OP_DEV)
                        r = plan_add_landlock(plan, "/dev/shm", LANDLOCK_RULE_READ_WRITE);
        }
        return r < 0 ? reins_error_set(err, -r, "out of memory") : 0;
}
