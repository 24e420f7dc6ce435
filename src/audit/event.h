/* The event interface. Every part of reins that decides or observes
 * something (the proxy, the spawn pipeline, limits, the workspace) reports it
 * as one event; sinks consume them: stderr with -v, the live stream
 * (--events) and the audit trail. Events are JSON objects (jansson). */
#ifndef REINS_AUDIT_EVENT_H
#define REINS_AUDIT_EVENT_H

#include <jansson.h>
#include <stdbool.h>

#define EVENT_MAX_SINKS 8

/* A sink receives the complete event: {"type", "time", "session", ...fields}.
 * It must not keep `event` beyond the call (json_incref it if it must). */
typedef void (*event_sink_fn)(void *ctx, const json_t *event);

struct event_bus {
        char session[40]; /* the session id, stamped on every event */
        /* an OCI container's id (reins oci), stamped on every event too; "": none */
        char container[136];
        struct {
                event_sink_fn fn;
                void *ctx;
        } sinks[EVENT_MAX_SINKS];
        int sink_count;
        /* while held, events queue here (in order) until event_bus_release:
         * sinks that open late (the audit trail) still get every event */
        json_t *held;
        /* credentials (issue 18): the random part of every credential
         * placeholder ("reins-cred-NAME-<32 hex>") in an event's strings is
         * masked, so the trail holds neither secrets nor placeholders */
        bool mask_placeholders;
};

void event_bus_init(struct event_bus *bus, const char *session);
/* Every event from now on carries "container": ID (at most 128 bytes). */
void event_bus_set_container(struct event_bus *bus, const char *container);
/* Queue events instead of delivering them / deliver the queue and stop. */
void event_bus_hold(struct event_bus *bus);
void event_bus_release(struct event_bus *bus);
void event_bus_fini(struct event_bus *bus);
int event_bus_add_sink(struct event_bus *bus, event_sink_fn fn, void *ctx); /* -ENOSPC */

/* Stamp and deliver an event. Takes the reference to `fields` (may be NULL);
 * a NULL bus drops the event. Never fails visibly: events are telemetry. */
void event_emit(struct event_bus *bus, const char *type, json_t *fields);

/* The time events carry: "2026-11-23T21:31:39.825921Z" (UTC, microseconds). */
json_t *event_time_json(void);

/* A sink printing "reins: event TYPE {json}" lines on stderr (for -v). */
void event_sink_stderr(void *ctx, const json_t *event);

#endif
