/* One YAML document → one policy layer (libyaml's document API), with every
 * key checked against the schema of DESIGN §3. The schema is the tables
 * below; the walker refuses anything they do not name, so a typo such as
 * `deyn:` is an error rather than a rule that silently does nothing.
 *
 * Every error reads `ORIGIN:LINE: KEY: what is wrong`, KEY being the dotted
 * path of the offending value (`limits.memory`, `filesystem.deny[2]`, list
 * indexes counting from 0). */
#include "policy/policy_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "policy/parse_units.h"
#include "util/cleanup.h"

#define KEY_PATH_MAX 256

enum field_kind {
        FIELD_VERSION,
        FIELD_STRING, /* char *, checked by `check` */
        FIELD_CHOICE, /* char *, one of `choices` */
        FIELD_BOOL,   /* bool, "false" or "true" */
        FIELD_WORKSPACE_MODE,
        FIELD_NETWORK_MODE,
        FIELD_RISK_ENGINE,
        FIELD_APPROVAL_DEFAULT,
        FIELD_APPROVAL_UNKNOWN,
        FIELD_SIZE,     /* uint64_t bytes */
        FIELD_COUNT,    /* uint64_t */
        FIELD_DURATION, /* uint64_t milliseconds */
        FIELD_CPUS,     /* uint64_t thousandths of a cpu */
        FIELD_LIST,     /* struct reins_strv, each item checked by `check` */
        FIELD_MAP,      /* struct reins_strv of "KEY=VALUE" */
        FIELD_RULE_MAP, /* struct policy_rule_settings: rule id → value parsed by `parse_rule` */
        FIELD_SECTION,  /* a mapping described by `children` */
        FIELD_CREDENTIALS, /* struct policy_credentials: a list of mappings */
};

typedef int (*value_check)(char *value, const char **why);

struct field {
        const char *name;
        enum field_kind kind;
        size_t offset;                      /* of the destination in struct reins_policy */
        value_check check;                  /* strings, list items, map values */
        value_check check_key;              /* map keys */
        policy_rule_value_parse parse_rule; /* FIELD_RULE_MAP values */
        bool keeps_spelling;                /* FIELD_RULE_MAP: remember the value as written */
        const char *noun;                   /* what one value is, for messages: "glob" */
        const char *const *choices;         /* FIELD_CHOICE and the enums, NULL-terminated */
        const struct field *children;       /* FIELD_SECTION */
        enum policy_key origin;             /* remember where this key was written */
        bool marks_present;                 /* FIELD_SECTION: sets the bool at `offset` */
        uint64_t minimum;                   /* FIELD_SIZE: smallest non-zero value that can work */
        uint64_t min;                       /* FIELD_SIZE: the least value accepted, 0 included */
        uint64_t max;                       /* FIELD_COUNT: the largest value accepted (0: any) */
        const char *min_text;               /* and how to say it */
};

#define AT(member) offsetof(struct reins_policy, member)

static const char *const workspace_modes[] = {"direct", "readonly", "overlay", NULL};
static const char *const network_modes[] = {"none", "proxy", "host", NULL};
static const char *const syscall_profiles[] = {"default", NULL};
static const char *const isolation_kinds[] = {"container", "wasm", "vm", NULL};

static const struct field filesystem_fields[] = {
    {.name = "workspace",
     .kind = FIELD_STRING,
     .offset = AT(filesystem.workspace),
     .check = policy_check_workspace,
     .noun = "workspace"},
    {.name = "workspace_mode",
     .kind = FIELD_WORKSPACE_MODE,
     .choices = workspace_modes,
     .origin = POLICY_KEY_WORKSPACE_MODE},
    {.name = "read",
     .kind = FIELD_LIST,
     .offset = AT(filesystem.read),
     .check = policy_check_host_path,
     .noun = "path"},
    {.name = "write",
     .kind = FIELD_LIST,
     .offset = AT(filesystem.write),
     .check = policy_check_host_path,
     .noun = "path"},
    {.name = "deny",
     .kind = FIELD_LIST,
     .offset = AT(filesystem.deny),
     .check = policy_check_glob,
     .noun = "glob"},
    {.name = "protect",
     .kind = FIELD_LIST,
     .offset = AT(filesystem.protect),
     .check = policy_check_protect,
     .noun = "glob"},
    {.name = "cache",
     .kind = FIELD_LIST,
     .offset = AT(filesystem.cache),
     .check = policy_check_host_path,
     .noun = "path"},
    {.name = "secrets",
     .kind = FIELD_LIST,
     .offset = AT(filesystem.secrets),
     .check = policy_check_host_path,
     .noun = "path"},
    {0},
};

static const struct field network_fields[] = {
    {.name = "mode",
     .kind = FIELD_NETWORK_MODE,
     .choices = network_modes,
     .origin = POLICY_KEY_NETWORK_MODE},
    {.name = "allow",
     .kind = FIELD_LIST,
     .offset = AT(network.allow),
     .check = policy_check_destination,
     .noun = "destination",
     .origin = POLICY_KEY_NETWORK_ALLOW},
    {.name = "deny",
     .kind = FIELD_LIST,
     .offset = AT(network.deny),
     .check = policy_check_destination,
     .noun = "destination",
     .origin = POLICY_KEY_NETWORK_DENY},
    {.name = "ask",
     .kind = FIELD_LIST,
     .offset = AT(network.ask),
     .check = policy_check_destination,
     .noun = "destination",
     .origin = POLICY_KEY_NETWORK_ASK},
    {.name = "hosts",
     .kind = FIELD_MAP,
     .offset = AT(network.hosts),
     .check_key = policy_check_host_name,
     .check = policy_check_address,
     .noun = "address",
     .origin = POLICY_KEY_NETWORK_HOSTS},
    {.name = "egress_budget",
     .kind = FIELD_SIZE,
     .offset = AT(network.egress_budget_bytes),
     .origin = POLICY_KEY_NETWORK_EGRESS_BUDGET},
    {0},
};

static const struct field exec_fields[] = {
    {.name = "deny",
     .kind = FIELD_LIST,
     .offset = AT(exec.deny),
     .check = policy_check_glob,
     .noun = "glob",
     .origin = POLICY_KEY_EXEC_DENY},
    {0},
};

static const struct field env_fields[] = {
    {.name = "keep",
     .kind = FIELD_LIST,
     .offset = AT(env.keep),
     .check = policy_check_env_pattern,
     .noun = "variable name"},
    {.name = "set",
     .kind = FIELD_MAP,
     .offset = AT(env.set),
     .check_key = policy_check_env_name,
     .check = policy_check_env_value,
     .noun = "value"},
    {0},
};

static const struct field limits_fields[] = {
    /* below these a sandbox cannot even start its shell: every run would die */
    {.name = "memory",
     .kind = FIELD_SIZE,
     .offset = AT(limits.memory_bytes),
     .minimum = POLICY_MEMORY_MINIMUM},
    {.name = "pids", .kind = FIELD_COUNT, .offset = AT(limits.pids)},
    {.name = "cpus", .kind = FIELD_CPUS, .offset = AT(limits.cpus_milli)},
    {.name = "wall_time", .kind = FIELD_DURATION, .offset = AT(limits.wall_time_ms)},
    {.name = "open_files", .kind = FIELD_COUNT, .offset = AT(limits.open_files)},
    {.name = "tmp_size",
     .kind = FIELD_SIZE,
     .offset = AT(limits.tmp_size_bytes),
     .minimum = 1 << 20},
    {.name = "workspace_size",
     .kind = FIELD_SIZE,
     .offset = AT(limits.workspace_size_bytes),
     .minimum = 1 << 20},
    /* the trail keeps its last 256 KiB for the records
     * that say what happened, and a rate below a few records a second
     * would record nothing */
    {.name = "trail_size",
     .kind = FIELD_SIZE,
     .offset = AT(limits.trail_size_bytes),
     .min = POLICY_TRAIL_SIZE_MIN,
     .min_text = "1MiB"},
    {.name = "trail_rate",
     .kind = FIELD_SIZE,
     .offset = AT(limits.trail_rate_bytes),
     .min = POLICY_TRAIL_RATE_MIN,
     .min_text = "64KiB"},
    {0},
};

static const struct field syscalls_fields[] = {
    {.name = "profile",
     .kind = FIELD_CHOICE,
     .offset = AT(syscalls.profile),
     .choices = syscall_profiles},
    {.name = "allow",
     .kind = FIELD_LIST,
     .offset = AT(syscalls.allow),
     .check = policy_check_syscall_name,
     .noun = "syscall name"},
    {.name = "deny",
     .kind = FIELD_LIST,
     .offset = AT(syscalls.deny),
     .check = policy_check_syscall_name,
     .noun = "syscall name"},
    {0},
};

static const struct field approvals_fields[] = {
    {.name = "timeout", .kind = FIELD_DURATION, .offset = AT(approvals.timeout_ms)},
    {.name = "default",
     .kind = FIELD_APPROVAL_DEFAULT,
     .choices = policy_approval_default_names,
     .origin = POLICY_KEY_APPROVALS_DEFAULT},
    {.name = "unknown",
     .kind = FIELD_APPROVAL_UNKNOWN,
     .choices = policy_approval_unknown_names,
     .origin = POLICY_KEY_APPROVALS_UNKNOWN},
    {0},
};

static const struct field rules_fields[] = {
    {.name = "disable",
     .kind = FIELD_LIST,
     .offset = AT(rules.disable),
     .check = policy_check_rule_id,
     .noun = "rule id"},
    {.name = "severity",
     .kind = FIELD_RULE_MAP,
     .offset = AT(rules.severity),
     .check_key = policy_check_rule_id,
     .parse_rule = policy_parse_rule_severity,
     .noun = "severity"},
    {.name = "weight",
     .kind = FIELD_RULE_MAP,
     .offset = AT(rules.weight),
     .check_key = policy_check_rule_id,
     .parse_rule = policy_parse_rule_weight,
     .keeps_spelling = true,
     .noun = "weight"},
    {.name = "threshold",
     .kind = FIELD_RULE_MAP,
     .offset = AT(rules.threshold),
     .check_key = policy_check_counting_rule,
     .parse_rule = policy_parse_rule_weight,
     .keeps_spelling = true,
     .noun = "threshold"},
    {.name = "window",
     .kind = FIELD_RULE_MAP,
     .offset = AT(rules.window),
     .check_key = policy_check_windowed_rule,
     .parse_rule = policy_parse_rule_window,
     .keeps_spelling = true,
     .noun = "window"},
    {.name = "action",
     .kind = FIELD_RULE_MAP,
     .offset = AT(rules.action),
     .check_key = policy_check_rule_id,
     .parse_rule = policy_parse_rule_action,
     .noun = "action"},
    {0},
};

static const struct field risk_fields[] = {
    {.name = "engine",
     .kind = FIELD_RISK_ENGINE,
     .choices = policy_risk_engine_names,
     .origin = POLICY_KEY_RISK_ENGINE},
    {.name = "half_life", .kind = FIELD_DURATION, .offset = AT(risk.half_life_ms)},
    {.name = "tier1", .kind = FIELD_COUNT, .offset = AT(risk.tier1)},
    {.name = "tier2", .kind = FIELD_COUNT, .offset = AT(risk.tier2)},
    {.name = "tier3", .kind = FIELD_COUNT, .offset = AT(risk.tier3)},
    {0},
};

static const struct field audit_fields[] = {
    {.name = "anchor",
     .kind = FIELD_LIST,
     .offset = AT(audit.anchor),
     .check = policy_check_anchor,
     .noun = "anchor"},
    {0},
};

static const struct field identity_fields[] = {
    {.name = "hosts",
     .kind = FIELD_LIST,
     .offset = AT(identity.hosts),
     .check = policy_check_credential_host,
     .noun = "host"},
    {0},
};

static const char *const environment_writable[] = {"none", "session", NULL};

static const struct field debian_fields[] = {
    {.name = "suite",
     .kind = FIELD_STRING,
     .offset = AT(environment.debian_suite),
     .check = policy_check_suite,
     .noun = "suite"},
    {.name = "packages",
     .kind = FIELD_LIST,
     .offset = AT(environment.debian_packages),
     .check = policy_check_package,
     .noun = "package"},
    {0},
};

static const struct field environment_fields[] = {
    {.name = "image",
     .kind = FIELD_STRING,
     .offset = AT(environment.image),
     .check = policy_check_image,
     .noun = "image"},
    {.name = "debian", .kind = FIELD_SECTION, .children = debian_fields},
    {.name = "sdks",
     .kind = FIELD_LIST,
     .offset = AT(environment.sdks),
     .check = policy_check_sdk,
     .noun = "sdk"},
    {.name = "writable",
     .kind = FIELD_CHOICE,
     .offset = AT(environment.writable),
     .choices = environment_writable},
    {0},
};

static const struct field root_fields[] = {
    {.name = "version", .kind = FIELD_VERSION},
    {.name = "name",
     .kind = FIELD_STRING,
     .offset = AT(name),
     .check = policy_check_label,
     .noun = "name"},
    {.name = "extends",
     .kind = FIELD_STRING,
     .offset = AT(extends),
     .check = policy_check_extends,
     .noun = "policy",
     .origin = POLICY_KEY_EXTENDS},
    {.name = "agent",
     .kind = FIELD_STRING,
     .offset = AT(agent),
     .check = policy_check_label,
     .noun = "agent"},
    {.name = "filesystem", .kind = FIELD_SECTION, .children = filesystem_fields},
    {.name = "network", .kind = FIELD_SECTION, .children = network_fields},
    {.name = "exec", .kind = FIELD_SECTION, .children = exec_fields},
    {.name = "env", .kind = FIELD_SECTION, .children = env_fields},
    {.name = "limits", .kind = FIELD_SECTION, .children = limits_fields},
    {.name = "syscalls", .kind = FIELD_SECTION, .children = syscalls_fields},
    {.name = "rules", .kind = FIELD_SECTION, .children = rules_fields},
    {.name = "canaries",
     .kind = FIELD_BOOL,
     .offset = AT(canaries),
     .choices = policy_bool_names,
     .origin = POLICY_KEY_CANARIES},
    {.name = "isolation",
     .kind = FIELD_CHOICE,
     .offset = AT(isolation),
     .choices = isolation_kinds},
    {.name = "risk", .kind = FIELD_SECTION, .children = risk_fields},
    {.name = "approvals",
     .kind = FIELD_SECTION,
     .children = approvals_fields,
     .offset = AT(approvals.present),
     .marks_present = true,
     .origin = POLICY_KEY_APPROVALS},
    {.name = "audit", .kind = FIELD_SECTION, .children = audit_fields},
    /* secrets the proxy injects (issue 18): parse_credentials */
    {.name = "credentials", .kind = FIELD_CREDENTIALS},
    {.name = "identity", .kind = FIELD_SECTION, .children = identity_fields},
    /* the root filesystem the agent runs in (src/env/) */
    {.name = "environment", .kind = FIELD_SECTION, .children = environment_fields},
    /* sandboxes `reins serve` keeps built ahead (serve/pool.c) */
    {.name = "pool", .kind = FIELD_COUNT, .offset = AT(pool), .max = POLICY_POOL_MAX},
    {0},
};

#define FIELDS_MAX 24 /* the most keys one section has, with room to grow */
/* parse_section keeps one line per key in an array of FIELDS_MAX: a table
 * that outgrew it wrote past that array (environment: was key 17 of 16) */
_Static_assert(sizeof(root_fields) / sizeof(root_fields[0]) - 1 <= FIELDS_MAX,
               "root_fields has more keys than FIELDS_MAX");
_Static_assert(sizeof(limits_fields) / sizeof(limits_fields[0]) - 1 <= FIELDS_MAX,
               "limits_fields has more keys than FIELDS_MAX");

struct parse_ctx {
        yaml_document_t *doc;
        const char *origin;
        struct reins_policy *policy;
        struct reins_error *err;
};

static unsigned long node_line(const yaml_node_t *node)
{
        return (unsigned long)node->start_mark.line + 1;
}

static void *destination(struct parse_ctx *ctx, const struct field *field)
{
        return (char *)ctx->policy + field->offset;
}

/* Fill the error as `ORIGIN:LINE: KEY: message` and return -EINVAL. */
__attribute__((format(printf, 4, 5))) static int
fail(struct parse_ctx *ctx, const yaml_node_t *node, const char *key, const char *fmt, ...)
{
        char message[REINS_ERROR_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(message, sizeof(message), fmt, ap);
        va_end(ap);
        return reins_error_set(ctx->err, EINVAL, "%s:%lu: %s: %s", ctx->origin, node_line(node),
                               key, message);
}

static int fail_nomem(struct parse_ctx *ctx)
{
        return reins_error_set(ctx->err, ENOMEM, "%s: out of memory", ctx->origin);
}

/* "parent.child"; keys are short, but refuse rather than truncate. */
static int key_path(char out[KEY_PATH_MAX], const char *parent, const char *child)
{
        int n = parent && *parent ? snprintf(out, KEY_PATH_MAX, "%s.%s", parent, child)
                                  : snprintf(out, KEY_PATH_MAX, "%s", child);
        return n < 0 || n >= KEY_PATH_MAX ? -ENAMETOOLONG : 0;
}

static int index_path(char out[KEY_PATH_MAX], const char *parent, size_t index)
{
        int n = snprintf(out, KEY_PATH_MAX, "%s[%zu]", parent, index);
        return n < 0 || n >= KEY_PATH_MAX ? -ENAMETOOLONG : 0;
}

static const char *scalar_text(const yaml_node_t *node)
{
        return (const char *)node->data.scalar.value;
}

/* YAML's null: an empty or ~/null plain scalar (`memory:` with no value). */
static bool is_null(const yaml_node_t *node)
{
        if (node->type != YAML_SCALAR_NODE || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
                return false;
        const char *text = scalar_text(node);
        return !*text || strcmp(text, "~") == 0 || strcmp(text, "null") == 0 ||
               strcmp(text, "Null") == 0 || strcmp(text, "NULL") == 0;
}

static const char *node_kind(const yaml_node_t *node)
{
        switch (node->type) {
        case YAML_SEQUENCE_NODE:
                return "a list";
        case YAML_MAPPING_NODE:
                return "a mapping";
        default:
                return "a single value";
        }
}

/* A scalar's text, refusing null, non-scalars and embedded NUL bytes (a
 * "\0" escape would otherwise cut the value short in C). */
static int get_scalar(struct parse_ctx *ctx, const yaml_node_t *node, const char *key,
                      const char **text)
{
        if (node->type != YAML_SCALAR_NODE)
                return fail(ctx, node, key, "expected a single value, got %s", node_kind(node));
        if (is_null(node)) {
                if (strcmp(scalar_text(node), "~") == 0)
                        return fail(ctx, node, key,
                                    "no value ('~' alone is YAML for nothing; quote it, \"~\", "
                                    "to mean your home directory)");
                return fail(ctx, node, key, "no value");
        }
        if (strlen(scalar_text(node)) != node->data.scalar.length)
                return fail(ctx, node, key, "contains a NUL byte");
        *text = scalar_text(node);
        return 0;
}

/* A copy of the scalar, checked (and possibly normalized) by `check`. */
static int get_checked_string(struct parse_ctx *ctx, const yaml_node_t *node, const char *key,
                              value_check check, const char *noun, char **out)
{
        const char *text;
        int r = get_scalar(ctx, node, key, &text);
        if (r < 0)
                return r;
        cleanup_free char *copy = strdup(text);
        if (!copy)
                return fail_nomem(ctx);
        const char *why = NULL;
        if (check && check(copy, &why) < 0)
                return fail(ctx, node, key, "bad %s '%s': %s", noun, text, why);
        *out = steal_ptr(&copy);
        return 0;
}

/* Index of `text` in `choices`, or a message listing them. */
static int get_choice(struct parse_ctx *ctx, const yaml_node_t *node, const char *key,
                      const char *const *choices, unsigned *index)
{
        const char *text;
        int r = get_scalar(ctx, node, key, &text);
        if (r < 0)
                return r;
        char allowed[256] = "";
        size_t used = 0;
        for (unsigned i = 0; choices[i]; i++) {
                if (strcmp(text, choices[i]) == 0) {
                        *index = i;
                        return 0;
                }
                int n = snprintf(allowed + used, sizeof(allowed) - used, "%s%s", i ? ", " : "",
                                 choices[i]);
                if (n > 0 && (size_t)n < sizeof(allowed) - used)
                        used += (size_t)n;
        }
        return fail(ctx, node, key, "unknown value '%s' (expected one of: %s)", text, allowed);
}

static int get_number(struct parse_ctx *ctx, const yaml_node_t *node, const char *key,
                      const struct field *field, uint64_t *out)
{
        enum field_kind kind = field->kind;
        const char *text;
        int r = get_scalar(ctx, node, key, &text);
        if (r < 0)
                return r;
        switch (kind) {
        case FIELD_SIZE:
                r = parse_size(text, out);
                if (r == -ERANGE)
                        return fail(ctx, node, key, "size '%s' is too large", text);
                if (r < 0)
                        return fail(ctx, node, key, "bad size '%s' (use e.g. 512MiB, 4GiB)", text);
                if (*out != 0 && *out < field->minimum)
                        return fail(ctx, node, key,
                                    "size '%s' is below the %llu MiB a sandbox needs (0 means no "
                                    "limit; sizes without a unit are bytes)",
                                    text, (unsigned long long)(field->minimum >> 20));
                return 0;
        case FIELD_COUNT:
                r = parse_count(text, out);
                if (r == -ERANGE)
                        return fail(ctx, node, key, "number '%s' is too large", text);
                if (r < 0)
                        return fail(ctx, node, key,
                                    "bad number '%s' (use a whole number, e.g. 1024)", text);
                if (field->max && *out > field->max)
                        return fail(ctx, node, key, "%s is more than %llu", text,
                                    (unsigned long long)field->max);
                return 0;
        case FIELD_DURATION:
                r = parse_duration_ms(text, out);
                if (r == -ERANGE)
                        return fail(ctx, node, key, "duration '%s' is too long", text);
                if (r < 0)
                        return fail(ctx, node, key,
                                    "bad duration '%s' (use e.g. 0, 90s, 250ms, 10m, 1h30m)", text);
                return 0;
        case FIELD_CPUS:
                r = parse_cpus_milli(text, out);
                if (r == -ERANGE)
                        return fail(ctx, node, key, "cpu count '%s' is too large", text);
                if (r < 0)
                        return fail(ctx, node, key, "bad cpu count '%s' (use e.g. 2, 0.5, 1500m)",
                                    text);
                return 0;
        default:
                return fail(ctx, node, key, "internal error: not a number field");
        }
}

static int parse_list(struct parse_ctx *ctx, const yaml_node_t *node, const char *key,
                      const struct field *field)
{
        if (node->type != YAML_SEQUENCE_NODE) {
                if (is_null(node))
                        return fail(ctx, node, key, "no value (write [] for an empty list)");
                if (node->type == YAML_SCALAR_NODE)
                        return fail(ctx, node, key,
                                    "expected a list, got a single value '%s' "
                                    "(write [%s])",
                                    scalar_text(node), scalar_text(node));
                return fail(ctx, node, key, "expected a list, got %s", node_kind(node));
        }
        struct reins_strv *list = destination(ctx, field);
        size_t index = 0;
        for (yaml_node_item_t *item = node->data.sequence.items.start;
             item < node->data.sequence.items.top; item++, index++) {
                const yaml_node_t *item_node = yaml_document_get_node(ctx->doc, *item);
                char item_key[KEY_PATH_MAX];
                if (index_path(item_key, key, index) < 0)
                        return fail(ctx, node, key, "list too long");
                char *value;
                int r =
                    get_checked_string(ctx, item_node, item_key, field->check, field->noun, &value);
                if (r < 0)
                        return r;
                /* a repeated entry adds nothing: keep the first */
                if (strv_contains(list, value)) {
                        free(value);
                        continue;
                }
                if (strv_push_take(list, value) < 0)
                        return fail_nomem(ctx);
        }
        return 0;
}

/* Position of the "KEY=" entry in a list of "KEY=VALUE", or -1. */
static long find_map_entry(const struct reins_strv *map, const char *name)
{
        size_t len = strlen(name);
        for (size_t i = 0; i < map->count; i++)
                if (strncmp(map->items[i], name, len) == 0 && map->items[i][len] == '=')
                        return (long)i;
        return -1;
}

/* Is `name` already a key of the map `field` fills? */
static bool map_has(struct parse_ctx *ctx, const struct field *field, const char *name)
{
        if (field->kind == FIELD_RULE_MAP)
                return policy_rule_setting_find(destination(ctx, field), name) != NULL;
        return find_map_entry(destination(ctx, field), name) >= 0;
}

/* rules.*: the value parsed into its type now, so that nothing after the
 * loader reads it back from text. */
static int put_rule_setting(struct parse_ctx *ctx, const yaml_node_t *node, const char *key,
                            const struct field *field, char *name)
{
        const char *text;
        int r = get_scalar(ctx, node, key, &text);
        if (r < 0)
                return r;
        struct policy_rule_setting setting = {.id = name};
        const char *why = NULL;
        if (field->parse_rule(text, &setting, &why) < 0)
                return fail(ctx, node, key, "bad %s '%s': %s", field->noun, text, why);
        /* borrowed for the call: policy_rule_settings_put stores a copy */
        if (field->keeps_spelling)
                setting.written = (char *)text;
        if (policy_rule_settings_put(destination(ctx, field), &setting) < 0)
                return fail_nomem(ctx);
        return 0;
}

/* "NAME=VALUE", the value checked by the field's `check`. */
static int put_map_entry(struct parse_ctx *ctx, const yaml_node_t *node, const char *key,
                         const struct field *field, const char *name)
{
        cleanup_free char *value = NULL;
        int r = get_checked_string(ctx, node, key, field->check, field->noun, &value);
        if (r < 0)
                return r;
        char *entry;
        if (asprintf(&entry, "%s=%s", name, value) < 0)
                return fail_nomem(ctx);
        if (strv_push_take(destination(ctx, field), entry) < 0)
                return fail_nomem(ctx);
        return 0;
}

static int parse_map(struct parse_ctx *ctx, const yaml_node_t *node, const char *key,
                     const struct field *field)
{
        if (node->type != YAML_MAPPING_NODE) {
                if (is_null(node))
                        return fail(ctx, node, key, "no value (write {} for an empty mapping)");
                return fail(ctx, node, key, "expected a mapping (NAME: value), got %s",
                            node_kind(node));
        }
        for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
             pair < node->data.mapping.pairs.top; pair++) {
                const yaml_node_t *key_node = yaml_document_get_node(ctx->doc, pair->key);
                const yaml_node_t *value_node = yaml_document_get_node(ctx->doc, pair->value);
                cleanup_free char *name = NULL;
                int r = get_checked_string(ctx, key_node, key, field->check_key, "name", &name);
                if (r < 0)
                        return r;
                char entry_key[KEY_PATH_MAX];
                if (key_path(entry_key, key, name) < 0)
                        return fail(ctx, key_node, key, "name too long");
                if (map_has(ctx, field, name))
                        return fail(ctx, key_node, entry_key, "duplicate key");
                r = field->kind == FIELD_RULE_MAP
                        ? put_rule_setting(ctx, value_node, entry_key, field, name)
                        : put_map_entry(ctx, value_node, entry_key, field, name);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_section(struct parse_ctx *ctx, const yaml_node_t *node, const char *path,
                         const struct field *fields);

/* ---- credentials: a list of mappings, each key checked here ---- */

/* A list of strings under `key`, each checked; an empty list is refused. */
static int parse_string_list(struct parse_ctx *ctx, const yaml_node_t *node, const char *key,
                             value_check check, const char *noun, struct reins_strv *out)
{
        if (node->type != YAML_SEQUENCE_NODE)
                return fail(ctx, node, key, "expected a list, got %s", node_kind(node));
        size_t index = 0;
        for (yaml_node_item_t *item = node->data.sequence.items.start;
             item < node->data.sequence.items.top; item++, index++) {
                char item_key[KEY_PATH_MAX];
                if (index_path(item_key, key, index) < 0)
                        return fail(ctx, node, key, "list too long");
                char *value;
                int r = get_checked_string(ctx, yaml_document_get_node(ctx->doc, *item), item_key,
                                           check, noun, &value);
                if (r < 0)
                        return r;
                if (strv_push_take(out, value) < 0)
                        return fail_nomem(ctx);
        }
        if (out->count == 0)
                return fail(ctx, node, key, "must not be empty");
        return 0;
}

/* source: {env: VAR} | {file: PATH} | {command: [ARGV...]}, exactly one. */
static int parse_credential_source(struct parse_ctx *ctx, const yaml_node_t *node, const char *key,
                                   struct policy_credential *c)
{
        if (node->type != YAML_MAPPING_NODE ||
            node->data.mapping.pairs.top - node->data.mapping.pairs.start != 1)
                return fail(ctx, node, key,
                            "expected one of {env: VARIABLE}, {file: PATH}, {command: [ARGV]}");
        yaml_node_pair_t *pair = node->data.mapping.pairs.start;
        const yaml_node_t *key_node = yaml_document_get_node(ctx->doc, pair->key);
        const yaml_node_t *value = yaml_document_get_node(ctx->doc, pair->value);
        const char *name;
        int r = get_scalar(ctx, key_node, key, &name);
        if (r < 0)
                return r;
        char sub[KEY_PATH_MAX];
        if (key_path(sub, key, name) < 0)
                return fail(ctx, key_node, key, "key too long");
        if (strcmp(name, "env") == 0) {
                c->source_kind = POLICY_CREDENTIAL_ENV;
                return get_checked_string(ctx, value, sub, policy_check_env_name, "variable name",
                                          &c->source);
        }
        if (strcmp(name, "file") == 0) {
                c->source_kind = POLICY_CREDENTIAL_FILE;
                return get_checked_string(ctx, value, sub, policy_check_host_path, "path",
                                          &c->source);
        }
        if (strcmp(name, "command") == 0) {
                c->source_kind = POLICY_CREDENTIAL_COMMAND;
                return parse_string_list(ctx, value, sub, policy_check_env_value, "argument",
                                         &c->command);
        }
        return fail(ctx, key_node, sub, "unknown source (expected one of: env, file, command)");
}

static void credential_cleanup(struct policy_credential *c)
{
        policy_credential_clear(c);
}

static int parse_credential(struct parse_ctx *ctx, const yaml_node_t *node, const char *key)
{
        if (node->type != YAML_MAPPING_NODE)
                return fail(ctx, node, key,
                            "expected a mapping (name, source, hosts, how, env), got %s",
                            node_kind(node));
        static const char *const keys[] = {"name",      "source", "hosts",   "how", "env",
                                           "plaintext", "file",   "pattern", "json"};
        enum {
                K_NAME,
                K_SOURCE,
                K_HOSTS,
                K_HOW,
                K_ENV,
                K_PLAINTEXT,
                K_FILE,
                K_PATTERN,
                K_JSON,
                K_COUNT
        };
        unsigned long seen[K_COUNT] = {0};
        __attribute__((cleanup(credential_cleanup))) struct policy_credential c = {0};
        for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
             pair < node->data.mapping.pairs.top; pair++) {
                const yaml_node_t *key_node = yaml_document_get_node(ctx->doc, pair->key);
                const yaml_node_t *value = yaml_document_get_node(ctx->doc, pair->value);
                const char *name;
                int r = get_scalar(ctx, key_node, key, &name);
                if (r < 0)
                        return r;
                char sub[KEY_PATH_MAX];
                if (key_path(sub, key, name) < 0)
                        return fail(ctx, key_node, key, "key too long");
                unsigned k = 0;
                while (k < K_COUNT && strcmp(keys[k], name) != 0)
                        k++;
                if (k == K_COUNT)
                        return fail(ctx, key_node, sub,
                                    "unknown key (expected one of: name, source, hosts, how, env, "
                                    "plaintext, file, pattern, json)");
                if (seen[k])
                        return fail(ctx, key_node, sub, "duplicate key (first at line %lu)",
                                    seen[k]);
                seen[k] = node_line(key_node);
                const char *text;
                const char *why = NULL;
                unsigned index;
                switch (k) {
                case K_NAME:
                        r = get_checked_string(ctx, value, sub, policy_check_credential_name,
                                               "name", &c.name);
                        break;
                case K_SOURCE:
                        r = parse_credential_source(ctx, value, sub, &c);
                        break;
                case K_HOSTS:
                        r = parse_string_list(ctx, value, sub, policy_check_credential_host, "host",
                                              &c.hosts);
                        break;
                case K_HOW:
                        r = get_scalar(ctx, value, sub, &text);
                        if (r == 0 && policy_parse_credential_how(text, &c, &why) < 0)
                                r = fail(ctx, value, sub, "bad how '%s': %s", text, why);
                        break;
                case K_ENV:
                        r = get_checked_string(ctx, value, sub, policy_check_env_name,
                                               "variable name", &c.env);
                        break;
                case K_PLAINTEXT:
                        r = get_choice(ctx, value, sub, policy_bool_names, &index);
                        c.plaintext = r == 0 && index == 1;
                        break;
                case K_FILE:
                        r = get_checked_string(ctx, value, sub, policy_check_host_path, "path",
                                               &c.file);
                        break;
                case K_PATTERN:
                        r = get_checked_string(ctx, value, sub, policy_check_credential_pattern,
                                               "pattern", &c.pattern);
                        break;
                case K_JSON:
                        r = get_checked_string(ctx, value, sub, policy_check_json_pointer,
                                               "JSON Pointer", &c.json_pointer);
                        break;
                }
                if (r < 0)
                        return r;
        }
        /* a secret named by `source` (and shown in `env`), or spans of a `file` */
        bool in_file = seen[K_FILE] != 0;
        static const unsigned required[] = {K_NAME, K_SOURCE, K_HOSTS, K_ENV};
        for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
                char sub[KEY_PATH_MAX];
                if (in_file && (required[i] == K_SOURCE || required[i] == K_ENV))
                        continue;
                if (!seen[required[i]] && key_path(sub, key, keys[required[i]]) == 0)
                        return fail(ctx, node, sub,
                                    "missing (a credential has a source and an env, or a file "
                                    "and a pattern or json)");
        }
        if (in_file && seen[K_SOURCE])
                return fail(ctx, node, key, "source and file: one or the other");
        if (in_file && !seen[K_PATTERN] == !seen[K_JSON])
                return fail(ctx, node, key, "a file credential has a pattern or a json pointer");
        if (!in_file && (seen[K_PATTERN] || seen[K_JSON]))
                return fail(ctx, node, key, "pattern and json go with file");
        if (in_file && !seen[K_HOW])
                c.how = POLICY_CREDENTIAL_SWAP; /* the file says where it goes */
        struct policy_credentials *all = &ctx->policy->credentials;
        for (size_t i = 0; i < all->count; i++) {
                char sub[KEY_PATH_MAX];
                if (key_path(sub, key, "name") < 0)
                        sub[0] = '\0';
                if (strcmp(all->items[i].name, c.name) == 0)
                        return fail(ctx, node, sub, "duplicate credential '%s'", c.name);
                if (all->items[i].env && c.env && strcmp(all->items[i].env, c.env) == 0)
                        return fail(ctx, node, sub, "credential '%s' already uses env %s",
                                    all->items[i].name, c.env);
        }
        if (all->count >= POLICY_CREDENTIALS_MAX)
                return fail(ctx, node, key, "more than %d credentials", POLICY_CREDENTIALS_MAX);
        if (policy_credentials_put(all, &c) < 0)
                return fail_nomem(ctx);
        return 0;
}

static int parse_credentials(struct parse_ctx *ctx, const yaml_node_t *node, const char *key)
{
        if (node->type != YAML_SEQUENCE_NODE)
                return fail(ctx, node, key, "expected a list of credentials, got %s",
                            node_kind(node));
        size_t index = 0;
        for (yaml_node_item_t *item = node->data.sequence.items.start;
             item < node->data.sequence.items.top; item++, index++) {
                char item_key[KEY_PATH_MAX];
                if (index_path(item_key, key, index) < 0)
                        return fail(ctx, node, key, "list too long");
                int r = parse_credential(ctx, yaml_document_get_node(ctx->doc, *item), item_key);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_field(struct parse_ctx *ctx, const yaml_node_t *node, const char *key,
                       const struct field *field)
{
        int r = 0;
        unsigned index;
        const char *text;

        switch (field->kind) {
        case FIELD_VERSION:
                r = get_scalar(ctx, node, key, &text);
                if (r < 0)
                        return r;
                if (strcmp(text, "1") != 0)
                        return fail(ctx, node, key,
                                    "unsupported version '%s' (this reins reads version 1)", text);
                break;
        case FIELD_STRING:
                r = get_checked_string(ctx, node, key, field->check, field->noun,
                                       (char **)destination(ctx, field));
                break;
        case FIELD_CHOICE:
                r = get_choice(ctx, node, key, field->choices, &index);
                if (r < 0)
                        return r;
                char *copy = strdup(field->choices[index]);
                if (!copy)
                        return fail_nomem(ctx);
                *(char **)destination(ctx, field) = copy;
                break;
        case FIELD_BOOL:
                r = get_choice(ctx, node, key, field->choices, &index);
                if (r == 0)
                        *(bool *)destination(ctx, field) = index == 1;
                break;
        case FIELD_WORKSPACE_MODE:
                r = get_choice(ctx, node, key, field->choices, &index);
                if (r == 0)
                        ctx->policy->filesystem.workspace_mode = (enum policy_workspace_mode)index;
                break;
        case FIELD_NETWORK_MODE:
                r = get_choice(ctx, node, key, field->choices, &index);
                if (r == 0)
                        ctx->policy->network.mode = (enum policy_network_mode)index;
                break;
        case FIELD_RISK_ENGINE:
                r = get_choice(ctx, node, key, field->choices, &index);
                if (r == 0)
                        ctx->policy->risk.engine = (enum policy_risk_engine)index;
                break;
        case FIELD_APPROVAL_DEFAULT:
                r = get_choice(ctx, node, key, field->choices, &index);
                if (r == 0)
                        ctx->policy->approvals.default_decision =
                            (enum policy_approval_default)index;
                break;
        case FIELD_APPROVAL_UNKNOWN:
                r = get_choice(ctx, node, key, field->choices, &index);
                if (r == 0)
                        ctx->policy->approvals.unknown = (enum policy_approval_unknown)index;
                break;
        case FIELD_SIZE:
        case FIELD_COUNT:
        case FIELD_DURATION:
        case FIELD_CPUS:
                r = get_number(ctx, node, key, field, (uint64_t *)destination(ctx, field));
                if (r == 0 && field->min && *(uint64_t *)destination(ctx, field) < field->min)
                        r = fail(ctx, node, key, "must be at least %s", field->min_text);
                break;
        case FIELD_LIST:
                r = parse_list(ctx, node, key, field);
                break;
        case FIELD_MAP:
        case FIELD_RULE_MAP:
                r = parse_map(ctx, node, key, field);
                break;
        case FIELD_CREDENTIALS:
                r = parse_credentials(ctx, node, key);
                break;
        case FIELD_SECTION:
                r = parse_section(ctx, node, key, field->children);
                if (r == 0 && field->marks_present)
                        *(bool *)destination(ctx, field) = true;
                break;
        }
        if (r < 0)
                return r;
        if (field->origin != POLICY_KEY_NONE &&
            policy_origin_set(ctx->policy, field->origin, ctx->origin, node_line(node)) < 0)
                return fail_nomem(ctx);
        return 0;
}

static const struct field *find_field(const struct field *fields, const char *name)
{
        for (const struct field *f = fields; f->name; f++)
                if (strcmp(f->name, name) == 0)
                        return f;
        return NULL;
}

static void list_field_names(const struct field *fields, char *out, size_t size)
{
        size_t used = 0;
        out[0] = '\0';
        for (const struct field *f = fields; f->name; f++) {
                int n = snprintf(out + used, size - used, "%s%s", f == fields ? "" : ", ", f->name);
                if (n < 0 || (size_t)n >= size - used)
                        return;
                used += (size_t)n;
        }
}

static int parse_section(struct parse_ctx *ctx, const yaml_node_t *node, const char *path,
                         const struct field *fields)
{
        if (node->type != YAML_MAPPING_NODE) {
                if (is_null(node))
                        return fail(ctx, node, path, "no value (write {} for an empty section)");
                return fail(ctx, node, path, "expected a mapping of keys, got %s", node_kind(node));
        }
        unsigned long seen_at[FIELDS_MAX] = {0}; /* line of each key already read */
        for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
             pair < node->data.mapping.pairs.top; pair++) {
                const yaml_node_t *key_node = yaml_document_get_node(ctx->doc, pair->key);
                const yaml_node_t *value_node = yaml_document_get_node(ctx->doc, pair->value);
                const char *name;
                int r = get_scalar(ctx, key_node, *path ? path : "(key)", &name);
                if (r < 0)
                        return r;
                char key[KEY_PATH_MAX];
                if (key_path(key, path, name) < 0)
                        return fail(ctx, key_node, path, "key too long");
                const struct field *field = find_field(fields, name);
                if (!field) {
                        char expected[512];
                        list_field_names(fields, expected, sizeof(expected));
                        return fail(ctx, key_node, key, "unknown key (expected one of: %s)",
                                    expected);
                }
                size_t slot = (size_t)(field - fields);
                if (slot >= FIELDS_MAX)
                        return fail(ctx, key_node, key, "too many keys in one section");
                if (seen_at[slot])
                        return fail(ctx, key_node, key, "duplicate key (first at line %lu)",
                                    seen_at[slot]);
                seen_at[slot] = node_line(key_node);
                r = parse_field(ctx, value_node, key, field);
                if (r < 0)
                        return r;
        }
        if (fields == root_fields && !seen_at[0])
                return fail(ctx, node, "version", "missing (a policy starts with 'version: 1')");
        return 0;
}

/* libyaml's complaint as `ORIGIN:LINE: YAML syntax error: problem`. */
static int fail_syntax(const yaml_parser_t *parser, const char *text, size_t length,
                       const char *origin, struct reins_error *err)
{
        if (parser->error == YAML_MEMORY_ERROR)
                return reins_error_set(err, ENOMEM, "%s: out of memory", origin);
        unsigned long line = (unsigned long)parser->problem_mark.line + 1;
        if (parser->error == YAML_READER_ERROR) {
                /* bad encoding: the reader knows a byte offset, not a line */
                line = 1;
                for (size_t i = 0; i < parser->problem_offset && i < length; i++)
                        if (text[i] == '\n')
                                line++;
        }
        const char *problem = parser->problem ? parser->problem : "cannot parse";
        if (parser->context)
                return reins_error_set(
                    err, EINVAL, "%s:%lu: YAML syntax error: %s (%s at line %lu)", origin, line,
                    problem, parser->context, (unsigned long)parser->context_mark.line + 1);
        return reins_error_set(err, EINVAL, "%s:%lu: YAML syntax error: %s", origin, line, problem);
}

static void document_cleanup(yaml_document_t **doc)
{
        if (*doc)
                yaml_document_delete(*doc);
}

static void parser_cleanup(yaml_parser_t **parser)
{
        if (*parser)
                yaml_parser_delete(*parser);
}

static void policy_cleanup(struct reins_policy **policy)
{
        policy_free(*policy);
}

int policy_parse_layer(const char *text, size_t length, const char *origin,
                       struct reins_policy **out, struct reins_error *err)
{
        yaml_parser_t parser_storage;
        yaml_document_t doc_storage, next_storage;
        __attribute__((cleanup(parser_cleanup))) yaml_parser_t *parser = NULL;
        __attribute__((cleanup(document_cleanup))) yaml_document_t *doc = NULL;
        __attribute__((cleanup(document_cleanup))) yaml_document_t *next = NULL;
        __attribute__((cleanup(policy_cleanup))) struct reins_policy *policy = NULL;

        if (!yaml_parser_initialize(&parser_storage))
                return reins_error_set(err, ENOMEM, "%s: out of memory", origin);
        parser = &parser_storage;
        yaml_parser_set_input_string(parser, (const unsigned char *)text, length);

        if (!yaml_parser_load(parser, &doc_storage))
                return fail_syntax(parser, text, length, origin, err);
        doc = &doc_storage;

        yaml_node_t *root = yaml_document_get_root_node(doc);
        if (!root || (root->type == YAML_SCALAR_NODE && is_null(root)))
                return reins_error_set(err, EINVAL,
                                       "%s:1: policy is empty (a policy starts with 'version: 1')",
                                       origin);

        /* a second document would be silently ignored: refuse it instead */
        if (!yaml_parser_load(parser, &next_storage))
                return fail_syntax(parser, text, length, origin, err);
        next = &next_storage;
        yaml_node_t *second = yaml_document_get_root_node(next);
        if (second)
                return reins_error_set(err, EINVAL,
                                       "%s:%lu: only one YAML document is allowed (found '---' "
                                       "starting another)",
                                       origin, node_line(second));

        if (root->type != YAML_MAPPING_NODE)
                return reins_error_set(err, EINVAL,
                                       "%s:%lu: policy must be a mapping of keys (version: 1, "
                                       "filesystem: ...), got %s",
                                       origin, node_line(root), node_kind(root));

        policy = policy_layer_new();
        if (!policy || !(policy->source = strdup(origin)))
                return reins_error_set(err, ENOMEM, "%s: out of memory", origin);

        struct parse_ctx ctx = {.doc = doc, .origin = origin, .policy = policy, .err = err};
        int r = parse_section(&ctx, root, "", root_fields);
        if (r < 0)
                return r;
        *out = steal_ptr(&policy);
        return 0;
}
