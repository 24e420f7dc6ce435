/* Terminal injection (CVE-2017-5226, CVE-2019-7303, CVE-2023-28100).
 *
 * Run with a pty on stdin. TIOCSTI pushes a character into the input queue of
 * the terminal: if that terminal is the caller's, the character is "typed" into
 * the caller's shell once the sandbox exits. The filter must refuse TIOCSTI,
 * TIOCSTI with junk in the upper 32 bits of the request (the kernel only looks
 * at the low 32), and TIOCLINUX. The caller-side check (did 'x' arrive in the
 * caller's pty?) is made by the test. */
#include "probe.h"

#include <sys/ioctl.h>
#include <termios.h>

int main(void)
{
        info("isatty0 %d", isatty(0));
        char ch = 'x';
        long rc = syscall(SYS_ioctl, 0, (unsigned long)TIOCSTI, &ch);
        int e = errno;
        /* EIO: the kernel's legacy_tiocsti switch; the call got to the tty */
        check("tiocsti", rc == 0 || e == EIO, "rc=%ld %s", rc, rc ? strerror(e) : "injected");

        rc = syscall(SYS_ioctl, 0, (unsigned long)TIOCSTI | (1UL << 32), &ch);
        e = errno;
        check("tiocsti_hi32", rc == 0 || e == EIO, "rc=%ld %s", rc,
              rc ? strerror(e) : "injected");

        /* TIOCLINUX subcode 12 (TIOCL_GETFGCONSOLE) is harmless; on a pty the
         * tty layer answers ENOTTY/EINVAL, the filter EPERM */
        char sub = 12;
        rc = syscall(SYS_ioctl, 0, (unsigned long)TIOCLINUX, &sub);
        e = errno;
        check("tioclinux", rc >= 0 || !denied_errno(e), "rc=%ld %s", rc,
              rc >= 0 ? "ok" : strerror(e));
        done();
        return 0;
}
