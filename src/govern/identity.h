/* Who is who: the user is the Ed25519 key the audit trail already signs
 * checkpoints with (audit/keys.h, one key store, not two); each session's
 * agent is a fresh key pair that never leaves the supervisor. */
#ifndef REINS_GOVERN_IDENTITY_H
#define REINS_GOVERN_IDENTITY_H

#include <stdbool.h>

#include "audit/keys.h"
#include "util/error.h"

/* 16 hex digits: the first 8 bytes of SHA-256 of the public key. */
#define IDENTITY_FINGERPRINT_HEX 16
#define IDENTITY_PUBLIC_HEX      (2 * crypto_sign_PUBLICKEYBYTES)

struct identity_public {
        unsigned char key[crypto_sign_PUBLICKEYBYTES];
        char hex[IDENTITY_PUBLIC_HEX + 1];
        char fingerprint[IDENTITY_FINGERPRINT_HEX + 1];
};

/* The user's key pair, created (0600) on first use when `create`. */
int identity_user_key(struct audit_key *key, bool create, struct reins_error *err);

/* The user's public key, hex and fingerprint (creates the key when missing). */
int identity_user_public(struct identity_public *out, struct reins_error *err);

/* Fill hex and fingerprint from `out->key`. */
void identity_describe(struct identity_public *out);

/* A fresh per-session agent key pair (secret in `key`, public in `out`). */
int identity_agent_new(struct audit_key *key, struct identity_public *out, struct reins_error *err);

#endif
