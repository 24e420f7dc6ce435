/* The daemon's configuration file (YAML): who may call the API and as what.
 *
 *   version: 1
 *   users:
 *     alice:                     # a user name, or a numeric uid
 *       role: operator           # admin | operator | approver | auditor
 *       policies: [default, coding-agent]   # operator: the policies it may run;
 *                                            # approver: those it may answer for
 *     1001:
 *       role: auditor
 *   forward: [...]              # serve/targets.h
 *   notify: [...]
 *
 * Unknown keys, unknown users, a role without its needs: refused at start,
 * as `FILE:LINE: KEY: what is wrong` (the policy's error form). */
#ifndef REINS_SERVE_CONFIG_H
#define REINS_SERVE_CONFIG_H

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
};

struct serve_config {
        struct serve_grant *grants;
        size_t count;
        struct serve_targets targets; /* forward:, notify: (serve/targets.h) */
};

/* Read FILE (at most 1 MiB). */
int serve_config_load(const char *path, struct serve_config *out, struct reins_error *err);
/* Parse YAML text; `origin` names it in errors. */
int serve_config_parse(const char *text, size_t length, const char *origin,
                       struct serve_config *out, struct reins_error *err);
void serve_config_free(struct serve_config *config);

const char *serve_role_name(enum serve_role role);

#endif
