/* Running sessions, for `reins ps` and `reins stop`: one small JSON file per
 * session in a private, owner-checked runtime directory
 * ($XDG_RUNTIME_DIR/reins, else /run/user/UID/reins, else a 0700 directory
 * under /tmp whose owner and mode are verified — never trusted blindly). */
#ifndef REINS_AUDIT_RUNTIME_H
#define REINS_AUDIT_RUNTIME_H

#include <jansson.h>
#include <sys/types.h>

#include "util/error.h"

/* Record a running session (its supervisor pid and `info`: agent, policy,
 * command, workspace, start time, trail path). */
int runtime_register(const char *session, pid_t supervisor, const json_t *info,
                     struct reins_error *err);
void runtime_unregister(const char *session);

#endif
