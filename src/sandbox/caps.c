/* Capabilities (DESIGN §4): the sandboxed command keeps none, in any set,
 * and can gain none through execve. Runs in the child, inside the new user
 * namespace, where it still holds every capability of that namespace. */
#include "sandbox/caps.h"

#include <errno.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include "util/weaken.h"

/* The bounding set limits what any later execve can grant (setuid-root or
 * file capabilities). Empty it first: dropping needs CAP_SETPCAP, which the
 * next step removes. */
static int drop_bounding_set(struct reins_error *err)
{
        cap_value_t max = cap_max_bits();
        for (cap_value_t cap = 0; cap < max; cap++) {
                if (cap_get_bound(cap) == 0)
                        continue; /* already gone */
                if (cap_drop_bound(cap) < 0)
                        return reins_error_errno(
                            err, errno, "caps: dropping capability %d from the bounding set",
                            (int)cap);
        }
        return 0;
}

/* Ambient capabilities survive execve of unprivileged binaries; inheritable
 * ones leaked into a runtime's children before (CVE-2022-27650). Clear
 * them, then permitted and effective. */
static int clear_process_sets(struct reins_error *err)
{
        if (cap_reset_ambient() < 0)
                return reins_error_errno(err, errno, "caps: clearing the ambient set");
        cap_t empty = cap_init();
        if (!empty)
                return reins_error_errno(err, errno, "caps: cap_init");
        int r = cap_set_proc(empty);
        int saved = errno;
        cap_free(empty);
        if (r < 0)
                return reins_error_errno(err, saved, "caps: clearing the process sets");
        return 0;
}

/* Fail closed: read back what the kernel now holds. */
static int verify_all_dropped(struct reins_error *err)
{
        cap_value_t max = cap_max_bits();
        for (cap_value_t cap = 0; cap < max; cap++)
                if (cap_get_bound(cap) != 0 || cap_get_ambient(cap) > 0)
                        return reins_error_set(err, EPERM,
                                               "caps: capability %d is still held after the drop",
                                               (int)cap);
        cap_t now = cap_get_proc();
        cap_t empty = cap_init();
        int differs = (!now || !empty) ? -1 : cap_compare(now, empty);
        if (now)
                cap_free(now);
        if (empty)
                cap_free(empty);
        if (differs != 0)
                return reins_error_set(err, EPERM, "caps: the process sets are not empty");
        return 0;
}

int caps_drop_all(struct reins_error *err)
{
        if (!weaken("caps")) {
                int r = drop_bounding_set(err);
                if (r < 0 || (r = clear_process_sets(err)) < 0 || (r = verify_all_dropped(err)) < 0)
                        return r;
        }
        /* no_new_privs: execve can no longer raise privileges (setuid bits
         * and file capabilities are ignored); also what seccomp and Landlock
         * require from an unprivileged caller. */
        if (!weaken("nnp") && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return reins_error_errno(err, errno, "caps: setting no_new_privs");
        return 0;
}
