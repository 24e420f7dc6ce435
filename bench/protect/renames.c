/* bench/protect: N renames of a file onto another name in the current
 * directory (write-temp-then-rename, as editors and git do), timed with the
 * monotonic clock; prints nanoseconds per rename. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
        long n = argc > 1 ? strtol(argv[1], NULL, 10) : 10000;
        int fd = open("bench-a", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) {
                perror("bench-a");
                return 1;
        }
        close(fd);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (long i = 0; i < n; i++)
                if (rename(i % 2 ? "bench-b" : "bench-a", i % 2 ? "bench-a" : "bench-b") < 0) {
                        perror("rename");
                        return 1;
                }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        unlink("bench-a");
        unlink("bench-b");
        double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
        printf("%.0f\n", ns / (double)n);
        return 0;
}
