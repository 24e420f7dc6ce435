/* --parallel N (run_parallel.h). The runs share the caller's terminal, so
 * their lines are relayed through pipes and labelled with the run's number:
 * a reader can tell run 2's error from run 5's. A line longer than
 * PARALLEL_LINE_MAX is cut into labelled pieces (the relay holds at most
 * that much per stream). */
#include "cli/run_parallel.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "session/events.h"
#include "util/notice.h"

#define PARALLEL_MAX      256
#define PARALLEL_LINE_MAX 65536

struct parallel_stream {
        int fd;   /* the read end; -1 once closed */
        FILE *to; /* stdout or stderr */
        unsigned run;
        char *line;
        size_t used;
};

static void stream_flush(struct parallel_stream *s, bool partial)
{
        size_t start = 0;
        for (size_t i = 0; i < s->used; i++)
                if (s->line[i] == '\n') {
                        fprintf(s->to, "[%u] %.*s\n", s->run, (int)(i - start), s->line + start);
                        start = i + 1;
                }
        if (partial && start < s->used) {
                fprintf(s->to, "[%u] %.*s\n", s->run, (int)(s->used - start), s->line + start);
                start = s->used;
        }
        memmove(s->line, s->line + start, s->used - start);
        s->used -= start;
        fflush(s->to);
}

static void stream_read(struct parallel_stream *s)
{
        ssize_t n = read(s->fd, s->line + s->used, PARALLEL_LINE_MAX - s->used);
        if (n < 0 && errno == EINTR)
                return;
        if (n <= 0) {
                stream_flush(s, true);
                close(s->fd);
                s->fd = -1;
                return;
        }
        s->used += (size_t)n;
        stream_flush(s, s->used == PARALLEL_LINE_MAX);
}

/* Relay every stream until all are closed (the runs have exited). */
static void parallel_relay(struct parallel_stream *streams, size_t count)
{
        struct pollfd fds[2 * PARALLEL_MAX];
        for (;;) {
                size_t n = 0;
                for (size_t i = 0; i < count; i++)
                        if (streams[i].fd >= 0)
                                fds[n++] = (struct pollfd){.fd = streams[i].fd, .events = POLLIN};
                if (n == 0)
                        return;
                if (poll(fds, n, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return;
                }
                for (size_t k = 0; k < n; k++) {
                        if (!fds[k].revents)
                                continue;
                        for (size_t i = 0; i < count; i++)
                                if (streams[i].fd == fds[k].fd)
                                        stream_read(&streams[i]);
                }
        }
}

/* In the child: stdin from /dev/null (the runs are unattended), stdout and
 * stderr into the relay's pipes. */
static void parallel_child_stdio(int out, int err)
{
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null >= 0) {
                dup2(null, STDIN_FILENO);
                close(null);
        }
        dup2(out, STDOUT_FILENO);
        dup2(err, STDERR_FILENO);
        close(out);
        close(err);
}

int run_parallel(unsigned count, char id[25], int *is_child)
{
        static pid_t children[PARALLEL_MAX];
        static char ids[PARALLEL_MAX][25];
        static struct parallel_stream streams[2 * PARALLEL_MAX];
        *is_child = 0;
        if (count > PARALLEL_MAX) {
                notice("--parallel %u: at most %d", count, PARALLEL_MAX);
                return EXIT_REINS_FAILED;
        }
        fflush(NULL);
        unsigned started = 0;
        size_t nstreams = 0;
        for (; started < count; started++) {
                int out[2], err[2];
                if (session_new_id(ids[started]) < 0 || pipe2(out, O_CLOEXEC) < 0)
                        break;
                if (pipe2(err, O_CLOEXEC) < 0) {
                        close(out[0]);
                        close(out[1]);
                        break;
                }
                pid_t pid = fork();
                if (pid == 0) {
                        for (size_t i = 0; i < nstreams; i++)
                                close(streams[i].fd); /* the other runs' pipes */
                        close(out[0]);
                        close(err[0]);
                        parallel_child_stdio(out[1], err[1]);
                        memcpy(id, ids[started], 25);
                        *is_child = 1;
                        return 0;
                }
                close(out[1]);
                close(err[1]);
                if (pid < 0) {
                        close(out[0]);
                        close(err[0]);
                        break;
                }
                children[started] = pid;
                char *a = malloc(PARALLEL_LINE_MAX), *b = malloc(PARALLEL_LINE_MAX);
                streams[nstreams++] = (struct parallel_stream){out[0], stdout, started + 1, a, 0};
                streams[nstreams++] = (struct parallel_stream){err[0], stderr, started + 1, b, 0};
                if (!a || !b) { /* no buffer: the run's output is dropped, not the run */
                        close(out[0]);
                        close(err[0]);
                        streams[nstreams - 2].fd = streams[nstreams - 1].fd = -1;
                }
                printf("[%u] %s\n", started + 1, ids[started]);
                fflush(stdout);
        }
        parallel_relay(streams, nstreams);
        int combined = started == count ? 0 : EXIT_REINS_FAILED;
        for (unsigned i = 0; i < started; i++) {
                int status = 0;
                while (waitpid(children[i], &status, 0) < 0 && errno == EINTR)
                        ;
                int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                printf("[%u] %s exited %d\n", i + 1, ids[i], code);
                if (combined == 0 && code != 0)
                        combined = code;
        }
        for (size_t i = 0; i < nstreams; i++)
                free(streams[i].line);
        if (started < count)
                notice("--parallel: only %u of %u runs could start", started, count);
        return combined;
}
