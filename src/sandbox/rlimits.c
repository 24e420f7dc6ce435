#include "sandbox/rlimits.h"

#include <errno.h>
#include <sched.h>
#include <sys/resource.h>

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
