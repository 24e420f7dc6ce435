/* The audit trail (DESIGN §6): one JSON object per line, hash-chained
 * (`prev` = SHA-256 of the previous record's bytes), with Ed25519-signed
 * RFC 6962 Merkle checkpoints every N records and at the end. */
#ifndef REINS_AUDIT_TRAIL_H
#define REINS_AUDIT_TRAIL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/error.h"
#include "policy/policy.h"

struct audit_trail;

/* Bounds (trail.c): the file's size and the average rate of ordinary
 * records, in bytes (policy limits.trail_size and limits.trail_rate). */
#define AUDIT_TRAIL_SIZE_DEFAULT POLICY_TRAIL_SIZE_DEFAULT
#define AUDIT_TRAIL_SIZE_MIN     POLICY_TRAIL_SIZE_MIN
#define AUDIT_TRAIL_RATE_DEFAULT POLICY_TRAIL_RATE_DEFAULT
#define AUDIT_TRAIL_RATE_MIN     POLICY_TRAIL_RATE_MIN
#define AUDIT_ROOM_PRIORITY      (256 * 1024) /* the size's last bytes ordinary records leave */
#define AUDIT_ROOM_CLOSING       (64 * 1024)  /* and those priority records leave */
/* Preallocated next to the trail at open, released only once the sandbox
 * is frozen, for the last records when the disk is full. */
#define AUDIT_TRAIL_RESERVE (1 << 20)

/* The directory trails go to: $XDG_STATE_HOME/reins/trails, else
 * ~/.local/state/reins/trails (created 0700, owner-checked). Caller frees. */
char *audit_trail_dir(struct reins_error *err);

/* The default trail of a session: audit_trail_dir()/SESSION.jsonl. */
char *audit_trail_default_path(const char *session, struct reins_error *err);

/* Create a new trail file (0600, O_EXCL) at `path`, signing its checkpoints
 * with the user's key (created 0600 under the config dir on first use), and
 * reserve AUDIT_TRAIL_RESERVE bytes next to it (fails when there is no
 * room: a trail that could not record its own end does not start). */
int audit_trail_open(const char *path, struct audit_trail **out, struct reins_error *err);

/* An event_sink_fn (see audit/event.h): append one record. Batches writes;
 * a record is never written in part. */
void audit_trail_sink(void *trail, const json_t *event);

/* Write what is batched (the supervisor calls this when idle, at most every
 * 100 ms, and before exit). */
int audit_trail_flush(struct audit_trail *trail);

/* Records are batched and waiting for audit_trail_flush (false once the
 * trail failed or is blocked: flushing would not write them). */
bool audit_trail_pending(const struct audit_trail *trail);

/* Flush and fsync: what is recorded so far survives a crash. `session.start` is made durable so
 * before the command runs. */
int audit_trail_sync(struct audit_trail *trail);
/* The trail file's descriptor (a pool member syncs it beside its loop,
 * session/session.c); -1 when closed. */
int audit_trail_fd(const struct audit_trail *trail);

/* limits.trail_size and limits.trail_rate (below their minimums: the
 * defaults). Before the first event. */
void audit_trail_set_limits(struct audit_trail *trail, uint64_t size, uint64_t rate);

/* Why the trail cannot be written (a write failed: it is blocked, holding
 * its records in memory, or lost), or NULL while it can. */
const char *audit_trail_failure(const struct audit_trail *trail);

/* After a failed write, once the sandbox is frozen: release the reserved
 * space and write what waits. The records that follow (what happened, the
 * end, the seal) go to the same space. */
int audit_trail_use_reserve(struct audit_trail *trail);

/* The space reserved next to a trail (trail_reserve.c): an unnamed file in
 * the trail's directory holding `bytes` of allocated blocks, freed when
 * released (or when the process dies). */
int audit_trail_reserve_make(const char *trail_path, uint64_t bytes, int *fd,
                             struct reins_error *err);
void audit_trail_reserve_release(int *fd);

/* Is the trail's directory on the filesystem that holds `path`? */
bool audit_trail_shares_filesystem(const char *trail_path, const char *path);

/* Final checkpoint, flush, fsync, close, free. */
int audit_trail_close(struct audit_trail *trail, struct reins_error *err);

/* The user's Ed25519 public key, hex (for session.start). */
int audit_user_public_key_hex(char out[65], struct reins_error *err);

/* Records written so far: the seq the next event will get. */
uint64_t audit_trail_records(const struct audit_trail *trail);

#endif
