/* The trails a follower of sessions (the SIEM forwarders) reads: every
 * session the daemon can see, not only those it started.
 *
 *   - the daemon's own trails (STATE/trails/serve-ID.jsonl);
 *   - the sessions it started (its records: serve/record.h), as whichever
 *     user they run as;
 *   - the sessions in its user's registry (audit/runtime.h: `reins run`
 *     sessions started outside the daemon), each at the trail its entry
 *     names, else at the user's default place;
 *   - as root, the sessions in every user's registry (/run/user/UID/reins,
 *     /tmp/reins-UID: each only when it is that user's, private);
 *   - the trails of the daemon's user's default trail directory written
 *     since `since` (a session too short to be seen in the registry between
 *     two looks) or named in `known` (a session the follower was reading
 *     that ended while the daemon was down).
 *
 * A trail listed here is only a name: the follower opens it without
 * following a symlink and reads it only when it is a regular file of the
 * session's uid (a registry entry is its user's file: it can name any
 * path, and the uid is what is trusted). */
#ifndef REINS_SERVE_FOLLOWED_H
#define REINS_SERVE_FOLLOWED_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

struct serve;

/* Called once per trail found (session: 24 hex digits); the same session
 * may come more than once (its record and its registry entry). */
typedef void serve_followed_fn(void *context, const char *session, const char *trail, uid_t uid);

/* What a follower keeps between two looks: the trail directory is read
 * again only when it changed (a new trail), not every time. Zeroed at first. */
struct serve_followed {
        time_t since;              /* trails written after this are followed */
        struct timespec dir_mtime; /* the trail directory's, when last read */
        bool dir_read;
};

/* `known`: an object whose keys are sessions (a cursor), may be NULL. */
void serve_followed_each(struct serve *serve, struct serve_followed *state, const json_t *known,
                         serve_followed_fn *found, void *context);

#endif
