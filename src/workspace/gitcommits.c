/* Commits made inside a session: listed and landed with the host's git
 * (see gitcommits.h for the contract). */
#include "workspace/gitcommits.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/path.h"
#include "util/strv.h"
#include "util/walk.h"
#include "workspace/fsops.h"

extern char **environ;

/* ---- small reads of git's files ---------------------------------------------- */

/* A regular file of at most size - 1 bytes beneath dir, NUL-terminated;
 * its length, or -errno (-EFBIG when larger). */
static ssize_t gc_read_small(int dir, const char *path, bool ours, char *buf, size_t size)
{
        cleanup_fd int fd = ws_open_read(dir, path, ours);
        if (fd < 0)
                return fd;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode)) /* a whiteout, a fifo the agent left: not a ref */
                return -ENOENT;
        size_t len = 0;
        for (;;) {
                ssize_t n = read(fd, buf + len, size - 1 - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                len += (size_t)n;
                if (len == size - 1) {
                        char probe;
                        if (read(fd, &probe, 1) > 0)
                                return -EFBIG;
                        break;
                }
        }
        buf[len] = '\0';
        return (ssize_t)len;
}

static bool gc_has_suffix(const char *s, const char *suffix)
{
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && strcmp(s + a - b, suffix) == 0;
}

static bool gc_is_hex(const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

/* A full object name at the start of s (40 or 64 hex digits, then the end
 * of a word): copied into out. */
static bool gc_take_hash(const char *s, char out[65])
{
        size_t n = strspn(s, "0123456789abcdef");
        if ((n != 40 && n != 64) || (s[n] && s[n] != '\n' && s[n] != ' ' && s[n] != '\r'))
                return false;
        memcpy(out, s, n);
        out[n] = '\0';
        return true;
}

/* A ref name from the agent's HEAD, checked before it names a file: under
 * refs/, no "..", no component starting with '.', printable ASCII only. */
static bool gc_ref_name_ok(const char *name)
{
        size_t n = strlen(name);
        if (n < 6 || n > 255 || strncmp(name, "refs/", 5) != 0 || strstr(name, "..") ||
            strstr(name, "/.") || strstr(name, "//") || name[n - 1] == '/')
                return false;
        for (size_t i = 0; i < n; i++)
                if (name[i] <= ' ' || name[i] >= 0x7f || strchr("~^:?*[\\", name[i]))
                        return false;
        return true;
}

/* The hash packed-refs gives `name` (a packed-refs file of at most 16 MiB
 * read in pieces). */
static bool gc_packed_lookup(int gitdir, bool ours, const char *name, char out[65])
{
        cleanup_fd int fd = ws_open_read(gitdir, "packed-refs", ours);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (16 << 20))
                return false;
        cleanup_fclose FILE *f = fdopen(fd, "r");
        if (!f)
                return false;
        fd = -1; /* the FILE owns it now */
        char line[512];
        size_t nlen = strlen(name);
        while (fgets(line, sizeof(line), f)) {
                char hash[65];
                if (!gc_take_hash(line, hash))
                        continue;
                const char *ref = line + strlen(hash) + 1;
                if (strncmp(ref, name, nlen) == 0 && (ref[nlen] == '\n' || ref[nlen] == '\0')) {
                        memcpy(out, hash, sizeof(hash));
                        return true;
                }
        }
        return false;
}

/* Resolve a ref as the session sees it: the copy first, the host below. */
static bool gc_resolve(int upper_git, int host_git, const char *name, char out[65])
{
        char buf[128];
        if (upper_git >= 0 && gc_read_small(upper_git, name, true, buf, sizeof(buf)) > 0 &&
            gc_take_hash(buf, out))
                return true;
        if (upper_git >= 0 && gc_packed_lookup(upper_git, true, name, out))
                return true;
        if (gc_read_small(host_git, name, false, buf, sizeof(buf)) > 0 && gc_take_hash(buf, out))
                return true;
        return gc_packed_lookup(host_git, false, name, out);
}

/* ---- the refs the copy changed ------------------------------------------------ */

struct gc_tips {
        struct reins_strv hashes;
        size_t visited; /* entries looked at below refs/ */
        bool cut;
};

static void gc_tip_add(struct gc_tips *tips, const char *hash)
{
        if (tips->hashes.count >= WORKSPACE_GIT_MAX_REFS) {
                tips->cut = true;
                return;
        }
        strv_push_unique(&tips->hashes, hash);
}

static int gc_refs_visit(const struct walk_entry *e, void *context, struct reins_error *err)
{
        (void)err;
        struct gc_tips *tips = context;
        /* a refs/ directory of a million entries costs a bounded walk */
        if (tips->hashes.count >= WORKSPACE_GIT_MAX_REFS)
                return WALK_STOP;
        if (++tips->visited > 10 * WORKSPACE_GIT_MAX_REFS) {
                tips->cut = true;
                return WALK_STOP;
        }
        if (e->visit == WALK_DIR_PRE) {
                /* unreadable: passed over, like a ref that is not there */
                *e->open_fd =
                    openat(e->dirfd, e->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                return *e->open_fd < 0 ? WALK_SKIP : WALK_NEXT;
        }
        char buf[128], hash[65];
        if (S_ISREG(e->st->st_mode) &&
            gc_read_small(e->dirfd, e->name, true, buf, sizeof(buf)) > 0 && gc_take_hash(buf, hash))
                gc_tip_add(tips, hash);
        return WALK_NEXT;
}

/* Every ref file below the copy's refs/ (never a symlink, bounded in depth
 * and count; what cannot be read is passed over). */
static void gc_walk_refs(int dir, struct gc_tips *tips)
{
        struct walk_options options = {.visit = gc_refs_visit, .context = tips, .max_depth = 16};
        walk_tree(dir, &options, NULL);
}

static void gc_packed_tips(int upper_git, struct gc_tips *tips)
{
        cleanup_fd int fd = ws_open_read(upper_git, "packed-refs", true);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (16 << 20))
                return;
        cleanup_fclose FILE *f = fdopen(fd, "r");
        if (!f)
                return;
        fd = -1;
        char line[512];
        while (fgets(line, sizeof(line), f)) {
                char hash[65];
                if (gc_take_hash(line, hash))
                        gc_tip_add(tips, hash);
        }
}

/* ---- the temporary repository ---------------------------------------------------- */

struct gc_repo {
        char *dir;      /* the temporary repository */
        char *host_git; /* the host's .git */
        bool drop;      /* run git as the repository's owner (root only) */
        uid_t uid;
        gid_t gid;
        size_t copied;  /* object bytes copied */
        bool too_large; /* past WORKSPACE_GIT_OBJECTS_MAX */
};

static void gc_repo_free(struct gc_repo *repo)
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

static int gc_copy_file(struct gc_repo *repo, int from, const char *name, int to)
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
        struct gc_repo *repo;
        int objects; /* the temporary repository's objects/ */
};

static int gc_objects_visit(const struct walk_entry *e, void *context, struct reins_error *err)
{
        (void)err;
        struct gc_objects *o = context;
        const char *name = e->name;
        if (e->depth == 1) {
                bool loose = strlen(name) == 2 && gc_is_hex(name, 2);
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
        bool ok = loose ? ((len == 38 || len == 62) && gc_is_hex(name, len))
                        : (strncmp(name, "pack-", 5) == 0 &&
                           (gc_has_suffix(name, ".pack") || gc_has_suffix(name, ".idx")));
        return ok ? gc_copy_file(o->repo, e->dirfd, name, e->parent_twin) : WALK_SKIP;
}

/* Loose objects (xx/yyyy…) and packs of the copy's objects/: only names git
 * gives them, only regular files. */
static int gc_copy_objects(struct gc_repo *repo, int upper_objects, int objects)
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
        const struct gc_repo *repo = context;
        if (fchownat(e->dirfd, e->name, repo->uid, repo->gid, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        return WALK_NEXT;
}

/* The temporary repository (ours, made just now) to the repository's owner. */
static int gc_chown_tree(int dir, const struct gc_repo *repo)
{
        if (fchown(dir, repo->uid, repo->gid) < 0)
                return -errno;
        struct walk_options options = {.visit = gc_chown_visit, .context = (void *)repo};
        int r = walk_tree(dir, &options, NULL);
        return r > 0 ? -E2BIG : r;
}

/* Build the temporary repository: the copy's objects, the host's objects as
 * its alternate, refs/heads/session at `head` (when given). */
static int gc_repo_make(const struct workspace_session *session, int upper_git, const char *head,
                        struct gc_repo *repo, struct reins_error *err)
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

/* ---- running the host's git ------------------------------------------------------- */

struct gc_output {
        char *data;
        size_t length;
        bool cut;
        char error[512]; /* the start of stderr */
        size_t error_length;
};

/* git with a clean environment: no system or global configuration (a
 * fsmonitor or an alias there is code), no hooks, no prompt; the caller's
 * PATH and HOME otherwise. */
static char **gc_environment(const char *object_dir, char **owned)
{
        *owned = NULL;
        size_t n = 0;
        for (char **e = environ; *e; e++)
                n++;
        char **env = calloc(n + 8, sizeof(*env));
        if (!env)
                return NULL;
        size_t k = 0;
        for (char **e = environ; *e; e++)
                if (strncmp(*e, "GIT_", 4) != 0 && strncmp(*e, "LC_", 3) != 0 &&
                    strncmp(*e, "LANG=", 5) != 0)
                        env[k++] = *e;
        env[k++] = "GIT_CONFIG_NOSYSTEM=1";
        env[k++] = "GIT_CONFIG_GLOBAL=/dev/null";
        env[k++] = "GIT_TERMINAL_PROMPT=0";
        env[k++] = "LC_ALL=C";
        if (object_dir) {
                char *v = NULL;
                if (asprintf(&v, "GIT_OBJECT_DIRECTORY=%s", object_dir) < 0) {
                        free(env);
                        return NULL;
                }
                env[k++] = v;
                *owned = v; /* freed with the array */
        }
        env[k] = NULL;
        return env;
}

static int gc_git(const struct gc_repo *repo, const char *git_dir, const char *object_dir,
                  char *const *args, struct gc_output *out, int *status)
{
        memset(out, 0, sizeof(*out));
        /* the fixed options first: nothing the session wrote comes before them */
        const char *fixed[] = {"git",
                               "-c",
                               "core.hooksPath=/dev/null",
                               "-c",
                               "core.fsmonitor=false",
                               "-c",
                               "safe.directory=*",
                               "-c",
                               "gc.auto=0",
                               "-c",
                               "maintenance.auto=false",
                               "-c",
                               "protocol.file.allow=always",
                               "-c",
                               "fetch.fsckObjects=true",
                               "-c",
                               "transfer.fsckObjects=true",
                               "-c",
                               "fetch.writeCommitGraph=false",
                               "-c",
                               "log.showSignature=false",
                               "--no-pager",
                               "--git-dir",
                               git_dir ? git_dir : repo->host_git};
        size_t nfixed = sizeof(fixed) / sizeof(fixed[0]), nargs = 0;
        while (args[nargs])
                nargs++;
        cleanup_free char **argv = calloc(nfixed + nargs + 1, sizeof(*argv));
        cleanup_free char *env_owned = NULL;
        char **env = gc_environment(object_dir, &env_owned);
        if (!argv || !env) {
                free(env);
                return -ENOMEM;
        }
        for (size_t i = 0; i < nfixed; i++)
                argv[i] = (char *)fixed[i];
        for (size_t i = 0; i < nargs; i++)
                argv[nfixed + i] = args[i];
        int po[2], pe[2];
        if (pipe2(po, O_CLOEXEC) < 0) {
                free(env);
                return -errno;
        }
        if (pipe2(pe, O_CLOEXEC) < 0) {
                int e = errno;
                close(po[0]);
                close(po[1]);
                free(env);
                return -e;
        }
        pid_t pid = fork();
        if (pid == 0) {
                dup2(po[1], 1);
                dup2(pe[1], 2);
                int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (null >= 0)
                        dup2(null, 0);
                if (repo->drop &&
                    (setgroups(0, NULL) < 0 || setgid(repo->gid) < 0 || setuid(repo->uid) < 0))
                        _exit(126);
                execvpe("git", argv, env);
                _exit(127);
        }
        int e = errno;
        close(po[1]);
        close(pe[1]);
        free(env);
        if (pid < 0) {
                close(po[0]);
                close(pe[0]);
                return -e;
        }
        size_t cap = 0;
        struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
        int open_count = 2;
        int r = 0;
        while (open_count > 0) {
                if (poll(fds, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        break;
                }
                for (int i = 0; i < 2; i++) {
                        if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                                continue;
                        char buf[65536];
                        ssize_t n = read(fds[i].fd, buf, sizeof(buf));
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0) {
                                close(fds[i].fd);
                                fds[i].fd = -1;
                                open_count--;
                                continue;
                        }
                        if (i == 1) {
                                size_t room = sizeof(out->error) - 1 - out->error_length;
                                size_t take = (size_t)n < room ? (size_t)n : room;
                                memcpy(out->error + out->error_length, buf, take);
                                out->error_length += take;
                                out->error[out->error_length] = '\0';
                                continue;
                        }
                        /* bounded: past the cap the rest is read and dropped */
                        if (out->length + (size_t)n > WORKSPACE_GIT_TEXT_MAX) {
                                out->cut = true;
                                continue;
                        }
                        if (out->length + (size_t)n + 1 > cap) {
                                size_t next = cap ? cap * 2 : 65536;
                                while (next < out->length + (size_t)n + 1)
                                        next *= 2;
                                char *grown = realloc(out->data, next);
                                if (!grown) {
                                        r = -ENOMEM;
                                        continue;
                                }
                                out->data = grown;
                                cap = next;
                        }
                        memcpy(out->data + out->length, buf, (size_t)n);
                        out->length += (size_t)n;
                        out->data[out->length] = '\0';
                }
        }
        for (int i = 0; i < 2; i++)
                if (fds[i].fd >= 0)
                        close(fds[i].fd);
        int wstatus = 0;
        while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
                ;
        *status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
        return r;
}

static int gc_git_failed(struct reins_error *err, const char *what, int status,
                         const struct gc_output *out)
{
        /* git's message holds the agent's bytes (ref names, paths): the
         * first line only, escaped by whoever prints it */
        char line[256];
        size_t n = strcspn(out->error, "\n");
        if (n >= sizeof(line))
                n = sizeof(line) - 1;
        memcpy(line, out->error, n);
        line[n] = '\0';
        if (status == 127)
                return reins_error_set(err, ENOENT, "%s: git is not installed", what);
        return reins_error_set(err, EIO, "%s: git failed (status %d)%s%s", what, status,
                               line[0] ? ": " : "", line);
}

static int gc_packs_visit(const struct walk_entry *e, void *context, struct reins_error *err)
{
        (void)err;
        struct reins_strv *packs = context;
        if (e->visit == WALK_LEAF && gc_has_suffix(e->name, ".pack") && packs->count < 256)
                strv_push(packs, e->name);
        return WALK_SKIP;
}

/* Index each pack copied from the session with the host's git: the index
 * git then reads is its own, never one the agent wrote. */
static int gc_index_packs(const struct gc_repo *repo, struct reins_error *err)
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
                struct gc_output out;
                int status = 0;
                r = gc_git(repo, repo->dir, NULL, args, &out, &status);
                if (r < 0)
                        r = reins_error_errno(err, -r, "running git");
                else if (status != 0)
                        r = gc_git_failed(err, "indexing the session's packs", status, &out);
                free(out.data);
        }
        strv_free(&packs);
        return r;
}

/* ---- the session's refs ------------------------------------------------------------ */

struct gc_session {
        int upper_git; /* the copy's .git, -1 when it has none */
        int host_git;
        char head[65];
        char *head_ref;
        struct gc_tips tips;
};

static void gc_session_free(struct gc_session *s)
{
        if (s->upper_git >= 0)
                close(s->upper_git);
        if (s->host_git >= 0)
                close(s->host_git);
        free(s->head_ref);
        strv_free(&s->tips.hashes);
}

static int gc_session_read(const struct workspace_session *session, struct gc_session *s)
{
        memset(s, 0, sizeof(*s));
        s->upper_git = s->host_git = -1;
        cleanup_fd int upper = open(session->upper, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        cleanup_fd int lower = open(session->lower, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (upper < 0 || lower < 0)
                return -errno;
        s->host_git = ws_open_beneath(lower, ".git", O_RDONLY | O_DIRECTORY, 0);
        if (s->host_git < 0)
                return 0; /* no host repository: nothing to land */
        s->upper_git = ws_open_beneath(upper, ".git", O_RDONLY | O_DIRECTORY, 0);
        if (s->upper_git < 0)
                return 0; /* the copy never touched .git */
        char buf[512];
        if (gc_read_small(s->upper_git, "HEAD", true, buf, sizeof(buf)) <= 0 &&
            gc_read_small(s->host_git, "HEAD", false, buf, sizeof(buf)) <= 0)
                return 0;
        if (strncmp(buf, "ref: ", 5) == 0) {
                char *name = buf + 5;
                name[strcspn(name, "\r\n")] = '\0';
                if (gc_ref_name_ok(name)) {
                        s->head_ref = strdup(name);
                        if (!gc_resolve(s->upper_git, s->host_git, name, s->head))
                                s->head[0] = '\0'; /* an unborn branch */
                }
        } else if (!gc_take_hash(buf, s->head)) {
                s->head[0] = '\0';
        }
        if (s->head[0])
                gc_tip_add(&s->tips, s->head);
        cleanup_fd int refs = ws_open_beneath(s->upper_git, "refs", O_RDONLY | O_DIRECTORY, 0);
        if (refs >= 0)
                gc_walk_refs(refs, &s->tips);
        gc_packed_tips(s->upper_git, &s->tips);
        return 0;
}

/* ---- the API --------------------------------------------------------------------------- */

void workspace_git_commits_free(struct workspace_git_commits *commits)
{
        for (size_t i = 0; i < commits->count; i++) {
                free(commits->items[i].author);
                free(commits->items[i].subject);
        }
        free(commits->items);
        free(commits->head_ref);
        memset(commits, 0, sizeof(*commits));
}

void workspace_git_branch(const struct workspace_session *session, char out[64])
{
        snprintf(out, 64, "reins/%s", session->id);
}

/* "HASH\0AUTHOR\0SUBJECT\0" records, one after the other */
static int gc_parse_log(const struct gc_output *log, struct workspace_git_commits *out)
{
        const char *p = log->data, *end = log->data ? log->data + log->length : NULL;
        while (p && p < end) {
                const char *f[3];
                for (int i = 0; i < 3; i++) {
                        const char *z = memchr(p, '\0', (size_t)(end - p));
                        if (!z)
                                return 0; /* cut by the output cap */
                        f[i] = p;
                        p = z + 1;
                }
                while (p < end && *p == '\n')
                        p++;
                if (out->count >= WORKSPACE_GIT_MAX_COMMITS) {
                        out->more = true;
                        return 0;
                }
                char hash[65];
                if (!gc_take_hash(f[0], hash))
                        continue;
                struct workspace_git_commit *items =
                    realloc(out->items, (out->count + 1) * sizeof(*items));
                if (!items)
                        return -ENOMEM;
                out->items = items;
                struct workspace_git_commit *c = &items[out->count];
                memcpy(c->hash, hash, sizeof(hash));
                c->author = strdup(f[1]);
                c->subject = strdup(f[2]);
                if (!c->author || !c->subject) {
                        free(c->author);
                        free(c->subject);
                        return -ENOMEM;
                }
                out->count++;
        }
        return 0;
}

int workspace_git_commits(const struct workspace_session *session,
                          struct workspace_git_commits *out, struct reins_error *err)
{
        memset(out, 0, sizeof(*out));
        struct gc_session s;
        int r = gc_session_read(session, &s);
        if (r < 0) {
                gc_session_free(&s);
                return reins_error_errno(err, -r, "session %s", session->id);
        }
        if (s.upper_git < 0 || s.host_git < 0) {
                gc_session_free(&s);
                return 0;
        }
        out->repository = true;
        memcpy(out->head, s.head, sizeof(out->head));
        out->head_ref = s.head_ref;
        s.head_ref = NULL;
        if (s.tips.hashes.count == 0) {
                gc_session_free(&s);
                return 0;
        }
        struct gc_repo repo;
        r = gc_repo_make(session, s.upper_git, NULL, &repo, err);
        if (r == 0)
                r = gc_index_packs(&repo, err);
        if (r == 0) {
                /* git log TIPS --not --all: what the host's refs do not reach */
                size_t n = s.tips.hashes.count;
                char max[32];
                snprintf(max, sizeof(max), "--max-count=%u", WORKSPACE_GIT_MAX_COMMITS + 1);
                char **args = calloc(n + 12, sizeof(*args));
                cleanup_free char *objects = path_join(repo.dir, "objects");
                if (!args || !objects) {
                        r = reins_error_set(err, ENOMEM, "out of memory");
                } else {
                        size_t k = 0;
                        args[k++] = "log";
                        /* a ref the agent pointed at nothing (or at an object
                         * only some other repository holds) is passed over,
                         * not an error that hides every other commit */
                        args[k++] = "--ignore-missing";
                        args[k++] = "-z";
                        args[k++] = "--format=%H%x00%an <%ae>%x00%s";
                        args[k++] = max;
                        for (size_t i = 0; i < n; i++)
                                args[k++] = s.tips.hashes.items[i];
                        args[k++] = "--not";
                        args[k++] = "--all";
                        args[k++] = "--";
                        args[k] = NULL;
                        struct gc_output log;
                        int status = 0;
                        r = gc_git(&repo, NULL, objects, args, &log, &status);
                        if (r < 0)
                                r = reins_error_errno(err, -r, "running git");
                        else if (status != 0)
                                r = gc_git_failed(err, "listing the session's commits", status,
                                                  &log);
                        else if (gc_parse_log(&log, out) < 0)
                                r = reins_error_set(err, ENOMEM, "out of memory");
                        if (log.cut || s.tips.cut)
                                out->more = true;
                        free(log.data);
                }
                free(args);
        }
        gc_repo_free(&repo);
        gc_session_free(&s);
        if (r < 0)
                workspace_git_commits_free(out);
        return r;
}

int workspace_git_land(const struct workspace_session *session, const char *branch, char head[65],
                       struct reins_error *err)
{
        head[0] = '\0';
        struct gc_session s;
        int r = gc_session_read(session, &s);
        if (r < 0) {
                gc_session_free(&s);
                return reins_error_errno(err, -r, "session %s", session->id);
        }
        if (s.host_git < 0) {
                gc_session_free(&s);
                return reins_error_set(err, ENOENT, "%s is not a git repository", session->lower);
        }
        if (s.upper_git < 0 || !s.head[0]) {
                gc_session_free(&s);
                return reins_error_set(err, ENOENT, "session %s made no commits", session->id);
        }
        memcpy(head, s.head, 65);
        struct gc_repo repo;
        char ref[128];
        snprintf(ref, sizeof(ref), "refs/heads/%s", branch);
        r = gc_repo_make(session, s.upper_git, s.head, &repo, err);
        if (r == 0)
                r = gc_index_packs(&repo, err);
        struct gc_output out = {0};
        int status = 0;
        if (r == 0) {
                /* never over an existing branch */
                char *args[] = {"rev-parse", "--verify", "--quiet", ref, NULL};
                r = gc_git(&repo, NULL, NULL, args, &out, &status);
                free(out.data);
                if (r < 0)
                        r = reins_error_errno(err, -r, "running git");
                else if (status == 0)
                        r = reins_error_set(err, EEXIST,
                                            "branch %s exists already in %s: nothing landed",
                                            branch, session->lower);
                else if (status == 127)
                        r = gc_git_failed(err, "landing the commits", status, &out);
        }
        if (r == 0) {
                char refspec[192];
                snprintf(refspec, sizeof(refspec), "refs/heads/session:%s", ref);
                char *args[] = {"fetch",
                                "--quiet",
                                "--no-tags",
                                "--no-write-fetch-head",
                                "--no-recurse-submodules",
                                repo.dir,
                                refspec,
                                NULL};
                r = gc_git(&repo, NULL, NULL, args, &out, &status);
                if (r < 0)
                        r = reins_error_errno(err, -r, "running git");
                else if (status != 0)
                        r = gc_git_failed(err, "landing the commits", status, &out);
                free(out.data);
        }
        if (r == 0) {
                char *args[] = {"rev-parse", "--verify", "--quiet", ref, NULL};
                r = gc_git(&repo, NULL, NULL, args, &out, &status);
                char got[65];
                if (r < 0)
                        r = reins_error_errno(err, -r, "running git");
                else if (status != 0 || !out.data || !gc_take_hash(out.data, got) ||
                         strcmp(got, head) != 0)
                        r = reins_error_set(err, EIO,
                                            "branch %s does not point at %s after the "
                                            "fetch",
                                            branch, head);
                free(out.data);
        }
        gc_repo_free(&repo);
        gc_session_free(&s);
        return r;
}
