/* Copy an overlayfs upper directory with its markers (upper_copy.h). */
#include "workspace/upper_copy.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "workspace/fsops.h"

#define UPPER_COPY_MAX_DEPTH 256

/* A file seen with more than one link: where its first copy went. */
struct upper_link {
        dev_t dev;
        ino_t ino;
        char *path; /* relative to the destination root */
};

struct upper_copier {
        int to_root;
        struct upper_link *links;
        size_t link_count, link_capacity;
        int depth;
};

static int copy_entries(struct upper_copier *c, int from, int to, const char *rel);

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
        for (size_t i = 0; i < c->link_count; i++)
                if (c->links[i].dev == st->st_dev && c->links[i].ino == st->st_ino)
                        return linkat(c->to_root, c->links[i].path, to, name, 0) < 0 ? -errno : 1;
        if (c->link_count == c->link_capacity) {
                size_t capacity = c->link_capacity ? c->link_capacity * 2 : 16;
                struct upper_link *bigger = realloc(c->links, capacity * sizeof(*bigger));
                if (!bigger)
                        return -ENOMEM;
                c->links = bigger;
                c->link_capacity = capacity;
        }
        char *path = strdup(rel);
        if (!path)
                return -ENOMEM;
        c->links[c->link_count++] = (struct upper_link){st->st_dev, st->st_ino, path};
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
 * (opaque) and times. */
static int copy_directory(struct upper_copier *c, int from, int to, const char *name,
                          const char *rel, const struct stat *st)
{
        if (mkdirat(to, name, 0700) < 0)
                return -errno;
        cleanup_fd int out = openat(to, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (out < 0)
                return -errno;
        struct source in;
        int r = open_source(from, name, st, O_RDONLY | O_DIRECTORY, &in);
        if (r < 0)
                return r;
        return copy_finish(copy_entries(c, in.fd, out, rel), &in, out, st);
}

static int copy_entry(struct upper_copier *c, int from, int to, const char *name, const char *rel)
{
        struct stat st;
        if (fstatat(from, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (S_ISREG(st.st_mode))
                return copy_regular(c, from, to, name, rel, &st);
        if (S_ISDIR(st.st_mode))
                return copy_directory(c, from, to, name, rel, &st);
        if (S_ISLNK(st.st_mode))
                return ws_copy_symlink(from, to, name);
        /* a whiteout: overlayfs' record that the lower file was deleted
         * (creating one needs no privilege) */
        if (S_ISCHR(st.st_mode) && major(st.st_rdev) == 0 && minor(st.st_rdev) == 0)
                return mknodat(to, name, S_IFCHR | 0600, makedev(0, 0)) < 0 ? -errno : 0;
        if (S_ISFIFO(st.st_mode))
                return mkfifoat(to, name, st.st_mode & 0777) < 0 ? -errno : 0;
        return 0; /* sockets and devices: nothing to keep */
}

static int copy_entries(struct upper_copier *c, int from, int to, const char *rel)
{
        if (++c->depth > UPPER_COPY_MAX_DEPTH)
                return -ELOOP;
        int dup_from = fcntl(from, F_DUPFD_CLOEXEC, 0);
        DIR *d = dup_from >= 0 ? fdopendir(dup_from) : NULL;
        if (!d) {
                int e = errno;
                if (dup_from >= 0)
                        close(dup_from);
                return -e;
        }
        int r = 0;
        struct dirent *e;
        while (r == 0 && (errno = 0, e = readdir(d))) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                        continue;
                char child[PATH_MAX];
                if (snprintf(child, sizeof(child), "%s%s%s", rel, rel[0] ? "/" : "", e->d_name) >=
                    (int)sizeof(child)) {
                        r = -ENAMETOOLONG;
                        break;
                }
                r = copy_entry(c, from, to, e->d_name, child);
        }
        if (r == 0 && errno != 0)
                r = -errno;
        closedir(d);
        c->depth--;
        return r;
}

int upper_copy_tree(int from, int to)
{
        struct upper_copier c = {.to_root = to};
        int r = copy_entries(&c, from, to, "");
        if (r == 0)
                r = copy_xattrs(from, to); /* the top directory's own markers */
        for (size_t i = 0; i < c.link_count; i++)
                free(c.links[i].path);
        free(c.links);
        return r;
}
