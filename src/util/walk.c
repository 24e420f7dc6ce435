/* The one tree walker (walk.h): an explicit stack of directory fds, each
 * level's names read in batches with getdents64 and charged in bytes. */
#include "util/walk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/array.h"

/* One getdents64 call: an unsorted level holds at most one batch. */
#define WALK_BATCH 32768

struct walk_frame {
        int fd;
        int twin;           /* owned, except the root's (options.root_twin) */
        struct stat st;     /* the directory's lstat (not the root's) */
        const char *name;   /* its name, inside its parent's batch */
        size_t path_length; /* of its path in the walk's buffer */
        bool path_cut;
        char *names; /* the batch: NUL-terminated names one after the other */
        size_t names_length, names_capacity;
        size_t *offsets; /* where each name of the batch starts */
        size_t count, capacity, next;
        size_t held; /* bytes charged for the batch */
        bool end;    /* the directory is read to its end */
};

struct walker {
        const struct walk_options *o;
        struct reins_error *err;
        struct walk_frame *frames; /* frames[0] is the root */
        size_t depth;              /* the frame on top */
        size_t frame_capacity;     /* allocated (their buffers are kept for reuse) */
        size_t own_bytes;
        size_t *bytes;
        size_t max_bytes, max_path;
        unsigned max_depth;
        char *path; /* max_path + 1 bytes */
        char *buffer;
};

static int walk_fail(struct walker *w, int code)
{
        const char *label = w->o->label;
        return reins_error_errno(w->err, code, "%s%s%s", label ? label : "", label ? " " : "",
                                 w->path[0] ? w->path : ".");
}

static void walk_release(struct walker *w, struct walk_frame *f)
{
        *w->bytes -= f->held;
        f->held = 0;
        f->names_length = f->count = f->next = 0;
}

static int walk_add_name(struct walker *w, struct walk_frame *f, const char *name)
{
        size_t n = strlen(name) + 1;
        size_t cost = n + sizeof(*f->offsets);
        if (*w->bytes + cost > w->max_bytes)
                return WALK_FULL;
        if (array_reserve(f->names, f->names_capacity, f->names_length + n, 4096) < 0 ||
            array_reserve(f->offsets, f->capacity, f->count + 1, 64) < 0)
                return -ENOMEM;
        memcpy(f->names + f->names_length, name, n);
        f->offsets[f->count++] = f->names_length;
        f->names_length += n;
        *w->bytes += cost;
        f->held += cost;
        return 0;
}

static int walk_name_compare(const void *a, const void *b, void *names)
{
        return strcmp((const char *)names + *(const size_t *)a,
                      (const char *)names + *(const size_t *)b);
}

/* The next batch of f's names: all of them when sorted, else what one
 * getdents64 call returns (at least one name, unless at the end). */
static int walk_read(struct walker *w, struct walk_frame *f)
{
        walk_release(w, f);
        while (!f->end && (w->o->sorted || f->count == 0)) {
                ssize_t n = getdents64(f->fd, w->buffer, WALK_BATCH);
                if (n < 0)
                        return -errno;
                if (n == 0) {
                        f->end = true;
                        break;
                }
                for (ssize_t at = 0; at < n;) {
                        struct dirent64 *d = (struct dirent64 *)(void *)(w->buffer + at);
                        at += d->d_reclen;
                        if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
                                continue;
                        int r = walk_add_name(w, f, d->d_name);
                        if (r != 0)
                                return r;
                }
        }
        if (w->o->sorted && f->count > 1)
                qsort_r(f->offsets, f->count, sizeof(*f->offsets), walk_name_compare, f->names);
        return 0;
}

static const char *walk_next_name(struct walker *w, struct walk_frame *f, int *r)
{
        *r = 0;
        if (f->next == f->count) {
                if (f->end)
                        return NULL;
                if ((*r = walk_read(w, f)) != 0 || f->count == 0)
                        return NULL;
        }
        return f->names + f->offsets[f->next++];
}

/* The path of `name` below f's path in the buffer; true when it does not fit
 * (the buffer then holds f's path). */
static bool walk_path_set(struct walker *w, const struct walk_frame *f, const char *name,
                          size_t *length)
{
        size_t at = f->path_length, n = strlen(name);
        if (f->path_cut || at + (at ? 1 : 0) + n > w->max_path) {
                w->path[at] = '\0';
                *length = at;
                return true;
        }
        if (at)
                w->path[at++] = '/';
        memcpy(w->path + at, name, n + 1);
        *length = at + n;
        return false;
}

static void walk_close(int *fd)
{
        if (*fd >= 0)
                close(*fd);
        *fd = -1;
}

/* Enter the directory `name` of the top frame; takes *fd and *twin. */
static int walk_push(struct walker *w, const char *name, const struct stat *st, size_t length,
                     bool cut, int *fd, int *twin)
{
        struct walk_frame *top = &w->frames[w->depth];
        if (*fd < 0) {
                *fd = openat(top->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (*fd < 0)
                        return walk_fail(w, errno);
        }
        if (w->depth + 1 == w->frame_capacity) {
                size_t capacity = w->frame_capacity * 2;
                struct walk_frame *frames = realloc(w->frames, capacity * sizeof(*frames));
                if (!frames)
                        return reins_error_set(w->err, ENOMEM, "out of memory");
                memset(frames + w->frame_capacity, 0,
                       (capacity - w->frame_capacity) * sizeof(*frames));
                w->frames = frames;
                w->frame_capacity = capacity;
        }
        struct walk_frame *f = &w->frames[++w->depth];
        f->fd = *fd;
        f->twin = *twin;
        *fd = *twin = -1;
        f->st = *st;
        f->name = name;
        f->path_length = length;
        f->path_cut = cut;
        f->end = false;
        f->count = f->next = f->names_length = f->held = 0;
        return 0;
}

/* Leave the top directory: its post-order visit, then its fds. */
static int walk_pop(struct walker *w, bool unwinding)
{
        struct walk_frame *f = &w->frames[w->depth];
        const struct walk_frame *parent = f - 1;
        int r = 0;
        if (w->o->post_order) {
                w->path[f->path_length] = '\0';
                struct walk_entry e = {
                    .visit = WALK_DIR_POST,
                    .dirfd = parent->fd,
                    .parent_twin = parent->twin,
                    .name = f->name,
                    .path = w->path,
                    .path_length = f->path_length,
                    .path_cut = f->path_cut,
                    .st = &f->st,
                    .depth = (unsigned)w->depth,
                    .fd = f->fd,
                    .twin = f->twin,
                    .unwinding = unwinding,
                };
                r = w->o->visit(&e, w->o->context, w->err);
                if (unwinding || r == WALK_SKIP)
                        r = 0;
        }
        walk_release(w, f);
        walk_close(&f->fd);
        walk_close(&f->twin);
        w->depth--;
        return r;
}

static int walk_run(struct walker *w)
{
        for (;;) {
                struct walk_frame *f = &w->frames[w->depth];
                int r;
                const char *name = walk_next_name(w, f, &r);
                if (r < 0) {
                        w->path[f->path_length] = '\0';
                        return walk_fail(w, -r);
                }
                if (r != 0)
                        return r;
                if (!name) {
                        if (w->depth == 0)
                                return 0;
                        if ((r = walk_pop(w, false)) != 0)
                                return r;
                        continue;
                }
                struct stat st;
                size_t length;
                bool cut = walk_path_set(w, f, name, &length);
                if (fstatat(f->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        if (errno == ENOENT)
                                continue; /* gone since the listing */
                        return walk_fail(w, errno);
                }
                bool dir = S_ISDIR(st.st_mode);
                int open_fd = -1, open_twin = -1;
                struct walk_entry e = {
                    .visit = dir ? WALK_DIR_PRE : WALK_LEAF,
                    .dirfd = f->fd,
                    .parent_twin = f->twin,
                    .name = name,
                    .path = w->path,
                    .path_length = length,
                    .path_cut = cut,
                    .st = &st,
                    .depth = (unsigned)w->depth + 1,
                    .too_deep = dir && w->depth + 1 > w->max_depth,
                    .open_fd = &open_fd,
                    .open_twin = &open_twin,
                    .fd = -1,
                    .twin = -1,
                };
                r = w->o->visit(&e, w->o->context, w->err);
                if (r == WALK_NEXT && dir && !e.too_deep)
                        r = walk_push(w, name, &st, length, cut, &open_fd, &open_twin);
                walk_close(&open_fd);
                walk_close(&open_twin);
                if (r != WALK_NEXT && r != WALK_SKIP)
                        return r;
        }
}

int walk_tree(int root, const struct walk_options *o, struct reins_error *err)
{
        struct walker w = {
            .o = o,
            .err = err,
            .max_bytes = o->max_bytes ? o->max_bytes : WALK_DEFAULT_MAX_BYTES,
            .max_path = o->max_path ? o->max_path : WALK_DEFAULT_MAX_PATH,
            .max_depth = o->max_depth ? o->max_depth : WALK_DEFAULT_MAX_DEPTH,
        };
        w.bytes = o->bytes ? o->bytes : &w.own_bytes;
        w.frame_capacity = 16;
        w.frames = calloc(w.frame_capacity, sizeof(*w.frames));
        w.path = malloc(w.max_path + 1);
        w.buffer = malloc(WALK_BATCH);
        if (!w.frames || !w.path || !w.buffer) {
                free(w.frames);
                free(w.path);
                free(w.buffer);
                return reins_error_set(err, ENOMEM, "out of memory");
        }
        size_t prefix = o->prefix ? strlen(o->prefix) : 0;
        if (prefix > w.max_path)
                prefix = w.max_path;
        memcpy(w.path, o->prefix ? o->prefix : "", prefix);
        w.path[prefix] = '\0';
        /* a fresh open file description: reading it leaves the caller's
         * offset alone, and an O_PATH root becomes readable */
        int r = 0;
        struct walk_frame *top = &w.frames[0];
        top->fd = openat(root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        top->twin = o->root_twin ? *o->root_twin : -1; /* borrowed: never closed */
        top->path_length = prefix;
        if (top->fd < 0)
                r = walk_fail(&w, errno);
        else
                r = walk_run(&w);
        while (w.depth > 0)
                walk_pop(&w, true);
        walk_release(&w, &w.frames[0]);
        walk_close(&w.frames[0].fd);
        for (size_t i = 0; i < w.frame_capacity; i++) {
                free(w.frames[i].names);
                free(w.frames[i].offsets);
        }
        free(w.frames);
        free(w.path);
        free(w.buffer);
        return r;
}
