#include "audit/follow.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/locate.h"
#include "audit/trail_internal.h"
#include "util/cleanup.h"
#include "util/path.h"
#include "util/strv.h"

#define FOLLOW_MAX_FILES 1024

struct followed {
        char *name;
        off_t offset;
        char *partial; /* bytes of a line not yet complete */
        size_t partial_length;
};

struct follow_state {
        const char *dir;
        struct followed files[FOLLOW_MAX_FILES];
        size_t count;
        audit_follow_fn fn;
        void *ctx;
};

static struct followed *follow_find(struct follow_state *s, const char *name, bool add)
{
        for (size_t i = 0; i < s->count; i++)
                if (strcmp(s->files[i].name, name) == 0)
                        return &s->files[i];
        if (!add)
                return NULL;
        if (s->count == FOLLOW_MAX_FILES) {
                /* forget the oldest: it is the least likely to grow */
                free(s->files[0].name);
                free(s->files[0].partial);
                memmove(&s->files[0], &s->files[1], (s->count - 1) * sizeof(s->files[0]));
                s->count--;
        }
        struct followed *f = &s->files[s->count];
        memset(f, 0, sizeof(*f));
        if (!(f->name = strdup(name)))
                return NULL;
        s->count++;
        return f;
}

/* Read what was appended to one trail and hand on its complete lines. */
static bool follow_read(struct follow_state *s, struct followed *f)
{
        cleanup_free char *path = path_join(s->dir, f->name);
        cleanup_fd int fd = path ? open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) : -1;
        if (fd < 0)
                return true;
        char chunk[65536];
        for (;;) {
                ssize_t n = pread(fd, chunk, sizeof(chunk), f->offset);
                if (n <= 0)
                        return true;
                f->offset += n;
                char *joined = realloc(f->partial, f->partial_length + (size_t)n);
                if (!joined)
                        return true;
                memcpy(joined + f->partial_length, chunk, (size_t)n);
                f->partial = joined;
                f->partial_length += (size_t)n;
                size_t start = 0;
                for (size_t i = 0; i < f->partial_length; i++) {
                        if (f->partial[i] != '\n')
                                continue;
                        json_t *record = json_loadb(f->partial + start, i - start, 0, NULL);
                        start = i + 1;
                        bool go_on = !json_is_object(record) || s->fn(s->ctx, record);
                        json_decref(record);
                        if (!go_on)
                                return false;
                }
                memmove(f->partial, f->partial + start, f->partial_length - start);
                f->partial_length -= start;
        }
}

int audit_follow(const char *dir, audit_follow_fn fn, void *ctx, struct reins_error *err)
{
        cleanup_fd int inotify = inotify_init1(IN_CLOEXEC);
        if (inotify < 0)
                return reins_error_errno(err, errno, "inotify");
        if (inotify_add_watch(inotify, dir, IN_MODIFY | IN_CREATE | IN_MOVED_TO) < 0)
                return reins_error_errno(err, errno, "watching %s", dir);
        struct follow_state *s = calloc(1, sizeof(*s));
        if (!s)
                return reins_error_set(err, ENOMEM, "out of memory");
        s->dir = dir;
        s->fn = fn;
        s->ctx = ctx;
        /* existing trails: from their current end (after the watch is set,
         * so nothing written in between is missed) */
        struct reins_strv trails = {0};
        int r = audit_list_trails(dir, &trails, err);
        for (size_t i = 0; r == 0 && i < trails.count; i++) {
                struct stat st;
                struct followed *f = follow_find(s, strrchr(trails.items[i], '/') + 1, true);
                if (f && stat(trails.items[i], &st) == 0)
                        f->offset = st.st_size;
        }
        strv_free(&trails);
        char events[16 * (sizeof(struct inotify_event) + NAME_MAX + 1)]
            __attribute__((aligned(__alignof__(struct inotify_event))));
        bool running = r == 0;
        while (running) {
                ssize_t n = read(inotify, events, sizeof(events));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        r = reins_error_errno(err, n < 0 ? errno : EIO, "inotify");
                        break;
                }
                for (char *p = events; running && p < events + n;) {
                        struct inotify_event *e = (struct inotify_event *)p;
                        p += sizeof(*e) + e->len;
                        if (e->len == 0 || e->name[0] == '.')
                                continue;
                        size_t length = strlen(e->name), suffix = strlen(AUDIT_TRAIL_SUFFIX);
                        if (length <= suffix ||
                            strcmp(e->name + length - suffix, AUDIT_TRAIL_SUFFIX) != 0)
                                continue;
                        struct followed *f = follow_find(s, e->name, true);
                        if (f)
                                running = follow_read(s, f);
                }
        }
        for (size_t i = 0; i < s->count; i++) {
                free(s->files[i].name);
                free(s->files[i].partial);
        }
        free(s);
        return r;
}
