/* A warm pool member's watch on its workspace (serve/pool.c). A member is
 * built ahead of its request: what a cold start reads from the workspace
 * when it starts (the deny globs' matches, the protected paths and their
 * placeholders, the change record's first look) is read at build time. So
 * that a taken member never serves a view older than a cold start's, every
 * directory of the workspace is watched (inotify) from right after the plan
 * is built until the member is taken: any entry made, removed, renamed,
 * written or changed in its attributes there makes the member stale, and a
 * stale member is never taken (it ends; the pool builds a fresh one).
 *
 * One exception: the placeholders sessions make and remove at the
 * workspace's top (.claude, .vscode ..., sandbox/plan_protect.c: created
 * empty when missing, removed at the session's end if still empty). The
 * member holds each of these names bound read-only; another session's
 * placeholder coming or going there changes neither what the member may
 * write (nothing, under that name) nor what it hides, and without the
 * exception every session's end would retire the whole pool. Their
 * insides are watched as any directory's.
 *
 * Fail closed: a workspace with more directories than POOL_GUARD_MAX_DIRS,
 * one that cannot be read whole, or a user out of inotify watches is not
 * kept warm (pool_guard_start fails, the member is not built). */
#ifndef REINS_SESSION_POOL_GUARD_H
#define REINS_SESSION_POOL_GUARD_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

#define POOL_GUARD_MAX_DIRS 4096

/* An inotify fd (non-blocking, close-on-exec) watching every directory
 * below `root` and `root` itself; -errno with err. */
struct pool_guard {
        int fd;      /* inotify, non-blocking, close-on-exec */
        int root_wd; /* the workspace's own watch */
        int placeholder_wd[16];
        size_t placeholder_count;
        bool changed; /* latched */
};

/* Watch every directory below `root` and `root` itself; -errno with err. */
int pool_guard_start(struct pool_guard *guard, const char *root, struct reins_error *err);
/* Has anything happened below the root since pool_guard_start? Reads what
 * is queued (a queue overflow counts as a change); once true, stays so. */
bool pool_guard_changed(struct pool_guard *guard);
void pool_guard_close(struct pool_guard *guard);

#endif
