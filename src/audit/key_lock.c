#include "audit/key_lock.h"

#include <errno.h>
#include <linux/keyctl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define KEY_LOCK_TYPE "user"
/* possessor: everything; the uid: see that it exists, nothing more */
#define KEY_LOCK_PERM 0x3f010000u

/* Layout offsets. */
#define OFF_PUBLIC (sizeof(KEY_LOCK_MAGIC) - 1)
#define OFF_SALT   (OFF_PUBLIC + crypto_sign_PUBLICKEYBYTES)
#define OFF_NONCE  (OFF_SALT + crypto_pwhash_SALTBYTES)
#define OFF_SEALED (OFF_NONCE + crypto_secretbox_NONCEBYTES)

bool key_lock_parse_public(const unsigned char *bytes, size_t length,
                           unsigned char public_key[crypto_sign_PUBLICKEYBYTES])
{
        if (length != KEY_LOCK_SIZE || memcmp(bytes, KEY_LOCK_MAGIC, OFF_PUBLIC) != 0)
                return false;
        memcpy(public_key, bytes + OFF_PUBLIC, crypto_sign_PUBLICKEYBYTES);
        return true;
}

static int key_lock_derive(const char *passphrase, const unsigned char *salt,
                           unsigned char key[crypto_secretbox_KEYBYTES], struct reins_error *err)
{
        if (crypto_pwhash(key, crypto_secretbox_KEYBYTES, passphrase, strlen(passphrase), salt,
                          crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE,
                          crypto_pwhash_ALG_ARGON2ID13) != 0)
                return reins_error_set(err, ENOMEM,
                                       "deriving the key from the passphrase: out "
                                       "of memory");
        return 0;
}

int key_lock_seal(const unsigned char seed[crypto_sign_SEEDBYTES], const char *passphrase,
                  unsigned char out[KEY_LOCK_SIZE], struct reins_error *err)
{
        if (sodium_init() < 0)
                return reins_error_set(err, EIO, "libsodium failed to initialise");
        unsigned char public_key[crypto_sign_PUBLICKEYBYTES], secret[crypto_sign_SECRETKEYBYTES];
        crypto_sign_seed_keypair(public_key, secret, seed);
        sodium_memzero(secret, sizeof(secret));
        memcpy(out, KEY_LOCK_MAGIC, OFF_PUBLIC);
        memcpy(out + OFF_PUBLIC, public_key, sizeof(public_key));
        randombytes_buf(out + OFF_SALT, crypto_pwhash_SALTBYTES);
        randombytes_buf(out + OFF_NONCE, crypto_secretbox_NONCEBYTES);
        unsigned char key[crypto_secretbox_KEYBYTES];
        int r = key_lock_derive(passphrase, out + OFF_SALT, key, err);
        if (r == 0)
                crypto_secretbox_easy(out + OFF_SEALED, seed, crypto_sign_SEEDBYTES,
                                      out + OFF_NONCE, key);
        sodium_memzero(key, sizeof(key));
        return r;
}

int key_lock_open(const unsigned char locked[KEY_LOCK_SIZE], const char *passphrase,
                  unsigned char seed[crypto_sign_SEEDBYTES], struct reins_error *err)
{
        if (sodium_init() < 0)
                return reins_error_set(err, EIO, "libsodium failed to initialise");
        unsigned char key[crypto_secretbox_KEYBYTES];
        int r = key_lock_derive(passphrase, locked + OFF_SALT, key, err);
        if (r == 0 && crypto_secretbox_open_easy(seed, locked + OFF_SEALED,
                                                 crypto_secretbox_MACBYTES + crypto_sign_SEEDBYTES,
                                                 locked + OFF_NONCE, key) != 0)
                r = reins_error_set(err, EACCES, "wrong passphrase");
        sodium_memzero(key, sizeof(key));
        if (r < 0)
                sodium_memzero(seed, crypto_sign_SEEDBYTES);
        return r;
}

static void key_lock_description(const unsigned char public_key[crypto_sign_PUBLICKEYBYTES],
                                 char out[64])
{
        char hex[2 * crypto_sign_PUBLICKEYBYTES + 1];
        audit_hex(public_key, crypto_sign_PUBLICKEYBYTES, hex);
        snprintf(out, 64, "reins:audit-ed25519:%.16s", hex);
}

/* The uid's persistent keyring, linked into our process keyring so that
 * we possess it (and what it holds) for the rest of this process only. */
static long key_lock_persistent(struct reins_error *err)
{
        long ring = syscall(SYS_keyctl, KEYCTL_GET_PERSISTENT, -1, KEY_SPEC_PROCESS_KEYRING);
        if (ring < 0)
                return reins_error_errno(err, errno,
                                         "the kernel's persistent keyring (CONFIG_PERSISTENT_"
                                         "KEYRINGS) is not available");
        return ring;
}

int key_lock_keyring_put(const unsigned char public_key[crypto_sign_PUBLICKEYBYTES],
                         const unsigned char seed[crypto_sign_SEEDBYTES], struct reins_error *err)
{
        long ring = key_lock_persistent(err);
        if (ring < 0)
                return (int)ring;
        char description[64];
        key_lock_description(public_key, description);
        long key = syscall(SYS_add_key, KEY_LOCK_TYPE, description, seed,
                           (size_t)crypto_sign_SEEDBYTES, (int)ring);
        if (key < 0)
                return reins_error_errno(err, errno, "adding the key to the kernel keyring");
        if (syscall(SYS_keyctl, KEYCTL_SETPERM, key, KEY_LOCK_PERM) < 0)
                return reins_error_errno(err, errno, "restricting the key in the kernel keyring");
        return 0;
}

int key_lock_keyring_get(const unsigned char public_key[crypto_sign_PUBLICKEYBYTES],
                         unsigned char seed[crypto_sign_SEEDBYTES], struct reins_error *err)
{
        long ring = key_lock_persistent(err);
        if (ring < 0)
                return (int)ring;
        char description[64];
        key_lock_description(public_key, description);
        long key = syscall(SYS_keyctl, KEYCTL_SEARCH, ring, KEY_LOCK_TYPE, description, 0);
        if (key < 0)
                return errno == ENOKEY || errno == EKEYEXPIRED || errno == EKEYREVOKED
                           ? -ENOKEY
                           : reins_error_errno(err, errno, "searching the kernel keyring");
        long n = syscall(SYS_keyctl, KEYCTL_READ, key, seed, (size_t)crypto_sign_SEEDBYTES);
        if (n != crypto_sign_SEEDBYTES) {
                sodium_memzero(seed, crypto_sign_SEEDBYTES);
                return reins_error_set(err, EINVAL, "the kernel keyring holds a damaged key");
        }
        return 0;
}

int key_lock_keyring_forget(const unsigned char public_key[crypto_sign_PUBLICKEYBYTES],
                            struct reins_error *err)
{
        long ring = key_lock_persistent(err);
        if (ring < 0)
                return (int)ring;
        char description[64];
        key_lock_description(public_key, description);
        long key = syscall(SYS_keyctl, KEYCTL_SEARCH, ring, KEY_LOCK_TYPE, description, 0);
        if (key < 0)
                return errno == ENOKEY ? 0 : reins_error_errno(err, errno, "kernel keyring");
        /* invalidate: gone for every process at once, not just unlinked here */
        if (syscall(SYS_keyctl, KEYCTL_INVALIDATE, key) < 0)
                return reins_error_errno(err, errno, "removing the key from the kernel keyring");
        return 0;
}
