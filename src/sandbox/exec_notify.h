/* Exec auditing: a second, tiny seccomp filter sends every execve/execveat
 * of the sandbox to the supervisor (SECCOMP_RET_USER_NOTIF). The supervisor
 * reads argv, cwd and parent for the audit trail and lets the call go on.
 * What it reads from the process is telemetry, never a basis for allowing
 * anything: the process could change its memory after we read it. */
#ifndef REINS_SANDBOX_EXEC_NOTIFY_H
#define REINS_SANDBOX_EXEC_NOTIFY_H

#include "audit/event.h"

/* Child side, after the main filter: install the exec filter, return the
 * listener fd (or -errno). Async-signal-safe. */
int exec_notify_install(void);

/* An optional check on each exec (a delegation token's `cmd` list): return
 * 0 to let it go on, or an errno (EACCES) to fail the execve with, and *why.
 * It sees what the process's memory said when the call was reported; a
 * second thread of the process could change the path before the kernel
 * reads it again, so this is a tripwire for honest mistakes and a record,
 * not a boundary (the token's other rights are enforced by the kernel and
 * the proxy). */
struct exec_gate {
        int (*check)(void *ctx, json_t *exec, const char **why); /* may add fields */
        void *ctx;
};

/* Supervisor side: answer one pending notification (non-blocking fd) and
 * emit an "exec" event (with "refused" when the gate said no). `gate` may
 * be NULL. Returns 0, or -errno when the listener is gone. */
int exec_notify_handle(int listener, struct event_bus *bus, const struct exec_gate *gate);

#endif
