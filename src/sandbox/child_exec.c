/* The command process: its terminal, working directory, the last
 * protections (capabilities, Landlock, seccomp) and execve. */
#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "sandbox/child.h"
#include "sandbox/landlock.h"
#include "sandbox/weaken.h"

extern char **environ;

__attribute__((noreturn)) static void exec_fail(int status_fd, const struct reins_error *err)
{
        child_report(status_fd, SPAWN_REPORT_SETUP_FAILED, err->code, err->message);
        _exit(125);
}

static void exec_reset_signals(void)
{
        for (int sig = 1; sig < NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        signal(sig, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
}

/* The private pty becomes the controlling terminal: what the command types
 * or injects stays in that pty, the supervisor relays it. */
static int exec_attach_terminal(int pty_fd, int tty_fds, struct reins_error *err)
{
        if (ioctl(pty_fd, TIOCSCTTY, 0) < 0)
                return reins_error_errno(err, errno, "making the pty the controlling terminal");
        for (int fd = 0; fd < 3; fd++)
                if ((tty_fds & (1 << fd)) && dup2(pty_fd, fd) < 0)
                        return reins_error_errno(err, errno, "dup2 pty");
        close(pty_fd);
        return 0;
}

/* Weakened builds only: the classic argument-injection bug (the arguments
 * re-parsed by a shell), so the argv probe can be seen to fail. */
static void exec_joined_through_shell(char **argv)
{
#ifdef REINS_WEAKEN_BUILD
        static char line[65536];
        size_t used = 0;
        for (char **a = argv; *a && used < sizeof(line) - 1; a++)
                used += (size_t)snprintf(line + used, sizeof(line) - used, "%s%s",
                                         a == argv ? "" : " ", *a);
        char *shell[] = {"/bin/sh", "-c", line, NULL};
        execv(shell[0], shell);
#else
        (void)argv;
#endif
}

void child_exec_command(const struct spawn_inputs *in, int status_fd, int pty_fd)
{
        const struct reins_plan *plan = in->plan;
        struct reins_error err = {0};
        exec_reset_signals();
        if (!weaken("setsid") && setsid() < 0) {
                reins_error_errno(&err, errno, "setsid");
                exec_fail(status_fd, &err);
        }
        if (pty_fd >= 0 && exec_attach_terminal(pty_fd, in->tty_fds, &err) < 0)
                exec_fail(status_fd, &err);
        if (chdir(plan->cwd) < 0) {
                reins_error_errno(&err, errno, "chdir %s", plan->cwd);
                exec_fail(status_fd, &err);
        }
        /* capabilities and seccomp came from pid 1 (inherited across fork) */
        if (in->landlock_abi > 0 && landlock_apply(plan->landlock, plan->landlock_count, &err) < 0)
                exec_fail(status_fd, &err);
        bool rejoin = weaken("argv"); /* read before the environment changes */
        environ = plan->env.items;
        if (rejoin)
                exec_joined_through_shell(plan->argv);
        execvp(plan->argv[0], plan->argv);
        int saved = errno;
        char message[REINS_ERROR_MAX];
        snprintf(message, sizeof(message), "cannot run '%s': %s", plan->argv[0], strerror(saved));
        child_report(status_fd, SPAWN_REPORT_EXEC_FAILED, saved, message);
        _exit(saved == ENOENT || saved == ENOTDIR ? 127 : 126);
}
