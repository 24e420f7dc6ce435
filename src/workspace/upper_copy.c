/* Copy an overlayfs upper directory with its markers (upper_copy.h). */
#include "workspace/upper_copy.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/walk.h"
#include "workspace/fsops.h"

#define UPPER_COPY_MAX_DEPTH 255
/* The tree is the agent's: the table of hard links it holds is capped in
 * bytes. Past the cap a further linked file is copied as a file of its own
 * (same contents; overlayfs does not need the link back). */
#define UPPER_COPY_MAX_LINK_BYTES (8u << 20)

/* A file seen with more than one link: where its first copy went. */
struct upper_link {
        dev_t dev;
        ino_t ino;
        char *path; /* relative to the destination root; NULL: a free slot */
};

struct upper_copier {
        int to_root;
        struct upper_link *links; /* open addressing on (dev, ino) */
        size_t link_count, link_capacity, link_bytes;
};

static size_t link_slot(const struct upper_link *table, size_t capacity, dev_t dev, ino_t ino)
{
        uint64_t h =
            ((uint64_t)dev * 0x9e3779b97f4a7c15ULL) ^ ((uint64_t)ino * 0xff51afd7ed558ccdULL);
        size_t i = (size_t)(h ^ (h >> 29)) & (capacity - 1);
        while (table[i].path && !(table[i].dev == dev && table[i].ino == ino))
                i = (i + 1) & (capacity - 1);
        return i;
}

static int link_grow(struct upper_copier *c)
{
        size_t capacity = c->link_capacity ? c->link_capacity * 2 : 64;
        struct upper_link *table = calloc(capacity, sizeof(*table));
        if (!table)
                return -ENOMEM;
        for (size_t i = 0; i < c->link_capacity; i++)
                if (c->links[i].path)
                        table[link_slot(table, capacity, c->links[i].dev, c->links[i].ino)] =
                            c->links[i];
        free(c->links);
        c->links = table;
        c->link_capacity = capacity;
        return 0;
}

/* Every user.* xattr of `src` onto `dst` (both open fds). Other namespaces
 * are left: trusted.* and security.* are not ours to set. */
static int copy_xattrs(int src, int dst)
{
        char list[8192], value[8192];
        ssize_t n = flistxattr(src, list, sizeof(list));
        if (n < 0)
                return errno == ENOTSUP ? 0 : -errno;
        for (const char *key = list; key < list + n; key += strlen(key) + 1) {
                if (strncmp(key, "user.", 5) != 0)
                        continue;
                ssize_t v = fgetxattr(src, key, value, sizeof(value));
                if (v < 0)
                        return -errno;
                if (fsetxattr(dst, key, value, (size_t)v, 0) < 0)
                        return -errno;
        }
        return 0;
}

static void copy_times(int dst, const struct stat *st)
{
        struct timespec times[2] = {st->st_atim, st->st_mtim};
        futimens(dst, times);
}

/* Open `name` for reading. An entry the agent made unreadable gets the
 * owner's read (and search) bit until source_close: its xattrs, too, are
 * only readable with read permission. */
struct source {
        int fd;
        bool chmodded;
};

static int open_source(int dir, const char *name, const struct stat *st, int flags,
                       struct source *out)
{
        out->chmodded = false;
        out->fd = openat(dir, name, flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (out->fd >= 0)
                return 0;
        if (errno != EACCES)
                return -errno;
        mode_t wanted = (st->st_mode & 07777) | S_IRUSR | (S_ISDIR(st->st_mode) ? S_IXUSR : 0);
        if (fchmodat(dir, name, wanted, 0) < 0)
                return -EACCES;
        out->chmodded = true;
        out->fd = openat(dir, name, flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        return out->fd < 0 ? -errno : 0;
}

/* Close, and give the agent's entry its own mode back. */
static int source_close(struct source *source, const struct stat *st)
{
        int r = 0;
        if (source->chmodded && source->fd >= 0 && fchmod(source->fd, st->st_mode & 07777) < 0)
                r = -errno;
        if (source->fd >= 0)
                close(source->fd);
        source->fd = -1;
        return r;
}

/* A hard link to a file already copied, when `st` is one. 1: linked. */
static int copy_as_link(struct upper_copier *c, int to, const char *name, const char *rel,
                        const struct stat *st)
{
        if (st->st_nlink < 2)
                return 0;
        if (c->link_capacity > 0) {
                size_t i = link_slot(c->links, c->link_capacity, st->st_dev, st->st_ino);
                if (c->links[i].path)
                        return linkat(c->to_root, c->links[i].path, to, name, 0) < 0 ? -errno : 1;
        }
        size_t cost = 2 * sizeof(struct upper_link) + strlen(rel) + 1;
        if (c->link_bytes + cost > UPPER_COPY_MAX_LINK_BYTES)
                return 0; /* past the cap: a file of its own */
        if ((c->link_count + 1) * 2 > c->link_capacity && link_grow(c) < 0)
                return -ENOMEM;
        char *path = strdup(rel);
        if (!path)
                return -ENOMEM;
        c->links[link_slot(c->links, c->link_capacity, st->st_dev, st->st_ino)] =
            (struct upper_link){st->st_dev, st->st_ino, path};
        c->link_count++;
        c->link_bytes += cost;
        return 0;
}

/* The last step for a file or directory: its markers (opaque, origin…),
 * the source's own mode back, then the copy's mode (no setuid/setgid: it is
 * the agent's file) and times. `r` is how the contents went. */
static int copy_finish(int r, struct source *in, int out, const struct stat *st)
{
        if (r == 0)
                r = copy_xattrs(in->fd, out);
        int closed = source_close(in, st);
        if (r == 0)
                r = closed;
        if (r == 0 && fchmod(out, st->st_mode & 01777) < 0)
                r = -errno;
        if (r == 0)
                copy_times(out, st);
        return r;
}

static int copy_regular(struct upper_copier *c, int from, int to, const char *name, const char *rel,
                        const struct stat *st)
{
        int r = copy_as_link(c, to, name, rel, st);
        if (r != 0)
                return r < 0 ? r : 0;
        struct source in;
        if ((r = open_source(from, name, st, O_RDONLY, &in)) < 0)
                return r;
        cleanup_fd int out =
            openat(to, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        r = out < 0 ? -errno : ws_copy_fd(in.fd, out);
        return copy_finish(r, &in, out, st);
}

/* Directories are filled while writable, then given their mode, markers
 * (opaque) and times (copy_directory_finish, after their entries). */
static int copy_directory(const struct walk_entry *e)
{
        if (e->too_deep)
                return -ELOOP;
        if (mkdirat(e->parent_twin, e->name, 0700) < 0)
                return -errno;
        *e->open_twin =
            openat(e->parent_twin, e->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (*e->open_twin < 0)
                return -errno;
        struct source in;
        int r = open_source(e->dirfd, e->name, e->st, O_RDONLY | O_DIRECTORY, &in);
        if (r < 0)
                return r;
        *e->open_fd = in.fd; /* the walk reads it, and closes it after the post visit */
        return WALK_NEXT;
}

static int copy_directory_finish(const struct walk_entry *e)
{
        /* the source's mode back when open_source had to add u+rx */
        struct stat now;
        struct source in = {.fd = -1};
        in.chmodded = fstat(e->fd, &now) == 0 && (now.st_mode & 07777) != (e->st->st_mode & 07777);
        if (e->unwinding) {
                if (in.chmodded)
                        fchmod(e->fd, e->st->st_mode & 07777);
                return 0;
        }
        in.fd = fcntl(e->fd, F_DUPFD_CLOEXEC, 0);
        if (in.fd < 0)
                return -errno;
        return copy_finish(0, &in, e->twin, e->st);
}

static int copy_visit(const struct walk_entry *e, void *context, struct reins_error *err)
{
        (void)err;
        struct upper_copier *c = context;
        if (e->path_cut)
                return -ENAMETOOLONG;
        if (e->visit == WALK_DIR_PRE)
                return copy_directory(e);
        if (e->visit == WALK_DIR_POST)
                return copy_directory_finish(e);
        const struct stat *st = e->st;
        int from = e->dirfd, to = e->parent_twin;
        if (S_ISREG(st->st_mode))
                return copy_regular(c, from, to, e->name, e->path, st);
        if (S_ISLNK(st->st_mode))
                return ws_copy_symlink(from, to, e->name);
        /* a whiteout: overlayfs' record that the lower file was deleted
         * (creating one needs no privilege) */
        if (S_ISCHR(st->st_mode) && major(st->st_rdev) == 0 && minor(st->st_rdev) == 0)
                return mknodat(to, e->name, S_IFCHR | 0600, makedev(0, 0)) < 0 ? -errno : 0;
        if (S_ISFIFO(st->st_mode))
                return mkfifoat(to, e->name, st->st_mode & 0777) < 0 ? -errno : 0;
        return 0; /* sockets and devices: nothing to keep */
}

int upper_copy_tree(int from, int to)
{
        struct upper_copier c = {.to_root = to};
        struct walk_options options = {
            .visit = copy_visit,
            .context = &c,
            .post_order = true,
            .max_depth = UPPER_COPY_MAX_DEPTH,
            .max_path = PATH_MAX - 1,
            .root_twin = &to,
        };
        int r = walk_tree(from, &options, NULL);
        if (r > 0)
                r = -E2BIG; /* a directory's names past the walk's cap */
        if (r == 0)
                r = copy_xattrs(from, to); /* the top directory's own markers */
        for (size_t i = 0; i < c.link_capacity; i++)
                free(c.links[i].path);
        free(c.links);
        return r;
}
