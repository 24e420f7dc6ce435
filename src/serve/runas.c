/* A reins command run as a session's user (serve/runas.h). */
#include "serve/runas.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "serve/launch.h"
#include "util/cleanup.h"
#include "util/strv.h"

#define RUNAS_MAX_GROUPS 256
#define RUNAS_ERR_TAIL   4096 /* the end of stderr kept, for its last line */

/* In the child, before exec: say which step failed on stderr (the pipe the
 * daemon reads) and end. Async-signal-safe. */
static void runas_child_fail(const char *step)
{
        static const char prefix[] = "reins: the daemon could not run the command as the "
                                     "session's user: ";
        if (write(2, prefix, sizeof(prefix) - 1) < 0 || write(2, step, strlen(step)) < 0 ||
            write(2, "\n", 1) < 0) {
                /* nothing more can be said */
        }
        _exit(125);
}

static void runas_child(const struct serve_runas *run, int null_fd, int out_fd, int err_fd,
                        const gid_t *groups, int group_count, char **envp)
{
        sigset_t none;
        sigemptyset(&none);
        /* the daemon's threads block SIGCHLD, SIGTERM and SIGINT (its
         * signalfd takes them) */
        signal(SIGPIPE, SIG_DFL);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (dup2(null_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
                _exit(125);
        /* nothing else of the daemon's (its sockets, its trail, its state
         * lock) reaches a process the user may ptrace */
        if (syscall(SYS_close_range, 3U, ~0U, 0U) < 0)
                runas_child_fail("close_range");
        if (run->uid != geteuid()) {
                /* groups, then gid, then uid: each step needs the privilege
                 * the next one drops; all three, real, effective and saved,
                 * so nothing of root's is left to regain */
                if (setgroups((size_t)group_count, groups) < 0)
                        runas_child_fail("setgroups");
                if (setresgid(run->gid, run->gid, run->gid) < 0)
                        runas_child_fail("setresgid");
                if (setresuid(run->uid, run->uid, run->uid) < 0)
                        runas_child_fail("setresuid");
        }
        if (chdir("/") < 0)
                runas_child_fail("chdir");
        execve(run->reins, run->argv, envp);
        runas_child_fail("exec");
}

/* Keep the last RUNAS_ERR_TAIL bytes of stderr. */
static void runas_keep_tail(char *tail, size_t *length, const char *data, size_t n)
{
        if (n >= RUNAS_ERR_TAIL) {
                memcpy(tail, data + n - RUNAS_ERR_TAIL, RUNAS_ERR_TAIL);
                *length = RUNAS_ERR_TAIL;
                return;
        }
        if (*length + n > RUNAS_ERR_TAIL) {
                size_t drop = *length + n - RUNAS_ERR_TAIL;
                memmove(tail, tail + drop, *length - drop);
                *length -= drop;
        }
        memcpy(tail + *length, data, n);
        *length += n;
}

/* The last non-empty line, without "reins: ". */
static void runas_last_line(const char *tail, size_t length, char *out, size_t size)
{
        while (length > 0 && (tail[length - 1] == '\n' || tail[length - 1] == '\r'))
                length--;
        size_t start = length;
        while (start > 0 && tail[start - 1] != '\n')
                start--;
        const char *line = tail + start;
        size_t n = length - start;
        if (n >= 7 && memcmp(line, "reins: ", 7) == 0)
                line += 7, n -= 7;
        snprintf(out, size, "%.*s", (int)n, line);
}

static long long runas_now_ms(void)
{
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Read both pipes until both end (or the deadline: then the command is
 * killed, and its pipes end with it). */
static int runas_collect(const struct serve_runas *run, pid_t pid, int out_fd, int err_fd,
                         struct serve_runas_result *result)
{
        /* timeout_ms <= 0: none */
        long long deadline =
            run->timeout_ms > 0 ? runas_now_ms() + run->timeout_ms : (long long)1 << 62;
        char tail[RUNAS_ERR_TAIL];
        size_t tail_length = 0;
        char chunk[65536];
        struct pollfd fds[2] = {{.fd = out_fd, .events = POLLIN}, {.fd = err_fd, .events = POLLIN}};
        size_t capacity = 0;
        while (fds[0].fd >= 0 || fds[1].fd >= 0) {
                long long left = deadline - runas_now_ms();
                if (left <= 0 && !result->timed_out) {
                        result->timed_out = true;
                        kill(pid, SIGKILL);
                }
                int ready = poll(fds, 2, left > 0 ? (int)(left < 1000 ? left : 1000) : 100);
                if (ready < 0 && errno != EINTR)
                        return -errno;
                if (ready <= 0) {
                        /* killed, yet a pipe stays open (a grandchild holds
                         * it): what was read is all there is */
                        if (result->timed_out && left < -5000)
                                break;
                        continue;
                }
                for (size_t i = 0; i < 2; i++) {
                        if (fds[i].fd < 0 || !fds[i].revents)
                                continue;
                        ssize_t n = read(fds[i].fd, chunk, sizeof(chunk));
                        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                                continue;
                        if (n <= 0) {
                                fds[i].fd = -1; /* closed by the caller */
                                continue;
                        }
                        if (i == 1) {
                                runas_keep_tail(tail, &tail_length, chunk, (size_t)n);
                                continue;
                        }
                        size_t room = run->out_max - result->out_length;
                        size_t take = (size_t)n < room ? (size_t)n : room;
                        if (take < (size_t)n) {
                                result->out_cut = true;
                                if (run->stop_when_full) {
                                        /* no more of it is wanted: a diff is only read */
                                        kill(pid, SIGKILL);
                                        fds[0].fd = -1;
                                }
                        }
                        if (take == 0)
                                continue;
                        if (result->out_length + take + 1 > capacity) {
                                size_t want = capacity ? capacity * 2 : 65536;
                                while (want < result->out_length + take + 1)
                                        want *= 2;
                                if (want > run->out_max + 1)
                                        want = run->out_max + 1;
                                char *bigger = realloc(result->out, want);
                                if (!bigger) {
                                        kill(pid, SIGKILL);
                                        return -ENOMEM;
                                }
                                result->out = bigger;
                                capacity = want;
                        }
                        memcpy(result->out + result->out_length, chunk, take);
                        result->out_length += take;
                        result->out[result->out_length] = '\0';
                }
        }
        runas_last_line(tail, tail_length, result->err, sizeof(result->err));
        return 0;
}

int serve_runas(const struct serve_runas *run, struct serve_runas_result *result,
                struct reins_error *err)
{
        memset(result, 0, sizeof(*result));
        if (run->uid != geteuid() && geteuid() != 0)
                return reins_error_set(err, EPERM,
                                       "the daemon runs as uid %u: it cannot act as uid %u",
                                       (unsigned)geteuid(), (unsigned)run->uid);
        /* everything the child needs, made before fork */
        struct serve_launch who = {
            .home = run->home, .user = run->user, .inherit_xdg = run->inherit_xdg};
        struct reins_strv env = {0};
        if (serve_launch_environment(&who, &env) < 0) {
                strv_free(&env);
                return reins_error_set(err, ENOMEM, "out of memory");
        }
        gid_t groups[RUNAS_MAX_GROUPS];
        int group_count = RUNAS_MAX_GROUPS;
        if (run->uid != geteuid() &&
            (!run->user || getgrouplist(run->user, run->gid, groups, &group_count) < 0))
                group_count = 1, groups[0] = run->gid;
        cleanup_fd int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        int out[2] = {-1, -1}, errp[2] = {-1, -1};
        if (null_fd < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
                int e = errno;
                for (size_t i = 0; i < 2; i++) {
                        if (out[i] >= 0)
                                close(out[i]);
                        if (errp[i] >= 0)
                                close(errp[i]);
                }
                strv_free(&env);
                return reins_error_errno(err, e, "preparing %s", run->argv[1]);
        }
        /* waited for below, by pid: the daemon's reaper waits for its
         * sessions only (serve_children_reap) */
        pid_t pid = fork();
        if (pid == 0)
                runas_child(run, null_fd, out[1], errp[1], groups, group_count, env.items);
        int fork_errno = errno;
        close(out[1]);
        close(errp[1]);
        strv_free(&env);
        if (pid < 0) {
                close(out[0]);
                close(errp[0]);
                return reins_error_errno(err, fork_errno, "fork");
        }
        int r = runas_collect(run, pid, out[0], errp[0], result);
        close(out[0]);
        close(errp[0]);
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        result->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (r < 0) {
                serve_runas_result_free(result);
                return reins_error_errno(err, -r, "reading what %s said", run->argv[1]);
        }
        return 0;
}

void serve_runas_result_free(struct serve_runas_result *result)
{
        free(result->out);
        result->out = NULL;
        result->out_length = 0;
}
