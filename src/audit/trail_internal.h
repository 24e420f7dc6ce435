/* Trail details shared with the verifier, the CLI, tests and the bench. */
#ifndef REINS_AUDIT_TRAIL_INTERNAL_H
#define REINS_AUDIT_TRAIL_INTERNAL_H

#include <stdint.h>

#include "audit/keys.h"
#include "audit/trail.h"

#define AUDIT_CHECKPOINT_EVERY 1000               /* event records between checkpoints */
#define AUDIT_BATCH_BYTES      (64 * 1024)        /* flush once this much is buffered */
#define AUDIT_BATCH_AGE_NS     (100 * 1000000ULL) /* or the oldest record is older */
#define AUDIT_TRAIL_SUFFIX     ".jsonl"

/* Open a trail signing with `key` (copied), not the user's key. */
int audit_trail_open_with_key(const char *path, const struct audit_key *key,
                              struct audit_trail **out, struct reins_error *err);
void audit_trail_set_checkpoint_interval(struct audit_trail *trail, uint64_t every);
/* Call `hook` with each checkpoint record as it is made (audit/anchor.h). */
void audit_trail_set_checkpoint_hook(struct audit_trail *trail,
                                     void (*hook)(void *ctx, const json_t *record), void *ctx);
/* Free the trail without the final checkpoint or a flush (tests: a crash). */
void audit_trail_abandon(struct audit_trail *trail);

#endif
