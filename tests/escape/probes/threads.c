/* Threads before the filter (TSYNC omissions).
 *
 * reins installs the filter in its single-threaded sandbox child before exec,
 * so a command's threads inherit it; seccomp TSYNC is the guard should a
 * helper thread ever exist at that point. This probe checks what can be seen
 * from inside: a thread reports Seccomp: 2 and NoNewPrivs: 1 in
 * /proc/thread-self/status and cannot mount; and every task of every visible
 * process (pid 1, reins' init, included) is filtered. */
#include "probe.h"

#include <dirent.h>
#include <pthread.h>
#include <sys/mount.h>
#include <sys/stat.h>

static char t_seccomp[64] = "?", t_nnp[64] = "?";
static int t_mount_rc = -1, t_mount_errno;

static void *thread_main(void *arg)
{
        (void)arg;
        char status[4096];
        if (slurp("/proc/thread-self/status", status, sizeof(status)) > 0) {
                status_field(status, "Seccomp", t_seccomp, sizeof(t_seccomp));
                status_field(status, "NoNewPrivs", t_nnp, sizeof(t_nnp));
        }
        mkdir("/tmp/.escape-thread", 0700);
        t_mount_rc = mount("none", "/tmp/.escape-thread", "tmpfs", 0, "size=64k");
        t_mount_errno = errno;
        return NULL;
}

int main(void)
{
        if (!in_sandbox())
                return 2;
        pthread_t t;
        if (pthread_create(&t, NULL, thread_main, NULL) != 0) {
                check("thread_started", 1, "pthread_create failed");
                done();
                return 0;
        }
        pthread_join(t, NULL);
        check("thread_seccomp", strcmp(t_seccomp, "2") != 0, "thread Seccomp: %s", t_seccomp);
        check("thread_nnp", strcmp(t_nnp, "1") != 0, "thread NoNewPrivs: %s", t_nnp);
        check("thread_mount", t_mount_rc == 0, "mount from the thread: %s",
              t_mount_rc == 0 ? "succeeded" : strerror(t_mount_errno));

        int unfiltered = 0, tasks = 0;
        char which[256] = "";
        DIR *proc = opendir("/proc");
        struct dirent *de;
        while (proc && (de = readdir(proc))) {
                char *end;
                long pid = strtol(de->d_name, &end, 10);
                if (*end || pid <= 0)
                        continue;
                char path[64];
                snprintf(path, sizeof(path), "/proc/%ld/task", pid);
                DIR *task = opendir(path);
                struct dirent *te;
                while (task && (te = readdir(task))) {
                        if (te->d_name[0] == '.')
                                continue;
                        char sp[128], status[4096], v[64] = "?";
                        snprintf(sp, sizeof(sp), "/proc/%ld/task/%s/status", pid, te->d_name);
                        if (slurp(sp, status, sizeof(status)) <= 0)
                                continue;
                        tasks++;
                        status_field(status, "Seccomp", v, sizeof(v));
                        if (strcmp(v, "2") != 0) {
                                unfiltered++;
                                snprintf(which + strlen(which), sizeof(which) - strlen(which),
                                         "%ld/%s:Seccomp=%s ", pid, te->d_name, v);
                        }
                }
                if (task)
                        closedir(task);
        }
        if (proc)
                closedir(proc);
        check("all_tasks_filtered", unfiltered > 0, "%d of %d tasks unfiltered %s", unfiltered,
              tasks, which);
        done();
        return 0;
}
