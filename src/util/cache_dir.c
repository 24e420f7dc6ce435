#include "util/cache_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CACHE_DIR_NEW_TTL_NS (3600LL * 1000000000LL)

static int64_t cache_dir_ns(struct timespec ts)
{
        return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void cache_dir_sweep(int dirfd, size_t max_files)
{
        int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
        if (!dir) {
                if (fd >= 0)
                        close(fd);
                return;
        }
        struct timespec now_ts;
        clock_gettime(CLOCK_REALTIME, &now_ts);
        char oldest[NAME_MAX + 1] = "";
        int64_t oldest_ns = INT64_MAX, now = cache_dir_ns(now_ts);
        size_t caches = 0;
        struct dirent *de;
        struct stat st;
        while ((de = readdir(dir))) {
                if (de->d_name[0] == '.' ||
                    fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    !S_ISREG(st.st_mode))
                        continue;
                size_t len = strlen(de->d_name);
                if (len > 4 && strcmp(de->d_name + len - 4, ".new") == 0) {
                        if (cache_dir_ns(st.st_mtim) < now - CACHE_DIR_NEW_TTL_NS)
                                unlinkat(dirfd, de->d_name, 0);
                        continue;
                }
                caches++;
                if (cache_dir_ns(st.st_mtim) < oldest_ns && len < sizeof(oldest)) {
                        oldest_ns = cache_dir_ns(st.st_mtim);
                        memcpy(oldest, de->d_name, len + 1);
                }
        }
        closedir(dir);
        if (caches > max_files && oldest[0])
                unlinkat(dirfd, oldest, 0);
}
