/* Prints CLOCK_MONOTONIC in nanoseconds the moment it starts: run as the
 * sandboxed command, it tells the start-up benchmark when the command began
 * (the clock is shared by the host and the sandbox; reins makes no time
 * namespace). Static, so no dynamic loading skews the figure. */
#include <stdio.h>
#include <time.h>

int main(void)
{
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        printf("%lld\n", (long long)now.tv_sec * 1000000000LL + now.tv_nsec);
        return 0;
}
