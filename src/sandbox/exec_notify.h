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

/* Supervisor side: answer one pending notification (non-blocking fd) and
 * emit an "exec" event. Returns 0, or -errno when the listener is gone. */
int exec_notify_handle(int listener, struct event_bus *bus);

#endif
