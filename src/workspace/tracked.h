/* Which of some workspace paths git tracks, read from the repository's
 * index (.git/index) without running git. The index is written by whoever
 * controls the workspace (an agent in an earlier session): the parser is
 * bounded and checks every length before it reads. */
#ifndef REINS_WORKSPACE_TRACKED_H
#define REINS_WORKSPACE_TRACKED_H

#include <stdbool.h>
#include <stddef.h>

/* Index files larger than this are not read (a note, not a protection). */
#define TRACKED_INDEX_MAX (64u << 20)

/* Parse an index (versions 2, 3 and 4, SHA-1 entries) held in memory and
 * set tracked[i] for each paths[i] (relative to the work tree) it lists.
 * Returns how many are tracked, or -EINVAL for an index it cannot read. */
int tracked_in_index(const unsigned char *data, size_t length, char *const *paths, size_t count,
                     bool *tracked);

/* The same for the index of the git repository at `workspace` (its .git
 * directory; symlinks never followed). -errno when there is none. */
int tracked_in_workspace(const char *workspace, char *const *paths, size_t count, bool *tracked);

#endif
