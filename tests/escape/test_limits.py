"""ESCAPES.md "runaway resources", "orphaned payload", "wall-clock limit"."""
import os
import re
import select
import signal
import subprocess
import time

import pytest

from conftest import WEAK_MODE, describe, judge, kill_all, new_dir, procs_with, rm_tree


def result_line(r, kind):
    m = re.search(rf"^RESULT {kind} (\d+) (.*)$", r.stdout, re.M)
    return (int(m.group(1)), m.group(2)) if m else (None, None)


def host_healthy():
    assert subprocess.run(["/bin/true"], timeout=10).returncode == 0, "the host cannot fork"


def write_policy(user, text):
    d = new_dir(user, prefix="reins-policy-")
    p = d / "policy.yaml"
    p.write_text(text)
    os.chmod(p, 0o644)
    return d, p


def test_fork_bomb(sandbox, user):
    """Forking until failure under --pids 64 stops at 64; reins exits; the host
    still forks. (The probe gives up at 1000 so a missing limit cannot hurt.)"""
    t0 = time.monotonic()
    r = sandbox.run([sandbox.probe("resources"), "fork", "1000"], key="forkbomb",
                    opts=["--pids", "64", "--timeout", "30s"], timeout=90)
    elapsed = time.monotonic() - t0
    host_healthy()
    n, why = result_line(r, "fork")
    if n is None:
        pytest.fail(f"fork probe gave no result: {describe(r)}")
    judge("forkbomb", {"forks": (n > 64, f"{n} forks before '{why}' in {elapsed:.1f}s, "
                                         f"reins exit {r.returncode}")}, user)


def test_memory_hog(sandbox, user):
    """Touching memory 1 MiB at a time under --memory 128MiB is stopped (OOM
    kill or ENOMEM) long before 256 MiB. (The probe stops at 1024 MiB.)"""
    r = sandbox.run([sandbox.probe("resources"), "mem", "1024"], key="memhog",
                    opts=["--memory", "128MiB", "--timeout", "60s"], timeout=90)
    host_healthy()
    n, why = result_line(r, "mem")
    if n is None:  # killed: the last progress line says how far it got
        got = [int(x) for x in re.findall(r"^MEM (\d+)$", r.stdout, re.M)]
        n, why = (max(got) if got else 0), f"killed, reins exit {r.returncode}"
    judge("memhog", {"memory": (n >= 256, f"{n} MiB touched ({why})")}, user)


def test_fd_exhaustion(sandbox, user):
    """Opening files under a policy with open_files: 64 stops at EMFILE within 64."""
    d, policy = write_policy(user, "version: 1\nname: escape-fd\nextends: default\n"
                                   "limits:\n  open_files: 64\n")
    try:
        r = sandbox.run([sandbox.probe("resources"), "fd", "100000"], key="fd_exhaustion",
                        opts=["-p", str(policy)])
    finally:
        rm_tree(d)
    n, why = result_line(r, "fd")
    if n is None:
        pytest.fail(f"fd probe gave no result: {describe(r)}")
    judge("fd_exhaustion", {"open_files": (n > 64, f"{n} files opened before '{why}'")}, user)


def test_disk_fill(sandbox, user):
    """Filling /tmp under a policy with tmp_size: 16MiB ends in ENOSPC at 16 MiB.
    (The probe stops at 256 MiB.)"""
    d, policy = write_policy(user, "version: 1\nname: escape-disk\nextends: default\n"
                                   "limits:\n  tmp_size: 16MiB\n")
    try:
        r = sandbox.run([sandbox.probe("resources"), "disk", "256"], key="disk_fill",
                        opts=["-p", str(policy)])
    finally:
        rm_tree(d)
    host_healthy()
    n, why = result_line(r, "disk")
    if n is None:
        pytest.fail(f"disk probe gave no result: {describe(r)}")
    judge("disk_fill", {"tmp_size": (n > 16, f"{n} MiB written before '{why}'")}, user)


def read_line_with(p, prefix, timeout):
    deadline = time.monotonic() + timeout
    buf = b""
    while time.monotonic() < deadline:
        if select.select([p.stdout], [], [], 0.1)[0]:
            chunk = os.read(p.stdout.fileno(), 4096)
            if not chunk:
                break
            buf += chunk
            if prefix.encode() in buf:
                return buf.decode(errors="replace")
    return None


def test_orphaned_payload(sandbox, user):
    """SIGKILL of the reins supervisor takes every sandbox process with it --
    plain children, one ignoring SIGTERM/SIGHUP, a setsid'd daemon.

    ESCAPES.md asks for 100 ms. That is the kernel's job once pid 1 has
    PR_SET_PDEATHSIG(SIGKILL) (pid 1's death then kills the pid namespace), so
    the assertion allows 1 s to stay clear of scheduler noise on a loaded
    machine; the measured time is in the message."""
    token = "reins-orphan-" + os.urandom(5).hex()
    p = sandbox.popen([sandbox.probe("orphan"), token], key="orphan")
    try:
        ready = read_line_with(p, "READY", 30)
        if ready is None:
            p.kill()
            out, err = p.communicate()
            pytest.fail(f"orphan probe never got ready: exit {p.returncode} {err!r}")
        before = procs_with(token)
        os.kill(p.pid, signal.SIGKILL)
        t0 = time.monotonic()
        p.wait()
        left, gone_after = before, None
        while time.monotonic() - t0 < 2.0:
            left = procs_with(token)
            if not left:
                gone_after = time.monotonic() - t0
                break
            time.sleep(0.002)
    finally:
        kill_all(token)
        if p.poll() is None:
            p.kill()
            p.wait()
    assert len(before) >= 5, f"expected the probe's processes on the host, saw {before}"
    survived = gone_after is None or gone_after > 1.0
    judge("orphan", {"survivors": (
        survived, f"{len(before)} sandbox processes; " + (
            f"all gone {gone_after * 1000:.0f} ms after SIGKILL" if gone_after is not None
            else f"{len(left)} still alive 2 s after SIGKILL: {left}"))}, user)


def test_wall_clock_limit(sandbox, user):
    """`--timeout 1s -- sleep 1000000` is gone within 1.5 s (the assertion
    allows 3 s for a loaded machine; the measured time is in the message),
    and reins exits 124."""
    arg = f"1000000.{int.from_bytes(os.urandom(3), 'big'):07d}"
    t0 = time.monotonic()
    p = sandbox.popen(["sleep", arg], key="timeout", opts=["--timeout", "1s"])
    gone = None
    try:
        while time.monotonic() - t0 < 3.5:
            if p.poll() is not None and not procs_with(arg):
                gone = time.monotonic() - t0
                break
            time.sleep(0.01)
    finally:
        if p.poll() is None:
            p.kill()
        out, err = p.communicate()
        kill_all(arg)
    still = gone is None or gone > 3.0
    detail = (f"gone after {gone:.2f}s, exit {p.returncode}" if gone is not None
              else "still running after 3.5 s")
    judge("timeout", {"still_running": (still, detail)}, user)
    if not WEAK_MODE:
        assert p.returncode == 124, f"exit {p.returncode}, stderr {err!r}"
        assert b"timeout" in err, err


def test_trail_flood(sandbox, user):
    """ESCAPES.md "supervisor exhaustion": execs with 1.8 MB of argv each from
    a readonly session under `limits.trail_size: 1MiB` leave a trail of at
    most 1 MiB that still verifies (argv cut with its length and hash, the
    records past the cap counted in a `limit` record)."""
    d, policy = write_policy(user, "version: 1\nname: escape-trail\nextends: readonly\n"
                                   "limits:\n  trail_size: 1MiB\n")
    trail = d / "trail.jsonl"
    flood = ("import subprocess\n"
             "for i in range(24):\n"
             "    subprocess.run(['/bin/true'] + ['x' * 60000 + str(i)] * 30)\n")
    try:
        r = sandbox.run(["python3", "-c", flood], key="trail_flood",
                        opts=["-q", "-p", str(policy), "--audit", str(trail)])
        size = trail.stat().st_size if trail.exists() else 0
        reins = sandbox.argv([])[len(sandbox.user.prefix)]
        v = subprocess.run([*sandbox.user.prefix, reins, "audit", "verify", str(trail)],
                           env=sandbox.env(), capture_output=True, text=True, timeout=120)
    finally:
        rm_tree(d)
    host_healthy()
    if r.returncode != 0:
        pytest.fail(f"the flood did not run: {describe(r)}")
    judge("trail_flood", {"trail_size": (size > 1 << 20 or v.returncode != 0,
                                         f"{size} bytes, verify: {v.stdout.strip()}")}, user)
