"""Idle sessions cost nothing and `reins ps` reads files only, as root and as
nobody: an idle supervisor sleeps until something happens (no wake-ups of
its own), and the state `reins ps` lists (risk tier, pending requests) is
the one the supervisor wrote into its registry entry when it changed, so
`reins ps` shows it without asking the supervisor, even a stopped one
(SIGSTOP)."""
import json
import os
import re
import signal
import time

from conftest import TIMEOUT


def runtime_env(caller):
    """A private runtime directory (XDG_RUNTIME_DIR): `reins ps` lists this
    test's sessions only, whatever else runs on the machine."""
    d = caller.mkdtemp(prefix="reins-xdg-")
    os.chmod(d, 0o700)
    return {"XDG_RUNTIME_DIR": str(d)}


def ps_entry(caller, pid, env):
    r = caller.run(["ps", "--json"], env=env)
    assert r.returncode == 0, r.stderr
    for line in r.stdout.splitlines():
        e = json.loads(line)
        if e.get("pid") == pid:
            return e
    return None


def wait_entry(caller, proc, env, ready, timeout=40):
    """The session's `reins ps --json` entry once ready(entry) holds."""
    deadline = time.monotonic() + timeout
    entry = None
    while time.monotonic() < deadline and proc.poll() is None:
        entry = ps_entry(caller, proc.pid, env)
        if entry and ready(entry):
            return entry
        time.sleep(0.1)
    raise AssertionError(f"the session never got there; last entry: {entry}")


def switches(pid):
    """Voluntary context switches of pid so far: one per sleep it woke from."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("voluntary_ctxt_switches:"):
                return int(line.split()[1])
    raise AssertionError(f"no voluntary_ctxt_switches in /proc/{pid}/status")


def test_an_idle_supervisor_does_not_wake_up(caller):
    """A supervisor whose command sleeps has nothing to do: it waits in
    epoll_wait without a timeout (before, it woke every 100 ms: 20 times in
    2 s). A few switches are allowed for what the kernel may do to it."""
    env = runtime_env(caller)
    ws = caller.workspace()
    p = caller.popen(["run", "-w", ws, "--", "sleep", "60"], cwd=ws, env=env, text=True)
    try:
        entry = wait_entry(caller, p, env, lambda e: e.get("alive"))
        supervisor = entry["pid"]
        time.sleep(0.5)  # the start's last records flushed
        before = switches(supervisor)
        time.sleep(2)
        woke = switches(supervisor) - before
        assert woke < 5, f"an idle supervisor woke up {woke} times in 2 s"
        # and it still serves: `reins ps` lists it, `reins stop` ends it
        assert ps_entry(caller, p.pid, env)["session"] == entry["session"]
        assert caller.run(["stop", entry["session"]], env=env).returncode == 0
        p.communicate(timeout=TIMEOUT)
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            p.communicate(timeout=TIMEOUT)


def test_ps_shows_a_tier_change_without_asking_the_supervisor(caller):
    """T2 by the score; then the supervisor is stopped (SIGSTOP): `reins ps`
    still lists it at T2, from the registry entry the supervisor rewrote
    when its tier changed (asking it would get no answer)."""
    env = runtime_env(caller)
    ws = caller.workspace()
    pol = caller.write(ws / "policy.yaml",
                       "version: 1\nextends: default\nrules:\n  weight: {recon-tool: 60}\n")
    p = caller.popen(["run", "-q", "-p", pol, "-w", ws, "--", "sh", "-c",
                      "socat -V >/dev/null 2>&1; sleep 60"], cwd=ws, env=env, text=True)
    stopped = False
    try:
        entry = wait_entry(caller, p, env, lambda e: e.get("risk_tier") == 2)
        os.kill(entry["pid"], signal.SIGSTOP)
        stopped = True
        listed = ps_entry(caller, p.pid, env)
        assert listed and listed["risk_tier"] == 2 and listed["tier"] == 2, listed
        assert listed["findings"] >= 1 and listed["risk"] > 25, listed
        assert listed["frozen"] is False and listed["pending"] == 0, listed
        # the internal fields the score is aged with are not shown
        assert set(listed) == set(entry), (listed, entry)
        table = caller.run(["ps"], env=env).stdout
        assert any(entry["session"] in line and " T2 " in line for line in table.splitlines()), \
            table
    finally:
        if stopped:
            os.kill(entry["pid"], signal.SIGCONT)
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=TIMEOUT)


def test_ps_shows_a_pending_request_without_asking_the_supervisor(caller):
    """A connection held for a human: `reins ps` counts it pending while the
    supervisor is stopped, and counts it gone once it timed out."""
    env = runtime_env(caller)
    ws = caller.workspace()
    pol = caller.write(ws / "policy.yaml",
                       "version: 1\nextends: default\nnetwork:\n  mode: proxy\n"
                       "  ask: [\"ask.test:9\"]\n  hosts: {ask.test: 127.0.0.1}\n"
                       "approvals: {timeout: 4s}\n")
    p = caller.popen(["run", "-q", "-p", pol, "-w", ws, "--", "sh", "-c",
                      "curl -s --max-time 30 http://ask.test:9/ >/dev/null; sleep 60"],
                     cwd=ws, env=env, text=True)
    stopped = False
    try:
        entry = wait_entry(caller, p, env, lambda e: e.get("pending") == 1)
        os.kill(entry["pid"], signal.SIGSTOP)
        stopped = True
        listed = ps_entry(caller, p.pid, env)
        assert listed and listed["pending"] == 1, listed
        table = caller.run(["ps"], env=env).stdout
        # SESSION ... RISK ("T0 0") PENDING COMMAND
        assert re.search(entry["session"] + r" .* T0 \d+\s+1\s", table), table
        os.kill(entry["pid"], signal.SIGCONT)
        stopped = False
        # the request times out (a deadline of its own: nothing else wakes
        # the supervisor) and the entry says so
        wait_entry(caller, p, env, lambda e: e.get("pending") == 0)
    finally:
        if stopped:
            os.kill(entry["pid"], signal.SIGCONT)
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=TIMEOUT)
