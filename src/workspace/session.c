/* Session state on disk: ID/{upper,work,meta.json} under the private state
 * directory. meta.json is only ever replaced whole (temp file + rename) under
 * an flock on the session directory, so a reader sees the old or the new
 * record, and `reins apply` marking "applied" cannot lose the supervisor's
 * "finished" written at the same moment. */
#include "workspace/session.h"

#include "audit/dirs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/bytes_json.h"
#include "util/path.h"
#include "util/fileio.h"
#include "workspace/fsops.h"

#define WORKSPACE_ID_LENGTH 24

static bool workspace_id_is_valid(const char *id, bool prefix)
{
        size_t n = strlen(id);
        if (n == 0 || n > WORKSPACE_ID_LENGTH || (!prefix && n != WORKSPACE_ID_LENGTH))
                return false;
        /* hex only: an id never carries '/' or "..", so it cannot name a
         * directory outside the state directory */
        for (size_t i = 0; i < n; i++)
                if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
                        return false;
        return true;
}

/* A directory of ours: created 0700 when missing, then checked. Another
 * user's directory, or one others may write, could let them swap a session's
 * upper dir for their own content before we apply it. */
static int workspace_private_dir(const char *path, bool create, struct reins_error *err)
{
        return audit_dir_check(path, create, AUDIT_DIR_NOT_WRITABLE_BY_OTHERS, err);
}

int workspace_state_dir(char **out, struct reins_error *err)
{
        /* beside the audit trails, in reins' own state directory */
        cleanup_free char *reins = NULL;
        int r = audit_state_dir(&reins, err);
        if (r < 0)
                return r;
        cleanup_free char *dir = path_join(reins, "workspaces");
        if (!dir)
                return reins_error_set(err, ENOMEM, "out of memory");
        if ((r = workspace_private_dir(dir, true, err)) < 0)
                return r;
        *out = steal_ptr(&dir);
        return 0;
}

static int workspace_session_paths(struct workspace_session *s, const char *state, const char *id,
                                   struct reins_error *err)
{
        snprintf(s->id, sizeof(s->id), "%s", id);
        s->dir = path_join(state, id);
        s->upper = s->dir ? path_join(s->dir, "upper") : NULL;
        s->work = s->dir ? path_join(s->dir, "work") : NULL;
        if (!s->upper || !s->work)
                return reins_error_set(err, ENOMEM, "out of memory");
        return 0;
}

/* Replace meta.json whole: a reader (or a SIGKILL) sees old or new, never half. */
static int workspace_meta_write(const struct workspace_session *s, const json_t *meta,
                                struct reins_error *err)
{
        cleanup_free char *tmp = path_join(s->dir, ".meta.json.tmp");
        cleanup_free char *final = path_join(s->dir, "meta.json");
        if (!tmp || !final)
                return reins_error_set(err, ENOMEM, "out of memory");
        cleanup_fd int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return reins_error_errno(err, errno, "writing %s", tmp);
        /* no fsync: the rename alone keeps a SIGKILL from leaving half a
         * record, and start-up (budget: +1 ms for overlay) cannot afford one;
         * one write, not one per token as json_dumpfd does (hundreds) */
        cleanup_free char *text = json_dumps(meta, JSON_INDENT(2) | JSON_SORT_KEYS);
        cleanup_free char *record = NULL;
        if (!text || asprintf(&record, "%s\n", text) < 0)
                return reins_error_set(err, ENOMEM, "out of memory");
        size_t length = strlen(record);
        for (size_t done = 0; done < length;) {
                ssize_t n = write(fd, record + done, length - done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return reins_error_errno(err, n < 0 ? errno : EIO, "writing %s", tmp);
                done += (size_t)n;
        }
        if (rename(tmp, final) < 0)
                return reins_error_errno(err, errno, "renaming %s", tmp);
        return 0;
}

static int workspace_meta_read(const struct workspace_session *s, json_t **out,
                               struct reins_error *err)
{
        cleanup_free char *path = path_join(s->dir, "meta.json");
        if (!path)
                return reins_error_set(err, ENOMEM, "out of memory");
        cleanup_fd int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return reins_error_errno(err, errno, "session %s: %s", s->id, path);
        /* one read (json_loadfd reads a byte per call) */
        cleanup_free char *text = NULL;
        size_t length = 0;
        bool truncated = false;
        int r = fileio_read_fd(fd, 1 << 20, &text, &length, &truncated);
        if (r < 0)
                return reins_error_errno(err, -r, "session %s: %s", s->id, path);
        json_error_t jerr;
        memset(&jerr, 0, sizeof(jerr));
        json_auto_t *meta = truncated ? NULL : json_loadb(text, length, 0, &jerr);
        if (truncated)
                snprintf(jerr.text, sizeof(jerr.text), "larger than 1 MiB");
        if (!meta || !json_is_object(meta))
                return reins_error_set(err, EINVAL, "session %s: %s:%d: %s", s->id, path, jerr.line,
                                       jerr.text);
        *out = steal_ptr(&meta);
        return 0;
}

/* flock on the session directory serializes read-modify-write of meta.json. */
static int workspace_lock(const struct workspace_session *s, struct reins_error *err)
{
        int fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return reins_error_errno(err, errno, "%s", s->dir);
        while (flock(fd, LOCK_EX) < 0) {
                if (errno != EINTR) {
                        int e = errno;
                        close(fd);
                        return reins_error_errno(err, e, "locking %s", s->dir);
                }
        }
        return fd;
}

static json_t *workspace_time_string(time_t t)
{
        struct tm tm;
        char buf[40];
        gmtime_r(&t, &tm);
        strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
        return json_string(buf);
}

int workspace_session_create(const char *id, const char *lower, const json_t *meta,
                             struct workspace_session *out, struct reins_error *err)
{
        memset(out, 0, sizeof(*out));
        if (!workspace_id_is_valid(id, false))
                return reins_error_set(err, EINVAL, "bad session id '%s' (24 hex digits)", id);
        char real[PATH_MAX];
        if (!realpath(lower, real))
                return reins_error_errno(err, errno, "workspace %s", lower);
        struct stat lower_st;
        if (stat(real, &lower_st) < 0 || !S_ISDIR(lower_st.st_mode))
                return reins_error_set(err, ENOTDIR, "workspace %s is not a directory", real);
        cleanup_free char *state = NULL;
        int r = workspace_state_dir(&state, err);
        if (r < 0)
                return r;
        if ((r = workspace_session_paths(out, state, id, err)) < 0)
                return r;
        out->lower = strdup(real);
        if (!out->lower)
                return reins_error_set(err, ENOMEM, "out of memory");
        if (mkdir(out->dir, 0700) < 0)
                return reins_error_errno(err, errno, "creating session %s", out->dir);
        /* The upper dir is the root of the merged view: give it the
         * workspace's own permissions (the session dir above is 0700). */
        if (mkdir(out->upper, 0700) < 0 || chmod(out->upper, lower_st.st_mode & 07777) < 0 ||
            mkdir(out->work, 0700) < 0)
                return reins_error_errno(err, errno, "creating session %s", out->dir);

        /* The start stamp for conflict checks: a host entry whose ctime is at
         * or after it changed since the session started. Fine-grained, so a
         * checkout made just before `reins run` is not taken for a change
         * (a coarse-timestamp filesystem may stamp a change made within one
         * clock tick after this moment a little earlier: that is the blind
         * spot, a few milliseconds wide). */
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        json_t *record = meta && json_is_object(meta) ? json_deep_copy(meta) : json_object();
        if (!record)
                return reins_error_set(err, ENOMEM, "out of memory");
        json_object_set_new(record, "id", json_string(id));
        json_object_set_new(record, "lower", bytes_json_z(out->lower));
        json_object_set_new(record, "created", workspace_time_string(now.tv_sec));
        json_object_set_new(record, "created_ns",
                            json_integer((json_int_t)now.tv_sec * 1000000000LL + now.tv_nsec));
        json_object_set_new(record, "state", json_string("running"));
        json_object_set_new(record, "pid", json_integer(getpid()));
        json_object_set_new(record, "uid", json_integer(geteuid()));
        out->meta = record;
        return workspace_meta_write(out, record, err);
}

static int workspace_find(const char *state, const char *prefix, char found[25],
                          struct reins_error *err)
{
        cleanup_closedir DIR *dir = opendir(state);
        if (!dir)
                return reins_error_errno(err, errno, "%s", state);
        int matches = 0;
        struct dirent *entry;
        size_t plen = strlen(prefix);
        while ((entry = readdir(dir)) != NULL) {
                if (!workspace_id_is_valid(entry->d_name, false) ||
                    strncmp(entry->d_name, prefix, plen) != 0)
                        continue;
                if (matches++ == 0)
                        memcpy(found, entry->d_name, 25); /* 24 hex digits + NUL */
        }
        if (matches == 0)
                return reins_error_set(err, ENOENT, "no workspace session '%s' (see reins ls)",
                                       prefix);
        if (matches > 1)
                return reins_error_set(err, EINVAL,
                                       "session id '%s' is ambiguous (%d sessions start with it)",
                                       prefix, matches);
        return 0;
}

static int workspace_session_open_impl(const char *id, bool need_meta,
                                       struct workspace_session *out, struct reins_error *err)
{
        memset(out, 0, sizeof(*out));
        if (!workspace_id_is_valid(id, true))
                return reins_error_set(err, EINVAL, "bad session id '%s' (hex digits)", id);
        cleanup_free char *state = NULL;
        int r = workspace_state_dir(&state, err);
        if (r < 0)
                return r;
        char full[25];
        if ((r = workspace_find(state, id, full, err)) < 0)
                return r;
        if ((r = workspace_session_paths(out, state, full, err)) < 0)
                return r;
        if ((r = workspace_private_dir(out->dir, false, err)) < 0)
                return r;
        if ((r = workspace_meta_read(out, &out->meta, err)) < 0) {
                if (need_meta)
                        return r;
                /* a half-removed or damaged session can still be discarded */
                out->meta = json_object();
                out->lower = strdup("");
                return out->meta && out->lower ? 0 : reins_error_set(err, ENOMEM, "out of memory");
        }
        const char *lower = json_string_value(json_object_get(out->meta, "lower"));
        if (!lower || lower[0] != '/')
                return reins_error_set(err, EINVAL, "session %s: meta.json has no lower path",
                                       full);
        out->lower = strdup(lower);
        if (!out->lower)
                return reins_error_set(err, ENOMEM, "out of memory");
        return 0;
}

int workspace_session_open(const char *id, struct workspace_session *out, struct reins_error *err)
{
        return workspace_session_open_impl(id, true, out, err);
}

int workspace_session_open_damaged(const char *id, struct workspace_session *out,
                                   struct reins_error *err)
{
        return workspace_session_open_impl(id, false, out, err);
}

int workspace_session_set(struct workspace_session *session, const char *key, json_t *value,
                          struct reins_error *err)
{
        json_auto_t *owned = value; /* ours on every path */
        cleanup_fd int lock = workspace_lock(session, err);
        if (lock < 0)
                return lock;
        json_t *meta = NULL;
        int r = workspace_meta_read(session, &meta, err);
        if (r == 0) {
                json_object_set_new(meta, key, steal_ptr(&owned));
                r = workspace_meta_write(session, meta, err);
                json_decref(session->meta);
                session->meta = meta;
        }
        return r;
}

int workspace_session_mark(const struct workspace_session *session, const char *state, int value,
                           struct reins_error *err)
{
        /* const in the interface; the cached meta is refreshed all the same */
        struct workspace_session *s = (struct workspace_session *)session;
        /* Already so (a fresh session is created "running" with our pid):
         * skip the rewrite, start-up is on a budget. */
        json_t *cur_state = json_object_get(s->meta, "state");
        json_t *cur_pid = json_object_get(s->meta, "pid");
        if (strcmp(state, "running") == 0 && json_is_string(cur_state) &&
            strcmp(json_string_value(cur_state), "running") == 0 && json_is_integer(cur_pid) &&
            json_integer_value(cur_pid) == value)
                return 0;
        int lock = workspace_lock(s, err);
        if (lock < 0)
                return lock;
        json_t *meta = NULL;
        int r = workspace_meta_read(s, &meta, err);
        if (r == 0) {
                struct timespec now;
                clock_gettime(CLOCK_REALTIME, &now);
                json_object_set_new(meta, "state", json_string(state));
                json_object_set_new(meta, "updated", workspace_time_string(now.tv_sec));
                if (strcmp(state, "running") == 0) {
                        json_object_set_new(meta, "pid", json_integer(value));
                        json_object_del(meta, "status");
                } else {
                        json_object_set_new(meta, "status", json_integer(value));
                }
                r = workspace_meta_write(s, meta, err);
                json_decref(s->meta);
                s->meta = meta;
        }
        close(lock);
        return r;
}

int workspace_session_lock(const struct workspace_session *session, struct reins_error *err)
{
        return workspace_lock(session, err);
}

long long workspace_session_started_ns(const struct workspace_session *session)
{
        json_t *v = json_object_get(session->meta, "created_ns");
        return json_is_integer(v) ? (long long)json_integer_value(v) : 0;
}

long long workspace_session_base_ns(const struct workspace_session *session)
{
        long long created = workspace_session_started_ns(session);
        json_t *v = json_object_get(session->meta, "resumed_ns");
        long long resumed = json_is_integer(v) ? (long long)json_integer_value(v) : 0;
        return resumed > created ? resumed : created;
}

bool workspace_session_is_live(const struct workspace_session *session)
{
        const char *state = json_string_value(json_object_get(session->meta, "state"));
        json_t *pid = json_object_get(session->meta, "pid");
        if (!state || strcmp(state, "running") != 0 || !json_is_integer(pid))
                return false;
        json_int_t p = json_integer_value(pid);
        if (p <= 0 || p > INT_MAX)
                return false;
        return kill((pid_t)p, 0) == 0 || errno == EPERM;
}

int workspace_session_list(struct reins_strv *ids, struct reins_error *err)
{
        cleanup_free char *state = NULL;
        int r = workspace_state_dir(&state, err);
        if (r < 0)
                return r;
        cleanup_closedir DIR *dir = opendir(state);
        if (!dir)
                return reins_error_errno(err, errno, "%s", state);
        struct dirent *entry;
        while ((entry = readdir(dir)) != NULL)
                if (workspace_id_is_valid(entry->d_name, false) &&
                    strv_push(ids, entry->d_name) < 0)
                        return reins_error_set(err, ENOMEM, "out of memory");
        for (size_t i = 1; i < ids->count; i++) /* insertion sort: few sessions */
                for (size_t j = i; j > 0 && strcmp(ids->items[j - 1], ids->items[j]) > 0; j--) {
                        char *t = ids->items[j];
                        ids->items[j] = ids->items[j - 1];
                        ids->items[j - 1] = t;
                }
        return 0;
}

int workspace_session_remove(struct workspace_session *session, struct reins_error *err)
{
        cleanup_free char *state = NULL;
        int r = workspace_state_dir(&state, err);
        if (r < 0)
                return r;
        cleanup_fd int fd = open(state, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return reins_error_errno(err, errno, "%s", state);
        /* the copy first, meta.json last: an interrupted discard leaves a
         * session that `reins ls` still shows and discard can finish */
        cleanup_fd int dir =
            openat(fd, session->id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dir >= 0) {
                if ((r = ws_remove_tree_at(dir, "upper")) == 0)
                        r = ws_remove_tree_at(dir, "work");
                if (r < 0)
                        return reins_error_errno(err, -r, "removing %s", session->dir);
        }
        r = ws_remove_tree_at(fd, session->id);
        if (r < 0)
                return reins_error_errno(err, -r, "removing %s", session->dir);
        return 0;
}

void workspace_session_free(struct workspace_session *session)
{
        if (!session)
                return;
        free(session->dir);
        free(session->upper);
        free(session->work);
        free(session->lower);
        json_decref(session->meta);
        memset(session, 0, sizeof(*session));
}
