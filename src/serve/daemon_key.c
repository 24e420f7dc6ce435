/* The daemon's signing key (serve/daemon_key.h). */
#include "serve/daemon_key.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/path.h"

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
                if (sodium_init() < 0)
                        return reins_error_set(err, EIO, "libsodium failed to initialise");
                int r = audit_key_create(state_dir, SERVE_DAEMON_KEY_FILE, "the daemon's key", err);
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
