/* Write a capped session's in-memory copy back to disk (store.h). */
#include "workspace/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "workspace/fsops.h"
#include "workspace/upper_copy.h"

#define STORE_NEW "upper.new"

int workspace_store_sweep(const struct workspace_session *session, struct reins_error *err)
{
        if (workspace_session_is_live(session))
                return 0;
        cleanup_fd int dir = open(session->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dir < 0)
                return reins_error_errno(err, errno, "%s", session->dir);
        int r = ws_remove_tree_at(dir, STORE_NEW);
        if (r < 0 && r != -ENOENT)
                return reins_error_errno(err, -r, "removing the stale %s/" STORE_NEW, session->dir);
        return 0;
}

int workspace_store_copy(const struct workspace_session *session, int memory,
                         struct reins_error *err)
{
        cleanup_fd int dir = open(session->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        cleanup_fd int from =
            openat(memory, "upper", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (dir < 0 || from < 0 || fstat(from, &st) < 0)
                return reins_error_errno(err, errno, "saving the copy of session %s", session->id);
        /* what an interrupted earlier store left behind */
        int r = ws_remove_tree_at(dir, STORE_NEW);
        if (r < 0 && r != -ENOENT)
                return reins_error_errno(err, -r, "saving the copy of session %s", session->id);
        if (mkdirat(dir, STORE_NEW, 0700) < 0)
                return reins_error_errno(err, errno, "saving the copy of session %s", session->id);
        cleanup_fd int to = openat(dir, STORE_NEW, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (to < 0)
                r = -errno;
        else if ((r = upper_copy_tree(from, to)) == 0 && fchmod(to, st.st_mode & 07777) < 0)
                r = -errno;
        if (r == 0 && renameat2(dir, STORE_NEW, dir, "upper", RENAME_EXCHANGE) < 0)
                r = -errno;
        if (r < 0) {
                ws_remove_tree_at(dir, STORE_NEW);
                return reins_error_errno(err, -r, "saving the copy of session %s to %s",
                                         session->id, session->dir);
        }
        /* upper.new now holds the copy as it was before the session */
        r = ws_remove_tree_at(dir, STORE_NEW);
        if (r < 0)
                return reins_error_errno(err, -r, "removing the old copy of session %s",
                                         session->id);
        return 0;
}
