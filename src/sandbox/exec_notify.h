/* Exec auditing: the seccomp filter sends every execve/execveat of the
 * sandbox to the supervisor (SECCOMP_RET_USER_NOTIF, seccomp_notify.h). The
 * supervisor reads argv, cwd and parent for the audit trail and lets the
 * call go on.
 * What it reads from the process is telemetry, never a basis for allowing
 * anything: the process could change its memory after we read it. */
#ifndef REINS_SANDBOX_EXEC_NOTIFY_H
#define REINS_SANDBOX_EXEC_NOTIFY_H

#include <jansson.h>
#include <linux/seccomp.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

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

/* Answer one exec notification: fill `resp` (CONTINUE, or the gate's
 * errno) and return the "exec" event's fields (NULL when neither `describe`
 * nor a gate wants them). The caller sends `resp`, then emits the event. */
json_t *exec_notify_answer(const struct seccomp_notif *req, struct seccomp_notif_resp *resp,
                           bool describe, const struct exec_gate *gate);

/* The pid of host process `pid` as the sandbox sees it, and its parent's
 * (-1 when unknown). */
void exec_notify_proc_ids(pid_t pid, long *inner_pid, long *parent);

/* /proc/PID/comm as JSON text (null when unreadable). */
json_t *exec_notify_comm(pid_t pid);

/* The NUL-terminated string at `address` in `pid`'s memory, read with
 * process_vm_readv page by page, at most *budget bytes (decreased by what
 * was read). NULL when unreadable or longer than the budget; else malloc'd,
 * its length in *length. */
char *exec_notify_read_string(pid_t pid, uint64_t address, size_t *budget, size_t *length);

#endif
