/* A declared environment as the sandbox's system root (src/env/ builds and
 * caches it): instead of the host's /usr, /etc, /bin ..., the environment's
 * own top-level directories are bound read-only at their places (overlays
 * with a private upper layer for `writable: session`), its top-level
 * symlinks (merged /usr) recreated on the tmpfs root. The rest of the plan
 * is reins run's: workspace, private /tmp, /proc, /dev, caches and write
 * paths, deny, protect, Landlock and seccomp.
 *
 * The host's system paths a policy reads (/usr, /etc/ssl ...) are left out:
 * mixing the host's libraries into another distribution's root would run
 * neither. A policy's absolute deny paths name paths inside the
 * environment too (an image holds its own /etc/shadow or keys): hidden
 * there, as plan_root.c does for a container's rootfs. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/plan_internal.h"
#include "util/cleanup.h"
#include "util/path.h"
#include "util/weaken.h"

bool plan_environment_uses(const char *name)
{
        static const char *const skipped[] = {"dev",  "proc",       "sys", "tmp",   "run",
                                              "home", "root",       "mnt", "media", "boot",
                                              "srv",  "lost+found", NULL};
        if (name[0] == '.' || name[0] == '\0')
                return false;
        for (size_t i = 0; skipped[i]; i++)
                if (strcmp(name, skipped[i]) == 0)
                        return false;
        return true;
}

/* The host's system trees: never mixed into an environment's root. */
static bool plan_is_system_top(const char *name, size_t len)
{
        static const char *const system[] = {"usr",   "etc",    "bin", "sbin", "lib", "lib32",
                                             "lib64", "libx32", "opt", "var",  NULL};
        for (size_t i = 0; system[i]; i++)
                if (strlen(system[i]) == len && strncmp(name, system[i], len) == 0)
                        return true;
        return false;
}

bool plan_environment_covers(const struct plan_environment *env, const char *path)
{
        if (!env || path[0] != '/')
                return false;
        const char *top = path + 1;
        size_t len = strcspn(top, "/");
        if (len == 0)
                return false;
        if (plan_is_system_top(top, len))
                return true;
        char name[NAME_MAX + 1];
        if (len > NAME_MAX)
                return false;
        memcpy(name, top, len);
        name[len] = '\0';
        if (!plan_environment_uses(name))
                return false;
        cleanup_free char *inside = path_join(env->rootfs, name);
        struct stat st;
        return inside && lstat(inside, &st) == 0;
}

static int plan_environment_op(struct reins_plan *plan, enum mount_op_kind kind, const char *source,
                               const char *target)
{
        int r = plan_add_mount(plan, kind, source, target, 0);
        if (r == 0)
                plan->mounts[plan->mount_count - 1].environment = true;
        return r;
}

static int plan_environment_entry(struct reins_plan *plan, const struct plan_environment *env,
                                  int dirfd, const char *name)
{
        struct stat st;
        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return 0;
        cleanup_free char *target = path_join("/", name);
        cleanup_free char *source = path_join(env->rootfs, name);
        if (!target || !source)
                return -ENOMEM;
        if (S_ISLNK(st.st_mode)) {
                /* merged /usr: /bin -> usr/bin, recreated as written (it
                 * resolves inside the sandbox's root, never the host's) */
                char link[PATH_MAX];
                ssize_t n = readlinkat(dirfd, name, link, sizeof(link) - 1);
                if (n <= 0)
                        return 0;
                link[n] = '\0';
                return plan_environment_op(plan, MOUNT_OP_SYMLINK, link, target);
        }
        if (!S_ISDIR(st.st_mode))
                return 0;
        if (!env->upper)
                return plan_environment_op(plan, MOUNT_OP_BIND_RO, source, target);
        int r = plan_environment_op(plan, MOUNT_OP_OVERLAY, source, target);
        if (r < 0)
                return r;
        struct mount_op *op = &plan->mounts[plan->mount_count - 1];
        cleanup_free char *base = path_join(env->upper, name);
        op->upper = base ? path_join(base, "upper") : NULL;
        op->work = base ? path_join(base, "work") : NULL;
        return op->upper && op->work ? 0 : -ENOMEM;
}

int plan_add_environment(struct reins_plan *plan, const struct plan_environment *env,
                         struct reins_error *err)
{
        struct stat st;
        if (!env->rootfs || env->rootfs[0] != '/' || lstat(env->rootfs, &st) < 0 ||
            !S_ISDIR(st.st_mode))
                return reins_error_set(err, ENOTDIR, "environment root %s: not a directory",
                                       env->rootfs ? env->rootfs : "(none)");
        plan->environment = env;
        cleanup_closedir DIR *d = opendir(env->rootfs);
        if (!d)
                return reins_error_errno(err, errno, "environment root %s", env->rootfs);
        struct dirent *e;
        int r = 0;
        while (r == 0 && (e = readdir(d))) {
                if (!plan_environment_uses(e->d_name))
                        continue;
                /* a workspace below /srv/… or /opt/… of the host: its
                 * ancestors come from the tmpfs root, not the image (whose
                 * read-only tree could not take the mount point) */
                cleanup_free char *top = path_join("/", e->d_name);
                if (!top) {
                        r = -ENOMEM;
                        break;
                }
                if (plan->workspace && path_is_under(plan->workspace, top))
                        continue;
                r = plan_environment_entry(plan, env, dirfd(d), e->d_name);
        }
        /* the mapped user's account, over the image's own files (which
         * exist: src/env/ makes these only then) */
        if (r == 0 && env->passwd)
                r = plan_environment_op(plan, MOUNT_OP_BIND_RO, env->passwd, "/etc/passwd");
        if (r == 0 && env->group)
                r = plan_environment_op(plan, MOUNT_OP_BIND_RO, env->group, "/etc/group");
        return r < 0 ? reins_error_set(err, -r, "planning the environment's root: out of memory")
                     : 0;
}

int plan_environment_deny(struct reins_plan *plan, const struct reins_policy *policy,
                          struct reins_error *err)
{
        if (weaken("mounts"))
                return 0;
        const char *dir = plan->environment->rootfs;
        size_t dir_len = strlen(dir);
        int r = 0;
        for (size_t i = 0; r == 0 && i < policy->filesystem.deny.count; i++) {
                const char *pattern = policy->filesystem.deny.items[i];
                if (pattern[0] != '/' || !plan_environment_covers(plan->environment, pattern))
                        continue; /* ~, workspace-relative, or not in the environment */
                cleanup_free char *anchored = path_join(dir, pattern + 1);
                if (!anchored)
                        return reins_error_set(err, ENOMEM, "out of memory");
                struct reins_strv matches = {0};
                char *patterns[] = {anchored};
                r = plan_collect_matches(patterns, 1, dir, &matches);
                for (size_t j = 0; r == 0 && j < matches.count; j++)
                        if (strlen(matches.items[j]) > dir_len)
                                r = plan_add_mount(plan, MOUNT_OP_HIDE, NULL,
                                                   matches.items[j] + dir_len, 0);
                strv_free(&matches);
        }
        return r < 0 ? reins_error_errno(err, -r, "hiding denied paths in the environment") : 0;
}

int plan_environment_move_layers(struct reins_plan *plan, const char *from, const char *to)
{
        size_t from_len = strlen(from);
        for (size_t i = 0; i < plan->mount_count; i++) {
                struct mount_op *op = &plan->mounts[i];
                if (!op->environment || op->kind != MOUNT_OP_OVERLAY)
                        continue;
                char **layers[] = {&op->upper, &op->work};
                for (size_t j = 0; j < 2; j++) {
                        char *old = *layers[j];
                        if (!old || strncmp(old, from, from_len) != 0 || old[from_len] != '/')
                                continue;
                        char *moved = path_join(to, old + from_len + 1);
                        if (!moved)
                                return -ENOMEM;
                        free(old);
                        *layers[j] = moved;
                }
        }
        return 0;
}
