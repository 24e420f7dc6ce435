/* Which sessions are the daemon's (cli/daemon_sessions.h). */
#include "cli/daemon_sessions.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"

int daemon_view_open(struct daemon_view *view, const char *requested, struct reins_error *err)
{
        *view = (struct daemon_view){0};
        int r = daemon_client_find(requested, &view->client, err);
        if (r < 0)
                return r;
        view->found = r == 1;
        return 0;
}

void daemon_view_close(struct daemon_view *view)
{
        json_decref(view->sessions);
        view->sessions = NULL;
}

json_t *daemon_view_sessions(struct daemon_view *view)
{
        if (!view->found || view->sessions_error < 0)
                return NULL;
        if (view->sessions)
                return view->sessions;
        json_t *list = NULL;
        int r = daemon_client_call(&view->client, "GET", "/v1/sessions", NULL, DAEMON_READ_TIMEOUT,
                                   NULL, &list, &view->error);
        if (r == 0 && !json_is_array(list)) {
                json_decref(list);
                r = reins_error_set(&view->error, EPROTO,
                                    "reins serve (%s): /v1/sessions is not a list",
                                    view->client.socket_path);
        }
        if (r < 0) {
                view->sessions_error = r;
                return NULL;
        }
        view->sessions = list;
        return list;
}

bool daemon_entry_started_here(const json_t *entry)
{
        return json_is_object(json_object_get(entry, "serve"));
}

static const char *daemon_entry_id(const json_t *entry)
{
        return json_string_value(json_object_get(entry, "session"));
}

/* The daemon's entry whose id is `id` exactly. */
static json_t *daemon_view_exact(json_t *sessions, const char *id)
{
        size_t i;
        json_t *entry;
        json_array_foreach(sessions, i, entry)
        {
                const char *candidate = daemon_entry_id(entry);
                if (candidate && strcmp(candidate, id) == 0)
                        return entry;
        }
        return NULL;
}

/* An id fit for a path segment of the API (what the daemon's routes take). */
static bool daemon_id_valid(const char *id)
{
        size_t n = id ? strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   "0123456789-_")
                      : 0;
        return n > 0 && n <= 64 && id[n] == '\0';
}

int daemon_view_route(struct daemon_view *view, const char *local_id, const char *prefix,
                      const char **id, struct reins_error *err)
{
        if (!view->found)
                return 0;
        json_t *sessions = daemon_view_sessions(view);
        if (!sessions) {
                /* a session of the user's own registry is the user's to
                 * handle: the daemon's roles govern the API, not it */
                if (local_id)
                        return 0;
                *err = view->error;
                return view->sessions_error;
        }
        if (local_id) {
                json_t *entry = daemon_view_exact(sessions, local_id);
                if (!entry || !daemon_entry_started_here(entry) ||
                    !daemon_id_valid(daemon_entry_id(entry)))
                        return 0;
                *id = daemon_entry_id(entry);
                return 1;
        }
        /* only the daemon sees it: by the id or a unique prefix of one */
        json_t *entry = daemon_view_exact(sessions, prefix);
        if (!entry && prefix[0]) {
                size_t matches = 0, i;
                json_t *candidate;
                json_array_foreach(sessions, i, candidate)
                {
                        const char *cid = daemon_entry_id(candidate);
                        if (cid && strncmp(cid, prefix, strlen(prefix)) == 0) {
                                matches++;
                                entry = candidate;
                        }
                }
                if (matches > 1)
                        return reins_error_set(err, EEXIST,
                                               "session prefix '%s' names %zu sessions of reins "
                                               "serve (%s): give more of the id",
                                               prefix, matches, view->client.socket_path);
        }
        if (!entry || !daemon_id_valid(daemon_entry_id(entry)))
                return 0;
        *id = daemon_entry_id(entry);
        return 1;
}

void daemon_view_merge_sessions(struct daemon_view *view, json_t *local, bool ended)
{
        json_t *sessions = daemon_view_sessions(view);
        size_t i;
        json_t *entry;
        json_array_foreach(sessions, i, entry)
        {
                const char *id = daemon_entry_id(entry);
                if (!id)
                        continue;
                json_t *mine = daemon_view_exact(local, id);
                if (mine) {
                        /* listed once; marked when the daemon started it */
                        if (daemon_entry_started_here(entry)) {
                                json_object_set_new(mine, "via", json_string("serve"));
                                json_object_set(mine, "serve", json_object_get(entry, "serve"));
                        }
                        continue;
                }
                if (!ended && !json_is_true(json_object_get(entry, "alive")))
                        continue;
                json_t *copy = json_deep_copy(entry);
                if (copy) {
                        json_object_set_new(copy, "via", json_string("serve"));
                        json_array_append_new(local, copy);
                }
        }
}

char *daemon_session_path(const char *id, const char *suffix)
{
        char *path = NULL;
        if (asprintf(&path, "/v1/sessions/%s%s%s", id, suffix && suffix[0] ? "/" : "",
                     suffix ? suffix : "") < 0)
                return NULL;
        return path;
}

char *daemon_query_escape(const char *text)
{
        static const char hex[] = "0123456789ABCDEF";
        size_t n = strlen(text);
        char *out = malloc(n * 3 + 1);
        if (!out)
                return NULL;
        char *p = out;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)text[i];
                if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == '~') {
                        *p++ = (char)c;
                } else {
                        *p++ = '%';
                        *p++ = hex[c >> 4];
                        *p++ = hex[c & 15];
                }
        }
        *p = '\0';
        return out;
}
