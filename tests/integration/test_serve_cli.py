"""The CLI and reins serve (issue 15, item 3): `reins ps`, `pending`,
`approve`, `stop` and `audit` talk to the daemon when one runs and see its
sessions; with none they work on the local registry exactly as before.

Two daemons: the caller's own, found at its default socket
(RUNTIME_DIR/serve.sock, under a private XDG_RUNTIME_DIR of the test's), and
a root daemon with roles that runs a session for nobody, named by
REINS_SOCKET. Each test finds its sessions by the id the API returned.
"""
import json
import os
import time

import pytest

from conftest import NOBODY_GID, NOBODY_UID, TIMEOUT, Caller, one_error_line, read_until
from test_serve import Daemon, call_as, start_session, wait_ended

ASK = ("curl -sS --noproxy '*' \"$REINS_REQUEST_URL\" -d "
       "'{\"kind\":\"path\",\"target\":\"docs/notes.md\",\"reason\":\"notes\",\"wait\":true}'")
ASK_POLICY = ("version: 1\nextends: default\nnetwork:\n  mode: proxy\n"
              "approvals: {timeout: 60s}\n")


class OwnDaemon(Daemon):
    """`reins serve` as the caller with no --socket: it listens where the
    CLI looks first, RUNTIME_DIR/serve.sock (a private XDG_RUNTIME_DIR)."""

    def __init__(self, caller, runtime):
        self.env = {"XDG_RUNTIME_DIR": str(runtime)}
        super().__init__(caller)
        self.sock = runtime / "reins" / "serve.sock"
        assert str(self.sock) in self.banner, self.banner

    def args(self):
        return ["serve", "--state", self.state]

    def start(self):
        self.proc = self.caller.popen(self.args(), env=self.env)
        self.banner = read_until(self.proc.stderr, b"(state in").decode()


@pytest.fixture
def daemons():
    started = []
    yield started
    for d in started:
        d.stop()


@pytest.fixture
def runtime(caller):
    """A private runtime directory: the registry, the sessions' control
    sockets and the default daemon socket of this test only."""
    return caller.mkdtemp(prefix="reins-xdg-")


def cli(caller, args, env):
    return caller.run(args, env=env)


def ps_json(caller, env):
    r = cli(caller, ["ps", "--json"], env)
    assert r.returncode == 0, r.stderr
    return {e["session"]: e for e in map(json.loads, r.stdout.splitlines())}


def wait_pending(caller, env, session):
    """`reins pending --json` until a request of `session` shows."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        r = cli(caller, ["pending", "--json"], env)
        found = [p for p in json.loads(r.stdout) if p.get("session") == session]
        if found:
            return r, found
        time.sleep(0.1)
    raise AssertionError(f"no pending request of {session}: {r.stdout} {r.stderr}")


def line_of(table, session):
    lines = [line for line in table.splitlines() if line.startswith(session)]
    assert len(lines) == 1, table
    return lines[0]


# --------------------------------------------------------------------------
# the caller's own daemon, found at its default socket


def test_ps_and_stop_see_the_daemons_session(caller, runtime, daemons):
    d = OwnDaemon(caller, runtime)
    daemons.append(d)
    env = d.env
    session, _ = start_session(d, caller.workspace(), ["sleep", "60"])
    # listed once, marked as the daemon's
    table = cli(caller, ["ps"], env)
    assert table.returncode == 0 and table.stderr == "", table.stderr
    assert "(serve) sleep 60" in line_of(table.stdout, session), table.stdout
    entry = ps_json(caller, env)[session]
    assert entry["via"] == "serve" and entry["serve"]["by_uid"] == os.getuid(), entry
    # stopped through the daemon: its trail says who asked
    r = cli(caller, ["stop", session[:12]], env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"stopped {session}"), r.stdout
    assert wait_ended(d, session)["serve"]["exit_status"] is not None
    stops = [e for e in d.trail_events() if e["type"] == "serve.session.stop"]
    assert [(e["about_session"], e["by_uid"]) for e in stops] == [(session, caller.uid)]
    assert session not in ps_json(caller, env)


def test_pending_and_approve_through_the_daemon(caller, runtime, daemons):
    d = OwnDaemon(caller, runtime)
    daemons.append(d)
    env = d.env
    assert caller.run(["id"]).returncode == 0  # the key the daemon signs with
    ws = caller.workspace()
    pol = caller.write(ws / "policy.yaml", ASK_POLICY)
    session, _ = start_session(d, ws, ["sh", "-c", ASK + "; echo; echo after"], policy=str(pol))
    r, [request] = wait_pending(caller, env, session)
    assert request["via"] == "serve" and request["target"] == "docs/notes.md", request
    table = cli(caller, ["pending"], env)
    assert table.returncode == 0, table.stderr
    [row] = [line for line in table.stdout.splitlines() if line.startswith(request["id"])]
    assert "(serve) notes" in row, table.stdout
    r = cli(caller, ["approve", request["id"], "--for", "session"], env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"allowed {request['id']} (docs/notes.md)\n", r.stdout
    # the held connection goes on
    assert wait_ended(d, session)["serve"]["exit_status"] == 0
    status, out = d.call("GET", f"/v1/sessions/{session}/output")
    answer = json.loads(out["stdout"].splitlines()[0])
    assert answer["status"] == "allowed" and out["stdout"].endswith("after\n"), out
    # answered by the daemon, for the session, at the caller's word
    approvals = [e for e in d.trail_events() if e["type"] == "serve.approval"]
    assert [(a["request"], a["decision"], a["for_ms"], a["by_uid"]) for a in approvals] == [
        (request["id"], "allow", 0, caller.uid)]


def test_without_a_daemon_nothing_changes(caller, runtime, daemons):
    """No daemon, or a socket a daemon killed with -9 left: the local
    registry only, silently. A daemon asked for by name that is not there
    is an error."""
    env = {"XDG_RUNTIME_DIR": str(runtime)}
    ws = caller.workspace()
    p = caller.popen(["run", "-q", "-w", ws, "--", "sleep", "60"], cwd=ws, env=env)
    try:
        deadline = time.monotonic() + TIMEOUT
        mine = []
        while not mine and time.monotonic() < deadline:
            mine = [s for s, e in ps_json(caller, env).items() if e["pid"] == p.pid]
            time.sleep(0.05)
        assert mine, "the session never showed in reins ps"
        [session] = mine
        for round in ("no daemon", "a stale socket"):
            table = cli(caller, ["ps"], env)
            assert table.returncode == 0 and table.stderr == "", (round, table.stderr)
            assert "(serve)" not in table.stdout and "sleep 60" in line_of(table.stdout, session)
            assert "via" not in ps_json(caller, env)[session]
            pending = cli(caller, ["pending"], env)
            assert (pending.returncode, pending.stdout, pending.stderr) == (
                0, "no pending requests\n", ""), round
            if round == "no daemon":
                d = OwnDaemon(caller, runtime)
                d.kill9()
                assert d.sock.is_socket()
        r = cli(caller, ["ps"], {**env, "REINS_SOCKET": str(runtime / "nothing.sock")})
        assert r.returncode != 0
        assert "REINS_SOCKET" in one_error_line(r.stderr) and "nothing.sock" in r.stderr
        r = cli(caller, ["stop", session], env)
        assert r.returncode == 0 and r.stdout == f"stopped {session}\n", r.stderr
    finally:
        p.kill()
        p.wait(timeout=TIMEOUT)


# --------------------------------------------------------------------------
# a root daemon that runs a session for nobody, with roles


def roles(policy):
    return f"""\
version: 1
users:
  {NOBODY_UID}:
    role: operator
    policies: [default, {policy}]
"""


def test_root_daemon_session_of_nobody(caller, reins_bin, daemons):
    if caller.name != "root":
        pytest.skip("a daemon that runs sessions for other users runs as root")
    nobody = Caller("nobody", reins_bin)
    try:
        ws = nobody.workspace()
        pol = nobody.write(ws / "policy.yaml", ASK_POLICY)
        d = Daemon(caller, config=roles(pol))
        daemons.append(d)
        env = {"REINS_SOCKET": str(d.sock)}
        status, body = call_as(NOBODY_UID, NOBODY_GID, d.sock, "POST", "/v1/sessions",
                               {"workspace": str(ws), "policy": str(pol),
                                "command": ["sh", "-c", ASK + "; sleep 60"]})
        assert status == 201, body
        session = body["session"]

        # root (an admin of its daemon) sees it: not in root's own registry
        entry = ps_json(caller, env)[session]
        assert entry["via"] == "serve" and entry["uid"] == NOBODY_UID, entry
        assert f"(serve: uid {NOBODY_UID}) sh -c" in line_of(cli(caller, ["ps"], env).stdout,
                                                            session)
        _, [request] = wait_pending(caller, env, session)
        assert request["via"] == "serve", request
        # nobody sees it too, once, as the daemon's
        entry = ps_json(nobody, env)[session]
        assert entry["via"] == "serve", entry
        assert "(serve) sh -c" in line_of(cli(nobody, ["ps"], env).stdout, session)

        # an operator may not answer, nor read the trail: the daemon's word
        # is printed and nothing is done locally behind its back
        r = cli(nobody, ["approve", request["id"]], env)
        assert r.returncode != 0
        line = one_error_line(r.stderr)
        assert str(d.sock) in line and "403" in line and "refused" in line, line
        r = cli(nobody, ["pending"], env)
        assert r.returncode != 0 and "403" in one_error_line(r.stderr), r.stderr
        r = cli(nobody, ["audit", "show", session], env)
        assert r.returncode != 0 and "403" in one_error_line(r.stderr), r.stderr
        assert r.stdout == ""
        status, still = d.call("GET", f"/v1/sessions/{session}/approvals")
        assert status == 200 and [a["id"] for a in still] == [request["id"]], still

        # root reads its trail through the daemon (the supervisor writes
        # the request's record in its own time)
        deadline = time.monotonic() + TIMEOUT
        records = []
        while not records and time.monotonic() < deadline:
            r = cli(caller, ["audit", "show", session, "--type", "approval", "--json"], env)
            assert r.returncode == 0, r.stderr
            records = [json.loads(line) for line in r.stdout.splitlines()]
            time.sleep(0.1)
        assert [x["type"] for x in records] == ["approval.request"], records
        assert records[0]["session"] == session

        # and stops it through the daemon
        r = cli(caller, ["stop", session], env)
        assert r.returncode == 0 and r.stdout.startswith(f"stopped {session}"), r.stderr
        wait_ended(d, session)
        stops = [e for e in d.trail_events() if e["type"] == "serve.session.stop"]
        assert [(e["about_session"], e["by_uid"]) for e in stops] == [(session, 0)]

        # verified by the daemon; nobody's key is not root's to trust
        r = cli(caller, ["audit", "verify", session], env)
        assert r.returncode == 8, r.stdout + r.stderr
        assert "intact" in r.stdout and "--any-key" in r.stdout, r.stdout
        r = cli(caller, ["audit", "verify", session, "--any-key"], env)
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout.startswith(f"{session} (reins serve): intact"), r.stdout
    finally:
        nobody.close()


def test_deny_and_grant_options_through_the_daemon(caller, runtime, daemons):
    """--for and --scope become the API body's "for" and "scope"; deny is a
    "deny" decision."""
    d = OwnDaemon(caller, runtime)
    daemons.append(d)
    env = d.env
    assert caller.run(["id"]).returncode == 0
    ws = caller.workspace()
    pol = caller.write(ws / "policy.yaml",
                       "version: 1\nextends: default\nnetwork:\n  mode: proxy\n"
                       "  ask: [\"api.ask.test:9\"]\n  hosts: {api.ask.test: 127.0.0.1}\n"
                       "approvals: {timeout: 60s}\n")
    dest = ASK.replace('"kind":"path"', '"kind":"destination"').replace(
        "docs/notes.md", "api.ask.test:9")
    assert "destination" in dest and "api.ask.test:9" in dest
    session, _ = start_session(d, ws, ["sh", "-c", dest + "; echo; " + ASK + "; echo"],
                               policy=str(pol))
    _, [grant] = wait_pending(caller, env, session)
    r = cli(caller, ["approve", grant["id"], "--for", "10m", "--scope", "domain"], env)
    assert r.returncode == 0, r.stderr
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        _, waiting = wait_pending(caller, env, session)
        if waiting[0]["id"] != grant["id"]:
            break
        time.sleep(0.1)
    [refuse] = waiting
    r = cli(caller, ["deny", refuse["id"]], env)
    assert r.returncode == 0 and r.stdout == f"denied {refuse['id']} (docs/notes.md)\n", r.stderr
    assert wait_ended(d, session)["serve"]["exit_status"] == 0
    _, out = d.call("GET", f"/v1/sessions/{session}/output")
    answers = [json.loads(line) for line in out["stdout"].splitlines() if line]
    assert [a["status"] for a in answers] == ["allowed", "denied"], answers
    approvals = [e for e in d.trail_events() if e["type"] == "serve.approval"]
    assert [(a["request"], a["decision"], a["for_ms"], a["scope"]) for a in approvals] == [
        (grant["id"], "allow", 600000, "domain"), (refuse["id"], "deny", -1, "exact")]


class FakeDaemon:
    """A unix socket server that answers every request with `answer` (bytes)
    and closes: what the CLI does with a daemon that misbehaves."""

    def __init__(self, caller, answer):
        import socket
        import threading
        self.dir = caller.mkdtemp(prefix="reins-fake-")
        os.chmod(self.dir, 0o755)
        self.sock = self.dir / "serve.sock"
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(self.sock))
        os.chmod(self.sock, 0o666)
        self.server.listen(8)
        self.answer = answer
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                head = b""
                try:
                    while b"\r\n\r\n" not in head:
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        head += chunk
                    if head:
                        conn.sendall(self.answer)
                except OSError:
                    pass

    def close(self):
        self.server.close()


REFUSAL = b'{"error":"refused: no \\u001b[31m"}'
BAD_ANSWERS = [
    (b"HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
     % (len(REFUSAL), REFUSAL), "403: refused: no"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n[]", "not an HTTP answer"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "not JSON"),
    (b"garbage\r\n\r\n", "not an HTTP answer"),
    (b"HTTP/1.1 200 OK\r\n\r\n[" + b"0," * (17 << 20), "larger than 32 MiB"),
]


@pytest.mark.parametrize("answer,said", BAD_ANSWERS, ids=["403", "cut", "json", "http", "huge"])
def test_a_daemon_that_misbehaves_is_one_line_and_a_failure(caller, runtime, answer, said):
    fake = FakeDaemon(caller, answer)
    try:
        env = {"XDG_RUNTIME_DIR": str(runtime), "REINS_SOCKET": str(fake.sock)}
        r = cli(caller, ["ps"], env)
        assert r.returncode == 1, r.stderr
        assert r.stdout.startswith("SESSION "), r.stdout  # what could be listed is
        line = one_error_line(r.stderr)
        assert str(fake.sock) in line and said in line, line
        assert "\x1b" not in line  # the daemon's words are escaped
        r = cli(caller, ["stop", "0123456789ab"], env)
        assert r.returncode not in (0, 2) and said in one_error_line(r.stderr), r.stderr
    finally:
        fake.close()


def test_watch_answers_a_daemons_session_through_it(caller, runtime, daemons, pty_sessions):
    d = OwnDaemon(caller, runtime)
    daemons.append(d)
    assert caller.run(["id"]).returncode == 0
    ws = caller.workspace()
    pol = caller.write(ws / "policy.yaml", ASK_POLICY)
    watch = pty_sessions(caller.pty(["approve", "--watch"], env=d.env))
    watch.expect(rb"watching for approval requests", timeout=10)
    session, _ = start_session(d, ws, ["sh", "-c", ASK + "; echo"], policy=str(pol))
    watch.expect(rb"allow\? ", timeout=TIMEOUT)
    watch.send(b"a\n")
    watch.expect(rb"allowed ", timeout=TIMEOUT)
    assert wait_ended(d, session)["serve"]["exit_status"] == 0
    approvals = [e for e in d.trail_events() if e["type"] == "serve.approval"]
    assert [(a["about_session"], a["for_ms"], a["by_uid"]) for a in approvals] == [
        (session, 0, caller.uid)]
