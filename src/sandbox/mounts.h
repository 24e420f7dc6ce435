/* The private mount tree, executed in the child from the plan's mount list. */
#ifndef REINS_SANDBOX_MOUNTS_H
#define REINS_SANDBOX_MOUNTS_H

#include "sandbox/plan.h"
#include "util/error.h"

/* In a fresh mount namespace (with CAP_SYS_ADMIN in its user namespace):
 * build the tmpfs root, execute every mount op, pivot_root into it and
 * detach the host tree. Afterwards "/" is the sandbox's root.
 * *workspace_copy: a directory fd of the capped copy's tmpfs
 * (limits.workspace_size) for the supervisor, else -1. */
int mounts_build_root(const struct reins_plan *plan, int *workspace_copy, struct reins_error *err);

#endif
