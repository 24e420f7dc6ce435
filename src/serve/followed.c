/* The trails of every session the daemon can see (serve/followed.h). */
#include "serve/followed.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/runtime.h"
#include "audit/trail.h"
#include "serve/record.h"
#include "serve/serve_internal.h"
#include "serve/sessions.h"
#include "util/cleanup.h"
#include "util/path.h"

#define FOLLOWED_MAX_USERS 65536 /* registries looked at per pass, as root */

static bool followed_session_id(const char *text)
{
        return text && strlen(text) == 24 && strspn(text, "0123456789abcdef") == 24;
}

/* NAME is ID.jsonl (or PREFIXID.jsonl): the id, else NULL. */
static bool followed_trail_name(const char *name, const char *prefix, char id[25])
{
        size_t skip = strlen(prefix);
        if (strncmp(name, prefix, skip) != 0 || strlen(name) != skip + 24 + 6 ||
            strcmp(name + skip + 24, ".jsonl") != 0)
                return false;
        snprintf(id, 25, "%.24s", name + skip);
        return followed_session_id(id);
}

/* The daemon's own trails: what it refused, started, and every forwarding
 * outage and notification attempt go to the SIEM too. */
static void followed_own(struct serve *serve, serve_followed_fn *found, void *context)
{
        cleanup_free char *dir = path_join(serve->state_dir, "trails");
        cleanup_closedir DIR *d = dir ? opendir(dir) : NULL;
        struct dirent *de;
        char id[25];
        while (d && (de = readdir(d)))
                if (followed_trail_name(de->d_name, "serve-", id)) {
                        cleanup_free char *path = path_join(dir, de->d_name);
                        if (path)
                                found(context, id, path, serve->uid);
                }
}

/* The sessions the daemon started, as their records say. */
static void followed_records(struct serve *serve, serve_followed_fn *found, void *context)
{
        json_auto_t *records = NULL;
        struct reins_error err = {0};
        if (serve_record_list(serve->sessions_dir, &records, &err) < 0)
                return;
        size_t i;
        json_t *record;
        json_array_foreach(records, i, record)
        {
                const char *session = json_string_value(json_object_get(record, "session"));
                const char *trail = json_string_value(json_object_get(record, "trail"));
                if (followed_session_id(session) && trail)
                        found(context, session, trail,
                              (uid_t)json_integer_value(json_object_get(record, "uid")));
        }
}

/* One registry entry: the trail it names (absolute), else for the
 * daemon's own user the default place. */
static void followed_entry(struct serve *serve, const json_t *entry, uid_t uid,
                           serve_followed_fn *found, void *context)
{
        const char *session = json_string_value(json_object_get(entry, "session"));
        const char *trail = json_string_value(json_object_get(entry, "trail"));
        if (!followed_session_id(session))
                return;
        if (trail && trail[0] == '/') {
                found(context, session, trail, uid);
        } else if (uid == serve->uid) {
                cleanup_free char *path = audit_trail_default_path(session, NULL);
                if (path)
                        found(context, session, path, uid);
        }
}

/* The daemon's user's registry: its `reins run` sessions. */
static void followed_registry(struct serve *serve, serve_followed_fn *found, void *context)
{
        json_auto_t *entries = NULL;
        if (runtime_list(&entries, NULL) < 0)
                return;
        size_t i;
        json_t *entry;
        json_array_foreach(entries, i, entry)
        {
                followed_entry(serve, entry, serve->uid, found, context);
        }
}

/* Another user's registry (root only), its entries read as that user's
 * files (runtime_read_entry_of: regular, theirs, bounded, no link). */
static void followed_user_registry(struct serve *serve, uid_t uid, serve_followed_fn *found,
                                   void *context)
{
        cleanup_free char *dir = NULL;
        if (serve_user_registry(uid, &dir) < 0)
                return;
        cleanup_closedir DIR *d = opendir(dir);
        struct dirent *de;
        while (d && (de = readdir(d))) {
                size_t length = strlen(de->d_name);
                if (de->d_name[0] == '.' || length != 24 + 5 ||
                    strcmp(de->d_name + 24, ".json") != 0)
                        continue;
                json_auto_t *entry = runtime_read_entry_of(dirfd(d), de->d_name, uid);
                if (entry)
                        followed_entry(serve, entry, uid, found, context);
        }
}

/* The uids that may have a registry: /run/user/UID, /tmp/reins-UID. */
static void followed_all_users(struct serve *serve, serve_followed_fn *found, void *context)
{
        static const struct {
                const char *dir, *prefix;
        } places[] = {{"/run/user", ""}, {"/tmp", "reins-"}};
        size_t looked = 0;
        for (size_t p = 0; p < sizeof(places) / sizeof(places[0]); p++) {
                cleanup_closedir DIR *d = opendir(places[p].dir);
                struct dirent *de;
                size_t skip = strlen(places[p].prefix);
                while (d && (de = readdir(d)) && looked < FOLLOWED_MAX_USERS) {
                        const char *digits = de->d_name + skip;
                        if (strncmp(de->d_name, places[p].prefix, skip) != 0 || !digits[0] ||
                            strspn(digits, "0123456789") != strlen(digits) || strlen(digits) > 10)
                                continue;
                        unsigned long uid = strtoul(digits, NULL, 10);
                        if (uid == serve->uid || uid >= (uid_t)-1)
                                continue;
                        looked++;
                        /* the same uid may be in both places: serve_user_registry
                         * picks one, so the second look finds the same entries */
                        if (p == 1) {
                                char run[64];
                                struct stat st;
                                snprintf(run, sizeof(run), "/run/user/%lu/reins", uid);
                                if (lstat(run, &st) == 0 && S_ISDIR(st.st_mode) &&
                                    st.st_uid == (uid_t)uid && (st.st_mode & 077) == 0)
                                        continue;
                        }
                        followed_user_registry(serve, (uid_t)uid, found, context);
                }
        }
}

/* The daemon's user's trail directory: trails written since `since`, or
 * known to the caller. */
static void followed_recent(struct serve *serve, struct serve_followed *state, const json_t *known,
                            serve_followed_fn *found, void *context)
{
        cleanup_free char *dir = audit_trail_dir(NULL);
        cleanup_closedir DIR *d = dir ? opendir(dir) : NULL;
        struct stat dir_st;
        if (!d || fstat(dirfd(d), &dir_st) < 0)
                return;
        /* a new trail changes the directory; the trails already seen are
         * followed by the caller from then on: one stat per look, not one
         * per trail the user ever wrote */
        if (state->dir_read && dir_st.st_mtim.tv_sec == state->dir_mtime.tv_sec &&
            dir_st.st_mtim.tv_nsec == state->dir_mtime.tv_nsec)
                return;
        state->dir_mtime = dir_st.st_mtim;
        state->dir_read = true;
        time_t since = state->since;
        struct dirent *de;
        char id[25];
        while ((de = readdir(d))) {
                struct stat st;
                if (!followed_trail_name(de->d_name, "", id) ||
                    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    !S_ISREG(st.st_mode) || (st.st_mtime < since && !json_object_get(known, id)))
                        continue;
                cleanup_free char *path = path_join(dir, de->d_name);
                if (path)
                        found(context, id, path, serve->uid);
        }
}

void serve_followed_each(struct serve *serve, struct serve_followed *state, const json_t *known,
                         serve_followed_fn *found, void *context)
{
        followed_own(serve, found, context);
        followed_records(serve, found, context);
        followed_registry(serve, found, context);
        if (serve->uid == 0)
                followed_all_users(serve, found, context);
        followed_recent(serve, state, known, found, context);
}
