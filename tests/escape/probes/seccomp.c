/* seccomp coverage (ESCAPES.md row "seccomp coverage", CVE-2021-41133 class).
 *
 * Each listed syscall is tried in a forked child, twice: as the sandboxed
 * process is, and again after trying the attacker's usual first step, a nested
 * user + mount + uts namespace (full capabilities in it). A call "escaped" when
 * it succeeded, or when the kernel answered with an errno it only gives after
 * every permission check passed (EINVAL/EBADF/ENOENT/EFAULT for the deliberately
 * bad arguments below); EPERM/EACCES/ENOSYS or death by signal are "blocked".
 *
 * Also: `syscall(nr | 0x40000000)` (x32), a 32-bit `int $0x80` getpid, and a
 * syscall number far above the highest known, which must answer ENOSYS.
 * `io_uring_setup` has its own probe (iouring.c). */
#include "probe.h"

#include <linux/mount.h>
#include <sched.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/types.h>

#ifndef __NR_fsopen
#define __NR_open_tree 428
#define __NR_move_mount 429
#define __NR_fsopen 430
#define __NR_fsconfig 431
#define __NR_fsmount 432
#endif
#ifndef __NR_clone3
#define __NR_clone3 435
#endif
#ifndef __NR_mount_setattr
#define __NR_mount_setattr 442
#endif

static int g_escalate;

/* The attacker's first step: a nested user namespace with its own mount and
 * uts namespaces, where the process holds every capability. */
static int escalate(char *d, size_t n)
{
        uid_t uid = getuid();
        gid_t gid = getgid();
        if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWUTS) < 0) {
                snprintf(d, n, "escalation failed: %s", strerror(errno));
                return -1;
        }
        char buf[64];
        int fd = open("/proc/self/setgroups", O_WRONLY);
        if (fd >= 0) {
                (void)!write(fd, "deny", 4);
                close(fd);
        }
        snprintf(buf, sizeof(buf), "0 %u 1", uid);
        fd = open("/proc/self/uid_map", O_WRONLY);
        if (fd >= 0) {
                (void)!write(fd, buf, strlen(buf));
                close(fd);
        }
        snprintf(buf, sizeof(buf), "0 %u 1", gid);
        fd = open("/proc/self/gid_map", O_WRONLY);
        if (fd >= 0) {
                (void)!write(fd, buf, strlen(buf));
                close(fd);
        }
        return 0;
}

/* rc/errno of the call under test -> verdict. `reach` lists errnos that prove
 * the call got past the permission checks (0-terminated). */
static int judge(long rc, int e, const int *reach, char *d, size_t n)
{
        const char *how = g_escalate ? " (in nested userns)" : "";
        if (rc >= 0) {
                snprintf(d, n, "succeeded rc=%ld%s", rc, how);
                return 1;
        }
        for (; reach && *reach; reach++)
                if (e == *reach) {
                        snprintf(d, n, "reached the kernel: %s%s", strerror(e), how);
                        return 1;
                }
        snprintf(d, n, "%s%s", strerror(e), how);
        return 0;
}

#define PREP()                                                                        \
        do {                                                                          \
                if (g_escalate && escalate(d, n) < 0)                                 \
                        return 0;                                                     \
        } while (0)

static const int R_NONE[] = {0};

static int t_mount(char *d, size_t n)
{
        PREP();
        mkdir("/tmp/.escape-m", 0700);
        long rc = mount("none", "/tmp/.escape-m", "tmpfs", 0, "size=64k");
        return judge(rc, errno, R_NONE, d, n);
}

static int t_umount2(char *d, size_t n)
{
        PREP();
        mkdir("/tmp/.escape-u", 0700);
        /* a mount of our own to take down when mount works; otherwise a
         * non-mountpoint, which answers EINVAL only past the may_mount() check */
        mount("none", "/tmp/.escape-u", "tmpfs", 0, "size=64k");
        static const int reach[] = {EINVAL, 0};
        long rc = umount2("/tmp/.escape-u", 0);
        return judge(rc, errno, reach, d, n);
}

static int t_fsopen(char *d, size_t n)
{
        PREP();
        long rc = syscall(__NR_fsopen, "tmpfs", 0);
        return judge(rc, errno, R_NONE, d, n);
}

static int t_fsmount(char *d, size_t n)
{
        PREP();
        int fs = (int)syscall(__NR_fsopen, "tmpfs", 0);
        if (fs >= 0)
                syscall(__NR_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0);
        static const int reach[] = {EBADF, EINVAL, 0};
        long rc = syscall(__NR_fsmount, fs, 0, 0);
        return judge(rc, errno, reach, d, n);
}

static int t_open_tree(char *d, size_t n)
{
        PREP();
        static const int reach[] = {EINVAL, 0};
        long rc = syscall(__NR_open_tree, AT_FDCWD, "/dev",
                          OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
        return judge(rc, errno, reach, d, n);
}

static int t_move_mount(char *d, size_t n)
{
        PREP();
        int fd = (int)syscall(__NR_open_tree, AT_FDCWD, "/dev",
                              OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
        mkdir("/tmp/.escape-mv", 0700);
        static const int reach[] = {EBADF, EINVAL, 0};
        long rc = syscall(__NR_move_mount, fd, "", AT_FDCWD, "/tmp/.escape-mv",
                          MOVE_MOUNT_F_EMPTY_PATH);
        return judge(rc, errno, reach, d, n);
}

static int t_mount_setattr(char *d, size_t n)
{
        PREP();
        const char *target = "/tmp";
        if (g_escalate) {
                mkdir("/tmp/.escape-s", 0700);
                if (mount("none", "/tmp/.escape-s", "tmpfs", 0, "size=64k") == 0)
                        target = "/tmp/.escape-s";
        }
        struct mount_attr attr = {.attr_set = MOUNT_ATTR_NOSUID};
        long rc = syscall(__NR_mount_setattr, AT_FDCWD, target, 0, &attr, sizeof(attr));
        return judge(rc, errno, R_NONE, d, n);
}

static int t_pivot_root(char *d, size_t n)
{
        PREP();
        /* paths that do not exist: ENOENT only comes after may_mount() */
        static const int reach[] = {ENOENT, EINVAL, EBUSY, 0};
        long rc = syscall(SYS_pivot_root, "/tmp/.escape-nonexistent-a",
                          "/tmp/.escape-nonexistent-b");
        return judge(rc, errno, reach, d, n);
}

static int t_chroot(char *d, size_t n)
{
        PREP();
        long rc = chroot("/tmp");
        return judge(rc, errno, R_NONE, d, n);
}

static int t_setns(char *d, size_t n)
{
        PREP();
        int fd = open("/proc/self/ns/uts", O_RDONLY);
        if (fd < 0) {
                snprintf(d, n, "cannot open /proc/self/ns/uts: %s", strerror(errno));
                return 0;
        }
        long rc = setns(fd, CLONE_NEWUTS);
        return judge(rc, errno, R_NONE, d, n);
}

static int t_unshare_user(char *d, size_t n)
{
        long rc = unshare(CLONE_NEWUSER);
        return judge(rc, errno, R_NONE, d, n);
}

struct clone_args_v0 {
        uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

static int t_clone3(char *d, size_t n)
{
        struct clone_args_v0 args = {.flags = CLONE_NEWUSER, .exit_signal = SIGCHLD};
        long rc = syscall(__NR_clone3, &args, sizeof(args));
        if (rc == 0)
                _exit(0);
        int e = errno;
        if (rc > 0)
                waitpid((pid_t)rc, NULL, 0);
        return judge(rc, e, R_NONE, d, n);
}

static int t_bpf(char *d, size_t n)
{
        PREP();
        /* an unknown command: EINVAL from the kernel's switch, past the filter */
        static const int reach[] = {EINVAL, E2BIG, EFAULT, 0};
        long rc = syscall(SYS_bpf, 0x7fff, NULL, 0);
        return judge(rc, errno, reach, d, n);
}

static int t_keyctl(char *d, size_t n)
{
        /* KEYCTL_GET_KEYRING_ID (0) of the process keyring (-2), create=1 */
        static const int reach[] = {EINVAL, ENOKEY, EDQUOT, 0};
        long rc = syscall(SYS_keyctl, 0, -2, 1);
        return judge(rc, errno, reach, d, n);
}

static int t_add_key(char *d, size_t n)
{
        static const int reach[] = {EINVAL, EDQUOT, 0};
        long rc = syscall(SYS_add_key, "user", "reins-escape-probe", "x", 1, -2);
        return judge(rc, errno, reach, d, n);
}

static int t_perf_event_open(char *d, size_t n)
{
        /* a NULL attr: EFAULT comes from copying it, before any permission check */
        static const int reach[] = {EFAULT, EINVAL, E2BIG, 0};
        long rc = syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0);
        return judge(rc, errno, reach, d, n);
}

static int t_userfaultfd(char *d, size_t n)
{
        /* UFFD_USER_MODE_ONLY (1) is open to unprivileged callers */
        long rc = syscall(SYS_userfaultfd, O_CLOEXEC | 1);
        return judge(rc, errno, R_NONE, d, n);
}

static int t_open_by_handle_at(char *d, size_t n)
{
        PREP();
        const char *dir = "/tmp";
        if (g_escalate) {
                /* a tmpfs owned by our user namespace, where handles decode */
                mkdir("/tmp/.escape-h", 0700);
                if (mount("none", "/tmp/.escape-h", "tmpfs", 0, "size=64k") == 0)
                        dir = "/tmp/.escape-h";
        }
        /* a directory: without CAP_DAC_READ_SEARCH in the initial namespace,
         * the kernel only decodes handles of directories */
        char file[64];
        snprintf(file, sizeof(file), "%s/.escape-handle", dir);
        mkdir(file, 0700);
        struct {
                struct file_handle fh;
                unsigned char bytes[128];
        } h = {.fh.handle_bytes = 128};
        int mount_id;
        int mfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (name_to_handle_at(AT_FDCWD, file, &h.fh, &mount_id, 0) < 0) {
                /* a made-up handle: ESTALE/EINVAL mean it was decoded */
                h.fh.handle_bytes = 8;
                h.fh.handle_type = 1;
        }
        static const int reach[] = {ESTALE, EINVAL, EBADF, 0};
        long rc = syscall(SYS_open_by_handle_at, mfd, &h.fh, O_RDONLY | O_DIRECTORY);
        return judge(rc, errno, reach, d, n);
}

static int t_init_module(char *d, size_t n)
{
        static const int reach[] = {EFAULT, EINVAL, ENOEXEC, 0};
        long rc = syscall(SYS_init_module, NULL, 0, "");
        return judge(rc, errno, reach, d, n);
}

static int t_finit_module(char *d, size_t n)
{
        static const int reach[] = {EBADF, EINVAL, 0};
        long rc = syscall(SYS_finit_module, -1, "", 0);
        return judge(rc, errno, reach, d, n);
}

static int t_kexec_load(char *d, size_t n)
{
        static const int reach[] = {EINVAL, EFAULT, EBUSY, 0};
        long rc = syscall(SYS_kexec_load, 0, 0, NULL, 0);
        return judge(rc, errno, reach, d, n);
}

static int t_x32(char *d, size_t n)
{
        /* x32 getpid */
        long rc = syscall(39 | 0x40000000);
        return judge(rc, errno, R_NONE, d, n);
}

static int t_int80(char *d, size_t n)
{
        long rc;
        /* i386 getpid is 20 */
        __asm__ volatile("int $0x80" : "=a"(rc) : "a"(20L) : "memory", "cc", "r8", "r9",
                                                              "r10", "r11");
        if (rc < 0 && rc > -4096)
                return judge(-1, (int)-rc, R_NONE, d, n);
        return judge(rc, 0, R_NONE, d, n);
}

struct test {
        const char *name;
        child_fn fn;
        int escalate; /* also try from a nested user namespace */
};

static const struct test tests[] = {
        {"mount", t_mount, 1},
        {"umount2", t_umount2, 1},
        {"fsopen", t_fsopen, 1},
        {"fsmount", t_fsmount, 1},
        {"open_tree", t_open_tree, 1},
        {"move_mount", t_move_mount, 1},
        {"mount_setattr", t_mount_setattr, 1},
        {"pivot_root", t_pivot_root, 1},
        {"chroot", t_chroot, 1},
        {"setns", t_setns, 1},
        {"unshare_newuser", t_unshare_user, 0},
        {"clone3", t_clone3, 0},
        {"bpf", t_bpf, 1},
        {"keyctl", t_keyctl, 0},
        {"add_key", t_add_key, 0},
        {"perf_event_open", t_perf_event_open, 0},
        {"userfaultfd", t_userfaultfd, 0},
        {"open_by_handle_at", t_open_by_handle_at, 1},
        {"init_module", t_init_module, 0},
        {"finit_module", t_finit_module, 0},
        {"kexec_load", t_kexec_load, 0},
        {"x32_syscall", t_x32, 0},
        {"int80", t_int80, 0},
};

/* Attacks that are harmless on the host (they only ask for the pid), run
 * unsandboxed first: a kernel without x32 or 32-bit entry refuses them by
 * itself, and a probe must not claim that reins blocked what the host never
 * allowed. Prints `BASELINE <name> <works|fails> <detail>`. */
static int host_baseline(void)
{
        static const struct {
                const char *name;
                child_fn fn;
        } safe[] = {{"x32_syscall", t_x32}, {"int80", t_int80}};
        for (size_t i = 0; i < sizeof(safe) / sizeof(safe[0]); i++) {
                char d[400];
                int works = in_child(safe[i].fn, d, sizeof(d));
                for (char *p = d; *p; p++)
                        if (*p == '\n')
                                *p = ' ';
                printf("BASELINE %s %s %s\n", safe[i].name, works ? "works" : "fails", d);
        }
        fflush(stdout);
        return 0;
}

int main(int argc, char **argv)
{
        char d[400];
        if (argc > 1 && strcmp(argv[1], "--host-baseline") == 0)
                return host_baseline();
        if (!in_sandbox())
                return 2;
        for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
                g_escalate = 0;
                int esc = in_child(tests[i].fn, d, sizeof(d));
                if (!esc && tests[i].escalate) {
                        char d2[400];
                        g_escalate = 1;
                        int esc2 = in_child(tests[i].fn, d2, sizeof(d2));
                        if (esc2) {
                                esc = 1;
                                snprintf(d, sizeof(d), "%s", d2);
                        } else {
                                char both[400];
                                snprintf(both, sizeof(both), "%.180s; %.180s", d, d2);
                                snprintf(d, sizeof(d), "%s", both);
                        }
                }
                check(tests[i].name, esc, "%s", d);
        }

        /* far above the highest syscall number: must be ENOSYS, not a kill,
         * not a success */
        errno = 0;
        long rc = syscall(1000);
        int e = errno;
        printf("CHECK nr1000_enosys %s rc=%ld errno=%s\n",
               (rc == -1 && e == ENOSYS) ? "blocked" : "escaped", rc, strerror(e));

        char status[4096], v[64];
        if (slurp("/proc/self/status", status, sizeof(status)) > 0 &&
            status_field(status, "Seccomp", v, sizeof(v)))
                check("filter_active", strcmp(v, "2") != 0, "Seccomp: %s", v);
        else
                check("filter_active", 1, "cannot read Seccomp from /proc/self/status");
        done();
        return 0;
}
