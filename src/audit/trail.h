/* The audit trail (DESIGN §6): one JSON object per line, hash-chained
 * (`prev` = SHA-256 of the previous record's bytes), with Ed25519-signed
 * RFC 6962 Merkle checkpoints every N records and at the end. */
#ifndef REINS_AUDIT_TRAIL_H
#define REINS_AUDIT_TRAIL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/error.h"

struct audit_trail;

/* The directory trails go to: $XDG_STATE_HOME/reins/trails, else
 * ~/.local/state/reins/trails (created 0700, owner-checked). Caller frees. */
char *audit_trail_dir(struct reins_error *err);

/* The default trail of a session: audit_trail_dir()/SESSION.jsonl. */
char *audit_trail_default_path(const char *session, struct reins_error *err);

/* Create a new trail file (0600, O_EXCL) at `path`, signing its checkpoints
 * with the user's key (created 0600 under the config dir on first use). */
int audit_trail_open(const char *path, struct audit_trail **out, struct reins_error *err);

/* An event_sink_fn (see audit/event.h): append one record. Batches writes;
 * a record is never written in part. */
void audit_trail_sink(void *trail, const json_t *event);

/* Write what is batched (the supervisor calls this when idle, at most every
 * 100 ms, and before exit). */
int audit_trail_flush(struct audit_trail *trail);

/* Final checkpoint, flush, fsync, close, free. */
int audit_trail_close(struct audit_trail *trail, struct reins_error *err);

/* The user's Ed25519 public key, hex (for session.start). */
int audit_user_public_key_hex(char out[65], struct reins_error *err);

/* Records written so far: the seq the next event will get. */
uint64_t audit_trail_records(const struct audit_trail *trail);

#endif
