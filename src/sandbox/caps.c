/* Capabilities (DESIGN §4): the sandboxed command keeps none, in any set,
 * and can gain none through execve; a container (reins oci) keeps what its
 * config.json asks among those reins grants (oci/spec.c), which act only
 * inside its own namespaces. Runs in the child, inside the new user
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
 * file capabilities). Empty it first (but for what `keep` names: a
 * container's granted set): dropping needs CAP_SETPCAP, which the next step
 * removes. Dropping one already gone succeeds: no read first (the result is
 * read back once, below). */
static int drop_bounding_set(uint64_t keep, struct reins_error *err)
{
        cap_value_t max = cap_max_bits();
        for (cap_value_t cap = 0; cap < max; cap++)
                if (!((keep >> cap) & 1) && cap_drop_bound(cap) < 0)
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

/* A container's granted sets (plan_root.cap_*), instead of the clearing
 * above: permitted, effective and inheritable at once (each only ever
 * lowered from the full sets still held: nothing can be raised once
 * permitted is empty), then the ambient ones, which need both of the
 * first two. */
static int caps_set_granted(const struct plan_root *root, struct reins_error *err)
{
        if (cap_reset_ambient() < 0)
                return reins_error_errno(err, errno, "caps: clearing the ambient set");
        cap_t caps = cap_init();
        if (!caps)
                return reins_error_errno(err, errno, "caps: cap_init");
        const struct {
                cap_flag_t flag;
                uint64_t bits;
        } sets[] = {{CAP_PERMITTED, root->cap_permitted},
                    {CAP_EFFECTIVE, root->cap_effective},
                    {CAP_INHERITABLE, root->cap_inheritable}};
        int r = 0;
        for (size_t i = 0; r == 0 && i < sizeof(sets) / sizeof(*sets); i++)
                for (cap_value_t cap = 0; r == 0 && cap < 64; cap++)
                        if ((sets[i].bits >> cap) & 1)
                                r = cap_set_flag(caps, sets[i].flag, 1, &cap, CAP_SET);
        if (r == 0)
                r = cap_set_proc(caps);
        int saved = errno;
        cap_free(caps);
        if (r < 0)
                return reins_error_errno(err, saved, "caps: setting process.capabilities");
        for (cap_value_t cap = 0; cap < 64; cap++)
                if (((root->cap_ambient >> cap) & 1) && cap_set_ambient(cap, CAP_SET) < 0)
                        return reins_error_errno(err, errno,
                                                 "caps: raising ambient capability %d (it needs "
                                                 "to be permitted and inheritable too)",
                                                 (int)cap);
        return 0;
}

/* The kernel's own account of a capability set in /proc/self/status
 * ("CapBnd:\t0000000000000000"): its bits, or -1 when the line is missing
 * or malformed. */
static int caps_status_set(const char *status, const char *key, uint64_t *bits)
{
        const char *line = strstr(status, key);
        if (!line)
                return -1;
        line += strlen(key);
        while (*line == '\t' || *line == ' ')
                line++;
        char *end = NULL;
        errno = 0;
        unsigned long long value = strtoull(line, &end, 16);
        if (errno != 0 || end == line || (*end != '\n' && *end != '\0'))
                return -1;
        *bits = value;
        return 0;
}

/* Fail closed: read back what the kernel now holds, every set: nothing,
 * or exactly a container's granted sets. */
static int verify_sets(const struct plan_root *root, struct reins_error *err)
{
        static const char *const sets[] = {
            "\nCapInh:", "\nCapPrm:", "\nCapEff:", "\nCapBnd:", "\nCapAmb:"};
        bool given = root && root->caps_given;
        const uint64_t wanted[] = {given ? root->cap_inheritable : 0,
                                   given ? root->cap_permitted : 0, given ? root->cap_effective : 0,
                                   given ? root->cap_bounding : 0, given ? root->cap_ambient : 0};
        char status[8192];
        int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, status, sizeof(status) - 1) : -1;
        if (fd >= 0)
                close(fd);
        if (n <= 0)
                return reins_error_errno(err, n < 0 ? errno : EIO,
                                         "caps: reading /proc/self/status to check the drop");
        status[n] = '\0';
        for (size_t i = 0; i < sizeof(sets) / sizeof(*sets); i++) {
                uint64_t bits = 0;
                if (caps_status_set(status, sets[i], &bits) < 0 || bits != wanted[i])
                        return reins_error_set(err, EPERM,
                                               "caps: %s is not what the drop left (%s)",
                                               sets[i] + 1, given ? "the granted set" : "empty");
        }
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
                bool given = root && root->caps_given;
                int r = drop_bounding_set(given ? root->cap_bounding : 0, err);
                if (r < 0 || (r = caps_switch_ids(root, err)) < 0 ||
                    (!given && (r = clear_process_sets(err)) < 0) ||
                    (given && (r = caps_set_granted(root, err)) < 0) ||
                    (r = verify_sets(root, err)) < 0)
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
