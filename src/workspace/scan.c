#include "workspace/scan.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/array.h"
#include "util/cleanup.h"
#include "util/path.h"
#include "util/walk.h"
#include "workspace/fsops.h"

struct scan_context {
        struct workspace_changes *out;
        struct reins_error *err;
        char *const *paths; /* look only here (none = everywhere) */
        size_t path_count;
        bool full;      /* WORKSPACE_SCAN_MAX_CHANGES or _BYTES reached */
        bool identical; /* list regular files copied up unchanged too */
};

/* Returned (positive) up the walk when a cap stops the scan: no error, the
 * list is marked truncated. (A value that stops a walk: util/walk.h.) */
#define SCAN_FULL WALK_STOP

static void scan_cut(struct scan_context *ctx, const char *cap)
{
        ctx->out->truncated = true;
        if (!ctx->out->cap)
                ctx->out->cap = cap;
        ctx->out->not_listed++;
}

/* What malloc really takes for an n-byte string: a header, 16-byte steps,
 * 32 bytes at least (a million short names cost that, not their length). */
static size_t scan_heap_cost(size_t n)
{
        size_t chunk = (n + 8 + 15) & ~(size_t)15;
        return chunk < 32 ? 32 : chunk;
}

/* Count `bytes` more held against WORKSPACE_SCAN_MAX_BYTES; false (and the
 * scan stops) when they do not fit. */
static bool scan_charge(struct scan_context *ctx, size_t bytes)
{
        if (ctx->out->bytes + bytes > WORKSPACE_SCAN_MAX_BYTES) {
                scan_cut(ctx, "bytes");
                ctx->full = true;
                return false;
        }
        ctx->out->bytes += bytes;
        return true;
}

/* Is `path` one of the paths asked for, below one, or on the way to one? */
static bool scan_wanted(const struct scan_context *ctx, const char *path)
{
        if (ctx->path_count == 0)
                return true;
        size_t n = strlen(path);
        for (size_t i = 0; i < ctx->path_count; i++) {
                const char *p = ctx->paths[i];
                size_t m = strlen(p);
                if (m == 0 ||
                    (n >= m && strncmp(path, p, m) == 0 && (path[m] == '/' || !path[m])) ||
                    (m > n && strncmp(p, path, n) == 0 && p[n] == '/'))
                        return true;
        }
        return false;
}

const char *workspace_change_kind_name(enum workspace_change_kind kind)
{
        switch (kind) {
        case WORKSPACE_CREATED:
                return "created";
        case WORKSPACE_MODIFIED:
                return "modified";
        case WORKSPACE_DELETED:
                return "deleted";
        case WORKSPACE_TYPE_CHANGED:
                return "type-changed";
        case WORKSPACE_MODE_CHANGED:
                return "mode-changed";
        case WORKSPACE_REPLACED:
                return "replaced";
        }
        return "?";
}

static void workspace_entry_clear(struct workspace_entry *e)
{
        free(e->target);
        e->target = NULL;
}

void workspace_changes_free(struct workspace_changes *changes)
{
        for (size_t i = 0; i < changes->count; i++) {
                free(changes->items[i].path);
                free(changes->items[i].hardlink);
                workspace_entry_clear(&changes->items[i].old);
                workspace_entry_clear(&changes->items[i].new);
        }
        free(changes->items);
        memset(changes, 0, sizeof(*changes));
}

static int scan_entry_fill(struct scan_context *ctx, struct workspace_entry *e,
                           enum workspace_source from, int dirfd, const char *name,
                           const struct stat *st)
{
        e->from = from;
        e->mode = st->st_mode;
        e->size = st->st_size;
        e->dev = st->st_dev;
        e->ino = st->st_ino;
        e->nlink = st->st_nlink;
        e->ctime = st->st_ctim;
        if (S_ISLNK(st->st_mode)) {
                /* a target is at most PATH_MAX bytes (the kernel's own cap) */
                size_t size = (size_t)st->st_size + 1 > 256 ? (size_t)st->st_size + 1 : 256;
                if (size > PATH_MAX)
                        size = PATH_MAX;
                for (;;) {
                        char *buf = malloc(size);
                        if (!buf)
                                return -ENOMEM;
                        ssize_t n = readlinkat(dirfd, name, buf, size);
                        if (n < 0) {
                                int saved = errno;
                                free(buf);
                                return -saved;
                        }
                        if ((size_t)n < size) {
                                buf[n] = '\0';
                                if (!scan_charge(ctx, scan_heap_cost((size_t)n + 1))) {
                                        free(buf);
                                        return SCAN_FULL;
                                }
                                e->target = buf;
                                break;
                        }
                        free(buf);
                        if (size >= PATH_MAX)
                                return -ENAMETOOLONG;
                        size = size * 2 > PATH_MAX ? PATH_MAX : size * 2;
                }
        }
        return 0;
}

static struct workspace_change *scan_add(struct scan_context *ctx, enum workspace_change_kind kind,
                                         const char *path)
{
        struct workspace_changes *c = ctx->out;
        if (c->count >= WORKSPACE_SCAN_MAX_CHANGES) {
                scan_cut(ctx, "changes");
                ctx->full = true;
                return NULL;
        }
        if (!scan_charge(ctx, sizeof(*c->items) + scan_heap_cost(strlen(path) + 1)))
                return NULL;
        if (array_reserve(c->items, c->capacity, c->count + 1, 64) < 0)
                return NULL;
        char *copy = strdup(path);
        if (!copy)
                return NULL;
        struct workspace_change *ch = &c->items[c->count++];
        memset(ch, 0, sizeof(*ch));
        ch->kind = kind;
        ch->path = copy;
        return ch;
}

#define SCAN_NOMEM(ctx) reins_error_set((ctx)->err, ENOMEM, "out of memory")
/* scan_add returned NULL: a cap, or no memory */
#define SCAN_ADD_FAILED(ctx) ((ctx)->full ? SCAN_FULL : SCAN_NOMEM(ctx))

/* The walk stopped at its cap of names held: the scan's byte cap (the
 * listings and the changes share it). */
static int scan_walk_result(struct scan_context *ctx, int r)
{
        if (r != WALK_FULL)
                return r;
        scan_cut(ctx, "bytes");
        ctx->full = true;
        return SCAN_FULL;
}

static int scan_deleted_children(struct scan_context *ctx, int fd, const char *rel, unsigned depth,
                                 int keep);

/* A lower entry gone from the copy, as deleted; `depth`: the directories
 * open below the top where it lies. Its children follow (WALK_NEXT). */
static int scan_deleted_entry(struct scan_context *ctx, int lower_dir, const char *name,
                              const char *path, const struct stat *st, unsigned depth)
{
        struct workspace_change *ch = scan_add(ctx, WORKSPACE_DELETED, path);
        if (!ch)
                return SCAN_ADD_FAILED(ctx);
        int r = scan_entry_fill(ctx, &ch->old, WORKSPACE_FROM_LOWER, lower_dir, name, st);
        if (r < 0)
                return reins_error_errno(ctx->err, -r, "reading lower %s", path);
        if (r > 0 || !S_ISDIR(st->st_mode))
                return r;
        if (depth >= WORKSPACE_SCAN_MAX_DEPTH) {
                scan_cut(ctx, "depth");
                return WALK_SKIP;
        }
        return WALK_NEXT;
}

struct scan_deleted {
        struct scan_context *ctx;
        unsigned depth; /* directories open below the top at the listed one */
        int keep;       /* an opaque upper dir: its names are not deleted (-1: none) */
};

static int scan_deleted_visit(const struct walk_entry *e, void *context, struct reins_error *err)
{
        (void)err;
        struct scan_deleted *d = context;
        struct scan_context *ctx = d->ctx;
        struct stat kept;
        if (e->depth == 1 && d->keep >= 0 &&
            fstatat(d->keep, e->name, &kept, AT_SYMLINK_NOFOLLOW) == 0)
                return WALK_SKIP;
        if (e->path_cut) {
                scan_cut(ctx, "path length");
                return WALK_SKIP;
        }
        if (!scan_wanted(ctx, e->path))
                return WALK_SKIP;
        return scan_deleted_entry(ctx, e->dirfd, e->name, e->path, e->st, d->depth + e->depth - 1);
}

/* Every entry below the lower directory `fd` (at `rel`, `depth` directories
 * below the top) not in the upper directory `keep`, as deleted. */
static int scan_deleted_children(struct scan_context *ctx, int fd, const char *rel, unsigned depth,
                                 int keep)
{
        struct scan_deleted d = {.ctx = ctx, .depth = depth, .keep = keep};
        struct walk_options options = {
            .visit = scan_deleted_visit,
            .context = &d,
            /* scan_deleted_entry stops first: this is only the walk's own */
            .max_depth = WORKSPACE_SCAN_MAX_DEPTH + 1 - depth,
            .max_path = WORKSPACE_SCAN_MAX_PATH,
            .max_bytes = WORKSPACE_SCAN_MAX_BYTES,
            .bytes = &ctx->out->bytes,
            .prefix = rel,
            .label = "reading lower",
        };
        return scan_walk_result(ctx, walk_tree(fd, &options, ctx->err));
}

/* A lower entry gone from the copy, and all below it. */
static int scan_deleted_tree(struct scan_context *ctx, int lower_dir, const char *name,
                             const char *path, const struct stat *st, unsigned depth)
{
        int r = scan_deleted_entry(ctx, lower_dir, name, path, st, depth);
        if (r != WALK_NEXT || !S_ISDIR(st->st_mode))
                return r == WALK_SKIP ? 0 : r;
        cleanup_fd int fd =
            openat(lower_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return reins_error_errno(ctx->err, errno, "reading lower %s", path);
        return scan_deleted_children(ctx, fd, path, depth + 1, -1);
}

static bool scan_same_content(int upper_dir, int lower_dir, const char *name, off_t size)
{
        cleanup_fd int a = openat(upper_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        cleanup_fd int b = openat(lower_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (a < 0 || b < 0)
                return false; /* cannot tell: report it, the user decides */
        static char ba[65536], bb[65536];
        off_t seen = 0;
        for (;;) {
                ssize_t na = read(a, ba, sizeof(ba));
                if (na < 0)
                        return false;
                if (na == 0)
                        return seen == size;
                size_t got = 0;
                while (got < (size_t)na) {
                        ssize_t nb = read(b, bb + got, (size_t)na - got);
                        if (nb <= 0)
                                return false;
                        got += (size_t)nb;
                }
                if (memcmp(ba, bb, (size_t)na) != 0)
                        return false;
                seen += na;
        }
}

/* One entry of an upper directory against its lower counterpart. */
static int scan_entry(struct scan_context *ctx, const struct walk_entry *e)
{
        int upper_fd = e->dirfd, lower_fd = e->parent_twin;
        const char *name = e->name, *path = e->path;
        unsigned depth = e->depth - 1; /* directories open below the top */
        struct stat ust = *e->st, lst;
        bool have_lower = lower_fd >= 0 && fstatat(lower_fd, name, &lst, AT_SYMLINK_NOFOLLOW) == 0;

        unsigned marks = ws_overlay_xattrs(upper_fd, name);
        bool whiteout = (S_ISCHR(ust.st_mode) && ust.st_rdev == 0) ||
                        (S_ISREG(ust.st_mode) && ust.st_size == 0 && (marks & WS_XATTR_WHITEOUT));
        if (whiteout)
                return have_lower ? scan_deleted_tree(ctx, lower_fd, name, path, &lst, depth) : 0;
        if (marks & (WS_XATTR_REDIRECT | WS_XATTR_METACOPY | WS_XATTR_UNKNOWN))
                return reins_error_set(ctx->err, ENOTSUP,
                                       "upper %s uses overlayfs redirect_dir or metacopy, which "
                                       "reins cannot review: mount with redirect_dir=off,"
                                       "metacopy=off",
                                       path);

        enum workspace_change_kind kind;
        bool recurse_lower = false;
        bool record = true;
        if (!have_lower) {
                kind = WORKSPACE_CREATED;
        } else if ((ust.st_mode & S_IFMT) != (lst.st_mode & S_IFMT)) {
                kind = WORKSPACE_TYPE_CHANGED;
        } else if (S_ISDIR(ust.st_mode)) {
                kind = WORKSPACE_MODE_CHANGED;
                record = (ust.st_mode & 07777) != (lst.st_mode & 07777);
                recurse_lower = true;
        } else if (S_ISREG(ust.st_mode)) {
                /* (listing copied files too: no need to read them here) */
                bool same = !ctx->identical && ust.st_size == lst.st_size &&
                            scan_same_content(upper_fd, lower_fd, name, ust.st_size);
                kind = same ? WORKSPACE_MODE_CHANGED : WORKSPACE_MODIFIED;
                record = !same || (ust.st_mode & 07777) != (lst.st_mode & 07777) || ctx->identical;
        } else {
                kind = WORKSPACE_MODIFIED; /* symlinks: compare targets below */
        }

        struct workspace_change *ch = NULL;
        if (record) {
                ch = scan_add(ctx, kind, path);
                if (!ch)
                        return SCAN_ADD_FAILED(ctx);
                int r = scan_entry_fill(ctx, &ch->new, WORKSPACE_FROM_UPPER, upper_fd, name, &ust);
                if (r == 0 && have_lower)
                        r = scan_entry_fill(ctx, &ch->old, WORKSPACE_FROM_LOWER, lower_fd, name,
                                            &lst);
                if (r < 0)
                        return reins_error_errno(ctx->err, -r, "reading %s", path);
                if (r > 0) {
                        /* cut while reading a target: the change goes, the scan stops */
                        free(ch->path);
                        workspace_entry_clear(&ch->new);
                        workspace_entry_clear(&ch->old);
                        ctx->out->count--;
                        return r;
                }
                ch->origin = !have_lower && (marks & WS_XATTR_ORIGIN);
                if (kind == WORKSPACE_MODIFIED && !S_ISREG(ust.st_mode)) {
                        bool same = S_ISLNK(ust.st_mode)
                                        ? strcmp(ch->new.target, ch->old.target) == 0
                                        : true;
                        if (same && (ust.st_mode & 07777) == (lst.st_mode & 07777)) {
                                /* identical: take it back out */
                                free(ch->path);
                                workspace_entry_clear(&ch->new);
                                workspace_entry_clear(&ch->old);
                                ctx->out->count--;
                                ch = NULL;
                        } else if (same) {
                                ch->kind = WORKSPACE_MODE_CHANGED;
                        }
                }
        }

        bool descend = S_ISDIR(ust.st_mode) || (have_lower && S_ISDIR(lst.st_mode));
        if (descend && depth >= WORKSPACE_SCAN_MAX_DEPTH) {
                /* the agent chooses how deep its tree is: not how many fds
                 * the scan holds */
                scan_cut(ctx, "depth");
                return WALK_SKIP;
        }
        /* a lower directory replaced by a non-directory: all of it goes */
        if (have_lower && S_ISDIR(lst.st_mode) && !S_ISDIR(ust.st_mode)) {
                cleanup_fd int lsub =
                    openat(lower_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (lsub < 0)
                        return reins_error_errno(ctx->err, errno, "lower %s", path);
                return scan_deleted_children(ctx, lsub, path, depth + 1, -1);
        }
        if (!S_ISDIR(ust.st_mode))
                return WALK_NEXT;

        cleanup_fd int sub =
            openat(upper_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0)
                return reins_error_errno(ctx->err, errno, "upper %s", path);
        bool opaque = ws_is_opaque_dir(sub);
        cleanup_fd int lsub = -1;
        if (recurse_lower) {
                lsub = openat(lower_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (lsub < 0)
                        return reins_error_errno(ctx->err, errno, "lower %s", path);
                if (opaque) {
                        struct workspace_change *rep = scan_add(ctx, WORKSPACE_REPLACED, path);
                        if (!rep)
                                return SCAN_ADD_FAILED(ctx);
                        /* directories: no target to read, nothing to charge */
                        scan_entry_fill(ctx, &rep->new, WORKSPACE_FROM_UPPER, upper_fd, name, &ust);
                        scan_entry_fill(ctx, &rep->old, WORKSPACE_FROM_LOWER, lower_fd, name, &lst);
                }
        }
        /* the walk enters it next, its lower twin alongside */
        *e->open_fd = steal_fd(&sub);
        *e->open_twin = steal_fd(&lsub);
        return WALK_NEXT;
}

static int scan_visit(const struct walk_entry *e, void *context, struct reins_error *err)
{
        (void)err;
        struct scan_context *ctx = context;
        if (e->visit == WALK_DIR_POST) {
                /* an opaque directory hides its lower twin: what it does not
                 * hold is gone */
                if (e->unwinding || e->twin < 0 || !ws_is_opaque_dir(e->fd))
                        return WALK_NEXT;
                return scan_deleted_children(ctx, e->twin, e->path, e->depth, e->fd);
        }
        /* longer than any host tool can open: left out, the list marked
         * truncated */
        if (e->path_cut) {
                scan_cut(ctx, "path length");
                return WALK_SKIP;
        }
        if (!scan_wanted(ctx, e->path))
                return WALK_SKIP;
        return scan_entry(ctx, e);
}

static int scan_change_compare(const void *a, const void *b)
{
        const struct workspace_change *x = a, *y = b;
        int c = path_compare_components(x->path, y->path);
        if (c != 0)
                return c;
        /* "replaced" (informational) before the entry's own change */
        return (x->kind == WORKSPACE_REPLACED ? 0 : 1) - (y->kind == WORKSPACE_REPLACED ? 0 : 1);
}

struct scan_inode {
        dev_t dev;
        ino_t ino;
        size_t index;
};

static int scan_inode_compare(const void *a, const void *b)
{
        const struct scan_inode *x = a, *y = b;
        if (x->dev != y->dev)
                return x->dev < y->dev ? -1 : 1;
        if (x->ino != y->ino)
                return x->ino < y->ino ? -1 : 1;
        return x->index < y->index ? -1 : x->index > y->index;
}

/* Hard links inside the copy: later paths name the first one. The copies
 * of paths are charged like the rest: past the byte cap, no more noted. */
static int scan_note_hardlinks(struct scan_context *ctx)
{
        struct workspace_changes *c = ctx->out;
        size_t n = 0;
        for (size_t i = 0; i < c->count; i++)
                if (c->items[i].new.from != WORKSPACE_FROM_NONE && c->items[i].new.nlink > 1 &&
                    !S_ISDIR(c->items[i].new.mode) && c->items[i].kind != WORKSPACE_REPLACED)
                        n++;
        if (n < 2)
                return 0;
        struct scan_inode *list = calloc(n, sizeof(*list));
        if (!list)
                return -ENOMEM;
        n = 0;
        for (size_t i = 0; i < c->count; i++)
                if (c->items[i].new.from != WORKSPACE_FROM_NONE && c->items[i].new.nlink > 1 &&
                    !S_ISDIR(c->items[i].new.mode) && c->items[i].kind != WORKSPACE_REPLACED)
                        list[n++] =
                            (struct scan_inode){c->items[i].new.dev, c->items[i].new.ino, i};
        qsort(list, n, sizeof(*list), scan_inode_compare);
        for (size_t i = 1; i < n; i++) {
                if (list[i].dev != list[i - 1].dev || list[i].ino != list[i - 1].ino)
                        continue;
                size_t first = i - 1;
                while (first > 0 && list[first - 1].dev == list[i].dev &&
                       list[first - 1].ino == list[i].ino)
                        first--;
                struct workspace_change *ch = &c->items[list[i].index];
                if (!scan_charge(ctx, scan_heap_cost(strlen(c->items[list[first].index].path) + 1)))
                        break;
                ch->hardlink = strdup(c->items[list[first].index].path);
                if (!ch->hardlink) {
                        free(list);
                        return -ENOMEM;
                }
        }
        free(list);
        return 0;
}

/* "replaced" says that lower entries under a directory are gone; once none
 * are (the host lost them too, or an apply removed them) it says nothing. */
static void scan_drop_empty_replacements(struct workspace_changes *c)
{
        size_t kept = 0;
        for (size_t i = 0; i < c->count; i++) {
                struct workspace_change *ch = &c->items[i];
                bool drop = false;
                if (ch->kind == WORKSPACE_REPLACED) {
                        size_t len = strlen(ch->path);
                        drop = true;
                        for (size_t j = i + 1; j < c->count && drop; j++) {
                                const char *p = c->items[j].path;
                                if (strncmp(p, ch->path, len) != 0 || p[len] != '/')
                                        break;
                                drop = c->items[j].kind != WORKSPACE_DELETED;
                        }
                }
                if (drop) {
                        free(ch->path);
                        workspace_entry_clear(&ch->old);
                        workspace_entry_clear(&ch->new);
                        continue;
                }
                c->items[kept++] = *ch;
        }
        c->count = kept;
}

int workspace_scan(const char *upper, const char *lower, struct workspace_changes *out,
                   struct reins_error *err)
{
        return workspace_scan_paths(upper, lower, NULL, 0, out, err);
}

static int scan_run(const char *upper, const char *lower, char *const *paths, size_t count,
                    bool identical, struct workspace_changes *out, struct reins_error *err);

int workspace_scan_paths(const char *upper, const char *lower, char *const *paths, size_t count,
                         struct workspace_changes *out, struct reins_error *err)
{
        return scan_run(upper, lower, paths, count, false, out, err);
}

int workspace_scan_copied(const char *upper, const char *lower, struct workspace_changes *out,
                          struct reins_error *err)
{
        return scan_run(upper, lower, NULL, 0, true, out, err);
}

static int scan_run(const char *upper, const char *lower, char *const *paths, size_t count,
                    bool identical, struct workspace_changes *out, struct reins_error *err)
{
        memset(out, 0, sizeof(*out));
        cleanup_fd int ufd = open(upper, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (ufd < 0)
                return reins_error_errno(err, errno, "upper directory %s", upper);
        cleanup_fd int lfd = open(lower, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (lfd < 0)
                return reins_error_errno(err, errno, "workspace %s", lower);
        struct scan_context ctx = {
            .out = out, .err = err, .paths = paths, .path_count = count, .identical = identical};
        /* the upper dir's names sorted (the order of the list when a cap
         * cuts it), every one held charged against the scan's byte cap */
        struct walk_options options = {
            .visit = scan_visit,
            .context = &ctx,
            .sorted = true,
            .post_order = true,
            .max_depth = WORKSPACE_SCAN_MAX_DEPTH,
            .max_path = WORKSPACE_SCAN_MAX_PATH,
            .max_bytes = WORKSPACE_SCAN_MAX_BYTES,
            .bytes = &out->bytes,
            .root_twin = &lfd,
            .label = "reading upper",
        };
        int r = scan_walk_result(&ctx, walk_tree(ufd, &options, err));
        if (r == 0 && ws_is_opaque_dir(ufd))
                r = scan_deleted_children(&ctx, lfd, "", 0, ufd);
        if (r == SCAN_FULL)
                r = 0; /* stopped at a cap: out->truncated says so */
        if (r == 0) {
                /* the root itself: only its permissions can change */
                struct stat ust, lst;
                if (fstat(ufd, &ust) == 0 && fstat(lfd, &lst) == 0 &&
                    (ust.st_mode & 07777) != (lst.st_mode & 07777)) {
                        struct workspace_change *ch = scan_add(&ctx, WORKSPACE_MODE_CHANGED, "");
                        if (!ch && !ctx.full)
                                r = SCAN_NOMEM(&ctx);
                        else if (ch) {
                                scan_entry_fill(&ctx, &ch->new, WORKSPACE_FROM_UPPER, ufd, ".",
                                                &ust);
                                scan_entry_fill(&ctx, &ch->old, WORKSPACE_FROM_LOWER, lfd, ".",
                                                &lst);
                        }
                }
        }
        if (r == 0 && out->count > 1)
                qsort(out->items, out->count, sizeof(*out->items), scan_change_compare);
        if (r == 0)
                scan_drop_empty_replacements(out);
        if (r == 0 && scan_note_hardlinks(&ctx) < 0)
                r = reins_error_set(err, ENOMEM, "out of memory");
        if (r < 0)
                workspace_changes_free(out);
        return r;
}

const char *workspace_changes_truncation(const struct workspace_changes *changes, char *buf,
                                         size_t size)
{
        if (!changes->truncated) {
                if (size > 0)
                        buf[0] = '\0';
                return buf;
        }
        const char *cap = changes->cap ? changes->cap : "bytes";
        const char *what = strcmp(cap, "changes") == 0       ? "changes listed"
                           : strcmp(cap, "depth") == 0       ? "directory levels"
                           : strcmp(cap, "path length") == 0 ? "bytes in a path"
                                                             : "bytes held";
        unsigned long long limit = strcmp(cap, "changes") == 0       ? WORKSPACE_SCAN_MAX_CHANGES
                                   : strcmp(cap, "depth") == 0       ? WORKSPACE_SCAN_MAX_DEPTH
                                   : strcmp(cap, "path length") == 0 ? WORKSPACE_SCAN_MAX_PATH
                                                                     : WORKSPACE_SCAN_MAX_BYTES;
        bool stopped = strcmp(cap, "changes") == 0 || strcmp(cap, "bytes") == 0;
        snprintf(buf, size,
                 "the change list is truncated: the scan hit its cap of %llu %s and %s "
                 "%zu entr%s%s",
                 limit, what, stopped ? "stopped; at least" : "left out", changes->not_listed,
                 changes->not_listed == 1 ? "y" : "ies",
                 stopped ? " more (and everything after them)" : "");
        return buf;
}

void workspace_changes_filter(struct workspace_changes *changes, char *const *paths, size_t count)
{
        size_t kept = 0;
        for (size_t i = 0; i < changes->count; i++) {
                struct workspace_change *ch = &changes->items[i];
                bool keep = false;
                for (size_t j = 0; j < count && !keep; j++)
                        keep = paths[j][0] == '\0' || strcmp(ch->path, paths[j]) == 0 ||
                               (strncmp(ch->path, paths[j], strlen(paths[j])) == 0 &&
                                ch->path[strlen(paths[j])] == '/');
                if (keep) {
                        changes->items[kept++] = *ch;
                        continue;
                }
                free(ch->path);
                free(ch->hardlink);
                workspace_entry_clear(&ch->old);
                workspace_entry_clear(&ch->new);
        }
        changes->count = kept;
}

struct workspace_change *workspace_changes_find(const struct workspace_changes *changes,
                                                const char *path)
{
        size_t lo = 0, hi = changes->count;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = path_compare_components(changes->items[mid].path, path);
                if (c == 0) {
                        /* skip an informational "replaced" twin */
                        while (mid > 0 && strcmp(changes->items[mid - 1].path, path) == 0)
                                mid--;
                        while (mid + 1 < changes->count &&
                               changes->items[mid].kind == WORKSPACE_REPLACED &&
                               strcmp(changes->items[mid + 1].path, path) == 0)
                                mid++;
                        return &changes->items[mid];
                }
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

char *workspace_relative_path(const char *arg, const char *lower)
{
        cleanup_free char *joined = NULL;
        const char *rel = arg;
        if (arg[0] == '/') {
                if (!path_is_under(arg, lower)) {
                        errno = EINVAL;
                        return NULL;
                }
                rel = arg + strlen(lower);
        } else {
                /* relative to the current directory when it is inside the workspace */
                char cwd[PATH_MAX];
                if (getcwd(cwd, sizeof(cwd)) && path_is_under(cwd, lower) &&
                    strlen(cwd) > strlen(lower)) {
                        joined = path_join(cwd + strlen(lower), arg);
                        if (!joined)
                                return NULL;
                        rel = joined;
                }
        }
        size_t n = strlen(rel);
        char *out = malloc(n + 1);
        if (!out)
                return NULL;
        size_t len = 0;
        const char *p = rel;
        while (*p) {
                while (*p == '/')
                        p++;
                const char *end = strchrnul(p, '/');
                size_t clen = (size_t)(end - p);
                if (clen == 0)
                        break;
                if (clen == 2 && p[0] == '.' && p[1] == '.') {
                        free(out);
                        errno = EINVAL;
                        return NULL;
                }
                if (!(clen == 1 && p[0] == '.')) {
                        if (len > 0)
                                out[len++] = '/';
                        memcpy(out + len, p, clen);
                        len += clen;
                }
                p = end;
        }
        out[len] = '\0';
        return out;
}
