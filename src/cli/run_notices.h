/* What reins refused, said on the terminal as it happens (denied
 * destinations, refused syscalls, limits), coalesced and rate-limited; and
 * the human-readable -v. Both are event-bus sinks. */
#ifndef REINS_CLI_RUN_NOTICES_H
#define REINS_CLI_RUN_NOTICES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RUN_NOTICES_KEYS 128 /* distinct things said once; more are still said, rate-limited */

struct run_notices {
        char seen[RUN_NOTICES_KEYS][160];
        size_t seen_count;
        double tokens, last;
        uint64_t suppressed;
};

void run_notices_sink(void *ctx, const json_t *event);
/* At the end: how many were not shown. */
void run_notices_finish(struct run_notices *n, const char *session);
void run_notices_verbose_sink(void *ctx, const json_t *event);

#endif
