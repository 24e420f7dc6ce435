/* The seccomp filter of DESIGN §4, built once in the supervisor (before clone)
 * as a raw BPF program, installed in the child with TSYNC just before exec. */
#ifndef REINS_SANDBOX_SECCOMP_H
#define REINS_SANDBOX_SECCOMP_H

#include <linux/filter.h>
#include <stdbool.h>

#include "util/error.h"
#include "util/strv.h"

struct seccomp_program {
        struct sock_filter *filter; /* owned */
        unsigned short length;
};

/* Build the default profile, minus `allow` (only names the profile lets a
 * policy relax, else -EINVAL with the name), plus `deny` (any known syscall
 * name, else -EINVAL). Deny beats allow. `watch_renames`: the plan has
 * protected paths, so renames go to the supervisor (protect_notify.h). */
int seccomp_program_build(const struct reins_strv *allow, const struct reins_strv *deny,
                          bool watch_renames, struct seccomp_program *out, struct reins_error *err);

/* Install in the calling process, synchronising all its threads (TSYNC).
 * Requires no_new_privs already set. Returns the listener fd of its user
 * notifications (execs and reported denials, see seccomp_notify.h), or
 * -errno. Async-signal-safe (post-fork use). */
int seccomp_program_install(const struct seccomp_program *program);

void seccomp_program_free(struct seccomp_program *program);

/* Is seccomp filtering available on this kernel? (for doctor) */
int seccomp_available(void);

#endif
