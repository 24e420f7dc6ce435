"""reins serve: the daemon's JSON API on a unix socket (issue 15's foundation).

The daemon runs as the caller (root, or nobody as an unprivileged user
daemon); the test talks HTTP over the socket with http.client. Calls as
another uid run a small client under setpriv. Sessions started through the
API are real `reins run` supervisors: each test finds its own by the id the
API returned, never by "the only one".
"""
import concurrent.futures
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import IS_ROOT, NOBODY_GID, NOBODY_UID, REPO, TIMEOUT, read_until

OPENAPI = REPO / "docs" / "openapi.yaml"
ROUTES_SOURCE = REPO / "src" / "serve" / "http.c"


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a unix stream socket."""

    def __init__(self, path, timeout=TIMEOUT):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = str(path)

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


def decode(status, ctype, text):
    if ctype and ctype.startswith("application/json"):
        return status, json.loads(text)
    return status, text


def call(sock, method, path, body=None, raw=None, timeout=TIMEOUT):
    """One request; (status, JSON body or text)."""
    conn = UnixHTTPConnection(sock, timeout=timeout)
    data = raw if raw is not None else (json.dumps(body) if body is not None else None)
    headers = {"Content-Type": "application/json"} if data is not None else {}
    conn.request(method, path, body=data, headers=headers)
    r = conn.getresponse()
    text = r.read().decode()
    conn.close()
    return decode(r.status, r.getheader("Content-Type"), text)


# the same client, run as another uid (setpriv) for the role tests
CLIENT = r"""
import http.client, json, socket, sys
class C(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=30)
        self.unix_path = path
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.unix_path)
sock, method, path, body = sys.argv[1:5]
try:
    c = C(sock)
    c.request(method, path, body=body or None,
              headers={"Content-Type": "application/json"} if body else {})
    r = c.getresponse()
    print(json.dumps({"status": r.status, "type": r.getheader("Content-Type"),
                      "text": r.read().decode()}))
except PermissionError:
    print(json.dumps({"status": "EACCES"}))
"""


def call_as(uid, gid, sock, method, path, body=None):
    r = subprocess.run(
        ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", sys.executable,
         "-c", CLIENT, str(sock), method, path, json.dumps(body) if body is not None else ""],
        capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    if out["status"] == "EACCES":
        return "EACCES", None
    return decode(out["status"], out["type"], out["text"])


class Daemon:
    """`reins serve` as the caller, on a socket in a directory of its own."""

    def __init__(self, caller, config=None, extra=(), start=True):
        self.caller = caller
        self.extra = [str(a) for a in extra]
        self.banner = ""
        self.dir = caller.mkdtemp(prefix="reins-serve-")
        os.chmod(self.dir, 0o755)  # other uids may reach the socket (its mode decides)
        self.sock = self.dir / "serve.sock"
        self.state = self.dir / "state"  # made by the daemon (0711 as root)
        self.config = None
        if config is not None:
            self.config = caller.write(self.dir / "serve.yaml", config)
        self.proc = None
        if start:
            self.start()

    def args(self):
        args = ["serve", "--socket", self.sock, "--state", self.state, *self.extra]
        return args + (["--config", self.config] if self.config else [])

    def start(self):
        self.proc = self.caller.popen(self.args())
        self.banner = read_until(self.proc.stderr, b"(state in").decode()

    def kill9(self):
        self.proc.kill()
        self.proc.wait(timeout=TIMEOUT)

    def stop(self):
        """SIGTERM: the daemon ends cleanly (exit 0, and under `make asan`
        nothing from the sanitizers on its stderr)."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=TIMEOUT)
            err = self.proc.stderr.read().decode(errors="replace")
            assert self.proc.returncode == 0, err
            assert "Sanitizer" not in err and "runtime error" not in err, err

    def call(self, method, path, body=None, raw=None):
        return call(self.sock, method, path, body=body, raw=raw)

    def trail_events(self):
        events = []
        for f in sorted((self.state / "trails").glob("serve-*.jsonl")):
            events += [json.loads(line) for line in f.read_text().splitlines() if line]
        return events


@pytest.fixture
def daemons():
    started = []
    yield started
    for d in started:
        d.stop()


@pytest.fixture
def daemon(caller, daemons):
    d = Daemon(caller)
    daemons.append(d)
    return d


def start_session(daemon, ws, command, **extra):
    status, body = daemon.call("POST", "/v1/sessions",
                               {"workspace": str(ws), "command": command, **extra})
    assert status == 201, body
    assert re.fullmatch(r"[0-9a-f]{24}", body["session"]), body
    return body["session"], body["pid"]


def wait_ended(daemon, session):
    """Poll until the daemon has seen the session end; its entry."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        status, entry = daemon.call("GET", f"/v1/sessions/{session}")
        assert status == 200, entry
        if not entry["alive"] and entry["serve"]["exit_status"] is not None:
            return entry
        time.sleep(0.05)
    raise AssertionError(f"session {session} did not end: {entry}")


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def listed(daemon, session):
    status, sessions = daemon.call("GET", "/v1/sessions")
    assert status == 200, sessions
    assert isinstance(sessions, list)
    return [s for s in sessions if s["session"] == session]


# --------------------------------------------------------------------------
# sessions


def test_session_is_listed_then_stopped(caller, daemon):
    ws = caller.workspace()
    session, pid = start_session(daemon, ws, ["sleep", "60"])
    [entry] = listed(daemon, session)
    assert entry["alive"] is True
    assert entry["pid"] == pid
    assert entry["uid"] == caller.uid
    assert entry["command"] == ["sleep", "60"]
    assert entry["serve"]["policy"] == "default"
    # the supervisor is a session of its own, not in the daemon's group
    assert os.getsid(pid) == pid
    assert os.getsid(pid) != os.getsid(daemon.proc.pid)

    status, body = daemon.call("POST", f"/v1/sessions/{session}/stop")
    assert status == 200, body
    assert body["stopped"] is True
    assert not pid_alive(pid)
    entry = wait_ended(daemon, session)
    assert entry["alive"] is False
    status, body = daemon.call("POST", f"/v1/sessions/{session}/stop")
    assert status == 409, body
    assert "not running" in body["error"]


def test_output_is_captured(caller, daemon):
    ws = caller.workspace()
    session, _ = start_session(daemon, ws, ["sh", "-c", "echo hello $GREETING; echo oops >&2"],
                               env={"GREETING": "world"})
    entry = wait_ended(daemon, session)
    assert entry["serve"]["exit_status"] == 0
    status, out = daemon.call("GET", f"/v1/sessions/{session}/output")
    assert status == 200, out
    assert out["stdout"] == "hello world\n"
    assert out["stderr"] == "oops\n"
    assert out["truncated"] is False


def test_a_refused_start_says_why(caller, daemon):
    ws = caller.workspace()
    status, body = daemon.call("POST", "/v1/sessions", {
        "workspace": str(ws), "command": ["true"], "policy": "no-such-preset-or-file"})
    assert status == 422, body
    assert "no-such-preset-or-file" in body["error"]


def test_sessions_survive_the_daemon(caller, daemon):
    """kill -9 of the daemon leaves the session running; a new daemon on the
    same socket and state lists it alive, and can stop it."""
    ws = caller.workspace()
    session, pid = start_session(daemon, ws, ["sleep", "60"])
    daemon.kill9()
    time.sleep(0.2)
    assert pid_alive(pid), "killing the daemon killed the session"
    daemon.start()  # the stale socket is replaced
    [entry] = listed(daemon, session)
    assert entry["alive"] is True
    assert entry["pid"] == pid
    status, body = daemon.call("POST", f"/v1/sessions/{session}/stop")
    assert status == 200, body
    assert not pid_alive(pid)
    status, entry = daemon.call("GET", f"/v1/sessions/{session}")
    assert status == 200 and entry["alive"] is False
    # this daemon is not its parent: the exit status comes from the session's trail
    assert wait_ended(daemon, session)["serve"]["exit_status"] == 128 + signal.SIGTERM
    assert any(e["type"] == "serve.adopt" and e["live"] >= 1 for e in daemon.trail_events())


def test_freeze_and_thaw(caller, daemon):
    ws = caller.workspace()
    session, pid = start_session(daemon, ws, ["sleep", "60"])
    try:
        status, body = daemon.call("POST", f"/v1/sessions/{session}/freeze")
        assert status == 200, body
        status, entry = daemon.call("GET", f"/v1/sessions/{session}")
        assert entry["frozen"] is True, entry
        status, body = daemon.call("POST", f"/v1/sessions/{session}/thaw")
        assert status == 200, body
        status, entry = daemon.call("GET", f"/v1/sessions/{session}")
        assert entry["frozen"] is False, entry
    finally:
        daemon.call("POST", f"/v1/sessions/{session}/stop")


def test_metrics_count_sessions_by_state_and_tier(caller, daemon):
    ws = caller.workspace()
    session, _ = start_session(daemon, ws, ["sleep", "60"])
    try:
        status, text = daemon.call("GET", "/v1/metrics")
        assert status == 200
        running = re.search(r'^reins_sessions\{state="running"\} (\d+)$', text, re.M)
        assert running and int(running.group(1)) >= 1, text
        tier0 = re.search(r'^reins_sessions_by_tier\{tier="0"\} (\d+)$', text, re.M)
        assert tier0 and int(tier0.group(1)) >= 1, text
    finally:
        daemon.call("POST", f"/v1/sessions/{session}/stop")


def listing(daemon):
    status, sessions = daemon.call("GET", "/v1/sessions")
    assert status == 200, sessions
    return {s["session"]: s for s in sessions}


def wait_listed(daemon, session, check):
    """Poll GET /v1/sessions until the session's entry passes `check`."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        entry = listing(daemon).get(session)
        if entry and check(entry):
            return entry
        time.sleep(0.05)
    raise AssertionError(f"session {session} never passed the check: {entry}")


def test_the_listing_follows_each_change(caller, daemon):
    """The daemon keeps each registry entry and record it parsed while the
    file is unchanged (serve/sessions.c). A listing after each kind of change
    shows it: a freeze (the supervisor rewrites its entry), a stop (the
    reaper writes the exit status into the record), a supervisor killed with
    -9 (no file changes at all); and many listings at once all answer."""
    ws = caller.workspace()
    (frozen, _), (stopped, _), (killed, killed_pid) = [
        start_session(daemon, ws, ["sleep", "60"]) for _ in range(3)]
    try:
        first = listing(daemon)
        assert all(first[s]["alive"] for s in (frozen, stopped, killed)), first
        assert first[frozen]["frozen"] is False
        status, body = daemon.call("POST", f"/v1/sessions/{frozen}/freeze")
        assert status == 200, body
        assert listing(daemon)[frozen]["frozen"] is True
        status, body = daemon.call("POST", f"/v1/sessions/{stopped}/stop")
        assert status == 200, body
        entry = wait_listed(daemon, stopped, lambda e: e["serve"]["exit_status"] is not None)
        assert entry["alive"] is False and entry["serve"]["exit_status"] == 128 + signal.SIGTERM
        os.kill(killed_pid, signal.SIGKILL)
        entry = wait_listed(daemon, killed, lambda e: not e["alive"])
        assert listing(daemon)[frozen]["alive"] is True
        # many at once: every one answered, every one the same sessions
        with concurrent.futures.ThreadPoolExecutor(48) as pool:
            answers = list(pool.map(lambda _: daemon.call("GET", "/v1/sessions"), range(96)))
        for status, sessions in answers:
            assert status == 200, sessions
            assert {frozen, stopped, killed} <= {s["session"] for s in sessions}
    finally:
        daemon.call("POST", f"/v1/sessions/{frozen}/thaw")
        daemon.call("POST", f"/v1/sessions/{frozen}/stop")


def test_policies_lists_the_presets(caller, daemon):
    status, policies = daemon.call("GET", "/v1/policies")
    assert status == 200
    names = {p["name"] for p in policies}
    assert {"default", "offline", "readonly", "coding-agent"} <= names
    assert all(p["may_start"] for p in policies)


def test_approvals_answered_through_the_api(caller, daemon):
    """An agent's request waits in its session; the API lists it and answers
    it (signed with the daemon's user's key), and the agent goes on."""
    assert caller.run(["id"]).returncode == 0  # the key answers are checked against
    ws = caller.workspace()
    pol = caller.write(ws / "policy.yaml", "version: 1\nextends: default\n"
                       "network:\n  mode: proxy\napprovals: {timeout: 60s}\n")
    ask = ("curl -sS --noproxy '*' \"$REINS_REQUEST_URL\" -d "
           "'{\"kind\":\"path\",\"target\":\"docs/notes.md\",\"reason\":\"notes\","
           "\"wait\":true}'")
    session, _ = start_session(daemon, ws, ["sh", "-c", ask], policy=str(pol))
    deadline = time.monotonic() + TIMEOUT
    waiting = []
    while not waiting and time.monotonic() < deadline:
        status, listed_all = daemon.call("GET", "/v1/approvals")
        assert status == 200, listed_all
        waiting = [a for a in listed_all if a["session"] == session]
        time.sleep(0.1)
    assert waiting, "the request never showed up"
    [req] = waiting
    assert req["target"] == "docs/notes.md" and req["reason"] == "notes", req
    status, mine = daemon.call("GET", f"/v1/sessions/{session}/approvals")
    assert status == 200 and [a["id"] for a in mine] == [req["id"]]
    status, body = daemon.call("POST", f"/v1/sessions/{session}/approvals",
                               {"request": req["id"], "decision": "maybe"})
    assert status == 400, body
    status, body = daemon.call("POST", f"/v1/sessions/{session}/approvals",
                               {"request": req["id"], "decision": "allow", "for": "session"})
    assert status == 200, body
    assert body["decision"] == "allow" and body["target"] == "docs/notes.md"
    entry = wait_ended(daemon, session)
    assert entry["serve"]["exit_status"] == 0
    status, out = daemon.call("GET", f"/v1/sessions/{session}/output")
    answer = json.loads(out["stdout"])
    assert answer["status"] == "allowed" and answer["id"] == req["id"], out
    events = daemon.trail_events()
    approvals = [e for e in events if e["type"] == "serve.approval"]
    assert [(a["request"], a["decision"], a["by_uid"], a["about_session"])
            for a in approvals] == [(req["id"], "allow", os.getuid(), session)]
    # the daemon's trail names the session it started (its own id is "session")
    assert [e["about_session"] for e in events if e["type"] == "serve.session.start"] == [session]


def test_a_sessions_trail_read_and_verified(caller, daemon):
    ws = caller.workspace()
    session, _ = start_session(daemon, ws, ["sh", "-c", "echo audited"])
    wait_ended(daemon, session)
    status, body = daemon.call("GET", f"/v1/sessions/{session}/audit")
    assert status == 200, body
    types = [r["type"] for r in body["records"]]
    assert "session.start" in types and "session.end" in types, types
    assert all(r["session"] == session for r in body["records"])
    status, body = daemon.call("GET", f"/v1/sessions/{session}/audit?type=session.&limit=1")
    assert status == 200 and [r["type"] for r in body["records"]] == ["session.end"], body
    status, body = daemon.call("GET", f"/v1/sessions/{session}/audit?limit=0")
    assert status == 400, body
    status, verdict = daemon.call("GET", f"/v1/sessions/{session}/audit/verify")
    assert status == 200, verdict
    assert verdict["intact"] is True and verdict["verdict"] == "intact", verdict
    assert verdict["key_trusted"] is True
    # one byte changed in the middle: the API says so, as reins audit verify would
    record = json.loads((daemon.state / "sessions" / session / "record.json").read_text())
    trail = Path(record["trail"])
    data = trail.read_bytes()
    at = data.index(b'"type":"session.start"')
    trail.write_bytes(data[:at] + data[at:].replace(b"session.start", b"session.stArt", 1))
    status, verdict = daemon.call("GET", f"/v1/sessions/{session}/audit/verify")
    assert status == 200 and verdict["intact"] is False, verdict
    assert verdict["verdict"] == "altered", verdict


def read_events(sock, path, headers=None, limit=None):
    """Server-sent events until the stream ends (or `limit` of them): [(id, record)]."""
    conn = UnixHTTPConnection(sock)
    conn.request("GET", path, headers=headers or {})
    r = conn.getresponse()
    assert r.status == 200, r.read()
    assert r.getheader("Content-Type") == "text/event-stream"
    events, current = [], {}
    for raw in r:
        line = raw.decode().rstrip("\n")
        if line.startswith("id: "):
            current["id"] = int(line[4:])
        elif line.startswith("data: "):
            current["data"] = json.loads(line[6:])
        elif not line and current:
            events.append((current["id"], current["data"]))
            current = {}
            if limit and len(events) >= limit:
                break
    conn.close()
    return events


def test_events_stream_follows_the_trail_and_resumes(caller, daemon):
    ws = caller.workspace()
    session, _ = start_session(daemon, ws, ["sh", "-c", "sleep 1; echo done"])
    # followed live: the stream ends by itself once the session has ended
    events = read_events(daemon.sock, f"/v1/sessions/{session}/events")
    ids = [i for i, _ in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids), ids
    assert all(record["seq"] == i for i, record in events)
    types = [record["type"] for _, record in events]
    assert types[0] == "session.start" and "session.end" in types, types
    assert events[-1][1]["type"] == "checkpoint" and events[-1][1]["final"] is True
    # resumed after an id: nothing before it, nothing missing after it
    after = ids[1]
    resumed = read_events(daemon.sock, f"/v1/sessions/{session}/events",
                          headers={"Last-Event-ID": str(after)})
    assert [i for i, _ in resumed] == [i for i in ids if i > after]
    only = read_events(daemon.sock, f"/v1/sessions/{session}/events?type=session.")
    assert [r["type"] for _, r in only] == ["session.start", "session.end"]
    conn = UnixHTTPConnection(daemon.sock)
    conn.request("GET", f"/v1/sessions/{session}/events", headers={"Last-Event-ID": "x"})
    r = conn.getresponse()
    assert r.status == 400
    conn.close()


def test_a_quiet_event_stream_stays_open(caller, daemon):
    """The stream of a session that writes nothing gets a keepalive comment
    (every 15 s) and stays open past the daemon's idle-connection timeout
    (10 s), which is for requests, not for streams."""
    ws = caller.workspace()
    session, _ = start_session(daemon, ws, ["sleep", "60"])
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(25)
        s.connect(str(daemon.sock))
        s.sendall(f"GET /v1/sessions/{session}/events HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        data, start = b"", time.monotonic()
        while b": keepalive" not in data:
            chunk = s.recv(65536)
            assert chunk, f"the stream ended after {time.monotonic() - start:.1f} s: {data[-200:]}"
            data += chunk
        assert data.startswith(b"HTTP/1.1 200"), data[:200]
        # and it is still open: nothing more for a while, no end
        s.settimeout(2)
        with pytest.raises(socket.timeout):
            more = s.recv(65536)
            assert more, "the stream ended right after its keepalive"
    finally:
        s.close()
        daemon.call("POST", f"/v1/sessions/{session}/stop")


# --------------------------------------------------------------------------
# bad input


BAD = [
    ("malformed JSON", "POST", "/v1/sessions", '{"command": [', 400, "malformed JSON"),
    ("trailing garbage", "POST", "/v1/sessions", '{} x', 400, "malformed JSON"),
    ("duplicate key", "POST", "/v1/sessions",
     '{"workspace": "/tmp", "workspace": "/", "command": ["true"]}', 400, "malformed JSON"),
    ("not an object", "POST", "/v1/sessions", '["true"]', 400, "JSON object"),
    ("unknown field", "POST", "/v1/sessions",
     '{"workspace": "/tmp", "command": ["true"], "isolation": "vm"}', 400, "unknown field"),
    ("no command", "POST", "/v1/sessions", '{"workspace": "/tmp"}', 400, "command"),
    ("empty command", "POST", "/v1/sessions", '{"workspace": "/tmp", "command": []}', 400,
     "command"),
    ("command not strings", "POST", "/v1/sessions", '{"workspace": "/tmp", "command": [1]}',
     400, "command[0]"),
    ("relative policy path", "POST", "/v1/sessions",
     '{"workspace": "/tmp", "command": ["true"], "policy": "./p.yaml"}', 400, "absolute"),
    ("relative workspace", "POST", "/v1/sessions", '{"workspace": "ws", "command": ["true"]}',
     400, "workspace"),
    ("bad env name", "POST", "/v1/sessions",
     '{"workspace": "/tmp", "command": ["true"], "env": {"A=B": "x"}}', 400, "env"),
    ("env not a string", "POST", "/v1/sessions",
     '{"workspace": "/tmp", "command": ["true"], "env": {"A": 1}}', 400, "env.A"),
    ("unknown field on stop", "POST", "/v1/sessions/0123456789abcdef01234567/stop",
     '{"force": true}', 400, "unknown field"),
    ("unknown route", "GET", "/v1/nothing", None, 404, "no such route"),
    ("unknown version", "GET", "/v2/sessions", None, 404, "no such route"),
    ("unknown session", "GET", "/v1/sessions/0123456789abcdef01234567", None, 404,
     "no session"),
    ("bad session id", "GET", "/v1/sessions/..", None, 404, ""),
    ("wrong method", "DELETE", "/v1/sessions", None, 405, "not allowed"),
    ("wrong method on a session", "GET", "/v1/sessions/0123456789abcdef01234567/stop", None,
     405, "not allowed"),
]


def test_bad_input_gets_a_4xx_json_error(caller, daemon):
    for name, method, path, raw, want, words in BAD:
        status, body = daemon.call(method, path, raw=raw)
        assert status == want, (name, status, body)
        assert isinstance(body, dict) and isinstance(body.get("error"), str), (name, body)
        assert words in body["error"], (name, body)


def test_oversized_body_is_413(caller, daemon):
    big = json.dumps({"workspace": "/tmp", "command": ["x" * (1 << 20)]})
    status, body = daemon.call("POST", "/v1/sessions", raw=big)
    assert status == 413, body
    assert "larger than" in body["error"]
    # a body sent without Content-Length (chunked) is capped the same way
    conn = UnixHTTPConnection(daemon.sock)
    conn.request("POST", "/v1/sessions", body=iter([b"{" + b" " * (1 << 20), b"}"]),
                 encode_chunked=True, headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    assert r.status == 413
    assert "error" in json.loads(r.read())


def test_a_slow_client_does_not_block_others(caller, daemon):
    slow = []
    try:
        for _ in range(8):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(str(daemon.sock))
            # half a request line, and half a body: then silence
            s.sendall(b"POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
            slow.append(s)
        status, body = call(daemon.sock, "GET", "/v1/policies", timeout=5)
        assert status == 200, body
    finally:
        for s in slow:
            s.close()


def test_many_connections_at_once_are_all_answered(caller, daemon):
    """400 clients connect at once (a burst of starts and event subscribers
    is as many), each before any has sent its request: every connect gets
    through (no EAGAIN from a full accept queue) and every request an
    answer (none closed for a connection limit)."""
    count = 400
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.connect(str(daemon.sock))
            except BlockingIOError as e:
                s.close()
                raise AssertionError(f"connect {len(socks) + 1} of {count} refused: {e}")
            socks.append(s)
        for s in socks:
            s.setblocking(True)
            s.settimeout(TIMEOUT)
            s.sendall(b"GET /v1/policies HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answered = 0
        for s in socks:
            data = b""
            while b"\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            answered += data.startswith(b"HTTP/1.1 200")
        assert answered == count, f"{answered} of {count} answered"
    finally:
        for s in socks:
            s.close()


# --------------------------------------------------------------------------
# the OpenAPI document against the live server


def documented_routes():
    doc = yaml.safe_load(OPENAPI.read_text())
    assert doc["openapi"].startswith("3.")
    methods = {"get", "post", "put", "delete", "patch"}
    return {(m.upper(), path) for path, item in doc["paths"].items() for m in item
            if m in methods}


def server_routes():
    """The route table the server is built from (src/serve/http.c)."""
    text = ROUTES_SOURCE.read_text()
    table = text[text.index("} routes[] = {"):]
    table = table[:table.index("};")]
    return set(re.findall(r'\{"([A-Z]+)", "(/v1/[^"]*)"', table))


def test_openapi_document_matches_the_server(caller, daemon):
    documented = documented_routes()
    assert documented == server_routes(), "docs/openapi.yaml and the route table differ"
    ws = caller.workspace()
    session, _ = start_session(daemon, ws, ["sleep", "60"])
    bodies = {("POST", "/v1/sessions"): {"workspace": str(ws), "command": ["true"]}}
    order = sorted(documented, key=lambda r: r[1].endswith("/stop"))  # stop last
    started = []
    try:
        for method, path in order:
            if path.endswith("/events"):
                # a stream of a live session: its status line, not its end
                conn = UnixHTTPConnection(daemon.sock)
                conn.request(method, path.replace("{id}", session))
                status, body = conn.getresponse().status, None
                conn.close()
                assert status == 200, (method, path, status)
                continue
            status, body = daemon.call(method, path.replace("{id}", session),
                                       body=bodies.get((method, path)))
            assert status not in (404, 405), (method, path, status, body)
            if (method, path) == ("POST", "/v1/sessions"):
                started.append(body["session"])
        # and every other method on a documented path is refused as such
        for path in {p for _, p in documented}:
            for method in ("GET", "POST", "PUT", "DELETE", "PATCH"):
                if (method, path) in documented:
                    continue
                status, body = daemon.call(method, path.replace("{id}", session))
                assert status == 405, (method, path, status, body)
    finally:
        for s in [session] + started:
            daemon.call("POST", f"/v1/sessions/{s}/stop")


# --------------------------------------------------------------------------
# roles (a root daemon serving other users)


ROLES = f"""\
version: 1
users:
  {NOBODY_UID}:
    role: operator
    policies: [default]
"""


def root_daemon_only(caller):
    if caller.name != "root":
        pytest.skip("roles for other users need a daemon running as root")


def test_without_config_only_the_daemons_user(caller, daemon):
    root_daemon_only(caller)
    assert (os.stat(daemon.sock).st_mode & 0o777) == 0o600
    status, _ = call_as(NOBODY_UID, NOBODY_GID, daemon.sock, "GET", "/v1/sessions")
    assert status == "EACCES"


def test_refused_calls_are_403_and_audited(caller, daemons):
    root_daemon_only(caller)
    d = Daemon(caller, config=ROLES)
    daemons.append(d)
    assert (os.stat(d.sock).st_mode & 0o777) == 0o666
    ws = caller.workspace()
    # an operator, outside its policies, and outside its role
    status, body = call_as(NOBODY_UID, NOBODY_GID, d.sock, "POST", "/v1/sessions",
                           {"workspace": str(ws), "command": ["true"], "policy": "offline"})
    assert status == 403, body
    assert "policy" in body["error"]
    status, body = call_as(NOBODY_UID, NOBODY_GID, d.sock, "GET", "/v1/metrics")
    assert status == 403, body
    # a user with no role at all (uid 1 is not in the file)
    status, body = call_as(1, 1, d.sock, "GET", "/v1/sessions")
    assert status == 403, body
    assert "no role" in body["error"]
    refused = [e for e in d.trail_events() if e["type"] == "serve.refused"]
    assert [(e["uid"], e["path"], e["right"]) for e in refused] == [
        (NOBODY_UID, "/v1/sessions", "start"),
        (NOBODY_UID, "/v1/metrics", "read-metrics"),
        (1, "/v1/sessions", "read-sessions"),
    ]
    assert refused[0]["policy"] == "offline" and refused[0]["role"] == "operator"
    # the daemon's trail is a trail like any other: chained and signed
    d.stop()
    r = caller.run(["audit", "verify", *sorted((d.state / "trails").glob("*.jsonl"))])
    assert r.returncode == 0, r.stdout + r.stderr


def test_operator_session_runs_as_the_caller(caller, daemons):
    root_daemon_only(caller)
    d = Daemon(caller, config=ROLES)
    daemons.append(d)
    ws = caller.mkdtemp(prefix="reins-ws-nobody-")
    os.chown(ws, NOBODY_UID, NOBODY_GID)
    status, body = call_as(NOBODY_UID, NOBODY_GID, d.sock, "POST", "/v1/sessions",
                           {"workspace": str(ws), "command": ["sh", "-c", "id -u; id -G"]})
    assert status == 201, body
    session = body["session"]
    entry = wait_ended(d, session)
    assert entry["uid"] == NOBODY_UID
    assert entry["serve"]["by_uid"] == NOBODY_UID
    status, out = call_as(NOBODY_UID, NOBODY_GID, d.sock, "GET",
                          f"/v1/sessions/{session}/output")
    assert status == 200, out
    assert out["stdout"].split() == [str(NOBODY_UID), str(NOBODY_GID)], out
    # the operator sees its policy's sessions; root's own are not its business
    root_session, _ = start_session(d, caller.workspace(), ["sleep", "60"], policy="offline")
    try:
        status, sessions = call_as(NOBODY_UID, NOBODY_GID, d.sock, "GET", "/v1/sessions")
        assert status == 200
        ids = {s["session"] for s in sessions}
        assert session in ids and root_session not in ids
        status, body = call_as(NOBODY_UID, NOBODY_GID, d.sock, "POST",
                               f"/v1/sessions/{root_session}/stop")
        assert status == 403, body
    finally:
        d.call("POST", f"/v1/sessions/{root_session}/stop")


# --------------------------------------------------------------------------
# start-up


CONFIG_ERRORS = [
    ("version: 1\nusers:\n  root:\n    role: admin\n    colour: red\n", 5,
     "users.root.colour"),
    ("version: 1\nusers:\n  no-such-user-here:\n    role: auditor\n", 3,
     "users.no-such-user-here"),
    ("version: 1\nusers:\n  root:\n    role: operator\n", 4, "users.root"),
    ("version: 1\nusers:\n  root:\n    role: king\n", 4, "users.root.role"),
    ("version: 2\n", 1, "version"),
]


def test_config_errors_name_file_line_and_key(caller):
    d = caller.mkdtemp(prefix="reins-serve-")
    for text, line, key in CONFIG_ERRORS:
        cfg = caller.write(d / "serve.yaml", text)
        r = caller.run(["serve", "--socket", d / "s.sock", "--state", d / "state",
                        "--config", cfg], timeout=TIMEOUT)
        assert r.returncode == 125, (text, r.stderr)
        lines = [x for x in r.stderr.splitlines() if x.strip()]
        assert len(lines) == 1, r.stderr
        assert f"serve.yaml:{line}: {key}:" in lines[0], (text, lines[0])
        assert not (d / "s.sock").exists()


def test_a_second_daemon_on_the_same_socket_is_refused(caller, daemon):
    r = caller.run(["serve", "--socket", daemon.sock, "--state", daemon.dir / "other"])
    assert r.returncode == 125
    assert "another daemon is listening" in r.stderr
    status, _ = daemon.call("GET", "/v1/policies")
    assert status == 200
    # nor another socket on the same state: both would adopt the same sessions
    r = caller.run(["serve", "--socket", daemon.dir / "other.sock", "--state", daemon.state])
    assert r.returncode == 125
    assert "another daemon uses this state directory" in r.stderr


# --------------------------------------------------------------------------
# HTTPS with API tokens (--listen)


def make_certificate(caller, d):
    """A self-signed certificate for 127.0.0.1, and its key (PEM files)."""
    import datetime
    import ipaddress
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "reins-test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_file = caller.write(d / "cert.pem", cert.public_bytes(serialization.Encoding.PEM).decode())
    key_file = caller.write(d / "key.pem", key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode(), 0o600)
    return cert_file, key_file


def https_call(port, cafile, method, path, token=None, body=None):
    import ssl
    ctx = ssl.create_default_context(cafile=str(cafile))
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=TIMEOUT)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = json.dumps(body) if body is not None else None
    conn.request(method, path, body=data, headers=headers)
    r = conn.getresponse()
    text = r.read().decode()
    conn.close()
    status, payload = decode(r.status, r.getheader("Content-Type"), text)
    return status, payload, r.getheader("WWW-Authenticate")


def test_https_listener_takes_api_tokens(caller, daemons):
    d = Daemon(caller, start=False)
    daemons.append(d)
    cert, key = make_certificate(caller, d.dir)
    d.extra = ["--listen", "127.0.0.1:0", "--tls-cert", str(cert), "--tls-key", str(key)]
    d.start()
    port = int(re.search(r"https://127\.0\.0\.1:(\d+)", d.banner).group(1))

    def token(*args):
        r = caller.run(["serve", "token", "create", "--state", d.state, *args,
                        "--user", str(caller.uid)])
        assert r.returncode == 0, r.stderr
        assert re.fullmatch(r"rst_[0-9a-f]{64}\n", r.stdout), r.stdout
        return r.stdout.strip()

    operator = token("--name", "ci", "--role", "operator", "--policy", "default")
    auditor = token("--name", "audit", "--role", "auditor")
    # the store keeps hashes only
    stored = (d.state / "tokens.json").read_text()
    assert operator not in stored and auditor not in stored
    assert (os.stat(d.state / "tokens.json").st_mode & 0o777) == 0o600

    status, body, challenge = https_call(port, cert, "GET", "/v1/sessions")
    assert status == 401 and challenge == "Bearer", body
    status, body, _ = https_call(port, cert, "GET", "/v1/sessions", token="rst_" + "0" * 64)
    assert status == 401, body
    status, body, _ = https_call(port, cert, "GET", "/v1/metrics", token=auditor)
    assert status == 200
    status, body, _ = https_call(port, cert, "POST", "/v1/sessions", token=auditor,
                                 body={"workspace": "/tmp", "command": ["true"]})
    assert status == 403, body
    ws = caller.workspace()
    status, body, _ = https_call(port, cert, "POST", "/v1/sessions", token=operator,
                                 body={"workspace": str(ws), "command": ["echo", "over tls"]})
    assert status == 201, body
    session = body["session"]
    entry = wait_ended(d, session)
    assert entry["uid"] == caller.uid
    status, out, _ = https_call(port, cert, "GET", f"/v1/sessions/{session}/output",
                                token=operator)
    assert status == 200 and out["stdout"] == "over tls\n", out
    # revoked: refused at the next call
    r = caller.run(["serve", "token", "revoke", "ci", "--state", d.state])
    assert r.returncode == 0, r.stderr
    status, body, _ = https_call(port, cert, "GET", "/v1/sessions", token=operator)
    assert status == 401, body
    # clear-text HTTP on the TLS port gets no HTTP answer
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
        s.sendall(b"GET /v1/policies HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            answer = s.recv(100)
        except (ConnectionResetError, socket.timeout):
            answer = b""
        assert not answer.startswith(b"HTTP/"), answer
    events = d.trail_events()
    starts = [e for e in events if e["type"] == "serve.session.start"]
    assert [e.get("by_token") for e in starts] == ["ci"]
    refused = [(e.get("token"), e["reason"]) for e in events if e["type"] == "serve.refused"]
    assert (None, "no valid API token") in refused
    assert ("audit", "this role does not allow it") in refused


def test_listen_without_tls_is_refused(caller):
    d = caller.mkdtemp(prefix="reins-serve-")
    r = caller.run(["serve", "--socket", d / "s.sock", "--state", d / "state",
                    "--listen", "127.0.0.1:0"])
    assert r.returncode == 125
    assert "never served in clear" in r.stderr


def test_run_takes_only_a_well_formed_session_id(caller):
    """`reins run --session-id` (how the daemon names a session) takes what
    the daemon draws: 24 lower-case hex digits, nothing that could name a
    path or another session's files."""
    for bad in ["../../x", "ABCDEF0123456789abcdef01", "0123", "0123456789abcdef0123456789"]:
        r = caller.sandbox(["true"], opts=["--session-id", bad])
        assert r.returncode == 125, (bad, r.stderr)
        assert "--session-id" in r.stderr
