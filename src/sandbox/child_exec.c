/* The command process: its terminal, working directory, the last
 * protections (capabilities, Landlock, seccomp) and execve. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/child.h"
#include "sandbox/landlock.h"
#include "sandbox/pty.h"
#include "util/weaken.h"

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

/* The interpreter a file names: its ELF PT_INTERP or its `#!` line, into
 * out (empty when it names none or cannot be read). */
static void exec_interpreter_of(const char *path, char *out, size_t size)
{
        out[0] = '\0';
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return;
        unsigned char head[4096];
        ssize_t n = pread(fd, head, sizeof(head), 0);
        if (n > 2 && head[0] == '#' && head[1] == '!') {
                size_t i = 2, j = 0;
                while (i < (size_t)n && (head[i] == ' ' || head[i] == '\t'))
                        i++;
                while (i < (size_t)n && j + 1 < size && head[i] != ' ' && head[i] != '\t' &&
                       head[i] != '\n')
                        out[j++] = (char)head[i++];
                out[j] = '\0';
        } else if (n >= (ssize_t)sizeof(Elf64_Ehdr) && memcmp(head, ELFMAG, SELFMAG) == 0 &&
                   head[EI_CLASS] == ELFCLASS64) {
                Elf64_Ehdr eh;
                memcpy(&eh, head, sizeof(eh));
                for (unsigned i = 0; i < eh.e_phnum && i < 64; i++) {
                        Elf64_Phdr ph;
                        off_t at = (off_t)eh.e_phoff + (off_t)i * (off_t)sizeof(ph);
                        if (pread(fd, &ph, sizeof(ph), at) != (ssize_t)sizeof(ph))
                                break;
                        if (ph.p_type != PT_INTERP)
                                continue;
                        size_t len = ph.p_filesz < size ? (size_t)ph.p_filesz : size - 1;
                        ssize_t got = pread(fd, out, len, (off_t)ph.p_offset);
                        out[got > 0 ? (size_t)got : 0] = '\0';
                        out[strnlen(out, size - 1)] = '\0';
                        break;
                }
        }
        close(fd);
}

/* execvp said ENOENT: say whether the program is absent from the sandbox's
 * view or present with its interpreter (ELF loader, `#!` program) absent,
 * which the kernel reports the same way. */
static void exec_explain_missing(const char *program, const char *search_path, char *message,
                                 size_t size)
{
        char found[PATH_MAX] = "";
        struct stat st;
        if (strchr(program, '/')) {
                if (stat(program, &st) == 0)
                        snprintf(found, sizeof(found), "%s", program);
        } else {
                const char *dir = search_path ? search_path : "/usr/bin:/bin";
                while (!found[0] && *dir) {
                        size_t len = strcspn(dir, ":");
                        char candidate[PATH_MAX];
                        if (snprintf(candidate, sizeof(candidate), "%.*s/%s", (int)len, dir,
                                     program) < (int)sizeof(candidate) &&
                            stat(candidate, &st) == 0 && S_ISREG(st.st_mode))
                                snprintf(found, sizeof(found), "%s", candidate);
                        dir += len + (dir[len] == ':');
                }
        }
        if (!found[0]) {
                snprintf(message, size,
                         "cannot run '%s': not in the sandbox's view (%s); a filesystem.read "
                         "entry or --ro for its directory brings it in",
                         program, strchr(program, '/') ? "no such file" : "not found in PATH");
                return;
        }
        char interp[256];
        exec_interpreter_of(found, interp, sizeof(interp));
        if (interp[0] && stat(interp, &st) < 0)
                snprintf(message, size,
                         "cannot run '%s': its interpreter %s is not in the sandbox's view; a "
                         "filesystem.read entry or --ro for it brings it in",
                         found, interp);
        else
                snprintf(message, size, "cannot run '%s': %s", found, strerror(ENOENT));
}

/* A pool member's command (spawn_inputs.park_command): everything is in
 * place, Landlock included; wait for argv and the environment from the
 * supervisor (SPAWN_REPORT_COMMAND: a memfd, `code` strings of argv, then
 * the environment). The bytes are the supervisor's, not the agent's: no
 * agent code has run in this sandbox yet. EOF: the member was retired. */
static void exec_await_command(int status_fd, char ***argv_out, char ***env_out)
{
        struct reins_error err = {0};
        struct spawn_report report;
        int fd = -1, count = 0;
        int n = report_receive(status_fd, &report, &fd, 1, &count);
        if (n == 0)
                _exit(125); /* retired before it was taken: nothing ran */
        if (n < 0 || report.kind != SPAWN_REPORT_COMMAND || count != 1 || report.code < 1) {
                reins_error_set(&err, EPROTO, "the pool's command did not arrive");
                exec_fail(status_fd, &err);
        }
        struct stat st;
        char *data = NULL;
        if (fstat(fd, &st) == 0 && st.st_size > 0)
                data = malloc((size_t)st.st_size + 1);
        if (!data || pread(fd, data, (size_t)st.st_size, 0) != st.st_size) {
                reins_error_errno(&err, errno ? errno : EIO, "reading the pool's command");
                exec_fail(status_fd, &err);
        }
        close(fd);
        data[st.st_size] = '\0';
        size_t strings = 0;
        for (off_t i = 0; i < st.st_size; i++)
                strings += data[i] == '\0';
        size_t argc = (size_t)report.code;
        char **list = calloc(strings + 2, sizeof(*list));
        if (!list || strings < argc) {
                reins_error_set(&err, EPROTO, "a malformed pool command");
                exec_fail(status_fd, &err);
        }
        char *at = data;
        for (size_t i = 0; i < strings; i++, at += strlen(at) + 1)
                list[i + (i >= argc)] = at; /* argv, NULL, env, NULL */
        *argv_out = list;
        *env_out = list + argc + 1;
}

#ifdef REINS_BENCH_EXEC_STAMP
/* A bench-only build (`make EXTRA_CPPFLAGS=-DREINS_BENCH_EXEC_STAMP`):
 * the command's process writes CLOCK_MONOTONIC to its stderr just before
 * it calls execve, so bench/serve/pool_bench.py can say when the exec
 * began as well as when the agent's first instruction ran. Never in a
 * normal build: it writes into the agent's stderr. */
static void exec_bench_stamp(void)
{
        struct timespec t;
        char line[64];
        clock_gettime(CLOCK_MONOTONIC, &t);
        int n = snprintf(line, sizeof(line), "reins-bench-exec %lld\n",
                         (long long)t.tv_sec * 1000000000LL + t.tv_nsec);
        if (n > 0 && write(2, line, (size_t)n) != n) {
                /* a bench stamp only */
        }
}
#else
static inline void exec_bench_stamp(void)
{
}
#endif

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
        /* a container's console (reins oci --console-socket): the engine
         * holds its master; the command's new session takes it as its
         * controlling terminal */
        if (plan->root && plan->root->console && ioctl(0, TIOCSCTTY, 0) < 0) {
                reins_error_errno(&err, errno, "making the console the controlling terminal");
                exec_fail(status_fd, &err);
        }
        if (chdir(plan->cwd) < 0) {
                reins_error_errno(&err, errno, "chdir %s", plan->cwd);
                exec_fail(status_fd, &err);
        }
        /* capabilities and seccomp came from pid 1 (inherited across fork) */
        if (in->landlock_abi > 0 && landlock_apply(plan->landlock, plan->landlock_count, &err) < 0)
                exec_fail(status_fd, &err);
        char **argv = plan->argv, **env = plan->env.items;
        if (in->park_command)
                exec_await_command(status_fd, &argv, &env);
        bool rejoin = weaken("argv"); /* read before the environment changes */
        environ = env;
        if (rejoin)
                exec_joined_through_shell(argv);
        exec_bench_stamp();
        /* a container's own seccomp profile, last: what it allows is still
         * limited by reins' filter, what it denies is denied */
        if (plan->root && plan->root->filter_len > 0 && !weaken("seccomp")) {
                struct sock_fprog prog = {.len = (unsigned short)plan->root->filter_len,
                                          .filter = (struct sock_filter *)plan->root->filter};
                if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0) {
                        reins_error_errno(&err, errno, "installing config.json's seccomp profile");
                        exec_fail(status_fd, &err);
                }
        }
        execvp(argv[0], argv);
        int saved = errno;
        char message[REINS_ERROR_MAX];
        if (saved == ENOENT)
                exec_explain_missing(argv[0], getenv("PATH"), message, sizeof(message));
        else
                snprintf(message, sizeof(message), "cannot run '%s': %s", argv[0], strerror(saved));
        child_report(status_fd, SPAWN_REPORT_EXEC_FAILED, saved, message);
        _exit(saved == ENOENT || saved == ENOTDIR ? 127 : 126);
}
