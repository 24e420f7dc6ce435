/* The cgroup freezer: the files of the sandbox's freezer cgroup (v1
 * freezer.state, v2 cgroup.freeze and cgroup.events), and its process list
 * for counting and killing. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/cgroup.h"
#include "sandbox/freeze_internal.h"
#include "util/cleanup.h"

int freeze_cgroup_set(enum freeze_mechanism mechanism, const char *dir, bool frozen)
{
        if (mechanism == FREEZE_CGROUP_V1)
                return cgroup_file_write(dir, "freezer.state", frozen ? "FROZEN" : "THAWED");
        if (mechanism == FREEZE_CGROUP_V2)
                return cgroup_file_write(dir, "cgroup.freeze", frozen ? "1" : "0");
        return -EINVAL;
}

/* Whether the kernel reports every task of the cgroup frozen: v1 says
 * FREEZING until the last task is caught, v2 "frozen 0" in cgroup.events. */
static int cgroup_is_frozen(enum freeze_mechanism mechanism, const char *dir)
{
        char buf[256];
        int r = mechanism == FREEZE_CGROUP_V1
                    ? cgroup_file_read(dir, "freezer.state", buf, sizeof(buf))
                    : cgroup_file_read(dir, "cgroup.events", buf, sizeof(buf));
        if (r < 0)
                return r;
        if (mechanism == FREEZE_CGROUP_V1)
                return strncmp(buf, "FROZEN", 6) == 0;
        const char *line = strstr(buf, "frozen ");
        return line && line[7] == '1';
}

static int64_t monotonic_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int freeze_cgroup_wait(enum freeze_mechanism mechanism, const char *dir)
{
        int64_t deadline = monotonic_ms() + FREEZE_WAIT_MS;
        long step_us = 200; /* most freezes finish at once: look again soon */
        for (;;) {
                int r = cgroup_is_frozen(mechanism, dir);
                if (r != 0)
                        return r < 0 ? r : 0;
                if (monotonic_ms() >= deadline)
                        return -ETIMEDOUT;
                usleep((useconds_t)step_us);
                if (step_us < 20000)
                        step_us *= 2;
        }
}

int freeze_cgroup_open(const char *dir, const char *file, int flags)
{
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, file);
        int fd = open(path, flags | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

/* 1 when `pid` was signalled (or, with sig 0, merely listed). */
static int signal_listed(long pid, int sig)
{
        return pid > 0 && (sig == 0 || kill((pid_t)pid, sig) == 0);
}

/* Parsed by hand, with read(2) alone: the watchdog runs this in a child of
 * a process that may have threads, where only async-signal-safe calls are
 * allowed. */
int freeze_cgroup_signal_fd(int procs_fd, int sig)
{
        char buf[4096];
        long pid = 0;
        int count = 0;
        for (;;) {
                ssize_t n = read(procs_fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0) /* a last line without its newline */
                        return count + signal_listed(pid, sig);
                for (ssize_t i = 0; i < n; i++) {
                        if (buf[i] >= '0' && buf[i] <= '9') {
                                pid = pid * 10 + (buf[i] - '0');
                                continue;
                        }
                        count += signal_listed(pid, sig);
                        pid = 0;
                }
        }
}

int freeze_cgroup_count(const char *dir)
{
        cleanup_fd int fd = freeze_cgroup_open(dir, "cgroup.procs", O_RDONLY);
        return fd < 0 ? fd : freeze_cgroup_signal_fd(fd, 0);
}

int freeze_cgroup_kill_v1_fds(int procs_fd, int state_fd)
{
        /* frozen tasks fork no more, so the list is complete; each kill stays
         * pending until the thaw, and a task leaving the freezer acts on a
         * pending SIGKILL before it returns to user space */
        int n = freeze_cgroup_signal_fd(procs_fd, SIGKILL);
        if (write(state_fd, "THAWED", 6) != 6)
                return -errno;
        return n;
}
