/* Environment leak: names given on the command line must be absent from the
 * environment, and from every readable /proc/PID/environ (pid 1 of the
 * sandbox is reins itself, whose initial environment is the caller's). */
#include "probe.h"

#include <dirent.h>

int main(int argc, char **argv)
{
        for (int i = 1; i < argc; i++) {
                const char *v = getenv(argv[i]);
                check(argv[i], v != NULL, "%s", v ? "present in environ" : "absent");
        }
        DIR *dir = opendir("/proc");
        struct dirent *de;
        int leaks = 0;
        char where[256] = "";
        while (dir && (de = readdir(dir))) {
                char *end;
                long pid = strtol(de->d_name, &end, 10);
                if (*end || pid <= 0)
                        continue;
                char path[64];
                static char buf[65536];
                snprintf(path, sizeof(path), "/proc/%ld/environ", pid);
                ssize_t n = slurp(path, buf, sizeof(buf));
                if (n < 0) {
                        info("%s: %s", path, strerror((int)-n));
                        continue;
                }
                for (char *p = buf; p < buf + n; p += strlen(p) + 1)
                        for (int i = 1; i < argc; i++) {
                                size_t len = strlen(argv[i]);
                                if (strncmp(p, argv[i], len) == 0 && p[len] == '=') {
                                        leaks++;
                                        snprintf(where + strlen(where),
                                                 sizeof(where) - strlen(where), "%ld:%s ", pid,
                                                 argv[i]);
                                }
                        }
        }
        if (dir)
                closedir(dir);
        check("proc_environ", leaks > 0, "%s", leaks ? where : "no secret in any /proc/*/environ");
        done();
        return 0;
}
