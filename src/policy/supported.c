/* Keys this version of reins parses but cannot enforce yet (the network
 * section is checked against the command line in the plan). Accepting them
 * silently would be the worst failure of a sandbox (DESIGN §3 rule 5): a user
 * who wrote `network: {mode: proxy, allow: [...]}` must not believe an
 * egress filter is running. So each one is refused, naming where it was
 * written. */
#include "policy/policy_internal.h"

#include <errno.h>

#define NOT_YET "not supported yet in this version of reins"

/* "FILE:LINE: KEY: WHAT not supported yet..." or without the place when the
 * key's origin is unknown (a policy built by hand). */
static int refuse(const struct reins_policy *policy, enum policy_key key, const char *name,
                  const char *what, struct reins_error *err)
{
        const struct policy_origin *at = policy_origin_get(policy, key);
        if (at)
                return reins_error_set(err, EOPNOTSUPP, "%s:%lu: %s: %s is " NOT_YET, at->file,
                                       at->line, name, what);
        return reins_error_set(err, EOPNOTSUPP, "%s: %s is " NOT_YET, name, what);
}

int policy_check_supported(const struct reins_policy *policy, struct reins_error *err)
{
        if (policy->exec.deny.count)
                return refuse(policy, POLICY_KEY_EXEC_DENY, "exec.deny", "denying executables",
                              err);
        return 0;
}
