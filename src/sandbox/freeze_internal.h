/* Shared by freeze.c (which mechanism), freeze_cgroup.c (the cgroup
 * freezer), freeze_watchdog.c (a v1 freeze outliving the supervisor) and
 * freeze_signal.c (SIGSTOP of a pid namespace). */
#ifndef REINS_SANDBOX_FREEZE_INTERNAL_H
#define REINS_SANDBOX_FREEZE_INTERNAL_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "sandbox/freeze.h"

/* How long a freeze may take before it is reported as incomplete. */
#define FREEZE_WAIT_MS 1000

/* Ask the kernel to freeze (true) or thaw (false) the cgroup `dir`. */
int freeze_cgroup_set(enum freeze_mechanism mechanism, const char *dir, bool frozen);
/* Wait until every task of `dir` is frozen: -ETIMEDOUT after FREEZE_WAIT_MS. */
int freeze_cgroup_wait(enum freeze_mechanism mechanism, const char *dir);
/* Send `sig` to every process listed in an open, unread cgroup.procs (0:
 * only count them); how many. Async-signal-safe. */
int freeze_cgroup_signal_fd(int procs_fd, int sig);
/* How many processes the cgroup holds, or -errno. */
int freeze_cgroup_count(const char *dir);
/* SIGKILL every process of a frozen v1 cgroup through its open cgroup.procs,
 * then thaw it through its open freezer.state. Async-signal-safe. */
int freeze_cgroup_kill_v1_fds(int procs_fd, int state_fd);
/* Open `file` of the cgroup `dir` (O_CLOEXEC added), or -errno. */
int freeze_cgroup_open(const char *dir, const char *file, int flags);

/* v1: start the watchdog of the freeze of `dir` / send it away. */
int freeze_watchdog_start(const char *dir, struct freeze_state *state);
void freeze_watchdog_stop(struct freeze_state *state);

/* SIGSTOP (freeze) or SIGCONT (thaw) every process of the pid namespace of
 * `init`; the number of processes signalled, or -errno. */
int freeze_signal_namespace(pid_t init, int sig);

#endif
