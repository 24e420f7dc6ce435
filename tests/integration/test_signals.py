"""Signals sent to `reins run` reach the command; SIGKILL of reins kills the sandbox."""
import os
import signal
import subprocess
import time
import uuid

import pytest

from conftest import TIMEOUT, pids_with_marker, read_until, wait_gone


@pytest.mark.parametrize("sig", ["TERM", "INT", "HUP", "QUIT", "USR1", "USR2"])
def test_signal_to_reins_reaches_the_command(caller, sig):
    ws = caller.workspace()
    script = (f"trap 'echo got-{sig}; exit 7' {sig}; echo ready; "
              "while :; do sleep 0.1; done")
    p = caller.popen(["run", "-w", ws, "--", "sh", "-c", script], cwd=ws)
    try:
        read_until(p.stdout, b"ready")
        p.send_signal(getattr(signal, "SIG" + sig))
        out, err = p.communicate(timeout=TIMEOUT)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert f"got-{sig}".encode() in out, (out, err)
    assert p.returncode == 7, (p.returncode, err)


def test_sigkill_of_reins_kills_every_sandbox_process(caller):
    ws = caller.workspace()
    marker = f"100000.{uuid.uuid4().int % 10**9:09d}"
    script = (f"sleep {marker} & (setsid sleep {marker} &); "
              f"sh -c 'sleep {marker}' & echo ready; wait")
    p = caller.popen(["run", "-w", ws, "--", "sh", "-c", script], cwd=ws)
    try:
        read_until(p.stdout, b"ready")
        # the three sleeps exist on the host (not counting reins, whose argv has the marker too)
        inner = wait_for_count(marker.encode(), exclude={p.pid}, count=3)
        assert len(inner) >= 3, inner
        p.kill()
        p.wait(timeout=TIMEOUT)
        left = wait_gone(marker.encode(), timeout=5)
        assert left == [], f"sandbox processes survived SIGKILL of reins: {left}"
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def wait_for_count(marker, exclude, count, timeout=10):
    """Host pids of `sleep MARKER` processes, once at least `count` exist."""
    deadline = time.monotonic() + timeout
    while True:
        found = []
        for pid in pids_with_marker(marker, exclude):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if f.read().split(b"\0")[0] == b"sleep":
                        found.append(pid)
            except OSError:
                pass
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)
