/* The daemon's audit trail (serve/trail.h). */
#include "serve/trail.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session/events.h"
#include "util/path.h"

int serve_trail_open(struct serve_trail *t, const char *dir, struct reins_error *err)
{
        memset(t, 0, sizeof(*t));
        char id[25], name[64];
        if (session_new_id(id) < 0)
                return reins_error_errno(err, errno, "cannot draw an id for the daemon's trail");
        snprintf(name, sizeof(name), "serve-%s.jsonl", id);
        t->path = path_join(dir, name);
        if (!t->path)
                return reins_error_set(err, ENOMEM, "out of memory");
        int r = audit_trail_open(t->path, &t->trail, err);
        if (r < 0) {
                free(t->path);
                t->path = NULL;
                return r;
        }
        pthread_mutex_init(&t->lock, NULL);
        event_bus_init(&t->bus, id);
        event_bus_add_sink(&t->bus, audit_trail_sink, t->trail);
        return 0;
}

void serve_trail_emit(struct serve_trail *t, const char *type, json_t *fields)
{
        if (!t->trail) {
                json_decref(fields);
                return;
        }
        pthread_mutex_lock(&t->lock);
        event_emit(&t->bus, type, fields);
        audit_trail_flush(t->trail);
        pthread_mutex_unlock(&t->lock);
}

void serve_trail_close(struct serve_trail *t)
{
        if (!t->trail)
                return;
        struct reins_error err = {0};
        pthread_mutex_lock(&t->lock);
        event_bus_fini(&t->bus);
        audit_trail_close(t->trail, &err);
        t->trail = NULL;
        pthread_mutex_unlock(&t->lock);
        pthread_mutex_destroy(&t->lock);
        free(t->path);
        t->path = NULL;
}
