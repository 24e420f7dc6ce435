#include "workspace/apply.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/bytes_json.h"
#include "util/cleanup.h"
#include "util/text_escape.h"
#include "workspace/base.h"
#include "workspace/fsops.h"
#include "workspace/review.h"

enum apply_status {
        APPLY_PENDING,
        APPLY_SKIP, /* informational ("replaced"), nothing to do */
        APPLY_PROTECTED,
        APPLY_CONFLICT,
        APPLY_UNSUPPORTED,
        APPLY_DONE,
        APPLY_FAILED,
};

struct apply_item {
        const struct workspace_change *change;
        enum apply_status status;
        const char *why; /* static text for conflicts and failures */
        int error;       /* errno of a failure */
};

struct apply_context {
        int root;  /* the host workspace, O_PATH */
        int upper; /* the session's copy */
        unsigned serial;
        struct apply_item *items;
        size_t count;
};

static bool apply_removes_old_first(const struct workspace_change *ch)
{
        if (ch->kind == WORKSPACE_DELETED)
                return true;
        /* a directory cannot be renamed over a file nor a file over a directory */
        return ch->kind == WORKSPACE_TYPE_CHANGED &&
               (S_ISDIR(ch->old.mode) || S_ISDIR(ch->new.mode));
}

static bool apply_supported(const struct workspace_entry *e)
{
        return e->from == WORKSPACE_FROM_NONE || S_ISREG(e->mode) || S_ISDIR(e->mode) ||
               S_ISLNK(e->mode) || S_ISFIFO(e->mode);
}

static void apply_plan(struct apply_context *ctx, const struct workspace_apply_options *o)
{
        for (size_t i = 0; i < ctx->count; i++) {
                struct apply_item *it = &ctx->items[i];
                const struct workspace_change *ch = it->change;
                if (ch->kind == WORKSPACE_REPLACED)
                        it->status = APPLY_SKIP;
                else if (ch->protected && !o->include_protected)
                        it->status = APPLY_PROTECTED;
                else if (!apply_supported(&ch->new))
                        it->status = APPLY_UNSUPPORTED;
                else if ((it->why = ch->host_why) != NULL) /* workspace_base_classify */
                        it->status = APPLY_CONFLICT;
        }
        /* A directory removal waits for everything below it: when something
         * there is held back, the directory stays, and says why. */
        for (size_t i = ctx->count; i-- > 0;) {
                struct apply_item *it = &ctx->items[i];
                const struct workspace_change *ch = it->change;
                if (it->status != APPLY_PENDING || !apply_removes_old_first(ch) ||
                    !S_ISDIR(ch->old.mode))
                        continue;
                size_t len = strlen(ch->path);
                for (size_t j = i + 1; j < ctx->count; j++) {
                        const char *p = ctx->items[j].change->path;
                        if (strncmp(p, ch->path, len) != 0 || p[len] != '/')
                                break;
                        enum apply_status s = ctx->items[j].status;
                        if (s == APPLY_CONFLICT || s == APPLY_PROTECTED || s == APPLY_UNSUPPORTED) {
                                it->status =
                                    s == APPLY_PROTECTED ? APPLY_PROTECTED : APPLY_CONFLICT;
                                it->why = "something below it is not applied";
                                break;
                        }
                }
        }
}

static void apply_tmpname(struct apply_context *ctx, char out[64])
{
        snprintf(out, 64, ".reins-apply-%d-%u", (int)getpid(), ctx->serial++);
}

/* Owner for a new host entry when root applies: the replaced entry's owner,
 * else the directory's (a root apply into a user's tree leaves it theirs). */
static void apply_owner(int parent, const char *name, uid_t *uid, gid_t *gid)
{
        struct stat st;
        if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ||
            fstatat(parent, "", &st, AT_EMPTY_PATH) == 0) {
                *uid = st.st_uid;
                *gid = st.st_gid;
                return;
        }
        *uid = geteuid();
        *gid = getegid();
}

/* Put `tmp` (in parent) in place of `name`, atomically. */
static int apply_commit(int parent, const char *tmp, const char *name)
{
        if (renameat(parent, tmp, parent, name) < 0) {
                int e = errno;
                unlinkat(parent, tmp, 0);
                return -e;
        }
        return 0;
}

static const struct apply_item *apply_find(const struct apply_context *ctx, const char *path)
{
        /* a binary search (items are in the scan's order): many hard links
         * must not make an apply quadratic */
        if (ctx->count == 0)
                return NULL;
        struct workspace_changes list = {.items = (struct workspace_change *)ctx->items[0].change,
                                         .count = ctx->count};
        const struct workspace_change *ch = workspace_changes_find(&list, path);
        if (!ch || ch->kind == WORKSPACE_REPLACED || strcmp(ch->path, path) != 0)
                return NULL;
        return &ctx->items[ch - list.items];
}

static int apply_regular(struct apply_context *ctx, const struct workspace_change *ch, int parent,
                         const char *name)
{
        char tmp[64];
        apply_tmpname(ctx, tmp);
        mode_t mode = ch->new.mode & 01777; /* no setuid/setgid from the agent */
        uid_t uid;
        gid_t gid;
        apply_owner(parent, name, &uid, &gid);

        /* a hard link inside the copy stays one when its first path landed */
        if (ch->hardlink) {
                const struct apply_item *first = apply_find(ctx, ch->hardlink);
                const char *first_name;
                cleanup_fd int first_parent = -1;
                if (first && first->status == APPLY_DONE &&
                    (first_parent = ws_open_parent(ctx->root, ch->hardlink, &first_name)) >= 0 &&
                    linkat(first_parent, first_name, parent, tmp, 0) == 0)
                        return apply_commit(parent, tmp, name);
        }

        cleanup_fd int src = ws_open_read(ctx->upper, ch->path, true);
        if (src < 0)
                return src;
        bool named = false;
        cleanup_fd int out = openat(parent, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
        if (out < 0) {
                /* no O_TMPFILE here: a named temp file, removed on failure */
                out =
                    openat(parent, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (out < 0)
                        return -errno;
                named = true;
        }
        int r = ws_copy_fd(src, out);
        if (r == 0 && fchmod(out, mode) < 0)
                r = -errno;
        if (r == 0 && geteuid() == 0 && fchown(out, uid, gid) < 0)
                r = -errno;
        if (r == 0 && !named) {
                char proc[64];
                snprintf(proc, sizeof(proc), "/proc/self/fd/%d", out);
                if (linkat(AT_FDCWD, proc, parent, tmp, AT_SYMLINK_FOLLOW) < 0)
                        r = -errno;
                else
                        named = true;
        }
        if (r < 0) {
                if (named)
                        unlinkat(parent, tmp, 0);
                return r;
        }
        return apply_commit(parent, tmp, name);
}

static int apply_special(struct apply_context *ctx, const struct workspace_change *ch, int parent,
                         const char *name)
{
        char tmp[64];
        apply_tmpname(ctx, tmp);
        uid_t uid;
        gid_t gid;
        apply_owner(parent, name, &uid, &gid);
        if (S_ISLNK(ch->new.mode)) {
                /* reproduced as a link, never followed: its target is text */
                if (symlinkat(ch->new.target, parent, tmp) < 0)
                        return -errno;
        } else if (mkfifoat(parent, tmp, ch->new.mode & 0777) < 0) {
                return -errno;
        }
        if (geteuid() == 0 && fchownat(parent, tmp, uid, gid, AT_SYMLINK_NOFOLLOW) < 0) {
                int e = errno;
                unlinkat(parent, tmp, 0);
                return -e;
        }
        return apply_commit(parent, tmp, name);
}

/* chmod an existing entry of the expected type, through an O_PATH fd opened
 * beneath the root: never a symlink, never outside. */
static int apply_chmod(struct apply_context *ctx, const char *path, mode_t type, mode_t mode)
{
        cleanup_fd int fd = ws_open_beneath(ctx->root, path, O_PATH, 0);
        if (fd < 0)
                return fd;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if ((st.st_mode & S_IFMT) != type)
                return -EEXIST;
        char proc[64];
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        return chmod(proc, mode & 01777) < 0 ? -errno : 0;
}

static int apply_remove(struct apply_context *ctx, const struct workspace_change *ch)
{
        const char *name;
        cleanup_fd int parent = ws_open_parent(ctx->root, ch->path, &name);
        if (parent == -ENOENT)
                return 0; /* gone with its directory */
        if (parent < 0)
                return parent;
        struct stat st;
        if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (unlinkat(parent, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0)
                return errno == ENOENT ? 0 : -errno;
        return 0;
}

static int apply_place(struct apply_context *ctx, const struct workspace_change *ch)
{
        if (ch->path[0] == '\0') /* the root: permissions only, in the last pass */
                return 0;
        if (S_ISDIR(ch->new.mode)) {
                if (ch->kind == WORKSPACE_MODE_CHANGED)
                        return 0; /* last pass */
                const char *name;
                cleanup_fd int parent = ws_open_parent(ctx->root, ch->path, &name);
                if (parent < 0)
                        return parent;
                /* 0700 while it is filled; its own mode in the last pass */
                if (mkdirat(parent, name, 0700) < 0 && errno != EEXIST)
                        return -errno;
                struct stat st;
                if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return -errno;
                if (!S_ISDIR(st.st_mode))
                        return -EEXIST;
                if (geteuid() == 0) {
                        uid_t uid;
                        gid_t gid;
                        apply_owner(parent, "", &uid, &gid);
                        if (fchownat(parent, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
                                return -errno;
                }
                return 0;
        }
        if (ch->kind == WORKSPACE_MODE_CHANGED && S_ISREG(ch->new.mode))
                return apply_chmod(ctx, ch->path, S_IFREG, ch->new.mode);
        const char *name;
        cleanup_fd int parent = ws_open_parent(ctx->root, ch->path, &name);
        if (parent < 0)
                return parent;
        if (S_ISREG(ch->new.mode))
                return apply_regular(ctx, ch, parent, name);
        return apply_special(ctx, ch, parent, name);
}

static const char *apply_verb(const struct workspace_change *ch, bool dry_run)
{
        switch (ch->kind) {
        case WORKSPACE_CREATED:
                return dry_run ? "would create" : "created";
        case WORKSPACE_MODIFIED:
                return dry_run ? "would modify" : "modified";
        case WORKSPACE_DELETED:
                return dry_run ? "would delete" : "deleted";
        case WORKSPACE_TYPE_CHANGED:
                return dry_run ? "would replace" : "replaced";
        case WORKSPACE_MODE_CHANGED:
                return dry_run ? "would chmod" : "chmod";
        case WORKSPACE_REPLACED:
                break;
        }
        return "";
}

static void apply_report_line(FILE *out, const struct apply_item *it, bool dry_run, bool force)
{
        const struct workspace_change *ch = it->change;
        const char *path = ch->path[0] ? ch->path : ".";
        switch (it->status) {
        case APPLY_SKIP:
                return;
        case APPLY_PENDING:
        case APPLY_DONE:
                fprintf(out, "  %-13s ", apply_verb(ch, dry_run));
                break;
        case APPLY_PROTECTED:
                fputs("  skipped       ", out);
                break;
        case APPLY_CONFLICT:
                fprintf(out, "  %-13s ", force ? "forced" : "CONFLICT");
                break;
        case APPLY_UNSUPPORTED:
                fputs("  skipped       ", out);
                break;
        case APPLY_FAILED:
                fputs("  FAILED        ", out);
                break;
        }
        /* names are escaped (util/text_escape.h): a hostile name can neither
         * forge a report line nor act on the terminal */
        text_escape_write(out, path, strlen(path), 0);
        if (it->status == APPLY_PROTECTED)
                fputs(" (protected path: use --include-protected to apply it)", out);
        else if (it->status == APPLY_CONFLICT)
                fprintf(out, " (%s%s)", it->why, force ? "; overwritten" : ": use --force");
        else if (it->status == APPLY_UNSUPPORTED)
                fputs(" (sockets and devices are not reproduced)", out);
        else if (it->status == APPLY_FAILED)
                fprintf(out, " (%s)", strerror(it->error));
        else if ((ch->new.mode &(S_ISUID | S_ISGID)) && ch->new.from != WORKSPACE_FROM_NONE &&
                 !S_ISDIR(ch->new.mode))
                fputs(" (setuid/setgid bits dropped)", out);
        fputc('\n', out);
}

/* The same as a JSON object: the path as its bytes (util/bytes_json.h),
 * what happened to it as one word. */
static json_t *apply_report_json(const struct apply_item *it, bool dry_run, bool blocked,
                                 bool force)
{
        const struct workspace_change *ch = it->change;
        const char *result = NULL;
        const char *why = NULL;
        switch (it->status) {
        case APPLY_SKIP:
                return NULL;
        case APPLY_PENDING:
                result = blocked ? "blocked" : dry_run ? "would-apply" : "applied";
                break;
        case APPLY_DONE:
                result = "applied";
                break;
        case APPLY_PROTECTED:
                result = "protected";
                why = "protected path: include_protected applies it";
                break;
        case APPLY_CONFLICT:
                result = force && !dry_run ? "forced" : "conflict";
                why = it->why;
                break;
        case APPLY_UNSUPPORTED:
                result = "unsupported";
                why = "sockets and devices are not reproduced";
                break;
        case APPLY_FAILED:
                result = "failed";
                why = strerror(it->error);
                break;
        }
        return json_pack("{s:o, s:s, s:s, s:s*}", "path",
                         bytes_json_z(ch->path[0] ? ch->path : "."), "kind",
                         workspace_change_kind_name(ch->kind), "result", result, "why", why);
}

static void apply_run(struct apply_context *ctx, bool force)
{
        /* 1. removals, deepest first */
        for (size_t i = ctx->count; i-- > 0;) {
                struct apply_item *it = &ctx->items[i];
                bool go = it->status == APPLY_PENDING || (force && it->status == APPLY_CONFLICT);
                if (!go || !apply_removes_old_first(it->change))
                        continue;
                int r = apply_remove(ctx, it->change);
                if (r < 0) {
                        it->status = APPLY_FAILED;
                        it->error = -r;
                } else if (it->change->kind == WORKSPACE_DELETED && it->status == APPLY_PENDING) {
                        it->status = APPLY_DONE;
                }
        }
        /* 2. creations and edits, parents first */
        for (size_t i = 0; i < ctx->count; i++) {
                struct apply_item *it = &ctx->items[i];
                bool go = it->status == APPLY_PENDING || (force && it->status == APPLY_CONFLICT);
                if (!go || it->change->kind == WORKSPACE_DELETED)
                        continue;
                int r = apply_place(ctx, it->change);
                if (r < 0) {
                        it->status = APPLY_FAILED;
                        it->error = -r;
                } else if (it->status == APPLY_PENDING) {
                        it->status = APPLY_DONE;
                }
        }
        /* 3. directory permissions, deepest first (a read-only directory is
         * made so only once everything inside it is in place) */
        for (size_t i = ctx->count; i-- > 0;) {
                struct apply_item *it = &ctx->items[i];
                const struct workspace_change *ch = it->change;
                if ((it->status != APPLY_DONE && !(force && it->status == APPLY_CONFLICT)) ||
                    ch->new.from == WORKSPACE_FROM_NONE || !S_ISDIR(ch->new.mode))
                        continue;
                int r = apply_chmod(ctx, ch->path, S_IFDIR, ch->new.mode);
                if (r < 0) {
                        it->status = APPLY_FAILED;
                        it->error = -r;
                }
        }
}

/* ---- the base of what was applied (workspace/base.h) ------------------------ */

/* The directory holding each path an apply writes: whether the host had
 * changed it (since its base) before this apply adds or removes entries in
 * it, which changes its ctime. */
struct apply_parent {
        char *path;
        bool changed_before;
};

static bool apply_goes(const struct apply_item *it, bool force)
{
        return it->status == APPLY_PENDING || (force && it->status == APPLY_CONFLICT);
}

static int apply_parent_compare(const void *a, const void *b)
{
        return strcmp(((const struct apply_parent *)a)->path,
                      ((const struct apply_parent *)b)->path);
}

static void apply_parents_free(struct apply_parent *parents, size_t count)
{
        for (size_t i = 0; i < count; i++)
                free(parents[i].path);
        free(parents);
}

static int apply_parents_before(const struct workspace_session *session,
                                const struct apply_context *ctx, bool force,
                                struct apply_parent **out, size_t *out_count)
{
        *out = NULL;
        *out_count = 0;
        struct apply_parent *list = calloc(ctx->count + 1, sizeof(*list));
        if (!list)
                return -ENOMEM;
        size_t n = 0;
        for (size_t i = 0; i < ctx->count; i++) {
                const struct workspace_change *ch = ctx->items[i].change;
                if (!apply_goes(&ctx->items[i], force) || ch->path[0] == '\0')
                        continue;
                const char *slash = strrchr(ch->path, '/');
                list[n].path = slash ? strndup(ch->path, (size_t)(slash - ch->path)) : strdup("");
                if (!list[n].path) {
                        apply_parents_free(list, n);
                        return -ENOMEM;
                }
                n++;
        }
        qsort(list, n, sizeof(*list), apply_parent_compare);
        size_t kept = 0;
        for (size_t i = 0; i < n; i++) {
                if (kept > 0 && strcmp(list[kept - 1].path, list[i].path) == 0) {
                        free(list[i].path);
                        continue;
                }
                list[kept++] = list[i];
        }
        struct workspace_base base = {0};
        struct reins_error err = {0};
        if (workspace_base_load(session, &base, &err) < 0) {
                /* unreadable: every directory counts as changed by the host */
                for (size_t i = 0; i < kept; i++)
                        list[i].changed_before = true;
        } else {
                long long started_ns = workspace_session_base_ns(session);
                for (size_t i = 0; i < kept; i++) {
                        struct stat st;
                        int r = list[i].path[0] ? ws_lstat_beneath(ctx->root, list[i].path, &st)
                                                : (fstat(ctx->root, &st) < 0 ? -errno : 0);
                        list[i].changed_before =
                            r == 0 &&
                            workspace_base_host_changed(&base, started_ns, list[i].path, &st);
                }
        }
        workspace_base_free(&base);
        *out = list;
        *out_count = kept;
        return 0;
}

static void apply_record_base(const struct workspace_session *session,
                              const struct apply_context *ctx, bool force,
                              const struct apply_parent *parents, size_t parent_count,
                              struct workspace_apply_result *result)
{
        struct reins_error err = {0};
        struct workspace_base base = {0};
        int r = workspace_base_load(session, &base, &err);
        for (size_t i = 0; r == 0 && i < ctx->count; i++) {
                const struct apply_item *it = &ctx->items[i];
                if (it->status != APPLY_DONE && !(force && it->status == APPLY_CONFLICT))
                        continue;
                struct workspace_base_entry e = {.path = it->change->path};
                const struct workspace_base_entry *old = workspace_base_find(&base, e.path);
                if (old)
                        e.flags = old->flags & BASE_HOST_CHANGED;
                e.flags |= BASE_APPLIED;
                if ((r = workspace_base_read_agent(ctx->upper, it->change, &e)) == 0 &&
                    it->change->new.from != WORKSPACE_FROM_NONE && S_ISREG(it->change->new.mode))
                        workspace_base_keep(session, &base, ctx->upper, e.path, true, &e);
                if (r < 0 || (r = workspace_base_read_host(ctx->root, e.path, &e)) < 0 ||
                    (r = workspace_base_put(&base, &e)) < 0)
                        reins_error_errno(&err, -r, "%s", e.path);
        }
        for (size_t i = 0; r == 0 && parents && i < parent_count; i++) {
                struct workspace_base_entry e = {.path = parents[i].path};
                const struct workspace_base_entry *old = workspace_base_find(&base, e.path);
                if (old)
                        e = *old;
                if (parents[i].changed_before)
                        e.flags |= BASE_HOST_CHANGED;
                if ((r = workspace_base_read_host(ctx->root, parents[i].path, &e)) < 0 ||
                    (r = workspace_base_put(&base, &e)) < 0)
                        reins_error_errno(&err, -r, "%s", parents[i].path);
        }
        if (r == 0)
                r = workspace_base_save(session, &base, &err);
        if (r < 0)
                snprintf(result->base_error, sizeof(result->base_error), "%s", err.message);
        workspace_base_free(&base);
}

int workspace_apply(const struct workspace_session *session,
                    const struct workspace_changes *changes,
                    const struct workspace_apply_options *options,
                    struct workspace_apply_result *result, struct reins_error *err)
{
        memset(result, 0, sizeof(*result));
        cleanup_fd int root = open(session->lower, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root < 0)
                return reins_error_errno(err, errno, "workspace %s", session->lower);
        cleanup_fd int upper = open(session->upper, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (upper < 0)
                return reins_error_errno(err, errno, "session copy %s", session->upper);
        cleanup_free struct apply_item *items = calloc(changes->count + 1, sizeof(*items));
        if (!items)
                return reins_error_set(err, ENOMEM, "out of memory");
        for (size_t i = 0; i < changes->count; i++)
                items[i].change = &changes->items[i];
        struct apply_context ctx = {
            .root = root,
            .upper = upper,
            .items = items,
            .count = changes->count,
        };
        if (workspace_session_started_ns(session) <= 0)
                return reins_error_set(err, EINVAL,
                                       "session %s: meta.json has no start time: cannot check "
                                       "for conflicts",
                                       session->id);
        apply_plan(&ctx, options);
        for (size_t i = 0; i < ctx.count; i++)
                result->conflicts += items[i].status == APPLY_CONFLICT;

        /* All or nothing on conflicts: a partial merge over a tree the user
         * also changed is harder to review than none. */
        bool blocked = result->conflicts > 0 && !options->force;
        struct apply_parent *parents = NULL;
        size_t parent_count = 0;
        if (!options->dry_run && !blocked &&
            apply_parents_before(session, &ctx, options->force, &parents, &parent_count) < 0) {
                snprintf(result->base_error, sizeof(result->base_error), "out of memory");
                parents = NULL;
        }
        if (!options->dry_run && !blocked) {
                apply_run(&ctx, options->force);
                /* the base of what was written moves to it (workspace/base.h) */
                apply_record_base(session, &ctx, options->force, parents, parent_count, result);
                apply_parents_free(parents, parent_count);
                /* one flush for the whole apply (not one fsync per file) */
                cleanup_fd int sync_fd = open(session->lower, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (sync_fd >= 0)
                        syncfs(sync_fd);
        }
        for (size_t i = 0; i < ctx.count; i++) {
                switch (items[i].status) {
                case APPLY_DONE:
                        result->applied++;
                        break;
                case APPLY_PENDING:
                        if (options->dry_run && !blocked)
                                result->applied++;
                        break;
                case APPLY_PROTECTED:
                        result->protected_skipped++;
                        break;
                case APPLY_FAILED:
                        result->failed++;
                        break;
                case APPLY_UNSUPPORTED:
                        result->unsupported++;
                        break;
                case APPLY_CONFLICT:
                        if (options->force && !options->dry_run)
                                result->applied++;
                        break;
                case APPLY_SKIP:
                        break;
                }
                if (options->report && !(blocked && items[i].status == APPLY_PENDING))
                        apply_report_line(options->report, &items[i], options->dry_run,
                                          options->force);
                if (options->report_json && items[i].status != APPLY_SKIP) {
                        if (json_array_size(options->report_json) >= WORKSPACE_APPLY_REPORT_MAX)
                                result->unreported++;
                        else
                                json_array_append_new(options->report_json,
                                                      apply_report_json(&items[i], options->dry_run,
                                                                        blocked, options->force));
                }
        }
        return 0;
}
