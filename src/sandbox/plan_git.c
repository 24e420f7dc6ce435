/* git inside the sandbox, when filesystem.deny hides files of the
 * workspace. A hidden regular file is a stat twin (mounts_hide_fd): same
 * type, size and mtime, another inode and ctime, unreadable. Two settings,
 * passed as GIT_CONFIG_KEY_n/VALUE_n after any the caller passes, make git
 * inside behave as outside:
 *   core.checkStat=minimal   git compares only size and mtime, so a hidden
 *                            tracked file is "unchanged" instead of re-read
 *                            (and failing) on every `git status`;
 *   core.excludesFile        the hidden paths, so `git add -A` skips a
 *                            hidden untracked file (.env) instead of
 *                            failing on it; tracked files are not affected.
 * Neither is a protection (the agent can unset them): the twin is. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox/plan_internal.h"
#include "util/path.h"

#define GIT_EXCLUDE_FILE "/.reins/git-exclude"
#define GIT_EXCLUDE_MAX  (1u << 20) /* bytes: hidden paths past this are not listed */

/* Append `rel` as an anchored gitignore pattern matching exactly that path:
 * every character with a meaning in patterns is escaped. Names holding a
 * newline cannot be written and are skipped. */
static int exclude_append(char **text, size_t *length, const char *rel)
{
        if (strchr(rel, '\n'))
                return 0;
        size_t need = 2 * strlen(rel) + 3;
        if (*length + need > GIT_EXCLUDE_MAX)
                return 0;
        char *grown = realloc(*text, *length + need + 1);
        if (!grown)
                return -ENOMEM;
        *text = grown;
        char *out = grown + *length;
        *out++ = '/';
        for (const char *c = rel; *c; c++) {
                if (strchr("\\*?[]!# \t", *c))
                        *out++ = '\\';
                *out++ = *c;
        }
        *out++ = '\n';
        *out = '\0';
        *length = (size_t)(out - grown);
        return 0;
}

static int git_config_push(struct reins_plan *plan, unsigned long *n, const char *key,
                           const char *value)
{
        char *k = NULL, *v = NULL;
        int r = 0;
        if (asprintf(&k, "GIT_CONFIG_KEY_%lu=%s", *n, key) < 0 ||
            asprintf(&v, "GIT_CONFIG_VALUE_%lu=%s", *n, value) < 0)
                r = -ENOMEM;
        if (r == 0 && (r = plan_env_put(plan, k)) == 0)
                r = plan_env_put(plan, v);
        free(k);
        free(v);
        if (r == 0)
                (*n)++;
        return r;
}

int plan_add_git_settings(struct reins_plan *plan)
{
        char *exclude = NULL;
        size_t length = 0;
        int r = 0;
        size_t prefix = strlen(plan->workspace);
        for (size_t i = 0; r == 0 && i < plan->mount_count; i++) {
                const struct mount_op *op = &plan->mounts[i];
                if (op->kind != MOUNT_OP_HIDE || !path_is_under(op->target, plan->workspace) ||
                    strlen(op->target) <= prefix + 1)
                        continue;
                r = exclude_append(&exclude, &length, op->target + prefix + 1);
        }
        if (r < 0 || !exclude) {
                free(exclude);
                return r;
        }
        const char *count = plan_env_lookup(plan->env.items, "GIT_CONFIG_COUNT");
        unsigned long n = count ? strtoul(count + strlen("GIT_CONFIG_COUNT="), NULL, 10) : 0;
        char entry[64];
        if (n <= 1000 &&
            (r = plan_add_mount(plan, MOUNT_OP_FILE, exclude, GIT_EXCLUDE_FILE, 0)) == 0 &&
            (r = plan_add_landlock(plan, GIT_EXCLUDE_FILE, LANDLOCK_RULE_READ_EXEC)) == 0 &&
            (r = git_config_push(plan, &n, "core.checkStat", "minimal")) == 0 &&
            (r = git_config_push(plan, &n, "core.excludesFile", GIT_EXCLUDE_FILE)) == 0) {
                snprintf(entry, sizeof(entry), "GIT_CONFIG_COUNT=%lu", n);
                r = plan_env_put(plan, entry);
        }
        free(exclude);
        return r;
}
