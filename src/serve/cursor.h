/* Where a follower of the session trails got to (the SIEM forwarders, the
 * notifier): a JSON object {session: last seq taken} in a file of the
 * daemon's state, replaced whole and durably. */
#ifndef REINS_SERVE_CURSOR_H
#define REINS_SERVE_CURSOR_H

#include <jansson.h>
#include <stdbool.h>

/* The cursor in `path`; an empty object when the file is missing, damaged
 * or over 64 MiB. *absent (may be NULL): the file could not be opened. */
json_t *serve_cursor_load(const char *path, bool *absent);

/* Written to PATH.tmp, fsync'd, renamed over `path`. 0 or -errno. */
int serve_cursor_save(const char *path, const json_t *cursor);

#endif
