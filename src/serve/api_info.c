/* /v1/policies, /v1/metrics and /v1/whoami. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"
#include "serve/pool.h"
#include "serve/serve_internal.h"
#include "serve/sessions.h"

/* The built-in presets, and whether the caller may start a session under
 * each (an operator: the ones its role lists; with agents in the daemon's
 * configuration, those whose agent may run them). */
void serve_api_policies(const struct serve_request *request, struct serve_reply *reply)
{
        const struct serve_config *config = request->serve->roles.config;
        bool agents = serve_config_uses_agents(config) ||
                      (request->grant && request->grant->agents.count > 0);
        json_t *list = json_array();
        for (const char *const *name = policy_preset_names(); name && *name; name++) {
                struct reins_error err = {0};
                char *agent = NULL;
                const char *why = NULL;
                bool may = agents ? serve_policy_agent(*name, &agent, &err) == 0 &&
                                        serve_request_allows_agent(request, SERVE_RIGHT_START,
                                                                   *name, agent) &&
                                        serve_config_agent_allows(config, *name, agent, &why)
                                  : serve_request_allows(request, SERVE_RIGHT_START, *name);
                free(agent);
                json_array_append_new(list, json_pack("{s:s, s:s, s:b}", "name", *name, "kind",
                                                      "preset", "may_start", may));
        }
        /* the warm pool's policy files (serve/pool.h), each with its pool's
         * state, for the callers who may start a session under them */
        json_auto_t *pools = serve_pool_describe(request->serve->pool);
        size_t i;
        json_t *pool;
        json_array_foreach(pools, i, pool)
        {
                const char *policy = json_string_value(json_object_get(pool, "policy"));
                if (!serve_request_allows(request, SERVE_RIGHT_START, policy))
                        continue;
                json_array_append_new(list,
                                      json_pack("{s:s, s:s, s:b, s:O}", "name", policy, "kind",
                                                "pool", "may_start", 1, "pool", pool));
        }
        serve_reply_json(reply, 200, list);
}

/* Prometheus text exposition format (version 0.0.4). */
struct metrics_text {
        char *data;
        size_t length, size;
        bool failed;
};

static void metrics_add(struct metrics_text *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void metrics_add(struct metrics_text *m, const char *fmt, ...)
{
        for (;;) {
                va_list ap;
                va_start(ap, fmt);
                int n = m->failed ? -1
                                  : vsnprintf(m->data ? m->data + m->length : NULL,
                                              m->data ? m->size - m->length : 0, fmt, ap);
                va_end(ap);
                if (n < 0) {
                        m->failed = true;
                        return;
                }
                if (m->data && m->length + (size_t)n < m->size) {
                        m->length += (size_t)n;
                        return;
                }
                size_t bigger = (m->size ? m->size * 2 : 4096) + (size_t)n;
                char *grown = realloc(m->data, bigger);
                if (!grown) {
                        m->failed = true;
                        return;
                }
                m->data = grown;
                m->size = bigger;
        }
}

void serve_api_metrics(const struct serve_request *request, struct serve_reply *reply)
{
        struct serve *serve = request->serve;
        struct reins_error err = {0};
        json_t *sessions = NULL;
        if (serve_sessions_collect(serve, &sessions, &err) < 0) {
                serve_reply_error(reply, 500, "%s", err.message);
                return;
        }
        unsigned long running = 0, frozen = 0, ended = 0, tiers[4] = {0}, unknown_tier = 0;
        unsigned long pending = 0, findings = 0;
        size_t i;
        json_t *entry;
        json_array_foreach(sessions, i, entry)
        {
                if (!json_is_true(json_object_get(entry, "alive"))) {
                        ended++;
                        continue;
                }
                if (json_is_true(json_object_get(entry, "frozen")))
                        frozen++;
                else
                        running++;
                json_t *tier = json_object_get(entry, "risk_tier");
                json_int_t t = json_integer_value(tier);
                if (json_is_integer(tier) && t >= 0 && t < 4)
                        tiers[t]++;
                else
                        unknown_tier++;
                pending += (unsigned long)json_integer_value(json_object_get(entry, "pending"));
                findings += (unsigned long)json_integer_value(json_object_get(entry, "findings"));
        }
        json_decref(sessions);
        struct metrics_text m = {0};
        metrics_add(&m, "# HELP reins_sessions Sessions known to the daemon, by state.\n"
                        "# TYPE reins_sessions gauge\n");
        metrics_add(&m, "reins_sessions{state=\"running\"} %lu\n", running);
        metrics_add(&m, "reins_sessions{state=\"frozen\"} %lu\n", frozen);
        metrics_add(&m, "reins_sessions{state=\"ended\"} %lu\n", ended);
        metrics_add(&m, "# HELP reins_sessions_by_tier Live sessions by risk tier "
                        "(\"none\": no risk engine or no answer).\n"
                        "# TYPE reins_sessions_by_tier gauge\n");
        for (int t = 0; t < 4; t++)
                metrics_add(&m, "reins_sessions_by_tier{tier=\"%d\"} %lu\n", t, tiers[t]);
        metrics_add(&m, "reins_sessions_by_tier{tier=\"none\"} %lu\n", unknown_tier);
        metrics_add(&m,
                    "# HELP reins_approvals_pending Requests waiting for a human.\n"
                    "# TYPE reins_approvals_pending gauge\nreins_approvals_pending %lu\n",
                    pending);
        metrics_add(&m,
                    "# HELP reins_risk_findings Detection-rule findings in the live sessions.\n"
                    "# TYPE reins_risk_findings gauge\nreins_risk_findings %lu\n",
                    findings);
        metrics_add(&m,
                    "# HELP reins_api_requests_total API calls answered.\n"
                    "# TYPE reins_api_requests_total counter\nreins_api_requests_total %lu\n",
                    (unsigned long)atomic_load(&serve->requests));
        metrics_add(&m,
                    "# HELP reins_api_refused_total API calls refused by role (audited).\n"
                    "# TYPE reins_api_refused_total counter\nreins_api_refused_total %lu\n",
                    (unsigned long)atomic_load(&serve->refused));
        unsigned long ready, taken, missed, retired;
        serve_pool_counts(serve->pool, &ready, &taken, &missed, &retired);
        metrics_add(&m,
                    "# HELP reins_pool_ready Warm pool members built and waiting.\n"
                    "# TYPE reins_pool_ready gauge\nreins_pool_ready %lu\n",
                    ready);
        metrics_add(&m,
                    "# HELP reins_pool_starts_total Sessions started from the warm pool, and "
                    "pooled requests started cold (no member ready, or a stale one).\n"
                    "# TYPE reins_pool_starts_total counter\n"
                    "reins_pool_starts_total{from=\"pool\"} %lu\n"
                    "reins_pool_starts_total{from=\"cold\"} %lu\n",
                    taken, missed);
        metrics_add(&m,
                    "# HELP reins_pool_retired_total Members that ended untaken (their workspace "
                    "or policy changed).\n"
                    "# TYPE reins_pool_retired_total counter\nreins_pool_retired_total %lu\n",
                    retired);
        if (m.failed) {
                free(m.data);
                serve_reply_error(reply, 500, "out of memory");
                return;
        }
        reply->status = 200;
        reply->text = m.data;
        reply->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

static json_t *info_strv(const struct reins_strv *v)
{
        if (v->count == 0)
                return json_null();
        json_t *list = json_array();
        for (size_t i = 0; i < v->count; i++)
                json_array_append_new(list, json_string(v->items[i]));
        return list;
}

/* Who the caller is to the daemon, and what its role lets it do at all
 * (per session, GET /v1/sessions says; a page hides what it cannot use).
 * A dashboard page logged in by cookie also learns its CSRF token here:
 * this answer is readable by the page's own script only (same-origin, no
 * CORS), never by another site's. */
void serve_api_whoami(const struct serve_request *request, struct serve_reply *reply)
{
        static const enum serve_right rights[] = {
            SERVE_RIGHT_READ_SESSIONS, SERVE_RIGHT_READ_OUTPUT,   SERVE_RIGHT_START,
            SERVE_RIGHT_CONTROL,       SERVE_RIGHT_READ_POLICIES, SERVE_RIGHT_READ_METRICS,
            SERVE_RIGHT_APPROVE,       SERVE_RIGHT_READ_AUDIT,    SERVE_RIGHT_READ_DIFF,
        };
        const struct serve_grant *grant = request->grant;
        json_t *allowed = json_array();
        for (size_t i = 0; i < sizeof(rights) / sizeof(rights[0]); i++)
                if (serve_request_allows(request, rights[i], NULL))
                        json_array_append_new(allowed, json_string(serve_right_name(rights[i])));
        json_t *out = json_pack("{s:s?, s:I, s:s, s:o, s:o, s:o}", "token", request->token, "uid",
                                (json_int_t)request->uid, "role",
                                serve_role_name(grant ? grant->role : SERVE_ROLE_NONE), "policies",
                                grant ? info_strv(&grant->policies) : json_null(), "agents",
                                grant ? info_strv(&grant->agents) : json_null(), "rights", allowed);
        if (out && request->csrf[0])
                json_object_set_new(out, "csrf", json_string(request->csrf));
        serve_reply_json(reply, 200, out);
}
