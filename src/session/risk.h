/* The risk engine in `reins run` (DESIGN §7): it watches the session's
 * events, and its tiers run playbooks on the live sandbox:
 *   T1  every new destination needs a human's approval (the gate asks)
 *   T2  egress off (open tunnels closed, every request refused) and the
 *       workspace remounted read-only
 *   T3  the sandbox frozen (its freezer cgroup, or SIGSTOP of every process
 *       where it has none: freeze.h), the session's token revoked, until
 *       `reins thaw SESSION` or `reins stop SESSION`
 * Findings and tier changes are events ("risk.finding", "risk.tier",
 * "risk.playbook"); a tier change is also one line on stderr.
 *
 * The engine is a sink of the event bus; what it reports is queued and
 * emitted from the supervisor's tick, never from inside the sink (the bus
 * does not re-enter). */
#ifndef REINS_SESSION_RISK_H
#define REINS_SESSION_RISK_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "audit/event.h"
#include "audit/trail.h"
#include "session/govern.h"
#include "govern/risk.h"
#include "policy/policy.h"
#include "sandbox/cgroup.h"
#include "sandbox/freeze.h"
#include "sandbox/plan.h"
#include "sandbox/supervise.h"
#include "workspace/session.h"

#define SESSION_RISK_QUEUE_MAX 256 /* reports kept between two ticks */

/* One report of the engine, kept for the tick. */
struct session_risk_report {
        json_t *finding; /* a finding: its event body (owned); NULL for a tier change */
        bool kill;       /* the finding's action is kill */
        int from, to;    /* a tier change */
        char *reason;    /* a tier change: why (owned) */
};

/* Reports waiting for the tick, oldest first; a flood beyond the bound is
 * dropped (the tier already says enough). */
struct session_risk_queue {
        struct session_risk_report items[SESSION_RISK_QUEUE_MAX];
        size_t count;
};

struct session_risk {
        struct risk_engine *engine;
        struct session_risk_queue *queue; /* filled by the engine's callbacks; NULL until started */
        struct event_bus *events;
        struct session_govern *govern;
        struct audit_trail **trail; /* opened after the engine starts */
        const struct reins_plan *plan;
        pid_t sandbox;                /* pid 1 of the sandbox (host pid); 0 before it exists */
        struct freeze_target freezer; /* what it can be frozen through */
        struct freeze_state freeze;   /* the freeze in force, if any */
        int applied;                  /* the tier whose playbook has run */
        int64_t relaxed_ms;           /* when risk_engine_relax last ran */
        int secrets_fd;               /* inotify on filesystem.secrets and canaries; -1 when none */
        const struct canary_set *canaries;         /* NULL: none planted */
        const struct workspace_session *workspace; /* overlay mode: snapshot at T3 */
        const int *workspace_copy;      /* a capped copy's tmpfs (run.c), -1 until it arrives */
        struct reins_strv secret_paths; /* by watch descriptor - 1 */
        bool frozen;
        bool ending; /* frozen to be ended (the trail failed): no thaw is offered */
        bool killed; /* a rule whose action is kill ended the sandbox */
        bool workspace_readonly;
        bool quiet;
};

int session_risk_start(struct session_risk *r, const struct reins_policy *policy,
                       const struct reins_plan *plan, struct event_bus *events,
                       struct session_govern *govern, struct audit_trail **trail, bool quiet,
                       struct reins_error *err);
/* The live sandbox and its cgroups (a freezer among them, or none: SIGSTOP);
 * 0 and NULL once it is gone. The handle is borrowed. */
void session_risk_set_sandbox(struct session_risk *r, pid_t sandbox,
                              const struct cgroup_handle *cgroup);
/* Watch the planted canaries too (after session_risk_start). */
struct canary_set;
int session_risk_watch_canaries(struct session_risk *r, const struct canary_set *canaries,
                                struct reins_error *err);
/* Let the supervisor end a frozen sandbox. */
void session_risk_configure(struct session_risk *r, struct supervise_config *config);
/* The secrets watcher on the session's loop (none: nothing). */
int session_risk_watch(struct session_risk *r, struct loop *loop);
/* Emit what the engine reported and run the playbooks it calls for. */
/* The engine's reports become events and playbooks; T1 and T2 step down
 * as the score decays. Returns in how many ms it has work again without
 * a new event (once a second at T1 and T2), or -1: none. */
int64_t session_risk_tick(struct session_risk *r);
/* `reins thaw`: thaw by the mechanism that froze, back to T0 (egress as the
 * policy says; a workspace made read-only stays so). */
int session_risk_thaw(void *ctx, const json_t *by, struct reins_error *err);
/* {"risk": score, "tier": n, "findings": n, "frozen": bool, and while
 * frozen "freezer": "cgroup-v1" | "cgroup-v2" | "sigstop"} for status. */
json_t *session_risk_status(void *ctx);
/* The audit trail cannot be written (run.c): T3's playbook whatever the
 * engine (on or off) says — the sandbox frozen, an overlay copy's snapshot
 * taken, the session's token revoked — and no thaw offered: the session
 * ends (session_risk_end_now) once the trail has recorded why. */
void session_risk_freeze_now(struct session_risk *r, struct event_bus *events);
/* Freeze on the caller's word (session_freeze), thawed by session_risk_thaw;
 * -ESRCH when no sandbox runs, -EIO when it could not be frozen. */
int session_risk_freeze(struct session_risk *r, struct event_bus *events);
/* The same as a control-socket hook (session_control_config.freeze). */
int session_risk_freeze_op(void *ctx, struct reins_error *err);
/* End the sandbox, frozen or not, without letting it run again. */
void session_risk_end_now(struct session_risk *r);
/* Free; after the event bus is finished (the engine is one of its sinks). */
void session_risk_finish(struct session_risk *r);

#endif
