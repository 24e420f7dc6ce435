/* The daemon's own audit trail: a hash-chained trail (audit/trail.h) of
 * what the daemon did and refused -- every refused API call, every session
 * it started or stopped and for whom -- one file per daemon run under
 * STATE/trails, verifiable with `reins audit verify`. */
#ifndef REINS_SERVE_TRAIL_H
#define REINS_SERVE_TRAIL_H

#include <jansson.h>
#include <pthread.h>

#include "audit/event.h"
#include "audit/trail.h"
#include "util/error.h"

struct serve_trail {
        pthread_mutex_t lock; /* the API's threads share one chain */
        struct event_bus bus;
        struct audit_trail *trail;
        char *path;
};

/* Open DIR/serve-ID.jsonl (ID drawn like a session id). */
int serve_trail_open(struct serve_trail *t, const char *dir, struct reins_error *err);
/* Record one event now (written through: a refusal is on disk before the
 * 403 goes out). Takes `fields`. */
void serve_trail_emit(struct serve_trail *t, const char *type, json_t *fields);
void serve_trail_close(struct serve_trail *t);

#endif
