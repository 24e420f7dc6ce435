/* Freeze, thaw and end a frozen sandbox by the mechanism at hand (freeze.h). */
#include "sandbox/freeze.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>

#include "sandbox/freeze_internal.h"
#include "util/cleanup.h"

const char *freeze_mechanism_name(enum freeze_mechanism mechanism)
{
        switch (mechanism) {
        case FREEZE_CGROUP_V1:
                return "cgroup-v1";
        case FREEZE_CGROUP_V2:
                return "cgroup-v2";
        case FREEZE_SIGSTOP:
                return "sigstop";
        default:
                return "none";
        }
}

static int freeze_by_signal(const struct freeze_target *target, struct freeze_state *state,
                            struct reins_error *err)
{
        int n = freeze_signal_namespace(target->init, SIGSTOP);
        if (n < 0)
                return reins_error_errno(err, -n, "stopping the sandbox's processes");
        state->used = FREEZE_SIGSTOP;
        return n;
}

int freeze_sandbox(const struct freeze_target *target, struct freeze_state *state,
                   struct reins_error *err)
{
        *state = (struct freeze_state){.used = FREEZE_NONE, .watchdog_fd = -1};
        if (target->cgroup == FREEZE_NONE || !target->cgroup_dir)
                return freeze_by_signal(target, state, err);
        /* a cgroup that refuses must not leave the sandbox running: the
         * weaker freeze is better than none */
        if (freeze_cgroup_set(target->cgroup, target->cgroup_dir, true) < 0)
                return freeze_by_signal(target, state, err);
        state->used = target->cgroup;
        /* without it, a supervisor killed now would leave the sandbox frozen
         * (not dead) for good; the freeze holds either way */
        if (target->cgroup == FREEZE_CGROUP_V1)
                freeze_watchdog_start(target->cgroup_dir, state);
        int r = freeze_cgroup_wait(target->cgroup, target->cgroup_dir);
        if (r == -ETIMEDOUT)
                return reins_error_set(err, ETIMEDOUT,
                                       "%s: not every process froze within %d ms (one in "
                                       "uninterruptible sleep freezes when it wakes)",
                                       target->cgroup_dir, FREEZE_WAIT_MS);
        if (r < 0)
                return reins_error_errno(err, -r, "%s: reading the freezer state",
                                         target->cgroup_dir);
        int n = freeze_cgroup_count(target->cgroup_dir);
        return n < 0 ? reins_error_errno(err, -n, "%s: listing the frozen processes",
                                         target->cgroup_dir)
                     : n;
}

void freeze_state_release(struct freeze_state *state)
{
        freeze_watchdog_stop(state);
        *state = (struct freeze_state){.used = FREEZE_NONE, .watchdog_fd = -1};
}

int thaw_sandbox(const struct freeze_target *target, struct freeze_state *state,
                 struct reins_error *err)
{
        enum freeze_mechanism used = state->used;
        if (used == FREEZE_NONE)
                return 0;
        if (used == FREEZE_SIGSTOP) {
                int n = freeze_signal_namespace(target->init, SIGCONT);
                if (n < 0)
                        return reins_error_errno(err, -n, "continuing the sandbox's processes");
                freeze_state_release(state);
                return n;
        }
        int n = freeze_cgroup_count(target->cgroup_dir);
        int r = freeze_cgroup_set(used, target->cgroup_dir, false);
        if (r < 0)
                return reins_error_errno(err, -r, "%s: thawing", target->cgroup_dir);
        freeze_state_release(state);
        return n < 0 ? 0 : n;
}

int freeze_kill_cgroup_v1(const char *dir)
{
        cleanup_fd int procs_fd = freeze_cgroup_open(dir, "cgroup.procs", O_RDONLY);
        cleanup_fd int state_fd = freeze_cgroup_open(dir, "freezer.state", O_WRONLY);
        if (procs_fd < 0 || state_fd < 0)
                return procs_fd < 0 ? procs_fd : state_fd;
        return freeze_cgroup_kill_v1_fds(procs_fd, state_fd);
}

void freeze_kill(const struct freeze_target *target, struct freeze_state *state)
{
        /* SIGKILL reaches a stopped task and one frozen in a v2 cgroup, and
         * pid 1's death takes the whole pid namespace with it */
        kill(target->init, SIGKILL);
        /* in a v1 freezer cgroup it waits for a thaw (seen on Linux 6.18) */
        if (state->used == FREEZE_CGROUP_V1 && target->cgroup_dir)
                freeze_kill_cgroup_v1(target->cgroup_dir);
        freeze_state_release(state);
}
