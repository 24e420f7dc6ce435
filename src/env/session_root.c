/* A session's view of a cached environment: the mapped user in its
 * /etc/passwd and /etc/group, and with `writable: session` a private
 * directory for the copy-on-write layers over it.
 *
 * The environment's own files are never written: the user's passwd line
 * goes to a file of its own beside the entry (entries/KEY/passwd.UID,
 * made once, renamed into place), bound over /etc/passwd by the plan. */
#include "env/env.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/plan.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/path.h"
#include "workspace/fsops.h"

#define ENV_ACCOUNTS_MAX (1u << 20)

/* The image's file without the lines for `name` or `id` (third field),
 * then `own`. The image's bytes are its author's: bounded, no link. */
static int env_write_accounts(const char *rootfs, const char *file, const char *dest,
                              const char *name, unsigned id, const char *own)
{
        struct stat st;
        if (lstat(dest, &st) == 0)
                return 0; /* made by an earlier session */
        cleanup_fd int root = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
        cleanup_fd int in = root < 0 ? -1 : ws_open_beneath(root, file, O_RDONLY | O_CLOEXEC, 0);
        if (in < 0)
                return -ENOENT; /* none in the image: nothing to bind over */
        cleanup_free char *data = NULL;
        size_t len = 0;
        bool truncated = false;
        int r = fileio_read_fd(in, ENV_ACCOUNTS_MAX, &data, &len, &truncated);
        if (r < 0)
                return r;
        if (truncated)
                return -EFBIG;
        cleanup_free char *out = malloc(len + strlen(own) + 2);
        if (!out)
                return -ENOMEM;
        size_t used = 0, start = 0, name_len = strlen(name);
        char id_text[16];
        snprintf(id_text, sizeof(id_text), "%u", id);
        while (start < len) {
                char *nl = memchr(data + start, '\n', len - start);
                size_t end = nl ? (size_t)(nl - data) : len;
                const char *line = data + start;
                size_t line_len = end - start;
                bool same_name = line_len > name_len && memcmp(line, name, name_len) == 0 &&
                                 line[name_len] == ':';
                /* the third field: the uid (passwd) or gid (group) */
                const char *field = line;
                for (int k = 0; k < 2 && field; k++) {
                        field = memchr(field, ':', line_len - (size_t)(field - line));
                        field = field ? field + 1 : NULL;
                }
                bool same_id = field && strncmp(field, id_text, strlen(id_text)) == 0 &&
                               (size_t)(field - line) + strlen(id_text) < line_len &&
                               field[strlen(id_text)] == ':';
                if (!same_name && !same_id && line_len) {
                        memcpy(out + used, line, line_len);
                        used += line_len;
                        out[used++] = '\n';
                }
                start = end + 1;
        }
        memcpy(out + used, own, strlen(own));
        used += strlen(own);
        cleanup_free char *tmp = NULL;
        if (asprintf(&tmp, "%s.%d.tmp", dest, (int)getpid()) < 0)
                return -ENOMEM;
        cleanup_fd int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        r = fileio_write_all(fd, out, used);
        if (r == 0 && rename(tmp, dest) < 0)
                r = -errno;
        if (r < 0)
                unlink(tmp);
        return r;
}

static int env_prepare_accounts(const struct env_entry *entry, struct env_session *out)
{
        uid_t uid = geteuid();
        gid_t gid = getegid();
        struct passwd *pw = getpwuid(uid);
        struct group *gr = getgrgid(gid);
        const char *name = pw ? pw->pw_name : "user";
        const char *group = gr ? gr->gr_name : name;
        const char *home = getenv("HOME");
        if (!home || home[0] != '/')
                home = pw && pw->pw_dir[0] == '/' ? pw->pw_dir : "/";
        /* names and homes go into a colon-separated file */
        if (strpbrk(name, ":\n") || strpbrk(group, ":\n") || strpbrk(home, ":\n"))
                return -EINVAL;
        cleanup_free char *passwd_line = NULL, *group_line = NULL;
        if (asprintf(&passwd_line, "%s:x:%u:%u:%s:%s:/bin/sh\n", name, (unsigned)uid, (unsigned)gid,
                     name, home) < 0 ||
            asprintf(&group_line, "%s:x:%u:\n", group, (unsigned)gid) < 0 ||
            asprintf(&out->passwd, "%s/passwd.%u", entry->dir, (unsigned)uid) < 0 ||
            asprintf(&out->group, "%s/group.%u", entry->dir, (unsigned)gid) < 0)
                return -ENOMEM;
        int r =
            env_write_accounts(entry->rootfs, "etc/passwd", out->passwd, name, uid, passwd_line);
        if (r == -ENOENT) {
                free(out->passwd);
                out->passwd = NULL;
        } else if (r < 0) {
                return r;
        }
        r = env_write_accounts(entry->rootfs, "etc/group", out->group, group, gid, group_line);
        if (r == -ENOENT) {
                free(out->group);
                out->group = NULL;
                r = 0;
        }
        return r;
}

/* writable: session: CACHE/sessions/PID.ID/NAME/{upper,work} for each
 * top-level directory the plan lays over the environment. */
static int env_prepare_layers(const char *cache, const struct env_entry *entry,
                              const char *session_id, struct env_session *out)
{
        if (asprintf(&out->upper, "%s/sessions/%d.%s", cache, (int)getpid(), session_id) < 0)
                return -ENOMEM;
        if (mkdir(out->upper, 0700) < 0)
                return -errno;
        cleanup_closedir DIR *d = opendir(entry->rootfs);
        if (!d)
                return -errno;
        struct dirent *e;
        while ((e = readdir(d))) {
                struct stat st;
                if (!plan_environment_uses(e->d_name) ||
                    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    !S_ISDIR(st.st_mode))
                        continue;
                cleanup_free char *base = path_join(out->upper, e->d_name);
                cleanup_free char *upper = base ? path_join(base, "upper") : NULL;
                cleanup_free char *work = base ? path_join(base, "work") : NULL;
                if (!upper || !work)
                        return -ENOMEM;
                if (mkdir(base, 0700) < 0 || mkdir(upper, 0755) < 0 || mkdir(work, 0700) < 0)
                        return -errno;
        }
        return 0;
}

int env_session_prepare(const char *cache, const struct env_entry *entry, bool writable,
                        const char *session_id, struct env_session *out, struct reins_error *err)
{
        memset(out, 0, sizeof(*out));
        memcpy(out->key, entry->key, sizeof(out->key));
        if (!(out->rootfs = strdup(entry->rootfs)))
                return reins_error_set(err, ENOMEM, "out of memory");
        int r = env_prepare_accounts(entry, out);
        if (r < 0) {
                env_session_release(out);
                return reins_error_errno(err, -r, "environment %.12s: the user's passwd entry",
                                         entry->key);
        }
        if (writable && (r = env_prepare_layers(cache, entry, session_id, out)) < 0) {
                env_session_release(out);
                return reins_error_errno(err, -r, "environment %.12s: the session's writable layer",
                                         entry->key);
        }
        return 0;
}

void env_session_release_layer(struct env_session *s)
{
        if (s->upper && !s->upper_kept) {
                char *slash = strrchr(s->upper, '/');
                *slash = '\0';
                cleanup_fd int dirfd = open(s->upper, O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (dirfd >= 0)
                        ws_remove_tree_at(dirfd, slash + 1);
        }
        free(s->upper);
        s->upper = NULL;
        s->upper_kept = false;
}

void env_session_release(struct env_session *s)
{
        env_session_release_layer(s);
        free(s->rootfs);
        free(s->passwd);
        free(s->group);
        memset(s, 0, sizeof(*s));
}
