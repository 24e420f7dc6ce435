/* Recording bases (base.h): when a run ends, the host files the copy
 * shadows, found by a walk over the upper dir; before a resumed run, from
 * the change list; and the kept copies of base contents. */
#include "workspace/base.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/array.h"
#include "util/cleanup.h"
#include "util/path.h"
#include "util/walk.h"
#include "workspace/base_internal.h"
#include "workspace/fsops.h"

static int base_kept_visit(const struct walk_entry *e, void *context, struct reins_error *err)
{
        (void)err;
        if (e->name[0] != '.')
                *(unsigned long long *)context += (unsigned long long)e->st->st_size;
        return WALK_SKIP; /* the kept copies are one level */
}

/* The bytes the kept copies take now (a few hundred files at most: one per
 * recorded path). */
static unsigned long long base_kept_bytes(int kept)
{
        unsigned long long total = 0;
        struct walk_options options = {.visit = base_kept_visit, .context = &total};
        if (walk_tree(kept, &options, NULL) != 0)
                return ~0ULL; /* cannot tell: keep nothing more */
        return total;
}

int workspace_base_keep(const struct workspace_session *session, struct workspace_base *base,
                        int dir, const char *path, bool ours, struct workspace_base_entry *entry)
{
        entry->flags &= ~(unsigned)(BASE_KEPT | BASE_HASHED);
        cleanup_fd int in = ws_open_read(dir, path, ours);
        if (in < 0)
                return in;
        struct stat st;
        if (fstat(in, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        /* the hash first; a copy only of content not kept yet that fits the caps */
        long long total = 0;
        bool written = false;
        int r = ws_base_read_hash(in, -1, entry->agent_hash, &total, &written);
        if (r < 0)
                return r;
        entry->agent_size = total;
        entry->flags |= BASE_HASHED;
        if ((unsigned long long)total > WORKSPACE_BASE_KEPT_FILE_MAX)
                return 0;
        cleanup_free char *kept_dir = path_join(session->dir, WORKSPACE_BASE_KEPT_DIR);
        if (!kept_dir)
                return -ENOMEM;
        if (mkdir(kept_dir, 0700) < 0 && errno != EEXIST)
                return 0;
        cleanup_fd int kept = open(kept_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (kept < 0)
                return 0;
        char name[2 * WORKSPACE_HASH_BYTES + 1];
        ws_base_hex(entry->agent_hash, WORKSPACE_HASH_BYTES, name);
        struct stat kst;
        if (fstatat(kept, name, &kst, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(kst.st_mode)) {
                entry->flags |= BASE_KEPT; /* the same content, kept already */
                return 0;
        }
        /* what the kept copies take, counted once per record in use */
        if (base->kept_bytes == 0)
                base->kept_bytes = base_kept_bytes(kept) + 1;
        if (base->kept_bytes - 1 + (unsigned long long)total > WORKSPACE_BASE_KEPT_MAX)
                return 0;
        cleanup_fd int out = openat(kept, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
        if (out < 0)
                return 0;
        unsigned char again[WORKSPACE_HASH_BYTES];
        if (ws_base_read_hash(in, out, again, &total, &written) < 0 || !written ||
            memcmp(again, entry->agent_hash, WORKSPACE_HASH_BYTES) != 0)
                return 0; /* changed while read: no copy, rather than a wrong one */
        char proc[64];
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", out);
        if (linkat(AT_FDCWD, proc, kept, name, AT_SYMLINK_FOLLOW) == 0 || errno == EEXIST) {
                entry->flags |= BASE_KEPT;
                base->kept_bytes += (unsigned long long)total;
        }
        return 0;
}

/* At a resume: an entry the host had changed since the base time (or any
 * entry not recorded yet) gets an identity record, so moving the base time
 * to this run's start never hides what happened before it. */
static int base_record_identity(struct workspace_base *base, int root, const char *path,
                                long long base_ns, size_t *added, bool *full)
{
        if (workspace_base_find(base, path))
                return 0;
        struct workspace_base_entry e = {.path = (char *)path};
        if (base->bytes + ws_base_line_length(&e) > WORKSPACE_BASE_MAX_BYTES) {
                *full = true;
                return 0;
        }
        struct stat st;
        int r = ws_base_lstat(root, path, &st);
        if (r == -ENOENT)
                return 0; /* gone on the host: the rules without a time find it */
        if (r < 0)
                return r;
        if (workspace_base_read_host(root, path, &e) < 0)
                return 0;
        if (ws_base_ctime_ns(&st) >= base_ns)
                e.flags |= BASE_HOST_CHANGED; /* changed before this run: stays so */
        (*added)++;
        return workspace_base_put(base, &e);
}

/* ---- the end of a run: a walk over what the copy shadows ------------------ */

/* Entries looked at by one walk: past it the walk stops (the bases not
 * recorded fall back to the start-time rule, which only errs on the side of
 * a conflict). */
#define BASE_WALK_MAX_ENTRIES 1000000u

struct base_walk {
        const struct workspace_session *session;
        struct workspace_base *base;
        struct workspace_base_entry *fresh; /* new entries, in walk order */
        size_t fresh_count;
        size_t fresh_capacity;
        size_t fresh_bytes;
        long long base_ns;
        size_t visited;
        bool full;
};

static int base_walk_add(struct base_walk *w, const struct workspace_base_entry *e)
{
        size_t cost = ws_base_line_length(e);
        if (w->base->bytes + w->fresh_bytes + cost > WORKSPACE_BASE_MAX_BYTES) {
                w->full = true;
                return 0;
        }
        if (array_reserve(w->fresh, w->fresh_capacity, w->fresh_count + 1, 64) < 0)
                return -ENOMEM;
        struct workspace_base_entry *slot = &w->fresh[w->fresh_count];
        *slot = *e;
        if (!(slot->path = strdup(e->path)))
                return -ENOMEM;
        w->fresh_count++;
        w->fresh_bytes += cost;
        return 0;
}

/* One regular file of the copy with a regular host twin (`name` in the
 * host directory `lower`): its base, when the host has not changed it since
 * the base time, content kept. */
static int base_walk_file(struct base_walk *w, int lower, const char *name, const char *path,
                          const struct stat *lst)
{
        if (ws_base_ctime_ns(lst) >= w->base_ns || workspace_base_find(w->base, path))
                return 0;
        struct workspace_base_entry e = {.path = (char *)path};
        e.flags = BASE_AGENT_KNOWN | BASE_AGENT_PRESENT | BASE_HOST_PRESENT;
        e.agent_mode = lst->st_mode;
        e.host_mode = lst->st_mode;
        e.host_size = (long long)lst->st_size;
        e.host_dev = (unsigned long long)lst->st_dev;
        e.host_ino = (unsigned long long)lst->st_ino;
        e.host_ctime_ns = ws_base_ctime_ns(lst);
        if (workspace_base_keep(w->session, w->base, lower, name, false, &e) < 0)
                return 0;
        /* read while unchanged: the identity must not have moved meanwhile */
        struct stat again;
        if (fstatat(lower, name, &again, AT_SYMLINK_NOFOLLOW) < 0 || !ws_base_host_same(&e, &again))
                return 0;
        return base_walk_add(w, &e);
}

/* What the copy shadows: an entry of the upper dir (the walk's tree) with
 * a twin of the same type in the host's lower dir (parent_twin). */
static int base_walk_visit(const struct walk_entry *e, void *context, struct reins_error *err)
{
        struct base_walk *w = context;
        if (++w->visited > BASE_WALK_MAX_ENTRIES) {
                w->full = true;
                return WALK_STOP;
        }
        const struct stat *ust = e->st;
        struct stat lst;
        /* what the agent created holds nothing of the host's: a new
         * directory is not entered, however large */
        if (!(S_ISREG(ust->st_mode) || S_ISDIR(ust->st_mode)) ||
            fstatat(e->parent_twin, e->name, &lst, AT_SYMLINK_NOFOLLOW) < 0 ||
            (ust->st_mode & S_IFMT) != (lst.st_mode & S_IFMT))
                return WALK_SKIP;
        if (e->path_cut) {
                w->full = true;
                return WALK_SKIP;
        }
        int r = 0;
        if (S_ISREG(ust->st_mode)) {
                /* an empty file may be a whiteout (xattr form) */
                if (ust->st_size == 0 && (ws_overlay_xattrs(e->dirfd, e->name) & WS_XATTR_WHITEOUT))
                        return WALK_NEXT;
                r = base_walk_file(w, e->parent_twin, e->name, e->path, &lst);
                if (r < 0)
                        return reins_error_errno(err, -r, "%s", e->path);
                return w->full ? WALK_STOP : WALK_NEXT;
        }
        if (e->too_deep) {
                w->full = true;
                return WALK_SKIP;
        }
        /* unreadable on either side: nothing recorded below */
        cleanup_fd int usub =
            openat(e->dirfd, e->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        cleanup_fd int lsub =
            openat(e->parent_twin, e->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (usub < 0 || lsub < 0)
                return WALK_SKIP;
        *e->open_fd = steal_fd(&usub);
        *e->open_twin = steal_fd(&lsub);
        return WALK_NEXT;
}

/* The end of a run: record the base of each host file the copy shadows
 * (regular files copied up), unchanged since the base time. */
static int base_capture_end(const struct workspace_session *session, long long base_ns,
                            bool *complete, struct reins_error *err)
{
        struct workspace_base base = {0};
        int r = workspace_base_load(session, &base, err);
        if (r < 0)
                return r;
        cleanup_fd int upper =
            open(session->upper, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        cleanup_fd int lower = open(session->lower, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (upper < 0 || lower < 0) {
                r = reins_error_errno(err, errno, "session %s", session->id);
                workspace_base_free(&base);
                return r;
        }
        struct base_walk w = {.session = session, .base = &base, .base_ns = base_ns};
        struct walk_options options = {
            .visit = base_walk_visit,
            .context = &w,
            .max_depth = WORKSPACE_SCAN_MAX_DEPTH,
            .max_path = WORKSPACE_SCAN_MAX_PATH,
            .root_twin = &lower,
            .label = "recording bases: upper",
        };
        r = walk_tree(upper, &options, err);
        if (r > 0) {
                w.full = true; /* stopped at a cap */
                r = 0;
        } else if (r < 0) {
                reins_error_prefix(err, "session %s", session->id);
        }
        /* the new entries join the record, sorted once */
        if (r == 0 && w.fresh_count > 0) {
                struct workspace_base_entry *items =
                    realloc(base.items, (base.count + w.fresh_count) * sizeof(*base.items));
                if (!items) {
                        r = reins_error_set(err, ENOMEM, "out of memory");
                } else {
                        base.items = items;
                        memcpy(base.items + base.count, w.fresh, w.fresh_count * sizeof(*w.fresh));
                        base.count += w.fresh_count;
                        base.capacity = base.count;
                        base.bytes += w.fresh_bytes;
                        w.fresh_count = 0; /* the paths belong to base now */
                        qsort(base.items, base.count, sizeof(*base.items), ws_base_compare);
                        r = workspace_base_save(session, &base, err);
                }
        }
        for (size_t i = 0; i < w.fresh_count; i++)
                free(w.fresh[i].path);
        free(w.fresh);
        *complete = r == 0 && !w.full;
        workspace_base_free(&base);
        return r;
}

int workspace_base_capture(const struct workspace_session *session, bool resuming, bool *complete,
                           struct reins_error *err)
{
        *complete = false;
        long long base_ns = workspace_session_base_ns(session);
        if (base_ns <= 0)
                return 0;
        if (!resuming)
                return base_capture_end(session, base_ns, complete, err);
        struct workspace_changes changes = {0};
        int r = workspace_scan_copied(session->upper, session->lower, &changes, err);
        if (r < 0)
                return r;
        struct workspace_base base = {0};
        if ((r = workspace_base_load(session, &base, err)) < 0) {
                workspace_changes_free(&changes);
                return r;
        }
        cleanup_fd int root = open(session->lower, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root < 0)
                r = reins_error_errno(err, errno, "workspace %s", session->lower);
        size_t added = 0;
        bool full = changes.truncated;
        for (size_t i = 0; r == 0 && !full && i < changes.count; i++) {
                const struct workspace_change *ch = &changes.items[i];
                if (ch->kind == WORKSPACE_REPLACED || workspace_base_find(&base, ch->path))
                        continue;
                if (resuming && ch->origin) {
                        /* a file copied up and renamed: its directory's state
                         * says whether the host deleted the original */
                        const char *slash = strrchr(ch->path, '/');
                        cleanup_free char *parent =
                            slash ? strndup(ch->path, (size_t)(slash - ch->path)) : strdup("");
                        if (!parent ||
                            base_record_identity(&base, root, parent, base_ns, &added, &full) < 0)
                                r = reins_error_set(err, ENOMEM, "out of memory");
                }
                if (ch->old.from != WORKSPACE_FROM_LOWER)
                        continue;
                struct stat st;
                /* the host's file is the base only while unchanged since the start */
                bool known = ws_lstat_beneath(root, ch->path, &st) == 0 && S_ISREG(st.st_mode) &&
                             ws_base_ctime_ns(&st) < base_ns;
                if (!known) {
                        if (resuming &&
                            base_record_identity(&base, root, ch->path, base_ns, &added, &full) < 0)
                                r = reins_error_set(err, ENOMEM, "out of memory");
                        continue;
                }
                struct workspace_base_entry e = {.path = ch->path};
                /* the record's cap bounds what is held here too */
                if (base.bytes + ws_base_line_length(&e) > WORKSPACE_BASE_MAX_BYTES) {
                        full = true;
                        break;
                }
                e.flags = BASE_AGENT_KNOWN | BASE_AGENT_PRESENT;
                e.agent_mode = st.st_mode;
                bool read = workspace_base_read_host(root, ch->path, &e) == 0 &&
                            workspace_base_keep(session, &base, root, ch->path, false, &e) == 0;
                /* read while unchanged: the identity must not have moved meanwhile */
                struct stat again;
                if (!read || ws_lstat_beneath(root, ch->path, &again) < 0 ||
                    !ws_base_host_same(&e, &again)) {
                        if (resuming &&
                            base_record_identity(&base, root, ch->path, base_ns, &added, &full) < 0)
                                r = reins_error_set(err, ENOMEM, "out of memory");
                        continue;
                }
                if (workspace_base_put(&base, &e) < 0)
                        r = reins_error_set(err, ENOMEM, "out of memory");
                added++;
        }
        if (r == 0 && added > 0)
                r = workspace_base_save(session, &base, err);
        *complete = r == 0 && !full;
        workspace_base_free(&base);
        workspace_changes_free(&changes);
        return r;
}
