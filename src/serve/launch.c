/* The start of `reins run` for one session (serve/launch.h). Everything
 * is prepared before the child exists: the daemon has threads, so the
 * child may only make async-signal-safe calls until its exec.
 *
 * The child shares the daemon's memory until it execs (clone with CLONE_VM
 * and CLONE_VFORK, on a stack of its own, as posix_spawn does): a fork
 * would copy the page tables of a daemon with a hundred threads and make
 * every page it touches afterwards a copy-on-write fault, on the path of
 * every other API call (bench/serve/load_bench.py). Sharing memory asks
 * two things of the child: its credentials change through the raw system
 * calls (glibc's setresuid would make every thread of the daemon change
 * with it), and it never returns: it execs or _exits. Its errno is the
 * calling thread's, which waits meanwhile. */
#include "serve/launch.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/path.h"
#include "util/strv.h"

#define LAUNCH_MAX_GROUPS  256
#define LAUNCH_CHILD_STACK (256 * 1024) /* snprintf's needs, with room */

/* What the child needs, prepared by the parent. */
struct launch_child_args {
        const struct serve_launch *launch;
        int status_fd, null_fd, out_fd, err_fd;
        const gid_t *groups;
        int group_count;
        char **argv, **envp;
};

/* argv for `reins run`. The command comes after "--": whatever it looks
 * like, it is never taken for a reins option (CVE-2024-32462 class). */
static int launch_argv(const struct serve_launch *l, struct reins_strv *argv)
{
        int r = 0;
        const char *fixed[] = {l->reins, "run",     "-q", "--session-id", l->session,
                               "-p",     l->policy, "-w", l->workspace};
        for (size_t i = 0; r == 0 && i < sizeof(fixed) / sizeof(fixed[0]); i++)
                r = strv_push(argv, fixed[i]);
        if (r == 0 && l->pool_fd >= 0 && (r = strv_push(argv, "--pool-fd")) == 0)
                r = strv_push(argv, "4");
        /* on the supervisor's command line, which the sandbox (a pid
         * namespace of its own) never sees: the agent can neither read nor
         * change which key its session trusts */
        if (r == 0 && l->daemon_key && (r = strv_push(argv, "--daemon-key")) == 0)
                r = strv_push(argv, l->daemon_key);
        if (r == 0 && l->expect_agent && (r = strv_push(argv, "--expect-agent")) == 0)
                r = strv_push(argv, l->expect_agent);
        if (r == 0 && l->daemon_state && (r = strv_push(argv, "--daemon-state")) == 0)
                r = strv_push(argv, l->daemon_state);
        const char *name;
        json_t *value;
        json_object_foreach((json_t *)l->env, name, value)
        {
                char *pair = NULL;
                if (r == 0 && asprintf(&pair, "%s=%s", name, json_string_value(value)) < 0)
                        r = -ENOMEM;
                if (r == 0 &&
                    ((r = strv_push(argv, "--env")) < 0 || (r = strv_push_take(argv, pair)) < 0))
                        pair = NULL;
        }
        if (r == 0)
                r = strv_push(argv, "--");
        size_t i;
        json_array_foreach(l->command, i, value) if (r == 0) r =
            strv_push(argv, json_string_value(value));
        return r;
}

static int launch_env_push(struct reins_strv *env, const char *name, const char *value)
{
        if (!value)
                return 0;
        char *pair = NULL;
        if (asprintf(&pair, "%s=%s", name, value) < 0)
                return -ENOMEM;
        return strv_push_take(env, pair);
}

/* A small, known environment: nothing of the daemon's own leaks into the
 * session beyond what names its directories (the sandbox then keeps only
 * what the policy's env.keep lists). */
int serve_launch_environment(const struct serve_launch *l, struct reins_strv *env)
{
        int r = launch_env_push(env, "PATH", "/usr/local/bin:/usr/bin:/bin");
        if (r == 0)
                r = launch_env_push(env, "HOME", l->home);
        if (r == 0 && l->user)
                r = launch_env_push(env, "USER", l->user);
        if (r == 0 && l->user)
                r = launch_env_push(env, "LOGNAME", l->user);
        if (r == 0)
                r = launch_env_push(env, "LANG", "C.UTF-8");
        const char *xdg[] = {"XDG_RUNTIME_DIR", "XDG_STATE_HOME", "XDG_CONFIG_HOME"};
        for (size_t i = 0; r == 0 && l->inherit_xdg && i < sizeof(xdg) / sizeof(xdg[0]); i++)
                r = launch_env_push(env, xdg[i], getenv(xdg[i]));
        return r;
}

/* Report errno on the status pipe and end the child: the parent turns it
 * into the API's error. */
static void launch_child_fail(int status_fd, const char *step)
{
        int e = errno;
        char message[128];
        int n = snprintf(message, sizeof(message), "%d %s", e, step);
        if (n > 0 && write(status_fd, message, (size_t)n) < 0) {
                /* nothing more can be said */
        }
        _exit(125);
}

/* The child, until its exec: async-signal-safe calls only, the daemon's
 * memory shared (see the top of this file). */
static int launch_child(void *arg)
{
        const struct launch_child_args *a = arg;
        const struct serve_launch *l = a->launch;
        int status_fd = a->status_fd, null_fd = a->null_fd, out_fd = a->out_fd, err_fd = a->err_fd;
        /* out of the way of 0-4 first: dup2 onto 3 and 4 below must not
         * close one another's source */
        if ((status_fd = fcntl(status_fd, F_DUPFD_CLOEXEC, 10)) < 0)
                _exit(125);
        int pool_fd = l->pool_fd >= 0 ? fcntl(l->pool_fd, F_DUPFD_CLOEXEC, 10) : -1;
        if (l->pool_fd >= 0 && pool_fd < 0)
                launch_child_fail(status_fd, "dup");
        /* the daemon's threads run with SIGCHLD, SIGTERM and SIGINT blocked
         * (its signalfd takes them): a supervisor started with them blocked
         * could not be stopped, and an ignored SIGPIPE would reach the agent.
         * (Without CLONE_SIGHAND the dispositions are the child's own.) */
        signal(SIGPIPE, SIG_DFL);
        /* a session of its own: the daemon's process group and terminal
         * (none) are not the supervisor's, and killing the daemon's group
         * (systemd's stop of the daemon) does not reach the sessions */
        if (setsid() < 0)
                launch_child_fail(status_fd, "setsid");
        if (dup2(null_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
                launch_child_fail(status_fd, "dup2");
        /* nothing else of the daemon's (its listening socket, its trail,
         * client connections) reaches the session: only the status pipe,
         * which closes on exec */
        if (status_fd != 3 && (dup2(status_fd, 3) < 0 || fcntl(3, F_SETFD, FD_CLOEXEC) < 0))
                launch_child_fail(status_fd, "dup2");
        status_fd = 3;
        /* the pool's socket, the one fd passed on (dup2 clears close-on-exec) */
        if (pool_fd >= 0 && dup2(pool_fd, 4) < 0)
                launch_child_fail(status_fd, "dup2");
        if (syscall(SYS_close_range, pool_fd >= 0 ? 5U : 4U, ~0U, 0U) < 0)
                launch_child_fail(status_fd, "close_range");
        if (l->uid != geteuid()) {
                /* groups first, then the gid, then the uid: each step needs
                 * the privilege the next one drops */
                if (syscall(SYS_setgroups, (size_t)a->group_count, a->groups) < 0)
                        launch_child_fail(status_fd, "setgroups");
                if (syscall(SYS_setresgid, l->gid, l->gid, l->gid) < 0)
                        launch_child_fail(status_fd, "setresgid");
                if (syscall(SYS_setresuid, l->uid, l->uid, l->uid) < 0)
                        launch_child_fail(status_fd, "setresuid");
        }
        if (chdir("/") < 0)
                launch_child_fail(status_fd, "chdir");
        /* every signal open again (blocked across the clone, and the
         * daemon's signalfd ones before it) */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execve(l->reins, a->argv, a->envp);
        launch_child_fail(status_fd, "exec");
        return 125;
}

/* clone(CLONE_VM | CLONE_VFORK): returns once the child has exec'd or
 * ended. All signals are blocked across it, so that none is handled in
 * the child on the daemon's memory. */
static pid_t launch_spawn(struct launch_child_args *a)
{
        void *stack = mmap(NULL, LAUNCH_CHILD_STACK, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (stack == MAP_FAILED)
                return -1;
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        pid_t child = clone(launch_child, (char *)stack + LAUNCH_CHILD_STACK,
                            CLONE_VM | CLONE_VFORK | SIGCHLD, a);
        int e = errno;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        munmap(stack, LAUNCH_CHILD_STACK);
        errno = e;
        return child;
}

static int launch_open_output(const char *dir, const char *name)
{
        cleanup_fd int d = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (d < 0)
                return -errno;
        int fd = openat(d, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        return fd < 0 ? -errno : fd;
}

int serve_launch(const struct serve_launch *l, pid_t *pid, struct reins_error *err)
{
        struct reins_strv argv = {0}, env = {0};
        gid_t groups[LAUNCH_MAX_GROUPS];
        int group_count = LAUNCH_MAX_GROUPS;
        int r = launch_argv(l, &argv);
        if (r == 0)
                r = serve_launch_environment(l, &env);
        if (r < 0) {
                strv_free(&argv);
                strv_free(&env);
                return reins_error_set(err, ENOMEM, "out of memory");
        }
        /* the user's supplementary groups, read before fork (getgrouplist
         * reads /etc/group: not for the child) */
        if (l->uid != geteuid()) {
                if (!l->user || getgrouplist(l->user, l->gid, groups, &group_count) < 0)
                        group_count = 1, groups[0] = l->gid;
        }
        cleanup_fd int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        cleanup_fd int out_fd = launch_open_output(l->session_dir, "stdout");
        cleanup_fd int err_fd = launch_open_output(l->session_dir, "stderr");
        int status[2] = {-1, -1};
        if (null_fd < 0 || out_fd < 0 || err_fd < 0 || pipe2(status, O_CLOEXEC) < 0) {
                int e = null_fd < 0 ? errno : out_fd < 0 ? -out_fd : err_fd < 0 ? -err_fd : errno;
                strv_free(&argv);
                strv_free(&env);
                return reins_error_errno(err, e, "preparing session %s", l->session);
        }
        struct launch_child_args args = {
            .launch = l,
            .status_fd = status[1],
            .null_fd = null_fd,
            .out_fd = out_fd,
            .err_fd = err_fd,
            .groups = groups,
            .group_count = group_count,
            .argv = argv.items,
            .envp = env.items,
        };
        pid_t child = launch_spawn(&args);
        int fork_errno = errno;
        close(status[1]);
        strv_free(&argv);
        strv_free(&env);
        if (child < 0) {
                close(status[0]);
                return reins_error_errno(err, fork_errno, "clone");
        }
        /* EOF: the exec happened (the pipe closed on exec) */
        char message[128] = "";
        ssize_t n;
        do
                n = read(status[0], message, sizeof(message) - 1);
        while (n < 0 && errno == EINTR);
        close(status[0]);
        if (n > 0) {
                message[n] = '\0';
                int e = atoi(message);
                const char *step = strchr(message, ' ');
                /* the child ends right after saying why (_exit(125)); it
                 * never reaches the children the reaper waits for */
                while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {
                }
                return reins_error_errno(err, e > 0 ? e : EIO, "starting session %s: %s",
                                         l->session, step ? step + 1 : "?");
        }
        *pid = child;
        return 0;
}
