/* The watch on a pool member's workspace (pool_guard.h). Directories are
 * opened one below the other with O_NOFOLLOW (a symlink in the workspace is
 * never followed out of it) and each is watched through its own open fd
 * (/proc/self/fd/N names exactly the directory opened, whatever happens to
 * its path meanwhile). */
#include "session/pool_guard.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "util/cleanup.h"

#define POOL_GUARD_MASK                                                                            \
        (IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM |          \
         IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

struct guard_walk {
        int inotify;
        size_t dirs;
        struct reins_error *err;
        const char *root;
};

/* Watch the directory `fd` (taken) and everything below it. */
static int guard_watch_tree(struct guard_walk *w, int fd)
{
        if (++w->dirs > POOL_GUARD_MAX_DIRS) {
                close(fd);
                return reins_error_set(w->err, E2BIG,
                                       "pool: %s has more than %d directories: it cannot be "
                                       "watched for changes, so it is not kept warm",
                                       w->root, POOL_GUARD_MAX_DIRS);
        }
        char self[64];
        snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
        if (inotify_add_watch(w->inotify, self, POOL_GUARD_MASK) < 0) {
                int e = errno;
                close(fd);
                return reins_error_errno(w->err, e, "pool: watching %s for changes", w->root);
        }
        DIR *dir = fdopendir(fd);
        if (!dir) {
                int e = errno;
                close(fd);
                return reins_error_errno(w->err, e, "pool: reading %s", w->root);
        }
        int r = 0;
        struct dirent *entry;
        errno = 0;
        while (r == 0 && (entry = readdir(dir))) {
                if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
                        continue;
                if (entry->d_type != DT_DIR && entry->d_type != DT_UNKNOWN)
                        continue;
                int child = openat(dirfd(dir), entry->d_name,
                                   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (child < 0) {
                        /* not a directory after all (DT_UNKNOWN), or a symlink */
                        if (errno == ENOTDIR || errno == ELOOP)
                                continue;
                        /* unreadable: its changes could not be seen */
                        r = reins_error_errno(w->err, errno, "pool: reading %s/.../%s", w->root,
                                              entry->d_name);
                        break;
                }
                r = guard_watch_tree(w, child);
                errno = 0;
        }
        if (r == 0 && errno)
                r = reins_error_errno(w->err, errno, "pool: reading %s", w->root);
        closedir(dir);
        return r;
}

int pool_guard_start(const char *root, struct reins_error *err)
{
        int inotify = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (inotify < 0)
                return reins_error_errno(err, errno, "pool: inotify");
        int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
                int e = errno;
                close(inotify);
                return reins_error_errno(err, e, "pool: %s", root);
        }
        struct guard_walk w = {.inotify = inotify, .err = err, .root = root};
        int r = guard_watch_tree(&w, fd);
        if (r < 0) {
                close(inotify);
                return r;
        }
        return inotify;
}

bool pool_guard_changed(int fd)
{
        /* any event at all: a change, or the kernel's queue overflowed */
        char buffer[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        ssize_t n = read(fd, buffer, sizeof(buffer));
        return n > 0 || (n < 0 && errno != EAGAIN);
}
