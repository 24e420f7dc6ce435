#include "cli/run_report.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "policy/parse_units.h"
#include "util/cleanup.h"
#include "util/path.h"
#include "util/strv.h"
#include "workspace/tracked.h"

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
        case MOUNT_OP_FILE:
                return "file";
        case MOUNT_OP_OVERLAY:
                return "overlay";
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

/* A command missing from the sandbox's view: is it on the host (then say
 * which read entry brings it) or nowhere (a typo)? Looked up in the
 * caller's own PATH, on the host, after the sandbox is gone. */
static const char *run_report_host_hint(const struct reins_plan *plan,
                                        const struct supervise_outcome *outcome)
{
        static char hint[PATH_MAX + 96];
        const char *program = plan->argv && plan->argv[0] ? plan->argv[0] : "";
        if (outcome->exit_status != 127 || !strstr(outcome->message, "not in the sandbox's view"))
                return "";
        char found[PATH_MAX] = "";
        if (strchr(program, '/')) {
                if (access(program, F_OK) == 0)
                        snprintf(found, sizeof(found), "%s", program);
        } else {
                const char *dir = getenv("PATH") ? getenv("PATH") : "";
                while (!found[0] && *dir) {
                        size_t len = strcspn(dir, ":");
                        if (snprintf(found, sizeof(found), "%.*s/%s", (int)len, dir, program) >=
                                (int)sizeof(found) ||
                            access(found, X_OK) != 0)
                                found[0] = '\0';
                        dir += len + (dir[len] == ':');
                }
        }
        if (!found[0])
                return " (it is not on the host either)";
        char *slash = strrchr(found, '/');
        if (slash == found)
                slash++;
        *slash = '\0';
        snprintf(hint, sizeof(hint), " (on the host it is in %s: --ro %s brings it in)", found,
                 found);
        return hint;
}

int run_report_outcome(FILE *out, const struct reins_plan *plan,
                       const struct supervise_outcome *outcome, const struct cgroup_handle *cgroup,
                       bool quiet)
{
        long oom = cgroup_oom_kills(cgroup);
        char size[32];
        if (oom > 0 && !quiet)
                fprintf(out, "reins: memory limit of %s hit: the kernel killed %ld process%s\n",
                        format_size(plan->limits.memory_bytes, size, sizeof(size)), oom,
                        oom == 1 ? "" : "es");
        if (outcome->timed_out) {
                fprintf(out,
                        "reins: timeout: the command ran longer than %llu ms; the sandbox "
                        "was killed\n",
                        (unsigned long long)plan->limits.wall_time_ms);
                return EXIT_REINS_TIMEOUT;
        }
        if (outcome->message[0])
                fprintf(out, "reins: %s%s\n", outcome->message,
                        run_report_host_hint(plan, outcome));
        if (outcome->setup_failed)
                return EXIT_REINS_FAILED;
        return outcome->exit_status;
}

/* Printable ASCII only: a workspace name is the agent's text. */
static bool run_report_plain_name(const char *name)
{
        for (const unsigned char *c = (const unsigned char *)name; *c; c++)
                if (*c < 0x20 || *c >= 0x7f)
                        return false;
        return true;
}

void run_report_tracked_hidden(FILE *out, const struct reins_plan *plan)
{
        struct reins_strv hidden = {0};
        size_t prefix = strlen(plan->workspace);
        for (size_t i = 0; i < plan->mount_count; i++) {
                const struct mount_op *op = &plan->mounts[i];
                if (op->kind == MOUNT_OP_HIDE && path_is_under(op->target, plan->workspace) &&
                    strlen(op->target) > prefix + 1 &&
                    strv_push(&hidden, op->target + prefix + 1) < 0)
                        break;
        }
        cleanup_free bool *tracked = hidden.count ? calloc(hidden.count, sizeof(bool)) : NULL;
        int found = tracked
                        ? tracked_in_workspace(plan->workspace, hidden.items, hidden.count, tracked)
                        : 0;
        for (size_t i = 0; found > 0 && i < hidden.count; i++) {
                if (!tracked[i])
                        continue;
                fprintf(out,
                        "reins: note: %s%s is hidden by filesystem.deny but tracked by git: its "
                        "committed content is readable through .git/objects\n",
                        run_report_plain_name(hidden.items[i]) ? hidden.items[i]
                                                               : "a file with an unusual name",
                        found > 1 ? " (and other hidden files)" : "");
                break;
        }
        strv_free(&hidden);
}
