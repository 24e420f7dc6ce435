"""reins serve's warm pool (issue 15, item 6): sandboxes built ahead up to the
command's execve for a policy file marked `pool: N` and one workspace.

Each test starts its own daemon as the caller (root, or nobody) with a
`pool:` entry, waits until the pool is filled (GET /v1/policies), and takes
sessions from it. Speed is measured by bench/serve/pool_bench.py, never here.
"""
import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import NOBODY_GID, NOBODY_UID, TIMEOUT
from test_serve import (Daemon, call_as, daemons, pid_alive, root_daemon_only,  # noqa: F401
                        wait_ended)


def pooled_daemon(caller, daemons, size=2, policy_extra="", ws=None):
    """A daemon with one pool entry: (daemon, policy path, workspace)."""
    ws = ws or caller.workspace()
    caller.write(ws / "data.txt", "workspace data\n")
    conf = caller.mkdtemp(prefix="reins-pool-")
    policy = caller.write(conf / "pooled.yaml",
                          f"version: 1\nname: pooled\nextends: default\npool: {size}\n"
                          + policy_extra)
    d = Daemon(caller, config=f"version: 1\npool:\n  - policy: {policy}\n"
                              f"    workspace: {ws}\n")
    daemons.append(d)
    return d, policy, ws


def pool_state(daemon, policy):
    status, body = daemon.call("GET", "/v1/policies")
    assert status == 200, body
    [entry] = [p for p in body if p["kind"] == "pool" and p["name"] == str(policy)]
    return entry["pool"]


def wait_pool(daemon, policy, ready, exclude=(), timeout=TIMEOUT):
    """Until `ready` members are ready, none of them among `exclude` (pids)."""
    deadline = time.monotonic() + timeout
    state = None
    while time.monotonic() < deadline:
        state = pool_state(daemon, policy)
        fresh = [m for m in state["members"] if m["ready"] and m["pid"] not in exclude]
        if len(fresh) >= ready and state["ready"] == ready:
            return state
        time.sleep(0.05)
    # members fail closed without an inotify instance to watch their
    # workspace: on a host whose processes hold all of this user's
    # (fs.inotify.max_user_instances), that is the host's state, not a defect
    if state and "inotify" in (state.get("error") or "") and "Too many" in state["error"]:
        pytest.skip(f"this user's inotify instances are all taken on this host: {state['error']}")
    raise AssertionError(f"the pool did not fill: {state}")


def start(daemon, policy, ws, command, env=None):
    body = {"policy": str(policy), "workspace": str(ws), "command": command}
    if env is not None:
        body["env"] = env
    status, reply = daemon.call("POST", "/v1/sessions", body)
    assert status == 201, reply
    return reply


def output(daemon, session):
    wait_ended(daemon, session)
    status, out = daemon.call("GET", f"/v1/sessions/{session}/output")
    assert status == 200, out
    return out


def session_trail(daemon, session):
    record = json.loads((daemon.state / "sessions" / session / "record.json").read_text())
    path = Path(record["trail"])
    return path, [json.loads(line) for line in path.read_text().splitlines() if line]


def test_pool_fills_and_a_session_runs_from_it(caller, daemons):
    d, policy, ws = pooled_daemon(caller, daemons, size=2)
    state = wait_pool(d, policy, 2)
    assert state["size"] == 2 and state["building"] == 0, state
    members = {m["session"]: m["pid"] for m in state["members"]}
    # a member is started as a cold session of the daemon's user is: the
    # daemon's key trusted for answers, its state hidden from the sandbox
    for pid in members.values():
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        assert b"--daemon-state" in argv and str(d.state).encode() in argv, argv
        assert b"--daemon-key" in argv and b"--pool-fd" in argv, argv
    status, metrics = d.call("GET", "/v1/metrics")
    assert status == 200 and "reins_pool_ready 2\n" in metrics, metrics

    reply = start(d, policy, ws, ["sh", "-c", 'pwd; echo "$GREETING"; cat data.txt; exit 7'],
                  env={"GREETING": "hello pool"})
    assert reply["pool"] is True, reply
    # one of the members built ahead, with its id and supervisor
    assert members.get(reply["session"]) == reply["pid"], (reply, members)
    out = output(d, reply["session"])
    assert out["stdout"] == f"{ws}\nhello pool\nworkspace data\n", out
    entry = wait_ended(d, reply["session"])
    assert entry["serve"]["exit_status"] == 7, entry

    # listed as a cold session is, with the command it was given
    assert entry["command"] == ["sh", "-c", 'pwd; echo "$GREETING"; cat data.txt; exit 7']
    assert entry["serve"]["policy"] == str(policy)
    assert entry["serve"]["pool"] is True

    # its trail: session.start (pool: true, the requested command) before
    # the command's exec, session.end with its status, and intact
    path, records = session_trail(d, reply["session"])
    types = [r["type"] for r in records]
    assert types.index("session.start") < types.index("session.end"), types
    [begin] = [r for r in records if r["type"] == "session.start"]
    assert begin["pool"] is True, begin
    assert begin["command"] == ["sh", "-c", 'pwd; echo "$GREETING"; cat data.txt; exit 7']
    assert begin["workspace"] == str(ws)
    assert begin["uid"] == caller.uid
    [end] = [r for r in records if r["type"] == "session.end"]
    assert end["status"] == 7, end
    r = caller.run(["audit", "verify", path])
    assert r.returncode == 0, r.stdout + r.stderr

    # the daemon's trail says where it came from
    [started] = [e for e in d.trail_events() if e["type"] == "serve.session.start"
                 and e.get("about_session") == reply["session"]]
    assert started["pool"] is True, started


def test_a_member_is_never_reused_and_the_pool_refills(caller, daemons):
    d, policy, ws = pooled_daemon(caller, daemons, size=2)
    state = wait_pool(d, policy, 2)
    first_members = {m["pid"] for m in state["members"]}

    one = start(d, policy, ws, ["sleep", "60"])
    two = start(d, policy, ws, ["true"])
    assert one["pool"] is True and two["pool"] is True
    assert one["session"] != two["session"] and one["pid"] != two["pid"]
    wait_ended(d, two["session"])
    assert not pid_alive(two["pid"])  # it ran once and is gone

    # refilled with new members: neither taken one is back
    state = wait_pool(d, policy, 2, exclude=first_members)
    pids = {m["pid"] for m in state["members"]}
    assert one["pid"] not in pids and two["pid"] not in pids, state
    assert state["taken"] == 2 and state["built"] >= 4, state

    # `reins ps` lists the running pool session as a cold one, with its command
    r = caller.run(["ps", "--json"])
    assert r.returncode == 0, r.stderr
    entries = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    [listed] = [e for e in entries if e["session"] == one["session"]]
    assert listed["command"] == ["sleep", "60"] and listed["pid"] == one["pid"], listed
    assert listed["workspace"] == str(ws), listed

    three = start(d, policy, ws, ["true"])
    assert three["pool"] is True
    assert three["pid"] in pids and three["pid"] not in (one["pid"], two["pid"])
    status, body = d.call("POST", f"/v1/sessions/{one['session']}/stop")
    assert status == 200, body


def test_an_empty_pool_starts_cold(caller, daemons):
    """Another workspace than the pool's: a cold start, said so."""
    d, policy, ws = pooled_daemon(caller, daemons, size=1)
    wait_pool(d, policy, 1)
    other = caller.workspace()
    status, reply = d.call("POST", "/v1/sessions",
                           {"policy": str(policy), "workspace": str(other), "command": ["true"]})
    assert status == 201, reply
    assert "pool" not in reply, reply
    wait_ended(d, reply["session"])


def test_a_policy_change_retires_the_members(caller, daemons):
    d, policy, ws = pooled_daemon(caller, daemons, size=2)
    state = wait_pool(d, policy, 2)
    old = {m["pid"] for m in state["members"]}
    old_ids = {m["session"] for m in state["members"]}
    time.sleep(0.05)  # a new mtime, whatever the filesystem's granularity
    caller.write(policy, "version: 1\nname: pooled\nextends: default\npool: 1\n")
    state = wait_pool(d, policy, 1, exclude=old)
    assert state["size"] == 1, state
    assert not old & {m["pid"] for m in state["members"]}, state
    deadline = time.monotonic() + TIMEOUT
    while any(pid_alive(p) for p in old) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(pid_alive(p) for p in old), "a retired member still runs"
    retire = [e for e in d.trail_events() if e["type"] == "serve.pool.retire"]
    assert retire and retire[0]["retired"] == 2, retire
    # a retired member left no output directory and no trail (nothing ran)
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline and any((d.state / "sessions" / i).exists()
                                              for i in old_ids):
        time.sleep(0.05)
    assert not any((d.state / "sessions" / i).exists() for i in old_ids)
    trails = [p.stem for p in Path(caller.home).glob(".local/state/reins/trails/*.jsonl")]
    assert not old_ids & set(trails), trails
    reply = start(d, policy, ws, ["true"])
    assert reply["pool"] is True


def test_a_workspace_change_retires_the_members(caller, daemons):
    """A file made in the workspace after the members were built: they are
    stale (their deny matches and change record were read before it), never
    taken; the new members hide the new secret as a cold start does."""
    d, policy, ws = pooled_daemon(caller, daemons, size=2,
                                  policy_extra='filesystem:\n  deny: ["**/*.secret"]\n')
    state = wait_pool(d, policy, 2)
    old = {m["pid"] for m in state["members"]}
    caller.write(ws / "sub" / "token.secret", "s3cret-after-build\n")
    # the attack works unsandboxed
    assert (ws / "sub" / "token.secret").read_text() == "s3cret-after-build\n"
    state = wait_pool(d, policy, 2, exclude=old)
    assert state["retired"] >= 2, state
    reply = start(d, policy, ws, ["sh", "-c", "cat sub/token.secret; echo rc=$?"])
    assert reply["pool"] is True
    out = output(d, reply["session"])
    assert "s3cret-after-build" not in out["stdout"], out
    assert "rc=0" not in out["stdout"], out
    # and a cold start of the same policy sees the same
    cold = caller.sandbox(["sh", "-c", "cat sub/token.secret; echo rc=$?"], ws=ws,
                          opts=["-q", "-p", policy])
    assert "s3cret-after-build" not in cold.stdout and "rc=0" not in cold.stdout, cold.stdout


PROBES = r"""
cat "$HOME/.ssh/id_rsa" >/dev/null 2>&1 && echo ssh=readable || echo ssh=denied
cat .env >/dev/null 2>&1 && echo env=readable || echo env=denied
(echo x > .git/hooks/pre-commit) 2>/dev/null && echo hooks=written || echo hooks=denied
(echo x > .git/config) 2>/dev/null && echo gitconfig=written || echo gitconfig=denied
python3 -c "import socket; socket.create_connection(('127.0.0.1', int('$PORT')), 2)" \
    >/dev/null 2>&1 && echo net=connected || echo net=denied
grep -E '^(CapEff|CapPrm|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status
"""


def test_a_pool_session_denies_what_a_cold_one_denies(caller, daemons):
    ws = caller.workspace()
    caller.write(ws / ".env", "API_KEY=s3cret\n")
    caller.write(ws / ".git" / "HEAD", "ref: refs/heads/main\n")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    port = listener.getsockname()[1]
    try:
        # each attack works unsandboxed, as the caller
        caller.write(ws / ".git" / "hooks" / "pre-commit", "#!/bin/sh\n", 0o755)
        caller.write(ws / ".git" / "config", "[core]\n")
        host = subprocess.run(
            caller.prefix + ["sh", "-c", PROBES.replace("$PORT", str(port))], cwd=ws,
            env=caller.env(), capture_output=True, text=True, timeout=TIMEOUT)
        assert "env=readable" in host.stdout and "net=connected" in host.stdout, host.stdout
        assert "hooks=written" in host.stdout and "ssh=readable" in host.stdout, host.stdout
        assert "gitconfig=written" in host.stdout, host.stdout
        caller.write(ws / ".git" / "hooks" / "pre-commit", "#!/bin/sh\n", 0o755)
        caller.write(ws / ".git" / "config", "[core]\n")

        d, policy, ws = pooled_daemon(caller, daemons, size=1, ws=ws,
                                      policy_extra='filesystem:\n  deny: ["**/.env"]\n')
        wait_pool(d, policy, 1)
        reply = start(d, policy, ws, ["sh", "-c", PROBES], env={"PORT": str(port),
                                                                 "HOME": str(caller.home)})
        assert reply["pool"] is True, reply
        pooled = output(d, reply["session"])["stdout"]
        cold = caller.sandbox(["sh", "-c", PROBES], ws=ws, opts=["-q", "-p", policy],
                              env={"PORT": str(port)})
        assert cold.returncode == 0, cold.stderr
        for probe in ("ssh=denied", "env=denied", "hooks=denied", "gitconfig=denied",
                      "net=denied", "NoNewPrivs:\t1", "Seccomp:\t2",
                      "CapEff:\t0000000000000000", "CapBnd:\t0000000000000000"):
            assert probe in pooled, (probe, pooled)
            assert probe in cold.stdout, (probe, cold.stdout)
        assert sorted(pooled.splitlines()) == sorted(cold.stdout.splitlines()), (pooled, cold)
        assert (ws / ".git" / "hooks" / "pre-commit").read_text() == "#!/bin/sh\n"
        assert (ws / ".git" / "config").read_text() == "[core]\n"
    finally:
        listener.close()


def test_pool_key_is_bounded(caller):
    ws = caller.workspace()
    conf = caller.mkdtemp(prefix="reins-pool-")
    policy = caller.write(conf / "big.yaml", "version: 1\nname: big\npool: 65\n")
    r = caller.run(["policy", "check", policy])
    assert r.returncode != 0
    assert "pool" in r.stderr and "64" in r.stderr, r.stderr
    caller.write(policy, "version: 1\nname: big\npool: 64\n")
    r = caller.run(["policy", "check", policy])
    assert r.returncode == 0, r.stderr
    # a pool entry naming a workspace that is not there: the daemon refuses
    d = Daemon(caller, config=f"version: 1\npool:\n  - policy: {policy}\n"
                              f"    workspace: {ws}/missing\n", start=False)
    proc = caller.run(d.args())
    assert proc.returncode != 0
    assert "missing" in proc.stderr, proc.stderr


ESCAPE_PROBES = Path(__file__).resolve().parent.parent / "escape" / "probes"
# the escape probes whose attack needs nothing from the test but the binary
# (tests/escape/ runs each against cold starts, and against `make weak`)
POOL_PROBES = [("seccomp", []), ("userns", []), ("iouring", []), ("threads", []),
               ("ptrace", []), ("syswrite", []), ("caps", ["plain=./capdump"])]


def build_probes(caller, ws):
    static = []
    probe = ws / "t.c"
    probe.write_text("int main(void){return 0;}\n")
    if subprocess.run(["cc", "-static", "-o", str(ws / "t"), str(probe)],
                      capture_output=True).returncode == 0:
        static = ["-static"]
    probe.unlink()
    (ws / "t").unlink(missing_ok=True)
    for name in [p for p, _ in POOL_PROBES] + ["capdump"]:
        out = ws / name
        r = subprocess.run(["cc", "-O1", *static, "-pthread", "-w", "-I", str(ESCAPE_PROBES),
                            "-o", str(out), str(ESCAPE_PROBES / f"{name}.c")],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        os.chmod(out, 0o755)
        caller.own(out)


def checks(text):
    found = {}
    for line in text.splitlines():
        parts = line.split(" ", 3)
        if len(parts) >= 3 and parts[0] == "CHECK":
            found[parts[1]] = parts[2]
    return found


def test_escape_probes_in_a_pool_session_as_in_a_cold_one(caller, daemons):
    """The escape probes (seccomp coverage, nested user namespaces, io_uring,
    threads before the filter, ptrace, /sys and /proc/sys writes,
    capabilities) reach the same verdicts in a session from the pool as in a
    cold `reins run` of the same policy: nothing escapes in either."""
    ws = caller.workspace()
    build_probes(caller, ws)
    d, policy, ws = pooled_daemon(caller, daemons, size=2, ws=ws)
    for name, args in POOL_PROBES:
        wait_pool(d, policy, 2)
        reply = start(d, policy, ws, [f"./{name}", *args])
        assert reply["pool"] is True, reply
        pooled = checks(output(d, reply["session"])["stdout"])
        cold_run = caller.sandbox([f"./{name}", *args], ws=ws, opts=["-q", "-p", policy])
        cold = checks(cold_run.stdout)
        assert pooled, (name, pooled)
        assert pooled == cold, (name, pooled, cold)
        assert "escaped" not in pooled.values(), (name, pooled)
        assert "blocked" in pooled.values(), (name, pooled)


def test_approvals_of_a_pool_session(caller, daemons):
    """An agent's request in a pool session waits, is listed and answered
    through the API as a cold session's is, and the agent goes on."""
    assert caller.run(["id"]).returncode == 0  # the user's key, before members are built
    d, policy, ws = pooled_daemon(caller, daemons, size=1,
                                  policy_extra="network:\n  mode: proxy\n"
                                               "approvals: {timeout: 60s}\n")
    wait_pool(d, policy, 1)
    ask = ("curl -sS --noproxy '*' \"$REINS_REQUEST_URL\" -d "
           "'{\"kind\":\"path\",\"target\":\"docs/notes.md\",\"reason\":\"notes\","
           "\"wait\":true}'")
    reply = start(d, policy, ws, ["sh", "-c", ask])
    assert reply["pool"] is True, reply
    session = reply["session"]
    deadline = time.monotonic() + TIMEOUT
    waiting = []
    while not waiting and time.monotonic() < deadline:
        status, everything = d.call("GET", "/v1/approvals")
        assert status == 200, everything
        waiting = [a for a in everything if a["session"] == session]
        time.sleep(0.1)
    assert waiting, "the request never showed up"
    [req] = waiting
    assert req["target"] == "docs/notes.md" and req["reason"] == "notes", req
    status, body = d.call("POST", f"/v1/sessions/{session}/approvals",
                          {"request": req["id"], "decision": "allow", "for": "session"})
    assert status == 200, body
    entry = wait_ended(d, session)
    assert entry["serve"]["exit_status"] == 0, entry
    status, out = d.call("GET", f"/v1/sessions/{session}/output")
    answer = json.loads(out["stdout"])
    assert answer["status"] == "allowed" and answer["id"] == req["id"], out
    # the trail records the request and its answer, as a cold session's does
    _, records = session_trail(d, session)
    types = [r["type"] for r in records]
    assert "session.start" in types and "session.end" in types, types
    assert any(t.startswith("approval") for t in types), types


def test_a_root_daemons_pool_serves_root_only(caller, daemons):
    """A root daemon's members run as root: another user's request for the
    pooled policy and workspace starts cold, as that user, and no member
    is taken for it."""
    root_daemon_only(caller)
    ws = caller.workspace()
    os.chmod(ws, 0o777)
    conf = caller.mkdtemp(prefix="reins-pool-")
    policy = caller.write(conf / "pooled.yaml",
                          "version: 1\nname: pooled\nextends: default\npool: 1\n")
    os.chmod(conf, 0o755)
    d = Daemon(caller, config=f"version: 1\nusers:\n  nobody:\n    role: operator\n"
                              f"    policies: [{policy}]\npool:\n  - policy: {policy}\n"
                              f"    workspace: {ws}\n")
    daemons.append(d)
    state = wait_pool(d, policy, 1)
    status, body = call_as(NOBODY_UID, NOBODY_GID, d.sock, "POST", "/v1/sessions",
                           {"policy": str(policy), "workspace": str(ws),
                            "command": ["id", "-u"]})
    assert status == 201, body
    assert "pool" not in body, body
    entry = wait_ended(d, body["session"])
    assert entry["uid"] == NOBODY_UID, entry
    status, out = d.call("GET", f"/v1/sessions/{body['session']}/output")
    assert out["stdout"].strip() == str(NOBODY_UID), out
    after = pool_state(d, policy)
    assert after["taken"] == 0, after
    assert {m["pid"] for m in after["members"]} == {m["pid"] for m in state["members"]}
    # root's own request takes the member
    reply = start(d, policy, ws, ["id", "-u"])
    assert reply["pool"] is True, reply
    assert output(d, reply["session"])["stdout"].strip() == "0"


def test_the_wall_clock_limit_starts_when_the_command_does(caller, daemons):
    """A member waits as long as it must: its wall_time starts when it is
    taken, not when it was built."""
    d, policy, ws = pooled_daemon(caller, daemons, size=1,
                                  policy_extra="limits: {wall_time: 4s}\n")
    state = wait_pool(d, policy, 1)
    time.sleep(5)  # longer than the limit
    assert {m["pid"] for m in pool_state(d, policy)["members"]} == \
        {m["pid"] for m in state["members"]}, "a parked member ended"
    # well inside the limit, with room for a loaded machine
    reply = start(d, policy, ws, ["sh", "-c", "sleep 1; echo done"])
    assert reply["pool"] is True
    entry = wait_ended(d, reply["session"])
    assert entry["serve"]["exit_status"] == 0, entry
    assert output(d, reply["session"])["stdout"] == "done\n"
    # and the limit holds from there
    wait_pool(d, policy, 1)
    reply = start(d, policy, ws, ["sleep", "10"])
    entry = wait_ended(d, reply["session"])
    assert entry["serve"]["exit_status"] == 124, entry


def test_members_end_with_their_daemon(caller, daemons):
    """kill -9 of the daemon: its parked members see their socket close and
    end, leaving no trail and no sandbox; a session taken before goes on."""
    d, policy, ws = pooled_daemon(caller, daemons, size=2)
    wait_pool(d, policy, 2)
    running = start(d, policy, ws, ["sleep", "30"])
    state = wait_pool(d, policy, 2, exclude={running["pid"]})
    parked = {m["pid"] for m in state["members"]}
    ids = {m["session"] for m in state["members"]}
    d.kill9()
    deadline = time.monotonic() + TIMEOUT
    while any(pid_alive(p) for p in parked) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(pid_alive(p) for p in parked), "a parked member outlived its daemon"
    assert pid_alive(running["pid"]), "the running session died with the daemon"
    trails = {p.stem for p in Path(caller.home).glob(".local/state/reins/trails/*.jsonl")}
    assert not ids & trails, trails
    os.kill(running["pid"], 15)
