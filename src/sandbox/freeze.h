/* Freezing a running sandbox (the risk engine's top tier): every process of
 * its pid namespace gets SIGSTOP, pid 1 included (from an ancestor namespace
 * SIGSTOP reaches a namespace's init), until thawed with SIGCONT. Works the
 * same as root and unprivileged: the sandbox's processes are ours. Forks
 * racing the stop are caught by repeating until a pass finds nothing new
 * (a stopped process cannot fork). */
#ifndef REINS_SANDBOX_FREEZE_H
#define REINS_SANDBOX_FREEZE_H

#include <sys/types.h>

/* SIGSTOP (freeze) or SIGCONT (thaw) every process in the pid namespace of
 * `init` (the sandbox's pid 1, host pid). Returns the number of processes
 * signalled, or -errno. */
int freeze_sandbox(pid_t init);
int thaw_sandbox(pid_t init);

#endif
