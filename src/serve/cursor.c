#include "serve/cursor.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fileio.h"

#define CURSOR_MAX (64 << 20)

json_t *serve_cursor_load(const char *path, bool *absent)
{
        cleanup_fd int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        cleanup_free char *text = NULL;
        size_t length = 0;
        bool truncated = false;
        json_t *cursor = NULL;
        if (fd >= 0 && fileio_read_fd(fd, CURSOR_MAX, &text, &length, &truncated) == 0 &&
            !truncated)
                cursor = json_loadb(text, length, 0, NULL);
        if (absent)
                *absent = fd < 0;
        if (!json_is_object(cursor)) {
                json_decref(cursor);
                cursor = json_object();
        }
        return cursor;
}

int serve_cursor_save(const char *path, const json_t *cursor)
{
        cleanup_free char *text = json_dumps(cursor, JSON_COMPACT | JSON_SORT_KEYS);
        cleanup_free char *tmp = NULL;
        if (!text || asprintf(&tmp, "%s.tmp", path) < 0)
                return -ENOMEM;
        cleanup_fd int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        int r = fileio_write_all(fd, text, strlen(text));
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0)
                unlink(tmp);
        return r;
}
