/* The child side of the spawn pipeline (pid 1 of the sandbox). */
#ifndef REINS_SANDBOX_CHILD_H
#define REINS_SANDBOX_CHILD_H

#include "sandbox/spawn.h"

/* Never returns: _exit()s with the command's status, or 125 after reporting
 * a setup failure on status_fd. */
__attribute__((noreturn)) void child_main(const struct spawn_inputs *in, int maps_fd,
                                          int status_fd);

/* Report on the status pipe (async-signal-safe, one atomic write). */
void child_report(int status_fd, int kind, int code, const char *message);

/* The command process: terminal, cwd, protections, execve. Never returns. */
__attribute__((noreturn)) void child_exec_command(const struct spawn_inputs *in, int status_fd,
                                                  int pty_fd);

/* The signals the supervisor relays to the command through pid 1 (the one
 * list: the supervisor blocks and reads them, pid 1 catches them). */
#define CHILD_RELAYED_SIGNALS 9
extern const int child_relayed_signals[CHILD_RELAYED_SIGNALS];

/* pid 1: reap everything, relay signals to the command, exit with its status. */
__attribute__((noreturn)) void child_init_loop(pid_t command);

#endif
