/* Resource limits through cgroups: v2 where a delegated subtree is writable,
 * v1 memory/pids/cpu hierarchies as root; otherwise the caller falls back to
 * rlimits (and says so) or refuses with --strict. */
#ifndef REINS_SANDBOX_CGROUP_H
#define REINS_SANDBOX_CGROUP_H

#include <stdbool.h>
#include <sys/types.h>

#include "sandbox/plan.h"
#include "util/error.h"

enum cgroup_mode { CGROUP_NONE = 0, CGROUP_V1, CGROUP_V2 };

#define CGROUP_MAX_DIRS 3

struct cgroup_handle {
        enum cgroup_mode mode;
        char *dirs[CGROUP_MAX_DIRS]; /* created cgroup directories */
        int count;
        char *memory_dir; /* the one holding memory accounting (OOM reports) */
        /* How the sandbox joins: its pid 1 writes "0" to each of these files
         * itself (opened here, so the write is checked against our
         * credentials). In v1 they are `tasks` files: a single thread moving
         * itself skips the global threadgroup lock and its RCU grace period. */
        int join_fds[CGROUP_MAX_DIRS];
        int join_count;
};

/* Create cgroup(s) for the limits in `limits` (nothing when none is set).
 * -ENOTSUP (with a reason in err) when neither v2 delegation nor v1-as-root
 * is available. */
int cgroup_create(const struct cgroup_plan *limits, struct cgroup_handle *handle,
                  struct reins_error *err);
/* In the child, before the command starts: move the calling
 * (single-threaded) process in, through the join fds. Async-signal-safe. */
int cgroup_join_self(const int *join_fds, int count);
/* How many times the memory limit killed a process (0 when unknown). */
long cgroup_oom_kills(const struct cgroup_handle *handle);
/* The highest memory use of the sandbox in bytes (0 when unknown). */
long cgroup_memory_peak(const struct cgroup_handle *handle);
/* Remove the directories (the sandbox must be gone) and free the handle. */
void cgroup_destroy(struct cgroup_handle *handle);
/* For doctor and the fallback message: why cgroups cannot be used here. */
const char *cgroup_unavailable_reason(void);

#endif
