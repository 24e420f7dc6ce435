/* The policy object itself: allocation of an all-unset layer, the private
 * record of where keys were written, the names of its enums, the rules.*
 * maps, and release. */
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
        policy->pool = POLICY_UNSET;
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

/* ---- the enums' spellings (parse.c reads them, emit.c writes them) ---- */

const char *const policy_risk_engine_names[] = {"on", "off", NULL};
const char *const policy_approval_default_names[] = {"deny", "allow", NULL};
const char *const policy_approval_unknown_names[] = {"deny", "ask", NULL};
const char *const policy_rule_severity_names[] = {"low", "medium", "high", "critical", NULL};
const char *const policy_rule_action_names[] = {"log", "score", "T1", "T2", "T3", "kill", NULL};
const char *const policy_bool_names[] = {"false", "true", NULL};

/* names[value], or names[0] for a value outside the table (a policy built
 * by hand with a bad cast): never an out-of-bounds read. */
static const char *name_of(const char *const *names, size_t count, unsigned value)
{
        return value < count ? names[value] : names[0];
}

#define NAME_OF(names, value)                                                                      \
        name_of(names, sizeof(names) / sizeof(names[0]) - 1, (unsigned)(value))

const char *policy_risk_engine_name(enum policy_risk_engine engine)
{
        return NAME_OF(policy_risk_engine_names, engine);
}

const char *policy_approval_default_name(enum policy_approval_default decision)
{
        return NAME_OF(policy_approval_default_names, decision);
}

const char *policy_approval_unknown_name(enum policy_approval_unknown unknown)
{
        return NAME_OF(policy_approval_unknown_names, unknown);
}

const char *policy_rule_severity_name(enum policy_rule_severity severity)
{
        return NAME_OF(policy_rule_severity_names, severity);
}

const char *policy_rule_action_name(enum policy_rule_action action)
{
        return NAME_OF(policy_rule_action_names, action);
}

/* ---- rules.* maps ---- */

const struct policy_rule_setting *
policy_rule_setting_find(const struct policy_rule_settings *settings, const char *id)
{
        for (size_t i = 0; i < settings->count; i++)
                if (strcmp(settings->items[i].id, id) == 0)
                        return &settings->items[i];
        return NULL;
}

static void rule_setting_clear(struct policy_rule_setting *setting)
{
        free(setting->id);
        free(setting->written);
        *setting = (struct policy_rule_setting){0};
}

/* A deep copy of `from` into `to`, or -ENOMEM with `to` untouched. */
static int rule_setting_copy(struct policy_rule_setting *to, const struct policy_rule_setting *from)
{
        struct policy_rule_setting copy = *from;
        copy.id = strdup(from->id);
        copy.written = from->written ? strdup(from->written) : NULL;
        if (!copy.id || (from->written && !copy.written)) {
                rule_setting_clear(&copy);
                return -ENOMEM;
        }
        *to = copy;
        return 0;
}

int policy_rule_settings_put(struct policy_rule_settings *settings,
                             const struct policy_rule_setting *setting)
{
        struct policy_rule_setting copy;
        if (rule_setting_copy(&copy, setting) < 0)
                return -ENOMEM;
        struct policy_rule_setting *same =
            (struct policy_rule_setting *)policy_rule_setting_find(settings, setting->id);
        if (same) {
                rule_setting_clear(same);
                *same = copy;
                return 0;
        }
        struct policy_rule_setting *items =
            reallocarray(settings->items, settings->count + 1, sizeof(*items));
        if (!items) {
                rule_setting_clear(&copy);
                return -ENOMEM;
        }
        items[settings->count++] = copy;
        settings->items = items;
        return 0;
}

void policy_rule_settings_free(struct policy_rule_settings *settings)
{
        for (size_t i = 0; i < settings->count; i++)
                rule_setting_clear(&settings->items[i]);
        free(settings->items);
        *settings = (struct policy_rule_settings){0};
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
        free(policy->isolation);
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
        free(policy->environment.image);
        free(policy->environment.debian_suite);
        strv_free(&policy->environment.debian_packages);
        strv_free(&policy->environment.sdks);
        free(policy->environment.writable);
        strv_free(&policy->env.keep);
        strv_free(&policy->env.set);
        free(policy->syscalls.profile);
        strv_free(&policy->syscalls.allow);
        strv_free(&policy->syscalls.deny);
        strv_free(&policy->rules.disable);
        policy_rule_settings_free(&policy->rules.severity);
        policy_rule_settings_free(&policy->rules.weight);
        policy_rule_settings_free(&policy->rules.action);
        policy_rule_settings_free(&policy->rules.threshold);
        policy_rule_settings_free(&policy->rules.window);
        policy_credentials_free(&policy->credentials);
        strv_free(&policy->identity.hosts);
        policy_origins_free(policy->origins);
        free(policy);
}
