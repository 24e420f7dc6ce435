/* config.json's hooks, run on the host as runc runs them (hooks.c). */
#ifndef REINS_OCI_HOOKS_H
#define REINS_OCI_HOOKS_H

#include <jansson.h>

#include "util/error.h"

/* Refuses what reins does not run (createContainer, startContainer) and
 * malformed hooks, naming the key. */
int oci_hooks_check(const json_t *hooks, struct reins_error *err);
/* Runs hooks.KIND in order, `state` on each one's stdin; the first failure
 * stops and is returned. */
int oci_hooks_run(const json_t *hooks, const char *kind, const json_t *state,
                  struct reins_error *err);

#endif
