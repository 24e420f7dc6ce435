#include "govern/token_revoke.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/dirs.h"
#include "govern/token.h"
#include "util/cleanup.h"
#include "util/path.h"

#define TOKEN_REVOKED_MAX (64 << 20) /* a list larger than this is not ours */

bool token_id_valid(const char *id)
{
        if (!id || strlen(id) != TOKEN_ID_HEX)
                return false;
        for (const char *p = id; *p; p++)
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
                        return false;
        return true;
}

static int token_revoked_path(char **out, bool create, struct reins_error *err)
{
        cleanup_free char *dir = NULL;
        int rc = audit_config_dir(&dir, create, err);
        if (rc < 0)
                return rc;
        *out = path_join(dir, TOKEN_REVOKED_FILE);
        return *out ? 0 : reins_error_set(err, ENOMEM, "out of memory");
}

/* Owned by us, a regular file, writable by nobody else. */
static int token_revoked_check(int fd, const char *path, struct reins_error *err)
{
        struct stat st;
        if (fstat(fd, &st) < 0)
                return reins_error_errno(err, errno, "revocation list %s", path);
        if (!S_ISREG(st.st_mode))
                return reins_error_set(err, EPERM, "revocation list %s is not a regular file",
                                       path);
        if (st.st_uid != geteuid())
                return reins_error_set(err, EPERM,
                                       "revocation list %s is owned by uid %u, not by you: "
                                       "refusing to trust it",
                                       path, (unsigned)st.st_uid);
        if (st.st_mode & 022)
                return reins_error_set(err, EPERM,
                                       "revocation list %s is writable by others (mode %04o): "
                                       "refusing to trust it (chmod 600 %s)",
                                       path, (unsigned)(st.st_mode & 07777), path);
        if (st.st_size > TOKEN_REVOKED_MAX)
                return reins_error_set(err, EFBIG, "revocation list %s is too large", path);
        return 0;
}

static int token_revoked_read(int fd, const char *path, struct reins_strv *ids,
                              struct reins_error *err)
{
        cleanup_fclose FILE *f = fdopen(fd, "r");
        if (!f) {
                close(fd);
                return reins_error_errno(err, errno, "revocation list %s", path);
        }
        cleanup_free char *line = NULL;
        size_t size = 0;
        ssize_t n;
        unsigned lineno = 0;
        while ((n = getline(&line, &size, f)) >= 0) {
                lineno++;
                if (n > 0 && line[n - 1] == '\n')
                        line[--n] = '\0';
                if (n == 0)
                        continue;
                /* fail closed: a garbled line may have been a revocation */
                if (!token_id_valid(line))
                        return reins_error_set(err, EINVAL, "revocation list %s:%u: not a block id",
                                               path, lineno);
                if (strv_push_unique(ids, line) < 0)
                        return reins_error_set(err, ENOMEM, "out of memory");
        }
        if (ferror(f))
                return reins_error_errno(err, EIO, "reading the revocation list %s", path);
        return 0;
}

int token_revoked_load(struct reins_strv *ids, struct reins_error *err)
{
        cleanup_free char *path = NULL;
        int rc = token_revoked_path(&path, false, err);
        if (rc == -ENOENT)
                return 0; /* no config directory: nothing revoked yet */
        if (rc < 0)
                return rc;
        int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0
                                       : reins_error_errno(err, errno, "revocation list %s", path);
        if ((rc = token_revoked_check(fd, path, err)) < 0) {
                close(fd);
                return rc;
        }
        return token_revoked_read(fd, path, ids, err);
}

int token_revoke(const char *id, bool *added, struct reins_error *err)
{
        *added = false;
        if (!token_id_valid(id))
                return reins_error_set(err, EINVAL,
                                       "'%s' is not a block id (32 hex digits, as shown by "
                                       "'reins token inspect')",
                                       id);
        struct reins_strv ids = {0};
        int rc = token_revoked_load(&ids, err);
        bool listed = rc == 0 && strv_contains(&ids, id);
        strv_free(&ids);
        if (rc < 0 || listed)
                return rc;
        cleanup_free char *path = NULL;
        if ((rc = token_revoked_path(&path, true, err)) < 0)
                return rc;
        cleanup_fd int fd =
            open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return reins_error_errno(err, errno, "revocation list %s", path);
        if ((rc = token_revoked_check(fd, path, err)) < 0)
                return rc;
        char line[TOKEN_ID_HEX + 2];
        snprintf(line, sizeof(line), "%s\n", id);
        /* one write with O_APPEND: two revokes at once never interleave */
        ssize_t n = write(fd, line, strlen(line));
        if (n != (ssize_t)strlen(line) || fsync(fd) < 0)
                return reins_error_errno(err, n < 0 ? errno : EIO, "writing the revocation list %s",
                                         path);
        *added = true;
        return 0;
}
