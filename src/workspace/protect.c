#include "workspace/protect.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "util/glob.h"
#include "util/weaken.h"
#include "workspace/session.h"

/* The one list of what reins protects by default (the plan's read-only
 * binds in direct mode, apply's flags in overlay mode). A policy's
 * filesystem.protect adds to it; nothing removes from it. Entries without a
 * "**" are anchored at the workspace root: the direct mode binds those
 * (start-up looks at this fixed list only, never walks the workspace). */
const char *const workspace_protect_defaults[] = {
    /* reins' own files */
    ".reins",
    /* agents' and editors' permission and auto-run files: an agent that edits
     * its own permissions escalates (CVE-2025-53773); VS Code tasks can run
     * when the folder opens; project MCP servers start commands */
    ".claude/settings.json",
    ".claude/settings.local.json",
    ".claude/settings*.json",
    ".codex",
    ".cursor",
    ".gemini",
    ".mcp.json",
    ".vscode/settings.json",
    ".vscode/tasks.json",
    ".envrc", /* direnv runs it on cd */
    /* hooks that live in the work tree: pre-commit runs what its config
     * names on the host's next commit; husky's hooks (core.hooksPath) */
    ".pre-commit-config.yaml",
    ".husky",
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
    "**/.bashrc",
    "**/.zshrc",
    NULL,
};

/* What git itself writes in a git directory and runs no code from: commits,
 * branches, merges and rebases land through these. Everything else in a git
 * directory (config, config.worktree, hooks/, commondir, gitdir, info/,
 * worktrees/, modules/, and any name git may read tomorrow) is protected. */
static const char *const git_own_files[] = {
    "HEAD",        "ORIG_HEAD",        "FETCH_HEAD",  "MERGE_HEAD", "MERGE_MODE",
    "MERGE_MSG",   "CHERRY_PICK_HEAD", "REVERT_HEAD", "BISECT_LOG", "AUTO_MERGE",
    "SQUASH_MSG",  "COMMIT_EDITMSG",   "TAG_EDITMSG", "index",      "packed-refs",
    "description", "shallow",
};
static const char *const git_own_dirs[] = {"objects", "refs", "logs"};

bool workspace_protect_git_allowed(const char *rel)
{
        size_t first = strcspn(rel, "/");
        if (rel[first] == '\0') {
                for (size_t i = 0; i < sizeof(git_own_files) / sizeof(git_own_files[0]); i++)
                        if (strcmp(rel, git_own_files[i]) == 0)
                                return true;
        }
        for (size_t i = 0; i < sizeof(git_own_dirs) / sizeof(git_own_dirs[0]); i++)
                if (strlen(git_own_dirs[i]) == first && strncmp(rel, git_own_dirs[i], first) == 0)
                        return true;
        return false;
}

/* A path in or at a `.git` at any depth: the `.git` entry itself is
 * protected when it is created, replaced or removed as a whole (a `.git`
 * file is a gitdir pointer), and so is everything below it that is not git's
 * own data. */
static bool protect_git_path(const char *path)
{
        const char *p = path;
        for (;;) {
                const char *name = p;
                size_t len = strcspn(name, "/");
                if (len == 4 && strncmp(name, ".git", 4) == 0) {
                        if (name[len] == '\0')
                                return true;
                        return !workspace_protect_git_allowed(name + len + 1);
                }
                if (name[len] == '\0')
                        return false;
                p = name + len + 1;
        }
}

/* The list before issue 12, for the weakened build (REINS_WEAKEN=protect):
 * escape probes show what it let through. */
static const char *const workspace_protect_weak_defaults[] = {".git/hooks", ".git/config", ".reins",
                                                              NULL};

const char *const *workspace_protect_default_list(void)
{
        return weaken("protect") ? workspace_protect_weak_defaults : workspace_protect_defaults;
}

/* .git/config is read at most this far. */
#define GIT_CONFIG_MAX 65536

static char *protect_read_git_config(const char *workspace)
{
        int root = open(workspace, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (root < 0)
                return NULL;
        int git = openat(root, ".git", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        close(root);
        if (git < 0)
                return NULL;
        int fd = openat(git, "config", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        close(git);
        if (fd < 0)
                return NULL;
        char *text = malloc(GIT_CONFIG_MAX + 1);
        ssize_t n = text ? read(fd, text, GIT_CONFIG_MAX) : -1;
        close(fd);
        if (n < 0) {
                free(text);
                return NULL;
        }
        text[n] = '\0';
        return text;
}

char *workspace_protect_hooks_path(const char *workspace)
{
        char *text = protect_read_git_config(workspace);
        if (!text)
                return NULL;
        char *found = NULL;
        bool core = false;
        size_t root_len = strlen(workspace);
        for (char *save = NULL, *line = strtok_r(text, "\n", &save); line && !found;
             line = strtok_r(NULL, "\n", &save)) {
                while (*line == ' ' || *line == '\t')
                        line++;
                if (*line == '[') {
                        core = strncasecmp(line, "[core]", 6) == 0;
                        continue;
                }
                if (!core || strncasecmp(line, "hookspath", 9) != 0)
                        continue;
                char *value = line + 9;
                while (*value == ' ' || *value == '\t')
                        value++;
                if (*value++ != '=')
                        continue;
                while (*value == ' ' || *value == '\t' || *value == '"')
                        value++;
                size_t len = strcspn(value, "\"\r;#");
                while (len > 0 &&
                       (value[len - 1] == ' ' || value[len - 1] == '\t' || value[len - 1] == '/'))
                        len--;
                value[len] = '\0';
                while (value[0] == '.' && value[1] == '/')
                        value += 2;
                if (len == 0 || strstr(value, "..") || value[0] == '\0')
                        continue;
                if (value[0] == '/') {
                        /* absolute: only one inside the workspace matters here */
                        if (strncmp(value, workspace, root_len) == 0 && value[root_len] == '/' &&
                            value[root_len + 1])
                                found = strdup(value + root_len + 1);
                } else {
                        found = strdup(value); /* relative to the work tree's root */
                }
        }
        free(text);
        return found;
}

int workspace_protect_patterns(const json_t *meta, struct reins_strv *out)
{
        const char *const *defaults = workspace_protect_default_list();
        for (size_t i = 0; defaults[i]; i++)
                if (strv_push_unique(out, defaults[i]) < 0)
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
        bool hit = !weaken("protect") && protect_git_path(path);
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
        /* the hooks the host's next commit runs, wherever core.hooksPath
         * puts them in the work tree (read from the host's own .git/config) */
        char *hooks = weaken("protect") ? NULL : workspace_protect_hooks_path(session->lower);
        if (hooks && strv_push_unique(&patterns, hooks) < 0) {
                free(hooks);
                strv_free(&patterns);
                workspace_changes_free(out);
                return reins_error_set(err, ENOMEM, "out of memory");
        }
        free(hooks);
        workspace_protect_mark(&patterns, out);
        strv_free(&patterns);
        return 0;
}
