/* A passphrase-locked user key, unlocked into the kernel keyring.
 *
 * A raw seed in ~/.config/reins/ is readable by anything that can read the
 * user's files: a backup, a file-reading bug in any host tool, an agent run
 * outside reins. `reins id lock` replaces it with the seed encrypted under a
 * passphrase (Argon2id → XSalsa20-Poly1305, libsodium), next to the public
 * key in clear:
 *
 *   "reins-locked-key-v1\n" | public key (32) | salt (16) | nonce (24) |
 *   sealed seed (48)
 *
 * `reins id unlock` decrypts it once per boot into the user's persistent
 * kernel keyring (keyctl, raw syscalls: no library), as a `user` key named
 * "reins:audit-ed25519:<16 hex of the public key>", readable by its
 * possessor only. Loading the key then reads it from there; no file holds
 * the seed in clear. The keyring expires it after the kernel's persistent
 * keyring timeout without use (3 days by default) and at reboot;
 * `reins id forget` removes it at once.
 *
 * What a process running as the same user can still do while the key is
 * unlocked: join the persistent keyring and read the seed, as reins does
 * (the kernel gives every process of a uid the same rights). A sandboxed
 * process cannot: seccomp refuses keyctl and add_key. Locked, the seed is
 * out of reach without the passphrase. */
#ifndef REINS_AUDIT_KEY_LOCK_H
#define REINS_AUDIT_KEY_LOCK_H

#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>

#include "audit/keys.h"
#include "util/error.h"

#define KEY_LOCK_MAGIC "reins-locked-key-v1\n"
#define KEY_LOCK_SIZE                                                                              \
        (sizeof(KEY_LOCK_MAGIC) - 1 + crypto_sign_PUBLICKEYBYTES + crypto_pwhash_SALTBYTES +       \
         crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + crypto_sign_SEEDBYTES)

/* Is `bytes` (of `length`) a locked key? Its public key into `public_key`. */
bool key_lock_parse_public(const unsigned char *bytes, size_t length,
                           unsigned char public_key[crypto_sign_PUBLICKEYBYTES]);

/* Seal `seed` under `passphrase` into out[KEY_LOCK_SIZE]. */
int key_lock_seal(const unsigned char seed[crypto_sign_SEEDBYTES], const char *passphrase,
                  unsigned char out[KEY_LOCK_SIZE], struct reins_error *err);

/* Open a locked key with `passphrase`: -EACCES when it is the wrong one. */
int key_lock_open(const unsigned char locked[KEY_LOCK_SIZE], const char *passphrase,
                  unsigned char seed[crypto_sign_SEEDBYTES], struct reins_error *err);

/* The kernel keyring side: put, get (-ENOKEY when absent), forget. */
int key_lock_keyring_put(const unsigned char public_key[crypto_sign_PUBLICKEYBYTES],
                         const unsigned char seed[crypto_sign_SEEDBYTES], struct reins_error *err);
int key_lock_keyring_get(const unsigned char public_key[crypto_sign_PUBLICKEYBYTES],
                         unsigned char seed[crypto_sign_SEEDBYTES], struct reins_error *err);
int key_lock_keyring_forget(const unsigned char public_key[crypto_sign_PUBLICKEYBYTES],
                            struct reins_error *err);

#endif
