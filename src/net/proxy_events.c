/* What the proxy reports (proxy_internal.h): net.decision for every
 * decision, net.progress while bytes go out, net.close with byte counts,
 * net.budget; and the byte accounting behind them. */
#include "net/proxy_internal.h"

#include <stdint.h>

const char *proxy_protocol_name(enum conn_protocol p)
{
        switch (p) {
        case PROTO_CONNECT:
                return "connect";
        case PROTO_HTTP:
                return "http";
        case PROTO_SOCKS5:
                return "socks5";
        case PROTO_UNKNOWN:
                break;
        }
        return "unknown";
}

static const char *verdict_name(enum proxy_verdict v)
{
        switch (v) {
        case PROXY_ALLOW:
                return "allow";
        case PROXY_ASK:
                return "ask";
        case PROXY_DENY:
                break;
        }
        return "deny";
}

/* net.decision: the final word ("allowed", "denied", "ask" while held), what
 * the lists said, the deciding rule, the reason code and text, and the
 * gate's reason when it gave one. */
void proxy_emit_verdict(struct proxy_conn *c, enum proxy_verdict verdict, const char *reason,
                        const char *detail)
{
        const char *decision = verdict == PROXY_ALLOW ? "allowed"
                               : verdict == PROXY_ASK ? "ask"
                                                      : "denied";
        json_t *fields = json_pack(
            "{s:s, s:s?, s:s?, s:s?, s:s?}", "decision", decision, "rule", c->rule, "host",
            c->host[0] ? c->host : NULL, "address", c->address_text[0] ? c->address_text : NULL,
            "protocol", c->protocol == PROTO_UNKNOWN ? NULL : proxy_protocol_name(c->protocol));
        if (!fields)
                return;
        if (c->port)
                json_object_set_new(fields, "port", json_integer(c->port));
        if (reason)
                json_object_set_new(fields, "reason", json_string(reason));
        if (detail)
                json_object_set_new(fields, "detail", json_string(detail));
        if (c->listed)
                json_object_set_new(fields, "lists", json_string(verdict_name(c->list_verdict)));
        if (c->gate_reason[0])
                json_object_set_new(fields, "gate_reason", json_string(c->gate_reason));
        json_object_set_new(fields, "connection", json_integer((json_int_t)c->id));
        event_emit(c->proxy->events, "net.decision", fields);
}

void proxy_emit_decision(struct proxy_conn *c, bool allowed, const char *reason, const char *detail)
{
        proxy_emit_verdict(c, allowed ? PROXY_ALLOW : PROXY_DENY, reason, detail);
}

void proxy_conn_account(struct proxy_conn *c, uint64_t up, uint64_t down)
{
        if (!up && !down)
                return;
        c->bytes_up += up;
        c->bytes_down += down;
        c->progress_up += up;
        c->progress_down += down;
        proxy_conn_progress(c);
        struct proxy *proxy = c->proxy;
        if (!net_account_add(&proxy->account, c->destination, up, down))
                return;
        event_emit(proxy->events, "net.budget",
                   json_pack("{s:I, s:I, s:s}", "budget", (json_int_t)proxy->account.budget,
                             "bytes_up", (json_int_t)proxy->account.bytes_up, "action",
                             "new connections refused, open connections closed"));
        /* An open tunnel would otherwise go on sending without bound: the
         * budget caps what leaves the session, not what starts. The senders
         * never pass it (they send at most proxy_budget_left). */
        proxy_close_all(proxy, "network.egress_budget passed");
}

/* A tunnel reports its bytes at close: a burst inside one that stays open
 * for hours would show only then. net.progress shows them while they flow.
 * Only bytes sent make one due, and only PROXY_PROGRESS_BYTES of them, at
 * most once a second: the trail grows with the bytes that leave, never
 * with a chatty connection's packets or a download. */
void proxy_conn_progress(struct proxy_conn *c)
{
        struct proxy *proxy = c->proxy;
        if (c->progress_up < PROXY_PROGRESS_BYTES ||
            proxy->now_ms - c->progress_ms < PROXY_PROGRESS_MS)
                return;
        event_emit(proxy->events, "net.progress",
                   json_pack("{s:s, s:i, s:I, s:I, s:I}", "host", c->host, "port", c->port,
                             "connection", (json_int_t)c->id, "bytes_up",
                             (json_int_t)c->progress_up, "bytes_down",
                             (json_int_t)c->progress_down));
        c->reported_up += c->progress_up;
        c->progress_up = c->progress_down = 0;
        c->progress_ms = proxy->now_ms;
}

uint64_t proxy_budget_left(const struct proxy *proxy)
{
        return net_account_budget_remaining(&proxy->account);
}

void proxy_emit_close(struct proxy_conn *c, const char *why)
{
        struct proxy *proxy = c->proxy;
        json_t *fields =
            json_pack("{s:s, s:i, s:s, s:s, s:I, s:I, s:I, s:I, s:s}", "host", c->host, "port",
                      c->port, "address", c->address_text, "protocol",
                      proxy_protocol_name(c->protocol), "connection", (json_int_t)c->id, "bytes_up",
                      (json_int_t)c->bytes_up, "bytes_down", (json_int_t)c->bytes_down,
                      "duration_ms", (json_int_t)(proxy->now_ms - c->started_ms), "reason", why);
        /* a reader summing net.progress and net.close counts the rest only */
        if (fields && c->reported_up)
                json_object_set_new(fields, "bytes_up_reported",
                                    json_integer((json_int_t)c->reported_up));
        event_emit(proxy->events, "net.close", fields);
}
