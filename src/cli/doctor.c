/* reins doctor: which kernel protections this host offers and what
 * `reins run` does with each. One line per feature,
 *     feature: status — what reins does with it
 * then what a run will enforce for the current user. Exit 0 when every
 * required protection (user namespaces, seccomp, Landlock) is there, else 1.
 * Probes only: nothing here changes the host (the namespace probe runs in a
 * throwaway child). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vm/vm.h"
#include "audit/key_lock.h"
#include "audit/keys.h"
#include "cli/cli.h"
#include "sandbox/cgroup.h"
#include "sandbox/landlock.h"
#include "sandbox/seccomp.h"
#include "util/cleanup.h"

#define DOCTOR_MAX_LINES 24
#define DOCTOR_TEXT      512

struct doctor_line {
        char feature[48];
        char status[DOCTOR_TEXT];
        char action[DOCTOR_TEXT];
};

/* What a run will get, decided from the probes. */
struct doctor_verdict {
        bool user_namespaces;  /* user ns with a working uid map */
        bool other_namespaces; /* pid, net, mount, ipc, uts, cgroup inside it */
        int landlock_abi;      /* 0 = none */
        bool seccomp;
        bool cgroup_v2; /* delegated, with memory and pids */
        bool cgroup_v1; /* root, memory and pids hierarchies writable */
        bool cgroup_v1_cpu;
        bool cgroup_v2_cpu;
        char cgroup_v2_path[PATH_MAX];
};

struct doctor {
        struct doctor_line lines[DOCTOR_MAX_LINES];
        size_t count;
        struct doctor_verdict verdict;
};

static void report(struct doctor *d, const char *feature, const char *action,
                   const char *status_fmt, ...) __attribute__((format(printf, 4, 5)));

static void report(struct doctor *d, const char *feature, const char *action,
                   const char *status_fmt, ...)
{
        if (d->count >= DOCTOR_MAX_LINES)
                return;
        struct doctor_line *line = &d->lines[d->count++];
        snprintf(line->feature, sizeof(line->feature), "%s", feature);
        snprintf(line->action, sizeof(line->action), "%s", action);
        va_list ap;
        va_start(ap, status_fmt);
        vsnprintf(line->status, sizeof(line->status), status_fmt, ap);
        va_end(ap);
}

/* ---- small file helpers ------------------------------------------------ */

/* The first line of a small file, without its newline; -errno on failure. */
static int read_first_line(const char *path, char *buf, size_t size)
{
        cleanup_fclose FILE *f = fopen(path, "re");
        if (!f)
                return -errno;
        if (!fgets(buf, (int)size, f))
                return -EIO;
        buf[strcspn(buf, "\n")] = '\0';
        return 0;
}

/* dir + rel into buf; false when it does not fit. */
static bool join_path(char *buf, size_t size, const char *dir, const char *rel)
{
        int n = snprintf(buf, size, "%s%s%s", dir, rel[0] == '/' ? "" : "/", rel);
        return n >= 0 && (size_t)n < size;
}

/* Is `token` one of the `separator`-separated items of `list`? */
static bool list_has(const char *list, const char *token, char separator)
{
        size_t len = strlen(token);
        for (const char *p = list; p && *p;) {
                const char *end = strchr(p, separator);
                size_t item = end ? (size_t)(end - p) : strlen(p);
                if (item == len && strncmp(p, token, len) == 0)
                        return true;
                p = end ? end + 1 : NULL;
        }
        return false;
}

/* ---- kernel ------------------------------------------------------------ */

static void check_kernel(struct doctor *d)
{
        struct utsname u;
        if (uname(&u) < 0) {
                report(d, "kernel",
                       "reins probes each feature below rather than trusting the version",
                       "unknown (%s)", strerror(errno));
                return;
        }
        report(d, "kernel", "reins probes each feature below rather than trusting the version",
               "Linux %s (%s)", u.release, u.machine);
}

/* ---- namespaces -------------------------------------------------------- */

static const struct {
        int flag;
        const char *name;
} probed_namespaces[] = {
    {CLONE_NEWPID, "pid"}, {CLONE_NEWNET, "net"}, {CLONE_NEWNS, "mount"},
    {CLONE_NEWIPC, "ipc"}, {CLONE_NEWUTS, "uts"}, {CLONE_NEWCGROUP, "cgroup"},
};

#define PROBED_NAMESPACES (sizeof(probed_namespaces) / sizeof(probed_namespaces[0]))

/* errno of each step; 0 = worked, -1 = not attempted. */
struct namespace_probe {
        int user;
        int id_map;
        int other[PROBED_NAMESPACES];
};

static int write_file(const char *path, const char *text)
{
        cleanup_fd int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return errno;
        ssize_t len = (ssize_t)strlen(text);
        return write(fd, text, (size_t)len) == len ? 0 : errno;
}

/* Map our own ids into the new namespace, as `reins run` does. */
static int write_id_maps(uid_t uid, gid_t gid)
{
        char map[64];
        int r = write_file("/proc/self/setgroups", "deny");
        if (r != 0 && r != ENOENT)
                return r;
        snprintf(map, sizeof(map), "%u %u 1", (unsigned)uid, (unsigned)uid);
        if ((r = write_file("/proc/self/uid_map", map)) != 0)
                return r;
        snprintf(map, sizeof(map), "%u %u 1", (unsigned)gid, (unsigned)gid);
        return write_file("/proc/self/gid_map", map);
}

static void namespace_probe_child(int out_fd, uid_t uid, gid_t gid)
{
        struct namespace_probe p = {.user = -1, .id_map = -1};
        for (size_t i = 0; i < PROBED_NAMESPACES; i++)
                p.other[i] = -1;
        p.user = unshare(CLONE_NEWUSER) == 0 ? 0 : errno;
        if (p.user == 0) {
                p.id_map = write_id_maps(uid, gid);
                /* Creating these needs CAP_SYS_ADMIN in the new user
                 * namespace: this is where AppArmor's userns restriction
                 * shows (the namespace exists, its capabilities do not). */
                for (size_t i = 0; i < PROBED_NAMESPACES; i++)
                        p.other[i] = unshare(probed_namespaces[i].flag) == 0 ? 0 : errno;
        }
        _exit(write(out_fd, &p, sizeof(p)) == (ssize_t)sizeof(p) ? 0 : 1);
}

/* Run the probe in a child so this process keeps its namespaces. */
static int namespace_probe_run(struct namespace_probe *p)
{
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        uid_t uid = geteuid();
        gid_t gid = getegid();
        pid_t pid = fork();
        if (pid < 0) {
                int saved = errno;
                close(fds[0]);
                close(fds[1]);
                return -saved;
        }
        if (pid == 0) {
                close(fds[0]);
                namespace_probe_child(fds[1], uid, gid);
        }
        close(fds[1]);
        ssize_t n = read(fds[0], p, sizeof(*p));
        close(fds[0]);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
        return n == (ssize_t)sizeof(*p) ? 0 : -EIO;
}

/* The sysctls distributions use to switch unprivileged user namespaces off. */
static void describe_userns_sysctls(char *buf, size_t size)
{
        static const struct {
                const char *path, *name;
        } knobs[] = {
            {"/proc/sys/user/max_user_namespaces", "max_user_namespaces"},
            {"/proc/sys/kernel/unprivileged_userns_clone", "unprivileged_userns_clone"},
            {"/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
             "apparmor_restrict_unprivileged_userns"},
        };
        size_t used = 0;
        buf[0] = '\0';
        for (size_t i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++) {
                char value[64];
                if (read_first_line(knobs[i].path, value, sizeof(value)) < 0)
                        continue;
                int n = snprintf(buf + used, size - used, "%s%s=%s", used ? ", " : "",
                                 knobs[i].name, value);
                if (n < 0 || (size_t)n >= size - used)
                        return;
                used += (size_t)n;
        }
}

static void check_user_namespaces(struct doctor *d, const struct namespace_probe *p)
{
        char sysctls[256];
        describe_userns_sysctls(sysctls, sizeof(sysctls));
        const char *who = geteuid() == 0 ? "as root" : "unprivileged";
        if (p->user != 0) {
                report(d, "user namespaces", "required: `reins run` cannot start",
                       "unavailable %s (%s; %s)", who, strerror(p->user), sysctls);
                return;
        }
        if (p->id_map != 0) {
                report(d, "user namespaces", "required: `reins run` cannot map the caller's ids",
                       "created %s, but writing the id map failed (%s; %s)", who,
                       strerror(p->id_map), sysctls);
                return;
        }
        d->verdict.user_namespaces = true;
        report(d, "user namespaces",
               "the sandbox runs in its own user namespace; nested ones are denied by seccomp",
               "available %s (%s)", who, sysctls);
}

static void check_other_namespaces(struct doctor *d, const struct namespace_probe *p)
{
        if (p->user != 0 || p->id_map != 0) {
                report(d, "pid/net/mount/ipc/uts/cgroup namespaces",
                       "required: `reins run` cannot build the sandbox",
                       "not probed: they are created inside a user namespace");
                return;
        }
        char missing[256] = "";
        size_t used = 0;
        for (size_t i = 0; i < PROBED_NAMESPACES; i++) {
                if (p->other[i] == 0)
                        continue;
                int n = snprintf(missing + used, sizeof(missing) - used, "%s%s (%s)",
                                 used ? ", " : "", probed_namespaces[i].name,
                                 p->other[i] < 0 ? "not tried" : strerror(p->other[i]));
                if (n < 0 || (size_t)n >= sizeof(missing) - used)
                        break;
                used += (size_t)n;
        }
        if (used) {
                report(d, "pid/net/mount/ipc/uts/cgroup namespaces",
                       "required: `reins run` cannot build the sandbox", "missing: %s", missing);
                return;
        }
        d->verdict.other_namespaces = true;
        report(d, "pid/net/mount/ipc/uts/cgroup namespaces",
               "private process tree, network (no route out but the proxy), mount view, IPC, "
               "hostname, cgroup view",
               "all available inside a user namespace");
}

/* ---- Landlock and seccomp ---------------------------------------------- */

static void check_landlock(struct doctor *d)
{
        int abi = landlock_abi_version();
        d->verdict.landlock_abi = abi;
        if (abi < 1) {
                report(d, "Landlock",
                       "required: `reins run` refuses to start unless --allow-degraded",
                       "not available (kernel without Landlock, or not in the lsm= list)");
                return;
        }
        report(d, "Landlock",
               "every path outside the plan is denied even if it leaks into the mount view",
               "ABI %d: refer %s, truncate %s, ioctl_dev %s, scoping (signals, abstract unix "
               "sockets) %s",
               abi, abi >= 2 ? "yes" : "no", abi >= 3 ? "yes" : "no", abi >= 5 ? "yes" : "no",
               abi >= 6 ? "yes" : "no");
}

static bool seccomp_action_available(uint32_t action)
{
        return syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0;
}

static void check_seccomp(struct doctor *d)
{
        d->verdict.seccomp = seccomp_available() > 0;
        if (!d->verdict.seccomp) {
                report(d, "seccomp", "required: `reins run` cannot start",
                       "filter mode not available");
                return;
        }
        report(d, "seccomp",
               "escape primitives (mount API, io_uring, ptrace, bpf, new user namespaces, "
               "TIOCSTI, x32/i386) are denied",
               "filter available; user notification %s",
               seccomp_action_available(SECCOMP_RET_USER_NOTIF) ? "available" : "not available");
}

/* ---- cgroups ----------------------------------------------------------- */

/* The mount point of the first mount of `fstype` whose super options list
 * `option` (NULL: any). */
static int find_mount(const char *fstype, const char *option, char *mountpoint, size_t size)
{
        cleanup_fclose FILE *f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return -errno;
        char line[4096];
        while (fgets(line, sizeof(line), f)) {
                /* id parent major:minor root mountpoint options... - fstype source superopts */
                char *separator = strstr(line, " - ");
                if (!separator)
                        continue;
                char type[64], source[256], superopts[1024], point[PATH_MAX];
                if (sscanf(separator + 3, "%63s %255s %1023s", type, source, superopts) != 3 ||
                    strcmp(type, fstype) != 0)
                        continue;
                if (option && !list_has(superopts, option, ','))
                        continue;
                if (sscanf(line, "%*s %*s %*s %*s %4095s", point) != 1)
                        continue;
                if (snprintf(mountpoint, size, "%s", point) >= (int)size)
                        return -ENAMETOOLONG;
                return 0;
        }
        return -ENOENT;
}

static void check_cgroup_v2(struct doctor *d)
{
        char mount[PATH_MAX], own[PATH_MAX], dir[PATH_MAX], file[PATH_MAX];
        char root_controllers[256] = "", own_controllers[256] = "";
        const char *action = "v1 or rlimits are used instead (see the last lines)";
        if (find_mount("cgroup2", NULL, mount, sizeof(mount)) < 0) {
                report(d, "cgroup v2", action, "not mounted");
                return;
        }
        if (cgroup_own_path(NULL, own, sizeof(own)) < 0 ||
            !join_path(dir, sizeof(dir), mount, own)) {
                report(d, "cgroup v2", action, "mounted at %s; our cgroup is unknown", mount);
                return;
        }
        if (join_path(file, sizeof(file), mount, "cgroup.controllers"))
                read_first_line(file, root_controllers, sizeof(root_controllers));
        if (join_path(file, sizeof(file), dir, "cgroup.controllers"))
                read_first_line(file, own_controllers, sizeof(own_controllers));
        bool delegated = access(dir, W_OK) == 0 &&
                         join_path(file, sizeof(file), dir, "cgroup.subtree_control") &&
                         access(file, W_OK) == 0;
        bool limits =
            list_has(own_controllers, "memory", ' ') && list_has(own_controllers, "pids", ' ');
        if (delegated && limits) {
                d->verdict.cgroup_v2 = true;
                d->verdict.cgroup_v2_cpu = list_has(own_controllers, "cpu", ' ');
                snprintf(d->verdict.cgroup_v2_path, sizeof(d->verdict.cgroup_v2_path), "%s", dir);
                action = "memory/pids/cpu limits go in a child cgroup of ours";
        } else if (delegated) {
                action = "our cgroup lacks the memory and pids controllers: v2 limits unusable";
        } else {
                action = "our cgroup is not delegated to us: v2 limits unusable";
        }
        report(d, "cgroup v2", action,
               "mounted at %s; root controllers: %s; our cgroup %s has: %s; %s", mount,
               root_controllers[0] ? root_controllers : "(none)", own,
               own_controllers[0] ? own_controllers : "(none)",
               delegated ? "writable (delegated)" : "not writable");
}

/* One v1 hierarchy: mounted? our cgroup in it writable? */
static bool probe_cgroup_v1(const char *controller, char *status, size_t size)
{
        char mount[PATH_MAX], own[PATH_MAX], dir[PATH_MAX];
        if (find_mount("cgroup", controller, mount, sizeof(mount)) < 0) {
                snprintf(status, size, "%s not mounted", controller);
                return false;
        }
        bool writable = cgroup_own_path(controller, own, sizeof(own)) == 0 &&
                        join_path(dir, sizeof(dir), mount, own) && access(dir, W_OK) == 0;
        snprintf(status, size, "%s at %s (%s)", controller, mount,
                 writable ? "writable" : "not writable");
        return writable;
}

static void check_cgroup_v1(struct doctor *d)
{
        char memory[PATH_MAX + 32], pids[PATH_MAX + 32], cpu[PATH_MAX + 32];
        bool has_memory = probe_cgroup_v1("memory", memory, sizeof(memory));
        bool has_pids = probe_cgroup_v1("pids", pids, sizeof(pids));
        bool has_cpu = probe_cgroup_v1("cpu", cpu, sizeof(cpu));
        bool root = geteuid() == 0;
        const char *action = "not used";
        if (root && has_memory && has_pids && !d->verdict.cgroup_v2) {
                d->verdict.cgroup_v1 = true;
                d->verdict.cgroup_v1_cpu = has_cpu;
                char mount[PATH_MAX], file[PATH_MAX];
                bool tcp = find_mount("cgroup", "memory", mount, sizeof(mount)) == 0 &&
                           join_path(file, sizeof(file), mount, "memory.kmem.tcp.limit_in_bytes") &&
                           access(file, F_OK) == 0;
                action = tcp ? "used for limits (root only, v2 is not usable); kernel TCP "
                               "buffers limited too (memory.kmem.tcp)"
                             : "used for limits (root only, v2 is not usable); kernel TCP "
                               "buffers NOT counted (no memory.kmem.tcp on this kernel)";
        } else if (!root) {
                action = "only used when reins runs as root";
        } else if (d->verdict.cgroup_v2) {
                action = "not needed: v2 is used";
        } else {
                action = "memory and pids hierarchies are both needed";
        }
        report(d, "cgroup v1", action, "%s; %s; %s", memory, pids, cpu);
}

/* ---- the rest ---------------------------------------------------------- */

/* isolation: vm: QEMU, the guest kernel, and which accelerator a vm
 * session would use and why (vm/accel.c: a probe boot, cached per host). */
static void check_vm(struct doctor *d)
{
        const char *action = "isolation: vm";
        struct reins_error err = {0};
        char *kernel = NULL;
        if (access("/usr/bin/qemu-system-x86_64", X_OK) < 0) {
                report(d, "vm", action, "unavailable: qemu-system-x86_64 is not installed");
                return;
        }
        if (vm_kernel_path(&kernel, &err) < 0) {
                report(d, "vm", action, "unavailable: %s", err.message);
                return;
        }
        char why[160];
        bool kvm = vm_accel_is_kvm(why, sizeof(why));
        report(d, "vm", action, "available (kernel %s); accelerator %s: %s", kernel,
               kvm ? "kvm" : "tcg (software emulation)", why);
        free(kernel);
}

static void check_tiocsti(struct doctor *d)
{
        const char *action = "blocked anyway: seccomp denies TIOCSTI/TIOCLINUX (32-bit masked) "
                             "and the sandbox has no controlling terminal (setsid)";
        char value[16];
        if (read_first_line("/proc/sys/dev/tty/legacy_tiocsti", value, sizeof(value)) < 0)
                report(d, "TIOCSTI", action,
                       "no legacy_tiocsti sysctl (kernel < 6.2): terminal injection works "
                       "unless blocked");
        else if (strcmp(value, "0") == 0)
                report(d, "TIOCSTI", action, "legacy_tiocsti=0: the kernel refuses it");
        else
                report(d, "TIOCSTI", action, "legacy_tiocsti=%s: the kernel allows it", value);
}

/* Where the user's signing key rests (audit/key_lock.h); read-only: the
 * public half and the keyring, never the secret into this process. */
static void check_user_key(struct doctor *d)
{
        const char *action = "signs each session's certificate; sessions sign with their own key";
        char *path = NULL;
        unsigned char buffer[KEY_LOCK_SIZE], public_key[crypto_sign_PUBLICKEYBYTES];
        int r = audit_key_path(&path, false, NULL);
        if (r < 0) {
                report(d, "user key", action, "none yet (created 0600 on first use)");
                return;
        }
        FILE *f = fopen(path, "re");
        size_t n = f ? fread(buffer, 1, sizeof(buffer), f) : 0;
        if (f)
                fclose(f);
        if (!key_lock_parse_public(buffer, n, public_key)) {
                report(d, "user key", action,
                       "%s: a plain file any process of yours can read ('reins id lock' keeps "
                       "it encrypted on disk, unlocked in the kernel keyring)",
                       path);
        } else {
                unsigned char seed[crypto_sign_SEEDBYTES];
                int got = key_lock_keyring_get(public_key, seed, NULL);
                sodium_memzero(seed, sizeof(seed));
                report(d, "user key", action, "%s: locked; %s", path,
                       got == 0 ? "unlocked in the kernel keyring"
                                : "not unlocked: run 'reins id unlock'");
        }
        sodium_memzero(buffer, sizeof(buffer));
        free(path);
}

/* ---- verdict and output ------------------------------------------------ */

static bool doctor_ready(const struct doctor_verdict *v)
{
        return v->user_namespaces && v->other_namespaces && v->seccomp && v->landlock_abi > 0;
}

static void describe_cgroup_limits(const struct doctor_verdict *v, char *buf, size_t size)
{
        if (v->cgroup_v2)
                snprintf(buf, size, "v2 memory/pids%s under %s", v->cgroup_v2_cpu ? "/cpu" : "",
                         v->cgroup_v2_path);
        else if (v->cgroup_v1)
                snprintf(buf, size, "v1 memory/pids%s", v->cgroup_v1_cpu ? "/cpu" : "");
        else
                snprintf(buf, size, "rlimit fallback (announced; --strict refuses)");
}

static void print_text(const struct doctor *d)
{
        for (size_t i = 0; i < d->count; i++)
                printf("%s: %s — %s\n", d->lines[i].feature, d->lines[i].status,
                       d->lines[i].action);
        const struct doctor_verdict *v = &d->verdict;
        char limits[PATH_MAX + 64];
        describe_cgroup_limits(v, limits, sizeof(limits));
        printf("\n`reins run` for uid %u will enforce:\n", (unsigned)geteuid());
        printf("  namespaces: %s\n", v->user_namespaces && v->other_namespaces
                                         ? "user, pid, net, mount, ipc, uts, cgroup"
                                         : "MISSING (cannot run)");
        if (v->landlock_abi > 0)
                printf("  Landlock: ABI %d\n", v->landlock_abi);
        else
                printf("  Landlock: MISSING (refused unless --allow-degraded)\n");
        printf("  seccomp: %s\n", v->seccomp ? "filter" : "MISSING (cannot run)");
        printf("  capabilities: none, no_new_privs\n");
        printf("  cgroup limits: %s\n", limits);
        bool cgroups = v->cgroup_v2 || v->cgroup_v1;
        if (!doctor_ready(v))
                printf("verdict: a required protection is missing\n");
        else if (cgroups)
                printf("verdict: full protection available\n");
        else
                printf("verdict: full isolation; limits by rlimits and cpu affinity instead of "
                       "cgroups (memory and processes are capped per process, not for the whole "
                       "sandbox; no freezer: T3 stops processes with SIGSTOP); --strict refuses "
                       "to run this way (delegate a cgroup v2 subtree, or run as root, for "
                       "cgroup limits)\n");
}

static void print_json_string(const char *s)
{
        putchar('"');
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                if (*p == '"' || *p == '\\')
                        printf("\\%c", *p);
                else if (*p < 0x20)
                        printf("\\u%04x", *p);
                else
                        putchar(*p);
        }
        putchar('"');
}

static void print_json(const struct doctor *d)
{
        const struct doctor_verdict *v = &d->verdict;
        char limits[PATH_MAX + 64];
        describe_cgroup_limits(v, limits, sizeof(limits));
        printf("{\"checks\":[");
        for (size_t i = 0; i < d->count; i++) {
                printf("%s{\"feature\":", i ? "," : "");
                print_json_string(d->lines[i].feature);
                printf(",\"status\":");
                print_json_string(d->lines[i].status);
                printf(",\"action\":");
                print_json_string(d->lines[i].action);
                printf("}");
        }
        printf("],\"enforced\":{\"namespaces\":%s,\"landlock_abi\":%d,\"seccomp\":%s,"
               "\"cgroup_limits\":",
               v->user_namespaces && v->other_namespaces ? "true" : "false", v->landlock_abi,
               v->seccomp ? "true" : "false");
        print_json_string(limits);
        printf("},\"ready\":%s}\n", doctor_ready(v) ? "true" : "false");
}

static void doctor_usage(FILE *out)
{
        fprintf(out, "usage: reins doctor [--json]\n\n"
                     "Probe which kernel protections this host offers and say what\n"
                     "`reins run` does with each. Exit 0 when user namespaces, seccomp\n"
                     "and Landlock are all available, 1 otherwise.\n\n"
                     "  --json      machine-readable output\n"
                     "  -h, --help  this text\n");
}

static void doctor_collect(struct doctor *d)
{
        struct namespace_probe probe = {.user = -1, .id_map = -1};
        for (size_t i = 0; i < PROBED_NAMESPACES; i++)
                probe.other[i] = -1;
        if (namespace_probe_run(&probe) < 0)
                probe.user = EIO;
        check_kernel(d);
        check_user_namespaces(d, &probe);
        check_other_namespaces(d, &probe);
        check_landlock(d);
        check_seccomp(d);
        check_cgroup_v2(d);
        check_cgroup_v1(d);
        check_vm(d);
        check_tiocsti(d);
        check_user_key(d);
}

int cli_doctor(int argc, char **argv)
{
        bool json = false;
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--json") == 0) {
                        json = true;
                } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
                        doctor_usage(stdout);
                        return 0;
                } else {
                        fprintf(stderr, "reins doctor: unknown option '%s'\n", argv[i]);
                        doctor_usage(stderr);
                        return EXIT_REINS_USAGE;
                }
        }
        static struct doctor d; /* large: keep it off the stack */
        memset(&d, 0, sizeof(d));
        fflush(stdout); /* the probe forks: nothing buffered may be written twice */
        doctor_collect(&d);
        if (json)
                print_json(&d);
        else
                print_text(&d);
        return doctor_ready(&d.verdict) ? 0 : 1;
}
