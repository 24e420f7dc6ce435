/* A session's trail through the daemon (cli/audit_daemon.h). */
#include "cli/audit_daemon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"

int audit_daemon_find(struct daemon_view *view, const char *socket_path, const char *target,
                      const char **id, struct reins_error *err)
{
        int r = daemon_view_open(view, socket_path, err);
        if (r < 0)
                return r;
        /* a path is a file, never a session of the daemon's */
        if (!view->found || !target || strchr(target, '/'))
                return 0;
        return daemon_view_route(view, NULL, target, id, err);
}

int audit_daemon_records(struct daemon_view *view, const char *id, const char *type,
                         json_t **records, bool *cut, struct reins_error *err)
{
        cleanup_free char *base = daemon_session_path(id, "audit");
        cleanup_free char *escaped = type ? daemon_query_escape(type) : NULL;
        cleanup_free char *path = NULL;
        if (!base || (type && !escaped) ||
            asprintf(&path, "%s?limit=%d%s%s", base, AUDIT_DAEMON_LIMIT, type ? "&type=" : "",
                     type ? escaped : "") < 0) {
                path = NULL;
                return reins_error_set(err, ENOMEM, "out of memory");
        }
        json_auto_t *reply = NULL;
        int r = daemon_client_call(&view->client, "GET", path, NULL, DAEMON_READ_TIMEOUT, NULL,
                                   &reply, err);
        if (r < 0)
                return r;
        json_t *list = json_object_get(reply, "records");
        if (!json_is_array(list))
                return reins_error_set(err, EPROTO, "reins serve (%s): no records in its answer",
                                       view->client.socket_path);
        *cut = json_is_true(json_object_get(reply, "truncated")) ||
               json_array_size(list) >= AUDIT_DAEMON_LIMIT;
        *records = json_incref(list);
        return 0;
}

int audit_daemon_verify(struct daemon_view *view, const char *id, json_t **verdict,
                        struct reins_error *err)
{
        cleanup_free char *path = daemon_session_path(id, "audit/verify");
        if (!path)
                return reins_error_set(err, ENOMEM, "out of memory");
        json_t *reply = NULL;
        /* verification reads the whole trail (up to 256 MiB) */
        int r = daemon_client_call(&view->client, "GET", path, NULL, DAEMON_ACT_TIMEOUT, NULL,
                                   &reply, err);
        if (r < 0)
                return r;
        if (!json_is_string(json_object_get(reply, "verdict"))) {
                json_decref(reply);
                return reins_error_set(err, EPROTO, "reins serve (%s): no verdict in its answer",
                                       view->client.socket_path);
        }
        *verdict = reply;
        return 0;
}
