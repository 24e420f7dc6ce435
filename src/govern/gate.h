/* The network gate: the last word on each destination the proxy is asked
 * for, after the policy's lists (DESIGN §3 rule 1-2, §7).
 *
 *   risk tier ≥ 2          → deny (egress is off)
 *   the session's token    → deny what it does not allow (a token only narrows)
 *   lists said allow       → allow; at tier 1 a destination not used before asks
 *   lists said ask         → allow under a live grant, else ask a human
 *   nothing matched        → allow under a live grant, else ask when
 *                            approvals.unknown is ask, else deny
 *
 * Asking holds only that connection (the proxy keeps it) and queues a
 * request in `approvals`; an answer from `reins approve/deny`, or the
 * timeout, releases it. Every request, answer, timeout and withdrawal is an
 * event. The agent's own requests (the in-sandbox channel) come in through
 * gate_agent_ask and join the same queue. */
#ifndef REINS_GOVERN_GATE_H
#define REINS_GOVERN_GATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "audit/event.h"
#include "govern/approvals.h"
#include "govern/session_token.h"
#include "net/proxy.h"
#include "util/error.h"
#include "util/strv.h"

struct gate_config {
        struct session_token *token;   /* may be NULL */
        struct approvals *approvals;   /* NULL: nobody to ask, an ask is a deny */
        const struct reins_strv *deny; /* network.deny: the agent may not even ask for these */
        bool unknown_ask;              /* approvals.unknown: ask */
        bool quiet;                    /* no "approval needed" line on stderr */
        struct event_bus *events;
};

struct gate;

struct gate *gate_new(const struct gate_config *config, struct reins_error *err);
void gate_free(struct gate *gate);

/* The hooks to give the proxy (proxy_options.gate). */
const struct proxy_gate *gate_proxy_hooks(struct gate *gate);
/* The proxy the hooks serve (NULL when it is gone): answers release its
 * held connections. */
void gate_set_proxy(struct gate *gate, struct proxy *proxy);

/* The risk tier (0..3) narrows further; reaching 2 closes every tunnel. */
void gate_set_tier(struct gate *gate, int tier);
int gate_tier(const struct gate *gate);

/* A human's answer. `by` describes the signer (fingerprint, key), recorded
 * in the event. -ENOENT when no such request waits. */
int gate_answer(struct gate *gate, const char *id, bool allow, int64_t for_ms,
                enum approval_scope scope, json_t *by, struct approval_answer *out,
                struct reins_error *err);

/* A request from the agent inside the sandbox: kind "destination"
 * ("host[:port]", port 443 by default) or "path" (workspace-relative).
 * Refused at once (-EPERM/-EAGAIN/-EBUSY/-EINVAL with err) when it is
 * malformed, explicitly denied, outside the token, rate-limited or the
 * queue is full; each refusal is an event. */
int gate_agent_ask(struct gate *gate, const char *kind, const char *target, const char *reason,
                   struct approval_request *out, struct reins_error *err);

/* Called when a request is settled (answered, timed out, withdrawn):
 * the control socket tells waiting clients. */
void gate_on_settled(struct gate *gate, void (*fn)(void *ctx, const struct approval_answer *answer),
                     void *ctx);

/* Plaintext egress (the first PROXY_SCAN_MAX bytes a client sends on a
 * connection that is not TLS), for the risk engine's content rules. It runs
 * inside the proxy: it may change the tier (proxy_close_all is deferred by
 * the proxy) but must not block. */
typedef void (*gate_scan_fn)(void *ctx, uint64_t connection, const char *host, const void *bytes,
                             size_t len);
void gate_on_scan(struct gate *gate, gate_scan_fn fn, void *ctx);

/* Time out overdue requests, end lapsed grants, re-read the revocation
 * list when it is time. Returns in how many ms it has something to do
 * again (the next deadline; while a token is in force, its next re-read),
 * or -1: nothing until a request or a grant is added. */
int64_t gate_tick(struct gate *gate);

/* Pending requests, how many (for the session's registry entry). */
size_t gate_pending_count(const struct gate *gate);

/* Pending requests (for `reins pending`). */
json_t *gate_pending_json(const struct gate *gate);

int64_t gate_now_ms(void); /* the monotonic clock the gate uses */

#endif
