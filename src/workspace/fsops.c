#include "workspace/fsops.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/walk.h"

int ws_open_beneath(int root, const char *path, int flags, mode_t mode)
{
        /* RESOLVE_NO_SYMLINKS: a symlink the agent left in the copy or in the
         * host workspace ("src -> /home/u/.ssh") is never crossed, at any depth. */
        struct open_how how = {
            .flags = (unsigned long long)(flags | O_CLOEXEC | O_NOFOLLOW),
            .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        if (path[0] == '\0')
                path = ".";
        long fd;
        do
                fd = syscall(SYS_openat2, root, path, &how, sizeof(how));
        while (fd < 0 && errno == EAGAIN);
        return fd < 0 ? -errno : (int)fd;
}

int ws_open_parent(int root, const char *path, const char **name)
{
        const char *slash = strrchr(path, '/');
        if (!slash) {
                *name = path;
                return ws_open_beneath(root, ".", O_PATH | O_DIRECTORY, 0);
        }
        *name = slash + 1;
        cleanup_free char *parent = strndup(path, (size_t)(slash - path));
        if (!parent)
                return -ENOMEM;
        return ws_open_beneath(root, parent, O_PATH | O_DIRECTORY, 0);
}

int ws_lstat_beneath(int root, const char *path, struct stat *st)
{
        const char *name;
        cleanup_fd int dir = ws_open_parent(root, path, &name);
        if (dir == -ENOTDIR || dir == -ELOOP)
                return -ENOENT; /* a parent is not a directory: nothing there */
        if (dir < 0)
                return dir;
        if (fstatat(dir, name, st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOTDIR ? -ENOENT : -errno;
        return 0;
}

int ws_open_read(int root, const char *path, bool may_chmod)
{
        int fd = ws_open_beneath(root, path, O_RDONLY | O_NOCTTY | O_NONBLOCK, 0);
        if (fd != -EACCES || !may_chmod)
                return fd;
        cleanup_fd int path_fd = ws_open_beneath(root, path, O_PATH, 0);
        if (path_fd < 0)
                return path_fd;
        struct stat st;
        if (fstat(path_fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EACCES;
        char proc[64];
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", path_fd);
        if (chmod(proc, (st.st_mode & 07777) | S_IRUSR) < 0)
                return -errno;
        fd = open(proc, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        int e = errno;
        chmod(proc, st.st_mode & 07777);
        return fd < 0 ? -e : fd;
}

int ws_copy_symlink(int from, int to, const char *name)
{
        char target[PATH_MAX];
        ssize_t n = readlinkat(from, name, target, sizeof(target) - 1);
        if (n < 0)
                return -errno;
        target[n] = '\0';
        return symlinkat(target, to, name) < 0 ? -errno : 0;
}

int ws_copy_fd(int in, int out)
{
        for (;;) {
                ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
                if (n == 0)
                        return 0;
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP ||
                            errno == ENOSYS || errno == EBADF)
                                break; /* not offered here: plain copy */
                        return -errno;
                }
        }
        char buf[65536];
        for (;;) {
                ssize_t n = read(in, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return 0;
                for (ssize_t done = 0; done < n;) {
                        ssize_t w = write(out, buf + done, (size_t)(n - done));
                        if (w < 0 && errno == EINTR)
                                continue;
                        if (w < 0)
                                return -errno;
                        done += w;
                }
        }
}

/* Open a directory to empty it. A directory the agent made read-only (or
 * overlayfs' own work/work, mode 000) is made accessible first: it is ours. */
static int ws_open_dir_for_removal(int dirfd, const char *name)
{
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == EACCES) {
                cleanup_fd int path_fd =
                    openat(dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (path_fd < 0)
                        return -errno;
                /* chmod through the O_PATH fd: the inode we opened, not a name
                 * that could have been swapped for a symlink meanwhile */
                char proc[64];
                snprintf(proc, sizeof(proc), "/proc/self/fd/%d", path_fd);
                if (chmod(proc, 0700) < 0)
                        return -errno;
                fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (fd < 0)
                return -errno;
        struct stat st;
        /* entries can only be unlinked from a directory we may write */
        if (fstat(fd, &st) == 0 && (st.st_mode & 0700) != 0700 &&
            fchmod(fd, (st.st_mode & 07777) | 0700) < 0 && geteuid() != 0) {
                int e = errno;
                close(fd);
                return -e;
        }
        return fd;
}

/* Removal holds one directory fd (and one listing batch) per level: the
 * tree is the agent's, so past this depth a subdirectory is moved up to the
 * top directory being removed (a rename inside one filesystem, never a path
 * walk) and taken apart in a later pass. No depth costs more than this many
 * fds. */
#define WS_REMOVE_MAX_DEPTH 64

struct ws_removal {
        int top;         /* the directory being removed */
        unsigned moved;  /* subtrees moved up in this pass */
        unsigned serial; /* for their names */
        int result;      /* the first failure; the removal goes on past it */
};

static void ws_removal_failed(struct ws_removal *rm, int r)
{
        if (r < 0 && rm->result == 0)
                rm->result = r;
}

/* Post-order: a directory's entries go first, then the directory. */
static int ws_remove_visit(const struct walk_entry *e, void *context, struct reins_error *err)
{
        (void)err;
        struct ws_removal *rm = context;
        if (e->visit == WALK_LEAF) {
                if (unlinkat(e->dirfd, e->name, 0) < 0 && errno != ENOENT)
                        ws_removal_failed(rm, -errno);
                return WALK_NEXT;
        }
        if (e->visit == WALK_DIR_POST) {
                if (!e->unwinding && unlinkat(e->dirfd, e->name, AT_REMOVEDIR) < 0 &&
                    errno != ENOENT)
                        ws_removal_failed(rm, -errno);
                return WALK_NEXT;
        }
        if (unlinkat(e->dirfd, e->name, AT_REMOVEDIR) == 0)
                return WALK_SKIP; /* already empty */
        if (e->too_deep) {
                char moved[64];
                snprintf(moved, sizeof(moved), ".reins-rm-%d-%u", (int)getpid(), rm->serial++);
                if (renameat(e->dirfd, e->name, rm->top, moved) < 0)
                        ws_removal_failed(rm, -errno);
                else
                        rm->moved++;
                return WALK_SKIP;
        }
        int fd = ws_open_dir_for_removal(e->dirfd, e->name);
        if (fd < 0) {
                ws_removal_failed(rm, fd);
                return WALK_SKIP;
        }
        *e->open_fd = fd;
        return WALK_NEXT;
}

int ws_remove_tree_at(int dirfd, const char *name)
{
        if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
                return 0;
        if (errno != EISDIR && errno != EPERM)
                return -errno;
        struct stat st;
        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISDIR(st.st_mode))
                return unlinkat(dirfd, name, 0) < 0 ? -errno : 0;
        cleanup_fd int fd = ws_open_dir_for_removal(dirfd, name);
        if (fd < 0)
                return fd;
        struct ws_removal rm = {.top = fd};
        /* names are held one batch a level, never a whole listing: a
         * directory of any width is removed */
        struct walk_options options = {
            .visit = ws_remove_visit,
            .context = &rm,
            .post_order = true,
            .max_depth = WS_REMOVE_MAX_DEPTH - 1,
        };
        /* each pass removes WS_REMOVE_MAX_DEPTH levels at least; what lay
         * deeper now waits at the top */
        do {
                rm.moved = 0;
                int r = walk_tree(fd, &options, NULL);
                ws_removal_failed(&rm, r < 0 ? r : r > 0 ? -E2BIG : 0);
        } while (rm.result == 0 && rm.moved > 0);
        if (rm.result < 0)
                return rm.result;
        if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

unsigned ws_overlay_xattrs(int dirfd, const char *name)
{
        /* the directory through its fd, the last component not followed
         * (llistxattr): the entry itself, even when it is a symlink. One
         * call per entry: this runs for every entry of the upper dir. */
        char path[PATH_MAX];
        if (snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", dirfd, name) >= (int)sizeof(path))
                return 0;
        char list[4096];
        ssize_t n = llistxattr(path, list, sizeof(list));
        if (n < 0 && errno == ERANGE)
                return WS_XATTR_UNKNOWN; /* a huge list: someone is playing games */
        if (n <= 0)
                return 0;
        static const struct {
                const char *suffix;
                unsigned flag;
        } known[] = {
            {"whiteout", WS_XATTR_WHITEOUT}, {"origin", WS_XATTR_ORIGIN},
            {"redirect", WS_XATTR_REDIRECT}, {"metacopy", WS_XATTR_METACOPY},
            {"opaque", WS_XATTR_OPAQUE},
        };
        unsigned flags = 0;
        for (const char *key = list; key < list + n; key += strlen(key) + 1) {
                const char *suffix = NULL;
                if (strncmp(key, "trusted.overlay.", 16) == 0)
                        suffix = key + 16;
                else if (strncmp(key, "user.overlay.", 13) == 0)
                        suffix = key + 13;
                if (!suffix)
                        continue;
                for (size_t i = 0; i < ARRAY_SIZE(known); i++)
                        if (strcmp(suffix, known[i].suffix) == 0)
                                flags |= known[i].flag;
        }
        return flags;
}

bool ws_is_opaque_dir(int fd)
{
        static const char *const keys[] = {"trusted.overlay.opaque", "user.overlay.opaque"};
        for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
                char buf[8];
                ssize_t n = fgetxattr(fd, keys[i], buf, sizeof(buf));
                if (n >= 1 && buf[0] == 'y')
                        return true;
        }
        return false;
}
