/* A delegation token's `path` list (the workspace paths it allows writing),
 * turned into mounts: the workspace is bound read-only and each existing
 * path the token allows is bound read-write on top of it. A directory is
 * bound whole when everything below it would match ("docs/" then "**"); otherwise
 * the walk goes on into it and binds the matching files one by one. A new
 * file can therefore only be created inside a directory bound whole.
 * Symlinks are never bound (a write through one could land outside). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/glob.h"
#include "sandbox/plan_internal.h"
#include "util/path.h"

#define WRITABLE_WALK_MAX_ENTRIES 200000

struct writable_walk {
        struct reins_plan *plan;
        const struct plan_write_limit *limit;
        size_t root_len;
        size_t visited;
};

/* Every set allows `rel` when one of its globs matches. */
static bool writable_allows(const struct plan_write_limit *limit, const char *rel)
{
        for (size_t s = 0; s < limit->count; s++) {
                bool any = false;
                for (size_t i = 0; !any && i < limit->sets[s].count; i++)
                        any = glob_match(limit->sets[s].items[i], rel);
                if (!any)
                        return false;
        }
        return true;
}

/* Would everything below directory `rel` match? (a probe name no real
 * pattern names: a trailing double star matches it, "*.md" does not) */
static bool writable_allows_below(const struct plan_write_limit *limit, const char *rel)
{
        char *probe = NULL;
        if (asprintf(&probe, "%s/\x01probe", rel) < 0)
                return false;
        bool yes = writable_allows(limit, probe);
        free(probe);
        return yes;
}

static int writable_walk_dir(struct writable_walk *w, const char *dir);

static int writable_visit(struct writable_walk *w, const char *path)
{
        if (++w->visited > WRITABLE_WALK_MAX_ENTRIES)
                return -E2BIG;
        struct stat st;
        if (lstat(path, &st) < 0 || S_ISLNK(st.st_mode))
                return 0;
        const char *rel = path + w->root_len + 1;
        bool dir = S_ISDIR(st.st_mode);
        if ((dir && writable_allows_below(w->limit, rel)) ||
            (!dir && writable_allows(w->limit, rel)))
                return plan_add_mount(w->plan, MOUNT_OP_BIND_RW, path, path, 0);
        return dir ? writable_walk_dir(w, path) : 0;
}

static int writable_walk_dir(struct writable_walk *w, const char *dir)
{
        DIR *d = opendir(dir);
        if (!d)
                return 0;
        int r = 0;
        struct dirent *entry;
        while (r == 0 && (entry = readdir(d))) {
                if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
                        continue;
                char *child = path_join(dir, entry->d_name);
                r = child ? writable_visit(w, child) : -ENOMEM;
                free(child);
        }
        closedir(d);
        return r;
}

int plan_limit_writes(struct reins_plan *plan, const struct plan_write_limit *limit,
                      struct reins_error *err)
{
        if (!limit || limit->count == 0 || plan->workspace_readonly)
                return 0;
        if (plan->overlay)
                return reins_error_set(err, EINVAL,
                                       "the token limits which workspace paths may be written; "
                                       "that is enforced in the direct workspace mode only "
                                       "(drop --workspace-mode overlay, or mint the token "
                                       "without --path)");
        struct mount_op *workspace = NULL;
        for (size_t i = 0; i < plan->mount_count; i++)
                if (plan->mounts[i].kind == MOUNT_OP_BIND_RW &&
                    strcmp(plan->mounts[i].target, plan->workspace) == 0)
                        workspace = &plan->mounts[i];
        if (!workspace)
                return 0; /* not writable anyway */
        workspace->kind = MOUNT_OP_BIND_RO;
        struct writable_walk w = {
            .plan = plan, .limit = limit, .root_len = strlen(plan->workspace)};
        int r = writable_walk_dir(&w, plan->workspace);
        if (r == -E2BIG)
                return reins_error_set(err, E2BIG,
                                       "the workspace holds more than %d entries: too many to "
                                       "apply the token's path list",
                                       WRITABLE_WALK_MAX_ENTRIES);
        return r < 0 ? reins_error_set(err, -r, "applying the token's path list") : 0;
}
