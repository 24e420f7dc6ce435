/* The runtime registry: DIR/SESSION.json per running session, written
 * whole or not at all (an unnamed file linked in) so `reins ps` never reads
 * half an entry.
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
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "audit/clock.h"
#include "audit/dirs.h"
#include "util/fileio.h"
#include "util/cleanup.h"
#include "util/path.h"
#include "util/strv.h"

#define RUNTIME_SUFFIX ".json"
/* in the state directory: the name of the fallback under /tmp */
#define RUNTIME_RECORD    "runtime-dir"
#define RUNTIME_SWEEP_MAX 4096

/* The predictable name under /tmp for users without /run/user/UID. */
static void runtime_tmp_name(char *out, size_t size)
{
        snprintf(out, size, "/tmp/reins-%u", (unsigned)geteuid());
}

/* A directory of ours that nobody else may enter (0700, not a symlink). */
static bool runtime_is_private(const char *path)
{
        struct reins_error ignored = {0};
        return audit_dir_check(path, false, AUDIT_DIR_PRIVATE, &ignored) == 0;
}

/* The fallback's name as recorded in the state directory, when it is one. */
static int runtime_read_record(int state, const char *prefix, char *path, size_t size)
{
        cleanup_fd int fd = openat(state, RUNTIME_RECORD, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid())
                return -ENOENT;
        ssize_t n = read(fd, path, size - 1);
        if (n <= 0)
                return -ENOENT;
        path[n] = '\0';
        path[strcspn(path, "\n")] = '\0';
        size_t len = strlen(prefix);
        /* only a name this code makes: PREFIX + six random characters */
        if (strncmp(path, prefix, len) != 0 || strlen(path) != len + 6 || strchr(path + len, '/'))
                return -EINVAL;
        return runtime_is_private(path) ? 0 : -EPERM;
}

static int runtime_write_record(int state, const char *path)
{
        static const char tmp[] = "." RUNTIME_RECORD ".tmp";
        cleanup_fd int fd =
            openat(state, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        size_t len = strlen(path);
        if (write(fd, path, len) != (ssize_t)len || write(fd, "\n", 1) != 1)
                return -EIO;
        return renameat(state, tmp, state, RUNTIME_RECORD) < 0 ? -errno : 0;
}

/* /tmp/reins-UID is taken (another user made it first: CVE-2019-12439
 * class). Use /tmp/reins-UID-XXXXXX instead: a name nobody can guess, made
 * with mkdtemp (0700, O_EXCL semantics), and recorded in our own state
 * directory so every reins command of ours finds the same one. */
static int runtime_fallback(const char *taken, const char *why_taken, char **out,
                            struct reins_error *err)
{
        struct reins_error why = {0};
        cleanup_free char *state = NULL;
        char prefix[64], path[128];
        snprintf(prefix, sizeof(prefix), "%s-", taken);
        int r = audit_state_dir(&state, &why);
        cleanup_fd int dir =
            r < 0 ? -1 : open(state, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        cleanup_fd int lock = dir < 0 ? -1
                                      : openat(dir, RUNTIME_RECORD ".lock",
                                               O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (r == 0 && (dir < 0 || lock < 0 || flock(lock, LOCK_EX) < 0))
                r = reins_error_errno(&why, errno, "%s", state);
        if (r == 0 && runtime_read_record(dir, prefix, path, sizeof(path)) < 0) {
                snprintf(path, sizeof(path), "%sXXXXXX", prefix);
                if (!mkdtemp(path))
                        r = reins_error_errno(&why, errno, "creating %s", path);
                else if ((r = runtime_write_record(dir, path)) < 0)
                        r = reins_error_errno(&why, -r, "recording %s in %s", path, state);
        }
        if (r < 0)
                return reins_error_set(err, EPERM,
                                       "the runtime directory %s %s, and no private one could be "
                                       "made in its place (%s)",
                                       taken, why_taken, why.message);
        *out = strdup(path);
        return *out ? 0 : reins_error_set(err, ENOMEM, "out of memory");
}

/* /tmp/reins-UID when it is ours (created here when missing); otherwise why
 * not, in `why` (NULL: it is ours but unusable, `err` says how). */
static int runtime_tmp_dir(char **out, const char **why, struct reins_error *err)
{
        char path[64];
        runtime_tmp_name(path, sizeof(path));
        struct stat st;
        *why = NULL;
        if (mkdir(path, 0700) < 0 && errno != EEXIST)
                return reins_error_errno(err, errno, "creating the runtime directory %s", path);
        if (lstat(path, &st) < 0)
                return reins_error_errno(err, errno, "the runtime directory %s", path);
        if (S_ISLNK(st.st_mode))
                *why = "is a symlink";
        else if (!S_ISDIR(st.st_mode))
                *why = "is not a directory";
        else if (st.st_uid != geteuid())
                *why = "belongs to another user";
        if (*why)
                return -EEXIST;
        int r = audit_dir_check(path, false, AUDIT_DIR_PRIVATE, err);
        if (r < 0)
                return r;
        *out = strdup(path);
        return *out ? 0 : reins_error_set(err, ENOMEM, "out of memory");
}

int runtime_dir(char **out, struct reins_error *err)
{
        /* an inherited XDG_RUNTIME_DIR of another user is not ours to use */
        const char *xdg = audit_xdg_dir("XDG_RUNTIME_DIR");
        char run_user[64];
        cleanup_free char *base = NULL;
        struct stat st;
        snprintf(run_user, sizeof(run_user), "/run/user/%u", (unsigned)geteuid());
        if (xdg && xdg[0] == '/') {
                /* XDG_RUNTIME_DIR must be ours and private (XDG base dir spec) */
                int r = audit_dir_check(xdg, false, AUDIT_DIR_PRIVATE, err);
                if (r < 0)
                        return reins_error_prefix(err, "XDG_RUNTIME_DIR"), r;
                base = path_join(xdg, "reins");
        } else if (lstat(run_user, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid()) {
                base = path_join(run_user, "reins");
        } else {
                /* /tmp is shared: another user may have taken the name */
                const char *why = NULL;
                int r = runtime_tmp_dir(out, &why, err);
                if (r == -EEXIST && why) {
                        char taken[64];
                        runtime_tmp_name(taken, sizeof(taken));
                        return runtime_fallback(taken, why, out, err);
                }
                return r;
        }
        if (!base)
                return reins_error_set(err, ENOMEM, "out of memory");
        if (mkdir(base, 0700) < 0 && errno != EEXIST)
                return reins_error_errno(err, errno, "creating the runtime directory %s", base);
        int r = audit_dir_check(base, false, AUDIT_DIR_PRIVATE, err);
        if (r < 0)
                return r;
        *out = steal_ptr(&base);
        return 0;
}

int runtime_hidden_paths(struct reins_strv *out)
{
        char path[96];
        cleanup_free char *current = NULL;
        int r = 0;
        if (runtime_dir(&current, NULL) == 0)
                r = strv_push_unique(out, current);
        /* every place a session of ours may have put its socket, whatever
         * this run's environment says */
        const char *xdg = getenv("XDG_RUNTIME_DIR");
        if (r == 0 && xdg && xdg[0] == '/') {
                cleanup_free char *dir = path_join(xdg, "reins");
                r = dir ? strv_push_unique(out, dir) : -ENOMEM;
        }
        snprintf(path, sizeof(path), "/run/user/%u/reins", (unsigned)geteuid());
        if (r == 0)
                r = strv_push_unique(out, path);
        runtime_tmp_name(path, sizeof(path));
        if (r == 0)
                r = strv_push_unique(out, path);
        /* the fallback by its recorded name, not by a glob: a glob under
         * /tmp would have the plan walk all of /tmp whenever it is bound */
        char prefix[80], fallback[128];
        snprintf(prefix, sizeof(prefix), "%s-", path);
        cleanup_free char *state = NULL;
        cleanup_fd int dir = -1;
        if (r == 0 && audit_state_dir(&state, NULL) == 0 &&
            (dir = open(state, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) >= 0 &&
            runtime_read_record(dir, prefix, fallback, sizeof(fallback)) == 0)
                r = strv_push_unique(out, fallback);
        return r;
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

static bool runtime_valid_id_n(const char *session, size_t len)
{
        if (len == 0 || len > 64)
                return false;
        for (const char *p = session; p < session + len; p++)
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
                      (*p >= 'A' && *p <= 'Z') || *p == '-' || *p == '_'))
                        return false;
        return true;
}

static bool runtime_valid_id(const char *session)
{
        return runtime_valid_id_n(session, strlen(session));
}

/* `text` and a newline. */
static int runtime_write_line(int fd, const char *text)
{
        int r = fileio_write_all(fd, text, strlen(text));
        return r < 0 ? r : fileio_write_all(fd, "\n", 1);
}

/* The entry `name` of the registry `dirfd` holds `text`, all or nothing:
 * written to an unnamed file (O_TMPFILE) then linked in under its name, so
 * a supervisor killed with -9 halfway leaves no half entry and no temporary
 * name behind. Where O_TMPFILE or /proc is missing, and to replace an
 * entry (`replace`: a link cannot), a named temporary file and rename();
 * the sweep removes one its writer left (runtime_sweep_tmp). */
static int runtime_write_entry(int dirfd, const char *name, const char *text, bool replace)
{
        char tmpname[140];
        snprintf(tmpname, sizeof(tmpname), ".%s.tmp", name);
        cleanup_fd int fd =
            replace ? -1 : openat(dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
        if (fd >= 0) {
                int r = runtime_write_line(fd, text);
                if (r < 0)
                        return r;
                char proc[64];
                snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
                if (linkat(AT_FDCWD, proc, dirfd, name, AT_SYMLINK_FOLLOW) == 0)
                        return 0;
                if (errno != ENOENT && errno != EEXIST)
                        return -errno;
        }
        cleanup_fd int tmp =
            openat(dirfd, tmpname, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (tmp < 0)
                return -errno;
        int r = runtime_write_line(tmp, text);
        if (r == 0 && renameat(dirfd, tmpname, dirfd, name) < 0)
                r = -errno;
        if (r < 0)
                unlinkat(dirfd, tmpname, 0);
        return r;
}

struct runtime_entry {
        int dirfd;     /* the registry */
        char name[80]; /* SESSION.json */
        json_t *base;  /* as registered, without the status */
        char *dir;     /* for messages */
};

void runtime_entry_free(struct runtime_entry *e)
{
        if (!e)
                return;
        if (e->dirfd >= 0)
                close(e->dirfd);
        json_decref(e->base);
        free(e->dir);
        free(e);
}

/* Write the entry whole under its name: as registered, with `status`. */
static int runtime_entry_write(struct runtime_entry *e, const json_t *status, bool replace,
                               struct reins_error *err)
{
        char *text = NULL;
        json_t *entry = status ? json_copy(e->base) : json_incref(e->base);
        /* the copy is shallow and jansson's update only adds references */
        if (entry && (!status || json_object_update(entry, (json_t *)status) == 0))
                text = json_dumps(entry, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
        json_decref(entry);
        if (!text)
                return reins_error_set(err, ENOMEM, "out of memory");
        int r = runtime_write_entry(e->dirfd, e->name, text, replace);
        free(text);
        if (r < 0)
                return reins_error_errno(err, -r, "writing %s/%s", e->dir, e->name);
        return 0;
}

int runtime_register(const char *session, pid_t supervisor, const json_t *info,
                     const json_t *status, struct runtime_entry **out, struct reins_error *err)
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
        struct runtime_entry *e = calloc(1, sizeof(*e));
        if (!e)
                return reins_error_set(err, ENOMEM, "out of memory");
        e->dirfd = -1;
        snprintf(e->name, sizeof(e->name), "%s" RUNTIME_SUFFIX, session);
        e->dir = steal_ptr(&dir);
        e->base = json_is_object(info) ? json_deep_copy(info) : json_object();
        char now[AUDIT_TIME_MAX];
        audit_time_now(now);
        json_t *entry = e->base;
        if (!entry || json_object_set_new(entry, "session", json_string(session)) < 0 ||
            json_object_set_new(entry, "pid", json_integer(supervisor)) < 0 ||
            json_object_set_new(entry, "pid_start", json_integer((json_int_t)ticks)) < 0 ||
            json_object_set_new(entry, "uid", json_integer(geteuid())) < 0 ||
            json_object_set_new(entry, "started", json_string(now)) < 0) {
                runtime_entry_free(e);
                return reins_error_set(err, ENOMEM, "out of memory");
        }
        e->dirfd = open(e->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (e->dirfd < 0) {
                r = reins_error_errno(err, errno, "opening %s", e->dir);
                runtime_entry_free(e);
                return r;
        }
        if ((r = runtime_entry_write(e, status, false, err)) < 0 || !out) {
                runtime_entry_free(e);
                return r;
        }
        *out = e;
        return 0;
}

int runtime_update(struct runtime_entry *e, const json_t *status, struct reins_error *err)
{
        return e ? runtime_entry_write(e, status, true, err) : 0;
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

/* The entry and the control socket of `session` in the registry `dirfd`. */
static void runtime_forget_at(int dirfd, const char *session)
{
        char name[128];
        if (!session || !runtime_valid_id(session))
                return;
        snprintf(name, sizeof(name), "%s" RUNTIME_SUFFIX, session);
        unlinkat(dirfd, name, 0);
        snprintf(name, sizeof(name), "%s.sock", session);
        struct stat st;
        /* only a socket of ours: the name is built here, never read from a file */
        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISSOCK(st.st_mode) &&
            st.st_uid == geteuid())
                unlinkat(dirfd, name, 0);
}

void runtime_forget(const char *session)
{
        if (!session || !runtime_valid_id(session))
                return;
        cleanup_free char *dir = NULL;
        if (runtime_dir(&dir, NULL) < 0)
                return;
        cleanup_fd int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0)
                runtime_forget_at(fd, session);
}

/* One entry, read whole (util/fileio.c: one read of a regular file):
 * json_loadfd reads a byte per call, which `reins ps` paid for every entry
 * of every running session. The bound only keeps a damaged file from
 * costing more than a command line's worth of memory. */
#define RUNTIME_ENTRY_MAX (4 << 20)

json_t *runtime_read_entry_of(int dirfd, const char *name, uid_t owner)
{
        /* O_NONBLOCK: a FIFO planted under the name must not hang the reader
         * (a root daemon reads every user's registry) */
        cleanup_fd int fd =
            openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != owner ||
            st.st_size <= 0 || st.st_size > RUNTIME_ENTRY_MAX)
                return NULL;
        cleanup_free char *text = NULL;
        size_t length = 0;
        bool truncated = false;
        if (fileio_read_fd(fd, RUNTIME_ENTRY_MAX, &text, &length, &truncated) < 0 || truncated)
                return NULL;
        json_t *entry = json_loadb(text, length, 0, NULL);
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

static json_t *runtime_read_entry(int dirfd, const char *name)
{
        return runtime_read_entry_of(dirfd, name, geteuid());
}

/* Is `path` bound by a socket of this network namespace (/proc/net/unix)?
 * A socket between its bind and its listen refuses connections, yet is
 * live: it is listed here. Unreadable: assume bound. */
static bool runtime_socket_bound(const char *path)
{
        cleanup_fclose FILE *f = fopen("/proc/net/unix", "re");
        if (!f)
                return true;
        char line[512];
        size_t len = strlen(path);
        while (fgets(line, sizeof(line), f)) {
                size_t n = strcspn(line, "\n");
                line[n] = '\0';
                if (n > len && line[n - len - 1] == ' ' && strcmp(line + n - len, path) == 0)
                        return true;
        }
        return false;
}

/* A socket file nobody listens on (its supervisor was killed with -9 before
 * it registered the session). Both tests must agree: a refused connection
 * (nobody listens, in any namespace) and no bound socket of that name. */
static bool runtime_socket_stale(const char *path)
{
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof(addr.sun_path))
                return false;
        strcpy(addr.sun_path, path);
        cleanup_fd int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 ||
            errno != ECONNREFUSED)
                return false;
        return !runtime_socket_bound(path);
}

static int runtime_compare_names(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One name of the registry: a dead session's entry goes with its socket
 * (when `entries`), a socket no entry names goes when nobody listens. */
static void runtime_sweep_name(int dirfd, const char *dir, const struct reins_strv *names,
                               const char *name, bool entries)
{
        size_t len = strlen(name);
        char session[80];
        if (len > 5 && strcmp(name + len - 5, ".json") == 0 && len - 5 < sizeof(session)) {
                if (!entries)
                        return;
                json_t *entry = runtime_read_entry(dirfd, name);
                if (entry && !json_is_true(json_object_get(entry, "alive")))
                        runtime_forget_at(dirfd,
                                          json_string_value(json_object_get(entry, "session")));
                json_decref(entry);
                return;
        }
        if (len <= 5 || strcmp(name + len - 5, ".sock") != 0 || len - 5 >= sizeof(session) ||
            !runtime_valid_id_n(name, len - 5))
                return;
        /* a registered session: its entry says whether it lives (looked up
         * in the listing, not with a stat per socket) */
        snprintf(session, sizeof(session), "%.*s.json", (int)(len - 5), name);
        const char *key = session;
        if (bsearch(&key, names->items, names->count, sizeof(*names->items), runtime_compare_names))
                return;
        /* not listed: it may have registered since; the socket tests below
         * keep a live one either way */
        struct stat st;
        cleanup_free char *path = path_join(dir, name);
        if (path && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISSOCK(st.st_mode) &&
            st.st_uid == geteuid() && runtime_socket_stale(path))
                unlinkat(dirfd, name, 0);
}

/* A temporary entry `.SESSION.json.tmp` whose writer died between its open
 * and its rename (only where O_TMPFILE is missing): gone once its session's
 * entry is absent or dead and it is older than a start-up could take. */
#define RUNTIME_TMP_GRACE 10

static void runtime_sweep_tmp(int dirfd, const char *name)
{
        static const char suffix[] = RUNTIME_SUFFIX ".tmp";
        size_t len = strlen(name), tail = sizeof(suffix) - 1;
        char entry_name[96];
        if (len <= tail + 1 || strcmp(name + len - tail, suffix) != 0 ||
            !runtime_valid_id_n(name + 1, len - tail - 1) || len - 1 - 4 >= sizeof(entry_name))
                return;
        snprintf(entry_name, sizeof(entry_name), "%.*s", (int)(len - 1 - 4), name + 1);
        struct stat st;
        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
            st.st_uid != geteuid() || time(NULL) - st.st_mtime < RUNTIME_TMP_GRACE)
                return;
        json_t *entry = runtime_read_entry(dirfd, entry_name);
        if (!json_is_true(json_object_get(entry, "alive")))
                unlinkat(dirfd, name, 0);
        json_decref(entry);
}

/* Sweep `limit` names of the registry (all when 0), from a varying place
 * so that bounded sweeps reach every name in turn. */
static void runtime_sweep_names(bool entries, size_t limit)
{
        cleanup_free char *dir = NULL;
        if (runtime_dir(&dir, NULL) < 0)
                return;
        DIR *d = opendir(dir);
        if (!d)
                return;
        struct reins_strv names = {0};
        struct dirent *de;
        /* bounded: a registry of more sessions than this is swept in turns */
        while ((de = readdir(d)) && names.count < RUNTIME_SWEEP_MAX) {
                if (de->d_name[0] == '.')
                        runtime_sweep_tmp(dirfd(d), de->d_name);
                else if (strv_push(&names, de->d_name) < 0)
                        break;
        }
        if (names.count > 0) {
                qsort(names.items, names.count, sizeof(*names.items), runtime_compare_names);
                size_t first = 0, count = names.count;
                if (limit > 0 && limit < names.count) {
                        struct timespec now;
                        clock_gettime(CLOCK_MONOTONIC, &now);
                        first = ((size_t)now.tv_nsec ^ (size_t)getpid()) % names.count;
                        count = limit;
                }
                for (size_t i = 0; i < count; i++)
                        runtime_sweep_name(dirfd(d), dir, &names,
                                           names.items[(first + i) % names.count], entries);
        }
        strv_free(&names);
        closedir(d);
}

void runtime_sweep(void)
{
        runtime_sweep_names(true, 0);
}

void runtime_sweep_some(size_t count)
{
        if (count > 0)
                runtime_sweep_names(true, count);
}

void runtime_sweep_sockets(void)
{
        runtime_sweep_names(false, 0);
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
