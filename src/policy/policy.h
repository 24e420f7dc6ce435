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

#define POLICY_UNSET UINT64_MAX /* a limit nobody asked for */

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

        /* The risk engine's rules (ids: `reins policy rules`), each a map by
         * rule id; values are validated text ("high", "30", "2m"). */
        struct {
                struct reins_strv disable;   /* rule ids turned off */
                struct reins_strv severity;  /* "id=low|medium|high|critical" */
                struct reins_strv weight;    /* "id=N" (score added per finding) */
                struct reins_strv threshold; /* "id=N" (for rules that count) */
                struct reins_strv window;    /* "id=DURATION" */
                struct reins_strv action;    /* "id=log|score|T1|T2|T3|kill" */
        } rules;

        char *canaries; /* "true": plant fake credentials whose use is a critical finding */

        struct {
                char *engine;          /* "on" (default) | "off": no detection at all */
                uint64_t half_life_ms; /* score decay; POLICY_UNSET: the engine's 10 minutes */
                uint64_t tier1, tier2, tier3; /* scores entering T1..T3; UNSET: 20, 50, 100 */
        } risk;

        struct {
                bool present;
                uint64_t timeout_ms;
                char *default_decision; /* "deny" | "allow": the answer to silence */
                char *unknown;          /* "deny" | "ask": a destination no list matches */
        } approvals;

        struct {
                struct reins_strv anchor; /* where checkpoints are also sent (audit/anchor.h) */
        } audit;

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
