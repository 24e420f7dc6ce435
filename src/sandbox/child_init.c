/* pid 1 of the sandbox: a reaper and signal relay, nothing else. When the
 * command exits, pid 1 exits with its status and the kernel kills whatever
 * the command left behind in the pid namespace. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
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

/* What stays of the stack below the loop's frame: room for the few libc
 * calls the loop makes (and their red zone), many times over. */
#define INIT_STACK_KEEP (64 * 1024)

/* pid 1 is a fork of the supervisor: it holds the supervisor's heap as it
 * was at the fork (policy, plan, event bus, ...), each page of it pid 1's
 * alone once the supervisor writes its own copy, and the stack pages the
 * sandbox's set-up dirtied. The loop needs neither: the heap is unmapped
 * (nothing here allocates: sigwaitinfo, waitpid, kill and _exit only) and
 * the stack below the loop's frame given back (read again, it reads
 * zeros). pid 1's PSS goes from about 250 to 120 KiB (bench/density).
 * Best effort: without /proc nothing changes. */
static void init_release_memory(void)
{
        char line[PATH_MAX + 128];
        uintptr_t heap_start = 0, heap_end = 0, stack_start = 0;
        uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
        FILE *maps = fopen("/proc/self/maps", "re");
        if (!maps)
                return;
        bool at_line_start = true;
        while (fgets(line, sizeof(line), maps)) {
                bool whole = strchr(line, '\n') != NULL;
                uintptr_t start, end;
                if (at_line_start && sscanf(line, "%" SCNxPTR "-%" SCNxPTR, &start, &end) == 2) {
                        if (strstr(line, " [heap]"))
                                heap_start = start, heap_end = end;
                        else if (strstr(line, " [stack]"))
                                stack_start = start;
                }
                at_line_start = whole;
        }
        fclose(maps); /* its buffer was on the heap: closed before the heap goes */
        if (heap_end > heap_start)
                munmap((void *)heap_start, heap_end - heap_start);
        if (!stack_start)
                return;
        uintptr_t here = (uintptr_t)&line;
        uintptr_t keep = here > INIT_STACK_KEEP ? (here - INIT_STACK_KEEP) & ~(page - 1) : 0;
        if (keep > stack_start)
                madvise((void *)stack_start, keep - stack_start, MADV_DONTNEED);
}

void child_init_loop(pid_t command)
{
        init_release_memory();
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
