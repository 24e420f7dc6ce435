/* The space kept for a trail's last records (trail.h). When the agent can
 * fill the filesystem the trail lives on, the records that say so — the
 * failure, the freeze, session.end and the final checkpoint — need room
 * that the agent cannot take: blocks allocated to an unnamed file next to
 * the trail at open, and given back only once the sandbox is frozen. The
 * file has no name, so a supervisor killed with SIGKILL leaves nothing
 * behind: its blocks are freed with its last descriptor. */
#include "audit/trail.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"

/* The directory of `path` (a copy), "." when it has none. */
static char *reserve_directory(const char *path)
{
        char *dir = strdup(path);
        if (!dir)
                return NULL;
        char *slash = strrchr(dir, '/');
        if (slash == dir)
                slash[1] = '\0';
        else if (slash)
                *slash = '\0';
        else
                strcpy(dir, ".");
        return dir;
}

/* An unnamed file in `dir`: O_TMPFILE, or where the filesystem has none, a
 * named one unlinked at once. */
static int reserve_open(const char *dir)
{
        int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
                return fd;
        cleanup_free char *name = NULL;
        if (asprintf(&name, "%s/.reins-reserve-XXXXXX", dir) < 0)
                return -1;
        fd = mkostemp(name, O_CLOEXEC);
        if (fd >= 0)
                unlink(name);
        return fd;
}

int audit_trail_reserve_make(const char *trail_path, uint64_t bytes, int *fd,
                             struct reins_error *err)
{
        *fd = -1;
        cleanup_free char *dir = reserve_directory(trail_path);
        if (!dir)
                return reins_error_set(err, ENOMEM, "out of memory");
        int reserve = reserve_open(dir);
        if (reserve < 0)
                return reins_error_errno(err, errno, "audit trail %s: reserving space in %s",
                                         trail_path, dir);
        /* allocated blocks, not a sparse size: posix_fallocate falls back
         * to writing where the filesystem cannot allocate */
        int r = posix_fallocate(reserve, 0, (off_t)bytes);
        if (r != 0) {
                close(reserve);
                return reins_error_errno(err, r,
                                         "audit trail %s: reserving %llu KiB for its last records",
                                         trail_path, (unsigned long long)(bytes >> 10));
        }
        *fd = reserve;
        return 0;
}

void audit_trail_reserve_release(int *fd)
{
        if (*fd < 0)
                return;
        if (ftruncate(*fd, 0) < 0) {
                /* closing frees the blocks all the same */
        }
        close(*fd);
        *fd = -1;
}

bool audit_trail_shares_filesystem(const char *trail_path, const char *path)
{
        cleanup_free char *dir = reserve_directory(trail_path);
        struct stat trail_st, path_st;
        if (!dir || stat(dir, &trail_st) < 0 || stat(path, &path_st) < 0)
                return false;
        return trail_st.st_dev == path_st.st_dev;
}
