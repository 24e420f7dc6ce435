/* The temporary repository a session's commits are read from (see
 * gitcommits.h): the copy's object files copied (only names git gives
 * them), the host's object store as its alternate. */
#include "workspace/gitcommits_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/path.h"
#include "util/walk.h"
#include "workspace/fsops.h"

void ws_gc_repo_free(struct ws_gc_repo *repo)
{
        if (repo->dir) {
                char *slash = strrchr(repo->dir, '/');
                *slash = '\0';
                int parent = open(repo->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (parent >= 0) {
                        ws_remove_tree_at(parent, slash + 1);
                        close(parent);
                }
                *slash = '/';
        }
        free(repo->dir);
        free(repo->host_git);
        memset(repo, 0, sizeof(*repo));
}

static int gc_copy_file(struct ws_gc_repo *repo, int from, const char *name, int to)
{
        cleanup_fd int in = ws_open_read(from, name, true);
        if (in < 0)
                return 0; /* unreadable: git will say what is missing */
        struct stat st;
        if (fstat(in, &st) < 0 || !S_ISREG(st.st_mode))
                return 0;
        /* each file costs a block at least: a million empty files stop too */
        size_t cost = (size_t)st.st_size < 4096 ? 4096 : (size_t)st.st_size;
        if (repo->copied + cost > WORKSPACE_GIT_OBJECTS_MAX) {
                repo->too_large = true;
                return -EFBIG;
        }
        repo->copied += cost;
        /* a hard link where it can be (the temporary repository sits next
         * to the copy, and git never writes to an object file): a repacked
         * repository is not copied at every diff. Not when git runs as
         * another user: the link would hand them the copy's file. */
        if (!repo->drop && linkat(from, name, to, name, 0) == 0)
                return 0;
        cleanup_fd int out =
            openat(to, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
        if (out < 0)
                return errno == EEXIST ? 0 : -errno;
        return ws_copy_fd(in, out);
}

struct gc_objects {
        struct ws_gc_repo *repo;
        int objects; /* the temporary repository's objects/ */
};

static int gc_objects_visit(const struct walk_entry *e, void *context, struct reins_error *err)
{
        (void)err;
        struct gc_objects *o = context;
        const char *name = e->name;
        if (e->depth == 1) {
                bool loose = strlen(name) == 2 && ws_gc_is_hex(name, 2);
                if (e->visit != WALK_DIR_PRE || (!loose && strcmp(name, "pack") != 0))
                        return WALK_SKIP; /* info/ (alternates!) and anything else: never */
                *e->open_fd =
                    openat(e->dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (*e->open_fd < 0)
                        return WALK_SKIP;
                if (mkdirat(o->objects, name, 0755) < 0 && errno != EEXIST)
                        return -errno;
                *e->open_twin =
                    openat(o->objects, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                return *e->open_twin < 0 ? -errno : WALK_NEXT;
        }
        size_t len = strlen(name);
        bool loose = strncmp(e->path, "pack/", 5) != 0;
        bool ok = loose ? ((len == 38 || len == 62) && ws_gc_is_hex(name, len))
                        : (strncmp(name, "pack-", 5) == 0 &&
                           (ws_gc_has_suffix(name, ".pack") || ws_gc_has_suffix(name, ".idx")));
        return ok ? gc_copy_file(o->repo, e->dirfd, name, e->parent_twin) : WALK_SKIP;
}

/* Loose objects (xx/yyyy…) and packs of the copy's objects/: only names git
 * gives them, only regular files. */
static int gc_copy_objects(struct ws_gc_repo *repo, int upper_objects, int objects)
{
        struct gc_objects o = {.repo = repo, .objects = objects};
        struct walk_options options = {.visit = gc_objects_visit, .context = &o, .max_depth = 1};
        int r = walk_tree(upper_objects, &options, NULL);
        return r > 0 ? -E2BIG : r;
}

static int gc_write_file(int dir, const char *name, const char *text)
{
        cleanup_fd int fd =
            openat(dir, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        size_t n = strlen(text);
        return write(fd, text, n) == (ssize_t)n ? 0 : -EIO;
}

static int gc_chown_visit(const struct walk_entry *e, void *context, struct reins_error *err)
{
        (void)err;
        const struct ws_gc_repo *repo = context;
        if (fchownat(e->dirfd, e->name, repo->uid, repo->gid, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        return WALK_NEXT;
}

/* The temporary repository (ours, made just now) to the repository's owner. */
static int gc_chown_tree(int dir, const struct ws_gc_repo *repo)
{
        if (fchown(dir, repo->uid, repo->gid) < 0)
                return -errno;
        struct walk_options options = {.visit = gc_chown_visit, .context = (void *)repo};
        int r = walk_tree(dir, &options, NULL);
        return r > 0 ? -E2BIG : r;
}

/* Build the temporary repository: the copy's objects, the host's objects as
 * its alternate, refs/heads/session at `head` (when given). */
int ws_gc_repo_make(const struct workspace_session *session, int upper_git, const char *head,
                    struct ws_gc_repo *repo, struct reins_error *err)
{
        memset(repo, 0, sizeof(*repo));
        repo->host_git = path_join(session->lower, ".git");
        if (!repo->host_git)
                return reins_error_set(err, ENOMEM, "out of memory");
        struct stat st;
        if (stat(repo->host_git, &st) < 0 || !S_ISDIR(st.st_mode))
                return reins_error_set(err, ENOENT, "%s: not a git repository", session->lower);
        /* root on another user's repository: git runs as its owner, from a
         * private directory that user can read */
        repo->drop = geteuid() == 0 && st.st_uid != 0;
        repo->uid = st.st_uid;
        repo->gid = st.st_gid;
        const char *tmp_base = repo->drop ? "/tmp" : session->dir;
        if (asprintf(&repo->dir, "%s/.reins-git-XXXXXX", tmp_base) < 0) {
                repo->dir = NULL;
                return reins_error_set(err, ENOMEM, "out of memory");
        }
        if (!mkdtemp(repo->dir)) {
                int e = errno;
                free(repo->dir);
                repo->dir = NULL;
                return reins_error_errno(err, e, "creating a temporary repository");
        }
        cleanup_fd int dir = open(repo->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dir < 0)
                return reins_error_errno(err, errno, "%s", repo->dir);
        int r = 0;
        bool sha256 = head && strlen(head) == 64;
        if (mkdirat(dir, "objects", 0755) < 0 || mkdirat(dir, "refs", 0755) < 0 ||
            mkdirat(dir, "refs/heads", 0755) < 0)
                r = -errno;
        cleanup_fd int objects =
            r == 0 ? openat(dir, "objects", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
        if (r == 0 && objects < 0)
                r = -errno;
        if (r == 0 && mkdirat(objects, "info", 0755) < 0)
                r = -errno;
        if (r == 0)
                r = gc_write_file(dir, "HEAD", "ref: refs/heads/session\n");
        if (r == 0)
                r = gc_write_file(dir, "config",
                                  sha256 ? "[core]\n\trepositoryformatversion = 1\n\tbare = true\n"
                                           "[extensions]\n\tobjectformat = sha256\n"
                                         : "[core]\n\trepositoryformatversion = 0\n"
                                           "\tbare = true\n");
        cleanup_free char *alternates = NULL;
        if (r == 0 && asprintf(&alternates, "%s/objects\n", repo->host_git) < 0) {
                alternates = NULL;
                r = -ENOMEM;
        }
        if (r == 0) {
                cleanup_fd int info =
                    openat(objects, "info", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                r = info < 0 ? -errno : gc_write_file(info, "alternates", alternates);
        }
        if (r == 0 && head) {
                cleanup_free char *line = NULL;
                if (asprintf(&line, "%s\n", head) < 0) {
                        line = NULL;
                        r = -ENOMEM;
                } else {
                        cleanup_fd int heads = openat(
                            dir, "refs/heads", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        r = heads < 0 ? -errno : gc_write_file(heads, "session", line);
                }
        }
        if (r == 0) {
                cleanup_fd int upper_objects =
                    ws_open_beneath(upper_git, "objects", O_RDONLY | O_DIRECTORY, 0);
                if (upper_objects >= 0)
                        r = gc_copy_objects(repo, upper_objects, objects);
        }
        if (r == 0 && repo->drop)
                r = gc_chown_tree(dir, repo);
        if (r == -EFBIG)
                return reins_error_set(err, EFBIG,
                                       "the session's git objects are larger than %u MiB: not "
                                       "read",
                                       WORKSPACE_GIT_OBJECTS_MAX >> 20);
        if (r < 0)
                return reins_error_errno(err, -r, "preparing %s", repo->dir);
        return 0;
}

static int gc_packs_visit(const struct walk_entry *e, void *context, struct reins_error *err)
{
        (void)err;
        struct reins_strv *packs = context;
        if (e->visit == WALK_LEAF && ws_gc_has_suffix(e->name, ".pack") && packs->count < 256)
                strv_push(packs, e->name);
        return WALK_SKIP;
}

/* Index each pack copied from the session with the host's git: the index
 * git then reads is its own, never one the agent wrote. */
int ws_gc_index_packs(const struct ws_gc_repo *repo, struct reins_error *err)
{
        cleanup_free char *pack_dir = NULL;
        if (asprintf(&pack_dir, "%s/objects/pack", repo->dir) < 0)
                return reins_error_set(err, ENOMEM, "out of memory");
        cleanup_fd int dir = open(pack_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dir < 0)
                return 0; /* no packs */
        struct reins_strv packs = {0};
        struct walk_options options = {.visit = gc_packs_visit, .context = &packs};
        walk_tree(dir, &options, NULL);
        int r = 0;
        for (size_t i = 0; r == 0 && i < packs.count; i++) {
                cleanup_free char *pack = path_join(pack_dir, packs.items[i]);
                if (!pack) {
                        r = reins_error_set(err, ENOMEM, "out of memory");
                        break;
                }
                char *args[] = {"index-pack", pack, NULL};
                struct ws_git_runner runner = ws_gc_repo_runner(repo, repo->dir, NULL);
                struct ws_git_output out;
                r = ws_git_run(&runner, args, "indexing the session's packs", &out, NULL, err);
                free(out.data);
        }
        strv_free(&packs);
        return r;
}
