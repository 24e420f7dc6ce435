/* The risk engine: parse each event once, run the rules for its type, keep
 * the decaying score and the tier, report findings and tier changes. */
#include "govern/risk.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/clock.h"
#include "audit/runtime.h"
#include "govern/rule.h"

#define DEFAULT_HALF_LIFE_MS (10 * 60 * 1000)
#define DEFAULT_REFIRE_MS    5000

static const double default_tiers[3] = {20, 50, 100};

const char *risk_severity_name(enum risk_severity severity)
{
        switch (severity) {
        case RISK_LOW:
                return "low";
        case RISK_MEDIUM:
                return "medium";
        case RISK_HIGH:
                return "high";
        case RISK_CRITICAL:
                return "critical";
        default:
                return "unknown";
        }
}

static const char *const action_names[] = {
    [RISK_ACTION_LOG] = "log", [RISK_ACTION_SCORE] = "score", [RISK_ACTION_T1] = "T1",
    [RISK_ACTION_T2] = "T2",   [RISK_ACTION_T3] = "T3",       [RISK_ACTION_KILL] = "kill",
};

const char *risk_action_name(enum risk_action action)
{
        if (action <= RISK_ACTION_KEEP || action > RISK_ACTION_KILL)
                return "score";
        return action_names[action];
}

enum risk_action risk_action_parse(const char *text)
{
        for (int a = RISK_ACTION_LOG; text && a <= RISK_ACTION_KILL; a++)
                if (strcmp(text, action_names[a]) == 0)
                        return (enum risk_action)a;
        return RISK_ACTION_KEEP;
}

/* ------------------------------------------------------------ config */

const struct risk_rule_override *risk_config_override(const struct risk_config *config,
                                                      const char *rule_id)
{
        const struct risk_rule_override *found = NULL;
        for (size_t i = 0; config && i < config->override_count; i++)
                if (config->overrides[i].id && strcmp(config->overrides[i].id, rule_id) == 0)
                        found = &config->overrides[i];
        return found;
}

int risk_config_check(const struct risk_config *config, struct reins_error *err)
{
        for (size_t i = 0; i < config->override_count; i++) {
                const struct risk_rule_override *o = &config->overrides[i];
                if (!o->id || !risk_rule_find(o->id))
                        return reins_error_set(err, EINVAL, "rules: unknown rule '%s'",
                                               o->id ? o->id : "(null)");
                if (o->severity < RISK_SEVERITY_KEEP || o->severity > RISK_CRITICAL)
                        return reins_error_set(err, EINVAL, "rules: %s: bad severity", o->id);
                if (o->action < RISK_ACTION_KEEP || o->action > RISK_ACTION_KILL)
                        return reins_error_set(err, EINVAL, "rules: %s: bad action", o->id);
                if (o->weight < 0 || o->threshold < 0 || o->window_ms < 0 || o->enabled < -1 ||
                    o->enabled > 1)
                        return reins_error_set(err, EINVAL, "rules: %s: negative value", o->id);
        }
        double previous = 0;
        for (int t = 0; t < 3; t++) {
                double v =
                    config->tier_threshold[t] > 0 ? config->tier_threshold[t] : default_tiers[t];
                if (config->tier_threshold[t] < 0 || v < previous)
                        return reins_error_set(err, EINVAL,
                                               "risk: tier thresholds must rise T1 <= T2 <= T3");
                previous = v;
        }
        if (config->critical_tier < 0 || config->critical_tier > RISK_TIER_MAX ||
            config->half_life_ms < 0 || config->refire_ms < 0)
                return reins_error_set(err, EINVAL,
                                       "risk: bad critical tier, half-life or "
                                       "re-fire interval");
        return 0;
}

struct risk_engine *risk_engine_new(const struct risk_config *config)
{
        struct risk_config empty = {0};
        if (!config)
                config = &empty;
        if (risk_config_check(config, NULL) < 0)
                return NULL;
        struct risk_engine *engine = calloc(1, sizeof(*engine));
        if (!engine)
                return NULL;
        rule_text_init();
        engine->config = *config;
        struct risk_config *c = &engine->config;
        if (!c->half_life_ms)
                c->half_life_ms = DEFAULT_HALF_LIFE_MS;
        if (!c->refire_ms)
                c->refire_ms = DEFAULT_REFIRE_MS;
        if (!c->critical_tier)
                c->critical_tier = RISK_TIER_MAX;
        for (int t = 0; t < 3; t++)
                if (c->tier_threshold[t] <= 0)
                        c->tier_threshold[t] = default_tiers[t];
        for (int i = 0; i < RULE_COUNT; i++) {
                const struct risk_rule_info *info = &rule_table[i];
                struct rule_state *s = &engine->rules[i];
                s->enabled = true;
                s->severity = info->severity;
                s->weight = info->weight;
                s->threshold = info->threshold;
                s->window_ms = info->window_ms;
                s->action = RISK_ACTION_SCORE;
                const struct risk_rule_override *o = risk_config_override(config, info->id);
                if (o) {
                        if (o->enabled)
                                s->enabled = o->enabled > 0;
                        if (o->severity)
                                s->severity = o->severity;
                        if (o->weight > 0)
                                s->weight = o->weight;
                        if (o->threshold > 0 && info->threshold > 0)
                                s->threshold = o->threshold;
                        if (o->window_ms > 0 && info->window_ms > 0)
                                s->window_ms = o->window_ms;
                        if (o->action != RISK_ACTION_KEEP)
                                s->action = o->action;
                }
        }
        /* counters held in a ring cannot count past it */
        int64_t *denials = &engine->rules[RULE_REPEATED_DENIALS].threshold;
        int64_t *subdomains = &engine->rules[RULE_DNS_EXFIL_SUBDOMAINS].threshold;
        if (*denials > RULE_RING_MAX)
                *denials = RULE_RING_MAX;
        if (*subdomains > RULE_RING_MAX)
                *subdomains = RULE_RING_MAX;
        /* the path set stays at most half full, so its probes stay short */
        int64_t *rewritten = &engine->rules[RULE_MASS_REWRITE].threshold;
        if (*rewritten > RULE_PATHS_MAX / 2)
                *rewritten = RULE_PATHS_MAX / 2;
        /* the overrides are applied: do not keep the caller's pointer */
        c->overrides = NULL;
        c->override_count = 0;
        return engine;
}

void risk_engine_free(struct risk_engine *engine)
{
        free(engine);
}

/* ------------------------------------------------------------ windows */

void rule_window_add(struct rule_window *w, int64_t at, int64_t value,
                     const struct rule_evidence *evidence)
{
        w->at[w->head] = at;
        w->value[w->head] = value;
        w->evidence[w->head] = *evidence;
        w->head = (w->head + 1) % RULE_RING_MAX;
        if (w->count < RULE_RING_MAX)
                w->count++;
}

int64_t rule_window_sum(const struct rule_window *w, int64_t since)
{
        int64_t sum = 0;
        for (int i = 0; i < w->count; i++) {
                int slot = (w->head - 1 - i + RULE_RING_MAX) % RULE_RING_MAX;
                if (w->at[slot] >= since)
                        sum += w->value[slot];
        }
        return sum;
}

int rule_window_last_evidence(const struct rule_window *w, int64_t since, struct rule_evidence *out,
                              int max)
{
        int n = 0;
        for (int i = 0; i < w->count && n < max; i++) {
                int slot = (w->head - 1 - i + RULE_RING_MAX) % RULE_RING_MAX;
                if (w->at[slot] >= since)
                        out[n++] = w->evidence[slot];
        }
        return n;
}

void rule_window_clear(struct rule_window *w)
{
        w->head = 0;
        w->count = 0;
}

/* ------------------------------------------------------------ counters */

/* RULE_RING_MAX buckets span the window; a bucket is reused once its
 * start has left the window. */
static int64_t counter_width(int64_t window_ms)
{
        int64_t width = window_ms / RULE_RING_MAX;
        return width < 1 ? 1 : width;
}

/* Counted values come from events (byte counts): a sum saturates instead
 * of overflowing (and wrapping negative, which would hide the volume). */
static int64_t add_saturated(int64_t a, int64_t b)
{
        int64_t sum;
        if (!__builtin_add_overflow(a, b, &sum))
                return sum;
        return b > 0 ? INT64_MAX : INT64_MIN;
}

void rule_counter_add(struct rule_counter *c, int64_t window_ms, int64_t now_ms, int64_t value)
{
        int64_t width = counter_width(window_ms);
        int64_t start = now_ms - now_ms % width;
        int slot = (int)((start / width) % RULE_RING_MAX);
        if (c->start_ms[slot] != start) {
                c->start_ms[slot] = start;
                c->sum[slot] = 0;
        }
        c->sum[slot] = add_saturated(c->sum[slot], value);
}

int64_t rule_counter_sum(const struct rule_counter *c, int64_t window_ms, int64_t now_ms)
{
        int64_t total = 0;
        for (int i = 0; i < RULE_RING_MAX; i++)
                if (c->start_ms[i] > now_ms - window_ms && c->start_ms[i] <= now_ms)
                        total = add_saturated(total, c->sum[i]);
        return total;
}

void rule_counter_clear(struct rule_counter *c)
{
        memset(c->sum, 0, sizeof(c->sum));
}

/* ------------------------------------------------------------ path sets */

static bool path_set_insert(struct rule_path_set *set, uint64_t hash, int64_t now_ms, int64_t since)
{
        size_t mask = RULE_PATHS_MAX - 1, slot = (size_t)hash & mask;
        long free_slot = -1;
        /* walk the whole chain: the hash may sit past a stale slot */
        for (; set->hash[slot]; slot = (slot + 1) & mask) {
                if (set->hash[slot] == hash) {
                        if (set->at[slot] >= since)
                                return false;
                        set->at[slot] = now_ms;
                        return true;
                }
                if (free_slot < 0 && set->at[slot] < since)
                        free_slot = (long)slot;
        }
        if (free_slot >= 0)
                slot = (size_t)free_slot;
        else
                set->used++;
        set->hash[slot] = hash;
        set->at[slot] = now_ms;
        return true;
}

/* Stale slots only ever get reused, never emptied, so chains grow: past
 * three quarters used, keep the live entries and drop the rest. */
static void path_set_compact(struct rule_path_set *set, int64_t since)
{
        struct {
                uint64_t hash;
                int64_t at;
        } live[RULE_PATHS_MAX];
        int n = 0;
        for (int i = 0; i < RULE_PATHS_MAX; i++) {
                if (!set->hash[i] || set->at[i] < since)
                        continue;
                live[n].hash = set->hash[i];
                live[n].at = set->at[i];
                n++;
        }
        rule_path_set_clear(set);
        if (n > RULE_PATHS_MAX / 2)
                return; /* not a window any threshold can reach: start over */
        for (int i = 0; i < n; i++)
                path_set_insert(set, live[i].hash, live[i].at, since);
}

bool rule_path_set_add(struct rule_path_set *set, uint64_t hash, int64_t now_ms, int64_t since)
{
        if (hash == 0)
                hash = 1; /* 0 marks a slot never used */
        if (set->used >= RULE_PATHS_MAX * 3 / 4)
                path_set_compact(set, since);
        return path_set_insert(set, hash, now_ms, since);
}

int rule_path_set_count(const struct rule_path_set *set, int64_t since)
{
        int n = 0;
        for (int i = 0; i < RULE_PATHS_MAX; i++)
                n += set->hash[i] && set->at[i] >= since;
        return n;
}

void rule_path_set_clear(struct rule_path_set *set)
{
        memset(set, 0, sizeof(*set));
}

void rule_fire_count(struct risk_engine *engine, enum rule_id id, const struct rule_event *event,
                     struct rule_window *evidence, const char *detail)
{
        int64_t since = event->now_ms - engine->rules[id].window_ms;
        struct rule_evidence earlier[RULE_EVIDENCE_MAX];
        int n = rule_window_last_evidence(evidence, since, earlier, RULE_EVIDENCE_MAX);
        /* the newest is this event itself: leave it to rule_fire */
        rule_fire(engine, id, event, detail, earlier + 1, n > 0 ? n - 1 : 0);
        rule_window_clear(evidence);
}

int64_t rule_count_with_dropped(const struct rule_event *event, int counted, int looked)
{
        if (looked <= 0 || event->argv_dropped <= 0)
                return counted;
        return counted + (int64_t)event->argv_dropped * counted / looked;
}

/* ------------------------------------------------------------ score */

/* 2^-x without libm: halve for the whole part, a Taylor series of
 * e^(-f ln 2) for the fraction (f < 1, so 20 terms are plenty). */
static double exp2_negative(double x)
{
        if (x <= 0)
                return 1.0;
        if (x > 64)
                return 0.0;
        double result = 1.0;
        while (x >= 1.0) {
                result *= 0.5;
                x -= 1.0;
        }
        double y = -x * 0.69314718055994530942, term = 1.0, sum = 1.0;
        for (int k = 1; k < 20; k++) {
                term *= y / k;
                sum += term;
        }
        return result * sum;
}

double risk_score_decayed(double score, int64_t elapsed_ms, int64_t half_life_ms)
{
        if (elapsed_ms <= 0 || half_life_ms <= 0)
                return score;
        return score * exp2_negative((double)elapsed_ms / (double)half_life_ms);
}

void risk_entry_decay_to_now(json_t *entry)
{
        json_t *at = json_object_get(entry, RUNTIME_RISK_AT);
        json_t *half_life = json_object_get(entry, RUNTIME_RISK_HALF_LIFE);
        json_t *risk = json_object_get(entry, "risk");
        if (json_is_integer(at) && json_is_integer(half_life) && json_is_number(risk)) {
                int64_t elapsed = audit_now_ms() - (int64_t)json_integer_value(at);
                json_object_set_new(entry, "risk",
                                    json_real(risk_score_decayed(json_number_value(risk), elapsed,
                                                                 json_integer_value(half_life))));
        }
        json_object_del(entry, RUNTIME_RISK_AT);
        json_object_del(entry, RUNTIME_RISK_HALF_LIFE);
}

static void score_decay(struct risk_engine *engine, int64_t now_ms)
{
        if (now_ms > engine->score_ms) {
                double periods =
                    (double)(now_ms - engine->score_ms) / (double)engine->config.half_life_ms;
                engine->score *= exp2_negative(periods);
                engine->score_ms = now_ms;
        }
}

double risk_engine_score(struct risk_engine *engine, int64_t now_ms)
{
        if (now_ms < 0)
                now_ms = engine->config.clock_ms ? engine->config.clock_ms(engine->config.ctx)
                                                 : engine->last_ms;
        score_decay(engine, now_ms);
        return engine->score;
}

int risk_engine_tier(const struct risk_engine *engine)
{
        return engine->tier;
}

int64_t risk_engine_half_life_ms(const struct risk_engine *engine)
{
        return engine->config.half_life_ms;
}

uint64_t risk_engine_findings(const struct risk_engine *engine)
{
        return engine->findings;
}

static void tier_change(struct risk_engine *engine, int tier, const char *reason)
{
        int old = engine->tier;
        if (tier == old)
                return;
        engine->tier = tier;
        if (engine->config.on_tier)
                engine->config.on_tier(engine->config.ctx, old, tier, reason);
}

int risk_engine_relax(struct risk_engine *engine, int64_t now_ms)
{
        score_decay(engine, now_ms);
        /* T3 froze the sandbox: only a human (reins thaw) lifts it */
        while (engine->tier >= 1 && engine->tier < RISK_TIER_MAX &&
               engine->score <
                   RISK_RELAX_FRACTION * engine->config.tier_threshold[engine->tier - 1]) {
                char reason[128];
                snprintf(reason, sizeof(reason),
                         "the score decayed to %.0f, below half of the T%d threshold (%.0f)",
                         engine->score, engine->tier,
                         engine->config.tier_threshold[engine->tier - 1]);
                tier_change(engine, engine->tier - 1, reason);
        }
        return engine->tier;
}

void risk_engine_set_tier(struct risk_engine *engine, int tier, const char *reason)
{
        if (tier < 0 || tier > RISK_TIER_MAX)
                return;
        tier_change(engine, tier, reason);
}

static json_t *evidence_json(const struct rule_evidence *e)
{
        return e->seq >= 0 ? json_integer(e->seq) : json_string(e->time);
}

void rule_fire(struct risk_engine *engine, enum rule_id id, const struct rule_event *event,
               const char *detail, const struct rule_evidence *extra, int extra_count)
{
        struct rule_state *s = &engine->rules[id];
        if (!s->enabled)
                return;
        /* one finding per burst: 50 nmap runs in a second are one finding */
        if (s->has_fired && event->now_ms - s->last_fired_ms < engine->config.refire_ms &&
            event->now_ms >= s->last_fired_ms)
                return;
        s->has_fired = true;
        s->last_fired_ms = event->now_ms;
        engine->findings++;

        score_decay(engine, event->now_ms);
        int tier = engine->tier;
        /* log: a record for the humans, no consequence for the session */
        if (s->action != RISK_ACTION_LOG) {
                engine->score += s->weight;
                for (int t = 0; t < 3; t++)
                        if (engine->score >= engine->config.tier_threshold[t] && tier < t + 1)
                                tier = t + 1;
                if (s->severity == RISK_CRITICAL && tier < engine->config.critical_tier)
                        tier = engine->config.critical_tier;
                int floor = s->action >= RISK_ACTION_T1 && s->action <= RISK_ACTION_T3
                                ? 1 + (int)(s->action - RISK_ACTION_T1)
                                : 0;
                if (tier < floor)
                        tier = floor;
        }

        const struct risk_rule_info *info = &rule_table[id];
        if (engine->config.on_finding) {
                json_t *evidence = json_array();
                for (int i = 0; i < extra_count && i < RULE_EVIDENCE_MAX; i++)
                        json_array_append_new(evidence, evidence_json(&extra[i]));
                json_array_append_new(evidence, evidence_json(&event->evidence));
                json_auto_t *finding = json_pack(
                    "{s:s, s:s, s:s, s:f, s:s, s:s, s:o, s:f, s:i, s:s, s:s}", "type",
                    "risk.finding", "rule", info->id, "severity", risk_severity_name(s->severity),
                    "weight", s->weight, "explanation", info->explanation, "detail",
                    detail ? detail : "", "evidence", evidence, "score", engine->score, "tier",
                    tier, "action", risk_action_name(s->action), "time", event->evidence.time);
                if (finding)
                        engine->config.on_finding(engine->config.ctx, finding);
        }
        if (tier != engine->tier) {
                char reason[256];
                snprintf(reason, sizeof(reason), "%s: %s (score %.0f)", info->id, info->explanation,
                         engine->score);
                tier_change(engine, tier, reason);
        }
}

/* ------------------------------------------------------------ events */

/* Event time in ms. Most events share the second of the one before, so
 * the calendar arithmetic runs once a second, not once an event. */
static int64_t event_time_ms(struct risk_engine *engine, const char *time)
{
        if (engine->config.clock_ms)
                return engine->config.clock_ms(engine->config.ctx);
        if (!time)
                return engine->last_ms;
        size_t prefix = sizeof(engine->time_prefix) - 1; /* "YYYY-MM-DDTHH:MM:SS" */
        if (strlen(time) > prefix && engine->time_prefix[0] &&
            strncmp(time, engine->time_prefix, prefix) == 0 && time[prefix] == '.' &&
            time[strlen(time) - 1] == 'Z') {
                int millis = 0, scale = 100;
                for (const char *p = time + prefix + 1; *p >= '0' && *p <= '9' && scale; p++) {
                        millis += (*p - '0') * scale;
                        scale /= 10;
                }
                return engine->time_prefix_ms + millis;
        }
        int64_t ms;
        if (audit_time_parse_ms(time, &ms) < 0)
                return engine->last_ms;
        if (strlen(time) > prefix && time[prefix] == '.' && time[strlen(time) - 1] == 'Z') {
                memcpy(engine->time_prefix, time, prefix);
                engine->time_prefix[prefix] = '\0';
                engine->time_prefix_ms = ms - ms % 1000;
        }
        return ms;
}

static const char *get_string(const json_t *event, const char *key)
{
        return json_string_value(json_object_get(event, key));
}

static void event_exec(struct risk_engine *engine, const json_t *json, struct rule_event *event)
{
        /* A PATH search tries each directory: the misses are not runs */
        const char *result = get_string(json, "result");
        if (result && (strcmp(result, "ENOENT") == 0 || strcmp(result, "ENOTDIR") == 0))
                return;
        const json_t *argv = json_object_get(json, "argv");
        size_t n = json_array_size(argv);
        size_t i = 0;
        for (; i < n && event->argc < RULE_ARGV_MAX; i++) {
                const char *arg = json_string_value(json_array_get(argv, i));
                if (arg)
                        event->argv[event->argc++] = arg;
        }
        event->argv_dropped = (int)(n - i);
        if (event->argc == 0)
                return;
        event->command = rule_basename(event->argv[0]);
        event->command_class = rule_command_class(event->command, strlen(event->command));
        event->path = get_string(json, "path");
        event->cwd = get_string(json, "cwd");
        rule_exec(engine, event);
}

void risk_engine_sink(void *ctx, const json_t *json)
{
        risk_engine_observe(ctx, json, -1);
}

void risk_engine_observe(struct risk_engine *engine, const json_t *json, int64_t seq_hint)
{
        const char *type = get_string(json, "type");
        if (!engine || !type)
                return;
        bool exec = strcmp(type, "exec") == 0;
        bool net = strncmp(type, "net.", 4) == 0;
        bool start = strcmp(type, "session.start") == 0;
        bool secret = strcmp(type, "file.secret_read") == 0;
        bool canary = strcmp(type, "file.canary_read") == 0;
        bool ask = strcmp(type, "approval.request") == 0 || strcmp(type, "approval.refused") == 0;
        bool denied = strcmp(type, "syscall.denied") == 0;
        bool protected_write = strcmp(type, "file.protected_write") == 0;
        /* a WASI module's path refused by the engine (isolation wasm) */
        bool wasm_denied = strcmp(type, "wasm.denied") == 0;
        if (!exec && !net && !start && !secret && !canary && !ask && !denied && !protected_write &&
            !wasm_denied)
                return;

        struct rule_event event;
        event.argc = 0;
        event.argv_dropped = 0;
        event.command = NULL;
        event.command_class = 0;
        event.path = event.cwd = event.host = event.address = NULL;
        event.allowed = false;
        event.bytes_up = 0;
        const char *time = get_string(json, "time");
        event.now_ms = event_time_ms(engine, time);
        if (event.now_ms > engine->last_ms)
                engine->last_ms = event.now_ms;
        const json_t *seq = json_object_get(json, "seq");
        event.evidence.seq = json_is_integer(seq) ? json_integer_value(seq) : seq_hint;
        /* a bounded copy, not snprintf: this runs for every event */
        size_t time_len = time ? strnlen(time, sizeof(event.evidence.time) - 1) : 0;
        memcpy(event.evidence.time, time ? time : "", time_len);
        event.evidence.time[time_len] = '\0';

        if (start) {
                const char *workspace = get_string(json, "workspace");
                if (workspace)
                        rule_path_resolve(NULL, workspace, engine->workspace,
                                          sizeof(engine->workspace));
                return;
        }
        if (exec) {
                event_exec(engine, json, &event);
                return;
        }
        if (ask) {
                const struct rule_state *s = &engine->rules[RULE_APPROVAL_FLOOD];
                rule_window_add(&engine->asks, event.now_ms, 1, &event.evidence);
                int64_t since = event.now_ms - s->window_ms;
                int64_t count = rule_window_sum(&engine->asks, since);
                if (count >= s->threshold) {
                        char detail[64];
                        snprintf(detail, sizeof(detail), "%lld approval requests in %lld s",
                                 (long long)count, (long long)(s->window_ms / 1000));
                        rule_fire(engine, RULE_APPROVAL_FLOOD, &event, detail, NULL, 0);
                        rule_window_clear(&engine->asks);
                }
                return;
        }
        if (denied) { /* seccomp refused an escape primitive (mount, ptrace, ...) */
                char detail[96];
                const char *name = get_string(json, "syscall");
                const char *comm = get_string(json, "comm");
                snprintf(detail, sizeof(detail), "%s() refused (%s)", name ? name : "?",
                         comm ? comm : "?");
                rule_fire(engine, RULE_ESCAPE, &event, detail, NULL, 0);
                return;
        }
        if (wasm_denied) {
                /* past the preopen (an absolute path, `..`, a symlink out)
                 * is the module's escape attempt; a protected path is a
                 * persistence write refused; a deny glob alone is not a
                 * finding (tools probe for config files) */
                const char *rule = get_string(json, "rule");
                const char *path = get_string(json, "path");
                char detail[160];
                snprintf(detail, sizeof(detail), "wasm module: %s %s",
                         get_string(json, "op") ? get_string(json, "op") : "open",
                         path ? path : "?");
                if (rule && (strcmp(rule, "absolute path") == 0 || strcmp(rule, "outside") == 0))
                        rule_fire(engine, RULE_ESCAPE, &event, detail, NULL, 0);
                else if (rule && strcmp(rule, "protect") == 0)
                        rule_fire(engine, RULE_PERSISTENCE, &event, detail, NULL, 0);
                return;
        }
        if (protected_write) { /* a protected path written or created (session/protect.c) */
                char detail[160];
                const char *path = get_string(json, "path");
                snprintf(detail, sizeof(detail), "%s %s",
                         get_string(json, "action") ? get_string(json, "action") : "wrote",
                         path ? path : "?");
                rule_fire(engine, RULE_PERSISTENCE, &event, detail, NULL, 0);
                return;
        }
        if (canary) {
                const char *path = get_string(json, "path");
                rule_fire(engine, RULE_CANARY_READ, &event, path ? path : "?", NULL, 0);
                return;
        }
        if (secret) { /* a watched secret was opened (filesystem.secrets) */
                const char *path = get_string(json, "path");
                engine->secret_read = true;
                engine->secret_read_ms = event.now_ms;
                engine->secret_evidence = event.evidence;
                snprintf(engine->secret_path, sizeof(engine->secret_path), "%s", path ? path : "?");
                return;
        }
        event.host = get_string(json, "host");
        event.address = get_string(json, "address");
        if (strcmp(type, "net.decision") == 0) {
                const char *decision = get_string(json, "decision");
                event.allowed = decision && strcmp(decision, "allowed") == 0;
                rule_net_decision(engine, &event);
        } else if (strcmp(type, "net.progress") == 0 || strcmp(type, "net.close") == 0) {
                /* a close counts what its connection's net.progress events
                 * have not reported yet (all of it for a short connection) */
                event.bytes_up = json_integer_value(json_object_get(json, "bytes_up")) -
                                 json_integer_value(json_object_get(json, "bytes_up_reported"));
                rule_net_sent(engine, &event);
        } else if (strcmp(type, "net.budget") == 0) {
                rule_net_budget(engine, &event);
        } else if (strcmp(type, "net.credential_misuse") == 0) {
                char detail[384];
                const char *credential = get_string(json, "credential");
                const char *method = get_string(json, "method");
                const char *path = get_string(json, "path");
                snprintf(detail, sizeof(detail), "credential %s sent to %s%s%s%s%s",
                         credential ? credential : "?", event.host ? event.host : "?",
                         method ? " (" : "", method ? method : "", path ? " " : "",
                         path ? path : "");
                if (method)
                        strncat(detail, ")", sizeof(detail) - strlen(detail) - 1);
                rule_fire(engine, RULE_CREDENTIAL_MISUSE, &event, detail, NULL, 0);
        } else if (strcmp(type, "net.key_material") == 0) {
                char detail[160];
                snprintf(detail, sizeof(detail), "%s sent to %s",
                         get_string(json, "kind") ? get_string(json, "kind") : "key material",
                         event.host ? event.host : "?");
                rule_fire(engine, RULE_KEY_EGRESS, &event, detail, NULL, 0);
        }
}
