/* The shared follower of the trails and its ring (serve/events_bus.h). */
#include "serve/events_bus.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit/format.h"
#include "audit/runtime.h"
#include "audit/trail.h"
#include "serve/record.h"
#include "serve/serve_internal.h"
#include "serve/sessions.h"
#include "util/array.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/path.h"

#define EVENTS_RING_SLOTS    8192
#define EVENTS_RING_BYTES    (16 << 20)
#define EVENTS_INDEX_MAX     (16 << 20) /* a file of runs; the previous one is kept too */
#define EVENTS_LINE_MAX      (256 << 10) /* longer lines are no records (the writer caps at 64 KiB) */
#define EVENTS_PASS_BYTES    (1 << 20)   /* read from one trail before the next gets its turn */
#define EVENTS_TICK_MS       250
#define EVENTS_RESCAN_MS     500
#define EVENTS_RESCAN_MIN_MS 100 /* between two scans that inotify asked for */
#define EVENTS_SWEEP_MS      1000
#define EVENTS_MAX_FOLLOWS   100000
#define EVENTS_USERS_MS      2000 /* a root daemon looks for users' registries */
#define EVENTS_MAX_USERS     4096
#define EVENTS_RUN_MIDLINE   1u /* the run starts inside an over-long line: skip to its end */

/* One entry of the index: the records one read of one trail took. */
struct events_run {
        uint64_t first;       /* the id of its first record */
        uint64_t offset, end; /* its bytes in the trail */
        uint32_t count;
        uint32_t flags;
        char session[32]; /* NUL-padded */
};
_Static_assert(sizeof(struct events_run) == 64, "an index entry is 64 bytes");

/* One trail followed. Written by the follower only, except `policy`, set
 * once under the lock (subscribers read it through the ring's slots). */
struct events_follow {
        char session[25];
        char *trail;
        uid_t uid;
        char *policy;
        bool daemon;
        int wd; /* inotify watch of the trail's directory, -1 when none */
        off_t offset;
        bool discarding; /* inside an over-long line */
        bool ended;      /* its final checkpoint was read */
        bool dirty;
};

/* A directory of trails being watched, and whose they are: a trail that
 * appears there is followed at once, before any registry says so (a short
 * `reins run` may come and go between two scans of its registry). */
struct events_dir {
        int wd;
        uid_t uid;
        char *path;
        struct timespec mtime; /* when it was last listed (events_scan_dirs) */
};

/* Another user's registry, watched by a root daemon. */
struct events_registry {
        uid_t uid;
        char *dir;
};

struct events_slot {
        uint64_t id;
        struct events_follow *follow;
        char *type;
        enum serve_severity severity;
        char *message;
        size_t length;
};

struct serve_events {
        struct serve *serve;
        pthread_t thread;
        bool started;
        pthread_mutex_t lock;
        pthread_cond_t changed;
        bool ready;
        atomic_int subscribers;
        /* the ring: ids ring_first .. next_id - 1, slot id % EVENTS_RING_SLOTS */
        struct events_slot *ring;
        uint64_t ring_first, next_id;
        size_t ring_bytes;
        /* the followed trails (the array grows under `lock`) */
        struct events_follow **follows;
        size_t follow_count, follow_capacity;
        json_t *by_session; /* {session: index in follows} */
        /* the index */
        pthread_mutex_t index_lock;
        int index_fd, index_old_fd;
        off_t index_size;
        char *index_path, *index_old_path;
        /* the follower's own */
        int inotify;
        int wd_sessions, wd_registry, wd_trails;
        char *own_trails;  /* STATE/trails */
        char *user_trails; /* the daemon's user's trail directory (reins run's) */
        char *registry;    /* the daemon's user's registry */
        /* a root daemon: other users' registries (their own `reins run`) */
        struct events_registry *registries;
        size_t registry_count, registry_capacity;
        long long users_scanned;
        time_t started_at; /* wall clock: trails written since are news */
        struct events_dir *dirs;
        size_t dir_count, dir_capacity;
        json_t *positions;  /* from the index at start: {session: [end, flags]} */
        bool index_existed; /* a previous daemon left an index */
        time_t index_mtime; /* and when it last wrote it */
        bool first_scan;
        char *buffer;  /* EVENTS_LINE_MAX + 1 */
        json_t *batch; /* records of one read, before they get ids */
};

static long long events_now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- scanning a trail: the follower and the replay share it, so a byte
 * range yields the same records (and ids) both times ---- */

typedef void (*events_record_fn)(void *ctx, json_t *record);

/* Complete lines of `fd` from *offset, up to `end` (-1: the end of the
 * file) or `budget` bytes or `max_records` records. A record is a line of
 * at most EVENTS_LINE_MAX bytes that is a JSON object with an integer seq;
 * anything else is skipped. *offset stops at a line's start (or inside an
 * over-long line, *discarding set). Returns the records handed to fn. */
static size_t events_scan(int fd, char *buffer, off_t *offset, off_t end, bool *discarding,
                          size_t budget, size_t max_records, events_record_fn fn, void *ctx)
{
        size_t accepted = 0, consumed = 0;
        while (accepted < max_records && consumed < budget) {
                size_t want = EVENTS_LINE_MAX + 1;
                if (end >= 0 && (off_t)want > end - *offset)
                        want = (size_t)(end - *offset);
                if (want == 0)
                        break;
                ssize_t n = pread(fd, buffer, want, *offset);
                if (n <= 0)
                        break;
                size_t pos = 0;
                while (pos < (size_t)n && accepted < max_records) {
                        char *newline = memchr(buffer + pos, '\n', (size_t)n - pos);
                        if (!newline)
                                break;
                        size_t length = (size_t)(newline - (buffer + pos));
                        if (*discarding) {
                                *discarding = false; /* the end of an over-long line */
                        } else {
                                json_t *record = json_loadb(buffer + pos, length, 0, NULL);
                                if (json_is_object(record) &&
                                    json_is_integer(json_object_get(record, "seq"))) {
                                        fn(ctx, record);
                                        accepted++;
                                }
                                json_decref(record);
                        }
                        pos += length + 1;
                }
                *offset += (off_t)pos;
                consumed += pos;
                if (pos == 0) {
                        /* no newline at all: an over-long line (a full
                         * buffer) or one being discarded is skipped; else
                         * an incomplete last line waits for its end */
                        if (!*discarding && (size_t)n < EVENTS_LINE_MAX + 1)
                                break;
                        *discarding = true;
                        *offset += n;
                        consumed += (size_t)n;
                        continue;
                }
                if ((size_t)n < want && pos < (size_t)n)
                        break; /* an incomplete last line */
        }
        return accepted;
}

/* Open a trail as a regular file of `uid`, never through a symlink at its
 * name (a user cannot point the daemon at someone else's file). */
static int events_open_trail(const char *path, uid_t uid)
{
        int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        struct stat st;
        if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != uid)) {
                close(fd);
                return -EPERM;
        }
        return fd < 0 ? -errno : fd;
}

/* ---- the ring ---- */

static void events_slot_clear(struct events_slot *slot)
{
        free(slot->type);
        free(slot->message);
        memset(slot, 0, sizeof(*slot));
}

/* The SSE message of one record: the record re-serialised (never the
 * trail's bytes as they are: a CR between JSON tokens would end an SSE
 * line early and let a trail's author forge fields in someone else's
 * stream), with its session and severity. */
static char *events_message(uint64_t id, const struct events_follow *f, const json_t *record,
                            enum serve_severity severity, size_t *length)
{
        cleanup_free char *json = json_dumps(record, JSON_COMPACT);
        /* and the line `reins audit show` gives it, for people (a page
         * shows it as text: it quotes what the agent wrote, escaped) */
        json_auto_t *summary = audit_format_summary_json(record);
        cleanup_free char *text = summary ? json_dumps(summary, JSON_ENCODE_ANY) : NULL;
        char *message = NULL;
        int n = json && text
                    ? asprintf(&message,
                               "id: %llu\ndata: {\"session\":\"%s\",\"severity\":\"%s\"%s,"
                               "\"record\":%s,\"text\":%s}\n\n",
                               (unsigned long long)id, f->session, serve_severity_name(severity),
                               f->daemon ? ",\"daemon\":true" : "", json, text)
                    : -1;
        if (n < 0)
                return NULL;
        *length = (size_t)n;
        return message;
}

/* Put one record in the ring as event `id` (the caller holds the lock). */
static void events_ring_push(struct serve_events *bus, uint64_t id, struct events_follow *f,
                             const json_t *record)
{
        const char *type = json_string_value(json_object_get(record, "type"));
        enum serve_severity severity = serve_record_severity(record);
        struct events_slot slot = {.id = id, .follow = f, .severity = severity};
        slot.type = strdup(type ? type : "");
        slot.message = events_message(id, f, record, severity, &slot.length);
        if (!slot.type || !slot.message) {
                /* out of memory: the event stays in the trail and the
                 * index; a subscriber reads it back from there */
                events_slot_clear(&slot);
                slot.id = id;
        }
        while (bus->ring_first < id && (id - bus->ring_first >= EVENTS_RING_SLOTS ||
                                        bus->ring_bytes + slot.length > EVENTS_RING_BYTES)) {
                struct events_slot *old = &bus->ring[bus->ring_first % EVENTS_RING_SLOTS];
                bus->ring_bytes -= old->length;
                events_slot_clear(old);
                bus->ring_first++;
        }
        bus->ring[id % EVENTS_RING_SLOTS] = slot;
        bus->ring_bytes += slot.length;
        bus->next_id = id + 1;
}

/* ---- the index ---- */

static int events_index_read(int fd, size_t at, struct events_run *run)
{
        ssize_t n = pread(fd, run, sizeof(*run), (off_t)(at * sizeof(*run)));
        return n == (ssize_t)sizeof(*run) ? 0 : -EIO;
}

static size_t events_index_count(int fd)
{
        struct stat st;
        return fd >= 0 && fstat(fd, &st) == 0 ? (size_t)st.st_size / sizeof(struct events_run) : 0;
}

/* The run of `fd` that holds `id` (runs are in id order): 0, -ENOENT when
 * `id` is before its first, -ERANGE when after its last. */
static int events_index_find(int fd, uint64_t id, struct events_run *run)
{
        size_t count = events_index_count(fd), low = 0, high = count;
        if (count == 0 || events_index_read(fd, 0, run) < 0)
                return -ERANGE;
        if (id < run->first)
                return -ENOENT;
        /* the last run whose first id is <= id */
        while (high - low > 1) {
                size_t middle = low + (high - low) / 2;
                if (events_index_read(fd, middle, run) < 0)
                        return -EIO;
                if (run->first <= id)
                        low = middle;
                else
                        high = middle;
        }
        if (events_index_read(fd, low, run) < 0)
                return -EIO;
        return id < run->first + run->count ? 0 : -ERANGE;
}

/* Append one run (the follower; before its records reach the ring, so an
 * id a subscriber has seen is always in the index). */
static void events_index_append(struct serve_events *bus, const struct events_run *run)
{
        pthread_mutex_lock(&bus->index_lock);
        if (bus->index_size + (off_t)sizeof(*run) > EVENTS_INDEX_MAX) {
                /* the current file becomes the previous one, whose runs
                 * (the oldest half of what is kept) go */
                int fd = open(bus->index_path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (fd >= 0 && rename(bus->index_path, bus->index_old_path) == 0) {
                        close(fd);
                        fd = open(bus->index_path,
                                  O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
                        if (fd >= 0) {
                                if (bus->index_old_fd >= 0)
                                        close(bus->index_old_fd);
                                bus->index_old_fd = bus->index_fd;
                                bus->index_fd = fd;
                                bus->index_size = 0;
                        }
                } else if (fd >= 0) {
                        close(fd);
                }
        }
        if (bus->index_fd >= 0 &&
            pwrite(bus->index_fd, run, sizeof(*run), bus->index_size) == (ssize_t)sizeof(*run))
                bus->index_size += (off_t)sizeof(*run);
        pthread_mutex_unlock(&bus->index_lock);
}

/* At start: where the previous daemon stopped in each trail, and the next
 * id. A torn last entry (a crash mid-write) is cut off. */
static void events_index_load(struct serve_events *bus)
{
        int fds[2] = {bus->index_old_fd, bus->index_fd};
        struct events_run run;
        for (size_t f = 0; f < 2; f++) {
                size_t count = events_index_count(fds[f]);
                for (size_t i = 0; i < count && events_index_read(fds[f], i, &run) == 0; i++) {
                        char session[33];
                        memcpy(session, run.session, 32);
                        session[32] = '\0';
                        if (run.first + run.count > bus->next_id)
                                bus->next_id = run.first + run.count;
                        json_object_set_new(bus->positions, session,
                                            json_pack("[I, b]", (json_int_t)run.end,
                                                      (run.flags & EVENTS_RUN_MIDLINE) != 0));
                }
        }
        struct stat st;
        if (bus->index_fd >= 0 && fstat(bus->index_fd, &st) == 0) {
                bus->index_size = st.st_size - st.st_size % (off_t)sizeof(run);
                bus->index_mtime = st.st_mtime;
                bus->index_existed = st.st_size > 0 || bus->index_old_fd >= 0;
                if (ftruncate(bus->index_fd, bus->index_size) < 0)
                        bus->index_size = st.st_size; /* left as it was */
        }
        bus->ring_first = bus->next_id;
}

/* ---- the followed trails ---- */

static struct events_follow *events_follow_get(struct serve_events *bus, const char *session)
{
        json_t *at = json_object_get(bus->by_session, session);
        return at ? bus->follows[json_integer_value(at)] : NULL;
}

/* Watch a directory of `uid`'s trails (once). The watch descriptor. */
static int events_watch_dir(struct serve_events *bus, const char *dir, uid_t uid)
{
        if (bus->inotify < 0)
                return -1;
        int wd = inotify_add_watch(bus->inotify, dir[0] ? dir : "/",
                                   IN_MODIFY | IN_CREATE | IN_MOVED_TO);
        if (wd < 0)
                return -1;
        for (size_t i = 0; i < bus->dir_count; i++)
                if (bus->dirs[i].wd == wd)
                        return wd;
        char *copy = strdup(dir);
        if (!copy || array_reserve(bus->dirs, bus->dir_capacity, bus->dir_count + 1, 16) < 0) {
                free(copy);
                return wd;
        }
        bus->dirs[bus->dir_count++] = (struct events_dir){.wd = wd, .uid = uid, .path = copy};
        return wd;
}

static void events_follow_add(struct serve_events *bus, const char *session, const char *trail,
                              uid_t uid, const char *policy, bool daemon)
{
        if (events_follow_get(bus, session) || bus->follow_count >= EVENTS_MAX_FOLLOWS)
                return;
        struct events_follow *f = calloc(1, sizeof(*f));
        if (!f || !(f->trail = strdup(trail)) || (policy && !(f->policy = strdup(policy)))) {
                if (f)
                        free(f->trail);
                free(f);
                return;
        }
        snprintf(f->session, sizeof(f->session), "%s", session);
        f->uid = uid;
        f->daemon = daemon;
        f->wd = -1;
        f->dirty = true;
        /* where to begin: where the index says a daemon stopped; for a
         * trail present at start, its end (what happened before is not
         * news) unless it changed since the last daemon wrote its index;
         * for one found later, its beginning */
        json_t *position = json_object_get(bus->positions, session);
        struct stat st;
        if (position) {
                f->offset = (off_t)json_integer_value(json_array_get(position, 0));
                f->discarding = json_is_true(json_array_get(position, 1));
        } else if (bus->first_scan && stat(trail, &st) == 0 &&
                   !(bus->index_existed && st.st_mtime > bus->index_mtime)) {
                f->offset = st.st_size;
        }
        cleanup_free char *dir = strdup(trail);
        char *slash = dir ? strrchr(dir, '/') : NULL;
        if (slash && !daemon) {
                *slash = '\0';
                f->wd = events_watch_dir(bus, dir, uid);
        }
        pthread_mutex_lock(&bus->lock);
        if (array_reserve(bus->follows, bus->follow_capacity, bus->follow_count + 1, 256) < 0 ||
            json_object_set_new(bus->by_session, session,
                                json_integer((json_int_t)bus->follow_count)) < 0) {
                pthread_mutex_unlock(&bus->lock);
                free(f->trail);
                free(f->policy);
                free(f);
                return;
        }
        bus->follows[bus->follow_count++] = f;
        pthread_mutex_unlock(&bus->lock);
}

static bool events_is_id(const char *text, size_t length)
{
        return strlen(text) >= length && strspn(text, "0123456789abcdef") >= length;
}

/* The daemon's own trails: STATE/trails/serve-ID.jsonl. */
static void events_scan_own(struct serve_events *bus)
{
        cleanup_closedir DIR *d = opendir(bus->own_trails);
        struct dirent *de;
        while (d && (de = readdir(d))) {
                if (strncmp(de->d_name, "serve-", 6) != 0 || !events_is_id(de->d_name + 6, 24) ||
                    strcmp(de->d_name + 30, ".jsonl") != 0)
                        continue;
                char id[25];
                snprintf(id, sizeof(id), "%.24s", de->d_name + 6);
                if (events_follow_get(bus, id))
                        continue;
                cleanup_free char *path = path_join(bus->own_trails, de->d_name);
                if (path)
                        events_follow_add(bus, id, path, bus->serve->uid, NULL, true);
        }
}

/* The sessions the daemon started: their records name the trail, the
 * user and the policy as asked. */
static void events_scan_started(struct serve_events *bus)
{
        cleanup_closedir DIR *d = opendir(bus->serve->sessions_dir);
        struct dirent *de;
        while (d && (de = readdir(d))) {
                if (strlen(de->d_name) != 24 || !events_is_id(de->d_name, 24) ||
                    events_follow_get(bus, de->d_name))
                        continue;
                json_auto_t *record = serve_record_read(bus->serve->sessions_dir, de->d_name);
                const char *trail = json_string_value(json_object_get(record, "trail"));
                if (!trail)
                        continue; /* not written yet: the next scan */
                events_follow_add(bus, de->d_name, trail,
                                  (uid_t)json_integer_value(json_object_get(record, "uid")),
                                  json_string_value(json_object_get(record, "policy")), false);
        }
}

/* A registry: the `reins run` sessions of `uid`, whose entry names their
 * trail (else, for the daemon's user, the default one). Those the daemon
 * started are left to their record. Every file is checked to be uid's. */
static void events_scan_registry(struct serve_events *bus, const char *registry, uid_t uid)
{
        bool own = uid == bus->serve->uid;
        cleanup_fd int dirfd = open(registry, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        cleanup_closedir DIR *d = dirfd >= 0 ? fdopendir(dup(dirfd)) : NULL;
        struct dirent *de;
        while (d && (de = readdir(d))) {
                size_t n = strlen(de->d_name);
                if (n != 29 || strcmp(de->d_name + 24, ".json") != 0 ||
                    !events_is_id(de->d_name, 24))
                        continue;
                char id[25];
                snprintf(id, sizeof(id), "%.24s", de->d_name);
                if (events_follow_get(bus, id))
                        continue;
                cleanup_free char *started = path_join(bus->serve->sessions_dir, id);
                if (!started || access(started, F_OK) == 0)
                        continue;
                json_auto_t *entry = runtime_read_entry_of(dirfd, de->d_name, uid);
                const char *named = json_string_value(json_object_get(entry, "trail"));
                char name[40];
                snprintf(name, sizeof(name), "%s.jsonl", id);
                cleanup_free char *trail = NULL;
                if (named && named[0] == '/')
                        trail = strdup(named);
                else if (own && bus->user_trails)
                        trail = path_join(bus->user_trails, name);
                if (entry && trail)
                        events_follow_add(bus, id, trail, uid,
                                          json_string_value(json_object_get(entry, "policy")),
                                          false);
        }
}

/* A root daemon: the registries of the users who have one, found where
 * runtime_dir puts them (/run/user/UID/reins, /tmp/reins-UID), each checked
 * to be that user's and private (serve_user_registry). */
static void events_find_registries(struct serve_events *bus)
{
        static const char *const places[][2] = {{"/run/user", ""}, {"/tmp", "reins-"}};
        for (size_t p = 0; p < ARRAY_SIZE(places); p++) {
                cleanup_closedir DIR *d = opendir(places[p][0]);
                struct dirent *de;
                size_t prefix = strlen(places[p][1]);
                while (d && (de = readdir(d)) && bus->registry_count < EVENTS_MAX_USERS) {
                        const char *digits = de->d_name + prefix;
                        if (strncmp(de->d_name, places[p][1], prefix) != 0 || !digits[0] ||
                            strspn(digits, "0123456789") != strlen(digits) || strlen(digits) > 9)
                                continue;
                        uid_t uid = (uid_t)strtoul(digits, NULL, 10);
                        bool known = uid == bus->serve->uid;
                        for (size_t i = 0; i < bus->registry_count && !known; i++)
                                known = bus->registries[i].uid == uid;
                        char *dir = NULL;
                        if (known || serve_user_registry(uid, &dir) < 0)
                                continue;
                        if (array_reserve(bus->registries, bus->registry_capacity,
                                          bus->registry_count + 1, 16) < 0) {
                                free(dir);
                                return;
                        }
                        bus->registries[bus->registry_count++] =
                            (struct events_registry){.uid = uid, .dir = dir};
                        /* an entry made there: a scan (events_inotify) */
                        if (bus->inotify >= 0)
                                inotify_add_watch(bus->inotify, dir, IN_CREATE | IN_MOVED_TO);
                }
        }
}

static void events_follow_new_trail(struct serve_events *bus, int wd, const char *id,
                                    const char *name);

/* What inotify may have missed (a full queue, a trail made before its
 * directory was watched): each watched directory of trails that changed
 * since it was last listed is listed again, and a trail there written since
 * the daemon started, of a session not followed, is followed. */
static void events_scan_dirs(struct serve_events *bus)
{
        for (size_t i = 0; i < bus->dir_count; i++) {
                struct events_dir *dir = &bus->dirs[i];
                struct stat st;
                if (stat(dir->path, &st) < 0 || (st.st_mtim.tv_sec == dir->mtime.tv_sec &&
                                                 st.st_mtim.tv_nsec == dir->mtime.tv_nsec))
                        continue;
                dir->mtime = st.st_mtim;
                cleanup_closedir DIR *d = opendir(dir->path);
                struct dirent *de;
                while (d && (de = readdir(d))) {
                        char id[25];
                        if (!events_is_id(de->d_name, 24) || strcmp(de->d_name + 24, ".jsonl") != 0)
                                continue;
                        snprintf(id, sizeof(id), "%.24s", de->d_name);
                        cleanup_free char *trail = path_join(dir->path, de->d_name);
                        struct stat file;
                        if (events_follow_get(bus, id) || !trail || stat(trail, &file) < 0 ||
                            file.st_mtime < bus->started_at)
                                continue;
                        events_follow_new_trail(bus, dir->wd, id, de->d_name);
                }
        }
}

static void events_rescan(struct serve_events *bus)
{
        events_scan_own(bus);
        events_scan_started(bus);
        if (bus->registry)
                events_scan_registry(bus, bus->registry, bus->serve->uid);
        if (bus->serve->uid == 0) {
                long long now = events_now_ms();
                if (bus->first_scan || now - bus->users_scanned >= EVENTS_USERS_MS) {
                        events_find_registries(bus);
                        bus->users_scanned = now;
                }
                for (size_t i = 0; i < bus->registry_count; i++)
                        events_scan_registry(bus, bus->registries[i].dir, bus->registries[i].uid);
        }
        if (!bus->first_scan)
                events_scan_dirs(bus);
        bus->first_scan = false;
}

/* ---- reading what a trail gained ---- */

static void events_collect(void *ctx, json_t *record)
{
        json_array_append((json_t *)ctx, record);
}

/* Read up to EVENTS_PASS_BYTES of one trail: its records get ids, their
 * run goes to the index, then they go to the ring. Returns true when there
 * may be more to read. */
static bool events_read_trail(struct serve_events *bus, struct events_follow *f)
{
        int fd = events_open_trail(f->trail, f->uid);
        if (fd < 0)
                return false;
        struct stat st;
        if (fstat(fd, &st) == 0 && st.st_size < f->offset) {
                /* shorter than what was read: rewritten by its owner; what
                 * it holds now was never numbered, and is not now */
                f->offset = st.st_size;
                f->discarding = false;
        }
        off_t start = f->offset;
        bool midline = f->discarding;
        json_array_clear(bus->batch);
        size_t count = events_scan(fd, bus->buffer, &f->offset, -1, &f->discarding,
                                   EVENTS_PASS_BYTES, SIZE_MAX, events_collect, bus->batch);
        bool more = f->offset - start >= EVENTS_PASS_BYTES;
        close(fd);
        if (count == 0)
                return more;
        struct events_run run = {.offset = (uint64_t)start,
                                 .end = (uint64_t)f->offset,
                                 .count = (uint32_t)count,
                                 .flags = midline ? EVENTS_RUN_MIDLINE : 0};
        memcpy(run.session, f->session, strlen(f->session));
        pthread_mutex_lock(&bus->lock);
        run.first = bus->next_id;
        pthread_mutex_unlock(&bus->lock);
        events_index_append(bus, &run);
        pthread_mutex_lock(&bus->lock);
        size_t i;
        json_t *record;
        json_array_foreach(bus->batch, i, record)
        {
                const char *type = json_string_value(json_object_get(record, "type"));
                if (type && strcmp(type, "checkpoint") == 0 &&
                    json_is_true(json_object_get(record, "final")))
                        f->ended = true;
                /* a daemon-started session's policy is its record's; a
                 * trail with none names it in its session.start */
                if (!f->policy && type && strcmp(type, "session.start") == 0) {
                        const char *name = json_string_value(
                            json_object_get(json_object_get(record, "policy"), "name"));
                        if (name)
                                f->policy = strdup(name);
                }
                events_ring_push(bus, run.first + i, f, record);
        }
        pthread_cond_broadcast(&bus->changed);
        pthread_mutex_unlock(&bus->lock);
        json_array_clear(bus->batch);
        return more;
}

/* A trail that appeared in a watched directory of a user's trails: that
 * user's session, followed from its start -- unless the daemon started it
 * (its record says more: the policy as asked), which the scan that follows
 * finds. */
static void events_follow_new_trail(struct serve_events *bus, int wd, const char *id,
                                    const char *name)
{
        const struct events_dir *dir = NULL;
        for (size_t i = 0; i < bus->dir_count && !dir; i++)
                if (bus->dirs[i].wd == wd)
                        dir = &bus->dirs[i];
        cleanup_free char *started = path_join(bus->serve->sessions_dir, id);
        cleanup_free char *trail = dir ? path_join(dir->path, name) : NULL;
        if (trail && started && access(started, F_OK) < 0)
                events_follow_add(bus, id, trail, dir->uid, NULL, false);
}

/* inotify: a trail grew (mark it), a session or registry entry came (scan). */
static bool events_inotify(struct serve_events *bus)
{
        char events[64 * (sizeof(struct inotify_event) + NAME_MAX + 1)]
            __attribute__((aligned(__alignof__(struct inotify_event))));
        bool rescan = false;
        ssize_t n;
        /* a bounded number of reads: trails being written flood the queue
         * faster than it can be emptied, and the trails must be read too */
        for (int reads = 0; reads < 8 && (n = read(bus->inotify, events, sizeof(events))) > 0;
             reads++) {
                for (char *p = events; p < events + n;) {
                        struct inotify_event *e = (struct inotify_event *)p;
                        p += sizeof(*e) + e->len;
                        if (e->mask & IN_Q_OVERFLOW) {
                                for (size_t i = 0; i < bus->follow_count; i++)
                                        bus->follows[i]->dirty = true;
                                rescan = true;
                                continue;
                        }
                        if (e->wd == bus->wd_sessions || e->wd == bus->wd_registry)
                                rescan = true;
                        if (e->len == 0)
                                continue;
                        /* ID.jsonl or serve-ID.jsonl */
                        const char *name = e->name;
                        if (strncmp(name, "serve-", 6) == 0)
                                name += 6;
                        char id[25];
                        if (!events_is_id(name, 24) || strcmp(name + 24, ".jsonl") != 0) {
                                /* a new trail of the daemon's, or a registry
                                 * entry (ID.json) */
                                if (e->wd == bus->wd_trails || strcmp(name + 24, ".json") == 0)
                                        rescan = true;
                                continue;
                        }
                        snprintf(id, sizeof(id), "%.24s", name);
                        struct events_follow *f = events_follow_get(bus, id);
                        if (f)
                                f->dirty = true;
                        else if (name == e->name)
                                events_follow_new_trail(bus, e->wd, id, e->name);
                        rescan = rescan || !f;
                }
        }
        return rescan;
}

/* Every trail not yet ended whose size is not where we are: what inotify
 * could not say (a directory watched too late, a full queue). */
static void events_sweep(struct serve_events *bus)
{
        for (size_t i = 0; i < bus->follow_count; i++) {
                struct events_follow *f = bus->follows[i];
                struct stat st;
                if (!f->ended && !f->dirty && stat(f->trail, &st) == 0 && st.st_size != f->offset)
                        f->dirty = true;
        }
}

static void *events_follower(void *arg)
{
        struct serve_events *bus = arg;
        struct serve *serve = bus->serve;
        events_index_load(bus);
        /* ready once the trails present at start are placed: a session
         * started after a subscriber came is read from its beginning */
        events_rescan(bus);
        pthread_mutex_lock(&bus->lock);
        bus->ready = true;
        pthread_cond_broadcast(&bus->changed);
        pthread_mutex_unlock(&bus->lock);
        long long rescanned = events_now_ms(), swept = rescanned;
        bool busy = true;
        while (!atomic_load(&serve->stopping)) {
                struct pollfd p = {.fd = bus->inotify, .events = POLLIN};
                int r = poll(&p, bus->inotify >= 0 ? 1 : 0, busy ? 0 : EVENTS_TICK_MS);
                bool rescan = r > 0 && events_inotify(bus);
                long long now = events_now_ms();
                if ((rescan && now - rescanned >= EVENTS_RESCAN_MIN_MS) ||
                    now - rescanned >= EVENTS_RESCAN_MS) {
                        events_rescan(bus);
                        rescanned = now;
                }
                if (now - swept >= EVENTS_SWEEP_MS || bus->inotify < 0) {
                        events_sweep(bus);
                        swept = now;
                }
                busy = false;
                for (size_t i = 0; i < bus->follow_count && !atomic_load(&serve->stopping); i++) {
                        struct events_follow *f = bus->follows[i];
                        if (!f->dirty)
                                continue;
                        /* one pass each: a trail with a large backlog
                         * takes turns with the others */
                        f->dirty = events_read_trail(bus, f);
                        busy = busy || f->dirty;
                }
        }
        pthread_mutex_lock(&bus->lock);
        pthread_cond_broadcast(&bus->changed);
        pthread_mutex_unlock(&bus->lock);
        return NULL;
}

/* ---- subscribers ---- */

uint64_t serve_events_next_id(struct serve_events *bus)
{
        pthread_mutex_lock(&bus->lock);
        while (!bus->ready && !atomic_load(&bus->serve->stopping)) {
                struct timespec until;
                clock_gettime(CLOCK_REALTIME, &until);
                until.tv_nsec += 100 * 1000000L;
                if (until.tv_nsec >= 1000000000L) {
                        until.tv_sec++;
                        until.tv_nsec -= 1000000000L;
                }
                pthread_cond_timedwait(&bus->changed, &bus->lock, &until);
        }
        uint64_t next = bus->next_id;
        pthread_mutex_unlock(&bus->lock);
        return next;
}

void serve_events_subscribe(struct serve_events *bus)
{
        atomic_fetch_add(&bus->subscribers, 1);
}

void serve_events_unsubscribe(struct serve_events *bus)
{
        atomic_fetch_sub(&bus->subscribers, 1);
}

void serve_events_drain(struct serve *serve, int timeout_ms)
{
        struct serve_events *bus = serve->events;
        if (!bus)
                return;
        atomic_store(&serve->stopping, true);
        long long until = events_now_ms() + timeout_ms;
        while (atomic_load(&bus->subscribers) > 0 && events_now_ms() < until) {
                pthread_mutex_lock(&bus->lock);
                pthread_cond_broadcast(&bus->changed);
                pthread_mutex_unlock(&bus->lock);
                struct timespec step = {.tv_nsec = 10 * 1000000L};
                nanosleep(&step, NULL);
        }
}

uint64_t serve_events_first_id(struct serve_events *bus)
{
        uint64_t first = serve_events_next_id(bus);
        struct events_run run;
        pthread_mutex_lock(&bus->index_lock);
        if ((bus->index_old_fd >= 0 && events_index_read(bus->index_old_fd, 0, &run) == 0) ||
            events_index_read(bus->index_fd, 0, &run) == 0)
                first = run.first;
        pthread_mutex_unlock(&bus->index_lock);
        return first;
}

int serve_events_take(struct serve_events *bus, uint64_t *next, int wait_ms, serve_event_fn fn,
                      void *ctx)
{
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += wait_ms / 1000;
        until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
        }
        int handed = 0;
        pthread_mutex_lock(&bus->lock);
        for (;;) {
                if (atomic_load(&bus->serve->stopping)) {
                        handed = -ESHUTDOWN;
                        break;
                }
                if (bus->ready && *next < bus->ring_first) {
                        handed = -ERANGE;
                        break;
                }
                if (bus->ready && *next < bus->next_id)
                        break;
                /* woken by the follower, or every 200 ms to see whether
                 * the daemon stops */
                struct timespec step;
                clock_gettime(CLOCK_REALTIME, &step);
                step.tv_nsec += 200 * 1000000L;
                if (step.tv_nsec >= 1000000000L) {
                        step.tv_sec++;
                        step.tv_nsec -= 1000000000L;
                }
                bool last = step.tv_sec > until.tv_sec ||
                            (step.tv_sec == until.tv_sec && step.tv_nsec >= until.tv_nsec);
                if (pthread_cond_timedwait(&bus->changed, &bus->lock, last ? &until : &step) ==
                        ETIMEDOUT &&
                    last)
                        break;
        }
        while (handed >= 0 && *next < bus->next_id) {
                struct events_slot *slot = &bus->ring[*next % EVENTS_RING_SLOTS];
                if (!slot->message) {
                        (*next)++; /* not kept (out of memory) */
                        continue;
                }
                struct serve_event event = {
                    .id = slot->id,
                    .session = slot->follow->session,
                    .policy = slot->follow->policy,
                    .daemon = slot->follow->daemon,
                    .type = slot->type,
                    .severity = slot->severity,
                    .message = slot->message,
                    .length = slot->length,
                };
                (*next)++;
                handed++;
                if (!fn(ctx, &event))
                        break;
        }
        pthread_mutex_unlock(&bus->lock);
        return handed;
}

/* What a run's session is, for a replay: the table, else (a session
 * followed before a restart and not found since) its record or the
 * daemon's user's default trail. */
struct events_source {
        char session[25];
        char *trail;
        uid_t uid;
        char *policy;
        bool daemon;
};

static void events_source_free(struct events_source *s)
{
        free(s->trail);
        free(s->policy);
        memset(s, 0, sizeof(*s));
}

static int events_source_find(struct serve_events *bus, const char *session,
                              struct events_source *out)
{
        memset(out, 0, sizeof(*out));
        snprintf(out->session, sizeof(out->session), "%s", session);
        pthread_mutex_lock(&bus->lock);
        struct events_follow *f = events_follow_get(bus, session);
        if (f) {
                out->trail = strdup(f->trail);
                out->policy = f->policy ? strdup(f->policy) : NULL;
                out->uid = f->uid;
                out->daemon = f->daemon;
        }
        pthread_mutex_unlock(&bus->lock);
        if (f)
                return out->trail ? 0 : -ENOMEM;
        json_auto_t *record = serve_record_read(bus->serve->sessions_dir, session);
        const char *trail = json_string_value(json_object_get(record, "trail"));
        char name[48];
        out->uid =
            trail ? (uid_t)json_integer_value(json_object_get(record, "uid")) : bus->serve->uid;
        if (trail) {
                out->trail = strdup(trail);
                const char *policy = json_string_value(json_object_get(record, "policy"));
                out->policy = policy ? strdup(policy) : NULL;
                return out->trail ? 0 : -ENOMEM;
        }
        snprintf(name, sizeof(name), "serve-%s.jsonl", session);
        out->trail = path_join(bus->own_trails, name);
        if (out->trail && access(out->trail, F_OK) == 0) {
                out->daemon = true;
                return 0;
        }
        free(out->trail);
        out->trail = NULL;
        snprintf(name, sizeof(name), "%s.jsonl", session);
        out->trail = bus->user_trails ? path_join(bus->user_trails, name) : NULL;
        return out->trail ? 0 : -ENOENT;
}

struct events_replay {
        struct serve_events *bus;
        const struct events_source *source;
        struct events_follow follow; /* for the message */
        uint64_t id, *next;
        serve_event_fn fn;
        void *ctx;
        bool stop;
        int handed;
};

static void events_replay_record(void *ctx, json_t *record)
{
        struct events_replay *r = ctx;
        uint64_t id = r->id++;
        if (r->stop || id < *r->next)
                return;
        enum serve_severity severity = serve_record_severity(record);
        size_t length = 0;
        cleanup_free char *message = events_message(id, &r->follow, record, severity, &length);
        const char *type = json_string_value(json_object_get(record, "type"));
        if (!r->follow.policy && type && strcmp(type, "session.start") == 0) {
                /* the policy a trail names for itself (a session whose
                 * daemon record is gone): kept for the rest of the run */
                const char *name =
                    json_string_value(json_object_get(json_object_get(record, "policy"), "name"));
                r->follow.policy = name ? strdup(name) : NULL;
        }
        if (!message) {
                r->stop = true;
                return;
        }
        struct serve_event event = {
            .id = id,
            .session = r->follow.session,
            .policy = r->follow.policy,
            .daemon = r->follow.daemon,
            .type = type ? type : "",
            .severity = severity,
            .message = message,
            .length = length,
        };
        *r->next = id + 1;
        r->handed++;
        if (!r->fn(r->ctx, &event))
                r->stop = true;
}

int serve_events_replay(struct serve_events *bus, uint64_t *next, serve_event_fn fn, void *ctx)
{
        pthread_mutex_lock(&bus->lock);
        uint64_t ring_first = bus->ring_first;
        pthread_mutex_unlock(&bus->lock);
        if (*next >= ring_first)
                return 0;
        struct events_run run;
        pthread_mutex_lock(&bus->index_lock);
        int r = events_index_find(bus->index_fd, *next, &run);
        if ((r == -ENOENT || events_index_count(bus->index_fd) == 0) && bus->index_old_fd >= 0)
                r = events_index_find(bus->index_old_fd, *next, &run);
        pthread_mutex_unlock(&bus->index_lock);
        if (r == -ERANGE && *next < ring_first) {
                /* between the index's runs and the ring: ids the
                 * follower gave no run (none: a run is written first) */
                *next = ring_first;
                return 0;
        }
        if (r < 0)
                return -ENOENT;
        char session[33];
        memcpy(session, run.session, 32);
        session[32] = '\0';
        struct events_source source;
        struct events_replay replay = {
            .bus = bus, .source = &source, .id = run.first, .next = next, .fn = fn, .ctx = ctx};
        if (events_source_find(bus, session, &source) == 0) {
                int fd = events_open_trail(source.trail, source.uid);
                if (fd >= 0) {
                        cleanup_free char *buffer = malloc(EVENTS_LINE_MAX + 1);
                        memcpy(replay.follow.session, source.session, sizeof(source.session));
                        replay.follow.policy = source.policy;
                        source.policy = NULL;
                        replay.follow.daemon = source.daemon;
                        off_t offset = (off_t)run.offset;
                        bool discarding = (run.flags & EVENTS_RUN_MIDLINE) != 0;
                        if (buffer)
                                events_scan(fd, buffer, &offset, (off_t)run.end, &discarding,
                                            SIZE_MAX, run.count, events_replay_record, &replay);
                        free(replay.follow.policy);
                        close(fd);
                }
        }
        events_source_free(&source);
        /* a run whose trail is gone or changed: its ids are passed over */
        if (!replay.stop && *next < run.first + run.count)
                *next = run.first + run.count;
        return replay.handed;
}

/* ---- start and stop ---- */

static void events_free(struct serve_events *bus)
{
        if (!bus)
                return;
        for (size_t i = 0; bus->ring && i < EVENTS_RING_SLOTS; i++)
                events_slot_clear(&bus->ring[i]);
        free(bus->ring);
        for (size_t i = 0; i < bus->follow_count; i++) {
                free(bus->follows[i]->trail);
                free(bus->follows[i]->policy);
                free(bus->follows[i]);
        }
        free(bus->follows);
        json_decref(bus->by_session);
        json_decref(bus->positions);
        json_decref(bus->batch);
        if (bus->index_fd >= 0)
                close(bus->index_fd);
        if (bus->index_old_fd >= 0)
                close(bus->index_old_fd);
        if (bus->inotify >= 0)
                close(bus->inotify);
        free(bus->index_path);
        free(bus->index_old_path);
        free(bus->own_trails);
        free(bus->user_trails);
        free(bus->registry);
        for (size_t i = 0; i < bus->registry_count; i++)
                free(bus->registries[i].dir);
        free(bus->registries);
        for (size_t i = 0; i < bus->dir_count; i++)
                free(bus->dirs[i].path);
        free(bus->dirs);
        free(bus->buffer);
        pthread_mutex_destroy(&bus->lock);
        pthread_mutex_destroy(&bus->index_lock);
        pthread_cond_destroy(&bus->changed);
        free(bus);
}

int serve_events_start(struct serve *serve, struct reins_error *err)
{
        struct serve_events *bus = calloc(1, sizeof(*bus));
        if (!bus)
                return reins_error_set(err, ENOMEM, "out of memory");
        bus->serve = serve;
        bus->index_fd = bus->index_old_fd = bus->inotify = -1;
        bus->wd_sessions = bus->wd_registry = bus->wd_trails = -1;
        bus->next_id = 1;
        bus->first_scan = true;
        bus->started_at = time(NULL);
        pthread_mutex_init(&bus->lock, NULL);
        pthread_mutex_init(&bus->index_lock, NULL);
        pthread_condattr_t attr;
        pthread_condattr_init(&attr);
        pthread_cond_init(&bus->changed, &attr);
        pthread_condattr_destroy(&attr);
        cleanup_free char *dir = path_join(serve->state_dir, "events");
        bus->ring = calloc(EVENTS_RING_SLOTS, sizeof(*bus->ring));
        bus->buffer = malloc(EVENTS_LINE_MAX + 1);
        bus->by_session = json_object();
        bus->positions = json_object();
        bus->batch = json_array();
        bus->own_trails = path_join(serve->state_dir, "trails");
        bus->index_path = dir ? path_join(dir, "index") : NULL;
        bus->index_old_path = dir ? path_join(dir, "index.old") : NULL;
        if (!bus->ring || !bus->buffer || !bus->by_session || !bus->positions || !bus->batch ||
            !bus->own_trails || !bus->index_path || !bus->index_old_path) {
                events_free(bus);
                return reins_error_set(err, ENOMEM, "out of memory");
        }
        struct stat st;
        if ((mkdir(dir, 0700) < 0 && errno != EEXIST) || lstat(dir, &st) < 0 ||
            !S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077)) {
                int e = errno;
                events_free(bus);
                return reins_error_set(err, e ? e : EPERM,
                                       "%s must be a private directory of uid %u", dir,
                                       (unsigned)geteuid());
        }
        bus->index_fd = open(bus->index_path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        bus->index_old_fd = open(bus->index_old_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (bus->index_fd < 0) {
                int e = errno;
                events_free(bus);
                return reins_error_errno(err, e, "opening %s", bus->index_path);
        }
        /* the daemon's user's own trails and registry (reins run's) */
        struct reins_error ignored = {0};
        bus->user_trails = audit_trail_dir(&ignored);
        if (runtime_dir(&bus->registry, &ignored) < 0)
                bus->registry = NULL;
        bus->inotify = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (bus->inotify >= 0) {
                bus->wd_sessions =
                    inotify_add_watch(bus->inotify, serve->sessions_dir, IN_CREATE | IN_MOVED_TO);
                bus->wd_trails =
                    inotify_add_watch(bus->inotify, bus->own_trails, IN_CREATE | IN_MODIFY);
                /* a new trail there: a session of the daemon's user */
                if (bus->user_trails)
                        events_watch_dir(bus, bus->user_trails, serve->uid);
                if (bus->registry)
                        bus->wd_registry =
                            inotify_add_watch(bus->inotify, bus->registry, IN_CREATE | IN_MOVED_TO);
        }
        serve->events = bus;
        if (pthread_create(&bus->thread, NULL, events_follower, bus) != 0) {
                serve->events = NULL;
                events_free(bus);
                return reins_error_set(err, EAGAIN, "cannot start the events follower");
        }
        bus->started = true;
        return 0;
}

void serve_events_stop(struct serve *serve)
{
        struct serve_events *bus = serve->events;
        if (!bus)
                return;
        atomic_store(&serve->stopping, true);
        if (bus->started)
                pthread_join(bus->thread, NULL);
        serve->events = NULL;
        events_free(bus);
}
