/* Leaked file descriptors (CVE-2024-21626 "Leaky Vessels", CVE-2016-9962).
 *
 * The test starts reins with extra descriptors, a host directory among them.
 * Inside only 0-2 may exist; chdir("/proc/self/fd/N") and fchdir(N) must fail
 * for every N >= 3, and 0-2 must not be host paths outside the sandbox view. */
#include "probe.h"

#include <dirent.h>
#include <limits.h>

int main(void)
{
        DIR *dir = opendir("/proc/self/fd");
        int self = dir ? dirfd(dir) : -1;
        char extra[512] = "";
        int nextra = 0;
        struct dirent *de;
        while (dir && (de = readdir(dir))) {
                if (de->d_name[0] == '.')
                        continue;
                int fd = atoi(de->d_name);
                char path[64], target[PATH_MAX] = "?";
                snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
                ssize_t n = readlink(path, target, sizeof(target) - 1);
                if (n >= 0)
                        target[n] = '\0';
                info("fd %d -> %s", fd, target);
                if (fd > 2 && fd != self) {
                        nextra++;
                        snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), "%d:%s ",
                                 fd, target);
                }
        }
        if (dir)
                closedir(dir);
        check("only_std_fds", nextra > 0, "extra fds: %s", nextra ? extra : "none");

        int entered = 0;
        char where[512] = "";
        for (int fd = 0; fd < 1024; fd++) {
                char path[64];
                snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
                int ok = chdir(path) == 0;
                if (!ok && fd > 2)
                        ok = fchdir(fd) == 0;
                if (ok) {
                        char cwd[PATH_MAX] = "?";
                        if (!getcwd(cwd, sizeof(cwd)))
                                snprintf(cwd, sizeof(cwd), "(unreachable: %s)", strerror(errno));
                        entered++;
                        snprintf(where + strlen(where), sizeof(where) - strlen(where), "%d:%s ",
                                 fd, cwd);
                        if (chdir("/") < 0)
                                break;
                }
        }
        check("chdir_fd", entered > 0, "entered via fd: %s", entered ? where : "none");
        done();
        return 0;
}
