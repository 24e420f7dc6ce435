"""Approvals and delegation in real sessions, as root and as nobody: a held
connection answered with `reins approve` / `reins deny`, silence until the
timeout, a `--for` grant that lapses mid-session, the watch queue driven
through a pty, the agent's request channel and its rate limit, `--token`
narrowing a permissive policy, a replayed token, a revoked parent."""
import json
import os
import re
import secrets
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "proxy_helpers"))
import servers  # noqa: E402

CURL = "curl -sS --max-time 60 -w ' %{http_code}'"


@pytest.fixture(scope="module")
def web():
    yield from servers.served_tmp_dir("reins-appr-srv-")


def policy(caller, ws, port, *, allow=(), ask=(), extra=""):
    names = ["ask.test", "other.test", "allowed.test", "a.example.test", "b.example.test",
             "unknown.test"]
    text = ("version: 1\nextends: default\nnetwork:\n  mode: proxy\n"
            f"  allow: {json.dumps([f'{h}:{port}' for h in allow])}\n"
            f"  ask: {json.dumps([f'{h}:{port}' for h in ask])}\n"
            f"  hosts: {json.dumps({n: '127.0.0.1' for n in names})}\n" + extra)
    return caller.write(ws / "policy.yaml", text)


class Session:
    """A `reins run` in the background, with its events file."""

    def __init__(self, caller, ws, pol, script, opts=()):
        self.caller = caller
        evdir = caller.mkdtemp(prefix="reins-appr-ev-")
        self.events_path = evdir / "events.jsonl"
        self.id = secrets.token_hex(12)
        self.proc = caller.popen(["run", "-p", pol, "--session-id", self.id,
                                  "--events", self.events_path, *opts,
                                  "-w", ws, "--", "sh", "-c", script], cwd=ws, text=True)

    def wait(self, timeout=120):
        out, err = self.proc.communicate(timeout=timeout)
        self.stdout, self.stderr = out, err
        return self.proc.returncode

    def events(self, kind=None):
        found = []
        if os.path.exists(self.events_path):
            for line in Path(self.events_path).read_text().splitlines():
                try:
                    e = json.loads(line)
                except ValueError:
                    continue
                if kind is None or e.get("type") == kind:
                    found.append(e)
        return found


def pending(caller, target=None, timeout=30, session=None):
    """Wait until a request (for `target`, of `session` when given: other
    tests' sessions of the same user may be waiting too) is pending."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = caller.run(["pending", "--json"])
        assert r.returncode == 0, r.stderr
        for req in json.loads(r.stdout):
            if session is not None and req.get("session") != session.id:
                continue
            if target is None or req["target"] == target:
                return req
        time.sleep(0.1)
    raise AssertionError(f"no pending request for {target}")


def test_held_connection_approved_once_then_denied(caller, web):
    ws = caller.workspace()
    pol = policy(caller, ws, web, ask=["ask.test"])
    script = (f"echo first $({CURL} http://ask.test:{web}/hello)\n"
              f"echo second $({CURL} http://ask.test:{web}/hello)\n")
    s = Session(caller, ws, pol, script)
    req = pending(caller, "ask.test", session=s)
    assert req["port"] == web and req["rule"].startswith("network.ask: ask.test")
    assert req["origin"] == "proxy"
    text = caller.run(["pending"]).stdout
    assert req["id"] in text and "ask.test" in text
    r = caller.run(["approve", req["id"]])
    assert r.returncode == 0 and r.stdout.startswith("allowed " + req["id"]), r.stderr
    # once means once: the second request asks again, and is refused
    second = pending(caller, "ask.test", session=s)
    # the same answer again is refused: that request is gone
    r = caller.run(["approve", req["id"]])
    assert r.returncode == 1 and "no request " + req["id"] + " is waiting" in r.stderr
    assert second["id"] != req["id"]
    assert caller.run(["deny", second["id"]]).returncode == 0
    assert s.wait() == 0, s.stderr
    assert re.search(r"^first hello from ask\.test:\d+ 200$", s.stdout, re.M), s.stdout
    m = re.search(r"^second (.*) 403$", s.stdout, re.M)
    assert m and "refused by a human" in m.group(1), s.stdout
    answers = s.events("approval.answer")
    assert [a["decision"] for a in answers] == ["allow", "deny"]
    by = answers[0]["by"]
    start = s.events("session.start")[0]
    assert by["user_key"] == start["user_key"]
    assert by["payload"]["id"] == req["id"] and len(by["signature"]) == 128
    assert len(start["agent_key"]) == 64 and start["agent_key"] != start["user_key"]


def test_connect_tunnel_held_and_others_flow(caller, web):
    """A held CONNECT does not hold anything else; deny closes it."""
    ws = caller.workspace()
    pol = policy(caller, ws, web, allow=["allowed.test"], ask=["ask.test"])
    script = (f"(curl -sS --max-time 60 -p -o /dev/null http://ask.test:{web}/ 2>&1; "
              f"echo tunnel_rc $?) > held.out &\n"
              f"sleep 0.5; echo free $({CURL} http://allowed.test:{web}/hello)\n"
              f"echo signal > go; wait; cat held.out\n")
    s = Session(caller, ws, pol, script)
    req = pending(caller, "ask.test", session=s)
    deadline = time.time() + 30
    while not (ws / "go").exists() and time.time() < deadline:
        time.sleep(0.05)
    assert (ws / "go").exists(), "an allowed request waited behind a held one"
    assert caller.run(["deny", req["id"]]).returncode == 0
    assert s.wait() == 0, s.stderr
    assert re.search(r"^free hello from allowed\.test:\d+ 200$", s.stdout, re.M), s.stdout
    assert re.search(r"tunnel_rc [1-9]", s.stdout), s.stdout


def test_silence_is_a_deny(caller, web):
    ws = caller.workspace()
    pol = policy(caller, ws, web, ask=["ask.test"], extra="approvals: {timeout: 1s}\n")
    s = Session(caller, ws, pol, f"echo r $({CURL} http://ask.test:{web}/hello)")
    assert s.wait() == 0, s.stderr
    assert re.search(r"^r .* 403$", s.stdout, re.M), s.stdout
    t = s.events("approval.timeout")
    assert len(t) == 1 and t[0]["decision"] == "deny" and t[0]["target"] == "ask.test"


def test_for_grant_lapses_mid_session(caller, web):
    ws = caller.workspace()
    pol = policy(caller, ws, web, ask=["ask.test"], extra="approvals: {timeout: 2s}\n")
    script = (f"echo one $({CURL} http://ask.test:{web}/hello)\n"
              f"echo two $({CURL} http://ask.test:{web}/hello)\n"
              f"sleep 4\n"
              f"echo three $({CURL} http://ask.test:{web}/hello)\n")
    s = Session(caller, ws, pol, script)
    req = pending(caller, "ask.test", session=s)
    assert caller.run(["approve", req["id"], "--for", "3s"]).returncode == 0
    assert s.wait() == 0, s.stderr
    assert re.search(r"^one .* 200$", s.stdout, re.M), s.stdout
    assert re.search(r"^two .* 200$", s.stdout, re.M), s.stdout  # within the grant: no question
    assert re.search(r"^three .* 403$", s.stdout, re.M), s.stdout  # lapsed, asked, timed out
    lapsed = s.events("approval.lapsed")
    assert lapsed and lapsed[0]["target"] == "ask.test" and "ran out" in lapsed[0]["why"]
    assert len(s.events("approval.request")) == 2


def test_domain_scope_and_unknown_ask(caller, web):
    ws = caller.workspace()
    pol = policy(caller, ws, web, extra="approvals: {timeout: 2s, unknown: ask}\n")
    script = (f"echo a $({CURL} http://a.example.test:{web}/hello)\n"
              f"echo b $({CURL} http://b.example.test:{web}/hello)\n"
              f"echo u $({CURL} http://unknown.test:{web}/hello)\n")
    s = Session(caller, ws, pol, script)
    req = pending(caller, "a.example.test", session=s)
    assert req["rule"] == "approvals.unknown: ask"
    assert caller.run(["approve", req["id"], "--for", "session", "--scope",
                       "domain"]).returncode == 0
    assert s.wait() == 0, s.stderr
    assert re.search(r"^a .* 200$", s.stdout, re.M) and re.search(r"^b .* 200$", s.stdout,
                                                                  re.M), s.stdout
    assert re.search(r"^u .* 403$", s.stdout, re.M), s.stdout


def test_watch_queue_through_a_pty(caller, web):
    ws = caller.workspace()
    pol = policy(caller, ws, web, ask=["ask.test", "other.test"])
    script = (f"echo one $({CURL} http://ask.test:{web}/hello)\n"
              f"echo two $({CURL} http://other.test:{web}/hello)\n")
    watch = caller.pty(["approve", "--watch"])
    try:
        watch.expect(rb"watching for approval requests", timeout=10)
        s = Session(caller, ws, pol, script)
        watch.expect(rb"asks for destination ask.test:", timeout=30)
        watch.expect(rb"allow\?", timeout=10)
        watch.send(b"y\n")
        watch.expect(rb"allowed ", timeout=10)
        watch.expect(rb"asks for destination other.test:", timeout=30)
        watch.send(b"n\n")
        watch.expect(rb"denied ", timeout=10)
        assert s.wait() == 0, s.stderr
    finally:
        watch.close()
    assert re.search(r"^one .* 200$", s.stdout, re.M), s.stdout
    assert re.search(r"^two .* 403$", s.stdout, re.M), s.stdout


def test_watch_offers_path_choices_and_drops_ended_sessions(caller, web):
    """A path request is answered yes or no (no minutes, no domain); a
    session that ends takes its pending requests out of the watch."""
    ws = caller.workspace()
    pol = policy(caller, ws, web, extra="approvals: {timeout: 60s}\n")
    script = ("curl -sS --noproxy '*' \"$REINS_REQUEST_URL\" -d "
              "'{\"kind\":\"path\",\"target\":\"docs/notes.md\",\"reason\":\"notes\"}'; "
              "sleep 3")
    watch = caller.pty(["approve", "--watch"])
    try:
        watch.expect(rb"watching for approval requests", timeout=10)
        s = Session(caller, ws, pol, script)
        watch.expect(rb"asks for path docs/notes.md", timeout=30)
        prompt = watch.expect(rb"allow\? [^\n]*: ", timeout=10)
        assert b"minutes" not in prompt.group(0), prompt.group(0)
        req = pending(caller, "docs/notes.md", session=s)
        r = caller.run(["approve", req["id"], "--for", "10m"])
        assert r.returncode != 0 and "is for a path" in r.stderr, r.stderr
        assert s.wait() == 0, s.stderr
        watch.expect(rb"the session ended; nothing to answer", timeout=15)
    finally:
        watch.close()


def test_agent_request_channel_and_rate_limit(caller, web):
    ws = caller.workspace()
    pol = policy(caller, ws, web, extra="approvals: {timeout: 20s}\n")
    ask = ("curl -sS --noproxy '*' \"$REINS_REQUEST_URL\" -d "
           "'{\"kind\":\"%s\",\"target\":\"%s\",\"reason\":\"%s\"%s}'; echo")
    script = "\n".join([
        ask % ("destination", f"ask.test:{web}", "fetch the docs", ",\"wait\":true"),
        f"echo after $({CURL} http://ask.test:{web}/hello)",
        ask % ("path", "../etc/passwd", "x", ""),
        ask % ("destination", "bad host", "x", ""),
    ] + [ask % ("path", f"docs/{i}.md", "notes", "") for i in range(6)])
    s = Session(caller, ws, pol, script)
    req = pending(caller, "ask.test", session=s)
    assert req["origin"] == "agent" and req["reason"] == "fetch the docs"
    assert caller.run(["approve", req["id"], "--for", "session"]).returncode == 0
    assert s.wait() == 0, s.stderr
    lines = [json.loads(line) for line in s.stdout.splitlines() if line.startswith("{")]
    assert lines[0] == {"ok": True, "id": req["id"], "status": "allowed", "timed_out": False}
    assert re.search(r"^after hello from ask\.test:\d+ 200$", s.stdout, re.M), s.stdout
    assert not lines[1]["ok"] and "workspace-relative" in lines[1]["error"]
    assert not lines[2]["ok"]
    statuses = [line.get("status") or line.get("error") for line in lines[3:]]
    # a burst of five (one spent above), then refused
    assert statuses[:4] == ["pending"] * 4, statuses
    assert all("rate-limited" in x for x in statuses[4:]), statuses
    refused = [e for e in s.events("approval.refused") if "rate-limited" in e["reason"]]
    assert len(refused) == 2


def test_agent_request_allowed_once_covers_its_next_connection(caller, web):
    """`reins approve ID` (once) on the agent's own request lets its next
    connection there through without a second question; the one after
    that asks again (issue 13 item 8)."""
    ws = caller.workspace()
    pol = policy(caller, ws, web, ask=["ask.test"], extra="approvals: {timeout: 3s}\n")
    ask = ("curl -sS --noproxy '*' \"$REINS_REQUEST_URL\" -d "
           "'{\"kind\":\"destination\",\"target\":\"ask.test:%d\",\"reason\":\"docs\","
           "\"wait\":true}'; echo" % web)
    script = "\n".join([ask, f"echo first $({CURL} http://ask.test:{web}/hello)",
                        f"echo second $({CURL} http://ask.test:{web}/hello)"])
    s = Session(caller, ws, pol, script)
    req = pending(caller, "ask.test", session=s)
    assert req["origin"] == "agent"
    assert caller.run(["approve", req["id"]]).returncode == 0
    assert s.wait() == 0, s.stderr
    assert re.search(r"^first hello from ask\.test:\d+ 200$", s.stdout, re.M), s.stdout
    assert re.search(r"^second .* 403$", s.stdout, re.M), s.stdout  # asked again: silence
    requests = s.events("approval.request")
    assert len(requests) == 2 and requests[1]["origin"] == "proxy", requests


# --------------------------------------------------------------------------
# delegation tokens in a session


def test_token_narrows_a_permissive_policy(caller, web):
    ws = caller.workspace()
    pol = policy(caller, ws, web, allow=["allowed.test", "other.test"])
    tok = ws / "t.tok"
    r = caller.run(["token", "mint", "--dest", f"allowed.test:{web}", "-o", tok])
    assert r.returncode == 0, r.stderr
    script = (f"echo a $({CURL} http://allowed.test:{web}/hello)\n"
              f"echo o $({CURL} http://other.test:{web}/hello)\n")
    s = Session(caller, ws, pol, script, opts=["--token", tok])
    assert s.wait() == 0, s.stderr
    assert re.search(r"^a .* 200$", s.stdout, re.M), s.stdout
    m = re.search(r"^o (.*) 403$", s.stdout, re.M)
    assert m and "token" in m.group(1), s.stdout
    start = s.events("session.start")[0]
    assert start["token"]["dest"] == [[f"allowed.test:{web}"]]

    # replay: the same token in a second session is refused before anything runs
    r = caller.sandbox(["true"], ws=ws, opts=["-p", pol, "--token", tok])
    assert r.returncode == 125
    assert "already bound to session " + start["session"] in r.stderr


def test_revoked_parent_and_spent_uses(caller, web):
    ws = caller.workspace()
    parent, a, b = ws / "p.tok", ws / "a.tok", ws / "b.tok"
    r = caller.run(["token", "mint", "--uses", "1", "-o", parent])
    assert r.returncode == 0, r.stderr
    parent_id = re.search(r"block id ([0-9a-f]{32})", r.stderr).group(1)
    for child in (a, b):
        assert caller.run(["token", "attenuate", parent, "-o", child]).returncode == 0
    assert caller.sandbox(["true"], ws=ws, opts=["--token", a]).returncode == 0
    r = caller.sandbox(["true"], ws=ws, opts=["--token", b])
    assert r.returncode == 125 and "allows 1 use and all are spent" in r.stderr
    assert caller.run(["token", "revoke", parent_id]).returncode == 0
    c = ws / "c.tok"
    assert caller.run(["token", "attenuate", parent, "-o", c]).returncode == 0
    r = caller.sandbox(["true"], ws=ws, opts=["--token", c])
    assert r.returncode == 125 and "token refused: revoked" in r.stderr


def test_revocation_mid_session(caller, web):
    ws = caller.workspace()
    pol = policy(caller, ws, web, allow=["allowed.test"])
    tok = ws / "t.tok"
    r = caller.run(["token", "mint", "-o", tok])
    token_id = re.search(r"block id ([0-9a-f]{32})", r.stderr).group(1)
    script = (f"echo before $({CURL} http://allowed.test:{web}/hello)\n"
              f"touch revoke-now; while [ ! -e revoked ]; do sleep 0.1; done; sleep 2\n"
              f"echo after $({CURL} http://allowed.test:{web}/hello)\n")
    s = Session(caller, ws, pol, script, opts=["--token", tok])
    deadline = time.time() + 30
    while not (ws / "revoke-now").exists() and time.time() < deadline:
        time.sleep(0.05)
    assert caller.run(["token", "revoke", token_id]).returncode == 0
    caller.write(ws / "revoked", "")
    assert s.wait() == 0, s.stderr
    assert re.search(r"^before .* 200$", s.stdout, re.M), s.stdout
    m = re.search(r"^after (.*) 403$", s.stdout, re.M)
    assert m and "revoked" in m.group(1), s.stdout
    assert s.events("token.revoked")


def test_token_for_another_agent_or_command_refused(caller):
    ws = caller.workspace()
    tok = ws / "t.tok"
    assert caller.run(["token", "mint", "--agent", "claude", "-o", tok]).returncode == 0
    r = caller.sandbox(["true"], ws=ws, opts=["--token", tok])
    assert r.returncode == 125 and "it is for agent 'claude'" in r.stderr
    tok2 = ws / "t2.tok"
    assert caller.run(["token", "mint", "--cmd", "git", "-o", tok2]).returncode == 0
    r = caller.sandbox(["true"], ws=ws, opts=["--token", tok2])
    assert r.returncode == 125 and "does not allow the command 'true'" in r.stderr


def test_token_paths_limit_writes(caller):
    ws = caller.workspace()
    caller.write(ws / "README.md", "a\n")
    caller.write(ws / "docs" / "x.md", "b\n")
    caller.write(ws / "src" / "a.c", "c\n")
    tok = caller.mkdtemp(prefix="reins-tokdir-") / "t.tok"
    assert caller.run(["token", "mint", "--path", "docs/**", "--path", "*.md",
                       "-o", tok]).returncode == 0
    script = ("echo 1 >> README.md && echo readme ok; echo 2 >> docs/x.md && echo docs ok; "
              "echo 3 > docs/new.md && echo new ok; (echo 4 >> src/a.c) 2>/dev/null || "
              "echo src refused; (echo 5 > top.txt) 2>/dev/null || echo top refused")
    r = caller.sandbox(["sh", "-c", script], ws=ws, opts=["--token", tok])
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:5] == ["readme ok", "docs ok", "new ok", "src refused",
                                        "top refused"], r.stdout
    assert (ws / "src" / "a.c").read_text() == "c\n" and not (ws / "top.txt").exists()
    # overlay mode cannot honour a path list: refused, not ignored
    tok2 = tok.parent / "t2.tok"
    assert caller.run(["token", "mint", "--path", "docs/**", "-o", tok2]).returncode == 0
    r = caller.sandbox(["true"], ws=ws, opts=["--token", tok2, "--workspace-mode", "overlay"])
    assert r.returncode == 125 and "direct workspace mode only" in r.stderr


def test_agent_cannot_answer_its_own_request(caller, web):
    """The agent's channel only asks; answers need the control socket, which is
    not in the sandbox, and the user's key, which is hidden."""
    ws = caller.workspace()
    pol = policy(caller, ws, web, ask=["ask.test"], extra="approvals: {timeout: 3s}\n")
    script = (f"(curl -sS --max-time 30 -o /dev/null -w '%{{http_code}}' "
              f"http://ask.test:{web}/hello > held.out) &\n"
              "sleep 1\n"
              "for id in $(seq 1 3); do curl -s --noproxy '*' \"$REINS_REQUEST_URL\" "
              "-d '{\"op\":\"answer\",\"payload\":{\"id\":\"x-'$id'\"},\"signature\":\"00\"}'; "
              "echo; done\n"
              "find / -name '*.sock' -path '*reins*' 2>/dev/null | sed 's/^/found: /'\n"
              "ls ~/.config/reins 2>&1 | head -1\n"
              "wait; echo held $(cat held.out)\n")
    s = Session(caller, ws, pol, script)
    assert s.wait() == 0, s.stderr
    replies = [json.loads(x) for x in s.stdout.splitlines() if x.startswith("{")]
    assert replies and all(not r["ok"] for r in replies), s.stdout
    assert "found: " not in s.stdout, s.stdout  # no control socket in sight
    assert re.search(r"^held 403$", s.stdout, re.M), s.stdout  # nobody said yes: timeout
    assert not s.events("approval.answer")


def test_token_follows_its_session_on_resume(caller):
    ws = caller.workspace()
    tok = caller.mkdtemp(prefix="reins-tokdir-") / "t.tok"
    assert caller.run(["token", "mint", "-o", tok]).returncode == 0
    r = caller.sandbox(["sh", "-c", "echo kept > f"], ws=ws,
                       opts=["--workspace-mode", "overlay", "--token", tok])
    assert r.returncode == 0, r.stderr
    session = re.search(r"changes kept in session ([0-9a-f]+)", r.stderr).group(1)
    r = caller.sandbox(["cat", "f"], ws=ws, opts=["--resume", session, "--token", tok])
    assert r.returncode == 0 and r.stdout == "kept\n", r.stderr
    r = caller.sandbox(["true"], ws=ws, opts=["--token", tok])
    assert r.returncode == 125 and "already bound to session " + session in r.stderr


def test_no_request_channel_without_approvals(caller):
    probe = ("import socket\ntry:\n socket.create_connection(('127.0.0.1', 3129), 2)\n"
             " print('open')\nexcept OSError:\n print('closed')\n")
    r = caller.sandbox(["sh", "-c", "echo url=${REINS_REQUEST_URL:-none}; python3 -c \"$0\"",
                        probe])
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["url=none", "closed"], r.stdout


def test_token_expiry_mid_session(caller, web):
    ws = caller.workspace()
    pol = policy(caller, ws, web, allow=["allowed.test"])
    tok = caller.mkdtemp(prefix="reins-tokdir-") / "t.tok"
    assert caller.run(["token", "mint", "--expires", "3s", "-o", tok]).returncode == 0
    script = (f"echo before $({CURL} http://allowed.test:{web}/hello)\n"
              f"sleep 4\n"
              f"echo after $({CURL} http://allowed.test:{web}/hello)\n")
    s = Session(caller, ws, pol, script, opts=["--token", tok])
    assert s.wait() == 0, s.stderr
    assert re.search(r"^before .* 200$", s.stdout, re.M), s.stdout
    m = re.search(r"^after (.*) 403$", s.stdout, re.M)
    assert m and "expired" in m.group(1), s.stdout
    expired = s.events("token.expired")
    assert expired and "new connections refused" in expired[0]["effect"]
