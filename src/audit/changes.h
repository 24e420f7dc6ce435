/* What a session did to the workspace, without any per-open cost: a
 * metadata snapshot (lstat of every entry, symlinks never followed) before
 * the command starts and one after it ends, compared into a files.changed
 * event. */
#ifndef REINS_AUDIT_CHANGES_H
#define REINS_AUDIT_CHANGES_H

#include <jansson.h>
#include <stddef.h>

struct changes_snapshot;

/* NULL when the tree holds more than `max_entries` entries (then the event
 * says the workspace was too large to track) or on ENOMEM. */
struct changes_snapshot *changes_take(const char *root, size_t max_entries);
/* {created: [...], modified: [...], deleted: [...], truncated: bool}, paths
 * relative to the root; at most `max_listed` paths per list. */
json_t *changes_compare(const struct changes_snapshot *before, const struct changes_snapshot *after,
                        size_t max_listed);
void changes_free(struct changes_snapshot *snapshot);

#endif
