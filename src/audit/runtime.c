/* The runtime registry: DIR/SESSION.json per running session, written
 * atomically (temp file + rename) so `reins ps` never reads half an entry.
 * Each entry holds the supervisor's pid and its start time in clock ticks:
 * a pid alone may have been reused by an unrelated process by the time
 * `reins stop` signals it. */
#include "audit/runtime.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/clock.h"
#include "audit/dirs.h"
#include "util/cleanup.h"
#include "util/path.h"

#define RUNTIME_SUFFIX ".json"

int runtime_dir(char **out, struct reins_error *err)
{
        /* an inherited XDG_RUNTIME_DIR of another user is not ours to use */
        const char *xdg = audit_xdg_dir("XDG_RUNTIME_DIR");
        char fallback[64];
        cleanup_free char *base = NULL;
        struct stat st;
        snprintf(fallback, sizeof(fallback), "/run/user/%u", (unsigned)geteuid());
        if (xdg && xdg[0] == '/') {
                /* XDG_RUNTIME_DIR must be ours and private (XDG base dir spec) */
                int r = audit_dir_check(xdg, false, AUDIT_DIR_PRIVATE, err);
                if (r < 0)
                        return reins_error_prefix(err, "XDG_RUNTIME_DIR: "), r;
                base = path_join(xdg, "reins");
        } else if (lstat(fallback, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid()) {
                base = path_join(fallback, "reins");
        } else {
                /* /tmp is shared: another user may have created this name
                 * first (CVE-2019-12439 class); audit_dir_check refuses a
                 * directory that is not ours and private */
                snprintf(fallback, sizeof(fallback), "/tmp/reins-%u", (unsigned)geteuid());
                base = strdup(fallback);
        }
        if (!base)
                return reins_error_set(err, ENOMEM, "out of memory");
        if (mkdir(base, 0700) < 0 && errno != EEXIST)
                return reins_error_errno(err, errno, "creating the runtime directory %s", base);
        int r = audit_dir_check(base, false, AUDIT_DIR_PRIVATE, err);
        if (r < 0)
                return reins_error_prefix(err, "runtime directory: "), r;
        *out = steal_ptr(&base);
        return 0;
}

int runtime_pid_start_ticks(pid_t pid, unsigned long long *ticks)
{
        char path[64], buffer[1024];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        cleanup_fd int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n = read(fd, buffer, sizeof(buffer) - 1);
        if (n <= 0)
                return -EIO;
        buffer[n] = '\0';
        /* the command name may hold spaces and ')': fields follow the last ')' */
        char *p = strrchr(buffer, ')');
        if (!p)
                return -EIO;
        /* after ')' come field 3 (state) ... field 22 (starttime) */
        for (int field = 2; field < 22; field++) {
                p = strchr(p + 1, ' ');
                if (!p)
                        return -EIO;
        }
        *ticks = strtoull(p + 1, NULL, 10);
        return 0;
}

bool runtime_pid_matches(pid_t pid, unsigned long long start_ticks)
{
        unsigned long long now;
        return pid > 0 && runtime_pid_start_ticks(pid, &now) == 0 && now == start_ticks;
}

static bool runtime_valid_id(const char *session)
{
        if (!session[0] || strlen(session) > 64)
                return false;
        for (const char *p = session; *p; p++)
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
                      (*p >= 'A' && *p <= 'Z') || *p == '-' || *p == '_'))
                        return false;
        return true;
}

int runtime_register(const char *session, pid_t supervisor, const json_t *info,
                     struct reins_error *err)
{
        if (!runtime_valid_id(session))
                return reins_error_set(err, EINVAL, "invalid session id");
        cleanup_free char *dir = NULL;
        int r = runtime_dir(&dir, err);
        if (r < 0)
                return r;
        unsigned long long ticks = 0;
        if ((r = runtime_pid_start_ticks(supervisor, &ticks)) < 0)
                return reins_error_errno(err, -r, "reading /proc/%d/stat", (int)supervisor);
        json_t *entry = json_is_object(info) ? json_deep_copy(info) : json_object();
        char now[AUDIT_TIME_MAX];
        audit_time_now(now);
        if (!entry || json_object_set_new(entry, "session", json_string(session)) < 0 ||
            json_object_set_new(entry, "pid", json_integer(supervisor)) < 0 ||
            json_object_set_new(entry, "pid_start", json_integer((json_int_t)ticks)) < 0 ||
            json_object_set_new(entry, "uid", json_integer(geteuid())) < 0 ||
            json_object_set_new(entry, "started", json_string(now)) < 0) {
                json_decref(entry);
                return reins_error_set(err, ENOMEM, "out of memory");
        }
        char name[128], tmpname[140];
        snprintf(name, sizeof(name), "%s" RUNTIME_SUFFIX, session);
        snprintf(tmpname, sizeof(tmpname), ".%s.tmp", name);
        cleanup_free char *path = path_join(dir, name);
        cleanup_free char *tmp = path_join(dir, tmpname);
        if (!path || !tmp) {
                json_decref(entry);
                return reins_error_set(err, ENOMEM, "out of memory");
        }
        cleanup_fd int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) {
                json_decref(entry);
                return reins_error_errno(err, errno, "writing %s", tmp);
        }
        r = json_dumpfd(entry, fd, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
        json_decref(entry);
        if (r < 0 || write(fd, "\n", 1) != 1 || rename(tmp, path) < 0) {
                r = reins_error_errno(err, errno ? errno : EIO, "writing %s", path);
                unlink(tmp);
                return r;
        }
        return 0;
}

void runtime_unregister(const char *session)
{
        if (!runtime_valid_id(session))
                return;
        cleanup_free char *dir = NULL;
        if (runtime_dir(&dir, NULL) < 0)
                return;
        char name[128];
        snprintf(name, sizeof(name), "%s" RUNTIME_SUFFIX, session);
        cleanup_free char *path = path_join(dir, name);
        if (path)
                unlink(path);
}

void runtime_forget(const char *session)
{
        runtime_unregister(session);
        if (!runtime_valid_id(session))
                return;
        cleanup_free char *dir = NULL;
        if (runtime_dir(&dir, NULL) < 0)
                return;
        cleanup_fd int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        char name[128];
        snprintf(name, sizeof(name), "%s.sock", session);
        struct stat st;
        /* only a socket of ours: the name is built here, never read from a file */
        if (fd >= 0 && fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISSOCK(st.st_mode) &&
            st.st_uid == geteuid())
                unlinkat(fd, name, 0);
}

static json_t *runtime_read_entry(int dirfd, const char *name)
{
        cleanup_fd int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid())
                return NULL;
        json_t *entry = json_loadfd(fd, 0, NULL);
        if (!json_is_object(entry)) {
                json_decref(entry);
                return NULL;
        }
        pid_t pid = (pid_t)json_integer_value(json_object_get(entry, "pid"));
        unsigned long long ticks =
            (unsigned long long)json_integer_value(json_object_get(entry, "pid_start"));
        json_object_set_new(entry, "alive", json_boolean(runtime_pid_matches(pid, ticks)));
        return entry;
}

static int runtime_compare_started(const void *a, const void *b)
{
        const char *x = json_string_value(json_object_get(*(json_t *const *)a, "started"));
        const char *y = json_string_value(json_object_get(*(json_t *const *)b, "started"));
        return strcmp(x ? x : "", y ? y : "");
}

int runtime_list(json_t **sessions, struct reins_error *err)
{
        cleanup_free char *dir = NULL;
        int r = runtime_dir(&dir, err);
        if (r < 0)
                return r;
        DIR *d = opendir(dir);
        if (!d)
                return reins_error_errno(err, errno, "reading %s", dir);
        json_t *list = json_array();
        struct dirent *de;
        while (list && (de = readdir(d))) {
                size_t length = strlen(de->d_name), suffix = strlen(RUNTIME_SUFFIX);
                if (de->d_name[0] == '.' || length <= suffix ||
                    strcmp(de->d_name + length - suffix, RUNTIME_SUFFIX) != 0)
                        continue;
                json_t *entry = runtime_read_entry(dirfd(d), de->d_name);
                if (entry)
                        json_array_append_new(list, entry);
        }
        closedir(d);
        if (!list)
                return reins_error_set(err, ENOMEM, "out of memory");
        size_t n = json_array_size(list);
        json_t **items = calloc(n ? n : 1, sizeof(*items));
        if (!items) {
                json_decref(list);
                return reins_error_set(err, ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < n; i++)
                items[i] = json_incref(json_array_get(list, i));
        qsort(items, n, sizeof(*items), runtime_compare_started);
        json_array_clear(list);
        for (size_t i = 0; i < n; i++)
                json_array_append_new(list, items[i]);
        free(items);
        *sessions = list;
        return 0;
}

int runtime_find(const char *session, json_t **entry, struct reins_error *err)
{
        json_t *list = NULL;
        int r = runtime_list(&list, err);
        if (r < 0)
                return r;
        json_t *found = NULL;
        size_t i, matches = 0, length = strlen(session);
        json_t *item;
        json_array_foreach(list, i, item)
        {
                const char *id = json_string_value(json_object_get(item, "session"));
                if (!id || length == 0 || strncmp(id, session, length) != 0)
                        continue;
                if (strcmp(id, session) == 0) {
                        found = item;
                        matches = 1;
                        break;
                }
                found = item;
                matches++;
        }
        if (matches == 1)
                *entry = json_incref(found);
        json_decref(list);
        if (matches == 0)
                return reins_error_set(err, ENOENT,
                                       "no running session %s of yours (see 'reins ps')", session);
        if (matches > 1)
                return reins_error_set(err, EEXIST, "session prefix %s is ambiguous", session);
        return 0;
}
