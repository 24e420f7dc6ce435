#include "sandbox/rlimits.h"

#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "util/weaken.h"

static int rlimits_set(int resource, uint64_t value, const char *name, struct reins_error *err)
{
        struct rlimit current;
        if (getrlimit(resource, &current) < 0)
                return reins_error_errno(err, errno, "getrlimit %s", name);
        rlim_t wanted = (rlim_t)value;
        /* only ever lower: raising needs privileges we do not want */
        if (current.rlim_max != RLIM_INFINITY && wanted > current.rlim_max)
                wanted = current.rlim_max;
        struct rlimit limit = {.rlim_cur = wanted, .rlim_max = wanted};
        if (setrlimit(resource, &limit) < 0)
                return reins_error_errno(err, errno, "setrlimit %s", name);
        return 0;
}

/* Without a cpu controller, pin the sandbox to the first N cpus. */
static int rlimits_pin_cpus(uint64_t cpus_milli, struct reins_error *err)
{
        cpu_set_t allowed, chosen;
        if (sched_getaffinity(0, sizeof(allowed), &allowed) < 0)
                return reins_error_errno(err, errno, "sched_getaffinity");
        uint64_t wanted = (cpus_milli + 999) / 1000;
        CPU_ZERO(&chosen);
        uint64_t taken = 0;
        for (int cpu = 0; cpu < CPU_SETSIZE && taken < wanted; cpu++)
                if (CPU_ISSET(cpu, &allowed)) {
                        CPU_SET(cpu, &chosen);
                        taken++;
                }
        if (taken > 0 && sched_setaffinity(0, sizeof(chosen), &chosen) < 0)
                return reins_error_errno(err, errno, "sched_setaffinity");
        return 0;
}

int rlimits_apply(const struct reins_plan *plan, int fallback, struct reins_error *err)
{
        if (weaken("limits"))
                return 0;
        const struct policy_limits *l = &plan->limits;
        /* no core files: a crashing agent must not dump its memory to disk */
        int r = rlimits_set(RLIMIT_CORE, 0, "RLIMIT_CORE", err);
        if (r == 0 && l->open_files > 0)
                r = rlimits_set(RLIMIT_NOFILE, l->open_files, "RLIMIT_NOFILE", err);
        if (r < 0 || !fallback)
                return r;
        /* RLIMIT_DATA, not RLIMIT_AS: JIT runtimes (Node, V8) reserve huge
         * address ranges they never touch */
        if (l->memory_bytes > 0)
                r = rlimits_set(RLIMIT_DATA, l->memory_bytes, "RLIMIT_DATA", err);
        /* counted per user inside our user namespace: only sandbox processes */
        if (r == 0 && l->pids > 0)
                r = rlimits_set(RLIMIT_NPROC, l->pids, "RLIMIT_NPROC", err);
        if (r == 0 && l->cpus_milli > 0)
                r = rlimits_pin_cpus(l->cpus_milli, err);
        return r;
}

int rlimits_apply_container(const struct plan_root *root, struct reins_error *err)
{
        if (!root)
                return 0;
        for (size_t i = 0; i < root->rlimit_count; i++) {
                const struct plan_rlimit *l = &root->rlimits[i];
                struct rlimit current;
                if (getrlimit(l->resource, &current) < 0)
                        return reins_error_errno(err, errno, "process.rlimits[%zu]", i);
                rlim_t hard = (rlim_t)l->hard, soft = (rlim_t)l->soft;
                if (current.rlim_max != RLIM_INFINITY && hard > current.rlim_max)
                        hard = current.rlim_max;
                if (soft > hard)
                        soft = hard;
                struct rlimit limit = {.rlim_cur = soft, .rlim_max = hard};
                if (setrlimit(l->resource, &limit) < 0)
                        return reins_error_errno(err, errno, "process.rlimits[%zu]", i);
        }
        if (root->set_oom_score) {
                char current[32] = "";
                int fd = open("/proc/self/oom_score_adj", O_RDWR | O_CLOEXEC);
                ssize_t n = fd >= 0 ? read(fd, current, sizeof(current) - 1) : -1;
                if (n > 0 && root->oom_score_adj > atoi(current)) {
                        char text[32];
                        int len = snprintf(text, sizeof(text), "%d", root->oom_score_adj);
                        if (pwrite(fd, text, (size_t)len, 0) != len) {
                                int e = errno;
                                close(fd);
                                return reins_error_errno(err, e, "process.oomScoreAdj");
                        }
                }
                if (fd >= 0)
                        close(fd);
        }
        return 0;
}
