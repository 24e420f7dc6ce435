/* The control socket's peer check (peer.h). */
#include "sandbox/peer.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/weaken.h"
#include "util/cleanup.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77 /* Linux 6.5 */
#endif

/* The peer as a pidfd. SO_PEERPIDFD names the process that connected, even
 * if its pid has been reused since; older kernels get pidfd_open of the pid
 * SO_PEERCRED gave (a window in which the peer must exit and an unrelated
 * process of ours take its pid: the sandbox cannot pick host pids). */
static int peer_pidfd(int fd, pid_t pid)
{
        int pidfd = -1;
        socklen_t len = sizeof(pidfd);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) == 0 && pidfd >= 0)
                return pidfd;
        if (errno == EMFILE || errno == ENFILE)
                return -errno;
        pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        return pidfd < 0 ? -errno : pidfd;
}

static bool out_of_fds(int r)
{
        return r == -EMFILE || r == -ENFILE;
}

/* Same namespace of kind `ns` ("pid", "user") as ours? 1 yes, 0 no, -errno
 * when it cannot be told (a root peer's ns links are not ours to read). */
static int peer_same_ns(pid_t pid, const char *ns)
{
        char path[64];
        struct stat ours, theirs;
        snprintf(path, sizeof(path), "/proc/self/ns/%s", ns);
        if (stat(path, &ours) < 0)
                return -errno;
        snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, ns);
        if (stat(path, &theirs) < 0)
                return -errno;
        return ours.st_dev == theirs.st_dev && ours.st_ino == theirs.st_ino;
}

/* How many pid namespaces deep `pid` is, counted from the one /proc belongs
 * to (the NSpid line of its status, readable for every process): a process
 * of a sandbox is one level deeper than its supervisor. -errno unknown. */
static int peer_pid_depth(const char *pid)
{
        char path[64], buffer[4096];
        snprintf(path, sizeof(path), "/proc/%s/status", pid);
        cleanup_fd int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n = read(fd, buffer, sizeof(buffer) - 1);
        if (n <= 0)
                return -EIO;
        buffer[n] = '\0';
        char *line = strstr(buffer, "\nNSpid:");
        if (!line)
                return -EIO;
        int depth = 0;
        for (char *p = line + 7; *p && *p != '\n'; p++)
                if (*p >= '0' && *p <= '9' && (p[-1] == '\t' || p[-1] == ' ' || p[-1] == ':'))
                        depth++;
        return depth;
}

/* Is the process in a cgroup reins made for a sandbox (reins-PID-…)? 1 yes
 * (or cannot tell: refuse), 0 no, -EMFILE/-ENFILE out of fds. */
static int peer_in_reins_cgroup(pid_t pid)
{
        char path[64], buffer[8192];
        snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
        cleanup_fd int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return out_of_fds(-errno) ? -errno : 1;
        ssize_t n = read(fd, buffer, sizeof(buffer) - 1);
        if (n < 0)
                return 1;
        buffer[n] = '\0';
        for (char *p = buffer; (p = strstr(p, "/reins-")); p++) {
                int supervisor = 0;
                if (sscanf(p, "/reins-%d-", &supervisor) == 1 && supervisor > 0)
                        return 1;
        }
        return 0;
}

int sandbox_peer_check(int fd, struct reins_error *err)
{
        struct ucred cred;
        socklen_t len = sizeof(cred);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return reins_error_errno(err, errno, "SO_PEERCRED");
        if (cred.uid != geteuid() && cred.uid != 0)
                return reins_error_set(err, EPERM, "peer uid %u is neither yours nor root",
                                       (unsigned)cred.uid);
        if (weaken("control-peer"))
                return 0;
        /* pid 0: a peer in a pid namespace we cannot see into (not ours) */
        if (cred.pid <= 0)
                return reins_error_set(err, EPERM, "peer outside our pid namespace");
        cleanup_fd int pidfd = peer_pidfd(fd, cred.pid);
        if (out_of_fds(pidfd))
                return reins_error_set(err, EMFILE, "out of file descriptors to check the peer");
        if (pidfd < 0)
                return reins_error_set(err, EPERM, "peer pid %d is gone", (int)cred.pid);
        char pid[16];
        snprintf(pid, sizeof(pid), "%d", (int)cred.pid);
        int same_pid = peer_same_ns(cred.pid, "pid");
        int same_user = peer_same_ns(cred.pid, "user");
        int depth = peer_pid_depth(pid), our_depth = peer_pid_depth("self");
        /* the ns links of a root (or non-dumpable) peer are not ours to
         * read: then its depth in the pid namespace tree decides alone
         * (every sandbox has a pid namespace of its own) */
        int cgroup = peer_in_reins_cgroup(cred.pid);
        /* fail closed all the same, but say why: fds, not a sandbox */
        if (out_of_fds(depth) || out_of_fds(our_depth) || out_of_fds(cgroup))
                return reins_error_set(err, EMFILE, "out of file descriptors to check the peer");
        bool same = depth >= 1 && depth == our_depth && (same_pid > 0 || same_pid == -EACCES) &&
                    (same_user > 0 || same_user == -EACCES);
        bool sandboxed = same && cgroup != 0;
        /* what /proc showed belongs to the peer only if it still lives:
         * otherwise its pid may name another process by now (EPERM: a root
         * peer we may not signal, alive) */
        if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0 && errno != EPERM)
                return reins_error_set(err, EPERM, "peer pid %d is gone", (int)cred.pid);
        if (!same)
                return reins_error_set(err, EPERM,
                                       "peer pid %d is in another pid or user namespace (a "
                                       "sandbox)",
                                       (int)cred.pid);
        if (sandboxed)
                return reins_error_set(err, EPERM, "peer pid %d is in a reins sandbox's cgroup",
                                       (int)cred.pid);
        return 0;
}
