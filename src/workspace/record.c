#include "workspace/record.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/trail.h"
#include "util/cleanup.h"

int workspace_record_open(struct workspace_record *record, const char *session, const char *action,
                          const char *path, bool verbose, struct reins_error *err)
{
        memset(record, 0, sizeof(*record));
        event_bus_init(&record->bus, session);
        cleanup_free char *chosen = NULL;
        if (path) {
                chosen = strdup(path);
        } else {
                cleanup_free char *dir = audit_trail_dir(err);
                if (!dir)
                        return -(err && err->code ? err->code : ENOMEM);
                struct timespec now;
                clock_gettime(CLOCK_REALTIME, &now);
                if (asprintf(&chosen, "%s/%s-%s-%lld%09ld.jsonl", dir, session, action,
                             (long long)now.tv_sec, now.tv_nsec) < 0)
                        chosen = NULL;
        }
        if (!chosen)
                return reins_error_set(err, ENOMEM, "out of memory");
        int r = audit_trail_open(chosen, &record->trail, err);
        if (r < 0)
                return reins_error_prefix(err, "cannot write the audit trail %s (use --audit PATH)",
                                          chosen);
        event_bus_add_sink(&record->bus, audit_trail_sink, record->trail);
        if (verbose)
                event_bus_add_sink(&record->bus, event_sink_stderr, NULL);
        return 0;
}

void workspace_record_emit(struct workspace_record *record, const char *type, json_t *fields)
{
        event_emit(&record->bus, type, fields);
}

int workspace_record_close(struct workspace_record *record, struct reins_error *err)
{
        if (!record->trail)
                return 0;
        int r = audit_trail_close(record->trail, err);
        record->trail = NULL;
        return r;
}
