/* Protected paths in a direct workspace: what the host runs or trusts later
 * without asking (workspace/protect.c holds the list) must read the same
 * after the session, whatever the agent renames, replaces or redirects.
 *
 *  - each protected path that exists is bound read-only onto itself
 *    (writes fail with EROFS);
 *  - each of its ancestors inside the workspace is made a mount point
 *    (MOUNT_OP_PIN): a mount point cannot be renamed or removed (EBUSY), so
 *    `mv .git .gitold; mkdir .git` or `mv ci ci-old; mkdir ci` fails and the
 *    path keeps naming the protected file;
 *  - the workspace's .git directory is an overlay whose upper layer is
 *    private to reins (MOUNT_OP_GITDIR): a name git would read that does not
 *    exist yet (commondir, config.worktree, info/, worktrees/, modules/…)
 *    can be created inside, never on the host; git's own data (HEAD, index,
 *    refs, logs…) is written back when the session ends, and objects/ is the
 *    host's, bound through;
 *  - a protected directory that does not exist (.claude, .vscode …) is
 *    created empty on the host and bound read-only: a directory cannot be
 *    bound without a mount point. It is removed at the end if still empty.
 *
 * Start-up looks at a fixed list of paths and at the ancestors of protected
 * paths only; it never walks the workspace (a policy pattern with "**" is
 * the exception the user asked for). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/glob.h"
#include "sandbox/plan_internal.h"
#include "util/weaken.h"
#include "util/cleanup.h"
#include "util/path.h"
#include "workspace/protect.h"

/* Names in a git directory that git reads for configuration or code, or that
 * redirect it elsewhere: read-only when they exist (the overlay keeps the
 * others from reaching the host). */
static const char *const git_protected_names[] = {
    "config", "config.worktree", "commondir", "gitdir", "hooks", "info", "worktrees", "modules",
};

/* Default protected directories created empty when missing (a file cannot
 * be created on the host without changing what tools read there; an empty
 * directory reads as "no settings"). */
static const char *const placeholder_dirs[] = {".claude", ".codex",  ".cursor",
                                               ".gemini", ".vscode", ".reins"};

bool plan_is_placeholder_name(const char *name)
{
        for (size_t i = 0; i < sizeof(placeholder_dirs) / sizeof(placeholder_dirs[0]); i++)
                if (strcmp(name, placeholder_dirs[i]) == 0)
                        return true;
        return false;
}

static int compare_paths(const void *a, const void *b)
{
        return path_compare_components(*(char *const *)a, *(char *const *)b);
}

static bool plan_targets(const struct reins_plan *plan, const char *target)
{
        for (size_t i = 0; i < plan->mount_count; i++)
                if (strcmp(plan->mounts[i].target, target) == 0)
                        return true;
        return false;
}

static bool is_plain_dir(const char *path)
{
        struct stat st;
        return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int plan_add_gitdir(struct reins_plan *plan, struct reins_error *err)
{
        if (weaken("protect"))
                return 0;
        cleanup_free char *git = path_join(plan->workspace, ".git");
        cleanup_free char *objects = git ? path_join(git, "objects") : NULL;
        if (!objects)
                return reins_error_set(err, ENOMEM, "out of memory");
        if (!is_plain_dir(git))
                return 0; /* no repository, or a .git file: protected as a file */
        if (plan_add_mount(plan, MOUNT_OP_GITDIR, git, git, 0) < 0)
                return reins_error_set(err, ENOMEM, "out of memory");
        plan->mounts[plan->mount_count - 1].nested = true;
        plan->mounts[plan->mount_count - 1].optional = plan->allow_degraded;
        /* objects are content-addressed: nothing in them runs, and they are
         * the bulk of a repository, so they are the host's own */
        if (is_plain_dir(objects)) {
                if (plan_add_mount(plan, MOUNT_OP_BIND_RW, objects, objects, 0) < 0)
                        return reins_error_set(err, ENOMEM, "out of memory");
                plan->mounts[plan->mount_count - 1].nested = true;
        }
        plan->gitdir = steal_ptr(&git);
        return 0;
}

/* Spare empty directories (plan->spare_dir, in reins' private state): a
 * placeholder is renamed in from there and renamed back when the session
 * ends, instead of made and removed. Making and removing a directory costs a
 * block allocated and freed, and on ext4 mounted with `discard` the free
 * waits for the device: 0.5-3 ms per directory on this project's VM, six
 * of them at the end of every run in a workspace without them. A rename
 * allocates nothing. It needs the workspace and the state directory on one
 * mount; elsewhere (EXDEV) the placeholder is made and removed as before. */
#define SPARE_MAX 32 /* spares kept; past it a placeholder is removed */

struct spares {
        bool opened;
        int dir; /* -1: no spare directory */
        struct reins_strv names;
};

/* Listed once, when the first placeholder is needed. */
static void spares_open(const struct reins_plan *plan, struct spares *spares)
{
        if (spares->opened)
                return;
        spares->opened = true;
        spares->dir = -1;
        if (!plan->spare_dir)
                return;
        int fd = open(plan->spare_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return;
        int listing = dup(fd);
        DIR *d = listing >= 0 ? fdopendir(listing) : NULL;
        if (!d) {
                if (listing >= 0)
                        close(listing);
                close(fd);
                return;
        }
        struct dirent *de;
        while ((de = readdir(d)) && spares->names.count < SPARE_MAX)
                if (strncmp(de->d_name, "d-", 2) == 0 && strv_push(&spares->names, de->d_name) < 0)
                        break;
        closedir(d);
        spares->dir = fd;
}

static void spares_close(struct spares *spares)
{
        if (spares->dir >= 0)
                close(spares->dir);
        strv_free(&spares->names);
}

/* `name` in the workspace from a spare; false when none could be had (none
 * left, another filesystem, or `name` appeared meanwhile). */
static bool spares_take(const struct reins_plan *plan, struct spares *spares, int workspace,
                        const char *name)
{
        spares_open(plan, spares);
        for (size_t i = 0; spares->dir >= 0 && i < spares->names.count; i++) {
                if (renameat2(spares->dir, spares->names.items[i], workspace, name,
                              RENAME_NOREPLACE) == 0)
                        return true;
                if (errno != ENOENT) /* ENOENT: another session took that one */
                        return false;
        }
        return false;
}

/* A missing default directory: a spare renamed in, or made empty (never
 * through a symlink); recorded for the end. */
static int plan_add_placeholder(struct reins_plan *plan, int workspace, struct spares *spares,
                                const char *name, struct reins_strv *matches)
{
        cleanup_free char *path = path_join(plan->workspace, name);
        if (!path)
                return -ENOMEM;
        struct stat st;
        if (fstatat(workspace, name, &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT)
                return 0; /* exists (then it is collected as a match), or unknown */
        if (!spares_take(plan, spares, workspace, name) && mkdirat(workspace, name, 0755) < 0)
                return 0; /* the caller cannot create it: nor can the sandbox */
        int r = strv_push(&plan->placeholders, path);
        return r < 0 ? r : strv_push_unique(matches, path);
}

/* Protected entries of the git directory `git` (absolute). A .git that is
 * a file (a linked worktree or a submodule's checkout names its git
 * directory in it) is itself protected. */
static int plan_collect_gitdir(const char *git, struct reins_strv *matches)
{
        struct stat st;
        if (lstat(git, &st) < 0 || S_ISLNK(st.st_mode))
                return 0;
        if (!S_ISDIR(st.st_mode))
                return strv_push_unique(matches, git);
        for (size_t i = 0; i < sizeof(git_protected_names) / sizeof(git_protected_names[0]); i++) {
                cleanup_free char *entry = path_join(git, git_protected_names[i]);
                if (!entry)
                        return -ENOMEM;
                if (lstat(entry, &st) == 0 && strv_push_unique(matches, entry) < 0)
                        return -ENOMEM;
        }
        return 0;
}

/* .gitmodules is read at most this far (a fixed file, not a walk). */
#define GITMODULES_MAX 65536

/* Submodules whose git directory is embedded in their checkout (sub/.git is
 * a directory: the old layout) or named by a sub/.git file: the host's git
 * enters them on `git status`, so their config and hooks are protected like
 * the top one's. Their paths come from .gitmodules (never followed through a
 * symlink, read up to GITMODULES_MAX). */
static int plan_collect_submodules(const struct reins_plan *plan, struct reins_strv *matches)
{
        int workspace = open(plan->workspace, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (workspace < 0)
                return 0;
        int fd = openat(workspace, ".gitmodules", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        close(workspace);
        if (fd < 0)
                return 0;
        cleanup_free char *text = malloc(GITMODULES_MAX + 1);
        ssize_t n = text ? read(fd, text, GITMODULES_MAX) : -1;
        close(fd);
        if (n <= 0)
                return text ? 0 : -ENOMEM;
        text[n] = '\0';
        int r = 0;
        for (char *save = NULL, *line = strtok_r(text, "\n", &save); r == 0 && line;
             line = strtok_r(NULL, "\n", &save)) {
                while (*line == ' ' || *line == '\t')
                        line++;
                if (strncmp(line, "path", 4) != 0)
                        continue;
                char *value = line + 4;
                while (*value == ' ' || *value == '\t')
                        value++;
                if (*value++ != '=')
                        continue;
                while (*value == ' ' || *value == '\t')
                        value++;
                size_t len = strcspn(value, "\r");
                while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t'))
                        len--;
                value[len] = '\0';
                /* relative, no way up: anything else is not a submodule path */
                if (len == 0 || value[0] == '/' || strstr(value, "..") || value[0] == '"')
                        continue;
                cleanup_free char *sub = path_join(plan->workspace, value);
                cleanup_free char *git = sub ? path_join(sub, ".git") : NULL;
                r = git ? plan_collect_gitdir(git, matches) : -ENOMEM;
        }
        return r;
}

/* core.hooksPath into the work tree (husky and friends): the hooks the
 * host's next commit runs are protected too. */
static int plan_collect_hooks_path(const struct reins_plan *plan, struct reins_strv *matches)
{
        cleanup_free char *relative = workspace_protect_hooks_path(plan->workspace);
        if (!relative)
                return 0;
        cleanup_free char *dir = path_join(plan->workspace, relative);
        if (!dir)
                return -ENOMEM;
        return is_plain_dir(dir) ? strv_push_unique(matches, dir) : 0;
}

static int plan_collect_git(const struct reins_plan *plan, struct reins_strv *matches)
{
        cleanup_free char *git = path_join(plan->workspace, ".git");
        if (!git)
                return -ENOMEM;
        int r = plan_collect_gitdir(git, matches);
        if (r == 0)
                r = plan_collect_submodules(plan, matches);
        return r < 0 ? r : plan_collect_hooks_path(plan, matches);
}

/* A protected path that does not exist yet, below an existing directory of
 * the workspace (`protect: [ci/build.sh]` with no build.sh): that directory
 * is protected whole, or the agent could create the file. At the workspace
 * root there is nothing to bind; the end of the session reports it. */
static int plan_collect_missing(const struct reins_plan *plan, const char *anchored,
                                struct reins_strv *matches)
{
        if (!glob_is_literal(anchored) || !path_is_under(anchored, plan->workspace))
                return 0;
        struct stat st;
        if (lstat(anchored, &st) == 0)
                return 0;
        cleanup_free char *dir = strdup(anchored);
        if (!dir)
                return -ENOMEM;
        for (;;) {
                char *slash = strrchr(dir, '/');
                if (!slash)
                        return 0;
                *slash = '\0';
                if (strcmp(dir, plan->workspace) == 0 || !path_is_under(dir, plan->workspace))
                        return 0;
                if (lstat(dir, &st) == 0)
                        return S_ISDIR(st.st_mode) && !plan_targets(plan, dir)
                                   ? strv_push_unique(matches, dir)
                                   : 0;
        }
}

static int plan_collect_protected(struct reins_plan *plan, const struct reins_policy *policy,
                                  struct reins_strv *matches)
{
        struct reins_strv patterns = {0};
        const char *const *defaults = workspace_protect_default_list();
        int r = 0;
        /* the literal defaults only: a glob would walk (.claude of a home
         * directory holds an agent's whole history); apply flags the rest */
        for (size_t i = 0; r == 0 && defaults[i]; i++)
                if (glob_is_literal(defaults[i]))
                        r = strv_push_unique(&patterns, defaults[i]);
        for (size_t i = 0; r == 0 && i < policy->filesystem.protect.count; i++)
                r = strv_push_unique(&patterns, policy->filesystem.protect.items[i]);
        for (size_t i = 0; r == 0 && i < patterns.count; i++) {
                char *anchored =
                    plan_anchor_pattern(patterns.items[i], plan->workspace, plan->home, false);
                if (!anchored)
                        continue;
                char *one[] = {anchored};
                r = plan_collect_matches(one, 1, plan->workspace, matches);
                if (r == 0 && !weaken("protect"))
                        r = plan_collect_missing(plan, anchored, matches);
                free(anchored);
        }
        strv_free(&patterns);
        if (r < 0 || weaken("protect"))
                return r;
        r = plan_collect_git(plan, matches);
        if (r < 0)
                return r;
        int workspace = open(plan->workspace, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (workspace < 0)
                return 0;
        struct spares spares = {.dir = -1};
        for (size_t i = 0; r == 0 && i < sizeof(placeholder_dirs) / sizeof(placeholder_dirs[0]);
             i++)
                r = plan_add_placeholder(plan, workspace, &spares, placeholder_dirs[i], matches);
        spares_close(&spares);
        close(workspace);
        return r;
}

/* Every directory strictly between the workspace and a protected path. */
static int plan_collect_ancestors(const struct reins_plan *plan, const struct reins_strv *kept,
                                  struct reins_strv *pins)
{
        for (size_t i = 0; i < kept->count; i++) {
                cleanup_free char *dir = strdup(kept->items[i]);
                if (!dir)
                        return -ENOMEM;
                for (char *slash = strrchr(dir, '/'); slash; slash = strrchr(dir, '/')) {
                        *slash = '\0';
                        if (!path_is_under(dir, plan->workspace) ||
                            strcmp(dir, plan->workspace) == 0)
                                break;
                        if (!plan_targets(plan, dir) && strv_push_unique(pins, dir) < 0)
                                return -ENOMEM;
                }
        }
        return 0;
}

int plan_add_protect(struct reins_plan *plan, const struct reins_policy *policy, bool readonly,
                     struct reins_error *err)
{
        if (readonly)
                return 0; /* the whole workspace is read-only (or an overlay) already */
        struct reins_strv matches = {0}, kept = {0}, pins = {0};
        int r = plan_collect_protected(plan, policy, &matches);
        if (r == 0 && matches.count > 0) {
                qsort(matches.items, matches.count, sizeof(char *), compare_paths);
                /* a protect target that is also hidden stays hidden */
                for (size_t i = 0; r == 0 && i < matches.count; i++)
                        if (!plan_path_denied(plan, matches.items[i]))
                                r = strv_push(&kept, matches.items[i]);
                if (r == 0 && !weaken("protect"))
                        r = plan_collect_ancestors(plan, &kept, &pins);
                if (r == 0 && pins.count > 0) {
                        /* parents first: a pin clones what is mounted below it */
                        qsort(pins.items, pins.count, sizeof(char *), compare_paths);
                        for (size_t i = 0; r == 0 && i < pins.count; i++)
                                if (is_plain_dir(pins.items[i]))
                                        r = plan_add_mount(plan, MOUNT_OP_PIN, NULL, pins.items[i],
                                                           0);
                }
                if (r == 0)
                        r = plan_add_matches(plan, &kept, MOUNT_OP_PROTECT);
        }
        strv_free(&matches);
        strv_free(&kept);
        strv_free(&pins);
        if (r == -E2BIG)
                return reins_error_set(err, E2BIG, "filesystem.protect: too many entries to scan");
        return r < 0 ? reins_error_set(err, -r, "filesystem.protect: %s", strerror(-r)) : 0;
}

int plan_set_gitdir(struct reins_plan *plan, const char *upper, const char *work)
{
        return plan_set_layers(plan, MOUNT_OP_GITDIR, upper, work);
}

/* An empty directory of ours, no more open than the 0755 reins gives it
 * (less under a stricter umask), not a link: what a placeholder must still
 * be to go back to the spares (anything else is left alone, or removed only
 * when empty, as rmdir does). */
static bool placeholder_is_empty_dir(int dir, const char *name)
{
        int fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return false;
        struct stat st;
        DIR *d = fstat(fd, &st) == 0 && st.st_uid == geteuid() && (st.st_mode & 07777 & ~0755) == 0
                     ? fdopendir(fd)
                     : NULL;
        if (!d) {
                close(fd);
                return false;
        }
        struct dirent *de;
        bool empty = true;
        while (empty && (de = readdir(d)))
                empty = strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0;
        closedir(d);
        return empty;
}

/* Back to the spares, still empty; false: not done (the caller removes it
 * when empty). Something written into it between the check and the rename
 * goes back to the workspace. */
static bool spares_give_back(int spares_dir, size_t count, int workspace, const char *name)
{
        if (spares_dir < 0 || count >= SPARE_MAX || !placeholder_is_empty_dir(workspace, name))
                return false;
        unsigned char random[8];
        char spare[2 + 2 * sizeof(random) + 1] = "d-";
        if (getrandom(random, sizeof(random), 0) != (ssize_t)sizeof(random))
                return false;
        for (size_t i = 0; i < sizeof(random); i++)
                snprintf(spare + 2 + 2 * i, 3, "%02x", random[i]);
        if (renameat2(workspace, name, spares_dir, spare, RENAME_NOREPLACE) < 0)
                return false;
        if (!placeholder_is_empty_dir(spares_dir, spare) &&
            renameat2(spares_dir, spare, workspace, name, RENAME_NOREPLACE) < 0) {
                /* the name was taken meanwhile too: kept aside, never a spare */
                char kept[sizeof(spare)];
                memcpy(kept, spare, sizeof(kept));
                kept[0] = 'k';
                (void)renameat2(spares_dir, spare, spares_dir, kept, RENAME_NOREPLACE);
        }
        return true;
}

void plan_remove_placeholders(struct reins_plan *plan)
{
        if (!plan || plan->placeholders.count == 0)
                return;
        int workspace = open(plan->workspace, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (workspace < 0)
                return;
        struct spares spares = {.dir = -1};
        spares_open(plan, &spares);
        size_t count = spares.names.count;
        for (size_t i = 0; i < plan->placeholders.count; i++) {
                const char *name = plan->placeholders.items[i] + strlen(plan->workspace) + 1;
                if (spares_give_back(spares.dir, count, workspace, name))
                        count++;
                else
                        (void)unlinkat(workspace, name, AT_REMOVEDIR); /* only when still empty */
        }
        spares_close(&spares);
        close(workspace);
        strv_free(&plan->placeholders);
}
