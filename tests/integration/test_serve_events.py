"""reins serve: one event stream across sessions (GET /v1/events), audit
queries across sessions (GET /v1/audit), since/until, and exports through
the API (GET /v1/sessions/ID/audit/export).

The daemon runs as the caller (root, or nobody); role tests need a root
daemon and other uids (setpriv). Each test finds its own sessions by the id
the API returned (or, for a session started with `reins run`, by its
workspace): other sessions of the same user may run on this machine.
"""
import json
import socket
import subprocess
import sys
import time

import pytest

from conftest import NOBODY_GID, NOBODY_UID, TIMEOUT, Caller
from test_serve import (Daemon, UnixHTTPConnection, call_as, daemon, daemons,  # noqa: F401
                        start_session, wait_ended)


class Stream:
    """A server-sent-events stream, read as far as a test needs."""

    def __init__(self, sock, path="/v1/events", last_id=None):
        self.conn = UnixHTTPConnection(sock, timeout=TIMEOUT)
        headers = {} if last_id is None else {"Last-Event-ID": str(last_id)}
        self.conn.request("GET", path, headers=headers)
        self.r = self.conn.getresponse()
        self.status = self.r.status
        self.events = []    # [(id, envelope)]
        self.comments = []
        self.ended = False

    def next(self, deadline=None):
        """The next event, or None when the stream ended (or, between two
        events, `deadline` passed)."""
        current = {}
        while True:
            raw = self.r.readline()
            if not raw:
                self.ended = True
                return None
            line = raw.decode().rstrip("\n")
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
                if deadline and time.monotonic() > deadline:
                    return None
            elif line.startswith("id: "):
                current["id"] = int(line[4:])
            elif line.startswith("data: "):
                current["data"] = json.loads(line[6:])
            elif not line and current:
                event = (current["id"], current["data"])
                self.events.append(event)
                return event

    def until(self, done):
        """Read until done(events) holds; the events. (Keepalives reset the
        socket's timeout: a stream that never brings what is awaited would
        otherwise be read forever.)"""
        deadline = time.monotonic() + TIMEOUT
        while not done(self.events):
            if time.monotonic() > deadline:
                seen = {}
                for _, e in self.events:
                    seen.setdefault(e["session"], []).append(e["record"].get("type"))
                raise AssertionError(f"not seen in {TIMEOUT} s: {len(self.events)} events: "
                                     f"{ {k: v[-3:] for k, v in seen.items()} }")
            if self.next(deadline) is None and self.ended:
                raise AssertionError(f"stream ended early: {self.comments}")
        return self.events

    def close(self):
        self.conn.close()


def of(events, session):
    return [(i, e["record"]) for i, e in events if e["session"] == session]


def finished(*sessions):
    """A predicate: every session's final checkpoint has been seen."""
    def done(events):
        final = {e["session"] for _, e in events
                 if e["record"].get("type") == "checkpoint" and e["record"].get("final")}
        return all(s in final for s in sessions)
    return done


def trail_of(daemon, session):
    status, body = daemon.call("GET", f"/v1/sessions/{session}/audit")
    assert status == 200, body
    return body["records"]


def check_complete(events, session, trail):
    """The stream carried the session's whole trail, in order, once."""
    mine = of(events, session)
    assert [r for _, r in mine] == trail, (session, [r["type"] for _, r in mine])
    assert [r["seq"] for _, r in mine] == list(range(len(trail)))


# --------------------------------------------------------------------------
# one stream across sessions


def test_one_stream_across_sessions(caller, daemon):
    stream = Stream(daemon.sock)
    assert stream.status == 200
    assert stream.r.getheader("Content-Type") == "text/event-stream"
    # two sessions the daemon starts after the stream opened, one while the
    # other runs, and one the user runs with `reins run` (the registry's)
    a, _ = start_session(daemon, caller.workspace(), ["sh", "-c", "sleep 1; echo a"])
    stream.until(lambda ev: any(e["session"] == a for _, e in ev))
    b, _ = start_session(daemon, caller.workspace(), ["sh", "-c", "echo b"])
    ws = caller.workspace()
    r = caller.sandbox(["sh", "-c", "echo own"], ws=ws)
    assert r.returncode == 0, r.stderr

    def own_session(events):
        return next((e["session"] for _, e in events
                     if e["record"].get("type") == "session.start"
                     and e["record"].get("workspace") == str(ws)), None)

    try:
        stream.until(lambda ev: own_session(ev) and finished(a, b, own_session(ev))(ev))
    except AssertionError as e:
        raise AssertionError(f"a={a} b={b} own={own_session(stream.events)}: {e}") from None
    own = own_session(stream.events)
    stream.close()
    wait_ended(daemon, a)
    wait_ended(daemon, b)
    ids = [i for i, _ in stream.events]
    assert ids == sorted(set(ids)), "ids go up, each once"
    for session in (a, b):
        check_complete(stream.events, session, trail_of(daemon, session))
    # `reins run` has left the registry by now: its trail, where it keeps it
    own_trail = caller.home / ".local" / "state" / "reins" / "trails" / f"{own}.jsonl"
    check_complete(stream.events, own,
                   [json.loads(line) for line in own_trail.read_text().splitlines()])
    for _, e in stream.events:
        if e["session"] in (a, b, own):
            assert e["session"] == e["record"]["session"]
        assert e["severity"] in ("low", "medium", "high", "critical")
    # the daemon's own trail is in it too: it started both
    starts = [e["record"]["about_session"] for _, e in stream.events
              if e.get("daemon") and e["record"]["type"] == "serve.session.start"]
    assert starts == [a, b]


# a session whose agent calls escape primitives: refused, recorded as
# syscall.denied (high), a risk finding and a tier change
PROBE = ("import ctypes, time; time.sleep(0.5); l = ctypes.CDLL(None); "
         "l.unshare(0x10000000); l.mount(b'none', b'/tmp', b'tmpfs', 0, None)")


def test_filters_by_session_type_and_severity(caller, daemon):
    ws = caller.workspace()
    a, _ = start_session(daemon, ws, ["python3", "-c", PROBE])
    b, _ = start_session(daemon, caller.workspace(), ["sh", "-c", "echo b"])
    # from the oldest event the daemon indexes: both sessions whole
    everything = Stream(daemon.sock, last_id=0)
    events = everything.until(finished(a, b))
    everything.close()
    types = {e["record"]["type"]: e["severity"] for _, e in of_envelopes(events, a)}
    assert types["syscall.denied"] == "high", types
    assert types["exec"] == "low" and types["session.start"] == "low", types
    assert types["risk.tier"] == "medium", types  # T0 -> T1
    assert "risk.finding" in types

    def filtered(path, keep):
        want = [(i, e) for i, e in events if keep(e)]
        assert want, path
        s = Stream(daemon.sock, path, last_id=0)
        got = s.until(lambda ev: len(ev) >= len(want))
        s.close()
        assert got[:len(want)] == want, path

    filtered(f"/v1/events?session={a}", lambda e: e["session"] == a)
    filtered(f"/v1/events?session={a}&session={b}", lambda e: e["session"] in (a, b))
    filtered(f"/v1/events?session={b},{a}&type=session.",
             lambda e: e["session"] in (a, b) and e["record"]["type"].startswith("session."))
    filtered("/v1/events?type=syscall.", lambda e: e["record"]["type"].startswith("syscall."))
    filtered("/v1/events?severity=high", lambda e: e["severity"] in ("high", "critical"))
    filtered(f"/v1/events?session={a}&severity=medium",
             lambda e: e["session"] == a and e["severity"] != "low")
    # bad filters are 4xx with a JSON error
    for path, want in [("/v1/events?severity=urgent", 400),
                       ("/v1/events?session=0123456789abcdef01234567", 404)]:
        status, body = daemon.call("GET", path)
        assert status == want and "error" in body, (path, status, body)
    conn = UnixHTTPConnection(daemon.sock)
    conn.request("GET", "/v1/events", headers={"Last-Event-ID": "x"})
    assert conn.getresponse().status == 400
    conn.close()


def of_envelopes(events, session):
    return [(i, e) for i, e in events if e["session"] == session]


def test_resume_loses_nothing_and_repeats_nothing(caller, daemons):
    d = Daemon(caller)
    daemons.append(d)
    stream = Stream(d.sock)
    a, _ = start_session(d, caller.workspace(), ["sh", "-c", "for i in 1 2 3 4 5 6; do "
                                                 "sleep 0.2; /bin/true; done"])
    # a few of its events, then the client goes away
    first = stream.until(lambda ev: len(of(ev, a)) >= 3)
    stream.close()
    last = first[-1][0]
    resumed = Stream(d.sock, last_id=last)
    rest = resumed.until(finished(a))
    resumed.close()
    assert all(i > last for i, _ in rest)
    got = [r for _, r in of(first, a)] + [r for _, r in of(rest, a)]
    wait_ended(d, a)
    trail = trail_of(d, a)
    assert got == trail, [r["type"] for r in got]
    # a restarted daemon has nothing in memory: the same resume is read
    # back from the trails through its index, with the same ids
    d.stop()
    d.start()
    again = Stream(d.sock, last_id=last)
    replayed = again.until(finished(a))
    again.close()
    assert of(replayed, a) == of(rest, a)
    # and what comes next is numbered after all of it
    b, _ = start_session(d, caller.workspace(), ["true"])
    later = Stream(d.sock, last_id=rest[-1][0])
    after = later.until(finished(b))
    later.close()
    assert min(i for i, _ in of(after, b)) > max(i for i, _ in rest)
    check_complete(after, b, trail_of(d, b))


def test_a_reader_that_stalls_does_not_stall_another(caller, daemon):
    # a client that asks for the stream and never reads a byte of it
    stalled = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.connect(str(daemon.sock))
    stalled.sendall(b"GET /v1/events HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        stream = Stream(daemon.sock)
        script = "i=0; while [ $i -lt 600 ]; do /bin/true; i=$((i+1)); done"
        a, _ = start_session(daemon, caller.workspace(), ["sh", "-c", script])
        events = stream.until(finished(a))
        stream.close()
        execs = [r for _, r in of(events, a) if r["type"] == "exec"]
        assert len(execs) == 601, len(execs)
        status, body = daemon.call("GET", "/v1/policies")
        assert status == 200, body
    finally:
        stalled.close()


# --------------------------------------------------------------------------
# audit queries and exports


def test_audit_query_across_sessions_by_time(caller, daemon):
    a, _ = start_session(daemon, caller.workspace(), ["sh", "-c", "echo a"])
    wait_ended(daemon, a)
    b, _ = start_session(daemon, caller.workspace(), ["sh", "-c", "echo b"])
    wait_ended(daemon, b)
    trail_a, trail_b = trail_of(daemon, a), trail_of(daemon, b)
    status, body = daemon.call("GET", f"/v1/audit?session={a}&session={b}")
    assert status == 200, body
    assert body["truncated"] is False and body["sessions"] == 2
    merged = body["records"]
    assert [(m["session"], m["record"]) for m in merged] == \
        [(a, r) for r in trail_a] + [(b, r) for r in trail_b]
    # since (inclusive) and until (exclusive), to the millisecond
    start_b = trail_b[0]["time"]
    status, body = daemon.call("GET", f"/v1/audit?session={a},{b}&since={start_b}")
    assert status == 200, body
    assert [m["record"] for m in body["records"]] == trail_b
    status, body = daemon.call("GET", f"/v1/audit?session={a},{b}&until={start_b}")
    assert [m["record"] for m in body["records"]] == trail_a
    status, body = daemon.call("GET", f"/v1/audit?session={a},{b}&type=session.end")
    assert [(m["session"], m["record"]["type"]) for m in body["records"]] == \
        [(a, "session.end"), (b, "session.end")]
    # the newest N, oldest first, said to be cut
    status, body = daemon.call("GET", f"/v1/audit?session={a}&session={b}&limit=3")
    assert [m["record"] for m in body["records"]] == trail_b[-3:] and body["truncated"]
    # every session the caller may read, and the daemon's own trail
    status, body = daemon.call("GET", "/v1/audit?since=1h")
    assert status == 200, body
    sessions = {m["session"] for m in body["records"]}
    assert {a, b} <= sessions
    assert any(m.get("daemon") and m["record"]["type"] == "serve.session.start"
               for m in body["records"])
    # the one-session route takes the window too
    status, body = daemon.call("GET", f"/v1/sessions/{b}/audit?since={start_b}")
    assert status == 200 and body["records"] == trail_b, body
    status, body = daemon.call("GET", f"/v1/sessions/{b}/audit?until={start_b}")
    assert status == 200 and body["records"] == [], body
    for path in ("/v1/audit?since=yesterday", "/v1/audit?limit=0",
                 f"/v1/sessions/{b}/audit?until=soon"):
        status, body = daemon.call("GET", path)
        assert status == 400 and "error" in body, (path, body)


# an argument the agent chose, with what a terminal or a SIEM parser would
# take for commands or fields: escape, CR, LF, CEF and syslog separators
NASTY = "x\x1b[31mred\r\nCEF:0|forged|=\\]\"\u202e"


@pytest.mark.parametrize("fmt", ["ocsf", "syslog", "cef"])
def test_export_is_the_clis_export(caller, daemon, fmt):
    ws = caller.workspace()
    s, _ = start_session(daemon, ws, ["sh", "-c", 'echo "$1" >/dev/null', "sh", NASTY])
    wait_ended(daemon, s)
    conn = UnixHTTPConnection(daemon.sock)
    conn.request("GET", f"/v1/sessions/{s}/audit/export?format={fmt}")
    r = conn.getresponse()
    assert r.status == 200
    ctype = r.getheader("Content-Type")
    assert ctype == ("application/x-ndjson" if fmt == "ocsf" else "text/plain; charset=utf-8")
    api = r.read()
    conn.close()
    record = json.loads((daemon.state / "sessions" / s / "record.json").read_text())
    cli = caller.run(["audit", "export", "--format", fmt, record["trail"]])
    assert cli.returncode == 0, cli.stderr
    assert api.decode() == cli.stdout
    assert b"\x1b" not in api and b"\r" not in api and "\u202e".encode() not in api
    lines = api.decode().splitlines()
    assert len(lines) == len(trail_of(daemon, s))
    if fmt == "ocsf":
        assert all(isinstance(json.loads(line), dict) for line in lines)
    # filters as on the other audit routes
    conn = UnixHTTPConnection(daemon.sock)
    conn.request("GET", f"/v1/sessions/{s}/audit/export?format={fmt}&type=exec")
    only = conn.getresponse().read().decode().splitlines()
    conn.close()
    assert len(only) == 1  # sh (echo is its builtin)
    status, body = daemon.call("GET", f"/v1/sessions/{s}/audit/export?format=xml")
    assert status == 400 and "ocsf" in body["error"]


# --------------------------------------------------------------------------
# roles (a root daemon serving other users)


AUDITOR = f"""\
version: 1
users:
  {NOBODY_UID}:
    role: auditor
    policies: [offline]
"""

# a client that reads a stream as another uid: events until the final
# checkpoint of one session, as JSON on stdout
STREAM_CLIENT = r"""
import http.client, json, socket, sys
class C(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=30)
        self.unix_path = path
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.unix_path)
sock, path, stop = sys.argv[1:4]
c = C(sock)
c.request("GET", path, headers={"Last-Event-ID": "0"})
r = c.getresponse()
events, current = [], {}
while True:
    line = r.readline().decode().rstrip("\n")
    if line.startswith("id: "):
        current["id"] = int(line[4:])
    elif line.startswith("data: "):
        current["data"] = json.loads(line[6:])
    elif not line and current:
        events.append(current)
        current = {}
        rec = events[-1]["data"]["record"]
        if (events[-1]["data"]["session"] == stop and rec.get("type") == "checkpoint"
                and rec.get("final")):
            break
print(json.dumps({"status": r.status, "events": events}))
"""


def stream_as(uid, gid, sock, path, stop):
    r = subprocess.run(
        ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", sys.executable,
         "-c", STREAM_CLIENT, str(sock), path, stop],
        capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_an_auditor_of_one_policy_sees_only_its_sessions(caller, daemons):
    if caller.name != "root":
        pytest.skip("roles for other users need a daemon running as root")
    d = Daemon(caller, config=AUDITOR)
    daemons.append(d)
    other, _ = start_session(d, caller.workspace(), ["sh", "-c", "echo other"])
    wait_ended(d, other)
    mine, _ = start_session(d, caller.workspace(), ["sh", "-c", "echo mine"],
                            policy="offline")
    wait_ended(d, mine)
    # the stream from the start: the other policy's session (and the
    # daemon's own trail, which speaks of it) come first, and are not shown
    out = stream_as(NOBODY_UID, NOBODY_GID, d.sock, "/v1/events", mine)
    assert out["status"] == 200
    assert {e["data"]["session"] for e in out["events"]} == {mine}
    assert [e["data"]["record"] for e in out["events"]] == trail_of(d, mine)
    status, body = call_as(NOBODY_UID, NOBODY_GID, d.sock, "GET", "/v1/audit?since=1h")
    assert status == 200, body
    assert {m["session"] for m in body["records"]} == {mine}
    status, body = call_as(NOBODY_UID, NOBODY_GID, d.sock, "GET", f"/v1/sessions/{mine}/audit")
    assert status == 200, body
    # naming the other session is refused, and each refusal is audited
    refusals = [f"/v1/events?session={other}", f"/v1/audit?session={other}",
                f"/v1/sessions/{other}/audit/export?format=cef",
                f"/v1/sessions/{other}/audit?since=1h"]
    for path in refusals:
        status, body = call_as(NOBODY_UID, NOBODY_GID, d.sock, "GET", path)
        assert status == 403, (path, body)
        assert "auditor" in body["error"], body
    refused = [e for e in d.trail_events() if e["type"] == "serve.refused"]
    assert [(e["uid"], e["path"], e["right"], e["policy"]) for e in refused] == \
        [(NOBODY_UID, p.split("?")[0], "read-audit", "default") for p in refusals]


def test_a_root_daemon_sees_every_users_own_sessions(caller, daemon):
    """A session nobody runs with `reins run`, not through the daemon: a
    root daemon finds it in nobody's registry and follows its trail."""
    if caller.name != "root":
        pytest.skip("other users' sessions are a root daemon's")
    stream = Stream(daemon.sock)
    other = Caller("nobody", caller.reins)
    proc = None
    try:
        ws = other.workspace()
        # it waits for the test to have seen it start: no race with the
        # daemon's look for new registries
        proc = other.popen(["run", "-q", "-w", ws, "--", "sh", "-c",
                            "while [ ! -e go ]; do sleep 0.1; done; echo done"], cwd=ws)

        def started(events):
            return next((e["session"] for _, e in events
                         if e["record"].get("type") == "session.start"
                         and e["record"].get("workspace") == str(ws)), None)

        stream.until(started)
        session = started(stream.events)
        other.write(ws / "go")
        assert proc.wait(timeout=TIMEOUT) == 0, proc.stderr.read()
        events = stream.until(finished(session))
        stream.close()
        trail = other.home / ".local" / "state" / "reins" / "trails" / f"{session}.jsonl"
        check_complete(events, session,
                       [json.loads(line) for line in trail.read_text().splitlines()])
        assert all(r["uid"] == NOBODY_UID for _, r in of(events, session)
                   if r["type"] == "session.start")
    finally:
        if proc and proc.poll() is None:
            proc.kill()  # its supervisor: the sandbox goes with it
            proc.wait(timeout=TIMEOUT)
        other.close()
