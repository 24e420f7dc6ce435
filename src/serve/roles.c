/* The role table (serve/roles.h): a pure function of the configuration,
 * the caller's uid, the right and the session's policy. */
#include "serve/roles.h"

#include <stddef.h>
#include <string.h>

#include "util/cleanup.h"

static const struct serve_grant admin_grant = {.role = SERVE_ROLE_ADMIN};

static const char *const right_names[] = {
    [SERVE_RIGHT_READ_SESSIONS] = "read-sessions",
    [SERVE_RIGHT_READ_OUTPUT] = "read-output",
    [SERVE_RIGHT_START] = "start",
    [SERVE_RIGHT_CONTROL] = "control",
    [SERVE_RIGHT_READ_POLICIES] = "read-policies",
    [SERVE_RIGHT_READ_METRICS] = "read-metrics",
    [SERVE_RIGHT_APPROVE] = "approve",
    [SERVE_RIGHT_READ_AUDIT] = "read-audit",
    [SERVE_RIGHT_READ_DIFF] = "read-diff",
};

const char *serve_right_name(enum serve_right right)
{
        return (size_t)right < ARRAY_SIZE(right_names) ? right_names[right] : "?";
}

const struct serve_grant *serve_roles_lookup(const struct serve_roles *roles, uid_t uid)
{
        if (uid == 0 || uid == roles->daemon_uid)
                return &admin_grant;
        for (size_t i = 0; roles->config && i < roles->config->count; i++)
                if (roles->config->grants[i].uid == uid)
                        return &roles->config->grants[i];
        return NULL;
}

/* Which roles hold a right at all (the operator's are narrowed by policy). */
static bool role_has(enum serve_role role, enum serve_right right)
{
        switch (role) {
        case SERVE_ROLE_ADMIN:
                return true;
        case SERVE_ROLE_OPERATOR:
                return right != SERVE_RIGHT_READ_METRICS && right != SERVE_RIGHT_APPROVE &&
                       right != SERVE_RIGHT_READ_AUDIT;
        case SERVE_ROLE_APPROVER:
                return right == SERVE_RIGHT_READ_SESSIONS || right == SERVE_RIGHT_READ_POLICIES ||
                       right == SERVE_RIGHT_APPROVE;
        case SERVE_ROLE_AUDITOR:
                return right == SERVE_RIGHT_READ_SESSIONS || right == SERVE_RIGHT_READ_OUTPUT ||
                       right == SERVE_RIGHT_READ_POLICIES || right == SERVE_RIGHT_READ_METRICS ||
                       right == SERVE_RIGHT_READ_AUDIT || right == SERVE_RIGHT_READ_DIFF;
        case SERVE_ROLE_NONE:
                break;
        }
        return false;
}

const char *serve_roles_no_grant(const struct serve_roles *roles)
{
        return roles->config ? "this user has no role in the daemon's configuration"
                             : "only the daemon's own user and root may call it "
                               "(give others a role with --config)";
}

bool serve_grant_allows(const struct serve_grant *grant, const char *no_grant_why,
                        enum serve_right right, const char *policy, const char *agent,
                        const char **why)
{
        if (!grant) {
                *why = no_grant_why;
                return false;
        }
        if (!role_has(grant->role, right)) {
                *why = "this role does not allow it";
                return false;
        }
        /* an operator acts on its own policies only, as written, exactly;
         * so does an approver given a list */
        bool listed = grant->role == SERVE_ROLE_OPERATOR ||
                      (grant->role == SERVE_ROLE_APPROVER && grant->policies.count > 0);
        if (listed && policy && !strv_contains(&grant->policies, policy)) {
                *why = grant->role == SERVE_ROLE_OPERATOR ? "this operator may not use that policy"
                                                          : "this approver may not answer for "
                                                            "that policy";
                return false;
        }
        /* and to its agents, when it lists them: a session whose agent is
         * not known (none named) is in no list */
        bool agent_listed =
            (grant->role == SERVE_ROLE_OPERATOR || grant->role == SERVE_ROLE_APPROVER) &&
            grant->agents.count > 0;
        if (agent_listed && policy && (!agent || !strv_contains(&grant->agents, agent))) {
                *why = grant->role == SERVE_ROLE_OPERATOR
                           ? "this operator may not run that policy's agent"
                           : "this approver may not answer for that policy's agent";
                return false;
        }
        return true;
}

bool serve_roles_allows(const struct serve_roles *roles, uid_t uid, enum serve_right right,
                        const char *policy, const char *agent, const char **why)
{
        return serve_grant_allows(serve_roles_lookup(roles, uid), serve_roles_no_grant(roles),
                                  right, policy, agent, why);
}
