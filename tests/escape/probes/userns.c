/* Nested user namespaces (CVE-2022-0185 class: kernel bugs reachable with
 * capabilities in a user namespace of one's own): unshare(CLONE_NEWUSER) and
 * clone(CLONE_NEWUSER) must fail. */
#include "probe.h"

#include <sched.h>

static int t_unshare(char *d, size_t n)
{
        if (unshare(CLONE_NEWUSER) == 0) {
                snprintf(d, n, "new user namespace created");
                return 1;
        }
        snprintf(d, n, "%s", strerror(errno));
        return 0;
}

static int t_clone(char *d, size_t n)
{
        long rc = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
        if (rc == 0)
                _exit(0);
        int e = errno;
        if (rc > 0) {
                waitpid((pid_t)rc, NULL, 0);
                snprintf(d, n, "child %ld in a new user namespace", rc);
                return 1;
        }
        snprintf(d, n, "%s", strerror(e));
        return 0;
}

int main(void)
{
        char d[400];
        int esc = in_child(t_unshare, d, sizeof(d));
        check("unshare_newuser", esc, "%s", d);
        esc = in_child(t_clone, d, sizeof(d));
        check("clone_newuser", esc, "%s", d);
        done();
        return 0;
}
