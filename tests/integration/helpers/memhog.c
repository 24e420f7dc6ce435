/* Allocate and touch MiB chunks until the target (argv[1] MiB) is reached.
 * Prints ALLOCATED-ALL and exits 0 only when nothing stopped it; exits 3
 * when malloc fails (rlimit); an OOM kill ends it with SIGKILL. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
        long target = argc > 1 ? atol(argv[1]) : 1024;
        for (long i = 0; i < target; i++) {
                char *chunk = malloc(1 << 20);
                if (chunk == NULL) {
                        printf("malloc-failed after %ld MiB\n", i);
                        return 3;
                }
                memset(chunk, 0x5a, 1 << 20);
        }
        printf("ALLOCATED-ALL %ld MiB\n", target);
        return 0;
}
