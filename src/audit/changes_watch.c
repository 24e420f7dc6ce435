/* The end of a direct-mode session without a walk (changes.h): an inotify
 * watch on every directory of the start's snapshot (added by the start's
 * thread, before the sandbox is forked) names the directories something
 * changed in, so the end lists again only those and takes everything else
 * as the start saw it.
 *
 * inotify and not fanotify, as root too: a fanotify filesystem mark (the
 * only kind that reports entries made and removed) sees every write on the
 * whole filesystem, so an idle session would wake for every other session's
 * trail and the host's own writes (a thousand root sessions: each write woke
 * them all), and the kernel allows 128 fanotify groups per user. A watch
 * sees only its directory.
 *
 * The events are the kernel's; how many there are comes from the agent:
 * only a flag per watch is kept. Past CW_MAX_WATCH directories, when the
 * user's watches run out or when the kernel's queue overflowed, the end
 * walks the tree as without events. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <stdio.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/changes_internal.h"
#include "util/cleanup.h"
#include "util/weaken.h"

#define CW_MAX_WATCH 8192u /* inotify: directories watched, past which the end walks */
#define CW_ROOT      (CHANGES_NONE - 1)
#define CW_INOTIFY                                                                                 \
        (IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM |          \
         IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_DONT_FOLLOW | IN_ONLYDIR)

struct changes_watch {
        int fd;
        bool overflowed;
        /* inotify: watch descriptor -> the directory's index in the start's
         * snapshot (CW_ROOT: the root), and whether an event named it */
        uint32_t *wd_index;
        unsigned char *wd_dirty;
        size_t wd_cap;
};

struct changes_watch *changes_watch_start(const char *root)
{
        (void)root; /* the directories are watched once the start knows them */
        if (weaken("change-events") || weaken("change-inotify"))
                return NULL;
        int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (fd < 0)
                return NULL; /* the end walks */
        struct changes_watch *w = calloc(1, sizeof(*w));
        if (!w) {
                close(fd);
                return NULL;
        }
        w->fd = fd;
        return w;
}

int changes_watch_fd(const struct changes_watch *w)
{
        return w->fd;
}

/* inotify's events: each names a watch, that is a directory. */
static void cw_drain_inotify(struct changes_watch *w)
{
        unsigned char buf[65536];
        for (;;) {
                ssize_t n = read(w->fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return;
                size_t off = 0, len = (size_t)n;
                while (len - off >= sizeof(struct inotify_event)) {
                        struct inotify_event ev;
                        memcpy(&ev, buf + off, sizeof(ev));
                        if (ev.len > len - off - sizeof(ev)) {
                                w->overflowed = true;
                                return;
                        }
                        if (ev.mask & IN_Q_OVERFLOW)
                                w->overflowed = true;
                        else if (ev.wd > 0 && (size_t)ev.wd < w->wd_cap)
                                w->wd_dirty[ev.wd] = 1;
                        off += sizeof(ev) + ev.len;
                }
        }
}

void changes_watch_drain(struct changes_watch *w)
{
        if (w)
                cw_drain_inotify(w);
}

void changes_watch_free(struct changes_watch *w)
{
        if (!w)
                return;
        close(w->fd);
        free(w->wd_index);
        free(w->wd_dirty);
        free(w);
}

static bool cw_watch_one(struct changes_watch *w, const char *path, uint32_t index)
{
        uint32_t mask = CW_INOTIFY;
        if (weaken("change-event-mask"))
                mask &= ~(uint32_t)(IN_ATTRIB | IN_CLOSE_WRITE); /* `make weak` only */
        int wd = inotify_add_watch(w->fd, path, mask);
        if (wd <= 0)
                return false; /* no more watches (max_user_watches), or gone */
        if ((size_t)wd >= w->wd_cap) {
                size_t cap = w->wd_cap ? w->wd_cap : 1024;
                while (cap <= (size_t)wd)
                        cap *= 2;
                if (cap > 4 * (size_t)CW_MAX_WATCH)
                        return false;
                uint32_t *index_of = realloc(w->wd_index, cap * sizeof(*index_of));
                if (!index_of)
                        return false;
                w->wd_index = index_of;
                unsigned char *dirty = realloc(w->wd_dirty, cap);
                if (!dirty)
                        return false;
                memset(dirty + w->wd_cap, 0, cap - w->wd_cap);
                for (size_t i = w->wd_cap; i < cap; i++)
                        index_of[i] = CHANGES_NONE;
                w->wd_dirty = dirty;
                w->wd_cap = cap;
        }
        if (w->wd_index[wd] != CHANGES_NONE && w->wd_index[wd] != index)
                return false; /* two paths, one directory: a hard-linked or bind-mounted tree */
        w->wd_index[wd] = index;
        return true;
}

void changes_watch_dirs(struct changes_watch *w, const char *root,
                        const struct changes_snapshot *before)
{
        if (!w || !before)
                return;
        size_t dirs = 0;
        for (size_t i = 0; i < before->count; i++)
                dirs += S_ISDIR(before->entries[i].mode) &&
                        !(before->entries[i].flags & CHANGES_DROPPED);
        char *path = malloc(PATH_MAX);
        size_t root_len = strlen(root);
        bool ok =
            path && dirs < CW_MAX_WATCH && root_len < PATH_MAX && cw_watch_one(w, root, CW_ROOT);
        for (size_t i = 0; ok && i < before->count; i++) {
                const struct changes_entry *e = &before->entries[i];
                if (!S_ISDIR(e->mode) || (e->flags & CHANGES_DROPPED))
                        continue;
                size_t n = changes_path_of(before, (uint32_t)i, path + root_len + 1,
                                           PATH_MAX - root_len - 1);
                if (n == 0) {
                        ok = false;
                        break;
                }
                memcpy(path, root, root_len);
                path[root_len] = '/';
                ok = cw_watch_one(w, path, (uint32_t)i);
        }
        free(path);
        if (!ok)
                w->overflowed = true; /* not every directory is watched: the end walks */
}

struct changes_snapshot *changes_watch_end(struct changes_watch *w, const char *root,
                                           const struct changes_snapshot *before, size_t *relisted,
                                           bool *unchanged)
{
        *unchanged = false;
        if (!w || !before)
                return NULL;
        changes_watch_drain(w);
        if (w->overflowed)
                return NULL;
        /* a tree with another filesystem mounted in: walked, as it always was */
        if (before->root.flags & CHANGES_OTHER_DEV)
                return NULL;
        for (size_t i = 0; i < before->count; i++)
                if ((before->entries[i].flags & (CHANGES_OTHER_DEV | CHANGES_DROPPED)) ==
                    CHANGES_OTHER_DEV)
                        return NULL;
        unsigned char *dirty = calloc(before->count ? before->count : 1, 1);
        bool root_dirty = false;
        struct changes_snapshot *after = NULL;
        bool resolved = false;
        if (dirty) {
                for (size_t wd = 0; wd < w->wd_cap; wd++) {
                        uint32_t i = w->wd_index[wd];
                        if (!w->wd_dirty[wd] || i == CHANGES_NONE)
                                continue;
                        if (i == CW_ROOT)
                                root_dirty = true;
                        else if (i < before->count)
                                dirty[i] = 1;
                }
                resolved = true;
        }
        if (resolved) {
                /* nothing named, no file with other names: as it started */
                bool touched = root_dirty;
                for (size_t i = 0; i < before->count && !touched; i++)
                        touched = dirty[i] || ((before->entries[i].flags & CHANGES_LINKED) &&
                                               !(before->entries[i].flags & CHANGES_DROPPED));
                if (touched)
                        after = changes_cache_apply(root, before, dirty, root_dirty, relisted);
                else
                        *unchanged = true;
        }
        free(dirty);
        return after;
}
