#include "workspace/protect.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy/glob.h"
#include "workspace/session.h"

const char *const workspace_protect_defaults[] = {
    /* run by git on the host at the next commit / fetch / checkout */
    ".git/hooks",
    "**/.git/hooks",
    ".git/config",
    "**/.git/config",
    ".git/info/attributes",
    /* reins' own files */
    ".reins",
    /* agent and editor settings that start commands */
    ".claude/settings*.json",
    ".mcp.json",
    ".vscode/tasks.json",
    ".vscode/settings.json",
    ".envrc", /* direnv runs it on cd */
    /* shell start-up files (a workspace that is a home directory) */
    ".bashrc",
    ".bash_profile",
    ".bash_login",
    ".bash_logout",
    ".profile",
    ".zshrc",
    ".zshenv",
    ".zprofile",
    ".zlogin",
    NULL,
};

int workspace_protect_patterns(const json_t *meta, struct reins_strv *out)
{
        for (size_t i = 0; workspace_protect_defaults[i]; i++)
                if (strv_push_unique(out, workspace_protect_defaults[i]) < 0)
                        return -1;
        json_t *list = json_object_get(meta, "protect");
        size_t index;
        json_t *item;
        json_array_foreach(list, index, item)
        {
                const char *pattern = json_string_value(item);
                const char *why;
                if (!pattern)
                        continue;
                while (pattern[0] == '.' && pattern[1] == '/')
                        pattern += 2; /* "./x" means "x" */
                if (pattern[0] == '\0' || glob_validate(pattern, &why) != 0)
                        continue;
                if (strv_push_unique(out, pattern) < 0)
                        return -1;
        }
        return 0;
}

bool workspace_protect_matches(const struct reins_strv *patterns, const char *path)
{
        size_t n = strlen(path);
        char *buf = malloc(n + 1);
        if (!buf)
                return true; /* fail closed */
        memcpy(buf, path, n + 1);
        bool hit = false;
        /* the path itself, then each ancestor: ".git/hooks" covers what is below */
        for (;;) {
                for (size_t i = 0; i < patterns->count && !hit; i++)
                        hit = glob_match(patterns->items[i], buf);
                char *slash = strrchr(buf, '/');
                if (hit || !slash)
                        break;
                *slash = '\0';
        }
        free(buf);
        return hit;
}

void workspace_protect_mark(const struct reins_strv *patterns, struct workspace_changes *changes)
{
        for (size_t i = 0; i < changes->count; i++)
                changes->items[i].protected =
                    changes->items[i].path[0] != '\0' &&
                    workspace_protect_matches(patterns, changes->items[i].path);
        /* Removing a directory (deleted, or replaced by a file) takes what is
         * below with it: protected below means protected here. Changes are in
         * path order, so the entries below a directory follow it. */
        for (size_t i = 0; i < changes->count; i++) {
                struct workspace_change *ch = &changes->items[i];
                if (ch->protected || !S_ISDIR(ch->old.mode) ||
                    (ch->kind != WORKSPACE_DELETED && ch->kind != WORKSPACE_TYPE_CHANGED))
                        continue;
                size_t len = strlen(ch->path);
                for (size_t j = i + 1; j < changes->count; j++) {
                        const char *p = changes->items[j].path;
                        if (strncmp(p, ch->path, len) != 0 || p[len] != '/')
                                break;
                        if (changes->items[j].protected) {
                                ch->protected = true;
                                break;
                        }
                }
        }
}

int workspace_session_changes(const struct workspace_session *session, char *const *paths,
                              size_t path_count, struct workspace_changes *out,
                              struct reins_error *err)
{
        /* only below `paths`: a session past the scan's caps can be taken in parts */
        int r = workspace_scan_paths(session->upper, session->lower, paths, path_count, out, err);
        if (r < 0)
                return reins_error_prefix(err, "session %s", session->id);
        if (path_count > 0)
                workspace_changes_filter(out, paths, path_count);
        struct reins_strv patterns = {0};
        if (workspace_protect_patterns(session->meta, &patterns) < 0) {
                strv_free(&patterns);
                workspace_changes_free(out);
                return reins_error_set(err, ENOMEM, "out of memory");
        }
        workspace_protect_mark(&patterns, out);
        strv_free(&patterns);
        return 0;
}
