/* What a session did to the workspace, without any per-open cost: the
 * workspace as it was when the command started (changes_begin: from the
 * previous session's cache, checked one directory at a time, or a walk)
 * compared with the workspace when it ended (changes_finish: only the
 * directories inotify named listed again, or a walk), into a
 * files.changed event. Symlinks are never followed.
 *
 * The tree is the agent's: every structure here is bounded by bytes, not
 * only by a count. A snapshot entry is 64 bytes and never holds a path: an
 * entry is named by a 128-bit key, SHA-256(parent's key || name), so two
 * snapshots are matched without building any path (a 400-deep tree of
 * 250-byte names costs no more than a flat one), and an agent cannot craft
 * two names with the same key. Names are kept, up to a byte cap, only to
 * list the first changes by path. The walk goes through directory fds
 * (O_NOFOLLOW at every step) on an explicit stack with a depth cap. */
#ifndef REINS_AUDIT_CHANGES_H
#define REINS_AUDIT_CHANGES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Caps, per snapshot (the supervisor holds two at the end of a session). */
#define CHANGES_MAX_ENTRIES    200000u    /* entries: past it the workspace is untracked */
#define CHANGES_MAX_NAME_BYTES (4u << 20) /* names kept to list changes by path */
#define CHANGES_MAX_DEPTH      128u       /* directories below are not looked into */
/* Caps of the files.changed record: paths listed per list, and the encoded
 * JSON bytes of every listed path together; a path longer than
 * CHANGES_MAX_PATH bytes is counted, never listed. */
#define CHANGES_MAX_LISTED       1000u
#define CHANGES_MAX_LISTED_BYTES (64u << 10)
#define CHANGES_MAX_PATH         4096u

struct changes_snapshot;

/* How the start of a session was looked at (changes_begin). */
struct changes_begin_stats {
        size_t dirs;     /* cached directories checked (one fstatat each) */
        size_t relisted; /* directories listed again (changed since, or never cached) */
        int cache;       /* 1 used, 0 none yet, -1 ignored (damaged, another tree, moved) */
        bool walked;     /* the whole tree was walked instead */
        bool over_cap;   /* the cache proved the tree still over the cap (NULL returned) */
};

/* The workspace as it is when a session starts, before the command runs:
 * from the cache the previous session's end kept in `cache_dir` (reins'
 * private state; NULL: no cache), checked against the tree one directory
 * at a time (changes_cache.c), or else by a walk (changes_take). NULL as
 * changes_take. */
struct changes_snapshot *changes_begin(const char *root, const char *cache_dir, size_t max_entries,
                                       struct changes_begin_stats *stats);
/* inotify reports the directories the session changed something in
 * (changes_watch.c), so the end lists only those again instead of walking.
 * NULL when it cannot: the end walks. */
struct changes_watch;
struct changes_watch *changes_watch_start(const char *root);
/* An inotify watch per directory of `before` (the start's
 * snapshot), added before the sandbox is forked; past CW_MAX_WATCH
 * directories, or when the user's watches run out, the end walks. */
void changes_watch_dirs(struct changes_watch *watch, const char *root,
                        const struct changes_snapshot *before);
/* Read while the session runs (the fd is non-blocking), and at the end. */
int changes_watch_fd(const struct changes_watch *watch);
void changes_watch_drain(struct changes_watch *watch);
void changes_watch_free(struct changes_watch *watch);
/* The record at the end: the tree compared with `before` (changes_compare)
 * after one walk, or without one when `watch` saw every change; kept in
 * `cache_dir` for the next start when it was worth it. NULL when the tree
 * is over CHANGES_MAX_ENTRIES. */
json_t *changes_finish(const char *root, const char *cache_dir, struct changes_snapshot *before,
                       struct changes_watch *watch, size_t max_listed);
/* Keep `after` (the end's walk) in `cache_dir` for the next session's
 * changes_begin. Quietly nothing when it cannot be kept. */
void changes_keep(const char *root, const char *cache_dir, struct changes_snapshot *after);

/* NULL when the tree holds more than `max_entries` entries (then the event
 * says the workspace was too large to track) or on ENOMEM. */
struct changes_snapshot *changes_take(const char *root, size_t max_entries);
/* {created: [...], modified: [...], deleted: [...], *_count, truncated},
 * paths relative to the root; at most `max_listed` paths per list and
 * CHANGES_MAX_LISTED_BYTES in all. The counts are always exact for what
 * was scanned; "unlisted" counts changes not listed, "not_scanned_dirs"
 * directories below the depth cap (what changed inside them is unknown). */
json_t *changes_compare(const struct changes_snapshot *before, const struct changes_snapshot *after,
                        size_t max_listed);
/* The fields of a "limit" event for a files.changed record that hit a cap
 * (what was cut and how much), or NULL when it is whole. */
json_t *changes_limit_fields(const json_t *record);
void changes_free(struct changes_snapshot *snapshot);

#endif
