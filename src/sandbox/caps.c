/* Capabilities (DESIGN §4): the sandboxed command keeps none, in any set,
 * and can gain none through execve. Runs in the child, inside the new user
 * namespace, where it still holds every capability of that namespace. */
#include "sandbox/caps.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
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
