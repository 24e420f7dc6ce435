#include "workspace/record.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/session_key.h"
#include "audit/trail.h"
#include "audit/trail_internal.h"
#include "util/cleanup.h"

/* apply and discard take seconds; a day is plenty */
#define RECORD_CERT_VALIDITY_S (24 * 3600)

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
        /* signed like a run's trail: by a key of its own that the user's key
         * certifies, so the user's key is wiped before the caller reads
         * what the agent wrote (audit/session_key.h) */
        struct audit_key user;
        struct audit_session_signer signer;
        int r = audit_key_load(&user, true, err);
        if (r < 0)
                return reins_error_prefix(err, "audit trail %s", chosen), r;
        r = audit_session_signer_from_key(&user, session, NULL, action, RECORD_CERT_VALIDITY_S,
                                          &signer, err);
        audit_key_wipe(&user);
        if (r == 0)
                r = audit_trail_open_with_key(chosen, &signer.key, &record->trail, err);
        if (r < 0) {
                audit_session_signer_wipe(&signer);
                return reins_error_prefix(err, "cannot write the audit trail %s (use --audit PATH)",
                                          chosen);
        }
        event_bus_add_sink(&record->bus, audit_trail_sink, record->trail);
        if (verbose)
                event_bus_add_sink(&record->bus, event_sink_stderr, NULL);
        event_emit(&record->bus, "audit.session_key",
                   json_pack("{s:s, s:o}", "action", action, AUDIT_CERT_FIELD,
                             audit_session_cert_to_json(&signer.cert)));
        audit_session_signer_wipe(&signer);
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
