/* How big one trail record may be. An agent controls much of what an event
 * holds (argv, paths, host names): 300 execs with 1.8 MB of argv each once
 * made a 540 MB trail in 8.5 s. So before a record is written:
 *
 *   a string longer than the field cap is cut: it becomes
 *       {"truncated": PREFIX, "bytes": N, "sha256": HEX}
 *   where N and HEX are the length and SHA-256 of the whole value (its
 *   bytes: a {"base64"} value is decoded first), and PREFIX its start
 *   (a string, or {"base64"} when the start is not UTF-8);
 *   an array that does not fit the record's budget keeps its first items and
 *   ends with
 *       {"truncated_items": M, "bytes": N, "sha256": HEX}
 *   where M items were left out and N and HEX cover all items, each as its
 *   bytes followed by a NUL (for argv: `printf '%s\0' ARGS... | sha256sum`;
 *   an item that is neither a string nor {"base64"} counts as its compact
 *   JSON with sorted keys).
 * Sizes are counted as the record will spell them (\u escapes included),
 * so the caps bound the file, not just the input. The writer still checks
 * the finished line against AUDIT_RECORD_MAX and writes a stub record in
 * its place should anything slip through (trail.c). */
#ifndef REINS_AUDIT_TRAIL_BOUND_H
#define REINS_AUDIT_TRAIL_BOUND_H

#include <jansson.h>
#include <stddef.h>

#define AUDIT_FIELD_MAX  4096        /* bytes one string may take in a record */
#define AUDIT_RECORD_MAX (64 * 1024) /* bytes one record's line may take */

/* The event as it may be recorded: *out is NULL when `event` fits as it is
 * (the common case: no copy), else a new reference the caller drops.
 * `budget` is what all of the event's values may take. -ENOMEM. */
int audit_trail_bound(const json_t *event, size_t field_max, size_t budget, json_t **out);

/* What a string takes between the quotes of a record (TRAIL_JSON_FLAGS). */
size_t audit_trail_spelled_length(const char *bytes, size_t length);

#endif
