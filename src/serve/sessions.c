/* The daemon's view of sessions (serve/sessions.h). */
#include "serve/sessions.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit/runtime.h"
#include "govern/risk.h"
#include "policy/policy.h"
#include "serve/record.h"
#include "util/cleanup.h"
#include "util/path.h"

int serve_user_registry(uid_t uid, char **dir)
{
        char candidates[2][64];
        snprintf(candidates[0], sizeof(candidates[0]), "/run/user/%u/reins", (unsigned)uid);
        snprintf(candidates[1], sizeof(candidates[1]), "/tmp/reins-%u", (unsigned)uid);
        for (size_t i = 0; i < 2; i++) {
                struct stat st;
                /* only a directory of that user's, private: another user
                 * could have made /tmp/reins-UID to plant entries */
                if (lstat(candidates[i], &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == uid &&
                    (st.st_mode & 077) == 0) {
                        *dir = strdup(candidates[i]);
                        return *dir ? 0 : -ENOMEM;
                }
        }
        return -ENOENT;
}

/* Is the session's supervisor `pid` (started at `ticks`) running? One read
 * of /proc/PID/stat answers both questions: is it still that process (the
 * start time; a pid is reused), and has it not ended? A supervisor whose
 * daemon was killed is reaped by init, whenever init gets to it: until then
 * its /proc entry (and start time) still matches, yet it runs nothing. */
static bool sessions_running(pid_t pid, unsigned long long ticks)
{
        char path[64], buffer[1024];
        if (pid <= 0)
                return false;
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        cleanup_fd int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd < 0 ? -1 : read(fd, buffer, sizeof(buffer) - 1);
        if (n <= 0)
                return false;
        buffer[n] = '\0';
        /* the command name may hold spaces and ')': fields follow the last
         * ')', field 3 (the state) first, field 22 (the start time) */
        const char *p = strrchr(buffer, ')');
        if (!p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X')
                return false;
        for (int field = 2; field < 22; field++)
                if (!(p = strchr(p + 1, ' ')))
                        return false;
        return strtoull(p + 1, NULL, 10) == ticks;
}

/* Is `pid` (started at `ticks`) a child this daemon forked and has not
 * reaped? Then no other process can have its pid, and waitid() with WNOWAIT
 * (nothing is reaped: the reaper records the status) says in one call
 * whether it has ended. 1: running, 0: ended, -1: not a child of ours. The
 * caller holds children_lock. */
static int sessions_child_running(struct serve *serve, pid_t pid, unsigned long long ticks)
{
        for (size_t i = 0; i < serve->child_count; i++) {
                if (serve->children[i].pid != pid)
                        continue;
                if (serve->children[i].start_ticks != ticks)
                        return 0; /* an entry of an earlier process with that pid */
                siginfo_t info = {0};
                return waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
                       info.si_pid == 0;
        }
        return -1;
}

/* Set "alive" from the process itself: a registry entry may outlive its
 * supervisor (killed with -9), a record always does. The caller holds
 * children_lock. */
static bool sessions_set_alive(struct serve *serve, json_t *entry)
{
        pid_t pid = (pid_t)json_integer_value(json_object_get(entry, "pid"));
        unsigned long long ticks =
            (unsigned long long)json_integer_value(json_object_get(entry, "pid_start"));
        int child = pid > 0 ? sessions_child_running(serve, pid, ticks) : 0;
        bool alive = child >= 0 ? child == 1 : sessions_running(pid, ticks);
        json_object_set_new(entry, "alive", json_boolean(alive));
        return alive;
}

/* ---- files read once, kept while unchanged ---------------------------------
 * A listing of N sessions reads N registry entries and N records. Both kinds
 * of file are replaced whole by rename (or linked in from O_TMPFILE), never
 * rewritten in place: while a name has the inode, size and times it had when
 * it was parsed, the parse still holds, and one fstatat() replaces an open,
 * reads, a close and a JSON parse. Callers get a copy of the top level:
 * they set and remove keys there ("alive", "serve", the decayed risk); the
 * values inside are shared and never changed (jansson counts references
 * atomically, and dumps without marking what it visits). */

/* Identify the file `name` in `dirfd` as it is now; false when it is not a
 * regular file (of `owner`, when `owner` is not -1). */
static bool sessions_stamp(int dirfd, const char *name, uid_t owner, char *stamp, size_t size)
{
        struct stat st;
        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
            (owner != (uid_t)-1 && st.st_uid != owner))
                return false;
        snprintf(stamp, size, "%llu:%llu:%lld:%lld.%ld:%lld.%ld", (unsigned long long)st.st_dev,
                 (unsigned long long)st.st_ino, (long long)st.st_size, (long long)st.st_mtim.tv_sec,
                 st.st_mtim.tv_nsec, (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
        return true;
}

typedef json_t *(*sessions_reader)(int dirfd, const char *name, uid_t owner, const void *ctx);

/* The parsed file `key` (a path), from serve->files when unchanged, else
 * through `read`; remembered in `seen` (the cache the caller keeps). The
 * caller holds files_lock. A copy of its top level when `copy` (the caller
 * changes it), else the parse itself, read-only; NULL when unreadable. */
static json_t *sessions_file(struct serve *serve, json_t *seen, const char *key, int dirfd,
                             const char *name, uid_t owner, sessions_reader read, const void *ctx,
                             bool copy)
{
        char stamp[160];
        if (!sessions_stamp(dirfd, name, owner, stamp, sizeof(stamp)))
                return NULL;
        json_t *kept = json_object_get(serve->files, key);
        json_t *doc = json_object_get(kept, "doc");
        const char *kept_stamp = json_string_value(json_object_get(kept, "stamp"));
        if (!doc || !kept_stamp || strcmp(kept_stamp, stamp) != 0) {
                /* read now: a file replaced since the stamp gets a stamp
                 * that differs next time, and is read again then */
                json_auto_t *fresh = read(dirfd, name, owner, ctx);
                if (!fresh)
                        return NULL;
                kept = json_pack("{s:s, s:O}", "stamp", stamp, "doc", fresh);
                if (!kept)
                        return NULL;
                doc = json_object_get(kept, "doc");
                json_object_set_new(seen, key, kept);
        } else if (seen != serve->files) {
                json_object_set(seen, key, kept);
        }
        return copy ? json_copy(doc) : json_incref(doc);
}

static json_t *sessions_read_registry(int dirfd, const char *name, uid_t owner, const void *ctx)
{
        (void)ctx;
        return runtime_read_entry_of(dirfd, name, owner);
}

static json_t *sessions_read_record(int dirfd, const char *name, uid_t owner, const void *ctx)
{
        (void)dirfd;
        (void)name;
        (void)owner;
        const struct serve *serve = ctx;
        /* name: ID/record.json */
        char id[25];
        snprintf(id, sizeof(id), "%.24s", name);
        return serve_record_read(serve->sessions_dir, id);
}

/* The entry `name` of the registry `dir` (of `owner`). */
static json_t *sessions_registry_file(struct serve *serve, json_t *seen, const char *dir, int dirfd,
                                      const char *name, uid_t owner)
{
        cleanup_free char *key = path_join(dir, name);
        return key ? sessions_file(serve, seen, key, dirfd, name, owner, sessions_read_registry,
                                   NULL, true)
                   : NULL;
}

/* The record of session `id` (the name of its directory, checked):
 * read-only, a listing only reads records. */
static json_t *sessions_record_file(struct serve *serve, json_t *seen, int dirfd, const char *id)
{
        if (strspn(id, "0123456789abcdef") != 24 || id[24])
                return NULL;
        char name[64];
        snprintf(name, sizeof(name), "%s/record.json", id);
        cleanup_free char *key = path_join(serve->sessions_dir, name);
        return key ? sessions_file(serve, seen, key, dirfd, name, (uid_t)-1, sessions_read_record,
                                   serve, false)
                   : NULL;
}

/* The registry entry of `session` in the registry `dir` of `uid`. */
static json_t *sessions_read_entry(struct serve *serve, json_t *seen, const char *dir,
                                   const char *session, uid_t uid)
{
        char name[96];
        snprintf(name, sizeof(name), "%s.json", session);
        cleanup_fd int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        return dirfd < 0 ? NULL : sessions_registry_file(serve, seen, dir, dirfd, name, uid);
}

/* A session that is not (or no longer, or not yet) in a registry the daemon
 * can read: what its record says. */
static json_t *sessions_from_record(const json_t *record)
{
        return json_pack(
            "{s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:s}", "session",
            json_object_get(record, "session"), "pid", json_object_get(record, "pid"), "pid_start",
            json_object_get(record, "pid_start"), "uid", json_object_get(record, "uid"), "policy",
            json_object_get(record, "policy"), "command", json_object_get(record, "command"),
            "workspace", json_object_get(record, "workspace"), "started",
            json_object_get(record, "created"), "agent", "");
}

/* The part of an entry only the daemon knows. The exit status is the one
 * its reaper recorded, else (a session that ended while another daemon, or
 * none, ran) the one the session's own trail recorded. */
static json_t *sessions_serve_part(const json_t *record, bool alive)
{
        json_t *status = json_object_get(record, "exit_status");
        json_t *found = NULL;
        const char *trail = json_string_value(json_object_get(record, "trail"));
        int code;
        if (!json_is_integer(status) && trail && !alive &&
            serve_record_trail_status(
                trail, (uid_t)json_integer_value(json_object_get(record, "uid")), &code) == 0)
                status = found = json_integer(code);
        json_t *part =
            json_pack("{s:O?, s:O?, s:O?}", "by_uid", json_object_get(record, "by_uid"), "policy",
                      json_object_get(record, "policy"), "exit_status", status);
        /* from the warm pool (serve/pool.h) */
        if (part && json_is_true(json_object_get(record, "pool")))
                json_object_set_new(part, "pool", json_true());
        /* the agent the daemon checked the start against, when it did */
        if (part && json_is_string(json_object_get(record, "agent")))
                json_object_set(part, "agent", json_object_get(record, "agent"));
        json_decref(found);
        return part;
}

static int sessions_compare(const void *a, const void *b, const char *key)
{
        const char *x = json_string_value(json_object_get(*(json_t *const *)a, key));
        const char *y = json_string_value(json_object_get(*(json_t *const *)b, key));
        return strcmp(x ? x : "", y ? y : "");
}

static int sessions_compare_started(const void *a, const void *b)
{
        return sessions_compare(a, b, "started");
}

static int sessions_compare_created(const void *a, const void *b)
{
        return sessions_compare(a, b, "created");
}

/* Every "*.json" of the daemon's own registry. */
static int sessions_own_registry(struct serve *serve, json_t *seen, json_t *list,
                                 struct reins_error *err)
{
        cleanup_free char *dir = NULL;
        int r = runtime_dir(&dir, err);
        if (r < 0)
                return r;
        cleanup_closedir DIR *d = opendir(dir);
        if (!d)
                return reins_error_errno(err, errno, "reading %s", dir);
        struct dirent *de;
        while ((de = readdir(d))) {
                size_t length = strlen(de->d_name);
                if (de->d_name[0] == '.' || length <= 5 ||
                    strcmp(de->d_name + length - 5, ".json") != 0)
                        continue;
                json_t *entry =
                    sessions_registry_file(serve, seen, dir, dirfd(d), de->d_name, serve->uid);
                if (entry && json_array_append_new(list, entry) < 0)
                        return reins_error_set(err, ENOMEM, "out of memory");
        }
        return 0;
}

/* Every record of the daemon's, appended to `records`. */
static int sessions_records(struct serve *serve, json_t *seen, json_t *records,
                            struct reins_error *err)
{
        cleanup_closedir DIR *d = opendir(serve->sessions_dir);
        if (!d)
                return reins_error_errno(err, errno, "reading %s", serve->sessions_dir);
        struct dirent *de;
        while ((de = readdir(d))) {
                json_t *record = sessions_record_file(serve, seen, dirfd(d), de->d_name);
                if (record && json_array_append_new(records, record) < 0)
                        return reins_error_set(err, ENOMEM, "out of memory");
        }
        return 0;
}

/* Sort a JSON array in place. */
static int sessions_sort(json_t *array, int (*compare)(const void *, const void *))
{
        size_t n = json_array_size(array);
        json_t **items = calloc(n ? n : 1, sizeof(*items));
        if (!items)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                items[i] = json_incref(json_array_get(array, i));
        qsort(items, n, sizeof(*items), compare);
        json_array_clear(array);
        for (size_t i = 0; i < n; i++)
                json_array_append_new(array, items[i]);
        free(items);
        return 0;
}

/* The files of a listing, with files_lock held (what serve->files becomes
 * is `seen`): the daemon's registry, oldest first, into `list`; the
 * records, oldest first, into `records`; the entries of sessions in other
 * users' registries appended to `list`; every entry in `by_id`. */
static int sessions_gather(struct serve *serve, json_t *seen, json_t *list, json_t *records,
                           json_t *by_id, struct reins_error *err)
{
        int r = sessions_own_registry(serve, seen, list, err);
        if (r < 0 || (r = sessions_records(serve, seen, records, err)) < 0)
                return r;
        if (sessions_sort(list, sessions_compare_started) < 0 ||
            sessions_sort(records, sessions_compare_created) < 0)
                return reins_error_set(err, ENOMEM, "out of memory");
        size_t i;
        json_t *entry, *record;
        json_array_foreach(list, i, entry)
        {
                const char *id = json_string_value(json_object_get(entry, "session"));
                if (id)
                        json_object_set(by_id, id, entry);
        }
        json_array_foreach(records, i, record)
        {
                const char *id = json_string_value(json_object_get(record, "session"));
                uid_t uid = (uid_t)json_integer_value(json_object_get(record, "uid"));
                cleanup_free char *dir = NULL;
                if (!id || json_object_get(by_id, id) || uid == serve->uid ||
                    serve_user_registry(uid, &dir) < 0)
                        continue;
                entry = sessions_read_entry(serve, seen, dir, id, uid);
                if (entry && (json_array_append_new(list, entry) < 0 ||
                              json_object_set(by_id, id, entry) < 0))
                        return reins_error_set(err, ENOMEM, "out of memory");
        }
        return 0;
}

/* The listing from its files: sessions known only by their record, whether
 * each runs, what the daemon knows of it, the risk score decayed to now. */
static int sessions_join(struct serve *serve, json_t *list, const json_t *records, json_t *by_id,
                         struct reins_error *err)
{
        size_t i;
        json_t *entry, *record;
        json_array_foreach(records, i, record)
        {
                const char *id = json_string_value(json_object_get(record, "session"));
                if (!id || json_object_get(by_id, id))
                        continue;
                entry = sessions_from_record(record);
                if (!entry || json_array_append_new(list, entry) < 0 ||
                    json_object_set(by_id, id, entry) < 0)
                        return reins_error_set(err, ENOMEM, "out of memory");
        }
        /* one lock for all: the reaper waits a moment, no listing waits
         * for a start (which takes it only to record its child) */
        pthread_mutex_lock(&serve->children_lock);
        json_array_foreach(list, i, entry)
        {
                sessions_set_alive(serve, entry);
        }
        pthread_mutex_unlock(&serve->children_lock);
        json_array_foreach(records, i, record)
        {
                const char *id = json_string_value(json_object_get(record, "session"));
                entry = id ? json_object_get(by_id, id) : NULL;
                if (entry)
                        json_object_set_new(
                            entry, "serve",
                            sessions_serve_part(record,
                                                json_is_true(json_object_get(entry, "alive"))));
        }
        json_array_foreach(list, i, entry)
        {
                risk_entry_decay_to_now(entry);
        }
        return 0;
}

int serve_sessions_collect(struct serve *serve, json_t **sessions, struct reins_error *err)
{
        json_t *list = json_array();
        json_t *seen = json_object();
        json_auto_t *records = json_array();
        json_auto_t *by_id = json_object();
        if (!list || !seen || !records || !by_id) {
                json_decref(list);
                json_decref(seen);
                return reins_error_set(err, ENOMEM, "out of memory");
        }
        /* files_lock covers the files only: the rest works on copies */
        pthread_mutex_lock(&serve->files_lock);
        int r = sessions_gather(serve, seen, list, records, by_id, err);
        if (r == 0) {
                /* what was not seen now (a session gone) is forgotten */
                json_decref(serve->files);
                serve->files = seen;
                seen = NULL;
        }
        pthread_mutex_unlock(&serve->files_lock);
        json_decref(seen);
        if (r == 0)
                r = sessions_join(serve, list, records, by_id, err);
        if (r < 0) {
                json_decref(list);
                return r;
        }
        *sessions = list;
        return 0;
}

/* One session's registry entry, by its exact id: the daemon's own
 * registry, or that of the user its record names. */
static json_t *sessions_entry(struct serve *serve, const char *id, const json_t *record)
{
        uid_t uid = record ? (uid_t)json_integer_value(json_object_get(record, "uid")) : serve->uid;
        cleanup_free char *dir = NULL;
        if (uid != serve->uid ? serve_user_registry(uid, &dir) < 0 : runtime_dir(&dir, NULL) < 0)
                return NULL;
        /* only its file: a call about one session costs the same beside one
         * or a thousand others */
        json_t *entry = sessions_read_entry(serve, serve->files, dir, id, uid);
        const char *found = json_string_value(json_object_get(entry, "session"));
        if (entry && (!found || strcmp(found, id) != 0)) {
                json_decref(entry);
                return NULL;
        }
        return entry;
}

int serve_sessions_find(struct serve *serve, const char *id, json_t **entry,
                        struct reins_error *err)
{
        if (strspn(id, "0123456789abcdef") != 24 || id[24])
                return reins_error_set(err, ENOENT, "no session %s", id);
        json_auto_t *record = serve_record_read(serve->sessions_dir, id);
        pthread_mutex_lock(&serve->files_lock);
        if (!serve->files)
                serve->files = json_object();
        json_t *found = serve->files ? sessions_entry(serve, id, record) : NULL;
        pthread_mutex_unlock(&serve->files_lock);
        if (!found && record)
                found = sessions_from_record(record);
        if (!found)
                return reins_error_set(err, ENOENT, "no session %s", id);
        pthread_mutex_lock(&serve->children_lock);
        bool alive = sessions_set_alive(serve, found);
        pthread_mutex_unlock(&serve->children_lock);
        if (record)
                json_object_set_new(found, "serve", sessions_serve_part(record, alive));
        risk_entry_decay_to_now(found);
        *entry = found;
        return 0;
}

const char *serve_session_policy(const json_t *entry)
{
        const char *started_as =
            json_string_value(json_object_get(json_object_get(entry, "serve"), "policy"));
        return started_as ? started_as : json_string_value(json_object_get(entry, "policy"));
}

int serve_policy_agent(const char *policy, char **agent, struct reins_error *err)
{
        cleanup_free char *rooted = NULL;
        /* the supervisor starts in "/": a relative name that is no preset is
         * a file there, not in the daemon's working directory */
        if (policy[0] != '/' && !policy_preset_text(policy) && asprintf(&rooted, "/%s", policy) < 0)
                return reins_error_set(err, ENOMEM, "out of memory");
        struct reins_policy *loaded = NULL;
        int r = policy_load(rooted ? rooted : policy, &loaded, err);
        if (r < 0)
                return r;
        *agent = strdup(loaded->agent ? loaded->agent : "");
        policy_free(loaded);
        return *agent ? 0 : reins_error_set(err, ENOMEM, "out of memory");
}

const char *serve_session_agent(const json_t *entry)
{
        json_t *serve_part = json_object_get(entry, "serve");
        const char *agent = json_object_get(serve_part, "agent")
                                ? json_string_value(json_object_get(serve_part, "agent"))
                                : json_string_value(json_object_get(entry, "agent"));
        return agent && agent[0] ? agent : NULL;
}

int serve_session_registry(struct serve *serve, const json_t *entry, char **dir,
                           struct reins_error *err)
{
        uid_t uid = (uid_t)json_integer_value(json_object_get(entry, "uid"));
        if (uid == serve->uid)
                return runtime_dir(dir, err);
        int r = serve_user_registry(uid, dir);
        return r < 0 ? reins_error_set(err, -r, "the registry of uid %u cannot be found",
                                       (unsigned)uid)
                     : 0;
}
