/* Make the workspace of a running sandbox read-only (the risk engine's
 * second tier). A short-lived child of the supervisor joins the sandbox's
 * user and mount namespaces (the supervisor's uid owns the user namespace,
 * so this works unprivileged too) and sets MOUNT_ATTR_RDONLY on the
 * workspace and everything mounted below it. Files already open for writing
 * keep working until closed; every new open for writing fails with EROFS. */
#ifndef REINS_SANDBOX_REMOUNT_H
#define REINS_SANDBOX_REMOUNT_H

#include <sys/types.h>

#include "util/error.h"

int remount_readonly(pid_t init, const char *path, struct reins_error *err);

#endif
