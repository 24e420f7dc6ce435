/* Freezing a running sandbox (the risk engine's top tier), by the strongest
 * means at hand:
 *
 *   cgroup freezer  the sandbox's own freezer cgroup (v1 freezer.state or v2
 *                   cgroup.freeze), when reins could create one at start-up
 *                   (root, or a delegated v2 subtree). Preferred: the kernel
 *                   holds every task of the cgroup at once, pid 1 included,
 *                   and nothing inside can undo it: a frozen task runs no
 *                   instruction, so it sends no SIGCONT and writes no
 *                   THAWED. Every process the sandbox forks is born in the
 *                   cgroup, and none can leave it beforehand: the sandbox
 *                   cannot mount a cgroupfs (seccomp), and the plan never
 *                   binds /sys writable.
 *   SIGSTOP         otherwise: every process of its pid namespace gets
 *                   SIGSTOP (from an ancestor namespace SIGSTOP reaches a
 *                   namespace's init). Weaker: until the last one is stopped,
 *                   a running one can SIGCONT its stopped siblings, and forks
 *                   racing the stop are only caught by repeating passes.
 *
 * A thaw undoes the freeze by the mechanism that made it. Ending a frozen
 * sandbox needs care too: a frozen or stopped pid 1 relays no signal, and a
 * task frozen in a v1 cgroup does not act on SIGKILL until it is thawed; so
 * a v1 freeze also starts a watchdog that ends the sandbox if the
 * supervisor dies while it is frozen (freeze_watchdog.c). */
#ifndef REINS_SANDBOX_FREEZE_H
#define REINS_SANDBOX_FREEZE_H

#include <sys/types.h>

#include "util/error.h"

enum freeze_mechanism {
        FREEZE_NONE = 0,  /* not frozen (or no cgroup: SIGSTOP stands in) */
        FREEZE_CGROUP_V1, /* freezer.state of a v1 freezer cgroup */
        FREEZE_CGROUP_V2, /* cgroup.freeze of a v2 cgroup */
        FREEZE_SIGSTOP,   /* SIGSTOP of every process of the pid namespace */
};

/* What the caller has: the sandbox's freezer cgroup, if any, and always its
 * pid 1 (host pid). Borrowed. */
struct freeze_target {
        enum freeze_mechanism cgroup; /* FREEZE_CGROUP_V1/V2, or FREEZE_NONE */
        const char *cgroup_dir;       /* the cgroup holding the whole sandbox */
        pid_t init;
};

/* A freeze in force; zero-initialized means none. */
struct freeze_state {
        enum freeze_mechanism used; /* how it was frozen; FREEZE_NONE: it is not */
        pid_t watchdog;             /* v1: the watchdog's pid, 0 when none */
        int watchdog_fd;            /* v1: our end of its pipe (while watchdog > 0) */
};

/* Freeze through the cgroup when there is one (SIGSTOP when there is none or
 * it refuses) and wait, bounded, until the kernel reports it frozen.
 * state->used says how it was frozen; it is set also when the wait times
 * out (-ETIMEDOUT: the freeze holds, a process in uninterruptible sleep
 * freezes when it wakes) and stays FREEZE_NONE when nothing was frozen.
 * Returns the number of processes frozen, or -errno with err filled. */
int freeze_sandbox(const struct freeze_target *target, struct freeze_state *state,
                   struct reins_error *err);
/* Undo the freeze by the mechanism that made it, and forget it. Returns the
 * number of processes thawed. */
int thaw_sandbox(const struct freeze_target *target, struct freeze_state *state,
                 struct reins_error *err);
/* End a frozen sandbox without letting it run another instruction of its
 * own, and forget the freeze. */
void freeze_kill(const struct freeze_target *target, struct freeze_state *state);
/* The sandbox is gone: forget the freeze (and send its watchdog away). */
void freeze_state_release(struct freeze_state *state);
/* SIGKILL every process of the v1 freezer cgroup `dir`, then thaw it: a
 * frozen task dies on its way out of the freezer. Returns how many. */
int freeze_kill_cgroup_v1(const char *dir);
/* "cgroup-v1", "cgroup-v2", "sigstop" ("none" for FREEZE_NONE). */
const char *freeze_mechanism_name(enum freeze_mechanism mechanism);

#endif
