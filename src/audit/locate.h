/* Finding trails for `reins audit`: by file, by session id (or a unique
 * prefix of one) in audit_trail_dir(), or the newest there. */
#ifndef REINS_AUDIT_LOCATE_H
#define REINS_AUDIT_LOCATE_H

#include <jansson.h>

#include "util/error.h"
#include "util/strv.h"

/* `what` may be NULL (the newest trail), a path (it holds a '/' or names an
 * existing file), or a session id / unique prefix. Caller frees *path. */
int audit_locate(const char *what, char **path, struct reins_error *err);

/* The trails in `dir`, oldest first by modification time. */
int audit_list_trails(const char *dir, struct reins_strv *paths, struct reins_error *err);

/* Read a trail's complete records (a torn last line is left out); lines
 * that are not JSON objects are skipped and counted in *skipped. */
int audit_load_records(const char *path, json_t **records, size_t *skipped,
                       struct reins_error *err);

#endif
