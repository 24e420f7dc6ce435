#include "cli/run_report.h"

#include <string.h>

#include "cli/cli.h"

static const char *mount_kind_name(enum mount_op_kind kind)
{
        switch (kind) {
        case MOUNT_OP_BIND_RO:
                return "ro";
        case MOUNT_OP_BIND_RW:
                return "rw";
        case MOUNT_OP_TMPFS:
                return "tmpfs";
        case MOUNT_OP_PROC:
                return "proc";
        case MOUNT_OP_DEV:
                return "dev";
        case MOUNT_OP_HIDE:
                return "hide";
        case MOUNT_OP_PROTECT:
                return "protect";
        case MOUNT_OP_SYMLINK:
                return "symlink";
        case MOUNT_OP_OVERLAY:
                return "overlay";
        case MOUNT_OP_PIN:
                return "pin";
        case MOUNT_OP_GITDIR:
                return "gitdir";
        }
        return "?";
}

void run_report_plan(FILE *out, const struct reins_plan *plan, const struct spawn_inputs *in)
{
        fprintf(out, "reins: policy %s sha256:%s\n", plan->policy_name, plan->policy_sha256);
        fprintf(out, "reins: workspace %s\n", plan->workspace);
        for (size_t i = 0; i < plan->mount_count; i++) {
                const struct mount_op *op = &plan->mounts[i];
                if (op->kind == MOUNT_OP_SYMLINK)
                        fprintf(out, "reins: mount %-7s %s -> %s\n", mount_kind_name(op->kind),
                                op->target, op->source);
                else
                        fprintf(out, "reins: mount %-7s %s\n", mount_kind_name(op->kind),
                                op->target);
        }
        for (size_t i = 0; i < plan->env.count; i++)
                fprintf(out, "reins: env %.*s\n", (int)strcspn(plan->env.items[i], "="),
                        plan->env.items[i]);
        fprintf(out,
                "reins: limits memory=%llu pids=%llu cpus_milli=%llu wall_ms=%llu nofile=%llu "
                "(%s)\n",
                (unsigned long long)plan->limits.memory_bytes,
                (unsigned long long)plan->limits.pids, (unsigned long long)plan->limits.cpus_milli,
                (unsigned long long)plan->limits.wall_time_ms,
                (unsigned long long)plan->limits.open_files,
                in->cgroup && in->cgroup->mode != CGROUP_NONE
                    ? (in->cgroup->mode == CGROUP_V2 ? "cgroup v2" : "cgroup v1")
                    : (in->rlimit_fallback ? "rlimits" : "none"));
        fprintf(out, "reins: landlock abi %d, seccomp on, pty %s\n", in->landlock_abi,
                in->use_pty ? "yes" : "no");
}

int run_report_outcome(FILE *out, const struct reins_plan *plan,
                       const struct supervise_outcome *outcome, const struct cgroup_handle *cgroup,
                       bool quiet)
{
        long oom = cgroup_oom_kills(cgroup);
        if (oom > 0 && !quiet)
                fprintf(out,
                        "reins: memory limit of %llu bytes hit: the kernel killed %ld "
                        "process%s\n",
                        (unsigned long long)plan->limits.memory_bytes, oom, oom == 1 ? "" : "es");
        if (outcome->timed_out) {
                fprintf(out,
                        "reins: timeout: the command ran longer than %llu ms; the sandbox "
                        "was killed\n",
                        (unsigned long long)plan->limits.wall_time_ms);
                return EXIT_REINS_TIMEOUT;
        }
        if (outcome->message[0])
                fprintf(out, "reins: %s\n", outcome->message);
        if (outcome->setup_failed)
                return EXIT_REINS_FAILED;
        return outcome->exit_status;
}
