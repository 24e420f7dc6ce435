/* The spawn pipeline of DESIGN §4: clone into new namespaces, map ids,
 * place in cgroups, then (in the child) build the root, apply limits and
 * protections and start the command under a pid-1 reaper. */
#ifndef REINS_SANDBOX_SPAWN_H
#define REINS_SANDBOX_SPAWN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/types.h>
#include <termios.h>

#include "sandbox/cgroup.h"
#include "sandbox/plan.h"
#include "sandbox/seccomp.h"
#include "util/error.h"

/* What the child reports on the status pipe (one record per write, atomic). */
enum spawn_report_kind {
        SPAWN_REPORT_SETUP_FAILED = 1,  /* reins failed before the command ran: exit 125 */
        SPAWN_REPORT_EXEC_FAILED = 2,   /* execve failed: 126 or 127 */
        SPAWN_REPORT_PTY = 3,           /* carries the master of the sandbox's pty (SCM_RIGHTS) */
        SPAWN_REPORT_PROXY = 4,         /* carries the proxy's listening socket (SCM_RIGHTS) */
        SPAWN_REPORT_EXEC_LISTENER = 5, /* carries the seccomp listener for exec auditing */
        SPAWN_REPORT_LIMITS = 6,        /* supervisor to child: cgroup join fds; code 1 = rlimits */
        SPAWN_REPORT_AGENT_CHANNEL = 7, /* carries the agent request channel's listening socket */
        SPAWN_REPORT_WORKSPACE_COPY = 8, /* carries the capped copy's tmpfs (a directory fd) */
        /* supervisor to a parked command: a memfd holding argv then the
         * environment, NUL-terminated strings; code = argc (spawn_send_command) */
        SPAWN_REPORT_COMMAND = 9,
};

struct spawn_report {
        int32_t kind;
        int32_t code; /* errno */
        char message[REINS_ERROR_MAX];
};

struct spawn_inputs {
        const struct reins_plan *plan;
        const struct seccomp_program *seccomp;
        bool use_pty;           /* make a pty in the sandbox's own devpts */
        struct termios termios; /* the caller's terminal settings, for that pty */
        struct winsize winsize;
        int tty_fds;                        /* bit i set: fd i is the caller's terminal */
        int landlock_abi;                   /* 0: skip Landlock (allowed by --allow-degraded) */
        const struct cgroup_handle *cgroup; /* NULL: no cgroup */
        int rlimit_fallback;                /* enforce memory/pids/cpus with rlimits instead */
        /* a warm pool's member (serve/pool.c): the command process, every
         * protection in place (Landlock included), waits just before execve
         * for spawn_send_command; the plan's argv and env are not used */
        bool park_command;
};

struct spawn_result {
        pid_t pid;     /* the sandbox's pid 1, in our namespace */
        int pidfd;     /* readable when it exits */
        int status_fd; /* SOCK_SEQPACKET: spawn_report records, EOF once the command runs */
};

/* Clone into new namespaces, map ids and let the child build its root; it
 * reports on status_fd and waits for spawn_send_limits. */

int spawn_sandbox(const struct spawn_inputs *in, struct spawn_result *out, struct reins_error *err);

/* The child builds its root meanwhile; this releases it to start the command
 * once it has joined `cgroup` (NULL: none), or with rlimits instead. */
int spawn_send_limits(const struct spawn_result *sandbox, const struct cgroup_handle *cgroup,
                      bool rlimit_fallback, struct reins_error *err);

/* A parked command (spawn_inputs.park_command) gets its argv and
 * environment and runs. */
int spawn_send_command(const struct spawn_result *sandbox, char *const *argv, char *const *env,
                       struct reins_error *err);

/* Kill a sandbox that will not be released, and reap it. */
void spawn_kill(struct spawn_result *sandbox);

#endif
