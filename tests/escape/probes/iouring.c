/* io_uring (ESCAPES.md row "io_uring"): io_uring_setup must fail; its
 * operations would bypass the syscall filter's view of socket/open calls. */
#include "probe.h"

#include <linux/io_uring.h>

int main(void)
{
        struct io_uring_params p;
        memset(&p, 0, sizeof(p));
        long rc = syscall(SYS_io_uring_setup, 4, &p);
        int e = errno;
        check("io_uring_setup", rc >= 0, "rc=%ld %s", rc, rc >= 0 ? "ring created" : strerror(e));
        done();
        return 0;
}
