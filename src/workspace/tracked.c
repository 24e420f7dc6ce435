/* Reading git's index: the DIRC header, then one entry per tracked path.
 * Format (git's Documentation/gitformat-index): a 12-byte header ("DIRC",
 * version, entry count), then entries of 40 bytes of stat data, a 20-byte
 * object id and 2 bytes of flags (plus 2 more when version 3 sets the
 * extended bit), followed by the path: in versions 2 and 3 NUL-terminated
 * and padded with NULs to a multiple of 8 bytes; in version 4 prefix
 * compressed (a varint of bytes to drop from the previous path, then the
 * rest, NUL-terminated) and unpadded. */
#include "workspace/tracked.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fileio.h"
#include "workspace/fsops.h"

#define ENTRY_FIXED    62u     /* stat data, object id, flags */
#define FLAG_EXTENDED  0x4000u /* version 3: two more flag bytes */
#define PATH_MAX_INDEX 65536u  /* longer paths are refused as corrupt */

static uint32_t read_be32(const unsigned char *p)
{
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* git's offset varint (version 4): 7 bits a byte, +1 per continuation. */
static int read_varint(const unsigned char **p, const unsigned char *end, size_t *value)
{
        size_t v = 0;
        for (int i = 0; i < 8; i++) {
                if (*p >= end)
                        return -EINVAL;
                unsigned char c = *(*p)++;
                v = (v << 7) | (c & 0x7f);
                if (!(c & 0x80)) {
                        *value = v;
                        return 0;
                }
                v++;
        }
        return -EINVAL;
}

static void mark(const char *path, size_t length, char *const *paths, size_t count, bool *tracked,
                 int *found)
{
        for (size_t i = 0; i < count; i++)
                if (!tracked[i] && strlen(paths[i]) == length &&
                    memcmp(paths[i], path, length) == 0) {
                        tracked[i] = true;
                        (*found)++;
                }
}

int tracked_in_index(const unsigned char *data, size_t length, char *const *paths, size_t count,
                     bool *tracked)
{
        if (length < 12 || memcmp(data, "DIRC", 4) != 0)
                return -EINVAL;
        uint32_t version = read_be32(data + 4), entries = read_be32(data + 8);
        if (version < 2 || version > 4)
                return -EINVAL;
        cleanup_free char *previous = NULL;
        size_t previous_length = 0;
        if (version == 4 && !(previous = malloc(PATH_MAX_INDEX + 1)))
                return -ENOMEM;
        const unsigned char *p = data + 12, *end = data + length;
        int found = 0;
        for (uint32_t e = 0; e < entries; e++) {
                const unsigned char *start = p;
                if ((size_t)(end - p) < ENTRY_FIXED)
                        return -EINVAL;
                unsigned flags = (unsigned)p[60] << 8 | p[61];
                p += ENTRY_FIXED;
                if (flags & FLAG_EXTENDED) {
                        if (version < 3 || end - p < 2)
                                return -EINVAL;
                        p += 2;
                }
                if (version == 4) {
                        size_t drop;
                        if (read_varint(&p, end, &drop) < 0 || drop > previous_length)
                                return -EINVAL;
                        const unsigned char *nul = memchr(p, '\0', (size_t)(end - p));
                        if (!nul)
                                return -EINVAL;
                        size_t keep = previous_length - drop, rest = (size_t)(nul - p);
                        if (keep + rest > PATH_MAX_INDEX)
                                return -EINVAL;
                        memcpy(previous + keep, p, rest);
                        previous_length = keep + rest;
                        mark(previous, previous_length, paths, count, tracked, &found);
                        p = nul + 1;
                } else {
                        const unsigned char *nul = memchr(p, '\0', (size_t)(end - p));
                        if (!nul || (size_t)(nul - p) > PATH_MAX_INDEX)
                                return -EINVAL;
                        mark((const char *)p, (size_t)(nul - p), paths, count, tracked, &found);
                        size_t used = (size_t)(nul - start);
                        size_t padded = (used + 8) & ~(size_t)7; /* 1 to 8 NULs */
                        if (padded > (size_t)(end - start))
                                return -EINVAL;
                        p = start + padded;
                }
        }
        return found;
}

int tracked_in_workspace(const char *workspace, char *const *paths, size_t count, bool *tracked)
{
        cleanup_fd int root = open(workspace, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root < 0)
                return -errno;
        /* O_NONBLOCK: a FIFO planted as the index must not hang the caller */
        cleanup_fd int fd = ws_open_beneath(root, ".git/index", O_RDONLY | O_NONBLOCK, 0);
        if (fd < 0)
                return fd;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        cleanup_free char *data = NULL;
        size_t length = 0;
        bool truncated = false;
        int r = fileio_read_fd(fd, TRACKED_INDEX_MAX, &data, &length, &truncated);
        if (r < 0)
                return r;
        if (truncated)
                return -EFBIG;
        return tracked_in_index((const unsigned char *)data, length, paths, count, tracked);
}
