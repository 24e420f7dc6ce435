/* Three-way classification of a session's changes against their bases
 * (base.h): what the agent still has as applied is dropped, what the host
 * changed since the base is a conflict, and says how. */
#include "workspace/base.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/weaken.h"
#include "workspace/base_internal.h"
#include "workspace/fsops.h"
#include "workspace/protect.h"

bool workspace_base_host_changed(const struct workspace_base *base, long long started_ns,
                                 const char *path, const struct stat *st)
{
        const struct workspace_base_entry *e = workspace_base_find(base, path);
        if (e)
                return (e->flags & BASE_HOST_CHANGED) || !ws_base_host_same(e, st);
        return st && ws_base_ctime_ns(st) >= started_ns;
}

/* Is the agent's side of the change still what was applied at its path? */
static bool base_agent_unchanged(int upper, const struct workspace_base_entry *e,
                                 const struct workspace_change *ch)
{
        if (!(e->flags & BASE_AGENT_KNOWN))
                return false;
        bool present = ch->new.from != WORKSPACE_FROM_NONE;
        if (present != ((e->flags & BASE_AGENT_PRESENT) != 0))
                return false;
        if (!present)
                return true;
        if ((ch->new.mode &(S_IFMT | 07777)) != (e->agent_mode & (S_IFMT | 07777)))
                return false;
        if (S_ISREG(ch->new.mode) || (S_ISLNK(ch->new.mode) && ch->new.target)) {
                if (!(e->flags & BASE_HASHED))
                        return false;
                struct workspace_base_entry now = {0};
                if (workspace_base_read_agent(upper, ch, &now) < 0 || !(now.flags & BASE_HASHED))
                        return false; /* cannot tell: shown as a change */
                return now.agent_size == e->agent_size &&
                       memcmp(now.agent_hash, e->agent_hash, WORKSPACE_HASH_BYTES) == 0;
        }
        return true;
}

/* Would applying this change overwrite something the host changed since
 * the change's base? NULL when not; else why (static text). */
static const char *base_host_why(const struct workspace_base *base, long long started_ns, int root,
                                 const struct workspace_change *ch)
{
        struct stat st;
        int r = ws_base_lstat(root, ch->path, &st);
        if (r < 0 && r != -ENOENT)
                return "cannot be checked on the host";
        bool host_has = r == 0;
        const struct workspace_base_entry *e = workspace_base_find(base, ch->path);
        if (e && (e->flags & BASE_AGENT_KNOWN)) {
                /* the base is recorded: what reins applied here, or the
                 * host's file as it was when the session started */
                if (ws_base_host_same(e, host_has ? &st : NULL))
                        return NULL;
                bool applied = (e->flags & BASE_APPLIED) != 0;
                if (!host_has)
                        return applied ? "deleted on the host since reins applied it"
                                       : "deleted on the host since the session started";
                if (!(e->flags & BASE_HOST_PRESENT))
                        return applied ? "created on the host since reins applied its deletion"
                                       : "created on the host since the session started";
                return applied ? "changed on the host since reins applied it"
                               : "changed on the host since the session started";
        }
        if (ch->old.from != WORKSPACE_FROM_NONE) {
                if (!host_has)
                        return ch->kind == WORKSPACE_DELETED ? NULL
                                                             : "deleted on the host meanwhile";
                if (workspace_base_host_changed(base, started_ns, ch->path, &st))
                        return ch->kind == WORKSPACE_DELETED && ch->new.from == WORKSPACE_FROM_NONE
                                   ? "changed or created on the host since the session started; "
                                     "the agent's copy removed it"
                                   : "changed on the host since the session started";
                return NULL;
        }
        if (host_has)
                return "created on the host meanwhile";
        /* Copied up from a lower file that is not at this path now: renamed
         * in the copy (fine), or deleted on the host after the session
         * started (a conflict). When the host directory changed since the
         * start (other than by reins applying there), assume the latter. */
        if (ch->origin) {
                const char *slash = strrchr(ch->path, '/');
                char *parent = slash ? strndup(ch->path, (size_t)(slash - ch->path)) : strdup("");
                if (!parent)
                        return "cannot be checked on the host";
                int pr = ws_base_lstat(root, parent, &st);
                bool changed =
                    pr == 0 && workspace_base_host_changed(base, started_ns, parent, &st);
                free(parent);
                if (changed)
                        return "possibly deleted on the host since the session started";
        }
        return NULL;
}

static void base_drop(struct workspace_change *ch)
{
        free(ch->path);
        free(ch->hardlink);
        free(ch->old.target);
        free(ch->new.target);
}

/* git's own data in the workspace's top .git: shown as commits, not files.
 * Protected entries (config, hooks, …) stay in the list, flagged. */
static bool base_git_internal(const struct workspace_change *ch, bool host_repo)
{
        /* the weakened build (REINS_WEAKEN=protect) applies git's data as
         * files, as before issue 13: the escape probes of nested repositories
         * prove the protection this way */
        if (!host_repo || ch->protected || strncmp(ch->path, ".git", 4) != 0 || weaken("protect"))
                return false;
        if (ch->path[4] == '\0')
                return ch->kind == WORKSPACE_MODE_CHANGED || ch->kind == WORKSPACE_REPLACED;
        return ch->path[4] == '/' && workspace_protect_git_allowed(ch->path + 5);
}

int workspace_base_classify(const struct workspace_session *session,
                            struct workspace_changes *changes, struct reins_error *err)
{
        struct workspace_base base = {0};
        int r = workspace_base_load(session, &base, err);
        if (r < 0)
                return r;
        cleanup_fd int root = open(session->lower, O_PATH | O_DIRECTORY | O_CLOEXEC);
        cleanup_fd int upper = open(session->upper, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (root < 0 || upper < 0) {
                r = reins_error_errno(err, errno, "session %s: %s", session->id,
                                      root < 0 ? session->lower : session->upper);
                workspace_base_free(&base);
                return r;
        }
        /* the host's .git is a repository of its own (not a gitfile) */
        struct stat git_st;
        bool host_repo =
            fstatat(root, ".git", &git_st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(git_st.st_mode);
        /* ... and the copy still has one: a .git the agent removed or
         * replaced by a file is a protected change listed whole */
        struct stat copy_st;
        if (host_repo && fstatat(upper, ".git", &copy_st, AT_SYMLINK_NOFOLLOW) == 0 &&
            !S_ISDIR(copy_st.st_mode))
                host_repo = false;
        long long started_ns = workspace_session_base_ns(session);
        size_t kept = 0;
        for (size_t i = 0; i < changes->count; i++) {
                struct workspace_change *ch = &changes->items[i];
                bool drop = false;
                if (base_git_internal(ch, host_repo)) {
                        changes->git_internal += ch->kind != WORKSPACE_REPLACED;
                        drop = true;
                } else if (ch->kind != WORKSPACE_REPLACED) {
                        const struct workspace_base_entry *e = workspace_base_find(&base, ch->path);
                        ch->host_why = base_host_why(&base, started_ns, root, ch);
                        ch->host_changed = ch->host_why != NULL;
                        /* the host changed it: if the copy still holds the base
                         * (what was applied, or the host's file at the start),
                         * the difference is the host's alone (a host still at
                         * its base means the scan's difference is the agent's:
                         * no file is hashed for it) */
                        drop = ch->host_changed && e && base_agent_unchanged(upper, e, ch);
                        /* the agent's change is then shown against its base */
                        if (!drop && ch->host_changed && e && (e->flags & BASE_KEPT) &&
                            (e->flags & BASE_AGENT_PRESENT) && S_ISREG(e->agent_mode))
                                ws_base_hex(e->agent_hash, WORKSPACE_HASH_BYTES, ch->base_kept);
                }
                if (drop) {
                        base_drop(ch);
                        continue;
                }
                changes->items[kept++] = *ch;
        }
        changes->count = kept;
        /* a "replaced" note with nothing deleted below it says nothing */
        kept = 0;
        for (size_t i = 0; i < changes->count; i++) {
                struct workspace_change *ch = &changes->items[i];
                if (ch->kind == WORKSPACE_REPLACED) {
                        size_t len = strlen(ch->path);
                        bool any = false;
                        for (size_t j = i + 1; !any && j < changes->count; j++) {
                                const char *p = changes->items[j].path;
                                if (strncmp(p, ch->path, len) != 0 || p[len] != '/')
                                        break;
                                any = changes->items[j].kind == WORKSPACE_DELETED;
                        }
                        if (!any) {
                                base_drop(ch);
                                continue;
                        }
                }
                changes->items[kept++] = *ch;
        }
        changes->count = kept;
        workspace_base_free(&base);
        return 0;
}
