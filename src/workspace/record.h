/* Apply and discard happen outside any `reins run`, so they write an audit
 * trail of their own: audit_trail_dir()/SESSION-ACTION-NS.jsonl (or
 * --audit PATH), hash-chained and signed like a run's. It is opened before
 * anything changes: when it cannot be written, nothing is done (fail closed). */
#ifndef REINS_WORKSPACE_RECORD_H
#define REINS_WORKSPACE_RECORD_H

#include <jansson.h>
#include <stdbool.h>

#include "audit/event.h"
#include "util/error.h"

struct audit_trail;

struct workspace_record {
        struct audit_trail *trail;
        struct event_bus bus;
};

/* Open the trail (path NULL: the default place) and the event bus; with
 * `verbose` events go to stderr as well. */
int workspace_record_open(struct workspace_record *record, const char *session, const char *action,
                          const char *path, bool verbose, struct reins_error *err);

/* Emit one event (takes the reference to fields). */
void workspace_record_emit(struct workspace_record *record, const char *type, json_t *fields);

/* Final checkpoint and close. */
int workspace_record_close(struct workspace_record *record, struct reins_error *err);

#endif
