/* `reins audit bench N` (hidden): append N exec-like events to a fresh
 * trail (chain, Merkle leaves, a signed checkpoint every 1000 records,
 * batched writes, final fsync), then verify it. Measured twice: the trail
 * alone (audit_trail_sink on events built beforehand: what the budget of
 * 200 000 events/s is about) and the whole path (event_emit building and
 * stamping each event, then the trail). */
#ifndef REINS_AUDIT_BENCH_H
#define REINS_AUDIT_BENCH_H

#include <stdint.h>

#include "util/error.h"

struct audit_bench_result {
        uint64_t events;
        double append_seconds; /* trail alone: first append → close (with fsync) */
        double emit_seconds;   /* event_emit → close, events built in the loop */
        double verify_seconds;
        uint64_t bytes;
        int verdict; /* enum audit_verdict of the verification */
};

/* Write the trails to `path` and `path`.emit (must not exist), signing
 * with the user's key; verify the first. */
int audit_bench(uint64_t events, const char *path, struct audit_bench_result *out,
                struct reins_error *err);

#endif
