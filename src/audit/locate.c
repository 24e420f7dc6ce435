#include "audit/locate.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/trail.h"
#include "audit/trail_internal.h"
#include "audit/verify.h"
#include "util/cleanup.h"
#include "util/path.h"

struct trail_entry {
        char *path;
        struct timespec mtime;
};

static int trail_entry_compare(const void *a, const void *b)
{
        const struct trail_entry *x = a, *y = b;
        if (x->mtime.tv_sec != y->mtime.tv_sec)
                return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
        if (x->mtime.tv_nsec != y->mtime.tv_nsec)
                return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
        return strcmp(x->path, y->path);
}

static bool locate_is_trail_name(const char *name)
{
        size_t n = strlen(name), s = strlen(AUDIT_TRAIL_SUFFIX);
        return name[0] != '.' && n > s && strcmp(name + n - s, AUDIT_TRAIL_SUFFIX) == 0;
}

int audit_list_trails(const char *dir, struct reins_strv *paths, struct reins_error *err)
{
        DIR *d = opendir(dir);
        if (!d)
                return reins_error_errno(err, errno, "reading %s", dir);
        struct trail_entry *entries = NULL;
        size_t count = 0, capacity = 0;
        struct dirent *de;
        int r = 0;
        while ((de = readdir(d))) {
                if (!locate_is_trail_name(de->d_name))
                        continue;
                struct stat st;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    !S_ISREG(st.st_mode))
                        continue;
                if (count == capacity) {
                        capacity = capacity ? 2 * capacity : 64;
                        struct trail_entry *grown = realloc(entries, capacity * sizeof(*entries));
                        if (!grown) {
                                r = -ENOMEM;
                                break;
                        }
                        entries = grown;
                }
                entries[count].path = path_join(dir, de->d_name);
                entries[count].mtime = st.st_mtim;
                if (!entries[count].path) {
                        r = -ENOMEM;
                        break;
                }
                count++;
        }
        closedir(d);
        if (count)
                qsort(entries, count, sizeof(*entries), trail_entry_compare);
        for (size_t i = 0; i < count; i++) {
                if (r == 0)
                        r = strv_push_take(paths, entries[i].path);
                else
                        free(entries[i].path);
        }
        free(entries);
        if (r < 0)
                return reins_error_set(err, ENOMEM, "out of memory");
        return 0;
}

int audit_locate(const char *what, char **path, struct reins_error *err)
{
        struct stat st;
        if (what && (strchr(what, '/') || stat(what, &st) == 0)) {
                if (!(*path = strdup(what)))
                        return reins_error_set(err, ENOMEM, "out of memory");
                return 0;
        }
        cleanup_free char *dir = audit_trail_dir(err);
        if (!dir)
                return -(err && err->code ? err->code : EIO);
        struct reins_strv trails = {0};
        int r = audit_list_trails(dir, &trails, err);
        if (r < 0)
                return r;
        char *found = NULL;
        size_t matches = 0;
        if (!what) {
                if (trails.count > 0) {
                        found = trails.items[trails.count - 1];
                        matches = 1;
                }
        } else {
                for (size_t i = 0; i < trails.count; i++) {
                        const char *name = strrchr(trails.items[i], '/') + 1;
                        if (strncmp(name, what, strlen(what)) != 0)
                                continue;
                        found = trails.items[i];
                        matches++;
                        if (strlen(name) == strlen(what) + strlen(AUDIT_TRAIL_SUFFIX)) {
                                matches = 1; /* an exact id wins over longer ones */
                                break;
                        }
                }
        }
        if (matches == 1)
                *path = strdup(found);
        strv_free(&trails);
        if (matches == 0)
                return what ? reins_error_set(err, ENOENT, "no trail for session %s in %s", what,
                                              dir)
                            : reins_error_set(err, ENOENT, "no trails yet in %s", dir);
        if (matches > 1)
                return reins_error_set(err, EEXIST, "session prefix %s is ambiguous", what);
        if (!*path)
                return reins_error_set(err, ENOMEM, "out of memory");
        return 0;
}

int audit_load_records(const char *path, json_t **records, size_t *skipped, struct reins_error *err)
{
        char *data = NULL;
        size_t length = 0;
        int r = audit_read_file(path, &data, &length, err);
        if (r < 0)
                return r;
        json_t *list = json_array();
        *skipped = 0;
        const char *p = data, *end = data + length;
        while (list && p < end) {
                const char *newline = memchr(p, '\n', (size_t)(end - p));
                if (!newline)
                        break; /* a torn last line */
                json_t *record = json_loadb(p, (size_t)(newline - p), 0, NULL);
                if (json_is_object(record))
                        json_array_append_new(list, record);
                else {
                        json_decref(record);
                        (*skipped)++;
                }
                p = newline + 1;
        }
        free(data);
        if (!list)
                return reins_error_set(err, ENOMEM, "out of memory");
        *records = list;
        return 0;
}
