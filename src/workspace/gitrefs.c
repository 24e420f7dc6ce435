/* The refs a session's copy changed, read from the agent's .git (see
 * gitcommits.h): small bounded reads through fds, hashes and ref names
 * checked before use. */
#include "workspace/gitcommits_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/walk.h"
#include "workspace/fsops.h"

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

bool ws_gc_has_suffix(const char *s, const char *suffix)
{
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && strcmp(s + a - b, suffix) == 0;
}

bool ws_gc_is_hex(const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

/* A full object name at the start of s (40 or 64 hex digits, then the end
 * of a word): copied into out. */
bool ws_gc_take_hash(const char *s, char out[65])
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
                if (!ws_gc_take_hash(line, hash))
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
            ws_gc_take_hash(buf, out))
                return true;
        if (upper_git >= 0 && gc_packed_lookup(upper_git, true, name, out))
                return true;
        if (gc_read_small(host_git, name, false, buf, sizeof(buf)) > 0 && ws_gc_take_hash(buf, out))
                return true;
        return gc_packed_lookup(host_git, false, name, out);
}

/* ---- the refs the copy changed ------------------------------------------------ */

static void gc_tip_add(struct ws_gc_tips *tips, const char *hash)
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
        struct ws_gc_tips *tips = context;
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
            gc_read_small(e->dirfd, e->name, true, buf, sizeof(buf)) > 0 &&
            ws_gc_take_hash(buf, hash))
                gc_tip_add(tips, hash);
        return WALK_NEXT;
}

/* Every ref file below the copy's refs/ (never a symlink, bounded in depth
 * and count; what cannot be read is passed over). */
static void gc_walk_refs(int dir, struct ws_gc_tips *tips)
{
        struct walk_options options = {.visit = gc_refs_visit, .context = tips, .max_depth = 16};
        walk_tree(dir, &options, NULL);
}

static void gc_packed_tips(int upper_git, struct ws_gc_tips *tips)
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
                if (ws_gc_take_hash(line, hash))
                        gc_tip_add(tips, hash);
        }
}

/* ---- the session's refs ------------------------------------------------------------ */

void ws_gc_session_free(struct ws_gc_session *s)
{
        if (s->upper_git >= 0)
                close(s->upper_git);
        if (s->host_git >= 0)
                close(s->host_git);
        free(s->head_ref);
        strv_free(&s->tips.hashes);
}

int ws_gc_session_read(const struct workspace_session *session, struct ws_gc_session *s)
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
        } else if (!ws_gc_take_hash(buf, s->head)) {
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
