/* Landlock at the best ABI the kernel offers (DESIGN §4). The mount
 * namespace decides what exists in the sandbox; Landlock decides, per path,
 * what may be done with it, so a mistake in the mount tree (or a mount the
 * kernel lets a process make) does not widen access beyond the plan. */
#include "sandbox/landlock.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <linux/openat2.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/weaken.h"
#include "util/cleanup.h"

/* The installed uapi header may predate the running kernel: the values
 * below are kernel ABI and never change. */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13) /* ABI 2 */
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14) /* ABI 3 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
#endif
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0) /* ABI 6 */
#endif
#ifndef LANDLOCK_SCOPE_SIGNAL
#define LANDLOCK_SCOPE_SIGNAL (1ULL << 1) /* ABI 6 */
#endif

/* struct landlock_ruleset_attr as of ABI 6; the kernel is told how much of
 * it to read, so older kernels see only the fields they know. */
struct landlock_ruleset_attr_v6 {
        uint64_t handled_access_fs;
        uint64_t handled_access_net; /* ABI 4; left 0: the network namespace rules the network */
        uint64_t scoped;             /* ABI 6 */
};

#define ACCESS_FS_ABI1                                                                             \
        (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |                              \
         LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR |                              \
         LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |                          \
         LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR |                              \
         LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK |                              \
         LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |                            \
         LANDLOCK_ACCESS_FS_MAKE_SYM)

/* The rights that apply to a non-directory; a rule on a file with any other
 * right is refused by the kernel (EINVAL). */
#define ACCESS_FS_FILE                                                                             \
        (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |                              \
         LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE |                              \
         LANDLOCK_ACCESS_FS_IOCTL_DEV)

int landlock_abi_version(void)
{
        long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
        return abi < 0 ? 0 : (int)abi;
}

/* Every filesystem right the kernel knows: all of them are denied unless a
 * rule grants them. */
static uint64_t handled_access_fs(int abi)
{
        uint64_t access = ACCESS_FS_ABI1;
        if (abi >= 2)
                access |= LANDLOCK_ACCESS_FS_REFER;
        if (abi >= 3)
                access |= LANDLOCK_ACCESS_FS_TRUNCATE;
        if (abi >= 5)
                access |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
        return access;
}

/* What a plan rule grants, before restriction to the ABI and to files. */
static uint64_t rule_access(enum landlock_access access)
{
        switch (access) {
        case LANDLOCK_RULE_READ_EXEC:
                return LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE |
                       LANDLOCK_ACCESS_FS_READ_DIR;
        case LANDLOCK_RULE_READ_WRITE:
                return UINT64_MAX;
        case LANDLOCK_RULE_DEVICE:
                /* No TRUNCATE: open(O_TRUNC) on a device ignores O_TRUNC. */
                return LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE |
                       LANDLOCK_ACCESS_FS_IOCTL_DEV | LANDLOCK_ACCESS_FS_READ_DIR;
        case LANDLOCK_RULE_LIST_DIR:
                return LANDLOCK_ACCESS_FS_READ_DIR;
        }
        return 0; /* unknown class: grant nothing */
}

/* Open the rule's path without following symlinks anywhere along it: a
 * link planted in a writable tree must not redirect a grant elsewhere.
 * Returns the fd, or -errno. */
static int open_rule_path(const char *path)
{
        struct open_how how = {
            .flags = O_PATH | O_CLOEXEC,
            .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        long fd = syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
        return fd < 0 ? -errno : (int)fd;
}

static int add_rule(int ruleset_fd, const struct landlock_rule *rule, uint64_t handled,
                    struct reins_error *err)
{
        cleanup_fd int fd = open_rule_path(rule->path);
        if (fd == -ENOENT)
                return 0; /* nothing there, nothing to grant */
        if (fd == -ELOOP)
                return reins_error_set(
                    err, ELOOP, "landlock: rule path %s goes through a symbolic link", rule->path);
        if (fd < 0)
                return reins_error_errno(err, -fd, "landlock: opening %s", rule->path);
        struct stat st;
        if (fstat(fd, &st) < 0)
                return reins_error_errno(err, errno, "landlock: fstat %s", rule->path);
        uint64_t access = rule_access(rule->access) & handled;
        if (!S_ISDIR(st.st_mode))
                access &= ACCESS_FS_FILE;
        if (access == 0)
                return 0; /* e.g. "list directory" on a file: grants nothing */
        struct landlock_path_beneath_attr beneath = {.allowed_access = access, .parent_fd = fd};
        if (syscall(SYS_landlock_add_rule, ruleset_fd, LANDLOCK_RULE_PATH_BENEATH, &beneath, 0) < 0)
                return reins_error_errno(err, errno, "landlock: adding a rule for %s", rule->path);
        return 0;
}

/* The rights that re-opening a standard fd by /proc/self/fd/N or /dev/stdout
 * needs: what the fd was opened for, no more. TRUNCATE comes with write, as
 * on the host, where `echo x >/dev/stdout` empties the caller's file too. */
static uint64_t stdio_access(int fd, const struct stat *st)
{
        int flags = fcntl(fd, F_GETFL);
        if (flags < 0)
                return 0;
        uint64_t access = 0;
        int mode = flags & O_ACCMODE;
        if (mode == O_RDONLY || mode == O_RDWR)
                access |= LANDLOCK_ACCESS_FS_READ_FILE;
        if (mode == O_WRONLY || mode == O_RDWR) {
                access |= LANDLOCK_ACCESS_FS_WRITE_FILE;
                if (S_ISREG(st->st_mode))
                        access |= LANDLOCK_ACCESS_FS_TRUNCATE;
        }
        if (S_ISCHR(st->st_mode))
                access |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
        return access;
}

/* `cmd >/dev/stdout`, `tee /dev/stderr`, `curl -o /dev/stdout`: the command
 * re-opens a standard fd through its /proc magic link, and Landlock checks
 * the file it lands on, which (a log file of the caller's) lies outside
 * every granted tree. A rule on that one inode, with the rights the fd
 * already carries, lets the re-open through without granting any path:
 * the file is not in the sandbox's mount view unless a bind already put it
 * there. Pipes, sockets and anonymous files need no rule (Landlock does not
 * govern them; the kernel answers EBADFD). */
static int add_stdio_rules(int ruleset_fd, uint64_t handled, struct reins_error *err)
{
        for (int fd = 0; fd <= 2; fd++) {
                struct stat st;
                if (fstat(fd, &st) < 0)
                        continue; /* closed */
                if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode) && !S_ISFIFO(st.st_mode))
                        continue;
                uint64_t access = stdio_access(fd, &st) & handled & ACCESS_FS_FILE;
                if (access == 0)
                        continue;
                struct landlock_path_beneath_attr beneath = {.allowed_access = access,
                                                             .parent_fd = fd};
                if (syscall(SYS_landlock_add_rule, ruleset_fd, LANDLOCK_RULE_PATH_BENEATH, &beneath,
                            0) < 0 &&
                    errno != EBADFD)
                        return reins_error_errno(err, errno, "landlock: adding a rule for fd %d",
                                                 fd);
        }
        return 0;
}

static int create_ruleset(int abi, struct reins_error *err)
{
        struct landlock_ruleset_attr_v6 attr = {.handled_access_fs = handled_access_fs(abi)};
        size_t size = offsetof(struct landlock_ruleset_attr_v6, handled_access_net);
        if (abi >= 4)
                size = offsetof(struct landlock_ruleset_attr_v6, scoped);
        if (abi >= 6) {
                /* Signals and abstract unix sockets reach across the mount
                 * view; scope them to this sandbox: no killing or talking to
                 * host daemons (e.g. a session bus on an abstract socket). */
                attr.scoped = LANDLOCK_SCOPE_SIGNAL | LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET;
                size = sizeof(attr);
        }
        long fd = syscall(SYS_landlock_create_ruleset, &attr, size, 0);
        if (fd < 0)
                return reins_error_errno(err, errno, "landlock: creating the ruleset (ABI %d)",
                                         abi);
        return (int)fd;
}

int landlock_apply(const struct landlock_rule *rules, size_t count, struct reins_error *err)
{
        if (weaken("landlock"))
                return 0;
        int abi = landlock_abi_version();
        if (abi < 1)
                return reins_error_set(
                    err, EOPNOTSUPP, "landlock: not available on this kernel (see 'reins doctor')");
        cleanup_fd int ruleset_fd = create_ruleset(abi, err);
        if (ruleset_fd < 0)
                return ruleset_fd;
        uint64_t handled = handled_access_fs(abi);
        for (size_t i = 0; i < count; i++) {
                int r = add_rule(ruleset_fd, &rules[i], handled, err);
                if (r < 0)
                        return r;
        }
        int r = add_stdio_rules(ruleset_fd, handled, err);
        if (r < 0)
                return r;
        if (syscall(SYS_landlock_restrict_self, ruleset_fd, 0) < 0)
                return reins_error_errno(err, errno,
                                         "landlock: restricting the process (no_new_privs unset?)");
        return 0;
}
