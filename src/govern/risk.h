/* The risk engine: detection rules over the event stream (DESIGN §7).
 *
 * A policy says what an agent may do; it cannot say what a sequence of
 * allowed actions means ("read the cloud credentials, then upload to a new
 * host" is two allowed steps and one exfiltration). The engine is an event
 * sink: it sees the same events as the audit trail, runs every enabled rule
 * on each, and when one fires it reports a finding and adds the rule's weight
 * to the session's risk score. The score decays exponentially; thresholds on
 * it give the tiers T0–T3 (what each tier does is the caller's playbook), and
 * a critical finding jumps straight to the top tier.
 *
 * One engine watches one session. Evaluation is cheap (no regex, no
 * allocation on the common path) and every piece of state is bounded, so a
 * hostile agent cannot grow the supervisor by spamming events. */
#ifndef REINS_GOVERN_RISK_H
#define REINS_GOVERN_RISK_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/risk_rules.h"
#include "util/error.h"

#define RISK_TIER_MAX 3 /* tiers are 0 (T0) .. 3 (T3) */

/* Per-rule overrides (the policy's `rules:` section). Zero means "keep the
 * default" in every field, so designated initializers read naturally. */
struct risk_rule_override {
        const char *id;
        int enabled; /* 0 keep, 1 on, -1 off */
        enum risk_severity severity;
        double weight;     /* > 0 replaces the weight */
        int64_t threshold; /* > 0 replaces the threshold (clamped to what state holds) */
        int64_t window_ms; /* > 0 replaces the window */
        enum risk_action action;
};

struct risk_config {
        int64_t half_life_ms;     /* score decay; 0: 10 minutes */
        double tier_threshold[3]; /* score that enters T1, T2, T3; 0: 20, 50, 100 */
        int critical_tier;        /* where a critical finding jumps; 0: T3 */
        int64_t refire_ms;        /* a rule re-fires at most this often; 0: 5 s */
        const struct risk_rule_override *overrides;
        size_t override_count;
        /* The clock in ms. NULL: each event's own "time" (so replaying a
         * trail gives the same findings, and tests are deterministic). */
        int64_t (*clock_ms)(void *ctx);
        /* Reports. A finding is {type:"risk.finding", rule, severity, weight,
         * explanation, detail, evidence:[seq or time...], score, tier, action,
         * time};
         * it is only borrowed for the call. */
        void (*on_finding)(void *ctx, const json_t *finding);
        void (*on_tier)(void *ctx, int old_tier, int new_tier, const char *reason);
        void *ctx; /* passed to all three callbacks */
};

struct risk_engine;

/* The override for a rule id in `config`, or NULL (the last one wins). */
const struct risk_rule_override *risk_config_override(const struct risk_config *config,
                                                      const char *rule_id);

/* Unknown rule ids, bad severities, and tier thresholds out of order are
 * errors (fail closed: a typo must not silently leave a rule at default). */
int risk_config_check(const struct risk_config *config, struct reins_error *err);

/* NULL on allocation failure or a config that risk_config_check refuses.
 * The config is copied; the overrides array need not outlive the call. */
struct risk_engine *risk_engine_new(const struct risk_config *config);
void risk_engine_free(struct risk_engine *engine);

/* An event_sink_fn: register with event_bus_add_sink(bus, risk_engine_sink, engine). */
void risk_engine_sink(void *engine, const json_t *event);
/* The same, for an event that has no "seq" yet: `seq_hint` is the seq the
 * audit trail will give it (-1: unknown), so findings name their evidence
 * by seq. */
void risk_engine_observe(struct risk_engine *engine, const json_t *event, int64_t seq_hint);

/* The decayed score at `now_ms` (the engine's clock when now_ms < 0), the
 * current tier, and the number of findings so far. */
double risk_engine_score(struct risk_engine *engine, int64_t now_ms);
int risk_engine_tier(const struct risk_engine *engine);
uint64_t risk_engine_findings(const struct risk_engine *engine);
/* The score's half-life (the default when the config said 0). */
int64_t risk_engine_half_life_ms(const struct risk_engine *engine);
/* A score `elapsed_ms` later, decayed as the engine decays it: `reins ps`
 * ages the score a session last listed (audit/runtime.h) with it. */
double risk_score_decayed(double score, int64_t elapsed_ms, int64_t half_life_ms);
/* A registry entry as listed (`reins ps`, the daemon): its "risk", listed
 * when the session's state last changed, decayed to now, and the two
 * fields that say when and how fast (audit/runtime.h) taken out. */
void risk_entry_decay_to_now(json_t *entry);

/* Hysteresis of the way down: a tier is left when the decayed score falls
 * below this fraction of the threshold that entered it, so a score hovering
 * at a threshold does not flap. */
#define RISK_RELAX_FRACTION 0.5

/* Let the decayed score step the tier back down (T2 -> T1 -> T0), each step
 * reported through on_tier. T3 is never left this way: a frozen sandbox
 * waits for a human (risk_engine_set_tier). Returns the tier. */
int risk_engine_relax(struct risk_engine *engine, int64_t now_ms);

/* A human (`reins thaw`) sets the tier back, a freeze included; on_tier
 * reports it. Findings only raise the tier; risk_engine_relax lowers T1
 * and T2 as the score decays. */
void risk_engine_set_tier(struct risk_engine *engine, int tier, const char *reason);

const char *risk_severity_name(enum risk_severity severity);
/* "log", "score", "T1", "T2", "T3", "kill"; and back (RISK_ACTION_KEEP for
 * anything else). */
const char *risk_action_name(enum risk_action action);
enum risk_action risk_action_parse(const char *text);

#endif
