/* Running the host's git (gitrun.h). */
#include "workspace/gitrun.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/array.h"
#include "util/cleanup.h"
#include "workspace/gitcommits.h"

extern char **environ;

/* git with a clean environment: no system or global configuration (a
 * fsmonitor or an alias there is code), no hooks, no prompt; the caller's
 * PATH and HOME otherwise. */
static char **gitrun_environment(const char *object_dir, char **owned)
{
        *owned = NULL;
        size_t n = 0;
        for (char **e = environ; *e; e++)
                n++;
        char **env = calloc(n + 8, sizeof(*env));
        if (!env)
                return NULL;
        size_t k = 0;
        for (char **e = environ; *e; e++)
                if (strncmp(*e, "GIT_", 4) != 0 && strncmp(*e, "LC_", 3) != 0 &&
                    strncmp(*e, "LANG=", 5) != 0)
                        env[k++] = *e;
        env[k++] = "GIT_CONFIG_NOSYSTEM=1";
        env[k++] = "GIT_CONFIG_GLOBAL=/dev/null";
        env[k++] = "GIT_TERMINAL_PROMPT=0";
        env[k++] = "LC_ALL=C";
        if (object_dir) {
                char *v = NULL;
                if (asprintf(&v, "GIT_OBJECT_DIRECTORY=%s", object_dir) < 0) {
                        free(env);
                        return NULL;
                }
                env[k++] = v;
                *owned = v; /* freed with the array */
        }
        env[k] = NULL;
        return env;
}

/* The fixed options first: nothing the session wrote comes before them. */
static char **gitrun_argv(const struct ws_git_runner *runner, char *const *args)
{
        static const char *const fixed[] = {
            "git",
            "-c",
            "core.hooksPath=/dev/null",
            "-c",
            "core.fsmonitor=false",
            "-c",
            "safe.directory=*",
            "-c",
            "gc.auto=0",
            "-c",
            "maintenance.auto=false",
            "-c",
            "protocol.file.allow=always",
            "-c",
            "fetch.fsckObjects=true",
            "-c",
            "transfer.fsckObjects=true",
            "-c",
            "fetch.writeCommitGraph=false",
            "-c",
            "log.showSignature=false",
            "--no-pager",
            "--git-dir",
        };
        size_t nfixed = ARRAY_SIZE(fixed), nargs = 0;
        while (args[nargs])
                nargs++;
        char **argv = calloc(nfixed + 1 + nargs + 1, sizeof(*argv));
        if (!argv)
                return NULL;
        for (size_t i = 0; i < nfixed; i++)
                argv[i] = (char *)fixed[i];
        argv[nfixed] = (char *)runner->git_dir;
        for (size_t i = 0; i < nargs; i++)
                argv[nfixed + 1 + i] = args[i];
        return argv;
}

/* One read from git's stdout (i == 0) or stderr (1) into out: bounded,
 * past the cap the rest is read and dropped. 0 at the end of the stream. */
static ssize_t gitrun_collect(int fd, int i, struct ws_git_output *out, size_t *capacity, int *r)
{
        char buf[65536];
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0)
                return n;
        if (i == 1) {
                size_t room = sizeof(out->error) - 1 - out->error_length;
                size_t take = (size_t)n < room ? (size_t)n : room;
                memcpy(out->error + out->error_length, buf, take);
                out->error_length += take;
                out->error[out->error_length] = '\0';
                return n;
        }
        if (out->length + (size_t)n > WORKSPACE_GIT_TEXT_MAX) {
                out->cut = true;
                return n;
        }
        if (array_reserve(out->data, *capacity, out->length + (size_t)n + 1, 65536) < 0) {
                *r = -ENOMEM;
                return n;
        }
        memcpy(out->data + out->length, buf, (size_t)n);
        out->length += (size_t)n;
        out->data[out->length] = '\0';
        return n;
}

/* Fork and exec git with its stdout and stderr on pipes, read both to their
 * end, reap it. Its exit status in *status (128 + N for signal N). */
static int gitrun_spawn(const struct ws_git_runner *runner, char *const *args,
                        struct ws_git_output *out, int *status)
{
        cleanup_free char **argv = gitrun_argv(runner, args);
        cleanup_free char *env_owned = NULL;
        cleanup_free char **env = gitrun_environment(runner->object_dir, &env_owned);
        if (!argv || !env)
                return -ENOMEM;
        int po[2] = {-1, -1}, pe[2] = {-1, -1};
        if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0) {
                int e = errno;
                for (int i = 0; i < 2; i++) {
                        cleanup_close_fn(&po[i]);
                        cleanup_close_fn(&pe[i]);
                }
                return -e;
        }
        pid_t pid = fork();
        if (pid == 0) {
                dup2(po[1], 1);
                dup2(pe[1], 2);
                int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (null >= 0)
                        dup2(null, 0);
                if (runner->drop &&
                    (setgroups(0, NULL) < 0 || setgid(runner->gid) < 0 || setuid(runner->uid) < 0))
                        _exit(126);
                execvpe("git", argv, env);
                _exit(127);
        }
        int e = errno;
        close(po[1]);
        close(pe[1]);
        if (pid < 0) {
                close(po[0]);
                close(pe[0]);
                return -e;
        }
        size_t capacity = 0;
        struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
        int open_count = 2;
        int r = 0;
        while (open_count > 0) {
                if (poll(fds, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        break;
                }
                for (int i = 0; i < 2; i++) {
                        if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                                continue;
                        ssize_t n = gitrun_collect(fds[i].fd, i, out, &capacity, &r);
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0) {
                                close(fds[i].fd);
                                fds[i].fd = -1;
                                open_count--;
                        }
                }
        }
        for (int i = 0; i < 2; i++)
                if (fds[i].fd >= 0)
                        close(fds[i].fd);
        int wstatus = 0;
        while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
                ;
        *status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
        return r;
}

int ws_git_run(const struct ws_git_runner *runner, char *const *args, const char *what,
               struct ws_git_output *out, int *status, struct reins_error *err)
{
        memset(out, 0, sizeof(*out));
        int exit_status = 0;
        int r = gitrun_spawn(runner, args, out, &exit_status);
        if (r < 0)
                return reins_error_errno(err, -r, "%s: running git", what);
        if (exit_status == 127)
                return reins_error_set(err, ENOENT, "%s: git is not installed", what);
        if (status) {
                *status = exit_status;
                return 0;
        }
        if (exit_status == 0)
                return 0;
        /* git's message holds the agent's bytes (ref names, paths): the
         * first line only, escaped by whoever prints it */
        char line[256];
        size_t n = strcspn(out->error, "\n");
        if (n >= sizeof(line))
                n = sizeof(line) - 1;
        memcpy(line, out->error, n);
        line[n] = '\0';
        return reins_error_set(err, EIO, "%s: git failed (status %d)%s%s", what, exit_status,
                               line[0] ? ": " : "", line);
}
