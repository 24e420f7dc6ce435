/* Orphaned payload (die-with-parent): leave processes behind in every way a
 * payload can -- plain children, a child that ignores SIGTERM/SIGHUP, and a
 * daemon (setsid + double fork) -- then print READY and wait. The test kills
 * the reins supervisor with SIGKILL and watches the host's /proc for the token
 * in argv[1], which every one of these processes carries on its command line. */
#include "probe.h"

int main(int argc, char **argv)
{
        (void)argc;
        (void)argv;
        int kids = 0;
        for (int i = 0; i < 2; i++)
                if (fork() == 0) {
                        for (;;)
                                pause();
                } else {
                        kids++;
                }
        if (fork() == 0) {
                signal(SIGTERM, SIG_IGN);
                signal(SIGHUP, SIG_IGN);
                for (;;)
                        pause();
        }
        kids++;
        if (fork() == 0) {
                setsid();
                if (fork() == 0) {
                        signal(SIGHUP, SIG_IGN);
                        for (;;)
                                pause();
                }
                _exit(0);
        }
        kids++;
        usleep(100000);
        printf("READY %d\n", kids);
        fflush(stdout);
        for (;;)
                pause();
}
