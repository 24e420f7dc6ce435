/* What `reins run` tells the user on stderr: the plan (-v) and the outcome. */
#ifndef REINS_CLI_RUN_REPORT_H
#define REINS_CLI_RUN_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "sandbox/cgroup.h"
#include "sandbox/plan.h"
#include "sandbox/spawn.h"
#include "sandbox/supervise.h"

void run_report_plan(FILE *out, const struct reins_plan *plan, const struct spawn_inputs *in);
/* One note when a file hidden inside the workspace is tracked by git (its
 * committed content stays readable through .git/objects). */
void run_report_tracked_hidden(FILE *out, const struct reins_plan *plan);
/* Print what happened and return the exit status of `reins run`. */
int run_report_outcome(FILE *out, const struct reins_plan *plan,
                       const struct supervise_outcome *outcome, const struct cgroup_handle *cgroup,
                       bool quiet);

#endif
