/* Snapshots of a session's upper directory (snapshot.h). */
#include "workspace/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/walk.h"
#include "workspace/fsops.h"

/* Directories deeper than this are refused (ELOOP): the agent picks the
 * depth, not how many fds the copy holds. */
#define SNAPSHOT_MAX_DEPTH 255

/* A path too long for the whiteout list is written cut, ending in "/...". */
#define SNAPSHOT_MAX_PATH 4090

struct snapshot {
        FILE *whiteouts;
        const char *dir; /* the snapshot's directory, for messages */
};

static int copy_file(int from, int to, const char *name, mode_t mode)
{
        cleanup_fd int in = openat(from, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (in < 0)
                return -errno;
        cleanup_fd int out =
            openat(to, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 07777);
        return out < 0 ? -errno : ws_copy_fd(in, out);
}

/* One entry of the upper dir into its twin in the snapshot. */
static int copy_entry(struct snapshot *s, const struct walk_entry *e)
{
        const struct stat *st = e->st;
        int from = e->dirfd, to = e->parent_twin;
        if (S_ISREG(st->st_mode))
                return copy_file(from, to, e->name, st->st_mode);
        if (S_ISLNK(st->st_mode))
                return ws_copy_symlink(from, to, e->name);
        if (S_ISCHR(st->st_mode) && major(st->st_rdev) == 0 && minor(st->st_rdev) == 0) {
                /* overlayfs: deleted in the copy */
                fprintf(s->whiteouts, "%s%s\n", e->path, e->path_cut ? "/..." : "");
                return 0;
        }
        if (!S_ISDIR(st->st_mode))
                return 0; /* sockets, fifos: nothing to keep */
        if (e->too_deep)
                return -ELOOP;
        if (mkdirat(to, e->name, (st->st_mode & 07777) | 0700) < 0)
                return -errno;
        *e->open_twin = openat(to, e->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        return *e->open_twin < 0 ? -errno : WALK_NEXT;
}

static int snapshot_visit(const struct walk_entry *e, void *context, struct reins_error *err)
{
        struct snapshot *s = context;
        int r = copy_entry(s, e);
        if (r < 0)
                return reins_error_errno(err, -r, "snapshot %s", s->dir);
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
        struct snapshot s = {.whiteouts = list >= 0 ? fdopen(list, "w") : NULL, .dir = path};
        if (r == 0 && (from < 0 || to < 0 || !s.whiteouts))
                r = reins_error_errno(err, errno, "snapshot %s", path);
        if (r == 0) {
                struct walk_options options = {
                    .visit = snapshot_visit,
                    .context = &s,
                    .max_depth = SNAPSHOT_MAX_DEPTH,
                    .max_path = SNAPSHOT_MAX_PATH,
                    .root_twin = &to,
                    .label = "snapshot of",
                };
                r = walk_tree(from, &options, err);
                if (r > 0)
                        r = reins_error_set(err, E2BIG, "snapshot %s: a directory too large", path);
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
