/* ptrace / cross-process access (CVE-2017-5206 class).
 *
 * PTRACE_ATTACH on pid 1 (reins' init inside the sandbox: not our ancestor's
 * business), on our own child and on a sibling (child A attaching to child B),
 * process_vm_readv on the child, and reading /proc/1/environ and /proc/1/mem.
 * pid 1 holds the caller's original environment and is the one process of the
 * sandbox not confined by the same Landlock domain, so all of this must fail. */
#include "probe.h"

#include <sys/ptrace.h>
#include <sys/uio.h>

static volatile char secret[32] = "probe-secret-in-child";

static pid_t spawn_sleeper(void)
{
        pid_t pid = fork();
        if (pid == 0) {
                for (;;)
                        pause();
        }
        return pid;
}

static int attach(pid_t pid, char *d, size_t n)
{
        long rc = ptrace(PTRACE_ATTACH, pid, 0, 0);
        int e = errno;
        if (rc == 0) {
                waitpid(pid, NULL, __WALL);
                ptrace(PTRACE_DETACH, pid, 0, 0);
                snprintf(d, n, "attached to %d", pid);
                return 1;
        }
        snprintf(d, n, "%s", strerror(e));
        return 0;
}

static pid_t g_target;

static int sibling_attach(char *d, size_t n)
{
        return attach(g_target, d, n);
}

int main(void)
{
        char d[400];
        pid_t me = getpid();
        info("pid %d", me);

        if (me == 1) {
                check_skip("attach_pid1", "the probe itself is pid 1");
        } else {
                int esc = attach(1, d, sizeof(d));
                check("attach_pid1", esc, "%s", d);
        }

        pid_t child = spawn_sleeper();
        int esc = attach(child, d, sizeof(d));
        check("attach_child", esc, "%s", d);

        /* sibling: a second child attaches to the first */
        g_target = child;
        esc = in_child(sibling_attach, d, sizeof(d));
        check("attach_sibling", esc, "%s", d);

        char buf[32] = "";
        struct iovec local = {buf, sizeof(buf)}, remote = {(void *)secret, sizeof(buf)};
        ssize_t got = process_vm_readv(child, &local, 1, &remote, 1, 0);
        int e = errno;
        check("vm_readv_child", got > 0, "%s",
              got > 0 ? "read the child's memory" : strerror(e));
        got = process_vm_writev(child, &local, 1, &remote, 1, 0);
        e = errno;
        check("vm_writev_child", got > 0, "%s",
              got > 0 ? "wrote the child's memory" : strerror(e));

        if (me == 1) {
                check_skip("pid1_environ", "the probe itself is pid 1");
                check_skip("pid1_mem", "the probe itself is pid 1");
        } else {
                static char env[65536];
                ssize_t n = slurp("/proc/1/environ", env, sizeof(env));
                check("pid1_environ", n > 0, "%s",
                      n > 0 ? "read pid 1's environment" : n == 0 ? "empty" : strerror((int)-n));
                int fd = open("/proc/1/mem", O_RDONLY | O_CLOEXEC);
                e = errno;
                check("pid1_mem", fd >= 0, "%s", fd >= 0 ? "opened /proc/1/mem" : strerror(e));
                if (fd >= 0)
                        close(fd);
        }
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        done();
        return 0;
}
