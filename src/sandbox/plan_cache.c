/* filesystem.cache: package-manager caches (~/.npm, ~/.cache/pip,
 * ~/.cargo/registry) as per-project writable directories of reins' own,
 * $XDG_CACHE_HOME/reins/caches/PROJECT/NAME, bound at the path the tool
 * expects. The agent gets a warm cache without the caller's real one, which
 * other projects share (a poisoned package there would reach them) and
 * which may hold tokens. PROJECT is a hash of the workspace path, so two
 * projects never share a cache. A target inside a bound tree (the workspace
 * is the home directory) is left as that tree shows it: reins never creates
 * a mount point in a host directory. The directories are created by the
 * caller before the sandbox starts (mount_op.create_source). */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/dirs.h"
#include "sandbox/plan_internal.h"
#include "util/cleanup.h"
#include "util/digest.h"
#include "util/path.h"

static bool plan_in_bound_tree(const struct reins_plan *plan, const char *path)
{
        for (size_t i = 0; i < plan->mount_count; i++) {
                enum mount_op_kind k = plan->mounts[i].kind;
                if ((k == MOUNT_OP_BIND_RO || k == MOUNT_OP_BIND_RW || k == MOUNT_OP_OVERLAY) &&
                    path_is_under(path, plan->mounts[i].target))
                        return true;
        }
        return false;
}

/* "~/.cache/pip" -> ".cache_pip": one directory name per cache. */
static void cache_name(const char *written, char *out, size_t size)
{
        const char *p = written[0] == '~' ? written + 1 : written;
        while (*p == '/')
                p++;
        size_t n = 0;
        for (; *p && n + 1 < size; p++)
                out[n++] = *p == '/' ? '_' : *p;
        out[n] = '\0';
}

/* $XDG_CACHE_HOME/reins/caches/<16 hex of sha256(workspace)> */
static char *cache_project_dir(const struct reins_plan *plan)
{
        unsigned char digest[DIGEST_SHA256_BYTES];
        digest_sha256(plan->workspace, strlen(plan->workspace), digest);
        char key[17];
        sodium_bin2hex(key, sizeof(key), digest, 8);
        const char *base = audit_xdg_dir("XDG_CACHE_HOME");
        char *dir = NULL;
        if (base && asprintf(&dir, "%s/reins/caches/%s", base, key) < 0)
                return NULL;
        if (!base && plan->home && plan->home[0] == '/' &&
            asprintf(&dir, "%s/.cache/reins/caches/%s", plan->home, key) < 0)
                return NULL;
        return dir;
}

int plan_add_caches(struct reins_plan *plan, const struct reins_policy *policy,
                    struct reins_error *err)
{
        if (policy->filesystem.cache.count == 0)
                return 0;
        cleanup_free char *project = cache_project_dir(plan);
        if (!project)
                return reins_error_set(err, ENOENT,
                                       "filesystem.cache: no cache directory (HOME unset?)");
        for (size_t i = 0; i < policy->filesystem.cache.count; i++) {
                const char *written = policy->filesystem.cache.items[i];
                cleanup_free char *target = path_expand_home(written, plan->home);
                if (!target || target[0] != '/' || plan_in_bound_tree(plan, target))
                        continue;
                char name[256];
                cache_name(written, name, sizeof(name));
                cleanup_free char *source = path_join(project, name);
                if (!source || plan_add_mount(plan, MOUNT_OP_BIND_RW, source, target, 0) < 0)
                        return reins_error_set(err, ENOMEM, "out of memory");
                plan->mounts[plan->mount_count - 1].create_source = true;
        }
        return 0;
}
