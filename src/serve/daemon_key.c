/* The daemon's signing key (serve/daemon_key.h). */
#include "serve/daemon_key.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/path.h"

/* A fresh seed under a temporary name, linked into place: nobody ever
 * reads a half-written key, and an existing one is never replaced. */
static int daemon_key_create(const char *state_dir, const char *path, struct reins_error *err)
{
        char name[96];
        snprintf(name, sizeof(name), ".%s.%ld.tmp", SERVE_DAEMON_KEY_FILE, (long)getpid());
        cleanup_free char *tmp = path_join(state_dir, name);
        if (!tmp)
                return reins_error_set(err, ENOMEM, "out of memory");
        unlink(tmp);
        cleanup_fd int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return reins_error_errno(err, errno, "creating the daemon's key %s", tmp);
        if (sodium_init() < 0) {
                unlink(tmp);
                return reins_error_set(err, EIO, "libsodium failed to initialise");
        }
        unsigned char seed[crypto_sign_SEEDBYTES];
        randombytes_buf(seed, sizeof(seed));
        ssize_t n = write(fd, seed, sizeof(seed));
        sodium_memzero(seed, sizeof(seed));
        int r = 0;
        if (n != (ssize_t)sizeof(seed) || fsync(fd) < 0)
                r = reins_error_errno(err, n < 0 ? errno : EIO, "writing the daemon's key %s", tmp);
        else if (link(tmp, path) < 0 && errno != EEXIST)
                r = reins_error_errno(err, errno, "creating the daemon's key %s", path);
        unlink(tmp);
        return r;
}

int serve_daemon_key_init(const char *state_dir, struct identity_public *out,
                          struct reins_error *err)
{
        cleanup_free char *path = path_join(state_dir, SERVE_DAEMON_KEY_FILE);
        if (!path)
                return reins_error_set(err, ENOMEM, "out of memory");
        struct stat st;
        if (lstat(path, &st) < 0) {
                if (errno != ENOENT)
                        return reins_error_errno(err, errno, "%s", path);
                int r = daemon_key_create(state_dir, path, err);
                if (r < 0)
                        return r;
        }
        /* owner, mode and size checked as the user's key is */
        int r = audit_key_public_file(path, out->key, err);
        if (r < 0)
                return r;
        identity_describe(out);
        return 0;
}

int serve_daemon_key_load(const char *state_dir, struct audit_key *key, struct reins_error *err)
{
        cleanup_free char *path = path_join(state_dir, SERVE_DAEMON_KEY_FILE);
        if (!path)
                return reins_error_set(err, ENOMEM, "out of memory");
        return audit_key_load_file(path, key, err);
}
