/* Credentials in the plan (issue 18): the agent's environment gets the
 * placeholders and the variables naming the CA bundle (they win over
 * --env and the caller's: a real key passed with --env ANTHROPIC_API_KEY
 * is replaced by its placeholder), and the bundle is a read-only file of
 * the sandbox's own root. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox/plan_internal.h"
#include "util/path.h"

int plan_add_credentials(struct reins_plan *plan, const struct plan_credentials *credentials,
                         struct reins_error *err)
{
        if (!credentials)
                return 0;
        int r = 0;
        if (credentials->bundle) {
                if ((r = plan_add_mount(plan, MOUNT_OP_FILE, credentials->bundle,
                                        credentials->bundle_target, 0)) < 0 ||
                    (r = plan_add_landlock(plan, credentials->bundle_target,
                                           LANDLOCK_RULE_READ_EXEC)) < 0)
                        return reins_error_set(err, -r, "credentials: the CA bundle: %s",
                                               r == -ENOMEM ? "out of memory" : "cannot plan it");
        }
        /* a credential file with placeholders, at its host path: only on the
         * sandbox's own root, never as a mount point made in a host tree */
        for (size_t i = 0; i < credentials->file_count; i++) {
                const char *target = credentials->file_targets[i];
                for (size_t m = 0; m < plan->mount_count; m++) {
                        enum mount_op_kind k = plan->mounts[m].kind;
                        if ((k == MOUNT_OP_BIND_RO || k == MOUNT_OP_BIND_RW ||
                             k == MOUNT_OP_OVERLAY) &&
                            path_is_under(target, plan->mounts[m].target))
                                return reins_error_set(
                                    err, EEXIST,
                                    "credentials: %s is inside %s, which the sandbox binds from "
                                    "the host: its copy with placeholders cannot be put there",
                                    target, plan->mounts[m].target);
                }
                if ((r = plan_add_mount(plan, MOUNT_OP_FILE, credentials->file_texts[i], target,
                                        0)) < 0 ||
                    (r = plan_add_landlock(plan, target, LANDLOCK_RULE_READ_EXEC)) < 0)
                        return reins_error_set(err, -r, "credentials: %s: cannot plan it", target);
        }
        /* a credential's source variable: even a kept one stays outside */
        for (size_t d = 0; d < credentials->drop_env_count; d++) {
                size_t len = strlen(credentials->drop_env[d]);
                for (size_t i = 0; i < plan->env.count;) {
                        if (strncmp(plan->env.items[i], credentials->drop_env[d], len) == 0 &&
                            plan->env.items[i][len] == '=') {
                                free(plan->env.items[i]);
                                memmove(&plan->env.items[i], &plan->env.items[i + 1],
                                        (plan->env.count - i) * sizeof(char *)); /* and the NULL */
                                plan->env.count--;
                        } else {
                                i++;
                        }
                }
        }
        for (size_t i = 0; i < credentials->env_count; i++)
                if ((r = plan_env_put(plan, credentials->env[i])) < 0)
                        return reins_error_set(err, -r, "out of memory");
        return 0;
}
