#include "audit/changes.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/digest.h"
#include "util/weaken.h"
#include "util/bytes_json.h"

#define CHANGES_NONE  UINT32_MAX
#define CHANGES_KEY   16
#define CHANGES_SLICE 4096 /* entries added per allocation step */

struct changes_entry {
        unsigned char key[CHANGES_KEY]; /* SHA-256(parent key || name), truncated */
        uint32_t parent;                /* index of its directory; CHANGES_NONE at the top */
        uint32_t name;                  /* offset in names; CHANGES_NONE when not kept */
        uint16_t name_length;
        uint32_t mode;
        uint64_t inode;
        uint64_t size;
        int64_t mtime_ns;
        int64_t ctime_ns;
};

struct changes_snapshot {
        struct changes_entry *entries;
        size_t count, capacity, max;
        char *names; /* the names kept, back to back (not NUL-terminated) */
        size_t names_used;
        size_t not_scanned; /* directories below CHANGES_MAX_DEPTH */
        uint32_t *order;    /* entry indices sorted by key (changes_take) */
};

static void changes_key(const unsigned char parent[CHANGES_KEY], const char *name, size_t length,
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

static int snapshot_add(struct changes_snapshot *s, uint32_t parent, const char *name,
                        const struct stat *st)
{
        if (s->count >= s->max)
                return -E2BIG;
        if (s->count == s->capacity) {
                /* grows by slices, not by doubling: no transient 2x copy */
                size_t cap = s->capacity + CHANGES_SLICE;
                struct changes_entry *e = realloc(s->entries, cap * sizeof(*e));
                if (!e)
                        return -ENOMEM;
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
        if (s->names && s->names_used + length <= CHANGES_MAX_NAME_BYTES) {
                memcpy(s->names + s->names_used, name, length);
                e->name = (uint32_t)s->names_used;
                s->names_used += length;
        }
        e->inode = st->st_ino;
        e->size = (uint64_t)st->st_size;
        e->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
        e->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
        e->mode = st->st_mode;
        s->count++;
        return 0;
}

struct walk_frame {
        DIR *dir;
        uint32_t index; /* the directory's entry; CHANGES_NONE for the root */
};

/* Depth-first through directory fds, on an explicit stack of at most
 * CHANGES_MAX_DEPTH open directories: the agent decides how deep its tree
 * is, not how deep the supervisor's stack or how many fds it holds. */
static int snapshot_walk(struct changes_snapshot *s, int root)
{
        struct walk_frame stack[CHANGES_MAX_DEPTH];
        size_t depth = 0;
        DIR *top = fdopendir(root);
        if (!top) {
                close(root);
                return 0;
        }
        stack[depth++] = (struct walk_frame){top, CHANGES_NONE};
        int r = 0;
        while (depth > 0 && r == 0) {
                struct walk_frame *f = &stack[depth - 1];
                struct dirent *de = readdir(f->dir);
                if (!de) {
                        closedir(f->dir);
                        depth--;
                        continue;
                }
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                int fd = dirfd(f->dir);
                struct stat st;
                if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                r = snapshot_add(s, f->index, de->d_name, &st);
                if (r < 0 || !S_ISDIR(st.st_mode))
                        continue;
                if (depth == CHANGES_MAX_DEPTH) {
                        s->not_scanned++;
                        continue;
                }
                int child = openat(fd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                DIR *d = child >= 0 ? fdopendir(child) : NULL;
                if (!d) {
                        if (child >= 0)
                                close(child);
                        continue; /* unreadable: its entry is still compared */
                }
                stack[depth++] = (struct walk_frame){d, (uint32_t)(s->count - 1)};
        }
        while (depth > 0)
                closedir(stack[--depth].dir);
        return r;
}

static int order_compare(const void *a, const void *b, void *arg)
{
        const struct changes_entry *e = arg;
        return memcmp(e[*(const uint32_t *)a].key, e[*(const uint32_t *)b].key, CHANGES_KEY);
}

struct changes_snapshot *changes_take(const char *root, size_t max_entries)
{
        struct changes_snapshot *s = calloc(1, sizeof(*s));
        if (!s)
                return NULL;
        s->max = max_entries < CHANGES_NONE ? max_entries : CHANGES_NONE - 1;
        /* without room for names the comparison still works; only paths go */
        s->names = malloc(CHANGES_MAX_NAME_BYTES);
        int fd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int r = fd < 0 ? -errno : snapshot_walk(s, fd);
        if (r == 0 && s->count > 0 && !(s->order = malloc(s->count * sizeof(*s->order))))
                r = -ENOMEM;
        if (r < 0) {
                changes_free(s);
                return NULL;
        }
        for (size_t i = 0; i < s->count; i++)
                s->order[i] = (uint32_t)i;
        if (s->count > 1)
                qsort_r(s->order, s->count, sizeof(*s->order), order_compare, s->entries);
        return s;
}

/* The path of entry i into buf (at most `cap` bytes with the NUL): its
 * length, or 0 when it is too long or a name on the way was not kept. */
static size_t changes_path(const struct changes_snapshot *s, uint32_t i, char *buf, size_t cap)
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
                size_t n = listed < l->max ? changes_path(s, (uint32_t)i, l->buf, l->path_max) : 0;
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

json_t *changes_compare(const struct changes_snapshot *before, const struct changes_snapshot *after,
                        size_t max_listed)
{
        unsigned char *mb = calloc(before->count + 1, 1), *ma = calloc(after->count + 1, 1);
        struct changes_listing *l = calloc(1, sizeof(*l));
        json_t *out = NULL;
        if (!mb || !ma || !l)
                goto done;
        size_t i = 0, j = 0, n_created = 0, n_modified = 0, n_deleted = 0;
        while (i < before->count || j < after->count) {
                uint32_t bi = i < before->count ? before->order[i] : 0;
                uint32_t aj = j < after->count ? after->order[j] : 0;
                int c = i == before->count ? 1
                        : j == after->count
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
                        const struct changes_entry *a = &before->entries[bi];
                        const struct changes_entry *b = &after->entries[aj];
                        i++;
                        j++;
                        /* directories change whenever an entry comes or goes:
                         * only their own mode or identity counts */
                        bool dir = S_ISDIR(a->mode) && S_ISDIR(b->mode);
                        if (a->inode != b->inode || a->mode != b->mode ||
                            (!dir && (a->size != b->size || a->mtime_ns != b->mtime_ns ||
                                      a->ctime_ns != b->ctime_ns))) {
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
        free(s->entries);
        free(s->names);
        free(s->order);
        free(s);
}
