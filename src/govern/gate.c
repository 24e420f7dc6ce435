/* The network gate: token, risk tier and human answers over the lists (gate.h). */
#include "govern/gate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net/rules.h"
#include "util/notice.h"

#define GATE_SEEN_MAX     1024 /* destinations remembered for tier 1 */
#define GATE_REFRESH_MS   1000 /* revocation list re-read at most this often */
#define GATE_DEFAULT_PORT 443
#define GATE_PATH_MAX     1024

struct gate {
        struct gate_config config;
        struct net_rules deny;
        struct proxy *proxy;
        struct proxy_gate hooks;
        int tier;
        char reason[512];
        struct reins_strv seen; /* "host:port" allowed so far (tier 1 lets these be) */
        int64_t refreshed_ms;
        bool expired_reported;
        int64_t pending_full_ms; /* the last `limit` event for a full queue */
        uint64_t pending_full_left_out;
        void (*settled)(void *ctx, const struct approval_answer *answer);
        void *settled_ctx;
        gate_scan_fn scan;
        void *scan_ctx;
};

int64_t gate_now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static json_t *request_event(const struct approval_request *r)
{
        return approval_request_json(r, gate_now_ms());
}

static void remember(struct gate *g, const char *host, uint16_t port)
{
        char key[NET_HOST_MAX + 8];
        snprintf(key, sizeof(key), "%s:%u", host, port);
        for (size_t i = 0; i < g->seen.count; i++)
                if (strcmp(g->seen.items[i], key) == 0)
                        return;
        if (g->seen.count < GATE_SEEN_MAX)
                strv_push(&g->seen, key);
}

static bool seen_before(const struct gate *g, const char *host, uint16_t port)
{
        char key[NET_HOST_MAX + 8];
        snprintf(key, sizeof(key), "%s:%u", host, port);
        for (size_t i = 0; i < g->seen.count; i++)
                if (strcmp(g->seen.items[i], key) == 0)
                        return true;
        return false;
}

/* The queue of requests waiting for a human is full (APPROVALS_MAX_PENDING,
 * each a fixed-size record: the cap is in bytes too). Each refusal is an
 * approval.refused event; the cap itself is a `limit` event at most every
 * 10 s, with how many refusals came in between. */
static void gate_pending_full(struct gate *g, const char *origin)
{
        int64_t now = gate_now_ms();
        if (g->pending_full_ms && now - g->pending_full_ms < 10000) {
                g->pending_full_left_out++;
                return;
        }
        event_emit(g->config.events, "limit",
                   json_pack("{s:s, s:s, s:i, s:I, s:I}", "kind", "pending_requests", "origin",
                             origin, "limit", APPROVALS_MAX_PENDING, "limit_bytes",
                             (json_int_t)(APPROVALS_MAX_PENDING * sizeof(struct approval_request)),
                             "suppressed", (json_int_t)g->pending_full_left_out));
        g->pending_full_ms = now;
        g->pending_full_left_out = 0;
}

/* Queue a request for a held connection; the verdict the proxy gets. */
static enum proxy_verdict gate_hold(struct gate *g, const struct proxy_request_info *req,
                                    const char *rule, const char **reason)
{
        if (!g->config.approvals) {
                *reason = "needs a human's approval and approvals are off";
                return PROXY_DENY;
        }
        struct approval_request r;
        int rc = approvals_ask(g->config.approvals, APPROVAL_DEST, APPROVAL_FROM_PROXY, req->host,
                               req->port, rule, "", req->id, gate_now_ms(), &r);
        if (rc < 0) {
                gate_pending_full(g, "proxy");
                *reason = "too many requests are waiting for a human";
                event_emit(g->config.events, "approval.refused",
                           json_pack("{s:s, s:i, s:s, s:s}", "target", req->host, "port",
                                     (int)req->port, "origin", "proxy", "reason", *reason));
                return PROXY_DENY;
        }
        event_emit(g->config.events, "approval.request", request_event(&r));
        if (!g->config.quiet)
                notice("approval needed: %s wants %s:%u (%s); 'reins approve %s' or "
                       "'reins deny %s'",
                       r.id, r.target, r.port, r.rule, r.id, r.id);
        snprintf(g->reason, sizeof(g->reason), "waiting for a human: request %s", r.id);
        *reason = g->reason;
        return PROXY_ASK;
}

/* A grant that decides a connection is used by it: a one-use grant (an
 * agent's request allowed once) ends here. */
static void gate_use_grant(struct gate *g, const struct proxy_request_info *req, int64_t now)
{
        approvals_use_grant(g->config.approvals, req->host, req->port, now);
}

static enum proxy_verdict gate_decide(void *ctx, const struct proxy_request_info *req,
                                      const char **reason)
{
        struct gate *g = ctx;
        int64_t now = gate_now_ms();
        *reason = NULL;
        if (g->tier >= 2) {
                snprintf(g->reason, sizeof(g->reason),
                         "egress is off: the session is at risk tier T%d", g->tier);
                *reason = g->reason;
                return PROXY_DENY;
        }
        if (g->config.token &&
            !session_token_allows_dest(g->config.token, req->host, req->port, reason))
                return PROXY_DENY;
        bool granted = g->config.approvals &&
                       approvals_granted(g->config.approvals, req->host, req->port, now, NULL);

        char rule[APPROVALS_HOST_MAX];
        switch (req->verdict) {
        case PROXY_ALLOW:
                if (g->tier == 1 && !seen_before(g, req->host, req->port)) {
                        if (!granted)
                                return gate_hold(g, req, "risk tier T1: a new destination", reason);
                        gate_use_grant(g, req, now);
                }
                remember(g, req->host, req->port);
                return PROXY_ALLOW;
        case PROXY_ASK:
                if (granted) {
                        gate_use_grant(g, req, now);
                        *reason = "approved by a human";
                        remember(g, req->host, req->port);
                        return PROXY_ALLOW;
                }
                snprintf(rule, sizeof(rule), "network.ask: %s", req->rule ? req->rule : "");
                return gate_hold(g, req, rule, reason);
        case PROXY_DENY:
        default:
                if (granted) {
                        gate_use_grant(g, req, now);
                        *reason = "approved by a human";
                        remember(g, req->host, req->port);
                        return PROXY_ALLOW;
                }
                if (g->config.unknown_ask)
                        return gate_hold(g, req, "approvals.unknown: ask", reason);
                return PROXY_DENY;
        }
}

static void settle_notify(struct gate *g, const struct approval_answer *answer)
{
        if (g->settled)
                g->settled(g->settled_ctx, answer);
}

static void gate_abandoned(void *ctx, uint64_t id)
{
        struct gate *g = ctx;
        struct approval_answer answer = {0};
        if (!g->config.approvals ||
            !approvals_forget_connection(g->config.approvals, id, &answer.request))
                return;
        answer.request.state = APPROVAL_DENIED;
        json_t *fields = request_event(&answer.request);
        json_object_set_new(fields, "why", json_string("the client went away"));
        event_emit(g->config.events, "approval.withdrawn", fields);
        settle_notify(g, &answer);
}

static void gate_scan(void *ctx, uint64_t id, const char *host, const void *bytes, size_t len)
{
        struct gate *g = ctx;
        if (g->scan)
                g->scan(g->scan_ctx, id, host, bytes, len);
}

void gate_on_scan(struct gate *g, gate_scan_fn fn, void *ctx)
{
        g->scan = fn;
        g->scan_ctx = ctx;
}

struct gate *gate_new(const struct gate_config *config, struct reins_error *err)
{
        struct gate *g = calloc(1, sizeof(*g));
        if (!g) {
                reins_error_set(err, ENOMEM, "out of memory");
                return NULL;
        }
        g->config = *config;
        if (config->deny && net_rules_build(&g->deny, config->deny, "network.deny", err) < 0) {
                free(g);
                return NULL;
        }
        g->hooks.decide = gate_decide;
        g->hooks.abandoned = gate_abandoned;
        g->hooks.scan = gate_scan;
        g->hooks.ctx = g;
        g->refreshed_ms = gate_now_ms();
        return g;
}

void gate_free(struct gate *g)
{
        if (!g)
                return;
        net_rules_free(&g->deny);
        strv_free(&g->seen);
        free(g);
}

const struct proxy_gate *gate_proxy_hooks(struct gate *g)
{
        return &g->hooks;
}

void gate_set_proxy(struct gate *g, struct proxy *proxy)
{
        g->proxy = proxy;
}

void gate_on_settled(struct gate *g, void (*fn)(void *ctx, const struct approval_answer *answer),
                     void *ctx)
{
        g->settled = fn;
        g->settled_ctx = ctx;
}

int gate_tier(const struct gate *g)
{
        return g->tier;
}

/* Deny everything waiting: used when egress goes off. */
static void deny_all_pending(struct gate *g, const char *why)
{
        if (!g->config.approvals)
                return;
        json_auto_t *pending = approvals_pending_json(g->config.approvals, gate_now_ms());
        size_t i;
        json_t *item;
        json_array_foreach(pending, i, item)
        {
                const char *id = json_string_value(json_object_get(item, "id"));
                struct approval_answer answer;
                if (!id || approvals_answer(g->config.approvals, id, false, 0, APPROVAL_SCOPE_EXACT,
                                            gate_now_ms(), &answer) < 0)
                        continue;
                json_t *fields = request_event(&answer.request);
                json_object_set_new(fields, "decision", json_string("deny"));
                json_object_set_new(fields, "why", json_string(why));
                event_emit(g->config.events, "approval.answer", fields);
                if (g->proxy && answer.request.connection)
                        proxy_answer(g->proxy, answer.request.connection, false, why);
                settle_notify(g, &answer);
        }
}

void gate_set_tier(struct gate *g, int tier)
{
        int old = g->tier;
        g->tier = tier;
        if (tier >= 2 && old < 2) {
                deny_all_pending(g, "egress is off: risk tier raised");
                if (g->proxy)
                        proxy_close_all(g->proxy, "egress is off: risk tier raised");
        }
}

int gate_answer(struct gate *g, const char *id, bool allow, int64_t for_ms,
                enum approval_scope scope, json_t *by, struct approval_answer *out,
                struct reins_error *err)
{
        struct approval_answer answer;
        int r = g->config.approvals ? approvals_answer(g->config.approvals, id, allow, for_ms,
                                                       scope, gate_now_ms(), &answer)
                                    : -ENOENT;
        if (r == -EINVAL) {
                json_decref(by);
                return reins_error_set(err, EINVAL,
                                       "request %s is for a path: answer it yes (once or for "
                                       "the session) or no, without --scope domain or --for "
                                       "DURATION",
                                       id);
        }
        if (r < 0) {
                json_decref(by);
                return reins_error_set(err, ENOENT,
                                       "no request %s is waiting (answered, timed out or "
                                       "withdrawn; see 'reins pending')",
                                       id);
        }
        json_t *fields = request_event(&answer.request);
        json_object_set_new(fields, "decision", json_string(allow ? "allow" : "deny"));
        if (allow) {
                json_object_set_new(fields, "scope", json_string(approval_scope_name(scope)));
                json_object_set_new(fields, "for_ms", json_integer(for_ms));
        }
        json_object_set_new(fields, "by", by ? by : json_null());
        event_emit(g->config.events, "approval.answer", fields);
        if (g->proxy && answer.request.connection)
                proxy_answer(g->proxy, answer.request.connection, allow,
                             allow ? "approved by a human" : "refused by a human");
        settle_notify(g, &answer);
        if (out)
                *out = answer;
        return 0;
}

/* "host[:port]" → normalized host, port (443 when absent). */
static int parse_destination(const char *text, char *host, size_t size, uint16_t *port,
                             const char **why)
{
        const char *colon = strrchr(text, ':');
        size_t len = strlen(text);
        *port = GATE_DEFAULT_PORT;
        if (colon && !strchr(text, ']') && strchr(text, ':') == colon) {
                char *end = NULL;
                unsigned long p = strtoul(colon + 1, &end, 10);
                if (!end || *end || p < 1 || p > 65535) {
                        *why = "bad port";
                        return -EINVAL;
                }
                *port = (uint16_t)p;
                len = (size_t)(colon - text);
        }
        return net_host_normalize(text, len, host, size, why);
}

static bool path_is_relative_clean(const char *path)
{
        if (!path[0] || path[0] == '/' || strlen(path) >= GATE_PATH_MAX)
                return false;
        for (const char *p = path; *p; p++)
                if ((unsigned char)*p < 0x20)
                        return false;
        const char *seg = path;
        while (seg) {
                if (strncmp(seg, "..", 2) == 0 && (seg[2] == '/' || seg[2] == '\0'))
                        return false;
                seg = strchr(seg, '/');
                if (seg)
                        seg++;
        }
        return true;
}

static int agent_refuse(struct gate *g, const char *kind, const char *target, int code,
                        const char *why, struct reins_error *err)
{
        event_emit(g->config.events, "approval.refused",
                   json_pack("{s:s, s:s, s:s, s:s}", "kind", kind, "target", target, "origin",
                             "agent", "reason", why));
        return reins_error_set(err, code, "%s", why);
}

int gate_agent_ask(struct gate *g, const char *kind, const char *target, const char *reason,
                   struct approval_request *out, struct reins_error *err)
{
        char host[NET_HOST_MAX + 1];
        uint16_t port = 0;
        const char *why = NULL;
        enum approval_kind k;
        if (strcmp(kind, "destination") == 0) {
                k = APPROVAL_DEST;
                if (parse_destination(target, host, sizeof(host), &port, &why) < 0)
                        return agent_refuse(g, kind, target, EINVAL, why, err);
                const char *rule = NULL;
                if (net_rules_decide(&(struct net_rules){0}, &g->deny, host, port, &rule) ==
                    NET_VERDICT_DENY_RULE)
                        return agent_refuse(g, kind, target, EPERM,
                                            "the policy denies it (network.deny)", err);
                if (g->config.token &&
                    !session_token_allows_dest(g->config.token, host, port, &why))
                        return agent_refuse(g, kind, target, EPERM, why, err);
                if (g->tier >= 2)
                        return agent_refuse(g, kind, target, EPERM,
                                            "egress is off at this risk tier", err);
        } else if (strcmp(kind, "path") == 0) {
                k = APPROVAL_PATH;
                if (!path_is_relative_clean(target))
                        return agent_refuse(g, kind, target, EINVAL,
                                            "a path must be workspace-relative, without '..'", err);
                snprintf(host, sizeof(host), "%s", target);
        } else {
                return agent_refuse(g, kind, target, EINVAL,
                                    "kind must be \"destination\" or \"path\"", err);
        }
        if (!g->config.approvals)
                return agent_refuse(g, kind, target, EPERM,
                                    "approvals are off in this session's policy", err);
        struct approval_request r;
        int rc = approvals_ask(g->config.approvals, k, APPROVAL_FROM_AGENT, host, port,
                               "agent request", reason, 0, gate_now_ms(), &r);
        if (rc == -EAGAIN)
                return agent_refuse(g, kind, target, EAGAIN,
                                    "too many requests: the agent's channel is rate-limited", err);
        if (rc < 0) {
                gate_pending_full(g, "agent");
                return agent_refuse(g, kind, target, EBUSY,
                                    "too many requests are waiting for a human", err);
        }
        event_emit(g->config.events, "approval.request", request_event(&r));
        if (!g->config.quiet)
                /* the target and the reason are the agent's words: notice()
                 * escapes them, so they cannot redraw the line the human
                 * answers (util/notice.h) */
                notice("approval needed: %s: the agent asks for %s %s%s%.0u (%s)", r.id, kind,
                       r.target, k == APPROVAL_DEST ? ":" : "", (unsigned)r.port,
                       r.reason[0] ? r.reason : "no reason given");
        if (out)
                *out = r;
        return 0;
}

static void gate_expire(struct gate *g, int64_t now)
{
        struct approval_answer answer;
        while (g->config.approvals && approvals_expire_one(g->config.approvals, now, &answer)) {
                bool allow = answer.request.state == APPROVAL_ALLOWED;
                json_t *fields = request_event(&answer.request);
                json_object_set_new(fields, "decision", json_string(allow ? "allow" : "deny"));
                json_object_set_new(fields, "why",
                                    json_string("no answer before approvals.timeout"));
                event_emit(g->config.events, "approval.timeout", fields);
                if (g->proxy && answer.request.connection)
                        proxy_answer(g->proxy, answer.request.connection, allow,
                                     "no answer before the approval timeout");
                settle_notify(g, &answer);
        }
}

static void gate_check_token(struct gate *g, int64_t now)
{
        struct session_token *t = g->config.token;
        if (!t || now - g->refreshed_ms < GATE_REFRESH_MS)
                return;
        g->refreshed_ms = now;
        if (session_token_refresh(t)) {
                event_emit(g->config.events, "token.revoked",
                           json_pack("{s:s, s:s}", "token", t->id, "effect",
                                     "new connections refused, open tunnels closed"));
                deny_all_pending(g, "the session's token was revoked");
                if (g->proxy)
                        proxy_close_all(g->proxy, "the session's token was revoked");
        }
        if (!g->expired_reported && !token_check_time(&t->rights, (int64_t)time(NULL))) {
                g->expired_reported = true;
                event_emit(g->config.events, "token.expired",
                           json_pack("{s:s, s:I, s:s}", "token", t->id, "expires",
                                     (json_int_t)t->rights.expires, "effect",
                                     "new connections refused"));
        }
}

/* A `--for` grant reached its deadline: new connections ask again. */
static void gate_lapse(struct gate *g, int64_t now)
{
        char target[APPROVALS_HOST_MAX];
        uint16_t port;
        bool domain;
        while (g->config.approvals && approvals_lapse_one(g->config.approvals, now, target,
                                                          sizeof(target), &port, &domain))
                event_emit(g->config.events, "approval.lapsed",
                           json_pack("{s:s, s:i, s:s, s:s}", "target", target, "port", (int)port,
                                     "scope", domain ? "domain" : "exact", "why",
                                     "the approval's --for time ran out: new connections are "
                                     "refused until approved again"));
}

int64_t gate_tick(struct gate *g)
{
        int64_t now = gate_now_ms();
        gate_expire(g, now);
        gate_lapse(g, now);
        gate_check_token(g, now);
        int64_t next =
            g->config.approvals ? approvals_next_deadline_ms(g->config.approvals) : INT64_MAX;
        /* the revocation list has no change notice: a session under a
         * token reads it every GATE_REFRESH_MS, until revoked and expired */
        struct session_token *t = g->config.token;
        if (t && !(t->revoked && g->expired_reported) && g->refreshed_ms + GATE_REFRESH_MS < next)
                next = g->refreshed_ms + GATE_REFRESH_MS;
        if (next == INT64_MAX)
                return -1;
        return next > now ? next - now : 0;
}

size_t gate_pending_count(const struct gate *g)
{
        return g->config.approvals ? approvals_pending_count(g->config.approvals) : 0;
}

json_t *gate_pending_json(const struct gate *g)
{
        return g->config.approvals ? approvals_pending_json(g->config.approvals, gate_now_ms())
                                   : json_array();
}
