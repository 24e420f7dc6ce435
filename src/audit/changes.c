#include "audit/changes.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/json_text.h"

struct changes_entry {
        char *path; /* relative to the root */
        uint64_t inode;
        uint64_t size;
        int64_t mtime_ns;
        int64_t ctime_ns;
        uint32_t mode;
};

struct changes_snapshot {
        struct changes_entry *entries;
        size_t count, capacity, max;
        int overflow;
};

static int snapshot_add(struct changes_snapshot *s, const char *path, const struct stat *st)
{
        if (s->count >= s->max) {
                s->overflow = 1;
                return -E2BIG;
        }
        if (s->count == s->capacity) {
                size_t cap = s->capacity ? s->capacity * 2 : 256;
                struct changes_entry *e = realloc(s->entries, cap * sizeof(*e));
                if (!e)
                        return -ENOMEM;
                s->entries = e;
                s->capacity = cap;
        }
        struct changes_entry *e = &s->entries[s->count];
        e->path = strdup(path);
        if (!e->path)
                return -ENOMEM;
        e->inode = st->st_ino;
        e->size = (uint64_t)st->st_size;
        e->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
        e->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
        e->mode = st->st_mode;
        s->count++;
        return 0;
}

/* Walk below dirfd (opened O_NOFOLLOW): `prefix` is the relative path. */
static int snapshot_walk(struct changes_snapshot *s, int dirfd, const char *prefix)
{
        DIR *d = fdopendir(dirfd);
        if (!d) {
                close(dirfd);
                return 0;
        }
        int r = 0;
        struct dirent *de;
        while (r == 0 && (de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                struct stat st;
                if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                size_t len = strlen(prefix) + strlen(de->d_name) + 2;
                char *path = malloc(len);
                if (!path) {
                        r = -ENOMEM;
                        break;
                }
                snprintf(path, len, "%s%s%s", prefix, prefix[0] ? "/" : "", de->d_name);
                r = snapshot_add(s, path, &st);
                if (r == 0 && S_ISDIR(st.st_mode)) {
                        int child = openat(dirfd, de->d_name,
                                           O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (child >= 0)
                                r = snapshot_walk(s, child, path);
                }
                free(path);
        }
        closedir(d);
        return r;
}

static int entry_compare(const void *a, const void *b)
{
        return strcmp(((const struct changes_entry *)a)->path,
                      ((const struct changes_entry *)b)->path);
}

struct changes_snapshot *changes_take(const char *root, size_t max_entries)
{
        struct changes_snapshot *s = calloc(1, sizeof(*s));
        if (!s)
                return NULL;
        s->max = max_entries;
        int fd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int r = fd < 0 ? -errno : snapshot_walk(s, fd, "");
        if (r < 0) {
                changes_free(s);
                return NULL;
        }
        if (s->count > 1) /* an empty tree has no array at all */
                qsort(s->entries, s->count, sizeof(*s->entries), entry_compare);
        return s;
}

static void changes_list(json_t *list, const char *path, size_t max, int *truncated)
{
        if (json_array_size(list) < max)
                json_array_append_new(list, json_text_z(path));
        else
                *truncated = 1;
}

json_t *changes_compare(const struct changes_snapshot *before, const struct changes_snapshot *after,
                        size_t max_listed)
{
        json_t *created = json_array(), *modified = json_array(), *deleted = json_array();
        int truncated = 0;
        size_t i = 0, j = 0, n_created = 0, n_modified = 0, n_deleted = 0;
        while (i < before->count || j < after->count) {
                int c = i == before->count ? 1
                        : j == after->count
                            ? -1
                            : strcmp(before->entries[i].path, after->entries[j].path);
                if (c < 0) {
                        changes_list(deleted, before->entries[i++].path, max_listed, &truncated);
                        n_deleted++;
                } else if (c > 0) {
                        changes_list(created, after->entries[j++].path, max_listed, &truncated);
                        n_created++;
                } else {
                        const struct changes_entry *a = &before->entries[i++];
                        const struct changes_entry *b = &after->entries[j++];
                        /* directories change whenever an entry comes or goes:
                         * only their own mode or identity counts */
                        int dir = S_ISDIR(a->mode) && S_ISDIR(b->mode);
                        if (a->inode != b->inode || a->mode != b->mode ||
                            (!dir && (a->size != b->size || a->mtime_ns != b->mtime_ns ||
                                      a->ctime_ns != b->ctime_ns))) {
                                changes_list(modified, b->path, max_listed, &truncated);
                                n_modified++;
                        }
                }
        }
        return json_pack("{s:o, s:o, s:o, s:I, s:I, s:I, s:b}", "created", created, "modified",
                         modified, "deleted", deleted, "created_count", (json_int_t)n_created,
                         "modified_count", (json_int_t)n_modified, "deleted_count",
                         (json_int_t)n_deleted, "truncated", truncated);
}

void changes_free(struct changes_snapshot *s)
{
        if (!s)
                return;
        for (size_t i = 0; i < s->count; i++)
                free(s->entries[i].path);
        free(s->entries);
        free(s);
}
