/* Resource limits set with setrlimit in the sandbox's pid 1 (inherited by
 * the command): open files and core dumps always; memory, processes and cpus
 * too when cgroups are unavailable (the announced fallback). */
#ifndef REINS_SANDBOX_RLIMITS_H
#define REINS_SANDBOX_RLIMITS_H

#include "sandbox/plan.h"
#include "util/error.h"

int rlimits_apply(const struct reins_plan *plan, int fallback, struct reins_error *err);

/* A container's process.rlimits and oomScoreAdj (reins oci): each rlimit
 * only ever lowers what reins set, the OOM score only ever rises. NULL:
 * nothing. */
int rlimits_apply_container(const struct plan_root *root, struct reins_error *err);

#endif
