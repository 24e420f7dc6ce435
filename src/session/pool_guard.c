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

#include "sandbox/plan.h"
#include "util/cleanup.h"

#define POOL_GUARD_MASK                                                                            \
        (IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM |          \
         IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

struct guard_walk {
        struct pool_guard *guard;
        int inotify;
        size_t dirs;
        struct reins_error *err;
        const char *root;
};

/* Watch the directory `fd` (taken) and everything below it; `name` is its
 * name when it is at the workspace's top, else NULL. */
static int guard_watch_tree(struct guard_walk *w, int fd, bool top, const char *name)
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
        int wd = inotify_add_watch(w->inotify, self, POOL_GUARD_MASK);
        if (wd < 0) {
                int e = errno;
                close(fd);
                return reins_error_errno(w->err, e, "pool: watching %s for changes", w->root);
        }
        struct pool_guard *g = w->guard;
        if (top)
                g->root_wd = wd;
        else if (name && plan_is_placeholder_name(name) &&
                 g->placeholder_count < sizeof(g->placeholder_wd) / sizeof(g->placeholder_wd[0]))
                g->placeholder_wd[g->placeholder_count++] = wd;
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
                r = guard_watch_tree(w, child, false, top ? entry->d_name : NULL);
                errno = 0;
        }
        if (r == 0 && errno)
                r = reins_error_errno(w->err, errno, "pool: reading %s", w->root);
        closedir(dir);
        return r;
}

int pool_guard_start(struct pool_guard *guard, const char *root, struct reins_error *err)
{
        *guard = (struct pool_guard){.fd = -1, .root_wd = -1};
        int inotify = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (inotify < 0)
                return reins_error_errno(err, errno, "pool: inotify");
        int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
                int e = errno;
                close(inotify);
                return reins_error_errno(err, e, "pool: %s", root);
        }
        struct guard_walk w = {.guard = guard, .inotify = inotify, .err = err, .root = root};
        int r = guard_watch_tree(&w, fd, true, NULL);
        if (r < 0) {
                close(inotify);
                return r;
        }
        guard->fd = inotify;
        return 0;
}

static bool guard_is_placeholder_wd(const struct pool_guard *g, int wd)
{
        for (size_t i = 0; i < g->placeholder_count; i++)
                if (g->placeholder_wd[i] == wd)
                        return true;
        return false;
}

/* Is this event another session's placeholder coming or going? */
static bool guard_event_tolerated(const struct pool_guard *g, const struct inotify_event *ev)
{
        const uint32_t entry = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO;
        if (ev->wd == g->root_wd && (ev->mask & IN_ISDIR) && (ev->mask & entry) && ev->len > 0 &&
            plan_is_placeholder_name(ev->name))
                return true;
        /* the placeholder directory itself removed or renamed away: it was
         * empty then (anything made inside it was an event of its own) */
        const uint32_t self = IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED;
        return guard_is_placeholder_wd(g, ev->wd) && (ev->mask & ~self) == 0;
}

bool pool_guard_changed(struct pool_guard *g)
{
        char buffer[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
        while (!g->changed) {
                ssize_t n = read(g->fd, buffer, sizeof(buffer));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        break;
                if (n <= 0) { /* cannot tell: fail closed */
                        g->changed = true;
                        break;
                }
                for (char *at = buffer; at < buffer + n;) {
                        const struct inotify_event *ev = (const struct inotify_event *)at;
                        if ((ev->mask & IN_Q_OVERFLOW) || !guard_event_tolerated(g, ev))
                                g->changed = true;
                        at += sizeof(*ev) + ev->len;
                }
        }
        return g->changed;
}

void pool_guard_close(struct pool_guard *g)
{
        if (g->fd >= 0)
                close(g->fd);
        g->fd = -1;
}
