/* Verify a trail: recompute the hash chain, every checkpoint's Merkle root
 * and signature, and name the first record that breaks them.
 *
 * The first problem found decides the verdict (records are numbered by
 * their position, which is their seq in an untouched trail):
 *   altered     record i's bytes changed: record i+1's `prev` no longer
 *               matches its hash (or record i is not a record at all, or a
 *               checkpoint's fields do not match the records before it)
 *   deleted     record i is missing: the record at position i carries a
 *               later seq and no record with seq i follows
 *   reordered   the record at position i carries a seq that belongs elsewhere
 *   appended    records after the final (session-end) checkpoint
 *   unsealed    no final checkpoint: the session was killed (kill -9, power
 *               loss) or records were cut from the end; everything present
 *               is checked, records after the last checkpoint are chained
 *               but not signed
 *   signature   a checkpoint's Ed25519 signature does not verify, or
 *               checkpoints are signed with different keys
 *   key         signatures verify but with a key that is not the trusted
 *               one (the user's own key, or the one given with --key)
 *   certificate the chain user key → session certificate → checkpoints
 *               breaks: a checkpoint signed by a key no certificate vouches
 *               for, a certificate for another session, one whose signature
 *               is invalid, or a second certificate (audit/session_key.h)
 *
 * The trusted key is the user's: a trail with a session certificate (every
 * trail since session keys) is trusted when its certificate is signed by
 * that key; an older trail without one (`legacy`) when its checkpoints are
 * signed by that key directly.
 * A final line without '\n' is a torn write (kill -9 during write()): it
 * is ignored and reported, it does not change the verdict. */
#ifndef REINS_AUDIT_VERIFY_H
#define REINS_AUDIT_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

enum audit_verdict {
        AUDIT_INTACT = 0,
        AUDIT_ALTERED,
        AUDIT_DELETED,
        AUDIT_REORDERED,
        AUDIT_APPENDED,
        AUDIT_UNSEALED,
        AUDIT_BAD_SIGNATURE,
        AUDIT_UNTRUSTED_KEY,
        AUDIT_BAD_CERTIFICATE,
};

struct audit_verify_result {
        enum audit_verdict verdict;
        uint64_t records;     /* complete lines */
        uint64_t checkpoints; /* valid checkpoints seen before the verdict */
        uint64_t intact;      /* records verified from the start */
        uint64_t bad_record;  /* the record named by the verdict */
        bool torn_tail;
        char key[65];         /* the user key at the root of trust (hex), when any */
        char session_key[65]; /* the certified session key (hex), when a certificate */
        bool legacy;          /* checkpoints signed by the user key, no certificate */
        char message[512];    /* the one-line explanation */
};

/* `trusted_key` (hex): the key the checkpoints must be signed with; NULL
 * accepts any consistent key (the caller then decides, see `key`). */
void audit_verify_buffer(const char *data, size_t length, const char *trusted_key,
                         struct audit_verify_result *out);
int audit_verify_file(const char *path, const char *trusted_key, struct audit_verify_result *out,
                      struct reins_error *err);

const char *audit_verdict_name(enum audit_verdict verdict);

/* Read a whole file (a trail) into memory. Caller frees *data. */
int audit_read_file(const char *path, char **data, size_t *length, struct reins_error *err);

#endif
