/* Renames onto or of a protected path answer EROFS (protect_notify.h).
 *
 * Everything read here comes from the sandbox (a path in its memory, its
 * cwd, its directory tree): it only ever chooses between "go on" and
 * "EROFS" for the sandbox's own call, and every walk stays inside the
 * sandbox's root. */
#include "sandbox/protect_notify.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/exec_notify.h"
#include "util/cleanup.h"
#include "util/bytes_json.h"

#ifndef STATX_ATTR_MOUNT_ROOT
#define STATX_ATTR_MOUNT_ROOT 0x00002000 /* Linux 5.8 */
#endif

#define FULL_PATH_MAX (2 * PATH_MAX) /* a cwd and a relative name */

bool protect_watch_wanted(const struct reins_plan *plan)
{
        /* a container's read-only paths are not the workspace's protected
         * ones: nothing of the workspace to watch */
        if (plan->root)
                return false;
        for (size_t i = 0; i < plan->mount_count; i++)
                if (plan->mounts[i].kind == MOUNT_OP_PROTECT)
                        return true;
        return false;
}

int protect_watch_init(struct protect_watch *watch, const struct reins_plan *plan)
{
        memset(watch, 0, sizeof(*watch));
        watch->workspace = plan->workspace;
        size_t count = 0;
        for (size_t i = 0; i < plan->mount_count; i++)
                count += plan->mounts[i].kind == MOUNT_OP_PROTECT;
        if (count == 0)
                return 0;
        if (count > PROTECT_WATCH_MAX)
                count = PROTECT_WATCH_MAX; /* the rest still fail, with EBUSY */
        watch->paths = calloc(count, sizeof(*watch->paths));
        watch->refused = calloc(count, sizeof(*watch->refused));
        watch->seen = calloc(count, sizeof(*watch->seen));
        if (!watch->paths || !watch->refused || !watch->seen) {
                free(watch->paths);
                free(watch->refused);
                free(watch->seen);
                memset(watch, 0, sizeof(*watch));
                return -ENOMEM;
        }
        for (size_t i = 0; i < plan->mount_count && watch->count < count; i++)
                if (plan->mounts[i].kind == MOUNT_OP_PROTECT)
                        watch->paths[watch->count++] = plan->mounts[i].target;
        return 0;
}

bool protect_notify_is_rename(int nr)
{
#ifdef __NR_rename
        if (nr == __NR_rename)
                return true;
#endif
#ifdef __NR_renameat
        if (nr == __NR_renameat)
                return true;
#endif
        return nr == __NR_renameat2;
}

/* The two names of a rename call: directory fd (AT_FDCWD for rename) and
 * the address of the path in the process's memory. */
struct rename_name {
        int dirfd;
        uint64_t address;
};

static void rename_names(const struct seccomp_notif *req, struct rename_name *from,
                         struct rename_name *to)
{
        /* the kernel reads dirfds as int: only the low 32 bits count */
#ifdef __NR_rename
        if (req->data.nr == __NR_rename) {
                *from = (struct rename_name){AT_FDCWD, req->data.args[0]};
                *to = (struct rename_name){AT_FDCWD, req->data.args[1]};
                return;
        }
#endif
        *from = (struct rename_name){(int)(uint32_t)req->data.args[0], req->data.args[1]};
        *to = (struct rename_name){(int)(uint32_t)req->data.args[2], req->data.args[3]};
}

/* What a notification needs of the process, read once and only when one of
 * its names may be protected (each read is a syscall, and most renames need
 * none of them). */
struct rename_view {
        pid_t pid;
        int root;           /* /proc/PID/root, -1 until opened */
        char cwd[PATH_MAX]; /* its cwd in the sandbox, "" until read */
};

static void rename_view_close(struct rename_view *view)
{
        if (view->root >= 0)
                close(view->root);
}

static int view_root(struct rename_view *view)
{
        if (view->root < 0) {
                char path[64];
                snprintf(path, sizeof(path), "/proc/%d/root", (int)view->pid);
                view->root = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        }
        return view->root;
}

static int view_readlink(pid_t pid, const char *link, char *out, size_t size)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, link);
        ssize_t n = readlink(path, out, size - 1);
        if (n <= 0 || (size_t)n >= size - 1)
                return -ENAMETOOLONG;
        out[n] = '\0';
        /* "socket:[…]", "anon_inode:…": no directory; "… (deleted)" does
         * not resolve below */
        return out[0] == '/' ? 0 : -ENOTDIR;
}

/* The directory a relative name starts from, as an absolute path in the
 * sandbox (its cwd or the dirfd's directory). */
static int rename_base(struct rename_view *view, int dirfd, char *out, size_t size)
{
        if (dirfd == AT_FDCWD) {
                if (!view->cwd[0] &&
                    view_readlink(view->pid, "cwd", view->cwd, sizeof(view->cwd)) < 0) {
                        view->cwd[0] = '\0';
                        return -ENOENT;
                }
                return (size_t)snprintf(out, size, "%s", view->cwd) < size ? 0 : -ENAMETOOLONG;
        }
        if (dirfd < 0)
                return -EBADF;
        char link[32];
        snprintf(link, sizeof(link), "fd/%d", dirfd);
        return view_readlink(view->pid, link, out, size);
}

/* Split `path` (absolute) in place into its directory and last name; the
 * last name NULL when it is none ("/", ".", ".."). Trailing slashes are
 * dropped, as rename does for a directory. */
static const char *split_last(char *path, const char **dir)
{
        size_t len = strlen(path);
        while (len > 1 && path[len - 1] == '/')
                path[--len] = '\0';
        char *slash = strrchr(path, '/');
        if (!slash || slash[1] == '\0')
                return NULL;
        const char *last = slash + 1;
        if (strcmp(last, ".") == 0 || strcmp(last, "..") == 0)
                return NULL;
        *slash = '\0';
        *dir = slash == path ? "/" : path;
        return last;
}

static int open_in_root(int root, const char *dir)
{
        /* RESOLVE_IN_ROOT: ".." and absolute symlinks stop at the sandbox's
         * root, exactly as they do for the sandbox's own lookups */
        struct open_how how = {.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
                               .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
        long fd = syscall(SYS_openat2, root, dir, &how, sizeof(how));
        return fd < 0 ? -errno : (int)fd;
}

/* The name as the process wrote it (NULL when unreadable or empty). */
static char *rename_read(pid_t pid, const struct rename_name *name)
{
        size_t budget = PATH_MAX, length = 0;
        char *path = exec_notify_read_string(pid, name->address, &budget, &length);
        if (path && length == 0) {
                free(path);
                return NULL;
        }
        return path;
}

/* Is the last name of `path` (trailing slashes aside) the last name of a
 * protected path? rename never follows its last component, so no other
 * name can denote one: most renames stop here, before any lookup. */
static bool protect_candidate(const struct protect_watch *watch, const char *path)
{
        if (!path)
                return false;
        size_t end = strlen(path);
        while (end > 1 && path[end - 1] == '/')
                end--;
        size_t start = end;
        while (start > 0 && path[start - 1] != '/')
                start--;
        for (size_t i = 0; i < watch->count; i++) {
                const char *base = strrchr(watch->paths[i], '/');
                base = base ? base + 1 : watch->paths[i];
                if (strlen(base) == end - start && memcmp(base, path + start, end - start) == 0)
                        return true;
        }
        return false;
}

/* `path` (relative to `dirfd`) as an absolute path in the sandbox: its
 * cwd or dirfd read through /proc/PID. */
static int rename_full_path(struct rename_view *view, int dirfd, const char *path, char *full,
                            size_t size)
{
        if (!path)
                return -EFAULT;
        if (path[0] == '/')
                return (size_t)snprintf(full, size, "%s", path) < size ? 0 : -ENAMETOOLONG;
        char base[PATH_MAX];
        int r = rename_base(view, dirfd, base, sizeof(base));
        if (r < 0)
                return r;
        return (size_t)snprintf(full, size, "%s/%s", base, path) < size ? 0 : -ENAMETOOLONG;
}

/* Which protected path does `path` (absolute in the sandbox) denote, if any
 * (-1)? It is resolved as the sandbox resolves it, below its root (`root`). */
static long protect_match(const struct protect_watch *watch, int root, const char *path)
{
        char full[FULL_PATH_MAX];
        snprintf(full, sizeof(full), "%s", path);
        const char *dir = NULL;
        const char *last = split_last(full, &dir);
        if (!last)
                return -1;
        cleanup_fd int parent = open_in_root(root, dir);
        if (parent < 0)
                return -1;
        /* only the root of a mount can be a protected path: any other name
         * renames as usual (and this costs one statx) */
        struct statx stx;
        if (statx(parent, last, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_TYPE, &stx) < 0)
                return -1;
        if ((stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
            !(stx.stx_attributes & STATX_ATTR_MOUNT_ROOT))
                return -1;
        /* the directory's path in the sandbox, symlinks and ".." resolved */
        char link[64], where[PATH_MAX];
        snprintf(link, sizeof(link), "/proc/self/fd/%d", parent);
        ssize_t n = readlink(link, where, sizeof(where) - 1);
        if (n <= 0)
                return -1;
        where[n] = '\0';
        size_t dir_len = strcmp(where, "/") == 0 ? 0 : (size_t)n;
        for (size_t i = 0; i < watch->count; i++) {
                const char *target = watch->paths[i];
                if (strncmp(target, where, dir_len) == 0 && target[dir_len] == '/' &&
                    strcmp(target + dir_len + 1, last) == 0)
                        return (long)i;
        }
        return -1;
}

#define SAME_CONTENT_MAX (1u << 20) /* larger files count as changed */

/* A regular file at `path` in the sandbox, opened for reading. It is looked
 * at first without being opened (O_PATH, last name not followed), so no
 * device, FIFO or socket the sandbox names is ever opened here. */
static int open_file_in_root(int root, const char *path, struct stat *st)
{
        struct open_how how = {.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
                               .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
        cleanup_fd int handle = (int)syscall(SYS_openat2, root, path, &how, sizeof(how));
        if (handle < 0)
                return -errno;
        if (fstat(handle, st) < 0 || !S_ISREG(st->st_mode))
                return -EINVAL;
        char again[64];
        snprintf(again, sizeof(again), "/proc/self/fd/%d", handle);
        int fd = open(again, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

static bool same_bytes(int a, int b, size_t size)
{
        char left[16384], right[16384];
        for (size_t done = 0; done < size;) {
                size_t want = size - done < sizeof(left) ? size - done : sizeof(left);
                ssize_t n = pread(a, left, want, (off_t)done);
                if (n <= 0 || pread(b, right, (size_t)n, (off_t)done) != n ||
                    memcmp(left, right, (size_t)n) != 0)
                        return false;
                done += (size_t)n;
        }
        return true;
}

/* Would renaming `source` onto the protected file `target` change what it
 * holds? git rewrites .git/config whole when it deletes or renames a
 * branch, whether or not the branch had a section: a rewrite with the same
 * bytes and mode is no attempt to change anything. Whatever is not shown to
 * be the same (a directory, a link, a large or unreadable file) counts as a
 * change. Reads at most SAME_CONTENT_MAX bytes of each. This only chooses
 * how the refusal is recorded: the rename is refused either way, so a
 * process that changes the file after it was compared gains nothing. */
static bool rename_changes(int root, const char *source, const char *target)
{
        struct stat from_st, to_st;
        cleanup_fd int from = open_file_in_root(root, source, &from_st);
        cleanup_fd int to = from >= 0 ? open_file_in_root(root, target, &to_st) : -1;
        if (from < 0 || to < 0 || from_st.st_size != to_st.st_size ||
            (from_st.st_mode & 07777) != (to_st.st_mode & 07777) ||
            (uint64_t)from_st.st_size > SAME_CONTENT_MAX)
                return true;
        return !same_bytes(from, to, (size_t)from_st.st_size);
}

/* The path as the user knows it: relative to the workspace when below it. */
static const char *protect_shown(const struct protect_watch *watch, size_t i)
{
        const char *path = watch->paths[i];
        size_t len = watch->workspace ? strlen(watch->workspace) : 0;
        if (len > 0 && strncmp(path, watch->workspace, len) == 0 && path[len] == '/')
                return path + len + 1;
        return path;
}

static const char *rename_syscall_name(int nr)
{
#ifdef __NR_rename
        if (nr == __NR_rename)
                return "rename";
#endif
#ifdef __NR_renameat
        if (nr == __NR_renameat)
                return "renameat";
#endif
        return "renameat2";
}

static json_t *protect_describe(const struct seccomp_notif *req, const struct protect_watch *watch,
                                size_t i)
{
        pid_t pid = (pid_t)req->pid;
        long inner = -1, parent = -1;
        exec_notify_proc_ids(pid, &inner, &parent);
        return json_pack("{s:o, s:s, s:s, s:I, s:I, s:o, s:s}", "path",
                         bytes_json_z(protect_shown(watch, i)), "action", "refused", "syscall",
                         rename_syscall_name(req->data.nr), "pid", (json_int_t)inner, "host_pid",
                         (json_int_t)pid, "comm", exec_notify_comm(pid), "result", "EROFS");
}

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

json_t *protect_notify_answer(int listener, const struct seccomp_notif *req,
                              struct seccomp_notif_resp *resp, struct protect_watch *watch,
                              bool describe, const char **type)
{
        /* by default the rename goes on: the kernel and the mounts decide */
        resp->error = 0;
        resp->val = 0;
        resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        *type = "file.protected_write";
        if (watch->count == 0)
                return NULL;
        pid_t pid = (pid_t)req->pid;
        struct rename_name from, to;
        rename_names(req, &from, &to);
        cleanup_free char *to_path = rename_read(pid, &to);
        cleanup_free char *from_path = rename_read(pid, &from);
        bool to_candidate = protect_candidate(watch, to_path);
        bool from_candidate = protect_candidate(watch, from_path);
        if (!to_candidate && !from_candidate)
                return NULL;
        __attribute__((cleanup(rename_view_close))) struct rename_view view = {.pid = pid,
                                                                               .root = -1};
        char to_full[FULL_PATH_MAX], from_full[FULL_PATH_MAX];
        long hit = -1;
        if (to_candidate && view_root(&view) >= 0 &&
            rename_full_path(&view, to.dirfd, to_path, to_full, sizeof(to_full)) == 0)
                hit = protect_match(watch, view.root, to_full);
        bool onto = hit >= 0;
        /* the source: when it may be protected itself, or to compare it
         * with the protected file it would replace */
        bool from_known =
            (from_candidate || onto) && view_root(&view) >= 0 &&
            rename_full_path(&view, from.dirfd, from_path, from_full, sizeof(from_full)) == 0;
        if (hit < 0 && from_candidate && from_known)
                hit = protect_match(watch, view.root, from_full);
        if (hit < 0)
                return NULL;
        /* a file renamed onto the protected one: did it hold anything new?
         * (the protected path moved away, or exchanged, always changes it) */
        bool exchange = req->data.nr == __NR_renameat2 && (req->data.args[4] & RENAME_EXCHANGE);
        bool changes = !onto || exchange || !from_known ||
                       rename_changes(view.root, from_full, watch->paths[hit]);
        /* /proc/PID was the caller's only if it still waits: a pid reused
         * since would have answered for another process */
        if (ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &req->id) < 0)
                return NULL;
        resp->flags = 0;
        resp->error = -EROFS;
        watch->refused[hit]++;
        /* recorded once per path and kind: an attempt to change it (the
         * persistence-write rule reads those) and a same-bytes rewrite */
        uint8_t kind = changes ? PROTECT_SEEN_CHANGE : PROTECT_SEEN_SAME;
        if ((watch->seen[hit] & kind) || !describe)
                return NULL;
        watch->seen[hit] |= kind;
        json_t *fields = protect_describe(req, watch, (size_t)hit);
        if (!changes) {
                *type = "file.protected_refused";
                json_object_set_new(fields, "unchanged", json_true());
        }
        return fields;
}

void protect_watch_finish(struct protect_watch *watch, struct event_bus *bus)
{
        /* paths may hold any bytes: a list of objects, not object keys */
        json_t *counts = bus ? json_array() : NULL;
        uint64_t total = 0;
        for (size_t i = 0; counts && i < watch->count; i++) {
                uint64_t recorded = (uint64_t)__builtin_popcount(watch->seen[i]);
                if (watch->refused[i] <= recorded)
                        continue;
                total += watch->refused[i] - recorded;
                json_array_append_new(counts, json_pack("{s:o, s:I}", "path",
                                                        bytes_json_z(protect_shown(watch, i)),
                                                        "count", (json_int_t)watch->refused[i]));
        }
        if (counts && total > 0)
                event_emit(bus, "file.protected_refused",
                           json_pack("{s:b, s:o, s:I}", "summary", 1, "refused", counts,
                                     "not_recorded", (json_int_t)total));
        else
                json_decref(counts);
        free(watch->paths);
        free(watch->refused);
        free(watch->seen);
        memset(watch, 0, sizeof(*watch));
}
