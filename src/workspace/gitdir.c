#include "workspace/gitdir.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/path.h"
#include "workspace/apply.h"
#include "workspace/fsops.h"
#include "workspace/protect.h"
#include "workspace/scan.h"
#include "workspace/session.h"

/* Protected paths listed by name in the result; the count goes on. */
#define GITDIR_LISTED_MAX 256

int workspace_gitdir_create(const char *id, const char *lower, struct workspace_gitdir *out,
                            struct reins_error *err)
{
        memset(out, 0, sizeof(*out));
        snprintf(out->id, sizeof(out->id), "%s", id);
        struct stat st;
        if (lstat(lower, &st) < 0 || !S_ISDIR(st.st_mode))
                return reins_error_set(err, ENOTDIR, "%s is not a directory", lower);
        cleanup_free char *state = NULL;
        int r = workspace_state_dir(&state, err);
        if (r < 0)
                return r;
        char name[64];
        snprintf(name, sizeof(name), "%s.git", id);
        out->dir = path_join(state, name);
        out->upper = out->dir ? path_join(out->dir, "upper") : NULL;
        out->work = out->dir ? path_join(out->dir, "work") : NULL;
        out->lower = strdup(lower);
        if (!out->upper || !out->work || !out->lower)
                return reins_error_set(err, ENOMEM, "out of memory");
        /* the upper dir is the root of the merged .git: the host's mode */
        if (mkdir(out->dir, 0700) < 0 || mkdir(out->upper, 0700) < 0 ||
            chmod(out->upper, st.st_mode & 07777) < 0 || mkdir(out->work, 0700) < 0)
                return reins_error_errno(err, errno, "creating %s", out->dir);
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        out->started_ns = (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
        return 0;
}

/* Lock files of a git command the session's end interrupted: neither git's
 * data nor anything a host git reads. */
static bool gitdir_is_leftover_lock(const char *path)
{
        size_t n = strlen(path);
        return n > 5 && strcmp(path + n - 5, ".lock") == 0;
}

int workspace_gitdir_sync(const struct workspace_gitdir *gitdir, bool keep_index,
                          struct workspace_gitdir_result *result, struct reins_error *err)
{
        memset(result, 0, sizeof(*result));
        struct workspace_changes changes = {0};
        int r = workspace_scan(gitdir->upper, gitdir->lower, &changes, err);
        if (r < 0)
                return reins_error_prefix(err, "the private layer of %s", gitdir->lower);
        size_t to_copy = 0;
        for (size_t i = 0; i < changes.count; i++) {
                struct workspace_change *ch = &changes.items[i];
                if (ch->kind == WORKSPACE_REPLACED || ch->path[0] == '\0')
                        continue;
                /* a symlink in git's own data would point the host's git
                 * elsewhere (refs -> a directory of the agent's): kept out */
                ch->protected = !workspace_protect_git_allowed(ch->path) || S_ISLNK(ch->new.mode) ||
                                (keep_index && strcmp(ch->path, "index") == 0);
                if (!ch->protected) {
                        to_copy++;
                        continue;
                }
                if (gitdir_is_leftover_lock(ch->path))
                        continue;
                result->protected_count++;
                if (result->protected.count < GITDIR_LISTED_MAX &&
                    strv_push(&result->protected, ch->path) < 0) {
                        workspace_changes_free(&changes);
                        return reins_error_set(err, ENOMEM, "out of memory");
                }
        }
        if (to_copy == 0) {
                workspace_changes_free(&changes);
                return 0;
        }
        /* the apply machinery, pointed at the host's .git: atomic files,
         * no symlink crossed, protected entries skipped. The session's state
         * wins over a host git that ran meanwhile (force): this .git was the
         * session's while it ran. */
        json_auto_t *meta = json_pack("{s:I}", "created_ns", (json_int_t)gitdir->started_ns);
        struct workspace_session session = {
            .dir = gitdir->dir,
            .upper = gitdir->upper,
            .work = gitdir->work,
            .lower = gitdir->lower,
            .meta = meta,
        };
        snprintf(session.id, sizeof(session.id), "%s", gitdir->id);
        struct workspace_apply_options options = {.force = true};
        struct workspace_apply_result applied;
        r = meta ? workspace_apply(&session, &changes, &options, &applied, err)
                 : reins_error_set(err, ENOMEM, "out of memory");
        workspace_changes_free(&changes);
        if (r < 0)
                return r;
        result->copied = applied.applied;
        result->failed = applied.failed + applied.unsupported;
        return 0;
}

int workspace_gitdir_remove(const struct workspace_gitdir *gitdir, struct reins_error *err)
{
        if (!gitdir->dir)
                return 0;
        cleanup_free char *parent = strdup(gitdir->dir);
        if (!parent)
                return reins_error_set(err, ENOMEM, "out of memory");
        char *slash = strrchr(parent, '/');
        if (!slash)
                return 0;
        *slash = '\0';
        cleanup_fd int fd = open(parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return reins_error_errno(err, errno, "%s", parent);
        int r = ws_remove_tree_at(fd, slash + 1);
        return r < 0 ? reins_error_errno(err, -r, "removing %s", gitdir->dir) : 0;
}

void workspace_gitdir_free(struct workspace_gitdir *gitdir)
{
        if (!gitdir)
                return;
        free(gitdir->dir);
        free(gitdir->upper);
        free(gitdir->work);
        free(gitdir->lower);
        memset(gitdir, 0, sizeof(*gitdir));
}
