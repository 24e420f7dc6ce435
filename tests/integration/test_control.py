"""The control socket and the agent channel, as root and as nobody: a thaw
needs the user's signature (unsigned and replayed ones are refused, `reins
thaw` works and is recorded with its signature); what a supervisor killed
with -9 leaves in the runtime directory is swept and `reins ps` never shows a
`(gone)` row; a stale `upper.new` left by a killed write-back is removed on
resume; oversized lines, connection floods and idle connections on both
channels are capped, recorded as `limit` events, and leave the supervisor
working under 64 MiB."""
import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import TIMEOUT

CLIENT = r'''
import json, socket, sys
c = socket.socket(socket.AF_UNIX)
c.settimeout(10)
c.connect(sys.argv[1])
f = c.makefile("rb")
for line in sys.argv[2:]:
    c.sendall(line.encode() + b"\n")
    print(f.readline().decode().strip(), flush=True)
'''


def runtime_env(caller):
    """A private runtime directory of the caller's (XDG_RUNTIME_DIR), so the
    sweep and the floods touch nothing of other sessions on this machine."""
    d = caller.mkdtemp(prefix="reins-xdg-")
    os.chmod(d, 0o700)
    return {"XDG_RUNTIME_DIR": str(d)}, Path(d) / "reins"


def host_client(caller, sock, *lines, env=None):
    """Send JSON lines to a control socket as the caller; the reply lines."""
    r = subprocess.run([*caller.prefix, "/usr/bin/python3", "-c", CLIENT, str(sock), *lines],
                       capture_output=True, text=True, timeout=TIMEOUT, env=caller.env(env))
    assert r.returncode == 0, r.stderr
    return [json.loads(x) for x in r.stdout.splitlines()]


def ps_entry(caller, pid, env, key=None):
    for line in caller.run(["ps", "--json"], env=env).stdout.splitlines():
        e = json.loads(line)
        if e.get("pid") == pid and (key is None or e.get(key)):
            return e
    return None


def wait_entry(caller, proc, env, key=None, timeout=40):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        e = ps_entry(caller, proc.pid, env, key)
        if e:
            return e
        time.sleep(0.1)
    return None


def rss_peak_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


# --------------------------------------------------------------------------
# a thaw is signed


def test_unsigned_or_replayed_thaw_is_refused_reins_thaw_works(caller):
    env, _ = runtime_env(caller)
    ws = caller.workspace()
    # T2 by the score (a forced tier with a low score steps back down)
    pol = caller.write(ws / "policy.yaml",
                       "version: 1\nextends: default\nrules:\n  weight: {recon-tool: 60}\n")
    evdir = caller.mkdtemp(prefix="reins-ctl-ev-")
    events = evdir / "events.jsonl"
    p = caller.popen(["run", "-p", pol, "--events", events, "-w", ws, "--", "sh", "-c",
                      "socat -V >/dev/null 2>&1; sleep 60"], cwd=ws, env=env, text=True)
    try:
        entry = wait_entry(caller, p, env, "risk_tier")
        deadline = time.monotonic() + 20
        while entry and entry["risk_tier"] != 2 and time.monotonic() < deadline:
            time.sleep(0.1)
            entry = ps_entry(caller, p.pid, env)
        assert entry and entry["risk_tier"] == 2, entry
        sock = entry["control"]
        # a same-user process on the host, without the user's signature
        [reply] = host_client(caller, sock, '{"op":"thaw"}', env=env)
        assert not reply["ok"] and "signed" in reply["error"], reply
        # a made-up signature over a nonce of this connection
        nonce, forged = host_client(
            caller, sock, '{"op":"nonce"}',
            '{"op":"thaw","payload":{"nonce":"00","op":"thaw","session":"x","time":0},'
            '"signature":"' + "00" * 64 + '"}', env=env)
        assert nonce["ok"] and not forged["ok"], forged
        assert ps_entry(caller, p.pid, env)["risk_tier"] == 2
        # the user's own `reins thaw`: signed, accepted
        r = caller.run(["thaw", entry["session"][:10]], env=env)
        assert r.returncode == 0 and r.stdout.startswith("thawed"), r.stderr
        assert ps_entry(caller, p.pid, env)["risk_tier"] == 0
        # the recorded signed request, played again on a fresh nonce: refused
        deadline = time.monotonic() + 10
        reset = []
        while not reset and time.monotonic() < deadline:
            reset = [json.loads(x) for x in events.read_text().splitlines()
                     if '"tier-reset"' in x]
            time.sleep(0.1)
        assert reset, "the thaw was not recorded"
        by = reset[0]["by"]
        assert by["payload"]["op"] == "thaw" and len(by["signature"]) == 128
        replay = json.dumps({"op": "thaw", "payload": by["payload"],
                             "signature": by["signature"]})
        _, again = host_client(caller, sock, '{"op":"nonce"}', replay, env=env)
        assert not again["ok"] and "nonce" in again["error"], again
    finally:
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=TIMEOUT)
    refused = [json.loads(x) for x in events.read_text().splitlines()
               if '"control.refused"' in x]
    assert len(refused) >= 3, refused


# --------------------------------------------------------------------------
# leftovers of supervisors killed with -9


def test_kill9_leftovers_are_swept_and_ps_shows_no_gone_rows(caller):
    env, runtime = runtime_env(caller)
    ws = caller.workspace()
    # killed at several moments of start-up, and one well after it
    for delay in (0.005, 0.02, 0.05, 0.1, 0.2):
        p = caller.popen(["run", "-w", ws, "--", "sleep", "60"], cwd=ws, env=env)
        time.sleep(delay)
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
    p = caller.popen(["run", "-w", ws, "--", "sleep", "60"], cwd=ws, env=env)
    assert wait_entry(caller, p, env), "the session was never listed"
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    # what a kill between the socket's creation and the registration leaves
    stale = runtime / "0123456789abcdef01234567.sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(stale))
    s.close()
    caller.own(stale)
    # a socket just bound by a session that is starting: kept
    live = runtime / "89abcdef0123456789abcdef.sock"
    keep = socket.socket(socket.AF_UNIX)
    keep.bind(str(live))
    caller.own(live)
    try:
        r = caller.run(["ps"], env=env)
        assert r.returncode == 0, r.stderr
        assert "(gone)" not in r.stdout and "sleep 60" not in r.stdout, r.stdout
        left = sorted(x.name for x in runtime.iterdir())
        assert left == [live.name], left
    finally:
        keep.close()


def test_a_temporary_entry_whose_writer_died_is_swept(caller):
    env, runtime = runtime_env(caller)
    # where O_TMPFILE is missing the entry is written under a temporary
    # name first: a writer killed before its rename leaves it behind
    old = runtime / ".0123456789abcdef01234567.json.tmp"
    young = runtime / ".89abcdef0123456789abcdef.json.tmp"
    caller.mkdir(runtime)
    os.chmod(runtime, 0o700)
    for path in (old, young):
        caller.write(path, '{"session": "half')
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    r = caller.run(["ps"], env=env)
    assert r.returncode == 0, r.stderr
    left = sorted(x.name for x in runtime.iterdir())
    # the young one may be a session starting right now: kept
    assert left == [young.name], left


def test_stale_upper_new_is_removed_on_resume(caller):
    ws = caller.workspace()
    caller.write(ws / "a.txt", "a\n")
    r = caller.sandbox(["sh", "-c", "echo b > b.txt"], ws=ws,
                       opts=["--workspace-mode", "overlay"])
    assert r.returncode == 0, r.stderr
    sid = re.search(r"changes kept in session ([0-9a-f]{24})", r.stderr).group(1)
    session = Path(caller.home) / ".local" / "state" / "reins" / "workspaces" / sid
    # what a kill during a capped write-back leaves: a half-written copy
    new = session / "upper.new"
    for d in (new, new / "deep", new / "deep" / "er"):
        caller.mkdir(d, mode=0o700)
    caller.write(new / "deep" / "er" / "big.bin", "x" * 65536)
    r = caller.sandbox(["cat", "b.txt"], ws=ws,
                       opts=["--workspace-mode", "overlay", "--resume", sid])
    assert r.returncode == 0 and r.stdout == "b\n", r.stderr
    assert not new.exists(), sorted(p.name for p in session.iterdir())
    assert (session / "upper" / "b.txt").exists()


# --------------------------------------------------------------------------
# caps on what the channels take in

AGENT_FLOOD = r'''
import json, os, socket, time
start = time.monotonic()
def conn():
    c = socket.socket()
    c.settimeout(5)
    c.connect(("127.0.0.1", 3129))
    return c
idle = conn()                          # sends nothing: closed after the idle time
held, refused = [], 0
for i in range(200):                   # more connections than the cap
    try:
        held.append(conn())
    except OSError:
        refused += 1
for c in held:                         # each a line longer than the cap
    try:
        c.sendall(b"x" * (1 << 20))
    except OSError:
        pass
http = conn()                          # an HTTP body larger than the cap
http.sendall(b"POST /ask HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n")
print("http", http.recv(4096)[:12])
for c in held:
    c.close()
c = conn()                             # the channel still answers
c.sendall(b'{"kind":"path","target":"docs/a.md","reason":"after the flood"}\n')
print("after", c.recv(4096).decode().strip())
time.sleep(max(0, 12 - (time.monotonic() - start)))
try:
    idle.settimeout(1)
    print("idle", "closed" if idle.recv(10) == b"" else "open")
except OSError as e:
    print("idle", "closed" if "reset" in str(e) else "open: %s" % e)
'''

HOST_FLOOD = r'''
import socket, sys
path = sys.argv[1]
big = socket.socket(socket.AF_UNIX)
big.connect(path)
held = []
for i in range(300):                    # more connections than the cap
    try:
        c = socket.socket(socket.AF_UNIX)
        c.connect(path)
        held.append(c)
    except OSError:
        break
try:
    for i in range(100):                # 100 MiB without a newline
        big.sendall(b"y" * (1 << 20))
except OSError:
    pass
print("held", len(held), flush=True)
'''


def test_channel_floods_are_capped_and_the_supervisor_stays_small(caller):
    env, _ = runtime_env(caller)
    ws = caller.workspace()
    caller.write(ws / "flood.py", AGENT_FLOOD)
    pol = caller.write(ws / "policy.yaml", "version: 1\nextends: default\nnetwork:\n"
                       "  mode: proxy\napprovals: {timeout: 30s}\n")
    evdir = caller.mkdtemp(prefix="reins-ctl-ev-")
    events = evdir / "events.jsonl"
    p = caller.popen(["run", "-p", pol, "--events", events, "-w", ws, "--", "sh", "-c",
                      "python3 flood.py; sleep 3"], cwd=ws, env=env, text=True)
    try:
        entry = wait_entry(caller, p, env)
        assert entry, "the session was never listed"
        r = subprocess.run([*caller.prefix, "/usr/bin/python3", "-c", HOST_FLOOD,
                            entry["control"]], capture_output=True, text=True,
                           timeout=120, env=caller.env(env))
        assert r.returncode == 0, r.stderr
        # the supervisor still answers its own user
        status = ps_entry(caller, p.pid, env)
        assert status and "pending" in status, status
        peak = rss_peak_kib(p.pid)
        out, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode == 0, err
    print(f"supervisor peak RSS under the floods: {peak} KiB")
    assert peak is not None and peak < 64 * 1024, f"supervisor peak RSS {peak} KiB"
    assert "http b'HTTP/1.1 403'" in out, out
    after = json.loads(re.search(r"^after (.*)$", out, re.M).group(1))
    assert after["ok"] and after["status"] == "pending", after
    assert "idle closed" in out, out
    limits = [json.loads(x) for x in events.read_text().splitlines() if '"limit"' in x]
    kinds = {(e.get("kind"), e.get("channel")) for e in limits}
    for want in (("control_line", "agent"), ("control_line", "control"),
                 ("control_connections", "agent"), ("control_connections", "control"),
                 ("control_idle", "agent")):
        assert want in kinds, (want, limits)


PENDING_FLOOD = r'''
import socket
held = []
for i in range(24):                    # more held requests than the queue takes
    s = socket.create_connection(("127.0.0.1", 3128), timeout=10)
    s.sendall(b"CONNECT ask.test:9 HTTP/1.1\r\nHost: ask.test:9\r\n\r\n")
    held.append(s)
codes = []
for s in held:
    try:
        codes.append(s.recv(64).split(b" ")[1].decode())
    except (OSError, IndexError):
        codes.append("none")
print("codes", " ".join(codes))
'''


def test_pending_queue_cap_is_a_limit_event(caller):
    ws = caller.workspace()
    caller.write(ws / "pending.py", PENDING_FLOOD)
    pol = caller.write(ws / "policy.yaml", "version: 1\nextends: default\nnetwork:\n"
                       "  mode: proxy\n  ask: [\"ask.test:9\"]\n"
                       "  hosts: {ask.test: 127.0.0.1}\napprovals: {timeout: 2s}\n")
    evdir = caller.mkdtemp(prefix="reins-ctl-ev-")
    events = evdir / "events.jsonl"
    r = caller.sandbox(["python3", "pending.py"], ws=ws,
                       opts=["-q", "-p", pol, "--events", events], timeout=120)
    assert r.returncode == 0, r.stderr
    codes = r.stdout.split()[1:]
    assert codes.count("403") == 24, r.stdout  # 8 at once, 16 after the timeout
    recorded = [json.loads(x) for x in events.read_text().splitlines()]
    limits = [e for e in recorded if e["type"] == "limit" and e["kind"] == "pending_requests"]
    assert len(limits) == 1 and limits[0]["limit"] == 16, limits
    assert limits[0]["suppressed"] == 0  # the 7 other refusals follow within 10 s
    refused = [e for e in recorded if e["type"] == "approval.refused"]
    assert len(refused) == 8, refused


def test_host_root_may_ask_another_users_session(caller):
    """Root on the host is trusted as before (uid 0, our namespaces): the
    peer check reads what it may of a peer it cannot ptrace."""
    if caller.name != "nobody":
        pytest.skip("needs a session of a user other than root, and root to ask it")
    env, _ = runtime_env(caller)
    ws = caller.workspace()
    p = caller.popen(["run", "-w", ws, "--", "sleep", "30"], cwd=ws, env=env, text=True)
    try:
        entry = wait_entry(caller, p, env)
        assert entry, "the session was never listed"
        c = socket.socket(socket.AF_UNIX)
        c.settimeout(10)
        c.connect(entry["control"])
        c.sendall(b'{"op":"status"}\n')
        reply = json.loads(c.makefile("rb").readline())
        c.close()
        assert reply["ok"] and reply["session"] == entry["session"], reply
    finally:
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=TIMEOUT)


FD_FLOOD = r'''
import json, socket, sys, time
held = []
for i in range(60):
    c = socket.socket(socket.AF_UNIX)
    c.connect(sys.argv[1])
    held.append(c)
time.sleep(1)
for c in held:
    c.close()
time.sleep(0.5)
c = socket.socket(socket.AF_UNIX)
c.settimeout(10)
c.connect(sys.argv[1])
c.sendall(b'{"op":"status"}\n')
print(c.makefile("rb").readline().decode().strip())
'''


def test_supervisor_out_of_fds_records_a_limit_and_recovers(caller):
    """The supervisor at its fd limit (40 here): connections it cannot check
    are refused and counted (`control_fds`), and it answers again once they
    are gone."""
    env, _ = runtime_env(caller)
    ws = caller.workspace()
    evdir = caller.mkdtemp(prefix="reins-ctl-ev-")
    events = evdir / "events.jsonl"
    p = subprocess.Popen([*caller.prefix, "prlimit", "--nofile=40:40", caller.reins, "run",
                          "--events", str(events), "-w", str(ws), "--", "sleep", "8"],
                         cwd=ws, env=caller.env(env), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        entry = wait_entry(caller, p, env)
        assert entry, "the session was never listed"
        r = subprocess.run([*caller.prefix, "/usr/bin/python3", "-c", FD_FLOOD,
                            entry["control"]], capture_output=True, text=True, timeout=60,
                           env=caller.env(env))
        assert r.returncode == 0, r.stderr
        status = json.loads(r.stdout)
        assert status["ok"] and status["session"] == entry["session"], status
    finally:
        out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    limits = [json.loads(x) for x in events.read_text().splitlines() if '"limit"' in x]
    assert any(e["kind"] == "control_fds" for e in limits), limits
