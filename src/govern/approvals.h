/* Approvals (DESIGN §7): a request a human must answer, and the exceptions
 * the answers grant.
 *
 * A request comes from the proxy (a destination the policy marks `ask`, or
 * one no list matches under `approvals.unknown: ask`) or from the agent
 * itself through the in-sandbox channel (a destination or a path, with a
 * reason). It waits at most the policy's timeout; silence gets the policy's
 * default answer. An allowed destination becomes a grant: for this session,
 * or until a deadline (`--for`), for the exact host or its whole domain
 * (`--scope domain`).
 *
 * Everything here is plain data and time arithmetic: the caller owns the
 * clock (milliseconds, monotonic) so the tests can drive it. Bounded: at most
 * APPROVALS_MAX_PENDING requests wait at once and APPROVALS_MAX_GRANTS grants
 * are kept; the agent's channel is rate-limited by a token bucket. */
#ifndef REINS_GOVERN_APPROVALS_H
#define REINS_GOVERN_APPROVALS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define APPROVALS_MAX_PENDING 16
#define APPROVALS_MAX_GRANTS  256
#define APPROVALS_ID_MAX      48
#define APPROVALS_REASON_MAX  512
#define APPROVALS_HOST_MAX    256
/* an agent's request allowed "once" covers its next connection within this */
#define APPROVALS_ONCE_MS (5 * 60 * 1000)
/* the agent's channel: a burst of this many, then one per interval */
#define APPROVALS_AGENT_BURST       5
#define APPROVALS_AGENT_INTERVAL_MS 10000

enum approval_kind {
        APPROVAL_DEST = 0, /* a network destination (host, port) */
        APPROVAL_PATH,     /* a workspace-relative path the agent wants to write */
};

enum approval_origin {
        APPROVAL_FROM_PROXY = 0, /* a held connection */
        APPROVAL_FROM_AGENT,     /* the in-sandbox request channel */
};

enum approval_scope {
        APPROVAL_SCOPE_EXACT = 0, /* this host (any port the request named) */
        APPROVAL_SCOPE_DOMAIN,    /* the host and every name under its parent domain */
};

enum approval_state {
        APPROVAL_PENDING = 0,
        APPROVAL_ALLOWED,
        APPROVAL_DENIED,
};

struct approval_request {
        char id[APPROVALS_ID_MAX]; /* "<session prefix>-<n>" */
        enum approval_kind kind;
        enum approval_origin origin;
        enum approval_state state;
        char target[APPROVALS_HOST_MAX]; /* host, or path */
        uint16_t port;                   /* destinations only */
        char rule[APPROVALS_HOST_MAX];   /* what asked: "network.ask: x", "approvals.unknown" */
        char reason[APPROVALS_REASON_MAX];
        uint64_t connection; /* the proxy's connection id, 0 for agent requests */
        int64_t created_ms, deadline_ms;
};

/* What the caller learns from an answer or a timeout. */
struct approval_answer {
        struct approval_request request; /* as it was, state set to the answer */
        bool timed_out;
        bool once;              /* allowed for this request only: no grant */
        int64_t grant_until_ms; /* 0: for the session; only when allowed and not once */
        enum approval_scope scope;
};

struct approvals;

/* `session` names the ids; timeout_ms > 0; default_allow: what silence means. */
struct approvals *approvals_new(const char *session, int64_t timeout_ms, bool default_allow);
void approvals_free(struct approvals *a);

/* A new pending request. -EBUSY: APPROVALS_MAX_PENDING are waiting (the
 * caller refuses and records it); -EAGAIN: the agent's rate limit (agent
 * origin only). The stored request is copied to `out` when not NULL. */
int approvals_ask(struct approvals *a, enum approval_kind kind, enum approval_origin origin,
                  const char *target, uint16_t port, const char *rule, const char *reason,
                  uint64_t connection, int64_t now_ms, struct approval_request *out);

/* Answer a pending request. for_ms < 0: this request only ("yes, this
 * once"); 0: a grant for the rest of the session; > 0: a grant that lapses
 * after for_ms. -ENOENT: no such pending id (answered, timed out, or never);
 * -EINVAL: a domain scope or a duration for a path request. */
int approvals_answer(struct approvals *a, const char *id, bool allow, int64_t for_ms,
                     enum approval_scope scope, int64_t now_ms, struct approval_answer *out);

/* Time out at most one overdue request per call (call until it returns
 * false); the answer is the policy's default, for that request only. */
bool approvals_expire_one(struct approvals *a, int64_t now_ms, struct approval_answer *out);

/* Remove one grant whose deadline passed (call until false): the caller
 * records that it lapsed. */
/* The earliest time approvals_expire_one or approvals_lapse_one has
 * something to do (a request's deadline, a grant's end), or INT64_MAX:
 * nothing will ever be due until something is asked or granted. */
int64_t approvals_next_deadline_ms(const struct approvals *a);

bool approvals_lapse_one(struct approvals *a, int64_t now_ms, char *target, size_t size,
                         uint16_t *port, bool *domain);

/* The first pending request of a proxy connection (it went away). */
bool approvals_forget_connection(struct approvals *a, uint64_t connection,
                                 struct approval_request *out);

/* Has a human already allowed this destination (a live grant)? *until_ms
 * gets the grant's deadline (0: the session). */
bool approvals_granted(const struct approvals *a, const char *host, uint16_t port, int64_t now_ms,
                       int64_t *until_ms);
/* The same, and the grant is used: a one-use grant ("yes, once" to an
 * agent's request) is gone after this. */
bool approvals_use_grant(struct approvals *a, const char *host, uint16_t port, int64_t now_ms);
/* A granted path (agent path requests). */
bool approvals_path_granted(const struct approvals *a, const char *path, int64_t now_ms);

/* The pending requests as a JSON array (for `reins pending`), and one
 * request as an object (for events). */
json_t *approvals_pending_json(const struct approvals *a, int64_t now_ms);
json_t *approval_request_json(const struct approval_request *r, int64_t now_ms);
size_t approvals_pending_count(const struct approvals *a);

const char *approval_scope_name(enum approval_scope scope);
int approval_scope_parse(const char *text, enum approval_scope *out);

#endif
