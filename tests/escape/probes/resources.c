/* Runaway resources: fork bomb, memory hog, fd exhaustion, disk fill.
 *
 *   resources fork CAP      fork children (they pause) until fork fails or CAP
 *   resources mem CAP_MIB   map and touch 1 MiB at a time up to CAP_MIB
 *   resources fd CAP        open /dev/null until EMFILE or CAP
 *   resources disk CAP_MIB  write /tmp/fill 1 MiB at a time until ENOSPC or CAP
 *
 * Prints "RESULT <kind> <count> <errno name>" and progress lines, and never
 * goes past CAP, so a missing limit cannot hurt the host: the test calls
 * reaching CAP an escape. Children are killed one by one, never kill(-1). */
#include "probe.h"

#include <sys/mman.h>

int main(int argc, char **argv)
{
        if (argc < 3)
                return 2;
        const char *kind = argv[1];
        long cap = atol(argv[2]);
        long count = 0;
        int e = 0;
        if (strcmp(kind, "fork") == 0) {
                pid_t *kids = calloc((size_t)cap, sizeof(pid_t));
                while (count < cap) {
                        pid_t pid = fork();
                        if (pid < 0) {
                                e = errno;
                                break;
                        }
                        if (pid == 0) {
                                for (;;)
                                        pause();
                        }
                        kids[count++] = pid;
                }
                printf("RESULT fork %ld %s\n", count, e ? strerror(e) : "cap");
                fflush(stdout);
                for (long i = 0; i < count; i++)
                        kill(kids[i], SIGKILL);
                for (long i = 0; i < count; i++)
                        waitpid(kids[i], NULL, 0);
        } else if (strcmp(kind, "mem") == 0) {
                while (count < cap) {
                        char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
                                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                        if (p == MAP_FAILED) {
                                e = errno;
                                break;
                        }
                        memset(p, 0x5a, 1 << 20);
                        count++;
                        if (count % 8 == 0) {
                                printf("MEM %ld\n", count);
                                fflush(stdout);
                        }
                }
                printf("RESULT mem %ld %s\n", count, e ? strerror(e) : "cap");
        } else if (strcmp(kind, "fd") == 0) {
                while (count < cap) {
                        if (open("/dev/null", O_RDONLY) < 0) {
                                e = errno;
                                break;
                        }
                        count++;
                }
                printf("RESULT fd %ld %s\n", count, e ? strerror(e) : "cap");
        } else if (strcmp(kind, "disk") == 0) {
                static char chunk[1 << 20];
                memset(chunk, 0x5a, sizeof(chunk));
                int fd = open("/tmp/fill", O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
                if (fd < 0) {
                        e = errno;
                } else {
                        while (count < cap) {
                                size_t off = 0;
                                while (off < sizeof(chunk)) {
                                        ssize_t n = write(fd, chunk + off, sizeof(chunk) - off);
                                        if (n < 0) {
                                                e = errno;
                                                break;
                                        }
                                        off += (size_t)n;
                                }
                                if (e)
                                        break;
                                count++;
                        }
                        close(fd);
                        unlink("/tmp/fill");
                }
                printf("RESULT disk %ld %s\n", count, e ? strerror(e) : "cap");
        } else {
                return 2;
        }
        done();
        return 0;
}
