/* config.json's hooks (runtime-spec "POSIX-platform Hooks"): programs the
 * engine asks to run on the host at points of the lifecycle, each given
 * the container's state on stdin. They run as the caller, outside the
 * sandbox, as runc runs them: the engine writes them (podman from its
 * hooks.d, containerd from its config), an image cannot. createRuntime and
 * prestart run once the sandbox is built, before `create` returns (a
 * failure fails create); poststart after `start` and poststop after
 * `delete` (a failure is only logged). createContainer and startContainer
 * would run inside the container's namespaces: not supported, refused by
 * oci_hooks_check. Each hook's output goes to /dev/null (the container's
 * stdio is not theirs) and a hook past its timeout is killed. */
#include "oci/hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/cleanup.h"

#define HOOKS_MAX      64
#define HOOK_ARGS_MAX  1024
#define HOOK_DEFAULT_S 30

static const char *const hooks_known[] = {"prestart", "createRuntime", "poststart", "poststop"};

int oci_hooks_check(const json_t *hooks, struct reins_error *err)
{
        const char *kind;
        json_t *list;
        json_object_foreach((json_t *)hooks, kind, list)
        {
                bool known = false;
                for (size_t i = 0; i < sizeof(hooks_known) / sizeof(hooks_known[0]); i++)
                        known = known || strcmp(kind, hooks_known[i]) == 0;
                if (!known && json_is_array(list) && json_array_size(list) == 0)
                        continue;
                if (!known)
                        return reins_error_set(err, EINVAL,
                                               "config.json: hooks.%.32s: not supported by reins "
                                               "oci (prestart, createRuntime, poststart and "
                                               "poststop are)",
                                               kind);
                if (!json_is_array(list) || json_array_size(list) > HOOKS_MAX)
                        return reins_error_set(err, EINVAL,
                                               "config.json: hooks.%s: expected an array of at "
                                               "most %d hooks",
                                               kind, HOOKS_MAX);
                size_t i;
                json_t *hook;
                json_array_foreach(list, i, hook)
                {
                        const char *path = json_string_value(json_object_get(hook, "path"));
                        json_t *args = json_object_get(hook, "args");
                        json_t *env = json_object_get(hook, "env");
                        json_t *timeout = json_object_get(hook, "timeout");
                        if (!path || path[0] != '/' ||
                            (args &&
                             (!json_is_array(args) || json_array_size(args) > HOOK_ARGS_MAX)) ||
                            (env &&
                             (!json_is_array(env) || json_array_size(env) > HOOK_ARGS_MAX)) ||
                            (timeout &&
                             (!json_is_integer(timeout) || json_integer_value(timeout) <= 0)))
                                return reins_error_set(err, EINVAL,
                                                       "config.json: hooks.%s[%zu]: expected an "
                                                       "absolute path, args and env arrays of "
                                                       "strings, a timeout above 0",
                                                       kind, i);
                        size_t j;
                        json_t *s;
                        json_array_foreach(
                            args, j,
                            s) if (!json_is_string(s)) return reins_error_set(err, EINVAL,
                                                                              "config.json: "
                                                                              "hooks.%s[%zu].args[%"
                                                                              "zu]: a string",
                                                                              kind, i, j);
                        json_array_foreach(
                            env, j,
                            s) if (!json_is_string(s)) return reins_error_set(err, EINVAL,
                                                                              "config.json: "
                                                                              "hooks.%s[%zu].env[%"
                                                                              "zu]: a string",
                                                                              kind, i, j);
                }
        }
        return 0;
}

static char **hooks_strings(const json_t *list, const char *first)
{
        size_t n = json_array_size(list);
        char **out = calloc(n + 2, sizeof(*out));
        if (!out)
                return NULL;
        size_t at = 0;
        if (first && n == 0)
                out[at++] = (char *)first;
        for (size_t i = 0; i < n; i++)
                out[at++] = (char *)json_string_value(json_array_get(list, i));
        return out;
}

static int hooks_run_one(const json_t *hook, const char *kind, size_t index, const char *state,
                         struct reins_error *err)
{
        const char *path = json_string_value(json_object_get(hook, "path"));
        json_t *timeout_json = json_object_get(hook, "timeout");
        int timeout_s = timeout_json ? (int)json_integer_value(timeout_json) : HOOK_DEFAULT_S;
        cleanup_free char **argv = hooks_strings(json_object_get(hook, "args"), path);
        cleanup_free char **envp = hooks_strings(json_object_get(hook, "env"), NULL);
        int in[2];
        if (!argv || !envp)
                return reins_error_set(err, ENOMEM, "out of memory");
        if (pipe2(in, O_CLOEXEC) < 0)
                return reins_error_errno(err, errno, "pipe");
        pid_t pid = fork();
        if (pid < 0) {
                close(in[0]);
                close(in[1]);
                return reins_error_errno(err, errno, "fork");
        }
        if (pid == 0) {
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (dup2(in[0], 0) < 0 || null < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
                        _exit(127);
                sigset_t none;
                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                execve(path, argv, envp);
                _exit(127);
        }
        close(in[0]);
        size_t len = strlen(state);
        /* a state of a few hundred bytes fits the pipe: no deadlock */
        if (write(in[1], state, len) < 0) {
                /* the hook does not read its stdin */
        }
        close(in[1]);
        int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        struct pollfd p = {.fd = pidfd, .events = POLLIN};
        bool timed_out = pidfd >= 0 && poll(&p, 1, timeout_s * 1000) == 0;
        if (timed_out)
                kill(pid, SIGKILL);
        if (pidfd >= 0)
                close(pidfd);
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (timed_out)
                return reins_error_set(err, ETIMEDOUT,
                                       "config.json: hooks.%s[%zu] %s: killed after its timeout of "
                                       "%d s",
                                       kind, index, path, timeout_s);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return reins_error_set(
                    err, EIO, "config.json: hooks.%s[%zu] %s failed (status %d)", kind, index, path,
                    WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        return 0;
}

int oci_hooks_run(const json_t *hooks, const char *kind, const json_t *state,
                  struct reins_error *err)
{
        json_t *list = json_object_get(hooks, kind);
        if (!list || json_array_size(list) == 0)
                return 0;
        cleanup_free char *text = json_dumps(state, JSON_COMPACT);
        if (!text)
                return reins_error_set(err, ENOMEM, "out of memory");
        for (size_t i = 0; i < json_array_size(list); i++) {
                int r = hooks_run_one(json_array_get(list, i), kind, i, text, err);
                if (r < 0)
                        return r;
        }
        return 0;
}
