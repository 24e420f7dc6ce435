/* /proc and /dev of the sandbox. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/mounts_internal.h"
#include "util/weaken.h"
#include "util/cleanup.h"

/* /proc entries that uid 0 inside (the host's root when reins runs as root)
 * could still use through plain file permissions once every capability is
 * gone: writable kernel triggers and readable host activity. Entries that
 * need a capability in the initial user namespace (kmsg, kpage*, mtrr, scsi
 * writes...) are out of reach already; each hide is a mount, and start-up
 * time is a budget, so only these are covered. */
static const char *const proc_hidden[] = {
    "sysrq-trigger", /* write: reboot, crash or freeze the host */
    "timer_list",    /* read: every timer of the host, with its owner */
    "latency_stats", /* write: reset host-wide latency accounting */
    "kcore",         /* the image of kernel memory (probed by every escape kit) */
};

/* Writable kernel knobs: read-only (CVE-2023-25809 class). */
static const char *const proc_readonly[] = {"sys", "irq", "bus"};

static int proc_mask(const struct mounts_ctx *ctx, int procfd, struct reins_error *err)
{
        for (size_t i = 0; i < ARRAY_SIZE(proc_hidden); i++) {
                cleanup_fd int target = mounts_open_beneath(procfd, proc_hidden[i], O_PATH);
                if (target == -ENOENT)
                        continue;
                if (target < 0)
                        return reins_error_errno(err, -target, "masking /proc/%s", proc_hidden[i]);
                int r = mounts_hide_fd(ctx, target, proc_hidden[i], err);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < ARRAY_SIZE(proc_readonly); i++) {
                cleanup_fd int target = mounts_open_beneath(procfd, proc_readonly[i], O_PATH);
                if (target == -ENOENT)
                        continue;
                if (target < 0)
                        return reins_error_errno(err, -target, "/proc/%s", proc_readonly[i]);
                cleanup_fd int tree = open_tree(
                    target, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH);
                int r = tree < 0 ? -errno
                                 : mounts_set_attr(tree,
                                                   MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
                                                       MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                                                   true);
                if (r == 0)
                        r = mounts_attach(tree, target);
                if (r < 0)
                        return reins_error_errno(err, -r, "making /proc/%s read-only",
                                                 proc_readonly[i]);
        }
        return 0;
}

/* A container's linux.sysctl (reins oci), written into its fresh /proc
 * before /proc/sys is made read-only: only names of the namespaces the
 * sandbox owns reach here (oci/spec.c refuses the others), and the write
 * goes through an fd opened without following any link. */
static int proc_write_sysctls(const struct mounts_ctx *ctx, const char *target,
                              struct reins_error *err)
{
        for (size_t i = 0; i < ctx->root->sysctl_count; i++) {
                const char *entry = ctx->root->sysctl[i];
                size_t name_len = strcspn(entry, "=");
                char path[512];
                int n = snprintf(path, sizeof(path), "%s/sys/%.*s", target, (int)name_len, entry);
                if (n < 0 || (size_t)n >= sizeof(path) || entry[name_len] != '=')
                        return reins_error_set(err, EINVAL, "config.json: linux.sysctl %.64s",
                                               entry);
                for (char *c = path + strlen(target) + 5; *c; c++)
                        if (*c == '.')
                                *c = '/';
                cleanup_fd int fd = mounts_open_beneath(ctx->newroot, path, O_WRONLY);
                const char *value = entry + name_len + 1;
                size_t len = strlen(value);
                if (fd < 0)
                        return reins_error_errno(err, -fd, "config.json: linux.sysctl %.*s",
                                                 (int)name_len, entry);
                if (write(fd, value, len) != (ssize_t)len)
                        return reins_error_errno(err, errno, "config.json: linux.sysctl %.*s",
                                                 (int)name_len, entry);
        }
        return 0;
}

/* Weakened builds only (no pid namespace): the host's /proc, as is. */
static int proc_bind_host(const struct mounts_ctx *ctx, int dir, struct reins_error *err)
{
        cleanup_fd int tree =
            open_tree(ctx->oldroot, "proc", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
        if (tree < 0 || mounts_attach(tree, dir) < 0)
                return reins_error_errno(err, errno, "binding the host /proc");
        return 0;
}

int mounts_proc(const struct mounts_ctx *ctx, const struct mount_op *op, struct reins_error *err)
{
        const char *target = op->target;
        cleanup_fd int dir = mounts_open_target(ctx->newroot, target, S_IFDIR);
        if (dir < 0)
                return reins_error_errno(err, -dir, "creating %s", target);
        if (weaken("pidns"))
                return proc_bind_host(ctx, dir, err);
        /* a procfs of the new pid namespace: only sandbox pids are visible
         * (CVE-2019-5736: no /proc/<host pid>/exe to overwrite) */
        cleanup_fd int fs = fsopen("proc", FSOPEN_CLOEXEC);
        if (fs < 0 ||
            fsconfig(fs, FSCONFIG_SET_STRING, "source", op->source ? op->source : "proc", 0) < 0 ||
            fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return reins_error_errno(err, errno,
                                         "mounting /proc (is the host /proc partly covered, "
                                         "as inside some containers?)");
        cleanup_fd int mnt =
            fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
        if (mnt < 0)
                return reins_error_errno(err, errno, "mounting /proc");
        int r = mounts_attach(mnt, dir);
        if (r < 0)
                return reins_error_errno(err, -r, "attaching /proc");
        if (ctx->root && ctx->root->sysctl_count > 0 &&
            (r = proc_write_sysctls(ctx, target, err)) < 0)
                return r;
        if (weaken("proc-mask"))
                return 0;
        cleanup_fd int procfd = mounts_open_beneath(ctx->newroot, target, O_PATH | O_DIRECTORY);
        if (procfd < 0)
                return reins_error_errno(err, -procfd, "opening /proc");
        return proc_mask(ctx, procfd, err);
}

static const char *const dev_nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};

static int dev_bind_node(const struct mounts_ctx *ctx, int devfd, const char *name,
                         struct reins_error *err)
{
        char host[64];
        snprintf(host, sizeof(host), "dev/%s", name);
        cleanup_fd int source = mounts_open_beneath(ctx->oldroot, host, O_PATH);
        if (source < 0)
                return reins_error_errno(err, -source, "/dev/%s on the host", name);
        struct stat st;
        if (fstat(source, &st) < 0 || !S_ISCHR(st.st_mode))
                return reins_error_set(err, EINVAL, "/dev/%s on the host is not a device", name);
        cleanup_fd int tree =
            open_tree(source, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
        if (tree < 0)
                return reins_error_errno(err, errno, "binding /dev/%s", name);
        int r = mounts_set_attr(tree, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, false);
        cleanup_fd int target = r < 0 ? -1 : mounts_open_target(devfd, name, S_IFREG);
        if (r == 0 && target < 0)
                r = target;
        if (r == 0)
                r = mounts_attach(tree, target);
        return r < 0 ? reins_error_errno(err, -r, "binding /dev/%s", name) : 0;
}

static int dev_mount_pts(const struct mounts_ctx *ctx, int devfd, struct reins_error *err)
{
        const char *source = ctx->root && ctx->root->pts_source ? ctx->root->pts_source : "devpts";
        if (mkdirat(devfd, "pts", 0755) < 0)
                return reins_error_errno(err, errno, "creating /dev/pts");
        /* a private devpts: ptys made inside never reach the host's */
        cleanup_fd int fs = fsopen("devpts", FSOPEN_CLOEXEC);
        if (fs < 0 || fsconfig(fs, FSCONFIG_SET_STRING, "source", source, 0) < 0 ||
            fsconfig(fs, FSCONFIG_SET_FLAG, "newinstance", NULL, 0) < 0 ||
            fsconfig(fs, FSCONFIG_SET_STRING, "ptmxmode", "0666", 0) < 0 ||
            fsconfig(fs, FSCONFIG_SET_STRING, "mode", "0620", 0) < 0 ||
            fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return reins_error_errno(err, errno, "mounting /dev/pts");
        cleanup_fd int mnt = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
        cleanup_fd int target = mounts_open_beneath(devfd, "pts", O_PATH | O_DIRECTORY);
        if (mnt < 0 || target < 0 || mounts_attach(mnt, target) < 0)
                return reins_error_errno(err, errno, "attaching /dev/pts");
        return 0;
}

/* Sized (plan_scratch_size): the kernel's default is half of the host's
 * memory, whatever the sandbox's limit. Shared with /tmp when that is private. */
static int dev_mount_shm(const struct mounts_ctx *ctx, const struct mount_op *op, int devfd,
                         struct reins_error *err)
{
        if (mkdirat(devfd, "shm", 01777) < 0)
                return reins_error_errno(err, errno, "creating /dev/shm");
        const char *source = ctx->root && ctx->root->shm_source ? ctx->root->shm_source : "shm";
        cleanup_fd int mnt = op->shared_scratch
                                 ? mounts_scratch_clone(ctx, "shm")
                                 : mounts_new_tmpfs(source, "1777", op->size_bytes,
                                                    MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
        cleanup_fd int target = mounts_open_beneath(devfd, "shm", O_PATH | O_DIRECTORY);
        if (mnt < 0 || target < 0 || mounts_attach(mnt, target) < 0)
                return reins_error_errno(err, errno, "mounting /dev/shm");
        return 0;
}

/* A container's /dev/mqueue (config.json lists one): the message queues of
 * the sandbox's own ipc namespace. */
static int dev_mount_mqueue(const struct plan_root *root, int devfd, struct reins_error *err)
{
        if (mkdirat(devfd, "mqueue", 01777) < 0)
                return reins_error_errno(err, errno, "creating /dev/mqueue");
        if (root->mqueue_premade) {
                cleanup_fd int target = mounts_open_beneath(devfd, "mqueue", O_PATH | O_DIRECTORY);
                if (target < 0 || mounts_attach(root->mqueue_fd, target) < 0)
                        return reins_error_errno(err, errno, "attaching /dev/mqueue");
                close(root->mqueue_fd);
                return 0;
        }
        const char *source = root->mqueue_source;
        cleanup_fd int fs = fsopen("mqueue", FSOPEN_CLOEXEC);
        if (fs < 0 || fsconfig(fs, FSCONFIG_SET_STRING, "source", source, 0) < 0 ||
            fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return reins_error_errno(err, errno, "mounting /dev/mqueue");
        cleanup_fd int mnt =
            fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
        cleanup_fd int target = mounts_open_beneath(devfd, "mqueue", O_PATH | O_DIRECTORY);
        if (mnt < 0 || target < 0 || mounts_attach(mnt, target) < 0)
                return reins_error_errno(err, errno, "attaching /dev/mqueue");
        return 0;
}

static int dev_links(int devfd, struct reins_error *err)
{
        static const char *const links[][2] = {
            {"ptmx", "pts/ptmx"},          {"fd", "/proc/self/fd"},
            {"stdin", "/proc/self/fd/0"},  {"stdout", "/proc/self/fd/1"},
            {"stderr", "/proc/self/fd/2"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(links); i++)
                if (symlinkat(links[i][1], devfd, links[i][0]) < 0)
                        return reins_error_errno(err, errno, "/dev/%s", links[i][0]);
        return 0;
}

int mounts_dev(const struct mounts_ctx *ctx, const struct mount_op *op, struct reins_error *err)
{
        const char *target = op->target;
        cleanup_fd int mnt =
            mounts_new_tmpfs(op->source, "0755", 65536, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
        if (mnt < 0)
                return reins_error_errno(err, -mnt, "creating /dev");
        cleanup_fd int dir = mounts_open_target(ctx->newroot, target, S_IFDIR);
        if (dir < 0 || mounts_attach(mnt, dir) < 0)
                return reins_error_errno(err, dir < 0 ? -dir : errno, "mounting /dev");
        cleanup_fd int devfd = mounts_open_beneath(ctx->newroot, target, O_DIRECTORY);
        if (devfd < 0)
                return reins_error_errno(err, -devfd, "opening /dev");
        int r = 0;
        for (size_t i = 0; r == 0 && i < ARRAY_SIZE(dev_nodes); i++)
                r = dev_bind_node(ctx, devfd, dev_nodes[i], err);
        if (r == 0)
                r = dev_mount_pts(ctx, devfd, err);
        if (r == 0)
                r = dev_mount_shm(ctx, op, devfd, err);
        if (r == 0 && ctx->root && ctx->root->mqueue_source)
                r = dev_mount_mqueue(ctx->root, devfd, err);
        if (r == 0)
                r = dev_links(devfd, err);
        if (r < 0)
                return r;
        /* nothing new may appear in /dev once it is built */
        cleanup_fd int top = mounts_open_beneath(ctx->newroot, target, O_PATH | O_DIRECTORY);
        if (top < 0 ||
            mounts_set_attr(top, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, false) <
                0)
                return reins_error_errno(err, errno, "making /dev read-only");
        return 0;
}
