/* The risk engine wired into `reins run` (session_risk.h). */
#include "session/risk.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "govern/canary.h"
#include "govern/egress_scan.h"
#include "govern/token_revoke.h"
#include "workspace/snapshot.h"
#include "sandbox/freeze.h"
#include "sandbox/remount.h"
#include "util/notice.h"

/* The engine's clock: event times are wall-clock, so its "now" is too. */
static int64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The next free report, or NULL when a flood of findings has filled the
 * queue (the tier already says enough). */
static struct session_risk_report *queue_slot(struct session_risk *r)
{
        if (r->queue->count >= SESSION_RISK_QUEUE_MAX)
                return NULL;
        struct session_risk_report *report = &r->queue->items[r->queue->count];
        *report = (struct session_risk_report){0};
        return report;
}

static void report_clear(struct session_risk_report *report)
{
        json_decref(report->finding);
        free(report->reason);
        *report = (struct session_risk_report){0};
}

static void on_finding(void *ctx, const json_t *finding)
{
        struct session_risk *r = ctx;
        struct session_risk_report *report = queue_slot(r);
        if (!report || !(report->finding = json_deep_copy(finding)))
                return;
        json_object_del(report->finding, "type"); /* the bus stamps it */
        const char *action = json_string_value(json_object_get(finding, "action"));
        report->kill = action && strcmp(action, "kill") == 0;
        r->queue->count++;
}

static void on_tier(void *ctx, int old_tier, int new_tier, const char *reason)
{
        struct session_risk *r = ctx;
        struct session_risk_report *report = queue_slot(r);
        if (!report || !(report->reason = strdup(reason ? reason : "")))
                return;
        report->from = old_tier;
        report->to = new_tier;
        r->queue->count++;
}

static enum risk_severity severity_of(enum policy_rule_severity severity)
{
        switch (severity) {
        case POLICY_SEVERITY_LOW:
                return RISK_LOW;
        case POLICY_SEVERITY_MEDIUM:
                return RISK_MEDIUM;
        case POLICY_SEVERITY_HIGH:
                return RISK_HIGH;
        case POLICY_SEVERITY_CRITICAL:
                return RISK_CRITICAL;
        }
        return RISK_CRITICAL; /* not reached: the loader knows only these */
}

static enum risk_action action_of(enum policy_rule_action action)
{
        switch (action) {
        case POLICY_ACTION_LOG:
                return RISK_ACTION_LOG;
        case POLICY_ACTION_SCORE:
                return RISK_ACTION_SCORE;
        case POLICY_ACTION_T1:
                return RISK_ACTION_T1;
        case POLICY_ACTION_T2:
                return RISK_ACTION_T2;
        case POLICY_ACTION_T3:
                return RISK_ACTION_T3;
        case POLICY_ACTION_KILL:
                return RISK_ACTION_KILL;
        }
        return RISK_ACTION_KILL; /* not reached: the loader knows only these */
}

/* The policy's `rules:` as one override per rule (parsed and checked by the
 * loader: ids are built-in rules, numbers are in range). */
static void overrides_from_policy(const struct reins_policy *p, struct risk_rule_override *out,
                                  size_t count, const struct risk_rule_info *rules)
{
        for (size_t i = 0; i < count; i++) {
                const char *id = rules[i].id;
                const struct policy_rule_setting *s;
                out[i] = (struct risk_rule_override){.id = id};
                if (strv_contains(&p->rules.disable, id))
                        out[i].enabled = -1;
                if ((s = policy_rule_setting_find(&p->rules.severity, id)))
                        out[i].severity = severity_of(s->severity);
                if ((s = policy_rule_setting_find(&p->rules.weight, id)))
                        out[i].weight = (double)s->number;
                if ((s = policy_rule_setting_find(&p->rules.threshold, id)))
                        out[i].threshold = (int64_t)s->number;
                if ((s = policy_rule_setting_find(&p->rules.window, id)))
                        out[i].window_ms = (int64_t)s->number;
                if ((s = policy_rule_setting_find(&p->rules.action, id)))
                        out[i].action = action_of(s->action);
        }
}

/* The engine's sink: the trail (a later sink) will give this event the
 * seq it has not given yet, which is the evidence a finding names. */
static void session_risk_sink(void *ctx, const json_t *event)
{
        struct session_risk *r = ctx;
        struct audit_trail *trail = r->trail ? *r->trail : NULL;
        risk_engine_observe(r->engine, event, trail ? (int64_t)audit_trail_records(trail) : -1);
}

/* filesystem.secrets: one inotify watch per existing path, for opens only:
 * the cost falls on those files alone. A directory reports opens of the
 * files in it. Opens by anyone count (inotify does not say who), so a
 * secret the host also reads during the session taints it too. */
/* One watch; `label` is what its events name (a canary's starts with
 * CANARY_MARK). A path that does not exist cannot be read: no watch. */
#define CANARY_MARK '\x01'

static void watch_path(struct session_risk *r, const char *path, const char *label)
{
        int wd = inotify_add_watch(r->secrets_fd, path, IN_OPEN);
        if (wd <= 0)
                return;
        while (r->secret_paths.count < (size_t)wd - 1)
                strv_push(&r->secret_paths, "");
        if (r->secret_paths.count == (size_t)wd - 1)
                strv_push(&r->secret_paths, label);
}

static int watch_open(struct session_risk *r, struct reins_error *err)
{
        if (r->secrets_fd >= 0)
                return 0;
        r->secrets_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        return r->secrets_fd < 0 ? reins_error_errno(err, errno, "watching filesystem.secrets") : 0;
}

int session_risk_watch_canaries(struct session_risk *r, const struct canary_set *canaries,
                                struct reins_error *err)
{
        r->canaries = canaries;
        if (!r->engine || !canaries || !canaries->dir)
                return 0;
        int rc = watch_open(r, err);
        for (int i = 0; rc == 0 && i < CANARY_FILES; i++) {
                char label[128];
                snprintf(label, sizeof(label), "%c%s", CANARY_MARK, canaries->targets[i]);
                watch_path(r, canaries->sources[i], label);
        }
        return rc;
}

static int secrets_watch(struct session_risk *r, const struct reins_policy *policy,
                         const char *home, struct reins_error *err)
{
        r->secrets_fd = -1;
        if (policy->filesystem.secrets.count == 0)
                return 0;
        int rc = watch_open(r, err);
        if (rc < 0)
                return rc;
        for (size_t i = 0; i < policy->filesystem.secrets.count; i++) {
                const char *written = policy->filesystem.secrets.items[i];
                char *path = NULL;
                if (written[0] == '~' && home) {
                        if (asprintf(&path, "%s%s", home, written + 1) < 0)
                                path = NULL;
                } else {
                        path = strdup(written);
                }
                if (!path)
                        return reins_error_set(err, ENOMEM, "out of memory");
                watch_path(r, path, path);
                free(path);
        }
        return 0;
}

static void secrets_dispatch(void *ctx, int fd, uint32_t events)
{
        (void)events;
        struct session_risk *r = ctx;
        _Alignas(struct inotify_event) char buf[4096];
        ssize_t n;
        while ((n = read(fd, buf, sizeof(buf))) > 0) {
                for (char *p = buf; p < buf + n;) {
                        const struct inotify_event *ev = (const struct inotify_event *)p;
                        p += sizeof(*ev) + ev->len;
                        if (ev->wd <= 0 || (size_t)ev->wd > r->secret_paths.count)
                                continue;
                        const char *base = r->secret_paths.items[ev->wd - 1];
                        if (base[0] == CANARY_MARK) {
                                event_emit(r->events, "file.canary_read",
                                           json_pack("{s:s}", "path", base + 1));
                                continue;
                        }
                        char *path = NULL;
                        if (ev->len && ev->name[0]) {
                                if (asprintf(&path, "%s/%s", base, ev->name) < 0)
                                        path = NULL;
                        } else {
                                path = strdup(base);
                        }
                        event_emit(r->events, "file.secret_read",
                                   json_pack("{s:s}", "path", path ? path : base));
                        free(path);
                }
        }
}

/* The proxy's plaintext egress: key material found is an event the engine
 * turns into a critical finding, and the tick runs at once so egress is cut
 * before these bytes leave (the proxy defers the close to its own return). */
static void risk_scan(void *ctx, uint64_t connection, const char *host, const void *bytes,
                      size_t len)
{
        struct session_risk *r = ctx;
        const char *kind = r->canaries && canary_seen(r->canaries, bytes, len)
                               ? "canary"
                               : egress_scan_key_material(bytes, len);
        if (!kind)
                return;
        event_emit(r->events, "net.key_material",
                   json_pack("{s:s, s:s, s:I}", "host", host ? host : "", "kind", kind,
                             "connection", (json_int_t)connection));
        session_risk_tick(r);
}

/* A signal that ends the session, the timeout: a frozen pid 1 relays
 * nothing, so the sandbox is ended by the mechanism that froze it. */
static void session_risk_kill_frozen(void *ctx)
{
        struct session_risk *r = ctx;
        freeze_kill(&r->freezer, &r->freeze);
        r->frozen = false;
}

void session_risk_configure(struct session_risk *r, struct supervise_config *config)
{
        if (!r->engine)
                return;
        config->frozen = &r->frozen;
        config->kill_frozen = session_risk_kill_frozen;
        config->freeze_ctx = r;
        if (r->govern->gate)
                gate_on_scan(r->govern->gate, risk_scan, r);
}

int session_risk_watch(struct session_risk *r, struct loop *loop)
{
        if (!r->engine || r->secrets_fd < 0)
                return 0;
        return loop_add_fd(loop, r->secrets_fd, secrets_dispatch, r);
}

int session_risk_start(struct session_risk *r, const struct reins_policy *policy,
                       const struct reins_plan *plan, struct event_bus *events,
                       struct session_govern *govern, struct audit_trail **trail, bool quiet,
                       struct reins_error *err)
{
        memset(r, 0, sizeof(*r));
        r->events = events;
        r->govern = govern;
        r->plan = plan;
        r->quiet = quiet;
        r->trail = trail;
        r->workspace_readonly = plan->workspace_readonly;
        r->queue = calloc(1, sizeof(*r->queue));
        size_t count = 0;
        const struct risk_rule_info *rules = risk_rule_list(&count);
        struct risk_rule_override *overrides = calloc(count, sizeof(*overrides));
        if (!overrides)
                return reins_error_set(err, ENOMEM, "out of memory");
        overrides_from_policy(policy, overrides, count, rules);
        struct risk_config config = {
            .half_life_ms = (int64_t)policy->risk.half_life_ms,
            .tier_threshold = {(double)policy->risk.tier1, (double)policy->risk.tier2,
                               (double)policy->risk.tier3},
            .overrides = overrides,
            .override_count = count,
            .on_finding = on_finding,
            .on_tier = on_tier,
            .ctx = r,
        };
        int rc = secrets_watch(r, policy, plan->home, err);
        if (rc == 0)
                rc = risk_config_check(&config, err);
        r->engine = rc == 0 && r->queue ? risk_engine_new(&config) : NULL;
        free(overrides); /* the engine keeps a copy */
        if (rc < 0)
                return reins_error_prefix(err, "%s", policy->source);
        if (!r->engine)
                return reins_error_set(err, ENOMEM, "starting the risk engine");
        govern->thaw = session_risk_thaw;
        govern->freeze = session_risk_freeze_op;
        govern->status = session_risk_status;
        govern->risk_ctx = r;
        return event_bus_add_sink(events, session_risk_sink, r) < 0
                   ? reins_error_set(err, ENOSPC, "too many event sinks")
                   : 0;
}

void session_risk_set_sandbox(struct session_risk *r, pid_t sandbox,
                              const struct cgroup_handle *cgroup)
{
        if (!sandbox) /* gone: nothing left to thaw */
                freeze_state_release(&r->freeze);
        r->frozen = r->frozen && sandbox;
        r->sandbox = sandbox;
        r->freezer = (struct freeze_target){.init = sandbox};
        if (cgroup && cgroup->freezer != CGROUP_NONE) {
                r->freezer.cgroup =
                    cgroup->freezer == CGROUP_V2 ? FREEZE_CGROUP_V2 : FREEZE_CGROUP_V1;
                r->freezer.cgroup_dir = cgroup->freezer_dir;
        }
}

static void playbook_event(struct session_risk *r, const char *action, int tier, const char *error,
                           json_t *extra)
{
        json_t *fields =
            json_pack("{s:s, s:i, s:b}", "action", action, "tier", tier, "ok", error == NULL);
        if (fields && error)
                json_object_set_new(fields, "error", json_string(error));
        if (fields && extra)
                json_object_update(fields, extra);
        json_decref(extra);
        event_emit(r->events, "risk.playbook", fields);
}

static void playbook_egress(struct session_risk *r, int tier)
{
        if (!r->govern->gate)
                return;
        gate_set_tier(r->govern->gate, tier);
        playbook_event(r, tier >= 2 ? "egress-off" : "ask-new-destinations", tier, NULL, NULL);
}

static void playbook_readonly(struct session_risk *r, int tier)
{
        if (r->workspace_readonly || !r->sandbox)
                return;
        struct reins_error err = {0};
        if (remount_readonly(r->sandbox, r->plan->workspace, &err) < 0) {
                playbook_event(r, "workspace-readonly", tier, err.message, NULL);
                return;
        }
        r->workspace_readonly = true;
        playbook_event(r, "workspace-readonly", tier, NULL, NULL);
}

static void playbook_freeze(struct session_risk *r, int tier)
{
        struct reins_error err = {0};
        int n = freeze_sandbox(&r->freezer, &r->freeze, &err);
        enum freeze_mechanism used = r->freeze.used;
        /* also frozen when the wait for the last process timed out: the
         * freeze holds, and only a thaw or a stop ends it */
        r->frozen = used != FREEZE_NONE;
        playbook_event(r, "freeze", tier, n < 0 ? err.message : NULL,
                       json_pack("{s:i, s:s, s:s}", "processes", n < 0 ? 0 : n, "freezer",
                                 freeze_mechanism_name(used), "until",
                                 r->ending ? "the session ends" : "reins thaw or reins stop"));
        if (!r->quiet && !r->ending && r->frozen)
                notice("the sandbox is frozen (%s): 'reins thaw %s' to let it go on, "
                       "'reins stop %s' to end it",
                       freeze_mechanism_name(used), r->events->session, r->events->session);
}

/* Overlay mode: the session's copy as it was when frozen, for the record. */
static void playbook_snapshot(struct session_risk *r, int tier)
{
        if (!r->workspace)
                return;
        char name[64], *path = NULL;
        struct reins_error err = {0};
        snprintf(name, sizeof(name), "t3-%lld", (long long)(now_ms() / 1000));
        /* a capped copy is in memory, not yet in the session directory */
        int upper = r->workspace_copy && *r->workspace_copy >= 0
                        ? openat(*r->workspace_copy, "upper",
                                 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                        : -1;
        int rc = workspace_snapshot(r->workspace, upper, name, &path, &err);
        if (upper >= 0)
                close(upper);
        playbook_event(r, "snapshot", tier, rc < 0 ? err.message : NULL,
                       json_pack("{s:s}", "path", path ? path : ""));
        free(path);
}

static void playbook_revoke(struct session_risk *r, int tier)
{
        if (!r->govern || !r->govern->has_token)
                return;
        bool added = false;
        struct reins_error err = {0};
        int rc = token_revoke(r->govern->token.id, &added, &err);
        playbook_event(r, "token-revoked", tier, rc < 0 ? err.message : NULL,
                       json_pack("{s:s}", "token", r->govern->token.id));
}

/* T3, once per freeze: freeze, keep the evidence, revoke the token. */
static void playbook_t3(struct session_risk *r, int tier)
{
        if (r->frozen || !r->sandbox)
                return;
        playbook_freeze(r, tier);
        playbook_snapshot(r, tier);
        playbook_revoke(r, tier);
}

/* What a tier does, from the one applied before up to `tier`. */
static void playbook_run(struct session_risk *r, int tier)
{
        if (tier < r->applied) { /* reins thaw set it back */
                r->applied = tier;
                if (r->govern->gate)
                        gate_set_tier(r->govern->gate, tier);
                return;
        }
        /* the gate changes at T1 (ask) and at T2 (off); T3 keeps T2's */
        if ((tier >= 1 && r->applied < 1) || (tier >= 2 && r->applied < 2))
                playbook_egress(r, tier >= 2 ? 2 : 1);
        if (tier >= 2)
                playbook_readonly(r, tier);
        if (tier >= 3)
                playbook_t3(r, tier);
        r->applied = tier;
}

/* What a tier change means for the agent, in words a user can act on. */
static const char *tier_consequence(const struct session_risk *r, int from, int to, char *buf,
                                    size_t size)
{
        bool network = r->plan && (r->plan->proxy || r->plan->host_network);
        bool approver = r->govern && r->govern->control;
        if (to < from) {
                snprintf(buf, size, "%s%s",
                         to == 0 ? "restrictions lifted: egress is as the policy allows"
                                 : "egress is back for destinations used before; new ones need "
                                   "approval",
                         r->workspace_readonly
                             ? "; the workspace stays read-only for the rest of the session"
                             : "");
        } else if (to == 1) {
                snprintf(buf, size, "%s",
                         !network   ? "new destinations would need approval (this session has "
                                      "no network, so nothing changes)"
                         : approver ? "new destinations now need a human's approval (reins "
                                      "pending, reins approve ID); silence is a deny"
                                    : "new destinations now need approval (no approver is "
                                      "configured, so they are denied)");
        } else if (to == 2) {
                snprintf(buf, size, "all egress is cut and the workspace is read-only");
        } else {
                snprintf(buf, size,
                         "the sandbox is frozen until a human runs reins thaw "
                         "SESSION (the workspace copy is snapshotted, the token "
                         "revoked)");
        }
        return buf;
}

static void report_tier(struct session_risk *r, const struct session_risk_report *report)
{
        int from = report->from, to = report->to;
        const char *reason = report->reason;
        event_emit(r->events, "risk.tier",
                   json_pack("{s:i, s:i, s:s, s:f}", "from", from, "to", to, "reason",
                             reason ? reason : "", "score",
                             risk_engine_score(r->engine, now_ms())));
        char consequence[256];
        if (!r->quiet)
                notice("risk tier T%d -> T%d: %s; %s", from, to, reason ? reason : "",
                       tier_consequence(r, from, to, consequence, sizeof(consequence)));
        playbook_run(r, to);
}

/* A rule whose policy action is kill fired: the sandbox ends now, whatever
 * the tier (SIGKILL to pid 1 takes its pid namespace; a frozen one is ended
 * by the mechanism that froze it). The command's status is then 137. */
static void playbook_kill(struct session_risk *r, const json_t *finding)
{
        const char *rule = json_string_value(json_object_get(finding, "rule"));
        int tier = (int)json_integer_value(json_object_get(finding, "tier"));
        if (!r->sandbox || r->killed)
                return;
        r->killed = true;
        if (r->frozen) {
                freeze_kill(&r->freezer, &r->freeze);
                r->frozen = false;
        } else {
                kill(r->sandbox, SIGKILL);
        }
        playbook_event(r, "kill", tier, NULL, json_pack("{s:s}", "rule", rule ? rule : "?"));
        if (!r->quiet)
                notice("risk: %s fired and its action is kill: the sandbox was ended",
                       rule ? rule : "a rule");
}

/* The way down is looked at once a second, while there is one. */
#define RISK_RELAX_EVERY_MS 1000

/* When session_risk_tick has something to do again without a new event. */
static int64_t risk_next_due(const struct session_risk *r, int64_t now)
{
        /* reports queued while the last ones were handled: the next round */
        if (r->queue->count > 0)
                return 100;
        /* T1 and T2 step down as the score decays; T0 has nowhere to go
         * and T3 waits for a human */
        int tier = risk_engine_tier(r->engine);
        if (tier < 1 || tier >= RISK_TIER_MAX)
                return -1;
        int64_t due = r->relaxed_ms + RISK_RELAX_EVERY_MS;
        return due > now ? due - now : 0;
}

int64_t session_risk_tick(struct session_risk *r)
{
        if (!r->engine)
                return -1;
        int64_t now = now_ms();
        if (now - r->relaxed_ms >= RISK_RELAX_EVERY_MS) {
                r->relaxed_ms = now;
                risk_engine_relax(r->engine, now);
        }
        if (r->queue->count == 0)
                return risk_next_due(r, now);
        /* take the queue first: emitting feeds the engine, which may queue
         * more, and a playbook may tick again */
        struct session_risk_report taken[SESSION_RISK_QUEUE_MAX];
        size_t count = r->queue->count;
        memcpy(taken, r->queue->items, count * sizeof(taken[0]));
        r->queue->count = 0;
        for (size_t i = 0; i < count; i++) {
                struct session_risk_report *report = &taken[i];
                if (report->finding) {
                        event_emit(r->events, "risk.finding", json_incref(report->finding));
                        if (report->kill)
                                playbook_kill(r, report->finding);
                } else {
                        report_tier(r, report);
                }
                report_clear(report);
        }
        return risk_next_due(r, now_ms());
}

int session_risk_thaw(void *ctx, const json_t *by, struct reins_error *err)
{
        struct session_risk *r = ctx;
        if (!r->engine)
                return reins_error_set(err, ENOTSUP, "no risk engine");
        if (r->frozen && r->sandbox) {
                enum freeze_mechanism used = r->freeze.used;
                int n = thaw_sandbox(&r->freezer, &r->freeze, err);
                if (n < 0) {
                        reins_error_prefix(err, "thawing the sandbox");
                        return n;
                }
                r->frozen = false;
                playbook_event(r, "thaw", 0, NULL,
                               json_pack("{s:i, s:s, s:O?}", "processes", n, "freezer",
                                         freeze_mechanism_name(used), "by", by));
        } else {
                /* not frozen: the tier alone goes back to T0, signed all the same */
                playbook_event(r, "tier-reset", 0, NULL, json_pack("{s:O?}", "by", by));
        }
        risk_engine_set_tier(r->engine, 0, "thawed by reins thaw");
        session_risk_tick(r);
        return 0;
}

json_t *session_risk_status(void *ctx)
{
        struct session_risk *r = ctx;
        if (!r->engine)
                return NULL;
        json_t *status =
            json_pack("{s:f, s:i, s:I, s:b}", "risk", risk_engine_score(r->engine, now_ms()),
                      "risk_tier", risk_engine_tier(r->engine), "findings",
                      (json_int_t)risk_engine_findings(r->engine), "frozen", r->frozen);
        if (status && r->frozen)
                json_object_set_new(status, "freezer",
                                    json_string(freeze_mechanism_name(r->freeze.used)));
        return status;
}

void session_risk_freeze_now(struct session_risk *r, struct event_bus *events)
{
        if (!r->events)
                r->events = events; /* the engine is off: its playbooks still report */
        r->ending = true;           /* no "reins thaw" hint: this freeze ends the session */
        if (r->frozen || !r->sandbox)
                return;
        playbook_t3(r, 3);
}

int session_risk_freeze(struct session_risk *r, struct event_bus *events)
{
        if (!r->events)
                r->events = events; /* the engine is off: the freeze still reports */
        if (!r->sandbox)
                return -ESRCH;
        if (!r->frozen)
                playbook_freeze(r, r->applied);
        return r->frozen ? 0 : -EIO;
}

int session_risk_freeze_op(void *ctx, struct reins_error *err)
{
        struct session_risk *r = ctx;
        int rc = session_risk_freeze(r, r->events);
        if (rc == -ESRCH)
                return reins_error_set(err, ESRCH, "the sandbox is not running");
        return rc < 0 ? reins_error_set(err, -rc, "the sandbox could not be frozen") : 0;
}

void session_risk_end_now(struct session_risk *r)
{
        if (!r->sandbox)
                return;
        if (r->frozen || r->freeze.used != FREEZE_NONE)
                freeze_kill(&r->freezer, &r->freeze);
        else
                kill(r->sandbox, SIGKILL);
        r->frozen = false;
}

void session_risk_finish(struct session_risk *r)
{
        risk_engine_free(r->engine);
        r->engine = NULL;
        if (r->queue && r->secrets_fd >= 0) /* started: the fd is ours */
                close(r->secrets_fd);
        r->secrets_fd = -1;
        strv_free(&r->secret_paths);
        for (size_t i = 0; r->queue && i < r->queue->count; i++)
                report_clear(&r->queue->items[i]);
        free(r->queue);
        r->queue = NULL;
}
