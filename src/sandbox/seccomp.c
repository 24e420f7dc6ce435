/* The seccomp filter of DESIGN §4.
 *
 * The profile is default-allow with a deny list: the mount, user and pid
 * namespaces, the dropped capabilities and Landlock are the primary walls;
 * this filter removes the kernel entry points that have repeatedly been used
 * to climb over them. It is built once in the supervisor with libseccomp,
 * exported as raw BPF, and installed in the child with one syscall (no
 * allocation after fork).
 *
 * The final program is a short hand-written prefix followed by libseccomp's
 * output:
 *   prefix:     syscall numbers above the highest one reviewed -> ENOSYS;
 *               personality() other than PER_LINUX or the query -> EPERM
 *   libseccomp: foreign architecture (i386 via int $0x80) or the x32 bit
 *               -> EPERM, then the deny rules below, then ALLOW.
 *
 * Three kinds of call go to the supervisor as user notifications on the
 * filter's one listener (SECCOMP_RET_USER_NOTIF): execve/execveat, which it
 * records and lets go on (exec auditing); renames, when the plan has
 * protected paths, which it lets go on unless they name a protected path
 * (then EROFS, protect_notify.h); and the escape primitives below,
 * which it records and always refuses with EPERM (the risk engine's
 * escape-primitive rule sees each attempt). A plain ERRNO action would hide
 * them: ERRNO outranks USER_NOTIF, so no later filter could report them.
 * Refusing them stays the kernel's job when the supervisor is gone: with no
 * listener left, a notifying filter answers ENOSYS, never "allowed". */
#include "sandbox/seccomp.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/cleanup.h"

/* The highest syscall number this profile was reviewed against (file_setattr,
 * Linux 6.17; numbers from 424 on are shared by every architecture). Anything
 * above answers ENOSYS, as the kernel would for a number it does not know, so
 * a syscall added by a future kernel stays unreachable until it is reviewed. */
#define SECCOMP_SYSCALL_CEILING 469

/* Denied outright with EPERM. Comments name the attack each group stops. */
static const char *const default_denied[] = {
    /* io_uring runs I/O from kernel workers, out of the filter's sight,
     * and has been the richest source of kernel exploits since 5.1. */
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    /* Reading or writing another process's memory (CVE-2017-5206). */
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
    /* The mount family, old and new API (CVE-2021-41133): rearranging
     * the view would undo the plan. */
    "mount", "umount2", "fsopen", "fsconfig", "fsmount", "fspick", "open_tree", "open_tree_attr",
    "move_mount", "mount_setattr", "pivot_root", "chroot",
    /* Joining another namespace. */
    "setns",
    /* Large kernel attack surfaces no agent workload needs. */
    "bpf", "perf_event_open", "userfaultfd", "keyctl", "add_key", "request_key",
    /* Loading kernel code or replacing the kernel. */
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
    /* File handles bypass path checks: the "shocker" escape. */
    "open_by_handle_at", "name_to_handle_at",
    /* Host administration: accounting, swap, reboot, quotas, clock,
     * raw I/O ports, the kernel log, the tty hangup. */
    "acct", "swapon", "swapoff", "reboot", "quotactl", "quotactl_fd", "lookup_dcookie", "iopl",
    "ioperm", "vhangup", "syslog", "uselib", "nfsservctl", "settimeofday", "clock_settime",
    /* adjtimex and clock_adjtime stay: with modes 0 they are clock reads,
     * and setting the clock needs CAP_SYS_TIME in the initial namespace. */
};

/* The denials the supervisor is told about (escape primitives: DESIGN §7's
 * risk engine counts each attempt). The rest of the list are denied quietly:
 * they are no sign of an escape (host administration), or ordinary runtimes
 * probe them (libuv tries io_uring, systemd tools name_to_handle_at). */
static const char *const reported_denied[] = {
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "mount",
    "umount2",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "open_tree",
    "open_tree_attr",
    "move_mount",
    "mount_setattr",
    "pivot_root",
    "chroot",
    "setns",
    "bpf",
    "keyctl",
    "add_key",
    "request_key",
    "init_module",
    "finit_module",
    "delete_module",
    "kexec_load",
    "kexec_file_load",
    "open_by_handle_at",
};

/* The only entries a policy's syscalls.allow may lift: debugging and
 * profiling tools need them, and the pid namespace already confines them
 * to the sandbox's own processes. */
static const char *const relaxable[] = {
    "ptrace",          "process_vm_readv", "process_vm_writev",
    "perf_event_open", "userfaultfd",      "personality",
};

/* Syscalls newer than the libseccomp this was built against, so that
 * policies can name them and the deny list covers them. */
static const struct {
        const char *name;
        int number;
} newer_syscalls[] = {
    {"statmount", 457},         {"listmount", 458},        {"lsm_get_self_attr", 459},
    {"lsm_set_self_attr", 460}, {"lsm_list_modules", 461}, {"mseal", 462},
    {"setxattrat", 463},        {"getxattrat", 464},       {"listxattrat", 465},
    {"removexattrat", 466},     {"open_tree_attr", 467},   {"file_getattr", 468},
    {"file_setattr", 469},
};

static bool name_in(const char *name, const char *const *list, size_t count)
{
        for (size_t i = 0; i < count; i++)
                if (strcmp(name, list[i]) == 0)
                        return true;
        return false;
}

/* The native syscall number for `name`; __NR_SCMP_ERROR when nobody knows
 * it; another negative value when it exists only on other architectures. */
static int syscall_resolve(const char *name)
{
        int number = seccomp_syscall_resolve_name(name);
        if (number != __NR_SCMP_ERROR)
                return number;
        for (size_t i = 0; i < ARRAY_SIZE(newer_syscalls); i++)
                if (strcmp(name, newer_syscalls[i].name) == 0)
                        return newer_syscalls[i].number;
        return __NR_SCMP_ERROR;
}

static int validate_allow(const struct reins_strv *allow, struct reins_error *err)
{
        for (size_t i = 0; allow && i < allow->count; i++)
                if (!name_in(allow->items[i], relaxable, ARRAY_SIZE(relaxable)))
                        return reins_error_set(
                            err, EINVAL,
                            "syscalls.allow: '%s' cannot be allowed: it is an escape primitive",
                            allow->items[i]);
        return 0;
}

static int validate_deny(const struct reins_strv *deny, struct reins_error *err)
{
        for (size_t i = 0; deny && i < deny->count; i++)
                if (syscall_resolve(deny->items[i]) == __NR_SCMP_ERROR)
                        return reins_error_set(err, EINVAL, "syscalls.deny: unknown syscall '%s'",
                                               deny->items[i]);
        return 0;
}

/* Is `name` lifted by the policy? Deny beats allow. */
static bool is_relaxed(const char *name, const struct reins_strv *allow,
                       const struct reins_strv *deny)
{
        return allow && strv_contains(allow, name) && !(deny && strv_contains(deny, name));
}

/* How a denial answers: the errno, or a notification the supervisor
 * answers with EPERM after recording it. */
static uint32_t denial_action(const char *name, int error)
{
        if (error == EPERM && name_in(name, reported_denied, ARRAY_SIZE(reported_denied)))
                return SCMP_ACT_NOTIFY;
        return SCMP_ACT_ERRNO((uint32_t)error);
}

static int deny_syscall(scmp_filter_ctx ctx, const char *name, int error, struct reins_error *err)
{
        int number = syscall_resolve(name);
        if (number < 0) /* not a syscall on this architecture: nothing to deny */
                return 0;
        int r = seccomp_rule_add(ctx, denial_action(name, error), number, 0);
        if (r < 0)
                return reins_error_errno(err, -r, "seccomp: denying %s", name);
        return 0;
}

static int add_default_denials(scmp_filter_ctx ctx, const struct reins_strv *allow,
                               const struct reins_strv *deny, struct reins_error *err)
{
        for (size_t i = 0; i < ARRAY_SIZE(default_denied); i++) {
                if (is_relaxed(default_denied[i], allow, deny))
                        continue;
                int r = deny_syscall(ctx, default_denied[i], EPERM, err);
                if (r < 0)
                        return r;
        }
        /* clone3 passes its flags in memory, where a filter cannot look, so it
         * cannot be checked for CLONE_NEWUSER. ENOSYS makes glibc fall back
         * to clone(), whose flags are checked below. */
        return deny_syscall(ctx, "clone3", ENOSYS, err);
}

static int add_policy_denials(scmp_filter_ctx ctx, const struct reins_strv *deny,
                              struct reins_error *err)
{
        for (size_t i = 0; deny && i < deny->count; i++) {
                const char *name = deny->items[i];
                /* Already denied by the profile (clone3 keeps its ENOSYS). */
                if (name_in(name, default_denied, ARRAY_SIZE(default_denied)) ||
                    strcmp(name, "clone3") == 0)
                        continue;
                int r = deny_syscall(ctx, name, EPERM, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* A rule on one argument: errno when the low 32 bits of `arg` equal
 * `value`. The kernel reads these arguments as 32-bit ints, so comparing
 * the whole register would let set high bits slip past (CVE-2019-7303). */
static int deny_low32_equal(scmp_filter_ctx ctx, int number, unsigned arg, uint32_t value,
                            int error)
{
        struct scmp_arg_cmp cmp = {
            .arg = arg, .op = SCMP_CMP_MASKED_EQ, .datum_a = 0xffffffffu, .datum_b = value};
        return seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO((uint32_t)error), number, 1, &cmp);
}

/* New user namespaces give back every capability inside them and expose
 * kernel code written for root (CVE-2022-0185 class). */
static int add_user_namespace_rules(scmp_filter_ctx ctx, struct reins_error *err)
{
        /* Flags are the first argument of clone on x86_64 (not on s390).
         * Both are escape attempts the supervisor records and refuses. */
        int r = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(clone), 1,
                                 SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER));
        if (r == 0)
                r = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(unshare), 1,
                                     SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER));
        if (r < 0)
                return reins_error_errno(err, -r, "seccomp: clone/unshare CLONE_NEWUSER rules");
        return 0;
}

/* TIOCSTI pushes characters into a terminal's input queue and TIOCLINUX
 * can paste the console selection: both type commands into the caller's
 * shell if a terminal fd leaks in (CVE-2017-5226, CVE-2023-28100). */
static int add_terminal_rules(scmp_filter_ctx ctx, struct reins_error *err)
{
        int r = deny_low32_equal(ctx, SCMP_SYS(ioctl), 1, TIOCSTI, EPERM);
        if (r == 0)
                r = deny_low32_equal(ctx, SCMP_SYS(ioctl), 1, TIOCLINUX, EPERM);
        if (r < 0)
                return reins_error_errno(err, -r, "seccomp: ioctl TIOCSTI/TIOCLINUX rules");
        return 0;
}

/* Socket families that reach past the network namespace (vsock talks to
 * the hypervisor) or are kernel attack surface (raw packets, netlink
 * subsystems other than route queries). */
static int add_socket_rules(scmp_filter_ctx ctx, struct reins_error *err)
{
        int r = deny_low32_equal(ctx, SCMP_SYS(socket), 0, AF_VSOCK, EAFNOSUPPORT);
        if (r == 0)
                r = deny_low32_equal(ctx, SCMP_SYS(socket), 0, AF_PACKET, EAFNOSUPPORT);
        if (r == 0) {
                /* getaddrinfo and `ip addr` use NETLINK_ROUTE: keep it. Any
                 * protocol whose full register is not 0 is refused, which also
                 * refuses high-bit variants of NETLINK_ROUTE (harmless). */
                struct scmp_arg_cmp cmp[2] = {
                    {.arg = 0,
                     .op = SCMP_CMP_MASKED_EQ,
                     .datum_a = 0xffffffffu,
                     .datum_b = AF_NETLINK},
                    {.arg = 2, .op = SCMP_CMP_NE, .datum_a = NETLINK_ROUTE},
                };
                r = seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socket), 2, cmp);
        }
        if (r < 0)
                return reins_error_errno(err, -r, "seccomp: socket family rules");
        return 0;
}

/* Exec auditing: every execve/execveat waits for the supervisor, which
 * records argv, cwd and parent and lets it go on (exec_notify.h). */
static int add_exec_rules(scmp_filter_ctx ctx, struct reins_error *err)
{
        int r = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(execve), 0);
        if (r == 0)
                r = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(execveat), 0);
        if (r < 0)
                return reins_error_errno(err, -r, "seccomp: exec auditing rules");
        return 0;
}

/* Protected paths are read-only mounts: a rename onto one meets a mount
 * point and the kernel says EBUSY. The supervisor answers EROFS instead, so
 * git and editors say "Read-only file system" (protect_notify.h). Only
 * renames: a link never replaces a name, and writes already get EROFS. */
static int add_rename_rules(scmp_filter_ctx ctx, const struct reins_strv *deny,
                            struct reins_error *err)
{
        static const char *const renames[] = {"rename", "renameat", "renameat2"};
        for (size_t i = 0; i < ARRAY_SIZE(renames); i++) {
                if (deny && strv_contains(deny, renames[i]))
                        continue; /* the policy denies it outright */
                int number = syscall_resolve(renames[i]);
                if (number < 0) /* rename and renameat are gone on newer architectures */
                        continue;
                int r = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, number, 0);
                if (r < 0)
                        return reins_error_errno(err, -r, "seccomp: watching %s", renames[i]);
        }
        return 0;
}

/* libseccomp compiles the rules; the context is freed on every path. */
static int compile_rules(scmp_filter_ctx ctx, const struct reins_strv *allow,
                         const struct reins_strv *deny, bool watch_renames, struct reins_error *err)
{
        /* i386 syscalls via int $0x80 and the x32 ABI (nr | 0x40000000) have
         * their own numbers, which the rules below do not describe. */
        int r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ERRNO(EPERM));
        if (r < 0)
                return reins_error_errno(err, -r, "seccomp: setting the foreign-arch action");
        if ((r = add_default_denials(ctx, allow, deny, err)) < 0 ||
            (r = add_user_namespace_rules(ctx, err)) < 0 ||
            (r = add_terminal_rules(ctx, err)) < 0 || (r = add_socket_rules(ctx, err)) < 0 ||
            (r = add_policy_denials(ctx, deny, err)) < 0 || (r = add_exec_rules(ctx, err)) < 0)
                return r;
        return watch_renames ? add_rename_rules(ctx, deny, err) : 0;
}

static struct sock_filter bpf_statement(uint16_t code, uint32_t k)
{
        return (struct sock_filter){.code = code, .jt = 0, .jf = 0, .k = k};
}

static struct sock_filter bpf_jump(uint16_t code, uint32_t k, uint8_t jt, uint8_t jf)
{
        return (struct sock_filter){.code = code, .jt = jt, .jf = jf, .k = k};
}

/* Instruction slots of the prefix; PREFIX_LENGTH is the first instruction
 * of libseccomp's program. */
enum {
        PREFIX_LOAD_ARCH,
        PREFIX_CHECK_ARCH,
        PREFIX_LOAD_NR,
        PREFIX_CHECK_CEILING,
        PREFIX_CHECK_PERSONALITY,
        PREFIX_LOAD_ARG0_HIGH,
        PREFIX_CHECK_ARG0_HIGH,
        PREFIX_LOAD_ARG0_LOW,
        PREFIX_CHECK_PER_LINUX,
        PREFIX_CHECK_QUERY,
        PREFIX_RETURN_EPERM,
        PREFIX_RETURN_ENOSYS,
        PREFIX_LENGTH
};

/* BPF jumps are relative to the next instruction. */
static uint8_t prefix_jump(int from, int to)
{
        return (uint8_t)(to - from - 1);
}

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ARG0_LOW_OFFSET  (offsetof(struct seccomp_data, args[0]))
#define ARG0_HIGH_OFFSET (offsetof(struct seccomp_data, args[0]) + 4)
#else
#define ARG0_LOW_OFFSET  (offsetof(struct seccomp_data, args[0]) + 4)
#define ARG0_HIGH_OFFSET (offsetof(struct seccomp_data, args[0]))
#endif

/* The checks libseccomp 2.5 cannot express: a range on the syscall number,
 * and "argument is neither A nor B" (it refuses two comparisons on one
 * argument). personality() may only query (0xffffffff) or set PER_LINUX:
 * other personas switch off ASLR (ADDR_NO_RANDOMIZE), make data executable
 * (READ_IMPLIES_EXEC) or map page zero (MMAP_PAGE_ZERO), each of which
 * helps exploit the kernel or a setuid helper. */
static void prefix_fill(struct sock_filter *p, bool check_personality)
{
        const uint16_t load = BPF_LD | BPF_W | BPF_ABS;
        const uint16_t jeq = BPF_JMP | BPF_JEQ | BPF_K;
        const int start = PREFIX_LENGTH;
        int personality_next = check_personality ? PREFIX_LOAD_ARG0_HIGH : start;

        p[PREFIX_LOAD_ARCH] = bpf_statement(load, offsetof(struct seccomp_data, arch));
        p[PREFIX_CHECK_ARCH] =
            bpf_jump(jeq, seccomp_arch_native(), 0, prefix_jump(PREFIX_CHECK_ARCH, start));
        p[PREFIX_LOAD_NR] = bpf_statement(load, offsetof(struct seccomp_data, nr));
        p[PREFIX_CHECK_CEILING] =
            bpf_jump(BPF_JMP | BPF_JGT | BPF_K, SECCOMP_SYSCALL_CEILING,
                     prefix_jump(PREFIX_CHECK_CEILING, PREFIX_RETURN_ENOSYS), 0);
        p[PREFIX_CHECK_PERSONALITY] =
            bpf_jump(jeq, SYS_personality, prefix_jump(PREFIX_CHECK_PERSONALITY, personality_next),
                     prefix_jump(PREFIX_CHECK_PERSONALITY, start));
        p[PREFIX_LOAD_ARG0_HIGH] = bpf_statement(load, ARG0_HIGH_OFFSET);
        p[PREFIX_CHECK_ARG0_HIGH] =
            bpf_jump(jeq, 0, 0, prefix_jump(PREFIX_CHECK_ARG0_HIGH, PREFIX_RETURN_EPERM));
        p[PREFIX_LOAD_ARG0_LOW] = bpf_statement(load, ARG0_LOW_OFFSET);
        p[PREFIX_CHECK_PER_LINUX] = bpf_jump(jeq, 0, prefix_jump(PREFIX_CHECK_PER_LINUX, start), 0);
        p[PREFIX_CHECK_QUERY] = bpf_jump(jeq, 0xffffffffu, prefix_jump(PREFIX_CHECK_QUERY, start),
                                         prefix_jump(PREFIX_CHECK_QUERY, PREFIX_RETURN_EPERM));
        p[PREFIX_RETURN_EPERM] = bpf_statement(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
        p[PREFIX_RETURN_ENOSYS] = bpf_statement(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
}

/* libseccomp 2.5 exports only to a file descriptor: go through a memfd. */
static int export_program(scmp_filter_ctx ctx, bool check_personality, struct seccomp_program *out,
                          struct reins_error *err)
{
        cleanup_fd int fd = memfd_create("reins-seccomp", MFD_CLOEXEC);
        if (fd < 0)
                return reins_error_errno(err, errno, "seccomp: memfd_create");
        int r = seccomp_export_bpf(ctx, fd);
        if (r < 0)
                return reins_error_errno(err, -r, "seccomp: exporting the filter");
        struct stat st;
        if (fstat(fd, &st) < 0)
                return reins_error_errno(err, errno, "seccomp: fstat on the exported filter");
        size_t bytes = (size_t)st.st_size;
        size_t count = bytes / sizeof(struct sock_filter) + PREFIX_LENGTH;
        if (bytes == 0 || bytes % sizeof(struct sock_filter) != 0 || count > BPF_MAXINSNS)
                return reins_error_set(err, EINVAL, "seccomp: exported filter has %zu bytes",
                                       bytes);
        cleanup_free struct sock_filter *filter = calloc(count, sizeof(*filter));
        if (!filter)
                return reins_error_set(err, ENOMEM, "seccomp: out of memory");
        prefix_fill(filter, check_personality);
        char *dest = (char *)(filter + PREFIX_LENGTH);
        for (size_t done = 0; done < bytes;) {
                ssize_t n = pread(fd, dest + done, bytes - done, (off_t)done);
                if (n <= 0)
                        return reins_error_errno(err, n < 0 ? errno : EIO,
                                                 "seccomp: reading the exported filter");
                done += (size_t)n;
        }
        out->filter = steal_ptr(&filter);
        out->length = (unsigned short)count;
        return 0;
}

int seccomp_program_build(const struct reins_strv *allow, const struct reins_strv *deny,
                          bool watch_renames, struct seccomp_program *out, struct reins_error *err)
{
        out->filter = NULL;
        out->length = 0;
        int r = validate_allow(allow, err);
        if (r < 0 || (r = validate_deny(deny, err)) < 0)
                return r;
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
        if (!ctx)
                return reins_error_set(err, ENOMEM, "seccomp: seccomp_init failed");
        r = compile_rules(ctx, allow, deny, watch_renames, err);
        if (r == 0)
                r = export_program(ctx, !is_relaxed("personality", allow, deny), out, err);
        seccomp_release(ctx);
        return r;
}

#ifndef SECCOMP_FILTER_FLAG_TSYNC_ESRCH
#define SECCOMP_FILTER_FLAG_TSYNC_ESRCH (1UL << 4)
#endif

int seccomp_program_install(const struct seccomp_program *program)
{
        if (!program || !program->filter || program->length == 0)
                return -EINVAL; /* fail closed: never run without the filter */
        struct sock_fprog prog = {.len = program->length, .filter = program->filter};
        /* TSYNC: every thread of the process gets the filter, or none does
         * and the call fails (ESRCH): no thread created earlier stays
         * unfiltered. NEW_LISTENER: the fd the notifications arrive on. */
        long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                         SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_TSYNC_ESRCH |
                             SECCOMP_FILTER_FLAG_NEW_LISTENER,
                         &prog);
        if (r < 0)
                return -errno;
        return (int)r;
}

void seccomp_program_free(struct seccomp_program *program)
{
        if (!program)
                return;
        free(program->filter);
        program->filter = NULL;
        program->length = 0;
}

int seccomp_available(void)
{
        /* EINVAL: the kernel was built without seccomp. */
        if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0)
                return 0;
        uint32_t action = SECCOMP_RET_ERRNO;
        return syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0;
}
