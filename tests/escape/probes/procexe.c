/* Host binary overwrite via /proc/PID/exe (CVE-2019-5736 runc, CVE-2019-8308).
 *
 * argv[1]: HEX, where "reins-marker-HEX" is argv[0] of a marker process the
 * test started on the host (split so that our own command line, and that of
 * reins' pid 1, do not carry the whole token). Only sandbox pids may be visible in /proc; for every visible pid,
 * /proc/PID/exe must not open for writing, and must not even be writable "once
 * it stops running" (faccessat W_OK through an O_PATH fd: DAC and mount checks,
 * without the ETXTBSY of a running binary, which is what runc's attacker waits
 * out). */
#include "probe.h"

#include <dirent.h>
#include <limits.h>

int main(int argc, char **argv)
{
        char token[128];
        snprintf(token, sizeof(token), "reins-marker-%s", argc > 1 ? argv[1] : "none");
        DIR *dir = opendir("/proc");
        if (!dir) {
                check("proc_listable", 1, "cannot open /proc: %s", strerror(errno));
                done();
                return 0;
        }
        int count = 0, marker = 0, exe_write = 0, exe_writable = 0;
        char wrote[256] = "", writable[256] = "";
        struct dirent *de;
        while ((de = readdir(dir))) {
                char *end;
                long pid = strtol(de->d_name, &end, 10);
                if (*end || pid <= 0)
                        continue;
                count++;
                char path[64], buf[4096];
                snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
                ssize_t n = slurp(path, buf, sizeof(buf));
                for (ssize_t i = 0; i < n; i++)
                        if (!buf[i])
                                buf[i] = ' ';
                if (n > 0 && strstr(buf, token))
                        marker++;
                info("pid %ld cmdline %.200s", pid, n > 0 ? buf : "?");

                snprintf(path, sizeof(path), "/proc/%ld/exe", pid);
                char target[PATH_MAX] = "?";
                ssize_t tl = readlink(path, target, sizeof(target) - 1);
                if (tl >= 0)
                        target[tl] = '\0';
                int fd = open(path, O_WRONLY | O_CLOEXEC);
                if (fd >= 0) {
                        exe_write++;
                        snprintf(wrote + strlen(wrote), sizeof(wrote) - strlen(wrote),
                                 "%ld:%s ", pid, target);
                        close(fd); /* nothing is written */
                } else {
                        info("pid %ld exe %s: open O_WRONLY: %s", pid, target, strerror(errno));
                }
                fd = open(path, O_PATH | O_CLOEXEC);
                if (fd >= 0) {
                        if (syscall(SYS_faccessat2, fd, "", W_OK, AT_EMPTY_PATH | AT_EACCESS) ==
                            0) {
                                exe_writable++;
                                snprintf(writable + strlen(writable),
                                         sizeof(writable) - strlen(writable), "%ld:%s ", pid,
                                         target);
                        } else {
                                info("pid %ld exe %s: access W_OK: %s", pid, target,
                                     strerror(errno));
                        }
                        close(fd);
                } else {
                        info("pid %ld exe: open O_PATH: %s", pid, strerror(errno));
                }
        }
        closedir(dir);
        check("pid_count", count > 3, "%d pids visible in /proc", count);
        check("marker_hidden", marker > 0, "%d processes with the host marker token", marker);
        check("exe_open_write", exe_write > 0, "opened for write: %s", exe_write ? wrote : "none");
        check("exe_writable", exe_writable > 0, "writable once idle: %s",
              exe_writable ? writable : "none");
        done();
        return 0;
}
