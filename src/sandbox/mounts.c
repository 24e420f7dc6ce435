/* Mount tree construction. Every bind goes through file descriptors
 * (open_tree/move_mount): sources are opened with RESOLVE_NO_SYMLINKS from
 * the old root and targets are reached component by component with
 * O_NOFOLLOW, so a symlink planted or swapped in (CVE-2019-18837,
 * CVE-2021-30465, CVE-2025-31133) makes setup fail instead of mounting
 * somewhere else. Binds are recursive and made read-only recursively
 * (mount_setattr AT_RECURSIVE), so no submount stays writable. */
#include "sandbox/mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/mounts_internal.h"
#include "util/weaken.h"
#include "util/cleanup.h"

#define STAGE "/tmp" /* covered by a private tmpfs in our own mount namespace */
/* where hidden files point: never present, since / is a read-only tmpfs */
#define DENIED_TARGET "/.denied-by-reins-policy"

int mounts_open_beneath(int dirfd, const char *path, int flags)
{
        struct open_how how = {
            .flags = (uint64_t)(flags | O_CLOEXEC | O_NOFOLLOW),
            .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_BENEATH,
        };
        while (*path == '/')
                path++;
        if (*path == '\0')
                path = ".";
        long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
        return fd < 0 ? -errno : (int)fd;
}

/* Create every missing directory of `path` below `rootfd` (never through a
 * symlink) and return an O_PATH fd of its parent; *leaf gets the last name. */
static int mounts_make_parents(int rootfd, const char *path, const char **leaf)
{
        char buf[4096];
        if (strlen(path) >= sizeof(buf))
                return -ENAMETOOLONG;
        strcpy(buf, path);
        int dirfd = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
        if (dirfd < 0)
                return -errno;
        char *save = NULL;
        char *component = strtok_r(buf, "/", &save);
        while (component) {
                char *next = strtok_r(NULL, "/", &save);
                if (!next) {
                        *leaf = path + (component - buf);
                        return dirfd;
                }
                if (mkdirat(dirfd, component, 0755) < 0 && errno != EEXIST) {
                        int e = -errno;
                        close(dirfd);
                        return e;
                }
                int child = mounts_open_beneath(dirfd, component, O_PATH | O_DIRECTORY);
                close(dirfd);
                if (child < 0)
                        return child;
                dirfd = child;
                component = next;
        }
        *leaf = ".";
        return dirfd;
}

int mounts_open_target(int rootfd, const char *path, mode_t type)
{
        const char *leaf = NULL;
        cleanup_fd int parent = mounts_make_parents(rootfd, path, &leaf);
        if (parent < 0)
                return parent;
        if (S_ISDIR(type)) {
                if (mkdirat(parent, leaf, 0755) < 0 && errno != EEXIST)
                        return -errno;
        } else {
                int fd = openat(parent, leaf, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
                if (fd < 0 && errno != EEXIST && errno != EISDIR && errno != EACCES &&
                    errno != EROFS && errno != ELOOP)
                        return -errno;
                if (fd >= 0)
                        close(fd);
        }
        int fd = mounts_open_beneath(parent, leaf, O_PATH);
        if (fd < 0)
                return fd;
        struct stat st;
        if (fstat(fd, &st) < 0 || (S_ISDIR(st.st_mode) != S_ISDIR(type))) {
                close(fd);
                return -ENOTDIR;
        }
        return fd;
}

int mounts_attach(int tree, int target_fd)
{
        if (move_mount(tree, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) <
            0)
                return -errno;
        return 0;
}

int mounts_set_attr(int tree, uint64_t set, bool recursive)
{
        struct mount_attr attr = {.attr_set = set};
        unsigned int flags = AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0);
        if (mount_setattr(tree, "", flags, &attr, sizeof(attr)) < 0)
                return -errno;
        return 0;
}

/* Bind `source` (host path, reached from the old root) at `target`. */
static int mounts_bind(const struct mounts_ctx *ctx, const struct mount_op *op,
                       struct reins_error *err)
{
        cleanup_fd int source = mounts_open_beneath(ctx->oldroot, op->source, O_PATH);
        if (source < 0)
                return reins_error_errno(err, -source, "bind source %s (changed during setup?)",
                                         op->source);
        struct stat st;
        if (fstat(source, &st) < 0)
                return reins_error_errno(err, errno, "bind source %s", op->source);
        cleanup_fd int tree = open_tree(
            source, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH);
        if (tree < 0)
                return reins_error_errno(err, errno, "cloning mount of %s", op->source);
        uint64_t attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
        if (op->kind == MOUNT_OP_BIND_RO)
                attrs |= MOUNT_ATTR_RDONLY;
        if (op->noexec)
                attrs |= MOUNT_ATTR_NOEXEC;
        int r = mounts_set_attr(tree, attrs, true);
        if (r < 0)
                return reins_error_errno(err, -r, "making %s %s", op->source,
                                         op->kind == MOUNT_OP_BIND_RO ? "read-only" : "nosuid");
        cleanup_fd int target = mounts_open_target(ctx->newroot, op->target, st.st_mode);
        if (target < 0)
                return reins_error_errno(
                    err, -target, "mount target %s (a symlink or a changed type?)", op->target);
        r = mounts_attach(tree, target);
        return r < 0 ? reins_error_errno(err, -r, "binding %s", op->source) : 0;
}

/* A fresh tmpfs, created detached, then attached at an fd. */
int mounts_new_tmpfs(const char *source, const char *mode, uint64_t size_bytes, uint64_t attrs)
{
        cleanup_fd int fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
        if (fs < 0)
                return -errno;
        char size[32];
        if (fsconfig(fs, FSCONFIG_SET_STRING, "source", source ? source : "tmpfs", 0) < 0 ||
            fsconfig(fs, FSCONFIG_SET_STRING, "mode", mode, 0) < 0)
                return -errno;
        if (size_bytes > 0) {
                snprintf(size, sizeof(size), "%llu", (unsigned long long)size_bytes);
                if (fsconfig(fs, FSCONFIG_SET_STRING, "size", size, 0) < 0)
                        return -errno;
        }
        if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return -errno;
        int mnt = fsmount(fs, FSMOUNT_CLOEXEC, (unsigned int)attrs);
        return mnt < 0 ? -errno : mnt;
}

/* In the staging root: the tmpfs that /tmp and /dev/shm share (one size for
 * both, plan_scratch_size). Its directories are bound in; the binds keep it
 * when the staging root goes. */
#define SCRATCH_DIR "/scratch"

/* Inodes cost kernel memory that a sandbox without a memory cgroup is not
 * charged for: one per 4 KiB of the size, at least 1024. */
static int mounts_make_scratch(struct mounts_ctx *ctx, uint64_t size, struct reins_error *err)
{
        cleanup_fd int fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
        char bytes[32], inodes[32];
        snprintf(bytes, sizeof(bytes), "%llu", (unsigned long long)size);
        snprintf(inodes, sizeof(inodes), "%llu",
                 (unsigned long long)(size / 4096 > 1024 ? size / 4096 : 1024));
        if (fs < 0 || fsconfig(fs, FSCONFIG_SET_STRING, "mode", "0755", 0) < 0 ||
            (size > 0 && (fsconfig(fs, FSCONFIG_SET_STRING, "size", bytes, 0) < 0 ||
                          fsconfig(fs, FSCONFIG_SET_STRING, "nr_inodes", inodes, 0) < 0)) ||
            fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return reins_error_errno(err, errno, "creating the tmpfs of /tmp and /dev/shm");
        cleanup_fd int mnt = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
        if (mnt < 0 || mkdir(SCRATCH_DIR, 0700) < 0 ||
            move_mount(mnt, "", AT_FDCWD, SCRATCH_DIR, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                return reins_error_errno(err, errno, "mounting the tmpfs of /tmp and /dev/shm");
        ctx->scratch = open(SCRATCH_DIR, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (ctx->scratch < 0)
                return reins_error_errno(err, errno, "opening the tmpfs of /tmp and /dev/shm");
        static const char *const dirs[] = {"tmp", "shm"};
        for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
                if (mkdirat(ctx->scratch, dirs[i], 0700) < 0 ||
                    fchmodat(ctx->scratch, dirs[i], 01777, 0) < 0)
                        return reins_error_errno(err, errno, "creating /%s", dirs[i]);
        return 0;
}

int mounts_scratch_clone(const struct mounts_ctx *ctx, const char *name)
{
        if (ctx->scratch < 0)
                return -ENOENT;
        int tree = open_tree(ctx->scratch, name, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        return tree < 0 ? -errno : tree;
}

static int mounts_tmpfs(const struct mounts_ctx *ctx, const struct mount_op *op,
                        struct reins_error *err)
{
        cleanup_fd int mnt = op->shared_scratch
                                 ? mounts_scratch_clone(ctx, "tmp")
                                 : mounts_new_tmpfs(op->source, "1777", op->size_bytes,
                                                    MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                                        (op->noexec ? MOUNT_ATTR_NOEXEC : 0));
        if (mnt < 0)
                return reins_error_errno(err, -mnt, "creating tmpfs for %s", op->target);
        cleanup_fd int target = mounts_open_target(ctx->newroot, op->target, S_IFDIR);
        if (target < 0)
                return reins_error_errno(err, -target, "mount target %s", op->target);
        int r = mounts_attach(mnt, target);
        return r < 0 ? reins_error_errno(err, -r, "mounting tmpfs at %s", op->target) : 0;
}

/* A stand-in for a denied regular file: same type, size, times and owner
 * execute bit, so lstat() tells tools (git's index check above all: size
 * and mtime under core.checkStat=minimal) nothing has changed, while it has
 * no permission bit a process without capabilities could use and holds only
 * zeros (sparse: it costs no memory). It lives on the staging tmpfs, which
 * no path inside the sandbox reaches. Returns a detached mount of it. */
static int mounts_stat_twin(const struct stat *st)
{
        static unsigned serial; /* the sandbox child is single-threaded */
        if (mkdir("/twins", 0711) < 0 && errno != EEXIST)
                return -errno;
        char name[32];
        snprintf(name, sizeof(name), "/twins/%u", serial++);
        cleanup_fd int fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        struct timespec times[2] = {st->st_atim, st->st_mtim};
        if (ftruncate(fd, st->st_size) < 0 || fchmod(fd, st->st_mode & 0100) < 0 ||
            futimens(fd, times) < 0)
                return -errno;
        int mnt = open_tree(fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
        return mnt < 0 ? -errno : mnt;
}

int mounts_hide_fd(const struct mounts_ctx *ctx, int target, const char *what,
                   struct reins_error *err)
{
        struct stat st;
        if (fstat(target, &st) < 0)
                return reins_error_errno(err, errno, "hiding %s", what);
        uint64_t attrs =
            MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
        cleanup_fd int mnt = -1;
        if (S_ISDIR(st.st_mode)) {
                /* an empty, read-only directory nobody may enter */
                mnt = mounts_new_tmpfs(NULL, "000", 4096, attrs);
        } else if (S_ISREG(st.st_mode)) {
                /* open() answers EACCES, lstat() is unchanged: git status
                 * inside equals git status outside, and no commit made inside
                 * can record a stand-in (it cannot be read) */
                mnt = mounts_stat_twin(&st);
                int r = mnt >= 0 ? mounts_set_attr(mnt, attrs, false) : 0;
                if (r < 0)
                        return reins_error_errno(err, -r, "hiding %s", what);
        } else {
                /* a dangling symlink mounted over the link (or device): open()
                 * and stat() answer ENOENT; readlink names the reason */
                mnt = open_tree(ctx->denied_link, "",
                                OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
                if (mnt < 0)
                        mnt = -errno;
        }
        if (mnt < 0)
                return reins_error_errno(err, -mnt, "hiding %s", what);
        int r = mounts_attach(mnt, target);
        return r < 0 ? reins_error_errno(err, -r, "hiding %s", what) : 0;
}

static int mounts_hide(const struct mounts_ctx *ctx, const struct mount_op *op,
                       struct reins_error *err)
{
        cleanup_fd int target = mounts_open_beneath(ctx->newroot, op->target, O_PATH);
        if (target == -ENOENT)
                return 0; /* gone since planning: nothing to hide */
        if (target < 0)
                return reins_error_errno(err, -target, "hiding %s (a symlink now?)", op->target);
        return mounts_hide_fd(ctx, target, op->target, err);
}

/* Re-bind a path of a bound tree onto itself, read-only (recursively). */
static int mounts_protect(const struct mounts_ctx *ctx, const struct mount_op *op,
                          struct reins_error *err)
{
        cleanup_fd int target = mounts_open_beneath(ctx->newroot, op->target, O_PATH);
        if (target == -ENOENT)
                return 0;
        if (target < 0)
                return reins_error_errno(err, -target, "protecting %s (a symlink now?)",
                                         op->target);
        cleanup_fd int tree = open_tree(
            target, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH);
        if (tree < 0)
                return reins_error_errno(err, errno, "protecting %s", op->target);
        int r =
            mounts_set_attr(tree, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, true);
        if (r == 0)
                r = mounts_attach(tree, target);
        return r < 0 ? reins_error_errno(err, -r, "protecting %s", op->target) : 0;
}

/* Re-bind a directory of the workspace onto itself, as writable as it was:
 * the ancestors of protected paths become mount points, which rename(2) and
 * rmdir(2) refuse with EBUSY, so the agent cannot move `.git` or `ci` aside
 * and put a directory of its own at that name. */
static int mounts_pin(const struct mounts_ctx *ctx, const struct mount_op *op,
                      struct reins_error *err)
{
        cleanup_fd int target = mounts_open_beneath(ctx->newroot, op->target, O_PATH);
        if (target == -ENOENT)
                return 0;
        if (target < 0)
                return reins_error_errno(err, -target, "pinning %s (a symlink now?)", op->target);
        cleanup_fd int tree = open_tree(
            target, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH);
        if (tree < 0)
                return reins_error_errno(err, errno, "pinning %s", op->target);
        int r = mounts_attach(tree, target);
        return r < 0 ? reins_error_errno(err, -r, "pinning %s", op->target) : 0;
}

/* The workspace's .git in direct mode: an overlay whose upper layer is
 * private to reins (hidden from the sandbox with the rest of its state), so
 * nothing the agent writes there reaches the host's .git until the
 * supervisor copies git's own data back (workspace/gitdir.c). The .git
 * directory becomes a mount point too: it cannot be renamed. */
static int mounts_gitdir(const struct mounts_ctx *ctx, const struct mount_op *op,
                         struct reins_error *err)
{
        if (!op->upper || !op->work)
                return reins_error_set(err, EINVAL, "the .git overlay has no private layer");
        /* the lower side must be the directory the plan saw, not a symlink
         * planted since */
        cleanup_fd int check = mounts_open_beneath(ctx->oldroot, op->source, O_PATH | O_DIRECTORY);
        if (check < 0)
                return reins_error_errno(err, -check, "%s (changed during setup?)", op->source);
        char lower[4096], upper[4096], work[4096];
        snprintf(lower, sizeof(lower), "/oldroot%s", op->source);
        snprintf(upper, sizeof(upper), "/oldroot%s", op->upper);
        snprintf(work, sizeof(work), "/oldroot%s", op->work);
        cleanup_fd int fs = fsopen("overlay", FSOPEN_CLOEXEC);
        if (fs < 0 || fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir", lower, 0) < 0 ||
            fsconfig(fs, FSCONFIG_SET_STRING, "upperdir", upper, 0) < 0 ||
            fsconfig(fs, FSCONFIG_SET_STRING, "workdir", work, 0) < 0 ||
            fsconfig(fs, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) < 0 ||
            /* volatile: the unmount at the session's end does not sync the
             * whole host filesystem (overlayfs syncs its upper's otherwise);
             * a crash loses the layer, which is what a crash means here */
            fsconfig(fs, FSCONFIG_SET_FLAG, "volatile", NULL, 0) < 0 ||
            fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
                /* --allow-degraded: .git only pinned (its existing protected
                 * entries stay read-only; a new commondir reaches the host) */
                if (op->optional)
                        return mounts_pin(ctx, op, err);
                return reins_error_errno(err, errno,
                                         "protecting %s: mounting its private overlay (overlayfs "
                                         "in a user namespace needs Linux 5.11+ and reins' state "
                                         "directory on a filesystem with user xattrs; "
                                         "--allow-degraded runs with .git pinned only)",
                                         op->target);
        }
        cleanup_fd int mnt = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
        if (mnt < 0)
                return reins_error_errno(err, errno, "protecting %s", op->target);
        cleanup_fd int target = mounts_open_beneath(ctx->newroot, op->target, O_PATH | O_DIRECTORY);
        if (target < 0)
                return reins_error_errno(err, -target, "protecting %s (a symlink now?)",
                                         op->target);
        int r = mounts_attach(mnt, target);
        return r < 0 ? reins_error_errno(err, -r, "protecting %s", op->target) : 0;
}

static int mounts_symlink(const struct mounts_ctx *ctx, const struct mount_op *op,
                          struct reins_error *err)
{
        const char *leaf = NULL;
        cleanup_fd int parent = mounts_make_parents(ctx->newroot, op->target, &leaf);
        if (parent < 0)
                return reins_error_errno(err, -parent, "symlink %s", op->target);
        if (symlinkat(op->source, parent, leaf) < 0 && errno != EEXIST)
                return reins_error_errno(err, errno, "symlink %s", op->target);
        return 0;
}

/* A small file of reins' own on the tmpfs root (read-only once the root is
 * sealed), such as the git exclude list for hidden files. */
static int mounts_text_file(const struct mounts_ctx *ctx, const struct mount_op *op,
                            struct reins_error *err)
{
        const char *leaf = NULL;
        cleanup_fd int parent = mounts_make_parents(ctx->newroot, op->target, &leaf);
        if (parent < 0)
                return reins_error_errno(err, -parent, "file %s", op->target);
        cleanup_fd int fd =
            openat(parent, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
        if (fd < 0)
                return reins_error_errno(err, errno, "file %s", op->target);
        size_t length = strlen(op->source), done = 0;
        while (done < length) {
                ssize_t n = write(fd, op->source + done, length - done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return reins_error_errno(err, errno, "writing %s", op->target);
                done += (size_t)n;
        }
        return 0;
}

/* The copy-on-write workspace: lower = the host workspace (never written),
 * upper/work = the session's copy in reins' state directory. In a user
 * namespace overlayfs keeps its metadata in user.* xattrs (userxattr). */
static int mounts_overlay(const struct mounts_ctx *ctx, const struct mount_op *op,
                          struct reins_error *err)
{
        if (!op->upper || !op->work)
                return reins_error_set(err, EINVAL, "overlay workspace without a session");
        char lower[4096], upper[4096], work[4096];
        snprintf(lower, sizeof(lower), "/oldroot%s", op->source);
        snprintf(upper, sizeof(upper), "/oldroot%s", op->upper);
        snprintf(work, sizeof(work), "/oldroot%s", op->work);
        if (op->size_bytes > 0) {
                char disk_upper[4096];
                snprintf(disk_upper, sizeof(disk_upper), "%s", upper);
                int r =
                    mounts_overlay_in_memory(ctx, op, disk_upper, upper, work, sizeof(upper), err);
                if (r < 0)
                        return r;
        }
        cleanup_fd int fs = fsopen("overlay", FSOPEN_CLOEXEC);
        if (fs < 0 || fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir", lower, 0) < 0 ||
            fsconfig(fs, FSCONFIG_SET_STRING, "upperdir", upper, 0) < 0 ||
            fsconfig(fs, FSCONFIG_SET_STRING, "workdir", work, 0) < 0 ||
            fsconfig(fs, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) < 0 ||
            fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return reins_error_errno(err, errno,
                                         "mounting the copy-on-write workspace (overlayfs in a "
                                         "user namespace needs Linux 5.11+ and an upper "
                                         "directory on a filesystem with user xattrs)");
        cleanup_fd int mnt = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
        if (mnt < 0)
                return reins_error_errno(err, errno, "mounting the copy-on-write workspace");
        cleanup_fd int target = mounts_open_target(ctx->newroot, op->target, S_IFDIR);
        if (target < 0)
                return reins_error_errno(err, -target, "mount target %s", op->target);
        int r = mounts_attach(mnt, target);
        return r < 0 ? reins_error_errno(err, -r, "attaching the copy-on-write workspace") : 0;
}

static int mounts_execute(const struct mounts_ctx *ctx, const struct mount_op *op,
                          struct reins_error *err)
{
        switch (op->kind) {
        case MOUNT_OP_BIND_RO:
        case MOUNT_OP_BIND_RW:
                return mounts_bind(ctx, op, err);
        case MOUNT_OP_TMPFS:
                return mounts_tmpfs(ctx, op, err);
        case MOUNT_OP_PROC:
                return mounts_proc(ctx, op, err);
        case MOUNT_OP_DEV:
                return mounts_dev(ctx, op, err);
        case MOUNT_OP_HIDE:
                return mounts_hide(ctx, op, err);
        case MOUNT_OP_PROTECT:
                return mounts_protect(ctx, op, err);
        case MOUNT_OP_SYMLINK:
                return mounts_symlink(ctx, op, err);
        case MOUNT_OP_FILE:
                return mounts_text_file(ctx, op, err);
        case MOUNT_OP_OVERLAY:
                return mounts_overlay(ctx, op, err);
        case MOUNT_OP_PIN:
                return mounts_pin(ctx, op, err);
        case MOUNT_OP_GITDIR:
                return mounts_gitdir(ctx, op, err);
        }
        return reins_error_set(err, EINVAL, "unknown mount operation");
}

/* Staging: a private tmpfs at STAGE becomes the temporary root, the host
 * tree moves to /oldroot, the sandbox root is built at /newroot. */
/* A container's own root (reins oci): its rootfs, reached from the old
 * root without following a symlink, bound (recursively) as the new root.
 * nosuid and nodev: devices come only from the plan's /dev, and no_new_privs
 * makes setuid bits void anyway. */
static int mounts_stage_rootfs(const char *dir, struct reins_error *err)
{
        cleanup_fd int oldroot = open("/oldroot", O_PATH | O_DIRECTORY | O_CLOEXEC);
        cleanup_fd int source =
            oldroot < 0 ? -errno : mounts_open_beneath(oldroot, dir, O_PATH | O_DIRECTORY);
        if (source < 0)
                return reins_error_errno(err, -source,
                                         "the container's root %s (changed during "
                                         "setup?)",
                                         dir);
        cleanup_fd int tree = open_tree(
            source, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH);
        if (tree < 0)
                return reins_error_errno(err, errno, "cloning the container's root %s", dir);
        int r = mounts_set_attr(tree, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, true);
        if (r == 0 && move_mount(tree, "", AT_FDCWD, "/newroot", MOVE_MOUNT_F_EMPTY_PATH) < 0)
                r = -errno;
        return r < 0 ? reins_error_errno(err, -r, "mounting the container's root %s", dir) : 0;
}

static int mounts_stage(struct mounts_ctx *ctx, const struct reins_plan *plan,
                        struct reins_error *err)
{
        /* no mount event may propagate back to the host */
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return reins_error_errno(err, errno, "making mounts private");
        if (mount("tmpfs", STAGE, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700") < 0)
                return reins_error_errno(err, errno, "mounting the staging tmpfs");
        if (mkdir(STAGE "/oldroot", 0700) < 0 || mkdir(STAGE "/newroot", 0755) < 0)
                return reins_error_errno(err, errno, "staging directories");
        if (syscall(SYS_pivot_root, STAGE, STAGE "/oldroot") < 0)
                return reins_error_errno(err, errno, "pivot_root into the staging tmpfs");
        if (chdir("/") < 0)
                return reins_error_errno(err, errno, "chdir /");
        if (plan->root) {
                int r = mounts_stage_rootfs(plan->root->dir, err);
                if (r < 0)
                        return r;
        } else if (mount("tmpfs", "/newroot", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0) {
                return reins_error_errno(err, errno, "mounting the root tmpfs");
        }
        if (symlink(DENIED_TARGET, "/denied") < 0)
                return reins_error_errno(err, errno, "creating the hide placeholder");
        ctx->denied_link = open("/denied", O_PATH | O_NOFOLLOW | O_CLOEXEC);
        ctx->oldroot = open("/oldroot", O_PATH | O_DIRECTORY | O_CLOEXEC);
        ctx->newroot = open("/newroot", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (ctx->denied_link < 0 || ctx->oldroot < 0 || ctx->newroot < 0)
                return reins_error_errno(err, errno, "opening the staging tree");
        return 0;
}

static int mounts_enter_root(const struct reins_plan *plan, struct reins_error *err)
{
        /* the root tmpfs itself: nothing may be created at the top level; a
         * container's rootfs is read-only when its root.readonly says so */
        if (!plan->root || plan->root->readonly) {
                int root = open("/newroot", O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (root < 0)
                        return reins_error_errno(err, errno, "opening the new root");
                int r = mounts_set_attr(
                    root, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, false);
                close(root);
                if (r < 0)
                        return reins_error_errno(err, -r, "making the root read-only");
        }
        /* detach the host tree before entering: nothing of it stays reachable */
        if (umount2("/oldroot", MNT_DETACH) < 0)
                return reins_error_errno(err, errno, "detaching the host tree");
        if (chdir("/newroot") < 0)
                return reins_error_errno(err, errno, "chdir to the new root");
        if (syscall(SYS_pivot_root, ".", ".") < 0)
                return reins_error_errno(err, errno, "pivot_root into the sandbox root");
        if (umount2(".", MNT_DETACH) < 0)
                return reins_error_errno(err, errno, "detaching the staging root");
        if (chdir("/") < 0)
                return reins_error_errno(err, errno, "chdir /");
        return 0;
}

int mounts_build_root(const struct reins_plan *plan, int *workspace_copy, struct reins_error *err)
{
        *workspace_copy = -1;
        struct mounts_ctx ctx = {.oldroot = -1,
                                 .newroot = -1,
                                 .denied_link = -1,
                                 .workspace_copy = workspace_copy,
                                 .scratch = -1,
                                 .root = plan->root};
        int r = mounts_stage(&ctx, plan, err);
        for (size_t i = 0; r == 0 && i < plan->mount_count; i++)
                if (plan->mounts[i].shared_scratch) {
                        r = mounts_make_scratch(&ctx, plan->mounts[i].size_bytes, err);
                        break;
                }
        for (size_t i = 0; r == 0 && i < plan->mount_count; i++)
                r = mounts_execute(&ctx, &plan->mounts[i], err);
        if (ctx.oldroot >= 0)
                close(ctx.oldroot);
        if (ctx.newroot >= 0)
                close(ctx.newroot);
        if (ctx.denied_link >= 0)
                close(ctx.denied_link);
        if (ctx.scratch >= 0)
                close(ctx.scratch);
        if (r == 0)
                r = mounts_enter_root(plan, err);
        return r;
}
