/* Landlock at the best ABI the kernel offers, as defence in depth under the
 * mount namespace: even a path that leaks into the view is not usable
 * beyond what the plan granted. */
#ifndef REINS_SANDBOX_LANDLOCK_H
#define REINS_SANDBOX_LANDLOCK_H

#include <stddef.h>

#include "sandbox/plan.h"
#include "util/error.h"

/* The kernel's Landlock ABI version, 0 when Landlock is absent or disabled. */
int landlock_abi_version(void);

/* Restrict the calling process (after pivot_root, before exec) to `rules`.
 * Paths that do not exist are skipped. The files behind fds 0-2 get a
 * rule of their own (the rights each fd carries), so /dev/stdout works
 * when the caller redirected to a file. Also scopes signals and abstract unix
 * sockets to the sandbox when the ABI has scoping (6+). Requires no_new_privs.
 * Returns 0, or -errno with err filled. */
int landlock_apply(const struct landlock_rule *rules, size_t count, struct reins_error *err);

#endif
