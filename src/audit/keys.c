#include "audit/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/dirs.h"
#include "audit/key_lock.h"
#include "audit/trail.h"
#include "util/cleanup.h"
#include "util/path.h"

void audit_hex(const unsigned char *bytes, size_t length, char *out)
{
        static const char digits[] = "0123456789abcdef";
        for (size_t i = 0; i < length; i++) {
                out[2 * i] = digits[bytes[i] >> 4];
                out[2 * i + 1] = digits[bytes[i] & 15];
        }
        out[2 * length] = '\0';
}

static int audit_hex_digit(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int audit_unhex(const char *hex, unsigned char *bytes, size_t length)
{
        if (!hex || strlen(hex) != 2 * length)
                return -EINVAL;
        for (size_t i = 0; i < length; i++) {
                int high = audit_hex_digit(hex[2 * i]), low = audit_hex_digit(hex[2 * i + 1]);
                if (high < 0 || low < 0)
                        return -EINVAL;
                bytes[i] = (unsigned char)(high << 4 | low);
        }
        return 0;
}

void audit_key_wipe(struct audit_key *key)
{
        sodium_memzero(key, sizeof(*key));
}

/* Set once the session key is certified (audit/session_key.h): this
 * process parses untrusted bytes from then on and must not hold the user's
 * key again. A guard against our own mistakes, not against code running in
 * the process: such code could read the key file itself (README: "same-user
 * forgery"). */
static bool audit_key_sealed;

void audit_key_seal(void)
{
        audit_key_sealed = true;
}

static int audit_key_refuse_sealed(const char *path, struct reins_error *err)
{
        return reins_error_set(err, EPERM,
                               "audit key %s: not loaded in a process that parses what the "
                               "sandbox sends (this session signs with its certified session key)",
                               path);
}

/* Open and check the key file; read its bytes (a raw seed, or a locked
 * key, audit/key_lock.h) into buffer[KEY_LOCK_SIZE]. */
static int audit_key_read(const char *path, unsigned char *buffer, size_t *length,
                          struct reins_error *err)
{
        if (sodium_init() < 0)
                return reins_error_set(err, EIO, "libsodium failed to initialise");
        cleanup_fd int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return reins_error_errno(err, errno, "audit key %s", path);
        struct stat st;
        if (fstat(fd, &st) < 0)
                return reins_error_errno(err, errno, "audit key %s", path);
        if (!S_ISREG(st.st_mode))
                return reins_error_set(err, EPERM, "audit key %s is not a regular file", path);
        if (st.st_uid != geteuid())
                return reins_error_set(err, EPERM,
                                       "audit key %s is owned by uid %u, not by you: refusing to "
                                       "sign with it",
                                       path, (unsigned)st.st_uid);
        /* a key others can read lets them forge checkpoints that verify */
        if (st.st_mode & 077)
                return reins_error_set(err, EPERM,
                                       "audit key %s is accessible by group or others (mode "
                                       "%04o): refusing to use it (chmod 600 %s, and consider it "
                                       "leaked)",
                                       path, (unsigned)(st.st_mode & 07777), path);
        if (st.st_size != crypto_sign_SEEDBYTES && st.st_size != (off_t)KEY_LOCK_SIZE)
                return reins_error_set(err, EINVAL,
                                       "audit key %s: expected %d bytes (or a locked key), found "
                                       "%lld (corrupt?)",
                                       path, crypto_sign_SEEDBYTES, (long long)st.st_size);
        ssize_t n = read(fd, buffer, (size_t)st.st_size);
        if (n != (ssize_t)st.st_size) {
                sodium_memzero(buffer, KEY_LOCK_SIZE);
                return reins_error_set(err, EIO, "audit key %s: short read", path);
        }
        *length = (size_t)n;
        return 0;
}

int audit_key_load_file(const char *path, struct audit_key *key, struct reins_error *err)
{
        if (audit_key_sealed)
                return audit_key_refuse_sealed(path, err);
        unsigned char buffer[KEY_LOCK_SIZE], seed[crypto_sign_SEEDBYTES];
        size_t length = 0;
        int r = audit_key_read(path, buffer, &length, err);
        if (r < 0)
                return r;
        unsigned char public_key[crypto_sign_PUBLICKEYBYTES];
        if (key_lock_parse_public(buffer, length, public_key)) {
                /* locked: the seed is in the kernel keyring once unlocked */
                r = key_lock_keyring_get(public_key, seed, err);
                if (r == -ENOKEY)
                        r = reins_error_set(err, ENOKEY,
                                            "audit key %s is locked: run 'reins id unlock' (once "
                                            "per boot)",
                                            path);
        } else if (length == crypto_sign_SEEDBYTES) {
                memcpy(seed, buffer, sizeof(seed));
        } else {
                r = reins_error_set(err, EINVAL, "audit key %s: not a key (corrupt?)", path);
        }
        sodium_memzero(buffer, sizeof(buffer));
        if (r < 0)
                return r;
        crypto_sign_seed_keypair(key->public_key, key->secret_key, seed);
        sodium_memzero(seed, sizeof(seed));
        if (length == KEY_LOCK_SIZE &&
            sodium_memcmp(key->public_key, public_key, sizeof(public_key)) != 0) {
                audit_key_wipe(key);
                return reins_error_set(err, EINVAL,
                                       "audit key %s: the kernel keyring holds another key "
                                       "under its name",
                                       path);
        }
        return 0;
}

int audit_key_public_file(const char *path, unsigned char public_key[crypto_sign_PUBLICKEYBYTES],
                          struct reins_error *err)
{
        unsigned char buffer[KEY_LOCK_SIZE];
        size_t length = 0;
        int r = audit_key_read(path, buffer, &length, err);
        if (r < 0)
                return r;
        if (!key_lock_parse_public(buffer, length, public_key)) {
                if (length != crypto_sign_SEEDBYTES) {
                        sodium_memzero(buffer, sizeof(buffer));
                        return reins_error_set(err, EINVAL, "audit key %s: not a key", path);
                }
                unsigned char secret[crypto_sign_SECRETKEYBYTES];
                crypto_sign_seed_keypair(public_key, secret, buffer);
                sodium_memzero(secret, sizeof(secret));
        }
        sodium_memzero(buffer, sizeof(buffer));
        return 0;
}

/* Write a fresh seed under a temporary name and link() it into place:
 * link fails with EEXIST when a parallel session won the race, and then
 * both use the winner's key; nobody ever reads a half-written key, and an
 * existing one is never replaced. `what` names the key in errors. */
int audit_key_create(const char *dir, const char *file, const char *what, struct reins_error *err)
{
        char name[96];
        snprintf(name, sizeof(name), ".%s.%ld.tmp", file, (long)getpid());
        cleanup_free char *tmp = path_join(dir, name);
        cleanup_free char *path = path_join(dir, file);
        if (!tmp || !path)
                return reins_error_set(err, ENOMEM, "out of memory");
        unlink(tmp);
        cleanup_fd int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return reins_error_errno(err, errno, "creating %s %s", what, tmp);
        unsigned char seed[crypto_sign_SEEDBYTES];
        randombytes_buf(seed, sizeof(seed));
        ssize_t n = write(fd, seed, sizeof(seed));
        sodium_memzero(seed, sizeof(seed));
        int r = 0;
        if (n != (ssize_t)sizeof(seed) || fsync(fd) < 0)
                r = reins_error_errno(err, n < 0 ? errno : EIO, "writing %s %s", what, tmp);
        else if (link(tmp, path) < 0 && errno != EEXIST)
                r = reins_error_errno(err, errno, "creating %s %s", what, path);
        unlink(tmp);
        return r;
}

int audit_key_path(char **out, bool create, struct reins_error *err)
{
        cleanup_free char *dir = NULL;
        int r = audit_config_dir(&dir, create, err);
        if (r < 0)
                return r == -ENOENT && !create ? -ENOENT : r;
        cleanup_free char *path = path_join(dir, AUDIT_KEY_FILE);
        if (!path)
                return reins_error_set(err, ENOMEM, "out of memory");
        if (access(path, F_OK) < 0 && errno == ENOENT) {
                if (!create)
                        return -ENOENT;
                if ((r = audit_key_create(dir, AUDIT_KEY_FILE, "the audit key", err)) < 0)
                        return r;
        }
        *out = steal_ptr(&path);
        return 0;
}

int audit_key_load(struct audit_key *key, bool create, struct reins_error *err)
{
        if (audit_key_sealed)
                return audit_key_refuse_sealed(AUDIT_KEY_FILE, err);
        cleanup_free char *path = NULL;
        int r = audit_key_path(&path, create, err);
        if (r < 0)
                return r;
        return audit_key_load_file(path, key, err);
}

int audit_user_public_key(unsigned char out[crypto_sign_PUBLICKEYBYTES], bool create,
                          struct reins_error *err)
{
        cleanup_free char *path = NULL;
        int r = audit_key_path(&path, create, err);
        if (r < 0)
                return r;
        return audit_key_public_file(path, out, err);
}

int audit_user_public_key_hex(char out[65], struct reins_error *err)
{
        unsigned char public_key[crypto_sign_PUBLICKEYBYTES];
        int r = audit_user_public_key(public_key, true, err);
        if (r < 0)
                return r;
        audit_hex(public_key, sizeof(public_key), out);
        return 0;
}

/* Replace the key file with `bytes`, atomically (rename over it). */
static int audit_key_replace(const char *path, const unsigned char *bytes, size_t length,
                             struct reins_error *err)
{
        cleanup_free char *tmp = NULL;
        if (asprintf(&tmp, "%s.%ld.tmp", path, (long)getpid()) < 0)
                return reins_error_set(err, ENOMEM, "out of memory");
        unlink(tmp);
        cleanup_fd int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return reins_error_errno(err, errno, "audit key %s", tmp);
        ssize_t n = write(fd, bytes, length);
        if (n != (ssize_t)length || fsync(fd) < 0 || rename(tmp, path) < 0) {
                int code = n < 0 ? errno : n != (ssize_t)length ? EIO : errno;
                unlink(tmp);
                return reins_error_errno(err, code, "writing the audit key %s", path);
        }
        return 0;
}

int audit_key_lock(const char *passphrase, struct reins_error *err)
{
        cleanup_free char *path = NULL;
        int r = audit_key_path(&path, true, err);
        if (r < 0)
                return r;
        unsigned char buffer[KEY_LOCK_SIZE], locked[KEY_LOCK_SIZE], public_key[32];
        size_t length = 0;
        if ((r = audit_key_read(path, buffer, &length, err)) < 0)
                return r;
        if (key_lock_parse_public(buffer, length, public_key)) {
                sodium_memzero(buffer, sizeof(buffer));
                return reins_error_set(err, EEXIST, "audit key %s is locked already", path);
        }
        r = key_lock_seal(buffer, passphrase, locked, err);
        /* unlocked until the keyring forgets it: this session of the user
         * goes on signing without a prompt */
        if (r == 0 && key_lock_parse_public(locked, sizeof(locked), public_key))
                r = key_lock_keyring_put(public_key, buffer, err);
        sodium_memzero(buffer, sizeof(buffer));
        if (r == 0)
                r = audit_key_replace(path, locked, sizeof(locked), err);
        return r;
}

int audit_key_unlock(const char *passphrase, struct reins_error *err)
{
        cleanup_free char *path = NULL;
        int r = audit_key_path(&path, false, err);
        if (r == -ENOENT)
                return reins_error_set(err, ENOENT, "you have no audit key yet");
        if (r < 0)
                return r;
        unsigned char buffer[KEY_LOCK_SIZE], seed[crypto_sign_SEEDBYTES], public_key[32];
        size_t length = 0;
        if ((r = audit_key_read(path, buffer, &length, err)) < 0)
                return r;
        if (!key_lock_parse_public(buffer, length, public_key)) {
                sodium_memzero(buffer, sizeof(buffer));
                return reins_error_set(
                    err, EINVAL, "audit key %s is not locked (lock it with 'reins id lock')", path);
        }
        r = key_lock_open(buffer, passphrase, seed, err);
        if (r == 0)
                r = key_lock_keyring_put(public_key, seed, err);
        sodium_memzero(seed, sizeof(seed));
        sodium_memzero(buffer, sizeof(buffer));
        return r;
}

int audit_key_forget(struct reins_error *err)
{
        unsigned char public_key[crypto_sign_PUBLICKEYBYTES];
        int r = audit_user_public_key(public_key, false, err);
        if (r == -ENOENT)
                return 0;
        return r < 0 ? r : key_lock_keyring_forget(public_key, err);
}
