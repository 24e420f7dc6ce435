/* The policy: DESIGN §3, loaded from YAML (a file or a built-in preset),
 * merged along `extends`, validated and normalized into plain data.
 * Nothing here touches the kernel; the sandbox turns a policy into a plan. */
#ifndef REINS_POLICY_POLICY_H
#define REINS_POLICY_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "util/error.h"
#include "util/strv.h"

enum policy_workspace_mode {
        POLICY_WORKSPACE_DIRECT = 0,
        POLICY_WORKSPACE_READONLY,
        POLICY_WORKSPACE_OVERLAY, /* parsed, refused until the workspace issue lands */
};

enum policy_network_mode {
        POLICY_NETWORK_NONE = 0,
        POLICY_NETWORK_PROXY, /* parsed, refused until the egress issue lands */
        POLICY_NETWORK_HOST,  /* parsed, refused until the egress issue lands */
};

#define POLICY_UNSET    UINT64_MAX /* a limit nobody asked for */
#define POLICY_POOL_MAX 64         /* pool: N, at most */

/* `risk.engine`: off means no detection at all (and nothing freezes). */
enum policy_risk_engine {
        POLICY_RISK_ENGINE_ON = 0,
        POLICY_RISK_ENGINE_OFF,
};

/* `approvals.default`: the answer when nobody answers in time. */
enum policy_approval_default {
        POLICY_APPROVAL_DENY = 0,
        POLICY_APPROVAL_ALLOW,
};

/* `approvals.unknown`: a destination that no network list names. */
enum policy_approval_unknown {
        POLICY_UNKNOWN_DENY = 0,
        POLICY_UNKNOWN_ASK,
};

/* `rules.severity` values, lowest first. */
enum policy_rule_severity {
        POLICY_SEVERITY_LOW = 0,
        POLICY_SEVERITY_MEDIUM,
        POLICY_SEVERITY_HIGH,
        POLICY_SEVERITY_CRITICAL,
};

/* `rules.action` values: log, score, T1, T2, T3, kill. */
enum policy_rule_action {
        POLICY_ACTION_LOG = 0,
        POLICY_ACTION_SCORE,
        POLICY_ACTION_T1,
        POLICY_ACTION_T2,
        POLICY_ACTION_T3,
        POLICY_ACTION_KILL,
};

/* One entry of a `rules:` map: the rule it names and its value, parsed and
 * checked when the policy is loaded (nothing downstream parses text). */
struct policy_rule_setting {
        char *id; /* a built-in rule's id */
        union {
                enum policy_rule_severity severity; /* rules.severity */
                enum policy_rule_action action;     /* rules.action */
                uint64_t number; /* rules.weight, rules.threshold: a count; rules.window: ms */
        };
        /* rules.weight, .threshold, .window: the value as the policy spelled
         * it ("90s", "007"). The normalized YAML repeats it because these
         * values were hashed as written before they were parsed: printing
         * "1m30s" instead would change the identity of existing policies. */
        char *written;
};

/* A `rules:` map in the order written (a child's entry takes its parent's
 * place); at most one entry per rule id. */
struct policy_rule_settings {
        struct policy_rule_setting *items;
        size_t count;
};

/* Where each key was written (file and line), private to src/policy: it lets
 * policy_check_supported name the line of a key it refuses. */
struct policy_origins;

/* The smallest memory limit a sandbox can start in (init, a shell, the
 * loader); below it every run would be killed at once. */
#define POLICY_MEMORY_MINIMUM (16ULL << 20)

/* The audit trail's bounds (limits.trail_size, limits.trail_rate): the
 * file's size and the average rate of ordinary records, in bytes. */
#define POLICY_TRAIL_SIZE_DEFAULT (128ULL << 20)
#define POLICY_TRAIL_SIZE_MIN     (1ULL << 20)
#define POLICY_TRAIL_RATE_DEFAULT (1ULL << 20)
#define POLICY_TRAIL_RATE_MIN     (64ULL << 10)

struct policy_limits {
        uint64_t memory_bytes;         /* 0 = no limit */
        uint64_t pids;                 /* 0 = no limit */
        uint64_t cpus_milli;           /* 1000 = one cpu; 0 = no limit */
        uint64_t wall_time_ms;         /* 0 = no limit */
        uint64_t open_files;           /* RLIMIT_NOFILE; 0 = inherit */
        uint64_t tmp_size_bytes;       /* size of the private /tmp tmpfs; 0 = kernel default */
        uint64_t workspace_size_bytes; /* overlay mode: cap on the session's copy; 0 = none */
        uint64_t trail_size_bytes;     /* the audit trail's size cap */
        uint64_t trail_rate_bytes;     /* bytes a second of ordinary trail records */
};

/* `credentials:` (issue 18): a secret the supervisor reads on the host side
 * and the egress proxy injects into requests to its hosts; the sandbox sees
 * only a per-session placeholder in `env`. */
enum policy_credential_source {
        POLICY_CREDENTIAL_ENV = 0, /* the caller's environment variable `source` */
        POLICY_CREDENTIAL_FILE,    /* the host file `source` (its whole text, trimmed) */
        POLICY_CREDENTIAL_COMMAND, /* the standard output of `command` (trimmed) */
};

enum policy_credential_how {
        POLICY_CREDENTIAL_BEARER = 0, /* Authorization: Bearer SECRET */
        POLICY_CREDENTIAL_BASIC,      /* Authorization: Basic base64(SECRET = user:password) */
        POLICY_CREDENTIAL_HEADER,     /* NAME: SECRET */
        POLICY_CREDENTIAL_QUERY,      /* ?NAME=SECRET (percent-encoded) */
        POLICY_CREDENTIAL_SWAP,       /* only the placeholder swapped, where the client put it */
};

#define POLICY_CREDENTIAL_NAME_MAX 32
#define POLICY_CREDENTIALS_MAX     32

struct policy_credential {
        char *name; /* [A-Za-z0-9_-], at most 32: it is part of the placeholder */
        enum policy_credential_source source_kind;
        char *source;              /* ENV: the variable; FILE: the host path */
        struct reins_strv command; /* COMMAND: argv (argv[0] absolute or found in PATH) */
        struct reins_strv hosts;   /* host[:port][/path-prefix]; host may be *.domain */
        enum policy_credential_how how;
        char *how_name; /* HEADER, QUERY: the header's or parameter's name */
        char *env;      /* the variable the agent sees, holding the placeholder; may be
                           NULL for a `file` entry */
        bool plaintext; /* may be injected into plain http:// requests too */
        /* a credential inside a host file: the sandbox sees the file at the
         * same path with each secret span replaced by its placeholder */
        char *file;         /* host path (~ allowed); NULL: `source` names the secret */
        char *pattern;      /* POSIX extended regex: group 1 of each match is a secret */
        char *json_pointer; /* or an RFC 6901 pointer to a JSON string */
};

/* In the order written; a child's entry of the same name replaces its parent's. */
struct policy_credentials {
        struct policy_credential *items;
        size_t count;
};

struct reins_policy {
        char *source; /* "FILE" or "preset:NAME": where the top document came from */
        char *name;
        char *agent;
        char *extends; /* as written in the top document, NULL when none */

        struct {
                char *workspace; /* as written ("." by default); the CLI may override */
                enum policy_workspace_mode workspace_mode;
                struct reins_strv read;    /* host paths bound read-only; may start with ~ */
                struct reins_strv write;   /* host paths bound read-write */
                struct reins_strv deny;    /* globs; matches are absent inside */
                struct reins_strv protect; /* workspace-relative globs: read-only inside */
                struct reins_strv secrets; /* host paths: readable, but reading taints */
                struct reins_strv cache;   /* paths (~/.npm): a per-project writable
                                              directory under reins' state is bound there */
        } filesystem;

        struct {
                enum policy_network_mode mode;
                struct reins_strv allow, deny, ask;
                struct reins_strv hosts;      /* "name=address" pairs */
                uint64_t egress_budget_bytes; /* 0 = none */
        } network;

        struct {
                struct reins_strv deny;
        } exec;

        struct {
                struct reins_strv keep; /* names; a trailing * matches a prefix */
                struct reins_strv set;  /* "NAME=VALUE" */
        } env;

        struct policy_limits limits;

        struct {
                char *profile; /* "default" */
                struct reins_strv allow;
                struct reins_strv deny;
        } syscalls;

        /* The risk engine's rules (ids: `reins policy rules`), each key a map
         * by rule id, parsed and checked at load (ids, ranges, which rules
         * count or have a window). */
        struct {
                struct reins_strv disable;             /* rule ids turned off */
                struct policy_rule_settings severity;  /* .severity */
                struct policy_rule_settings weight;    /* .number: score added per finding */
                struct policy_rule_settings threshold; /* .number: for rules that count */
                struct policy_rule_settings window;    /* .number: milliseconds */
                struct policy_rule_settings action;    /* .action */
        } rules;

        bool canaries; /* plant fake credentials whose use is a critical finding */

        /* isolation: "container" (the default, NULL when not written), "vm" or
         * "wasm" (the command is a WASI module run by its engine inside the
         * container sandbox, wasm/run.h) */
        char *isolation;

        struct policy_credentials credentials;

        /* identity.hosts: requests to these (host[:port][/path-prefix], TLS)
         * carry a signed assertion of the agent's identity (issue 18) */
        struct {
                struct reins_strv hosts;
        } identity;

        /* `reins serve` keeps this many sandboxes of this policy built up to
         * the command's exec (its warm pool, serve/pool.c); 0: none. Not a
         * property of the sandbox: it does not enter the policy's hash. */
        uint64_t pool;

        struct {
                enum policy_risk_engine engine;
                uint64_t half_life_ms; /* score decay; POLICY_UNSET: the engine's 10 minutes */
                uint64_t tier1, tier2, tier3; /* scores entering T1..T3; UNSET: 20, 50, 100 */
        } risk;

        struct {
                bool present;
                uint64_t timeout_ms;
                enum policy_approval_default default_decision; /* the answer to silence */
                enum policy_approval_unknown unknown;          /* a destination no list matches */
        } approvals;

        struct {
                struct reins_strv anchor; /* where checkpoints are also sent (audit/anchor.h) */
        } audit;

        /* The root the agent runs in (src/env/): NULL image and suite = the
         * host's own /usr. One of image ("oci:DIR[:TAG]", "docker-archive:FILE",
         * "containers-storage:NAME") or debian.suite; sdks on top of either. */
        struct {
                char *image;
                char *debian_suite;
                struct reins_strv debian_packages;
                struct reins_strv sdks;
                char *writable; /* "none" or "session"; NULL: none */
        } environment;

        struct policy_origins *origins; /* private to src/policy */
};

/* Load a policy: NAME of a built-in preset, or a path (anything with a '/'
 * or ending in .yaml/.yml, or an existing file). Follows `extends`,
 * validates every key. On error, err names file, line, key and what is wrong. */
int policy_load(const char *file_or_preset, struct reins_policy **out, struct reins_error *err);

/* Parse YAML text (used for presets and tests). `origin` names the text in errors. */
int policy_load_text(const char *text, const char *origin, struct reins_policy **out,
                     struct reins_error *err);

/* Refuse keys and modes that later issues implement (network modes other than
 * none, approvals, exec, overlay workspaces) with one clear line. */
int policy_check_supported(const struct reins_policy *policy, struct reins_error *err);

/* The entry of `settings` for rule `id`, or NULL when the policy leaves
 * that rule's value alone. */
const struct policy_rule_setting *
policy_rule_setting_find(const struct policy_rule_settings *settings, const char *id);

/* Names as the policy spells them: "on"/"off", "deny"/"allow", "deny"/"ask",
 * "low".."critical", "log".."kill". */
const char *policy_risk_engine_name(enum policy_risk_engine engine);
const char *policy_approval_default_name(enum policy_approval_default decision);
const char *policy_approval_unknown_name(enum policy_approval_unknown unknown);
const char *policy_rule_severity_name(enum policy_rule_severity severity);
const char *policy_rule_action_name(enum policy_rule_action action);
const char *policy_credential_how_name(enum policy_credential_how how); /* "bearer".. */

/* The normalized policy as YAML text (stable: same policy, same bytes). Caller frees. */
char *policy_to_yaml(const struct reins_policy *policy);

/* SHA-256 (lower-case hex, 64 chars + NUL) of policy_to_yaml(). */
int policy_sha256_hex(const struct reins_policy *policy, char out[65]);

void policy_free(struct reins_policy *policy);

/* Built-in presets (YAML source text), NULL when unknown. */
const char *policy_preset_text(const char *name);
/* NULL-terminated list of preset names. */
const char *const *policy_preset_names(void);

#endif
