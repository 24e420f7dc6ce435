/* Shared helpers of the escape probes (tests/escape/probes/).
 *
 * Every probe attempts one class of attack from inside `reins run` and prints
 * one machine-readable line per attempt:
 *
 *     CHECK <name> <blocked|escaped|skip> <detail>
 *
 * "escaped" means the attack worked (or got past every permission gate, see
 * each probe); "blocked" means it failed. The last line is `DONE`, so a probe
 * that never ran (reins refused, crashed) can never look like a pass.
 * Probes are single files, built with `cc -O1 [-static] -pthread`. */
#ifndef REINS_ESCAPE_PROBE_H
#define REINS_ESCAPE_PROBE_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static inline void check(const char *name, int escaped, const char *fmt, ...)
{
        char detail[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(detail, sizeof(detail), fmt, ap);
        va_end(ap);
        for (char *p = detail; *p; p++)
                if (*p == '\n')
                        *p = ' ';
        printf("CHECK %s %s %s\n", name, escaped ? "escaped" : "blocked", detail);
        fflush(stdout);
}

static inline void check_skip(const char *name, const char *why)
{
        printf("CHECK %s skip %s\n", name, why);
        fflush(stdout);
}

static inline void info(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        fputs("INFO ", stdout);
        vprintf(fmt, ap);
        va_end(ap);
        fputc('\n', stdout);
        fflush(stdout);
}

/* Probes that change mounts refuse to run anywhere but in a sandbox (whose
 * hostname is "reins"), so a stray run on the host cannot mount over /tmp. */
static inline int in_sandbox(void)
{
        char host[256] = "";
        gethostname(host, sizeof(host) - 1);
        if (strcmp(host, "reins") == 0 || getenv("PROBE_ANYWHERE"))
                return 1;
        printf("REFUSED hostname is '%s', not 'reins': not inside a sandbox\n", host);
        fflush(stdout);
        return 0;
}

static inline void done(void)
{
        puts("DONE");
        fflush(stdout);
}

/* Read a small file into buf (NUL-terminated); bytes read or -errno. */
static inline ssize_t slurp(const char *path, char *buf, size_t size)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        size_t got = 0;
        while (got + 1 < size) {
                ssize_t n = read(fd, buf + got, size - 1 - got);
                if (n < 0) {
                        int e = errno;
                        close(fd);
                        return -e;
                }
                if (n == 0)
                        break;
                got += (size_t)n;
        }
        buf[got] = '\0';
        close(fd);
        return (ssize_t)got;
}

/* The value of "Field:" in a /proc status file, or NULL. */
static inline const char *status_field(const char *status, const char *field, char *out,
                                       size_t size)
{
        size_t len = strlen(field);
        for (const char *line = status; line && *line;) {
                if (strncmp(line, field, len) == 0 && line[len] == ':') {
                        const char *v = line + len + 1;
                        while (*v == ' ' || *v == '\t')
                                v++;
                        size_t n = strcspn(v, "\n");
                        if (n >= size)
                                n = size - 1;
                        memcpy(out, v, n);
                        out[n] = '\0';
                        return out;
                }
                line = strchr(line, '\n');
                if (line)
                        line++;
        }
        return NULL;
}

/* Run fn in a forked child; its return value (0 blocked, 1 escaped) and a
 * detail line come back through a pipe. A child killed by a signal (SIGSYS
 * from a seccomp KILL action, say) counts as blocked. */
typedef int (*child_fn)(char *detail, size_t size);

static inline int in_child(child_fn fn, char *detail, size_t size)
{
        int p[2];
        if (pipe(p) < 0) {
                snprintf(detail, size, "pipe: %s", strerror(errno));
                return 0;
        }
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0) {
                snprintf(detail, size, "fork: %s", strerror(errno));
                close(p[0]);
                close(p[1]);
                return 0;
        }
        if (pid == 0) {
                close(p[0]);
                char d[400] = "";
                int r = fn(d, sizeof(d));
                char out[402];
                int n = snprintf(out, sizeof(out), "%c%s", r ? '1' : '0', d);
                if (write(p[1], out, (size_t)n) < 0)
                        _exit(3);
                _exit(0);
        }
        close(p[1]);
        char buf[402];
        ssize_t n = 0, r;
        while ((r = read(p[0], buf + n, sizeof(buf) - 1 - (size_t)n)) > 0)
                n += r;
        close(p[0]);
        int status = 0;
        waitpid(pid, &status, 0);
        buf[n > 0 ? n : 0] = '\0';
        if (n <= 0) {
                if (WIFSIGNALED(status))
                        snprintf(detail, size, "child killed by signal %d", WTERMSIG(status));
                else
                        snprintf(detail, size, "child exited %d without a verdict",
                                 WEXITSTATUS(status));
                return 0;
        }
        snprintf(detail, size, "%s", buf + 1);
        return buf[0] == '1';
}

/* An errno the sandbox's own layers answer with (filter, caps, landlock). */
static inline int denied_errno(int e)
{
        return e == EPERM || e == EACCES || e == ENOSYS;
}

#endif
