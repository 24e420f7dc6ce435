/* Canary credentials in the plan: each planted file bound read-only at its
 * home path (~/.aws/credentials...). Only where the sandbox would otherwise
 * show nothing: a target inside a bound tree (the workspace is the home
 * directory, say) is skipped, so reins never creates a mount point in a
 * host directory and never shadows a real file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "sandbox/plan_internal.h"
#include "util/path.h"

static bool plan_target_in_bound_tree(const struct reins_plan *plan, const char *path)
{
        for (size_t i = 0; i < plan->mount_count; i++) {
                enum mount_op_kind k = plan->mounts[i].kind;
                if ((k == MOUNT_OP_BIND_RO || k == MOUNT_OP_BIND_RW || k == MOUNT_OP_OVERLAY) &&
                    path_is_under(path, plan->mounts[i].target))
                        return true;
        }
        return false;
}

int plan_add_canaries(struct reins_plan *plan, const struct plan_canaries *canaries,
                      struct reins_error *err)
{
        if (!canaries || canaries->count == 0 || !plan->home || plan->home[0] != '/')
                return 0;
        for (size_t i = 0; i < canaries->count; i++) {
                const char *written = canaries->targets[i];
                char *target = NULL;
                if (asprintf(&target, "%s%s", plan->home,
                             written[0] == '~' ? written + 1 : written) < 0)
                        return reins_error_set(err, ENOMEM, "out of memory");
                int r = 0;
                if (!plan_target_in_bound_tree(plan, target))
                        r = plan_add_mount(plan, MOUNT_OP_BIND_RO, canaries->sources[i], target, 0);
                free(target);
                if (r < 0)
                        return reins_error_set(err, -r, "out of memory");
        }
        return 0;
}
