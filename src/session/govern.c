/* Governance set-up for `reins run` (session_govern.h). */
#include "session/govern.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/keys.h"
#include "util/notice.h"

/* The token's `cmd` list is checked against the session's command at start
 * (refused there). Later execs inside are annotated when their name is
 * outside the list, for the trail and the risk engine, and not refused:
 * a build runs sh, cc and friends, and what a process's memory says at
 * exec time is no basis for a boundary (exec_notify.h). */
static int govern_exec_check(void *ctx, json_t *exec, const char **why)
{
        struct session_govern *g = ctx;
        (void)why;
        const char *path = json_string_value(json_object_get(exec, "path"));
        if (!path || !g->has_token)
                return 0;
        const char *slash = strrchr(path, '/');
        if (!session_token_allows_cmd(&g->token, slash ? slash + 1 : path))
                json_object_set_new(exec, "outside_token", json_true());
        return 0;
}

int session_govern_load_token(struct session_govern *g, const char *file, const char *user_key_hex,
                              struct reins_error *err)
{
        g->has_user_key = user_key_hex && user_key_hex[0] &&
                          audit_unhex(user_key_hex, g->user_public, sizeof(g->user_public)) == 0;
        if (!file)
                return 0;
        if (!g->has_user_key)
                return reins_error_set(err, ENOKEY,
                                       "--token: your key is unreadable, so the token cannot "
                                       "be checked ('reins id' creates it)");
        int r = session_token_load(file, g->user_public, &g->token, err);
        if (r < 0)
                return r;
        g->has_token = true;
        g->exec_gate.check = govern_exec_check;
        g->exec_gate.ctx = g;
        return 0;
}

int session_govern_set_daemon_key(struct session_govern *g, const char *hex,
                                  struct reins_error *err)
{
        if (!hex)
                return 0;
        if (audit_unhex(hex, g->daemon_public, sizeof(g->daemon_public)) < 0)
                return reins_error_set(err, EINVAL, "the daemon's key is not a public key");
        g->has_daemon_key = true;
        return 0;
}

struct plan_write_limit session_govern_write_limit(const struct session_govern *g)
{
        struct plan_write_limit limit = {0};
        if (g->has_token) {
                limit.sets = g->token.rights.path.sets;
                limit.count = g->token.rights.path.count;
        }
        return limit;
}

static int govern_bind_token(struct session_govern *g, const struct session_govern_options *o,
                             struct reins_error *err)
{
        if (!g->has_token)
                return 0;
        char *command = strdup(o->plan->argv[0]);
        if (!command)
                return reins_error_set(err, ENOMEM, "out of memory");
        struct session_token_context ctx = {
            .agent = o->plan->agent ? o->plan->agent : "",
            .command = basename(command),
            .session = o->session,
            .agent_key_hex = g->agent_public.hex,
            .resume = o->resume != NULL,
            .resume_of = o->resume ? o->resume : "",
        };
        int r = session_token_bind(&g->token, &ctx, err);
        free(command);
        return r;
}

/* Approvals are on when the policy has an approvals section or an ask list. */
static int govern_open_approvals(struct session_govern *g, const struct session_govern_options *o,
                                 struct reins_error *err)
{
        const struct reins_policy *p = o->policy;
        bool wanted = p->approvals.present || o->plan->net_ask.count > 0;
        if (!wanted)
                return 0;
        int64_t timeout = p->approvals.present && p->approvals.timeout_ms
                              ? (int64_t)p->approvals.timeout_ms
                              : 120000;
        bool default_allow = p->approvals.default_decision == POLICY_APPROVAL_ALLOW;
        g->approvals = approvals_new(o->session, timeout, default_allow);
        return g->approvals ? 0 : reins_error_set(err, ENOMEM, "out of memory");
}

static int govern_thaw(void *ctx, const json_t *by, struct reins_error *err)
{
        struct session_govern *g = ctx;
        if (!g->thaw)
                return reins_error_set(err, ENOTSUP, "this session has no risk engine to thaw");
        return g->thaw(g->risk_ctx, by, err);
}

static int govern_freeze(void *ctx, struct reins_error *err)
{
        struct session_govern *g = ctx;
        if (!g->freeze)
                return reins_error_set(err, ENOTSUP,
                                       "this session has no risk engine to freeze it");
        return g->freeze(g->risk_ctx, err);
}

static json_t *govern_status(void *ctx)
{
        struct session_govern *g = ctx;
        return g->status ? g->status(g->risk_ctx) : NULL;
}

static void govern_changed(void *ctx)
{
        struct session_govern *g = ctx;
        if (g->changed)
                g->changed(g->changed_ctx);
}

int session_govern_start(struct session_govern *g, const struct session_govern_options *o,
                         struct reins_error *err)
{
        g->changed = o->changed;
        g->changed_ctx = o->changed_ctx;
        int r = identity_agent_new(&g->agent_key, &g->agent_public, err);
        if (r < 0 || (r = govern_bind_token(g, o, err)) < 0 ||
            (r = govern_open_approvals(g, o, err)) < 0)
                return r;
        struct gate_config gate = {
            .token = g->has_token ? &g->token : NULL,
            .approvals = g->approvals,
            .deny = &o->plan->net_deny,
            .unknown_ask = g->approvals && o->policy->approvals.unknown == POLICY_UNKNOWN_ASK,
            .quiet = o->quiet,
            .events = o->events,
        };
        /* a session a daemon started may be answered with its key alone */
        if (g->approvals && !g->has_user_key && !g->has_daemon_key)
                return reins_error_set(err, ENOKEY,
                                       "approvals need your key to check the answers, and it "
                                       "cannot be read ('reins id' creates it)");
        if (!(g->gate = gate_new(&gate, err)))
                return -EINVAL;
        struct session_control_config control = {
            .session = o->session,
            .gate = g->gate,
            .user_public = g->has_user_key ? g->user_public : NULL,
            .daemon_public = g->has_daemon_key ? g->daemon_public : NULL,
            .thaw = govern_thaw,
            .freeze = govern_freeze,
            .status = govern_status,
            .changed = govern_changed,
            .events = o->events,
            .ctx = g,
        };
        struct reins_error why = {0};
        if (session_control_open(&control, &g->control, &why) < 0) {
                g->control = NULL;
                /* nobody could answer: asking would only ever time out */
                if (g->approvals)
                        return reins_error_set(
                            err, why.code, "approvals need the control socket: %s", why.message);
                if (!o->quiet)
                        notice("note: no control socket (%s): 'reins pending', "
                               "'approve' and 'thaw' cannot reach this session",
                               why.message);
                return 0;
        }
        return event_bus_add_sink(o->events, session_control_sink, g->control) < 0
                   ? reins_error_set(err, ENOSPC, "too many event sinks")
                   : 0;
}

static void govern_on_proxy(void *ctx, struct proxy *proxy)
{
        struct session_govern *g = ctx;
        gate_set_proxy(g->gate, proxy);
}

static void govern_on_agent_listener(void *ctx, int fd)
{
        struct session_govern *g = ctx;
        if (g->control)
                session_control_add_agent_listener(g->control, fd);
        else
                close(fd);
}

static void govern_dispatch_control(void *ctx, int fd, uint32_t events)
{
        struct session_govern *g = ctx;
        (void)fd;
        (void)events;
        session_control_dispatch(g->control);
}

void session_govern_configure(struct session_govern *g, struct supervise_config *config)
{
        config->gate = g->gate ? gate_proxy_hooks(g->gate) : NULL;
        config->exec_gate = g->has_token ? &g->exec_gate : NULL;
        config->on_proxy = govern_on_proxy;
        config->on_agent_listener = govern_on_agent_listener;
        config->hooks_ctx = g;
}

int session_govern_watch(struct session_govern *g, struct loop *loop)
{
        if (!g->control)
                return 0;
        return loop_add_fd(loop, session_control_poll_fd(g->control), govern_dispatch_control, g);
}

json_t *session_govern_identity(const struct session_govern *g)
{
        json_t *o = json_pack("{s:s, s:s}", "agent_key", g->agent_public.hex, "agent_fingerprint",
                              g->agent_public.fingerprint);
        if (o && g->has_token)
                json_object_set_new(o, "token", session_token_json(&g->token));
        if (o && g->control)
                json_object_set_new(o, "control", json_string(session_control_path(g->control)));
        /* who besides the user may answer for this session: the daemon
         * that started it, by its key */
        if (o && g->has_daemon_key) {
                struct identity_public daemon = {0};
                memcpy(daemon.key, g->daemon_public, sizeof(daemon.key));
                identity_describe(&daemon);
                json_object_set_new(o, "daemon_key", json_string(daemon.hex));
        }
        return o;
}

json_t *session_govern_status(const struct session_govern *g)
{
        return g->control ? session_control_status(g->control) : NULL;
}

const char *session_govern_control_path(const struct session_govern *g)
{
        return g->control ? session_control_path(g->control) : NULL;
}

int64_t session_govern_tick(struct session_govern *g)
{
        int64_t gate = g->gate ? gate_tick(g->gate) : -1;
        int64_t control = session_control_tick(g->control);
        if (gate < 0 || (control >= 0 && control < gate))
                return control;
        return gate;
}

void session_govern_end(struct session_govern *g)
{
        session_control_summary(g->control);
}

void session_govern_finish(struct session_govern *g)
{
        session_control_close(g->control);
        g->control = NULL;
        gate_free(g->gate);
        g->gate = NULL;
        approvals_free(g->approvals);
        g->approvals = NULL;
        if (g->has_token)
                session_token_close(&g->token);
        g->has_token = false;
        audit_key_wipe(&g->agent_key);
}
