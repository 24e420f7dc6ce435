/* The governance side of `reins run` (DESIGN §7): the session's agent key,
 * its delegation token, the approvals queue, the network gate and the
 * control socket, set up before the sandbox starts and plugged into the
 * supervisor's loop. */
#ifndef REINS_SESSION_GOVERN_H
#define REINS_SESSION_GOVERN_H

#include <jansson.h>
#include <stdbool.h>

#include "audit/event.h"
#include "session/control.h"
#include "govern/approvals.h"
#include "govern/gate.h"
#include "govern/identity.h"
#include "govern/session_token.h"
#include "policy/policy.h"
#include "sandbox/plan.h"
#include "sandbox/supervise.h"

struct session_govern_options {
        const struct reins_policy *policy;
        const struct reins_plan *plan;
        const char *session;
        const char *resume; /* --resume SESSION, NULL when not resuming */
        bool quiet;
        struct event_bus *events;
        /* after a control request, before its reply: the session's state
         * may have changed (session.c lists it); may be NULL */
        void (*changed)(void *ctx);
        void *changed_ctx;
};

struct session_govern {
        struct audit_key agent_key; /* never leaves the supervisor */
        struct identity_public agent_public;
        unsigned char user_public[crypto_sign_PUBLICKEYBYTES];
        bool has_user_key;
        /* the key of the daemon that started the session (reins serve) */
        unsigned char daemon_public[crypto_sign_PUBLICKEYBYTES];
        bool has_daemon_key;
        struct session_token token;
        bool has_token;
        struct approvals *approvals;
        struct gate *gate;
        struct session_control *control;
        struct exec_gate exec_gate;
        /* extra hooks (the risk engine), called from the gate's */
        int (*thaw)(void *ctx, const json_t *by, struct reins_error *err);
        int (*freeze)(void *ctx, struct reins_error *err);
        json_t *(*status)(void *ctx);
        void *risk_ctx;
        void (*changed)(void *ctx); /* session_govern_options.changed */
        void *changed_ctx;
};

/* Before the plan: read and verify --token FILE (NULL: none) against the
 * user's key; its path list shapes the plan (session_govern_write_limit). */
int session_govern_load_token(struct session_govern *g, const char *file, const char *user_key_hex,
                              struct reins_error *err);
struct plan_write_limit session_govern_write_limit(const struct session_govern *g);
/* The daemon's public key (hex; NULL: none) answers and thaws may also be
 * signed with (session_config.daemon_key). */
int session_govern_set_daemon_key(struct session_govern *g, const char *hex,
                                  struct reins_error *err);

/* Everything up to the control socket. Refuses (err) a token that does not
 * verify, and approvals without a control socket to answer them through. */
int session_govern_start(struct session_govern *g, const struct session_govern_options *o,
                         struct reins_error *err);
/* Fill the supervisor's hooks. */
void session_govern_configure(struct session_govern *g, struct supervise_config *config);
/* The identity part of session.start: user and agent keys, the token. */
/* The control socket on the session's loop (none: nothing). */
int session_govern_watch(struct session_govern *g, struct loop *loop);
json_t *session_govern_identity(const struct session_govern *g);
/* What the control socket's "status" answers (session_control_status),
 * or NULL without one. */
json_t *session_govern_status(const struct session_govern *g);
/* The control socket's path for the registry, or NULL. */
const char *session_govern_control_path(const struct session_govern *g);
/* From the supervisor's tick: timeouts, expiry, revocation. Returns in
 * how many ms something is due again, or -1: nothing until an event. */
int64_t session_govern_tick(struct session_govern *g);
/* Before session.end: the control channels' limit summaries. */
void session_govern_end(struct session_govern *g);
void session_govern_finish(struct session_govern *g);

#endif
