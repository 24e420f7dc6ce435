/* What the daemon keeps about each session it started: STATE/sessions/ID/
 * with record.json (who asked, as which uid, the supervisor's pid and start
 * time, the policy, workspace and command, the exit status once seen) and
 * the session's stdout and stderr. Written whole or not at all (a temporary
 * file renamed in), so a daemon killed with -9 leaves no half record. */
#ifndef REINS_SERVE_RECORD_H
#define REINS_SERVE_RECORD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/error.h"

/* STATE/sessions/ID, created 0700. */
int serve_record_make_dir(const char *sessions_dir, const char *session, char **out,
                          struct reins_error *err);
int serve_record_write(const char *sessions_dir, const char *session, const json_t *record,
                       struct reins_error *err);
/* NULL when missing or unreadable. */
json_t *serve_record_read(const char *sessions_dir, const char *session);
/* Every record, oldest first. */
int serve_record_list(const char *sessions_dir, json_t **records, struct reins_error *err);
/* A file of the session's directory (stdout, stderr): at most `limit` bytes
 * from its end; *truncated when there was more. */
int serve_record_read_output(const char *sessions_dir, const char *session, const char *name,
                             size_t limit, char **data, size_t *length, bool *truncated);

/* The exit status a session's own audit trail recorded (its session.end
 * record, among the trail's last 64 KiB), for a session whose end this
 * daemon did not see (it was restarted meanwhile). The trail must belong
 * to `uid`. -ENOENT when there is none (yet). */
int serve_record_trail_status(const char *trail, uid_t uid, int *status);

#endif
