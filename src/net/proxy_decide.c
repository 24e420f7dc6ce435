/* Deciding on a destination (proxy_internal.h, DESIGN §3): the egress budget,
 * then the lists (deny > ask > allow > default deny; an explicit deny ends it
 * there), then the gate's last word. Ask holds the connection until
 * proxy_answer; a cut (egress turned off) ends held and open connections. */
#include "net/proxy_internal.h"

#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>

void proxy_copy_reason(char *dst, const char *reason)
{
        snprintf(dst, PROXY_REASON_MAX, "%s", reason ? reason : "");
}

/* The lists: deny > ask > allow > default deny (DESIGN §3). An explicit deny
 * ends the request here; the rest goes to the gate. */
static bool conn_consult_lists(struct proxy_conn *c)
{
        struct proxy *proxy = c->proxy;
        const char *rule = NULL;
        enum net_verdict v = net_rules_decide(&proxy->allow, &proxy->deny, c->host, c->port, &rule);
        c->listed = true;
        if (v == NET_VERDICT_DENY_RULE) {
                c->list_verdict = PROXY_DENY;
                c->rule = rule;
                proxy_conn_deny(c, "deny-rule", NULL, NET_SOCKS5_NOT_ALLOWED);
                return false;
        }
        const char *ask = net_rules_match_any_port(&proxy->ask, c->host, c->port);
        if (ask) {
                c->list_verdict = PROXY_ASK;
                c->rule = ask;
        } else if (v == NET_VERDICT_ALLOW) {
                c->list_verdict = PROXY_ALLOW;
                c->rule = rule;
        } else {
                c->list_verdict = PROXY_DENY;
                c->rule = "default";
        }
        return true;
}

/* The gate's last word on what the lists said; without a gate, ask means
 * deny: nobody could say yes. */
static enum proxy_verdict conn_ask_gate(struct proxy_conn *c)
{
        struct proxy *proxy = c->proxy;
        if (!proxy->has_gate || !proxy->gate.decide) {
                if (c->list_verdict == PROXY_ASK) {
                        proxy_copy_reason(c->gate_reason, "no approver");
                        return PROXY_DENY;
                }
                return c->list_verdict;
        }
        const struct proxy_request_info info = {
            .id = c->id,
            .host = c->host,
            .port = c->port,
            .protocol = proxy_protocol_name(c->protocol),
            .verdict = c->list_verdict,
            .rule = c->rule,
        };
        const char *reason = NULL;
        enum proxy_verdict v = proxy->gate.decide(proxy->gate.ctx, &info, &reason);
        proxy_copy_reason(c->gate_reason, reason);
        return v == PROXY_ALLOW || v == PROXY_ASK ? v : PROXY_DENY;
}

/* Hold the connection: read nothing more from it, resolve nothing, until
 * proxy_answer (or the client leaves, or the idle timeout). */
static void conn_hold(struct proxy_conn *c)
{
        c->state = CONN_HELD;
        c->deadline_ms = c->proxy->now_ms + c->proxy->idle_ms;
        proxy_emit_verdict(c, PROXY_ASK, "ask", NULL);
        proxy_conn_update_events(c);
}

static void conn_refuse_by_gate(struct proxy_conn *c)
{
        if (c->list_verdict == PROXY_DENY)
                proxy_conn_deny(c, "not-allowed",
                                c->gate_reason[0] ? c->gate_reason
                                                  : "no network.allow pattern matches",
                                NET_SOCKS5_NOT_ALLOWED);
        else if (!c->proxy->has_gate)
                proxy_conn_deny(c, "no-approver", c->gate_reason, NET_SOCKS5_NOT_ALLOWED);
        else
                proxy_conn_deny(c, "gate", c->gate_reason[0] ? c->gate_reason : NULL,
                                NET_SOCKS5_NOT_ALLOWED);
}

/* The request names host:port (normalized). Decide on the name: budget,
 * lists, gate; then proceed, refuse or hold. */
void proxy_conn_decide(struct proxy_conn *c)
{
        struct proxy *proxy = c->proxy;
        c->destination = net_account_destination(&proxy->account, c->host, c->port);
        if (c->destination < 0) {
                proxy_conn_close(c, "out-of-memory");
                return;
        }
        if (!net_account_budget_left(&proxy->account)) {
                c->rule = "egress_budget";
                proxy_conn_deny(c, "budget", "network.egress_budget is used up",
                                NET_SOCKS5_NOT_ALLOWED);
                return;
        }
        if (!conn_consult_lists(c))
                return;
        switch (conn_ask_gate(c)) {
        case PROXY_ALLOW:
                proxy_conn_proceed(c);
                return;
        case PROXY_ASK:
                conn_hold(c);
                return;
        case PROXY_DENY:
                conn_refuse_by_gate(c);
                return;
        }
}

/* A held connection's answer. */
void proxy_conn_answer(struct proxy_conn *c, bool allow, const char *reason)
{
        if (c->dead || c->state != CONN_HELD)
                return;
        proxy_copy_reason(c->gate_reason, reason);
        if (allow) {
                c->state = CONN_REQUEST; /* not held any more: no net.close of its own */
                proxy_conn_proceed(c);
        } else {
                c->state = CONN_REQUEST;
                proxy_conn_deny(c, "gate", c->gate_reason[0] ? c->gate_reason : NULL,
                                NET_SOCKS5_NOT_ALLOWED);
        }
}

/* The client of a held connection left (or the idle timeout passed): the
 * gate forgets the question. */
void proxy_conn_abandon(struct proxy_conn *c, const char *why)
{
        struct proxy *proxy = c->proxy;
        if (proxy->has_gate && proxy->gate.abandoned)
                proxy->gate.abandoned(proxy->gate.ctx, c->id);
        if (!c->dead)
                proxy_conn_close(c, why);
}

/* Cut one connection that passed the gate or waits on it: egress is off. */
void proxy_conn_cut(struct proxy_conn *c, const char *reason)
{
        switch (c->state) {
        case CONN_HELD: {
                struct proxy *proxy = c->proxy;
                proxy_emit_close(c, reason);
                if (proxy->has_gate && proxy->gate.abandoned)
                        proxy->gate.abandoned(proxy->gate.ctx, c->id);
                if (c->dead || c->state != CONN_HELD)
                        return;
                c->state = CONN_REQUEST;
                proxy_copy_reason(c->gate_reason, reason);
                proxy_conn_deny(c, "gate", c->gate_reason, NET_SOCKS5_NOT_ALLOWED);
                return;
        }
        case CONN_RESOLVING:
        case CONN_CONNECTING:
                proxy_copy_reason(c->gate_reason, reason);
                proxy_conn_deny(c, "gate", c->gate_reason, NET_SOCKS5_NOT_ALLOWED);
                return;
        case CONN_SNI_WAIT:
        case CONN_TUNNEL:
        case CONN_TERMINATED:
                proxy_conn_close(c, reason);
                return;
        case CONN_REQUEST:
        case CONN_CLOSING:
                return; /* not past the gate yet / already refused */
        }
}

void proxy_conn_held_timeout(struct proxy_conn *c)
{
        struct proxy *proxy = c->proxy;
        if (proxy->has_gate && proxy->gate.abandoned)
                proxy->gate.abandoned(proxy->gate.ctx, c->id);
        if (c->dead || c->state != CONN_HELD)
                return;
        c->state = CONN_REQUEST;
        proxy_copy_reason(c->gate_reason, "no answer before the idle timeout");
        proxy_conn_deny(c, "gate", c->gate_reason, NET_SOCKS5_NOT_ALLOWED);
}
