/* reins.lock: what a policy's environment resolved to, so that a second
 * machine builds the same root (and a first one notices when it did not).
 *
 *   # reins.lock: written by reins env build
 *   reins-lock 1
 *   source debian:bookworm;git,python3;sdks=
 *   key 3f2a...                 (the cache entry, 64 hex)
 *   digest sha256:...           (OCI: manifest, config, each layer)
 *   package python3=3.11.2-1+b1 (Debian: every installed package)
 *
 * The file sits next to the policy, in a directory the agent may write:
 * the reader is strict and bounded (size, lines, each field's shape), and
 * nothing in it is trusted beyond naming a cache entry that reins built
 * and verified itself. */
#include "env/env.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fileio.h"

static bool lock_is_hex64(const char *s, size_t len)
{
        if (len != 64)
                return false;
        for (size_t i = 0; i < len; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

static bool lock_is_printable(const char *s, size_t len)
{
        for (size_t i = 0; i < len; i++)
                if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] == 0x7f)
                        return false;
        return true;
}

static int lock_fail(struct reins_error *err, size_t line, const char *what)
{
        return reins_error_set(err, EINVAL, "reins.lock:%zu: %s", line, what);
}

static int lock_parse_line(struct env_lock *out, const char *s, size_t len, size_t number,
                           bool *header, struct reins_error *err)
{
        if (len == 0 || s[0] == '#')
                return 0;
        const char *space = memchr(s, ' ', len);
        if (!space)
                return lock_fail(err, number, "expected 'FIELD VALUE'");
        size_t name_len = (size_t)(space - s);
        const char *value = space + 1;
        size_t value_len = len - name_len - 1;
        if (value_len == 0 || value_len > 4096 || !lock_is_printable(value, value_len))
                return lock_fail(err, number, "empty, too long or unprintable value");
        if (name_len == 10 && memcmp(s, "reins-lock", 10) == 0) {
                if (value_len != 1 || value[0] != '1')
                        return lock_fail(err, number, "unsupported version (this reins reads 1)");
                *header = true;
                return 0;
        }
        if (!*header)
                return lock_fail(err, number, "missing 'reins-lock 1' before the fields");
        if (name_len == 6 && memcmp(s, "source", 6) == 0) {
                if (out->source)
                        return lock_fail(err, number, "a second source");
                out->source = strndup(value, value_len);
                return out->source ? 0 : -ENOMEM;
        }
        if (name_len == 3 && memcmp(s, "key", 3) == 0) {
                if (!lock_is_hex64(value, value_len))
                        return lock_fail(err, number, "key: expected 64 lower-case hex digits");
                memcpy(out->key, value, 64);
                out->key[64] = '\0';
                return 0;
        }
        if (name_len == 6 && memcmp(s, "digest", 6) == 0) {
                if (value_len != 71 || memcmp(value, "sha256:", 7) != 0 ||
                    !lock_is_hex64(value + 7, 64))
                        return lock_fail(err, number, "digest: expected sha256:HEX");
                cleanup_free char *copy = strndup(value, value_len);
                return copy ? strv_push(&out->digests, copy) : -ENOMEM;
        }
        if (name_len == 7 && memcmp(s, "package", 7) == 0) {
                const char *equal = memchr(value, '=', value_len);
                if (!equal || equal == value || equal == value + value_len - 1)
                        return lock_fail(err, number, "package: expected NAME=VERSION");
                cleanup_free char *copy = strndup(value, value_len);
                return copy ? strv_push(&out->packages, copy) : -ENOMEM;
        }
        return lock_fail(err, number, "unknown field");
}

int env_lock_parse(const char *text, size_t len, struct env_lock *out, struct reins_error *err)
{
        memset(out, 0, sizeof(*out));
        if (len > ENV_LOCK_MAX_BYTES)
                return reins_error_set(err, EFBIG, "reins.lock: larger than %u bytes",
                                       ENV_LOCK_MAX_BYTES);
        bool header = false;
        size_t number = 0, start = 0;
        int r = 0;
        while (r == 0 && start < len) {
                const char *nl = memchr(text + start, '\n', len - start);
                size_t end = nl ? (size_t)(nl - text) : len;
                if (++number > ENV_LOCK_MAX_LINES)
                        r = lock_fail(err, number, "too many lines");
                else if (memchr(text + start, '\0', end - start))
                        r = lock_fail(err, number, "a NUL byte");
                else
                        r = lock_parse_line(out, text + start, end - start, number, &header, err);
                start = end + 1;
        }
        if (r == 0 && (!header || !out->source || !out->key[0]))
                r = reins_error_set(err, EINVAL, "reins.lock: needs reins-lock 1, source and key");
        if (r < 0) {
                if (r == -ENOMEM && err && err->code == 0)
                        reins_error_set(err, ENOMEM, "reins.lock: out of memory");
                env_lock_free(out);
        }
        return r;
}

int env_lock_read(const char *path, struct env_lock *out, struct reins_error *err)
{
        /* the policy's directory is the user's (or the agent's): no link */
        cleanup_fd int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? -ENOENT : reins_error_errno(err, errno, "%s", path);
        cleanup_free char *data = NULL;
        size_t len = 0;
        bool truncated = false;
        int r = fileio_read_fd(fd, ENV_LOCK_MAX_BYTES, &data, &len, &truncated);
        if (r < 0)
                return reins_error_errno(err, -r, "%s", path);
        if (truncated)
                return reins_error_set(err, EFBIG, "%s: larger than %u bytes", path,
                                       ENV_LOCK_MAX_BYTES);
        r = env_lock_parse(data, len, out, err);
        return r < 0 ? reins_error_prefix(err, "%s", path), r : 0;
}

char *env_lock_format(const struct env_lock *lock)
{
        char *text = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&text, &len);
        if (!out)
                return NULL;
        fprintf(out,
                "# reins.lock: the environment this policy resolved to (reins env build)\n"
                "reins-lock 1\nsource %s\nkey %s\n",
                lock->source, lock->key);
        for (size_t i = 0; i < lock->digests.count; i++)
                fprintf(out, "digest %s\n", lock->digests.items[i]);
        for (size_t i = 0; i < lock->packages.count; i++)
                fprintf(out, "package %s\n", lock->packages.items[i]);
        if (fclose(out) != 0) {
                free(text);
                return NULL;
        }
        return text;
}

int env_lock_write(const char *path, const struct env_lock *lock, struct reins_error *err)
{
        cleanup_free char *text = env_lock_format(lock);
        cleanup_free char *tmp = NULL;
        if (!text || asprintf(&tmp, "%s.%d.tmp", path, (int)getpid()) < 0)
                return reins_error_set(err, ENOMEM, "out of memory");
        cleanup_fd int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0)
                return reins_error_errno(err, errno, "%s", tmp);
        int r = fileio_write_all(fd, text, strlen(text));
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                unlink(tmp);
                return reins_error_errno(err, -r, "writing %s", path);
        }
        return 0;
}

void env_lock_free(struct env_lock *lock)
{
        free(lock->source);
        lock->source = NULL;
        strv_free(&lock->digests);
        strv_free(&lock->packages);
}
