/* The watchdog of a v1 freeze. When `reins run` dies while the sandbox is
 * frozen in a v1 freezer cgroup (kill -9, a crash), the SIGKILL its pid 1
 * gets then (PDEATHSIG) waits for a thaw nobody would write: the sandbox
 * would stay frozen, holding its memory, until the next `reins run` as root
 * cleans up stale cgroups. So a v1 freeze starts this small process outside
 * the sandbox. It waits on a pipe from the supervisor: a byte means the
 * supervisor thawed or ended the sandbox itself; end of file means the
 * supervisor is gone, and the watchdog kills every process of the cgroup
 * and thaws it, so they die without running again. v2 and SIGSTOP need no
 * watchdog: SIGKILL reaches frozen and stopped tasks there. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/freeze_internal.h"
#include "util/cleanup.h"

/* In the forked child: async-signal-safe calls only. */
static __attribute__((noreturn)) void watchdog_run(int wait_fd, int procs_fd, int state_fd)
{
        /* a session of its own: the terminal's ^C is for the sandbox (the
         * supervisor relays it), not for the watchdog. The supervisor's
         * blocked signals stay blocked here: only SIGKILL ends it early. */
        setsid();
        /* keep the three descriptors it needs and nothing else: the
         * supervisor's sockets and files must close when it dies */
        if (dup2(wait_fd, 0) < 0 || dup2(procs_fd, 1) < 0 || dup2(state_fd, 2) < 0)
                _exit(1);
        close_range(3, ~0U, 0);
        char byte;
        ssize_t n;
        while ((n = read(0, &byte, 1)) < 0 && errno == EINTR)
                ;
        if (n != 1) /* end of file: the supervisor is gone, the sandbox frozen */
                freeze_cgroup_kill_v1_fds(1, 2);
        _exit(0);
}

int freeze_watchdog_start(const char *dir, struct freeze_state *state)
{
        /* opened here, so the child needs no path handling */
        cleanup_fd int procs_fd = freeze_cgroup_open(dir, "cgroup.procs", O_RDONLY);
        cleanup_fd int state_fd = freeze_cgroup_open(dir, "freezer.state", O_WRONLY);
        if (procs_fd < 0 || state_fd < 0)
                return procs_fd < 0 ? procs_fd : state_fd;
        int pipe_fds[2];
        if (pipe2(pipe_fds, O_CLOEXEC) < 0)
                return -errno;
        pid_t pid = fork();
        if (pid == 0)
                watchdog_run(pipe_fds[0], procs_fd, state_fd);
        int saved = errno;
        close(pipe_fds[0]);
        if (pid < 0) {
                close(pipe_fds[1]);
                return -saved;
        }
        state->watchdog = pid;
        state->watchdog_fd = pipe_fds[1];
        return 0;
}

void freeze_watchdog_stop(struct freeze_state *state)
{
        if (state->watchdog <= 0)
                return;
        /* a byte, not only the close: "the supervisor saw to it" */
        ssize_t sent = write(state->watchdog_fd, "t", 1);
        (void)sent; /* when it is gone already (EPIPE, SIGPIPE ignored), reaping is all */
        close(state->watchdog_fd);
        while (waitpid(state->watchdog, NULL, 0) < 0 && errno == EINTR)
                ;
        state->watchdog = 0;
        state->watchdog_fd = -1;
}
