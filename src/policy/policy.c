/* The policy object itself: allocation of an all-unset layer, the private
 * record of where keys were written, and release. */
#include "policy/policy_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct reins_policy *policy_layer_new(void)
{
        struct reins_policy *policy = calloc(1, sizeof(*policy));
        if (!policy)
                return NULL;
        policy->origins = calloc(1, sizeof(*policy->origins));
        if (!policy->origins) {
                free(policy);
                return NULL;
        }
        /* numbers nobody wrote stay distinguishable from an explicit 0 ("no
         * limit"), so a child policy can lift a parent's limit */
        policy->network.egress_budget_bytes = POLICY_UNSET;
        policy->limits = (struct policy_limits){
            .memory_bytes = POLICY_UNSET,
            .pids = POLICY_UNSET,
            .cpus_milli = POLICY_UNSET,
            .wall_time_ms = POLICY_UNSET,
            .open_files = POLICY_UNSET,
            .tmp_size_bytes = POLICY_UNSET,
            .workspace_size_bytes = POLICY_UNSET,
            .trail_size_bytes = POLICY_UNSET,
            .trail_rate_bytes = POLICY_UNSET,
        };
        policy->approvals.timeout_ms = POLICY_UNSET;
        policy->risk.half_life_ms = POLICY_UNSET;
        policy->risk.tier1 = policy->risk.tier2 = policy->risk.tier3 = POLICY_UNSET;
        return policy;
}

int policy_origin_set(struct reins_policy *policy, enum policy_key key, const char *file,
                      unsigned long line)
{
        struct policy_origin *origin = &policy->origins->key[key];
        char *copy = strdup(file);
        if (!copy)
                return -ENOMEM;
        free(origin->file);
        origin->file = copy;
        origin->line = line;
        return 0;
}

const struct policy_origin *policy_origin_get(const struct reins_policy *policy,
                                              enum policy_key key)
{
        if (!policy->origins || !policy->origins->key[key].file)
                return NULL;
        return &policy->origins->key[key];
}

static void policy_origins_free(struct policy_origins *origins)
{
        if (!origins)
                return;
        for (size_t i = 0; i < POLICY_KEY_COUNT; i++)
                free(origins->key[i].file);
        free(origins);
}

void policy_free(struct reins_policy *policy)
{
        if (!policy)
                return;
        free(policy->source);
        free(policy->name);
        free(policy->agent);
        free(policy->extends);
        free(policy->filesystem.workspace);
        strv_free(&policy->filesystem.read);
        strv_free(&policy->filesystem.write);
        strv_free(&policy->filesystem.cache);
        strv_free(&policy->filesystem.deny);
        strv_free(&policy->filesystem.protect);
        strv_free(&policy->filesystem.secrets);
        strv_free(&policy->network.allow);
        strv_free(&policy->network.deny);
        strv_free(&policy->network.ask);
        strv_free(&policy->network.hosts);
        strv_free(&policy->exec.deny);
        strv_free(&policy->audit.anchor);
        strv_free(&policy->env.keep);
        strv_free(&policy->env.set);
        free(policy->syscalls.profile);
        strv_free(&policy->syscalls.allow);
        strv_free(&policy->syscalls.deny);
        free(policy->approvals.default_decision);
        free(policy->approvals.unknown);
        free(policy->risk.engine);
        free(policy->canaries);
        strv_free(&policy->rules.disable);
        strv_free(&policy->rules.severity);
        strv_free(&policy->rules.weight);
        strv_free(&policy->rules.action);
        strv_free(&policy->rules.threshold);
        strv_free(&policy->rules.window);
        policy_origins_free(policy->origins);
        free(policy);
}
