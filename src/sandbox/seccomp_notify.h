/* The supervisor's side of the seccomp filter's user notifications: one
 * listener carries two kinds of call (seccomp.c).
 *   execve/execveat: recorded as "exec" events and let go on (exec_notify.h);
 *   rename/renameat/renameat2 when the plan has protected paths: EROFS for
 *   a protected path, recorded once per path as "file.protected_write"
 *   (action "refused"); every other rename goes on (protect_notify.h);
 *   escape primitives (mount family, ptrace, setns, bpf, keyctl, module
 *   loading, kexec, open_by_handle_at, clone/unshare of a user namespace):
 *   always refused with EPERM and recorded as "syscall.denied" events, which
 *   the risk engine's escape-primitive rule reads.
 * A sandbox looping on a denied call must not flood the audit trail: past a
 * burst, denials are counted rather than recorded one by one, and the count
 * rides on the next record (and on a final "syscall.denied" summary). */
#ifndef REINS_SANDBOX_SECCOMP_NOTIFY_H
#define REINS_SANDBOX_SECCOMP_NOTIFY_H

#include <stdint.h>

#include "audit/event.h"
#include "sandbox/exec_notify.h"
#include "sandbox/protect_notify.h"

#define SECCOMP_NOTIFY_BURST      32 /* denial records at once */
#define SECCOMP_NOTIFY_PER_SECOND 8  /* and then at most this many a second */

struct seccomp_notify {
        double tokens;        /* records the limiter still allows now */
        int64_t refilled_ms;  /* when tokens were last topped up */
        uint64_t denied;      /* denials in all */
        uint64_t suppressed;  /* denials not recorded since the last record */
        int last_nr;          /* the syscall of the last suppressed denial */
        uint64_t exec_misses; /* execs of a path that does not exist (a PATH search's
                                 tries) not recorded since the last exec record */
        /* renames onto protected paths */
        struct protect_watch protect;
};

/* `plan` (may be NULL) names the protected paths; it must outlive the
 * state. 0 or -ENOMEM. */
int seccomp_notify_init(struct seccomp_notify *state, const struct reins_plan *plan);

/* Answer one pending notification on `listener` (non-blocking), then emit
 * its event on `bus`. `gate` (may be NULL) checks execs. Returns 0, or
 * -errno when the listener is gone. */
int seccomp_notify_handle(int listener, struct seccomp_notify *state, struct event_bus *bus,
                          const struct exec_gate *gate);

/* At the end of the session: a summary record of denials still counted but
 * not recorded, if any; the state is freed. */
void seccomp_notify_finish(struct seccomp_notify *state, struct event_bus *bus);

#endif
