/* The daemon's session records (serve/record.h). Every name here is built
 * by the daemon from a validated id; files are opened without following
 * symlinks. */
#include "serve/record.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/array.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/path.h"

#define RECORD_NAME "record.json"
#define RECORD_MAX  (4 << 20)

static bool record_valid_id(const char *session)
{
        size_t n = strspn(session, "0123456789abcdef");
        return n == 24 && session[n] == '\0';
}

int serve_record_make_dir(const char *sessions_dir, const char *session, char **out,
                          struct reins_error *err)
{
        if (!record_valid_id(session))
                return reins_error_set(err, EINVAL, "invalid session id");
        cleanup_free char *dir = path_join(sessions_dir, session);
        if (!dir)
                return reins_error_set(err, ENOMEM, "out of memory");
        /* a fresh random id: an existing directory is refused, not reused */
        if (mkdir(dir, 0700) < 0)
                return reins_error_errno(err, errno, "creating %s", dir);
        *out = steal_ptr(&dir);
        return 0;
}

static int record_open_dir(const char *sessions_dir, const char *session)
{
        if (!record_valid_id(session))
                return -EINVAL;
        cleanup_fd int base = open(sessions_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (base < 0)
                return -errno;
        int fd = openat(base, session, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

int serve_record_write(const char *sessions_dir, const char *session, const json_t *record,
                       struct reins_error *err)
{
        cleanup_fd int dir = record_open_dir(sessions_dir, session);
        if (dir < 0)
                return reins_error_errno(err, -dir, "the record of session %s", session);
        cleanup_free char *text = json_dumps(record, JSON_COMPACT | JSON_SORT_KEYS);
        if (!text)
                return reins_error_set(err, ENOMEM, "out of memory");
        static const char tmp[] = "." RECORD_NAME ".tmp";
        cleanup_fd int fd =
            openat(dir, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return reins_error_errno(err, errno, "writing the record of session %s", session);
        int r = fileio_write_all(fd, text, strlen(text));
        if (r == 0 && renameat(dir, tmp, dir, RECORD_NAME) < 0)
                r = -errno;
        if (r < 0) {
                unlinkat(dir, tmp, 0);
                return reins_error_errno(err, -r, "writing the record of session %s", session);
        }
        return 0;
}

/* Read `name` in `dir`: a regular file, at most `limit` bytes (its last
 * ones when `tail`). */
static int record_read_file(int dir, const char *name, size_t limit, bool tail, char **data,
                            size_t *length, bool *truncated)
{
        cleanup_fd int fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        bool cut = false;
        if (tail && (size_t)st.st_size > limit) {
                if (lseek(fd, st.st_size - (off_t)limit, SEEK_SET) < 0)
                        return -errno;
                cut = true;
        }
        int r = fileio_read_fd(fd, limit, data, length, truncated);
        if (r == 0 && cut)
                *truncated = true;
        return r;
}

json_t *serve_record_read(const char *sessions_dir, const char *session)
{
        cleanup_fd int dir = record_open_dir(sessions_dir, session);
        if (dir < 0)
                return NULL;
        cleanup_free char *text = NULL;
        size_t length = 0;
        bool truncated = false;
        if (record_read_file(dir, RECORD_NAME, RECORD_MAX, false, &text, &length, &truncated) < 0 ||
            truncated)
                return NULL;
        json_t *record = json_loadb(text, length, 0, NULL);
        if (!json_is_object(record)) {
                json_decref(record);
                return NULL;
        }
        return record;
}

int serve_record_read_output(const char *sessions_dir, const char *session, const char *name,
                             size_t limit, char **data, size_t *length, bool *truncated)
{
        cleanup_fd int dir = record_open_dir(sessions_dir, session);
        if (dir < 0)
                return dir;
        return record_read_file(dir, name, limit, true, data, length, truncated);
}

static int record_compare_created(const void *a, const void *b)
{
        const char *x = json_string_value(json_object_get(*(json_t *const *)a, "created"));
        const char *y = json_string_value(json_object_get(*(json_t *const *)b, "created"));
        return strcmp(x ? x : "", y ? y : "");
}

int serve_record_list(const char *sessions_dir, json_t **records, struct reins_error *err)
{
        cleanup_closedir DIR *d = opendir(sessions_dir);
        if (!d)
                return reins_error_errno(err, errno, "reading %s", sessions_dir);
        size_t count = 0, capacity = 0;
        json_t **items = NULL;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (!record_valid_id(de->d_name))
                        continue;
                json_t *record = serve_record_read(sessions_dir, de->d_name);
                if (!record)
                        continue;
                if (array_reserve(items, capacity, count + 1, 64) < 0) {
                        json_decref(record);
                        break;
                }
                items[count++] = record;
        }
        if (count > 1)
                qsort(items, count, sizeof(*items), record_compare_created);
        json_t *list = json_array();
        for (size_t i = 0; i < count; i++)
                if (!list || json_array_append_new(list, items[i]) < 0)
                        json_decref(items[i]);
        free(items);
        if (!list)
                return reins_error_set(err, ENOMEM, "out of memory");
        *records = list;
        return 0;
}

#define RECORD_TRAIL_TAIL (64 * 1024)

int serve_record_trail_status(const char *trail, uid_t uid, int *status)
{
        cleanup_fd int fd = open(trail, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0)
                return -ENOENT;
        if (!S_ISREG(st.st_mode) || st.st_uid != uid)
                return -EPERM;
        if (st.st_size > RECORD_TRAIL_TAIL &&
            lseek(fd, st.st_size - RECORD_TRAIL_TAIL, SEEK_SET) < 0)
                return -errno;
        cleanup_free char *text = NULL;
        size_t length = 0;
        bool truncated = false;
        if (fileio_read_fd(fd, RECORD_TRAIL_TAIL, &text, &length, &truncated) < 0)
                return -EIO;
        /* from the end: the checkpoints that follow session.end come first */
        while (length > 0) {
                text[length] = '\0';
                char *line = strrchr(text, '\n');
                char *start = line ? line + 1 : text;
                if (strstr(start, "\"type\":\"session.end\"")) {
                        json_auto_t *end = json_loads(start, 0, NULL);
                        json_t *value = json_object_get(end, "status");
                        if (!json_is_integer(value))
                                return -ENOENT;
                        *status = (int)json_integer_value(value);
                        return 0;
                }
                length = line ? (size_t)(line - text) : 0;
        }
        return -ENOENT;
}
