/* The base of a session's changes: what the host had at a path when the
 * agent's change to it was made, so that a review is three-way (base, host
 * now, agent) rather than "host now against the copy".
 *
 * Without a record, a path's base is the host entry as it was when the
 * session's latest run started (meta "created_ns", or "resumed_ns" after a
 * --resume, which first records every entry the copy had changed): a host
 * entry whose ctime is before that moment is still the base; one changed
 * later was changed on the host.
 * `reins apply` moves the base of every path it writes to what it wrote, and
 * records it in the session's state directory (ID/base, one line a path):
 *   - the agent's side as applied (present, mode, SHA-256 of the content or
 *     of a symlink's target): an agent copy still equal to it is no change,
 *     whatever the host did since (a host edit after the apply is the
 *     host's, never shown as the agent reverting it);
 *   - the host entry it left (device, inode, ctime, size, mode): a host
 *     entry still identical to it was not changed on the host, however
 *     recent its ctime (no false conflict after a partial apply);
 *   - for the directories above, the same identity and whether the host
 *     had changed them before reins did (an apply adding a file to a
 *     directory is not the host changing it).
 * When a session ends, the host files its changes were made against (those
 * the host has not changed since the session started) are recorded the same
 * way, with a copy of their content (ID/base-kept/SHA256, each file up to
 * WORKSPACE_DIFF_FILE_MAX, all of them up to WORKSPACE_BASE_KEPT_MAX bytes);
 * apply keeps a copy of each file it writes. A path the host changes later
 * is then reviewed as the agent's change against that base, and the host's
 * change is said apart, never shown as the agent reverting it. A host edit
 * made while the session ran has no kept base: it is a conflict, shown
 * against the host's current file and said so.
 *
 * The record is the agent's input only through its paths (any byte but NUL
 * and '/', stored hex-encoded) and is bounded by bytes
 * (WORKSPACE_BASE_MAX_BYTES on disk and when loaded). */
#ifndef REINS_WORKSPACE_BASE_H
#define REINS_WORKSPACE_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "util/error.h"
#include "workspace/scan.h"
#include "workspace/session.h"

#define WORKSPACE_BASE_MAX_BYTES     (8u << 20)
#define WORKSPACE_BASE_KEPT_MAX      (64u << 20)
#define WORKSPACE_BASE_KEPT_DIR      "base-kept"
#define WORKSPACE_BASE_KEPT_FILE_MAX (8u << 20)
#define WORKSPACE_HASH_BYTES         32

enum {
        BASE_AGENT_KNOWN = 1,   /* the agent side below is recorded (else a directory above) */
        BASE_AGENT_PRESENT = 2, /* the agent's copy had an entry there */
        BASE_HOST_PRESENT = 4,  /* the host had an entry there once applied */
        BASE_HOST_CHANGED = 8,  /* directories: the host had changed it before reins did */
        BASE_HASHED = 16,       /* agent_hash holds the content's (or target's) SHA-256 */
        BASE_APPLIED = 32,      /* the base is what reins applied (else the host's file as it
                                   was when the session started, recorded when it ended) */
        BASE_KEPT = 64,         /* a copy of the base's content is kept (ID/base-kept/HASH) */
};

struct workspace_base_entry {
        char *path;
        unsigned flags;
        mode_t agent_mode;
        long long agent_size;
        unsigned char agent_hash[WORKSPACE_HASH_BYTES];
        mode_t host_mode;
        long long host_size;
        unsigned long long host_dev;
        unsigned long long host_ino;
        long long host_ctime_ns;
};

struct workspace_base {
        struct workspace_base_entry *items; /* sorted by strcmp of path */
        size_t count;
        size_t capacity;
        size_t bytes; /* the record's size on disk, against WORKSPACE_BASE_MAX_BYTES */
        unsigned long long kept_bytes; /* 1 + what the kept copies take; 0: not counted yet */
};

/* Read ID/base (no file: an empty record). A record larger than the cap or
 * malformed is refused (-EINVAL / -EFBIG with err). */
int workspace_base_load(const struct workspace_session *session, struct workspace_base *out,
                        struct reins_error *err);

const struct workspace_base_entry *workspace_base_find(const struct workspace_base *base,
                                                       const char *path);

/* Add or replace the entry for entry->path (the path is copied). */
int workspace_base_put(struct workspace_base *base, const struct workspace_base_entry *entry);

/* Write the record whole (temp file + rename, under the session's lock).
 * -EFBIG when it would pass WORKSPACE_BASE_MAX_BYTES. */
int workspace_base_save(const struct workspace_session *session, const struct workspace_base *base,
                        struct reins_error *err);

void workspace_base_free(struct workspace_base *base);

/* Fill the host side of `entry` from the host entry at `path` beneath
 * `root` (absent: BASE_HOST_PRESENT cleared). */
int workspace_base_read_host(int root, const char *path, struct workspace_base_entry *entry);

/* Fill the agent side of `entry` from a change's new side, hashing the
 * copy's file at `path` beneath `upper`. */
int workspace_base_read_agent(int upper, const struct workspace_change *change,
                              struct workspace_base_entry *entry);

/* Has the host changed the entry at `path` since its base? `st` is its lstat
 * now (NULL: absent). With a record: anything but the recorded identity;
 * without: a ctime at or after the session's start. */
bool workspace_base_host_changed(const struct workspace_base *base, long long started_ns,
                                 const char *path, const struct stat *st);

/* Keep a copy of the regular file `path` beneath `dir` as the content of
 * entry (its hash in entry->agent_hash): BASE_KEPT set when it fits the caps.
 * `ours`: the file is in the session's copy (may be chmod'ed to be read). */
int workspace_base_keep(const struct workspace_session *session, struct workspace_base *base,
                        int dir, const char *path, bool ours, struct workspace_base_entry *entry);

/* When a run ends: record the base of each host file the copy shadows (a
 * regular file copied up, changed or not) that has none yet and that the
 * host has not changed since the base time, content kept. A walk through
 * fds that holds no listing and never enters a directory the agent created
 * (no host file is below it). Before a resumed run (`resuming`), from the
 * session's change list (the cost of a `reins diff`): every other entry the copy changed gets
 * an identity record too (marked changed when the host changed it since the
 * base time), and so do the directories of files copied up and renamed: the
 * base time can then move to the new run's start (meta "resumed_ns"), which
 * is what the host had when the agent saw it. *complete is false when a cap
 * left entries unrecorded (the base time must then stay). */
int workspace_base_capture(const struct workspace_session *session, bool resuming, bool *complete,
                           struct reins_error *err);

/* Three-way classification of a session's changes (after workspace_scan and
 * the protect marks): drops the changes whose agent side is still what was
 * applied there (the host changed it since, not the agent), and sets
 * host_changed / host_why on each change the host also changed since its
 * base (a conflict: apply refuses it without --force). */
int workspace_base_classify(const struct workspace_session *session,
                            struct workspace_changes *changes, struct reins_error *err);

#endif
