/* Capabilities (DESIGN §4): the sandboxed command keeps none, in any set,
 * and can gain none through execve. Runs in the child, inside the new user
 * namespace, where it still holds every capability of that namespace. */
#include "sandbox/caps.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <grp.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "util/weaken.h"

/* The bounding set limits what any later execve can grant (setuid-root or
 * file capabilities). Empty it first: dropping needs CAP_SETPCAP, which the
 * next step removes. Dropping one already gone succeeds: no read first (the
 * result is read back once, below). */
static int drop_bounding_set(struct reins_error *err)
{
        cap_value_t max = cap_max_bits();
        for (cap_value_t cap = 0; cap < max; cap++)
                if (cap_drop_bound(cap) < 0)
                        return reins_error_errno(
                            err, errno, "caps: dropping capability %d from the bounding set",
                            (int)cap);
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

/* The kernel's own account of a capability set in /proc/self/status
 * ("CapBnd:\t0000000000000000"): one read instead of a prctl per
 * capability and set. -1 when the line is missing or malformed. */
static int caps_status_set_empty(const char *status, const char *key)
{
        const char *line = strstr(status, key);
        if (!line)
                return -1;
        line += strlen(key);
        while (*line == '\t' || *line == ' ')
                line++;
        char *end = NULL;
        errno = 0;
        unsigned long long bits = strtoull(line, &end, 16);
        if (errno != 0 || end == line || (*end != '\n' && *end != '\0'))
                return -1;
        return bits == 0 ? 1 : 0;
}

/* Fail closed: read back what the kernel now holds, every set. */
static int verify_all_dropped(struct reins_error *err)
{
        static const char *const sets[] = {
            "\nCapInh:", "\nCapPrm:", "\nCapEff:", "\nCapBnd:", "\nCapAmb:"};
        char status[8192];
        int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, status, sizeof(status) - 1) : -1;
        if (fd >= 0)
                close(fd);
        if (n <= 0)
                return reins_error_errno(err, n < 0 ? errno : EIO,
                                         "caps: reading /proc/self/status to check the drop");
        status[n] = '\0';
        for (size_t i = 0; i < sizeof(sets) / sizeof(*sets); i++)
                if (caps_status_set_empty(status, sets[i]) != 1)
                        return reins_error_set(err, EPERM, "caps: %s is not empty after the drop",
                                               sets[i] + 1);
        return 0;
}

/* A container's user and groups (reins oci: process.user), taken while
 * CAP_SETUID/CAP_SETGID are still held, after the bounding set is empty:
 * the capabilities go next whatever the uid is. setgroups is refused in a
 * user namespace whose setgroups file says deny (an unprivileged caller's):
 * then the container may ask for no additional group. */
static int caps_switch_ids(const struct plan_root *root, struct reins_error *err)
{
        if (!root || !root->set_ids)
                return 0;
        gid_t groups[64];
        size_t count = root->group_count < 64 ? root->group_count : 64;
        for (size_t i = 0; i < count; i++)
                groups[i] = root->groups[i];
        if (count > 0 && setgroups(count, groups) < 0)
                return reins_error_errno(err, errno, "process.user.additionalGids");
        if (count == 0 && setgroups(0, NULL) < 0 && errno != EPERM)
                return reins_error_errno(err, errno, "setgroups");
        if (setresgid(root->gid, root->gid, root->gid) < 0)
                return reins_error_errno(err, errno,
                                         "process.user.gid %u (not mapped in the container's user "
                                         "namespace?)",
                                         root->gid);
        if (setresuid(root->uid, root->uid, root->uid) < 0)
                return reins_error_errno(err, errno,
                                         "process.user.uid %u (not mapped in the container's user "
                                         "namespace?)",
                                         root->uid);
        return 0;
}

int caps_drop_all(const struct plan_root *root, struct reins_error *err)
{
        if (!weaken("caps")) {
                /* keep the permitted set across the uid change, to clear it
                 * below and check it is gone */
                prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0);
                int r = drop_bounding_set(err);
                if (r < 0 || (r = caps_switch_ids(root, err)) < 0 ||
                    (r = clear_process_sets(err)) < 0 || (r = verify_all_dropped(err)) < 0)
                        return r;
                prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
        } else {
                int r = caps_switch_ids(root, err);
                if (r < 0)
                        return r;
        }
        /* no_new_privs: execve can no longer raise privileges (setuid bits
         * and file capabilities are ignored); also what seccomp and Landlock
         * require from an unprivileged caller. */
        if (!weaken("nnp") && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return reins_error_errno(err, errno, "caps: setting no_new_privs");
        return 0;
}
