/* bench/protect: `renames N A B` renames file A to B and back, N renames in
 * all (the write-temp-then-rename of editors and git, without the write),
 * and prints the nanoseconds per rename (monotonic clock). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
        if (argc != 4) {
                fputs("usage: renames N A B\n", stderr);
                return 2;
        }
        long n = strtol(argv[1], NULL, 10);
        const char *a = argv[2], *b = argv[3];
        int fd = open(a, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) {
                perror(a);
                return 1;
        }
        close(fd);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (long i = 0; i < n; i++)
                if (rename(i % 2 ? b : a, i % 2 ? a : b) < 0) {
                        perror("rename");
                        return 1;
                }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        unlink(n % 2 ? b : a);
        double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
        printf("%.0f\n", ns / (double)(n > 0 ? n : 1));
        return 0;
}
