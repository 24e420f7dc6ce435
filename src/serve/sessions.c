/* The daemon's view of sessions (serve/sessions.h). */
#include "serve/sessions.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* Has `pid` ended but not been reaped yet? A supervisor whose daemon was
 * killed is reaped by init, whenever init gets to it: until then its
 * /proc entry (and start time) still matches, yet it runs nothing. */
static bool sessions_zombie(pid_t pid)
{
        char path[64], buffer[512];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        cleanup_fd int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd < 0 ? -1 : read(fd, buffer, sizeof(buffer) - 1);
        if (n <= 0)
                return false;
        buffer[n] = '\0';
        const char *end = strrchr(buffer, ')');
        return end && end[1] == ' ' && (end[2] == 'Z' || end[2] == 'X');
}

static void sessions_mark_ended(json_t *sessions)
{
        size_t i;
        json_t *entry;
        json_array_foreach(sessions, i, entry) if (json_is_true(json_object_get(entry, "alive")) &&
                                                   sessions_zombie((pid_t)json_integer_value(
                                                       json_object_get(entry, "pid"))))
            json_object_set_new(entry, "alive", json_false());
}

/* The registry entry of `session` in another user's registry `dir`: its
 * file must be that user's, regular and bounded. */
static json_t *sessions_read_entry(const char *dir, const char *session, uid_t uid)
{
        char name[96];
        snprintf(name, sizeof(name), "%s.json", session);
        cleanup_fd int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        return dirfd < 0 ? NULL : runtime_read_entry_of(dirfd, name, uid);
}

/* A session that is not (or no longer, or not yet) in a registry the daemon
 * can read: what its record says. */
static json_t *sessions_from_record(const json_t *record)
{
        pid_t pid = (pid_t)json_integer_value(json_object_get(record, "pid"));
        unsigned long long ticks =
            (unsigned long long)json_integer_value(json_object_get(record, "pid_start"));
        return json_pack(
            "{s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:s, s:b}", "session",
            json_object_get(record, "session"), "pid", json_object_get(record, "pid"), "pid_start",
            json_object_get(record, "pid_start"), "uid", json_object_get(record, "uid"), "policy",
            json_object_get(record, "policy"), "command", json_object_get(record, "command"),
            "workspace", json_object_get(record, "workspace"), "started",
            json_object_get(record, "created"), "agent", "", "alive",
            runtime_pid_matches(pid, ticks));
}

/* The part of an entry only the daemon knows. The exit status is the one
 * its reaper recorded, else (a session that ended while another daemon, or
 * none, ran) the one the session's own trail recorded. */
static json_t *sessions_serve_part(const json_t *record)
{
        json_t *status = json_object_get(record, "exit_status");
        json_t *found = NULL;
        pid_t pid = (pid_t)json_integer_value(json_object_get(record, "pid"));
        unsigned long long ticks =
            (unsigned long long)json_integer_value(json_object_get(record, "pid_start"));
        const char *trail = json_string_value(json_object_get(record, "trail"));
        int code;
        if (!json_is_integer(status) && trail &&
            (!runtime_pid_matches(pid, ticks) || sessions_zombie(pid)) &&
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

/* The state each supervisor lists in its registry entry when it changes
 * (tier, pending, risk, frozen), as `reins ps` shows it. Nothing here asks a
 * supervisor: a listing costs the same beside a stopped or busy one. */
static void sessions_decay_risk(json_t *sessions)
{
        size_t i;
        json_t *entry;
        json_array_foreach(sessions, i, entry)
        {
                risk_entry_decay_to_now(entry);
        }
}

int serve_sessions_collect(struct serve *serve, json_t **sessions, struct reins_error *err)
{
        json_t *list = NULL, *records = NULL;
        int r = runtime_list(&list, err);
        if (r < 0)
                return r;
        if ((r = serve_record_list(serve->sessions_dir, &records, err)) < 0) {
                json_decref(list);
                return r;
        }
        size_t i;
        json_t *record;
        json_array_foreach(records, i, record)
        {
                const char *id = json_string_value(json_object_get(record, "session"));
                uid_t uid = (uid_t)json_integer_value(json_object_get(record, "uid"));
                json_t *entry = NULL;
                size_t j;
                json_t *candidate;
                json_array_foreach(list, j,
                                   candidate) if (!entry && id &&
                                                  json_equal(json_object_get(candidate, "session"),
                                                             json_object_get(record, "session")))
                    entry = candidate;
                if (!entry && uid != serve->uid) {
                        cleanup_free char *dir = NULL;
                        json_t *found = serve_user_registry(uid, &dir) == 0
                                            ? sessions_read_entry(dir, id, uid)
                                            : NULL;
                        if (found && json_array_append_new(list, found) == 0)
                                entry = found;
                }
                if (!entry) {
                        entry = sessions_from_record(record);
                        if (!entry || json_array_append_new(list, entry) < 0) {
                                json_decref(records);
                                json_decref(list);
                                return reins_error_set(err, ENOMEM, "out of memory");
                        }
                }
                json_object_set_new(entry, "serve", sessions_serve_part(record));
        }
        json_decref(records);
        sessions_mark_ended(list);
        sessions_decay_risk(list);
        *sessions = list;
        return 0;
}

/* One session's registry entry, by its exact id: the daemon's own
 * registry, or that of the user its record names. */
static json_t *sessions_entry(struct serve *serve, const char *id, const json_t *record)
{
        uid_t uid = record ? (uid_t)json_integer_value(json_object_get(record, "uid")) : serve->uid;
        if (uid != serve->uid) {
                cleanup_free char *dir = NULL;
                return serve_user_registry(uid, &dir) == 0 ? sessions_read_entry(dir, id, uid)
                                                           : NULL;
        }
        json_t *entry = NULL;
        if (runtime_find(id, &entry, NULL) < 0)
                return NULL;
        /* runtime_find takes a unique prefix too: only the exact id here */
        const char *found = json_string_value(json_object_get(entry, "session"));
        if (!found || strcmp(found, id) != 0) {
                json_decref(entry);
                return NULL;
        }
        return entry;
}

int serve_sessions_find(struct serve *serve, const char *id, json_t **entry,
                        struct reins_error *err)
{
        /* one session's files, not the whole registry: a call about one
         * session costs the same beside one or a thousand others */
        json_auto_t *record = serve_record_read(serve->sessions_dir, id);
        json_t *found = sessions_entry(serve, id, record);
        if (!found && record)
                found = sessions_from_record(record);
        if (!found)
                return reins_error_set(err, ENOENT, "no session %s", id);
        if (record)
                json_object_set_new(found, "serve", sessions_serve_part(record));
        json_auto_t *one = json_array();
        if (!one || json_array_append(one, found) < 0) {
                json_decref(found);
                return reins_error_set(err, ENOMEM, "out of memory");
        }
        sessions_mark_ended(one);
        sessions_decay_risk(one);
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
