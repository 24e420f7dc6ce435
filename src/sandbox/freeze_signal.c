/* The SIGSTOP fallback: signal every process of the sandbox's pid
 * namespace, pid 1 included (from an ancestor namespace SIGSTOP reaches a
 * namespace's init). Works the same as root and unprivileged: the
 * sandbox's processes are ours. Forks racing the stop are caught by
 * repeating until a pass finds nothing new (a stopped process cannot fork). */
#include "sandbox/freeze_internal.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FREEZE_MAX_PASSES 16

/* The pid namespace of `pid` as (dev, ino), or false when it is gone. */
static bool pidns_of(pid_t pid, dev_t *dev, ino_t *ino)
{
        char path[64];
        struct stat st;
        snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
        if (stat(path, &st) < 0)
                return false;
        *dev = st.st_dev;
        *ino = st.st_ino;
        return true;
}

/* One pass over /proc: signal every process in the namespace; how many. */
static int signal_pass(dev_t dev, ino_t ino, int sig)
{
        DIR *proc = opendir("/proc");
        if (!proc)
                return -errno;
        int count = 0;
        struct dirent *entry;
        while ((entry = readdir(proc))) {
                char *end = NULL;
                long pid = strtol(entry->d_name, &end, 10);
                if (!end || *end || pid <= 0)
                        continue;
                dev_t d;
                ino_t i;
                if (!pidns_of((pid_t)pid, &d, &i) || d != dev || i != ino)
                        continue;
                if (kill((pid_t)pid, sig) == 0)
                        count++;
        }
        closedir(proc);
        return count;
}

int freeze_signal_namespace(pid_t init, int sig)
{
        dev_t dev;
        ino_t ino;
        if (!pidns_of(init, &dev, &ino))
                return -ESRCH;
        int total = 0, last = -1;
        /* repeat until two passes agree: a process forked during a pass is
         * caught by the next, and a stopped one forks no more */
        for (int pass = 0; pass < FREEZE_MAX_PASSES; pass++) {
                int n = signal_pass(dev, ino, sig);
                if (n < 0)
                        return n;
                if (n > total)
                        total = n;
                if (n == last || sig == SIGCONT)
                        break;
                last = n;
        }
        return total;
}
