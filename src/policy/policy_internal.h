/* Shared by the files of src/policy only: how one YAML document becomes a
 * "layer" (a struct reins_policy whose absent keys are still unset), how
 * layers are merged along `extends`, and where each key came from. */
#ifndef REINS_POLICY_POLICY_INTERNAL_H
#define REINS_POLICY_POLICY_INTERNAL_H

#include <stddef.h>

#include "policy/policy.h"

/* Keys whose origin is remembered: those policy_check_supported may refuse,
 * those whose "was it written?" cannot be told from the value (enums), and
 * `extends` (for errors about the extended policy). */
enum policy_key {
        POLICY_KEY_NONE = 0,
        POLICY_KEY_EXTENDS,
        POLICY_KEY_WORKSPACE_MODE,
        POLICY_KEY_NETWORK_MODE,
        POLICY_KEY_NETWORK_ALLOW,
        POLICY_KEY_NETWORK_DENY,
        POLICY_KEY_NETWORK_ASK,
        POLICY_KEY_NETWORK_HOSTS,
        POLICY_KEY_NETWORK_EGRESS_BUDGET,
        POLICY_KEY_EXEC_DENY,
        POLICY_KEY_APPROVALS,
        POLICY_KEY_APPROVALS_DEFAULT,
        POLICY_KEY_APPROVALS_UNKNOWN,
        POLICY_KEY_CANARIES,
        POLICY_KEY_RISK_ENGINE,
        POLICY_KEY_COUNT
};

struct policy_origin {
        char *file;         /* NULL: the key was not written anywhere */
        unsigned long line; /* 1-based */
};

struct policy_origins {
        struct policy_origin key[POLICY_KEY_COUNT];
};

/* policy.c */
/* A layer with every key unset: NULL strings, POLICY_UNSET numbers, no origins. */
struct reins_policy *policy_layer_new(void);
int policy_origin_set(struct reins_policy *policy, enum policy_key key, const char *file,
                      unsigned long line);
/* NULL when the key was never written. */
const struct policy_origin *policy_origin_get(const struct reins_policy *policy,
                                              enum policy_key key);

/* The spellings of each enum, indexed by its value and NULL-terminated:
 * the parser's choices and the emitter's names are the same table. */
extern const char *const policy_risk_engine_names[];
extern const char *const policy_approval_default_names[];
extern const char *const policy_approval_unknown_names[];
extern const char *const policy_rule_severity_names[];
extern const char *const policy_rule_action_names[];
extern const char *const policy_bool_names[]; /* "false", "true" */

void policy_rule_settings_free(struct policy_rule_settings *settings);
/* Set rule `setting->id`'s entry to a copy of `setting`: in place when the
 * rule has one (the child wins, in the parent's position), else appended.
 * 0 or -ENOMEM. */
int policy_rule_settings_put(struct policy_rule_settings *settings,
                             const struct policy_rule_setting *setting);

/* parse.c: one YAML document (text of `length` bytes) → one layer, every key
 * validated. `origin` names the text in errors ("pol.yaml", "preset:default"). */
int policy_parse_layer(const char *text, size_t length, const char *origin,
                       struct reins_policy **out, struct reins_error *err);

/* validate.c: checks of single values. Each returns 0, or -EINVAL with a reason
 * in *why; some normalize the value in place (a trailing '/' is dropped). */
int policy_check_label(char *value, const char **why);
int policy_check_anchor(char *value, const char **why);    /* name, agent */
int policy_check_extends(char *value, const char **why);   /* preset name or file */
int policy_check_workspace(char *value, const char **why); /* a directory */
int policy_check_host_path(char *value, const char **why); /* read, write */
int policy_check_glob(char *value, const char **why);      /* deny, exec.deny */
int policy_check_protect(char *value, const char **why);   /* workspace-relative globs */
int policy_check_destination(char *value, const char **why);
int policy_check_host_name(char *value, const char **why);
int policy_check_address(char *value, const char **why);
int policy_check_env_pattern(char *value, const char **why); /* env.keep */
int policy_check_env_name(char *value, const char **why);    /* env.set keys */
int policy_check_env_value(char *value, const char **why);
int policy_check_syscall_name(char *value, const char **why);
int policy_check_rule_id(char *value, const char **why);       /* rules.* keys */
int policy_check_counting_rule(char *value, const char **why); /* rules.threshold keys */
int policy_check_windowed_rule(char *value, const char **why); /* rules.window keys */
int policy_check_image(char *value, const char **why);         /* environment.image */
int policy_check_suite(char *value, const char **why);         /* environment.debian.suite */
int policy_check_package(char *value, const char **why);       /* debian.packages items */
int policy_check_sdk(char *value, const char **why);           /* environment.sdks items */
/* The values of the rules.* maps, parsed into `out` (severity, action or
 * number; `written` is left to the caller). 0, or -EINVAL with a reason. */
typedef int (*policy_rule_value_parse)(const char *text, struct policy_rule_setting *out,
                                       const char **why);
int policy_parse_rule_severity(const char *text, struct policy_rule_setting *out, const char **why);
int policy_parse_rule_action(const char *text, struct policy_rule_setting *out, const char **why);
/* a whole number, 1..1000000000 */
int policy_parse_rule_weight(const char *text, struct policy_rule_setting *out, const char **why);
/* a duration, >= 1 s */
int policy_parse_rule_window(const char *text, struct policy_rule_setting *out, const char **why);

/* credentials.c */
int policy_check_credential_name(char *value, const char **why);
int policy_check_credential_pattern(char *value, const char **why); /* regex, >= 1 group */
int policy_check_json_pointer(char *value, const char **why);
/* host[:port][/path-prefix]: the host part as network.allow's, the path
 * printable without blanks, '?' or '#' */
int policy_check_credential_host(char *value, const char **why);
/* "bearer", "basic", "header NAME", "query NAME" */
int policy_parse_credential_how(const char *text, struct policy_credential *out, const char **why);
void policy_credential_clear(struct policy_credential *credential);
void policy_credentials_free(struct policy_credentials *credentials);
/* A copy of `credential` in place of the entry of the same name, else appended. */
int policy_credentials_put(struct policy_credentials *credentials,
                           const struct policy_credential *credential);

/* merge.c */
/* Merge `child` over `parent`, in place: the child's scalars win, lists are
 * unioned (parent's order first), maps are merged key by key (child wins).
 * source and extends become the child's. 0 or -ENOMEM. */
int policy_merge(struct reins_policy *parent, const struct reins_policy *child);
/* Give every key still unset its default (DESIGN §3). 0 or -ENOMEM. */
int policy_apply_defaults(struct reins_policy *policy);

/* presets.c */
bool policy_is_preset(const char *name);

#endif
