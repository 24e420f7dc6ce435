/* Capabilities: the sandboxed command keeps none, in any set. */
#ifndef REINS_SANDBOX_CAPS_H
#define REINS_SANDBOX_CAPS_H

#include "sandbox/plan.h"
#include "util/error.h"

/* Drop the bounding set, clear ambient, inheritable, permitted and effective
 * sets, and set no_new_privs. After this no execve can gain privilege. */
/* With root->set_ids (reins oci), the process takes the container's uid,
 * gid and groups on the way (NULL: keeps its ids); with root->caps_given,
 * it keeps exactly the container's granted sets instead of none. */
int caps_drop_all(const struct plan_root *root, struct reins_error *err);

#endif
