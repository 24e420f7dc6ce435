"""ESCAPES.md "terminal injection" (CVE-2017-5226, CVE-2019-7303, CVE-2023-28100)."""
import fcntl
import os
import select
import subprocess
import termios
import tty

import pytest

from conftest import WEAK_MODE, judge, parse_checks

LEGACY = "/proc/sys/dev/tty/legacy_tiocsti"


def run_on_pty(sandbox, key):
    """Run the tty probe with a fresh pty as stdin that is the controlling
    terminal of reins' session, as an interactive shell's terminal would be.
    Returns the result and whatever arrived in the caller's input queue."""
    master, slave = os.openpty()
    tty.setraw(slave)

    def make_ctty():
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    try:
        p = sandbox.popen([sandbox.probe("tty")], key=key, stdin=slave,
                          start_new_session=True, preexec_fn=make_ctty, text=True)
        out, err = p.communicate(timeout=60)
        # what the caller's shell would read next from its terminal
        os.set_blocking(slave, False)
        typed = b""
        while select.select([slave], [], [], 0.2)[0]:
            try:
                chunk = os.read(slave, 4096)
            except BlockingIOError:
                break
            if not chunk:
                break
            typed += chunk
    finally:
        os.close(master)
        os.close(slave)
    return subprocess.CompletedProcess(p.args, p.returncode, out, err), typed


def test_tty_ioctls_denied(sandbox, user):
    """TIOCSTI, TIOCSTI with bits above 32 set, and TIOCLINUX all fail."""
    r, _ = run_on_pty(sandbox, "tty_ioctl")
    judge("tty_ioctl", parse_checks(r, "tty"), user)


def test_tty_caller_not_injected(sandbox, user):
    """Nothing the command injects arrives in the caller's terminal."""
    if WEAK_MODE and open(LEGACY).read().strip() != "1":
        pytest.skip("dev.tty.legacy_tiocsti=0: the kernel refuses TIOCSTI itself")
    r, typed = run_on_pty(sandbox, "tty_caller")
    parse_checks(r, "tty")
    assert "INFO isatty0 1" in r.stdout, f"the probe's stdin was not a terminal: {r.stdout}"
    judge("tty_caller", {"caller_pty_injected": (b"x" in typed,
                                                 f"caller's terminal received {typed!r}")}, user)
