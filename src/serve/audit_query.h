/* What the audit routes share (serve/api_audit_query.c): who may read which
 * trail, query arguments given several times, and the since/until window. */
#ifndef REINS_SERVE_AUDIT_QUERY_H
#define REINS_SERVE_AUDIT_QUERY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "serve/serve_internal.h"
#include "util/strv.h"

/* May `grant` read the trail of a session of `policy`? NULL (a session
 * whose policy the daemon cannot tell) and the daemon's own trail (`daemon`:
 * it speaks of every policy's sessions): only a caller who may read every
 * trail. No audit: for filtering what a caller sees. */
bool serve_audit_readable(const struct serve_grant *grant, const char *no_grant_why,
                          const char *policy, bool daemon);

/* Every value of the query argument `name` (?session=A&session=B, and
 * comma-separated lists); at most 64. -E2BIG beyond, -ENOMEM. */
int serve_request_args(const struct serve_request *request, const char *name,
                       struct reins_strv *out);

/* The trail of session `id` (its registry or record `entry`): where the
 * daemon's record says, else its user's default place when that user is
 * the daemon's; NULL when unknown. Opened as a regular file of `uid`,
 * never through a symlink: an fd or -errno. (serve/api_audit.c) */
char *serve_api_trail_path(const struct serve_request *request, const char *id,
                           const json_t *entry);
struct stat;
int serve_api_trail_open_path(const char *path, uid_t uid, struct stat *st);

/* ?since=&until=: a time (RFC 3339, "YYYY-MM-DD HH:MM:SS" UTC, a date) or a
 * duration back from now (10m, 2h); since inclusive, until exclusive. */
struct serve_time_window {
        bool has_since, has_until;
        int64_t since_ms, until_ms;
};
/* false with a 400 reply when an argument is malformed. */
bool serve_time_window_parse(const struct serve_request *request, struct serve_reply *reply,
                             struct serve_time_window *window);
/* Is the record's `time` in the window? (No window: every record.) */
bool serve_time_window_match(const struct serve_time_window *window, const json_t *record);

#endif
