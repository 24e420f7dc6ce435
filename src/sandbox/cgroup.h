/* Resource limits through cgroups: v2 where a delegated subtree is writable,
 * v1 memory/pids/cpu hierarchies as root; otherwise the caller falls back to
 * rlimits (and says so) or refuses with --strict. And, for the risk engine,
 * a cgroup the whole sandbox can be frozen in (freeze.h). */
#ifndef REINS_SANDBOX_CGROUP_H
#define REINS_SANDBOX_CGROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "sandbox/plan.h"
#include "util/error.h"

enum cgroup_mode { CGROUP_NONE = 0, CGROUP_V1, CGROUP_V2 };

#define CGROUP_MAX_DIRS 6 /* v1: memory, pids, cpu, cpuset and freezer (+ a spare) */

/* How many of the sessions' cgroups one start looks at for a dead
 * supervisor: a start then costs the same beside 1 000 running sessions
 * (looking at all of them was a kill(0) each, 3 000 per start), and what a
 * kill -9 left still goes within a few starts, from a different place in
 * the listing each time. */
#define CGROUP_STALE_CHECKS 16

struct cgroup_handle {
        enum cgroup_mode mode;       /* where the limits are; CGROUP_NONE: no limits */
        char name[64];               /* reins-PID-N: one name for the sandbox's dirs */
        const char *path;            /* a container's cgroupsPath instead (cgroup_plan.path) */
        char *dirs[CGROUP_MAX_DIRS]; /* created cgroup directories */
        int count;
        char *memory_dir;   /* the one holding memory accounting (OOM reports) */
        const char *v2_dir; /* the sandbox's v2 cgroup of the limits (one of dirs) */
        /* The freezer: a cgroup that holds the whole sandbox (one of dirs);
         * CGROUP_NONE when there is none and SIGSTOP stands in. */
        enum cgroup_mode freezer;
        const char *freezer_dir;
        /* How the sandbox joins: its pid 1 writes "0" to each of these files
         * itself (opened here, so the write is checked against our
         * credentials). In v1 they are `tasks` files: a single thread moving
         * itself skips the global threadgroup lock and its RCU grace period. */
        int join_fds[CGROUP_MAX_DIRS];
        int join_count;
        /* v1 only: kernel TCP buffers could not be limited (no
         * memory.kmem.tcp.limit_in_bytes): they are not counted at all */
        bool tcp_uncounted;
        /* cgroups a supervisor killed with -9 left (its pid is gone), found
         * in the first hierarchy listed and removed from each one ours go
         * in: one listing per start, not one per hierarchy */
        bool stale_listed;
        int stale_count;
        char stale[CGROUP_STALE_CHECKS][64];
};

/* Create cgroup(s) for the limits in `limits` (nothing when none is set).
 * -ENOTSUP (with a reason in err) when neither v2 delegation nor v1-as-root
 * is available. */
int cgroup_create(const struct cgroup_plan *limits, struct cgroup_handle *handle,
                  struct reins_error *err);
/* Add the risk engine's freezer cgroup (after cgroup_create, whatever it
 * returned): the limits' v2 cgroup when there is one, else as root a
 * directory in the v1 freezer hierarchy, else one in our own v2 cgroup when
 * it is writable (root, or a delegated subtree). -ENOTSUP when none can be
 * had; never a reason to refuse a run (SIGSTOP stands in). */
int cgroup_add_freezer(struct cgroup_handle *handle);
/* In the child, before the command starts: move the calling
 * (single-threaded) process in, through the join fds. Async-signal-safe. */
int cgroup_join_self(const int *join_fds, int count);
/* How many times the memory limit killed a process (0 when unknown). */
long cgroup_oom_kills(const struct cgroup_handle *handle);
/* The highest memory use of the sandbox in bytes (0 when unknown). */
long cgroup_memory_peak(const struct cgroup_handle *handle);
/* Remove the directories (the sandbox must be gone) and free the handle. */
void cgroup_destroy(struct cgroup_handle *handle);
/* Write `value` to / read (NUL-terminated, at most size - 1 bytes) the file
 * `file` of the cgroup directory `dir`. 0 or -errno. */
/* Our own cgroup, from /proc/self/cgroup: the v2 path when `controller` is
 * NULL or "", else the path in the v1 hierarchy listing `controller`. */
int cgroup_own_path(const char *controller, char *out, size_t size);

int cgroup_file_write(const char *dir, const char *file, const char *value);
int cgroup_file_read(const char *dir, const char *file, char *buf, size_t size);
/* cgroup v1: the limit on the sandbox's kernel TCP buffers, which v1 counts
 * apart from the memory limit (v2 counts them in memory.max). */
uint64_t cgroup_tcp_limit(uint64_t memory_bytes);
/* For doctor and the fallback message: why cgroups cannot be used here. */
const char *cgroup_unavailable_reason(void);

#endif
