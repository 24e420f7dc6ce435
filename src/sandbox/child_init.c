/* pid 1 of the sandbox: a reaper and signal relay, nothing else. When the
 * command exits, pid 1 exits with its status and the kernel kills whatever
 * the command left behind in the pid namespace. */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/child.h"

static int init_status_code(int status)
{
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        if (WIFSIGNALED(status))
                return 128 + WTERMSIG(status);
        return 125;
}

/* Reap every exited child; true (and *code) once the command is among them. */
static int init_reap(pid_t command, int *code)
{
        int found = 0, status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
                if (pid == command) {
                        *code = init_status_code(status);
                        found = 1;
                }
        return found;
}

void child_init_loop(pid_t command)
{
        sigset_t set;
        sigprocmask(SIG_BLOCK, NULL, &set); /* the set blocked by child_main */
        int code = 125;
        for (;;) {
                siginfo_t info;
                int sig = sigwaitinfo(&set, &info);
                if (sig < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (sig == SIGCHLD) {
                        if (init_reap(command, &code))
                                _exit(code);
                        continue;
                }
                kill(command, sig);
        }
        /* sigwaitinfo cannot fail with a valid set; reap synchronously if it did */
        int status = 0;
        while (waitpid(command, &status, 0) < 0 && errno == EINTR)
                ;
        _exit(init_status_code(status));
}
