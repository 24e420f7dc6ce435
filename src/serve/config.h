/* The daemon's configuration file (YAML): who may call the API and as what.
 *
 *   version: 1
 *   users:
 *     alice:                     # a user name, or a numeric uid
 *       role: operator           # admin | operator | approver | auditor
 *       policies: [default, coding-agent]   # operator: the policies it may run;
 *                                            # approver: those it may answer for
 *       agents: [claude-code]    # operator, approver (optional): only sessions
 *                                # whose policy names one of these agents
 *     1001:
 *       role: auditor
 *   agents:                      # optional: which agent (a policy's `agent:`)
 *     claude-code: [dev, ci]     # may run under which policies (as written in
 *     codex: [sandboxed]         # POST /v1/sessions); with this key, a start
 *                                # whose policy's agent is missing here, or is
 *                                # not given that policy, is refused (403) --
 *                                # a policy naming no agent included
 *   forward: [...]              # serve/targets.h
 *   notify: [...]
 *   pool:                       # warm pools (serve/pool.h): a policy file whose
 *     - policy: /etc/reins/ci.yaml   # `pool: N` says how many, for one workspace
 *       workspace: /srv/ci/work
 *
 * Unknown keys, unknown users, a role without its needs: refused at start,
 * as `FILE:LINE: KEY: what is wrong` (the policy's error form). */
#ifndef REINS_SERVE_CONFIG_H
#define REINS_SERVE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "serve/targets.h"
#include "util/error.h"
#include "util/strv.h"

enum serve_role {
        SERVE_ROLE_NONE,
        SERVE_ROLE_ADMIN,    /* everything */
        SERVE_ROLE_OPERATOR, /* start, stop, freeze, thaw sessions of its policies; their
                                diffs, apply, discard */
        SERVE_ROLE_APPROVER, /* see sessions, answer their approvals (of its policies) */
        SERVE_ROLE_AUDITOR,  /* read sessions, their output, trails and diffs, metrics */
};

struct serve_grant {
        uid_t uid;
        enum serve_role role;
        struct reins_strv policies; /* operator, approver: names or paths, as written */
        struct reins_strv agents;   /* operator, approver: agent names; none: any agent */
};

/* agents.NAME: the policies a session of that agent may run under. */
struct serve_agent {
        char *name;
        struct reins_strv policies; /* as written */
};

/* pool: one policy file kept warm for one workspace (serve/pool.h). */
struct serve_pool_spec {
        char *policy;    /* an absolute file path */
        char *workspace; /* an absolute directory path */
};

#define SERVE_POOL_SPECS_MAX 64

struct serve_config {
        struct serve_grant *grants;
        size_t count;
        struct serve_pool_spec *pools;
        size_t pool_count;
        struct serve_agent *agents; /* agents: (with agents_given) */
        size_t agent_count;
        bool agents_given;            /* agents: present: every start is checked against it */
        struct serve_targets targets; /* forward:, notify: (serve/targets.h) */
};

/* Read FILE (at most 1 MiB). */
int serve_config_load(const char *path, struct serve_config *out, struct reins_error *err);
/* Parse YAML text; `origin` names it in errors. */
int serve_config_parse(const char *text, size_t length, const char *origin,
                       struct serve_config *out, struct reins_error *err);
void serve_config_free(struct serve_config *config);

const char *serve_role_name(enum serve_role role);

/* May a session of `agent` (the policy's agent:, NULL or "" when it names
 * none) run under `policy` (as written in the start)? Always, without an
 * agents: key; else only when agents.AGENT lists the policy. When not, *why
 * says so (a phrase for the API's error). */
bool serve_config_agent_allows(const struct serve_config *config, const char *policy,
                               const char *agent, const char **why);
/* Does anything in the configuration depend on a session's agent (the
 * agents: key, or a grant limited to agents)? */
bool serve_config_uses_agents(const struct serve_config *config);

#endif
