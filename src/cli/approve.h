/* Shared by `reins approve` and its --watch queue. */
#ifndef REINS_CLI_APPROVE_H
#define REINS_CLI_APPROVE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* Sign and send one answer; an exit status (0 ok). for_ms: -1 once, 0 the
 * session, > 0 a duration. */
int approve_send(const char *id, bool allow, int64_t for_ms, const char *scope, bool quiet);

/* The same, through reins serve when the session is its own (or only it
 * can reach the session; cli/daemon_sessions.h). `socket_path`: --socket,
 * may be NULL. */
int approve_answer(const char *socket_path, const char *id, bool allow, int64_t for_ms,
                   const char *scope, bool quiet);

/* Every running session's pending requests, each with its "session". */
json_t *approve_collect_pending(void);

/* The interactive queue (reins approve --watch); answers go as with
 * approve_answer. */
int approve_watch(const char *socket_path);

#endif
