#include "session/protect.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/text.h"
#include "util/bytes_json.h"
#include "util/notice.h"
#include "util/text_escape.h"
#include "workspace/protect.h"

/* Protected names at the workspace root that cannot be bound read-only
 * before they exist (a file cannot be a mount point without creating it on
 * the host): the session creating one is recorded and reported. */
static const char *const session_protect_absent[] = {
    ".git",         ".mcp.json", ".envrc", ".bashrc", ".bash_profile", ".bash_login",
    ".bash_logout", ".profile",  ".zshrc", ".zshenv", ".zprofile",     ".zlogin",
};
#define ABSENT_COUNT (sizeof(session_protect_absent) / sizeof(session_protect_absent[0]))

int session_protect_start(struct session_protect *p, struct reins_plan *plan, const char *session,
                          struct reins_error *err)
{
        memset(p, 0, sizeof(*p));
        p->overlay_pending = plan->overlay;
        if (plan->overlay || plan->workspace_readonly)
                return 0;
        int workspace = open(plan->workspace, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (workspace >= 0) {
                struct stat st;
                for (size_t i = 0; i < ABSENT_COUNT; i++)
                        if (fstatat(workspace, session_protect_absent[i], &st,
                                    AT_SYMLINK_NOFOLLOW) < 0 &&
                            errno == ENOENT)
                                p->absent |= 1u << i;
                close(workspace);
        }
        if (!plan->gitdir)
                return 0;
        int r = workspace_gitdir_create(session, plan->gitdir, &p->gitdir, err);
        if (r < 0) {
                workspace_gitdir_free(&p->gitdir);
                return reins_error_prefix(err, "protecting %s", plan->gitdir);
        }
        p->has_gitdir = true;
        if (plan_set_gitdir(plan, p->gitdir.upper, p->gitdir.work) < 0)
                return reins_error_set(err, ENOMEM, "out of memory");
        return 0;
}

static void session_protect_emit(struct event_bus *events, const char *path, const char *action)
{
        event_emit(events, "file.protected_write",
                   json_pack("{s:o, s:s}", "path", bytes_json_z(path), "action", action));
}

/* A repository below the workspace root that the session created or
 * changed (sub/.git, sub/.git/config …): with an index entry for it, the
 * host's git would enter it and read its configuration. The first one found,
 * or "" when the comparison is incomplete (then assume one), or NULL. */
static const char *nested_in_list(const json_t *list, struct reins_strv *found)
{
        size_t index;
        json_t *item;
        json_array_foreach(list, index, item)
        {
                size_t length = 0;
                char *path = audit_value_bytes(item, &length);
                if (!path)
                        return "";
                bool top = strncmp(path, ".git/", 5) == 0 || strcmp(path, ".git") == 0;
                bool nested = !top && (strstr(path, "/.git/") ||
                                       (length >= 5 && strcmp(path + length - 5, "/.git") == 0));
                if (nested && found->count < 1)
                        strv_push(found, path);
                free(path);
                if (nested)
                        return found->count ? found->items[0] : "";
        }
        return NULL;
}

static const char *session_protect_nested(const json_t *changes, struct reins_strv *found)
{
        if (!changes)
                return NULL;
        if (!json_is_array(json_object_get(changes, "created")) ||
            json_is_true(json_object_get(changes, "truncated")))
                return ""; /* not compared, or not all listed: assume the worst */
        const char *hit = nested_in_list(json_object_get(changes, "created"), found);
        return hit ? hit : nested_in_list(json_object_get(changes, "modified"), found);
}

static void session_protect_sync(struct session_protect *p, const json_t *changes,
                                 struct event_bus *events, bool quiet)
{
        struct reins_error err = {0};
        struct workspace_gitdir_result result = {0};
        struct reins_strv found = {0};
        const char *nested = session_protect_nested(changes, &found);
        if (nested) {
                if (nested[0])
                        session_protect_emit(events, nested, "nested repository");
                /* the name is the agent's: notice() escapes the line */
                notice("warning: a git repository below the workspace root was created or "
                       "changed (%s); .git/index was kept out of the write-back, so your next "
                       "git status does not enter it: review it before `git reset`",
                       nested[0] ? nested : "the change list is incomplete");
        }
        strv_free(&found);
        if (workspace_gitdir_sync(&p->gitdir, nested != NULL, &result, &err) < 0) {
                /* the host's .git is as it was at the start; the private
                 * layer stays for a human to look at */
                notice(".git not updated: %s (the session's copy stays in %s)", err.message,
                       p->gitdir.dir);
                event_emit(events, "file.gitdir",
                           json_pack("{s:s, s:s}", "action", "failed", "error", err.message));
                strv_free(&result.protected);
                return;
        }
        for (size_t i = 0; i < result.protected.count; i++) {
                char path[4200];
                snprintf(path, sizeof(path), ".git/%s", result.protected.items[i]);
                session_protect_emit(events, path, "kept out");
        }
        event_emit(events, "file.gitdir",
                   json_pack("{s:s, s:I, s:I, s:I}", "action", "written back", "copied",
                             (json_int_t)result.copied, "failed", (json_int_t)result.failed,
                             "protected", (json_int_t)result.protected_count));
        if (result.failed > 0)
                notice("%zu of git's files could not be written back to .git", result.failed);
        if (result.protected_count > 0 && !quiet) {
                char list[2048] = "";
                size_t used = 0;
                for (size_t i = 0; i < result.protected.count && i < 10 && used < sizeof(list); i++)
                        used += (size_t)snprintf(list + used, sizeof(list) - used, " .git/%s",
                                                 result.protected.items[i]);
                notice("%zu protected path(s) in .git were changed inside the sandbox and kept "
                       "out of the host's .git:%s%s",
                       result.protected_count, list, result.protected_count > 10 ? " ..." : "");
        }
        strv_free(&result.protected);
        if (workspace_gitdir_remove(&p->gitdir, &err) < 0)
                notice("%s", err.message);
}

/* Overlay mode: the protected paths the session changed in its copy are
 * recorded now (apply will skip them); the events feed persistence-write. */
#define OVERLAY_EVENTS_MAX 64

static void session_protect_overlay(const struct workspace_session *session,
                                    struct event_bus *events)
{
        struct workspace_changes changes = {0};
        struct reins_error err = {0};
        if (!session || !session->upper ||
            workspace_session_changes(session, NULL, 0, &changes, &err) < 0)
                return;
        size_t emitted = 0;
        for (size_t i = 0; i < changes.count && emitted < OVERLAY_EVENTS_MAX; i++) {
                const struct workspace_change *ch = &changes.items[i];
                if (!ch->protected || ch->kind == WORKSPACE_REPLACED)
                        continue;
                session_protect_emit(events, ch->path, workspace_change_kind_name(ch->kind));
                emitted++;
        }
        workspace_changes_free(&changes);
}

void session_protect_finish(struct session_protect *p, struct reins_plan *plan,
                            const struct workspace_session *session, const json_t *changes,
                            struct event_bus *events, bool quiet)
{
        if (plan->overlay && p->overlay_pending) {
                p->overlay_pending = false;
                session_protect_overlay(session, events);
        }
        if (p->has_gitdir)
                session_protect_sync(p, changes, events, quiet);
        int workspace = open(plan->workspace, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (workspace >= 0) {
                struct stat st;
                for (size_t i = 0; i < ABSENT_COUNT; i++) {
                        if (!(p->absent & (1u << i)) ||
                            fstatat(workspace, session_protect_absent[i], &st,
                                    AT_SYMLINK_NOFOLLOW) < 0)
                                continue;
                        /* a new repository is what `git init` makes: recorded,
                         * said, not taken for persistence */
                        if (i == 0)
                                event_emit(events, "file.protected_created",
                                           json_pack("{s:s}", "path", session_protect_absent[i]));
                        else
                                session_protect_emit(events, session_protect_absent[i], "created");
                        notice("warning: the session created %s, which the host may run or "
                               "trust later: review it before you use this workspace outside reins",
                               session_protect_absent[i]);
                }
                close(workspace);
        }
        p->absent = 0;
        if (p->has_gitdir)
                workspace_gitdir_free(&p->gitdir);
        p->has_gitdir = false;
}
