/* `extends`: merging a child layer over its parent, and the defaults that
 * fill whatever no layer wrote.
 *
 * Lists are unioned, never replaced: a policy that extends `default` can
 * add deny rules and read paths but cannot drop the parent's deny of
 * ~/.ssh by writing its own shorter list. Scalars and map entries of the
 * child win, so a child can tighten or lift a limit (memory: 0 is "no limit"). */
#include "policy/policy_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int replace_string(char **dst, const char *src)
{
        if (!src)
                return 0;
        char *copy = strdup(src);
        if (!copy)
                return -ENOMEM;
        free(*dst);
        *dst = copy;
        return 0;
}

static void replace_number(uint64_t *dst, uint64_t src)
{
        if (src != POLICY_UNSET)
                *dst = src;
}

static int union_list(struct reins_strv *dst, const struct reins_strv *src)
{
        for (size_t i = 0; i < src->count; i++) {
                int r = strv_push_unique(dst, src->items[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Merge "KEY=VALUE" entries: same KEY → the child's value, in the parent's place. */
static int merge_map(struct reins_strv *dst, const struct reins_strv *src)
{
        for (size_t i = 0; i < src->count; i++) {
                const char *entry = src->items[i];
                size_t key_len = strcspn(entry, "=");
                bool replaced = false;
                for (size_t j = 0; j < dst->count && !replaced; j++) {
                        if (strncmp(dst->items[j], entry, key_len + 1) == 0) {
                                char *copy = strdup(entry);
                                if (!copy)
                                        return -ENOMEM;
                                free(dst->items[j]);
                                dst->items[j] = copy;
                                replaced = true;
                        }
                }
                if (!replaced && strv_push(dst, entry) < 0)
                        return -ENOMEM;
        }
        return 0;
}

/* Rule id → value: same rule → the child's value, in the parent's place. */
static int merge_rule_settings(struct policy_rule_settings *dst,
                               const struct policy_rule_settings *src)
{
        for (size_t i = 0; i < src->count; i++) {
                int r = policy_rule_settings_put(dst, &src->items[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* A scalar key: the child's origin replaces the parent's when it has one. */
static int take_origin(struct reins_policy *parent, const struct reins_policy *child,
                       enum policy_key key)
{
        const struct policy_origin *origin = policy_origin_get(child, key);
        return origin ? policy_origin_set(parent, key, origin->file, origin->line) : 0;
}

/* A list key: the origin that matters is the first non-empty contribution. */
static int take_list_origin(struct reins_policy *parent, const struct reins_policy *child,
                            enum policy_key key, size_t parent_count)
{
        return parent_count ? 0 : take_origin(parent, child, key);
}

static int merge_filesystem(struct reins_policy *p, const struct reins_policy *c)
{
        int r = replace_string(&p->filesystem.workspace, c->filesystem.workspace);
        if (r < 0)
                return r;
        if (policy_origin_get(c, POLICY_KEY_WORKSPACE_MODE)) {
                p->filesystem.workspace_mode = c->filesystem.workspace_mode;
                if ((r = take_origin(p, c, POLICY_KEY_WORKSPACE_MODE)) < 0)
                        return r;
        }
        if ((r = union_list(&p->filesystem.read, &c->filesystem.read)) < 0 ||
            (r = union_list(&p->filesystem.write, &c->filesystem.write)) < 0 ||
            (r = union_list(&p->filesystem.deny, &c->filesystem.deny)) < 0 ||
            (r = union_list(&p->filesystem.protect, &c->filesystem.protect)) < 0 ||
            (r = union_list(&p->filesystem.secrets, &c->filesystem.secrets)) < 0 ||
            (r = union_list(&p->filesystem.cache, &c->filesystem.cache)) < 0)
                return r;
        return 0;
}

static int merge_network(struct reins_policy *p, const struct reins_policy *c)
{
        int r;
        if (policy_origin_get(c, POLICY_KEY_NETWORK_MODE)) {
                p->network.mode = c->network.mode;
                if ((r = take_origin(p, c, POLICY_KEY_NETWORK_MODE)) < 0)
                        return r;
        }
        if ((r = take_list_origin(p, c, POLICY_KEY_NETWORK_ALLOW, p->network.allow.count)) < 0 ||
            (r = take_list_origin(p, c, POLICY_KEY_NETWORK_DENY, p->network.deny.count)) < 0 ||
            (r = take_list_origin(p, c, POLICY_KEY_NETWORK_ASK, p->network.ask.count)) < 0 ||
            (r = take_list_origin(p, c, POLICY_KEY_NETWORK_HOSTS, p->network.hosts.count)) < 0)
                return r;
        if ((r = union_list(&p->network.allow, &c->network.allow)) < 0 ||
            (r = union_list(&p->network.deny, &c->network.deny)) < 0 ||
            (r = union_list(&p->network.ask, &c->network.ask)) < 0 ||
            (r = merge_map(&p->network.hosts, &c->network.hosts)) < 0)
                return r;
        if (c->network.egress_budget_bytes != POLICY_UNSET) {
                p->network.egress_budget_bytes = c->network.egress_budget_bytes;
                if ((r = take_origin(p, c, POLICY_KEY_NETWORK_EGRESS_BUDGET)) < 0)
                        return r;
        }
        return 0;
}

static int merge_limits(struct policy_limits *p, const struct policy_limits *c)
{
        replace_number(&p->memory_bytes, c->memory_bytes);
        replace_number(&p->pids, c->pids);
        replace_number(&p->cpus_milli, c->cpus_milli);
        replace_number(&p->wall_time_ms, c->wall_time_ms);
        replace_number(&p->open_files, c->open_files);
        replace_number(&p->tmp_size_bytes, c->tmp_size_bytes);
        replace_number(&p->workspace_size_bytes, c->workspace_size_bytes);
        replace_number(&p->trail_size_bytes, c->trail_size_bytes);
        replace_number(&p->trail_rate_bytes, c->trail_rate_bytes);
        return 0;
}

static int merge_approvals(struct reins_policy *p, const struct reins_policy *c)
{
        if (!c->approvals.present)
                return 0;
        p->approvals.present = true;
        replace_number(&p->approvals.timeout_ms, c->approvals.timeout_ms);
        int r;
        /* an enum's zero is also its default: only a value written replaces */
        if (policy_origin_get(c, POLICY_KEY_APPROVALS_DEFAULT)) {
                p->approvals.default_decision = c->approvals.default_decision;
                if ((r = take_origin(p, c, POLICY_KEY_APPROVALS_DEFAULT)) < 0)
                        return r;
        }
        if (policy_origin_get(c, POLICY_KEY_APPROVALS_UNKNOWN)) {
                p->approvals.unknown = c->approvals.unknown;
                if ((r = take_origin(p, c, POLICY_KEY_APPROVALS_UNKNOWN)) < 0)
                        return r;
        }
        return take_origin(p, c, POLICY_KEY_APPROVALS);
}

/* A child naming a base (image or debian suite) replaces the parent's
 * base whole: an image and a suite never mix. Packages and SDKs add up. */
static int merge_environment(struct reins_policy *p, const struct reins_policy *c)
{
        int r;
        if (c->environment.image || c->environment.debian_suite) {
                free(p->environment.image);
                free(p->environment.debian_suite);
                p->environment.image = p->environment.debian_suite = NULL;
                if (!c->environment.debian_suite)
                        strv_free(&p->environment.debian_packages);
        }
        if ((r = replace_string(&p->environment.image, c->environment.image)) < 0 ||
            (r = replace_string(&p->environment.debian_suite, c->environment.debian_suite)) < 0 ||
            (r = replace_string(&p->environment.writable, c->environment.writable)) < 0 ||
            (r = union_list(&p->environment.debian_packages, &c->environment.debian_packages)) <
                0 ||
            (r = union_list(&p->environment.sdks, &c->environment.sdks)) < 0)
                return r;
        return 0;
}

int policy_merge(struct reins_policy *p, const struct reins_policy *c)
{
        int r;
        /* the result is the child's: its name (when it has one), its source */
        if ((r = replace_string(&p->source, c->source)) < 0 ||
            (r = replace_string(&p->name, c->name)) < 0 ||
            (r = replace_string(&p->agent, c->agent)) < 0)
                return r;
        free(p->extends);
        p->extends = NULL;
        if ((r = replace_string(&p->extends, c->extends)) < 0 ||
            (r = take_origin(p, c, POLICY_KEY_EXTENDS)) < 0)
                return r;

        if ((r = merge_filesystem(p, c)) < 0 || (r = merge_network(p, c)) < 0)
                return r;
        if ((r = take_list_origin(p, c, POLICY_KEY_EXEC_DENY, p->exec.deny.count)) < 0 ||
            (r = union_list(&p->exec.deny, &c->exec.deny)) < 0)
                return r;
        if ((r = union_list(&p->env.keep, &c->env.keep)) < 0 ||
            (r = merge_map(&p->env.set, &c->env.set)) < 0)
                return r;
        if ((r = merge_limits(&p->limits, &c->limits)) < 0)
                return r;
        if ((r = replace_string(&p->syscalls.profile, c->syscalls.profile)) < 0 ||
            (r = union_list(&p->syscalls.allow, &c->syscalls.allow)) < 0 ||
            (r = union_list(&p->syscalls.deny, &c->syscalls.deny)) < 0)
                return r;
        if ((r = union_list(&p->audit.anchor, &c->audit.anchor)) < 0 ||
            (r = replace_string(&p->isolation, c->isolation)) < 0)
                return r;
        if ((r = merge_environment(p, c)) < 0)
                return r;
        if ((r = union_list(&p->rules.disable, &c->rules.disable)) < 0 ||
            (r = merge_rule_settings(&p->rules.severity, &c->rules.severity)) < 0 ||
            (r = merge_rule_settings(&p->rules.weight, &c->rules.weight)) < 0 ||
            (r = merge_rule_settings(&p->rules.threshold, &c->rules.threshold)) < 0 ||
            (r = merge_rule_settings(&p->rules.window, &c->rules.window)) < 0 ||
            (r = merge_rule_settings(&p->rules.action, &c->rules.action)) < 0)
                return r;
        if (policy_origin_get(c, POLICY_KEY_CANARIES)) {
                p->canaries = c->canaries;
                if ((r = take_origin(p, c, POLICY_KEY_CANARIES)) < 0)
                        return r;
        }
        if (policy_origin_get(c, POLICY_KEY_RISK_ENGINE)) {
                p->risk.engine = c->risk.engine;
                if ((r = take_origin(p, c, POLICY_KEY_RISK_ENGINE)) < 0)
                        return r;
        }
        replace_number(&p->risk.half_life_ms, c->risk.half_life_ms);
        replace_number(&p->risk.tier1, c->risk.tier1);
        replace_number(&p->risk.tier2, c->risk.tier2);
        replace_number(&p->risk.tier3, c->risk.tier3);
        replace_number(&p->pool, c->pool);
        if ((r = union_list(&p->identity.hosts, &c->identity.hosts)) < 0)
                return r;
        /* a child's credential replaces its parent's of the same name */
        for (size_t i = 0; i < c->credentials.count; i++)
                if ((r = policy_credentials_put(&p->credentials, &c->credentials.items[i])) < 0)
                        return r;
        return merge_approvals(p, c);
}

static void default_number(uint64_t *value, uint64_t fallback)
{
        if (*value == POLICY_UNSET)
                *value = fallback;
}

static int default_string(char **value, const char *fallback)
{
        if (*value)
                return 0;
        *value = strdup(fallback);
        return *value ? 0 : -ENOMEM;
}

int policy_apply_defaults(struct reins_policy *policy)
{
        /* enums default to their zero value: direct workspace, no network */
        int r = default_string(&policy->filesystem.workspace, ".");
        if (r < 0)
                return r;
        default_number(&policy->network.egress_budget_bytes, 0);
        default_number(&policy->limits.memory_bytes, 0);
        default_number(&policy->limits.pids, 0);
        default_number(&policy->limits.cpus_milli, 0);
        default_number(&policy->limits.wall_time_ms, 0);
        default_number(&policy->limits.open_files, 0);
        default_number(&policy->limits.tmp_size_bytes, 0);
        default_number(&policy->limits.workspace_size_bytes, 0);
        default_number(&policy->limits.trail_size_bytes, POLICY_TRAIL_SIZE_DEFAULT);
        default_number(&policy->limits.trail_rate_bytes, POLICY_TRAIL_RATE_DEFAULT);
        /* canaries (false), risk.engine (on) and the approvals' answers
         * (deny) default to their enums' zero */
        default_number(&policy->risk.half_life_ms, 10 * 60 * 1000);
        default_number(&policy->risk.tier1, 20);
        default_number(&policy->risk.tier2, 50);
        default_number(&policy->risk.tier3, 100);
        default_number(&policy->pool, 0);
        if ((r = default_string(&policy->syscalls.profile, "default")) < 0)
                return r;
        if (policy->approvals.present) {
                /* an approvals section without values: ask for two minutes, then deny */
                default_number(&policy->approvals.timeout_ms, 120000);
                return 0;
        }
        policy->approvals.timeout_ms = 0;
        return 0;
}
