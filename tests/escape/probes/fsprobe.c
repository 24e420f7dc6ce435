/* Filesystem reach (symlinks in mount targets: CVE-2019-18837, CVE-2021-30465,
 * CVE-2025-31133, CVE-2024-42472).
 *
 * Arguments are actions, each a check:
 *   read:NAME:PATH   escaped if PATH reads as a non-empty file or a listable
 *                    directory with entries; the first bytes are printed
 *   write:NAME:PATH  create PATH (O_CREAT|O_EXCL) and write a line into it;
 *                    this is not an escape by itself: the test looks on the
 *                    host for where the file landed. Printed as blocked/escaped
 *                    only for information ("escaped" = created).
 */
#include "probe.h"

#include <dirent.h>

static void do_read(const char *name, const char *path)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                check(name, 0, "%s: %s", path, strerror(errno));
                return;
        }
        char buf[256];
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        int e = errno;
        if (n < 0 && e == EISDIR) {
                close(fd);
                DIR *dir = opendir(path);
                int entries = 0;
                char names[200] = "";
                struct dirent *de;
                while (dir && (de = readdir(dir))) {
                        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                                continue;
                        entries++;
                        snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s,",
                                 de->d_name);
                }
                int de_errno = errno;
                if (dir)
                        closedir(dir);
                check(name, entries > 0, "%s: dir, %d entries %s%s", path, entries, names,
                      dir ? "" : strerror(de_errno));
                return;
        }
        close(fd);
        if (n < 0) {
                check(name, 0, "%s: read: %s", path, strerror(e));
                return;
        }
        buf[n] = '\0';
        char hex[200] = "";
        for (ssize_t i = 0; i < n && i < 64; i++)
                snprintf(hex + 2 * i, sizeof(hex) - (size_t)(2 * i), "%02x", (unsigned char)buf[i]);
        check(name, n > 0, "%s: %zd bytes hex=%s", path, n, hex);
}

static void do_write(const char *name, const char *path)
{
        int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
        if (fd < 0) {
                check(name, 0, "%s: %s", path, strerror(errno));
                return;
        }
        (void)!write(fd, "reins escape probe\n", 19);
        close(fd);
        check(name, 1, "%s: created", path);
}

int main(int argc, char **argv)
{
        for (int i = 1; i < argc; i++) {
                char *arg = strdup(argv[i]);
                char *verb = arg, *name = strchr(arg, ':'), *path = NULL;
                if (name) {
                        *name++ = '\0';
                        path = strchr(name, ':');
                        if (path)
                                *path++ = '\0';
                }
                if (!name || !path)
                        continue;
                if (strcmp(verb, "read") == 0)
                        do_read(name, path);
                else if (strcmp(verb, "write") == 0)
                        do_write(name, path);
                free(arg);
        }
        done();
        return 0;
}
