/* reins run --parallel N: N runs of one command line, each in its own
 * copy-on-write session, at once. */
#ifndef REINS_CLI_RUN_PARALLEL_H
#define REINS_CLI_RUN_PARALLEL_H

/* Fork N runs of this same command line; print "[K] SESSION" for each;
 * relay their output with each line labelled "[K] "; wait for all and say
 * how each ended. Returns in each child (*is_child set) with `id` filled,
 * or in the parent with the combined exit status: 0 when every run exited
 * 0, else the status of the first run (in start order) that did not. */
int run_parallel(unsigned count, char id[25], int *is_child);

#endif
