/* The user's Ed25519 signing key for checkpoints: a 32-byte seed in
 * $XDG_CONFIG_HOME/reins/audit-ed25519.key (else ~/.config/reins/),
 * created on first use with mode 0600 in a 0700 directory. Loading refuses a
 * key another user owns or can read: a readable key lets anyone forge a
 * trail that verifies. */
#ifndef REINS_AUDIT_KEYS_H
#define REINS_AUDIT_KEYS_H

#include <sodium.h>
#include <stdbool.h>

#include "util/error.h"

#define AUDIT_KEY_FILE "audit-ed25519.key"

struct audit_key {
        unsigned char public_key[crypto_sign_PUBLICKEYBYTES];
        unsigned char secret_key[crypto_sign_SECRETKEYBYTES];
};

/* Load the key (creating it first when `create` and it does not exist).
 * -ENOENT without a message when !create and there is none. */
int audit_key_load(struct audit_key *key, bool create, struct reins_error *err);

/* Load a key from an explicit path (checked the same way). A locked key
 * (audit/key_lock.h) is read from the kernel keyring; -ENOKEY when it is
 * not unlocked. */
int audit_key_load_file(const char *path, struct audit_key *key, struct reins_error *err);

/* The key file's path (created first when `create` and missing). */
int audit_key_path(char **path, bool create, struct reins_error *err);

/* Only the public key: no secret is read (a locked key's is in clear). */
/* A fresh key file DIR/FILE (0600), linked into place; an existing one
 * is kept. `what` names it in errors ("the audit key"). */
int audit_key_create(const char *dir, const char *file, const char *what, struct reins_error *err);
int audit_key_public_file(const char *path, unsigned char public_key[crypto_sign_PUBLICKEYBYTES],
                          struct reins_error *err);
int audit_user_public_key(unsigned char public_key[crypto_sign_PUBLICKEYBYTES], bool create,
                          struct reins_error *err);

void audit_key_wipe(struct audit_key *key);

/* From now on audit_key_load* refuse (-EPERM): the process is about to
 * parse bytes the sandbox controls (audit/session_key.h). */
void audit_key_seal(void);

/* Lock the key file under a passphrase (and unlock it into the kernel
 * keyring), unlock it again (once per boot), forget it from the keyring:
 * audit/key_lock.h. */
int audit_key_lock(const char *passphrase, struct reins_error *err);
int audit_key_unlock(const char *passphrase, struct reins_error *err);
int audit_key_forget(struct reins_error *err);

/* Lower-case hex of `length` bytes into out (2*length+1 bytes). */
void audit_hex(const unsigned char *bytes, size_t length, char *out);
/* Parse exactly 2*length hex digits; 0 or -EINVAL. */
int audit_unhex(const char *hex, unsigned char *bytes, size_t length);

#endif
