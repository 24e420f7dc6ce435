/* Which sessions are the daemon's, for `reins ps`, `pending`, `approve`,
 * `deny`, `stop` and `audit` (cli/daemon_client.h finds the daemon).
 *
 * A session is the daemon's when the daemon started it (its entry in GET
 * /v1/sessions has "serve"), or when only the daemon can see it (a session
 * a root daemon runs for this user, or one the caller's role lets it see):
 * what is done to such a session goes through the API, where the daemon's
 * roles decide and its trail records who asked. Every other session is
 * handled locally, as without a daemon (a user daemon lists its user's
 * whole registry: a `reins run` in a terminal stays the terminal's). */
#ifndef REINS_CLI_DAEMON_SESSIONS_H
#define REINS_CLI_DAEMON_SESSIONS_H

#include <jansson.h>
#include <stdbool.h>

#include "cli/daemon_client.h"
#include "util/error.h"

struct daemon_view {
        bool found; /* a daemon answers on client.socket_path */
        struct daemon_client client;
        json_t *sessions;   /* its GET /v1/sessions, once asked */
        int sessions_error; /* < 0: that listing failed, why in `error` */
        struct reins_error error;
};

/* Find the daemon (`requested`: --socket, may be NULL). 0, with
 * view->found false when none runs; -errno with err when the socket asked
 * for does not answer. */
int daemon_view_open(struct daemon_view *view, const char *requested, struct reins_error *err);
void daemon_view_close(struct daemon_view *view);

/* The daemon's sessions (asked once); NULL when there is no daemon or it
 * did not list them (view->error says why when there is one). */
json_t *daemon_view_sessions(struct daemon_view *view);

/* Did the daemon start this session (its entry has "serve")? */
bool daemon_entry_started_here(const json_t *entry);

/* Should an action on a session go through the daemon? `local_id`: the
 * session's full id when the local registry has it, else NULL; `prefix`:
 * what the user typed (an id or a unique prefix). 1: through the daemon,
 * *id gets the full id (view-owned); 0: locally (or nowhere: the local
 * error stands); -errno with err: the daemon must decide and could not be
 * asked, or the prefix names several of its sessions. */
int daemon_view_route(struct daemon_view *view, const char *local_id, const char *prefix,
                      const char **id, struct reins_error *err);

/* `reins ps`: the daemon's sessions merged into `local` (the registry's
 * entries): one entry per session id, "via": "serve" on the daemon's.
 * Sessions the daemon lists as ended are left out unless `ended`. */
void daemon_view_merge_sessions(struct daemon_view *view, json_t *local, bool ended);

/* "/v1/sessions/ID/SUFFIX": NULL when out of memory. */
char *daemon_session_path(const char *id, const char *suffix);

/* `text` percent-encoded for a query string (malloc'd, NULL: no memory). */
char *daemon_query_escape(const char *text);

#endif
