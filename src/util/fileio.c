#include "util/fileio.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int fileio_read_fd(int fd, size_t limit, char **data, size_t *length, bool *truncated)
{
        /* a regular file's size is known: one buffer, usually one read */
        struct stat st;
        size_t cap = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0
                         ? (size_t)st.st_size + 1
                         : 65536,
               len = 0;
        if (cap > limit)
                cap = limit;
        char *buf = malloc(cap + 1);
        if (!buf)
                return -ENOMEM;
        *truncated = false;
        for (;;) {
                if (len == cap) {
                        if (cap >= limit) {
                                char probe;
                                ssize_t more = read(fd, &probe, 1);
                                *truncated = more > 0;
                                break;
                        }
                        size_t next = cap * 2 > limit ? limit : cap * 2;
                        char *grown = realloc(buf, next + 1);
                        if (!grown) {
                                free(buf);
                                return -ENOMEM;
                        }
                        buf = grown;
                        cap = next;
                }
                ssize_t n = read(fd, buf + len, cap - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        int e = errno;
                        free(buf);
                        return -e;
                }
                if (n == 0)
                        break;
                len += (size_t)n;
        }
        buf[len] = '\0';
        *data = buf;
        *length = len;
        return 0;
}

int fileio_write_all(int fd, const void *bytes, size_t length)
{
        const char *at = bytes;
        while (length > 0) {
                ssize_t n = write(fd, at, length);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0 ? -errno : -EIO;
                at += n;
                length -= (size_t)n;
        }
        return 0;
}

int fileio_read_exact(int fd, void *buf, size_t length)
{
        char *p = buf;
        while (length > 0) {
                ssize_t n = read(fd, p, length);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return -EIO;
                p += n;
                length -= (size_t)n;
        }
        return 0;
}
