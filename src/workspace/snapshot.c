/* Snapshots of a session's upper directory (snapshot.h). */
#include "workspace/snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "workspace/fsops.h"

#define SNAPSHOT_MAX_DEPTH 256

/* The relative path of the entry being copied, built in one buffer (never
 * one string per level: the agent picks depth and name length). A path too
 * long for it is written to the whiteout list cut, ending in "/...". */
#define SNAPSHOT_MAX_PATH 4096

struct snapshot {
        FILE *whiteouts;
        int depth;
        char path[SNAPSHOT_MAX_PATH];
        size_t length;   /* of path */
        unsigned hidden; /* levels below what path holds */
};

static void path_push(struct snapshot *s, const char *name)
{
        size_t n = strlen(name);
        if (s->hidden || s->length + (s->length ? 1 : 0) + n + 5 > sizeof(s->path)) {
                s->hidden++;
                return;
        }
        if (s->length)
                s->path[s->length++] = '/';
        memcpy(s->path + s->length, name, n + 1);
        s->length += n;
}

static void path_pop(struct snapshot *s)
{
        if (s->hidden) {
                s->hidden--;
                return;
        }
        char *slash = strrchr(s->path, '/');
        s->length = slash ? (size_t)(slash - s->path) : 0;
        s->path[s->length] = '\0';
}

static int copy_entry(struct snapshot *s, int from, int to, const char *name);

static int copy_dir(struct snapshot *s, int from, int to)
{
        if (++s->depth > SNAPSHOT_MAX_DEPTH)
                return -ELOOP;
        int dup_from = dup(from);
        DIR *d = dup_from >= 0 ? fdopendir(dup_from) : NULL;
        if (!d) {
                if (dup_from >= 0)
                        close(dup_from);
                return -errno;
        }
        int r = 0;
        struct dirent *e;
        while (r == 0 && (e = readdir(d))) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                        continue;
                path_push(s, e->d_name);
                r = copy_entry(s, from, to, e->d_name);
                path_pop(s);
        }
        closedir(d);
        s->depth--;
        return r;
}

static int copy_file(int from, int to, const char *name, mode_t mode)
{
        int in = openat(from, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (in < 0)
                return -errno;
        int out =
            openat(to, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 07777);
        int r = out < 0 ? -errno : ws_copy_fd(in, out);
        close(in);
        if (out >= 0)
                close(out);
        return r;
}

static int copy_entry(struct snapshot *s, int from, int to, const char *name)
{
        struct stat st;
        if (fstatat(from, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (S_ISREG(st.st_mode))
                return copy_file(from, to, name, st.st_mode);
        if (S_ISLNK(st.st_mode))
                return ws_copy_symlink(from, to, name);
        if (S_ISCHR(st.st_mode) && major(st.st_rdev) == 0 && minor(st.st_rdev) == 0) {
                /* overlayfs: deleted in the copy */
                fprintf(s->whiteouts, "%s%s\n", s->path, s->hidden ? "/..." : "");
                return 0;
        }
        if (!S_ISDIR(st.st_mode))
                return 0; /* sockets, fifos: nothing to keep */
        if (mkdirat(to, name, (st.st_mode & 07777) | 0700) < 0)
                return -errno;
        int sub_from = openat(from, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int sub_to = openat(to, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int r = sub_from < 0 || sub_to < 0 ? -errno : copy_dir(s, sub_from, sub_to);
        if (sub_from >= 0)
                close(sub_from);
        if (sub_to >= 0)
                close(sub_to);
        return r;
}

int workspace_snapshot(const struct workspace_session *session, int upper, const char *name,
                       char **out, struct reins_error *err)
{
        char *snapshots = NULL, *path = NULL;
        if (asprintf(&snapshots, "%s/snapshots", session->dir) < 0 ||
            asprintf(&path, "%s/%s", snapshots, name) < 0) {
                free(snapshots);
                return reins_error_set(err, ENOMEM, "out of memory");
        }
        int r = 0;
        if ((mkdir(snapshots, 0700) < 0 && errno != EEXIST) || mkdir(path, 0700) < 0)
                r = reins_error_errno(err, errno, "snapshot %s", path);
        free(snapshots);
        int from = r != 0       ? -1
                   : upper >= 0 ? fcntl(upper, F_DUPFD_CLOEXEC, 0)
                                : open(session->upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int to = r == 0 ? open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
        int list =
            to >= 0 ? openat(to, ".reins-whiteouts", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)
                    : -1;
        struct snapshot s = {.whiteouts = list >= 0 ? fdopen(list, "w") : NULL};
        if (r == 0 && (from < 0 || to < 0 || !s.whiteouts))
                r = reins_error_errno(err, errno, "snapshot %s", path);
        if (r == 0) {
                int c = copy_dir(&s, from, to);
                if (c < 0)
                        r = reins_error_errno(err, -c, "snapshot %s", path);
        }
        if (s.whiteouts)
                fclose(s.whiteouts);
        else if (list >= 0)
                close(list);
        if (from >= 0)
                close(from);
        if (to >= 0)
                close(to);
        if (r == 0)
                *out = path;
        else
                free(path);
        return r;
}
