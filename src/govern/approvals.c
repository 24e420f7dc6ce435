/* Pending requests, their answers and the grants they leave (approvals.h). */
#include "govern/approvals.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

struct approval_grant {
        enum approval_kind kind;
        char target[APPROVALS_HOST_MAX]; /* host, ".domain" suffix holder, or path */
        bool domain;                     /* target is a domain: itself and every name below */
        uint16_t port;
        int64_t until_ms; /* 0: the session */
        bool one_use;     /* "yes, once" to the agent: its next connection only */
};

struct approvals {
        char prefix[16];
        uint64_t next;
        int64_t timeout_ms;
        bool default_allow;
        struct approval_request pending[APPROVALS_MAX_PENDING];
        size_t pending_count;
        struct approval_grant grants[APPROVALS_MAX_GRANTS];
        size_t grant_count;
        double agent_tokens; /* the agent channel's bucket */
        int64_t agent_refilled_ms;
        bool agent_started;
};

struct approvals *approvals_new(const char *session, int64_t timeout_ms, bool default_allow)
{
        struct approvals *a = calloc(1, sizeof(*a));
        if (!a)
                return NULL;
        snprintf(a->prefix, sizeof(a->prefix), "%.8s", session ? session : "");
        a->next = 1;
        a->timeout_ms = timeout_ms > 0 ? timeout_ms : 120000;
        a->default_allow = default_allow;
        a->agent_tokens = APPROVALS_AGENT_BURST;
        return a;
}

void approvals_free(struct approvals *a)
{
        free(a);
}

static void copy_text(char *dst, size_t size, const char *src)
{
        snprintf(dst, size, "%s", src ? src : "");
}

/* A token bucket: APPROVALS_AGENT_BURST at once, one more per interval. */
static bool agent_rate_ok(struct approvals *a, int64_t now_ms)
{
        if (!a->agent_started) {
                a->agent_started = true;
                a->agent_refilled_ms = now_ms;
        }
        int64_t elapsed = now_ms - a->agent_refilled_ms;
        if (elapsed > 0) {
                a->agent_tokens += (double)elapsed / APPROVALS_AGENT_INTERVAL_MS;
                if (a->agent_tokens > APPROVALS_AGENT_BURST)
                        a->agent_tokens = APPROVALS_AGENT_BURST;
                a->agent_refilled_ms = now_ms;
        }
        if (a->agent_tokens < 1.0)
                return false;
        a->agent_tokens -= 1.0;
        return true;
}

int approvals_ask(struct approvals *a, enum approval_kind kind, enum approval_origin origin,
                  const char *target, uint16_t port, const char *rule, const char *reason,
                  uint64_t connection, int64_t now_ms, struct approval_request *out)
{
        if (origin == APPROVAL_FROM_AGENT && !agent_rate_ok(a, now_ms))
                return -EAGAIN;
        if (a->pending_count >= APPROVALS_MAX_PENDING)
                return -EBUSY;
        char id[APPROVALS_ID_MAX];
        snprintf(id, sizeof(id), "%s-%llu", a->prefix, (unsigned long long)a->next++);
        struct approval_request *r = &a->pending[a->pending_count++];
        memset(r, 0, sizeof(*r));
        memcpy(r->id, id, sizeof(id));
        r->kind = kind;
        r->origin = origin;
        r->state = APPROVAL_PENDING;
        copy_text(r->target, sizeof(r->target), target);
        r->port = port;
        copy_text(r->rule, sizeof(r->rule), rule);
        copy_text(r->reason, sizeof(r->reason), reason);
        r->connection = connection;
        r->created_ms = now_ms;
        r->deadline_ms = now_ms + a->timeout_ms;
        if (out)
                *out = *r;
        return 0;
}

static void remove_pending(struct approvals *a, size_t i)
{
        memmove(&a->pending[i], &a->pending[i + 1],
                (a->pending_count - i - 1) * sizeof(a->pending[0]));
        a->pending_count--;
}

/* "api.example.com" → "example.com"; a name of two labels or fewer is its
 * own domain (never widen "example.com" to all of "com"). */
static const char *grant_domain(const char *host)
{
        const char *first = strchr(host, '.');
        if (!first || !strchr(first + 1, '.'))
                return host;
        return first + 1;
}

/* The oldest grant makes room when the table is full: grants are
 * conveniences, and a dropped one only means asking again. */
static void add_grant(struct approvals *a, const struct approval_request *r,
                      enum approval_scope scope, int64_t until_ms, bool one_use)
{
        if (a->grant_count == APPROVALS_MAX_GRANTS) {
                memmove(&a->grants[0], &a->grants[1], (a->grant_count - 1) * sizeof(a->grants[0]));
                a->grant_count--;
        }
        struct approval_grant *g = &a->grants[a->grant_count++];
        memset(g, 0, sizeof(*g));
        g->kind = r->kind;
        g->domain = r->kind == APPROVAL_DEST && scope == APPROVAL_SCOPE_DOMAIN;
        copy_text(g->target, sizeof(g->target), g->domain ? grant_domain(r->target) : r->target);
        g->port = r->port;
        g->until_ms = until_ms;
        g->one_use = one_use;
}

static void settle(struct approvals *a, size_t i, bool allow, bool timed_out, int64_t for_ms,
                   enum approval_scope scope, int64_t now_ms, struct approval_answer *out)
{
        struct approval_answer answer = {.request = a->pending[i], .timed_out = timed_out};
        answer.request.state = allow ? APPROVAL_ALLOWED : APPROVAL_DENIED;
        answer.scope = scope;
        answer.once = allow && for_ms < 0;
        if (allow && for_ms >= 0) {
                /* for_ms is a JSON integer of the answer: a grant too long
                 * to end saturates instead of overflowing into the past */
                if (for_ms == 0)
                        answer.grant_until_ms = 0;
                else if (now_ms > 0 && for_ms > INT64_MAX - now_ms)
                        answer.grant_until_ms = INT64_MAX;
                else
                        answer.grant_until_ms = now_ms + for_ms;
                add_grant(a, &answer.request, scope, answer.grant_until_ms, false);
        } else if (allow && answer.request.origin == APPROVAL_FROM_AGENT &&
                   answer.request.kind == APPROVAL_DEST) {
                /* the agent asked ahead of connecting: "yes, once" is its next
                 * connection there, not this request (which holds none) */
                answer.grant_until_ms = now_ms + APPROVALS_ONCE_MS;
                add_grant(a, &answer.request, APPROVAL_SCOPE_EXACT, answer.grant_until_ms, true);
        }
        remove_pending(a, i);
        if (out)
                *out = answer;
}

int approvals_answer(struct approvals *a, const char *id, bool allow, int64_t for_ms,
                     enum approval_scope scope, int64_t now_ms, struct approval_answer *out)
{
        for (size_t i = 0; i < a->pending_count; i++)
                if (strcmp(a->pending[i].id, id) == 0) {
                        /* a path is answered yes or no: no domain, no duration */
                        if (allow && a->pending[i].kind == APPROVAL_PATH &&
                            (scope == APPROVAL_SCOPE_DOMAIN || for_ms > 0))
                                return -EINVAL;
                        settle(a, i, allow, false, for_ms, scope, now_ms, out);
                        return 0;
                }
        return -ENOENT;
}

bool approvals_expire_one(struct approvals *a, int64_t now_ms, struct approval_answer *out)
{
        for (size_t i = 0; i < a->pending_count; i++)
                if (now_ms >= a->pending[i].deadline_ms) {
                        settle(a, i, a->default_allow, true, -1, APPROVAL_SCOPE_EXACT, now_ms, out);
                        return true;
                }
        return false;
}

int64_t approvals_next_deadline_ms(const struct approvals *a)
{
        int64_t next = INT64_MAX;
        for (size_t i = 0; i < a->pending_count; i++)
                if (a->pending[i].deadline_ms < next)
                        next = a->pending[i].deadline_ms;
        for (size_t i = 0; i < a->grant_count; i++)
                if (a->grants[i].until_ms && a->grants[i].until_ms < next)
                        next = a->grants[i].until_ms;
        return next;
}

bool approvals_lapse_one(struct approvals *a, int64_t now_ms, char *target, size_t size,
                         uint16_t *port, bool *domain)
{
        for (size_t i = 0; i < a->grant_count; i++) {
                struct approval_grant *g = &a->grants[i];
                if (!g->until_ms || now_ms < g->until_ms)
                        continue;
                snprintf(target, size, "%s", g->target);
                *port = g->port;
                *domain = g->domain;
                memmove(&a->grants[i], &a->grants[i + 1],
                        (a->grant_count - i - 1) * sizeof(a->grants[0]));
                a->grant_count--;
                return true;
        }
        return false;
}

bool approvals_forget_connection(struct approvals *a, uint64_t connection,
                                 struct approval_request *out)
{
        for (size_t i = 0; i < a->pending_count; i++)
                if (connection && a->pending[i].connection == connection) {
                        if (out)
                                *out = a->pending[i];
                        remove_pending(a, i);
                        return true;
                }
        return false;
}

static bool host_in_domain(const char *host, const char *domain)
{
        size_t h = strlen(host), d = strlen(domain);
        if (h == d)
                return strcmp(host, domain) == 0;
        return h > d && host[h - d - 1] == '.' && strcmp(host + h - d, domain) == 0;
}

static ssize_t grant_find(const struct approvals *a, const char *host, uint16_t port,
                          int64_t now_ms)
{
        for (size_t i = a->grant_count; i-- > 0;) {
                const struct approval_grant *g = &a->grants[i];
                if (g->kind != APPROVAL_DEST || (g->until_ms && now_ms >= g->until_ms))
                        continue;
                if (g->port && g->port != port)
                        continue;
                if (g->domain ? host_in_domain(host, g->target) : strcmp(host, g->target) == 0)
                        return (ssize_t)i;
        }
        return -1;
}

bool approvals_granted(const struct approvals *a, const char *host, uint16_t port, int64_t now_ms,
                       int64_t *until_ms)
{
        ssize_t i = grant_find(a, host, port, now_ms);
        if (i >= 0 && until_ms)
                *until_ms = a->grants[i].until_ms;
        return i >= 0;
}

bool approvals_use_grant(struct approvals *a, const char *host, uint16_t port, int64_t now_ms)
{
        ssize_t i = grant_find(a, host, port, now_ms);
        if (i < 0)
                return false;
        if (a->grants[i].one_use) {
                memmove(&a->grants[i], &a->grants[i + 1],
                        (a->grant_count - (size_t)i - 1) * sizeof(a->grants[0]));
                a->grant_count--;
        }
        return true;
}

bool approvals_path_granted(const struct approvals *a, const char *path, int64_t now_ms)
{
        for (size_t i = 0; i < a->grant_count; i++) {
                const struct approval_grant *g = &a->grants[i];
                if (g->kind == APPROVAL_PATH && (!g->until_ms || now_ms < g->until_ms) &&
                    strcmp(g->target, path) == 0)
                        return true;
        }
        return false;
}

json_t *approval_request_json(const struct approval_request *r, int64_t now_ms)
{
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "id", r->id, "kind",
                              r->kind == APPROVAL_DEST ? "destination" : "path", "origin",
                              r->origin == APPROVAL_FROM_PROXY ? "proxy" : "agent", "target",
                              r->target, "rule", r->rule, "reason", r->reason, "expires_in_ms",
                              (json_int_t)(r->deadline_ms > now_ms ? r->deadline_ms - now_ms : 0));
        if (o && r->kind == APPROVAL_DEST)
                json_object_set_new(o, "port", json_integer(r->port));
        return o;
}

json_t *approvals_pending_json(const struct approvals *a, int64_t now_ms)
{
        json_t *list = json_array();
        for (size_t i = 0; list && i < a->pending_count; i++)
                json_array_append_new(list, approval_request_json(&a->pending[i], now_ms));
        return list;
}

size_t approvals_pending_count(const struct approvals *a)
{
        return a->pending_count;
}

const char *approval_scope_name(enum approval_scope scope)
{
        return scope == APPROVAL_SCOPE_DOMAIN ? "domain" : "exact";
}

int approval_scope_parse(const char *text, enum approval_scope *out)
{
        if (strcmp(text, "exact") == 0)
                *out = APPROVAL_SCOPE_EXACT;
        else if (strcmp(text, "domain") == 0)
                *out = APPROVAL_SCOPE_DOMAIN;
        else
                return -EINVAL;
        return 0;
}
