/* Who may do what through the API (issue 15, "Roles"). The caller is the
 * uid the kernel gives for the connection (SO_PEERCRED), never something
 * the request says.
 *
 *   right            admin  operator      approver  auditor
 *   read sessions      x    its policies     x         x
 *   read output        x    its policies               x
 *   start a session    x    its policies
 *   stop/freeze/thaw,  x    its policies
 *   apply/discard          (the "control" right)
 *   read policies      x       x             x         x
 *   read metrics       x                               x
 *   answer approvals   x                  its policies
 *                                         (all without a list)
 *   read audit trails  x                               x
 *   read diffs         x    its policies               x
 *
 * An operator or approver given `agents: [...]` is narrowed further to the
 * sessions whose policy names one of those agents (a session whose agent is
 * unknown is outside every such list). The daemon-wide `agents:` map (which
 * agent may run under which policy) is config.h's serve_config_agent_allows,
 * checked at every start whatever the caller's role.
 *
 * Without a configuration file only root and the daemon's own uid may call;
 * with one, root and the daemon's uid stay admins (they own the daemon
 * anyway) and everyone else has the role the file gives, or none. */
#ifndef REINS_SERVE_ROLES_H
#define REINS_SERVE_ROLES_H

#include <stdbool.h>
#include <sys/types.h>

#include "serve/config.h"

enum serve_right {
        SERVE_RIGHT_READ_SESSIONS,
        SERVE_RIGHT_READ_OUTPUT,
        SERVE_RIGHT_START,
        SERVE_RIGHT_CONTROL,
        SERVE_RIGHT_READ_POLICIES,
        SERVE_RIGHT_READ_METRICS,
        SERVE_RIGHT_APPROVE,
        SERVE_RIGHT_READ_AUDIT,
        SERVE_RIGHT_READ_DIFF, /* a copy-on-write session's changes */
};

struct serve_roles {
        uid_t daemon_uid;
        const struct serve_config *config; /* NULL: no configuration file */
};

/* The caller's grant; NULL when it has no role (refused everything). For
 * root and the daemon's uid: a static admin grant. */
const struct serve_grant *serve_roles_lookup(const struct serve_roles *roles, uid_t uid);

/* May `uid` use `right`? `policy`: the policy of the session concerned (as
 * written at its start), NULL when the right is not about one session;
 * `agent`: that policy's agent (NULL or "": none, or not known).
 * When refused, *why says so in a phrase fit for the API's error. */
bool serve_roles_allows(const struct serve_roles *roles, uid_t uid, enum serve_right right,
                        const char *policy, const char *agent, const char **why);

/* The same for a grant already found (a uid's, or an API token's, which
 * tokens.h looks up); `grant` NULL: refused, with `no_grant_why`. */
bool serve_grant_allows(const struct serve_grant *grant, const char *no_grant_why,
                        enum serve_right right, const char *policy, const char *agent,
                        const char **why);

/* Why a uid without a grant is refused, with this configuration. */
const char *serve_roles_no_grant(const struct serve_roles *roles);

const char *serve_right_name(enum serve_right right);

#endif
