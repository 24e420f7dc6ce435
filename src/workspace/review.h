/* Showing a session's changes: a listing with unified diffs for a person
 * (control characters made visible, protected paths flagged), --stat, --json,
 * and a git-compatible patch (`git apply` on a fresh checkout takes it). */
#ifndef REINS_WORKSPACE_REVIEW_H
#define REINS_WORKSPACE_REVIEW_H

#include <jansson.h>
#include <stdio.h>

#include "util/error.h"
#include "workspace/scan.h"

enum workspace_review_format {
        WORKSPACE_REVIEW_TEXT,
        WORKSPACE_REVIEW_STAT,
        WORKSPACE_REVIEW_JSON,
        WORKSPACE_REVIEW_PATCH,
};

/* Directory fds the sides of a change are read from, indexed by enum
 * workspace_source (LOWER, UPPER, OTHER); -1 where unused. `kept` holds
 * the kept copies of base contents (workspace/base.h), -1 when none. */
struct workspace_roots {
        int fd[4];
        int kept;
};

/* The files are the agent's: what a diff loads is capped. A side larger
 * than WORKSPACE_DIFF_FILE_MAX bytes is summarised (its size) and never
 * read; one of more than WORKSPACE_DIFF_MAX_LINES lines is summarised too
 * (the line diff costs about 140 bytes a line). --patch refuses such files
 * before writing anything. The text form stops showing contents once it
 * has written WORKSPACE_DIFF_OUTPUT_MAX bytes (every change is still
 * listed) and says so. */
#define WORKSPACE_DIFF_FILE_MAX   (8u << 20)
#define WORKSPACE_DIFF_MAX_LINES  100000u
#define WORKSPACE_DIFF_OUTPUT_MAX (64u << 20)
#define WORKSPACE_TEXT_LIMIT      WORKSPACE_DIFF_FILE_MAX

/* Write the changes in `format`. `json_head` (borrowed, may be NULL) gives
 * the top-level fields of the JSON form ("session", "lower" ...). The JSON
 * form is written one change at a time (nothing held for the whole list).
 * *contents_cut (may be NULL) is set when the output cap left contents out. */
int workspace_review_write(FILE *out, const struct workspace_changes *changes,
                           const struct workspace_roots *roots, enum workspace_review_format format,
                           const json_t *json_head, bool *contents_cut, struct reins_error *err);

/* One session's result against another's (same lower): every path either
 * changed, with old = session A's view and new = session B's view, read
 * from LOWER, UPPER (A) or OTHER (B). */
int workspace_compare_sessions(const struct workspace_changes *a, const struct workspace_changes *b,
                               const struct workspace_roots *roots, struct workspace_changes *out,
                               struct reins_error *err);

/* Is a symlink target outside the workspace (absolute, or climbing above
 * the root with ".." from where the link sits)? */
bool workspace_symlink_escapes(const char *link_path, const char *target);

#endif
