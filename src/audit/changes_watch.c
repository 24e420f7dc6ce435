/* The end of a direct-mode session without a walk (changes.h): fanotify
 * reports every change on the workspace's filesystem with the directory it
 * happened in (FAN_REPORT_DFID_NAME), so the end lists again only the
 * directories named, and takes everything else as the start saw it.
 *
 * A filesystem mark needs CAP_SYS_ADMIN: as root only. The mark is made
 * before the start is looked at, so nothing changed after the start goes
 * unreported; the queue is read while the session runs (the session's
 * event loop) and at the end. The events are the kernel's, but the names
 * they carry and how many there are come from the agent (and from anything
 * else writing on that filesystem): only the directories' handles are kept,
 * each once, up to CW_MAX_DIRS and CW_MAX_BYTES; past that, or when the
 * kernel's queue overflowed, the end walks the tree as without events. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <stdio.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/changes_internal.h"
#include "util/cleanup.h"
#include "util/weaken.h"

#define CW_MAX_DIRS  65536u /* distinct directories remembered */
#define CW_MAX_WATCH 8192u  /* inotify: directories watched, past which the end walks */
#define CW_ROOT      (CHANGES_NONE - 1)
#define CW_INOTIFY                                                                                 \
        (IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM |          \
         IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_DONT_FOLLOW | IN_ONLYDIR)
#define CW_MAX_BYTES (4u << 20) /* bytes of their handles */
#define CW_EVENTS                                                                                  \
        (FAN_MODIFY | FAN_ATTRIB | FAN_CLOSE_WRITE | FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM |    \
         FAN_MOVED_TO | FAN_DELETE_SELF | FAN_MOVE_SELF | FAN_ONDIR)

struct cw_slot {
        uint32_t off, hash;
        uint16_t len; /* 0: free */
        int32_t type;
};

struct changes_watch {
        int fd;
        bool inotify; /* unprivileged: one inotify watch per directory (changes_watch_dirs) */
        bool overflowed;
        /* inotify: watch descriptor -> the directory's index in the start's
         * snapshot (CW_ROOT: the root), and whether an event named it */
        uint32_t *wd_index;
        unsigned char *wd_dirty;
        size_t wd_cap;
        struct cw_slot *slots;
        size_t slot_count, used;
        unsigned char *bytes;
        size_t bytes_used, bytes_cap;
};

/* What is asked for: a write (and a close after writing: a file written
 * through a memory mapping reports nothing else), a change of metadata, and
 * every entry made, removed or renamed. */
static uint64_t cw_events(void)
{
        uint64_t mask = CW_EVENTS;
        if (weaken("change-event-mask"))
                mask &= ~(uint64_t)(FAN_ATTRIB | FAN_CLOSE_WRITE); /* `make weak` only */
        return mask;
}

struct changes_watch *changes_watch_start(const char *root)
{
        if (weaken("change-events"))
                return NULL;
        int fd = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_DFID_NAME,
                               O_RDONLY | O_CLOEXEC);
        if (fd >= 0 && fanotify_mark(fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, cw_events(), AT_FDCWD,
                                     root) < 0) {
                close(fd); /* a filesystem without file handles */
                fd = -1;
        }
        bool inotify = false;
        if (fd < 0 && !weaken("change-inotify")) {
                /* unprivileged: the directories are watched one by one once
                 * the start knows them (changes_watch_dirs) */
                fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
                inotify = true;
        }
        if (fd < 0)
                return NULL; /* the end walks */
        struct changes_watch *w = calloc(1, sizeof(*w));
        if (!w) {
                close(fd);
                return NULL;
        }
        w->fd = fd;
        w->inotify = inotify;
        return w;
}

int changes_watch_fd(const struct changes_watch *w)
{
        return w->fd;
}

static uint32_t cw_hash(const unsigned char *p, size_t n, int32_t type)
{
        uint32_t h = 2166136261u ^ (uint32_t)type;
        for (size_t i = 0; i < n; i++)
                h = (h ^ p[i]) * 16777619u;
        return h;
}

static bool cw_grow(struct changes_watch *w)
{
        size_t count = w->slot_count ? w->slot_count * 2 : 1024;
        struct cw_slot *slots = calloc(count, sizeof(*slots));
        if (!slots)
                return false;
        for (size_t i = 0; i < w->slot_count; i++) {
                if (!w->slots[i].len)
                        continue;
                size_t j = w->slots[i].hash & (count - 1);
                while (slots[j].len)
                        j = (j + 1) & (count - 1);
                slots[j] = w->slots[i];
        }
        free(w->slots);
        w->slots = slots;
        w->slot_count = count;
        return true;
}

/* Remember one directory's handle, once. */
static void cw_add(struct changes_watch *w, const unsigned char *handle, size_t len, int32_t type)
{
        if (w->overflowed || len == 0 || len > MAX_HANDLE_SZ)
                return;
        if ((w->used + 1) * 2 > w->slot_count && (w->used >= CW_MAX_DIRS || !cw_grow(w))) {
                w->overflowed = true;
                return;
        }
        uint32_t h = cw_hash(handle, len, type);
        size_t j = h & (w->slot_count - 1);
        for (; w->slots[j].len; j = (j + 1) & (w->slot_count - 1)) {
                const struct cw_slot *s = &w->slots[j];
                if (s->hash == h && s->len == len && s->type == type &&
                    memcmp(w->bytes + s->off, handle, len) == 0)
                        return;
        }
        if (w->bytes_used + len > w->bytes_cap) {
                size_t cap = w->bytes_cap ? w->bytes_cap * 2 : 16384;
                unsigned char *b = cap <= CW_MAX_BYTES ? realloc(w->bytes, cap) : NULL;
                if (!b) {
                        w->overflowed = true;
                        return;
                }
                w->bytes = b;
                w->bytes_cap = cap;
        }
        memcpy(w->bytes + w->bytes_used, handle, len);
        w->slots[j] = (struct cw_slot){
            .off = (uint32_t)w->bytes_used, .hash = h, .len = (uint16_t)len, .type = type};
        w->bytes_used += len;
        w->used++;
}

/* One event's records (`p` to `end`), each length checked against what
 * was read. The kernel aligns records to 4 bytes only: every header is
 * copied out before it is read. */
static void cw_event(struct changes_watch *w, const unsigned char *p, const unsigned char *end)
{
        bool named = false;
        while ((size_t)(end - p) >= sizeof(struct fanotify_event_info_header)) {
                struct fanotify_event_info_header hdr;
                memcpy(&hdr, p, sizeof(hdr));
                if (hdr.len < sizeof(hdr) || hdr.len > (size_t)(end - p))
                        break;
                size_t fixed = sizeof(struct fanotify_event_info_fid) + sizeof(struct file_handle);
                if ((hdr.info_type == FAN_EVENT_INFO_TYPE_DFID_NAME ||
                     hdr.info_type == FAN_EVENT_INFO_TYPE_DFID) &&
                    hdr.len >= fixed) {
                        struct file_handle fh;
                        const unsigned char *handle = p + sizeof(struct fanotify_event_info_fid);
                        memcpy(&fh, handle, sizeof(fh));
                        if (fh.handle_bytes <= hdr.len - fixed) {
                                cw_add(w, handle + sizeof(fh), fh.handle_bytes, fh.handle_type);
                                named = true;
                        }
                }
                p += hdr.len;
        }
        if (!named)
                w->overflowed = true; /* a change whose directory is unknown */
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
        if (!w)
                return;
        if (w->inotify) {
                cw_drain_inotify(w);
                return;
        }
        unsigned char buf[65536];
        for (;;) {
                ssize_t n = read(w->fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return;
                size_t off = 0, len = (size_t)n;
                while (len - off >= sizeof(struct fanotify_event_metadata)) {
                        struct fanotify_event_metadata m;
                        memcpy(&m, buf + off, sizeof(m));
                        if (m.vers != FANOTIFY_METADATA_VERSION || m.metadata_len < sizeof(m) ||
                            m.event_len < m.metadata_len || m.event_len > len - off) {
                                w->overflowed = true;
                                return;
                        }
                        if (m.fd >= 0)
                                close(m.fd); /* not asked for; never left open */
                        if (m.mask & FAN_Q_OVERFLOW)
                                w->overflowed = true;
                        else
                                cw_event(w, buf + off + m.metadata_len, buf + off + m.event_len);
                        off += m.event_len;
                }
        }
}

void changes_watch_free(struct changes_watch *w)
{
        if (!w)
                return;
        close(w->fd);
        free(w->slots);
        free(w->bytes);
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
        if (!w || !w->inotify || !before)
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

static int cw_inode_compare(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return (x > y) - (x < y);
}

/* The directories named, as `before`'s indices (and the root). False when
 * that cannot be told: the end must walk. */
static bool cw_resolve(struct changes_watch *w, const char *root,
                       const struct changes_snapshot *before, unsigned char *dirty,
                       bool *root_dirty)
{
        cleanup_fd int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        uint64_t *inodes = malloc((w->used ? w->used : 1) * sizeof(*inodes));
        if (rootfd < 0 || !inodes) {
                free(inodes);
                return false;
        }
        size_t n = 0;
        _Alignas(
            struct file_handle) unsigned char fhbuf[sizeof(struct file_handle) + MAX_HANDLE_SZ];
        for (size_t i = 0; i < w->slot_count; i++) {
                const struct cw_slot *slot = &w->slots[i];
                if (!slot->len)
                        continue;
                struct file_handle *fh = (struct file_handle *)fhbuf;
                fh->handle_bytes = slot->len;
                fh->handle_type = slot->type;
                memcpy(fh->f_handle, w->bytes + slot->off, slot->len);
                int fd = open_by_handle_at(rootfd, fh, O_PATH | O_CLOEXEC);
                if (fd < 0)
                        continue; /* gone: its own directory was named as it went */
                struct stat st;
                if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode) && st.st_dev == before->root.dev)
                        inodes[n++] = st.st_ino;
                close(fd);
        }
        qsort(inodes, n, sizeof(*inodes), cw_inode_compare);
        *root_dirty = bsearch(&before->root.inode, inodes, n, sizeof(*inodes), cw_inode_compare);
        for (size_t i = 0; i < before->count; i++) {
                const struct changes_entry *e = &before->entries[i];
                if (S_ISDIR(e->mode) && !(e->flags & CHANGES_DROPPED) &&
                    bsearch(&e->inode, inodes, n, sizeof(*inodes), cw_inode_compare))
                        dirty[i] = 1;
        }
        free(inodes);
        return true;
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
        /* a directory on another filesystem reports nothing to this mark */
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
        if (dirty && w->inotify) {
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
        } else if (dirty) {
                resolved = cw_resolve(w, root, before, dirty, &root_dirty);
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
