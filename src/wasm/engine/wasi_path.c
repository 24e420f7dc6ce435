/* The path_* calls of WASI preview 1 and the checks every path passes.
 *
 * A path the module names is relative to one of its directory
 * descriptors, which descend from a preopen (the workspace, the policy's
 * read and write paths). Three layers keep it there:
 *  1. lexically: absolute paths and `..` that climbs above the preopen
 *     are refused before any system call (EPERM, as wasmtime and the WASI
 *     test suite have it, and an event);
 *  2. by the kernel: every lookup is openat2(RESOLVE_BENEATH |
 *     RESOLVE_NO_MAGICLINKS) from the directory, so a symlink (planted by
 *     the module or anyone) that points out of the preopen fails (EXDEV),
 *     whatever the string looked like;
 *  3. the object opened is checked again by its real path
 *     (/proc/self/fd): a symlink inside the preopen to a denied file
 *     (notes -> .env) is refused like the file itself.
 * deny globs refuse any access (EACCES); protect and read-only preopens
 * refuse every change (EACCES, EROFS). The container sandbox around the
 * engine enforces the same deny/protect by its mounts: two locks. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "engine.h"
#include "wasi.h"
#include "util/glob.h"

#define LOOKUP_SYMLINK_FOLLOW 1
#define OFLAG_CREAT           1
#define OFLAG_DIRECTORY       2
#define OFLAG_EXCL            4
#define OFLAG_TRUNC           8
#define RIGHT_FD_READ         (1ULL << 1)
#define RIGHT_FD_WRITE        (1ULL << 6)
#define RIGHT_FD_ALLOCATE     (1ULL << 8)
#define RIGHT_FD_READDIR      (1ULL << 14)
#define RIGHT_FD_SET_SIZE     (1ULL << 22)
/* a file's rights when none were asked: all but writing, or all but reading */
#define RIGHTS_READ_FILE                                                                           \
        (WASI_RIGHTS_ALL & ~(RIGHT_FD_WRITE | RIGHT_FD_ALLOCATE | RIGHT_FD_SET_SIZE))
#define RIGHTS_WRITE_FILE (WASI_RIGHTS_ALL & ~(RIGHT_FD_READ | RIGHT_FD_READDIR))

static int open_beneath(int dir, const char *path, uint64_t flags, uint64_t mode)
{
        struct open_how how = {.flags = flags | O_CLOEXEC,
                               .mode = (flags & O_CREAT) ? mode : 0,
                               .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
        if (engine.weak_beneath)
                how.resolve = 0;
        int fd;
        do
                fd = (int)syscall(SYS_openat2, dir, path, &how, sizeof(how));
        while (fd < 0 && errno == EAGAIN);
        return fd;
}

/* A deny glob matching `path` or one of its ancestors (a denied directory
 * denies what it holds), or NULL. */
const char *engine_denied(const char *path)
{
        char prefix[PATH_MAX];
        size_t len = strlen(path);
        if (len >= sizeof(prefix))
                return "path too long";
        for (size_t end = 1; end <= len; end++) {
                if (end < len && path[end] != '/')
                        continue;
                memcpy(prefix, path, end);
                prefix[end] = '\0';
                for (int i = 0; i < engine.deny_count; i++)
                        if (glob_match(engine.deny[i], prefix))
                                return engine.deny[i];
        }
        return NULL;
}

static bool under(const char *path, const char *dir)
{
        size_t n = strlen(dir);
        return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* At or below a protected path, or (for renames and removals) an ancestor
 * of one: replacing the ancestor would replace what it protects. */
bool engine_protected(const char *path)
{
        for (int i = 0; i < engine.protect_count; i++)
                if (under(path, engine.protect[i]) || under(engine.protect[i], path))
                        return true;
        return false;
}

/* The module's path string: bounded, no NUL inside. */
static int path_copy(u32 ptr, u32 len, char out[PATH_MAX])
{
        if (len >= PATH_MAX)
                return -WASI_ENAMETOOLONG;
        uint8_t *at = engine_mem(ptr, len);
        if (!at)
                return -WASI_EFAULT;
        if (memchr(at, '\0', len))
                return -WASI_EINVAL;
        memcpy(out, at, len);
        out[len] = '\0';
        return 0;
}

/* dir's path joined with rel, `.` and `..` folded; -EPERM when it
 * is absolute or climbs above dir's preopen. */
static int path_fold(const struct engine_fd *dir, const char *rel, char out[PATH_MAX])
{
        if (engine.weak_beneath) {
                snprintf(out, PATH_MAX, "%s", rel);
                return 0;
        }
        if (rel[0] == '/')
                return -WASI_EPERM;
        size_t len = strlen(dir->path);
        if (len >= PATH_MAX)
                return -WASI_ENAMETOOLONG;
        memcpy(out, dir->path, len + 1);
        const char *p = rel;
        while (*p) {
                size_t n = strcspn(p, "/");
                if (n == 0 || (n == 1 && p[0] == '.')) {
                } else if (n == 2 && p[0] == '.' && p[1] == '.') {
                        if (len <= dir->root_len)
                                return -WASI_EPERM;
                        while (len > dir->root_len && out[len - 1] != '/')
                                len--;
                        if (len > 1)
                                len--; /* the slash, unless it is the root's */
                        out[len] = '\0';
                } else {
                        if (len + 1 + n >= PATH_MAX)
                                return -WASI_ENAMETOOLONG;
                        if (len > 1)
                                out[len++] = '/';
                        memcpy(out + len, p, n);
                        len += n;
                        out[len] = '\0';
                }
                p += n;
                while (*p == '/')
                        p++;
        }
        return 0;
}

/* The checks before any system call: `write` for calls that change the
 * tree. 0, or a WASI errno (negative). */
static int path_check(const struct engine_fd *dir, const char *op, const char *rel, bool write,
                      char abs[PATH_MAX])
{
        int r = path_fold(dir, rel, abs);
        if (r == -WASI_EPERM) {
                char shown[PATH_MAX + 64];
                snprintf(shown, sizeof(shown), "%s + %s", dir->path, rel);
                engine_event_denied(op, shown, rel[0] == '/' ? "absolute path" : "outside");
        }
        if (r < 0)
                return r;
        const char *rule = engine_denied(abs);
        if (rule) {
                engine_event_denied(op, abs, rule);
                return -WASI_EACCES;
        }
        if (write && !dir->writable_tree)
                return -WASI_EROFS;
        if (write && engine_protected(abs)) {
                engine_event_denied(op, abs, "protect");
                return -WASI_EACCES;
        }
        return 0;
}

/* After the kernel resolved it: the object's own path, checked again. */
static int path_check_opened(int fd, const char *op, bool write)
{
        char link[64], real[PATH_MAX];
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, real, sizeof(real) - 1);
        if (n < 0 || engine.weak_beneath)
                return 0; /* no /proc: the lexical and kernel checks stand */
        real[n] = '\0';
        const char *rule = engine_denied(real);
        if (rule) {
                engine_event_denied(op, real, rule);
                return -WASI_EACCES;
        }
        if (write && engine_protected(real)) {
                engine_event_denied(op, real, "protect");
                return -WASI_EACCES;
        }
        return 0;
}

/* The parent directory of rel (beneath dir) and its last component. The
 * parent fd is the caller's to close when it is not dir->host. */
struct parent {
        int fd;
        bool owned;
        char last[NAME_MAX + 2]; /* and a trailing slash when the path had one */
};

static int parent_open(const struct engine_fd *dir, char *rel, struct parent *out)
{
        size_t len = strlen(rel), end = len, start;
        while (end > 1 && rel[end - 1] == '/')
                end--;
        for (start = end; start > 0 && rel[start - 1] != '/';)
                start--;
        size_t n = end - start;
        if (n > NAME_MAX)
                return -WASI_ENAMETOOLONG;
        if (n == 0 || (n == 1 && rel[start] == '.') ||
            (n == 2 && rel[start] == '.' && rel[start + 1] == '.'))
                return -WASI_EINVAL;
        /* a trailing slash stays: the kernel then says ENOTDIR for a file
         * (unlink("file/"), rename("file/", ...)) as POSIX wants */
        memcpy(out->last, rel + start, n);
        if (end < len)
                out->last[n++] = '/';
        out->last[n] = '\0';
        if (start == 0) {
                out->fd = dir->host;
                out->owned = false;
                return 0;
        }
        char saved = rel[start];
        rel[start] = '\0';
        out->fd = open_beneath(dir->host, rel, O_PATH | O_DIRECTORY, 0);
        rel[start] = saved;
        if (out->fd < 0)
                return -(int)engine_errno(errno);
        out->owned = true;
        return 0;
}

static void parent_close(struct parent *p)
{
        if (p->owned && p->fd >= 0)
                close(p->fd);
        p->fd = -1;
}

/* Common entry of the calls that name one path. */
static int path_begin(u32 fd, u32 ptr, u32 len, const char *op, bool write, char rel[PATH_MAX],
                      char abs[PATH_MAX], struct engine_fd **dir)
{
        *dir = engine_fd_get(fd);
        if (!*dir)
                return -WASI_EBADF;
        if ((*dir)->filetype != WASI_FILETYPE_DIRECTORY)
                return -WASI_ENOTDIR;
        int r = path_copy(ptr, len, rel);
        if (r < 0)
                return r;
        return path_check(*dir, op, rel, write, abs);
}

u32 Z_wasi_snapshot_preview1Z_path_open(wasi_t *w, u32 fd, u32 lookup, u32 path, u32 path_len,
                                        u32 oflags, u64 rights_base, u64 rights_inheriting,
                                        u32 fdflags, u32 result)
{
        (void)w;
        char rel[PATH_MAX], abs[PATH_MAX];
        struct engine_fd *dir;
        bool write_rights =
            (rights_base & (RIGHT_FD_WRITE | RIGHT_FD_ALLOCATE | RIGHT_FD_SET_SIZE)) != 0;
        bool creating = (oflags & (OFLAG_CREAT | OFLAG_TRUNC)) != 0;
        bool want_write = (write_rights || creating) && !(oflags & OFLAG_DIRECTORY);
        bool want_read = (rights_base & (RIGHT_FD_READ | RIGHT_FD_READDIR)) != 0;
        /* creating or truncating changes the tree whatever the target is:
         * checked before; write rights on what may be a directory (opened
         * read-only then, as WASI programs expect of ".") after */
        int r = path_begin(fd, path, path_len, "open", creating, rel, abs, &dir);
        if (r < 0)
                return (u32)-r;
        if (!engine_mem(result, 4))
                return WASI_EFAULT;
        uint64_t flags = want_write ? (want_read ? O_RDWR : O_WRONLY) : O_RDONLY;
        flags |= (oflags & OFLAG_CREAT) ? O_CREAT : 0;
        flags |= (oflags & OFLAG_DIRECTORY) ? O_DIRECTORY : 0;
        flags |= (oflags & OFLAG_EXCL) ? O_EXCL : 0;
        flags |= (oflags & OFLAG_TRUNC) ? O_TRUNC : 0;
        flags |= (fdflags & WASI_FDFLAG_APPEND) ? O_APPEND : 0;
        flags |= (fdflags & WASI_FDFLAG_NONBLOCK) ? O_NONBLOCK : 0;
        flags |= (fdflags & WASI_FDFLAG_DSYNC) ? O_DSYNC : 0;
        flags |= (fdflags & (WASI_FDFLAG_SYNC | WASI_FDFLAG_RSYNC)) ? O_SYNC : 0;
        if (!(lookup & LOOKUP_SYMLINK_FOLLOW))
                flags |= O_NOFOLLOW;
        if (want_write && !dir->writable_tree) {
                /* a read-only preopen: a directory may still be opened */
                flags = (flags & ~(uint64_t)(O_WRONLY | O_RDWR | O_APPEND)) | O_DIRECTORY;
        }
        int host = open_beneath(dir->host, rel[0] ? rel : ".", flags, 0666);
        if (host < 0 && want_write && !dir->writable_tree && errno == ENOTDIR)
                return WASI_EROFS;
        if (host < 0 && errno == EISDIR && want_write && want_read && !creating) {
                /* read and write rights asked of a directory (a program
                 * reopening "." with the rights it has): it opens for
                 * reading; a write-only open stays EISDIR, as POSIX says */
                flags = (flags & ~(uint64_t)(O_WRONLY | O_RDWR | O_APPEND)) | O_DIRECTORY;
                host = open_beneath(dir->host, rel[0] ? rel : ".", flags, 0666);
        }
        if (host < 0)
                return engine_errno(errno);
        /* O_DIRECTORY with the right to write: no directory can be written */
        if ((oflags & OFLAG_DIRECTORY) && (rights_base & RIGHT_FD_WRITE)) {
                close(host);
                return WASI_EISDIR;
        }
        bool wrote = (flags & (O_WRONLY | O_RDWR)) != 0;
        if ((r = path_check_opened(host, "open", wrote)) < 0) {
                close(host);
                return (u32)-r;
        }
        struct stat st;
        if (fstat(host, &st) < 0) {
                int saved = errno;
                close(host);
                return engine_errno(saved);
        }
        uint8_t type = S_ISDIR(st.st_mode)   ? WASI_FILETYPE_DIRECTORY
                       : S_ISREG(st.st_mode) ? WASI_FILETYPE_REGULAR_FILE
                       : S_ISCHR(st.st_mode) ? WASI_FILETYPE_CHARACTER_DEVICE
                                             : WASI_FILETYPE_UNKNOWN;
        int slot = engine_fd_install(host, type, abs, dir);
        if (slot < 0)
                return (u32)-slot;
        /* rights as wasmtime reports them: what was asked for, or, when
         * nothing was (a directory reopened with rights 0), what its mode
         * allows. They are informative: what the descriptor may do is what
         * the host descriptor was opened for (O_RDONLY cannot write). */
        struct engine_fd *e = &engine.fds[slot];
        e->rights_base = rights_base;
        if (!rights_base)
                e->rights_base = type == WASI_FILETYPE_DIRECTORY ? WASI_RIGHTS_ALL
                                 : want_write ? (want_read ? WASI_RIGHTS_ALL : RIGHTS_WRITE_FILE)
                                              : RIGHTS_READ_FILE;
        e->rights_inheriting = rights_inheriting ? rights_inheriting : WASI_RIGHTS_ALL;
        engine_store_u32(result, (uint32_t)slot);
        return WASI_ESUCCESS;
}

u32 Z_wasi_snapshot_preview1Z_path_create_directory(wasi_t *w, u32 fd, u32 path, u32 len)
{
        (void)w;
        char rel[PATH_MAX], abs[PATH_MAX];
        struct engine_fd *dir;
        struct parent p = {.fd = -1};
        int r = path_begin(fd, path, len, "mkdir", true, rel, abs, &dir);
        if (r < 0 || (r = parent_open(dir, rel, &p)) < 0)
                return (u32)-r;
        r = mkdirat(p.fd, p.last, 0777) < 0 ? errno : 0;
        parent_close(&p);
        return engine_errno(r);
}

/* stat of rel, following a last symlink or not; `.` and `..` as last
 * components are resolved whole (their parent could be above the root). */
static int stat_beneath(struct engine_fd *dir, char *rel, bool follow, struct stat *st)
{
        struct parent p = {.fd = -1};
        int r = parent_open(dir, rel, &p);
        if (r == -WASI_EINVAL || follow) {
                if (r == 0)
                        parent_close(&p);
                int fd = open_beneath(dir->host, rel[0] ? rel : ".", O_PATH, 0);
                if (fd < 0)
                        return -(int)engine_errno(errno);
                if ((r = path_check_opened(fd, "stat", false)) == 0 && fstat(fd, st) < 0)
                        r = -(int)engine_errno(errno);
                close(fd);
                return r;
        }
        if (r < 0)
                return r;
        r = fstatat(p.fd, p.last, st, AT_SYMLINK_NOFOLLOW) < 0 ? -(int)engine_errno(errno) : 0;
        parent_close(&p);
        return r;
}

u32 Z_wasi_snapshot_preview1Z_path_filestat_get(wasi_t *w, u32 fd, u32 lookup, u32 path, u32 len,
                                                u32 buf)
{
        (void)w;
        char rel[PATH_MAX], abs[PATH_MAX];
        struct engine_fd *dir;
        int r = path_begin(fd, path, len, "stat", false, rel, abs, &dir);
        if (r < 0)
                return (u32)-r;
        struct stat st;
        if ((r = stat_beneath(dir, rel, lookup & LOOKUP_SYMLINK_FOLLOW, &st)) < 0)
                return (u32)-r;
        return engine_store_filestat(buf, &st) ? WASI_ESUCCESS : WASI_EFAULT;
}

u32 Z_wasi_snapshot_preview1Z_path_filestat_set_times(wasi_t *w, u32 fd, u32 lookup, u32 path,
                                                      u32 len, u64 atim, u64 mtim, u32 fst)
{
        (void)w;
        char rel[PATH_MAX], abs[PATH_MAX];
        struct engine_fd *dir;
        struct timespec ts[2];
        int r = path_begin(fd, path, len, "utimes", true, rel, abs, &dir);
        if (r < 0 || (r = engine_times(atim, mtim, fst, ts)) < 0)
                return (u32)-r;
        /* through an fd opened beneath, so a symlink cannot aim it out */
        uint64_t flags = O_PATH | ((lookup & LOOKUP_SYMLINK_FOLLOW) ? 0 : O_NOFOLLOW);
        int host = open_beneath(dir->host, rel[0] ? rel : ".", flags, 0);
        if (host < 0)
                return engine_errno(errno);
        if ((r = path_check_opened(host, "utimes", true)) < 0) {
                close(host);
                return (u32)-r;
        }
        char link[64];
        snprintf(link, sizeof(link), "/proc/self/fd/%d", host);
        r = utimensat(AT_FDCWD, link, ts, 0) < 0 ? errno : 0;
        close(host);
        return engine_errno(r);
}

u32 Z_wasi_snapshot_preview1Z_path_link(wasi_t *w, u32 old_fd, u32 old_lookup, u32 old_path,
                                        u32 old_len, u32 new_fd, u32 new_path, u32 new_len)
{
        (void)w;
        (void)old_lookup; /* never followed: a link's target could be anywhere */
        char old_rel[PATH_MAX], old_abs[PATH_MAX], new_rel[PATH_MAX], new_abs[PATH_MAX];
        struct engine_fd *old_dir, *new_dir;
        struct parent from = {.fd = -1}, to = {.fd = -1};
        int r = path_begin(old_fd, old_path, old_len, "link", true, old_rel, old_abs, &old_dir);
        if (r < 0 ||
            (r = path_begin(new_fd, new_path, new_len, "link", true, new_rel, new_abs, &new_dir)) <
                0 ||
            (r = parent_open(old_dir, old_rel, &from)) < 0)
                return (u32)-r;
        if ((r = parent_open(new_dir, new_rel, &to)) < 0) {
                parent_close(&from);
                return (u32)-r;
        }
        r = linkat(from.fd, from.last, to.fd, to.last, 0) < 0 ? errno : 0;
        parent_close(&from);
        parent_close(&to);
        return engine_errno(r);
}

u32 Z_wasi_snapshot_preview1Z_path_readlink(wasi_t *w, u32 fd, u32 path, u32 len, u32 buf,
                                            u32 buf_len, u32 bufused)
{
        (void)w;
        char rel[PATH_MAX], abs[PATH_MAX];
        struct engine_fd *dir;
        struct parent p = {.fd = -1};
        int r = path_begin(fd, path, len, "readlink", false, rel, abs, &dir);
        if (r < 0 || (r = parent_open(dir, rel, &p)) < 0)
                return (u32)-r;
        uint8_t *out = engine_mem(buf, buf_len);
        if (!out || !engine_mem(bufused, 4)) {
                parent_close(&p);
                return WASI_EFAULT;
        }
        char target[PATH_MAX];
        ssize_t n = readlinkat(p.fd, p.last, target, sizeof(target));
        int saved = errno;
        parent_close(&p);
        if (n < 0)
                return engine_errno(saved);
        size_t copy = (size_t)n < buf_len ? (size_t)n : buf_len;
        memcpy(out, target, copy);
        engine_store_u32(bufused, (uint32_t)copy);
        return WASI_ESUCCESS;
}

static u32 remove_at(u32 fd, u32 path, u32 len, int flags, const char *op)
{
        char rel[PATH_MAX], abs[PATH_MAX];
        struct engine_fd *dir;
        struct parent p = {.fd = -1};
        int r = path_begin(fd, path, len, op, true, rel, abs, &dir);
        if (r < 0 || (r = parent_open(dir, rel, &p)) < 0)
                return (u32)-r;
        r = unlinkat(p.fd, p.last, flags) < 0 ? errno : 0;
        parent_close(&p);
        /* POSIX says EISDIR for unlink of a directory; Linux says EPERM */
        if (r == EPERM && flags == 0)
                r = EISDIR;
        return engine_errno(r);
}

u32 Z_wasi_snapshot_preview1Z_path_remove_directory(wasi_t *w, u32 fd, u32 path, u32 len)
{
        (void)w;
        return remove_at(fd, path, len, AT_REMOVEDIR, "rmdir");
}

u32 Z_wasi_snapshot_preview1Z_path_unlink_file(wasi_t *w, u32 fd, u32 path, u32 len)
{
        (void)w;
        return remove_at(fd, path, len, 0, "unlink");
}

u32 Z_wasi_snapshot_preview1Z_path_rename(wasi_t *w, u32 fd, u32 old_path, u32 old_len, u32 new_fd,
                                          u32 new_path, u32 new_len)
{
        (void)w;
        char old_rel[PATH_MAX], old_abs[PATH_MAX], new_rel[PATH_MAX], new_abs[PATH_MAX];
        struct engine_fd *old_dir, *new_dir;
        struct parent from = {.fd = -1}, to = {.fd = -1};
        int r = path_begin(fd, old_path, old_len, "rename", true, old_rel, old_abs, &old_dir);
        if (r < 0 ||
            (r = path_begin(new_fd, new_path, new_len, "rename", true, new_rel, new_abs,
                            &new_dir)) < 0 ||
            (r = parent_open(old_dir, old_rel, &from)) < 0)
                return (u32)-r;
        if ((r = parent_open(new_dir, new_rel, &to)) < 0) {
                parent_close(&from);
                return (u32)-r;
        }
        r = renameat(from.fd, from.last, to.fd, to.last) < 0 ? errno : 0;
        parent_close(&from);
        parent_close(&to);
        return engine_errno(r);
}

u32 Z_wasi_snapshot_preview1Z_path_symlink(wasi_t *w, u32 old_path, u32 old_len, u32 fd,
                                           u32 new_path, u32 new_len)
{
        (void)w;
        char target[PATH_MAX], rel[PATH_MAX], abs[PATH_MAX];
        struct engine_fd *dir;
        struct parent p = {.fd = -1};
        int r = path_copy(old_path, old_len, target);
        if (r < 0)
                return (u32)-r;
        /* an absolute target names the sandbox's tree, not the preopen: it
         * could never be followed here, and on the host it would point at
         * the host's files */
        if (target[0] == '/') {
                engine_event_denied("symlink", target, "absolute path");
                return WASI_EPERM;
        }
        if ((r = path_begin(fd, new_path, new_len, "symlink", true, rel, abs, &dir)) < 0 ||
            (r = parent_open(dir, rel, &p)) < 0)
                return (u32)-r;
        r = symlinkat(target, p.fd, p.last) < 0 ? errno : 0;
        parent_close(&p);
        return engine_errno(r);
}
