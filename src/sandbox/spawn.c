/* Supervisor side of the spawn pipeline: clone, id maps, cgroup placement,
 * then release the child. The child side is in child.c. */
#include "sandbox/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/child.h"
#include "sandbox/pty.h"
#include "util/weaken.h"
#include "util/cleanup.h"

static int write_file(const char *path, const char *text)
{
        cleanup_fd int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        size_t len = strlen(text);
        if (write(fd, text, len) != (ssize_t)len)
                return -errno;
        return 0;
}

/* A container of root in a user namespace of its own (rootless podman runs
 * its runtime as uid 0 of a namespace that maps only the user's ids): the
 * identity map of exactly the ids that namespace has, which is all root can
 * map; "0 0 4294967295" on the host. `which` is "uid_map" or "gid_map". */
static int spawn_identity_of_own(const char *which, char *out, size_t size)
{
        char path[32], text[4096];
        snprintf(path, sizeof(path), "/proc/self/%s", which);
        cleanup_fd int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd < 0 ? -1 : read(fd, text, sizeof(text) - 1);
        if (n <= 0)
                return -EIO;
        text[n] = '\0';
        size_t used = 0;
        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                unsigned long inside, outside, count;
                if (sscanf(line, "%lu %lu %lu", &inside, &outside, &count) != 3)
                        return -EIO;
                int w = snprintf(out + used, size - used, "%lu %lu %lu\n", inside, inside, count);
                if (w < 0 || (size_t)w >= size - used)
                        return -E2BIG;
                used += (size_t)w;
        }
        return used > 0 ? 0 : -EIO;
}

static int spawn_write_own_identity(pid_t pid, struct reins_error *err)
{
        char path[64], map[4096], setgroups[16] = "";
        int r;
        /* a namespace whose setgroups is denied cannot allow it below */
        cleanup_fd int fd = open("/proc/self/setgroups", O_RDONLY | O_CLOEXEC);
        if (fd >= 0 && read(fd, setgroups, sizeof(setgroups) - 1) > 0 &&
            strncmp(setgroups, "deny", 4) == 0) {
                snprintf(path, sizeof(path), "/proc/%d/setgroups", pid);
                if ((r = write_file(path, "deny")) < 0)
                        return reins_error_errno(err, -r, "writing %s", path);
        }
        static const char *const which[] = {"uid_map", "gid_map"};
        for (size_t i = 0; i < 2; i++) {
                if ((r = spawn_identity_of_own(which[i], map, sizeof(map))) < 0)
                        return reins_error_errno(err, -r, "reading /proc/self/%s", which[i]);
                snprintf(path, sizeof(path), "/proc/%d/%s", pid, which[i]);
                if ((r = write_file(path, map)) < 0)
                        return reins_error_errno(err, -r, "writing %s", path);
        }
        return 0;
}

/* Unprivileged: the caller keeps its own uid and gid inside, the only map a
 * user may write without helpers; setgroups must be denied first.
 * Root: identity map of the whole range, so workspace files keep their
 * owners; uid 0 inside holds no capability on the host. */
static int spawn_write_id_maps(pid_t pid, const struct reins_plan *plan, struct reins_error *err)
{
        char path[64], map[64];
        uid_t uid = geteuid();
        gid_t gid = getegid();
        int r;
        const struct plan_root *root = plan->root;
        if (root && root->uid_map && root->gid_map) {
                /* a container's own maps (linux.uidMappings): the kernel
                 * checks them against what this user may map */
                if (uid != 0) {
                        snprintf(path, sizeof(path), "/proc/%d/setgroups", pid);
                        if ((r = write_file(path, "deny")) < 0)
                                return reins_error_errno(err, -r, "writing %s", path);
                }
                snprintf(path, sizeof(path), "/proc/%d/uid_map", pid);
                if ((r = write_file(path, root->uid_map)) < 0)
                        return reins_error_errno(err, -r, "config.json: linux.uidMappings");
                snprintf(path, sizeof(path), "/proc/%d/gid_map", pid);
                if ((r = write_file(path, root->gid_map)) < 0)
                        return reins_error_errno(err, -r, "config.json: linux.gidMappings");
                return 0;
        }
        if (root && uid == 0)
                return spawn_write_own_identity(pid, err);
        if (uid != 0) {
                snprintf(path, sizeof(path), "/proc/%d/setgroups", pid);
                if ((r = write_file(path, "deny")) < 0)
                        return reins_error_errno(err, -r, "writing %s", path);
        }
        snprintf(path, sizeof(path), "/proc/%d/uid_map", pid);
        if (uid == 0)
                snprintf(map, sizeof(map), "0 0 4294967295\n");
        else
                snprintf(map, sizeof(map), "%u %u 1\n", uid, uid);
        if ((r = write_file(path, map)) < 0)
                return reins_error_errno(err, -r, "writing %s", path);
        snprintf(path, sizeof(path), "/proc/%d/gid_map", pid);
        if (uid == 0)
                snprintf(map, sizeof(map), "0 0 4294967295\n");
        else
                snprintf(map, sizeof(map), "%u %u 1\n", gid, gid);
        if ((r = write_file(path, map)) < 0)
                return reins_error_errno(err, -r, "writing %s", path);
        return 0;
}

static unsigned long spawn_clone_flags(const struct reins_plan *plan)
{
        unsigned long flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_PIDFD | SIGCHLD;
        if (!plan->root || !plan->root->join_ipc)
                flags |= CLONE_NEWIPC;
        if (!plan->root || !plan->root->join_uts)
                flags |= CLONE_NEWUTS;
        if (!plan->host_network)
                flags |= CLONE_NEWNET;
        if (!weaken("pidns"))
                flags |= CLONE_NEWPID;
        return flags;
}

/* A fork-like clone: the child gets a copy of our (single-threaded) memory,
 * including the plan and the prebuilt seccomp program. */
static long spawn_clone(const struct spawn_inputs *in, int *pidfd)
{
        return syscall(SYS_clone, spawn_clone_flags(in->plan), NULL, pidfd, NULL, NULL);
}

int spawn_sandbox(const struct spawn_inputs *in, struct spawn_result *out, struct reins_error *err)
{
        int maps_pipe[2], status_pair[2];
        /* a plan whose deny matches are still being collected hides
         * nothing a glob matched: never spawn it (plan_finish_deny) */
        if (in->plan->deny_job)
                return reins_error_set(err, EINVAL, "the deny globs' matches are not in the plan");
        if (pipe2(maps_pipe, O_CLOEXEC) < 0)
                return reins_error_errno(err, errno, "pipe");
        /* a socket, not a pipe: the pty master travels on it as SCM_RIGHTS */
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, status_pair) < 0) {
                int e = errno;
                close(maps_pipe[0]);
                close(maps_pipe[1]);
                return reins_error_errno(err, e, "socketpair");
        }
        int pidfd = -1;
        long pid = spawn_clone(in, &pidfd);
        if (pid == 0) {
                close(maps_pipe[1]);
                close(status_pair[0]);
                child_main(in, maps_pipe[0], status_pair[1]); /* never returns */
        }
        int saved = errno;
        close(maps_pipe[0]);
        close(status_pair[1]);
        if (pid < 0) {
                close(maps_pipe[1]);
                close(status_pair[0]);
                if (saved == EPERM || saved == ENOSPC || saved == EINVAL)
                        return reins_error_errno(err, saved,
                                                 "cannot create the sandbox namespaces (user "
                                                 "namespaces disabled? see 'reins doctor')");
                return reins_error_errno(err, saved, "clone");
        }
        int r = spawn_write_id_maps((pid_t)pid, in->plan, err);
        if (r == 0 && write(maps_pipe[1], "m", 1) != 1)
                r = reins_error_errno(err, errno, "releasing the sandbox");
        close(maps_pipe[1]);
        if (r < 0) {
                /* the child sees EOF and exits; make sure it is gone */
                kill((pid_t)pid, SIGKILL);
                waitpid((pid_t)pid, NULL, __WALL);
                close(pidfd);
                close(status_pair[0]);
                return r;
        }
        out->pid = (pid_t)pid;
        out->pidfd = pidfd;
        out->status_fd = status_pair[0];
        return 0;
}

/* every join fd goes to the child in one report */
_Static_assert(CGROUP_MAX_DIRS <= REPORT_MAX_FDS, "a report carries every cgroup join fd");

int spawn_send_limits(const struct spawn_result *sandbox, const struct cgroup_handle *cgroup,
                      bool rlimit_fallback, struct reins_error *err)
{
        int r = report_send_fds(sandbox->status_fd, SPAWN_REPORT_LIMITS, rlimit_fallback,
                                cgroup ? cgroup->join_fds : NULL, cgroup ? cgroup->join_count : 0);
        return r < 0 ? reins_error_errno(err, -r, "sending the limits to the sandbox") : 0;
}

/* One memfd, not a message: argv and the environment may be larger than a
 * SOCK_SEQPACKET record can carry. The child reads it and closes it before
 * execve (it arrives close-on-exec as well). */
int spawn_send_command(const struct spawn_result *sandbox, char *const *argv, char *const *env,
                       struct reins_error *err)
{
        cleanup_fd int fd = memfd_create("reins-command", MFD_CLOEXEC);
        if (fd < 0)
                return reins_error_errno(err, errno, "memfd_create");
        size_t length = 0, argc = 0;
        for (char *const *a = argv; *a; a++, argc++)
                length += strlen(*a) + 1;
        for (char *const *e = env; e && *e; e++)
                length += strlen(*e) + 1;
        char *buffer = malloc(length ? length : 1), *at = buffer;
        if (!buffer)
                return reins_error_set(err, ENOMEM, "out of memory");
        for (char *const *a = argv; *a; a++)
                at = stpcpy(at, *a) + 1;
        for (char *const *e = env; e && *e; e++)
                at = stpcpy(at, *e) + 1;
        ssize_t n = write(fd, buffer, length);
        free(buffer);
        if (n != (ssize_t)length)
                return reins_error_errno(err, n < 0 ? errno : EIO, "writing the command");
        int r = report_send_fds(sandbox->status_fd, SPAWN_REPORT_COMMAND, (int)argc, &fd, 1);
        return r < 0 ? reins_error_errno(err, -r, "sending the command to the sandbox") : 0;
}

void spawn_kill(struct spawn_result *sandbox)
{
        kill(sandbox->pid, SIGKILL);
        waitpid(sandbox->pid, NULL, __WALL);
        close(sandbox->pidfd);
        close(sandbox->status_fd);
        sandbox->pidfd = sandbox->status_fd = -1;
}
