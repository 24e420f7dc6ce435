/* Fork children that wait, until fork fails or argv[1] children exist.
 * Prints "forked N", kills and reaps the children, exits 0. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
        static pid_t kids[4096];
        int max = argc > 1 ? atoi(argv[1]) : 256;
        int n = 0;
        if (max > 4096)
                max = 4096;
        while (n < max) {
                pid_t pid = fork();
                if (pid < 0)
                        break;
                if (pid == 0) {
                        pause();
                        _exit(0);
                }
                kids[n++] = pid;
        }
        printf("forked %d\n", n);
        fflush(stdout);
        for (int i = 0; i < n; i++)
                kill(kids[i], SIGKILL);
        for (int i = 0; i < n; i++)
                waitpid(kids[i], NULL, 0);
        return 0;
}
