#include "audit/changes.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit/changes_internal.h"
#include "util/digest.h"
#include "util/weaken.h"
#include "util/bytes_json.h"

#define CHANGES_SLICE 4096 /* entries added per allocation step */

int64_t changes_ns(struct timespec ts)
{
        return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The coarse clock is the one the kernel stamps ctime with (current_time):
 * a change made after this reading has a ctime no earlier than it. A finer
 * clock could read later than the stamp of a change made after it. */
int64_t changes_now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME_COARSE, &ts);
        return changes_ns(ts);
}

void changes_key(const unsigned char parent[CHANGES_KEY], const char *name, size_t length,
                 unsigned char out[CHANGES_KEY])
{
        struct digest_sha256 h;
        unsigned char digest[DIGEST_SHA256_BYTES];
        digest_sha256_init(&h);
        digest_sha256_update(&h, parent, CHANGES_KEY);
        digest_sha256_update(&h, name, length);
        digest_sha256_final(&h, digest);
        memcpy(out, digest, CHANGES_KEY);
}

struct changes_snapshot *changes_snapshot_new(size_t max_entries)
{
        struct changes_snapshot *s = calloc(1, sizeof(*s));
        if (!s)
                return NULL;
        s->max = max_entries < CHANGES_NONE ? max_entries : CHANGES_NONE - 1;
        /* without room for names the comparison still works; only paths go */
        s->names = malloc(CHANGES_MAX_NAME_BYTES);
        return s;
}

int changes_snapshot_add(struct changes_snapshot *s, uint32_t parent, const char *name,
                         const struct stat *st, uint16_t flags)
{
        if (s->count >= s->max)
                return -E2BIG;
        if (s->count == s->capacity) {
                /* grows by slices, not by doubling: no transient 2x copy */
                size_t cap = s->capacity + CHANGES_SLICE;
                struct changes_entry *e =
                    s->map ? malloc(cap * sizeof(*e)) : realloc(s->entries, cap * sizeof(*e));
                if (!e)
                        return -ENOMEM;
                if (s->map) { /* out of the cache file's mapping */
                        memcpy(e, s->entries, s->count * sizeof(*e));
                        munmap(s->map, s->map_length);
                        s->map = NULL;
                }
                s->entries = e;
                s->capacity = cap;
        }
        static const unsigned char top[CHANGES_KEY];
        size_t length = strlen(name);
        struct changes_entry *e = &s->entries[s->count];
        changes_key(parent == CHANGES_NONE ? top : s->entries[parent].key, name, length, e->key);
        e->parent = parent;
        e->name = CHANGES_NONE;
        e->name_length = (uint16_t)length;
        e->flags = flags;
        if (!S_ISDIR(st->st_mode) && st->st_nlink > 1)
                e->flags |= CHANGES_LINKED;
        if (s->names && s->names_used + length <= CHANGES_MAX_NAME_BYTES) {
                memcpy(s->names + s->names_used, name, length);
                e->name = (uint32_t)s->names_used;
                s->names_used += length;
        }
        e->inode = st->st_ino;
        e->size = (uint64_t)st->st_size;
        e->mtime_ns = changes_ns(st->st_mtim);
        e->ctime_ns = changes_ns(st->st_ctim);
        e->mode = st->st_mode;
        s->count++;
        return 0;
}

struct walk_frame {
        DIR *dir;
        uint32_t index; /* the directory's entry; `top` for the first */
};

/* Depth-first through directory fds, on an explicit stack of at most
 * CHANGES_MAX_DEPTH open directories: the agent decides how deep its tree
 * is, not how deep the supervisor's stack or how many fds it holds. */
int changes_snapshot_walk(struct changes_snapshot *s, int fd, uint32_t top, size_t depth_left,
                          uint64_t root_dev)
{
        struct walk_frame stack[CHANGES_MAX_DEPTH];
        size_t depth = 0;
        if (depth_left > CHANGES_MAX_DEPTH)
                depth_left = CHANGES_MAX_DEPTH;
        DIR *first = depth_left > 0 ? fdopendir(fd) : NULL;
        if (!first) {
                close(fd);
                return 0;
        }
        stack[depth++] = (struct walk_frame){first, top};
        int r = 0;
        while (depth > 0 && r == 0) {
                struct walk_frame *f = &stack[depth - 1];
                errno = 0;
                struct dirent *de = readdir(f->dir);
                if (!de) {
                        if (errno != 0 && f->index != CHANGES_NONE)
                                s->entries[f->index].flags |= CHANGES_UNLISTED;
                        closedir(f->dir);
                        depth--;
                        continue;
                }
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                int dfd = dirfd(f->dir);
                s->listed++;
                struct stat st;
                if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                uint16_t flags = 0;
                if (S_ISDIR(st.st_mode) && st.st_dev != root_dev)
                        flags |= CHANGES_OTHER_DEV;
                r = changes_snapshot_add(s, f->index, de->d_name, &st, flags | CHANGES_FRESH);
                if (r < 0 || !S_ISDIR(st.st_mode))
                        continue;
                uint32_t me = (uint32_t)(s->count - 1);
                if (depth >= depth_left) {
                        s->not_scanned++;
                        s->entries[me].flags |= CHANGES_UNLISTED;
                        continue;
                }
                int child =
                    openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                DIR *d = child >= 0 ? fdopendir(child) : NULL;
                if (!d) {
                        if (child >= 0)
                                close(child);
                        /* unreadable: its entry is still compared */
                        s->entries[me].flags |= CHANGES_UNLISTED;
                        continue;
                }
                stack[depth++] = (struct walk_frame){d, me};
        }
        while (depth > 0) {
                struct walk_frame *f = &stack[--depth];
                if (r < 0 && f->index != CHANGES_NONE)
                        s->entries[f->index].flags |= CHANGES_UNLISTED; /* not read to its end */
                closedir(f->dir);
        }
        return r;
}

static int order_compare(const void *a, const void *b, void *arg)
{
        const struct changes_entry *e = arg;
        return memcmp(e[*(const uint32_t *)a].key, e[*(const uint32_t *)b].key, CHANGES_KEY);
}

void changes_sort_indices(uint32_t *indices, size_t count, const struct changes_entry *entries)
{
        qsort_r(indices, count, sizeof(*indices), order_compare, (void *)entries);
}

int changes_snapshot_sort(struct changes_snapshot *s)
{
        free(s->order);
        s->order = malloc((s->count ? s->count : 1) * sizeof(*s->order));
        if (!s->order)
                return -ENOMEM;
        size_t n = 0;
        for (size_t i = 0; i < s->count; i++)
                if (!(s->entries[i].flags & CHANGES_DROPPED))
                        s->order[n++] = (uint32_t)i;
        s->order_count = n;
        if (n > 1)
                qsort_r(s->order, n, sizeof(*s->order), order_compare, s->entries);
        return 0;
}

static void root_of(const struct stat *st, struct changes_root *root)
{
        root->dev = st->st_dev;
        root->inode = st->st_ino;
        root->mode = st->st_mode;
        root->mtime_ns = changes_ns(st->st_mtim);
        root->ctime_ns = changes_ns(st->st_ctim);
}

struct changes_snapshot *changes_walk_tree(const char *root, size_t max_entries, int *result)
{
        struct changes_snapshot *s = changes_snapshot_new(max_entries);
        if (!s) {
                *result = -ENOMEM;
                return NULL;
        }
        s->walked_ns = changes_now_ns();
        s->started_ns = s->walked_ns;
        s->walked = true;
        int fd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        int r = fd < 0 ? -errno : fstat(fd, &st) < 0 ? -errno : 0;
        if (r == 0) {
                root_of(&st, &s->root);
                r = changes_snapshot_walk(s, fd, CHANGES_NONE, CHANGES_MAX_DEPTH, st.st_dev);
                fd = -1;
        }
        if (fd >= 0)
                close(fd);
        if (r == 0)
                r = changes_snapshot_sort(s);
        *result = r;
        return s;
}

struct changes_snapshot *changes_take(const char *root, size_t max_entries)
{
        int r;
        struct changes_snapshot *s = changes_walk_tree(root, max_entries, &r);
        if (r < 0) {
                changes_free(s);
                return NULL;
        }
        return s;
}

/* The path of entry i into buf (at most `cap` bytes with the NUL): its
 * length, or 0 when it is too long or a name on the way was not kept. */
size_t changes_path_of(const struct changes_snapshot *s, uint32_t i, char *buf, size_t cap)
{
        size_t total = 0;
        for (uint32_t j = i; j != CHANGES_NONE; j = s->entries[j].parent) {
                if (s->entries[j].name == CHANGES_NONE)
                        return 0;
                total += s->entries[j].name_length + (total ? 1 : 0);
                if (total >= cap)
                        return 0;
        }
        size_t end = total;
        buf[end] = '\0';
        for (uint32_t j = i; j != CHANGES_NONE; j = s->entries[j].parent) {
                const struct changes_entry *e = &s->entries[j];
                end -= e->name_length;
                memcpy(buf + end, s->names + e->name, e->name_length);
                if (end > 0)
                        buf[--end] = '/';
        }
        return total;
}

enum { MARK_CREATED = 1, MARK_MODIFIED, MARK_DELETED };

struct changes_listing {
        size_t max, bytes, max_bytes, unlisted;
        size_t path_max; /* bytes in buf */
        char *buf;
};

static int path_compare(const void *a, const void *b)
{
        const char *x = json_string_value(*(json_t *const *)a);
        const char *y = json_string_value(*(json_t *const *)b);
        return strcmp(x ? x : "", y ? y : "");
}

/* The marked entries of `s`, in walk order, up to the caps; sorted by path. */
static json_t *changes_list(const struct changes_snapshot *s, const unsigned char *marks,
                            unsigned char mark, size_t count, struct changes_listing *l)
{
        json_t *list = json_array();
        size_t listed = 0;
        for (size_t i = 0; list && i < s->count && listed < count; i++) {
                if (marks[i] != mark)
                        continue;
                json_t *path = NULL;
                size_t n =
                    listed < l->max ? changes_path_of(s, (uint32_t)i, l->buf, l->path_max) : 0;
                if (n > 0)
                        path = bytes_json(l->buf, n);
                size_t encoded = path ? json_dumpb(path, NULL, 0, JSON_ENCODE_ANY) + 1 : 0;
                if (!path || l->bytes + encoded > l->max_bytes) {
                        json_decref(path);
                        l->unlisted++;
                        continue;
                }
                l->bytes += encoded;
                json_array_append_new(list, path);
                listed++;
        }
        return list; /* every marked entry was either listed or counted unlisted */
}

/* Was the entry at this path at the start (`a`) changed by the end (`b`)?
 * A directory changes whenever an entry comes or goes: only its own mode
 * or identity counts. Anything else is changed when it is another inode,
 * or when its ctime is not before the session started: every write,
 * chmod, chown, truncate, link, rename and utimensat sets ctime to the
 * current time, and no unprivileged process can set it back (a `touch -d`
 * that restores the mtime leaves ctime at now). A ctime from before the
 * start means the inode was not touched since, so what the host changed
 * before the session started is never counted; and `a` may then come from
 * the cache (changes_cache.c), whose metadata may be older than the start.
 * An entry read at the start (CHANGES_FRESH) is also compared whole. */
static bool changes_entry_modified(const struct changes_snapshot *before,
                                   const struct changes_entry *a, const struct changes_entry *b)
{
        if (a->inode != b->inode || (a->mode & S_IFMT) != (b->mode & S_IFMT))
                return true;
        if (S_ISDIR(a->mode))
                return a->mode != b->mode;
        if (weaken("change-ctime"))
                return a->size != b->size || a->mtime_ns != b->mtime_ns; /* `make weak` only */
        if (b->ctime_ns >= before->started_ns)
                return true;
        return (a->flags & CHANGES_FRESH) &&
               (a->mode != b->mode || a->size != b->size || a->mtime_ns != b->mtime_ns ||
                a->ctime_ns != b->ctime_ns);
}

static void weak_ctime_only(const struct changes_snapshot *before,
                            const struct changes_snapshot *after, unsigned char *ma,
                            size_t *created, size_t *modified)
{
        for (size_t j = 0; j < after->order_count; j++) {
                uint32_t aj = after->order[j];
                const struct changes_entry *b = &after->entries[aj];
                if (S_ISDIR(b->mode) || b->ctime_ns < before->started_ns)
                        continue;
                bool known = false;
                for (size_t i = 0; i < before->order_count && !known; i++)
                        known = before->entries[before->order[i]].inode == b->inode;
                ma[aj] = known ? MARK_MODIFIED : MARK_CREATED;
                (*(known ? modified : created))++;
        }
}

json_t *changes_compare(const struct changes_snapshot *before, const struct changes_snapshot *after,
                        size_t max_listed)
{
        unsigned char *mb = calloc(before->count + 1, 1), *ma = calloc(after->count + 1, 1);
        struct changes_listing *l = calloc(1, sizeof(*l));
        json_t *out = NULL;
        if (!mb || !ma || !l)
                goto done;
        size_t i = 0, j = 0, n_created = 0, n_modified = 0, n_deleted = 0;
        size_t nb = before->order_count, na = after->order_count;
        if (weaken("change-ctime-only")) {
                /* `make weak` only: the naive record that knows no names from
                 * the start (the tests of renames and moves must fail) */
                weak_ctime_only(before, after, ma, &n_created, &n_modified);
                nb = na = 0;
        }
        while (i < nb || j < na) {
                uint32_t bi = i < nb ? before->order[i] : 0;
                uint32_t aj = j < na ? after->order[j] : 0;
                int c = i == nb ? 1
                        : j == na
                            ? -1
                            : memcmp(before->entries[bi].key, after->entries[aj].key, CHANGES_KEY);
                if (c < 0) {
                        mb[bi] = MARK_DELETED;
                        n_deleted++;
                        i++;
                } else if (c > 0) {
                        ma[aj] = MARK_CREATED;
                        n_created++;
                        j++;
                } else {
                        i++;
                        j++;
                        if (changes_entry_modified(before, &before->entries[bi],
                                                   &after->entries[aj])) {
                                ma[aj] = MARK_MODIFIED;
                                n_modified++;
                        }
                }
        }
        l->max = max_listed;
        l->max_bytes = CHANGES_MAX_LISTED_BYTES;
        l->path_max = CHANGES_MAX_PATH;
        if (weaken("host-caps")) {
                /* `make weak` only: every change listed whole, as before the
                 * caps, so the escape probe is seen failing */
                l->max = SIZE_MAX;
                l->max_bytes = SIZE_MAX;
                l->path_max = 1u << 20;
        }
        if (!(l->buf = malloc(l->path_max)))
                goto done;
        json_t *created = changes_list(after, ma, MARK_CREATED, n_created, l);
        json_t *modified = changes_list(after, ma, MARK_MODIFIED, n_modified, l);
        json_t *deleted = changes_list(before, mb, MARK_DELETED, n_deleted, l);
        json_t *lists[] = {created, modified, deleted};
        for (size_t k = 0; k < 3; k++)
                if (lists[k] && json_array_size(lists[k]) > 1) {
                        json_t **items = NULL;
                        size_t n = json_array_size(lists[k]);
                        items = malloc(n * sizeof(*items));
                        if (!items)
                                continue;
                        for (size_t x = 0; x < n; x++)
                                items[x] = json_incref(json_array_get(lists[k], x));
                        qsort(items, n, sizeof(*items), path_compare);
                        json_array_clear(lists[k]);
                        for (size_t x = 0; x < n; x++)
                                json_array_append_new(lists[k], items[x]);
                        free(items);
                }
        size_t not_scanned =
            after->not_scanned > before->not_scanned ? after->not_scanned : before->not_scanned;
        out = json_pack("{s:o, s:o, s:o, s:I, s:I, s:I, s:b}", "created", created, "modified",
                        modified, "deleted", deleted, "created_count", (json_int_t)n_created,
                        "modified_count", (json_int_t)n_modified, "deleted_count",
                        (json_int_t)n_deleted, "truncated", l->unlisted > 0 || not_scanned > 0);
        if (out && l->unlisted > 0)
                json_object_set_new(out, "unlisted", json_integer((json_int_t)l->unlisted));
        if (out && not_scanned > 0) {
                json_object_set_new(out, "not_scanned_dirs", json_integer((json_int_t)not_scanned));
                json_object_set_new(out, "max_depth", json_integer(CHANGES_MAX_DEPTH));
        }
done:
        free(mb);
        free(ma);
        if (l)
                free(l->buf);
        free(l);
        return out;
}

json_t *changes_limit_fields(const json_t *record)
{
        json_int_t unlisted = json_integer_value(json_object_get(record, "unlisted"));
        json_int_t deep = json_integer_value(json_object_get(record, "not_scanned_dirs"));
        if (json_object_get(record, "untracked"))
                return json_pack("{s:s, s:s, s:I, s:s}", "kind", "files.changed", "cap", "entries",
                                 "limit", (json_int_t)CHANGES_MAX_ENTRIES, "summary",
                                 "the workspace holds more entries than the change scan "
                                 "tracks: no change was recorded");
        if (unlisted <= 0 && deep <= 0)
                return NULL;
        json_t *f = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}", "kind", "files.changed",
                              "max_listed", (json_int_t)CHANGES_MAX_LISTED, "max_listed_bytes",
                              (json_int_t)CHANGES_MAX_LISTED_BYTES, "unlisted", unlisted,
                              "not_scanned_dirs", deep, "max_depth", (json_int_t)CHANGES_MAX_DEPTH);
        if (f)
                json_object_set_new(
                    f, "summary",
                    json_string(deep > 0
                                    ? "directories below the depth cap were not scanned; "
                                      "changes past the listing caps are counted, not listed"
                                    : "changes past the listing caps are counted, not listed"));
        return f;
}

void changes_free(struct changes_snapshot *s)
{
        if (!s)
                return;
        if (s->map)
                munmap(s->map, s->map_length);
        else
                free(s->entries);
        free(s->names);
        free(s->order);
        free(s);
}
