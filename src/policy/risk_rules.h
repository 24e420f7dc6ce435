/* The risk engine's rule catalogue (DESIGN §7): each built-in rule's id,
 * severity, weight, threshold and window, and the words the policy's
 * `rules:` section uses for severities and actions. It is data the policy
 * validates against (an unknown rule id is an error at load, with file and
 * line) and the engine (src/govern) runs; it lives here, below both, so the
 * policy never includes the engine. The ids are the policy's `rules:` keys:
 * never rename one. */
#ifndef REINS_POLICY_RISK_RULES_H
#define REINS_POLICY_RISK_RULES_H

#include <stddef.h>
#include <stdint.h>

enum risk_severity {
        RISK_SEVERITY_KEEP = 0, /* in an override: leave the rule's default */
        RISK_LOW = 1,
        RISK_MEDIUM,
        RISK_HIGH,
        RISK_CRITICAL,
};

/* What a finding does (the policy's `rules: action:`). */
enum risk_action {
        RISK_ACTION_KEEP = 0, /* in an override: leave the default (score) */
        RISK_ACTION_LOG,      /* record the finding; the score and tier stay */
        RISK_ACTION_SCORE,    /* add the rule's weight (the default) */
        RISK_ACTION_T1,       /* add the weight and go to T1 at least */
        RISK_ACTION_T2,       /* ... T2 at least */
        RISK_ACTION_T3,       /* ... T3 at least */
        RISK_ACTION_KILL,     /* add the weight and end the session (the caller's playbook) */
};

/* A built-in rule, as documented (`risk_rule_list`). threshold and window
 * are meaningful only for rules that count (unit says what is counted). */
struct risk_rule_info {
        const char *id;
        enum risk_severity severity;
        double weight;
        int64_t threshold; /* 0: the rule does not count */
        const char *threshold_unit;
        int64_t window_ms;  /* 0: the rule has no window */
        const char *events; /* the event types it reads */
        const char *explanation;
};

enum rule_id {
        RULE_SECRET_EGRESS,
        RULE_CREDENTIAL_HUNT,
        RULE_PROC_SNOOP,
        RULE_DOWNLOAD_RUN,
        RULE_DECODE_RUN,
        RULE_RUN_FETCHED,
        RULE_RECON,
        RULE_REVERSE_SHELL,
        RULE_ESCAPE,
        RULE_PERSISTENCE,
        RULE_CLOUD_METADATA,
        RULE_DNS_EXFIL_NAME,
        RULE_DNS_EXFIL_SUBDOMAINS,
        RULE_PASTE_UPLOAD,
        RULE_EGRESS_VOLUME,
        RULE_EGRESS_SPIKE,
        RULE_REPEATED_DENIALS,
        RULE_MASS_DELETION,
        RULE_MASS_REWRITE,
        RULE_KEY_EGRESS,
        RULE_CANARY_READ,
        RULE_APPROVAL_FLOOD,
        RULE_DROP_EXEC,
        RULE_CREDENTIAL_MISUSE,
        RULE_COUNT
};

extern const struct risk_rule_info rule_table[RULE_COUNT];

/* The built-in rules, in a stable order, for docs and `reins policy`. */
const struct risk_rule_info *risk_rule_list(size_t *count);
const struct risk_rule_info *risk_rule_find(const char *id); /* NULL: unknown */

#endif
