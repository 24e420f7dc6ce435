/* `reins audit show | export | verify SESSION` for a session whose trail is
 * not readable here (a session a root daemon runs for another user, or
 * whose trail lives under the daemon's state): the records and the verdict
 * through the daemon's API (GET /v1/sessions/ID/audit, .../audit/verify),
 * where its roles decide who may read them. */
#ifndef REINS_CLI_AUDIT_DAEMON_H
#define REINS_CLI_AUDIT_DAEMON_H

#include <jansson.h>
#include <stdbool.h>

#include "cli/daemon_sessions.h"
#include "util/error.h"

/* The most records one call brings (the API's own cap). */
#define AUDIT_DAEMON_LIMIT 10000

/* Find the daemon and its session `target` (an id or unique prefix).
 * 1: *id names it (view-owned); 0: no daemon, or none it knows (the local
 * error stands); -errno with err. */
int audit_daemon_find(struct daemon_view *view, const char *socket_path, const char *target,
                      const char **id, struct reins_error *err);

/* Its records (the last AUDIT_DAEMON_LIMIT, from the trail's last 8 MiB),
 * those whose type starts with `type` when given; *cut: some were left
 * out. */
int audit_daemon_records(struct daemon_view *view, const char *id, const char *type,
                         json_t **records, bool *cut, struct reins_error *err);

/* The daemon's verdict on the trail (the fields of reins audit verify). */
int audit_daemon_verify(struct daemon_view *view, const char *id, json_t **verdict,
                        struct reins_error *err);

#endif
