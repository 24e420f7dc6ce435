/* Capabilities: the sandboxed command keeps none, in any set. */
#ifndef REINS_SANDBOX_CAPS_H
#define REINS_SANDBOX_CAPS_H

#include "util/error.h"

/* Drop the bounding set, clear ambient, inheritable, permitted and effective
 * sets, and set no_new_privs. After this no execve can gain privilege. */
int caps_drop_all(struct reins_error *err);

#endif
