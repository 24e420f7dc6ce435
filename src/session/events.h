/* The events `reins run` itself reports: session start and end, limits hit. */
#ifndef REINS_SESSION_EVENTS_H
#define REINS_SESSION_EVENTS_H

#include <stdint.h>
#include <stdio.h>

#include "audit/event.h"
#include "sandbox/cgroup.h"
#include "sandbox/plan.h"
#include "sandbox/spawn.h"
#include "sandbox/supervise.h"

/* An event sink writing JSON lines to a FILE (--events). */
void session_event_sink_stream(void *stream, const json_t *event);

/* A fresh random session id (24 hex digits). */
int session_new_id(char out[25]);

/* session.start's fields, for a caller that emits it later (a pool
 * member builds them ahead and sets "command" when it is taken). */
json_t *session_start_fields(const struct reins_plan *plan, const struct spawn_inputs *in,
                             const char *policy_source, const char *user_key, json_t *identity);
void session_emit_start(struct event_bus *bus, const struct reins_plan *plan,
                        const struct spawn_inputs *in, const char *policy_source,
                        const char *user_key, json_t *identity /* taken; may be NULL */);
void session_emit_end(struct event_bus *bus, const struct reins_plan *plan,
                      const struct supervise_outcome *outcome, const struct cgroup_handle *cgroup,
                      uint64_t duration_ms);

#endif
